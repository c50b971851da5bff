r"""Empirical spectra and their distance to a freeprob law.

For eigenvalues :math:`\lambda_1 \le \dots \le \lambda_n` with empirical distribution function
:math:`F_n` and a law with distribution function :math:`F` (right-continuous, jumping at atoms):

* Kolmogorov–Smirnov :math:`D = \sup_x |F_n(x) - F(x)| = \max_i \max\{ i/n - F(\lambda_i),\;
  F(\lambda_i^-) - (i-1)/n \}`; the left limit :math:`F(\lambda_i^-)` differs from
  :math:`F(\lambda_i)` exactly at atoms, which is why atoms are handled explicitly.
* Wasserstein-1 :math:`W_1 = \int |F_n(x) - F(x)|\,dx`, integrated on a grid that contains every
  eigenvalue and every atom (so :math:`F_n` is constant between nodes), with :math:`F` linear
  between nodes; the error is :math:`O(h^2)` per node away from square-root edges.

Laws whose ``cdf`` is a per-point quadrature (the generic :class:`freeprob.Law` route) are
compared through a tabulated :math:`F` accurate to about :math:`10^{-5}` (``freeprob.law.fast_cdf``).

Floating-point eigenvalues never sit exactly on an atom (the zero eigenvalues of a rank-deficient
Wishart matrix are :math:`\pm 10^{-15}`), so eigenvalues within ``atom_tol`` of an atom are moved
onto it before comparing; the default is :math:`10^{-9}\max(1, \max_i|\lambda_i|)`.
"""
from __future__ import annotations

import numpy as np

from freeprob.law import fast_cdf
from ._validation import as_eigenvalues, as_hermitian_matrix, check_dimension

__all__ = ["eigenvalues", "spectrum", "ks_distance", "wasserstein_distance", "moments"]


def eigenvalues(a) -> np.ndarray:
    """Eigenvalues, in increasing order, of a real symmetric or complex Hermitian matrix.

    Raises ``ValueError`` when ``a`` is not square, not finite or not symmetric (Hermitian).

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> rm.eigenvalues(np.array([[2.0, 1.0], [1.0, 2.0]])).round(12).tolist()
    [1.0, 3.0]
    """
    return np.linalg.eigvalsh(as_hermitian_matrix("a", a))


def _as_spectrum(name: str, x) -> np.ndarray:
    """Sorted eigenvalues from either a Hermitian matrix or a 1-D array of eigenvalues."""
    arr = np.asarray(x)
    if arr.ndim == 2:
        return eigenvalues(arr)
    return np.sort(as_eigenvalues(name, arr))


def spectrum(a):
    r"""The empirical spectral law :math:`\frac1n\sum_i \delta_{\lambda_i}` of a Hermitian matrix, as a freeprob law.

    Parameters
    ----------
    a : array_like
        Real symmetric or complex Hermitian ``(n, n)`` matrix.

    Returns
    -------
    freeprob.Law
        ``freeprob.empirical(eigenvalues(a))``.
    """
    import freeprob as fp

    return fp.empirical(eigenvalues(a))


def _law_cdf(law):
    if not callable(getattr(law, "cdf", None)) or not hasattr(law, "atoms"):
        raise ValueError(f"law must be a freeprob Law with a cdf and atoms, got {law!r}")
    # laws with only a per-point quadrature cdf get a tabulated one (see freeprob.law.fast_cdf)
    cdf = fast_cdf(law)

    def f(x):
        try:
            out = np.asarray(cdf(x), dtype=float).reshape(np.shape(x))
        except NotImplementedError as exc:
            raise ValueError(f"law {law!r} has no distribution function (cdf not implemented)") from exc
        if not np.all(np.isfinite(out)):
            raise ValueError(f"law.cdf returned non-finite values for {law!r}")
        return out

    pts, mass = (np.asarray(v, dtype=float).ravel() for v in law.atoms)
    return f, pts, mass


def _snap(x: np.ndarray, pts: np.ndarray, atom_tol: float | None) -> np.ndarray:
    if atom_tol is None:
        atom_tol = 1e-9 * max(1.0, float(np.max(np.abs(x))))
    elif not (np.isfinite(atom_tol) and atom_tol >= 0):
        raise ValueError(f"atom_tol must lie in [0, inf), got {atom_tol!r}")
    x = x.copy()
    for p in pts:
        x[np.abs(x - p) <= atom_tol] = p
    return x


