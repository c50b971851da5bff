r"""Measuring freeness: mixed moments, mixed free cumulants, and the decay of the freeness defect.

For square matrices :math:`X_1, \dots, X_L` of size :math:`N` and the normalised trace
:math:`\varphi = \frac1N\mathrm{tr}`, a word :math:`w = (i_1, \dots, i_n)` has the mixed moment
:math:`\varphi(X_{i_1}\cdots X_{i_n})` and the mixed free cumulant (Möbius inversion on the
lattice :math:`NC(n)` of non-crossing partitions, Nica–Speicher, Lecture 11)

.. math:: \kappa_n(X_{i_1}, \dots, X_{i_n}) = \sum_{\pi \in NC(n)} \varphi_\pi[X_{i_1}, \dots, X_{i_n}]
          \,\mu(\pi, 1_n),\qquad \mu(\pi, 1_n) = \prod_{V \in K(\pi)} (-1)^{|V|-1} C_{|V|-1},

with :math:`\varphi_\pi` the product over the blocks of :math:`\pi` of the traces of the
sub-words, :math:`K(\pi)` the Kreweras complement and :math:`C_k` the Catalan numbers.
Two families are free exactly when every *mixed* cumulant (a word using both) vanishes
(Speicher), so the largest mixed cumulant up to an order is a freeness defect. For a tracial
state the cumulants are invariant under cyclic rotation of the word, so one word per rotation
class is computed.

``asymptotic_freeness`` turns "asymptotically free" into a measured statement: it samples the
families at increasing :math:`N`, and fits :math:`\log(\text{defect}) = c + \beta\log N` by least
squares over all trials (``scipy.stats.linregress``), reporting :math:`\beta` with a
Student-t confidence interval. Fluctuations of normalised traces of unitarily invariant
ensembles are :math:`O(1/N)`, so free pairs give :math:`\beta \approx -1`; non-free pairs
give :math:`\beta \approx 0`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from math import comb
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from ._validation import as_square_matrix, check_dimension
from .monte_carlo import ensemble, spawn_seeds

__all__ = [
    "mixed_moment",
    "mixed_free_cumulant",
    "mixed_free_cumulants",
    "freeness_defect",
    "asymptotic_freeness",
    "FreenessSweep",
]


@lru_cache(maxsize=None)
def _mobius_table(n: int) -> tuple[tuple[tuple[tuple[int, ...], ...], int], ...]:
    """``(pi, mu(pi, 1_n))`` for every pi in NC(n), blocks 0-based."""
    from freeprob.combinatorics import kreweras_complement, noncrossing_partitions

    out = []
    for pi in noncrossing_partitions(n):
        coef = 1
        for v in kreweras_complement(pi, n):
            k = len(v) - 1
            coef *= (-1) ** k * comb(2 * k, k) // (k + 1)
        out.append((tuple(tuple(i - 1 for i in b) for b in pi), coef))
    return tuple(out)


class _Traces:
    """Normalised traces of words in a fixed list of matrices, memoised (words and prefixes)."""

    def __init__(self, mats: Sequence[np.ndarray]):
        self.mats = list(mats)
        self.n = self.mats[0].shape[0]
        self._prod: dict[tuple[int, ...], np.ndarray] = {}
        self._tr: dict[tuple[int, ...], complex] = {}

    def product(self, word: tuple[int, ...]) -> np.ndarray:
        if len(word) == 1:
            return self.mats[word[0]]
        p = self._prod.get(word)
        if p is None:
            p = self.product(word[:-1]) @ self.mats[word[-1]]
            self._prod[word] = p
        return p

    def trace(self, word: tuple[int, ...]) -> complex:
        # the trace is cyclic: memoise on the smallest rotation
        key = min(word[i:] + word[:i] for i in range(len(word)))
        t = self._tr.get(key)
        if t is None:
            if len(key) == 1:
                t = np.trace(self.mats[key[0]]) / self.n
            else:
                # tr(P M) = sum(P * M^T): one matrix product fewer than forming P M
                t = np.sum(self.product(key[:-1]) * self.mats[key[-1]].T) / self.n
            self._tr[key] = complex(t)
        return self._tr[key]

    def cumulant(self, word: tuple[int, ...]) -> complex:
        total = 0j
        for pi, coef in _mobius_table(len(word)):
            term = complex(coef)
            for block in pi:
                term *= self.trace(tuple(word[i] for i in block))
            total += term
        return total


def _as_family(name: str, fam) -> list[np.ndarray]:
    if isinstance(fam, np.ndarray) and fam.ndim == 2:
        fam = [fam]
    try:
        mats = [as_square_matrix(f"{name}[{i}]", m) for i, m in enumerate(fam)]
    except TypeError:
        raise ValueError(f"{name} must be a square matrix or a sequence of square matrices") from None
    if not mats:
        raise ValueError(f"{name} must contain at least one matrix")
    return mats


def _check_same_size(mats: Sequence[np.ndarray]) -> None:
    sizes = {m.shape[0] for m in mats}
    if len(sizes) != 1:
        raise ValueError(f"all matrices must have the same size, got sizes {sorted(sizes)}")


def _check_word(word, count: int) -> tuple[int, ...]:
    w = tuple(word)
    if not w:
        raise ValueError("word must contain at least one index")
    for i in w:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < count:
            raise ValueError(f"word entries must be integers in [0, {count - 1}], got {i!r}")
    return tuple(int(i) for i in w)


#: Möbius inversion sums over the C_n non-crossing partitions of the word: C_12 = 208,012
MAX_CUMULANT_ORDER = 12
#: bound on Σ_n (number of mixed words of length n) · C_n for mixed_free_cumulants/freeness_defect
MAX_CUMULANT_WORK = 2_000_000


def _catalan(n: int) -> int:
    from math import comb

    return comb(2 * n, n) // (n + 1)


def _check_cumulant_word(word: tuple) -> tuple:
    if len(word) > MAX_CUMULANT_ORDER:
        raise ValueError(f"word must have length <= {MAX_CUMULANT_ORDER}, got {len(word)}: the cumulant sums over "
                         f"the C_n non-crossing partitions (C_{len(word)} = {_catalan(len(word)):,})")
    return word


def _check_max_order(max_order, n_letters: int) -> int:
    if isinstance(max_order, bool) or not isinstance(max_order, (int, np.integer)) or max_order < 2:
        raise ValueError(f"max_order must be an integer >= 2, got {max_order!r}")
    if max_order > MAX_CUMULANT_ORDER:
        raise ValueError(f"max_order must lie in [2, {MAX_CUMULANT_ORDER}], got {max_order}")
    work = sum(n_letters ** n // n * _catalan(n) for n in range(2, int(max_order) + 1))
    if work > MAX_CUMULANT_WORK:
        raise ValueError(f"max_order={max_order} with {n_letters} matrices needs about {work:,} partition terms "
                         f"(more than {MAX_CUMULANT_WORK:,}); lower max_order or use fewer matrices")
    return int(max_order)


def _real_if_close(z: complex) -> float | complex:
    return z.real if abs(z.imag) <= 1e-12 * max(1.0, abs(z.real)) else z


def mixed_moment(matrices, word) -> float | complex:
    r"""Normalised trace :math:`\frac1N \mathrm{tr}(X_{i_1} X_{i_2}\cdots X_{i_n})` of a word.

    Parameters
    ----------
    matrices : sequence of array_like
        Square matrices :math:`X_0, X_1, \dots` of one size (a single matrix is allowed).
    word : sequence of int
        Indices :math:`i_1, \dots, i_n` into ``matrices``.

    Returns
    -------
    float or complex
        Real when the imaginary part is round-off.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> a, b = np.diag([1.0, 2.0]), np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> rm.mixed_moment([a, b], [0, 1, 0, 1])
    2.0
    """
    mats = _as_family("matrices", matrices)
    _check_same_size(mats)
    return _real_if_close(_Traces(mats).trace(_check_word(word, len(mats))))


def mixed_free_cumulant(matrices, word) -> float | complex:
    r"""Mixed free cumulant :math:`\kappa_n(X_{i_1}, \dots, X_{i_n})` w.r.t. :math:`\frac1N\mathrm{tr}`.

    Computed by Möbius inversion over :math:`NC(n)` (see the module docstring); cost
    :math:`|NC(n)| = C_n` products of memoised traces.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> a = np.diag([1.0, -1.0])
    >>> rm.mixed_free_cumulant([a], [0, 0, 0, 0])  # κ₄ of the symmetric Bernoulli law
    -1.0
    """
    mats = _as_family("matrices", matrices)
    _check_same_size(mats)
    return _real_if_close(_Traces(mats).cumulant(_check_cumulant_word(_check_word(word, len(mats)))))


def _mixed_words(n_a: int, n_b: int, max_order: int):
    """One word per cyclic class, of length 2..max_order, using both families."""
    letters = range(n_a + n_b)
    for n in range(2, max_order + 1):
        seen = set()
        for w in itertools.product(letters, repeat=n):
            if not (any(i < n_a for i in w) and any(i >= n_a for i in w)):
                continue
            key = min(w[i:] + w[:i] for i in range(n))
            if key in seen:
                continue
            seen.add(key)
            yield key


def mixed_free_cumulants(a_family, b_family, max_order: int = 4) -> dict[str, float | complex]:
    r"""All mixed free cumulants of two families up to ``max_order``, one per cyclic class of words.

    Parameters
    ----------
    a_family, b_family : array_like or sequence of array_like
        Square matrices of one common size.
    max_order : int
        Largest word length, ``>= 2``.

    Returns
    -------
    dict
        Maps a word such as ``"a0 b0 a0 b1"`` (letter ``a0`` is ``a_family[0]``) to its cumulant.

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> d = np.diag([1.0, 2.0, 3.0])
    >>> rm.mixed_free_cumulants(d, np.eye(3), max_order=2)
    {'a0 b0': 0.0}
    """
    mats_a = _as_family("a_family", a_family)
    mats_b = _as_family("b_family", b_family)
    mats = mats_a + mats_b
    _check_same_size(mats)
    _check_max_order(max_order, len(mats))
    names = [f"a{i}" for i in range(len(mats_a))] + [f"b{j}" for j in range(len(mats_b))]
    traces = _Traces(mats)
    return {
        " ".join(names[i] for i in w): _real_if_close(traces.cumulant(w))
        for w in _mixed_words(len(mats_a), len(mats_b), int(max_order))
    }


def freeness_defect(a_family, b_family, max_order: int = 4) -> float:
    r"""The largest modulus of a mixed free cumulant of order :math:`\le` ``max_order``.

    Zero (up to round-off) when the two families are free with respect to :math:`\frac1N\mathrm{tr}`;
    for asymptotically free random families it decays as :math:`N\to\infty`. The value scales
    with the matrices, so compare defects of normalised families (unit variance, say).

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> a = np.diag([1.0, -1.0, 1.0, -1.0])
    >>> rm.freeness_defect(a, a @ a @ a + a, max_order=2) > 1  # A and a function of A: not free
    True
    """
    cums = mixed_free_cumulants(a_family, b_family, max_order)
    return float(max(abs(v) for v in cums.values()))


@dataclass(frozen=True)
class FreenessSweep:
    r"""The result of :func:`asymptotic_freeness`: defects per size and the fitted decay exponent.

    Attributes
    ----------
    sizes : numpy.ndarray
        The matrix sizes :math:`N`.
    defects : numpy.ndarray
        ``(len(sizes), trials)`` freeness defects.
    exponent : float
        Least-squares slope :math:`\beta` of :math:`\log(\text{defect})` on :math:`\log N`.
    exponent_stderr : float
        Its standard error.
    ci : tuple of float
        The ``confidence`` two-sided Student-t interval for :math:`\beta`.
    intercept : float
        :math:`c` in :math:`\log(\text{defect}) \approx c + \beta\log N`.
    confidence : float
        Level of ``ci``.
    """

    sizes: np.ndarray
    defects: np.ndarray
    exponent: float
    exponent_stderr: float
    ci: tuple[float, float]
    intercept: float
    confidence: float

    @property
    def mean(self) -> np.ndarray:
        """Mean defect at each size."""
        return self.defects.mean(axis=1)

    @property
    def sem(self) -> np.ndarray:
        """Standard error of the mean defect at each size (0 for one trial)."""
        t = self.defects.shape[1]
        return self.defects.std(axis=1, ddof=1) / np.sqrt(t) if t > 1 else np.zeros(len(self.sizes))

    def fitted(self, n) -> np.ndarray:
        r"""The fitted geometric-mean defect :math:`e^{c} N^{\beta}`."""
        return np.exp(self.intercept) * np.asarray(n, dtype=float) ** self.exponent

    def plot(self, ax=None, label: str | None = None):
        """Log-log plot of every trial's defect, the per-size means and the fitted power law."""
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(5, 3.4), layout="constrained").subplots()
        reps = np.repeat(self.sizes, self.defects.shape[1])
        pts = ax.loglog(reps, self.defects.ravel(), ".", alpha=0.35)[0]
        lab = label or "defect"
        ax.loglog(self.sizes, self.mean, "o", color=pts.get_color(), label=f"{lab} (mean)")
        grid = np.geomspace(self.sizes[0], self.sizes[-1], 50)
        lo, hi = self.ci
        ax.loglog(grid, self.fitted(grid), "-", color=pts.get_color(),
                  label=f"fit N^{self.exponent:.2f}, {self.confidence:.0%} CI [{lo:.2f}, {hi:.2f}]")
        ax.set_xlabel("N")
        ax.set_ylabel("max |mixed free cumulant|")
        ax.legend(fontsize="small")
        return ax

    def to_frame(self):
        """The defects as a :class:`pandas.DataFrame`, one row per (size, trial).

        Columns ``N``, ``trial``, ``defect`` and ``fitted`` (the power law at that N); the fit is in
        ``frame.attrs`` (``exponent``, ``exponent_stderr``, ``ci``, ``confidence``). Needs pandas
        (``pip install 'freeprob[frame]'``).

        >>> import numpy as np, randmat as rm
        >>> sweep = rm.asymptotic_freeness(lambda n, rng: (rm.goe(n, rng), np.diag(np.linspace(-1, 1, n))),
        ...                                [20, 40], trials=2, rng=0, progress=False)
        >>> sweep.to_frame().shape
        (4, 4)
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover
            raise ImportError("to_frame needs pandas: pip install 'freeprob[frame]'") from exc
        t = self.defects.shape[1]
        n = np.repeat(self.sizes, t)
        frame = pd.DataFrame({"N": n, "trial": np.tile(np.arange(t), len(self.sizes)),
                              "defect": self.defects.ravel(), "fitted": self.fitted(n)})
        frame.attrs.update(exponent=self.exponent, exponent_stderr=self.exponent_stderr, ci=self.ci,
                           confidence=self.confidence)
        return frame

    def __str__(self) -> str:
        lo, hi = self.ci
        return (f"defect ~ N^{self.exponent:.3f} ± {self.exponent_stderr:.3f} "
                f"({self.confidence:.0%} CI [{lo:.3f}, {hi:.3f}]) over N = {self.sizes.tolist()}")


def _defect_trial(sample_fn, n: int, max_order: int, rng: np.random.Generator) -> float:
    fams = sample_fn(n, rng)
    try:
        a_fam, b_fam = fams
    except (TypeError, ValueError):
        raise ValueError("sample_fn(n, rng) must return a pair (a_family, b_family)") from None
    return freeness_defect(a_fam, b_fam, max_order)


class _Trial:
    """Picklable ``rng -> defect`` for one size (closures do not survive every backend)."""

    def __init__(self, sample_fn, n, max_order):
        self.sample_fn, self.n, self.max_order = sample_fn, n, max_order

    def __call__(self, rng):
        return _defect_trial(self.sample_fn, self.n, self.max_order, rng)


def asymptotic_freeness(
    sample_fn: Callable[[int, np.random.Generator], tuple],
    sizes: Sequence[int],
    trials: int = 8,
    max_order: int = 4,
    rng=None,
    n_jobs: int | None = None,
    progress: bool = True,
    confidence: float = 0.95,
) -> FreenessSweep:
    r"""Fit the decay exponent :math:`\beta` of the freeness defect, :math:`\text{defect} \propto N^{\beta}`.

    For each size :math:`N` in ``sizes``, ``trials`` independent draws
    ``a_family, b_family = sample_fn(N, rng)`` are made (through :func:`randmat.ensemble`), and
    :func:`freeness_defect` is computed. The pairs :math:`(\log N, \log \text{defect})` of all
    trials are fitted by ``scipy.stats.linregress``; the confidence interval is
    :math:`\hat\beta \pm t_{(1+c)/2,\,m-2}\,\mathrm{se}(\hat\beta)` over the :math:`m` points.

    Parameters
    ----------
    sample_fn : callable
        ``sample_fn(N, rng) -> (a_family, b_family)``.
    sizes : sequence of int
        Strictly increasing sizes, at least two.
    trials : int
        Trials per size; at least three points are needed in total.
    max_order : int
        Largest order of the mixed cumulants (``>= 2``).
    rng : None, int, SeedSequence or numpy.random.Generator
        Root seed; each size gets its own child stream.
    n_jobs : int or None
        Passed to :func:`randmat.ensemble`.
    progress : bool
        Show a progress bar per size (on stderr), as :func:`randmat.ensemble` does by default.
    confidence : float
        Level of the interval, in (0, 1).

    Returns
    -------
    FreenessSweep

    Examples
    --------
    >>> import numpy as np, randmat as rm
    >>> def pair(n, rng):
    ...     return rm.goe(n, rng), np.diag(np.linspace(-1, 1, n))
    >>> sweep = rm.asymptotic_freeness(pair, [40, 80, 160], trials=3, rng=0)
    >>> -1.5 < sweep.exponent < -0.6
    True
    """
    if not callable(sample_fn):
        raise ValueError(f"sample_fn must be callable as sample_fn(n, rng), got {sample_fn!r}")
    try:
        size_list = [check_dimension("sizes[i]", s) for s in sizes]
    except TypeError:
        raise ValueError("sizes must be a sequence of integers >= 1") from None
    if len(size_list) < 2:
        raise ValueError(f"sizes must contain at least two sizes, got {size_list}")
    if any(b <= a for a, b in zip(size_list, size_list[1:])):
        raise ValueError(f"sizes must be strictly increasing, got {size_list}")
    trials = check_dimension("trials", trials)
    if len(size_list) * trials < 3:
        raise ValueError("need at least 3 (size, trial) points to fit an exponent with a confidence interval; "
                         f"got {len(size_list)} sizes x {trials} trials")
    _check_max_order(max_order, 2)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    seeds = spawn_seeds(rng, len(size_list))
    defects = np.array([
        ensemble(_Trial(sample_fn, n, int(max_order)), trials, n_jobs=n_jobs, progress=progress,
                 rng=seed, desc=f"N={n}")
        for n, seed in zip(size_list, seeds)
    ], dtype=float)
    if np.any(defects <= 0):
        i, j = np.argwhere(defects <= 0)[0]
        raise ValueError(f"the defect is exactly 0 at N = {size_list[i]} (trial {j}); its decay exponent "
                         "is undefined (are the families scalar multiples of the identity?)")
    x = np.repeat(np.log(size_list), trials)
    y = np.log(defects).ravel()
    fit = stats.linregress(x, y)
    # at least 3 points were required above, so dof >= 1
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 2) * fit.stderr)
    return FreenessSweep(
        sizes=np.asarray(size_list),
        defects=defects,
        exponent=float(fit.slope),
        exponent_stderr=float(fit.stderr),
        ci=(float(fit.slope - half), float(fit.slope + half)),
        intercept=float(fit.intercept),
        confidence=float(confidence),
    )
