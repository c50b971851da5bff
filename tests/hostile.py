"""Classify calls on hostile input (shared by tests/test_hostile_input.py and tests/nn_spectra/test_hostile_nn.py).

Every call runs under a per-call time limit and ends in one of these outcomes:

* ``ok``      -- it returned, and every number it returned is finite;
* ``warned``  -- it returned inf or NaN *and* the toolkit said so with its own warning (e.g. q* = inf
  on the chaotic side of an unbounded activation, a documented answer); numpy's floating-point
  warnings ("invalid value encountered ...") do not count.  Only a ``Tally(allow_warned=True)``
  accepts it; otherwise it counts as ``silent``;
* ``clear``   -- it raised ``ValueError`` (the toolkit's error for bad input; solver errors such as
  ``ConvergenceError`` derive from it);
* ``silent``  -- it returned NaN or inf without a word;
* ``hang``    -- it ran past the time limit;
* ``wrong``   -- it raised another exception type (``OverflowError``, ``IndexError``, ``TypeError``...).

:class:`Tally` collects outcomes and fails listing every silent, hanging or wrongly raising call.
Found by pytest because ``tests/`` (the directory of the root ``conftest.py``) is on ``sys.path``.
"""
from __future__ import annotations

import math
import signal
import warnings
from contextlib import contextmanager

import numpy as np

LIMIT = 20.0  # seconds per call; every call here takes milliseconds to a second when it behaves
BAD = ("silent", "hang", "wrong")


class _Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    def on_alarm(signum, frame):
        raise _Hang()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def numbers(value):
    """Every float inside a returned value (arrays, scalars, tuples and dicts of them, laws' support)."""
    import freeprob as fp

    if isinstance(value, (bool, str)) or value is None:
        return []
    if isinstance(value, fp.Law):
        return list(value.support) if all(np.isfinite(value.support)) else [0.0]
    if isinstance(value, dict):
        return [x for v in value.values() for x in numbers(v)]
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in numbers(v)]
    try:
        arr = np.asarray(value)
    except Exception:  # pragma: no cover - an object without numbers
        return []
    if arr.dtype.kind in "fc":
        return list(np.abs(arr).ravel().astype(float))
    return []


_NUMPY_FP = ("invalid value encountered", "divide by zero encountered", "overflow encountered",
             "underflow encountered", "Mean of empty slice", "Degrees of freedom")


def outcome(fn, *args, allow_warned: bool = False, **kwargs) -> tuple[str, str]:
    """Run ``fn(*args, **kwargs)`` under the time limit and classify it (module docstring)."""
    try:
        with time_limit(LIMIT), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn(*args, **kwargs)
    except _Hang:
        return "hang", f"> {LIMIT:g} s"
    except ValueError as exc:
        return "clear", str(exc)[:80]
    except Exception as exc:
        return "wrong", f"{type(exc).__name__}: {str(exc)[:80]}"
    if not all(math.isfinite(x) for x in numbers(out)):
        said = [w for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning))
                and not str(w.message).startswith(_NUMPY_FP)]
        if said and allow_warned:
            return "warned", str(said[0].message)[:80]
        return "silent", f"non-finite result {out!r:.80}"
    return "ok", ""


class Tally:
    """Outcomes of many calls; ``check()`` fails listing every silent, hanging or wrongly raising call."""

    def __init__(self, allow_warned: bool = False):
        self.rows = []
        self.allow_warned = allow_warned

    def __call__(self, label, fn, *args, **kwargs):
        kind, detail = outcome(fn, *args, allow_warned=self.allow_warned, **kwargs)
        self.rows.append((label, kind, detail))
        return kind

    def count(self, kind):
        return sum(r[1] == kind for r in self.rows)

    def check(self, at_least: int):
        bad = [r for r in self.rows if r[1] in BAD]
        assert len(self.rows) >= at_least, f"only {len(self.rows)} calls were made"
        assert not bad, "\n".join(f"{k:6s} {lab}: {d}" for lab, k, d in bad)
