"""Mixed moments and free cumulants against independent formulas; the freeness-defect sweep.

Independent truths: the explicit two- and three-variable cumulant formulas, the moment–cumulant
relation m(a1..a4) = Σ_{π ∈ NC(4)} κ_π written out with the 14 partitions listed by hand, the
free cumulants of classical laws (Bernoulli: 0, 1, 0, -1; semicircle: 0, 1, 0, 0), and the decay
exponent of the defect (≈ -1 for free pairs, ≈ 0 for non-free pairs, stated CIs).
"""
from fractions import Fraction
import itertools

import numpy as np
import pytest

import freeprob as fp
import randmat as rm
from freeprob.combinatorics import moments_to_free_cumulants


def _phi(*mats):
    p = mats[0]
    for m in mats[1:]:
        p = p @ m
    return np.trace(p) / p.shape[0]


def test_mixed_moment():
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal((6, 6)) for _ in range(3))
    assert np.isclose(rm.mixed_moment([a, b, c], [0, 1, 2, 1]), _phi(a, b, c, b))
    assert np.isclose(rm.mixed_moment(a, [0, 0]), _phi(a, a))


def test_cumulants_two_and_three_variables():
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal((7, 7)) for _ in range(3))
    k2 = rm.mixed_free_cumulant([a, b], [0, 1])
    assert np.isclose(k2, _phi(a, b) - _phi(a) * _phi(b))
    k3 = rm.mixed_free_cumulant([a, b, c], [0, 1, 2])
    expect = (_phi(a, b, c) - _phi(a) * _phi(b, c) - _phi(a, b) * _phi(c) - _phi(a, c) * _phi(b)
              + 2 * _phi(a) * _phi(b) * _phi(c))
    assert np.isclose(k3, expect)


NC4 = [  # the 14 non-crossing partitions of {0,1,2,3}, listed by hand
    [(0, 1, 2, 3)],
    [(0,), (1, 2, 3)], [(1,), (0, 2, 3)], [(2,), (0, 1, 3)], [(3,), (0, 1, 2)],
    [(0, 1), (2, 3)], [(0, 3), (1, 2)],
    [(0, 1), (2,), (3,)], [(0, 2), (1,), (3,)], [(0, 3), (1,), (2,)],
    [(1, 2), (0,), (3,)], [(1, 3), (0,), (2,)], [(2, 3), (0,), (1,)],
    [(0,), (1,), (2,), (3,)],
]


def test_moment_cumulant_relation_order_four():
    rng = np.random.default_rng(2)
    mats = [rng.standard_normal((5, 5)) for _ in range(4)]
    word = [0, 1, 2, 3]
    total = 0.0
    for pi in NC4:
        term = 1.0
        for block in pi:
            term *= rm.mixed_free_cumulant(mats, [word[i] for i in block])
        total += term
    assert np.isclose(total, rm.mixed_moment(mats, word))


def test_single_variable_cumulants_match_classical():
    # diag(±1): symmetric Bernoulli, κ = 0, 1, 0, -1, 0, 2
    a = np.diag([1.0, -1.0] * 3)
    got = [rm.mixed_free_cumulant(a, [0] * k) for k in range(1, 7)]
    assert np.allclose(got, [0, 1, 0, -1, 0, 2], atol=1e-12)
    # an arbitrary diagonal: against freeprob.combinatorics in exact rationals
    d = np.array([0.5, 1.0, 2.0, 4.0])
    moments = [sum(Fraction(x) ** k for x in d.tolist()) / 4 for k in range(1, 6)]
    exact = moments_to_free_cumulants(moments)
    got = [rm.mixed_free_cumulant(np.diag(d), [0] * k) for k in range(1, 6)]
    assert np.allclose(got, [float(e) for e in exact], rtol=1e-12)


def test_cumulants_cyclic_invariance():
    rng = np.random.default_rng(3)
    mats = [rng.standard_normal((6, 6)) for _ in range(3)]
    w = [0, 1, 2, 1, 0]
    ref = rm.mixed_free_cumulant(mats, w)
    for r in range(1, 5):
        assert np.isclose(rm.mixed_free_cumulant(mats, w[r:] + w[:r]), ref)


def test_mixed_cumulants_words_and_defect():
    a = np.diag([1.0, 2.0, 3.0])
    cums = rm.mixed_free_cumulants(a, np.eye(3), max_order=3)
    # one word per cyclic class with both letters: a b; a a b, a b b
    assert set(cums) == {"a0 b0", "a0 a0 b0", "a0 b0 b0"}
    assert all(abs(v) < 1e-14 for v in cums.values())  # the identity is free from everything
    two = rm.mixed_free_cumulants([a, a @ a], [np.eye(3)], max_order=2)
    assert set(two) == {"a0 b0", "a1 b0"}


def test_defect_commuting_diagonals_not_free():
    # κ2(a, b) = φ(ab) − φ(a)φ(b) = 1/2 − 0·(−1/2) for these commuting diagonals
    a = np.diag([1.0, 1.0, -1.0, -1.0])
    b = np.diag([1.0, -1.0, -1.0, -1.0])
    assert np.isclose(rm.freeness_defect(a, b, max_order=2), 0.5)


def test_haar_rotation_makes_defect_small():
    n = 400
    d = np.diag(rm.law_quantiles(fp.bernoulli(0.5), n))
    rotated = rm.haar_rotate(np.diagonal(d), rng=1)
    # O(1/N) with a modest constant; the unrotated pair (D, D) has defect ≥ κ2(D, D) = 1/4
    assert rm.freeness_defect(d, rotated) < 10 / n
    assert rm.freeness_defect(d, d) >= 0.25 - 1e-12


