"""Mean field against closed forms (relu, erf solved by scipy's brentq), literature values
(tanh critical σ_w² ≈ 1.76 at σ_b² = 0.05) and direct simulation of wide random networks."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize

import nn_spectra as ns


def test_relu_chi1_and_criticality():
    sw = np.linspace(0.5, 3.0, 11)
    assert np.max(np.abs(ns.chi1("relu", sw, 0.0) - sw / 2)) < 1e-14
    assert abs(ns.critical_sigma_w2("relu", 0.0) - 2.0) < 1e-8
    crit = ns.critical_sigma_w2("relu", np.array([0.0, 0.1, 0.5]))
    assert np.max(np.abs(crit - 2.0)) < 1e-8   # χ₁ = σ_w²/2 whatever σ_b² and q*


def test_relu_q_star_closed_form_and_divergence():
    sw, sb = np.array([0.5, 1.0, 1.9]), 0.3
    assert np.max(np.abs(ns.q_star("relu", sw, sb) - sb / (1 - sw / 2))) < 1e-12
    with pytest.warns(RuntimeWarning, match="diverges"):
        q = ns.q_star("relu", 2.5, 0.1)
    assert q == np.inf
    assert ns.q_star("relu", 2.0, 0.0, q0=3.7) == 3.7   # every q is a fixed point


def test_erf_q_star_against_brentq():
    # q = σ_w² (2/π) arcsin(2q/(1+2q)) + σ_b², solved independently by bracketing
    for sw, sb in [(0.8, 0.1), (2.0, 0.05), (4.0, 0.3)]:
        f = lambda q: sw * 2 / np.pi * np.arcsin(2 * q / (1 + 2 * q)) + sb - q  # noqa: E731
        ref = optimize.brentq(f, 1e-12, 100.0, xtol=1e-15)
        assert abs(ns.q_star("erf", sw, sb) - ref) < 1e-11


def test_tanh_critical_line_literature_value():
    assert abs(ns.critical_sigma_w2("tanh", 0.05) - 1.76) < 0.01
    # at σ_b = 0 the tanh network is critical at σ_w² = 1 (q* → 0, φ'(0) = 1)
    assert abs(ns.critical_sigma_w2("tanh", 0.0) - 1.0) < 1e-4


def test_q_star_is_a_fixed_point_and_the_trajectory_iterates_q_map():
    sw, sb = np.array([[1.2, 2.5], [3.0, 0.7]]), np.array([[0.05, 0.0], [0.2, 0.1]])
    q, traj = ns.q_star("tanh", sw, sb, q0=2.0, return_trajectory=True, depth=6)
    assert q.shape == (2, 2) and traj.shape == (7, 2, 2)
    assert np.max(np.abs(ns.q_map("tanh", q, sw, sb) - q)) < 1e-12
    for l in range(6):
        assert np.allclose(traj[l + 1], ns.q_map("tanh", traj[l], sw, sb), rtol=0, atol=1e-14)


def test_c_star_fixed_point_and_chi_c():
    sw, sb = 2.5, 0.1
    q = ns.q_star("tanh", sw, sb)
    c = ns.c_star("tanh", sw, sb)
    assert 0 < c < 1
    assert abs(ns.c_map("tanh", c, sw, sb) - c) < 1e-11
    assert ns.c_star("tanh", 1.2, 0.1) == 1.0      # ordered phase
    assert abs(ns.chi_c("tanh", 1.0, sw, sb, q=q) - ns.chi1("tanh", sw, sb)) < 1e-10


def test_depth_scales_closed_forms():
    # relu ordered phase: both slopes are σ_w²/2 (E[φφ''] = 0), c* = 1
    xi_q, xi_c = ns.depth_scales("relu", 1.2, 0.1)
    assert abs(xi_q + 1 / np.log(0.6)) < 1e-12 and abs(xi_c + 1 / np.log(0.6)) < 1e-12
    assert ns.trainability_depth("relu", 2.0, 0.0) == np.inf
    xi_q, xi_c = ns.depth_scales("tanh", 2.5, 0.1)
    assert np.isfinite(xi_q) and np.isfinite(xi_c) and xi_c > 0


def test_depth_scale_diverges_at_the_critical_line():
    sb = 0.05
    crit = ns.critical_sigma_w2("tanh", sb)
    xi = [ns.depth_scales("tanh", crit * (1 + e), sb)[1] for e in (-0.1, -0.01, 0.01, 0.1)]
    assert xi[1] > 5 * xi[0] and xi[2] > 5 * xi[3]


def test_phase_diagram_matches_pointwise_solvers():
    pd = ns.phase_diagram("tanh", (0.5, 4.0), (0.0, 0.3), n=25)
    rng = np.random.default_rng(1)
    for _ in range(5):
        i, j = rng.integers(0, 25, 2)
        w, b = pd.sigma_w2[i, j], pd.sigma_b2[i, j]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert abs(pd.q_star[i, j] - ns.q_star("tanh", w, b)) < 1e-9
        assert abs(pd.chi1[i, j] - ns.chi1("tanh", w, b)) < 1e-9
        xc = ns.depth_scales("tanh", w, b)[1]
        assert abs(pd.xi_c[i, j] - xc) <= 1e-6 * xc
    k = np.argmin(np.abs(pd.critical_sigma_b2 - 0.1))
    assert abs(pd.critical_sigma_w2[k] - ns.critical_sigma_w2("tanh", pd.critical_sigma_b2[k])) < 1e-8
    fig_ax = pd.plot(trainability=True)
    assert fig_ax.get_xlabel() == "σ_w²"


def test_bad_input():
    with pytest.raises(ValueError, match="sigma_w2"):
        ns.q_star("tanh", -1.0, 0.1)
    with pytest.raises(ValueError, match="sigma_b2"):
        ns.chi1("tanh", 1.0, -0.1)
    with pytest.raises(ValueError, match="q0"):
        ns.q_star("tanh", 1.0, 0.1, q0=0.0)
    with pytest.raises(ValueError, match="c must"):
        ns.c_map("tanh", 1.5, 1.0, 0.1)


def _simulate(act, sw, sb, width, depth, rng):
    """Per-layer empirical q^l = mean h², χ₁^l = σ_w² mean φ'(h)² of one wide network, one input."""
    net = ns.MLP([width] * (depth + 1) + [1], act, sw, sb, rng=rng)
    x = np.ones((1, width))  # q⁰ = 1 per neuron
    _, hs, _ = net.forward(x, return_all=True)
    q = np.array([np.mean(h ** 2) for h in hs[:-1]])
    chi = np.array([sw * np.mean(net.act.dphi(h) ** 2) for h in hs[:-1]])
    return q, chi


