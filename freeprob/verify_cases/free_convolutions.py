r"""Free convolutions solved by subordination against independent truths: the roots of the
algebraic equation at 30 digits (mpmath), its discriminant (sympy) for the support edges, and
closed-form densities and atoms (Kesten–McKay for real powers, free projections)."""
from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

import freeprob as fp
from freeprob.free_power import free_power

from freeprob.verify import Case, Result, register
from freeprob.verify.figure import new_figure


def _cubic_density_mp(x: float) -> float:
    """semicircle(1) ⊞ MP(ratio 0.5): G³ − (z+2)G² + (2z−1)G − 2 = 0; −Im/π of the root with Im < 0."""
    with mpmath.workdps(30):
        z = mpmath.mpf(x)
        roots = mpmath.polyroots([1, -(z + 2), 2 * z - 1, -2], maxsteps=200, extraprec=60)
        return max(0.0, max(-float(mpmath.im(r)) for r in roots)) / np.pi


def _run_sum_edges(size: int, rng: np.random.Generator) -> Result:
    rho = fp.boxplus(fp.semicircle(1.0), fp.marchenko_pastur(0.5))
    lo, hi = rho.support
    x = np.sort(rng.uniform(-2.0, 4.5, size))
    dens = rho.pdf(x)
    ref = np.array([_cubic_density_mp(float(v)) for v in x])
    d_err = float(np.max(np.abs(dens - ref)))
    G, Z = sp.symbols("G Z")
    disc = sp.Poly(sp.discriminant(G**3 - (Z + 2) * G**2 + (2 * Z - 1) * G - 2, G), Z)
    real = sorted(float(sp.re(r)) for r in disc.nroots(n=30) if abs(sp.im(r)) < 1e-20)
    e_err = max(min(abs(e - r) for r in real) for e in (lo, hi))
    fig, (ax,) = new_figure()
    xs = np.linspace(-2.0, 4.5, 400)
    ax.plot(xs, rho.pdf(xs), label="freeprob (subordination)")
    ax.plot(x, ref, "k.", ms=4, label="cubic root, mpmath 30 digits")
    for r in real:
        ax.axvline(r, color="grey", lw=0.6, ls=":")
    ax.axvline(lo, color="r", lw=0.8, ls="--", label="located edges")
    ax.axvline(hi, color="r", lw=0.8, ls="--")
    ax.set_xlabel("x"); ax.set_ylabel("density"); ax.legend(fontsize="small")
    ax.set_title("semicircle(1) ⊞ marchenko_pastur(0.5)")
    return Result(prediction=f"density at {size} random points; support ({lo:.12f}, {hi:.12f})",
                  measurement=f"cubic's root (max density error {d_err:.1e}); discriminant roots "
                              f"{', '.join(f'{r:.12f}' for r in real)} (edge error {e_err:.1e})",
                  distance=max(d_err, e_err), figure=fig)


register(Case(
    name="boxplus_density_and_edges",
    title="semicircle ⊞ Marchenko–Pastur: density equals the cubic's root and the located support "
          "edges are the real roots of its discriminant",
    how="mpmath.polyroots of G³ − (z+2)G² + (2z−1)G − 2 at 30 digits; sympy discriminant in G",
    metric="max(|density − root density|, |edge − discriminant root|)",
    tolerance=1e-9,
    run=_run_sum_edges,
    quick_size=60, full_size=600, topic="free convolutions",
))


