"""The sizes of ``pinnlma reproduce digits`` (full, quick, tiny), its data (scikit-learn's 8×8 digits,
split 75/25 by class) and its CNN."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["SIZES", "DigitsSize", "load_data", "make_cnn"]


@dataclass(frozen=True)
class DigitsSize:
    """One size of the digits experiments: seeds, epochs per optimizer, batch sizes, and the Jacobian timings."""

    name: str
    seeds: tuple[int, ...]
    epochs: dict[str, int]  # per optimizer
    lm_batch: int = 256
    growth_start: int = 64
    adam_batch: int = 64
    adam_lr: float = 3e-3
    jacobian_batches: tuple[int, ...] = (64, 256, 1024)
    jacobian_repeats: int = 5
    train_rows: int | None = None  # a subset of the training images (tests)


SIZES = {
    "full": DigitsSize("full", (0, 1, 2), {"lm": 20, "lm_nielsen": 20, "lm_growth": 20, "tlm": 20, "adam": 60}),
    "quick": DigitsSize(
        "quick",
        (0,),
        {"lm": 8, "lm_nielsen": 8, "lm_growth": 8, "tlm": 8, "adam": 25},
        jacobian_batches=(64, 256),
        jacobian_repeats=3,
    ),
    "tiny": DigitsSize(
        "tiny",
        (0,),
        {"lm": 2, "lm_nielsen": 2, "lm_growth": 2, "tlm": 2, "adam": 3},
        lm_batch=64,
        growth_start=32,
        jacobian_batches=(32,),
        jacobian_repeats=1,
        train_rows=256,
    ),
}


def load_data(seed: int = 0, train_rows: int | None = None) -> dict[str, Tensor]:
    """The digits as float64 images (N, 1, 8, 8) in [0, 1] and class labels, split 75/25 by class."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ValueError(
            "pinnlma reproduce digits needs scikit-learn (its bundled digits data set): pip install scikit-learn"
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
