"""Alias: these cases check freeprob's theory and live in :mod:`freeprob.verify_cases.laws`."""
from freeprob.verify_cases.laws import *  # noqa: F401,F403
