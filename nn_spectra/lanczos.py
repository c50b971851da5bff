r"""Spectral densities from matrix-vector products only: stochastic Lanczos quadrature (SLQ).

For a symmetric :math:`N\times N` matrix :math:`A` with eigenpairs :math:`(\lambda_i, u_i)` and a probe
:math:`v` with :math:`\|v\| = 1`, the *spectral measure of the probe* is
:math:`\mu_v = \sum_i (u_i\cdot v)^2\,\delta_{\lambda_i}`.  For Rademacher probes
:math:`v = \epsilon/\sqrt N` (:math:`\epsilon_i = \pm1`), :math:`E\,\mu_v = \frac1N\sum_i\delta_{\lambda_i}`,
the empirical spectral distribution (ESD).  ``k`` steps of Lanczos from :math:`v` give a tridiagonal
:math:`T_k` whose eigenpairs :math:`(\theta_j, s_j)` define the Gauss quadrature of :math:`\mu_v`,

.. math:: \mu_v \approx \sum_{j=1}^k \tau_j^2\,\delta_{\theta_j},\qquad \tau_j = (s_j)_1,

exact on polynomials of degree :math:`\le 2k-1` (Golub–Meurant).  SLQ averages this over
:math:`n_v` independent probes (Ubaru–Chen–Saad 2017; Ghorbani–Krishnan–Xiao 2019).

Error bars
    *Moments*: per probe :math:`\hat m_p(v) = \sum_j\tau_j^2\theta_j^p = v^\top A^p v` exactly for
    :math:`p\le 2k-1`, so :math:`\hat m_p = \frac1{n_v}\sum_v \hat m_p(v)` is unbiased for
    :math:`\frac1N\operatorname{tr}A^p` with standard error (sample s.d. over probes)/:math:`\sqrt{n_v}`.
    *Distribution function*: per probe the Chebyshev–Markov–Stieltjes inequalities give
    :math:`\sup_x|F_{GQ,v}(x) - F_{\mu_v}(x)| \le \max_j\tau_j^2` (the quadrature part, rigorous);
    the probe part is the standard error of the probe-averaged distribution function.  The
    *resolution* of :meth:`SpectralDensityEstimate.ks_distance` is the sum of the mean quadrature bound
    and ``z`` times the largest probe standard error.

Memory (float64, ``m`` probes run together, ``k`` steps, dimension ``N``)
    :math:`8\,mN\,(k + 5)` bytes with full reorthogonalisation (the Lanczos basis is kept), else
    :math:`8\cdot 5\,mN` bytes; see :func:`lanczos_memory_bytes`.  The operator's own storage (e.g. the
    weights of a network, :func:`nn_spectra.matrix_free.network_memory_bytes`) comes on top.  Requests
    that exceed the available memory raise ``ValueError`` *before* anything is allocated.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.linalg import eigh_tridiagonal

__all__ = ["SpectralDensityEstimate", "KSComparison", "stochastic_lanczos_quadrature", "lanczos_memory_bytes",
           "available_memory_bytes", "check_memory"]


# ----------------------------------------------------------------------------- memory
def available_memory_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` (bytes), or ``None`` where it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - non-Linux
        return None
    return None  # pragma: no cover


def check_memory(what: str, needed: int, memory_limit: int | None = None, hint: str | None = None) -> None:
    """Raise ``ValueError`` when ``needed`` bytes exceed ``memory_limit`` (default 80 % of the available memory).

    ``hint`` (another way to fit) is added to the message."""
    if memory_limit is None:
        avail = available_memory_bytes()
        if avail is None:  # pragma: no cover
            return
        memory_limit = int(0.8 * avail)
    if needed > memory_limit:
        raise ValueError(f"{what} needs about {needed / 2**30:.2f} GiB, more than the memory limit "
                         f"{memory_limit / 2**30:.2f} GiB: reduce the width, depth, probes or steps "
                         f"(or pass reorthogonalize=False{'; ' + hint if hint else ''})")


def lanczos_memory_bytes(dim: int, steps: int, block: int, reorthogonalize: bool = True) -> int:
    r"""Peak bytes of the Lanczos recurrence: :math:`8mN(k+5)` with reorthogonalisation, :math:`40mN` without.

    ``block`` (:math:`m`) probes are iterated together; the ``+5`` counts the current, previous and
    work vectors and the operator's output.

    >>> lanczos_memory_bytes(10_000, 100, 10) / 2**20   # MiB
    80.108642578125
    """
    per = 8 * int(block) * int(dim)
    return per * (int(steps) + 5) if reorthogonalize else per * 5


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class KSComparison:
    """Kolmogorov–Smirnov distance between an SLQ estimate and a law, with the resolution it can resolve.

    ``distance <= resolution`` means "consistent within the method's resolution"; ``quadrature`` is the
    rigorous Gauss-quadrature part, ``probe`` is ``z`` times the largest probe standard error.
    """

    distance: float
    resolution: float
    quadrature: float
    probe: float
    z: float

    @property
    def consistent(self) -> bool:
        return self.distance <= self.resolution


@dataclass(frozen=True)
class SpectralDensityEstimate:
    r"""Probe-wise Gauss quadratures of a spectral measure, the output of SLQ.

    Attributes
    ----------
    nodes, weights : numpy.ndarray
        Shape ``(n_probes, steps)``: Ritz values :math:`\theta_j` and weights :math:`\tau_j^2`
        (each row sums to 1).
    dim : int
        Dimension :math:`N` of the matrix.
    """

    nodes: np.ndarray
    weights: np.ndarray
    dim: int

    @property
    def n_probes(self) -> int:
        return int(self.nodes.shape[0])

    @property
    def steps(self) -> int:
        return int(self.nodes.shape[1])

    def _check_order(self, n) -> int:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        if n > 2 * self.steps - 1:
            raise ValueError(f"moments are exact only up to order 2*steps-1 = {2 * self.steps - 1}, got n={n}")
        return int(n)

    def probe_moments(self, n: int) -> np.ndarray:
        r"""Per-probe moments :math:`v^\top A^p v`, shape ``(n_probes, n)`` for :math:`p = 1..n`."""
        n = self._check_order(n)
        p = np.arange(1, n + 1)
        return np.einsum("vj,vjp->vp", self.weights, self.nodes[:, :, None] ** p)

    def moments(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        r"""Estimates of :math:`m_p = \frac1N\operatorname{tr}A^p`, :math:`p = 1..n`, and their standard errors.

        Exact per probe for :math:`p \le 2\,\mathrm{steps}-1`; the standard error is the sample standard
        deviation over probes divided by :math:`\sqrt{n_v}` (``nan`` for one probe).
        """
        pm = self.probe_moments(n)
        se = pm.std(axis=0, ddof=1) / np.sqrt(self.n_probes) if self.n_probes > 1 else np.full(pm.shape[1], np.nan)
        return pm.mean(axis=0), se

    def _probe_cdf(self, x: np.ndarray, left: bool = False) -> np.ndarray:
        # per-probe Gauss-quadrature distribution functions at x: shape (n_probes, len(x))
        cmp = self.nodes[:, :, None] < x[None, None, :] if left else self.nodes[:, :, None] <= x[None, None, :]
        return np.einsum("vj,vjx->vx", self.weights, cmp)

    def cdf(self, x) -> np.ndarray:
        """Probe-averaged Gauss-quadrature distribution function (right-continuous step function)."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        return self._probe_cdf(x).mean(axis=0)

    def cdf_stderr(self, x) -> np.ndarray:
        """Standard error over probes of :meth:`cdf` at ``x``."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        if self.n_probes < 2:
            return np.full(x.shape, np.nan)
        return self._probe_cdf(x).std(axis=0, ddof=1) / np.sqrt(self.n_probes)

    def pdf(self, x, bandwidth: float) -> np.ndarray:
        r"""Gaussian-smoothed density :math:`\frac1{n_v}\sum_{v,j}\tau_j^2\,\varphi_h(x - \theta_j)` (for figures)."""
        if not (np.isfinite(bandwidth) and bandwidth > 0):
            raise ValueError(f"bandwidth must lie in (0, inf), got {bandwidth!r}")
        x = np.asarray(x, dtype=float)
        d = (x[..., None, None] - self.nodes) / bandwidth
        return np.sum(self.weights * np.exp(-0.5 * d * d), axis=(-2, -1)) / (self.n_probes * bandwidth * math.sqrt(2 * math.pi))

    def to_law(self):
        """The probe-averaged quadrature as a discrete :func:`freeprob.atoms` law."""
        import freeprob as fp

        return fp.atoms(self.nodes.ravel(), self.weights.ravel() / self.n_probes)

    def quadrature_bound(self, atoms=None, atom_tol: float | None = None) -> float:
        r"""Mean over probes of :math:`\max_j\tau_j^2`, the Chebyshev–Markov–Stieltjes bound on the KS error.

        A node within ``atom_tol`` of a point of ``atoms = (points, masses)`` is taken to resolve that
        atom (Lanczos converges to isolated eigenvalues of high multiplicity first): its weight counts
        as :math:`|\tau_j^2 - \text{mass}|`.
        """
        w = self.weights.copy()
        if atoms is not None and len(atoms[0]):
            tol = self._atom_tol(atom_tol)
            for p, m in zip(*atoms):
                near = np.abs(self.nodes - p) <= tol
                w[near] = np.abs(w[near] - m)
        return float(np.mean(np.max(w, axis=1)))

    def _atom_tol(self, atom_tol):
        if atom_tol is None:
            return 1e-8 * max(1.0, float(np.max(np.abs(self.nodes))))
        if not (np.isfinite(atom_tol) and atom_tol >= 0):
            raise ValueError(f"atom_tol must lie in [0, inf), got {atom_tol!r}")
        return float(atom_tol)

    def ks_distance(self, law, z: float = 3.0, atom_tol: float | None = None) -> KSComparison:
        r"""KS distance :math:`\sup_x|\bar F_{GQ}(x) - F_{law}(x)|` and the resolution it is able to resolve.

        ``law`` is any freeprob Law with ``cdf`` and ``atoms``.  The supremum of the difference between a
        step function and a monotone function is attained at the steps (both one-sided limits) or at the
        law's atoms, where it is evaluated exactly.  Nodes within ``atom_tol`` of an atom of the law
        are moved onto it.

        Returns
        -------
        KSComparison
            ``resolution = quadrature_bound + z * max_x SE_probe(x)``.
        """
        if not (np.isfinite(z) and z > 0):
            raise ValueError(f"z must lie in (0, inf), got {z!r}")
        pts, mass = (np.asarray(a, dtype=float).ravel() for a in law.atoms)
        tol = self._atom_tol(atom_tol)
        nodes = self.nodes.copy()
        for p in pts:
            nodes[np.abs(nodes - p) <= tol] = p
        est = SpectralDensityEstimate(nodes, self.weights, self.dim)
        x = np.unique(np.concatenate([nodes.ravel(), pts]))
        f_law = np.asarray(law.cdf(x), dtype=float).reshape(x.shape)
        jump = np.zeros_like(x)
        for p, m in zip(pts, mass):
            jump[x == p] += m
        right = est.cdf(x)
        left = est._probe_cdf(x, left=True).mean(axis=0)
        d = float(max(np.max(np.abs(right - f_law)), np.max(np.abs(left - (f_law - jump)))))
        se = est.cdf_stderr(x)
        probe = float(z * np.nanmax(se)) if self.n_probes > 1 else float("inf")
        quad = est.quadrature_bound((pts, mass), atom_tol=tol)
        return KSComparison(distance=d, resolution=quad + probe, quadrature=quad, probe=probe, z=float(z))

    def moment_zscores(self, exact_moments) -> np.ndarray:
        """``(estimate - exact) / standard_error`` for the moments ``m_1..m_n`` given in ``exact_moments``."""
        exact = np.asarray(exact_moments, dtype=float).ravel()
        m, se = self.moments(len(exact))
        return (m - exact) / se


# ----------------------------------------------------------------------------- the recurrence
def _as_matmat(operator) -> Callable[[np.ndarray], np.ndarray]:
    # operators act on row blocks: (m, N) -> (m, N)
    if callable(operator) and not hasattr(operator, "shape"):
        return operator
    if hasattr(operator, "matmat"):  # scipy LinearOperator (column convention)
        return lambda V: np.asarray(operator.matmat(V.T)).T
    A = np.asarray(operator, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"operator must be a callable, a LinearOperator or a square matrix, got shape {A.shape}")
    return lambda V: V @ A.T


def _check_int(name, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo or (hi is not None and value > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f"[{lo}, inf)"
        raise ValueError(f"{name} must be an integer in {rng}, got {value!r}")
    return int(value)


def _lanczos_block(matmat, V: np.ndarray, steps: int, reorthogonalize: bool):
    """Lanczos on each row of ``V`` (unit rows) at once; returns alphas, betas of shape (m, steps), (m, steps-1)."""
    m, n = V.shape
    alpha = np.zeros((m, steps))
    beta = np.zeros((m, steps))
    basis = np.empty((steps, m, n)) if reorthogonalize else None
    q_prev = np.zeros_like(V)
    q = V.copy()
    b_prev = np.zeros(m)
    scale = np.zeros(m)
    for j in range(steps):
        if basis is not None:
            basis[j] = q
        w = np.asarray(matmat(q), dtype=float)
        if w.shape != q.shape:
            raise ValueError(f"the operator returned shape {w.shape} for input shape {q.shape}")
        w -= b_prev[:, None] * q_prev
        a = np.einsum("md,md->m", w, q)
        w -= a[:, None] * q
        if basis is not None:
            # two passes of classical Gram-Schmidt ("twice is enough") against the whole basis
            for _ in range(2):
                c = np.einsum("kmd,md->km", basis[: j + 1], w)
                w -= np.einsum("km,kmd->md", c, basis[: j + 1])
        b = np.sqrt(np.einsum("md,md->m", w, w))
        alpha[:, j] = a
        scale = np.maximum(scale, np.abs(a) + b)
        # an invariant subspace: the quadrature of that probe is exact; the zero coupling makes the
        # remaining (zero) block carry zero weight
        done = b <= 1e-12 * np.maximum(scale, np.finfo(float).tiny)
        b = np.where(done, 0.0, b)
        beta[:, j] = b
        q_prev = q
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.where(done[:, None], 0.0, w / np.where(done, 1.0, b)[:, None])
        b_prev = b
    return alpha, beta[:, :-1]


def stochastic_lanczos_quadrature(operator, dim: int, steps: int = 80, probes: int = 10, rng=None,
                                  reorthogonalize: bool = True, block: int | None = None,
                                  memory_limit: int | None = None) -> SpectralDensityEstimate:
    r"""Spectral density of a symmetric operator from matrix-vector products only (SLQ).

    Parameters
    ----------
    operator : callable, scipy LinearOperator or array
        ``operator(V)`` maps a block of row vectors ``(m, dim) -> (m, dim)`` (``V ↦ V A`` for symmetric
        ``A``); a LinearOperator or a dense matrix is wrapped.
    dim : int
        :math:`N \ge 1`.
    steps : int
        Lanczos steps :math:`k`, :math:`1 \le k \le N`; moments up to :math:`2k-1` are exact per probe.
    probes : int
        Number of Rademacher probes :math:`n_v \ge 1` (error bars need :math:`n_v \ge 2`).
    rng : int or numpy.random.Generator, optional
    reorthogonalize : bool
        Full reorthogonalisation (keeps the basis: memory :math:`8mN(k+5)` bytes).  Without it the
        memory is :math:`40mN` bytes and the quadrature is still stable (Knizhnerman; Chen–Trogdon–Ubaru
        2021) but may show duplicated "ghost" Ritz values.
    block : int, optional
        Probes iterated together (one matrix-matrix product per step); all of them by default.
    memory_limit : int, optional
        Bytes; default 80 % of ``MemAvailable``.

    Returns
    -------
    SpectralDensityEstimate

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag(np.arange(1.0, 101.0))
    >>> est = stochastic_lanczos_quadrature(A, 100, steps=20, probes=4, rng=0)
    >>> m, se = est.moments(2)
    >>> bool(np.allclose(m, [50.5, 3383.5]))        # Rademacher probes are exact on a diagonal matrix
    True
    """
    dim = _check_int("dim", dim, 1)
    steps = _check_int("steps", steps, 1, dim)
    probes = _check_int("probes", probes, 1)
    block = probes if block is None else _check_int("block", block, 1)
    block = min(block, probes)
    check_memory(f"Lanczos with {block} probes x {steps} steps in dimension {dim}",
                 lanczos_memory_bytes(dim, steps, block, reorthogonalize), memory_limit)
    matmat = _as_matmat(operator)
    gen = np.random.default_rng(rng)
    nodes, weights = [], []
    for start in range(0, probes, block):
        m = min(block, probes - start)
        V = (gen.integers(0, 2, size=(m, dim)) * 2 - 1).astype(float) / math.sqrt(dim)
        alpha, beta = _lanczos_block(matmat, V, steps, reorthogonalize)
        for a, b in zip(alpha, beta):
            theta, S = eigh_tridiagonal(a, b)
            nodes.append(theta)
            weights.append(S[0] ** 2)
    W = np.array(weights)
    W /= W.sum(axis=1, keepdims=True)
    return SpectralDensityEstimate(np.array(nodes), W, dim)
