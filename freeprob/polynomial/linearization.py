r"""Self-adjoint linearization of a self-adjoint noncommutative polynomial.

For a self-adjoint polynomial :math:`p(x_1,\dots,x_k)` in self-adjoint variables we build a real
symmetric pencil

.. math:: L = a_0 + \sum_j a_j\, x_j = \begin{pmatrix} c + \ell(x) & r \\ r^* & Q \end{pmatrix},
          \qquad p = c + \ell(x) - r\, Q^{-1} r^*,

so that the Schur complement of the (1,1) entry of :math:`\Lambda - L`,
:math:`\Lambda = \operatorname{diag}(z, 0, \dots, 0)`, is :math:`z - p` and
:math:`[(\Lambda - L)^{-1}]_{11} = (z - p)^{-1}` (Anderson; Belinschi–Mai–Speicher 2017).
Here :math:`r` is a row of linear forms and :math:`Q` a self-adjoint matrix of affine forms that
is invertible *as a matrix of polynomials*: its inverse is built explicitly alongside.

Blocks (each contributes a diagonal block of :math:`Q` and a segment of :math:`r`):

* constant and degree-1 terms go into the (1,1) entry;
* the quadratic part :math:`x^T C x` (C real symmetric): if C restricted to the variables it uses
  is invertible, :math:`r = x`, :math:`Q = -C^{-1}` (size = number of those variables); otherwise
  :math:`c\,x_i^2` gives :math:`r = x_i, Q = -1/c` and :math:`c(x_ix_j + x_jx_i)` a 2×2 block;
* a palindrome :math:`c\, l_1 \cdots l_h\, m\, l_h \cdots l_1` (m a letter or empty):
  :math:`Q = \begin{pmatrix} 0 & B^* \\ B & M\end{pmatrix}`, :math:`B = -(I - N)` with the letters
  :math:`l_2,\dots,l_h` on the superdiagonal of N, :math:`M = c\,m\,E_{hh}`, :math:`r = (l_1, 0, \dots)`;
  then :math:`Q^{-1} = \begin{pmatrix} -B^{-1}MB^{-*} & B^{-1} \\ B^{-*} & 0\end{pmatrix}`;
* a pair :math:`c(w + w^*)`, :math:`w = l_1\cdots l_k` not a palindrome: with
  :math:`A = -(I-N)` (:math:`l_2..l_{k-1}` on the superdiagonal), :math:`u = c\,l_1 e_1^T`,
  :math:`v = l_k e_{k-1}` one has :math:`c\,w = -uA^{-1}v`, and the block
  :math:`Q = \begin{pmatrix} 0 & A^* \\ A & 0\end{pmatrix}`, :math:`r = (u, v^*)`.

Every pencil is verified symbolically with sympy noncommutative symbols when it is built:
``Q Q^{-1} = Q^{-1} Q = I``, ``L = L^*`` and ``c + ℓ - r Q^{-1} r^* = p`` (see :meth:`Pencil.verify`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import sympy

from .variables import is_self_adjoint, poly_to_words, words_to_sympy

__all__ = ["Pencil", "linearize", "LinearizationError"]


class LinearizationError(ValueError):
    """The pencil failed its symbolic verification (a bug, never expected)."""


@dataclass(frozen=True)
class Pencil:
    r"""A self-adjoint linear pencil :math:`L = a_0 + \sum_j a_j x_j` linearizing ``p``.

    Attributes
    ----------
    a0 : ndarray, shape (n, n)
        Constant coefficient (real symmetric).
    a : ndarray, shape (k, n, n)
        Coefficient of each variable, in the order of :attr:`variables`.
    variables : tuple
        The sympy noncommutative symbols.
    polynomial : sympy.Expr
        The linearized polynomial.
    L : sympy.Matrix
        The pencil with symbolic entries; ``Qinv`` the explicit polynomial inverse of its lower block.
    """

    a0: np.ndarray
    a: np.ndarray
    variables: tuple
    polynomial: object
    L: object
    Qinv: object

    @property
    def size(self) -> int:
        """Pencil size n."""
        return int(self.a0.shape[0])

    def verify(self, tol: float = 1e-12) -> None:
        """Check the Schur-complement identity symbolically; :class:`LinearizationError` if it fails."""
        verify_pencil(self.L, self.Qinv, self.polynomial, self.variables, tol)


def _expand_matrix(m):
    return m.applyfunc(sympy.expand)


def _adj(m):
    # adjoint of a matrix of real polynomials in self-adjoint variables: transpose and reverse words
    def rev(e):
        e = sympy.expand(e)
        out = sympy.Integer(0)
        for t in sympy.Add.make_args(e):
            c, nc = t.args_cnc()
            letters = []
            for f in nc:
                if f.is_Pow:
                    letters.extend([f.args[0]] * int(f.args[1]))
                else:
                    letters.append(f)
            out += sympy.Mul(*c) * sympy.Mul(*reversed(letters))
        return out

    return m.T.applyfunc(rev)


def _is_zero(expr, tol: float) -> bool:
    expr = sympy.expand(expr)
    if expr == 0:
        return True
    return all(abs(complex(sympy.Mul(*t.args_cnc()[0]))) <= tol for t in sympy.Add.make_args(expr))


def verify_pencil(L, Qinv, p, variables, tol: float = 1e-12) -> None:
    """Verify ``L = L^*``, ``Q Qinv = Qinv Q = I`` and ``L_11 - r Qinv r^* = p`` symbolically."""
    n = L.shape[0]
    if any(not _is_zero(e, tol) for e in (L - _adj(L))):
        raise LinearizationError("pencil is not self-adjoint")
    if n == 1:
        if not _is_zero(L[0, 0] - p, tol):
            raise LinearizationError("1x1 pencil differs from p")
        return
    Q = L[1:, 1:]
    r = L[0, 1:]
    eye = sympy.eye(n - 1)
    for prod in (Q * Qinv, Qinv * Q):
        if any(not _is_zero(e, tol) for e in (_expand_matrix(prod) - eye)):
            raise LinearizationError("Qinv is not the inverse of the lower block Q")
    schur = L[0, 0] - (r * Qinv * _adj(r))[0, 0]
    if not _is_zero(schur - p, tol):
        raise LinearizationError(f"Schur complement {sympy.expand(schur)} differs from p = {p}")


def _chain(letters, size):
    """-(I - N) with ``letters`` on the superdiagonal, and its inverse -(I + N + N^2 + ...)."""
    N = sympy.zeros(size, size)
    for j, l in enumerate(letters):
        N[j, j + 1] = l
    A = -(sympy.eye(size) - N)
    S = sympy.eye(size)
    P = sympy.eye(size)
    for _ in range(size - 1):
        P = P * N
        S = S + P
    return A, _expand_matrix(-S)


def linearize(p, variables: Sequence, *, verify: bool = True) -> Pencil:
    """Self-adjoint linearization of the self-adjoint polynomial ``p`` (see the module docstring).

    Parameters
    ----------
    p : sympy.Expr
        A polynomial in the noncommutative symbols ``variables`` with real coefficients.
    variables : sequence of sympy.Symbol
        The variables (from :func:`freeprob.polynomial.free_variables`).
    verify : bool
        Check the Schur-complement identity symbolically (default; cheap for small pencils).

    Returns
    -------
    Pencil

    Examples
    --------
    >>> from freeprob.polynomial import free_variables
    >>> x, y = free_variables("x y")
    >>> linearize(x*y + y*x, [x, y]).size
    3
    """
    variables = tuple(variables)
    words = poly_to_words(p, variables)
    if not is_self_adjoint(words):
        raise ValueError(f"p = {p} is not self-adjoint: p - p* = "
                         f"{sympy.expand(words_to_sympy(words, variables) - words_to_sympy({tuple(reversed(w)): c for w, c in words.items()}, variables))}")
    X = list(variables)
    head = sympy.Integer(0)
    r_parts: list[list] = []
    q_blocks: list[tuple] = []  # (Q, Qinv)
    quad = {w: c for w, c in words.items() if len(w) == 2}
    for w, c in words.items():
        if len(w) <= 1:
            head += c * (X[w[0]] if w else 1)
    # -- quadratic part x^T C x ------------------------------------------------------------
    if quad:
        used = sorted({i for w in quad for i in w})
        C = sympy.zeros(len(used), len(used))
        for (i, j), c in quad.items():
            C[used.index(i), used.index(j)] = c
        if C.det() != 0:
            Ci = C.inv()
            r_parts.append([X[i] for i in used])
            q_blocks.append((_expand_matrix(-Ci), -C))
        else:
            for (i, j), c in quad.items():
                if i == j:
                    r_parts.append([X[i]])
                    q_blocks.append((sympy.Matrix([[-1 / c]]), sympy.Matrix([[-c]])))
                elif i < j:
                    r_parts.append([c * X[i], X[j]])
                    J = sympy.Matrix([[0, -1], [-1, 0]])
                    q_blocks.append((J, J))
    # -- degree >= 3 -------------------------------------------------------------------------
    done = set()
    for w, c in words.items():
        if len(w) < 3 or w in done:
            continue
        wr = tuple(reversed(w))
        done.update({w, wr})
        letters = [X[i] for i in w]
        k = len(w)
        if w == wr:
            h = k // 2
            B, Binv = _chain(letters[1:h], h)
            M = sympy.zeros(h, h)
            M[h - 1, h - 1] = c * (letters[h] if k % 2 else 1)
            Bs, Bsinv = _adj(B), _adj(Binv)
            Q = sympy.BlockMatrix([[sympy.zeros(h, h), Bs], [B, M]]).as_explicit()
            Qi = sympy.BlockMatrix([[_expand_matrix(-Binv * M * Bsinv), Binv], [Bsinv, sympy.zeros(h, h)]]).as_explicit()
            r_parts.append([letters[0]] + [0] * (2 * h - 1))
            q_blocks.append((Q, _expand_matrix(Qi)))
        else:
            m = k - 1
            A, Ainv = _chain(letters[1:k - 1], m)
            As, Asinv = _adj(A), _adj(Ainv)
            u = [c * letters[0]] + [0] * (m - 1)
            vstar = [0] * (m - 1) + [letters[-1]]
            Q = sympy.BlockMatrix([[sympy.zeros(m, m), As], [A, sympy.zeros(m, m)]]).as_explicit()
            Qi = sympy.BlockMatrix([[sympy.zeros(m, m), Ainv], [Asinv, sympy.zeros(m, m)]]).as_explicit()
            r_parts.append(u + vstar)
            q_blocks.append((Q, Qi))
    r = [e for part in r_parts for e in part]
    n = 1 + len(r)
    L = sympy.zeros(n, n)
    Qinv = sympy.zeros(n - 1, n - 1)
    L[0, 0] = head
    for j, e in enumerate(r):
        L[0, j + 1] = e
        L[j + 1, 0] = e  # entries of r are real multiples of single variables: self-adjoint
    off = 1
    for Q, Qi in q_blocks:
        s = Q.shape[0]
        L[off:off + s, off:off + s] = Q
        Qinv[off - 1:off - 1 + s, off - 1:off - 1 + s] = Qi
        off += s
    if verify:
        verify_pencil(L, Qinv, sympy.expand(p), variables)
    a0, a = _coefficients(L, variables)
    return Pencil(a0=a0, a=a, variables=variables, polynomial=sympy.expand(p), L=L, Qinv=Qinv)


def _coefficients(L, variables):
    n = L.shape[0]
    a0 = np.zeros((n, n))
    a = np.zeros((len(variables), n, n))
    for i in range(n):
        for j in range(n):
            e = sympy.expand(L[i, j])
            if e == 0:
                continue
            ws = poly_to_words(e, variables)
            for w, c in ws.items():
                if len(w) == 0:
                    a0[i, j] = float(c)
                elif len(w) == 1:
                    a[w[0], i, j] = float(c)
                else:  # pragma: no cover - construction only produces affine entries
                    raise LinearizationError(f"pencil entry {e} is not affine")
    return a0, a
