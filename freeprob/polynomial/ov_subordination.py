r"""Matrix-valued subordination for pencils in free variables with arbitrary laws.

Belinschi–Mai–Speicher (2017): for :math:`L = a_0 + \sum_{j=1}^k X_j`, :math:`X_j = a_j\otimes x_j`
with :math:`x_1,\dots,x_k` free, the :math:`X_j` are free with amalgamation over
:math:`M_n(\mathbb C)`.  With :math:`h_X(b) = G_X(b)^{-1} - b` and :math:`b = \Lambda - a_0`, the
subordination functions solve

.. math:: \omega_j = b + \sum_{i\ne j} h_{X_i}(\omega_i),\qquad G_L(\Lambda) = G_{X_j}(\omega_j),

(for k = 2 this is the BMS map :math:`\omega_1 = b + h_{X_2}(b + h_{X_1}(\omega_1))`).

Each :math:`G_{X}(b) = \int (b - t\,a)^{-1} d\mu(t)` needs only the scalar Cauchy transform of
:math:`\mu`: with :math:`a = U D U^T` (rank r) and the Woodbury identity,

.. math:: G_X(b) = b^{-1} + b^{-1} U\, W \operatorname{diag}(\psi(\lambda_i)) W^{-1} D U^T b^{-1},
          \qquad D U^T b^{-1} U = W \operatorname{diag}(\lambda_i) W^{-1},

:math:`\psi(\lambda) = \int t\,(1-t\lambda)^{-1} d\mu(t) = (G_\mu(1/\lambda)/\lambda - 1)/\lambda`.
For :math:`\operatorname{Im} b > 0` the :math:`1/\lambda_i` are never real, so :math:`G_\mu` is
evaluated off the real line.

The system is solved for many points at once (numpy batches): averaged iteration at a large
height, then continuation down a geometric ladder of heights with guarded Newton steps
(finite-difference Jacobian; a step is accepted only if it reduces the residual and keeps every
:math:`\operatorname{Im}\omega_j` positive definite, else halved), averaged iteration as fallback.
"""
from __future__ import annotations

import numpy as np

from ..law import Law

__all__ = ["MatrixVariable", "solve_subordination"]


