"""Alias: these cases check freeprob's theory and live in :mod:`freeprob.verify_cases.polynomial`."""
from freeprob.verify_cases.polynomial import *  # noqa: F401,F403
