r"""The largest stable learning rate, 2/λ_max, and an experiment on a real dataset.

Near a minimum of :math:`\mathcal L(\theta) = \frac1{2T}\sum_t\|f(x_t) - y_t\|^2` the Hessian is the
Gauss–Newton matrix, i.e. the empirical Fisher information :math:`F` (unit Gaussian output noise), so
gradient descent with step :math:`\eta` diverges along the top eigenvector once
:math:`\eta > 2/\lambda_{\max}(F)` (Karakida–Akaho–Amari 2019).  Since
:math:`\lambda_{\max} \approx \alpha M((T-1)\kappa_2 + \kappa_1)/T` with :math:`\alpha = L - 1` for
equal widths, the boundary falls like :math:`1/L`.

:func:`learning_rate_experiment` trains :class:`nn_spectra.MLP` networks by full-batch gradient descent
on scikit-learn's ``load_digits`` (shipped with the package: no download), over a grid of depths and of
learning rates :math:`\eta = c\cdot 2/\lambda_{\max}^{\rm pred}`, and records which runs are unstable:
the loss rises above its initial value (the top mode grows like :math:`|1-\eta\lambda_{\max}|^t`).  Just
above :math:`2/\lambda_{\max}` wide networks often survive that spike by moving to a flatter region
(the "catapult" of Lewkowycz et al. 2020); they blow up only at a few times the boundary.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from freeprob.law import check_positive
from freeprob.progress import progress_bar

__all__ = ["max_learning_rate", "digits_data", "train_gd", "LearningRateGrid", "learning_rate_experiment",
           "train_sgd", "BoundaryPrediction", "predict_boundaries", "SGDGrid", "sgd_learning_rate_experiment",
           "sgd_mean_square_threshold", "batch_overshoot_threshold", "measure_sgd_boundary", "BoundaryStudy",
           "sgd_boundary_study"]


def max_learning_rate(act, sigma_w2: float | None = None, sigma_b2: float | None = None, depth: int | None = None,
                      width: int | None = None, n_samples: int | None = None, n_outputs: int | None = None, *,
                      input_dim: int | None = None, q_input: float = 1.0,
                      c_input: float = 0.0, source: str = "fim", inputs: np.ndarray | None = None,
                      batch_size: int | None = None, follow_input: bool = False) -> float:
    r""":math:`2/\lambda_{\max}` from the Karakida statistics (``source="fim"``) or from the conditional
    FIM of one input (``source="conditional"``).

    Without ``inputs``, ``source="conditional"`` is :math:`2/(N e_t)` with :math:`e_t` the top edge of
    the free compression :math:`D_t(\nu_L^{\boxplus 1/t})`, :math:`t = C/N`, of the Hayase–Karakida law
    :func:`conditional_fim_law` (:meth:`~nn_spectra.conditional_fim.ConditionalFIMLaw.compressed_top_edge`;
    orthogonal weights, weights only, one input).  With :math:`C` outputs the dual of the conditional
    FIM is the :math:`C\times C` corner of the :math:`N\times N` one in Haar position: :math:`C = N`
    gives the law's exact top edge, :math:`C \ll N` a value near its mean.  ``input_dim`` :math:`d`
    sets the first layer's term (``input_ratio`` :math:`= d/N`) and ``follow_input=True`` lets the
    layers follow the input's own :math:`q^l` from ``q_input`` :math:`= \|x\|^2/d` instead of the fixed
    point.  Checked against real orthogonal networks with :math:`C = N/8` and :math:`C = 4` at two
    widths (tests); ``n_outputs`` :math:`> N` raises.

    With ``inputs`` (the training inputs, shape ``(n_samples, input_dim)``) the prediction uses their
    own infinite-width kernel (:func:`predict_boundaries`): ``source="fim"`` gives
    :math:`2/\lambda_1(\bar\Theta/T)` (full batch), ``source="conditional"`` the conditional FIM of
    the actual inputs with their own :math:`q^l` and the network's :math:`C` outputs, whose
    :math:`C`-fold eigenvalue at infinite width is :math:`\bar\Theta(x,x)`:
    :math:`2/\operatorname{median}_t\bar\Theta(x_t,x_t)` (the onset of online SGD, within 3–18 % on
    digits; guide), ``source="online"`` the onset of instability of SGD with ``batch_size`` examples
    per step (default 1: the same as ``"conditional"``; :math:`B > 1`:
    :math:`2/E\lambda_1(\bar\Theta_B/B)`), ``source="readout"`` the readout layer's own boundary
    :math:`2/\max_t c_L(t,t)` (where bounded-activation networks actually fail, see the guide).

    >>> eta = max_learning_rate("relu", 2.0, 0.0, depth=4, width=200, n_samples=50)
    >>> eta2 = max_learning_rate("relu", 2.0, 0.0, depth=7, width=200, n_samples=50)
    >>> 1.8 < eta / eta2 < 2.2    # alpha = L - 1: 3 versus 6
    True

    ``act`` may be a :class:`~nn_spectra.Network` (``max_learning_rate(net, n_samples=T)``): depth
    (weight layers) and widths come from it, and with ``batch_norm=True`` the ``"fim"`` rate is
    :math:`2/\lambda_{\max}` of the batch-centred FIM (``lambda_max_bn``).
    """
    from .network import Network, fisher_network

    net, width, n_outputs, dim = fisher_network(act, sigma_w2, sigma_b2, depth, width, n_outputs, input_dim,
                                                caller="max_learning_rate")
    input_dim = dim if isinstance(act, Network) else input_dim
    act, sigma_w2, sigma_b2, depth = net.act, net.sigma_w2, net.sigma_b2, net.depth
    if n_samples is None:
        raise TypeError("max_learning_rate: n_samples is missing")
    if inputs is not None:
        if source not in ("fim", "conditional", "online", "readout"):
            raise ValueError(f"with inputs, source must be 'fim', 'conditional', 'online' or 'readout', "
                             f"got {source!r}")
        from .data import check_inputs

        X = check_inputs(inputs, "inputs", input_dim)
        if X.shape[0] != int(n_samples):
            raise ValueError(f"inputs has {X.shape[0]} rows, n_samples is {n_samples}")
        # the conditional FIM is one input per step, whatever batch_size says
        B = 1 if (batch_size is None or source == "conditional") else batch_size
        p = predict_boundaries(X, act, sigma_w2, sigma_b2, depth, width, n_outputs, B, rng=0)
        if source == "fim":
            return p.full_batch
        if source == "readout":
            return p.readout_online
        return p.online_median if p.batch_size == 1 else p.batch
    if source == "fim":
        from .fisher import fim_statistics

        s = fim_statistics(act, sigma_w2, sigma_b2, depth, width, n_samples, n_outputs,
                           input_dim=input_dim, q_input=q_input, c_input=c_input)
        return 2.0 / (s.lambda_max_bn if net.batch_norm else s.lambda_max)
    if source == "conditional":
        from .conditional_fim import conditional_fim_law

        d = width if input_dim is None else int(input_dim)
        if int(n_outputs) > width:
            raise ValueError(f"n_outputs must lie in [1, width={width}] for source='conditional' without inputs "
                             f"(the C x C block of the dual is a compression of the N x N one), got {n_outputs}")
        # follow_input: the layers follow the input's own q^l from q_input = |x|^2/d instead of sitting at
        # the fixed point; the input enters H/N as (d/N) q_input.  C < N outputs: the C x C dual is a free
        # compression of the N x N one, whose top edge falls from the law's top (C = N) to its mean (C << N)
        law = conditional_fim_law(act, sigma_w2, sigma_b2, depth, q_input=q_input if follow_input else None,
                                  input_ratio=d / width)
        return 2.0 / (width * law.compressed_top_edge(int(n_outputs) / width))
    raise ValueError(f"source must be 'fim' or 'conditional' (or, with inputs, 'online' or 'readout'), got {source!r}")


def digits_data(n_samples: int = 200, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` images of scikit-learn's ``load_digits`` (64 features, standardised) and the digit as a
    standardised scalar target, shape ``(T, 64)`` and ``(T, 1)``."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    if not 1 <= int(n_samples) <= len(X):
        raise ValueError(f"n_samples must lie in [1, {len(X)}], got {n_samples!r}")
    gen = np.random.default_rng(rng)
    idx = gen.choice(len(X), size=int(n_samples), replace=False)
    X = X.astype(float)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    X = (X - mu) / sd
    y = (y - y.mean()) / y.std()
    return X[idx], y[idx, None].astype(float)


def train_gd(net, X: np.ndarray, Y: np.ndarray, eta: float, steps: int = 200, blowup: float = 1e6) -> np.ndarray:
    r"""Full-batch gradient descent on :math:`\frac1{2T}\sum_t\|f(x_t)-y_t\|^2`, in place; returns the
    loss history (stops early, ending with ``inf``, once the loss exceeds ``blowup`` times its start)."""
    eta = check_positive("eta", eta)
    T = X.shape[0]
    losses = []
    L = len(net.weights)
    for _ in range(int(steps)):
        out, hs, xs = net.forward(X, return_all=True)
        r = out - Y
        loss = 0.5 * float(np.sum(r * r)) / T
        losses.append(loss)
        if not np.isfinite(loss) or loss > blowup * losses[0]:
            losses[-1] = np.inf
            break
        # backpropagate the residual: e_l = dLoss/dh_{l+1} (T, n_{l+1})
        e = r / T
        for l in range(L - 1, -1, -1):
            gw = e.T @ xs[l]
            gb = e.sum(axis=0)
            if l > 0:
                e = (e @ net.weights[l]) * net.act.dphi(hs[l - 1])
            net.weights[l] -= eta * gw
            net.biases[l] -= eta * gb
    return np.array(losses)


@dataclass
class LearningRateGrid:
    """Outcome of :func:`learning_rate_experiment`.

    ``diverged[i, j]`` is True when depth ``depths[i]`` was unstable (the loss rose above its initial value,
    or blew up) at ``eta[i, j] = c[j] * eta_pred[i]``;
    ``eta_pred = 2/lambda_max`` (mean field), ``lambda_max_measured`` from the NTK dual at init.
    """

    depths: np.ndarray
    c: np.ndarray
    eta_pred: np.ndarray
    lambda_max_pred: np.ndarray
    lambda_max_measured: np.ndarray
    diverged: np.ndarray
    final_loss: np.ndarray
    boundary: np.ndarray = field(default=None)

    def to_frame(self):
        """One row per (depth, multiple ``c``) as a ``pandas.DataFrame``: ``depth, c, eta, eta_pred,
        lambda_max_pred, lambda_max_measured, diverged, final_loss``.  Needs pandas (the ``frame`` extra)."""
        import pandas as pd

        D, C = len(self.depths), len(self.c)
        c, eta_pred = np.asarray(self.c, float), np.asarray(self.eta_pred, float)
        return pd.DataFrame({"depth": np.repeat(np.asarray(self.depths), C), "c": np.tile(c, D),
                             "eta": (c[None, :] * eta_pred[:, None]).ravel(),
                             "eta_pred": np.repeat(eta_pred, C),
                             "lambda_max_pred": np.repeat(np.asarray(self.lambda_max_pred, float), C),
                             "lambda_max_measured": np.repeat(np.asarray(self.lambda_max_measured, float), C),
                             "diverged": np.asarray(self.diverged, bool).ravel(),
                             "final_loss": np.asarray(self.final_loss, float).ravel()})

    def plot(self, ax=None):
        """Heat map of divergence over (depth, eta) with the predicted line 2/lambda_max (needs matplotlib)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        eta = self.c[None, :] * self.eta_pred[:, None]
        for i, L in enumerate(self.depths):
            ax.scatter(np.full(len(self.c), L), eta[i], c=np.where(self.diverged[i], "tab:red", "tab:blue"),
                       marker="s", s=60)
        ax.plot(self.depths, self.eta_pred, "k-", label="predicted 2/λ_max (mean field)")
        ax.plot(self.depths, 2 / self.lambda_max_measured, "k--", label="2/λ_max measured at init")
        ax.set_yscale("log")
        ax.set_xlabel("depth L (weight layers)")
        ax.set_ylabel("learning rate η")
        ax.set_title("GD on load_digits: blue trains, red diverges")
        ax.legend(fontsize="small")
        return ax


