"""Sums over the ranks of a multi-rank Legate launch, through stores built from per-rank tiles.

Under ``legate --nodes M`` every rank runs the same program (control replication): a cuPyNumeric array
is one array over all ranks, a torch tensor belongs to its process. A partial computed by rank k alone
(its ‖r_k‖², J_kᵀr_k, J_kᵀJ_k) reaches the others as tile k of an M-row store: each rank attaches its
own tile read-only (:func:`~pinnlma.backends.legate.arrays.row_tile_store`, Legate's
``create_store_from_tiles``) and the sum over the rows of that store is a cuPyNumeric reduction, whose
result every rank reads alike. :func:`sum_rank_tiles` does this for tensors of any shape;
:func:`legate_partition` wraps it as the :class:`~pinnlma.ranks.RowPartition` of the launch.

In one process all tiles can be passed at once (what the tests do with pretend ranks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from ...ranks import Reduce, RowPartition, process_rank
from .arrays import row_tile_store, to_torch

__all__ = ["legate_partition", "legate_reduce", "sum_rank_tiles"]


def sum_rank_tiles(np: Any, tiles: list[tuple[int, Tensor]], ranks: int) -> Any:
    """Σ_k T_k as a cuPyNumeric array of the tiles' shape, from ``tiles`` = ``(rank k, T_k)`` of the ranks
    whose partial this process holds (its own under a launch of ``ranks`` ranks; all of them in one
    process): the tiles flattened into the rows of one ``ranks``×size store, summed over its rows.

    ValueError for no tiles or tiles of different shapes."""
    if not tiles:
        raise ValueError("sum_rank_tiles needs at least this rank's partial")
    shape = tuple(tiles[0][1].shape)
    if any(tuple(t.shape) != shape for _, t in tiles):
        raise ValueError(f"the partials of a sum must have one shape; got {[tuple(t.shape) for _, t in tiles]}")
    rows = [(k, t.detach().reshape(1, -1).contiguous()) for k, t in tiles]
    store = row_tile_store(np, ranks, rows, ranks)
    return store.sum(axis=0).reshape(shape)


def legate_reduce(np: Any, rank: int, ranks: int) -> Reduce:
    """The :data:`~pinnlma.ranks.Reduce` of rank ``rank`` of ``ranks``: its partial summed with the other
    ranks' through :func:`sum_rank_tiles`, copied back into a torch tensor on the partial's device."""

    def reduce(partial: Tensor) -> Tensor:
        total = sum_rank_tiles(np, [(rank, partial)], ranks)
        return to_torch(total, partial.device).to(partial.dtype).reshape(partial.shape)

    return reduce


def legate_partition(np: Any, environ: Mapping[str, str] | None = None) -> RowPartition:
    """The row partition of this launch (:func:`~pinnlma.ranks.process_rank`) whose sums go through Legate."""
    rank, ranks = process_rank(environ)
    return RowPartition(rank, ranks, legate_reduce(np, rank, ranks))
