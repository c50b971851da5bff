"""The declarative verification case, its registry, and the discovery of the packages' cases.

A :class:`Case` pairs a prediction of the toolkit with an *independent* route to the same number
(a closed form, exact rationals, a high-precision quadrature, random matrices, real networks).
Its ``run(size, rng)`` returns a :class:`Result`; the case passes when
``result.distance <= case.tolerance_at(size)``.  Cases live in a module-level registry that users
extend with :func:`register`.

Each package contributes the cases of its own theory through the ``freeprob.verify_cases``
entry-point group (``freeprob.verify_cases``, ``randmat.verify_cases``, ``nn_spectra.verify.cases``
in this distribution); an entry names a module, and when that module is a package every module
in it is imported too (its ``TOPICS`` first, in that order, then the others alphabetically).
A case module that fails to import -- a renamed or missing API -- becomes a failing case named
``import_<module>``: it is reported as FAIL with the error, never skipped.

>>> from freeprob.verify.case import get_case
>>> get_case("semicircle_moments").topic
'laws'
"""
from __future__ import annotations

import importlib
import math
import pkgutil
import traceback
from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np

__all__ = ["Case", "Result", "register", "unregister", "get_case", "all_cases", "case_names", "case_sources",
           "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "freeprob.verify_cases"


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
    _load_builtin()  # the packages' cases come first whatever the user registers
    if not isinstance(case, Case):
        raise ValueError(f"case must be a freeprob.verify.Case, got {type(case).__name__}")
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
# the packages of this distribution first, in dependency order; third-party groups follow by name
_SOURCE_ORDER = ("freeprob", "randmat", "nn_spectra")
_SOURCES: list[tuple[str, str]] = []  # (entry-point name, module) actually loaded


def case_sources() -> list[tuple[str, str]]:
    """The ``(entry point, module)`` pairs whose cases the registry holds."""
    _load_builtin()
    return list(_SOURCES)


def _entry_points() -> list[tuple[str, str]]:
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    # freeprob's own cases need no metadata: they are part of the package that runs them
    found.setdefault("freeprob", "freeprob.verify_cases")
    rank = {name: i for i, name in enumerate(_SOURCE_ORDER)}
    return sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def _import_failure_case(module: str, exc: BaseException) -> Case:
    detail = f"{type(exc).__name__}: {exc}"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3))

    def run(size, rng):
        raise ImportError(f"the case module {module} does not import ({detail}); its cases cannot "
                          f"run\n{tb}")

    return Case(name="import_" + module.replace(".", "_"), title=f"the case module {module} imports",
                how="import of the module that registers the cases", metric="import error",
                tolerance=0.0, run=run, quick_size=1, full_size=1, topic="import errors")


def _import_cases(module: str) -> None:
    """Import ``module`` (and, for a package, its modules); an import error registers a failing case."""
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # any error: a broken case module must show up as a failure
        register(_import_failure_case(module, exc), replace=True)
        return
    if not hasattr(mod, "__path__"):
        return
    names = sorted(m.name for m in pkgutil.iter_modules(mod.__path__) if not m.name.startswith("_"))
    skip = set(getattr(mod, "ALIASES", ()))
    topics = [t for t in getattr(mod, "TOPICS", ()) if t in names]
    for name in topics + [n for n in names if n not in topics and n not in skip]:
        _import_cases(f"{module}.{name}")


def _load_builtin() -> None:
    global _BUILTIN_LOADED
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED = True
        for name, module in _entry_points():
            _SOURCES.append((name, module))
            _import_cases(module)


def all_cases() -> list[Case]:
    """Every registered case: the packages' cases first (freeprob, randmat, nn_spectra), then the
    ones registered by the user, in registration order."""
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
