"""Properties over random laws drawn by freeprob.strategies (the strategies users get)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import freeprob as fp
from freeprob import strategies as fst
from freeprob.combinatorics import free_cumulants_to_moments


@given(fst.laws(), st.floats(-6, 6), st.floats(1e-2, 4))
def test_cauchy_maps_upper_half_plane_to_lower(law, x, y):
    g = complex(law.cauchy(complex(x, y)))
    assert g.imag < 0
    assert abs(g) <= 1 / y + 1e-12          # |G(z)| ≤ 1/Im z for any probability measure


@given(fst.laws())
def test_total_mass_one(law):
    a, b = law.support
    lo = law.ppf(1e-12) if not np.isfinite(a) else a
    hi = law.ppf(1 - 1e-12) if not np.isfinite(b) else b
    assert law.cdf(hi) == pytest.approx(1.0, abs=1e-9)
    assert law.cdf(lo - 1e-9 * max(1, abs(lo))) == pytest.approx(0.0, abs=1e-9)
    # y·|Im G(x + iy)| → total mass as y → ∞
    y = 1e7 * (1 + abs(lo) + abs(hi))
    assert complex(law.cauchy(0.5 * (lo + hi) + 1j * y)).imag * -y == pytest.approx(1.0, rel=1e-9)


@given(fst.laws(families=["semicircle", "marchenko_pastur", "free_poisson", "arcsine", "uniform",
                          "bernoulli", "kesten_mckay", "fuss_catalan", "normal", "atoms"]))
def test_moment_cumulant_round_trip(law):
    m = law.moments(6)
    k = law.free_cumulants(6)
    assert np.allclose(free_cumulants_to_moments(k), m, rtol=1e-9, atol=1e-9)


@settings(max_examples=10)
@given(fst.boxplus_pairs(), st.floats(0.02, 0.1))
def test_r_transform_additive(pair, t):
    mu, nu = pair
    spread = max(abs(v) for v in (*mu.support, *nu.support)) + 1
    w = -1j * t / spread                     # 1/w far up in C⁺: inside every R-domain
    z = complex(mu.r_transform(w) + nu.r_transform(w) + 1 / w)
    # G_{μ⊞ν}(R_μ(w) + R_ν(w) + 1/w) = w  ⇔  R_{μ⊞ν} = R_μ + R_ν
    assert complex(fp.boxplus(mu, nu).cauchy(z)) == pytest.approx(w, rel=1e-8)


@settings(max_examples=10)
@given(fst.boxtimes_pairs(), st.floats(-0.04, -0.01), st.floats(0.005, 0.02))
def test_s_transform_multiplicative(pair, a, b):
    mu, nu = pair
    # |w| < 0.05 keeps w inside ψ's range for every drawn law: a law with mass p off 0 has
    # ψ((−∞, 0)) = (−p, 0), and the strategies draw p ≥ 0.05
    w = complex(a, b)
    u = complex(mu.s_transform(w) * nu.s_transform(w)) * w / (1 + w)
    # ψ_{μ⊠ν}(u) = w  with u = χ_{μ⊠ν}(w) = S_μ(w) S_ν(w) w/(1+w)
    law = fp.boxtimes(mu, nu)
    psi = complex(law.cauchy(1 / u)) / u - 1
    assert psi == pytest.approx(w, rel=1e-7)


def test_strategy_validation():
    with pytest.raises(ValueError, match="families must be a subset"):
        fst.laws(families=["gaussian_orthogonal"])
