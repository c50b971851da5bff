"""freeprob: free probability, numerically and symbolically.

Laws (immutable, scipy.stats-like), their Cauchy/R/S transforms, and free additive and
multiplicative convolutions by subordination.

The public names are imported on first use (PEP 562), so ``import freeprob`` stays light:
SymPy, scipy.stats and numba load only when a law, a polynomial or the symbolic layer needs them.

>>> import freeprob as fp
>>> fp.semicircle(var=2.0).moments(4).tolist()
[0.0, 2.0, 0.0, 8.0]
"""
from __future__ import annotations

import copyreg
import importlib
import sys
import types

__version__ = "0.1.0"

# public name -> the submodule that defines it; add new exports here (and nowhere else)
_EXPORTS: dict[str, str] = {
    "Law": "law",
    "Arcsine": "laws", "Atoms": "laws", "FreePoisson": "laws", "Semicircle": "laws",
    "KestenMcKay": "laws", "Uniform": "laws",
    "arcsine": "laws", "atoms": "laws", "bernoulli": "laws", "free_poisson": "laws",
    "marchenko_pastur": "laws", "semicircle": "laws", "kesten_mckay": "laws", "uniform": "laws",
    "Normal": "normal", "normal": "normal",
    "FussCatalan": "fuss_catalan", "fuss_catalan": "fuss_catalan",
    "Empirical": "empirical", "empirical": "empirical",
    "PushforwardLaw": "pushforward", "pushforward": "pushforward",
    "SubordinationError": "convolution", "boxplus": "convolution", "boxtimes": "convolution",
    "FreeConvolution": "convolution",
    "SolvedLaw": "solved", "ConvergenceError": "solved", "location_scale": "solved",
    "MassCheckError": "quantile",
    "FreePower": "free_power", "free_power": "free_power",
    "free_variables": "polynomial", "polynomial_law": "polynomial",
    "identify": "identify", "Identification": "identify",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        # submodules (freeprob.symbolic, freeprob.laws, ...) stay reachable as attributes
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups bypass __getattr__
    from .jit_notice import announce_compilation

    announce_compilation()
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """The package module, so that a function keeps the name of the submodule that defines it.

    Importing ``freeprob.normal`` binds the module on the package; ``fp.normal`` must stay the
    function (as ``from .normal import normal`` made it), so that binding is dropped.
    """

    def __setattr__(self, name, value):
        if (isinstance(value, types.ModuleType) and name in _EXPORTS
                and value.__name__ == f"{self.__name__}.{name}"):
            return
        super().__setattr__(name, value)


def _reduce_package(module):
    # pickled by reference, as cloudpickle/joblib pickle plain modules (their table is keyed by exact type)
    return importlib.import_module, (module.__name__,)


sys.modules[__name__].__class__ = _Package
copyreg.pickle(_Package, _reduce_package)
