"""Verification of the toolkit's theory: ``freeprob verify``.

A registry of :class:`Case` objects, each pairing a prediction of :mod:`freeprob`, :mod:`randmat`
or :mod:`nn_spectra` with an independent check; :func:`run_cases` runs them and
:func:`write_report` writes ``report.md``/``report.html`` with one PNG per case.

>>> from nn_spectra.verify import get_case
>>> get_case("semicircle_cauchy").metric
'max |G - G_quad| / max |G_quad|'
"""
from .case import Case, Result, all_cases, case_names, get_case, register, unregister
from .report import write_report
from .runner import Outcome, RunSummary, case_rng, run_case, run_cases

__all__ = ["Case", "Result", "Outcome", "RunSummary", "register", "unregister", "get_case", "all_cases",
           "case_names", "run_case", "run_cases", "case_rng", "write_report"]