@pytest.mark.parametrize("width", [250, 1000])
def test_tanh_q_and_chi1_against_wide_network(width):
    sw, sb, depth = 1.76, 0.05, 12
    # the input has squared length 1 per coordinate, so h_1 has variance q¹ = σ_w² + σ_b²; then q^{l+1} = q_map(q^l)
    q1 = sw + sb
    _, q_theory = ns.q_star("tanh", sw, sb, q0=q1, return_trajectory=True, depth=depth - 1)
    qs, chis = [], []
    for seed in range(3):
        q, chi = _simulate("tanh", sw, sb, width, depth, seed)
        qs.append(q)
        chis.append(chi)
    q, chi = np.mean(qs, 0), np.mean(chis, 0)
    chi_theory = sw * ns.activation_moments("tanh", q_theory)[1]
    tol = 6.0 / np.sqrt(3 * width)   # Monte-Carlo fluctuations of a mean over ~width neurons
    assert np.max(np.abs(q - q_theory) / q_theory) < tol
    assert np.max(np.abs(chi - chi_theory) / chi_theory) < tol
    # deep layers sit at the fixed point
    assert abs(np.mean(q[-4:]) - ns.q_star("tanh", sw, sb)) / ns.q_star("tanh", sw, sb) < tol
    assert abs(np.mean(chi[-4:]) - ns.chi1("tanh", sw, sb)) < tol


def test_chi1_predicts_jacobian_growth():
    # ‖J u‖² ≈ σ_w² χ₁^depth ‖u‖² for a network started at its fixed point (mean over inputs and seeds)
    sw, sb, depth, width = 2.5, 0.1, 6, 600
    qs = ns.q_star("tanh", sw, sb)
    x1 = ns.chi1("tanh", sw, sb)
    logs = []
    for seed in range(4):
        net = ns.MLP([width] * (depth + 1) + [width], "tanh", sw, sb, rng=seed)
        x = np.random.default_rng(100 + seed).standard_normal(width)
        x *= np.sqrt(width * (qs - sb) / sw) / np.linalg.norm(x)
        J = net.input_output_jacobian(x)
        logs.append(np.log(np.sum(J ** 2) / width))
    # tolerance: four standard errors of the seed average (each network is one Monte-Carlo sample)
    se = np.std(logs, ddof=1) / np.sqrt(len(logs))
    assert abs(np.mean(logs) - np.log(sw * x1 ** depth)) < 4 * se + 0.02


