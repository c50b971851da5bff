r"""The symbolic layer against the numeric one: densities of free convolutions from the polynomial
method (resultants, then Cardano's formula) against subordination solvers that never see a
polynomial."""
from __future__ import annotations

import numpy as np

import freeprob as fp

from freeprob.verify import Case, Result, register
from freeprob.verify.figure import new_figure

import freeprob.symbolic as fs


def _compare(sym_law, num_law, size: int, title: str, margin: float = 0.02):
    dens = sym_law.density()
    edges = [float(e) for e in dens.edges]
    a, b = edges[0], edges[-1]
    pad = margin * (b - a)
    x = np.linspace(a - pad, b + pad, size)
    rho_sym = dens(x)
    rho_num = num_law.pdf(x)
    dist = float(np.max(np.abs(rho_sym - rho_num)))
    fig, axes = new_figure(2)
    axes[0].plot(x, rho_sym, label="symbolic: Cardano on the resultant cubic")
    axes[0].plot(x, rho_num, "k.", ms=3, label="numeric subordination")
    for e in edges:
        axes[0].axvline(e, color="grey", lw=0.6, ls=":")
    axes[0].set_xlabel("x"); axes[0].set_ylabel("density"); axes[0].legend(fontsize="x-small")
    axes[0].set_title(title, fontsize="small")
    axes[1].semilogy(x, np.maximum(np.abs(rho_sym - rho_num), 1e-17))
    axes[1].set_xlabel("x"); axes[1].set_ylabel("|difference|")
    return dist, edges, fig


def _result(sym, num, size: int, title: str, route: str) -> Result:
    dist, edges, fig = _compare(sym, num, size, title)
    return Result(prediction=f"polynomial {sym.polynomial} = 0, density by Cardano, exact edges "
                             f"[{edges[0]:.10g}, {edges[-1]:.10g}]",
                  measurement=f"{route} subordination density at {size} points", distance=dist, figure=fig)


def _run_boxplus(size: int, rng: np.random.Generator) -> Result:
    # random rational parameters, so the case checks more than one fixed example
    v = int(rng.integers(1, 6)) / 4
    lam = int(rng.integers(2, 9)) / 4
    return _result(fs.boxplus(fs.semicircle(var=v), fs.free_poisson(rate=lam)),
                   fp.boxplus(fp.semicircle(var=v), fp.free_poisson(rate=lam)), size,
                   f"semicircle(var={v}) ⊞ free_poisson(rate={lam})", "fp.boxplus")

register(Case(
    name="symbolic_boxplus_density",
    title="Polynomial method: density of semicircle ⊞ free Poisson from the resultant equals subordination",
    how="freeprob.boxplus (Belinschi–Bercovici fixed point with Newton polishing), which never forms "
        "a polynomial; evaluated on a grid covering the exact support edges",
    metric="max |ρ_symbolic − ρ_numeric|",
    tolerance=1e-7,
    run=_run_boxplus,
    quick_size=101, full_size=2001, topic="symbolic",
))

def _run_boxtimes(size: int, rng: np.random.Generator) -> Result:
    l1 = int(rng.integers(4, 9)) / 4
    l2 = int(rng.integers(4, 9)) / 4
    return _result(fs.boxtimes(fs.free_poisson(rate=l1), fs.free_poisson(rate=l2)),
                   fp.boxtimes(fp.free_poisson(rate=l1), fp.free_poisson(rate=l2)), size,
                   f"free_poisson({l1}) ⊠ free_poisson({l2})", "fp.boxtimes")

register(Case(
    name="symbolic_boxtimes_density",
    title="Polynomial method: density of free Poisson ⊠ free Poisson from the S-resultant equals subordination",
    how="freeprob.boxtimes (multiplicative subordination), which never forms a polynomial",
    metric="max |ρ_symbolic − ρ_numeric|",
    tolerance=1e-7,
    run=_run_boxtimes,
    quick_size=101, full_size=1001, topic="symbolic",
))