class MatrixVariable:
    """:math:`X = a\\otimes x` with ``a`` real symmetric and ``x`` distributed as ``law``."""

    def __init__(self, a: np.ndarray, law: Law):
        d, U = np.linalg.eigh(a)
        keep = np.abs(d) > 1e-12 * max(1.0, np.abs(d).max())
        self.U = U[:, keep].astype(complex)
        self.D = d[keep].astype(complex)
        self.law = law
        self.mean_matrix = a * law.mean
        lo, hi = law.support
        self._norm = max(abs(lo), abs(hi), 1e-300)
        # f(λ) = Σ_k m_{k+1} λ^k for small λ, where u²G(u) - u cancels catastrophically
        self._mom = np.asarray(law.moments(24), dtype=float)

    def _small(self, lam):
        return np.abs(lam) * self._norm < 0.25

    def _f(self, lam):
        # f(λ) = ∫ t/(1 - tλ) dμ(t) = u²G(u) - u with u = 1/λ; its moment series near λ = 0
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

    def _df(self, lam):
        # f'(λ) = -u²(2uG(u) + u²G'(u) - 1), or the differentiated series near λ = 0
        lam = np.asarray(lam, dtype=complex)
        out = np.empty_like(lam)
        sm = self._small(lam)
        if np.any(sm):
            dcoef = self._mom[1:] * np.arange(1, len(self._mom))
            out[sm] = np.polynomial.polynomial.polyval(lam[sm], dcoef)
        if np.any(~sm):
            u = 1.0 / lam[~sm]
            g = self.law._cauchy_any(u.ravel()).reshape(u.shape)
            dg = self.law._cauchy_derivative_any(u.ravel()).reshape(u.shape)
            out[~sm] = -u * u * (2 * u * g + u * u * dg - 1.0)
        return out

    def _fm(self, M):
        """f(M) for a batch of r×r matrices M (Newton interpolation for r <= 2)."""
        r = M.shape[-1]
        if r == 1:
            return self._f(M[:, 0, 0])[:, None, None]
        if r == 2:
            # f(M) = f(λ1) I + f[λ1, λ2] (M - λ1 I): valid for defective M too, where the
            # divided difference is f'(λ); eigenvectors are never formed
            tr = M[:, 0, 0] + M[:, 1, 1]
            det = M[:, 0, 0] * M[:, 1, 1] - M[:, 0, 1] * M[:, 1, 0]
            disc = np.sqrt(tr * tr / 4 - det)
            l1, l2 = tr / 2 + disc, tr / 2 - disc
            f1 = self._f(l1)
            close = np.abs(l1 - l2) < 1e-5 * np.abs(l1)
            with np.errstate(all="ignore"):
                dd = np.where(close, 0.0, (f1 - self._f(l2)) / (l1 - l2))
            if np.any(close):
                dd[close] = self._df(0.5 * (l1[close] + l2[close]))
            eye = np.eye(2)[None]
            return f1[:, None, None] * eye + dd[:, None, None] * (M - l1[:, None, None] * eye)
        lam, W = np.linalg.eig(M)
        return W @ (self._f(lam)[:, :, None] * np.linalg.inv(W))

    def cauchy(self, b: np.ndarray) -> np.ndarray:
        """:math:`G_X(b)` for a batch ``b`` of shape (P, n, n) with positive imaginary part."""
        binv = np.linalg.inv(b)
        UbU = np.einsum("ia,pij,jb->pab", self.U.conj(), binv, self.U)
        M = self.D[None, :, None] * UbU
        inner = self._fm(M)
        left = binv @ self.U[None]
        right = (self.D[:, None] * self.U.T.conj())[None] @ binv
        return binv + left @ inner @ right

    def h(self, b: np.ndarray) -> np.ndarray:
        return np.linalg.inv(self.cauchy(b)) - b


def _posdef(w: np.ndarray) -> np.ndarray:
    im = (w - np.conj(np.swapaxes(w, -1, -2))) / 2j
    return np.linalg.eigvalsh(im)[..., 0] > 0


class _System:
    def __init__(self, variables):
        self.vars = variables
        self.k = len(variables)

    def hs(self, om):
        return [v.h(om[:, j]) for j, v in enumerate(self.vars)]

    def T(self, b, om):
        h = self.hs(om)
        tot = sum(h)
        return np.stack([b + tot - h[j] for j in range(self.k)], axis=1)

    def resid(self, b, om):
        # relative residual: near atoms the subordination functions grow like 1/Im z
        r = om - self.T(b, om)
        scale = 1.0 + np.abs(om).reshape(len(b), -1).max(axis=1)
        return r, np.abs(r).reshape(len(b), -1).max(axis=1) / scale

    def jacobian(self, b, om, h0):
        # d h_i / d omega_i by forward differences, then J = I - (off-diagonal blocks)
        P, k, n, _ = om.shape
        m = n * n
        J = np.zeros((P, k * m, k * m), dtype=complex)
        J[:, np.arange(k * m), np.arange(k * m)] = 1.0
        for i, v in enumerate(self.vars):
            base = h0[i]
            for c in range(n):
                for d in range(n):
                    delta = 1e-7 * (1.0 + np.abs(om[:, i]).max(axis=(1, 2)))
                    w = om[:, i].copy()
                    w[:, c, d] += delta
                    dh = ((v.h(w) - base) / delta[:, None, None]).reshape(P, m)
                    col = i * m + c * n + d
                    for j in range(k):
                        if j != i:
                            J[:, j * m:(j + 1) * m, col] -= dh
        return J


def _averaged(sys, b, om, iters):
    for _ in range(iters):
        t = sys.T(b, om)
        om = 0.5 * (om + t)
    return om