def learning_rate_experiment(depths=(2, 4, 6), c=(0.5, 0.8, 1.25, 2.0), act="relu", sigma_w2: float = 2.0,
                             sigma_b2: float = 0.0, width: int = 128, n_samples: int = 100, steps: int = 40,
                             reference: str = "predicted", rng=None) -> LearningRateGrid:
    """Train one network per (depth, c) with ``eta = c * 2/lambda_max`` and record instability.

    ``reference="predicted"`` uses the mean-field lambda_max (with the length and mean overlap of the
    sampled digits as input statistics); ``"measured"`` uses the network's own lambda_max at
    initialisation (NTK dual), which isolates the 2/lambda_max law from the mean-field error.
    ``eta_pred`` always holds the learning rates the grid was scaled by.
    """
    if reference not in ("predicted", "measured"):
        raise ValueError(f"reference must be 'predicted' or 'measured', got {reference!r}")
    from .fisher import fim_statistics
    from .mlp import MLP

    gen = np.random.default_rng(rng)
    X, Y = digits_data(n_samples, rng=gen)
    T, d = X.shape
    q_in = float(np.mean(np.sum(X * X, axis=1)) / d)
    gram = X @ X.T / d
    c_in = float((gram.sum() - np.trace(gram)) / (T * (T - 1)) / q_in)
    depths = np.asarray(depths, dtype=int)
    cs = np.asarray(c, dtype=float)
    lam_pred = np.empty(len(depths))
    lam_meas = np.empty(len(depths))
    div = np.zeros((len(depths), len(cs)), bool)
    fin = np.empty((len(depths), len(cs)))
    seeds = gen.integers(0, 2 ** 31, size=len(depths))
    for i, L in enumerate(depths):
        s = fim_statistics(act, sigma_w2, sigma_b2, int(L), width, T, 1, input_dim=d, q_input=q_in,
                           c_input=max(min(c_in, 1.0), -1.0))
        lam_pred[i] = s.lambda_max
        widths = [d] + [width] * (int(L) - 1) + [1]
        net0 = MLP(widths, act, sigma_w2, sigma_b2, weights="gaussian", rng=int(seeds[i]))
        lam_meas[i] = np.linalg.eigvalsh(net0.empirical_ntk(X, parameterization="standard") / T)[-1]
        lam_ref = lam_pred[i] if reference == "predicted" else lam_meas[i]
        for j, cj in enumerate(cs):
            net = MLP(widths, act, sigma_w2, sigma_b2, weights="gaussian", rng=int(seeds[i]))  # same init
            hist = train_gd(net, X, Y, eta=cj * 2 / lam_ref, steps=steps)
            fin[i, j] = hist[-1]
            # unstable: the loss rises above its start (the top mode grows as |1 - eta lambda|^t > 1);
            # past 2/lambda_max wide nets may later "catapult" to a flatter region instead of blowing up
            div[i, j] = (not np.all(np.isfinite(hist))) or hist.max() > hist[0] * (1 + 1e-9)
    eta_pred = 2 / (lam_pred if reference == "predicted" else lam_meas)
    # empirical boundary: geometric midpoint between the largest stable and smallest divergent c
    bnd = np.full(len(depths), np.nan)
    for i in range(len(depths)):
        ok, bad = cs[~div[i]], cs[div[i]]
        if len(ok) and len(bad):
            bnd[i] = np.sqrt(ok.max() * bad.min()) * eta_pred[i]
    return LearningRateGrid(depths, cs, eta_pred, lam_pred, lam_meas, div, fin, bnd)


