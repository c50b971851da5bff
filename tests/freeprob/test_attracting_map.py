"""The Denjoy–Wolff test of the ⊞/⊠ sweep for many laws: eigenvalues of the map's derivative
M = s(1 (k∘D)ᵀ − diag D) inside the unit disc, counted by the argument principle in O(n) (the
eigenvalues of the n×n matrix made ⊞ of n laws cost ~n² per grid point).  Truth: numpy's
eigenvalues of the same matrix."""
import numpy as np
import pytest

import freeprob as fp
from freeprob.convolution import _EIG_MAX, _inside_disc_count_nb


@pytest.mark.parametrize("mode", ["spread", "poles-near-circle", "small-weights"])
def test_disc_count_matches_eigenvalues(mode):
    rng = np.random.default_rng({"spread": 0, "poles-near-circle": 1, "small-weights": 2}[mode])
    R = 1.0 + 1e-6
    checked = 0
    for trial in range(400):
        n = int(rng.integers(_EIG_MAX + 1, 50))
        s = 1.0 if trial % 2 else -1.0
        ks = rng.integers(1, 4, n).astype(float)
        if mode == "spread":
            D = (rng.normal(size=n) + 1j * rng.normal(size=n)) * 10 ** rng.uniform(-3, 1) / np.sqrt(n)
        elif mode == "poles-near-circle":
            D = np.exp(1j * rng.uniform(0, 2 * np.pi, n)) * (1 + 10 ** rng.uniform(-8, -1, n) * rng.choice([-1, 1], n))
        else:
            D = rng.uniform(0, 1.2, n) * np.exp(1j * rng.uniform(0, 2 * np.pi, n))
        M = s * (np.outer(np.ones(n), ks * D) - np.diag(D))
        ev = np.abs(np.linalg.eigvals(M))
        if np.min(np.abs(ev - R)) < 1e-7:
            continue                  # an eigenvalue on the circle: no decision to compare
        assert _inside_disc_count_nb(s, ks, D.astype(complex), R) == int(np.sum(ev < R))
        checked += 1
    assert checked > 300


def test_many_laws_sum_of_semicircles():
    """⊞ of 12 semicircles (the argument-principle branch of the test) is the semicircle of the
    summed variance."""
    vs = [0.5 + 0.1 * i for i in range(12)]
    law = fp.boxplus(*[fp.semicircle(var=v) for v in vs])
    ref = fp.semicircle(var=sum(vs))
    x = np.linspace(-9.0, 9.0, 37)
    assert np.max(np.abs(law.pdf(x) - ref.pdf(x))) < 1e-12
