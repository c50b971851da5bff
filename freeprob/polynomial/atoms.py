r"""Exact atoms of a polynomial in free variables: the rank of its linearization.

For a self-adjoint linearization :math:`L = a_0 + \sum_j a_j\otimes x_j` of ``p`` (lower block
Q invertible), the Schur complement of :math:`\lambda e_{11} - L` is :math:`\lambda - p`, hence

.. math:: \mu_p(\{\lambda\}) = \dim_\tau \ker(\lambda - p) = n - \operatorname{rank}_{\operatorname{Tr}_n\otimes\tau}(\lambda e_{11} - L),

an integer-valued rank problem over the linearization.  Two exact rules decide it:

* **Non-atomic inputs** (Shlyakhtenko–Skoufranis 2015; Mai–Speicher–Yin 2019): if no variable has an
  atom, the rank of an :math:`n\times n` pencil is an integer (its inner rank over the free field), so
  the atom masses of a scalar polynomial are 0 or 1: a non-constant ``p`` has no atom.
* **Inputs with atoms** (Arizmendi–Cébron–Speicher–Yin, Adv. Math. 2024): among all tracial
  realisations of variables with prescribed eigenspace sizes, free variables realise the *smallest*
  eigenspaces of ``p`` ("unavoidable eigenspaces"), and only the sizes of the eigenspaces of the
  inputs matter.  Generic :math:`N\times N` realisations
  :math:`Y_j = O_j \operatorname{diag}(\text{values}) O_j^T` (Haar orthogonal :math:`O_j`, every atom of
  mass w repeated exactly :math:`wN` times, distinct values for the non-atomic part) have the
  maximal rank among :math:`N\times N` realisations (rank is lower semicontinuous), so
  :math:`k_N = \dim\ker(\lambda - p(Y))` satisfies :math:`k_N/N \ge \mu_p(\{\lambda\})` and
  :math:`k_N/N \to \mu_p(\{\lambda\})`.  The kernel dimension of a realisation is an affine
  function :math:`k_N = \mu N + c` of N along multiples of the common denominator of the input masses
  (c counts eigenvalues of the non-atomic parts and parity defects, O(1)); three sizes determine the
  slope and check that :math:`k_N` is affine.  The ranks are integers computed from the
  eigenvalues of the symmetric matrix :math:`\lambda e_{11}\otimes I_N - L(Y)`, which has a gap of
  many orders of magnitude between its exact kernel and the rest.

Atom locations are the eigenvalues of :math:`p(Y)` whose multiplicity grows with N.
Input masses must be rational with a small common denominator (:data:`MAX_DENOMINATOR`): a mass
such as 0.7 is the rational 7/10; irrational masses raise ``ValueError``.
"""
from __future__ import annotations

from fractions import Fraction
from math import lcm

import numpy as np

__all__ = ["exact_atoms", "MAX_DENOMINATOR", "AtomRankError"]

#: largest common denominator of the input atom masses handled by the finite realisations
MAX_DENOMINATOR = 200


class AtomRankError(ValueError):
    """The kernel dimensions of the realisations were not affine in N (no exact slope)."""


def _rational(w: float, what: str) -> Fraction:
    f = Fraction(float(w)).limit_denominator(MAX_DENOMINATOR)
    if abs(float(f) - w) > 1e-12 * max(1.0, abs(w)):
        raise ValueError(f"{what} = {w!r} is not a rational with denominator <= {MAX_DENOMINATOR}; "
                         "exact polynomial atoms need rational input masses")
    return f


def _diag_values(law, atoms_pts, n_diffuse: int, rng) -> np.ndarray:
    # distinct values for the non-atomic part; only the eigenspace sizes matter (ACSY), but values
    # inside the law's hull keep the realisation at the law's scale
    a, b = law.support
    v = a + (b - a) * np.sort(rng.uniform(0.02, 0.98, n_diffuse))
    return v


def _realisation(laws, masses, N: int, rng):
    Ys = []
    for law, (pts, w) in zip(laws, masses):
        counts = [int(f * N) for f in w]
        d = [np.full(c, float(p)) for p, c in zip(pts, counts)]
        rest = N - sum(counts)
        if rest:
            d.append(_diag_values(law, pts, rest, rng))
        diag = np.concatenate(d) if d else np.empty(0)
        g = rng.standard_normal((N, N))
        O, R = np.linalg.qr(g)
        O = O * np.sign(np.diag(R))[None, :]
        Ys.append((O * diag[None, :]) @ O.T)
    return Ys


def _evaluate(words, Ys, N):
    out = np.zeros((N, N))
    for w, c in words.items():
        M = np.eye(N)
        for i in w:
            M = M @ Ys[i]
        out += float(c) * M
    return 0.5 * (out + out.T)


