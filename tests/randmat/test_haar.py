"""Haar samplers against the exact Weingarten moments, eigen-angle uniformity and invariance.

Tolerances: sample means are compared with exact values in units of their standard error (|z| < 4,
a false alarm rate of 6e-5 per check); KS statistics use the stated (1 + ln N)/N rigidity bound.
"""
import numpy as np
import pytest
from scipy import stats

import freeprob as fp
import randmat as rm
from randmat.haar import _qr_haar


def _z(samples, exact):
    return (samples.mean() - exact) / (samples.std(ddof=1) / np.sqrt(samples.size))


@pytest.mark.parametrize("n", [1, 2, 7, 60])
def test_orthogonal_and_unitary_are_orthogonal(n):
    o = rm.haar_orthogonal(n, rng=n)
    u = rm.haar_unitary(n, rng=n)
    assert o.shape == (n, n) and o.dtype == np.float64 and u.dtype == np.complex128
    assert np.abs(o.T @ o - np.eye(n)).max() < 1e-12
    assert np.abs(u.conj().T @ u - np.eye(n)).max() < 1e-12


@pytest.mark.parametrize("n", [3, 8])
def test_weingarten_moments_orthogonal(n):
    rng = np.random.default_rng(100 + n)
    x = np.array([rm.haar_orthogonal(n, rng)[0, 0] for _ in range(8000)])
    assert abs(_z(x, 0.0)) < 4
    assert abs(_z(x ** 2, 1.0 / n)) < 4
    assert abs(_z(x ** 4, 3.0 / (n * (n + 2)))) < 4


def test_weingarten_moments_other_entries():
    # Haar measure is invariant under permutations of rows and columns: any entry has the same law
    n, rng = 5, np.random.default_rng(3)
    x = np.array([rm.haar_orthogonal(n, rng)[3, 1] for _ in range(8000)])
    assert abs(_z(x ** 2, 1.0 / n)) < 4
    assert abs(_z(x ** 4, 3.0 / (n * (n + 2)))) < 4


@pytest.mark.parametrize("n", [3, 6])
def test_weingarten_moments_unitary(n):
    # |U11|² is Beta(1, N-1): E = 1/N, E|U11|⁴ = 2/(N(N+1))
    rng = np.random.default_rng(200 + n)
    x = np.array([rm.haar_unitary(n, rng)[0, 0] for _ in range(8000)])
    assert abs(_z(np.abs(x) ** 2, 1.0 / n)) < 4
    assert abs(_z(np.abs(x) ** 4, 2.0 / (n * (n + 1)))) < 4
    assert abs(_z(x.real, 0.0)) < 4 and abs(_z(x.imag, 0.0)) < 4


def test_uncorrected_qr_is_detected():
    # the test above can fail: LAPACK's Q without the sign correction has Q11 < 0 always
    rng = np.random.default_rng(5)
    x = np.array([np.linalg.qr(rng.standard_normal((4, 4)))[0][0, 0] for _ in range(2000)])
    assert abs(_z(x, 0.0)) > 20
    y = np.array([rm.haar_orthogonal(4, rng)[0, 0] for _ in range(2000)])
    assert abs(_z(y, 0.0)) < 4


def _angles_one_per_matrix(sampler, n, count, rng):
    # one eigen-angle per independent matrix, chosen at random: i.i.d. draws of the one-point law
    out = np.empty(count)
    for k in range(count):
        w = np.linalg.eigvals(sampler(n, rng))
        out[k] = np.angle(w[rng.integers(n)])
    return out


