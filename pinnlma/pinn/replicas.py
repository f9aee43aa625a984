"""Jacobian slices on several torch devices at once: a copy of the model and the points on each.

:class:`Replica` holds one device's copies (refreshed after a resampling); :func:`replicated_slices`
deals the slices of one Jacobian round-robin to the replicas, each in its own thread (torch releases the
GIL in its kernels, and CUDA devices run concurrently), and yields them in row order on the primary device.

Copies between devices are asynchronous: ``tensor.to(device, non_blocking=True)`` from a CUDA device
returns before the bytes have arrived (into pinned host memory, or another GPU). :func:`start_copy`
therefore returns the destination tensor *and* a ``ready`` callable that blocks until the copy is
complete (a CUDA event recorded after the copy on each CUDA device involved), and
:func:`replicated_slices` calls it before a slice is handed on: no consumer (the packed normal matrix,
a Legate attach, a ``torch.cat``) ever reads rows still in flight.

:func:`replicated_partials` keeps the rows where they were made: each replica accumulates its own
A_d = J_dᵀJ_d (a symmetric rank-k update per slice, on its device) and g_d = J_dᵀr_d, and only these
n×n + n numbers per device travel to the primary device, once per Jacobian (instead of every slice of
J: m·n numbers). Memory: one n×n matrix per device.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor, nn

from ..backends.torch.linalg import rank_k_update, symmetrize_lower
from .block import Block

__all__ = ["Replica", "Transfer", "accumulate_partial", "replicated_partials", "replicated_slices", "start_copy"]

Transfer = Callable[[Tensor, torch.device], tuple[Tensor, Callable[[], None]]]
"""``transfer(tensor, device) -> (copy, ready)``: start copying ``tensor`` to ``device``; ``copy`` may
still be being written until ``ready()`` returns (``ready`` blocks, may be called from any thread)."""


def _no_wait() -> None:
    return None


def start_copy(tensor: Tensor, device: torch.device) -> tuple[Tensor, Callable[[], None]]:
    """The default :data:`Transfer`: ``tensor.to(device, non_blocking=True)`` and a ``ready`` that waits
    for it.

    torch issues a CUDA copy on the current stream of the CUDA device(s) involved (the source device
    for device → host and device → device, the destination for host → device); an event recorded on
    each of those streams right after the copy is complete exactly when the copy (and the kernels that
    produced ``tensor``) are, so ``ready()`` synchronises only those events, not whole devices. Between
    CPU tensors the copy is synchronous and ``ready`` does nothing."""
    device = torch.device(device)
    if tensor.device == device:
        return tensor, _no_wait
    out = tensor.to(device, non_blocking=True)
    cuda_devices = {d for d in (tensor.device, out.device) if d.type == "cuda"}
    if not cuda_devices:
        return out, _no_wait
    events = []
    for d in cuda_devices:
        event = torch.cuda.Event()
        event.record(torch.cuda.current_stream(d))
        events.append(event)

    def ready() -> None:
        for event in events:
            event.synchronize()

    return out, ready


class Replica:
    """A copy of the model and of the blocks' points on one device, for computing Jacobian slices there."""

    def __init__(self, device: torch.device, model: nn.Module) -> None:
        self.device = device
        self.source = model
        self.model = copy.deepcopy(model).to(device)
        self._blocks: dict[int, Block] = {}

    def clear(self) -> None:
        """Forget the cached blocks (after a resampling)."""
        self._blocks.clear()

    def block(self, block: Block) -> Block:
        """The block with its points and data on this device (cached until the next resampling).
        Blocking copies (``Tensor.to`` without ``non_blocking``): the points are complete on return."""
        key = id(block)
        if key not in self._blocks:
            self._blocks[key] = dataclasses.replace(
                block,
                groups=[g.to(self.device) for g in block.groups],
                extras=[{k: v.to(self.device) for k, v in e.items()} for e in block.extras],
                row_weight=None if block.row_weight is None else block.row_weight.to(self.device),
            )
        return self._blocks[key]


