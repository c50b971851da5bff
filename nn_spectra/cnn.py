r"""Convolutional networks at initialisation: mean field over positions, kernels, Jacobian spectra.

Network (as :class:`nn_spectra.CNN`): images with spatial shape :math:`(n_1, \dots, n_d)` (``d`` = 1 or
2) and :math:`C_0` channels, circular padding, :math:`L-1` convolutions of width ``kernel_size``
:math:`k` (in every spatial dimension) and :math:`C` channels, each followed by :math:`\varphi`, then a
linear readout after global average pooling (``readout="gap"``) or flattening (``readout="flatten"``).
Convolution layer :math:`l` computes :math:`h^l_{\alpha} = \sum_{\beta} W^l_\beta x^{l-1}_{\alpha+\beta-o} + b^l`,
:math:`\beta\in\{0..k-1\}^d`, :math:`o = \lfloor(k-1)/2\rfloor` (the centre tap), weight entries of
variance :math:`\sigma_w^2/(C_{in}k^d)`.

**Depth.**  ``depth`` is :math:`L`, **the number of weight layers, including the readout**: the
:math:`L-1` convolution layers and the linear readout, as everywhere in :mod:`nn_spectra`
(:class:`nn_spectra.Network`).  A CNN of ``depth`` :math:`L` is described by the same
:class:`~nn_spectra.Network` as a fully-connected network of depth :math:`L`, whose ``widths``
count channels: :math:`(C_0, C, \dots, C, 1)`.  *Changed meaning* (issue 14): ``depth`` used to
count the convolutions only; a network of :math:`c` convolutions, formerly ``depth=c``, is now
``depth=c + 1``.

Mean field (Xiao–Bahri–Sohl-Dickstein–Schoenholz–Pennington 2018).  For one input the spatial
covariance :math:`\Sigma^l_{\alpha\alpha'}` of the pre-activations obeys
:math:`\Sigma^{l+1} = \sigma_w^2\mathcal A\,\mathcal C(\Sigma^l) + \sigma_b^2`, where
:math:`\mathcal C(\Sigma)_{\alpha\alpha'} = E[\varphi(u_\alpha)\varphi(u_{\alpha'})]` and
:math:`\mathcal A(M)_{\alpha\alpha'} = k^{-d}\sum_\beta M_{\alpha+\beta,\alpha'+\beta}` averages along the
diagonal.  The diagonal follows the fully-connected q-map, so :math:`q^*` is the same.  Around the
fixed point :math:`\Sigma^* = q^*[(1-c^*)I + c^*\mathbf 1\mathbf 1^\top]` the off-diagonal deviations
decouple into Fourier modes :math:`e^{i(p\alpha + p'\alpha')}`, on which :math:`\mathcal A` acts by the
multiplier :math:`\lambda = \hat v(p+p')`, :math:`\hat v(s) = \prod_j k^{-1}\sum_{\beta_j}e^{is_j\beta_j}`:
the mode decays as :math:`(\chi_{c^*}\lambda)^l`, depth scale :math:`\xi = -1/\log(\chi_{c^*}|\lambda|)`.
The translation-invariant modes (:math:`p+p' = 0`, :math:`\lambda = 1`) keep the fully-connected depth
scale :math:`\xi_c`; every other mode decays faster.  So the order/chaos boundary and the
trainability depth :math:`\approx 6\xi_c` are those of the fully-connected network, which is why a
critically initialised vanilla CNN of 10,000 layers trains (Xiao et al.).

Jacobian.  :math:`J = D_K\mathcal W_K\cdots D_1\mathcal W_1` on :math:`\mathbb R^{P C}`
(:math:`P = \prod n_j`) spans the :math:`K = L-1` convolutions and their nonlinearities; the readout
is not part of :math:`J`, exactly as for :func:`nn_spectra.jacobian_law`.
With *delta-orthogonal* kernels (:math:`W_\beta = 0` off the centre,
:math:`W_o = \sigma_w H`, :math:`H` Haar orthogonal) each :math:`\mathcal W_l = I_P\otimes\sigma_wH_l`, so
:math:`J` is block diagonal over positions and every block is the Jacobian of a width-:math:`C`
orthogonal fully-connected network: the law is :func:`nn_spectra.jacobian_law` with orthogonal
weights at the same depth :math:`L`, exactly.  With Gaussian kernels,
:math:`\mathcal W = \sum_\beta S_\beta\otimes W_\beta` is an
:math:`M_P`-valued circular element whose covariance maps scalars to scalars
(:math:`k^{-d}\sum_\beta S_\beta S_\beta^* = I`) and the :math:`D_l` have the same law at every position,
so every conditional expectation onto :math:`M_P` stays scalar and the law is the fully-connected
*Gaussian* one (:math:`C\to\infty` at fixed :math:`k, P`): no dynamical isometry.

Kernels (Novak et al. 2019; Arora et al. 2019).  For two inputs the position-pair covariance
:math:`\Sigma^l_{\alpha\alpha'}(x, x')` and NTK follow
:math:`\Sigma^{l+1} = \sigma_w^2\mathcal A(K^l) + \sigma_b^2`,
:math:`\Theta^{l+1} = \sigma_w^2\mathcal A(\Theta^l\odot\dot K^l) + \Sigma^{l+1}`,
:math:`\Sigma^1 = \Theta^1 = \sigma_w^2\mathcal A(x\cdot x'/C_0) + \sigma_b^2`, for the convolutions
:math:`l = 1, \dots, L-1`; the readout (layer :math:`L`) takes
:math:`P^{-2}\sum_{\alpha\alpha'}` (GAP) or :math:`P^{-1}\sum_\alpha` of the diagonal (flatten):
NNGP :math:`= \sigma_w^2 R(K^{L-1}) + \sigma_b^2`, NTK :math:`= \sigma_w^2R(\Theta^{L-1}\odot\dot K^{L-1}) + \text{NNGP}`.
At :math:`L = 1` (no convolution) the readout sees the input: NNGP = NTK
:math:`= \sigma_w^2R(x\cdot x'/C_0) + \sigma_b^2`.
The flattening readout needs only the diagonal :math:`\alpha = \alpha'`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from freeprob.law import check_positive

from .activations import activation
from .gaussian_integrals import activation_kernel
from .kernels import _closed_elem, _CLOSED_KIND, closed_form_kernel

__all__ = ["CNNModes", "cnn_mean_field_modes", "cnn_covariance_map", "cnn_nngp_ntk", "cnn_jacobian_law",
           "delta_orthogonal_kernel", "check_cnn_geometry"]

_READOUTS = ("gap", "flatten")
# the deprecated kernel= of cnn_jacobian_law spoke of "delta_orthogonal" kernels; weights= says "orthogonal"
_OLD_KERNEL = {"delta_orthogonal": "orthogonal"}


# ----------------------------------------------------------------------------- validation
def check_cnn_geometry(spatial_shape, kernel_size: int, *, need_centre: bool = False) -> tuple[tuple[int, ...], int]:
    """Validate an image shape and kernel width; returns them normalised.

    Raises ``ValueError`` when the kernel is wider than the image or (``need_centre``) has even width.

    >>> check_cnn_geometry((8, 8), 3)
    ((8, 8), 3)
    """
    shape = tuple(int(n) for n in np.atleast_1d(spatial_shape))
    if not 1 <= len(shape) <= 2 or any(n < 1 for n in shape):
        raise ValueError(f"spatial_shape must be 1 or 2 positive sizes, got {spatial_shape!r}")
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, (int, np.integer)) or kernel_size < 1:
        raise ValueError(f"kernel_size must be an integer >= 1, got {kernel_size!r}")
    k = int(kernel_size)
    if k > min(shape):
        raise ValueError(f"kernel_size must be at most the image size {min(shape)}, got {k}")
    if need_centre and k % 2 == 0:
        raise ValueError(f"kernel_size must be odd for a delta-orthogonal kernel (it needs a centre tap), got {k}")
    return shape, k


def _variances(sigma_w2, sigma_b2):
    return check_positive("sigma_w2", sigma_w2), check_positive("sigma_b2", sigma_b2, strict=False)


def _check_depth(depth, low: int = 1) -> int:
    """``depth`` = L weight layers (L - 1 convolutions and the readout), an integer in [low, MAX_DEPTH]."""
    from .network import MAX_DEPTH

    if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, (int, np.integer)) \
            or not low <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be an integer in [{low}, {MAX_DEPTH}] (L weight layers: L - 1 convolutions "
                         f"and the readout), got {depth!r}")
    return int(depth)


def _check_channels(name: str, v) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    return int(v)


def _cnn_description(net, caller: str, *, weights=("gaussian", "orthogonal")):
    r"""Validate a :class:`~nn_spectra.Network` describing a CNN; returns ``(C0, C)`` (``None`` without widths).

    The widths count channels, :math:`(C_0, C, \dots, C, 1)`: ``depth`` = L - 1 convolutions + the readout,
    ``weights="orthogonal"`` means delta-orthogonal kernels.
    """
    net.require(caller, readout=("linear",), weights=weights, batch_norm=False)
    if net.widths is None:
        return None
    ws = net.widths
    if ws[-1] != 1:
        raise ValueError(f"{caller}: a CNN has one output, so the network's widths must end in n_L = 1 "
                         f"(channels (C_0, C, ..., C, 1)), got widths={ws}")
    hidden = set(ws[1:-1])
    if len(hidden) > 1:
        raise ValueError(f"{caller}: a CNN has one channel count C for every convolution, got widths={ws}")
    return ws[0], (next(iter(hidden)) if hidden else None)


def _offsets(shape, k):
    """Tap offsets beta - o for every kernel tap (list of tuples)."""
    o = (k - 1) // 2
    grids = np.meshgrid(*[np.arange(k) - o for _ in shape], indexing="ij")
    return [tuple(int(g.ravel()[i]) for g in grids) for i in range(k ** len(shape))]


# ----------------------------------------------------------------------------- initialisation
def delta_orthogonal_kernel(c_out: int, c_in: int, kernel_size: int, ndim: int, sigma_w2: float, rng=None) -> np.ndarray:
    r"""Delta-orthogonal kernel: zero except the centre tap, which is :math:`\sigma_w H` (Xiao et al. 2018).

    Shape ``(k,)*ndim + (c_out, c_in)``; :math:`H` is a Haar orthogonal matrix (square channels, the
    case in which the Jacobian is an orthogonal map at each position).

    >>> K = delta_orthogonal_kernel(4, 4, 3, 2, 1.0, rng=0)
    >>> K.shape, bool(np.allclose(K[1, 1].T @ K[1, 1], np.eye(4))), float(abs(K[0, 0]).max())
    ((3, 3, 4, 4), True, 0.0)
    """
    from .mlp import haar_orthogonal_isometry

    if c_out != c_in:
        raise ValueError(f"a delta-orthogonal kernel needs as many output as input channels, got c_out={c_out}, "
                         f"c_in={c_in}")
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, (int, np.integer)) or kernel_size < 1:
        raise ValueError(f"kernel_size must be an integer >= 1, got {kernel_size!r}")
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd for a delta-orthogonal kernel (it needs a centre tap), got {kernel_size}")
    sw = check_positive("sigma_w2", sigma_w2)
    K = np.zeros((kernel_size,) * ndim + (c_out, c_in))
    centre = ((kernel_size - 1) // 2,) * ndim
    K[centre] = np.sqrt(sw) * haar_orthogonal_isometry(c_out, c_in, np.random.default_rng(rng))
    return K


# ----------------------------------------------------------------------------- mean field
@dataclass(frozen=True)
class CNNModes:
    r"""Linearised mean-field dynamics of a CNN around its fixed point, per Fourier mode.

    Attributes
    ----------
    frequencies : ndarray, shape (P, d)
        Mode frequencies :math:`s = p + p'` (multiples of :math:`2\pi/n_j`).
    multipliers : ndarray, shape (P,)
        :math:`\lambda_s = \hat v(s)` (1 for the translation-invariant mode).
    chi_c, chi_q : float
        Fully-connected slopes at the fixed point.
    xi_c, xi_q : ndarray, shape (P,)
        Depth scales :math:`-1/\log(\chi|\lambda_s|)` of the off-diagonal and diagonal modes
        (``inf`` where the mode does not decay).
    """

    frequencies: np.ndarray
    multipliers: np.ndarray
    chi_c: float
    chi_q: float
    xi_c: np.ndarray
    xi_q: np.ndarray


def cnn_mean_field_modes(act, sigma_w2: float, sigma_b2: float, spatial_shape, kernel_size: int) -> CNNModes:
    r"""Fourier-mode depth scales of a CNN's covariance dynamics (module docstring).

    >>> m = cnn_mean_field_modes("tanh", 1.5, 0.05, (8,), 3)
    >>> bool(np.isclose(m.multipliers.max(), 1.0)), bool(m.xi_c.max() >= m.xi_c.min())
    (True, True)
    """
    from .mean_field import c_star, chi_c, q_star

    shape, k = check_cnn_geometry(spatial_shape, kernel_size)
    sw, sb = _variances(sigma_w2, sigma_b2)
    act = activation(act)
    q = q_star(act, sw, sb)
    cs = c_star(act, sw, sb, q=q)
    xc = float(chi_c(act, cs, sw, sb, q=q))
    from .gaussian_integrals import activation_moments

    e2, d2, e11 = activation_moments(act, q)
    xq = float(sw * (d2 + e11))
    freqs = np.stack(np.meshgrid(*[2 * np.pi * np.arange(n) / n for n in shape], indexing="ij"), -1).reshape(-1, len(shape))
    offs = np.arange(k) - (k - 1) // 2
    lam = np.ones(len(freqs), dtype=complex)
    for j in range(len(shape)):
        lam = lam * np.exp(1j * freqs[:, j, None] * offs[None, :]).mean(axis=1)
    lam = lam.real
    with np.errstate(divide="ignore"):
        xi_c = np.where(np.abs(xc * lam) < 1, -1.0 / np.log(np.abs(xc * lam)), np.inf)
        xi_q = np.where(np.abs(xq * lam) < 1, -1.0 / np.log(np.abs(xq * lam)), np.inf)
    return CNNModes(freqs, lam, xc, xq, xi_c, xi_q)


def _shifts(shape, k):
    """Tap offsets as an (m, 2) integer array on the 2-D view of the positions (1-D images: (1, n))."""
    offs = np.array(_offsets(shape, k), dtype=np.int64).reshape(-1, len(shape))
    return offs if len(shape) == 2 else np.concatenate([np.zeros_like(offs), offs], axis=1)


@numba.njit(cache=True)
def _tap_index(O, H, W):
    # ia[t, a] = (a + o0) mod H, ib[t, b] = (b + o1) mod W
    m = O.shape[0]
    ia = np.empty((m, H), np.int64)
    ib = np.empty((m, W), np.int64)
    for t in range(m):
        for a in range(H):
            ia[t, a] = (a + O[t, 0] + H) % H
        for b in range(W):
            ib[t, b] = (b + O[t, 1] + W) % W
    return ia, ib


@numba.njit(cache=True)
def _circ_avg_diag(M, O, out):
    # out[r, a, b] = mean over taps o of M[r, a + o0, b + o1] (circular): np.roll by -o, summed in tap order
    R, H, W = M.shape
    m = O.shape[0]
    ia, ib = _tap_index(O, H, W)
    for r in range(R):
        for a in range(H):
            for b in range(W):
                out[r, a, b] = 0.0
        for t in range(m):
            for a in range(H):
                x = ia[t, a]
                for b in range(W):
                    out[r, a, b] += M[r, x, ib[t, b]]
        for a in range(H):
            for b in range(W):
                out[r, a, b] /= m


@numba.njit(cache=True)
def _circ_avg_pairs(M, O, out):
    # out[r, a, b, c, e] = mean over taps o of M[r, a + o0, b + o1, c + o0, e + o1] (the same shift of both
    # positions of the pair), summed in tap order
    R, H, W = M.shape[0], M.shape[1], M.shape[2]
    m = O.shape[0]
    ia, ib = _tap_index(O, H, W)
    for r in range(R):
        out[r] = 0.0
        for t in range(m):
            for a in range(H):
                x = ia[t, a]
                for b in range(W):
                    y = ib[t, b]
                    for c in range(H):
                        z = ia[t, c]
                        for e in range(W):
                            out[r, a, b, c, e] += M[r, x, y, z, ib[t, e]]
        out[r] /= m


@numba.njit(cache=True)
def _flatten_pair(kind, alpha, s0, Q1, Q2, own, ia, ib, sw, sb, V):
    # One pair of images through all layers of the flatten readout (module docstring): the state is
    # the same-position covariance s and NTK t (H, W).  own: the pair of an image with itself, whose
    # variances are its own s (c = 1 exactly), recorded in V for the other pairs; else Q1[l], Q2[l].
    L, H, W = Q1.shape
    m = ia.shape[0]
    s = s0.copy()
    t = s0.copy()
    K = np.empty((H, W))
    U = np.empty((H, W))
    for l in range(L):
        if own:
            V[l] = s
        for a in range(H):
            for b in range(W):
                q1 = s[a, b] if own else Q1[l, a, b]
                q2 = s[a, b] if own else Q2[l, a, b]
                k, kd = _closed_elem(kind, alpha, q1, q2, s[a, b])
                K[a, b] = k
                U[a, b] = t[a, b] * kd
        if l == L - 1:
            nngp = sw * (K.sum() / (H * W)) + sb
            return nngp, sw * (U.sum() / (H * W)) + nngp
        for a in range(H):
            for b in range(W):
                ak = 0.0
                au = 0.0
                for tp in range(m):
                    x, y = ia[tp, a], ib[tp, b]
                    ak += K[x, y]
                    au += U[x, y]
                s[a, b] = sw * (ak / m) + sb
                t[a, b] = sw * (au / m) + s[a, b]
    return 0.0, 0.0


@numba.njit(cache=True)
def _flatten_all(kind, alpha, S0, Q1, Q2, symmetric, O, sw, sb, nngp, ntk):
    n1, n2, H, W = S0.shape
    L = Q1.shape[1]
    ia, ib = _tap_index(O, H, W)
    V = np.empty((n1, L, H, W))
    if symmetric:
        for i in range(n1):
            nngp[i, i], ntk[i, i] = _flatten_pair(kind, alpha, S0[i, i], Q1[i], Q1[i], True, ia, ib, sw, sb, V[i])
        Q1 = V
        Q2 = V
    for i in range(n1):
        for j in range(i + 1 if symmetric else 0, n2):
            a, b = _flatten_pair(kind, alpha, S0[i, j], Q1[i], Q2[j], False, ia, ib, sw, sb, V[0])
            nngp[i, j], ntk[i, j] = a, b
            if symmetric:
                nngp[j, i], ntk[j, i] = a, b


def _view2d(shape):
    return tuple(shape) if len(shape) == 2 else (1,) + tuple(shape)


def _avg_pairs(M, shape, k):
    r""":math:`\mathcal A` on arrays whose last 2d axes are (positions, positions): circular shifts of both."""
    M = np.ascontiguousarray(M, dtype=float)
    h, w = _view2d(shape)
    out = np.empty_like(M)
    _circ_avg_pairs(M.reshape(-1, h, w, h, w), _shifts(shape, k), out.reshape(-1, h, w, h, w))
    return out


def _avg_diag(M, shape, k):
    r""":math:`\mathcal A` on the diagonal :math:`\alpha = \alpha'` only (last d axes are positions)."""
    M = np.ascontiguousarray(M, dtype=float)
    h, w = _view2d(shape)
    out = np.empty_like(M)
    _circ_avg_diag(M.reshape(-1, h, w), _shifts(shape, k), out.reshape(-1, h, w))
    return out


def cnn_covariance_map(act, Sigma, sigma_w2: float, sigma_b2: float, spatial_shape, kernel_size: int) -> np.ndarray:
    r"""One layer of the spatial covariance map :math:`\Sigma\mapsto\sigma_w^2\mathcal A\,\mathcal C(\Sigma)+\sigma_b^2`.

    ``Sigma`` has shape ``spatial_shape * 2`` (position pairs of one input).

    >>> S = cnn_covariance_map("relu", np.eye(4), 2.0, 0.0, (4,), 3)
    >>> bool(np.allclose(np.diag(S), 1.0))
    True
    """
    shape, k = check_cnn_geometry(spatial_shape, kernel_size)
    sw, sb = _variances(sigma_w2, sigma_b2)
    S = np.asarray(Sigma, dtype=float)
    if S.shape != shape * 2:
        raise ValueError(f"Sigma must have shape {shape * 2}, got {S.shape}")
    P = int(np.prod(shape))
    diag = np.diag(S.reshape(P, P)).reshape(shape)
    d = len(shape)
    q1 = diag.reshape(shape + (1,) * d)
    q2 = diag.reshape((1,) * d + shape)
    K, _ = activation_kernel(activation(act), np.broadcast_to(q1, S.shape), np.broadcast_to(q2, S.shape), S)
    return sw * _avg_pairs(K, shape, k) + sb


# ----------------------------------------------------------------------------- kernels
def _images(X, name, shape=None, channels=None):
    X = np.asarray(X, dtype=float)
    if X.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (n, *spatial, channels) with 1 or 2 spatial axes, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite")
    if shape is not None and X.shape[1:-1] != shape:
        raise ValueError(f"{name} must have spatial shape {shape} like X1, got {X.shape[1:-1]}")
    if channels is not None and X.shape[-1] != channels:
        raise ValueError(f"{name} must have {channels} channels like X1, got {X.shape[-1]} (mismatched channels)")
    return X


def cnn_nngp_ntk(X1, X2=None, depth: int | None = None, act="relu", sigma_w2: float = 2.0, sigma_b2: float = 0.0,
                 kernel_size: int = 3, readout: str = "gap", *,
                 weights: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Infinite-channel NNGP and NTK of a circular-padding CNN with Gaussian kernels (module docstring).

    Also callable as ``cnn_nngp_ntk(net, X1, X2=None, kernel_size=..., readout=...)`` with a
    :class:`~nn_spectra.Network` ``net`` (Gaussian weights, linear readout), which then gives depth,
    activation and variances; its widths, if set, count channels :math:`(C_0, C, \dots, C, 1)`.

    Parameters
    ----------
    X1, X2 : ndarray, shape ``(n, *spatial, C0)``
        Channels-last images (1 or 2 spatial axes).
    depth : int
        :math:`1 \le L \le 10^6`, **the number of weight layers, including the readout**: :math:`L-1`
        convolutional layers (each followed by :math:`\varphi`), then the linear readout; ``depth=1``
        is the readout of the input alone.  Default 2 (one convolution).  *Changed meaning*:
        ``depth`` used to count the convolutions only (old ``depth=c`` is now ``depth=c + 1``).
    kernel_size : int
        :math:`k\le` the image size (any parity: the readouts average over positions, so the
        centre offset does not matter).
    readout : {"gap", "flatten"}
        Pooling before the linear readout.
    weights : {"gaussian"}
        The weight law, named as everywhere in :mod:`nn_spectra`; only i.i.d. Gaussian kernels
        (the default) have this kernel (delta-orthogonal kernels do not mix positions).

    Returns
    -------
    (nngp, ntk) : ndarrays of shape (n1, n2)

    Examples
    --------
    A 1x1 image with k = 1 is a fully-connected network of the same depth (:func:`nn_spectra.nngp_ntk`):

    >>> import numpy as np, nn_spectra as ns
    >>> X = np.random.default_rng(0).standard_normal((3, 1, 1, 5))
    >>> K, T = cnn_nngp_ntk(X, depth=3, act="relu", sigma_w2=2.0, sigma_b2=0.1, kernel_size=1)
    >>> Kf, Tf = ns.nngp_ntk(X[:, 0, 0], X[:, 0, 0], 3, "relu", 2.0, 0.1)
    >>> bool(np.allclose(K, Kf) and np.allclose(T, Tf))
    True
    """
    from .network import Network

    net = None
    if isinstance(X1, Network):
        # cnn_nngp_ntk(net, X1, X2): the description replaces depth, act and the variances
        if isinstance(depth, (int, np.integer)):
            raise TypeError("cnn_nngp_ntk: pass either a Network or depth, not both")
        net, X1, X2 = X1, X2, depth
        if X1 is None:
            raise TypeError("cnn_nngp_ntk(net, X1, X2=None): X1 is missing")
        if weights is not None:
            raise TypeError("cnn_nngp_ntk: pass either a Network or its parameters, not both (got weights)")
        _cnn_description(net, "cnn_nngp_ntk", weights=("gaussian",))
        depth, act, sigma_w2, sigma_b2 = net.depth, net.act, net.sigma_w2, net.sigma_b2
    else:
        from .network import weight_law

        weight_law(weights, allowed=("gaussian",), caller="cnn_nngp_ntk")
    X1 = _images(X1, "X1")
    shape = X1.shape[1:-1]
    C0 = X1.shape[-1]
    X2v = X1 if X2 is None else _images(X2, "X2", shape, C0)
    if net is not None and net.widths is not None and net.widths[0] != C0:
        raise ValueError(f"X1 has {C0} channels but the network's widths start with C_0 = {net.widths[0]} "
                         "(mismatched channels)")
    shape, k = check_cnn_geometry(shape, kernel_size)
    sw, sb = _variances(sigma_w2, sigma_b2)
    depth = _check_depth(2 if depth is None else depth)
    n_conv = depth - 1
    if readout not in _READOUTS:
        raise ValueError(f"readout must be one of {_READOUTS}, got {readout!r}")
    act = activation(act)
    d = len(shape)
    n1, n2 = X1.shape[0], X2v.shape[0]
    A = X1.reshape(n1, -1, C0)
    B = X2v.reshape(n2, -1, C0)
    if n_conv == 0:
        # depth 1: the readout of the input itself; only its weights and bias are trained, NTK = NNGP
        if readout == "flatten":
            nngp = sw * np.einsum("ipc,jpc->ij", A, B) / (C0 * A.shape[1]) + sb
        else:
            nngp = sw * np.einsum("ic,jc->ij", A.mean(axis=1), B.mean(axis=1)) / C0 + sb
        return nngp, nngp.copy()
    # self-variances per position (n, *shape)
    v1 = sw * _avg_diag(np.einsum("npc,npc->np", A, A).reshape((n1,) + shape) / C0, shape, k) + sb
    v2 = sw * _avg_diag(np.einsum("npc,npc->np", B, B).reshape((n2,) + shape) / C0, shape, k) + sb
    if readout == "flatten":
        S = sw * _avg_diag(np.einsum("ipc,jpc->ijp", A, B).reshape((n1, n2) + shape) / C0, shape, k) + sb
        q1 = v1[:, None]
        q2 = v2[None, :]
        avg = lambda M: _avg_diag(M, shape, k)
        red = lambda M: M.reshape(n1, n2, -1).mean(axis=2)
    else:
        S = sw * _avg_pairs(np.einsum("ipc,jqc->ijpq", A, B).reshape((n1, n2) + shape * 2) / C0, shape, k) + sb
        q1 = v1.reshape((n1, 1) + shape + (1,) * d)
        q2 = v2.reshape((1, n2) + (1,) * d + shape)
        avg = lambda M: _avg_pairs(M, shape, k)
        red = lambda M: M.reshape(n1, n2, -1).mean(axis=2)
    if readout == "flatten" and act.code >= 0 and act.name in _CLOSED_KIND and act.kernel_2d is not None:
        return _flatten_fused(act, S, v1, v2, X2 is None, shape, k, sw, sb, n_conv)
    T = S.copy()
    P = int(np.prod(shape))

    def own_diag(S):
        # with X2 = X1 the variances are read off the diagonal of S itself, so that the correlation
        # is exactly 1 there (a rounding gap of 1e-16 moves arccos-type kernels by ~1e-8)
        i = np.arange(n1)
        if readout == "flatten":
            return S[i, i]
        return S.reshape(n1, n1, P, P)[i, i][:, np.arange(P), np.arange(P)].reshape((n1,) + shape)

    def qs(v1, v2):
        if readout == "flatten":
            return v1[:, None], v2[None, :]
        return v1.reshape((n1, 1) + shape + (1,) * d), v2.reshape((1, n2) + (1,) * d + shape)

    if X2 is None:
        v1 = v2 = own_diag(S)
        q1, q2 = qs(v1, v2)
    for layer in range(n_conv):
        # S = Sigma^{layer + 1}; compiled closed forms where they exist (relu, erf, ...), the quadrature
        # route otherwise
        KK = closed_form_kernel(act, q1, q2, S)
        K, Kd = KK if KK is not None else activation_kernel(act, np.broadcast_to(q1, S.shape),
                                                             np.broadcast_to(q2, S.shape), S)
        if layer == n_conv - 1:      # the last convolution: the readout (weight layer L) follows
            nngp = sw * red(K) + sb
            ntk = sw * red(T * Kd) + nngp
            return nngp, ntk
        S = sw * avg(K) + sb
        T = sw * avg(T * Kd) + S
        if X2 is None:
            v1 = v2 = own_diag(S)
        else:
            e1, _ = activation_kernel(act, v1, v1, v1)
            e2, _ = activation_kernel(act, v2, v2, v2)
            v1 = sw * _avg_diag(e1, shape, k) + sb
            v2 = sw * _avg_diag(e2, shape, k) + sb
        q1, q2 = qs(v1, v2)
    raise AssertionError("unreachable")  # pragma: no cover


def _flatten_fused(act, S, v1, v2, symmetric, shape, k, sw, sb, n_conv):
    """Flatten readout with a compiled closed-form φ: each pair of images runs through all layers on
    its own (same-position covariances only), after the variances per layer (X2 given) or the pairs
    of an image with itself (X2 = X1, whose own diagonal gives c = 1 exactly, as in the general path);
    ``n_conv`` = depth - 1 convolutions."""
    h, w = _view2d(shape)
    n1, n2 = S.shape[0], S.shape[1]
    Q1 = np.empty((n1, n_conv, h, w))
    Q2 = np.empty((n2, n_conv, h, w))
    if not symmetric:
        for l in range(n_conv):
            Q1[:, l] = v1.reshape(n1, h, w)
            Q2[:, l] = v2.reshape(n2, h, w)
            if l < n_conv - 1:
                e1, _ = activation_kernel(act, v1, v1, v1)
                e2, _ = activation_kernel(act, v2, v2, v2)
                v1 = sw * _avg_diag(e1, shape, k) + sb
                v2 = sw * _avg_diag(e2, shape, k) + sb
    nngp = np.empty((n1, n2))
    ntk = np.empty((n1, n2))
    _flatten_all(_CLOSED_KIND[act.name], float(act.alpha), np.ascontiguousarray(S.reshape(n1, n2, h, w)), Q1, Q2,
                 bool(symmetric), _shifts(shape, k), float(sw), float(sb), nngp, ntk)
    return nngp, ntk


