"""Minibatch stability thresholds, bisected boundaries and the hard-tanh online-SGD study (issue 13).

Tolerances of the real-network checks were stated before the full runs (see the comments), from a
pilot at width 256: onset / (2/median Θ(x,x)) was 1.04 at L = 2 and 1.13-1.21 at L = 8 (onset window
10-50 steps), the excess shrinking with width (1.09-1.13 at width 512).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import nn_spectra as ns
from nn_spectra.learning_rate import (batch_overshoot_threshold, measure_sgd_boundary, sgd_boundary_study,
                                      sgd_mean_square_threshold)
from nn_spectra.mlp import MLP


def _brute_force_threshold(th, B):
    """Independent truth: the exact second-moment operator E[A ⊗ A] over every batch (without
    replacement), A = I - (eta/B) Θ S, and the eta where its spectral radius crosses 1 (bisection)."""
    T = th.shape[0]
    batches = list(itertools.combinations(range(T), B))

    def rho(eta):
        op = np.zeros((T * T, T * T))
        for b in batches:
            S = np.zeros((T, T))
            S[list(b), list(b)] = 1.0
            A = np.eye(T) - eta / B * th @ S
            op += np.kron(A, A) / len(batches)
        return np.max(np.abs(np.linalg.eigvals(op)))

    lo, hi = 1e-4, 10.0
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        lo, hi = (lo, mid) if rho(mid) > 1 else (mid, hi)
    return lo


@pytest.mark.parametrize("B", [1, 2, 3])
def test_mean_square_threshold_is_the_exact_second_moment_boundary(B):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 3))
    th = A @ A.T + 0.3 * np.eye(5) + 0.5          # positive definite, correlated "inputs"
    assert sgd_mean_square_threshold(th, B) == pytest.approx(_brute_force_threshold(th, B), rel=1e-9)


def test_mean_square_threshold_closed_forms():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((30, 30))
    th = A @ A.T / 30 + 0.1 * np.eye(30)
    # B = T is gradient descent: 2/λ1(Θ/T)
    assert sgd_mean_square_threshold(th, 30) == pytest.approx(2 * 30 / np.linalg.eigvalsh(th)[-1], rel=1e-12)
    # orthogonal inputs, one example per step: each coordinate on its own, 2/max Θ_tt
    d = np.diag(rng.uniform(1, 3, 12))
    assert sgd_mean_square_threshold(d, 1) == pytest.approx(2 / d.max(), rel=1e-9)
    # between the two: online SGD is stable for smaller rates than GD, and the threshold grows with B
    vals = [sgd_mean_square_threshold(th, B) for B in (1, 4, 15, 30)]
    assert all(a < b for a, b in zip(vals, vals[1:]))


def test_overshoot_threshold_closed_forms():
    th = np.array([[3.0, 1.0], [1.0, 2.0]])
    # B = 1: 2/median Θ_tt whatever the residual
    assert batch_overshoot_threshold(th, np.eye(2), np.ones((2, 3)), 1) == pytest.approx(2 / 2.5)
    # no output noise: the residual is -Y, and the step on the whole batch raises the batch loss iff
    # eta > 2 r'Kr / r'K²r with K = Θ/2
    y = np.array([[1.0], [-0.5]])
    K = th / 2
    expect = 2 * float(y[:, 0] @ K @ y[:, 0]) / float(y[:, 0] @ K @ K @ y[:, 0])
    assert batch_overshoot_threshold(th, np.zeros((2, 2)), y, 2, n_batches=3, rng=0) == pytest.approx(expect)


def test_bad_input_thresholds():
    with pytest.raises(ValueError, match="square"):
        sgd_mean_square_threshold(np.ones((2, 3)), 1)
    with pytest.raises(ValueError, match="batch_size"):
        sgd_mean_square_threshold(np.eye(3), 4)
    with pytest.raises(ValueError, match="positive definite"):
        sgd_mean_square_threshold(np.zeros((3, 3)), 1)
    with pytest.raises(ValueError, match="finite"):
        sgd_mean_square_threshold(np.full((2, 2), np.nan), 1)
    with pytest.raises(ValueError, match="output_cov"):
        batch_overshoot_threshold(np.eye(3), np.eye(2), np.zeros((3, 1)), 2)
    net = MLP([4, 1], "linear", 1.0, 0.0, rng=0)
    with pytest.raises(ValueError, match="criterion"):
        measure_sgd_boundary(net, np.ones((3, 4)), np.zeros((3, 1)), criterion="spike")
    with pytest.raises(ValueError, match="eta_range"):
        measure_sgd_boundary(net, np.ones((3, 4)), np.zeros((3, 1)), eta_range=(1.0, 0.5))


def test_bisected_onset_of_a_linear_model_is_two_over_its_kernel():
    # a linear model f = Wx + b: one online step multiplies the example's residual by 1 - eta(|x|²+1)
    # exactly, so with every |x|² = 7 the onset is 2/8 (to the bisection's resolution)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 6))
    X *= np.sqrt(7.0) / np.linalg.norm(X, axis=1)[:, None]
    Y = rng.standard_normal((40, 2))
    net = MLP([6, 2], "linear", 1.0, 0.1, rng=1)
    on = measure_sgd_boundary(net, X, Y, 1, criterion="onset", eta_range=(0.05, 1.0), steps=20, n_bisect=14, rng=0)
    assert on == pytest.approx(0.25, rel=1e-3)


def test_online_onset_follows_the_conditional_fim_of_the_inputs_reduced():
    # reduced size (hard tanh, orthogonal, critical; digits T = 100, width 128, depths 2 and 4, 2 seeds)
    # stated in advance: the measured onset within a factor 1.3 of 2/median Θ(x,x) at every depth.
    # (A second claim stated with it, "the onset lies above the Hayase-Karakida 2/(N top edge)", FAILED
    # at this size: L = 2, width 128: onset 0.0198 < 0.0203.  That law then assumed input width N and
    # N outputs; digits has d = 64 and C = 10 (now ``input_ratio`` and the free compression).  The
    # claim is checked in the slow test, not loosened here.)
    st = sgd_boundary_study("digits", depths=(2, 4), act="hard_tanh", width=128, n_seeds=2, n_samples=100,
                            failure=False, steps=20, n_bisect=8, progress=False, rng=0)
    r, _ = st.ratio("onset", "online_median")
    assert np.all(np.abs(np.log(r)) < np.log(1.3)), r


@pytest.mark.slow
def test_online_onset_follows_the_conditional_fim_of_the_inputs_full():
    # the full study of the guide (about 10 min): digits T = 300, widths 200 and 400, depths 2-8, 3 seeds.
    # Stated in advance: within a factor 1.3 at every depth and width, and the excess over 1 no larger at
    # width 400 than at 200 (up to 3 standard errors of the seed-to-seed spread).  The conditional FIM of
    # the median input without the data kernel (free compression to C = 10 of N outputs, input ratio
    # 64/N, ``conditional_input``) is the top of each example's C x C block, above its mean Theta(x,x):
    # its rate lies below every measured onset (stated when the compression replaced the square
    # network's top edge, which the earlier form of this claim used)
    out = {}
    for N in (200, 400):
        st = sgd_boundary_study("digits", depths=(2, 3, 4, 6, 8), act="hard_tanh", width=N, n_seeds=3,
                                n_samples=300, failure=False, steps=20, progress=False, rng=0)
        out[N] = st.ratio("onset", "online_median")
        assert np.all(np.abs(np.log(out[N][0])) < np.log(1.3)), (N, out[N])
        assert np.all(st.onset.min(axis=1) > st.conditional_input), (N, st.onset, st.conditional_input)
    (r2, s2), (r4, s4) = out[200], out[400]
    assert np.all(np.abs(r4 - 1) <= np.abs(r2 - 1) + 3 * np.hypot(s2, s4)), out


# ---- decay of the excess over the prediction with the width (hard tanh, digits, L = 8) --------------

def _excess_rate(excess, se, widths):
    """Weighted least-squares exponent beta of excess ~ N^beta and its standard error (delta method:
    the standard error of log(excess) is se/excess)."""
    x, y, w = np.log(widths), np.log(excess), (np.asarray(excess) / np.asarray(se)) ** 2
    A = np.vstack([np.ones_like(x), x]).T
    cov = np.linalg.inv(A.T @ (w[:, None] * A))
    return float((cov @ A.T @ (w * y))[1]), float(np.sqrt(cov[1, 1]))


_ONLINE_RATE_FAILED = pytest.mark.xfail(strict=True, reason=(
    "stated rate N^-1/2 rejected: beta = -0.69 +- 0.05 over widths 128-1024 (z = -3.8); local slopes "
    "-1.04, -0.70, -0.52 approach -1/2, a N^-1/2 + b N^-1 fits (chi2 2.6, 2 dof) but was not stated"))


@pytest.mark.slow
@pytest.mark.parametrize("B,key,stated", [pytest.param(1, "online_median", -0.5, marks=_ONLINE_RATE_FAILED),
                                          (8, "overshoot", -1.0)])
def test_excess_over_the_prediction_decays_with_width(B, key, stated):
    # Stated before the runs (08:02 UTC, this session): at L = 8 the online excess
    # onset/(2/median Theta(x,x)) - 1 decays like N^-1/2 and the batch-8 excess onset/overshoot - 1 like
    # N^-1; the fitted exponent within 3 standard errors of the stated one, and below 0 by 3.
    # Measured (6 seeds, widths 128/256/512/1024; 4.4 min to 512 and 8 + 11 min at 1024, load ~5):
    # online 0.348 +- 0.041, 0.169 +- 0.015, 0.104 +- 0.011, 0.073 +- 0.003: beta = -0.69 +- 0.05, the
    # stated N^-1/2 FAILED (z = -3.8; strict xfail, not loosened); batch 8: 0.93 +- 0.09, 0.39 +- 0.03,
    # 0.164 +- 0.014, 0.110 +- 0.025: beta = -1.17 +- 0.08, N^-1 holds (z = -2.1).
    widths = (128, 256, 512, 1024)
    ex, se = [], []
    for N in widths:
        st = sgd_boundary_study("digits", depths=(8,), act="hard_tanh", width=N, n_seeds=6, n_samples=300,
                                batch_size=B, failure=False, steps=20, progress=False, rng=0)
        r, s = st.ratio("onset", key)
        ex.append(r[0] - 1)
        se.append(s[0])
    beta, sb = _excess_rate(np.array(ex), np.array(se), widths)
    assert beta + 3 * sb < 0, (beta, sb, ex, se)
    assert abs(beta - stated) <= 3 * sb, (beta, sb, ex, se)


# ---- a second dataset: breast cancer (569 examples, 30 features, 2 classes) --------------------------

def test_online_onset_on_breast_cancer_reduced():
    # stated in advance (08:20 UTC, before any run on this dataset): as on digits, the onset of online
    # SGD of critical orthogonal hard-tanh networks within a factor 1.3 of 2/median Theta(x,x) at every
    # depth; reduced size: width 128, depths 2 and 4, two seeds, 100 examples
    st = sgd_boundary_study("breast_cancer", depths=(2, 4), act="hard_tanh", width=128, n_seeds=2, n_samples=100,
                            failure=False, steps=20, n_bisect=8, progress=False, rng=0)
    r, _ = st.ratio("onset", "online_median")
    assert np.all(np.abs(np.log(r)) < np.log(1.3)), r


@pytest.mark.slow
def test_online_onset_on_breast_cancer_full():
    # stated in advance (08:20 UTC): within a factor 1.3 of 2/median Theta(x,x) at every depth 2-8, width
    # 256, three seeds, 300 examples; and the 1/L law of the prediction, L * eta_pred constant within 10 %
    # from L = 3 on (on digits it was within 5 % from L = 4)
    depths = (2, 3, 4, 6, 8)
    st = sgd_boundary_study("breast_cancer", depths=depths, act="hard_tanh", width=256, n_seeds=3,
                            n_samples=300, failure=False, steps=20, progress=False, rng=0)
    r, _ = st.ratio("onset", "online_median")
    assert np.all(np.abs(np.log(r)) < np.log(1.3)), r
    Leta = np.array(depths) * np.array([p.online_median for p in st.predicted])
    assert np.ptp(Leta[1:]) / Leta[1:].mean() < 0.10, Leta
