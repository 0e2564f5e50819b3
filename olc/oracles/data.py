"""Real data, offline: scikit-learn's handwritten digits and small torch models for them.

``load_digits`` ships with scikit-learn (1797 real 8×8 grey-scale images, 10 classes), so nothing is downloaded. It
stands in, at a size that runs in seconds, for the MNIST MLP workload of ``nonconvex-meta-optimization`` Sec. 4 / App.
E.2 (a 784-100-100-10 ReLU MLP); :func:`digits_mlp` is the same architecture scaled to 64 inputs.

scikit-learn and torch are imported inside the functions only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_rng, as_shape, in_range, positive_int
from ..errors import BackendUnavailableError, InvalidArgumentError

__all__ = ["DigitsData", "load_digits_dataset", "digits_mlp", "digits_cnn", "digits_oracle"]


@dataclass(frozen=True)
class DigitsData:
    """A seeded train/test split of the digits, standardised with the training statistics.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        ``(n, 64)`` float arrays (flattened 8×8 images, row-major) and integer labels in ``0..9``.
    mean, std : ndarray
        The per-pixel training statistics used.
    n_classes : int
    image_shape : tuple of int
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    n_classes: int = 10
    image_shape: tuple = (8, 8)


def load_digits_dataset(test_fraction: float = 0.25, seed=0, *, standardize: bool = True,
                        classes=None, dtype=np.float64) -> DigitsData:
    """Load scikit-learn's digits, split them with a seeded, stratified permutation.

    Parameters
    ----------
    test_fraction : float in [0, 1)
        Share of each class put in the test set.
    seed : int or numpy Generator
        Fixes the split (same seed, same split).
    standardize : bool
        Subtract the training mean and divide by the training std per pixel (pixels that
        are constant on the training set are only centred).
    classes : sequence of int, optional
        Keep only these digits, relabelled ``0..len(classes)-1`` in the given order (e.g. ``(0, 1)`` gives a
        binary problem for :class:`~olc.oracles.LogisticOracle`).
    dtype : numpy dtype
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendUnavailableError("load_digits_dataset needs scikit-learn: "
                                      "pip install 'olc[data]'") from exc
    test_fraction = in_range(test_fraction, "test_fraction", 0.0, 1.0, hi_open=True)
    rng = as_rng(seed)
    digits = load_digits()
    X, y = digits.data.astype(np.float64), digits.target.astype(np.int64)
    if classes is not None:
        classes = [int(c) for c in classes]
        if len(set(classes)) < 2 or not set(classes) <= set(range(10)):
            raise InvalidArgumentError(f"classes: expected at least two distinct digits in 0..9, "
                                       f"got {classes!r}")
        keep = np.isin(y, classes)
        X, y = X[keep], np.array([classes.index(int(c)) for c in y[keep]], dtype=np.int64)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(test_fraction * len(idx)))
        test.append(idx[:k])
        train.append(idx[k:])
    train, test = np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
    mean = X[train].mean(axis=0) if standardize else np.zeros(X.shape[1])
    std = X[train].std(axis=0) if standardize else np.ones(X.shape[1])
    std = np.where(std > 1e-12, std, 1.0)
    Xs = ((X - mean) / std).astype(dtype)
    return DigitsData(Xs[train], y[train], Xs[test], y[test], mean, std, n_classes=int(len(np.unique(y))))


def _seeded(seed, build):
    """Build a torch module under a private RNG state (global torch RNG left untouched)."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover
        raise BackendUnavailableError("digits models need PyTorch: pip install 'olc[torch]'") from exc
    seed = int(as_rng(seed).integers(2**31 - 1)) if not isinstance(seed, (int, np.integer)) else int(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(torch.nn)


def digits_mlp(hidden=(32,), n_classes: int = 10, in_dim: int = 64, seed=0):
    """A ReLU MLP ``in_dim → hidden... → n_classes`` (float64), seeded initialisation.

    The paper's MNIST model (App. E.2) is ``784 → 100 → 100 → 10``; ``hidden=(100, 100)``
    gives the same architecture on 64 inputs.

    Parameters
    ----------
    hidden : int or sequence of int
        Layer widths (``()`` for a linear model).
    n_classes, in_dim : int
    seed : int
    """
    sizes = [positive_int(in_dim, "in_dim"), *as_shape(hidden, "hidden"), positive_int(n_classes, "n_classes")]

    def build(nn):
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers).double()

    return _seeded(seed, build)


def digits_cnn(channels=(8, 16), n_classes: int = 10, seed=0, in_channels: int = 1, hidden=()):
    """A small CNN for flat ``in_channels·64``-vectors of 8×8 images (channel-major).

    Two (3×3 conv, ReLU, 2×2 max-pool) blocks, optional ReLU dense layers, and a linear read-out
    (float64, seeded initialisation). ``channels=(8, 16), hidden=(128,)`` has 10,858 parameters;
    ``channels=(16, 32), hidden=(768,)`` 111,562.

    Parameters
    ----------
    channels : tuple of int
    n_classes : int
    seed : int
    in_channels : int
        3 for the RGB rainbow digits.
    hidden : tuple of int
        Widths of the dense layers.
    """
    channels = as_shape(channels, "channels")
    in_channels = positive_int(in_channels, "in_channels")
    if len(channels) != 2:
        raise InvalidArgumentError(f"channels: expected 2 integers >= 1, got {channels}")
    c1, c2 = channels
    hidden = as_shape(hidden, "hidden") if hidden not in ((), None) else ()
    n_classes = positive_int(n_classes, "n_classes")

    def build(nn):
        widths = [c2 * 4, *hidden]
        dense = []
        for a, b in zip(widths[:-1], widths[1:]):
            dense += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(
            nn.Unflatten(1, (in_channels, 8, 8)),
            nn.Conv2d(in_channels, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), *dense, nn.Linear(widths[-1], n_classes),
        ).double()

    return _seeded(seed, build)


def digits_oracle(model: str = "mlp", *, batch_size: int | None = None, seed=0,
                  data: DigitsData | None = None, dtype=None, device=None, **model_kwargs):
    """A :class:`~olc.oracles.TorchOracle` (cross-entropy) on the digits training set.

    Returns ``(oracle, data)``; ``oracle.x0()`` is the initial parameter vector.

    Parameters
    ----------
    model : {"mlp", "cnn"}
        :func:`digits_mlp` or :func:`digits_cnn` (``**model_kwargs`` go to it).
    batch_size : int, optional
    seed : int
        Fixes the split and the initialisation.
    data : DigitsData, optional
    dtype, device : optional
        As in :class:`~olc.oracles.TorchOracle`.
    """
    import torch

    from .torch_adapter import TorchOracle

    data = load_digits_dataset(seed=seed) if data is None else data
    builders = {"mlp": digits_mlp, "cnn": digits_cnn}
    if model not in builders:
        raise InvalidArgumentError(f"model: expected one of {sorted(builders)}, got {model!r}")
    module = builders[model](n_classes=data.n_classes, seed=seed, **model_kwargs)
    oracle = TorchOracle(module, torch.nn.CrossEntropyLoss(), data.X_train, data.y_train,
                         batch_size=batch_size, dtype=dtype, device=device, name=f"digits-{model}")
    return oracle, data
