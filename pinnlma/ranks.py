"""Which process of a multi-rank launch this is, which Jacobian rows it owns, and who writes files.

Under ``legate --nodes M`` (or ``mpirun``/``srun``) the same program runs as M ranks. Two rules keep
them from repeating each other's work and trampling each other's files:

- **rows**: rank k of M owns the contiguous rows :func:`owned_rows` of the m residual rows: tiles of
  t = ⌈m/M⌉ rows, rank k the k-th (the last may be shorter, and with m < M some are empty). Equal
  tiles are what ``legate.core.Runtime.create_store_from_tiles`` assembles into one distributed store
  from per-rank allocations. :func:`owned_tasks` cuts a list of per-block row counts along those
  bounds, so a rank computes (and attaches) only its rows;
- **files**: only rank 0 writes (:func:`is_writer`): run files, checkpoints, figures, benchmark JSON.

The rank and the number of ranks come from the launcher's environment (:data:`RANK_VARIABLES`, the
variables Legate's own launcher reads, with their size counterparts); a plain single process is rank 0
of 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

__all__ = ["RANK_VARIABLES", "is_writer", "owned_rows", "owned_tasks", "process_rank"]

RANK_VARIABLES = (
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("PMI_RANK", "PMI_SIZE"),
    ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
    ("SLURM_PROCID", "SLURM_NTASKS"),
)
"""(rank, size) environment variables of the launchers Legate uses (Open MPI, PMI, MVAPICH2, Slurm),
in the order they are trusted."""


def process_rank(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(rank, ranks) of this process: from the first launcher variable pair that is set, else (0, 1).

    Raises ValueError for values that are not integers or a rank outside 0..ranks-1 (a broken launch
    environment should stop the run before M processes write the same file)."""
    env = os.environ if environ is None else environ
    for rank_name, size_name in RANK_VARIABLES:
        if rank_name not in env:
            continue
        try:
            rank = int(env[rank_name])
            ranks = int(env.get(size_name, str(rank + 1)))
        except ValueError:
            raise ValueError(
                f"{rank_name}={env[rank_name]!r}, {size_name}={env.get(size_name)!r}: not integers"
            ) from None
        if ranks < 1 or not 0 <= rank < ranks:
            raise ValueError(f"{rank_name}={rank} is not a rank of {size_name}={ranks}")
        return rank, ranks
    return 0, 1


def is_writer(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process writes files: rank 0 (every single process is rank 0)."""
    return process_rank(environ)[0] == 0


def owned_rows(m: int, rank: int, ranks: int) -> range:
    """The rows rank ``rank`` of ``ranks`` owns: ``range(k·t, min(m, (k+1)·t))`` with t = ⌈m/M⌉."""
    if m < 0 or ranks < 1 or not 0 <= rank < ranks:
        raise ValueError(f"need m >= 0 and 0 <= rank < ranks; got m={m}, rank={rank}, ranks={ranks}")
    tile = -(-m // ranks)
    return range(min(m, rank * tile), min(m, (rank + 1) * tile))


def owned_tasks(block_rows: Sequence[int], rank: int, ranks: int, step: int) -> list[tuple[int, slice]]:
    """The (block index, rows within the block) slices of at most ``step`` rows that rank ``rank`` computes,
    for blocks of ``block_rows`` rows stacked in order: the blocks cut at the rank's :func:`owned_rows`.

    Over all ranks the slices cover every row exactly once, in order."""
    if step < 1:
        raise ValueError(f"step must be a positive number of rows, got {step}")
    mine = owned_rows(sum(block_rows), rank, ranks)
    tasks, start = [], 0
    for b, rows in enumerate(block_rows):
        lo, hi = max(mine.start, start), min(mine.stop, start + rows)
        for s in range(lo, hi, step):
            tasks.append((b, slice(s - start, min(hi, s + step) - start)))
        start += rows
    return tasks
