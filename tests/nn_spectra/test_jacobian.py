"""jacobian_law against exact moments, independent solvers and real networks; dynamical_isometry."""
from __future__ import annotations

import time
from math import comb

import numpy as np
import pytest

import freeprob as fp
import randmat as rm
from nn_spectra.gaussian_integrals import gaussian_expectation
from nn_spectra.activations import activation
from nn_spectra.isometry import critical_spread, dynamical_isometry
from nn_spectra.jacobian import (jacobian_law, jacobian_law_from_d2, jacobian_variance,
                                 sample_jacobian_spectrum)
from nn_spectra.mean_field import critical_sigma_w2, q_star


# ----------------------------------------------------------------------------- exact moments
@pytest.mark.parametrize("L", [1, 2, 3, 5])
def test_gaussian_linear_is_fuss_catalan(L):
    # products of L Ginibre matrices: m_n = binom((L+1)n, n)/(Ln+1) exactly
    law = jacobian_law_from_d2(fp.atoms([1.0]), 1.0, depth=L, weights="gaussian")
    exact = [comb((L + 1) * n, n) / (L * n + 1) for n in range(1, 7)]
    np.testing.assert_allclose(law.moments(6), exact, rtol=1e-10)
    # upper edge (L+1)^(L+1)/L^L
    assert law.support[1] == pytest.approx((L + 1) ** (L + 1) / L ** L, rel=1e-8)


def test_gaussian_linear_depth_100_edge_and_moments():
    L = 100
    law = jacobian_law_from_d2(fp.atoms([1.0]), 1.0, depth=L, weights="gaussian")
    np.testing.assert_allclose(law.moments(3), [comb((L + 1) * n, n) / (L * n + 1) for n in (1, 2, 3)], rtol=1e-9)
    assert law.support[1] == pytest.approx((L + 1) ** (L + 1) / L ** L, rel=1e-8)


def test_orthogonal_linear_is_a_point_mass():
    # J = sigma_w^L O_L ... O_1: J J^T = sigma_w^{2L} I
    law = jacobian_law_from_d2(fp.atoms([1.0]), 1.3, depth=7, weights="orthogonal")
    pts, w = law.atoms
    np.testing.assert_allclose(pts, [1.3 ** 7])
    np.testing.assert_allclose(w, [1.0])
    np.testing.assert_allclose(law.moments(3), [1.3 ** 7, 1.3 ** 14, 1.3 ** 21], rtol=1e-12)


def test_relu_orthogonal_matches_subordination_boxtimes():
    # relu at criticality: D^2 = Bernoulli(1/2), orthogonal: JJ^T = 8 * Bern^{boxtimes 3}
    law = jacobian_law_from_d2(fp.bernoulli(0.5), 2.0, depth=3, weights="orthogonal")
    ref = fp.boxtimes(fp.bernoulli(0.5), fp.bernoulli(0.5), fp.bernoulli(0.5)).scale(8.0)
    x = np.linspace(0.05, 6.7, 9)
    np.testing.assert_allclose(law.pdf(x), ref.pdf(x), rtol=1e-6, atol=1e-9)
    pts, w = law.atoms
    np.testing.assert_allclose(pts, [0.0])
    np.testing.assert_allclose(w, [0.5])


def test_fuss_catalan_density_against_freeprob():
    law = jacobian_law_from_d2(fp.atoms([1.0]), 1.0, depth=3, weights="gaussian")
    fc = fp.fuss_catalan(3)
    x = np.geomspace(1e-2, 9.0, 12)
    np.testing.assert_allclose(law.pdf(x), fc.pdf(x), rtol=1e-6)
    # near the x^(-3/4) singularity the Stieltjes height 1e-10 b costs a relative O(1e-10 b / x)
    x0 = np.array([1e-4, 1e-3])
    np.testing.assert_allclose(law.pdf(x0), fc.pdf(x0), rtol=2e-5)


def test_unequal_widths_against_exact_wishart_moments_and_monte_carlo():
    # J = W2 W1 with widths 600 -> 300 -> 400: the law in dimension 400 has a zero atom 1/4
    law = jacobian_law_from_d2(fp.atoms([1.0]), 1.0, depth=2, weights="gaussian", widths=[600, 300, 400])
    pts, w = law.atoms
    np.testing.assert_allclose(w[pts == 0], [0.25])
    # exact first moment: tr(W2 W1 W1^T W2^T)/400 with entry variances 1/600, 1/300: 300*... = 1
    assert law.moments(1)[0] == pytest.approx(1.0, rel=1e-12)
    rng = np.random.default_rng(0)
    ev = []
    for _ in range(3):
        W1 = rng.standard_normal((300, 600)) / np.sqrt(600)
        W2 = rng.standard_normal((400, 300)) / np.sqrt(300)
        J = W2 @ W1
        ev.append(np.linalg.eigvalsh(J @ J.T))
    ev = np.clip(np.concatenate(ev), 0, None)
    np.testing.assert_allclose(law.moments(3), [np.mean(ev ** k) for k in (1, 2, 3)], rtol=0.03)
    assert rm.ks_distance(ev, law, atom_tol=1e-8) < 0.03