def _newton(sys, b, om, iters, tol):
    P = len(b)
    r, r0 = sys.resid(b, om)
    for _ in range(iters):
        act = r0 > tol
        if not np.any(act):
            break
        idx = np.where(act)[0]
        h0 = sys.hs(om[idx])
        J = sys.jacobian(b[idx], om[idx], h0)
        try:
            step = np.linalg.solve(J, -r[idx].reshape(len(idx), -1, 1))[..., 0].reshape(om[idx].shape)
        except np.linalg.LinAlgError:
            step = -0.5 * r[idx]
        lam = np.ones(len(idx))
        done = np.zeros(len(idx), dtype=bool)
        for _h in range(25):
            cand = om[idx] + lam[:, None, None, None] * step
            ok = np.all(np.stack([_posdef(cand[:, j]) for j in range(sys.k)], axis=1), axis=1) & ~done
            if np.any(ok):
                sel = np.where(ok)[0]
                rc, rcn = sys.resid(b[idx[sel]], cand[sel])
                good = rcn < r0[idx[sel]]
                gi = idx[sel[good]]
                om[gi] = cand[sel[good]]
                r[gi] = rc[good]
                r0[gi] = rcn[good]
                done[sel[good]] = True
            if np.all(done):
                break
            lam = np.where(done, lam, 0.5 * lam)
        stuck = idx[~done]
        if len(stuck):
            om[stuck] = _averaged(sys, b[stuck], om[stuck], 50)
            r[stuck], r0[stuck] = sys.resid(b[stuck], om[stuck])
    return om, r0


def solve_subordination(a0, variables, x, y, eps, top, tol=1e-12, ratio=0.3, max_rungs=80):
    """Solve the subordination system at ``Λ = diag(x + i y, i eps, ...)`` for every point.

    Continuation starts at height ``top`` and divides the height by ``1/ratio`` per rung; a
    point whose Newton solve fails at a rung retries from its last solution with a step closer
    to 1 (the square root of its ratio), and speeds up again after a success.
    Returns ``(G_L(Λ) (P, n, n), residual (P,))``.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    P, n = len(x), a0.shape[0]
    sys = _System(variables)

    def lam(h, sel):
        m = len(sel)
        b = np.zeros((m, n, n), dtype=complex)
        # the (1,1) entry descends to Im z, the regulariser entries to eps, independently
        b[:, 0, 0] = x[sel] + 1j * np.maximum(h, y[sel])
        idx = np.arange(1, n)
        b[:, idx, idx] = 1j * np.maximum(h, eps)[:, None]
        return b - a0[None]

    allp = np.arange(P)
    h = np.full(P, max(top, float(y.max())))
    b = lam(h, allp)
    if sys.k == 1:
        return variables[0].cauchy(lam(np.minimum(y, eps), allp)), np.zeros(P)
    # omega_j ~ b - sum_{i != j} E[X_i] far from the axis
    means = [v.mean_matrix for v in variables]
    om = np.stack([b - (sum(means) - means[j])[None] for j in range(sys.k)], axis=1).astype(complex)
    om = _averaged(sys, b, om, 200)
    om, r0 = _newton(sys, b, om, 40, tol)
    rho = np.full(P, ratio)
    accept = max(1e3 * tol, 1e-10)
    floor = np.minimum(y, eps)
    finished = h <= floor
    for _ in range(max_rungs):
        act = np.where(~finished)[0]
        if not len(act):
            break
        hn = np.maximum(h[act] * rho[act], floor[act])
        b = lam(hn, act)
        omc, rc = _newton(sys, b, om[act].copy(), 30, tol)
        ok = rc <= accept
        good, bad = act[ok], act[~ok]
        om[good], r0[good], h[good] = omc[ok], rc[ok], hn[ok]
        rho[good] = np.maximum(rho[good] ** 2, ratio)  # speed back up after a success
        rho[bad] = np.sqrt(rho[bad])
        r0[bad] = rc[~ok]
        # a point whose step has shrunk to nothing is given up; the caller reports its residual
        finished = finished | (h <= floor) | (rho > 0.995)
    # a point that never reached its target height has not been solved: report it as such
    r0 = np.where(h <= floor, r0, np.inf)
    G = variables[0].cauchy(om[:, 0])
    return G, r0
