"""Alias: these cases check randmat's theory and live in :mod:`randmat.verify_cases`."""
from randmat.verify_cases import *  # noqa: F401,F403