# =============================================================================================
# The research's experiment: online SGD, small batches and full-batch GD at criticality
# =============================================================================================
def train_sgd(net, X: np.ndarray, Y: np.ndarray, eta: float, batch_size: int = 1, epochs: int = 1,
              rng=None, blowup: float = 1e6, n_evals: int = 20, spike_steps: int = 0):
    r"""Minibatch SGD on :math:`\frac1{2B}\sum_{t\in\text{batch}}\|f(x_t)-y_t\|^2`, in place.

    ``batch_size=1`` is online learning (one example per step); ``batch_size=T`` with one step per
    epoch is full-batch gradient descent.  The examples are reshuffled every epoch.  Returns the full
    training loss :math:`\frac1{2T}\sum_t\|f(x_t)-y_t\|^2` at ``n_evals + 1`` evenly spaced steps
    (the first before training); it stops early, ending with ``inf``, when that loss is not finite or
    exceeds ``blowup`` times its start.  With this normalisation the Gauss–Newton curvature of one step
    is :math:`\Theta_B/B` (empirical NTK of the batch), so the step is stable along the top mode iff
    :math:`\eta < 2/\lambda_{\max}(\Theta_B/B)`.

    With ``spike_steps > 0`` it also returns the fraction of the first ``spike_steps`` steps after
    which the loss of the batch just used rose (the step overshot its own batch), as
    ``(losses, fraction)``.
    """
    from .data import check_batch_size, check_inputs

    eta = check_positive("eta", eta)
    X = check_inputs(X, "X", net.widths[0])
    Y = np.asarray(Y, dtype=float)
    if Y.ndim != 2 or Y.shape != (X.shape[0], net.widths[-1]):
        raise ValueError(f"Y must have shape ({X.shape[0]}, {net.widths[-1]}), got {Y.shape}")
    T = X.shape[0]
    B = check_batch_size(batch_size, T)
    gen = np.random.default_rng(rng)
    steps_per_epoch = T // B
    total = steps_per_epoch * int(epochs)
    checkpoints = set(np.linspace(0, total, int(n_evals) + 1).round().astype(int).tolist())
    L = len(net.weights)
    losses = []

    def full_loss():
        r = net.forward(X) - Y
        return 0.5 * float(np.sum(r * r)) / T

    step = 0
    rises = []
    for _ in range(int(epochs)):
        order = gen.permutation(T)
        for s in range(steps_per_epoch):
            if step in checkpoints:
                with np.errstate(all="ignore"):
                    lv = full_loss()
                losses.append(lv)
                if not np.isfinite(lv) or lv > blowup * losses[0]:
                    losses[-1] = np.inf
                    frac = float(np.mean(rises)) if rises else 1.0
                    return (np.array(losses), frac) if spike_steps else np.array(losses)
            idx = order[s * B:(s + 1) * B]
            xb, yb = X[idx], Y[idx]
            with np.errstate(all="ignore"):
                out, hs, xs = net.forward(xb, return_all=True)
                e = (out - yb) / B
                before = float(np.sum((out - yb) ** 2)) if step < spike_steps else 0.0
                for l in range(L - 1, -1, -1):
                    gw = e.T @ xs[l]
                    gb = e.sum(axis=0)
                    if l > 0:
                        e = (e @ net.weights[l]) * net.act.dphi(hs[l - 1])
                    net.weights[l] -= eta * gw
                    net.biases[l] -= eta * gb
                if step < spike_steps:
                    after = float(np.sum((net.forward(xb) - yb) ** 2))
                    rises.append(not after < before)
            step += 1
    with np.errstate(all="ignore"):
        lv = full_loss()
    losses.append(lv if np.isfinite(lv) else np.inf)
    return (np.array(losses), float(np.mean(rises)) if rises else float("nan")) if spike_steps else np.array(losses)


@dataclass(frozen=True)
class BoundaryPrediction:
    r"""Predicted learning-rate boundaries :math:`2/\lambda` for one network on its training inputs.

    All from the infinite-width data kernel :math:`\bar\Theta` (:func:`nn_spectra.data_kernels`, standard
    parameterisation), no training: ``full_batch`` :math:`= 2/\lambda_1(\bar\Theta/T)`;
    ``online_max`` / ``online_mean`` :math:`= 2/\max_t\bar\Theta(x_t,x_t)` and
    :math:`2/\operatorname{mean}_t\bar\Theta(x_t,x_t)` (the conditional FIM of one input has the
    C-fold eigenvalue :math:`\bar\Theta(x,x)`); ``batch`` :math:`= 2/E_B\lambda_1(\bar\Theta_B/B)`
    over random batches of size ``batch_size``, ``batch_q95`` with the 95 % quantile of
    :math:`\lambda_1`; ``linear_sgd`` :math:`= 2B/(\beta + (B-1)\lambda_1)` with
    :math:`\beta = \max_t\bar\Theta(x_t,x_t)` and :math:`\lambda_1 = \lambda_1(\bar\Theta/T)`, the
    mean-square stability threshold of minibatch SGD on a linear model in the interpolation regime
    (Ma, Bassily & Belkin 2018), which runs from the conditional FIM (:math:`B = 1`) to the full-batch
    FIM (:math:`B = T`); ``linear_sgd_mean`` the same with :math:`\beta` the mean of the diagonal.
    ``online_median`` :math:`= 2/\operatorname{median}_t\bar\Theta(x_t,x_t)`: above it, one SGD step
    on a typical example overshoots that example (its own loss rises).  ``readout_online`` and
    ``readout_full`` are :math:`2/\max_t c_L(t,t)` and :math:`2/\lambda_1(c_L/T)` with
    :math:`c_L = M_{L-1}\hat q^{L-1} + 1` the readout layer's own term: the boundary of a network
    whose hidden layers have saturated (bounded :math:`\varphi`; their curvature collapses while the
    readout's stays), which is where training with bounded activations actually fails.
    """

    depth: int
    batch_size: int
    full_batch: float
    online_max: float
    online_mean: float
    batch: float
    batch_q95: float
    linear_sgd: float = float("nan")
    linear_sgd_mean: float = float("nan")
    online_median: float = float("nan")
    readout_online: float = float("nan")
    readout_full: float = float("nan")


