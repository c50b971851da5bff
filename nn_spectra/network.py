r"""One description of a random fully-connected network, shared by the theory and the sampler.

A :class:`Network` is a frozen value (activation, :math:`\sigma_w^2`, :math:`\sigma_b^2`, depth,
weight law, widths, readout, batch norm), in the spirit of neural-tangents' single kernel object:
every theory function of :mod:`nn_spectra` (mean field, kernels, Jacobian, Fisher, conditional FIM,
learning rate, layerwise freeness) and the finite :class:`~nn_spectra.MLP` take their parameters from
it, so the same network is described to all of them in one way.  The functional entry points
(``jacobian_law(act, sigma_w2, sigma_b2, depth, ...)`` and so on) remain for scripts; each builds the
same object, and each also accepts a :class:`Network` in place of its first argument.

**Depth.**  ``depth`` is :math:`L`, the number of weight layers (weight matrices) of the network.
With ``widths = (n_0, ..., n_L)``:

.. math:: h^l = W^l x^{l-1} + b^l,\quad x^l = \varphi(h^l)\quad (l = 1, \dots, L-1),\qquad
          f(x) = h^L,

(the linear readout; with ``readout="none"`` the output is :math:`\varphi(h^L)`), so a network with a linear readout has :math:`L-1` hidden (nonlinear) layers.  The input-output
Jacobian of the Jacobian theory, :math:`J = D^{K}W^{K}\cdots D^1W^1`, spans the :math:`K` nonlinear
layers (:math:`K = L-1` with a linear readout, :math:`K = L` without one); the readout is not part
of :math:`J`.

Convolutional networks count depth the same way (:math:`L-1` convolutions and the readout) and take
the same description: :func:`nn_spectra.cnn_nngp_ntk`, :func:`nn_spectra.cnn_jacobian_law` and
:meth:`nn_spectra.CNN.from_network` accept a ``Network`` whose widths count channels
:math:`(C_0, C, \dots, C, 1)` (``weights="orthogonal"``: delta-orthogonal kernels), the geometry
(image shape, kernel width, pooling) being given apart.

**Weight law.**  ``weights`` is one of ``"gaussian"`` (i.i.d. :math:`N(0, \sigma_w^2/n_{l-1})`),
``"orthogonal"`` (:math:`\sigma_w` times a Haar isometry) or ``"identity"``; the same word names it in
every function and class of :mod:`nn_spectra` (:class:`~nn_spectra.MLP`, :class:`~nn_spectra.CNN`,
:func:`~nn_spectra.cnn_jacobian_law`, :func:`~nn_spectra.network_memory_bytes`, the learning-rate
experiments, ...).  The old keywords (``init=``, and ``kernel=`` of ``cnn_jacobian_law``, whose
``"delta_orthogonal"`` is ``weights="orthogonal"``) are accepted with a ``DeprecationWarning`` that
names ``weights=``; giving both raises a ``ValueError``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .activations import Activation, activation

__all__ = ["Network", "as_network", "WEIGHT_LAWS", "READOUTS"]

WEIGHT_LAWS = ("gaussian", "orthogonal", "identity")
#: The largest depth a description accepts: beyond it every per-layer theory is out of reach (and
#: products such as chi1**L leave float64 long before); a clear error instead of an overflow deep inside.
MAX_DEPTH = 10 ** 6
READOUTS = ("linear", "none")


def _int(name: str, v, low: int) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        if isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer():
            v = int(v)
        else:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    if v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def _variance(name: str, v, strict: bool) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {v!r}") from None
    if not math.isfinite(x) or x < 0 or (strict and x == 0):
        raise ValueError(f"{name} must lie in {'(0' if strict else '[0'}, inf), got {v!r}")
    return x


def _caller_stacklevel() -> int:
    """``stacklevel`` of the first frame outside :mod:`nn_spectra` (the user's call), for warnings."""
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame, level = frame.f_back, level + 1
    return level


def weight_law(weights=None, init=None, default: str = "gaussian", *, old: str = "init",
               allowed: Sequence[str] = WEIGHT_LAWS, old_values: dict | None = None, caller: str = "") -> str:
    """The weight law from ``weights`` (its one name in nn_spectra) or from a deprecated keyword.

    ``init`` is the value given under the deprecated keyword called ``old`` (``"init"``, or ``"kernel"``
    for :func:`nn_spectra.cnn_jacobian_law`); it emits a ``DeprecationWarning`` naming ``weights=`` and
    pointing at the user's call.  ``old_values`` translates the old keyword's vocabulary (the CNN's
    ``"delta_orthogonal"`` is ``weights="orthogonal"``).  Giving both keywords is a ``ValueError``, as is
    a law outside ``allowed``.  Every entry point of nn_spectra reads its weight law through here.
    """
    where = f"{caller}: " if caller else ""
    if init is not None:
        if weights is not None:
            raise ValueError(f"{where}pass the weight law once, as weights= ({old}= is its deprecated name), "
                             f"got weights={weights!r} and {old}={init!r}")
        warnings.warn(f"{where}{old}= is deprecated; the weight law is called weights= everywhere in nn_spectra"
                      f" (here weights={(old_values or {}).get(init, init)!r})",
                      DeprecationWarning, stacklevel=_caller_stacklevel())
        weights = (old_values or {}).get(init, init)
    if weights is None:
        weights = default
    if weights not in allowed:
        raise ValueError(f"{where}weights must be one of {', '.join(map(repr, allowed))}, got {weights!r}")
    return weights


@dataclass(frozen=True, eq=True, repr=False)
class Network:
    r"""A random fully-connected network at initialization, described once.

    Parameters
    ----------
    act : str or Activation
        Nonlinearity φ of the hidden layers (:func:`nn_spectra.activation`).
    sigma_w2, sigma_b2 : float
        Weight variance :math:`\sigma_w^2 > 0` (entries of :math:`W^l` have variance
        :math:`\sigma_w^2/n_{l-1}`) and bias variance :math:`\sigma_b^2 \ge 0`.
    depth : int
        :math:`1 \le L \le` ``MAX_DEPTH`` :math:`= 10^6`, **the number of weight layers** (with a
        linear readout, :math:`L-1` hidden layers).  The one meaning of ``depth`` in :mod:`nn_spectra`.
    weights : {"gaussian", "orthogonal", "identity"}
        The weight law.
    widths : sequence of int, optional
        :math:`(n_0, n_1, \dots, n_L)`, input first, :math:`L+1` entries.  ``None`` describes the
        infinite-width network of the theory; a finite sampler then needs ``widths``.
    readout : {"linear", "none"}
        ``"linear"``: the last layer is the linear readout :math:`f = h^L`; ``"none"``: every weight
        layer is followed by φ (the networks of Pennington et al. 2017).
    batch_norm : bool
        Mean-subtracting batch normalisation of the outputs over the batch (Karakida et al. 2019);
        it changes the Fisher information (:meth:`max_learning_rate` uses the centred
        :math:`\lambda_{\max}`), not the forward theory.

    Examples
    --------
    >>> import nn_spectra as ns
    >>> net = ns.Network("tanh", 1.5, 0.1, depth=3, widths=(10, 64, 64, 1))
    >>> net.depth, net.hidden_layers, net.weights
    (3, 2, 'gaussian')
    >>> net.sample(rng=0).depth == net.depth          # the finite network agrees
    True
    >>> round(net.q_star(), 6) == round(ns.q_star("tanh", 1.5, 0.1), 6)
    True
    """

    act: Activation
    sigma_w2: float
    sigma_b2: float
    depth: int
    weights: str = "gaussian"
    widths: tuple | None = None
    readout: str = "linear"
    batch_norm: bool = False

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "act", activation(self.act))
        set_(self, "sigma_w2", _variance("sigma_w2", self.sigma_w2, strict=True))
        set_(self, "sigma_b2", _variance("sigma_b2", self.sigma_b2, strict=False))
        set_(self, "depth", _int("depth", self.depth, 1))
        if self.depth > MAX_DEPTH:
            raise ValueError(f"depth must be an integer in [1, {MAX_DEPTH}] (weight layers), got {self.depth!r}")
        set_(self, "weights", weight_law(self.weights))
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(map(repr, READOUTS))}, got {self.readout!r}")
        if not isinstance(self.batch_norm, (bool, np.bool_)):
            raise ValueError(f"batch_norm must be True or False, got {self.batch_norm!r}")
        set_(self, "batch_norm", bool(self.batch_norm))
        if self.widths is not None:
            ws = self.widths
            if isinstance(ws, (str, bytes)) or not hasattr(ws, "__len__"):
                raise ValueError(f"widths must be a sequence of L + 1 integers, got {ws!r}")
            ws = tuple(_int(f"widths[{i}]", w, 1) for i, w in enumerate(ws))
            if len(ws) != self.depth + 1:
                raise ValueError(f"widths must have depth + 1 = {self.depth + 1} entries (n_0, ..., n_L for "
                                 f"L = {self.depth} weight layers), got {len(ws)}")
            set_(self, "widths", ws)

    # ------------------------------------------------------------------ derived
    @property
    def hidden_layers(self) -> int:
        """Number of nonlinear layers: ``depth - 1`` with a linear readout, ``depth`` without one."""
        return self.depth - 1 if self.readout == "linear" else self.depth

    @property
    def width(self) -> int | None:
        """The common hidden width :math:`n_1 = \\dots = n_{L-1}` (``None`` if they differ or are unset)."""
        if self.widths is None or self.depth < 2:
            return None
        hid = set(self.widths[1:-1])
        return next(iter(hid)) if len(hid) == 1 else None

    def replace(self, **changes) -> "Network":
        """A copy with some fields changed (the object itself is frozen)."""
        if "init" in changes:
            changes["weights"] = weight_law(changes.pop("weights", None), changes.pop("init"), caller="Network.replace")
        return dataclasses.replace(self, **changes)

    def with_widths(self, width: int, input_dim: int | None = None, n_outputs: int = 1) -> "Network":
        """A copy with widths ``(input_dim or width, width, ..., width, n_outputs)``."""
        w = _int("width", width, 1)
        n0 = w if input_dim is None else _int("input_dim", input_dim, 1)
        return self.replace(widths=(n0,) + (w,) * (self.depth - 1) + (_int("n_outputs", n_outputs, 1),))

    def require(self, what: str, *, hidden: int = 0, widths: bool = False, readout=None,
                weights=None, batch_norm=None) -> None:
        """Raise a ``ValueError`` naming ``what`` when this description lacks what it needs."""
        if self.hidden_layers < hidden:
            raise ValueError(f"{what} needs at least {hidden} nonlinear layer(s): depth must be >= "
                             f"{hidden + (1 if self.readout == 'linear' else 0)} (depth = L counts weight layers, "
                             f"readout={self.readout!r}), got depth={self.depth}")
        if widths and self.widths is None:
            raise ValueError(f"{what} samples a finite network: give the network widths (n_0, ..., n_L)")
        if readout is not None and self.readout not in readout:
            raise ValueError(f"{what} supports readout in {readout}, got readout={self.readout!r}")
        if weights is not None and self.weights not in weights:
            raise ValueError(f"{what} supports weights in {weights}, got weights={self.weights!r}")
        if batch_norm is not None and self.batch_norm != batch_norm:
            raise ValueError(f"{what} does not support batch_norm={self.batch_norm}")

    def __repr__(self) -> str:
        parts = [repr(self.act.name) if self.act.name != "leaky_relu" else repr(self.act),
                 f"sigma_w2={self.sigma_w2:g}", f"sigma_b2={self.sigma_b2:g}", f"depth={self.depth}",
                 f"weights={self.weights!r}"]
        if self.widths is not None:
            parts.append(f"widths={self.widths}")
        if self.readout != "linear":
            parts.append(f"readout={self.readout!r}")
        if self.batch_norm:
            parts.append("batch_norm=True")
        return f"Network({', '.join(parts)})"

    def to_dict(self) -> dict:
        """Plain fields (activation by name) for logs and tables."""
        return {"act": self.act.name, "alpha": self.act.alpha, "sigma_w2": self.sigma_w2,
                "sigma_b2": self.sigma_b2, "depth": self.depth, "weights": self.weights,
                "widths": self.widths, "readout": self.readout, "batch_norm": self.batch_norm}

    # ------------------------------------------------------------------ finite network
    def sample(self, rng=None):
        """A finite :class:`~nn_spectra.MLP` drawn from this description (needs ``widths``)."""
        from .mlp import MLP

        self.require("sample", widths=True)
        return MLP(self, rng=rng)

    # ------------------------------------------------------------------ theory (each calls the functional entry)
    def q_star(self, **kw):
        """:func:`nn_spectra.q_star` at this network's variances."""
        from .mean_field import q_star

        return q_star(self.act, self.sigma_w2, self.sigma_b2, **kw)

    def chi1(self, **kw):
        """:func:`nn_spectra.chi1` at this network's variances."""
        from .mean_field import chi1

        return chi1(self.act, self.sigma_w2, self.sigma_b2, **kw)

    def depth_scales(self):
        """:func:`nn_spectra.depth_scales` at this network's variances."""
        from .mean_field import depth_scales

        return depth_scales(self.act, self.sigma_w2, self.sigma_b2)

    def nngp_ntk(self, X1, X2=None, **kw):
        """:func:`nn_spectra.nngp_ntk` of this network (its ``depth`` weight layers)."""
        from .kernels import nngp_ntk

        return nngp_ntk(self, X1, X2, **kw)

    def jacobian_law(self):
        """:func:`nn_spectra.jacobian_law` of this network."""
        from .jacobian import jacobian_law

        return jacobian_law(self)

    def jacobian_variance(self) -> float:
        """:func:`nn_spectra.jacobian_variance` of this network."""
        from .jacobian import jacobian_variance

        return jacobian_variance(self)

    def sample_jacobian_spectrum(self, rng=None):
        """:func:`nn_spectra.sample_jacobian_spectrum` for one network drawn from this description."""
        from .jacobian import sample_jacobian_spectrum

        return sample_jacobian_spectrum(self, rng=rng)

    def conditional_fim_law(self):
        """:func:`nn_spectra.conditional_fim_law` of this network."""
        from .conditional_fim import conditional_fim_law

        return conditional_fim_law(self)

    def sample_conditional_fim_spectrum(self, rng=None):
        """:func:`nn_spectra.sample_conditional_fim_spectrum` for one network drawn from this description."""
        from .conditional_fim import sample_conditional_fim_spectrum

        return sample_conditional_fim_spectrum(self, rng=rng)

    def fim_statistics(self, n_samples: int, **kw):
        """:func:`nn_spectra.fim_statistics` of this network over ``n_samples`` inputs."""
        from .fisher import fim_statistics

        return fim_statistics(self, n_samples=n_samples, **kw)

    def measure_fim_statistics(self, n_samples: int, rng=None, **kw):
        """:func:`nn_spectra.measure_fim_statistics` on one network drawn from this description."""
        from .fisher import measure_fim_statistics

        return measure_fim_statistics(self, n_samples=n_samples, rng=rng, **kw)

    def max_learning_rate(self, n_samples: int, **kw) -> float:
        """:func:`nn_spectra.max_learning_rate` of this network (centred λ_max with ``batch_norm``)."""
        from .learning_rate import max_learning_rate

        return max_learning_rate(self, n_samples=n_samples, **kw)

    def layerwise_freeness(self, sizes=(64, 128, 256), **kw):
        """:func:`nn_spectra.layerwise_freeness` of this network's hidden layers (``sizes`` replace the widths)."""
        from .layerwise_freeness import layerwise_freeness

        return layerwise_freeness(self, sizes=sizes, **kw)