def _run_power_kesten_mckay(size: int, rng: np.random.Generator) -> Result:
    ts = [1.5, 2.5, 4.0]
    worst = 0.0
    fig, (ax,) = new_figure()
    bern = fp.atoms([-1.0, 1.0], [0.5, 0.5])
    for t in ts:
        rho = free_power(bern, t)
        r = 2 * np.sqrt(t - 1)
        x = np.sort(rng.uniform(-r, r, size))
        km = t * np.sqrt(np.clip(4 * (t - 1) - x**2, 0, None)) / (2 * np.pi * (t**2 - x**2))
        # for t < 2 the atoms ±1 survive as atoms at ±t of mass t/2 − (t − 1) = 1 − t/2
        pts, w = rho.atoms
        a_exp = ([-t, t], [1 - t / 2] * 2) if t < 2 else ([], [])
        a_err = (float(np.max(np.abs(np.r_[pts - a_exp[0], w - a_exp[1]]), initial=0.0))
                 if len(pts) == len(a_exp[0]) else float("inf"))
        worst = max(worst, a_err, float(np.max(np.abs(rho.pdf(x) - km))),
                    float(np.max(np.abs(np.array(rho.intervals) - [-r, r]))))
        xs = np.linspace(-r, r, 300)
        ax.plot(xs, rho.pdf(xs), label=f"free_power(Bernoulli ±1, {t})")
        ax.plot(x[::max(1, size // 25)], km[::max(1, size // 25)], "k.", ms=4)
    ax.plot([], [], "k.", label="Kesten–McKay closed form")
    ax.set_xlabel("x"); ax.set_ylabel("density"); ax.legend(fontsize="small")
    return Result(prediction=f"density of Bernoulli^(⊞t), t in {ts}, at {size} points each, and the support",
                  measurement="t·sqrt(4(t−1) − x²)/(2π(t² − x²)) on [−2√(t−1), 2√(t−1)], "
                              "atoms 1 − t/2 at ±t for t < 2",
                  distance=worst, figure=fig)

register(Case(
    name="free_power_kesten_mckay",
    title="Free convolution powers of a symmetric Bernoulli law for real t are Kesten–McKay laws",
    how="closed-form Kesten–McKay density and edges ±2√(t−1), valid for every real t ≥ 1 "
        "(plus atoms 1 − t/2 at ±t when t < 2)",
    metric="max of |density − closed form|, |edge − 2√(t−1)|, |atom error|",
    tolerance=1e-8,
    run=_run_power_kesten_mckay,
    quick_size=50, full_size=500, topic="free convolutions",
))


def _run_free_projections(size: int, rng: np.random.Generator) -> Result:
    p, q = 0.3, 0.6
    rho = fp.boxtimes(fp.bernoulli(p), fp.bernoulli(q))
    pts, w = rho.atoms
    expect = np.array([max(1 - p, 1 - q)])  # atom at 0; none at 1 since p + q ≤ 1
    a_err = float(np.max(np.abs(w - expect))) if pts.tolist() == [0.0] else float("inf")
    s = np.sqrt(4 * p * q * (1 - p) * (1 - q))
    rm, rp = p + q - 2 * p * q - s, p + q - 2 * p * q + s
    x = np.sort(rng.uniform(rm, rp, size))
    closed = np.sqrt((x - rm) * (rp - x)) / (2 * np.pi * x * (1 - x))
    d_err = float(np.max(np.abs(rho.pdf(x) - closed)))
    e_err = float(np.max(np.abs(np.array(rho.intervals[0]) - [rm, rp])))
    fig, (ax,) = new_figure()
    xs = np.linspace(0, 1, 500)
    ax.plot(xs, rho.pdf(xs), label="freeprob density")
    ax.plot(x, closed, "k.", ms=3, label="closed form")
    ax.vlines(pts, 0, w, colors="C1", lw=2, label="atoms (freeprob)")
    ax.set_xlabel("x"); ax.legend(fontsize="small"); ax.set_title(f"Bern({p}) ⊠ Bern({q})")
    return Result(prediction=f"atoms {pts.tolist()} masses {w.tolist()}; density at {size} points; "
                             f"edges {rho.intervals[0]}",
                  measurement=f"atom 1 − min(p, q) = {expect[0]}; sqrt((x−r₋)(r₊−x))/(2πx(1−x)), "
                              f"r± = {rm:.12f}, {rp:.12f}",
                  distance=max(a_err, d_err, e_err), figure=fig)


register(Case(
    name="free_projections_atoms",
    title="Free projections: Bern(p) ⊠ Bern(q) has the atoms of Bercovici–Voiculescu and the closed-form density",
    how="closed form of the law of PQP for free projections (atom max(1−p, 1−q) at 0, density on [r₋, r₊])",
    metric="max(|atom error|, |density error|, |edge error|)",
    tolerance=1e-8,
    run=_run_free_projections,
    quick_size=60, full_size=600, topic="free convolutions",
))
