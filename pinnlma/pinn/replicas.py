"""Jacobian slices on several torch devices at once: a copy of the model and the points on each.

:class:`Replica` holds one device's copies (refreshed after a resampling); :func:`replicated_slices`
deals the slices of one Jacobian round-robin to the replicas, each in its own thread (torch releases the
GIL in its kernels, and CUDA devices run concurrently), and yields them in row order on the primary device.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor, nn

from .block import Block

__all__ = ["Replica", "replicated_slices"]


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
        """The block with its points and data on this device (cached until the next resampling)."""
        key = id(block)
        if key not in self._blocks:
            self._blocks[key] = dataclasses.replace(
                block,
                groups=[g.to(self.device) for g in block.groups],
                extras=[{k: v.to(self.device) for k, v in e.items()} for e in block.extras],
            )
        return self._blocks[key]


def replicated_slices(
    replicas: Sequence[Replica],
    tasks: list[tuple[Block, slice]],
    theta: Tensor,
    jac_fn: Callable[..., tuple[Tensor, Tensor]],
    device: torch.device,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Deal the slices round-robin to the device replicas, each in its own thread (torch releases
    the GIL in its kernels, and CUDA devices run concurrently); yield them in row order on the
    primary device. At most one slice per replica is in flight beyond the one being consumed."""
    thetas = [theta.detach().to(r.device) for r in replicas]

    def work(k: int) -> tuple[Tensor, Tensor]:
        block, rows = tasks[k]
        i = k % len(replicas)
        replica = replicas[i]
        r, jac = jac_fn(replica.block(block), rows, thetas[i], replica.model)
        return r.to(device, non_blocking=True), jac.to(device, non_blocking=True)

    with ThreadPoolExecutor(max_workers=len(replicas)) as pool:
        pending = [pool.submit(work, k) for k in range(min(len(tasks), len(replicas)))]
        for k in range(len(tasks)):
            result = pending[k].result()
            nxt = k + len(replicas)
            if nxt < len(tasks):
                pending.append(pool.submit(work, nxt))
            yield result
