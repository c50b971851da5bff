"""Alias: these cases check freeprob's theory and live in :mod:`freeprob.verify_cases.free_convolutions`."""
from freeprob.verify_cases.free_convolutions import *  # noqa: F401,F403
