"""The declarative verification case and its registry.

A :class:`Case` pairs a prediction of the toolkit with an *independent* route to the same number
(a closed form, exact rationals, a high-precision quadrature, random matrices, real networks).
Its ``run(size, rng)`` returns a :class:`Result`; the case passes when
``result.distance <= case.tolerance_at(size)``.  Cases live in a module-level registry that the
built-in topics fill on import and that users extend with :func:`register`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np

__all__ = ["Case", "Result", "register", "unregister", "get_case", "all_cases", "case_names"]


@dataclass
class Result:
    """What one run of a case measured.

    Parameters
    ----------
    prediction : str
        Short human-readable summary of the toolkit's prediction (numbers included).
    measurement : str
        Short summary of the independent measurement.
    distance : float
        The discrepancy, in the units named by :attr:`Case.metric`; compared with the tolerance.
    figure : matplotlib.figure.Figure or None
        Prediction against measurement; saved as ``<name>.png`` in the report.
    """

    prediction: str
    measurement: str
    distance: float
    figure: object = None


Tolerance = Union[float, Callable[[int], float]]


@dataclass(frozen=True)
class Case:
    """One verification case.

    Parameters
    ----------
    name : str
        Identifier used by ``--only`` (letters, digits, ``_``).
    title : str
        What the case checks (the theorem or the property).
    how : str
        The independent route to the measurement; must not call the function being checked.
    metric : str
        What ``distance`` is (e.g. ``"max |G - G_quad|"``, ``"KS distance"``).
    tolerance : float or callable
        Pass threshold; a callable receives the size (Monte-Carlo tolerances shrink with it).
    run : callable
        ``run(size, rng) -> Result`` with ``rng`` a :class:`numpy.random.Generator`.
    quick_size, full_size : int
        The size passed to ``run`` under ``--quick`` and ``--full``.
    topic : str
        Section of the report.
    """

    name: str
    title: str
    how: str
    metric: str
    tolerance: Tolerance
    run: Callable[[int, np.random.Generator], Result]
    quick_size: int
    full_size: int
    topic: str = "user"
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ValueError(f"name must be a non-empty identifier of letters, digits and '_', got {self.name!r}")
        for attr in ("quick_size", "full_size"):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{attr} must be an integer >= 1, got {v!r}")
        if not callable(self.run):
            raise ValueError("run must be callable as run(size, rng) -> Result")
        if not callable(self.tolerance):
            t = float(self.tolerance)
            if not (t >= 0 and math.isfinite(t)):
                raise ValueError(f"tolerance must be a finite number >= 0 or a callable, got {self.tolerance!r}")

    def size(self, mode: str) -> int:
        """The size used under ``mode`` (``"quick"`` or ``"full"``)."""
        if mode not in ("quick", "full"):
            raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
        return int(self.quick_size if mode == "quick" else self.full_size)

    def tolerance_at(self, size: int) -> float:
        """The pass threshold at ``size``."""
        return float(self.tolerance(size) if callable(self.tolerance) else self.tolerance)


_REGISTRY: dict[str, Case] = {}


def register(case: Case, *, replace: bool = False) -> Case:
    """Add ``case`` to the registry (``replace=True`` overwrites a case of the same name)."""
    if not isinstance(case, Case):
        raise ValueError(f"case must be a nn_spectra.verify.Case, got {type(case).__name__}")
    if case.name in _REGISTRY and not replace:
        raise ValueError(f"a case named {case.name!r} is already registered (pass replace=True)")
    _REGISTRY[case.name] = case
    return case


def unregister(name: str) -> None:
    """Remove the case called ``name``."""
    _load_builtin()
    if name not in _REGISTRY:
        raise ValueError(f"unknown case {name!r}; known: {', '.join(case_names())}")
    del _REGISTRY[name]


_BUILTIN_LOADED = False


def _load_builtin() -> None:
    global _BUILTIN_LOADED
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED = True
        from . import cases  # noqa: F401  (registers the built-in cases on import)


def all_cases() -> list[Case]:
    """Every registered case, built-in ones first, in registration order."""
    _load_builtin()
    return list(_REGISTRY.values())


def case_names() -> list[str]:
    """Names of every registered case."""
    return [c.name for c in all_cases()]


def get_case(name: str) -> Case:
    """The case called ``name``; ``ValueError`` listing the known names otherwise."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown case {name!r}; known cases: {', '.join(case_names())}") from None
