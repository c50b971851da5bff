"""One progress-bar policy (issue 14): every long Monte-Carlo call of the three packages draws a bar
on stderr by default, through :mod:`freeprob.progress`, so that ``FREEPROB_PROGRESS=0`` and
``freeprob verify`` silence all of them alike."""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

import nn_spectra as ns
import randmat as rm

ROOT = Path(__file__).resolve().parent.parent


def _free_pair(n, rng):
    a = rm.goe(n, rng=rng)
    return [a], [rm.haar_orthogonal(n, rng=rng) @ a @ rm.haar_orthogonal(n, rng=rng).T]


# (call with its defaults, text the bar shows); each takes well under a second at these sizes
LONG_CALLS = {
    "randmat.ensemble": (lambda: rm.ensemble(lambda g: float(g.standard_normal()), 3, rng=0, desc="bar-ens"),
                         "bar-ens"),
    "randmat.asymptotic_freeness": (lambda: rm.asymptotic_freeness(_free_pair, [6, 8], trials=2, max_order=2,
                                                                   rng=0), "N=8"),
    "nn_spectra.layerwise_freeness": (lambda: ns.layerwise_freeness("tanh", 1.2, 0.05, depth=3, sizes=(8, 16),
                                                                    trials=2, rng=0), "/2"),
    "nn_spectra.sweep": (lambda: ns.sweep(lambda n, L, g: {"x": float(g.standard_normal())}, [2], [1],
                                          seeds=2, rng=0), "width 2, depth 1"),
}


@pytest.mark.parametrize("name", sorted(LONG_CALLS))
def test_long_monte_carlo_calls_show_a_bar_by_default_and_obey_the_switch(name, capsys, monkeypatch):
    call, text = LONG_CALLS[name]
    monkeypatch.delenv("FREEPROB_PROGRESS", raising=False)
    call()
    err = capsys.readouterr().err
    assert text in err, err[-300:]
    monkeypatch.setenv("FREEPROB_PROGRESS", "0")
    call()
    assert capsys.readouterr().err == ""


def test_every_public_progress_argument_defaults_to_on():
    """A public function with a ``progress`` parameter draws its bar unless told not to."""
    off = []
    for pkg in (rm, ns):
        for name in getattr(pkg, "__all__", [n for n in dir(pkg) if not n.startswith("_")]):
            obj = getattr(pkg, name)
            if not callable(obj) or inspect.isclass(obj):
                continue
            try:
                p = inspect.signature(obj).parameters.get("progress")
            except (TypeError, ValueError):
                continue
            if p is not None and p.default is not True:
                off.append(f"{pkg.__name__}.{name}")
    from nn_spectra.learning_rate import sgd_boundary_study, sgd_learning_rate_experiment

    for fn in (sgd_learning_rate_experiment, sgd_boundary_study):
        if inspect.signature(fn).parameters["progress"].default is not True:
            off.append(fn.__name__)
    assert not off, off


def test_bars_go_through_the_one_policy():
    """No module draws a tqdm bar of its own (it would ignore FREEPROB_PROGRESS and verify's quiet)."""
    own = []
    for pkg in ("freeprob", "randmat", "nn_spectra"):
        for f in (ROOT / pkg).rglob("*.py"):
            if f.name == "progress.py" and f.parent.name == "freeprob":
                continue
            text = f.read_text(encoding="utf-8")
            if "tqdm(" in text or "import tqdm" in text or "from tqdm" in text:
                own.append(str(f.relative_to(ROOT)))
    assert not own, own
