"""One progress-bar policy for the long Monte-Carlo calls of all three packages.

Every call that runs many trials (``randmat.ensemble`` and what builds on it:
``randmat.asymptotic_freeness``, ``nn_spectra.layerwise_freeness``) takes ``progress=True`` by
default and draws a tqdm bar on standard error through :func:`progress_bar`.  The bars are
switched off, whatever a call asked for,

- inside :func:`quiet_progress` (``freeprob verify`` runs every case in it, so its one line per
  finished case is never interleaved with bars), or
- when the environment variable ``FREEPROB_PROGRESS`` is ``0`` (logs, CI).

>>> with quiet_progress():
...     progress_enabled(True)
False
>>> progress_enabled(False)
False
"""
from __future__ import annotations

import contextlib
import os

__all__ = ["PROGRESS_ENV", "progress_enabled", "progress_bar", "quiet_progress"]

PROGRESS_ENV = "FREEPROB_PROGRESS"


def progress_enabled(requested: bool = True) -> bool:
    """Whether a bar asked for with ``progress=requested`` is drawn (see the module docstring)."""
    return bool(requested) and os.environ.get(PROGRESS_ENV, "1").strip() not in ("0", "false", "no", "off")


def progress_bar(iterable=None, *, total: int | None = None, desc: str | None = None, progress: bool = True,
                 leave: bool = False):
    """A ``tqdm.auto.tqdm`` bar on standard error, disabled unless :func:`progress_enabled` (``progress``)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=leave, disable=not progress_enabled(progress))


@contextlib.contextmanager
def quiet_progress():
    """Switch every bar of the toolkit off for the duration (also in worker processes started inside)."""
    old = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = old