def _kernel_dim(pencil, Ys, lam: float, N: int) -> tuple[int, float]:
    n = pencil.size
    M = np.kron(-pencil.a0, np.eye(N))
    for a, Y in zip(pencil.a, Ys):
        M -= np.kron(a, Y)
    M[:N, :N] += lam * np.eye(N)
    ev = np.sort(np.abs(np.linalg.eigvalsh(0.5 * (M + M.T))))
    scale = max(ev[-1], 1e-300)
    tol = 1e-9 * scale
    k = int(np.sum(ev <= tol))
    # the gap between the exact kernel (~1e-15 scale) and the next eigenvalue
    gap = (ev[k] / scale) if k < len(ev) else np.inf
    return k, gap


def exact_atoms(pencil, words, laws, *, rng=0) -> tuple[np.ndarray, np.ndarray]:
    """Atoms ``(points, masses)`` of the polynomial ``words`` (linearized by ``pencil``) in free
    variables with the given ``laws`` (see the module docstring for the rules).

    Parameters
    ----------
    pencil : Pencil
        Linearization of the polynomial.
    words : dict
        ``{word: coefficient}`` of the polynomial (:func:`.variables.poly_to_words`).
    laws : sequence of Law
        Laws of the variables, in the order of ``pencil.variables``.
    rng : int
        Seed of the finite realisations (the result does not depend on it for generic draws).

    Examples
    --------
    >>> import freeprob as fp
    >>> from freeprob.polynomial import free_variables, linearize
    >>> from freeprob.polynomial.variables import poly_to_words
    >>> x, d = free_variables("x d")
    >>> P = linearize(x*d*x, [x, d])
    >>> pts, w = exact_atoms(P, poly_to_words(x*d*x, [x, d]), [fp.semicircle(), fp.bernoulli(0.7)])
    >>> pts.tolist(), w.tolist()
    ([0.0], [0.3])
    """
    nonconst = any(len(w) for w in words)
    if not nonconst:
        c = float(sum(float(v) for v in words.values()))
        return np.array([c]), np.array([1.0])
    masses = []
    used = {i for w in words for i in w}
    for j, law in enumerate(laws):
        pts, w = law.atoms
        if j not in used:
            pts, w = np.empty(0), np.empty(0)
        masses.append((np.asarray(pts, float), [_rational(float(v), f"atom mass of variable {j}") for v in w]))
    if not any(len(pts) for pts, _ in masses):
        # Shlyakhtenko–Skoufranis / Mai–Speicher–Yin: integer ranks, no atom of a non-constant p
        return np.empty(0), np.empty(0)
    D = 1
    for _, w in masses:
        for f in w:
            D = lcm(D, f.denominator)
    n = pencil.size
    # sizes: multiples of D, large enough that O(1) defects are far from the slope, small enough
    # for dense eigensolvers (n N <= ~1500)
    # (the smallest size at least 2D: an atom of mass 1/D has multiplicity ~N/D there, and the
    # candidates are clusters of >= 2 eigenvalues; with N = D, d ~ Bern(0.95) gave x·d·x a single
    # zero eigenvalue at the first size and no atom at all)
    base = D * max(2, int(np.ceil(16 / D)))
    sizes = [base, 2 * base, 3 * base]
    while n * sizes[-1] > 1800 and base > D:
        base -= D
        sizes = [base, 2 * base, 3 * base]
    gen = np.random.default_rng(rng)
    # candidate points: eigenvalues of p(Y) with multiplicity growing with N
    cands = None
    reals = []
    for N in sizes:
        Ys = _realisation(laws, masses, N, gen)
        reals.append(Ys)
        ev = np.linalg.eigvalsh(_evaluate(words, Ys, N))
        scale = max(np.abs(ev).max(), 1e-300)
        tol = 1e-8 * scale
        groups, start = [], 0
        for i in range(1, len(ev) + 1):
            if i == len(ev) or ev[i] - ev[i - 1] > tol:
                if i - start >= 2:
                    groups.append((float(np.mean(ev[start:i])), i - start))
                start = i
        if cands is None:
            cands = [g for g, _ in groups]
        else:
            cands = [c for c in cands if any(abs(c - g) <= 1e3 * tol for g, _ in groups)]
    pts, out = [], []
    for lam in cands:
        ks = []
        for N, Ys in zip(sizes, reals):
            k, gap = _kernel_dim(pencil, Ys, lam, N)
            if gap < 1e-6:
                raise AtomRankError(f"no spectral gap at the candidate atom {lam!r} (N = {N}, gap {gap:.2g})")
            ks.append(k)
        if ks[1] - ks[0] != ks[2] - ks[1]:
            raise AtomRankError(f"kernel dimensions {ks} at sizes {sizes} are not affine in N at {lam!r}")
        mass = Fraction(ks[2] - ks[0], sizes[2] - sizes[0])
        if mass > 0:
            # exact zero: snap a location within rounding of 0
            if abs(lam) <= 1e-12 * max(1.0, max(abs(g) for g in cands)):
                lam = 0.0
            pts.append(lam)
            out.append(float(mass))
    order = np.argsort(pts)
    return np.asarray(pts, float)[order], np.asarray(out, float)[order]