_UNSET = object()


def as_network(act, sigma_w2=None, sigma_b2=None, depth=None, *, weights=None, init=None, widths=None,
               width=None, input_dim=None, n_outputs=None, readout: str = "linear", batch_norm: bool = False,
               default_weights: str = "gaussian", caller: str = "") -> Network:
    """The :class:`Network` a functional entry point describes (the argument translation of every entry).

    ``act`` may itself be a :class:`Network`; then the other description arguments must be left
    unset (a conflicting value raises), except ``width``/``input_dim``/``n_outputs`` which fill in
    missing widths.  Otherwise the arguments are those of :class:`Network`; ``width`` (with
    ``input_dim`` and ``n_outputs``) is the shorthand for equal hidden widths.
    """
    where = f"{caller}: " if caller else ""
    if isinstance(act, Network):
        given = {k: v for k, v in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2), ("depth", depth),
                                   ("weights", weights), ("init", init), ("widths", widths)) if v is not None}
        if given:
            raise TypeError(f"{where}pass either a Network or its parameters, not both (got {', '.join(given)})")
        net = act
        if net.widths is None and width is not None:
            net = net.with_widths(width, input_dim, 1 if n_outputs is None else n_outputs)
        return net
    missing = [k for k, v in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2), ("depth", depth)) if v is None]
    if missing:
        raise TypeError(f"{where}missing {', '.join(missing)} (or pass a Network as the first argument)")
    law = weight_law(weights, init, default_weights, caller=caller)
    net = Network(act, sigma_w2, sigma_b2, depth, weights=law, readout=readout, batch_norm=batch_norm)
    if widths is not None:
        return net.replace(widths=tuple(widths))
    if width is not None:
        return net.with_widths(width, input_dim, 1 if n_outputs is None else n_outputs)
    return net


# ----------------------------------------------------------------------------- argument translation
# The functional entry points of the Jacobian, Fisher and conditional-FIM modules call these at
# their top, so that each builds the same Network and reads depth and widths from it.

_LOG_FLOAT_RANGE = 700.0  # |log| of the largest / smallest positive float64, about 709


def jacobian_network(act, sigma_w2=None, sigma_b2=None, depth=None, weights=None, widths=None, *, width=None,
                     init=None, caller: str = "jacobian_law", need_widths: bool = False):
    """``(net, K, widths_J)`` for a Jacobian entry point.

    ``K`` is the number of nonlinear layers spanned by :math:`J = D^KW^K\\cdots D^1W^1`
    (``net.hidden_layers``: depth − 1 with the linear readout) and ``widths_J`` are
    :math:`n_0, \\dots, n_K` (``None`` for equal widths).  Raises a ``ValueError`` naming ``depth`` when
    the scale of the spectrum, :math:`\\chi_1^K`, leaves the float64 range (e.g. ``depth=10**5`` in the
    chaotic phase), instead of failing inside the solver.
    """
    net = as_network(act, sigma_w2, sigma_b2, depth, weights=weights, init=init, widths=widths, width=width,
                     default_weights="orthogonal", caller=caller)
    net.require(caller, hidden=1, widths=need_widths, weights=("orthogonal", "gaussian"))
    K = net.hidden_layers
    from .mean_field import chi1, q_star

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = q_star(net.act, net.sigma_w2, net.sigma_b2)
    if np.isfinite(q) and q > 0:
        x1 = float(chi1(net.act, net.sigma_w2, net.sigma_b2, q=q))
        if x1 > 0 and K * abs(math.log(x1)) > _LOG_FLOAT_RANGE:
            raise ValueError(f"{caller}: depth={net.depth} is too deep at chi1={x1:.6g}: the spectrum's scale "
                             f"chi1^{K} = e^{K * math.log(x1):.4g} is outside float64; the largest depth here is "
                             f"{int(_LOG_FLOAT_RANGE / abs(math.log(x1))) + net.depth - K}")
    ws = None if net.widths is None else tuple(float(w) for w in net.widths[:K + 1])
    return net, K, ws


def fisher_network(act, sigma_w2=None, sigma_b2=None, depth=None, width=None, n_outputs=None, input_dim=None, *,
                   weights=None, init=None, caller: str = "fim_statistics"):
    """``(net, width, n_outputs, input_dim)`` for a Fisher entry point (equal hidden widths, linear readout)."""
    net = as_network(act, sigma_w2, sigma_b2, depth, weights=weights, init=init, width=width, input_dim=input_dim,
                     n_outputs=n_outputs, caller=caller)
    net.require(caller, widths=True, readout=("linear",))
    if net.depth >= 2 and net.width is None:
        raise ValueError(f"{caller} needs equal hidden widths n_1 = ... = n_(L-1), got widths={net.widths}")
    w = net.width if net.depth >= 2 else net.widths[0]
    return net, int(w), int(net.widths[-1]), int(net.widths[0])