def predict_boundaries(X, act, sigma_w2: float, sigma_b2: float, depth: int, width: int, n_outputs: int = 1,
                       batch_size: int = 1, *, n_batches: int = 200, rng=None, kernels=None) -> BoundaryPrediction:
    r"""The learning-rate boundaries of :class:`BoundaryPrediction` for an :class:`MLP` on ``X``.

    >>> from nn_spectra.data import load_dataset
    >>> d = load_dataset("wine", 60, rng=0)
    >>> p = predict_boundaries(d.X, "tanh", 1.5, 0.05, depth=3, width=200, n_outputs=3, batch_size=4, rng=0)
    >>> bool(p.full_batch > p.batch > p.online_mean > p.online_max)
    True
    """
    from .data import check_batch_size, check_inputs
    from .fisher import _top_eigs, data_kernels

    X = check_inputs(X, "X")
    T = X.shape[0]
    B = check_batch_size(batch_size, T)
    k = kernels if kernels is not None else data_kernels(X, act, sigma_w2, sigma_b2, depth, width, n_outputs,
                                                          keep_layers=False)
    th = k.ntk
    # only the top eigenvalue is needed: Lanczos beyond a few hundred inputs
    lam_full = float(_top_eigs(th, 1)[0][0]) / T
    diag = np.diag(th)
    gen = np.random.default_rng(rng)
    if B == T:
        lams = np.array([lam_full])
    elif B == 1:
        lams = diag.copy()
    else:
        lams = np.array([np.linalg.eigvalsh(th[np.ix_(idx, idx)] / B)[-1]
                         for idx in (gen.choice(T, B, replace=False) for _ in range(int(n_batches)))])
    beta, beta_m = float(diag.max()), float(diag.mean())
    cl = k.readout
    return BoundaryPrediction(int(depth), B, 2 / lam_full, 2 / beta, 2 / beta_m,
                              2 / float(lams.mean()), 2 / float(np.quantile(lams, 0.95)),
                              2 * B / (beta + (B - 1) * lam_full), 2 * B / (beta_m + (B - 1) * lam_full),
                              2 / float(np.median(diag)), 2 / float(np.diag(cl).max()),
                              2 * T / float(_top_eigs(cl, 1)[0][0]))


@dataclass
class SGDGrid:
    r"""Outcome of :func:`sgd_learning_rate_experiment`.

    ``ratio[m, i, j]`` is the final training loss over the initial one for optimiser ``modes[m]``
    (a batch size, ``T`` meaning full-batch GD) at depth ``depths[i]`` and learning rate ``etas[j]``;
    ``failed = ~(ratio < 1)`` (did not train, or blew up).  ``measured[m, i]`` is the geometric midpoint
    between the largest learning rate that trained and the smallest one above it that failed (NaN when
    the grid does not bracket it); ``predicted[m][i]`` the :class:`BoundaryPrediction`.
    ``spikes[m, i, j]`` is the fraction of the first 50 SGD steps that raised the loss of their own
    batch (full batch: 1 if the loss ever rose above its start), and ``measured_spike[m, i]`` the
    learning rate where that fraction crosses 1/2: the onset of the instability the FIM predicts,
    as opposed to the failure of training.
    """

    dataset: str
    act: str
    sigma_w2: float
    sigma_b2: float
    width: int
    n_samples: int
    depths: np.ndarray
    modes: tuple
    etas: np.ndarray
    ratio: np.ndarray
    measured: np.ndarray
    predicted: list
    spikes: np.ndarray = None
    measured_spike: np.ndarray = None

    @property
    def failed(self) -> np.ndarray:
        return ~(self.ratio < 1.0)

    def to_frame(self):
        """One row per run as a ``pandas.DataFrame``: ``batch_size`` (``n_samples`` = full-batch GD),
        ``depth``, ``eta``, ``ratio`` (final over initial loss), ``failed``, ``spikes`` (NaN when not
        recorded), and the boundaries of that (optimiser, depth): ``measured``, ``measured_spike`` and the
        predictions ``full_batch``, ``online_median``, ``batch``.  Needs pandas (the ``frame`` extra)."""
        import pandas as pd

        M, D, E = np.shape(self.ratio)
        cell = lambda a: np.repeat(np.asarray(a, float).reshape(M * D), E)  # noqa: E731  (per (mode, depth))
        nan = np.full((M, D), np.nan)
        return pd.DataFrame({
            "batch_size": np.repeat(np.asarray(self.modes), D * E), "depth": np.tile(np.repeat(self.depths, E), M),
            "eta": np.tile(np.asarray(self.etas, float), M * D), "ratio": np.asarray(self.ratio, float).ravel(),
            "failed": self.failed.ravel(),
            "spikes": (np.full((M, D, E), np.nan) if self.spikes is None else np.asarray(self.spikes, float)).ravel(),
            "measured": cell(self.measured),
            "measured_spike": cell(nan if self.measured_spike is None else self.measured_spike),
            **{k: cell(self.prediction(k)) for k in ("full_batch", "online_median", "batch")}})

    def prediction(self, name: str) -> np.ndarray:
        """Array (modes, depths) of one field of the predictions, e.g. ``"online_max"``."""
        return np.array([[getattr(p, name) for p in row] for row in self.predicted])

    def plot(self, axes=None):
        """Heat maps of log10(final/initial loss) over (depth, η), one per optimiser, with the measured and
        predicted boundaries drawn over them (needs matplotlib)."""
        import matplotlib.pyplot as plt

        n = len(self.modes)
        if axes is None:
            _, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.8), squeeze=False)
            axes = axes[0]
        le = np.log10(self.etas)
        de = np.diff(le).mean() if len(le) > 1 else 1.0
        for m, ax in enumerate(axes):
            z = np.log10(np.clip(np.where(np.isfinite(self.ratio[m]), self.ratio[m], 1e6), 1e-3, 1e6))
            dd = np.asarray(self.depths, float)
            mids = 0.5 * (dd[1:] + dd[:-1])
            xe = np.concatenate([[dd[0] - 0.5], mids, [dd[-1] + 0.5]])
            ye = np.concatenate([[le[0] - de / 2], 0.5 * (le[1:] + le[:-1]), [le[-1] + de / 2]])
            im = ax.pcolormesh(xe, ye, z.T, cmap="RdBu_r", vmin=-1.5, vmax=1.5)
            d = self.depths
            mode = self.modes[m]
            label = "full-batch GD" if mode == self.n_samples else ("online SGD" if mode == 1 else f"SGD, batch {mode}")
            full = mode == self.n_samples
            ax.plot(d, np.log10(self.prediction("full_batch")[m]), "k-", label="2/λ₁(Θ/T): full-batch FIM")
            if not full:
                key, lab = ("online_median", "2/median Θ(x,x): conditional FIM") if mode == 1 else \
                    ("batch", "2/E λ₁(Θ_B/B): batch FIM")
                ax.plot(d, np.log10(self.prediction(key)[m]), "m--", label=lab)
            rk = "readout_full" if full else "readout_online"
            ax.plot(d, np.log10(self.prediction(rk)[m]), "c-.", label="readout layer alone (saturated net)")
            if self.measured_spike is not None:
                ax.plot(d, np.log10(self.measured_spike[m]), "ws-", mec="k", ms=5, label="measured: onset of spikes")
            ax.plot(d, np.log10(self.measured[m]), "wo-", mec="k", label="measured: training fails")
            ax.set_title(f"{self.dataset}, {label}", fontsize="small")
            ax.set_xlabel("depth L (weight layers)")
            ax.set_ylabel("log10 η")
            ax.legend(fontsize="xx-small", loc="lower left")
        plt.colorbar(im, ax=list(axes), label="log10(final / initial loss)")
        return axes


