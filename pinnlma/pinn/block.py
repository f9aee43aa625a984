"""One named group of residual rows (:class:`Block`): its point groups, per-point data, row function and weight."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from .channels import MultiIndex

__all__ = ["Block"]


@dataclass
class Block:
    """One named group of residual rows: point groups (each (N, dim)), per-point data, a row function."""

    name: str
    fn: Callable[..., Tensor]
    groups: list[Tensor]
    extras: list[dict[str, Tensor]]
    weight: float
    resample: bool
    channels: list[list[MultiIndex]] | None = None

    @property
    def n_rows(self) -> int:
        """Rows of this block (points of each of its groups)."""
        return self.groups[0].shape[0]

    @property
    def scale(self) -> float:
        """√(w/N): the factor on this block's raw residual rows."""
        return math.sqrt(self.weight / self.n_rows)
