"""Argument checks shared by the randmat samplers and estimators.

Every check raises ``ValueError`` naming the offending parameter and the allowed range, as the
toolkit's conventions require; nothing here does any mathematics.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_dimension", "check_matrix_size", "MAX_MATRIX_SIZE", "as_generator", "as_square_matrix", "as_hermitian_matrix", "as_eigenvalues"]


#: largest matrix dimension accepted: a 40,000 × 40,000 float64 matrix already takes 12.8 GB
MAX_MATRIX_SIZE = 40_000


def check_dimension(name: str, value, max_value: int | None = None) -> int:
    """``value`` as an int in [1, ``max_value``], else ``ValueError`` naming ``name`` and the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if max_value is not None and value > max_value:
        raise ValueError(f"{name} must lie in [1, {max_value:,}], got {value!r}")
    return int(value)


def check_matrix_size(name: str, value) -> int:
    """A matrix dimension: an int in [1, :data:`MAX_MATRIX_SIZE`] (a larger one would exhaust memory)."""
    return check_dimension(name, value, MAX_MATRIX_SIZE)


def as_generator(rng) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from ``None``, an int seed, a SeedSequence or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)) and not isinstance(rng, bool):
        if isinstance(rng, numbers.Integral) and rng < 0:
            raise ValueError(f"rng must be a non-negative int seed, a SeedSequence or a Generator, got {rng!r}")
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be None, a non-negative int seed, a SeedSequence or a numpy Generator, got {rng!r}")


def as_square_matrix(name: str, a) -> np.ndarray:
    """``a`` as a finite square 2-D float64 or complex128 array."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biufc":
        raise ValueError(f"{name} must be a numeric matrix, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {arr.shape}")
    arr = arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf entries)")
    return arr


def as_hermitian_matrix(name: str, a, rtol: float = 1e-10) -> np.ndarray:
    """``a`` as a square matrix equal to its conjugate transpose up to ``rtol`` (relative, max norm)."""
    arr = as_square_matrix(name, a)
    scale = max(float(np.max(np.abs(arr))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(arr - arr.conj().T)))
    if asym > rtol * scale:
        kind = "Hermitian" if arr.dtype.kind == "c" else "symmetric"
        raise ValueError(
            f"{name} must be {kind}: max |A - A^*| = {asym:.3g} exceeds {rtol:g} times max |A| = {scale:.3g}"
        )
    return arr


def as_eigenvalues(name: str, x) -> np.ndarray:
    """A non-empty finite 1-D float64 array (a spectrum)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real 1-D array of eigenvalues, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of eigenvalues, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr
