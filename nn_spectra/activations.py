r"""Activation functions φ with their first two derivatives and Gaussian closed forms.

An :class:`Activation` carries vectorised numpy callables ``phi``, ``dphi``, ``d2phi`` and, where
they exist, closed forms of the Gaussian integrals that mean-field theory and the infinite-width
kernels need:

* ``moments_1d(q)`` returns :math:`(E[\varphi(u)^2],\ E[\varphi'(u)^2],\ E[\varphi''(u)\varphi(u)])`
  for :math:`u=\sqrt q\,z`, :math:`z\sim N(0,1)`.  For activations with kinks, :math:`\varphi''`
  contains Dirac masses (for hard tanh, :math:`\delta(x+1)-\delta(x-1)`), and the third entry
  includes them;
* ``kernel_2d(q11, q22, q12)`` returns :math:`(E[\varphi(u)\varphi(v)],\ E[\varphi'(u)\varphi'(v)])`
  for a centred Gaussian pair with covariance :math:`\begin{pmatrix}q_{11}&q_{12}\\q_{12}&q_{22}\end{pmatrix}`.

Either hook may be ``None``; :mod:`nn_spectra.gaussian_integrals` then integrates numerically
(Gauss–Hermite for smooth built-ins, piecewise Gauss–Legendre split at the kinks otherwise).

Conventions: ``erf`` is :math:`\operatorname{erf}(x)` itself (not rescaled); ``gelu`` is the exact
:math:`x\Phi(x)`; ``selu`` uses the constants of Klambauer et al. (2017); derivatives at a kink take
the right-continuous value except ``relu`` which uses :math:`\varphi'(0)=0`.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
from scipy import special

__all__ = ["Activation", "activation", "ACTIVATIONS"]

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772

# numba dispatch codes (see gaussian_integrals._phi_code); -1 means "no compiled kernel"
_CODES = {"linear": 0, "tanh": 1, "erf": 2, "sigmoid": 3, "softplus": 4, "gelu": 5, "silu": 6,
          "relu": 7, "leaky_relu": 8, "hard_tanh": 9, "selu": 10}


class Activation:
    r"""A pointwise nonlinearity φ with φ', φ'' and optional Gaussian closed forms.

    Build one with :func:`activation`.  Instances are callable (``act(x) == act.phi(x)``).

    Attributes
    ----------
    name : str
        Identifier (``"tanh"``, ``"leaky_relu"``, the function's ``__name__`` for custom ones).
    phi, dphi, d2phi : callable
        Vectorised numpy functions.
    kinks : tuple of float
        Points where φ' jumps; the numerical integrators split there.
    dphi_jumps : tuple of float
        The jump φ'(k+) − φ'(k−) at each kink (the Dirac masses of φ'').
    smooth : bool
        True when φ is analytic on a neighbourhood of the real line (Gauss–Hermite converges fast).
    alpha : float
        Parameter of ``leaky_relu`` (slope for x < 0); 0 otherwise.
    code : int
        Dispatch code of the compiled (numba) quadrature kernel, −1 if none.
    """

    def __init__(self, name: str, phi: Callable, dphi: Callable, d2phi: Callable, *,
                 kinks: tuple = (), dphi_jumps: tuple = (), smooth: bool = False,
                 moments_1d: Callable | None = None, kernel_2d: Callable | None = None,
                 alpha: float = 0.0, code: int = -1):
        self.name = name
        self.phi = phi
        self.dphi = dphi
        self.d2phi = d2phi
        self.kinks = tuple(float(k) for k in kinks)
        self.dphi_jumps = tuple(float(j) for j in dphi_jumps)
        self.smooth = bool(smooth)
        self.moments_1d = moments_1d
        self.kernel_2d = kernel_2d
        self.alpha = float(alpha)
        self.code = int(code)

    def __call__(self, x):
        return self.phi(np.asarray(x, dtype=float))

    def __repr__(self) -> str:
        extra = f", alpha={self.alpha}" if self.name == "leaky_relu" else ""
        return f"Activation({self.name!r}{extra})"

    # Built-ins are identified by name and parameter, so that equal descriptions compare equal
    # (a frozen Network holding one is then hashable and comparable) and pickle by name rather
    # than by their local lambdas; a custom activation is identified by the callables it wraps.
    def _key(self):
        if self.code >= 0:
            return ("builtin", self.name, self.alpha)
        spec = getattr(self, "_spec", None)
        return ("custom", id(self)) if spec is None else ("custom",) + tuple(id(f) for f in spec[:3]) + spec[3:]

    def __eq__(self, other) -> bool:
        return isinstance(other, Activation) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self):
        if self.code >= 0:
            return (_rebuild_builtin, (self.name, self.alpha))
        spec = getattr(self, "_spec", None)
        if spec is None:
            raise TypeError(f"activation {self.name!r} was built from bare callables and cannot be pickled; "
                            "build it with nn_spectra.activation(phi, dphi, d2phi) from module-level functions")
        return (_rebuild_custom, spec)


# ----------------------------------------------------------------------------- closed forms
def _corr(q11, q22, q12):
    # correlation clipped into [-1, 1]: rounding in deep recursions can push |c| a hair above 1,
    # and arccos/arcsin would then return NaN
    den = np.sqrt(q11 * q22)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(den > 0, q12 / np.where(den > 0, den, 1.0), 0.0)
    return np.clip(c, -1.0, 1.0), den


def _relu_kernel(q11, q22, q12):
    # arc-cosine kernel of degree 1 and 0 (Cho & Saul 2009)
    c, den = _corr(q11, q22, q12)
    # near c = 1, θ ≈ √(2(1−c)): a rounding error of 1e-16 in c costs 1e-8 in θ and in K̇.  θ is
    # taken from the clipped correlation, which is exactly 1 when q12 = √(q11 q22) as computed (the
    # kernel recursion sets its diagonal from the 1-D integral for that reason)
    theta = np.arccos(c)
    k = den * (np.sin(theta) + (np.pi - theta) * c) / (2 * np.pi)
    kd = np.where(den > 0, (np.pi - theta) / (2 * np.pi), 0.0)
    return k, kd


def _leaky_kernel(alpha):
    # φ = (1−α) relu + α·id, and E[relu(u) v] = q12/2, so the cross terms collapse to α q12
    def kern(q11, q22, q12):
        k, kd = _relu_kernel(q11, q22, q12)
        _, den = _corr(q11, q22, q12)
        kd = np.where(den > 0, kd, 0.25)
        return (1 - alpha) ** 2 * k + alpha * q12, alpha + (1 - alpha) ** 2 * kd
    return kern


def _leaky_moments(alpha):
    def mom(q):
        s = (1 + alpha * alpha) / 2
        return s * q, s + 0 * q, 0 * q
    return mom


def _erf_kernel(q11, q22, q12):
    # Williams (1997): E[erf(u) erf(v)] = (2/π) arcsin(2 q12 / sqrt((1+2q11)(1+2q22)));
    # erf' = (2/√π) e^{-x²} gives E = (4/π) det(I + 2Q)^{-1/2}
    a = (1 + 2 * q11) * (1 + 2 * q22)
    k = (2 / np.pi) * np.arcsin(np.clip(2 * q12 / np.sqrt(a), -1.0, 1.0))
    det = np.maximum(a - 4 * q12 * q12, np.finfo(float).tiny)
    return k, (4 / np.pi) / np.sqrt(det)


def _erf_moments(q):
    # d/dq E[f(√q z)] = E[f''(√q z)]/2 with f = φ² gives E[φφ''] = d/dq E[φ²] − E[φ'²]
    e2 = (2 / np.pi) * np.arcsin(2 * q / (1 + 2 * q))
    d2 = (4 / np.pi) / np.sqrt(1 + 4 * q)
    return e2, d2, -(8 / np.pi) * q / ((1 + 2 * q) * np.sqrt(1 + 4 * q))


def _hard_tanh_moments(q):
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(q > 0, 1 / np.sqrt(np.where(q > 0, q, 1.0)), np.inf)
        pdf_a = np.where(np.isfinite(a), np.exp(-0.5 * np.where(np.isfinite(a), a, 0) ** 2) / np.sqrt(2 * np.pi), 0.0)
        inside = special.erf(a / np.sqrt(2))  # P(|z| < a)
        tail = special.erfc(a / np.sqrt(2))   # P(|z| > a)
        e2 = np.where(q > 0, q * (inside - 2 * a * pdf_a) + tail, 0.0)
        # Dirac masses of φ'' at ±1 with φ(±1) = ±1: −2 p_u(1), p_u(1) = ϕ(a)/√q
        e11 = np.where(q > 0, -2 * pdf_a * a, 0.0)
    return e2, inside, e11


def _hard_tanh_kernel(q11, q22, q12):
    # closed form at unequal variances (bivariate normal orthant probabilities): nn_spectra.closed_kernels
    from .closed_kernels import hard_tanh_kernel

    return hard_tanh_kernel(q11, q22, q12)


def _selu_kernel(q11, q22, q12):
    from .closed_kernels import selu_kernel

    return selu_kernel(q11, q22, q12)


def _gelu_kernel(q11, q22, q12):
    from .closed_kernels import gelu_kernel

    return gelu_kernel(q11, q22, q12)


# ----------------------------------------------------------------------------- built-ins
def _sig(x):
    return special.expit(x)


def _builtin(name: str, alpha: float) -> Activation:
    c = _CODES[name]
    if name == "linear":
        return Activation("linear", lambda x: np.asarray(x, float) * 1.0, lambda x: np.ones_like(x, dtype=float),
                          lambda x: np.zeros_like(x, dtype=float), smooth=True, code=c,
                          moments_1d=lambda q: (q * 1.0, 1.0 + 0 * q, 0 * q),
                          kernel_2d=lambda q11, q22, q12: (q12 * 1.0, 1.0 + 0 * q12))
    if name == "relu":
        return Activation("relu", lambda x: np.maximum(x, 0.0), lambda x: (np.asarray(x) > 0).astype(float),
                          lambda x: np.zeros_like(x, dtype=float), kinks=(0.0,), dphi_jumps=(1.0,), code=c,
                          moments_1d=_leaky_moments(0.0), kernel_2d=_relu_kernel)
    if name == "leaky_relu":
        a = alpha
        return Activation("leaky_relu", lambda x: np.where(np.asarray(x) > 0, x, a * np.asarray(x)),
                          lambda x: np.where(np.asarray(x) > 0, 1.0, a),
                          lambda x: np.zeros_like(x, dtype=float), kinks=(0.0,), dphi_jumps=(1.0 - a,),
                          moments_1d=_leaky_moments(a), kernel_2d=_leaky_kernel(a), alpha=a, code=c)
    if name == "hard_tanh":
        return Activation("hard_tanh", lambda x: np.clip(x, -1.0, 1.0),
                          lambda x: (np.abs(np.asarray(x)) < 1).astype(float),
                          lambda x: np.zeros_like(x, dtype=float), kinks=(-1.0, 1.0), dphi_jumps=(1.0, -1.0),
                          moments_1d=_hard_tanh_moments, kernel_2d=_hard_tanh_kernel, code=c)
    if name == "tanh":
        return Activation("tanh", np.tanh, lambda x: 1 / np.cosh(x) ** 2,
                          lambda x: -2 * np.tanh(x) / np.cosh(x) ** 2, smooth=True, code=c)
    if name == "erf":
        k = 2 / np.sqrt(np.pi)
        return Activation("erf", special.erf, lambda x: k * np.exp(-np.asarray(x) ** 2),
                          lambda x: -2 * k * np.asarray(x) * np.exp(-np.asarray(x) ** 2), smooth=True, code=c,
                          moments_1d=_erf_moments, kernel_2d=_erf_kernel)
    if name == "sigmoid":
        return Activation("sigmoid", _sig, lambda x: _sig(x) * _sig(-np.asarray(x)),
                          lambda x: _sig(x) * _sig(-np.asarray(x)) * (1 - 2 * _sig(x)), smooth=True, code=c)
    if name == "softplus":
        return Activation("softplus", lambda x: np.logaddexp(0.0, x), _sig,
                          lambda x: _sig(x) * _sig(-np.asarray(x)), smooth=True, code=c)
    if name == "gelu":
        def gelu(x):
            return np.asarray(x) * special.ndtr(x)

        def dgelu(x):
            x = np.asarray(x)
            return special.ndtr(x) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)

        def d2gelu(x):
            x = np.asarray(x)
            return (2 - x * x) * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
        return Activation("gelu", gelu, dgelu, d2gelu, smooth=True, code=c, kernel_2d=_gelu_kernel)
    if name == "silu":
        def dsilu(x):
            s = _sig(x)
            return s * (1 + np.asarray(x) * (1 - s))

        def d2silu(x):
            s = _sig(x)
            return s * (1 - s) * (2 + np.asarray(x) * (1 - 2 * s))
        return Activation("silu", lambda x: np.asarray(x) * _sig(x), dsilu, d2silu, smooth=True, code=c)
    if name == "selu":
        lam, al = SELU_LAMBDA, SELU_ALPHA
        return Activation("selu", lambda x: lam * np.where(np.asarray(x) > 0, x, al * np.expm1(np.minimum(x, 0))),
                          lambda x: lam * np.where(np.asarray(x) > 0, 1.0, al * np.exp(np.minimum(x, 0))),
                          lambda x: lam * np.where(np.asarray(x) > 0, 0.0, al * np.exp(np.minimum(x, 0))),
                          kinks=(0.0,), dphi_jumps=(lam * (1 - al),), code=c, kernel_2d=_selu_kernel)
    raise AssertionError(name)  # pragma: no cover


def _rebuild_builtin(name: str, alpha: float) -> Activation:
    return _builtin(name, float(alpha))


def _rebuild_custom(phi, dphi, d2phi, kinks, smooth, explicit):
    # the derivatives were given by the user (explicit) or are finite differences of phi
    import warnings as _w

    with _w.catch_warnings():
        _w.simplefilter("ignore", UserWarning)
        return activation(phi, dphi if explicit[0] else None, d2phi if explicit[1] else None,
                          kinks=kinks, smooth=smooth)


_ALIASES = {"swish": "silu", "hardtanh": "hard_tanh", "identity": "linear", "leaky": "leaky_relu"}
ACTIVATIONS = tuple(sorted(_CODES)) + ("swish",)


def _finite_difference(f: Callable, order: int) -> Callable:
    # central differences with steps near the optimum for float64 (h ~ eps^(1/3), eps^(1/4))
    if order == 1:
        def d(x):
            x = np.asarray(x, float)
            h = 6e-6 * np.maximum(1.0, np.abs(x))
            return (f(x + h) - f(x - h)) / (2 * h)
    else:
        def d(x):
            x = np.asarray(x, float)
            h = 1e-4 * np.maximum(1.0, np.abs(x))
            return (f(x + h) - 2 * f(x) + f(x - h)) / (h * h)
    return d


def activation(name_or_phi, dphi: Callable | None = None, d2phi: Callable | None = None, *,
               alpha: float = 0.01, kinks=(), smooth: bool = False) -> Activation:
    r"""An :class:`Activation` by name, or a custom one from vectorised callables.

    Parameters
    ----------
    name_or_phi : str, Activation or callable
        One of ``linear, relu, leaky_relu, hard_tanh, tanh, erf, sigmoid, softplus, gelu, silu``
        (alias ``swish``), ``selu``; or φ itself as a vectorised numpy function.
    dphi, d2phi : callable, optional
        φ' and φ'' for a custom φ.  When missing they are taken by central finite differences,
        with a ``UserWarning`` (accuracy about 1e-10 for φ', 1e-7 for φ'').
    alpha : float
        Negative-side slope of ``leaky_relu``, in [0, 1].
    kinks : sequence of float
        For a custom φ: points where φ' is discontinuous (the quadrature splits there).
    smooth : bool
        For a custom φ: declare it analytic near the real axis.

    Returns
    -------
    Activation

    Examples
    --------
    >>> import numpy as np, nn_spectra as ns
    >>> act = ns.activation("relu")
    >>> act.phi(np.array([-1.0, 2.0]))
    array([0., 2.])
    >>> ns.activation("leaky_relu", alpha=0.1).dphi(np.array([-1.0]))
    array([0.1])
    """
    if isinstance(name_or_phi, Activation):
        return name_or_phi
    if isinstance(name_or_phi, str):
        key = name_or_phi.strip().lower().replace("-", "_")
        key = _ALIASES.get(key, key)
        if key not in _CODES:
            raise ValueError(f"unknown activation {name_or_phi!r}; known: {', '.join(ACTIVATIONS)}")
        if key == "leaky_relu":
            a = float(alpha)
            if not (0.0 <= a <= 1.0):
                raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
        else:
            a = 0.0
        return _builtin(key, a)
    if not callable(name_or_phi):
        raise ValueError(f"name_or_phi must be an activation name or a callable, got {name_or_phi!r}; "
                         f"known names: {', '.join(ACTIVATIONS)}")
    phi = name_or_phi
    explicit = (dphi is not None, d2phi is not None)
    user_dphi, user_d2phi = dphi, d2phi
    if dphi is None or d2phi is None:
        warnings.warn("derivatives of a custom activation taken by finite differences; pass dphi and d2phi "
                      "for full accuracy", UserWarning, stacklevel=2)
    if dphi is None:
        dphi = _finite_difference(phi, 1)
    if d2phi is None:
        d2phi = _finite_difference(phi, 2)
    ks = tuple(float(k) for k in kinks)
    jumps = tuple(float(np.asarray(dphi(np.array([k + 1e-9]))).ravel()[0] - np.asarray(dphi(np.array([k - 1e-9]))).ravel()[0])
                  for k in ks)
    name = getattr(phi, "__name__", "custom")
    if name == "<lambda>" or not isinstance(name, str):
        name = "custom"
    act = Activation(name, lambda x: np.asarray(phi(np.asarray(x, float)), float),
                     lambda x: np.asarray(dphi(np.asarray(x, float)), float),
                     lambda x: np.asarray(d2phi(np.asarray(x, float)), float),
                     kinks=ks, dphi_jumps=jumps, smooth=smooth)
    act._spec = (phi, user_dphi, user_d2phi, ks, bool(smooth), explicit)
    return act




class SquaredDerivative:
    r""":math:`h\mapsto\varphi'(h)^2` as a picklable callable (laws built from it, such as the law of
    :math:`D^2` in :mod:`nn_spectra.jacobian`, then pickle with it).

    >>> import numpy as np
    >>> SquaredDerivative(activation("relu"))(np.array([-1.0, 2.0]))
    array([0., 1.])
    """

    def __init__(self, act):
        self.act = activation(act)

    def __call__(self, h):
        return np.asarray(self.act.dphi(h), dtype=float) ** 2

    def __repr__(self) -> str:
        return f"SquaredDerivative({self.act!r})"