def _run_one(X, Y, net0, eta, batch, epochs, shuffle_seed):
    import copy

    net = copy.deepcopy(net0)   # the same initial network for every learning rate of a depth
    full = batch == X.shape[0]
    hist, spike = train_sgd(net, X, Y, eta, batch_size=batch, epochs=epochs, rng=shuffle_seed,
                            n_evals=epochs if full else 20, spike_steps=5 if full else 50)
    ratio = float(hist[-1] / hist[0]) if np.isfinite(hist[-1]) else np.inf
    if full:
        # full batch: unstable when the loss rises above its start at any step (top mode growing)
        spike = float(not np.all(hist[1:] < hist[0]))
    return ratio, spike


def sgd_learning_rate_experiment(dataset: str = "digits", depths=(2, 3, 4, 6, 8), etas=None, act: str = "tanh",
                                 sigma_b2: float = 0.05, sigma_w2: float | None = None, width: int = 256,
                                 n_samples: int = 400, batch_sizes=(1, 8, None), epochs: int = 1,
                                 gd_epochs: int = 60, weights: str | None = None, targets: str = "onehot",
                                 data=None, n_jobs: int = 1, backend: str | None = None, progress: bool = True,
                                 rng=None, *, init: str | None = None) -> SGDGrid:
    r"""Online SGD, small-batch SGD and full-batch GD over depth × learning rate, at criticality.

    Parameters
    ----------
    dataset : str
        A scikit-learn dataset of :func:`nn_spectra.data.load_dataset` (``"digits"``, ``"breast_cancer"``,
        ...); ignored when ``data`` (a :class:`nn_spectra.data.Dataset`, e.g. from
        :func:`load_fashion_mnist`) is given.
    depths : sequence of int
        Weight layers :math:`L` of ``MLP([d] + [width] * (L - 1) + [C])``.
    etas : array_like, optional
        Learning rates (default: 14 points, geometric, from a third of the smallest to 12× the largest
        predicted boundary).
    act, sigma_b2, sigma_w2
        ``sigma_w2`` defaults to the critical :math:`\sigma_w^2` (:math:`\chi_1 = 1`) for ``sigma_b2``.
    batch_sizes : sequence
        Batch sizes; ``None`` means full-batch GD (``gd_epochs`` steps).  SGD runs ``epochs`` passes.
    weights : {"orthogonal", "gaussian"}
        The weight law (default ``"orthogonal"``); ``init=`` is its deprecated name.
    n_jobs, backend
        joblib parallelism; ``backend="dask"`` runs on a Dask cluster (a ``distributed.Client`` must
        exist).
    progress : bool
        tqdm progress bar over the runs, on stderr (:mod:`freeprob.progress`: off inside ``freeprob
        verify`` and with ``FREEPROB_PROGRESS=0``).

    The prediction of every boundary (:func:`predict_boundaries`) uses only the infinite-width data
    kernel of the training inputs; nothing measured on a network enters it.
    """
    from joblib import Parallel, delayed, parallel_config

    from .data import load_dataset
    from .mean_field import critical_sigma_w2

    from .network import weight_law

    law = weight_law(weights, init, "orthogonal", allowed=("orthogonal", "gaussian"),
                     caller="sgd_learning_rate_experiment")
    gen = np.random.default_rng(rng)
    d = data if data is not None else load_dataset(dataset, n_samples, targets=targets, rng=gen)
    X, Y = d.X, d.Y
    T, C = X.shape[0], Y.shape[1]
    sw = float(critical_sigma_w2(act, sigma_b2)) if sigma_w2 is None else check_positive("sigma_w2", sigma_w2)
    depths = np.asarray(depths, dtype=int)
    modes = tuple(T if b is None else int(b) for b in batch_sizes)
    from .fisher import data_kernels

    preds = []
    for B in modes:
        preds.append([])
    for L in depths:
        k = data_kernels(X, act, sw, sigma_b2, int(L), width, C, keep_layers=False)
        for m, B in enumerate(modes):
            preds[m].append(predict_boundaries(X, act, sw, sigma_b2, int(L), width, C, B, rng=gen, kernels=k))
    if etas is None:
        allp = np.array([[p.online_max, p.full_batch] for row in preds for p in row])
        etas = np.geomspace(allp.min() / 3, allp.max() * 12, 14)
    etas = np.sort(np.asarray(etas, dtype=float))
    seeds = gen.integers(0, 2 ** 31, size=len(depths))
    shuffle = int(gen.integers(0, 2 ** 31))
    tasks = [(m, i, j) for m in range(len(modes)) for i in range(len(depths)) for j in range(len(etas))]

    from .mlp import MLP

    # one initial network per depth (Haar matrices are costly), copied for every run
    nets = [MLP([X.shape[1]] + [int(width)] * (int(L) - 1) + [C], act, sw, sigma_b2, weights=law, rng=int(s))
            for L, s in zip(depths, seeds)]

    def job(m, i, j):
        ep = gd_epochs if modes[m] == T else epochs
        return _run_one(X, Y, nets[i], float(etas[j]), modes[m], ep, shuffle)

    ratio = np.empty((len(modes), len(depths), len(etas)))
    spikes = np.empty((len(modes), len(depths), len(etas)))
    cfg = {"backend": backend} if backend else {}
    with parallel_config(**cfg):
        par = Parallel(n_jobs=n_jobs, return_as="generator")
        it = par(delayed(job)(*t) for t in tasks)
        # the toolkit's one bar policy (freeprob.progress): silent inside verify and with FREEPROB_PROGRESS=0
        it = progress_bar(it, total=len(tasks), desc=f"{d.name}: {len(tasks)} runs", progress=progress)
        for t, (r, sp) in zip(tasks, it):
            ratio[t] = r
            spikes[t] = sp
    return SGDGrid(d.name, str(act), sw, float(sigma_b2), int(width), T, depths, modes, etas, ratio,
                   _boundary(etas, ratio < 1.0), preds, spikes, _boundary(etas, spikes <= 0.5))


