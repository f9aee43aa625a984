"""Which process of a multi-rank launch this is, which Jacobian rows it owns, and who writes files.

Under ``legate --nodes M`` (or ``mpirun``/``srun``) the same program runs as M ranks. Two rules keep
them from repeating each other's work and trampling each other's files:

- **rows**: rank k of M owns the contiguous rows :func:`owned_rows` of the m residual rows: tiles of
  t = ⌈m/M⌉ rows, rank k the k-th (the last may be shorter, and with m < M some are empty). Equal
  tiles are what ``legate.core.Runtime.create_store_from_tiles`` assembles into one distributed store
  from per-rank allocations. :func:`owned_tasks` cuts a list of per-block row counts along those
  bounds, so a rank computes (and attaches) only its rows;
- **files**: only rank 0 writes (:func:`is_writer`): run files, checkpoints, figures;
- **one-process commands**: benchmarks, validation suites and reproductions time or compare work in one
  process and refuse a multi-rank launch (:func:`require_one_process`).

The rank and the number of ranks come from the launcher's environment: Legate's peer-to-peer bootstrap
(:data:`PEER_VARIABLES`, set for each worker by ``legate --launcher dask``), else :data:`RANK_VARIABLES`
(the MPI and Slurm variables Legate's own launcher reads, with their size counterparts); a plain single
process is rank 0 of 1.

:class:`RowPartition` is the hook that carries both to the code that computes rows and to the code that
decides from them: which rows this process computes (:meth:`RowPartition.tasks`) and the sum over all
processes of per-process partials (:meth:`RowPartition.allreduce`: ‖r_k‖², J_kᵀr_k, J_kᵀJ_k), so that
every rank takes the same decision. :data:`SINGLE_PROCESS` is the identity; a multi-rank partition needs
a cross-process sum (the cupynumeric backend gives one through Legate,
``pinnlma.backends.legate.partition``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "PEER_VARIABLES",
    "RANK_VARIABLES",
    "SINGLE_PROCESS",
    "RowPartition",
    "is_writer",
    "owned_rows",
    "owned_tasks",
    "process_rank",
    "require_one_process",
]

RANK_VARIABLES = (
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("PMI_RANK", "PMI_SIZE"),
    ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
    ("SLURM_PROCID", "SLURM_NTASKS"),
)
"""(rank, size) environment variables of the launchers Legate uses (Open MPI, PMI, MVAPICH2, Slurm),
in the order they are trusted."""


PEER_VARIABLES = ("WORKER_SELF_INFO", "WORKER_PEERS_INFO")
"""Legate's peer-to-peer (UCX) bootstrap, ``legate.bootstrap.ucp_setup_peer``, which its dask launcher
calls for every worker: this worker's ``ip:port`` and the space-separated list of all of them. The rank
is the place of the first in the second, as Legate's ``legate-bind.sh`` reads it. These are trusted
before :data:`RANK_VARIABLES`: a dask launch inside a one-task Slurm job also has ``SLURM_PROCID=0``."""


def process_rank(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(rank, ranks) of this process: from Legate's peer bootstrap (:data:`PEER_VARIABLES`), else the
    first launcher variable pair of :data:`RANK_VARIABLES` that is set, else (0, 1).

    Raises ValueError for values that are not integers, a rank outside 0..ranks-1, or a peer address
    missing from the peer list (a broken launch environment should stop the run before M processes write
    the same file)."""
    env = os.environ if environ is None else environ
    self_name, peers_name = PEER_VARIABLES
    if peers_name in env:
        peers = env[peers_name].split()
        me = env.get(self_name)
        if me not in peers:
            raise ValueError(f"{self_name}={me!r} is not one of {peers_name}={env[peers_name]!r}")
        return peers.index(me), len(peers)
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


def require_one_process(command: str, environ: Mapping[str, str] | None = None) -> None:
    """ValueError under a launch of several ranks: ``command`` (a benchmark, a validation suite, a
    reproduction) times or compares work in one process, and M ranks would each repeat all of it. Only
    ``pinnlma run`` shares its rows among ranks."""
    rank, ranks = process_rank(environ)
    if ranks > 1:
        raise ValueError(
            f"{command} runs in one process, and this is rank {rank} of a launch of {ranks}: every rank would "
            "repeat the whole of it; launch it without legate --nodes/--ranks-per-node/mpirun/srun (only `pinnlma run` shares "
            "its residual rows among ranks)"
        )


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


Reduce = Callable[["Tensor"], "Tensor"]
"""``reduce(partial) -> total``: the elementwise sum over all ranks of one same-shaped tensor per rank
(a 0-d scalar, an n-vector, an n×n matrix), returned on every rank (and on ``partial``'s device), each
rank getting the same numbers. Every rank must call it, in the same order (a collective)."""


class RowPartition:
    """Rank ``rank`` of ``ranks`` processes that share the m residual rows: the rows this process computes
    and the sum of per-process partials over all of them.

    ``reduce`` (:data:`Reduce`) is the cross-process sum; it is needed, and used, only with ``ranks`` > 1
    (ValueError without one: M ranks that cannot add up their partials would each take their own LM
    decisions). ValueError too for a rank outside 0..ranks-1."""

    def __init__(self, rank: int = 0, ranks: int = 1, reduce: Reduce | None = None) -> None:
        if ranks < 1 or not 0 <= rank < ranks:
            raise ValueError(f"need 0 <= rank < ranks; got rank={rank}, ranks={ranks}")
        if ranks > 1 and reduce is None:
            raise ValueError(
                f"a partition of {ranks} ranks needs a cross-process sum of the partials (reduce); the "
                "cupynumeric backend provides one (pinnlma.backends.legate.partition.legate_partition)"
            )
        self.rank, self.ranks, self._reduce = rank, ranks, reduce

    @classmethod
    def from_environment(cls, reduce: Reduce | None = None, environ: Mapping[str, str] | None = None) -> RowPartition:
        """The partition of this launch (:func:`process_rank`) with the cross-process sum ``reduce``."""
        rank, ranks = process_rank(environ)
        return cls(rank, ranks, reduce)

    @property
    def split(self) -> bool:
        """Whether the rows are shared among several processes (each computes only its own)."""
        return self.ranks > 1

    def rows(self, m: int) -> range:
        """The rows of m this process computes (:func:`owned_rows`)."""
        return owned_rows(m, self.rank, self.ranks)

    def tasks(self, block_rows: Sequence[int], step: int) -> list[tuple[int, slice]]:
        """This process's (block index, rows in the block) slices of at most ``step`` rows (:func:`owned_tasks`)."""
        return owned_tasks(block_rows, self.rank, self.ranks, step)

    def allreduce(self, partial: Tensor) -> Tensor:
        """Σ over ranks of ``partial`` (this rank's share), the same on every rank; ``partial`` itself in
        one process. A collective: every rank calls it, in the same order."""
        if self._reduce is None:
            return partial
        return self._reduce(partial)


SINGLE_PROCESS = RowPartition()
"""One process computing every row; its :meth:`~RowPartition.allreduce` is the identity."""
