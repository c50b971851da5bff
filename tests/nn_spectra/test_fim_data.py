"""Data loaders and the FIM on the data's own geometry: exact special cases, an independent kernel
implementation, and real networks."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

import nn_spectra as ns
from nn_spectra.data import (check_batch_size, check_inputs, load_dataset, load_fashion_mnist, read_idx)
from nn_spectra.fisher import (data_kernels, fim_inputs, fim_statistics, fim_statistics_data,
                               measure_fim_statistics)


def uniform_inputs(T, d, q, c):
    """Rows with |x|^2/d = q and x.x'/d = q c exactly (orthonormal directions)."""
    E = np.eye(T + 1, d) * np.sqrt(d)
    return np.sqrt(q) * (np.sqrt(c) * E[0][None, :] + np.sqrt(1 - c) * E[1:])


# ------------------------------------------------------------------------------------- loaders
def test_sklearn_datasets_are_standardised():
    for name, d, C in (("digits", 64, 10), ("wine", 13, 3), ("breast_cancer", 30, 2), ("iris", 4, 3)):
        ds = load_dataset(name)
        assert ds.X.shape[1] == d and ds.Y.shape[1] == C
        assert np.allclose(ds.X.mean(axis=0), 0, atol=1e-12)
        sd = ds.X.std(axis=0)
        assert np.allclose(sd[sd > 0], 1)
        assert np.array_equal(ds.Y.argmax(axis=1), ds.labels)
    s = load_dataset("wine", 20, targets="scalar", rng=1)
    assert s.Y.shape == (20, 1)


def _write_idx(path, arr, compress=False):
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[arr.dtype]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    data = head + arr.tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_and_fashion_mnist(tmp_path, compress):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=12).astype(np.uint8)
    sfx = ".gz" if compress else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", imgs, compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", labels, compress)
    assert np.array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{sfx}"), imgs)
    ints = np.arange(6, dtype=">i4").reshape(2, 3)
    _write_idx(tmp_path / "ints.idx", ints)
    assert np.array_equal(read_idx(tmp_path / "ints.idx"), ints)
    ds = load_fashion_mnist(tmp_path, standardise=False)
    assert ds.X.shape == (12, 784) and np.allclose(ds.X * 255, imgs.reshape(12, -1))
    assert np.array_equal(ds.labels, labels)
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_fashion_mnist(tmp_path, kind="t10k")


def test_idx_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_idx(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="directory"):
        load_fashion_mnist(tmp_path / "nowhere")
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(ValueError, match="announces"):
        read_idx(tmp_path / "short")


def test_bad_data():
    with pytest.raises(ValueError, match="finite"):
        check_inputs([[1.0, np.nan]])
    with pytest.raises(ValueError, match="finite"):
        fim_statistics_data(np.array([[1.0, np.inf]]), "relu", 2.0, 0.0, 2, 10)
    with pytest.raises(ValueError, match="T = 0"):
        fim_statistics_data(np.zeros((0, 3)), "relu", 2.0, 0.0, 2, 10)
    with pytest.raises(ValueError, match="input dimension"):
        measure_fim_statistics("relu", 2.0, 0.0, 2, 10, 3, input_dim=4, inputs=np.ones((3, 5)))
    with pytest.raises(ValueError, match="batch_size"):
        check_batch_size(11, 10)
    with pytest.raises(ValueError, match="batch_size"):
        ns.predict_boundaries(np.ones((4, 2)), "tanh", 1.5, 0.1, 2, 10, batch_size=5)
    with pytest.raises(ValueError, match="name"):
        load_dataset("mnist")


