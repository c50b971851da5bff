r"""Verification cases of :mod:`randmat` (found by ``freeprob verify`` through the
``freeprob.verify_cases`` entry point).

Random-matrix theorems against Monte Carlo with :mod:`randmat`: Haar moments and eigen-angles,
random permutations → Kesten–McKay, Wigner, Marchenko–Pastur, O + Oᵀ → arcsine, free convolutions of Haar-rotated matrices, and the
measured decay of the freeness defect.

Kolmogorov–Smirnov distances of one N×N spectrum to its limit are O(log N / N) (eigenvalue
rigidity); the tolerances ``(1 + ln N)/N`` are about twice the largest distance seen over 6–8
seeds at N = 200…2000, and a law off by 5 % in variance exceeds them at N ≥ 1000.
The other Monte-Carlo cases state z bounds on standard errors (:mod:`freeprob.verify.stats`):
the Haar moments, and the freeness sweep (fitted exponent of the free pair against −1; the
Richardson-extrapolated defect of A, A² against its exact limit).
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

import freeprob as fp
import randmat as rm
from freeprob.verify import Case, Result, register, z_test, z_test_extrapolated
from freeprob.verify.figure import new_figure


def _ks_tolerance(n: int) -> float:
    return (1.0 + np.log(n)) / n


def _spectrum_figure(eigs, law, title):
    fig, (ax1, ax2) = new_figure(2)
    rm.plot_spectrum(eigs, law, ax=ax1, bins=60)
    a, b = law.support
    lo, hi = min(a, eigs.min()), max(b, eigs.max())
    pad = 0.05 * (hi - lo)
    # 150 points are plenty for a smooth curve, and laws whose cdf is a quadrature stay cheap
    xs = np.linspace(lo - pad, hi + pad, 150)
    e = np.sort(eigs)
    ax2.step(e, np.arange(1, len(e) + 1) / len(e), where="post", label="empirical CDF")
    ax2.plot(xs, law.cdf(xs), "k--", label="predicted CDF")
    ax2.set_xlabel("x"); ax2.legend(fontsize="small")
    fig.suptitle(title)
    return fig


def _ks_case(name, title, how, run, *, quick_size, full_size, slack=1.0, topic="random matrices"):
    """Register a spectrum-against-law case: KS distance within ``slack`` times (1 + ln N)/N."""
    tol = _ks_tolerance if slack == 1.0 else (lambda n: slack * _ks_tolerance(n))
    register(Case(name=name, title=title, how=how, metric="KS distance", tolerance=tol, run=run,
                  quick_size=quick_size, full_size=full_size, topic=topic))


def _ks_result(eigs, law, title, prediction, measurement):
    ks = rm.ks_distance(eigs, law)
    return Result(prediction=prediction, measurement=f"{measurement}; KS = {ks:.3g}", distance=ks,
                  figure=_spectrum_figure(eigs, law, title))


# ------------------------------------------------------------------ Haar measure
_HAAR_N = 6

def _run_haar_moments(size: int, rng: np.random.Generator) -> Result:
    n = _HAAR_N
    x = np.array([rm.haar_orthogonal(n, rng)[0, 0] for _ in range(size)])
    # Weingarten: E O11 = 0, E O11² = 1/N, E O11⁴ = 3/(N(N+2)); z-scores with the sample SE
    t = z_test(["E[O11]", "E[O11²]", "E[O11⁴]"], np.stack([x, x ** 2, x ** 4], axis=1),
               [0.0, 1.0 / n, 3.0 / (n * (n + 2))])
    fig, (ax1, ax2) = new_figure(2)
    ax1.errorbar(range(3), t.mean, yerr=4 * t.se, fmt="o", label="Monte Carlo ± 4 SE")
    ax1.plot(range(3), t.prediction, "k_", ms=20, label="Weingarten (exact)")
    ax1.set_xticks(range(3), t.names); ax1.legend(fontsize="small")
    # the density of one entry of a Haar vector: (1 - t²)^((N-3)/2) / B(1/2, (N-1)/2)
    ts = np.linspace(-1, 1, 400)
    ax2.hist(x, bins=50, density=True, alpha=0.5, label="O11 samples")
    ax2.plot(ts, stats.beta(0.5 * (n - 1), 0.5 * (n - 1), loc=-1, scale=2).pdf(ts), "k",
             label="(1 − t²)^((N−3)/2) density")
    ax2.legend(fontsize="small")
    fig.suptitle(f"Haar orthogonal, N = {n}, {size} samples")
    return Result(prediction=f"E O11 = 0, E O11² = {1 / n:.5f}, E O11⁴ = {3 / (n * (n + 2)):.5f}",
                  measurement=t.rows(".5f"), distance=t.worst, figure=fig)

register(Case(
    name="haar_moments",
    title="Haar orthogonal matrices have the Weingarten moments E[O11²] = 1/N, E[O11⁴] = 3/(N(N+2))",
    how="sample means over independent randmat.haar_orthogonal(6) draws, compared with the exact "
        "Weingarten values in units of the sample standard error",
    metric="max |z-score| over E O11, E O11², E O11⁴", tolerance=4.0,
    run=_run_haar_moments, quick_size=6000, full_size=60000, topic="random matrices",
))

def _run_haar_angles(size: int, rng: np.random.Generator) -> Result:
    theta = np.sort(np.angle(np.linalg.eigvals(rm.haar_unitary(size, rng))))
    ks = float(stats.kstest(theta, stats.uniform(-np.pi, 2 * np.pi).cdf).statistic)
    fig, (ax1, ax2) = new_figure(2)
    ax1.hist(theta, bins=40, density=True, alpha=0.5, label=f"eigen-angles (N={size})")
    ax1.axhline(1 / (2 * np.pi), color="k", label="uniform 1/(2π)"); ax1.legend(fontsize="small")
    ax2.plot(theta, np.arange(1, size + 1) / size - (theta + np.pi) / (2 * np.pi), lw=0.8)
    ax2.axhline(0, color="k", lw=0.5)
    ax2.set_xlabel("θ"); ax2.set_ylabel("F_N(θ) − (θ + π)/2π")
    fig.suptitle("Eigen-angles of a Haar unitary matrix")
    return Result(prediction="eigen-angles uniform on [−π, π)",
                  measurement=f"KS distance of the {size} angles of one Haar unitary = {ks:.3g}",
                  distance=ks, figure=fig)

_ks_case("haar_unitary_angles",
         "The eigen-angles of a Haar unitary matrix are uniformly distributed",
         "eigenvalues of one randmat.haar_unitary(N) (numpy eigvals), KS distance of their angles to "
         "the uniform law; the eigen-angles are rigid, so the distance is O(log N / N)",
         _run_haar_angles, quick_size=500, full_size=2000)

def _run_orthogonal_arcsine(size: int, rng: np.random.Generator) -> Result:
    o = rm.haar_orthogonal(size, rng)
    eigs = rm.eigenvalues(o + o.T)
    return _ks_result(eigs, fp.arcsine(-2.0, 2.0), "O + Oᵀ, O Haar orthogonal, vs arcsine(−2, 2)",
                      "arcsine(−2, 2) CDF (O's eigen-angles are uniform, 2 cos θ is arcsine)",
                      f"eigenvalues of O + Oᵀ, N={size}")

_ks_case("orthogonal_arcsine",
         "O + Oᵀ for Haar orthogonal O converges to the arcsine law on [−2, 2]",
         "eigenvalues of O + Oᵀ for one randmat.haar_orthogonal(N), KS distance to the arcsine CDF",
         _run_orthogonal_arcsine, quick_size=800, full_size=3000, slack=1.5)

def _run_permutation_kesten_mckay(size: int, rng: np.random.Generator) -> Result:
    # adjacency of a random 4-regular multigraph: two independent uniform permutations
    a = sum(p + p.T for p in (rm.haar_permutation(size, rng) for _ in range(2)))
    return _ks_result(rm.eigenvalues(a), fp.kesten_mckay(4),
                      "P₁ + P₁ᵀ + P₂ + P₂ᵀ (random 4-regular graph) vs Kesten–McKay(4)",
                      "kesten_mckay(4) CDF", f"eigenvalues of the sum of two random permutations "
                      f"and their transposes, N={size}")

_ks_case("permutation_kesten_mckay",
         "Random regular graphs: two uniform permutations and their transposes give Kesten–McKay(4)",
         "eigenvalues of P₁ + P₁ᵀ + P₂ + P₂ᵀ for independent randmat.haar_permutation draws, KS distance",
         _run_permutation_kesten_mckay, quick_size=800, full_size=3000)

# ------------------------------------------------------------------ limit laws
def _run_wigner(size: int, rng: np.random.Generator) -> Result:
    eigs = rm.eigenvalues(rm.goe(size, rng))
    return _ks_result(eigs, fp.semicircle(var=1.0), "GOE spectrum vs semicircle(var=1)",
                      "semicircle(var=1) CDF", f"eigenvalues of one GOE matrix, N={size}")

_ks_case("wigner_semicircle",
         "Wigner's theorem: the GOE spectrum converges to the semicircle law",
         "eigenvalues of a randmat.goe matrix, Kolmogorov–Smirnov distance to the predicted CDF",
         _run_wigner, quick_size=1000, full_size=4000)

def _run_mp(size: int, rng: np.random.Generator) -> Result:
    ratio = 0.5
    m = int(round(size / ratio))
    eigs = rm.eigenvalues(rm.wishart(size, m, rng))
    return _ks_result(eigs, fp.marchenko_pastur(ratio=ratio), "Wishart spectrum vs Marchenko–Pastur(0.5)",
                      "marchenko_pastur(ratio=0.5) CDF", f"eigenvalues of X Xᵀ/M, N={size}, M={m}")

_ks_case("marchenko_pastur",
         "Marchenko–Pastur theorem: the Wishart spectrum converges to the MP law",
         "eigenvalues of randmat.wishart(N, M) = X Xᵀ/M, KS distance",
         _run_mp, quick_size=800, full_size=3000)

# ------------------------------------------------------------------ free convolutions
def _run_semicircle_free_sum(size: int, rng: np.random.Generator) -> Result:
    v1, v2 = 1.0, 2.0
    # a deterministic matrix with the semicircle(v2) quantiles, rotated by an independent Haar O:
    # asymptotically free from the GOE although neither is Gaussian on its own
    d = rm.law_quantiles(fp.semicircle(var=v2), size)
    eigs = rm.eigenvalues(rm.free_sum(rm.goe(size, rng, var=v1), d, rng))
    law = fp.boxplus(fp.semicircle(var=v1), fp.semicircle(var=v2))
    return _ks_result(eigs, law, "GOE + O D Oᵀ vs semicircle ⊞ semicircle",
                      "boxplus(semicircle(1), semicircle(2)) CDF",
                      f"eigenvalues of GOE + Haar-rotated quantile diagonal, N={size}")

_ks_case("semicircle_free_sum",
         "Asymptotic freeness: GOE plus a Haar-rotated deterministic matrix gives the free convolution",
         "Monte Carlo: spectrum of randmat.free_sum(GOE, from_law(semicircle(2))), KS distance",
         _run_semicircle_free_sum, quick_size=600, full_size=2000, slack=1.5, topic="free convolutions")

def _run_bernoulli_sum(size: int, rng: np.random.Generator) -> Result:
    pm = fp.atoms([-1.0, 1.0], [0.5, 0.5])
    d = rm.law_quantiles(pm, size)
    eigs = rm.eigenvalues(rm.free_sum(d, d, rng))
    return _ks_result(eigs, fp.boxplus(pm, pm), "D + O D Oᵀ, D = diag(±1), vs (±1) ⊞ (±1)",
                      "boxplus(±1, ±1) CDF (= arcsine on [−2, 2])", f"eigenvalues of D + O D Oᵀ, N={size}")

_ks_case("bernoulli_free_sum",
         "The free sum of two symmetric Bernoulli laws is the arcsine law on [-2, 2]",
         "Monte Carlo: spectrum of randmat.free_sum(D, D), D = diag(±1), KS distance",
         _run_bernoulli_sum, quick_size=600, full_size=2000, slack=1.5, topic="free convolutions")

def _run_mp_product(size: int, rng: np.random.Generator) -> Result:
    mp = fp.marchenko_pastur(ratio=0.5)
    m = 2 * size
    eigs = rm.eigenvalues(rm.free_product(rm.wishart(size, m, rng), rm.wishart(size, m, rng), rng))
    return _ks_result(eigs, fp.boxtimes(mp, mp), "A^{1/2} O B Oᵀ A^{1/2}, A, B Wishart, vs MP ⊠ MP",
                      "boxtimes(MP(0.5), MP(0.5)) CDF", f"eigenvalues of randmat.free_product, N={size}")

_ks_case("mp_free_product",
         "Free multiplicative convolution: the product of two independent Wishart matrices",
         "Monte Carlo: spectrum of randmat.free_product of two Wisharts (N/M = 0.5), KS distance",
         _run_mp_product, quick_size=500, full_size=1500, slack=1.5, topic="free convolutions")

# ------------------------------------------------------------------ freeness, measured
def _free_pair(n: int, rng: np.random.Generator):
    return rm.goe(n, rng), np.diag(np.linspace(-np.sqrt(3.0), np.sqrt(3.0), n))

def _non_free_pair(n: int, rng: np.random.Generator):
    a = rm.goe(n, rng)
    return a, a @ a

def _nc_pairings(points):
    """Every non-crossing pairing of ``points`` (a list of even length), as lists of pairs."""
    if not points:
        yield []
        return
    for k in range(1, len(points), 2):  # the first point pairs with one an odd distance away
        for inner in _nc_pairings(points[1:k]):
            for outer in _nc_pairings(points[k + 1:]):
                yield [(points[0], points[k])] + inner + outer


def _semicircle_power_cumulant(degrees) -> int:
    r"""Exact :math:`\kappa_k(s^{d_1}, \dots, s^{d_k})` for a standard semicircular s.

    Products as arguments (Nica–Speicher, Thm 11.12): the sum of :math:`\kappa_\pi[s, \dots, s]` over
    :math:`\pi \in NC(D)` with :math:`\pi \vee \sigma = 1_D`, σ the interval partition into the powers;
    the only non-zero free cumulant of s is κ₂ = 1, so this counts the non-crossing pairings of
    the D = Σ dᵢ points that connect all k groups. Written from the combinatorics, not from
    randmat's Möbius inversion of traces (the code under test).
    """
    group = [g for g, d in enumerate(degrees) for _ in range(d)]
    if len(group) % 2:
        return 0
    count = 0
    for pairing in _nc_pairings(list(range(len(group)))):
        parent = list(range(len(degrees)))

        def find(i):
            while parent[i] != i:
                i = parent[i]
            return i

        for i, j in pairing:
            parent[find(group[i])] = find(group[j])
        count += len({find(g) for g in range(len(degrees))}) == 1
    return count


_FREENESS_ORDER = 4
_FREENESS_TRIALS = 8
_FREENESS_Z = 4.0
# the limit defect of (A, A²), A GOE: max |κ_w(s, s²)| over the mixed words of length ≤ 4
_NON_FREE_LIMIT = max(_semicircle_power_cumulant(w)
                      for n in range(2, _FREENESS_ORDER + 1)
                      for w in itertools.product((1, 2), repeat=n) if 1 in w and 2 in w)


def _run_freeness_sweep(size: int, rng: np.random.Generator) -> Result:
    sizes = [size // 8, size // 4, size // 2, size]
    # no progress bars inside a verify run: the runner prints one line per case
    kw = dict(trials=_FREENESS_TRIALS, max_order=_FREENESS_ORDER, rng=rng, progress=False)
    free = rm.asymptotic_freeness(_free_pair, sizes, **kw)
    nonfree = rm.asymptotic_freeness(_non_free_pair, sizes, **kw)
    # free pair: the fitted exponent against -1 in units of its least-squares standard error
    z_free = (free.exponent + 1.0) / free.exponent_stderr
    # non-free pair: the defect converges to the exact limit with a c/N bias (GOE corrections and
    # O(1/N) trace fluctuations); Richardson over the trials at N and N/2 removes it whatever c
    t = z_test_extrapolated(["defect(A, A²)"], nonfree.defects[-1][:, None], nonfree.defects[-2][:, None],
                            [_NON_FREE_LIMIT])
    fig, (ax1, ax2) = new_figure(2)
    free.plot(ax1, label="GOE, fixed diagonal (free)")
    nonfree.plot(ax1, label="A, A² (not free)")
    ax1.set_title(f"Largest mixed free cumulant (order ≤ {_FREENESS_ORDER}) against N", fontsize="small")
    t.errorbar(ax2, _FREENESS_Z, label="2 d(N) − d(N/2)")
    dist = max(abs(z_free), t.worst)
    return Result(
        prediction=f"defect ~ N^-1 for the free pair (O(1/N) trace fluctuations); for A, A² it tends to "
                   f"max |κ_w(s, s²)| = {_NON_FREE_LIMIT} (connected non-crossing pairings)",
        measurement=f"free pair: exponent {free.exponent:.3f} ± {free.exponent_stderr:.3f} (z = {z_free:+.2f}, "
                    f"{free.defects.size} points); A, A²: {t.rows('.4f')} (fitted exponent "
                    f"{nonfree.exponent:.3f} ± {nonfree.exponent_stderr:.3f})",
        distance=float(dist), figure=fig)

register(Case(
    name="asymptotic_freeness_sweep",
    title="Asymptotic freeness as a measured statement: the mixed free cumulants of a GOE and a fixed "
          "diagonal decay like 1/N, those of A and A² tend to the exact cumulants of (s, s²)",
    how=f"randmat.asymptotic_freeness: size sweep N/8…N, {_FREENESS_TRIALS} trials each, largest mixed free "
        f"cumulant up to order {_FREENESS_ORDER} from normalised traces, log-log least squares "
        "(scipy.stats.linregress); the limit for (A, A²) by counting connected non-crossing pairings",
    metric="max |z|: (exponent_free + 1)/SE(exponent), and the Richardson-extrapolated defect of (A, A²) "
           "against its limit (z_test_extrapolated)",
    tolerance=_FREENESS_Z,
    run=_run_freeness_sweep, quick_size=400, full_size=1200, topic="random matrices",
))
