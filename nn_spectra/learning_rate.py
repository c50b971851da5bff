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

__all__ = ["max_learning_rate", "digits_data", "train_gd", "LearningRateGrid", "learning_rate_experiment"]


def max_learning_rate(act, sigma_w2: float, sigma_b2: float, depth: int, width: int, n_samples: int,
                      n_outputs: int = 1, *, input_dim: int | None = None, q_input: float = 1.0,
                      c_input: float = 0.0, source: str = "fim") -> float:
    r""":math:`2/\lambda_{\max}` from the Karakida statistics (``source="fim"``) or from the conditional
    FIM of one input (``source="conditional"``, orthogonal weights: :math:`\lambda_{\max} \le N\cdot`
    the top of the hull of :func:`conditional_fim_law`, so this is a lower bound of the stable rate for
    online learning with one example per step).

    >>> eta = max_learning_rate("relu", 2.0, 0.0, depth=4, width=200, n_samples=50)
    >>> eta2 = max_learning_rate("relu", 2.0, 0.0, depth=7, width=200, n_samples=50)
    >>> 1.8 < eta / eta2 < 2.2    # alpha = L - 1: 3 versus 6
    True
    """
    if source == "fim":
        from .fisher import fim_statistics

        s = fim_statistics(act, sigma_w2, sigma_b2, depth, width, n_samples, n_outputs,
                           input_dim=input_dim, q_input=q_input, c_input=c_input)
        return 2.0 / s.lambda_max
    if source == "conditional":
        from .conditional_fim import conditional_fim_law

        law = conditional_fim_law(act, sigma_w2, sigma_b2, depth)
        return 2.0 / (width * law.support[1])
    raise ValueError(f"source must be 'fim' or 'conditional', got {source!r}")


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
        net0 = MLP(widths, act, sigma_w2, sigma_b2, init="gaussian", rng=int(seeds[i]))
        lam_meas[i] = np.linalg.eigvalsh(net0.empirical_ntk(X, parameterization="standard") / T)[-1]
        lam_ref = lam_pred[i] if reference == "predicted" else lam_meas[i]
        for j, cj in enumerate(cs):
            net = MLP(widths, act, sigma_w2, sigma_b2, init="gaussian", rng=int(seeds[i]))  # same init
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
