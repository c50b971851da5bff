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


def _all_modules() -> list[str]:
    """Every module of the three packages, found on disk (importing them is the test's job)."""
    import pkgutil

    root = DOCS.parent
    out = []
    for pkg in ("freeprob", "randmat", "nn_spectra"):
        out.append(pkg)
        out += [m.name for m in pkgutil.walk_packages([str(root / pkg)], prefix=pkg + ".")]
    return sorted(out)


MODULES = _all_modules()


@pytest.mark.parametrize("module", MODULES)
def test_module_docstring_examples(module):
    """Every docstring example of every module runs (the suite's ``--doctest-modules``)."""
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    failures = []
    for test in finder.find(mod, module):
        if test.filename and not os.path.abspath(test.filename).startswith(str(DOCS.parent)):
            continue  # re-exported objects are tested in the module that defines them
        out = []
        runner.run(test, out=out.append)
        failures += out
    res = runner.summarize(verbose=False)
    assert res.failed == 0, "".join(failures)[-3000:]


def test_every_package_has_docstring_examples():
    counts = {}
    for module in MODULES:
        pkg = module.split(".")[0]
        tests = doctest.DocTestFinder(exclude_empty=True).find(importlib.import_module(module), module)
        counts[pkg] = counts.get(pkg, 0) + sum(len(t.examples) for t in tests)
    assert all(counts[p] >= 20 for p in ("freeprob", "randmat", "nn_spectra")), counts


def test_sphinx_builds_without_warnings(tmp_path):
    env = dict(os.environ, FREEPROB_DOCS_GALLERY="semicircle_moments,semicircle_cauchy")
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                           str(DOCS), str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # the build says that it reruns verify cases, how to skip that, and one line per finished case
    assert "verify-gallery: running 2 verification cases" in proc.stdout
    assert "FREEPROB_DOCS_GALLERY=none skips them" in proc.stdout
    assert "verify-gallery [2/2] pass" in proc.stdout
    assert "FREEPROB_DOCS_GALLERY=none" in (DOCS / "gallery.rst").read_text(encoding="utf-8")  # documented
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


def test_the_documented_switch_skips_the_verify_gallery(monkeypatch, tmp_path):
    """``FREEPROB_DOCS_GALLERY=none`` (documented in gallery.rst) runs no case and says so; a list runs
    only those cases (without a Sphinx build: the gallery's own function, with run_cases recorded)."""
    import importlib.util

    import freeprob.verify as verify

    assert "FREEPROB_DOCS_GALLERY=none" in (DOCS / "gallery.rst").read_text(encoding="utf-8")
    spec = importlib.util.spec_from_file_location("docs_conf_for_test", DOCS / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    calls = []

    def recorder(names, **kw):
        calls.append(names)
        return verify.RunSummary([], "quick", 0, 0.0)

    monkeypatch.setattr(verify, "run_cases", recorder)
    monkeypatch.setattr(conf, "GALLERY_DIR", str(tmp_path / "verify-gallery"))
    monkeypatch.setenv("FREEPROB_DOCS_GALLERY", "none")
    assert conf._gallery_outcomes() == [] and calls == []
    monkeypatch.setenv("FREEPROB_DOCS_GALLERY", "semicircle_moments, semicircle_cauchy")
    assert conf._gallery_outcomes() == [] and calls == [["semicircle_moments", "semicircle_cauchy"]]
