"""scikit-learn's 8×8 digits as float64 tensors, and the small CNN trained on them: the data set of
``pinnlma reproduce digits`` and of the digits case of ``pinnlma bench peer-tlm``.

Data: the UCI optical-recognition digits as shipped in scikit-learn (``sklearn.datasets.load_digits``:
1797 images, 8×8 pixels of 0–16, ten classes; Alpaydin & Kaynak 1998), no download at run time."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["load_data", "make_cnn"]


def load_data(seed: int = 0, train_rows: int | None = None) -> dict[str, Tensor]:
    """The digits as float64 images (N, 1, 8, 8) in [0, 1] and class labels, split 75/25 by class."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ValueError(
            "the digits data set comes from scikit-learn, which is not installed: pip install scikit-learn"
        ) from None
    digits = load_digits()
    images = digits.images.astype(np.float64) / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )
    if train_rows is not None:
        x_tr, y_tr = x_tr[:train_rows], y_tr[:train_rows]
    as_x = lambda a: torch.tensor(a, dtype=torch.float64).unsqueeze(1)  # noqa: E731
    return {"x_train": as_x(x_tr), "y_train": torch.tensor(y_tr), "x_test": as_x(x_te), "y_test": torch.tensor(y_te)}


def make_cnn(seed: int) -> nn.Sequential:
    """The 1898-parameter CNN of this experiment, in float64, initialised from ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 10),
    ).double()
