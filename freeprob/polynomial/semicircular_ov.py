r"""Operator-valued semicircular elements: the Helton–Rashidi Far–Speicher fixed point (numba).

For :math:`S = \sum_j \sigma_j a_j \otimes s_j` with free standard semicirculars :math:`s_j` and real
symmetric :math:`a_j`, the :math:`M_n(\mathbb C)`-valued Cauchy transform
:math:`G(b) = E[(b - a_0 - S)^{-1}]` is the unique solution with :math:`\operatorname{Im} G < 0` of

.. math:: G = \bigl(b - a_0 - \eta(G)\bigr)^{-1}, \qquad \eta(B) = \sum_j \sigma_j^2\, a_j B a_j ,

for :math:`\operatorname{Im} b > 0` (Helton, Rashidi Far, Speicher 2007).  The averaged map
:math:`G \leftarrow \tfrac12[G + (b - a_0 - \eta(G))^{-1}]` converges from :math:`G = (b-a_0)^{-1}`
when Im b is large; we then descend in height along a geometric ladder, solving
:math:`R(G) = (b - a_0 - \eta(G))G - I = 0` at each rung with guarded Newton steps (Jacobian
:math:`H \mapsto (b - a_0 - \eta(G))H - \eta(H)G`, a step is accepted only if it reduces
``|R|`` and keeps :math:`\operatorname{Im} G_{ii} \le 0`), falling back to the averaged iteration.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["solve_semicircular"]


@njit(cache=True)
def _eta(G, A):
    # explicit loops: A[j] slices are not typed contiguous, and n is small
    n = G.shape[0]
    out = np.zeros((n, n), dtype=np.complex128)
    tmp = np.empty((n, n), dtype=np.complex128)
    for j in range(A.shape[0]):
        for a in range(n):
            for b in range(n):
                s = 0j
                for c in range(n):
                    s += A[j, a, c] * G[c, b]
                tmp[a, b] = s
        for a in range(n):
            for b in range(n):
                s = 0j
                for c in range(n):
                    s += tmp[a, c] * A[j, c, b]
                out[a, b] += s
    return out


@njit(cache=True)
def _resid(G, W0, A):
    n = G.shape[0]
    W = W0 - _eta(G, A)
    R = W @ G
    for i in range(n):
        R[i, i] -= 1.0
    return R, W


@njit(cache=True)
def _maxabs(R):
    m = 0.0
    for v in R.ravel():
        a = abs(v)
        if a > m:
            m = a
    return m


@njit(cache=True)
def _branch_ok(G):
    # Im G <= 0 in the matrix sense implies non-positive diagonal imaginary parts
    s = _maxabs(G)
    for i in range(G.shape[0]):
        if G[i, i].imag > 1e-10 * (1.0 + s):
            return False
    return True


@njit(cache=True)
def _averaged(G, W0, A, iters):
    for _ in range(iters):
        W = W0 - _eta(G, A)
        Gn = 0.5 * (G + np.linalg.inv(W))
        d = _maxabs(Gn - G)
        G = Gn
        if d < 1e-15 * (1.0 + _maxabs(G)):
            break
    return G


@njit(cache=True)
def _newton(G, W0, A, iters, tol):
    n = G.shape[0]
    R, W = _resid(G, W0, A)
    r0 = _maxabs(R)
    for _ in range(iters):
        if r0 <= tol:
            break
        J = np.zeros((n * n, n * n), dtype=np.complex128)
        AG = np.empty((A.shape[0], n, n), dtype=np.complex128)
        for j in range(A.shape[0]):
            for a in range(n):
                for b in range(n):
                    s = 0j
                    for c in range(n):
                        s += A[j, a, c] * G[c, b]
                    AG[j, a, b] = s
        for a in range(n):
            for b in range(n):
                row = a * n + b
                for c in range(n):
                    J[row, c * n + b] += W[a, c]
                    for d in range(n):
                        s = 0j
                        for j in range(A.shape[0]):
                            s += A[j, a, c] * AG[j, d, b]
                        J[row, c * n + d] -= s
        step = np.ascontiguousarray(np.linalg.solve(J, -R.ravel())).reshape((n, n))
        lam = 1.0
        accepted = False
        for _h in range(30):
            Gc = G + lam * step
            Rc, Wc = _resid(Gc, W0, A)
            rc = _maxabs(Rc)
            if rc < r0 and _branch_ok(Gc):
                G, R, W, r0 = Gc, Rc, Wc, rc
                accepted = True
                break
            lam *= 0.5
        if not accepted:
            G = _averaged(G, W0, A, 200)
            R, W = _resid(G, W0, A)
            r1 = _maxabs(R)
            if r1 >= r0:
                r0 = r1
                break
            r0 = r1
    return G, r0


@njit(cache=True)
def solve_semicircular(a0, A, x, y, eps, heights, tol):
    """Solve the HRS equation at ``b = diag(x + i y, i eps, ..., i eps)`` for each point.

    Parameters are complex ``a0`` (n, n), ``A`` (k, n, n) (variances folded in), float arrays
    ``x``, ``y`` (P,), the pencil regulariser ``eps`` and the descending height ladder.
    Returns ``(G (P, n, n), residual (P,))``.
    """
    P = x.shape[0]
    n = a0.shape[0]
    out = np.empty((P, n, n), dtype=np.complex128)
    res = np.empty(P)
    for p in range(P):
        W0 = -a0.copy()
        h0 = max(heights[0], y[p])
        W0[0, 0] += x[p] + 1j * h0
        for i in range(1, n):
            W0[i, i] += 1j * max(h0, eps)
        G = np.linalg.inv(W0)
        G = _averaged(G, W0, A, 2000)
        r = 0.0
        last = False
        floor = min(y[p], eps)
        for hh in range(heights.shape[0] + 1):
            h = heights[hh] if hh < heights.shape[0] else floor
            if h <= floor:
                h = floor
                last = True
            # the (1,1) entry descends to Im z, the regulariser entries to eps, independently
            W0 = -a0.copy()
            W0[0, 0] += x[p] + 1j * max(h, y[p])
            for i in range(1, n):
                W0[i, i] += 1j * max(h, eps)
            G, r = _newton(G, W0, A, 60, tol)
            if last:
                break
        out[p] = G
        res[p] = r
    return out, res
