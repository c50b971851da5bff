"""free_power(μ, t) = μ^{⊞t} against closed forms: semicircle, free Poisson, Kesten–McKay for real t."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import freeprob as fp
from freeprob.free_power import FreePower, free_power

SYM_BERN = fp.atoms([-1.0, 1.0], [0.5, 0.5])


@pytest.mark.parametrize("t", [1.5, 2.0, 3.7])
def test_semicircle_power_is_semicircle(t):
    rho = free_power(fp.semicircle(0.8, mean=0.3), t)
    ref = fp.semicircle(0.8 * t, mean=0.3 * t)
    x = np.linspace(*ref.support, 45)[1:-1]
    assert np.max(np.abs(rho.pdf(x) - ref.pdf(x))) < 1e-8
    assert rho.support == pytest.approx(ref.support, abs=1e-9 * max(np.abs(ref.support)))
    z = np.array([0.2 + 0.3j, -1.0 + 0.01j, 3.0 + 2.0j])
    assert np.max(np.abs(rho.cauchy(z) - ref.cauchy(z))) < 1e-12


@pytest.mark.parametrize("lam, t", [(0.3, 2.0), (0.3, 1.5), (1.4, 2.5)])
def test_free_poisson_rate_scales(lam, t):
    """free_poisson(λ, α)^{⊞t} = free_poisson(λt, α), with its atom 1 − λt at 0 when λt < 1."""
    rho = free_power(fp.free_poisson(lam, 2.0), t)
    ref = fp.free_poisson(lam * t, 2.0)
    pts, w = rho.atoms
    if lam * t < 1:
        assert pts.tolist() == [0.0] and w[0] == pytest.approx(1 - lam * t, abs=1e-14)
    else:
        assert len(pts) == 0
    a, b = 2.0 * (1 - np.sqrt(lam * t)) ** 2, 2.0 * (1 + np.sqrt(lam * t)) ** 2
    assert rho.intervals[0] == pytest.approx((a, b), abs=1e-9 * b)
    x = np.linspace(a, b, 40)[1:-1]
    assert np.max(np.abs(rho.pdf(x) - ref.pdf(x))) < 1e-8


@pytest.mark.parametrize("t", [1.25, 1.5, 2.0, 2.5, 3.0, 5.25])
def test_bernoulli_power_is_kesten_mckay_for_real_t(t):
    """Symmetric Bernoulli^{⊞t}: density t·sqrt(4(t−1) − x²)/(2π(t² − x²)) (t = 2: arcsine),
    plus atoms 1 − t/2 at ±t when t < 2."""
    rho = free_power(SYM_BERN, t)
    r = 2 * np.sqrt(t - 1)
    x = np.linspace(-0.97 * r, 0.97 * r, 31)
    km = t * np.sqrt(4 * (t - 1) - x**2) / (2 * np.pi * (t**2 - x**2))
    assert np.max(np.abs(rho.pdf(x) - km)) < 1e-8
    assert len(rho.intervals) == 1
    assert np.max(np.abs(np.array(rho.intervals[0]) - [-r, r])) < 1e-9 * r
    pts, w = rho.atoms
    if t < 2:
        assert pts.tolist() == [-t, t] and w.tolist() == pytest.approx([1 - t / 2] * 2, abs=1e-14)
        assert rho.support == (-t, t)
    else:
        assert len(pts) == 0  # t·½ − (t − 1) ≤ 0
        assert rho.support == pytest.approx((-r, r), abs=1e-9 * r)
    if t == 2.0:
        assert np.max(np.abs(rho.pdf(x) - fp.arcsine(-2, 2).pdf(x))) < 1e-8


def test_atom_of_a_power():
    """μ^{⊞t}({ta}) = tμ({a}) − (t − 1): atoms(0: 0.8, 1: 0.2)^{⊞1.5} has mass 0.7 at 0."""
    rho = free_power(fp.atoms([0.0, 1.0], [0.8, 0.2]), 1.5)
    pts, w = rho.atoms
    assert pts.tolist() == [0.0] and w[0] == pytest.approx(0.7, abs=1e-14)
    assert all(not (lo <= 0 <= hi) for lo, hi in rho.intervals)
    y = 1e-8
    assert abs(complex(1j * y * rho.cauchy(1j * y)) - 0.7) < 1e-6


def test_integer_power_is_the_nary_boxplus():
    mu = fp.atoms([0.0, 1.0, 3.0], [0.2, 0.5, 0.3])
    rho = fp.boxplus(mu, mu, mu)
    assert isinstance(rho, FreePower) and rho.t == 3
    nested = fp.boxplus(fp.boxplus(mu, mu), mu)  # solved by nested subordination (numpy path)
    z = np.array([0.5 + 0.2j, 4.0 + 0.05j, 8.0 + 1j])
    assert np.max(np.abs(rho.cauchy(z) - nested.cauchy(z))) < 1e-9


def test_semigroup_through_the_numpy_path():
    mu = fp.atoms([0.0, 1.0], [0.3, 0.7])
    inner = free_power(mu, 1.5)
    outer = free_power(inner, 2.0)  # a power of a solver-backed law: numpy path
    assert outer._compiled is None
    z = np.array([0.3 + 0.01j, 1.0 + 0.5j, 2.9 + 0.02j])
    assert np.max(np.abs(outer.cauchy(z) - free_power(mu, 3.0).cauchy(z))) < 1e-9


def test_free_power_one_and_bad_input():
    mu = fp.semicircle()
    assert free_power(mu, 1) is mu
    with pytest.raises(ValueError, match=r"t must lie in \[1, inf\)"):
        free_power(mu, 0.5)
    with pytest.raises(ValueError, match="t must be a real number"):
        free_power(mu, "two")
    with pytest.raises(ValueError, match="mu must be a freeprob Law"):
        free_power(3.0, 2.0)


atomic = st.integers(1, 4).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-2, 2), min_size=k, max_size=k, unique=True),
        st.lists(st.floats(0.05, 1), min_size=k, max_size=k),
    )
)


@settings(max_examples=15)
@given(atomic, st.floats(1.0, 4.0), st.floats(-3, 3), st.floats(0.05, 2))
def test_power_properties(a, t, x, y):
    pts, w = a
    mu = fp.atoms(pts, np.array(w) / np.sum(w))
    rho = FreePower(mu, t)  # also at t = 1, where free_power would return mu itself
    z = np.array([x + 1j * y])
    g = rho.cauchy(z)
    assert g.imag[0] < 0
    # subordination: G = G_μ(ω) with ω = z + (t − 1)(1/G_μ(ω) − ω)
    om, _ = rho.subordination(z)
    gm = mu.cauchy(om[0])
    assert abs(gm - g[0]) < 1e-12
    assert abs(om[0] - (z[0] + (t - 1) * (1 / gm - om[0]))) < 1e-9 * max(1, abs(om[0]))
    # R-transform scales by t (generic inverse of the solver's G against the closed atoms)
    ww = np.array([0.02 + 0.01j, -0.01 + 0.004j])
    assert np.allclose(fp.Law.r_transform(rho, ww), t * mu.r_transform(ww), atol=1e-8)


def _compressed_spectrum(points, weights, n, t, rng):
    """Eigenvalues of t·(P O A Oᵀ P) on the range of P (rank n/t), A diagonal with the atoms, O Haar.

    Nica–Speicher: compressing by a free projection of trace 1/t and rescaling by t gives μ^{⊞t}.
    """
    counts = np.round(np.array(weights) * n).astype(int)
    counts[-1] = n - counts[:-1].sum()
    a = np.repeat(points, counts)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    o = q * np.sign(np.diag(r))  # Haar orthogonal (Mezzadri's sign correction)
    k = int(round(n / t))
    b = (o[:k] * a) @ o[:k].T
    return t * np.linalg.eigvalsh(b), k


def _ks(eigs, law):
    e = np.sort(eigs)
    c = law.cdf(e)
    n = e.size
    return float(max(np.max(np.arange(1, n + 1) / n - c), np.max(c - np.arange(n) / n)))


@pytest.mark.parametrize("n", [pytest.param(400, id="fast"), pytest.param(3000, id="slow", marks=pytest.mark.slow)])
def test_power_matches_compressed_random_matrices(n):
    """KS distance between the compressed spectrum and μ^{⊞t} shrinks like 1/k (k = n/t eigenvalues);
    the tolerance 4/k is a few times what finite-size effects leave at these sizes."""
    pts, w, t = [0.0, 1.0, 3.0], [0.5, 0.3, 0.2], 2.5
    rho = free_power(fp.atoms(pts, w), t)
    eigs, k = _compressed_spectrum(pts, w, n, t, np.random.default_rng(7))
    assert _ks(eigs, rho) < 4.0 / k