def _boundary(etas, ok):
    """Geometric midpoint between the last learning rate that is ok and the first that is not (NaN if the
    grid does not bracket it), for every (mode, depth)."""
    out = np.full(ok.shape[:2], np.nan)
    for m in range(ok.shape[0]):
        for i in range(ok.shape[1]):
            row = ok[m, i]
            if row.any() and not row.all():
                j = int(np.argmax(~row))
                if j > 0:
                    out[m, i] = np.sqrt(etas[j - 1] * etas[j])
    return out


# =============================================================================================
# Minibatch SGD: the linear stability of the iteration (Wu, Ma & E 2018) and the overshoot of a batch
# =============================================================================================
def _check_kernel(theta, name: str = "theta") -> np.ndarray:
    th = np.asarray(theta, dtype=float)
    if th.ndim != 2 or th.shape[0] != th.shape[1] or th.shape[0] < 1:
        raise ValueError(f"{name} must be a square (T, T) kernel matrix, got shape {th.shape}")
    if not np.all(np.isfinite(th)):
        raise ValueError(f"{name} must have finite entries")
    return 0.5 * (th + th.T)


def sgd_mean_square_threshold(theta, batch_size: int, *, tol: float = 1e-10) -> float:
    r"""Largest learning rate at which minibatch SGD on the linearised model is stable in mean square.

    With the loss :math:`\frac1{2B}\sum_{t\in\text{batch}}\|f(x_t)-y_t\|^2` and the kernel
    :math:`\Theta` (:math:`T\times T`, per output), one step on the batch :math:`S_k` (``batch_size``
    :math:`= B` examples drawn without replacement) moves the residual by
    :math:`r_{k+1} = (I - \tfrac{\eta}{B}\Theta S_k)r_k`, :math:`S_k` the 0/1 diagonal selector of the
    batch.  Its second moment :math:`M_k = E\,r_kr_k^\top` obeys
    :math:`M_{k+1} = M_k - \eta\mathcal L(M_k) + \eta^2\mathcal Q(M_k)` with

    .. math::

        \mathcal L(M) = \frac{\Theta M + M\Theta}{T},\qquad
        \mathcal Q(M) = \frac{1}{B^2}\,\Theta\big(p_2 M + (p_1 - p_2)\operatorname{Diag}M\big)\Theta,\qquad
        p_1 = \frac BT,\ p_2 = \frac{B(B-1)}{T(T-1)},

    the linear stability of SGD of Wu, Ma & E (NeurIPS 2018) written in the function space: the
    sharpness enters through :math:`\mathcal L`, the non-uniformity (second moment of the per-sample
    curvature) through :math:`\operatorname{Diag}M`.  Both :math:`\mathcal L^{-1}` and
    :math:`\mathcal Q` map positive semidefinite matrices to positive semidefinite ones, so the first
    :math:`\eta` at which the iteration has a fixed point is

    .. math:: \eta_{\rm ms} = 1/\rho(\mathcal L^{-1}\mathcal Q),

    the Perron eigenvalue (ARPACK on the :math:`T^2`-dimensional operator in :math:`\Theta`'s eigenbasis,
    where :math:`\mathcal L^{-1}` divides entry :math:`(i,j)` by :math:`(\lambda_i+\lambda_j)/T`).
    Special cases: :math:`B = T` gives :math:`2/\lambda_1(\Theta/T)` (gradient descent); a diagonal
    :math:`\Theta` with :math:`B = 1` gives :math:`2/\max_t\Theta_{tt}`.  Cost :math:`O(T^3)` per
    operator application: ``T`` up to about 1,000.

    >>> th = np.diag([1.0, 2.0, 4.0])
    >>> round(sgd_mean_square_threshold(th, 1), 12), round(sgd_mean_square_threshold(th, 3), 12)
    (0.5, 1.5)
    """
    from scipy.sparse.linalg import LinearOperator, eigs

    from .data import check_batch_size

    th = _check_kernel(theta)
    T = th.shape[0]
    B = check_batch_size(batch_size, T)
    if T > 2000:
        raise ValueError(f"theta must be at most 2000 x 2000 for the mean-square threshold, got T = {T}")
    lam, U = np.linalg.eigh(th)
    if lam[0] <= 0:
        raise ValueError(f"theta must be positive definite (smallest eigenvalue {lam[0]:.3g})")
    if B == T:
        return float(2.0 * T / lam[-1])
    p1 = B / T
    p2 = B * (B - 1) / (T * (T - 1))
    scale = lam[None, :] * lam[:, None] / (B * B) * T / (lam[:, None] + lam[None, :])

    def apply(v):
        N = v.reshape(T, T)
        d = np.einsum("ij,jk,ik->i", U, N, U)          # diag(U N U^T): Diag(M) in the original basis
        Y = p2 * N + (p1 - p2) * (U.T * d[None, :]) @ U
        return (scale * Y).ravel()

    if T == 1:
        return float(2.0 / lam[0])
    op = LinearOperator((T * T, T * T), matvec=apply, dtype=float)
    v0 = np.eye(T).ravel()
    if T * T <= 3:
        A = np.column_stack([apply(e) for e in np.eye(T * T)])
        rho = float(np.max(np.abs(np.linalg.eigvals(A))))
    else:
        vals = eigs(op, k=1, which="LM", v0=v0, tol=tol)[0]
        rho = float(np.max(np.abs(vals)))
    return 1.0 / rho