def test_verify_cases_pass_at_quick_size():
    import nn_spectra.verify.cases.mean_field  # noqa: F401  (registers the cases)
    from nn_spectra.verify.case import get_case

    for name in ("tanh_criticality", "ntk_finite_width", "double_descent"):
        case = get_case(name)
        res = case.run(case.quick_size, np.random.default_rng(0))
        assert res.distance <= case.tolerance_at(case.quick_size), (name, res.measurement)
        assert res.figure is not None


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_grid_route_agrees_with_pointwise_solvers(act):
    # >= 256 points go through the cached tables (moments checked to 1e-12 at the cell midpoints,
    # Hermite coefficients to 1e-10): compare with the pointwise quadrature solvers on a sample
    w = np.linspace(0.6, 4.0, 16)
    b = np.linspace(0.0, 0.3, 16)
    W, B = np.meshgrid(w, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = ns.q_star(act, W, B)
        x1 = ns.chi1(act, W, B)
        cs = ns.c_star(act, W, B)
        cm = ns.c_map(act, 0.3, W, B)
    idx = np.random.default_rng(5).choice(W.size, 8, replace=False)
    for i in idx:
        sw, sb = W.flat[i], B.flat[i]
        qe = ns.q_star(act, sw, sb)
        assert abs(q.flat[i] - qe) <= 1e-11 * max(1.0, qe)
        assert abs(x1.flat[i] - ns.chi1(act, sw, sb)) <= 1e-10
        assert abs(cs.flat[i] - ns.c_star(act, sw, sb)) <= 1e-8
        assert abs(cm.flat[i] - ns.c_map(act, 0.3, sw, sb)) <= 1e-8


def test_hard_tanh_closed_kernel_against_quadrature():
    """The closed equal-variance kernel of hard tanh (Owen's T, Price's theorem) against the 2-D
    quadrature of activation_kernel and, at c = ±1, the closed 1-D moments."""
    from nn_spectra.mean_field import _hard_tanh_kernel_equal

    rng = np.random.default_rng(3)
    q = np.concatenate([rng.uniform(0.01, 5.0, 40), [1e-6, 1.0, 1.0, 100.0, 0.3]])
    c = np.concatenate([rng.uniform(-1.0, 1.0, 40), [0.5, 0.0, 0.999999, -0.3, -0.999]])
    k, kd = _hard_tanh_kernel_equal(q, c)
    kq, kdq = ns.activation_kernel("hard_tanh", q, q, c * q)
    assert np.max(np.abs(k - kq)) < 1e-9 and np.max(np.abs(kd - kdq)) < 1e-9
    e2, d2, _ = ns.activation_moments("hard_tanh", q)
    k1, kd1 = _hard_tanh_kernel_equal(q, np.ones_like(q))
    np.testing.assert_allclose(k1, e2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(kd1, d2, rtol=1e-12, atol=1e-15)
    km, kdm = _hard_tanh_kernel_equal(q, -np.ones_like(q))     # v = -u: E[φφ] = -E[φ²]
    np.testing.assert_allclose(km, -e2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(kdm, d2, rtol=1e-12, atol=1e-15)
    assert _hard_tanh_kernel_equal(np.array([0.0]), np.array([0.3])) == (0.0, 1.0)


def test_hard_tanh_c_star_on_a_grid_matches_the_pointwise_fixed_point():
    # c* = the root of (σ_w² K(c) + σ_b²)/q* - c by brentq on the 2-D quadrature kernel, at a few
    # chaotic points of a grid solved at once (the grid goes through the closed kernel)
    w = np.linspace(2.0, 4.0, 16)
    W, B = np.meshgrid(w, np.linspace(0.0, 0.1, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cs = ns.c_star("hard_tanh", W, B)
    for i in (37, 100, 255):   # sigma_b2 > 0: f(-1) = 2 sigma_b2 / q* > 0 brackets the root
        sw, sb = W.flat[i], B.flat[i]
        q = ns.q_star("hard_tanh", sw, sb)

        def f(cc):
            return (sw * float(ns.activation_kernel("hard_tanh", q, q, cc * q)[0]) + sb) / q - cc

        if ns.chi1("hard_tanh", sw, sb) > 1:
            ref = optimize.brentq(f, -1.0, 1 - 1e-9, xtol=1e-14)
            assert abs(cs.flat[i] - ref) < 1e-9


def test_gelu_closed_kernel_against_quadrature():
    """The closed equal-variance gelu kernel (Stein's lemma + Price's theorem) against scipy's adaptive
    dblquad (1e-13), the nested Gauss-Legendre quadrature of activation_kernel (including the probe
    q = 1e12 of q* = inf, near c = 1) and, at c = 1, the 1-D moments."""
    from scipy import integrate, special

    from nn_spectra.mean_field import _gelu_kernel_equal

    for q, c in ((3.0, 0.9), (40.0, -0.6)):
        s, t = np.sqrt(q), np.sqrt(1 - c * c)

        def f(z2, z1, d=False):
            u, v = s * z1, s * (c * z1 + t * z2)
            g = ((special.ndtr(u) + u * np.exp(-u * u / 2) / np.sqrt(2 * np.pi))
                 * (special.ndtr(v) + v * np.exp(-v * v / 2) / np.sqrt(2 * np.pi))) if d else \
                u * special.ndtr(u) * v * special.ndtr(v)
            return np.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * np.pi) * g

        k, kd = _gelu_kernel_equal(q, c)
        ref = integrate.dblquad(f, -40, 40, -40, 40, epsabs=1e-13, epsrel=1e-13)[0]
        refd = integrate.dblquad(lambda a, b: f(a, b, True), -40, 40, -40, 40, epsabs=1e-13, epsrel=1e-13)[0]
        assert abs(k - ref) <= 1e-11 * max(1.0, abs(ref)) and abs(kd - refd) <= 1e-11
    rng = np.random.default_rng(4)
    q = np.concatenate([rng.uniform(0.01, 120.0, 30), [0.0, 1e-6, 1.0, 50.0, 1e12, 1e12]])
    c = np.concatenate([rng.uniform(-1.0, 1.0, 30), [0.3, 0.5, 0.999999, -0.999, 0.9, 1 - 1e-9]])
    k, kd = _gelu_kernel_equal(q, c)
    kq, kdq = ns.activation_kernel("gelu", q, q, c * q)
    assert np.max(np.abs(k - kq) / np.maximum(1.0, np.abs(kq))) < 1e-11 and np.max(np.abs(kd - kdq)) < 1e-11
    e2, d2, _ = ns.activation_moments("gelu", q)
    k1, kd1 = _gelu_kernel_equal(q, np.ones_like(q))
    np.testing.assert_allclose(k1, e2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(kd1, d2, rtol=1e-12, atol=1e-15)


def test_gelu_c_star_and_xi_c_on_a_grid_match_the_pointwise_quadrature():
    # the band of finite q* on the chaotic side (sigma_w2 just below 2, sigma_b2 > 0.15), 256 points at
    # once through the closed kernel; reference: brentq on the 2-D quadrature of activation_kernel at
    # each point, and xi_c = -1/log(sigma_w2 E[phi'phi'](c*)) from the same quadrature
    W, B = np.meshgrid(np.linspace(1.9, 2.05, 16), np.linspace(0.15, 0.3, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cs = ns.c_star("gelu", W, B)
        _, xc = ns.depth_scales("gelu", W, B)
        q = ns.q_star("gelu", W, B)
        x1 = ns.chi1("gelu", W, B)
    chaotic = np.flatnonzero(np.isfinite(q.ravel()) & (x1.ravel() > 1.0 + 1e-6))
    assert chaotic.size >= 10
    for i in chaotic[:: max(1, chaotic.size // 4)]:
        sw, sb, qi = W.flat[i], B.flat[i], ns.q_star("gelu", W.flat[i], B.flat[i])

        def f(cc):
            return (sw * float(ns.activation_kernel("gelu", qi, qi, cc * qi)[0]) + sb) / qi - cc

        ref = optimize.brentq(f, -1.0, 1 - 1e-9, xtol=1e-14)
        assert abs(cs.flat[i] - ref) < 1e-9
        kd = float(ns.activation_kernel("gelu", qi, qi, ref * qi)[1])
        assert abs(xc.flat[i] - (-1.0 / np.log(sw * kd))) <= 1e-7 * xc.flat[i]