def test_unitary_eigen_angles_uniform_ks_test():
    rng = np.random.default_rng(11)
    theta = _angles_one_per_matrix(rm.haar_unitary, 5, 3000, rng)
    assert stats.kstest(theta, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_uncorrected_unitary_fails_the_angle_test():
    # the unitary Q of LAPACK without the phase correction is not Haar (Mezzadri 2007)
    def bad(n, rng):
        z = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / np.sqrt(2)
        return np.linalg.qr(z)[0]

    theta = _angles_one_per_matrix(bad, 5, 3000, np.random.default_rng(12))
    assert stats.kstest(theta, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue < 1e-6


@pytest.mark.parametrize("n", [100, 300])
def test_one_unitary_angles_within_rigidity_bound(n):
    theta = np.angle(np.linalg.eigvals(rm.haar_unitary(n, rng=n)))
    ks = stats.kstest(theta, stats.uniform(-np.pi, 2 * np.pi).cdf).statistic
    assert ks < (1 + np.log(n)) / n


@pytest.mark.parametrize("n", [200, 800])
def test_o_plus_ot_tends_to_arcsine(n):
    # stated tolerance 1.5 (1 + ln N)/N: 0.047 at N=200, 0.0144 at N=800 (seen: 0.020, 0.0061)
    ks = [rm.ks_distance(o + o.T, fp.arcsine(-2, 2)) for o in (rm.haar_orthogonal(n, rng=s) for s in range(2))]
    assert max(ks) < 1.5 * (1 + np.log(n)) / n


@pytest.mark.slow
@pytest.mark.parametrize("n", [1000, 2000])
def test_one_unitary_angles_within_rigidity_bound_large(n):
    theta = np.angle(np.linalg.eigvals(rm.haar_unitary(n, rng=n)))
    assert stats.kstest(theta, stats.uniform(-np.pi, 2 * np.pi).cdf).statistic < (1 + np.log(n)) / n


@pytest.mark.slow
@pytest.mark.parametrize("n", [2000, 4000])
def test_o_plus_ot_tends_to_arcsine_large(n):
    o = rm.haar_orthogonal(n, rng=n)
    assert rm.ks_distance(o + o.T, fp.arcsine(-2, 2)) < 1.5 * (1 + np.log(n)) / n


def test_left_invariance_first_column_uniform_on_sphere():
    # O e1 is uniform on the sphere: for fixed unit v, (vᵀ O e1)² is Beta(1/2, (N-1)/2)
    n, rng = 6, np.random.default_rng(8)
    v = np.ones(n) / np.sqrt(n)
    t = np.array([(v @ rm.haar_orthogonal(n, rng)[:, 0]) ** 2 for _ in range(4000)])
    assert stats.kstest(t, stats.beta(0.5, 0.5 * (n - 1)).cdf).pvalue > 1e-3


def test_permutation():
    p = rm.haar_permutation(6, rng=1)
    assert np.array_equal(p.sum(axis=0), np.ones(6)) and np.array_equal(p.sum(axis=1), np.ones(6))
    assert set(np.unique(p)) == {0.0, 1.0}
    # uniform over S_3: each of the 6 permutations with frequency 1/6 (chi-square test)
    rng = np.random.default_rng(2)
    keys = [tuple(np.argmax(rm.haar_permutation(3, rng), axis=0)) for _ in range(6000)]
    _, counts = np.unique(np.array(keys), axis=0, return_counts=True)
    assert len(counts) == 6 and stats.chisquare(counts).pvalue > 1e-3


def test_reproducible_and_generator_accepted():
    assert np.array_equal(rm.haar_orthogonal(5, rng=3), rm.haar_orthogonal(5, rng=3))
    g = np.random.default_rng(3)
    assert not np.array_equal(rm.haar_orthogonal(5, rng=g), rm.haar_orthogonal(5, rng=g))


def test_qr_haar_handles_complex_buffer():
    z = np.asfortranarray(np.eye(3, dtype=complex) * np.array([1j, -2.0, 3.0]))
    q = _qr_haar(z.copy(order="F"))
    assert np.abs(q.conj().T @ q - np.eye(3)).max() < 1e-14


@pytest.mark.parametrize("fn", [rm.haar_orthogonal, rm.haar_unitary, rm.haar_permutation])
@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4"])
def test_bad_dimension(fn, bad):
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        fn(bad)


def test_bad_rng():
    with pytest.raises(ValueError, match="rng"):
        rm.haar_orthogonal(3, rng="seed")
    with pytest.raises(ValueError, match="rng"):
        rm.haar_orthogonal(3, rng=-1)


@pytest.mark.parametrize("n", [200, 800])
def test_permutation_sum_tends_to_kesten_mckay(n):
    # P1 + P1ᵀ + P2 + P2ᵀ is the adjacency matrix of a random 4-regular multigraph; its spectrum
    # tends to Kesten–McKay(4) = arcsine ⊞ arcsine (P + Pᵀ → arcsine on [-2, 2], the two summands
    # asymptotically free). Stated tolerance (1 + ln N)/N; seen at most 0.016 at N = 200 and
    # 0.0054 at N = 800 over 3 seeds
    g = np.random.default_rng(n)
    a = sum(p + p.T for p in (rm.haar_permutation(n, g) for _ in range(2)))
    assert rm.ks_distance(a, fp.kesten_mckay(4)) < (1 + np.log(n)) / n
