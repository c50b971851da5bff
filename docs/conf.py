"""Sphinx configuration for the freeprob documentation (numpydoc docstrings, MathJax).

Two small directives are defined here rather than in the packages because they exist only for
the site: ``verify-gallery`` runs the verification cases and shows their figures, and
``benchmark-results`` shows ``docs/benchmarks.md`` (assembled from ``docs/benchmarks/*.md``).
"""
from __future__ import annotations

import os
import shutil
import sys

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

DOCS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(DOCS))

project = "freeprob"
author = "the freeprob developers"
copyright = "2026, the freeprob developers"
import freeprob  # noqa: E402

release = version = freeprob.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
exclude_patterns = ["_build", "benchmarks"]
root_doc = "index"
html_theme = "alabaster"
html_title = f"freeprob {release}"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
numpydoc_show_class_members = False  # autodoc's :members: already lists them
numpydoc_xref_param_type = False
intersphinx_mapping = {}
nitpicky = False


# ------------------------------------------------------------------------ verification gallery
GALLERY_DIR = os.path.join(DOCS, "_build", "verify-gallery")


def _gallery_outcomes():
    """Outcomes for the gallery.

    ``FREEPROB_DOCS_GALLERY`` selects them: unset or ``all`` runs every registered case at
    ``--quick`` size; a comma-separated list runs those cases; ``none`` shows no figures.
    """
    from sphinx.util import logging

    from freeprob.verify import case_names, outcome_line, run_cases

    log = logging.getLogger("verify-gallery")
    sel = os.environ.get("FREEPROB_DOCS_GALLERY", "all").strip()
    if sel == "none":
        log.info("verify-gallery: skipped (FREEPROB_DOCS_GALLERY=none)")
        return []
    names = None if sel == "all" else [s.strip() for s in sel.split(",") if s.strip()]
    if os.path.isdir(GALLERY_DIR):
        shutil.rmtree(GALLERY_DIR)
    os.makedirs(GALLERY_DIR)
    n = len(names) if names is not None else len(case_names())
    # the build is silent for minutes otherwise: say what runs and how to skip it
    log.info(f"verify-gallery: running {n} verification cases at --quick size for the gallery "
             "(a few minutes; FREEPROB_DOCS_GALLERY=none skips them, or name the cases to run)")

    def show(o, done, total):
        log.info(f"verify-gallery [{done}/{total}] {outcome_line(o)}")

    return run_cases(names, mode="quick", seed=0, out=GALLERY_DIR, progress=False, on_outcome=show).outcomes


class VerifyGallery(Directive):
    """Run the verification cases at build time and show one figure per case."""

    has_content = False

    def run(self):
        out = []
        for o in _gallery_outcomes():
            verdict = "pass" if o.passed else "FAIL"
            # text goes in as nodes, not reStructuredText: metrics such as "max |G - G_quad|"
            # would otherwise parse as substitutions
            out.append(nodes.rubric(text=o.name))
            out.append(nodes.paragraph("", "", nodes.strong(text=o.title)))
            out.append(nodes.paragraph("", "", nodes.emphasis(text="How: "), nodes.Text(o.how)))
            out.append(nodes.paragraph(text=f"Distance {o.distance:.3g} ({o.metric}), tolerance "
                                            f"{o.tolerance:.3g}: {verdict} (size {o.size}, {o.seconds:.2f} s)."))
            if o.figure:
                holder = nodes.container()
                img = [f".. image:: /_build/verify-gallery/{o.figure}", f"   :alt: {o.name}", "   :width: 100%"]
                self.state.nested_parse(StringList(img, source="verify-gallery"), self.content_offset, holder)
                out += holder.children
        if not out:
            out = [nodes.paragraph(text="No case selected (FREEPROB_DOCS_GALLERY=none).")]
        return out


class BenchmarkResults(Directive):
    """Show ``docs/benchmarks.md`` (written by ``benchmarks/assemble.py``) verbatim, or its parts."""

    has_content = False

    def run(self):
        path = os.path.join(DOCS, "benchmarks.md")
        parts_dir = os.path.join(DOCS, "benchmarks")
        if os.path.exists(path):
            files = [path]
        elif os.path.isdir(parts_dir):
            files = sorted(os.path.join(parts_dir, f) for f in os.listdir(parts_dir) if f.endswith(".md"))
        else:
            files = []
        if not files:
            return [nodes.paragraph(text="No benchmark results have been written yet.")]
        out = []
        for f in files:
            self.state.document.settings.record_dependencies.add(f)
            with open(f, encoding="utf-8") as fh:
                text = fh.read()
            block = nodes.literal_block(text, text)
            block["language"] = "markdown"
            out += [nodes.rubric(text=os.path.relpath(f, DOCS)), block]
        return out


def _escape_bars(app, what, name, obj, options, lines):
    # freeprob/convolution.py's module docstring writes |Φ| in prose, which reStructuredText reads
    # as a substitution reference; escape it there only (reported to its owner, not edited here).
    if what == "module" and name == "freeprob.convolution":
        lines[:] = [ln.replace("|Φ|", r"\|Φ\|") for ln in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _escape_bars)
    app.add_directive("verify-gallery", VerifyGallery)
    app.add_directive("benchmark-results", BenchmarkResults)
    return {"parallel_read_safe": True}