def batch_overshoot_threshold(theta, output_cov, Y, batch_size: int, *, n_batches: int = 400, rng=None) -> float:
    r"""Learning rate above which one SGD step raises the loss of its own batch, for half of the batches.

    One step on a batch maps its residual :math:`r` (per output, length :math:`B`) to
    :math:`(I - \eta K)r`, :math:`K = \Theta_{BB}/B`, so the batch loss rises iff
    :math:`\eta > 2\,\sum_c r_c^\top Kr_c / \sum_c r_c^\top K^2r_c`.  At initialisation
    :math:`r_c = f_c - y_c` with the outputs :math:`f_c \sim N(0, \Sigma_{\rm out})` independent over
    outputs (infinite width: ``output_cov`` is the NNGP kernel of the output layer) and the targets
    ``Y`` :math:`(T, C)`.  Returned: the median of that threshold over ``n_batches`` random batches and
    draws of :math:`f` (Monte Carlo of the infinite-width model; no network).  For :math:`B = 1` it is
    :math:`2/\operatorname{median}_t\Theta_{tt}` whatever the residual; for :math:`B > 1` the residual
    direction matters: when it lies mostly along the small eigenvalues of :math:`K` the onset is far
    above :math:`2/\lambda_1(K)`.

    >>> th = np.array([[2.0, 0.0], [0.0, 2.0]])
    >>> batch_overshoot_threshold(th, np.eye(2), np.zeros((2, 1)), 1, n_batches=10, rng=0)
    1.0
    """
    from .data import check_batch_size

    th = _check_kernel(theta)
    cov = _check_kernel(output_cov, "output_cov")
    T = th.shape[0]
    if cov.shape != th.shape:
        raise ValueError(f"output_cov must have the shape of theta {th.shape}, got {cov.shape}")
    Y = np.asarray(Y, dtype=float)
    if Y.ndim != 2 or Y.shape[0] != T or not np.all(np.isfinite(Y)):
        raise ValueError(f"Y must be a finite (T, C) array with T = {T}, got shape {Y.shape}")
    B = check_batch_size(batch_size, T)
    if B == 1:
        return float(2.0 / np.median(np.diag(th)))
    gen = np.random.default_rng(rng)
    C = Y.shape[1]
    out = np.empty(int(n_batches))
    for n in range(int(n_batches)):
        idx = np.sort(gen.choice(T, B, replace=False))
        K = th[np.ix_(idx, idx)] / B
        r = _gaussian_rows(cov[np.ix_(idx, idx)], C, gen).T - Y[idx]        # (B, C)
        Kr = K @ r
        out[n] = 2.0 * float(np.sum(r * Kr)) / float(np.sum(Kr * Kr))
    return float(np.median(out))


def _gaussian_rows(cov, n, gen):
    ev, V = np.linalg.eigh(0.5 * (cov + cov.T))
    return gen.standard_normal((n, cov.shape[0])) @ (V * np.sqrt(np.clip(ev, 0.0, None))[None, :]).T


