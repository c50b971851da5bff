"""Tabular results convert to pandas (issue 14): each ``to_frame`` row carries the array entries of
its own indices.  The results are built from distinct random numbers, so any transposition or
misaligned repeat in the reshaping puts a wrong number in some row and fails."""
from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from freeprob.verify import Outcome, RunSummary  # noqa: E402
from nn_spectra.learning_rate import (BoundaryPrediction, BoundaryStudy, LearningRateGrid,  # noqa: E402
                                      SGDGrid)

R = np.random.default_rng(0)


def _pred(depth, batch):
    v = R.random(8)
    return BoundaryPrediction(depth, batch, *v[:5], online_median=v[5], readout_online=v[6], readout_full=v[7])


def test_sgd_grid_rows():
    modes, depths, etas = (1, 8, 40), np.array([2, 3]), np.array([0.1, 0.2, 0.4, 0.8])
    M, D, E = len(modes), len(depths), len(etas)
    g = SGDGrid("digits", "tanh", 1.5, 0.05, 32, 40, depths, modes, etas, R.random((M, D, E)) * 2,
                R.random((M, D)), [[_pred(L, b) for L in depths] for b in modes], R.random((M, D, E)),
                R.random((M, D)))
    df = g.to_frame()
    assert len(df) == M * D * E
    for m, i, j in np.ndindex(M, D, E):
        row = df[(df.batch_size == modes[m]) & (df.depth == depths[i]) & (df.eta == etas[j])]
        assert len(row) == 1
        r = row.iloc[0]
        assert r.ratio == g.ratio[m, i, j] and r.spikes == g.spikes[m, i, j] and r.failed == (g.ratio[m, i, j] >= 1)
        assert r.measured == g.measured[m, i] and r.measured_spike == g.measured_spike[m, i]
        assert r.online_median == g.predicted[m][i].online_median and r.batch == g.predicted[m][i].batch


def test_boundary_study_rows():
    depths, S = np.array([2, 4, 6]), 3
    D = len(depths)
    st = BoundaryStudy("digits", "hard_tanh", 1.2, 0.05, 64, 100, 1, depths, R.random((D, S)), R.random((D, S)),
                       [_pred(L, 1) for L in depths], *(R.random(D) for _ in range(5)))
    df = st.to_frame()
    assert len(df) == D * S
    for i, s in np.ndindex(D, S):
        r = df[(df.depth == depths[i]) & (df.seed == s)].iloc[0]
        assert r.onset == st.onset[i, s] and r.failure == st.failure[i, s]
        assert r.online_median == st.predicted[i].online_median and r.conditional == st.conditional[i]
        assert r.overshoot == st.overshoot[i]


def test_learning_rate_grid_rows():
    depths, c = np.array([2, 4]), np.array([0.5, 1.0, 2.5])
    D, C = len(depths), len(c)
    g = LearningRateGrid(depths, c, R.random(D), R.random(D), R.random(D), R.random((D, C)) > 0.5, R.random((D, C)))
    df = g.to_frame()
    for i, j in np.ndindex(D, C):
        r = df[(df.depth == depths[i]) & (df.c == c[j])].iloc[0]
        assert r.eta == c[j] * g.eta_pred[i] and r.final_loss == g.final_loss[i, j]
        assert r.diverged == g.diverged[i, j] and r.lambda_max_measured == g.lambda_max_measured[i]


def test_verify_run_summary_rows():
    outs = [Outcome(f"case{k}", "t", "h", "m", "topic", 10, "p", "q", float(R.random()), 0.5, bool(k % 2), 0.1 * k)
            for k in range(4)]
    df = RunSummary(outs, "quick", 7, 1.0).to_frame()
    assert list(df.name) == [o.name for o in outs] and list(df.distance) == [o.distance for o in outs]
    assert list(df.passed) == [o.passed for o in outs] and df.attrs["seed"] == 7 and df.attrs["mode"] == "quick"
