"""Alias of :mod:`freeprob.verify.report` (the verification runner moved to freeprob)."""
from freeprob.verify.report import *  # noqa: F401,F403
from freeprob.verify.report import __all__  # noqa: F401
