"""2/lambda_max: the 1/depth law and the stability boundary of gradient descent on load_digits."""
from __future__ import annotations

import numpy as np
import pytest

from nn_spectra.fisher import fim_statistics
from nn_spectra.learning_rate import digits_data, learning_rate_experiment, max_learning_rate, train_gd
from nn_spectra.mlp import MLP


def test_one_over_depth():
    # relu at criticality: each hidden layer adds a comparable kappa term, lambda_max ~ (L - 1);
    # not exactly, because the layer correlations q^_2^l still drift with l (the c-map)
    Ls = np.array([3, 5, 9, 17])
    etas = np.array([max_learning_rate("relu", 2.0, 0.0, int(L), 500, 50) for L in Ls])
    prod = etas * (Ls - 1)
    assert np.ptp(prod) / prod.mean() < 0.10
    s = fim_statistics("relu", 2.0, 0.0, 5, 500, 50)
    assert max_learning_rate("relu", 2.0, 0.0, 5, 500, 50) == pytest.approx(2 / s.lambda_max)


def test_gradient_descent_below_and_above_two_over_lambda_max():
    # measured lambda_max at initialisation: 0.5 * 2/lambda trains, 2.5 * 2/lambda is unstable
    g = learning_rate_experiment(depths=(2, 4), c=(0.5, 2.5), width=64, n_samples=50, steps=25,
                                 reference="measured", rng=1)
    assert not g.diverged[:, 0].any()
    assert g.diverged[:, 1].all()


def test_mean_field_boundary_tracks_depth():
    g = learning_rate_experiment(depths=(3, 6), c=(0.4, 3.0), width=96, n_samples=60, steps=25, rng=2)
    # within a factor ~3 of the mean-field line at both depths (the digits' overlaps are not i.i.d.)
    assert not g.diverged[:, 0].any()
    assert g.diverged[:, 1].all()
    assert g.eta_pred[1] < g.eta_pred[0]


def test_training_decreases_the_loss():
    X, Y = digits_data(40, rng=0)
    assert X.shape == (40, 64) and Y.shape == (40, 1)
    net = MLP([64, 32, 32, 1], "relu", 2.0, 0.0, rng=0)
    lam = np.linalg.eigvalsh(net.empirical_ntk(X, parameterization="standard") / 40)[-1]
    hist = train_gd(net, X, Y, eta=0.5 / lam, steps=30)
    assert hist[-1] < hist[0]


def test_bad_input():
    with pytest.raises(ValueError, match="source"):
        max_learning_rate("relu", 2.0, 0.0, 3, 10, 5, source="x")
    with pytest.raises(ValueError, match="n_samples"):
        digits_data(0)
    with pytest.raises(ValueError, match="reference"):
        learning_rate_experiment(reference="nope")


def _conditional_top_error(act, width, seeds):
    """Relative error of λ_max(H) = N·top_edge (``max_learning_rate(source="conditional")``) against
    the mean over ``seeds`` real orthogonal networks of the largest eigenvalue of their H (one input
    of the fixed-point length per network)."""
    from nn_spectra.conditional_fim import sample_conditional_fim_spectrum
    from nn_spectra.mean_field import critical_sigma_w2

    sb = 0.05
    sw = float(critical_sigma_w2(act, sb))
    pred = 2.0 / max_learning_rate(act, sw, sb, depth=4, width=width, n_samples=1, n_outputs=width,
                                   source="conditional")
    meas = np.mean([width * sample_conditional_fim_spectrum(act, sw, sb, 4, width=width, rng=s)[-1]
                    for s in range(seeds)])
    return abs(meas / pred - 1)


# stated in advance: relative error at most 3/sqrt(N) (the layer lengths |x^l|^2/N of a finite network
# move every term of H by O(N^-1/2); the soft edge fluctuates by O(N^-2/3)), so the tolerance shrinks
# with the width.  Measured (3 networks): tanh 0.016, 0.0074, 0.0043 and hard tanh 0.035, 0.0039,
# 0.0015 at N = 150, 300, 600 (the hull bound this source used before was 4.5x off).
def test_conditional_source_predicts_the_top_of_real_networks():
    for N in (150, 300):
        err = _conditional_top_error("hard_tanh", N, 3)
        assert err < 3 / np.sqrt(N), (N, err)


