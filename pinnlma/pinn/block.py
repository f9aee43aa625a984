"""One named group of residual rows (:class:`Block`): its point groups, per-point data, row function and weights."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from .channels import MultiIndex

__all__ = ["Block", "Rows", "checked_rows"]

Rows = slice | Tensor
"""Which rows of a block: a slice, or a 1-D tensor of row indices (a sample of the rows, ``gram_rows``)."""


@dataclass
class Block:
    """One named group of residual rows: point groups (each (N, dim)), per-point data, a row function.

    Row i of the block is ``scale · √w_i · raw_i`` with ``w_i = row_weight[i]`` (per-row weights such as
    the causal weights of :mod:`pinnlma.pinn.causal`), or ``scale · raw_i`` without them."""

    name: str
    fn: Callable[..., Tensor]
    groups: list[Tensor]
    extras: list[dict[str, Tensor]]
    weight: float
    resample: bool
    channels: list[list[MultiIndex]] | None = None
    row_weight: Tensor | None = None

    @property
    def n_rows(self) -> int:
        """Rows of this block (points of each of its groups)."""
        return self.groups[0].shape[0]

    @property
    def scale(self) -> float:
        """√(w/N): the factor on this block's raw residual rows."""
        return math.sqrt(self.weight / self.n_rows)

    def row_factors(self, rows: Tensor, part: Rows) -> Tensor:
        """``rows`` (the rows ``part`` of this block, or their Jacobian rows) times their factors √w_i."""
        if self.row_weight is None:
            return rows
        factors = self.row_weight[part].sqrt()
        return rows * (factors if rows.ndim == 1 else factors.unsqueeze(1))


def checked_rows(raw: Tensor, n: int, name: str) -> Tensor:
    """A residual function's result as (n,) rows; TypeError/ValueError naming block ``name`` otherwise."""
    if not isinstance(raw, Tensor):
        raise TypeError(f"block {name!r}: the residual function returned {type(raw).__name__}, not a tensor")
    raw = raw.reshape(-1) if raw.numel() == n else raw
    if raw.shape != (n,):
        raise ValueError(
            f"block {name!r}: the residual function returned shape {tuple(raw.shape)}, expected ({n},) "
            "(one row per point)"
        )
    return raw
