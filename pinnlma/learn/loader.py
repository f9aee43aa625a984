"""Seeded in-memory mini-batches whose order any epoch can replay, and whose batch size may change."""
from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["BatchLoader"]


class BatchLoader:
    """Mini-batches of the rows (dim 0) of ``tensors``, e.g. ``BatchLoader(x, y, batch_size=256)``.

    With ``shuffle=True`` epoch e visits the rows in the permutation drawn by a generator seeded with
    ``seed + e`` (the same every time, whatever happened before: resuming at epoch e, batch b replays
    exactly). ``batch_size`` may be changed between epochs (the batch-growth schedule of
    :func:`pinnlma.fit` does). Iterating the loader itself walks the epochs one after another.
    """

    def __init__(self, *tensors: Tensor, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        if not tensors or not all(isinstance(t, Tensor) and t.ndim > 0 for t in tensors):
            raise TypeError("BatchLoader takes one or more tensors with a row dimension, e.g. BatchLoader(x, y, ...)")
        rows = {int(t.shape[0]) for t in tensors}
        if len(rows) != 1:
            raise ValueError(f"all tensors need the same number of rows, got {[tuple(t.shape) for t in tensors]}")
        self.tensors, self.rows = tensors, rows.pop()
        if self.rows == 0:
            raise ValueError("BatchLoader got tensors with no rows")
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.batch_size = batch_size
        self._epoch = 0

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"batch_size must be a whole number >= 1, got {value!r}")
        if self.drop_last and value > self.rows:
            raise ValueError(f"batch_size {value} with drop_last=True leaves no batch of the {self.rows} rows")
        self._batch_size = value

    def order(self, epoch: int) -> Tensor:
        """The row order of ``epoch``."""
        if not self.shuffle:
            return torch.arange(self.rows)
        return torch.randperm(self.rows, generator=torch.Generator().manual_seed(self.seed + int(epoch)))

    def num_batches(self) -> int:
        full, rest = divmod(self.rows, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def batches(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, ...]]:
        """The batches of ``epoch`` from batch number ``start`` on."""
        order = self.order(epoch)
        for b in range(start, self.num_batches()):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield tuple(t[idx] for t in self.tensors)

    def __len__(self) -> int:
        return self.num_batches()

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        epoch, self._epoch = self._epoch, self._epoch + 1
        return self.batches(epoch)
