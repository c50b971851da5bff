"""Alias of :mod:`freeprob.verify.runner` (the verification runner moved to freeprob)."""
from freeprob.verify.runner import *  # noqa: F401,F403
from freeprob.verify.runner import __all__  # noqa: F401
