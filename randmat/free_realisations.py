r"""Finite-:math:`n` realisations of free additive and multiplicative convolutions.

For Hermitian :math:`A, B` and an independent Haar orthogonal (unitary) :math:`O`, the pair
:math:`(A, OBO^*)` is asymptotically free (Voiculescu), so

* ``free_sum(A, B)``: :math:`A + O B O^*` has spectral law tending to :math:`\mu_A \boxplus \mu_B`,
* ``free_product(A, B)``: :math:`A^{1/2} O B O^* A^{1/2}` (positive semi-definite :math:`A, B`)
  has spectral law tending to :math:`\mu_A \boxtimes \mu_B`.

Either argument may be given as a 1-D array, meaning the diagonal matrix with that diagonal; the
rotation is then applied as :math:`(O\,\mathrm{diag}\,b)\,O^*` in :math:`O(n^2)` memory traffic
plus one matrix product, so the trial cost is dominated by the Haar sample and the later
eigendecomposition.
"""
from __future__ import annotations

import numpy as np

from ._validation import as_generator, as_hermitian_matrix
from .haar import haar_orthogonal, haar_unitary

__all__ = ["free_sum", "free_product", "haar_rotate"]


def _as_operand(name: str, a) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim == 1:
        if arr.dtype.kind not in "biuf" or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} given as a diagonal must be a non-empty finite real 1-D array")
        return arr.astype(np.float64)
    return as_hermitian_matrix(name, arr)


def _dim(a: np.ndarray) -> int:
    return a.shape[0]


def _full(a: np.ndarray) -> np.ndarray:
    return np.diag(a) if a.ndim == 1 else a


def haar_rotate(b, rng=None, complex: bool | None = None) -> np.ndarray:
    r""":math:`O B O^*` for a fresh Haar orthogonal (``complex=False``) or unitary (``complex=True``) O.

    ``b`` is a Hermitian matrix or a 1-D array (its diagonal). ``complex=None`` uses the unitary
    group exactly when ``b`` is complex.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> c = rm.haar_rotate(np.array([1.0, 2.0, 3.0]), rng=0)
    >>> np.round(np.linalg.eigvalsh(c), 12).tolist()
    [1.0, 2.0, 3.0]
    """
    bb = _as_operand("b", b)
    return _rotate(bb, as_generator(rng), bb.dtype.kind == "c" if complex is None else bool(complex))


def _rotate(b: np.ndarray, gen: np.random.Generator, use_unitary: bool) -> np.ndarray:
    n = _dim(b)
    o = haar_unitary(n, gen) if use_unitary else haar_orthogonal(n, gen)
    if b.ndim == 1:
        c = (o * b[None, :]) @ o.conj().T
    else:
        c = o @ b @ o.conj().T
    # exact Hermitian symmetry, so that eigvalsh sees the matrix the user means
    c += c.conj().T
    c *= 0.5
    return c


def free_sum(a, b, rng=None) -> np.ndarray:
    r"""The matrix :math:`A + O B O^*` with a fresh Haar O; its spectrum tends to :math:`\mu_A \boxplus \mu_B`.

    Parameters
    ----------
    a, b : array_like
        Hermitian ``(n, n)`` matrices or 1-D arrays of length ``n`` (diagonal matrices).
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness for O.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` symmetric (Hermitian if ``a`` or ``b`` is complex, O then Haar unitary).

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> s = rm.free_sum(np.ones(4), np.arange(4.0), rng=0)
    >>> np.round(np.linalg.eigvalsh(s), 12).tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    aa, bb = _as_operand("a", a), _as_operand("b", b)
    if _dim(aa) != _dim(bb):
        raise ValueError(f"a and b must have the same dimension, got {_dim(aa)} and {_dim(bb)}")
    use_unitary = aa.dtype.kind == "c" or bb.dtype.kind == "c"
    c = _rotate(bb, as_generator(rng), use_unitary)
    if aa.ndim == 1:
        c[np.diag_indices_from(c)] += aa
    else:
        c += aa
    return c


def _check_psd(name: str, w: np.ndarray) -> None:
    """Raise unless the eigenvalues ``w`` are >= 0 up to round-off (1e-10 relative)."""
    tol = 1e-10 * max(float(np.max(np.abs(w))), np.finfo(float).tiny)
    if np.min(w) < -tol:
        raise ValueError(
            f"{name} must be positive semi-definite: smallest eigenvalue {np.min(w):.3g} < -{tol:.3g}"
        )


def _psd_sqrt(name: str, a: np.ndarray) -> np.ndarray:
    """Square root of a positive semi-definite matrix (or diagonal), negative round-off clipped."""
    if a.ndim == 1:
        _check_psd(name, a)
        return np.sqrt(np.clip(a, 0.0, None))
    w, v = np.linalg.eigh(a)
    _check_psd(name, w)
    r = np.sqrt(np.clip(w, 0.0, None))
    return (v * r[None, :]) @ v.conj().T


def free_product(a, b, rng=None) -> np.ndarray:
    r"""The matrix :math:`A^{1/2} O B O^* A^{1/2}`; its spectrum tends to :math:`\mu_A \boxtimes \mu_B`.

    It has the same eigenvalues as :math:`A\,OBO^*` and is Hermitian positive semi-definite.

    Parameters
    ----------
    a, b : array_like
        Positive semi-definite ``(n, n)`` matrices or 1-D non-negative arrays (diagonals).
        Eigenvalues down to :math:`-10^{-10}\max|\lambda|` are taken as round-off and clipped to 0.
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness for O.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> p = rm.free_product(np.ones(3), np.array([1.0, 2.0, 4.0]), rng=0)
    >>> np.round(np.linalg.eigvalsh(p), 12).tolist()
    [1.0, 2.0, 4.0]
    """
    aa, bb = _as_operand("a", a), _as_operand("b", b)
    if _dim(aa) != _dim(bb):
        raise ValueError(f"a and b must have the same dimension, got {_dim(aa)} and {_dim(bb)}")
    _check_psd("b", bb if bb.ndim == 1 else np.linalg.eigvalsh(bb))
    root = _psd_sqrt("a", aa)
    use_unitary = aa.dtype.kind == "c" or bb.dtype.kind == "c"
    c = _rotate(bb, as_generator(rng), use_unitary)
    if root.ndim == 1:
        c = root[:, None] * c * root[None, :]
    else:
        c = root @ c @ root
    c += c.conj().T
    c *= 0.5
    return c
