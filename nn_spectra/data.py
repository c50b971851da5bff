r"""Real datasets for the Fisher-spectrum and learning-rate experiments, read locally, never downloaded.

* :func:`load_dataset` — the datasets that ship inside scikit-learn (``"digits"``: 1,797 images of
  8×8 pixels, 10 classes; ``"wine"``: 178×13, 3 classes; ``"breast_cancer"``: 569×30, 2 classes;
  ``"iris"``: 150×4, 3 classes);
* :func:`read_idx` and :func:`load_fashion_mnist` — the IDX files of (Fashion-)MNIST from a local
  directory (``train-images-idx3-ubyte`` etc., optionally ``.gz``).

Conventions: features are standardised column by column (mean 0, standard deviation 1 over the whole
dataset; constant columns are left at 0), so :math:`\|x\|^2/d \approx 1` and the mean-field input length
is :math:`\hat q^0 \approx 1`.  Targets are one-hot rows (``targets="onehot"``, :math:`C` = number of
classes) or the standardised class index (``targets="scalar"``, :math:`C = 1`).

:func:`check_inputs` and :func:`check_batch_size` are the validators every data-driven function of
:mod:`nn_spectra` uses: NaN/inf, an empty dataset, a wrong input dimension and a batch larger than the
dataset raise ``ValueError`` naming the parameter.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "load_dataset", "read_idx", "load_fashion_mnist", "check_inputs", "check_batch_size",
           "SKLEARN_DATASETS"]

#: datasets shipped with scikit-learn that :func:`load_dataset` reads (no network access)
SKLEARN_DATASETS = ("digits", "wine", "breast_cancer", "iris")


@dataclass(frozen=True)
class Dataset:
    """Inputs ``X`` (T, d), targets ``Y`` (T, C) and integer ``labels`` (T,), with the dataset's ``name``."""

    X: np.ndarray
    Y: np.ndarray
    labels: np.ndarray
    name: str

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.Y.shape[1])


def check_inputs(X, name: str = "X", input_dim: int | None = None) -> np.ndarray:
    """``X`` as a float (T, d) array with T >= 1, finite entries and, if given, ``d == input_dim``.

    >>> check_inputs([[1.0, 2.0]]).shape
    (1, 2)
    """
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape (T, d)") from None
    if A.ndim != 2:
        raise ValueError(f"{name} must have shape (T, d), got shape {A.shape}")
    if A.shape[0] < 1:
        raise ValueError(f"{name} must contain at least one input (T >= 1), got T = 0")
    if A.shape[1] < 1:
        raise ValueError(f"{name} must have input dimension d >= 1, got shape {A.shape}")
    if input_dim is not None and A.shape[1] != int(input_dim):
        raise ValueError(f"{name} has input dimension {A.shape[1]}, the network expects {int(input_dim)}")
    bad = ~np.isfinite(A)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{name} must be finite (no NaN/inf); found {A[r, c]} at row {r}, column {c}")
    return A


