"""The documentation builds warning-free and its code examples are correct (run as doctests)."""
from __future__ import annotations

import doctest
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_examples(page):
    res = doctest.testfile(str(page), module_relative=False, optionflags=FLAGS, verbose=False, report=True)
    assert res.failed == 0, f"{res.failed} of {res.attempted} examples failed in {page.name}"


def test_the_guides_have_examples():
    counts = {p.name: doctest.DocTestParser().get_examples(p.read_text(encoding="utf-8")) for p in PAGES}
    for name in ("getting_started.rst", "freeprob.rst", "verify.rst"):
        assert len(counts[name]) >= 5, name


@pytest.mark.parametrize("module", ["nn_spectra.verify", "nn_spectra.verify.case", "nn_spectra.verify.runner",
                                    "nn_spectra.verify.report"])
def test_module_docstring_examples(module):
    res = doctest.testmod(importlib.import_module(module), optionflags=FLAGS)
    assert res.failed == 0


def test_sphinx_builds_without_warnings(tmp_path):
    env = dict(os.environ, FREEPROB_DOCS_GALLERY="semicircle_moments,semicircle_cauchy")
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(DOCS), str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    gallery = (out / "gallery.html").read_text(encoding="utf-8")
    for name in ("semicircle_moments", "semicircle_cauchy"):
        assert (out / "_images" / f"{name}.png").exists()
        assert name in gallery
    assert "tolerance" in gallery
    guide = (out / "guide" / "freeprob.html").read_text(encoding="utf-8")
    assert "mathjax" in guide.lower()
    api = (out / "api.html").read_text(encoding="utf-8")
    for name in ("freeprob.law.Law", "freeprob.verify.case.Case", "freeprob.convolution.boxplus"):
        assert name in api
    assert (out / "benchmarks.html").exists()
