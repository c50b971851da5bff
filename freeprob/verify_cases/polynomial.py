r"""Polynomials in free variables (linearization + operator-valued subordination) against
random matrices (independent GOE samples are asymptotically free), the core's scalar
free convolutions and exact rational moments."""
from __future__ import annotations

import numpy as np

import freeprob as fp

from freeprob.verify import Case, Result, register
from freeprob.verify.figure import new_figure

from freeprob.polynomial import free_variables, polynomial_law


def _goe(n: int, rng: np.random.Generator) -> np.ndarray:
    # written here from the definition (not from randmat): symmetric Gaussian, semicircle(var=1) limit
    g = rng.standard_normal((n, n))
    return (g + g.T) / np.sqrt(2 * n)


def _ks(e: np.ndarray, c: np.ndarray) -> float:
    """KS distance of the sorted sample ``e`` to a continuous law whose cdf at ``e`` is ``c``."""
    n = len(e)
    return float(max(np.max(np.arange(1, n + 1) / n - c), np.max(c - np.arange(n) / n)))


def _ks_tolerance(n: int) -> float:
    return (1.0 + np.log(n)) / n


_TABLE_NODES = 801   # cdf table: Simpson on cos-graded nodes, ~1e-6 (measured against the exact cdf)
_TABLE_CHECKS = (0.2, 0.5, 0.8)  # fractions of the hull where the table meets the exact contour cdf


def _cdf_table(law):
    r"""The law's cdf tabulated from its density: :math:`x = a + (b-a)(1-\cos\theta)/2`, cumulative
    Simpson in θ (absorbs the square-root edges), and its largest error found against the exact
    contour-integral cdf at a few points and against total mass 1.

    The exact cdf costs ~0.4 s a point (a contour integral of G), the density ~1.5 ms: at the 200
    eigenvalues of the quick size the exact cdf alone took 40–55 s a case.
    """
    from scipy.integrate import cumulative_simpson

    a, b = law.support
    th = np.linspace(0.0, np.pi, _TABLE_NODES)
    xs = a + 0.5 * (b - a) * (1.0 - np.cos(th))
    dens = np.asarray(law.pdf(xs), dtype=float)
    cum = cumulative_simpson(dens * 0.5 * (b - a) * np.sin(th), x=th, initial=0.0)
    checks = a + (b - a) * np.asarray(_TABLE_CHECKS)
    err = max(abs(cum[-1] - 1.0), float(np.max(np.abs(np.interp(checks, xs, cum) - law.cdf(checks)))))
    return xs, dens, cum, err


def _poly_vs_goe(label, build, sample):
    def run(size: int, rng: np.random.Generator) -> Result:
        law = build()
        e = np.linalg.eigvalsh(sample(size, rng))   # sorted
        xs, dens, cum, table_err = _cdf_table(law)
        c = np.interp(e, xs, cum, left=0.0, right=cum[-1])
        ks = _ks(e, c)
        fig, (ax1, ax2) = new_figure(2)
        a, b = law.support
        ax1.hist(e, bins=60, density=True, alpha=0.5, label=f"eigenvalues, N = {size}")
        ax1.plot(xs, dens, "k", label="freeprob.polynomial")
        ax1.legend(fontsize="small"); ax1.set_xlabel("x")
        ax2.step(e, np.arange(1, size + 1) / size, where="post", label="empirical CDF")
        ax2.plot(xs, cum, "k--", label="predicted CDF")
        ax2.legend(fontsize="small"); ax2.set_xlabel("x")
        fig.suptitle(label)
        # the table's error is added to the distance, so an inaccurate table cannot pass a case
        return Result(prediction=f"law of {label} by linearization (pencil size {law.pencil.size}), support "
                                 f"[{a:.4f}, {b:.4f}]; cdf tabulated from its density ({_TABLE_NODES} nodes, "
                                 f"error {table_err:.1g} against the exact cdf and mass 1)",
                      measurement=f"eigenvalues of the same polynomial in independent GOE({size}); KS = {ks:.3g}",
                      distance=ks + table_err, figure=fig)
    return run


_x, _y, _d = free_variables("x y d")
_SC = fp.semicircle()