# ----------------------------------------------------------------------------- PSG closed form
def _mu(act, q, k):
    a = activation(act)
    return float(gaussian_expectation(lambda u: a.dphi(u) ** (2 * k), q, kinks=a.kinks))


@pytest.mark.parametrize("act,sb2", [("relu", 0.0), ("hard_tanh", 1e-3), ("tanh", 1e-3)])
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_variance_on_the_critical_line(act, sb2, weights):
    # independent route: mu_k by Gaussian quadrature of phi'^(2k), PSG's L(mu2/mu1^2 - 1 - s1)
    sw2 = float(critical_sigma_w2(act, sb2))
    q = float(q_star(act, sw2, sb2))
    L = 10  # nonlinear layers of J: a network of L + 1 weight layers (the readout is not part of J)
    law = jacobian_law(act, sw2, sb2, depth=L + 1, weights=weights)
    mu1, mu2 = _mu(act, q, 1), _mu(act, q, 2)
    s1 = -1.0 if weights == "gaussian" else 0.0
    expected = L * (mu2 / mu1 ** 2 - 1 - s1)
    assert law.mean == pytest.approx(1.0, rel=1e-7)
    assert law.var == pytest.approx(expected, rel=1e-6)
    assert jacobian_variance(act, sw2, sb2, L + 1, weights) == pytest.approx(expected, rel=1e-6)


# ----------------------------------------------------------------------------- real networks
def _ks_tol(n):
    # finite-width error of the spectrum near the hard edge at 0 decays slowly: C / sqrt(N)
    return 1.0 / np.sqrt(n)


# hard_tanh at sigma_w2 = 1.3 so that D = 0 is not a rare event (at p(D=0) ~ 3% one network's variance
# is dominated by the Poisson noise of a dozen zeros per layer)
@pytest.mark.parametrize("act,sw2,sb2", [("relu", 2.0, 0.0), ("hard_tanh", 1.3, 0.05),
                                         # minutes on the engine: the exact cdf at every eigenvalue
                                         pytest.param("tanh", 1.05, 1e-4, marks=pytest.mark.slow)])
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_monte_carlo_real_networks(act, sw2, sb2, weights):
    L, n = 4, 400  # weight layers: J spans the 3 nonlinear layers
    law = jacobian_law(act, sw2, sb2, depth=L, weights=weights)
    ev = np.concatenate([sample_jacobian_spectrum(act, sw2, sb2, L, n, weights, rng=s) for s in range(2)])
    assert rm.ks_distance(ev, law, atom_tol=1e-7 * law.support[1]) < _ks_tol(n)
    # variance within 12% (one network's spectrum fluctuates by O(1/sqrt(N)) through q^l)
    assert ev.var() == pytest.approx(law.var, rel=0.12)
    # top edge: lambda_max of the network within 10% of the predicted support edge
    assert ev.max() == pytest.approx(law.support[1], rel=0.10)


def test_depth_100_density_over_the_whole_support_and_mass():
    """tanh at its dynamical-isometry point for depth 100 (spread 1/2): the density on 1,001 points of
    [0, b] (the bulk and [0, 0.1 b], where the continuation once failed) is finite and >= 0, the cdf's
    increments equal the integral of the density (adaptive quadrature, an independent route to the
    engine's contour cdf) and the moments are the closed-form ones (mean 1, spread 1/2).  Its cost is
    measured by benchmarks/bench_jacobian.py, not here."""
    from scipy import integrate

    law = jacobian_law("tanh", 1.0375715254140596, 8.603483444754348e-06, depth=101, weights="orthogonal")
    a, b = law.support
    x = np.linspace(0.0, b, 1001)[1:]
    d = law.pdf(x)
    assert np.all(np.isfinite(d)) and np.all(d >= 0)
    for lo, hi in ((1e-3 * b, 0.1 * b), (0.1 * b, 0.5 * b), (0.5 * b, b)):
        val, err = integrate.quad(lambda t: float(law.pdf(np.array([t]))[0]), lo, hi, limit=200,
                                  epsabs=1e-12, epsrel=1e-10)
        inc = float(np.diff(law.cdf(np.array([lo, hi])))[0])
        assert abs(inc - val) < 1e-8 + 10 * err, (lo / b, hi / b, inc, val)
    assert law.mean == pytest.approx(1.0, rel=1e-9) and np.sqrt(law.var) == pytest.approx(0.5, rel=1e-6)
    assert abs(law.check_mass() - 1.0) < 1e-10


