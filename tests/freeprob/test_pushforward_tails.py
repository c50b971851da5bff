"""Atoms of a pushforward carried by the tails of the base law (issue 12, audit s9 item 1).

Independent truth: for h ~ N(0, q), P(|h| > t) = erfc(t / sqrt(2 q)) (scipy.special.erfc, not the code
under test).  Resolution rule (module docstring of freeprob.pushforward): a plateau reaching u = 0 or
u = 1 is found when its tail holds more than ~2e-15; atoms below 1e-14 are dropped; the ends are
located to the spacing of doubles near u = 1 (1.1e-16), so a tail mass is right to
1e-12 relative + 1e-15 absolute.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

import freeprob as fp


def _hard_tanh_slope2(t: float):
    return lambda h: (np.abs(h) < t).astype(float)


def _close(got: float, want: float) -> bool:
    return abs(got - want) <= 1e-12 * want + 1e-15


@pytest.mark.parametrize("q,t", [(0.02, 1.0), (0.03, 1.0), (0.05, 1.0), (0.0955, 1.0), (0.15, 1.0),
                                 (0.3, 1.0), (1.0, 1.0), (1.0, 6.0), (0.3, 2.0)])
def test_hard_tanh_tail_atom_is_erfc(q, t):
    # masses from 1.5e-12 (q = 0.02) through 1.2e-3 (the isometry line, q = 0.0955) to 0.32;
    # the old scan (>= 3 of 4096 uniform points) dropped every one below ~7e-4
    p0 = special.erfc(t / np.sqrt(2 * q))
    pts, w = fp.normal(var=q).pushforward(_hard_tanh_slope2(t)).atoms
    assert list(pts) == [0.0, 1.0]
    assert _close(w[0], p0) and _close(w[1], 1 - p0), (w, p0)


@pytest.mark.parametrize("q", [0.01, 0.015])
def test_hard_tanh_tail_below_rounding_is_absorbed(q):
    # erfc(1/sqrt(2q)) = 1.5e-23 (q = 0.01), 3.2e-16 (q = 0.015): each tail below ~2e-15, the
    # resolution rule; the mass is absorbed by the atom at 1 (error at most the tail mass)
    p0 = special.erfc(1 / np.sqrt(2 * q))
    assert p0 < 1e-15
    pts, w = fp.normal(var=q).pushforward(_hard_tanh_slope2(1.0)).atoms
    assert list(pts) == [1.0] and abs(w[0] - 1) <= 1e-15


@pytest.mark.parametrize("var", [1e-6, 0.3, 1.0, 1e4])
def test_relu_halves(var):
    pts, w = fp.normal(var=var).pushforward(lambda h: (h > 0).astype(float)).atoms
    assert list(pts) == [0.0, 1.0] and np.allclose(w, 0.5, rtol=0, atol=1e-13)


@pytest.mark.parametrize("t,side", [(5.0, "upper"), (5.0, "lower"), (7.5, "upper"), (7.5, "lower")])
def test_one_tail_atom_next_to_a_density(t, side):
    # min(h, t) (or max(h, -t)): atom at ±t of mass P(h > t) = erfc(t/√2)/2 (2.9e-7, 3.2e-14) in
    # one tail only, next to a monotone piece whose cdf is Φ
    fn = (lambda h: np.minimum(h, t)) if side == "upper" else (lambda h: np.maximum(h, -t))
    law = fp.normal().pushforward(fn)
    mass = 0.5 * special.erfc(t / np.sqrt(2))
    pts, w = law.atoms
    assert list(pts) == [t if side == "upper" else -t] and _close(w[0], mass), (pts, w, mass)
    x = np.array([-3.0, -0.5, 0.0, 1.0, 4.0])
    assert np.allclose(law.cdf(x), stats.norm.cdf(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("var", [0.5, 1.0, 2.0])
def test_tiny_but_not_constant_tails_make_no_atom(var):
    # sech⁴ h is ~1e-13 at |h| = 8, reached within the graded tail points: no false atom at ~0,
    # and the cdf at 1e-12 is P(|h| >= arcsech(1e-3)) (closed form)
    law = fp.normal(var=var).pushforward(lambda h: 1 / np.cosh(h) ** 4)
    assert law.atoms[0].size == 0
    y = 1e-12
    t = np.arccosh(y ** -0.25)
    assert law.cdf(y) == pytest.approx(special.erfc(t / np.sqrt(2 * var)), rel=1e-8, abs=1e-15)


def test_unbounded_function_of_an_unbounded_base():
    # quadrature nodes that round to u = 1 used to reach ppf(1) = inf: the identity pushforward of
    # N(0, 2) raised "fn returned a non-finite value"; now it is N(0, 2) (cdf Φ, moments 0, 2, 0, 12)
    law = fp.normal(var=2.0).pushforward(lambda h: h)
    assert law.atoms[0].size == 0
    x = np.array([-4.0, -1.0, 0.0, 0.5, 3.0])
    assert np.allclose(law.cdf(x), stats.norm.cdf(x, scale=np.sqrt(2.0)), rtol=0, atol=1e-12)
    assert np.allclose(law.moments(4), [0.0, 2.0, 0.0, 12.0], rtol=1e-8, atol=1e-8)