register(Case(
    name="polynomial_anticommutator_goe",
    title="Anticommutator xy + yx of free semicirculars: linearization + operator-valued semicircle vs GOE",
    how="eigenvalues of X1 X2 + X2 X1 for independent GOE matrices (plain numpy), asymptotically free",
    metric="KS distance (+ the cdf table's error)",
    tolerance=_ks_tolerance,
    run=_poly_vs_goe("xy + yx", lambda: polynomial_law(_x * _y + _y * _x, {_x: _SC, _y: _SC}),
                     lambda n, rng: (lambda a, b: a @ b + b @ a)(_goe(n, rng), _goe(n, rng))),
    quick_size=200, full_size=3000, topic="polynomials",
))

register(Case(
    name="polynomial_quadratic_goe",
    title="p = x² + xy + yx of free semicirculars vs GOE",
    how="eigenvalues of X1² + X1 X2 + X2 X1 for independent GOE matrices (plain numpy)",
    metric="KS distance (+ the cdf table's error)",
    tolerance=_ks_tolerance,
    run=_poly_vs_goe("x² + xy + yx", lambda: polynomial_law(_x**2 + _x * _y + _y * _x, {_x: _SC, _y: _SC}),
                     lambda n, rng: (lambda a, b: a @ a + a @ b + b @ a)(_goe(n, rng), _goe(n, rng))),
    quick_size=200, full_size=3000, topic="polynomials",
))

def _run_compression(size: int, rng: np.random.Generator) -> Result:
    p = 0.4
    law = polynomial_law(_x * _d * _x, {_x: _SC, _d: fp.bernoulli(p)})
    ref = fp.boxtimes(fp.marchenko_pastur(1), fp.bernoulli(p))
    lo, hi = (1 - np.sqrt(p)) ** 2, (1 + np.sqrt(p)) ** 2
    xs = np.linspace(lo + 0.01, hi - 0.01, size)
    d1, d2 = law.pdf(xs), ref.pdf(xs)
    dist = float(np.max(np.abs(d1 - d2)))
    fig, (ax,) = new_figure()
    ax.plot(xs, d1, label="x·d·x by matrix-valued subordination")
    ax.plot(xs[::5], d2[::5], "k.", label="MP(1) ⊠ Bernoulli(0.4) (core boxtimes)")
    ax.set_xlabel("x"); ax.legend(fontsize="small")
    ax.set_title("free compression x·d·x, d ~ Bernoulli(0.4)")
    return Result(prediction=f"density of x·d·x on {size} points of the bulk [{xs[0]:.3f}, {xs[-1]:.3f}]",
                  measurement="scalar ⊠ subordination of MP(1) and Bernoulli(0.4)",
                  distance=dist, figure=fig)

register(Case(
    name="polynomial_compression_boxtimes",
    title="x·d·x with x semicircular, d Bernoulli(0.4): operator-valued subordination equals MP(1) ⊠ Bernoulli(0.4)",
    how="the core's scalar boxtimes (a different algorithm), x² ~ MP(1) and tracial cyclicity",
    metric="max |density difference| on the bulk",
    tolerance=1e-8,
    run=_run_compression,
    quick_size=40, full_size=300, topic="polynomials",
))

def _run_moments(size: int, rng: np.random.Generator) -> Result:
    p = _x * _y * _x + _x**3 - _y + 2 * (_x * _y + _y * _x)
    law = polynomial_law(p, {_x: _SC, _y: fp.semicircle(var=0.5)})
    exact = np.array([float(m) for m in law.exact_moments(size)])
    solver = law.solver_moments(size)
    rel = np.abs(solver - exact) / np.maximum(1.0, np.abs(exact))
    fig, (ax,) = new_figure()
    k = np.arange(1, size + 1)
    ax.semilogy(k, np.abs(exact), "k+", ms=10, label="exact (free cumulants, rationals)")
    ax.semilogy(k, np.abs(solver), "o", mfc="none", label="solver (contour integral of G)")
    ax.set_xlabel("k"); ax.set_ylabel("|m_k|"); ax.legend(fontsize="small")
    ax.set_title("m_k of xyx + x³ − y + 2(xy + yx)")
    return Result(prediction=f"m_1..m_{size} from the solver (m_{size} = {solver[-1]:.10g})",
                  measurement=f"exact moment–cumulant recursion over non-crossing partitions (m_{size} = {exact[-1]:.10g})",
                  distance=float(rel.max()), figure=fig)

register(Case(
    name="polynomial_moments",
    title="Moments of a cubic polynomial: solver (pencil size 7) equals the exact noncommutative moment formula",
    how="exact rational moments from free cumulants (independent of the solvers)",
    metric="max relative error",
    tolerance=1e-8,
    run=_run_moments,
    quick_size=6, full_size=8, topic="polynomials",
))