def test_bad_data_across_the_entry_points(tmp_path):
    # the five bad inputs (NaN/inf, T = 0, a wrong input dimension, batch > T, a missing IDX
    # file) at every public entry point that takes data: a clear error naming the argument
    X = load_dataset("wine", 10, rng=0).X
    net = ns.MLP([12, 8, 3], "tanh", 1.5, 0.1, rng=0)
    cases = [
        (lambda: ns.predict_boundaries(np.full((5, 13), np.nan), "tanh", 1.5, 0.1, 2, 8, 3), "X must be finite"),
        (lambda: ns.fim_top_cluster(np.full((4, 3), np.inf), "tanh", 1.5, 0.1, 2, 8, 2), "X must be finite"),
        (lambda: ns.fim_batchnorm_surrogate(np.full((4, 3), np.nan), "relu", 2.0, 0.0, 2, 10), "X must be finite"),
        (lambda: ns.max_learning_rate("tanh", 1.5, 0.1, 2, 8, 10, 3, input_dim=13, inputs=np.full((10, 13), np.nan),
                                      source="conditional"), "inputs must be finite"),
        (lambda: ns.predict_boundaries(np.zeros((0, 13)), "tanh", 1.5, 0.1, 2, 8, 3), "T = 0"),
        (lambda: data_kernels(np.zeros((0, 3)), "relu", 2.0, 0.0, 2, 10), "T = 0"),
        (lambda: load_dataset("digits", 0), "n_samples"),
        (lambda: ns.sgd_learning_rate_experiment("wine", depths=(2,), width=8, n_samples=0, progress=False), "n_samples"),
        (lambda: ns.max_learning_rate("tanh", 1.5, 0.1, 2, 8, 10, 3, input_dim=12, inputs=X, source="conditional"),
         "input dimension"),
        (lambda: ns.measure_sgd_boundary(net, X, np.zeros((10, 3)), 1), "input dimension"),
        (lambda: ns.measure_sgd_boundary(ns.MLP([13, 8, 3], "tanh", 1.5, 0.1, rng=0), X, np.zeros((10, 3)), 11),
         "batch_size"),
        (lambda: ns.sgd_boundary_study("wine", depths=(2,), width=8, n_seeds=1, n_samples=5, batch_size=6,
                                       progress=False), "batch_size"),
    ]
    for fn, match in cases:
        with pytest.raises(ValueError, match=match):
            fn()
    _write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError, match="train-labels"):
        load_fashion_mnist(tmp_path)


# ------------------------------------------------------------------- the FIM on data: exact
@pytest.mark.parametrize("act,sw2,sb2", [("relu", 2.0, 0.0), ("tanh", 1.5, 0.3), ("erf", 1.3, 0.05),
                                         ("hard_tanh", 1.2, 0.1)])
@pytest.mark.parametrize("c", [0.0, 0.5])
def test_uniform_overlap_is_karakida(act, sw2, sb2, c):
    # with equal lengths and overlaps the data kernel is (A - B) I + B 11^T: Karakida's statistics
    X = uniform_inputs(20, 64, 1.3, c)
    s = fim_statistics_data(X, act, sw2, sb2, 4, 150, 3)
    k = fim_statistics(act, sw2, sb2, 4, 150, 20, 3, input_dim=64, q_input=1.3, c_input=c)
    for f in ("lambda_max", "mean", "second_moment", "lambda_max_bn", "kappa1", "kappa2"):
        assert getattr(s, f) == pytest.approx(getattr(k, f), rel=1e-10, abs=1e-300), f
    assert s.multiplicity == 3 and s.top_mean == s.lambda_max


