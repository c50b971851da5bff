"""Online/minibatch SGD and the boundary predictions from the data kernel."""
from __future__ import annotations

import numpy as np
import pytest

import nn_spectra as ns
from nn_spectra.data import load_dataset
from nn_spectra.fisher import data_kernels
from nn_spectra.learning_rate import (max_learning_rate, predict_boundaries, sgd_learning_rate_experiment,
                                      train_gd, train_sgd)
from nn_spectra.mlp import MLP


def test_full_batch_sgd_is_gradient_descent():
    d = load_dataset("wine", 30, rng=0)
    a = MLP([13, 20, 20, 3], "tanh", 1.5, 0.1, rng=1)
    b = MLP([13, 20, 20, 3], "tanh", 1.5, 0.1, rng=1)
    h1 = train_gd(a, d.X, d.Y, 0.05, steps=6)
    h2 = train_sgd(b, d.X, d.Y, 0.05, batch_size=30, epochs=6, n_evals=6)
    np.testing.assert_allclose(h1, h2[:6], rtol=1e-12)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_allclose(wa, wb, rtol=1e-12)


def test_online_step_overshoot_is_two_over_ntk_diagonal():
    # one online step on x moves f(x) by -eta Theta(x,x) r to first order: with a small network and
    # its exact empirical Theta(x,x), eta = 0.8 * 2/Theta undershoots and 1.25 * 2/Theta overshoots
    X = np.random.default_rng(0).standard_normal((1, 5))
    Y = np.array([[3.0]])
    for c, rises in ((0.8, False), (1.25, True)):
        net = MLP([5, 400, 1], "tanh", 1.2, 0.1, rng=2)
        th = float(net.empirical_ntk(X, parameterization="standard")[0, 0])
        _, frac = train_sgd(net, X, Y, c * 2 / th, batch_size=1, epochs=1, n_evals=1, spike_steps=1)
        assert frac == float(rises)


def test_prediction_is_the_kernel():
    d = load_dataset("digits", 40, rng=3)
    k = data_kernels(d.X, "tanh", 1.5, 0.05, 3, 100, 10, keep_layers=False)
    p = predict_boundaries(d.X, "tanh", 1.5, 0.05, 3, 100, 10, batch_size=40, kernels=k)
    assert p.full_batch == pytest.approx(2 / np.linalg.eigvalsh(k.ntk / 40)[-1], rel=1e-12)
    assert p.online_median == pytest.approx(2 / np.median(np.diag(k.ntk)), rel=1e-12)
    assert p.batch == pytest.approx(p.full_batch, rel=1e-12)        # B = T: the full batch
    assert p.linear_sgd == pytest.approx(80 / (2 / p.online_max + 39 * 2 / p.full_batch), rel=1e-12)
    assert max_learning_rate("tanh", 1.5, 0.05, 3, 100, 40, 10, input_dim=64, inputs=d.X) == pytest.approx(p.full_batch)
    assert max_learning_rate("tanh", 1.5, 0.05, 3, 100, 40, 10, input_dim=64, inputs=d.X,
                             source="online") == pytest.approx(p.online_median)


def test_online_prediction_falls_with_depth():
    d = load_dataset("digits", 60, rng=4)
    sw = float(ns.critical_sigma_w2("tanh", 0.05))
    etas = [predict_boundaries(d.X, "tanh", sw, 0.05, L, 256, 10).online_median for L in (2, 4, 8)]
    assert etas[0] > etas[1] > etas[2]


def test_small_experiment_runs_and_brackets():
    g = sgd_learning_rate_experiment("breast_cancer", depths=(2, 3), act="tanh", width=32, n_samples=40,
                                     batch_sizes=(1, None), gd_epochs=10, progress=False, rng=0)
    assert g.ratio.shape == (2, 2, 14) and g.spikes.shape == (2, 2, 14)
    assert np.all(g.ratio[:, :, 0] < 1)             # the smallest rate trains
    assert np.all(~(g.ratio[:, :, -1] < 1))         # 12x the largest prediction fails
    assert g.prediction("full_batch").shape == (2, 2)
    # the heat map carries the predicted boundaries at their values (log10 eta over depth)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = g.plot()
    assert len(axes) == 2
    online = {ln.get_label(): ln for ln in axes[0].get_lines()}
    line = online["2/median Θ(x,x): conditional FIM"]
    np.testing.assert_allclose(line.get_ydata(), np.log10(g.prediction("online_median")[0]))
    assert "2/λ₁(Θ/T): full-batch FIM" in {ln.get_label() for ln in axes[1].get_lines()}
    plt.close("all")


def test_bad_input():
    d = load_dataset("wine", 10, rng=0)
    net = MLP([13, 8, 3], "tanh", 1.5, 0.1, rng=0)
    with pytest.raises(ValueError, match="batch_size"):
        train_sgd(net, d.X, d.Y, 0.1, batch_size=11)
    with pytest.raises(ValueError, match="finite"):
        train_sgd(net, np.full((10, 13), np.nan), d.Y, 0.1)
    with pytest.raises(ValueError, match="input dimension"):
        train_sgd(net, np.ones((10, 12)), d.Y, 0.1)
    with pytest.raises(ValueError, match="source"):
        max_learning_rate("tanh", 1.5, 0.1, 2, 8, 10, 3, input_dim=13, inputs=d.X, source="x")


def test_conditional_source_on_inputs_is_the_kernel_diagonal():
    # the conditional FIM of input x with C outputs at infinite width is Theta(x,x) I_C: the rate is
    # 2/median_t Theta(x_t,x_t) from the data kernel, for any batch size and output count
    d = load_dataset("wine", 30, rng=1)
    k = data_kernels(d.X, "hard_tanh", 1.2, 0.05, 3, 64, 3)
    eta = max_learning_rate("hard_tanh", 1.2, 0.05, 3, 64, 30, 3, input_dim=13, inputs=d.X, source="conditional",
                            batch_size=8)
    assert eta == pytest.approx(2 / np.median(np.diag(k.ntk)), rel=1e-12)
    assert eta == max_learning_rate("hard_tanh", 1.2, 0.05, 3, 64, 30, 3, input_dim=13, inputs=d.X, source="online")


def test_experiment_on_dask_gives_the_serial_numbers():
    # the issue asks for the depth x learning-rate grid on joblib or Dask: the same grid through a Dask
    # cluster (joblib's dask backend, one worker process: with an in-process worker joblib ran the jobs in
    # the main thread) must give the serial run's numbers exactly
    distributed = pytest.importorskip("dask.distributed")
    kw = dict(depths=(2,), act="tanh", width=16, n_samples=24, batch_sizes=(1,), progress=False, rng=3)
    serial = sgd_learning_rate_experiment("iris", **kw)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            on_dask = sgd_learning_rate_experiment("iris", n_jobs=2, backend="dask", **kw)
    assert len(stream.data) >= on_dask.ratio.size          # the runs really went through the cluster
    np.testing.assert_array_equal(on_dask.ratio, serial.ratio)
    np.testing.assert_array_equal(on_dask.spikes, serial.spikes)
