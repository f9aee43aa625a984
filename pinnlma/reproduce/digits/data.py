"""The sizes of ``pinnlma reproduce digits`` (full, quick, tiny); its data (scikit-learn's 8×8 digits,
split 75/25 by class) and its CNN come from :mod:`pinnlma.learn.digits` (the peer benchmark uses them too)."""

from __future__ import annotations

from dataclasses import dataclass

from ...learn.digits import load_data, make_cnn

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
