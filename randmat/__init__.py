"""randmat: random matrices for checking free probability numerically.

Haar and classical ensembles, deterministic matrices with a prescribed spectrum, finite-N
realisations of free convolutions, empirical spectra and their distances to freeprob laws,
estimators of mixed free cumulants and of the decay of the freeness defect, and a reproducible
Monte-Carlo runner on joblib (any backend, Dask included).
"""
from .haar import haar_orthogonal, haar_permutation, haar_unitary
from .ensembles import from_law, ginibre, goe, gue, law_quantiles, wishart
from .free_realisations import free_product, free_sum, haar_rotate
from .spectra import eigenvalues, ks_distance, moments, spectrum, wasserstein_distance
from .freeness import (
    FreenessSweep,
    asymptotic_freeness,
    freeness_defect,
    mixed_free_cumulant,
    mixed_free_cumulants,
    mixed_moment,
)
from .monte_carlo import ensemble, spawn_seeds
from .plotting import plot_spectrum

__all__ = [
    "haar_orthogonal", "haar_unitary", "haar_permutation",
    "goe", "gue", "ginibre", "wishart", "from_law", "law_quantiles",
    "free_sum", "free_product", "haar_rotate",
    "eigenvalues", "spectrum", "ks_distance", "wasserstein_distance", "moments",
    "mixed_moment", "mixed_free_cumulant", "mixed_free_cumulants", "freeness_defect",
    "asymptotic_freeness", "FreenessSweep",
    "ensemble", "spawn_seeds",
    "plot_spectrum",
]