@pytest.mark.slow
@pytest.mark.parametrize("act", ["tanh", "hard_tanh"])
def test_conditional_source_predicts_the_top_of_real_networks_full(act):
    for N in (150, 600):
        err = _conditional_top_error(act, N, 3)
        assert err < 3 / np.sqrt(N), (act, N, err)


def _compressed_error(act, L, width, C, d, seeds):
    """(measured mean of lambda_max(H_C)/N over ``seeds`` networks, its standard error, predicted
    2/(N eta) of ``max_learning_rate(source="conditional")`` with C outputs, input dimension d)."""
    from nn_spectra.conditional_fim import sample_conditional_fim_spectrum
    from nn_spectra.mean_field import critical_sigma_w2

    sb = 0.05
    sw = float(critical_sigma_w2(act, sb))
    pred = 2.0 / (width * max_learning_rate(act, sw, sb, depth=L, width=width, n_samples=1, n_outputs=C,
                                            input_dim=d, source="conditional"))
    tops = np.array([sample_conditional_fim_spectrum(act, sw, sb, L, width, rng=s, n_outputs=C, input_dim=d)[-1]
                     for s in range(seeds)])
    return tops.mean(), tops.std(ddof=1) / np.sqrt(seeds), pred


# Stated in advance (the rate of the square case above): with C = N/8 outputs and input dimension d,
# the mean top eigenvalue of the C x C dual of real orthogonal networks lies within 3/sqrt(N) of the
# free compression's top edge, at two widths; the uncompressed top edge (what this source returned
# before) is rejected by the same bound at the larger width.
def test_conditional_source_with_few_outputs_is_the_free_compression():
    from nn_spectra.conditional_fim import conditional_fim_law
    from nn_spectra.mean_field import critical_sigma_w2

    for N, seeds in ((64, 12), (256, 6)):
        meas, se, pred = _compressed_error("hard_tanh", 8, N, N // 8, N // 2, seeds)
        assert abs(meas / pred - 1) < 3 / np.sqrt(N), (N, meas, se, pred)
    top = conditional_fim_law("hard_tanh", float(critical_sigma_w2("hard_tanh", 0.05)), 0.05, 8,
                              input_ratio=0.5).top_edge
    assert abs(meas / top - 1) > 3 / np.sqrt(256), (meas, top)
    with pytest.raises(ValueError, match="n_outputs"):
        max_learning_rate("tanh", 1.0, 0.05, 3, 10, 1, 11, source="conditional")


@pytest.mark.slow
@pytest.mark.parametrize("act", ["tanh", "hard_tanh"])
def test_conditional_source_with_few_outputs_is_the_free_compression_full(act):
    # the same bound, stated in advance, at widths 128 and 512: C = N/8 (t fixed) and C = 4 (t -> 0,
    # where the corner's top tends to the law's mean), d = N and d = N/4
    for C_of, d_of in ((lambda n: n // 8, lambda n: n), (lambda n: 4, lambda n: n // 4)):
        for L in (4, 8):
            for N in (128, 512):
                meas, se, pred = _compressed_error(act, L, N, C_of(N), d_of(N), 10)
                assert abs(meas / pred - 1) < 3 / np.sqrt(N), (act, L, N, meas, se, pred)


# ---- the verify case of the free compression ------------------------------------------------------
def test_compression_verify_case_passes_and_a_wrong_prediction_fails(monkeypatch):
    # fisher_compression checks max_learning_rate(source="conditional", n_outputs=N/8) against real
    # networks (soft-edge extrapolation, |z| <= 4, stated before its first run); a prediction of the top
    # 1.25x too large (a learning rate 1.25x too small) must fail it
    import nn_spectra as ns
    from freeprob.verify import get_case
    from threadpoolctl import threadpool_limits

    case = get_case("fisher_compression")
    assert case.quick_size < case.full_size and case.tolerance == 4.0 and "|z|" in case.metric
    with threadpool_limits(limits=1):
        res = case.run(case.quick_size, np.random.default_rng(20261202))
    assert np.isfinite(res.distance) and res.distance <= case.tolerance_at(case.quick_size), res.measurement
    true_mlr = ns.max_learning_rate
    monkeypatch.setattr(ns, "max_learning_rate", lambda *a, **k: true_mlr(*a, **k) / 1.25)
    with threadpool_limits(limits=1):
        bad = case.run(case.quick_size, np.random.default_rng(20261202))
    assert bad.distance > case.tolerance_at(case.quick_size), bad.measurement
