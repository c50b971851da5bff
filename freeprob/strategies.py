"""Hypothesis strategies for freeprob laws, for property-testing transforms and derivations.

The suite uses these to check, over random laws, that the Cauchy transform maps C⁺ into C⁻,
that total mass is 1, that R is additive under ⊞ and S multiplicative under ⊠; users test their
own code with the same machinery.  Parameters are drawn from ranges bounded away from degenerate
limits (variances in [0.1, 5], probabilities in [0.05, 0.95], ...) so that every drawn law is a
well-conditioned input for the numerical solvers; the ranges are stated on each strategy.

Needs the ``hypothesis`` package (``pip install 'freeprob[test]'``).

>>> from hypothesis import given, settings
>>> import freeprob as fp
>>> from freeprob import strategies as fst
>>> @settings(max_examples=10, deadline=None)  # the first draws may compile numba kernels
... @given(fst.laws())
... def check_mass(law):
...     assert abs(float(law.cdf(law.ppf(1.0))) - 1.0) < 1e-9
>>> check_mass()
"""
from __future__ import annotations

from hypothesis import strategies as st

from . import laws as _laws
from .law import Law
from .fuss_catalan import fuss_catalan
from .normal import normal

__all__ = ["laws", "atomic_laws", "boxplus_pairs", "boxtimes_pairs", "FAMILIES", "POSITIVE_FAMILIES"]

_var = st.floats(0.1, 5.0)
_loc = st.floats(-3.0, 3.0)
_ratio = st.floats(0.1, 4.0)
_prob = st.floats(0.05, 0.95)


@st.composite
def _interval(draw):
    a = draw(_loc)
    return a, a + draw(st.floats(0.2, 4.0))


@st.composite
def atomic_laws(draw, max_atoms: int = 5, positive: bool = False) -> Law:
    """Discrete laws with 1..``max_atoms`` distinct atoms in [−5, 5] (or [0.1, 5] when
    ``positive``) and random weights, each at least 0.02."""
    lo = 0.1 if positive else -5.0
    pts = draw(st.lists(st.floats(lo, 5.0).map(lambda x: round(x, 3)), min_size=1,
                        max_size=max_atoms, unique=True))
    raw = draw(st.lists(st.floats(1.0, 50.0), min_size=len(pts), max_size=len(pts)))
    total = sum(raw)
    return _laws.atoms(pts, [r / total for r in raw])


#: strategy builders for every built-in family, laws on the whole line allowed
FAMILIES = {
    "semicircle": st.builds(_laws.semicircle, var=_var, mean=_loc),
    "marchenko_pastur": st.builds(_laws.marchenko_pastur, ratio=_ratio, var=_var),
    "free_poisson": st.builds(_laws.free_poisson, rate=_ratio, jump=_var),
    "arcsine": _interval().map(lambda ab: _laws.arcsine(*ab)),
    "uniform": _interval().map(lambda ab: _laws.uniform(*ab)),
    "bernoulli": st.builds(_laws.bernoulli, p=_prob),
    "kesten_mckay": st.builds(_laws.kesten_mckay, d=st.floats(2.0, 8.0)),
    "fuss_catalan": st.builds(fuss_catalan, s=st.floats(0.5, 3.0)),
    "normal": st.builds(normal, mean=_loc, var=_var),
    "atoms": atomic_laws(),
}

#: families on [0, inf) with nonzero mean (inputs of ⊠ and of the S-transform)
POSITIVE_FAMILIES = {
    "marchenko_pastur": FAMILIES["marchenko_pastur"],
    "free_poisson": FAMILIES["free_poisson"],
    "bernoulli": FAMILIES["bernoulli"],
    "fuss_catalan": FAMILIES["fuss_catalan"],
    "uniform": st.floats(0.0, 2.0).flatmap(lambda a: st.floats(a + 0.2, a + 4.0).map(lambda b: _laws.uniform(a, b))),
    "atoms": atomic_laws(positive=True),
}


def laws(families: list[str] | None = None, positive: bool = False) -> st.SearchStrategy:
    """Random laws from the named ``families`` (default: all; see :data:`FAMILIES`).

    With ``positive=True`` only laws on [0, ∞) with nonzero mean are drawn
    (:data:`POSITIVE_FAMILIES`).
    """
    table = POSITIVE_FAMILIES if positive else FAMILIES
    names = list(table) if families is None else list(families)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"families must be a subset of {sorted(table)}, got unknown {unknown}")
    return st.one_of(*[table[n] for n in names])


# ⊞ inputs: compactly supported families with fast closed-form Cauchy transforms
_BOXPLUS = ["semicircle", "marchenko_pastur", "arcsine", "uniform", "bernoulli", "kesten_mckay", "atoms"]


def boxplus_pairs(families: list[str] | None = None) -> st.SearchStrategy:
    """Pairs ``(mu, nu)`` of compactly supported laws for ⊞ (default families: closed forms)."""
    s = laws(families or _BOXPLUS)
    return st.tuples(s, s)


def boxtimes_pairs(families: list[str] | None = None) -> st.SearchStrategy:
    """Pairs ``(mu, nu)`` of laws on [0, ∞) with nonzero mean, for ⊠."""
    s = laws(families or ["marchenko_pastur", "free_poisson", "bernoulli", "uniform", "atoms"], positive=True)
    return st.tuples(s, s)
