r"""The fixed-point systems of a linearized polynomial, with exact Jacobians, for :class:`~freeprob.SolvedLaw`.

Let :math:`L = a_0 + \sum_j a_j\otimes u_j` be a self-adjoint pencil in free standardized variables
and :math:`\Lambda(z) = \operatorname{diag}(z, i\varepsilon, \dots, i\varepsilon)`.  Because the
lower block Q of L is invertible (as a matrix of polynomials, so as a bounded operator) the limit
:math:`\varepsilon = 0` is regular: :math:`G_L(\Lambda_0(z))_{11} = G_p(z)` exactly.  The systems
are stated at :math:`\varepsilon = 0`; a positive :math:`\varepsilon` is used only to *start*
(the fixed points are contractions for :math:`\operatorname{Im}\Lambda \succ 0` large), then
removed by a Newton homotopy :math:`\varepsilon \to 0` at fixed z.

* :class:`SemicircularSystem` (Helton–Rashidi Far–Speicher 2007), every variable a standard
  semicircle: :math:`G = (\Lambda - a_0 - \eta(G))^{-1}`, :math:`\eta(G) = \sum_j a_j G a_j`,
  solved for :math:`v = \eta(G)`: :math:`F(v) = v - \eta((\Lambda - a_0 - v)^{-1})`.
* :class:`SubordinationSystem` (Belinschi–Mai–Speicher 2017), arbitrary laws: unknowns
  :math:`\omega_1,\dots,\omega_k\in M_n(\mathbb C)`,
  :math:`F_j = \omega_j - b - \sum_{i\ne j} h_i(\omega_i)`, :math:`b = \Lambda - a_0`,
  :math:`h_i(\omega) = G_{X_i}(\omega)^{-1} - \omega`, :math:`G = G_{X_1}(\omega_1)`.  With
  :math:`a = UDU^T` (rank r), :math:`K = \omega^{-1}`, :math:`DU^TKU = W\operatorname{diag}(\lambda)W^{-1}`,
  :math:`P = KUW`, :math:`R = W^{-1}DU^TK` and :math:`f(\lambda) = \int t/(1 - t\lambda)\,d\mu(t)`,

  .. math:: G_X(\omega) = K + P\,\operatorname{diag}(f(\lambda))\,R,\qquad
            -DG_X(\omega)[H] = KHK + P f R H K + K H P f R + P\,[(RHP)\circ\Delta]\,R,

  :math:`\Delta_{il} = (f(\lambda_i) - f(\lambda_l))/(\lambda_i - \lambda_l)` (:math:`f'` on the
  diagonal), since :math:`(\omega - ta)^{-1} = K + P\operatorname{diag}(t/(1-t\lambda))R`.
  Matrices of linear maps use row-major vectorisation: :math:`H\mapsto AHB` is :math:`A\otimes B^T`.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SemicircularSystem", "SubordinationSystem"]


def _lambda_minus_a0(z, a0, eps):
    n = a0.shape[0]
    W0 = np.broadcast_to(-a0.astype(complex), (z.size, n, n)).copy()
    W0[:, 0, 0] += z
    if eps is not None:
        idx = np.arange(1, n)
        W0[:, idx, idx] += 1j * np.asarray(eps)[:, None] if np.ndim(eps) else 1j * eps
    return W0


def _kron_rows(A, B):
    """Row-major matrix of H -> A H B for batches A, B (P, n, n): shape (P, n², n²)."""
    P, n, _ = A.shape
    # entry (ab, cd) = A_ac B_db, as a broadcast product (np.einsum re-plans it at every call)
    return (A[:, :, None, :, None] * np.swapaxes(B, 1, 2)[:, None, :, None, :]).reshape(P, n * n, n * n)


def _neg_semidef(M, tol):
    # Hermitian part of (M - M^H)/2i: Im M <= 0 in the matrix sense
    im = (M - np.conj(np.swapaxes(M, -1, -2))) / 2j
    return np.linalg.eigvalsh(im)[:, -1] <= tol * (1.0 + np.abs(M).reshape(len(M), -1).max(axis=1))


class SemicircularSystem:
    r"""Operator-valued semicircle fixed point for a pencil in free standard semicirculars.

    The unknown is the covariance image :math:`v = \eta(G)`, not G: with
    :math:`G = (\Lambda - a_0 - v)^{-1}` the equation is :math:`F(v) = v - \eta(G) = 0`,
    :math:`DF[H] = H - \sum_j a_j G H G a_j`.  v stays bounded where G itself blows up (singular
    densities such as that of :math:`x^3` at 0), which keeps Newton's basin wide.
    """

    def __init__(self, a0: np.ndarray, a: np.ndarray):
        self.a0 = np.asarray(a0, dtype=float)
        self.A = np.asarray(a, dtype=float)
        self.n = self.a0.shape[0]
        self.m = self.n * self.n

    def _eta(self, G):
        return np.einsum("jab,pbc,jcd->pad", self.A, G, self.A)

    def green(self, z, u, eps=None):
        n = self.n
        return np.linalg.inv(_lambda_minus_a0(z, self.a0, eps) - u.reshape(-1, n, n))

    def residual(self, z, u, eps=None):
        n, P = self.n, len(z)
        G = self.green(z, u, eps)
        r = u - self._eta(G).reshape(P, self.m)
        AG = np.einsum("jab,pbc->pjac", self.A, G)
        GA = np.einsum("pab,jbc->pjac", G, self.A)
        J = np.eye(self.m)[None] - np.einsum("pjac,pjdb->pabcd", AG, GA).reshape(P, self.m, self.m)
        return r, J

    def start(self, z):
        """v at points far up in C⁺: averaged iteration at ε = Im z, then the homotopy ε → 0."""
        eps0 = np.maximum(z.imag, 1.0)
        v = np.zeros((len(z), self.n, self.n), dtype=complex)
        for _ in range(60):
            G = np.linalg.inv(_lambda_minus_a0(z, self.a0, eps0) - v)
            v_new = 0.5 * (v + self._eta(G))
            done = np.max(np.abs(v_new - v)) <= _START_CLOSE * (1.0 + np.max(np.abs(v_new)))
            v = v_new
            if done:
                break
        return _homotopy(self, z, v.reshape(len(z), self.m), eps0)

    def g(self, z, u):
        return self.green(z, u)[:, 0, 0]

    def admissible(self, z, u):
        # Im v <= 0 and Im G <= 0 (as matrices) on the physical branch
        return _neg_semidef(u.reshape(-1, self.n, self.n), 1e-9) & (self.g(z, u).imag <= 1e-12 * (1 + np.abs(self.g(z, u))))


#: the averaged iteration of the start stops this close (relative) to its fixed point: from there
#: the homotopy's Newton at ε = Im z converges in one or two steps (the iteration's rate is ~1/2,
#: and 60 iterations to rounding were 2/3 of a start's cost)
_START_CLOSE = 1e-6


def _homotopy(system, z, u, eps0):
    """Newton continuation of the ε-regularised system from eps0 down to ε = 0 (fixed z)."""
    for t in [1.0, 1e-2, 1e-5, 1e-9, 1e-14, 0.0]:
        eps = eps0 * t
        for _ in range(8):
            r, J = system.residual(z, u, eps)
            if np.max(np.abs(r)) < 1e-14:
                break
            with np.errstate(all="ignore"):
                step = np.linalg.solve(J, -r[..., None])[..., 0]
            u = u + np.where(np.isfinite(step), step, 0.0)
    return u


class _MatrixVariable:
    """:math:`X = a\\otimes x`, ``a`` real symmetric, ``x ~ law``: G_X, h_X and their derivatives."""

    def __init__(self, a: np.ndarray, law):
        d, U = np.linalg.eigh(a)
        keep = np.abs(d) > 1e-12 * max(1.0, np.abs(d).max())
        self.U = U[:, keep].astype(complex)
        self.D = d[keep].astype(complex)
        self.law = law
        lo, hi = law.support
        self._norm = max(abs(lo), abs(hi), 1e-300)
        # f(λ) = Σ_k m_{k+1} λ^k for small λ, where u²G(u) - u cancels catastrophically
        self._mom = np.asarray(law.moments(24), dtype=float)
        self.mean_matrix = a * law.mean

    def _small(self, lam):
        return np.abs(lam) * self._norm < 0.25

    def f(self, lam):
        lam = np.asarray(lam, dtype=complex)
        out = np.empty_like(lam)
        sm = self._small(lam)
        if np.any(sm):
            out[sm] = np.polynomial.polynomial.polyval(lam[sm], self._mom)
        if np.any(~sm):
            u = 1.0 / lam[~sm]
            g = self.law._cauchy_any(u.ravel()).reshape(u.shape)
            out[~sm] = (g * u - 1.0) * u
        return out

    def df(self, lam):
        lam = np.asarray(lam, dtype=complex)
        out = np.empty_like(lam)
        sm = self._small(lam)
        if np.any(sm):
            out[sm] = np.polynomial.polynomial.polyval(lam[sm], self._mom[1:] * np.arange(1, len(self._mom)))
        if np.any(~sm):
            u = 1.0 / lam[~sm]
            g = self.law._cauchy_any(u.ravel()).reshape(u.shape)
            dg = self.law._cauchy_derivative_any(u.ravel()).reshape(u.shape)
            out[~sm] = -u * u * (2 * u * g + u * u * dg - 1.0)
        return out

    def parts(self, om):
        """K, P, R, f(λ), Δ for a batch of ω (P, n, n)."""
        K = np.linalg.inv(om)
        M = self.D[None, :, None] * np.einsum("ia,pij,jb->pab", self.U, K, self.U)
        lam, W = np.linalg.eig(M)
        Winv = np.linalg.inv(W)
        fl = self.f(lam)
        P = K @ self.U[None] @ W
        R = Winv @ (self.D[:, None] * self.U.T)[None] @ K
        li, ll = lam[:, :, None], lam[:, None, :]
        fi, fll = fl[:, :, None], fl[:, None, :]
        close = np.abs(li - ll) <= 1e-6 * (np.abs(li) + np.abs(ll) + 1e-300)
        with np.errstate(all="ignore"):
            Delta = np.where(close, 0.0, (fi - fll) / (li - ll))
        if np.any(close):
            mid = 0.5 * (li + ll) * np.ones_like(Delta)
            Delta[close] = self.df(mid[close])
        return K, P, R, fl, Delta

    def cauchy(self, om):
        K, P, R, fl, _ = self.parts(om)
        return K + (P * fl[:, None, :]) @ R

    def h_and_jac(self, om):
        """h(ω) and the row-major matrix of Dh(ω) (P, n², n²)."""
        K, P, R, fl, Delta = self.parts(om)
        PfR = (P * fl[:, None, :]) @ R
        G = K + PfR
        Gi = np.linalg.inv(G)
        # -DG[H] = K H K + PfR H K + K H PfR + P[(R H P)∘Δ]R
        negDG = _kron_rows(K, K) + _kron_rows(PfR, K) + _kron_rows(K, PfR)
        Pn, n, _ = om.shape
        T = np.einsum("pai,pic,pil->pacl", P, R, Delta)
        negDG += np.einsum("pacl,pdl,plb->pabcd", T, P, R, optimize=True).reshape(Pn, n * n, n * n)
        # Dh[H] = -Gi DG[H] Gi - H
        Dh = _kron_rows(Gi, Gi) @ negDG - np.eye(n * n)[None]
        return Gi - om, Dh, G, negDG


class SubordinationSystem:
    r"""Matrix-valued subordination for a pencil in free variables with arbitrary laws.

    Only the variables that are not semicircular carry an unknown :math:`\omega_j`: for a
    semicircular :math:`X_s = a_s\otimes s` the subordination map is explicit,
    :math:`h_s(\omega_s) = G_{X_s}(\omega_s)^{-1} - \omega_s = -a_s G a_s` with G the common value
    :math:`G_{X_j}(\omega_j)`, so with :math:`\mathcal N` the other variables and
    :math:`j_0 = \min\mathcal N`

    .. math:: F_j = \omega_j - b + \sum_s a_s G_{X_{j_0}}(\omega_{j_0}) a_s - \sum_{i\in\mathcal N, i\ne j} h_i(\omega_i),
              \qquad j\in\mathcal N,

    equivalent to the full system (:math:`F_j - F_{j_0} = 0` is :math:`G_{X_j}(\omega_j)^{-1} = G_{X_{j_0}}(\omega_{j_0})^{-1}`).
    The eliminated :math:`\omega_s = G^{-1} + a_s G a_s` runs off to infinity wherever G vanishes
    (a cusp of the density, e.g. :math:`x + d` with d = ±1 at 0): the full system's Newton basin
    shrank to nothing there, the reduced state stays bounded.
    """

    def __init__(self, a0: np.ndarray, a: np.ndarray, laws):
        from ..laws import Semicircle

        self.a0 = np.asarray(a0, dtype=float)
        a = np.asarray(a, dtype=float)
        sc = [isinstance(law, Semicircle) for law in laws]
        if all(sc):
            raise ValueError("laws: every variable is semicircular; use SemicircularSystem")
        self.sc_A = a[[j for j, f in enumerate(sc) if f]]
        self.vars = [_MatrixVariable(aj, law) for aj, law, f in zip(a, laws, sc) if not f]
        self.k = len(self.vars)
        self.n = self.a0.shape[0]
        self.m = self.k * self.n * self.n
        n = self.n
        # row-major matrix of H -> Σ_s a_s H a_s
        self._eta_mat = sum((np.kron(A, A.T) for A in self.sc_A), np.zeros((n * n, n * n)))

    def _eta(self, G):
        if not len(self.sc_A):
            return np.zeros_like(G)
        return np.einsum("jab,pbc,jcd->pad", self.sc_A, G, self.sc_A)

    def residual(self, z, u, eps=None):
        P, n, k = len(z), self.n, self.k
        nn = n * n
        om = u.reshape(P, k, n, n)
        b = _lambda_minus_a0(z, self.a0, eps)
        hs, Ds, Gs, negDGs = zip(*[v.h_and_jac(om[:, j]) for j, v in enumerate(self.vars)])
        tot = sum(hs)
        base = b - self._eta(Gs[0])
        r = np.stack([om[:, j] - base - (tot - hs[j]) for j in range(k)], axis=1).reshape(P, self.m)
        J = np.zeros((P, self.m, self.m), dtype=complex)
        J[:, np.arange(self.m), np.arange(self.m)] = 1.0
        # F contains +η(G(ω_{j0})): its derivative in ω_{j0} is η ∘ DG = -η ∘ negDG
        etaDG = self._eta_mat[None] @ negDGs[0]
        for j in range(k):
            J[:, j * nn:(j + 1) * nn, 0:nn] -= etaDG
            for i in range(k):
                if i != j:
                    J[:, j * nn:(j + 1) * nn, i * nn:(i + 1) * nn] -= Ds[i]
        return r, J

    def start(self, z):
        eps0 = np.maximum(z.imag, 1.0)
        b = _lambda_minus_a0(z, self.a0, eps0)
        means = [v.mean_matrix for v in self.vars]
        om = np.stack([b - (sum(means) - means[j])[None] for j in range(self.k)], axis=1)
        for _ in range(60):
            Gs = [v.cauchy(om[:, j]) for j, v in enumerate(self.vars)]
            hs = [np.linalg.inv(G) - om[:, j] for j, G in enumerate(Gs)]
            tot = sum(hs)
            base = b - self._eta(Gs[0])
            om_new = 0.5 * (om + np.stack([base + tot - hs[j] for j in range(self.k)], axis=1))
            done = np.max(np.abs(om_new - om)) <= _START_CLOSE * (1.0 + np.max(np.abs(om_new)))
            om = om_new
            if done:
                break
        u = om.reshape(len(z), self.m)
        return _homotopy(self, z, u, eps0)

    def g(self, z, u):
        om = u.reshape(len(z), self.k, self.n, self.n)
        return self.vars[0].cauchy(om[:, 0])[:, 0, 0]

    def admissible(self, z, u):
        om = u.reshape(len(z), self.k, self.n, self.n)
        ok = np.ones(len(z), dtype=bool)
        for j in range(self.k):
            # Im ω_j >= 0: -ω_j has Im <= 0
            ok &= _neg_semidef(-om[:, j], 1e-9)
        return ok
