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


# ----------------------------------------------------------------------------- rounding plateaus
# The exact rule: f(X) has an atom at c iff f = c on a set of positive mass.  phi'(h)^2 of an analytic
# activation is constant on no interval, so it has no atom at any variance, although in floating point
# it underflows to exactly 0 (tanh, erf) or rounds to exactly 1 (gelu, softplus, silu) far out.  The
# old absolute flatness test (|dg| <= 1e-12) also merged the whole tail where g < 1e-12 into an atom:
# tanh at q = 30 had two atoms of mass 0.11 each, at q = 1000 three (0.41 each, and 3.4e-9 at 0).

def _tanh_d2(h):
    return (1 / np.cosh(h) ** 2) ** 2          # as nn_spectra evaluates phi'^2 (underflows for |h| > 186)


def _gelu_d2(h):
    return (special.ndtr(h) + h * np.exp(-0.5 * h * h) / np.sqrt(2 * np.pi)) ** 2


def _softplus_d2(h):
    return special.expit(h) ** 2


@pytest.mark.parametrize("q", [1.0, 30.0, 1e3])
def test_tanh_d2_has_no_atoms_and_its_cdf_is_closed_form(q):
    # P(sech^4 h <= y) = P(|h| >= arccosh(y^(-1/4))) = erfc(t / sqrt(2 q)): an independent closed form
    with np.errstate(over="ignore"):
        law = fp.normal(var=q).pushforward(_tanh_d2)
    assert law.atoms[0].size == 0, law.atoms
    y = np.array([1e-12, 1e-6, 0.01, 0.5, 0.99])
    t = np.arccosh(y ** -0.25)
    assert np.allclose(law.cdf(y), special.erfc(t / np.sqrt(2 * q)), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("q", [30.0, 1e3])
def test_saturating_d2_has_no_atom_at_one(q):
    # phi' -> 1 as h -> inf rounds to exactly 1.0 far out (softplus from below beyond h ~ 37, gelu from
    # above beyond h ~ 8.3); the old test made that tail an atom at 1 (gelu, q = 1000: mass 0.41).
    # The cdf next to 1 is the base measure of {g <= y}, its ends by brentq on phi'^2 directly
    # (independent of the pushforward's scan): softplus's g rises monotonically; gelu's rises to 1.13
    # at h = sqrt(2) and falls back to 1.  y = 1 -+ 1e-6, not closer: g - 1 carries the rounding of g
    # (2.2e-16), so its level sets are only defined to 2.2e-16/|y - 1| relative (at 1 + 1e-9 gelu's
    # crossing moves by 1.3e-9 of mass between h and its float neighbour's rounding)
    from scipy.optimize import brentq

    s = np.sqrt(q)
    with np.errstate(over="ignore"):
        soft, gelu = (fp.normal(var=q).pushforward(f) for f in (_softplus_d2, _gelu_d2))
    assert soft.atoms[0].size == 0 and gelu.atoms[0].size == 0, (soft.atoms, gelu.atoms)
    y = 1 - 1e-6
    h = brentq(lambda t: _softplus_d2(t) - y, 5.0, 60.0, xtol=1e-14)
    assert soft.cdf(y) == pytest.approx(stats.norm.cdf(h, scale=s), rel=1e-9)
    y = 1 + 1e-6
    h_up = brentq(lambda t: _gelu_d2(t) - y, 0.0, np.sqrt(2), xtol=1e-14)
    h_down = brentq(lambda t: _gelu_d2(t) - y, np.sqrt(2), 60.0, xtol=1e-14)
    want = stats.norm.cdf(h_up, scale=s) + stats.norm.sf(h_down, scale=s)
    assert gelu.cdf(y) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("fn,c,mass,tol", [
    (lambda h: np.where(h > 0, 1.0, np.exp(2 * np.minimum(h, 0.0))), 1.0, 0.5, 1e-13),   # kink at 1 (elu)
    (lambda h: np.maximum(h, 0.0) ** 2, 0.0, 0.5, 1e-15),                                # order 2 at 0
    (lambda h: 1 + np.minimum(h, 0.0) ** 3, 1.0, 0.5, 1e-5),                             # order 3 at 1
])
def test_true_plateaus_with_continuous_joins_are_atoms(fn, c, mass, tol):
    # constant pieces joined continuously (not by a jump) to the rest of f are kept; an order-3 join at
    # 1 rounds to 1 within (64 eps)^(1/3) = 2.4e-5 of h = 0, i.e. 1e-5 of mass (module docstring)
    law = fp.normal().pushforward(fn)
    pts, w = law.atoms
    assert list(pts) == [c] and abs(w[0] - mass) <= tol, (pts, w)