# ----------------------------------------------------------------------------- isometry
def test_dynamical_isometry_tanh_and_relu():
    p = dynamical_isometry("tanh", depth=101, target_spread=0.5)   # 100 nonlinear layers and the readout
    assert p.spread <= 0.5 + 1e-9
    assert p.sigma_b2 > 0
    # on the critical line: chi_1 = sigma_w^2 mu_1 = 1
    assert p.sigma_w2 * _mu("tanh", p.q_star, 1) == pytest.approx(1.0, rel=1e-6)
    # the Jacobian law at that point has the requested spread
    law = jacobian_law("tanh", p.sigma_w2, p.sigma_b2, depth=101)
    assert np.sqrt(law.var) == pytest.approx(0.5, rel=1e-4)
    with pytest.raises(ValueError, match="unreachable"):
        dynamical_isometry("relu", depth=11, target_spread=1.0)
    with pytest.raises(ValueError, match="unreachable"):
        dynamical_isometry("tanh", depth=17, target_spread=1.0, weights="gaussian")
    assert critical_spread("relu", 0.0, 5).spread == pytest.approx(2.0, rel=1e-9)   # sqrt(4 (2 - 1))


# ----------------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="depth"):
        jacobian_law("tanh", 1.0, 0.1, depth=0)
    with pytest.raises(ValueError, match="depth"):
        jacobian_law("tanh", 1.0, 0.1, depth=1)      # the readout alone: no nonlinear layer
    with pytest.raises(ValueError, match="depth"):
        jacobian_law("tanh", 1.5, 0.1, depth=10 ** 5)   # chi1^L below float64 (was an IndexError)
    with pytest.raises(ValueError, match="weights"):
        jacobian_law("tanh", 1.0, 0.1, depth=2, weights="haar")
    with pytest.raises(ValueError, match="widths"):
        jacobian_law("tanh", 1.0, 0.1, depth=2, widths=[10, 10])
    with pytest.raises(ValueError, match="sigma_w2"):
        jacobian_law("tanh", -1.0, 0.1, depth=2)
    with pytest.raises(ValueError, match="fixed point"):
        with pytest.warns(RuntimeWarning):
            jacobian_law("relu", 2.5, 0.0, depth=2)
    with pytest.raises(ValueError, match="d2"):
        jacobian_law_from_d2(fp.semicircle(), 1.0, depth=2)


def test_verify_cases_pass():
    from nn_spectra.verify.cases import deep_spectra
    from nn_spectra.verify.case import get_case

    for name in deep_spectra.CASE_NAMES:
        case = get_case(name)
        res = case.run(case.quick_size, np.random.default_rng(0))
        assert res.distance <= case.tolerance_at(case.quick_size), (name, res.distance)


@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_unequal_widths_real_networks(weights):
    # MLP convention: orthogonal rectangular layers are scaled to entry variance sigma_w^2/n_in
    ws = [300, 450, 200, 350, 1]   # n_0..n_4: J spans the three nonlinear layers, then the readout
    law = jacobian_law("tanh", 1.2, 0.05, depth=4, weights=weights, widths=ws)
    ev = np.concatenate([sample_jacobian_spectrum("tanh", 1.2, 0.05, 4, None, weights, widths=ws, rng=s)
                         for s in range(2)])
    pts, w = law.atoms
    assert w[pts == 0][0] == pytest.approx(1 - 200 / 350, rel=1e-12)    # rank bottleneck
    assert np.mean(ev < 1e-9) == pytest.approx(1 - 200 / 350, abs=1e-12)
    assert rm.ks_distance(ev, law, atom_tol=1e-8) < _ks_tol(200)


# ----------------------------------------------------------------------------- issue 12: deep laws
_SB2 = 0.05


def _deep_law(L, weights):
    sw2 = float(critical_sigma_w2("tanh", _SB2))
    return jacobian_law("tanh", sw2, _SB2, depth=L, weights=weights), sw2


def _log_quad(law, lo, hi, panels_per_unit=2, order=10):
    # Gauss-Legendre in t = log x on panels of width 1/2: the density spans decades near 0
    t0, t1 = np.log(lo), np.log(hi)
    edges = np.linspace(t0, t1, int(np.ceil((t1 - t0) * panels_per_unit)) + 1)
    g, wg = np.polynomial.legendre.leggauss(order)
    a, b = edges[:-1, None], edges[1:, None]
    t = (0.5 * (a + b) + 0.5 * (b - a) * g).ravel()
    w = (0.5 * (b - a) * wg).ravel()
    x = np.exp(t)
    return float((law.pdf(x) * x * w).sum())


@pytest.mark.parametrize("L,weights", [(50, "orthogonal"), (50, "gaussian"),
                                       pytest.param(100, "orthogonal", marks=pytest.mark.slow),
                                       pytest.param(100, "gaussian", marks=pytest.mark.slow)])
