"""The batch-growth schedule: a larger batch once training on the current one stalls.

The cuPyLMA MNIST benchmarks (wang-xianghao/cupylma-benchmarks, ``mnist_adaptive``: batches from 256
up to 8192) grow the batch as LM training stalls; with small batches LM's steps fit each batch but
not the whole set, and a larger batch makes the Gauss–Newton model of the batch a better model of the
whole loss. The rule here, applied after every epoch:

- the epoch *stalls* when its training loss improved on the best epoch loss at this batch size by a
  relative amount below ``min_improvement`` ((best − loss) / best < min_improvement), or when a step of
  the epoch could not lower its batch's loss at any damping (LM's damping ceiling);
- after ``patience`` stalled epochs in a row the batch size is multiplied by ``factor`` (at most
  ``max_size``), and the best loss is forgotten (the first epoch at a new size never stalls).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchGrowth"]


@dataclass
class BatchGrowth:
    """Grow the batch ``factor``-fold, up to ``max_size``, after ``patience`` stalled epochs."""

    max_size: int
    factor: int = 2
    min_improvement: float = 0.01
    patience: int = 1
    best: float = field(default=math.inf, repr=False)
    stalled: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.max_size, int) or self.max_size < 1:
            raise ValueError(f"max_size must be a whole number >= 1, got {self.max_size!r}")
        if not isinstance(self.factor, int) or self.factor < 2:
            raise ValueError(f"factor must be a whole number >= 2, got {self.factor!r}")
        if not 0 <= self.min_improvement < 1:
            raise ValueError(f"min_improvement must be in [0, 1), got {self.min_improvement}")
        if not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"patience must be a whole number >= 1, got {self.patience!r}")

    def after_epoch(self, batch_size: int, loss: float, hit_ceiling: bool = False) -> int:
        """The batch size for the next epoch, given this epoch's training loss."""
        improved = (self.best - loss) >= self.min_improvement * self.best
        stalled = hit_ceiling or (math.isfinite(self.best) and not improved)
        self.best = min(self.best, loss)
        self.stalled = self.stalled + 1 if stalled else 0
        if self.stalled >= self.patience and batch_size < self.max_size:
            self.best, self.stalled = math.inf, 0
            return min(self.max_size, batch_size * self.factor)
        return batch_size

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "stalled": self.stalled}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.stalled = float(state["best"]), int(state["stalled"])
