"""The deep-training verification cases pass at quick size, and a broken prediction makes one fail."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

import nn_spectra as ns
from freeprob.verify import get_case
from nn_spectra.verify.cases import deep_training

EXPECTED = ("jacobian_gaussian_vs_orthogonal", "layerwise_freeness", "fim_batchnorm", "conditional_fim_depth",
            "learning_rate_depth", "phase_diagram")


def test_all_cases_registered():
    assert set(EXPECTED) <= set(deep_training.CASE_NAMES)
    for name in EXPECTED:
        case = get_case(name)
        assert case.quick_size < case.full_size
        assert case.how and case.metric


@pytest.mark.parametrize("name", EXPECTED)
def test_case_passes_at_quick_size(name):
    from threadpoolctl import threadpool_limits

    case = get_case(name)
    with threadpool_limits(limits=1):   # as the runner does (freeprob verify --blas-threads 1)
        res = case.run(case.quick_size, np.random.default_rng(20261123))
    tol = case.tolerance_at(case.quick_size)
    assert np.isfinite(res.distance), res.measurement
    assert res.distance <= tol, f"{name}: distance {res.distance} > tolerance {tol}; {res.measurement}"
    assert res.figure is not None and res.figure.axes


@pytest.mark.parametrize("name", ["phase_diagram", "conditional_fim_depth", "jacobian_gaussian_vs_orthogonal",
                                  "fim_batchnorm", "learning_rate_depth"])
def test_z_bound_cases(name):
    case = get_case(name)
    assert case.tolerance == 4.0 and "|z|" in case.metric


def test_broken_batchnorm_prediction_fails(monkeypatch):
    true_sur = ns.fim_batchnorm_surrogate

    def lifted(*args, **kwargs):
        out = dict(true_sur(*args, **kwargs))
        out["lambda_bn"] *= 1.25
        return out

    monkeypatch.setattr(ns, "fim_batchnorm_surrogate", lifted)
    case = get_case("fim_batchnorm")
    res = case.run(case.quick_size, np.random.default_rng(20261123))
    assert res.distance > case.tolerance_at(case.quick_size)


@pytest.mark.slow
def test_broken_learning_rate_prediction_fails(monkeypatch):
    # a prediction 1.25x too large (the onset would sit near 0.8-0.9x of it) must fail the case
    true_pb = ns.predict_boundaries

    def too_large(*args, **kwargs):
        p = true_pb(*args, **kwargs)
        return dataclasses.replace(p, online_median=1.25 * p.online_median)

    monkeypatch.setattr(ns, "predict_boundaries", too_large)
    case = get_case("learning_rate_depth")
    res = case.run(case.quick_size, np.random.default_rng(20261123))
    assert res.distance > case.tolerance_at(case.quick_size)


def test_broken_critical_line_fails(monkeypatch):
    # a phase diagram whose critical line sits at 1.5x the true sigma_w^2 puts the "on the line"
    # points deep in the chaotic phase and the "ordered" ones near the true line
    true_pd = ns.phase_diagram

    def shifted(*args, **kwargs):
        pd = copy.copy(true_pd(*args, **kwargs))
        pd.critical_sigma_w2 = 1.5 * np.asarray(pd.critical_sigma_w2)
        return pd

    monkeypatch.setattr(ns, "phase_diagram", shifted)
    case = get_case("phase_diagram")
    res = case.run(case.quick_size, np.random.default_rng(20261123))
    assert res.distance > case.tolerance_at(case.quick_size)
