"""Alias of :mod:`freeprob.verify.command`: ``freeprob verify`` is a built-in subcommand of the CLI."""
from freeprob.verify.command import *  # noqa: F401,F403
from freeprob.verify.command import __all__  # noqa: F401