def test_deep_cdf_is_the_integral_of_the_density(L, weights):
    # two independent routes: the contour integral of G (cdf) and the axis density integrated in log x
    law, _ = _deep_law(L, weights)
    b = law.support[1]
    # down to 1e-40 b: at depth 50 the cdf is 0.45 at 1e-8 b and 0.0045 at 1e-40 b (most of the mass
    # lies decades below the top; the range [1e-8 b, 0.5 b] alone left half of it unchecked)
    lo, hi = 1e-40 * b, 0.5 * b
    F = law.cdf(np.array([lo, hi]))
    assert F[1] - F[0] == pytest.approx(_log_quad(law, lo, hi), abs=1e-8)
    # the total: density on the support plus the window at the singular point 0 from the contour
    # (check_mass gave 0.985 at depth 50 and 0.850 at depth 100 with 0 treated as a regular end)
    assert abs(law.check_mass() - 1.0) < 1e-10
    # the numbers: most of the mass of the depth-50 law lies below 1e-4 (cdf 0.98 there was wrong)
    assert 0.0 < law.cdf(1e-4) < 1.0 and np.isfinite(law.pdf(1e-4 * b))


def _ks_above(ev, law, floor):
    # KS distance restricted to x >= floor: eigvalsh of J J^T is exact only down to ~1e-16 of its top,
    # but the count of eigenvalues below the floor is right
    ev = np.sort(ev)
    n = ev.size
    keep = np.flatnonzero(ev >= floor)
    F = law.cdf(ev[keep])
    return float(np.max(np.maximum(np.abs(F - keep / n), np.abs(F - (keep + 1) / n))))


@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_deep_ks_against_networks_two_widths(weights):
    # depth 50, tanh critical sigma_b^2 = 0.05; tolerance 1/sqrt(N) stated in advance (the layer
    # lengths of one network fluctuate by O(N^-1/2)); mass near 0 is part of the distance
    L = 50
    law, sw2 = _deep_law(L, weights)
    b = law.support[1]
    for N in (100, 400):
        ev = np.concatenate([sample_jacobian_spectrum("tanh", sw2, _SB2, L, N, weights, rng=s) for s in range(2)])
        d = _ks_above(ev, law, 1e-12 * b)
        assert d < 1.0 / np.sqrt(N), (N, d)


def test_depth_100_density_below_a_tenth_of_the_edge():
    # tanh at its dynamical-isometry point for depth 100: the continuation converges on all of [0, b]
    law = jacobian_law("tanh", 1.0375715254140596, 8.603483444754348e-06, depth=101, weights="orthogonal")
    b = law.support[1]
    x = np.linspace(0, b, 1001)
    d = law.pdf(x)
    assert np.all(np.isfinite(d)) and np.all(d >= 0)
    assert _log_quad(law, 1e-6 * b, 0.1 * b) == pytest.approx(law.cdf(0.1 * b) - law.cdf(1e-6 * b), abs=1e-8)


# ----------------------------------------------------------------------------- public freeprob API only
def test_law_backed_d2_through_the_public_cauchy_api_matches_boxtimes():
    """A non-atomic D^2 goes through psi from the public Law.cauchy / Law.cauchy_derivative (and the
    moment series where |v| is small).  Orthogonal weights, equal widths: JJ^T = sigma_w^{2L} D^{⊠L},
    against freeprob's boxtimes (another solver, subordination).  The cdf of this path was NaN on
    batches of points (uG(u) - 1 cancelled to 1e-9 on the contour's high rays)."""
    d = fp.free_poisson(rate=2.0, jump=0.5)
    law = jacobian_law_from_d2(d, 1.5, depth=3, weights="orthogonal")
    ref = fp.boxtimes(d, d, d).scale(1.5 ** 3)
    assert law.support == pytest.approx(ref.support, rel=1e-10)
    x = np.array([0.3, 1.0, 5.0, 9.0, 15.0])
    np.testing.assert_allclose(law.pdf(x), ref.pdf(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), rtol=0, atol=1e-10)
    assert abs(law.check_mass() - 1.0) < 1e-10


def test_nn_spectra_and_randmat_use_no_private_law_methods():
    """The extension API of issue 12: nn_spectra and randmat reach freeprob laws only through public
    names (subclasses override the documented SolvedLaw hooks on self, which is not a use)."""
    import ast
    from pathlib import Path

    private = {name for name in dir(fp.Law) if name.startswith("_") and not name.startswith("__")}
    root = Path(__file__).resolve().parents[2]
    hits = []
    for pkg in ("nn_spectra", "randmat"):
        for path in (root / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in private:
                    owner = node.value
                    if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                        continue
                    if isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super":
                        continue
                    hits.append(f"{path.relative_to(root)}:{node.lineno} .{node.attr}")
    assert not hits, hits
