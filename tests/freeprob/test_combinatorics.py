"""Moment–cumulant recursions against explicit sums over non-crossing partitions."""
from fractions import Fraction as Fr

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from freeprob.combinatorics import (
    boolean_cumulants_to_moments,
    boxtimes_moments,
    catalan,
    free_cumulants_to_moments,
    kreweras_complement,
    moments_to_boolean_cumulants,
    moments_to_free_cumulants,
    noncrossing_partitions,
)

fractions = st.fractions(min_value=-5, max_value=5, max_denominator=20)


def _nc_sum(kappa, n):
    tot = Fr(0)
    for p in noncrossing_partitions(n):
        t = Fr(1)
        for b in p:
            t *= kappa[len(b) - 1]
        tot += t
    return tot


def test_catalan_counts():
    for n in range(1, 9):
        assert sum(1 for _ in noncrossing_partitions(n)) == catalan(n)


def test_kreweras_properties():
    for n in range(1, 7):
        for p in noncrossing_partitions(n):
            k = kreweras_complement(p, n)
            assert len(p) + len(k) == n + 1
            kk = kreweras_complement(k, n)
            # K(K(π)) = γ⁻¹πγ: π relabelled by i -> i - 1 (mod n)
            rot = tuple(sorted(tuple(sorted((i - 2) % n + 1 for i in b)) for b in p))
            assert kk == rot


@given(st.lists(fractions, min_size=1, max_size=7))
def test_recursion_equals_partition_sum(kappa):
    m = free_cumulants_to_moments(kappa)
    assert m == [_nc_sum(kappa, n) for n in range(1, len(kappa) + 1)]


@given(st.lists(fractions, min_size=1, max_size=8))
def test_round_trips_exact(m):
    assert free_cumulants_to_moments(moments_to_free_cumulants(m)) == m
    assert boolean_cumulants_to_moments(moments_to_boolean_cumulants(m)) == m


def test_float_path_agrees_with_exact():
    m = [Fr(1, 3), Fr(2, 5), Fr(7, 4), Fr(-1, 2), Fr(3)]
    exact = moments_to_free_cumulants(m)
    flt = moments_to_free_cumulants(np.array([float(x) for x in m]))
    assert np.allclose(flt, [float(x) for x in exact], rtol=1e-12)


def test_narayana():
    lam = Fr(3, 7)
    m = free_cumulants_to_moments([lam] * 3)
    assert m == [lam, lam**2 + lam, lam**3 + 3 * lam**2 + lam]


def test_boxtimes_moments_free_poisson_square_is_fuss_catalan():
    from math import comb

    k = [Fr(1)] * 6
    m = free_cumulants_to_moments(k)
    assert boxtimes_moments(k, m) == [Fr(comb(3 * n, n), 2 * n + 1) for n in range(1, 7)]