# =============================================================================================
# Measured boundaries by bisection, and the study over depth and seeds
# =============================================================================================
def _onset_fraction(net0, X, Y, eta, B, steps, seed):
    """Fraction of the first ``steps`` SGD steps (batch ``B``) that raise the loss of their own batch."""
    import copy

    gen = np.random.default_rng(seed)
    n = min(steps * B, X.shape[0])
    idx = gen.choice(X.shape[0], n, replace=False)
    net = copy.deepcopy(net0)
    _, frac = train_sgd(net, X[idx], Y[idx], eta, batch_size=B, epochs=1, rng=seed, n_evals=1,
                        spike_steps=n // B)
    return frac


def _final_ratio(net0, X, Y, eta, B, epochs, seed):
    """Full training loss after ``epochs`` epochs of SGD over its value at the start."""
    import copy

    net = copy.deepcopy(net0)
    h = train_sgd(net, X, Y, eta, batch_size=B, epochs=epochs, rng=seed, n_evals=1)
    return float(h[-1] / h[0]) if np.isfinite(h[-1]) else np.inf


def measure_sgd_boundary(net, X, Y, batch_size: int = 1, *, criterion: str = "onset", eta_range=(1e-4, 1.0),
                         steps: int = 50, epochs: int = 1, n_bisect: int = 12, rng=None) -> float:
    r"""The learning rate at which SGD on a real network crosses an instability criterion, by bisection.

    ``criterion="onset"``: half of the first ``steps`` steps (of batch ``batch_size``, on
    ``steps * batch_size`` distinct examples) raise the loss of their own batch — the instability the
    FIM predicts (the step overshoots along the top of its batch's curvature).
    ``criterion="failure"``: the full training loss after ``epochs`` epochs is not below its start.
    Bisection in :math:`\log\eta` inside ``eta_range`` (widened by factors of 4, at most 6 times, until
    it brackets the crossing), ``n_bisect`` halvings; the network ``net`` is copied, never trained, and
    every trial uses the same example order (``rng``), so the criterion is a deterministic function of
    :math:`\eta`.  Returns the geometric midpoint of the final bracket.
    """
    from .data import check_batch_size, check_inputs

    if criterion not in ("onset", "failure"):
        raise ValueError(f"criterion must be 'onset' or 'failure', got {criterion!r}")
    X = check_inputs(X, "X", net.widths[0])
    T = X.shape[0]
    B = check_batch_size(batch_size, T)
    lo, hi = (check_positive("eta_range", float(e)) for e in eta_range)
    if not lo < hi:
        raise ValueError(f"eta_range must be (low, high) with low < high, got {eta_range!r}")
    seed = int(np.random.default_rng(rng).integers(0, 2 ** 31))
    if criterion == "onset":
        def bad(eta):
            return _onset_fraction(net, X, Y, eta, B, int(steps), seed) > 0.5
    else:
        def bad(eta):
            return not _final_ratio(net, X, Y, eta, B, int(epochs), seed) < 1.0
    for _ in range(6):
        b_lo, b_hi = bad(lo), bad(hi)
        if not b_lo and b_hi:
            break
        if b_lo:
            lo /= 4
        if not b_hi:
            hi *= 4
    else:
        return float("nan")
    for _ in range(int(n_bisect)):
        mid = np.sqrt(lo * hi)
        if bad(mid):
            hi = mid
        else:
            lo = mid
    return float(np.sqrt(lo * hi))


@dataclass
class BoundaryStudy:
    r"""Outcome of :func:`sgd_boundary_study`: measured boundaries per (depth, seed) and predictions.

    ``onset[i, s]`` and ``failure[i, s]`` are the bisected boundaries (:func:`measure_sgd_boundary`) of
    seed ``s`` at depth ``depths[i]``; ``predicted[i]`` the :class:`BoundaryPrediction` of the data
    kernel; ``conditional[i]`` :math:`= 2/(N e_t)`, :math:`e_t` the top edge of the free compression
    (:math:`t = C/N`) of :func:`conditional_fim_law` at the fixed point with ``input_ratio`` :math:`d/N`
    (``max_learning_rate(source="conditional")`` without inputs), ``conditional_input[i]`` the same
    with the layers following the inputs' median length :math:`\|x\|^2/d`,
    ``conditional_mean[i]`` :math:`= 2/(N\,m_1)` with the fixed-point law's mean; ``mean_square[i]``
    (:func:`sgd_mean_square_threshold`) and ``overshoot[i]`` (:func:`batch_overshoot_threshold`).
    """

    dataset: str
    act: str
    sigma_w2: float
    sigma_b2: float
    width: int
    n_samples: int
    batch_size: int
    depths: np.ndarray
    onset: np.ndarray
    failure: np.ndarray
    predicted: list
    conditional: np.ndarray
    conditional_input: np.ndarray
    conditional_mean: np.ndarray
    mean_square: np.ndarray
    overshoot: np.ndarray

    def to_frame(self):
        """One row per (depth, seed) as a ``pandas.DataFrame``: the measured ``onset`` and ``failure``
        beside the predictions of that depth (``online_median``, ``full_batch``, ``batch``,
        ``readout_online`` of :class:`BoundaryPrediction`; ``conditional``, ``conditional_input``,
        ``conditional_mean``, ``mean_square``, ``overshoot``).  Needs pandas (the ``frame`` extra)."""
        import pandas as pd

        D, S = np.shape(self.onset)
        per_depth = {k: np.array([getattr(p, k) for p in self.predicted], float)
                     for k in ("online_median", "full_batch", "batch", "readout_online")}
        per_depth |= {k: np.asarray(getattr(self, k), float) for k in
                      ("conditional", "conditional_input", "conditional_mean", "mean_square", "overshoot")}
        return pd.DataFrame({"depth": np.repeat(np.asarray(self.depths), S), "seed": np.tile(np.arange(S), D),
                             "onset": np.asarray(self.onset, float).ravel(),
                             "failure": np.asarray(self.failure, float).ravel(),
                             **{k: np.repeat(v, S) for k, v in per_depth.items()}})

    def ratio(self, measured: str, predicted) -> tuple[np.ndarray, np.ndarray]:
        """Mean over seeds of measured/predicted per depth and its standard error (``predicted``: a
        field of :class:`BoundaryPrediction` or an attribute of the study)."""
        m = getattr(self, measured)
        p = getattr(self, predicted) if hasattr(self, predicted) else np.array(
            [getattr(q, predicted) for q in self.predicted])
        r = m / p[:, None]
        n = np.sum(np.isfinite(r), axis=1)
        se = np.nanstd(r, axis=1, ddof=1) / np.sqrt(np.maximum(n, 1)) if r.shape[1] > 1 else np.full(len(r), np.nan)
        return np.nanmean(r, axis=1), se


def sgd_boundary_study(dataset: str = "digits", depths=(2, 3, 4, 6, 8), act: str = "hard_tanh",
                       width: int = 256, n_seeds: int = 3, n_samples: int = 300, batch_size: int = 1,
                       sigma_b2: float = 0.05, sigma_w2: float | None = None, weights: str | None = None,
                       failure: bool = True, failure_epochs: int = 1, steps: int = 50, n_bisect: int = 10,
                       data=None, n_jobs: int = 1, progress: bool = True, rng=None, *,
                       init: str | None = None) -> BoundaryStudy:
    r"""Online (or minibatch) SGD on a real dataset at criticality: the measured instability boundary
    per depth and seed, by bisection, against every prediction of the toolkit.

    The networks are ``MLP([d] + [width] * (L - 1) + [C], act, sigma_w2, sigma_b2, weights=weights)``
    (``weights="orthogonal"`` by default, ``init=`` its deprecated name; ``sigma_w2`` defaults to the
    critical value, :math:`\chi_1 = 1`), one fresh network and example
    order per seed, on the same ``n_samples`` examples of ``dataset`` (one-hot targets).  Predictions
    (nothing measured enters them): the data kernel's :class:`BoundaryPrediction` (``online_median``
    :math:`= 2/\operatorname{median}_t\bar\Theta(x_t,x_t)`, the conditional FIM of the actual inputs;
    ``full_batch``; ``readout_online``), the Hayase–Karakida law's ``max_learning_rate(source=
    "conditional")``, and for batches the mean-square threshold and the batch overshoot.  Runs go
    through joblib (``n_jobs``) with a tqdm bar (``progress``; :mod:`freeprob.progress` policy).
    """
    from joblib import Parallel, delayed

    from .conditional_fim import conditional_fim_law
    from .data import load_dataset
    from .fisher import data_kernels
    from .mean_field import critical_sigma_w2
    from .mlp import MLP
    from .network import weight_law

    law_w = weight_law(weights, init, "orthogonal", allowed=("orthogonal", "gaussian"), caller="sgd_boundary_study")
    gen = np.random.default_rng(rng)
    d = data if data is not None else load_dataset(dataset, n_samples, rng=gen)
    X, Y = d.X, d.Y
    T, C, N = X.shape[0], Y.shape[1], int(width)
    sw = float(critical_sigma_w2(act, sigma_b2)) if sigma_w2 is None else check_positive("sigma_w2", sigma_w2)
    depths = np.asarray(depths, dtype=int)
    preds, cond, cond_in, cond_m, ms, ov = [], [], [], [], [], []
    dim = X.shape[1]
    q_in = float(np.median(np.sum(X * X, axis=1))) / dim     # ||x||^2 / d of the median input
    for L in depths:
        k = data_kernels(X, act, sw, sigma_b2, int(L), N, C, keep_layers=False)
        p = predict_boundaries(X, act, sw, sigma_b2, int(L), N, C, batch_size, rng=gen, kernels=k)
        preds.append(p)
        # the engine may fail to resolve an edge (ConvergenceError): record NaN, do not stop the study
        law = conditional_fim_law(act, sw, sigma_b2, int(L), input_ratio=dim / N)
        cond_m.append(2.0 / (N * float(law.moments(1)[0])))
        for out, q in ((cond, None), (cond_in, q_in)):
            try:
                lq = law if q is None else conditional_fim_law(act, sw, sigma_b2, int(L), q_input=q,
                                                                input_ratio=dim / N)
                out.append(2.0 / (N * lq.compressed_top_edge(min(C / N, 1.0))))
            except (ArithmeticError, RuntimeError, ValueError):
                out.append(float("nan"))
        ms.append(sgd_mean_square_threshold(k.ntk, batch_size) if T <= 1000 else float("nan"))
        out_cov = k.nngp[-1]          # covariance of the outputs at initialisation
        ov.append(batch_overshoot_threshold(k.ntk, out_cov, Y, batch_size, rng=gen))
    seeds = gen.integers(0, 2 ** 31, size=(len(depths), int(n_seeds)))

    def job(i, s):
        L = int(depths[i])
        net = MLP([X.shape[1]] + [N] * (L - 1) + [C], act, sw, sigma_b2, weights=law_w, rng=int(seeds[i, s]))
        p = preds[i]
        guess = p.online_median if batch_size == 1 else p.batch
        on = measure_sgd_boundary(net, X, Y, batch_size, criterion="onset", eta_range=(guess / 3, guess * 3),
                                  steps=steps, n_bisect=n_bisect, rng=int(seeds[i, s]) + 1)
        fa = float("nan")
        if failure:
            fa = measure_sgd_boundary(net, X, Y, batch_size, criterion="failure",
                                      eta_range=(guess / 2, max(guess, p.readout_online) * 4),
                                      epochs=failure_epochs, n_bisect=n_bisect, rng=int(seeds[i, s]) + 2)
        return on, fa

    tasks = [(i, s) for i in range(len(depths)) for s in range(int(n_seeds))]
    it = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(job)(*t) for t in tasks)
    it = progress_bar(it, total=len(tasks), desc=f"{d.name}, {act}: {len(tasks)} boundaries", progress=progress)
    onset = np.empty((len(depths), int(n_seeds)))
    fail = np.empty((len(depths), int(n_seeds)))
    for (i, s), (on, fa) in zip(tasks, it):
        onset[i, s], fail[i, s] = on, fa
    return BoundaryStudy(d.name, str(act), sw, float(sigma_b2), N, T, int(batch_size), depths, onset, fail, preds,
                         np.array(cond), np.array(cond_in), np.array(cond_m), np.array(ms), np.array(ov))