def check_batch_size(batch_size, n_samples: int) -> int:
    """``batch_size`` as an int in [1, n_samples] (else ``ValueError``)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size must be an integer in [1, {n_samples}], got {batch_size!r}")
    if not 1 <= int(batch_size) <= int(n_samples):
        raise ValueError(f"batch_size must lie in [1, T = {n_samples}], got {batch_size}")
    return int(batch_size)


def _standardise(X: np.ndarray) -> np.ndarray:
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)  # a constant column (digits has some) stays at 0
    return (X - mu) / sd


def _targets(labels: np.ndarray, targets: str, n_classes: int) -> np.ndarray:
    if targets == "onehot":
        Y = np.zeros((len(labels), n_classes))
        Y[np.arange(len(labels)), labels] = 1.0
        return Y
    if targets == "scalar":
        y = labels.astype(float)
        s = y.std()
        return ((y - y.mean()) / (s if s > 0 else 1.0))[:, None]
    raise ValueError(f"targets must be 'onehot' or 'scalar', got {targets!r}")


def _subsample(X, labels, n_samples, rng):
    if n_samples is None:
        return X, labels
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or not 1 <= n_samples <= len(X):
        raise ValueError(f"n_samples must be an integer in [1, {len(X)}], got {n_samples!r}")
    idx = np.random.default_rng(rng).choice(len(X), size=int(n_samples), replace=False)
    return X[idx], labels[idx]


def load_dataset(name: str = "digits", n_samples: int | None = None, *, targets: str = "onehot",
                 standardise: bool = True, rng=None) -> Dataset:
    """A dataset shipped with scikit-learn (no download), standardised, optionally subsampled.

    Parameters
    ----------
    name : {"digits", "wine", "breast_cancer", "iris"}
    n_samples : int, optional
        Draw this many rows without replacement (all rows by default).
    targets : {"onehot", "scalar"}
    standardise : bool
        Standardise the columns over the full dataset before subsampling.
    rng : int or numpy.random.Generator, optional

    Examples
    --------
    >>> d = load_dataset("wine", 50, rng=0)
    >>> d.X.shape, d.Y.shape
    ((50, 13), (50, 3))
    """
    if name not in SKLEARN_DATASETS:
        raise ValueError(f"name must be one of {', '.join(SKLEARN_DATASETS)}, got {name!r}")
    try:
        from sklearn import datasets
    except ImportError as exc:  # pragma: no cover
        raise ImportError("load_dataset needs scikit-learn: pip install 'freeprob[data]'") from exc
    X, labels = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = X.astype(float)
    if standardise:
        X = _standardise(X)
    labels = np.asarray(labels, dtype=int)
    n_classes = int(labels.max()) + 1
    X, labels = _subsample(X, labels, n_samples, rng)
    return Dataset(X, _targets(labels, targets, n_classes), labels, name)


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read one IDX file (the (Fashion-)MNIST format; gzip-compressed if the name ends in ``.gz``).

    Format: two zero bytes, a type byte (0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian uint32,
    then the data in C order.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path!r} (nothing is downloaded; give a local path)")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number)")
    dtype, ndim = raw[2], raw[3]
    if dtype not in _IDX_TYPES:
        raise ValueError(f"{path!r}: unknown IDX data type 0x{dtype:02x}")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{path!r}: truncated IDX header")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dt = np.dtype(_IDX_TYPES[dtype])
    n = int(np.prod(shape)) if shape else 1
    if len(raw) - head != n * dt.itemsize:
        raise ValueError(f"{path!r}: header announces shape {shape} ({n * dt.itemsize} bytes of data), "
                         f"file holds {len(raw) - head}")
    return np.frombuffer(raw, dtype=dt, count=n, offset=head).reshape(shape).astype(dt.newbyteorder("="))


def _find(directory, stem):
    for cand in (stem, stem + ".gz"):
        p = os.path.join(directory, cand)
        if os.path.isfile(p):
            return p
    raise FileNotFoundError(f"no {stem}[.gz] in {directory!r} (nothing is downloaded; place the IDX files there)")


def load_fashion_mnist(path, kind: str = "train", n_samples: int | None = None, *, targets: str = "onehot",
                       standardise: bool = True, rng=None) -> Dataset:
    """Fashion-MNIST (or MNIST) from the standard IDX files in the local directory ``path``.

    Reads ``{kind}-images-idx3-ubyte[.gz]`` and ``{kind}-labels-idx1-ubyte[.gz]`` (``kind`` is
    ``"train"`` or ``"t10k"``); images are flattened to 784 features, scaled to [0, 1] and
    standardised column by column if ``standardise``.  Never downloads.
    """
    if kind not in ("train", "t10k"):
        raise ValueError(f"kind must be 'train' or 't10k', got {kind!r}")
    if not os.path.isdir(os.fspath(path)):
        raise FileNotFoundError(f"directory not found: {os.fspath(path)!r} (nothing is downloaded)")
    images = read_idx(_find(path, f"{kind}-images-idx3-ubyte"))
    labels = read_idx(_find(path, f"{kind}-labels-idx1-ubyte")).astype(int)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"images {images.shape} and labels {labels.shape} do not match (expected (n, rows, cols) and (n,))")
    X = images.reshape(len(images), -1).astype(float) / 255.0
    if standardise:
        X = _standardise(X)
    X, labels = _subsample(X, labels, n_samples, rng)
    return Dataset(X, _targets(labels, targets, 10), labels, "fashion_mnist")