def _free_pair(n, rng):
    return rm.goe(n, rng), np.diag(np.linspace(-1.0, 1.0, n))


def _non_free_pair(n, rng):
    a = rm.goe(n, rng)
    return a, a @ a


def _haar_rotated_pair(n, rng):
    d = 2 * rm.law_quantiles(fp.bernoulli(0.5), n) - 1
    return [np.diag(d)], [rm.haar_rotate(d, rng)]


@pytest.mark.parametrize("pair", [_free_pair, _haar_rotated_pair])
def test_free_pairs_decay_like_one_over_n(pair):
    sweep = rm.asymptotic_freeness(pair, [40, 80, 160, 320], trials=4, rng=7)
    # stated: exponent within [-1.4, -0.65] (the O(1/N) fluctuation law predicts -1); the 95% CI
    # must exclude 0
    assert -1.4 < sweep.exponent < -0.65, str(sweep)
    assert sweep.ci[1] < -0.3
    assert sweep.defects.shape == (4, 4) and np.all(np.diff(sweep.mean) < 0)


def test_non_free_pair_does_not_decay():
    sweep = rm.asymptotic_freeness(_non_free_pair, [40, 80, 160, 320], trials=4, rng=8)
    assert abs(sweep.exponent) < 0.2, str(sweep)
    assert sweep.ci[0] < 0.2 and sweep.mean[-1] > 0.5  # κ3(A, A, A²) → 1 for the semicircle


def test_sweep_is_reproducible_and_parallel_safe():
    s1 = rm.asymptotic_freeness(_free_pair, [20, 40], trials=2, rng=3)
    s2 = rm.asymptotic_freeness(_free_pair, [20, 40], trials=2, rng=3, n_jobs=2)
    assert np.array_equal(s1.defects, s2.defects)


def test_sweep_plot():
    sweep = rm.asymptotic_freeness(_free_pair, [20, 40, 80], trials=2, rng=4)
    ax = sweep.plot(label="GOE vs diag")
    assert "fit N^" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert np.allclose(sweep.fitted(sweep.sizes), np.exp(sweep.intercept) * sweep.sizes ** sweep.exponent)
    assert "CI" in str(sweep)


@pytest.mark.slow
def test_free_pair_exponent_large():
    sweep = rm.asymptotic_freeness(_free_pair, [100, 200, 400, 800, 1600], trials=6, rng=9)
    assert sweep.ci[0] < -1.0 < sweep.ci[1] or -1.15 < sweep.exponent < -0.85, str(sweep)


@pytest.mark.parametrize("kwargs,match", [
    (dict(sizes=[40]), "at least two sizes"),
    (dict(sizes=[40, 40]), "strictly increasing"),
    (dict(sizes=[80, 40]), "strictly increasing"),
    (dict(sizes=[0, 40]), "must be an integer >= 1"),
    (dict(sizes=[20, 40], trials=1), "at least 3"),
    (dict(sizes=[20, 40], max_order=1), "max_order"),
    (dict(sizes=[20, 40], confidence=1.5), "confidence"),
    (dict(sizes=[20, 40], trials=0), "trials"),
])
def test_sweep_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rm.asymptotic_freeness(_free_pair, **kwargs)


def test_sweep_bad_sample_fn():
    with pytest.raises(ValueError, match="pair"):
        rm.asymptotic_freeness(lambda n, rng: np.eye(n), [4, 8], trials=2)
    with pytest.raises(ValueError, match="exactly 0"):
        rm.asymptotic_freeness(lambda n, rng: (np.eye(n), np.eye(n)), [4, 8], trials=2)
    with pytest.raises(ValueError, match="callable"):
        rm.asymptotic_freeness("f", [4, 8])


@pytest.mark.parametrize("call,match", [
    (lambda: rm.mixed_moment([np.eye(2), np.eye(3)], [0, 1]), "same size"),
    (lambda: rm.mixed_moment([np.ones((2, 3))], [0]), "square"),
    (lambda: rm.mixed_moment([np.eye(2)], [1]), r"integers in \[0, 0\]"),
    (lambda: rm.mixed_moment([np.eye(2)], []), "at least one index"),
    (lambda: rm.mixed_free_cumulants(np.eye(2), [], 2), "at least one matrix"),
    (lambda: rm.freeness_defect(np.eye(2), np.eye(2), max_order=1), "max_order"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_freeness_sweep_to_frame():
    pd = pytest.importorskip("pandas")
    import randmat as rm

    sweep = rm.asymptotic_freeness(lambda n, rng: (rm.goe(n, rng), np.diag(np.linspace(-1, 1, n))),
                                   [16, 32, 64], trials=3, rng=2, progress=False)
    df = sweep.to_frame()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["N", "trial", "defect", "fitted"]
    assert df.shape == (9, 4)
    assert np.array_equal(df["defect"].to_numpy(), sweep.defects.ravel())
    assert df.attrs["exponent"] == sweep.exponent


def test_cumulant_work_is_bounded_up_front():
    import randmat as rm

    a = np.diag([1.0, -1.0, 0.5])
    with pytest.raises(ValueError, match="length <= 12"):
        rm.mixed_free_cumulant([a], [0] * 30)
    with pytest.raises(ValueError, match="max_order"):
        rm.freeness_defect(a, a, max_order=20)
    with pytest.raises(ValueError, match="partition terms"):
        rm.freeness_defect([a] * 3, [a] * 3, max_order=12)
