"""Alias of :mod:`freeprob.verify.figure` (the verification runner moved to freeprob)."""
from freeprob.verify.figure import *  # noqa: F401,F403
from freeprob.verify.figure import __all__  # noqa: F401
