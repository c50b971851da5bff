"""Verification of the toolkit's theory: ``freeprob verify``, the application over all three packages.

A registry of :class:`Case` objects, each pairing a prediction of :mod:`freeprob`, :mod:`randmat`
or :mod:`nn_spectra` with an independent check; every package contributes the cases of its own
theory through the ``freeprob.verify_cases`` entry points. :func:`run_cases` runs them (one line
per case as it finishes) and :func:`write_report` writes ``report.md``/``report.html`` with one
PNG per case.  Monte-Carlo cases state their tolerance as a z bound on standard errors
(:mod:`freeprob.verify.stats`).

>>> from freeprob.verify import get_case
>>> get_case("semicircle_cauchy").metric
'max |G - G_quad| / max |G_quad|'
"""
from .case import (ENTRY_POINT_GROUP, Case, Result, all_cases, case_names, case_sources, get_case, register,
                   unregister)
from .report import write_report
from .runner import Outcome, RunSummary, case_rng, outcome_line, run_case, run_cases
from .stats import ZTest, mean_and_se, z_scores, z_test, z_test_extrapolated

__all__ = ["Case", "Result", "Outcome", "RunSummary", "register", "unregister", "get_case", "all_cases",
           "case_names", "case_sources", "run_case", "run_cases", "case_rng", "outcome_line", "write_report",
           "ENTRY_POINT_GROUP", "ZTest", "mean_and_se", "z_scores", "z_test", "z_test_extrapolated"]