def _atom_mass_at(x: np.ndarray, pts: np.ndarray, mass: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    for p, w in zip(pts, mass):
        out[x == p] += w
    return out


def ks_distance(eigs, law, atom_tol: float | None = None) -> float:
    r"""Kolmogorov–Smirnov distance :math:`\sup_x |F_n(x) - F(x)|` between a spectrum and a law.

    Exact for any law whose ``cdf`` is exact, atoms included (see the module docstring).

    Parameters
    ----------
    eigs : array_like
        1-D eigenvalues, or a Hermitian matrix whose eigenvalues are used.
    law : freeprob.Law
        Any law with ``cdf`` and ``atoms``.
    atom_tol : float, optional
        Eigenvalues closer than this to an atom of ``law`` count as equal to it.

    Examples
    --------
    >>> import freeprob as fp, randmat as rm
    >>> rm.ks_distance([0.0, 1.0, 1.0, 1.0], fp.bernoulli(0.75))
    0.0
    >>> rm.ks_distance([-0.5, 0.5], fp.semicircle(1.0)) > 0
    True
    """
    x = _as_spectrum("eigs", eigs)
    cdf, pts, mass = _law_cdf(law)
    x = _snap(x, pts, atom_tol)
    n = x.size
    f_right = cdf(x)
    f_left = f_right - _atom_mass_at(x, pts, mass)
    i = np.arange(1, n + 1)
    d = max(float(np.max(i / n - f_right)), float(np.max(f_left - (i - 1) / n)))
    return float(np.clip(d, 0.0, 1.0))


def wasserstein_distance(eigs, law, atom_tol: float | None = None, grid: int | None = None) -> float:
    r"""Wasserstein-1 distance :math:`\int |F_n(x) - F(x)|\,dx` between a spectrum and a law.

    Parameters
    ----------
    eigs : array_like
        1-D eigenvalues, or a Hermitian matrix whose eigenvalues are used.
    law : freeprob.Law
        Any law with ``cdf`` and ``atoms`` (``support`` and ``ppf`` when unbounded).
    atom_tol : float, optional
        Eigenvalues closer than this to an atom of ``law`` count as equal to it.
    grid : int, optional
        Extra Chebyshev-spaced integration nodes on the hull of the law and the spectrum
        (default ``max(4000, 4n)``), on top of every eigenvalue and atom.

    Notes
    -----
    For a law with unbounded support the integral is cut at its :math:`10^{-12}` and
    :math:`1 - 10^{-12}` quantiles (or the extreme eigenvalues, if further out).

    Examples
    --------
    >>> import freeprob as fp, randmat as rm
    >>> round(rm.wasserstein_distance([0.0, 0.0, 2.0, 2.0], fp.atoms([0.0, 1.0], [0.5, 0.5])), 12)
    0.5
    """
    x = _as_spectrum("eigs", eigs)
    cdf, pts, mass = _law_cdf(law)
    x = _snap(x, pts, atom_tol)
    n = x.size
    k = max(4000, 4 * n) if grid is None else check_dimension("grid", grid)
    a, b = (float(v) for v in law.support)
    if not np.isfinite(a):
        a = float(law.ppf(1e-12))
    if not np.isfinite(b):
        b = float(law.ppf(1.0 - 1e-12))
    lo, hi = min(a, x[0]), max(b, x[-1])
    if hi <= lo:  # one point mass and a spectrum equal to it
        return 0.0
    cheb = 0.5 * (lo + hi) - 0.5 * (hi - lo) * np.cos(np.linspace(0.0, np.pi, k))
    nodes = np.unique(np.concatenate([cheb, x, pts[(pts >= lo) & (pts <= hi)], [lo, hi]]))
    f_right = cdf(nodes)
    f_left = f_right - _atom_mass_at(nodes, pts, mass)
    fn = np.searchsorted(x, nodes, side="right") / n
    # on [t_j, t_{j+1}] F_n is constant, F runs from F(t_j) to F(t_{j+1}^-), taken linear
    d0 = fn[:-1] - f_right[:-1]
    d1 = fn[:-1] - f_left[1:]
    h = np.diff(nodes)
    s0, s1 = np.abs(d0), np.abs(d1)
    same = d0 * d1 >= 0
    denom = np.where(s0 + s1 > 0, s0 + s1, 1.0)
    piece = np.where(same, 0.5 * h * (s0 + s1), 0.5 * h * (d0 * d0 + d1 * d1) / denom)
    return float(piece.sum())


def moments(a, n: int) -> np.ndarray:
    r"""Normalised traces :math:`m_k = \frac1N \mathrm{tr}(A^k) = \frac1N\sum_i \lambda_i^k`, :math:`k = 1..n`.

    Parameters
    ----------
    a : array_like
        Hermitian ``(N, N)`` matrix, or a 1-D array of its eigenvalues.
    n : int
        Highest order, ``n >= 1``.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> rm.moments(np.diag([1.0, -1.0]), 4).tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    n = check_dimension("n", n)
    x = _as_spectrum("a", a)
    return np.array([float(np.mean(x ** k)) for k in range(1, n + 1)])
