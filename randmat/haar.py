r"""Haar-distributed matrices: the orthogonal group O(n), the unitary group U(n), permutations.

A Gaussian matrix :math:`Z` (real, or complex with :math:`E|Z_{ij}|^2 = 1`) is factorised as
:math:`Z = QR`; the Haar element is :math:`Q\,\mathrm{diag}(r_{ii}/|r_{ii}|)` (Mezzadri 2007). The
diagonal correction matters: LAPACK's :math:`Q` alone is *not* Haar, because the QR factorisation
is only unique once the signs (phases) of :math:`\mathrm{diag}\,R` are fixed, and LAPACK fixes them in a
way that depends on :math:`Z`. With the correction, :math:`Q` is invariant under left multiplication
by any fixed orthogonal (unitary) matrix, since :math:`Z \mapsto UZ` preserves the Gaussian law.

The factorisation calls LAPACK ``?geqrf``/``?orgqr`` (``?ungqr``) directly on a Fortran-ordered
buffer that is overwritten in place, which saves the copies ``numpy.linalg.qr`` makes; see
``docs/benchmarks/randmat.md`` for the speed against ``scipy.stats.ortho_group``.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from ._validation import as_generator, check_matrix_size

__all__ = ["haar_orthogonal", "haar_unitary", "haar_permutation"]


def _qr_haar(z: np.ndarray) -> np.ndarray:
    """Q diag(r_ii/|r_ii|) of the Fortran-ordered square matrix ``z`` (overwritten)."""
    if z.dtype == np.float64:
        geqrf, orgqr = lapack.dgeqrf, lapack.dorgqr
    else:
        geqrf, orgqr = lapack.zgeqrf, lapack.zungqr
    n = z.shape[1]
    # the f2py default workspace (about n) forces LAPACK's unblocked algorithms, several times
    # slower; 64 n covers the optimal block size nb·n of the reference and OpenBLAS kernels
    lwork = max(1, 64 * n)
    qr, tau, _, info = geqrf(z, lwork=lwork, overwrite_a=True)
    if info != 0:  # pragma: no cover - LAPACK only fails on invalid arguments
        raise RuntimeError(f"LAPACK geqrf failed with info = {info}")
    d = np.diagonal(qr).copy()
    q, _, info = orgqr(qr, tau, lwork=lwork, overwrite_a=True)
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK orgqr failed with info = {info}")
    absd = np.abs(d)
    # r_ii = 0 has probability zero for a Gaussian matrix; keep the column as it is then
    phase = np.divide(d, absd, out=np.ones_like(d), where=absd > 0)
    q *= phase[None, :]
    return q


def haar_orthogonal(n: int, rng=None) -> np.ndarray:
    r"""A Haar-distributed orthogonal matrix :math:`O \in O(n)`.

    Computed as :math:`O = Q\,\mathrm{diag}(\mathrm{sign}\,r_{ii})` from the QR factorisation
    :math:`Z = QR` of an :math:`n\times n` standard Gaussian matrix (Mezzadri 2007).
    Finite-:math:`n` moments: :math:`E[O_{11}^2] = 1/n`, :math:`E[O_{11}^4] = 3/(n(n+2))`.

    Parameters
    ----------
    n : int
        Dimension, ``n >= 1``.
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` float64 array with :math:`O^T O = I`.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> o = rm.haar_orthogonal(5, rng=0)
    >>> bool(np.allclose(o.T @ o, np.eye(5)))
    True
    """
    n = check_matrix_size("n", n)
    gen = as_generator(rng)
    # the transpose of a C-ordered Gaussian matrix is a Fortran-ordered Gaussian matrix: LAPACK
    # can then work in place with no copy
    z = gen.standard_normal((n, n)).T
    return _qr_haar(z)


def haar_unitary(n: int, rng=None) -> np.ndarray:
    r"""A Haar-distributed unitary matrix :math:`U \in U(n)`.

    Computed as :math:`U = Q\,\mathrm{diag}(r_{ii}/|r_{ii}|)` from the QR factorisation of an
    :math:`n\times n` complex Gaussian matrix with independent :math:`N(0, 1/2)` real and imaginary
    parts (Mezzadri 2007). Its eigenvalues :math:`e^{i\theta_k}` have angles whose one-point
    density is uniform on :math:`[-\pi, \pi)`.

    Parameters
    ----------
    n : int
        Dimension, ``n >= 1``.
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` complex128 array with :math:`U^* U = I`.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> u = rm.haar_unitary(4, rng=1)
    >>> bool(np.allclose(u.conj().T @ u, np.eye(4)))
    True
    """
    n = check_matrix_size("n", n)
    gen = as_generator(rng)
    z = np.empty((n, n), dtype=np.complex128, order="F")
    z.real = gen.standard_normal((n, n))
    z.imag = gen.standard_normal((n, n))
    z *= np.sqrt(0.5)
    return _qr_haar(z)


def haar_permutation(n: int, rng=None) -> np.ndarray:
    r"""A uniformly random :math:`n\times n` permutation matrix :math:`P`, :math:`P_{\sigma(j), j} = 1`.

    Parameters
    ----------
    n : int
        Dimension, ``n >= 1``.
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` float64 array with exactly one 1 in each row and column.

    Examples
    --------
    >>> import randmat as rm
    >>> p = rm.haar_permutation(4, rng=2)
    >>> p.sum(axis=0).tolist(), p.sum(axis=1).tolist()
    ([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0])
    """
    n = check_matrix_size("n", n)
    gen = as_generator(rng)
    sigma = gen.permutation(n)
    p = np.zeros((n, n))
    p[sigma, np.arange(n)] = 1.0
    return p