# ----------------------------------------------------------------------------- Jacobian
def cnn_jacobian_law(act, sigma_w2: float | None = None, sigma_b2: float | None = None, depth: int | None = None,
                     weights: str | None = None, spatial_shape=None, kernel_size: int = 3, *,
                     kernel: str | None = None):
    r"""Limiting law of the squared singular values of a CNN's input-output Jacobian (module docstring).

    ``weights="orthogonal"`` (the default; delta-orthogonal kernels): exactly the fully-connected
    orthogonal law (:func:`nn_spectra.jacobian_law` with ``weights="orthogonal"``); ``"gaussian"``:
    the fully-connected Gaussian law, in the limit of many channels.  ``kernel=`` (values
    ``"delta_orthogonal"``, ``"gaussian"``) is the deprecated name of ``weights=``.  ``spatial_shape``
    and ``kernel_size`` are validated (the law does not depend on them).

    ``act`` may be a :class:`~nn_spectra.Network` describing the CNN (then leave ``sigma_w2``,
    ``sigma_b2``, ``depth`` and ``weights`` unset): its ``weights="orthogonal"`` means delta-orthogonal
    kernels, ``"gaussian"`` Gaussian kernels; its widths, if set, count channels and must be
    :math:`(C, C, \dots, C, 1)` (the law is that of a square Jacobian, :math:`C_0 = C`).

    Parameters
    ----------
    depth : int
        :math:`L \ge 2`, **the number of weight layers, including the readout**: :math:`L-1`
        convolutions (each followed by :math:`\varphi`) and the linear readout.
        :math:`J = D_{L-1}\mathcal W_{L-1}\cdots D_1\mathcal W_1` spans the :math:`L-1` convolutions,
        so the law is :func:`nn_spectra.jacobian_law` at the same ``depth`` (mean
        :math:`\chi_1^{L-1}`).  *Changed meaning*: ``depth`` used to count the convolutions only
        (old ``depth=c`` is now ``depth=c + 1``).

    Examples
    --------
    >>> import nn_spectra as ns
    >>> law = cnn_jacobian_law("tanh", 1.05, 1e-3, depth=4, spatial_shape=(8, 8), kernel_size=3)
    >>> law.weights
    'orthogonal'
    >>> law.moments(2).tolist() == ns.jacobian_law("tanh", 1.05, 1e-3, 4, weights="orthogonal").moments(2).tolist()
    True
    """
    from .jacobian import jacobian_law
    from .network import Network, as_network, weight_law

    if weights == "delta_orthogonal" and kernel is None:
        # the old vocabulary passed positionally (the fifth argument was kernel=)
        weights, kernel = None, weights
    if isinstance(act, Network):
        if kernel is not None:
            raise TypeError("cnn_jacobian_law: pass either a Network or its parameters, not both (got kernel)")
        net = as_network(act, sigma_w2, sigma_b2, depth, weights=weights, caller="cnn_jacobian_law")
        _cnn_description(net, "cnn_jacobian_law")
        law = net.weights
        if net.widths is not None and len(set(net.widths[:-1])) > 1:
            raise ValueError(f"cnn_jacobian_law describes in_channels == channels (a square Jacobian at each "
                             f"position): the widths must be (C, ..., C, 1), got widths={net.widths}")
        depth = net.depth
    else:
        law = weight_law(weights, kernel, "orthogonal", old="kernel", old_values=_OLD_KERNEL,
                         allowed=("orthogonal", "gaussian"), caller="cnn_jacobian_law")
        missing = [k for k, v in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2), ("depth", depth)) if v is None]
        if missing:
            raise TypeError(f"cnn_jacobian_law: missing {', '.join(missing)} (or pass a Network as the first argument)")
        net = as_network(act, sigma_w2, sigma_b2, _check_depth(depth, low=2),
                         weights=law, caller="cnn_jacobian_law")
    _check_depth(depth, low=2)
    if spatial_shape is not None:
        check_cnn_geometry(spatial_shape, kernel_size, need_centre=(law == "orthogonal"))
    elif isinstance(kernel_size, (bool, np.bool_)) or not isinstance(kernel_size, (int, np.integer)) or kernel_size < 1:
        raise ValueError(f"kernel_size must be an integer >= 1, got {kernel_size!r}")
    elif law == "orthogonal" and kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd for a delta-orthogonal kernel (it needs a centre tap), got {kernel_size}")
    # J = D_{L-1} W_{L-1} ... D_1 W_1 spans the L - 1 convolutions and their nonlinearities: the K = L - 1
    # nonlinear layers of a fully-connected network of the same depth L (the readout is not part of J)
    return jacobian_law(net.replace(widths=None))
