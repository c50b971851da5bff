"""Alias of :mod:`freeprob.verify.case` (the verification runner moved to freeprob)."""
from freeprob.verify.case import *  # noqa: F401,F403
from freeprob.verify.case import __all__  # noqa: F401
