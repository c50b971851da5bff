"""Alias: these cases check freeprob's theory and live in :mod:`freeprob.verify_cases.symbolic`."""
from freeprob.verify_cases.symbolic import *  # noqa: F401,F403
