r"""Classical random-matrix ensembles and deterministic matrices with a prescribed spectrum.

Normalisations are chosen so that each ensemble has a non-degenerate limit law as
:math:`n\to\infty` (the freeprob law named in each docstring):

* ``goe(n, var)``: real symmetric, off-diagonal entries :math:`N(0, \sigma^2/n)`, diagonal
  :math:`N(0, 2\sigma^2/n)`; limit ``semicircle(var)``.
* ``gue(n, var)``: complex Hermitian, :math:`E|H_{ij}|^2 = \sigma^2/n`; limit ``semicircle(var)``.
* ``ginibre(n, m, var)``: :math:`n\times m` with i.i.d. :math:`N(0, \sigma^2/m)` entries (complex:
  :math:`E|G_{ij}|^2 = \sigma^2/m`).
* ``wishart(n, m, var)`` :math:`= G G^T` with ``G = ginibre(n, m, var)``, i.e.
  :math:`(\sigma^2/m) X X^T`; limit ``marchenko_pastur(ratio=n/m, var)``.
* ``from_law(law, n)``: the diagonal matrix of the law's quantiles at :math:`(k + 1/2)/n`.
"""
from __future__ import annotations

import numpy as np

from freeprob.law import fast_cdf, fast_ppf
from ._validation import as_generator, check_matrix_size

__all__ = ["goe", "gue", "ginibre", "wishart", "from_law"]