@pytest.mark.parametrize("act", ["tanh", "relu", "hard_tanh"])
def test_standard_ntk_against_nngp_ntk(act):
    # with M_l = sigma_w^2 for every layer (input included) and sigma_b^2 = 1 the standard-parameterisation
    # kernel equals the NTK-parameterisation kernel of the independent implementation nngp_ntk
    rng = np.random.default_rng(3)
    X = rng.standard_normal((25, 2)) * rng.uniform(0.3, 2.0, size=(25, 1))
    k = data_kernels(X, act, 2.0, 1.0, depth=4, width=2)
    nngp, ntk = ns.nngp_ntk(X, depth=4, act=act, sigma_w2=2.0, sigma_b2=1.0)
    np.testing.assert_allclose(k.ntk, ntk, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(k.nngp[-1], nngp, rtol=1e-9, atol=1e-12)


def test_many_distinct_lengths_use_interpolated_coefficients():
    # more than 24 distinct variances: Hermite coefficients interpolated in log q; compare with the
    # direct kernel of nngp_ntk (same M_l = sigma_w^2 trick)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 2)) * rng.uniform(0.2, 3.0, size=(60, 1))
    k = data_kernels(X, "tanh", 2.0, 1.0, depth=3, width=2)
    np.testing.assert_allclose(k.ntk, ns.nngp_ntk(X, depth=3, act="tanh", sigma_w2=2.0, sigma_b2=1.0)[1],
                               rtol=1e-9)


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_series_route_against_pairwise_quadrature(act):
    # smooth built-ins go through the kernels module's Mehler series (the same code as nngp_ntk, so
    # nngp_ntk is no independent check for them): here every sampled pair is recomputed on its own by
    # the nested Gauss-Legendre rule, layer by layer in the MLP's standard parameterisation.  Input
    # lengths from q ~ 0.05 to ~ 40 put a few variances beyond the series' matrix rule (q > 10), so the
    # mixed route (graded quadrature for those inputs only) is exercised
    from nn_spectra.gaussian_integrals import activation_kernel, activation_moments

    rng = np.random.default_rng(11)
    X = rng.standard_normal((40, 8)) * np.geomspace(0.2, 5.0, 40)[:, None]
    sw, sb, L, M = 1.8, 0.1, 4, 300
    k = data_kernels(X, act, sw, sb, depth=L, width=M)
    assert np.diag(k.nngp[0]).max() > 10 > np.diag(k.nngp[0]).min()
    pairs = [tuple(rng.choice(40, 2, replace=False)) for _ in range(12)] + [(0, 39), (38, 39), (5, 5)]
    for i, j in pairs:
        x = X[[i, j]]
        qh = x @ x.T / 8
        th = 8 * qh + 1.0
        for _ in range(L - 1):
            S = sw * qh + sb
            e, ed = activation_kernel(act, S[0, 0], S[1, 1], S[0, 1], method="legendre")
            d = activation_moments(act, np.diag(S), method="legendre")
            qh = np.array([[d[0][0], e], [e, d[0][1]]], dtype=float)
            sd = sw * np.array([[d[1][0], ed], [ed, d[1][1]]], dtype=float)
            th = th * sd + M * qh + 1.0
        scale = np.sqrt(k.ntk[i, i] * k.ntk[j, j])
        assert abs(k.ntk[i, j] - th[0, 1]) <= 1e-10 * scale, (i, j)
        assert abs(k.qhat[-1][i, j] - qh[0, 1]) <= 1e-11 * np.sqrt(k.qhat[-1][i, i] * k.qhat[-1][j, j]), (i, j)


def test_lanczos_tops_match_dense_eigenvalues():
    # beyond 400 inputs the top eigenvalues come from Lanczos (batch norm: on the centring operator);
    # the dense spectrum of the same kernel is the reference
    X = np.random.default_rng(5).standard_normal((450, 6))
    s = fim_statistics_data(X, "relu", 2.0, 0.1, 3, 50, 2)
    th = data_kernels(X, "relu", 2.0, 0.1, 3, 50, 2).ntk
    H = np.eye(450) - 1.0 / 450
    assert s.lambda_max == pytest.approx(np.linalg.eigvalsh(th)[-1] / 450, rel=1e-10)
    assert s.lambda_max_bn == pytest.approx(np.linalg.eigvalsh(H @ th @ H)[-1] / 450, rel=1e-10)


# ------------------------------------------------------------------- against real networks
@pytest.mark.parametrize("act,sw2,sb2", [("relu", 2.0, 0.0), ("tanh", 1.5, 0.1)])
def test_digits_top_mean_against_networks(act, sw2, sb2):
    # mean of the top C over 3 networks within 5 % at width 1000 (stated before running; the relative
    # fluctuation of the outlier is O(width^-1/2))
    d = load_dataset("digits", 30, rng=0)
    pred = fim_statistics_data(d.X, act, sw2, sb2, 3, 1000, 2)
    meas = [measure_fim_statistics(act, sw2, sb2, 3, 1000, 30, 2, input_dim=64, inputs=d.X, rng=s) for s in range(3)]
    assert np.mean([m.top_mean for m in meas]) == pytest.approx(pred.lambda_max, rel=0.05)
    assert np.mean([m.mean for m in meas]) == pytest.approx(pred.mean, rel=0.03)
    assert all(m.multiplicity == 2 for m in meas)


def _top_mean_ratios(act, sw2, sb2, depth, widths, n_nets, T, rng_data, n_jobs=1, seed0=0):
    """Per network: mean of its top C = 3 FIM eigenvalues over the data prediction's lambda_max, on
    ``T`` digits, ``n_nets`` networks (seeds ``seed0``, ``seed0 + 1``, ...) at each width (joblib over
    networks); shape (widths, n_nets)."""
    from joblib import Parallel, delayed

    d = load_dataset("digits", T, rng=rng_data)

    def one(M, s):
        return measure_fim_statistics(act, sw2, sb2, depth, M, T, 3, input_dim=64, inputs=d.X, rng=s).top_mean

    out = []
    for M in widths:
        pred = fim_statistics_data(d.X, act, sw2, sb2, depth, M, 3).lambda_max
        out.append(np.array(Parallel(n_jobs=n_jobs)(delayed(one)(M, seed0 + s) for s in range(n_nets))) / pred)
    return np.array(out)


def _log_rms_slope(groups, widths):
    """Weighted least-squares slope beta of log RMS(r - 1) against log N, one intercept per group, and
    its standard error.  The standard error of each log RMS is the delta method's
    sd((r-1)^2) / (2 sqrt(K) mean((r-1)^2)) over the K networks."""
    rows, y, w = [], [], []
    for g, r in enumerate(groups):
        e2 = (r - 1.0) ** 2
        for i, M in enumerate(widths):
            m, sd = e2[i].mean(), e2[i].std(ddof=1)
            rows.append((g, np.log(M)))
            y.append(0.5 * np.log(m))
            w.append((2 * np.sqrt(e2.shape[1]) * m / sd) ** 2)
    A = np.zeros((len(rows), len(groups) + 1))
    for k, (g, x) in enumerate(rows):
        A[k, g], A[k, -1] = 1.0, x
    W = np.diag(w)
    cov = np.linalg.inv(A.T @ W @ A)
    beta = (cov @ A.T @ W @ np.array(y))[-1]
    return float(beta), float(np.sqrt(cov[-1, -1]))


# Two errors of the top-C mean of one network against the infinite-width prediction: a bias (the mean
# over networks minus 1), O(1/N) like the NTK's mean shift (issue 16), and the network-to-network
# spread, whose relative size is O(N^-1/2) (stated with the first version of these tests).
#
# Default, tanh L = 2 on 30 digits, 24 networks at widths 100 and 800; stated in advance: the bias at
# 800 is smaller than at 100 by at least 3 standard errors and within 4 standard errors of 1/8 of it
# (rate 1/N).  A first run of 16 networks at widths 100/200/400/800 (before these claims were written)
# gave biases 0.062, 0.029, 0.024, 0.010 (± 0.010-0.012) and a spread that did NOT shrink (sd 0.040,
# 0.050, 0.042, 0.042): at this size the RMS error shrinks only through the bias, so the N^-1/2 claim
# on the spread is made at the widths (slow test) and not here.
def test_digits_top_mean_error_shrinks_with_width():
    r = _top_mean_ratios("tanh", 1.5, 0.1, 2, (100, 800), 24, 30, rng_data=2)
    b = r.mean(axis=1) - 1
    se = r.std(axis=1, ddof=1) / np.sqrt(r.shape[1])
    assert b[0] - b[1] >= 3 * np.hypot(se[0], se[1]), (b, se)
    assert abs(b[1] - b[0] / 8) <= 4 * np.hypot(se[1], se[0] / 8), (b, se)
    assert abs(b[1]) < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("act,sw2,sb2", [("relu", 2.0, 0.0), ("tanh", 1.5, 0.1)])
def test_digits_top_mean_three_widths(act, sw2, sb2):
    # the test: widths 500/1000/2000, depths 2, 4, 8, 16 networks each (50 digits, C = 3).
    # Mean of the top C within 5 % at width 2000 and consistent with the prediction at |z| <= 4 at every
    # width (the O(1/N) bias is below the noise here); the RMS error of one network shrinking like
    # N^-1/2: the fitted rate beta of log RMS against log N (pooled over the depths, _log_rms_slope)
    # below 0 by 3 standard errors and within 4 of -1/2 (the rate was stated before; these thresholds
    # were written after the 24-network run below; this 16-network form passed, 153 s + 168 s at load ~5).
    # Measured with 24 networks (relu / tanh): RMS error 0.063/0.048 -> 0.037/0.022 (L = 2),
    # 0.113/0.038 -> 0.073/0.027 (L = 4), 0.179/0.051 -> 0.103/0.023 (L = 8) from width 500 to 2000;
    # beta = -0.36 ± 0.08 (relu), -0.44 ± 0.08 (tanh); means within 2.4 % of 1 (|z| <= 1.9).
    # Session 7: the thresholds re-established on fresh seeds (another digit subset, rng_data = 11, and
    # network seeds 5000-5015), stated unchanged before that run (/work/notes/issue13_audit_s7.md)
    widths = (500, 1000, 2000)
    groups = [_top_mean_ratios(act, sw2, sb2, L, widths, 16, 50, rng_data=11, seed0=5000) for L in (2, 4, 8)]
    for r in groups:
        z = (r.mean(axis=1) - 1) / (r.std(axis=1, ddof=1) / np.sqrt(r.shape[1]))
        assert np.all(np.abs(z) <= 4), z
        assert abs(r[-1].mean() - 1) < 0.05
    beta, se = _log_rms_slope(groups, widths)
    assert beta + 3 * se < 0 and abs(beta + 0.5) <= 4 * se, (beta, se)


@pytest.mark.slow
@pytest.mark.parametrize("c", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("C", [1, 2, 10])
def test_correlated_inputs_top_mean_width_2000(c, C):
    # the test: correlated synthetic inputs, top-C mean within 2 % of the prediction at width 2000.
    # 12 networks per cell: with 2 (the first form) the standard error was ~2 % for C = 1 (one network's
    # ratio has sd 2.7 % at width 2000), so the test could not decide a 2 % claim, and it failed at C = 1,
    # c = 0.5 / 0.8 (1.023 / 1.022) within that noise.  12 networks at widths 500/1000/2000 then showed no
    # resolved bias (C = 1, 2; c = 0.5, 0.8: 1.007-1.015 at 2000, z <= 2.0; Richardson 2 m(2000) - m(1000)
    # = 0.997-1.005); this form (fresh seeds 2000-2011, tolerance unchanged) was stated before its run
    # (docs/guide/fisher.rst, "The top-C cluster at finite width")
    X = fim_inputs(16, 2000, 1.0, c, rng=7)
    pred = fim_statistics_data(X, "tanh", 1.5, 0.1, 3, 2000, C)
    meas = [measure_fim_statistics("tanh", 1.5, 0.1, 3, 2000, 16, C, input_dim=2000, inputs=X, rng=2000 + s)
            for s in range(12)]
    assert np.mean([m.top_mean for m in meas]) == pytest.approx(pred.lambda_max, rel=0.02)