def _move_pair(a: Tensor, b: Tensor, device: torch.device, transfer: Transfer) -> tuple[Tensor, Tensor]:
    """Start both copies to ``device``, then wait for both (so they overlap, and neither is used early)."""
    a_out, a_ready = transfer(a, device)
    b_out, b_ready = transfer(b, device)
    a_ready()
    b_ready()
    return a_out, b_out


def replicated_slices(
    replicas: Sequence[Replica],
    tasks: list[tuple[Block, slice]],
    theta: Tensor,
    jac_fn: Callable[..., tuple[Tensor, Tensor]],
    device: torch.device,
    transfer: Transfer = start_copy,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Deal the slices round-robin to the device replicas, each in its own thread (torch releases
    the GIL in its kernels, and CUDA devices run concurrently); yield them in row order on the
    primary device. At most one slice per replica is in flight beyond the one being consumed.

    ``transfer`` (default :func:`start_copy`) moves each (r_s, J_s) to ``device``; its ``ready`` is
    waited for in the replica's thread, so a slice is complete before it is yielded, while the other
    replicas keep computing."""
    thetas = [theta.detach().to(r.device) for r in replicas]

    def work(k: int) -> tuple[Tensor, Tensor]:
        block, rows = tasks[k]
        i = k % len(replicas)
        replica = replicas[i]
        r, jac = jac_fn(replica.block(block), rows, thetas[i], replica.model)
        return _move_pair(r, jac, device, transfer)

    with ThreadPoolExecutor(max_workers=len(replicas)) as pool:
        pending = [pool.submit(work, k) for k in range(min(len(tasks), len(replicas)))]
        for k in range(len(tasks)):
            result = pending[k].result()
            nxt = k + len(replicas)
            if nxt < len(tasks):
                pending.append(pool.submit(work, nxt))
            yield result


def replicated_partials(
    replicas: Sequence[Replica],
    tasks: list[tuple[Block, slice]],
    theta: Tensor,
    jac_fn: Callable[..., tuple[Tensor, Tensor]],
    device: torch.device,
    transfer: Transfer = start_copy,
) -> list[tuple[Tensor, Tensor, int]]:
    """Partial normal equations ``(A_d, g_d, m_d)``, one per replica that got rows, on ``device``.

    Replica d computes the slices k ≡ d (mod replicas) in its own thread and sums them on its device:
    A_d += J_sᵀJ_s by :func:`~pinnlma.backends.torch.linalg.rank_k_update` (lower triangle, mirrored once
    at the end), g_d += J_sᵀr_s. A_d and g_d then cross to ``device`` through ``transfer`` (waited for).
    Σ_d A_d is JᵀJ to rounding (the sums run in another order than one device's)."""
    thetas = [theta.detach().to(r.device) for r in replicas]
    n = int(theta.shape[0])

    def work(i: int) -> tuple[Tensor, Tensor, int] | None:
        replica = replicas[i]
        slices = (
            jac_fn(replica.block(block), part, thetas[i], replica.model) for block, part in tasks[i :: len(replicas)]
        )
        partial = accumulate_partial(slices, n)
        if partial is None:
            return None
        acc_out, g_out = _move_pair(partial[0], partial[1], device, transfer)
        return acc_out, g_out, partial[2]

    with ThreadPoolExecutor(max_workers=len(replicas)) as pool:
        results = list(pool.map(work, range(len(replicas))))
    return [p for p in results if p is not None]


def accumulate_partial(slices: Iterable[tuple[Tensor, Tensor]], n: int) -> tuple[Tensor, Tensor, int] | None:
    """(JᵀJ, Jᵀr, rows) of the slices ``(r_s, J_s)``, on their device: A += J_sᵀJ_s by
    :func:`~pinnlma.backends.torch.linalg.rank_k_update` (lower triangle, mirrored once at the end),
    g += J_sᵀr_s; None for no slices."""
    acc, g, rows = None, None, 0
    for r, jac in slices:
        if acc is None or g is None:
            acc = torch.zeros(n, n, dtype=jac.dtype, device=jac.device)
            g = torch.zeros(n, dtype=jac.dtype, device=jac.device)
        rank_k_update(acc, jac.detach())
        g.addmv_(jac.T, r)
        rows += int(r.shape[0])
    if acc is None or g is None:
        return None
    symmetrize_lower(acc)
    return acc, g, rows