def _check_var(var) -> float:
    try:
        v = float(var)
    except (TypeError, ValueError):
        raise ValueError(f"var must be a real number in (0, inf), got {var!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"var must lie in (0, inf), got {var!r}")
    return v


def goe(n: int, rng=None, var: float = 1.0) -> np.ndarray:
    r"""Gaussian Orthogonal Ensemble :math:`H = \sigma (G + G^T)/\sqrt{2n}`, G standard Gaussian.

    Off-diagonal entries have variance :math:`\sigma^2/n` and diagonal entries :math:`2\sigma^2/n`;
    the spectrum tends to the semicircle law of variance :math:`\sigma^2` (``var``).

    Parameters
    ----------
    n : int
        Dimension, ``n >= 1``.
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness.
    var : float
        Variance :math:`\sigma^2 > 0` of the limiting semicircle.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> h = rm.goe(400, rng=0)
    >>> bool(np.allclose(h, h.T)), round(float(np.trace(h @ h)) / 400, 1)
    (True, 1.0)
    """
    n = check_matrix_size("n", n)
    v = _check_var(var)
    g = as_generator(rng).standard_normal((n, n))
    h = g + g.T
    h *= np.sqrt(v / (2.0 * n))
    return h


def gue(n: int, rng=None, var: float = 1.0) -> np.ndarray:
    r"""Gaussian Unitary Ensemble :math:`H = \sigma (G + G^*)/\sqrt{4n}` with :math:`E|G_{ij}|^2 = 2`.

    Every entry has :math:`E|H_{ij}|^2 = \sigma^2/n` (real diagonal); the spectrum tends to the
    semicircle law of variance :math:`\sigma^2` (``var``).

    Parameters
    ----------
    n : int
        Dimension, ``n >= 1``.
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness.
    var : float
        Variance :math:`\sigma^2 > 0` of the limiting semicircle.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> h = rm.gue(300, rng=0)
    >>> bool(np.allclose(h, h.conj().T))
    True
    """
    n = check_matrix_size("n", n)
    v = _check_var(var)
    gen = as_generator(rng)
    g = gen.standard_normal((n, n)) + 1j * gen.standard_normal((n, n))
    h = g + g.conj().T
    h *= np.sqrt(v / (4.0 * n))
    return h


def ginibre(n: int, m: int | None = None, rng=None, var: float = 1.0, complex: bool = False) -> np.ndarray:
    r"""Ginibre matrix: :math:`n\times m` with i.i.d. centred Gaussian entries of variance :math:`\sigma^2/m`.

    With this scaling :math:`G G^T` is ``wishart(n, m, var)``, and a product
    :math:`G_1\cdots G_s` of independent square Ginibre matrices has squared singular values
    distributed, as :math:`n\to\infty`, by the Fuss–Catalan law of order :math:`s` (for ``var = 1``).

    Parameters
    ----------
    n, m : int
        Shape; ``m`` defaults to ``n``.
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness.
    var : float
        :math:`\sigma^2 > 0`, ``m`` times the variance of an entry.
    complex : bool
        Complex entries with independent real and imaginary parts of variance :math:`\sigma^2/(2m)`.

    Examples
    --------
    >>> import randmat as rm
    >>> rm.ginibre(3, 5, rng=0).shape
    (3, 5)
    """
    n = check_matrix_size("n", n)
    m = n if m is None else check_matrix_size("m", m)
    v = _check_var(var)
    gen = as_generator(rng)
    if complex:
        g = gen.standard_normal((n, m)) + 1j * gen.standard_normal((n, m))
        g *= np.sqrt(v / (2.0 * m))
    else:
        g = gen.standard_normal((n, m))
        g *= np.sqrt(v / m)
    return g


def wishart(n: int, m: int, rng=None, var: float = 1.0) -> np.ndarray:
    r"""Real Wishart matrix :math:`W = (\sigma^2/m) X X^T`, X an :math:`n\times m` standard Gaussian.

    The spectrum tends to ``freeprob.marchenko_pastur(ratio=n/m, var=var)`` as
    :math:`n/m` is held fixed; when :math:`n > m` there is an atom of mass :math:`1 - m/n` at 0.

    Parameters
    ----------
    n : int
        Dimension of :math:`W`, ``n >= 1``.
    m : int
        Number of samples (columns of X), ``m >= 1``.
    rng : None, int, SeedSequence or numpy.random.Generator
        Source of randomness.
    var : float
        Variance :math:`\sigma^2 > 0` of the entries of X.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> w = rm.wishart(200, 400, rng=0)
    >>> round(float(np.trace(w)) / 200, 1)
    1.0
    """
    x = ginibre(n, m, rng=rng, var=var)
    w = x @ x.T
    # symmetrise exactly: BLAS may round the two triangles differently
    w += w.T
    w *= 0.5
    return w


def from_law(law, n: int) -> np.ndarray:
    r"""The deterministic diagonal matrix :math:`\mathrm{diag}(q_1, \dots, q_n)`, :math:`q_k = F^{-1}((k - 1/2)/n)`.

    :math:`F^{-1}` is ``law.ppf``, the generalised inverse :math:`\inf\{x : F(x) \ge q\}` of the
    distribution function (for laws whose cdf is only a per-point quadrature, the inverse of a
    tabulated cdf, accurate to about :math:`10^{-5}`; see ``freeprob.law.fast_cdf``). Its empirical spectrum is within Kolmogorov distance :math:`1/(2n)` of
    ``law`` when the law has no atoms. Atoms are exact: a quantile level falling inside the jump
    of :math:`F` at an atom :math:`a` (i.e. :math:`F(a^-) < q \le F(a)`) gives exactly :math:`a`,
    so an atom of mass :math:`w` is repeated about :math:`nw` times with no bisection round-off.

    Parameters
    ----------
    law : freeprob.Law
        Any law with a ``ppf`` (and ``cdf`` and ``atoms``).
    n : int
        Dimension, ``n >= 1``.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` diagonal float64 matrix, eigenvalues in increasing order.

    Examples
    --------
    >>> import freeprob as fp, randmat as rm
    >>> d = rm.from_law(fp.bernoulli(0.25), 8)
    >>> d.diagonal().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    """
    return np.diag(law_quantiles(law, n))


def law_quantiles(law, n: int) -> np.ndarray:
    """The midpoint quantiles ``law.ppf((k + 1/2)/n)``, ``k = 0..n-1``, atoms exact (see :func:`from_law`)."""
    n = check_matrix_size("n", n)
    for attr in ("ppf", "cdf", "atoms"):
        if not hasattr(law, attr):
            raise ValueError(f"law must be a freeprob Law with ppf, cdf and atoms; {law!r} has no {attr}")
    q = (np.arange(n) + 0.5) / n
    try:
        x = np.asarray(fast_ppf(law, q), dtype=float).reshape(n)
        pts, mass = (np.asarray(a, dtype=float) for a in law.atoms)
        upper = np.asarray(fast_cdf(law)(pts), dtype=float).reshape(len(pts)) if len(pts) else pts
    except NotImplementedError as exc:
        raise ValueError(f"law {law!r} has no distribution function (cdf/ppf not implemented)") from exc
    if not np.all(np.isfinite(x)):
        bad = q[~np.isfinite(x)][0]
        raise ValueError(f"law.ppf returned a non-finite quantile at level q = {bad:g} for {law!r}")
    for a, w, fa in zip(pts, mass, upper):
        # the cdf jumps from F(a) - w to F(a) at the atom
        x[(q > fa - w) & (q <= fa)] = a
    return np.sort(x)
