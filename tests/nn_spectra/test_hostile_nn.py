"""nn_spectra on hostile input: a right answer or a clear ValueError, never a silent wrong number.

Each case is one the hostile-input run of issue 14 found; the truths are independent (a root of
the fixed-point equation by scipy's brentq, closed-form Gaussian integrals)."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from scipy import optimize

import nn_spectra as ns


def test_q_star_from_far_above_finds_the_fixed_point():
    # was 6.2e239: bisection in linear scale from [0, 1e300] stopped after 200 halvings
    truth = ns.q_star("tanh", 1.5, 0.1)                    # from q0 = 1, pointwise solver
    f = lambda q: 1.5 * float(ns.gaussian_expectation(lambda u: np.tanh(u) ** 2, q)) + 0.1 - q  # noqa: E731
    ref = optimize.brentq(f, 0.1, 2.0, xtol=1e-14)         # the same root, independently
    assert abs(truth - ref) < 1e-9
    for q0 in (1e300, 1e150, 1e-300):
        assert abs(ns.q_star("tanh", 1.5, 0.1, q0=q0) - ref) < 1e-9
    assert round(ns.q_star("tanh", 1.5, 0.1, q0=1e300), 4) == 0.5202


def _nan_tanh(x):
    return np.where(x > 0.5, np.nan, np.tanh(x))


def _dtanh(x):
    return 1 / np.cosh(x) ** 2


def _d2tanh(x):
    return -2 * np.tanh(x) / np.cosh(x) ** 2


def test_activation_returning_nan_is_an_error_not_a_critical_point():
    # was: critical_sigma_w2 = 0.001 (the end of its bracket) and chi1 = nan, silently
    act = ns.activation(_nan_tanh, _dtanh, _d2tanh)
    with pytest.raises(ValueError, match="not finite"):
        ns.critical_sigma_w2(act, 0.1)
    with pytest.raises(ValueError, match="not finite"):
        ns.chi1(act, 1.5, 0.1)
    with pytest.raises(ValueError, match="not finite"):
        ns.c_map(act, 0.5, 1.5, 0.1, q=1.0)


def _exp_sq(x):
    return np.exp(x * x)


def _d_exp_sq(x):
    return 2 * x * np.exp(x * x)


def _d2_exp_sq(x):
    return (2 + 4 * x * x) * np.exp(x * x)


def test_divergent_gaussian_integral_is_reported():
    # φ = exp(x²): E[φ(√q z)²] = 1/√(1−4q) for q < 1/4 and +∞ beyond; the quadrature on |z| <= 13
    # used to return a finite q* for the divergent integral
    act = ns.activation(_exp_sq, _d_exp_sq, _d2_exp_sq)
    with pytest.raises(ValueError, match="does not converge"):
        ns.q_star(act, 1.5, 0.1)
    with pytest.raises(ValueError, match="does not converge"):
        ns.activation_moments(act, 0.3)
    # where the integral converges fast, the fixed point of q = 0.02/√(1−4q) is found
    ref = optimize.brentq(lambda q: 0.02 / np.sqrt(1 - 4 * q) - q, 1e-6, 0.1, xtol=1e-15)
    assert abs(ns.q_star(act, 0.02, 0.0, q0=0.05) - ref) < 1e-12


def test_mlp_rejects_fractional_widths():
    with pytest.raises(ValueError, match=r"widths\[1\]"):
        ns.MLP([3, 2.7, 1], "tanh", 1.0, 0.0)
    with pytest.raises(ValueError, match="widths"):
        ns.Network("tanh", 1.0, 0.0, depth=2, widths=(3, 2.7, 1))
    with pytest.raises(ValueError, match=r"widths\[0\]"):
        ns.MLP([0, 2, 1], "tanh", 1.0, 0.0)
    assert ns.MLP([3, 2.0, 1], "tanh", 1.0, 0.0, rng=0).widths == [3, 2, 1]   # integral floats are fine


def test_network_description_rejects_bad_fields():
    for kw, word in [(dict(depth=0), "depth"), (dict(depth=2.5), "depth"), (dict(sigma_w2=0.0), "sigma_w2"),
                     (dict(sigma_b2=-1.0), "sigma_b2"), (dict(sigma_w2=np.nan), "sigma_w2"),
                     (dict(weights="haar"), "weights"), (dict(readout="softmax"), "readout"),
                     (dict(widths=(3, 4)), "widths"), (dict(batch_norm="yes"), "batch_norm")]:
        args = dict(act="tanh", sigma_w2=1.0, sigma_b2=0.1, depth=3) | kw
        with pytest.raises(ValueError, match=word):
            ns.Network(**args)
    with pytest.raises(ValueError, match="unknown activation"):
        ns.Network("tanhh", 1.0, 0.1, 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0, 0.0, "x"])
def test_q0_out_of_range(bad):
    with pytest.raises(ValueError, match="q0"):
        ns.q_star("tanh", 1.5, 0.1, q0=bad)


def test_mean_field_objects_pickle_and_print():
    pd_ = ns.phase_diagram("tanh", (0.5, 3.0), (0.0, 0.2), n=6)
    back = pickle.loads(pickle.dumps(pd_))
    np.testing.assert_array_equal(back.chi1, pd_.chi1)
    assert back.activation == pd_.activation
    r = repr(pd_)
    assert r.startswith("PhaseDiagram('tanh', grid 6x6") and "0x" not in r
    net = ns.Network("leaky_relu", 1.5, 0.1, depth=3, weights="orthogonal", widths=(4, 8, 8, 1))
    assert pickle.loads(pickle.dumps(net)) == net
    assert "0x" not in repr(net) and "depth=3" in repr(net)
    mlp = net.sample(rng=0)
    back = pickle.loads(pickle.dumps(mlp))
    np.testing.assert_array_equal(back.weights[1], mlp.weights[1])
    assert "0x" not in repr(mlp)


def test_phase_diagram_to_frame():
    pd = pytest.importorskip("pandas")
    d = ns.phase_diagram("relu", (1.0, 3.0), (0.0, 0.2), n=5)
    df = d.to_frame()
    assert isinstance(df, pd.DataFrame) and len(df) == 25
    assert list(df.columns) == ["sigma_w2", "sigma_b2", "q_star", "chi1", "xi_c", "phase"]
    # relu: χ₁ = σ_w²/2, so the phase is decided by σ_w² alone
    assert (df["phase"] == np.where(df["sigma_w2"] < 2, "ordered", np.where(df["sigma_w2"] > 2, "chaotic",
                                                                            "critical"))).all()
    crit = d.critical_frame()
    assert np.allclose(crit["sigma_w2"], 2.0, atol=1e-8)


def test_custom_activation_from_lambdas_refuses_to_pickle_clearly():
    act = ns.activation(lambda x: np.tanh(x), _dtanh, _d2tanh)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(act)
    good = ns.activation(_nan_tanh, _dtanh, _d2tanh)
    assert pickle.loads(pickle.dumps(good)) == good


def test_no_silent_nan_on_a_sweep_of_extreme_variances():
    # extreme but valid variances: every answer finite, inf (with a warning) or a ValueError
    silent = []
    for act in ("tanh", "relu", "erf", "sigmoid", "hard_tanh", "gelu"):
        for sw in (1e-300, 1e-8, 1.0, 1e8, 1e300):
            for sb in (0.0, 1e-300, 1.0, 1e300):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    try:
                        q = ns.q_star(act, sw, sb)
                        x = ns.chi1(act, sw, sb, q=q)
                    except ValueError:
                        continue
                if np.isnan(q) or np.isnan(x):
                    silent.append((act, sw, sb, q, x))
    assert not silent, silent


# ------------------------------------------------------------------ a few hundred calls, tallied
HOSTILE_VARIANCES = [0.0, -0.0, 5e-324, 1e-308, 1e-12, 0.5, 1.0, 2.0, 1e12, 1e300, 1e308, -1.0, np.inf,
                     -np.inf, np.nan, True, None, "1", 1 + 1j, [1.0, 2.0]]
HOSTILE_INTS = [0, 1, 2, 3, -1, 2.5, 3.0, True, "3", 10 ** 5, 10 ** 7, 10 ** 400, np.int64(4)]
ACTS = ("tanh", "relu", "erf", "sigmoid", "hard_tanh", "gelu", "linear")


def test_mean_field_entry_points_on_hostile_parameters():
    """q*, χ₁, ξ's, the maps and the critical line on every hostile variance, for every built-in
    activation: an answer, a clear ValueError, or inf said with a warning (never silent, never a
    hang, never another exception type)."""
    from hostile import Tally

    t = Tally(allow_warned=True)
    for act in ACTS:
        for v in HOSTILE_VARIANCES:
            t(f"q_star({act}, sw={v!r})", ns.q_star, act, v, 0.1)
            t(f"q_star({act}, sb={v!r})", ns.q_star, act, 1.5, v)
            t(f"chi1({act}, sw={v!r})", ns.chi1, act, v, 0.1)
            if not isinstance(v, float) or not np.isfinite(v) or v < 0:
                t(f"critical_sigma_w2({act}, sb={v!r})", ns.critical_sigma_w2, act, v)
        # the valid extreme biases in one (vectorised) call: each alone costs ~0.2 s
        valid = [v for v in HOSTILE_VARIANCES if isinstance(v, float) and np.isfinite(v) and v >= 0]
        t(f"critical_sigma_w2({act}, sb={valid})", ns.critical_sigma_w2, act, np.array(valid))
        for q in (0.0, 1e-300, 1e300, -1.0, np.nan, np.inf):
            t(f"q_map({act}, q={q!r})", ns.q_map, act, q, 1.5, 0.1)
            t(f"q_star({act}, q0={q!r})", ns.q_star, act, 1.5, 0.1, q0=q)
        for c in (-1.0, 0.0, 1.0, 1.5, -2.0, np.nan):
            t(f"c_map({act}, c={c!r})", ns.c_map, act, c, 1.5, 0.1)
        for sw in (1e-8, 1.0, 4.0, 1e8):
            t(f"depth_scales({act}, sw={sw})", ns.depth_scales, act, sw, 0.05)
    for bad in ("tanhh", None, 3, "", "__import__('os')"):
        t(f"q_star(act={bad!r})", ns.q_star, bad, 1.5, 0.1)
    t.check(at_least=500)
    assert t.count("clear") >= 150   # the bad variances are refused, not silently accepted


def test_network_theory_entry_points_on_hostile_depths_and_widths():
    from hostile import Tally

    t = Tally(allow_warned=True)
    for d in HOSTILE_INTS:
        t(f"Network(depth={d!r})", ns.Network, "tanh", 1.5, 0.1, d)
        t(f"jacobian_law(depth={d!r}).moments(2)", lambda d: ns.jacobian_law("tanh", 1.5, 0.1, d).moments(2), d)
        t(f"jacobian_variance(depth={d!r})", ns.jacobian_variance, "relu", 2.0, 0.0, d)
        t(f"identity_jacobian_law(depth={d!r})", ns.identity_jacobian_law, "tanh", 1.2, d)
        t(f"MLP([3, {d!r}, 1])", ns.MLP, [3, d, 1], "tanh", 1.0, 0.0)
        # these cost O(depth) solves (conditional FIM: ~0.4 ms a layer; Fisher order parameters:
        # ~70 ms a layer): 10**5 layers are real work, not a hang, so they get smaller valid depths
        dc = 10 ** 4 if d == 10 ** 5 else d
        t(f"conditional_fim_law(depth={dc!r}).moments(2)",
          lambda d: ns.conditional_fim_law("relu", 2.0, 0.0, d).moments(2), dc)
        df = 20 if d == 10 ** 5 else d
        t(f"fim_statistics(depth={df!r})", ns.fim_statistics, "relu", 2.0, 0.0, df, 20, 5)
    X = np.random.default_rng(0).standard_normal((3, 4))
    for X1 in (X, np.full((2, 4), np.nan), np.full((2, 4), np.inf), np.empty((0, 4)), X[0], "x", X * 1e200):
        t(f"nngp_ntk(X shape {np.shape(X1)})", ns.nngp_ntk, X1, depth=3, act="relu", sigma_w2=2.0, sigma_b2=0.0)
    for w in ("xavier", None, 3, "Orthogonal"):
        t(f"jacobian_law(weights={w!r})", ns.jacobian_law, "tanh", 1.5, 0.1, 3, weights=w)
    t.check(at_least=90)
    assert t.count("clear") >= 40
    with pytest.raises(TypeError, match="missing depth"):   # not given at all: Python's TypeError
        ns.jacobian_law("tanh", 1.5, 0.1)
