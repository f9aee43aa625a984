"""Moving data between torch and Legate, and the tiled products of JᵀJ in cuPyNumeric.

:func:`to_legate` attaches torch memory to Legate without a copy where it can (DLPack), :func:`to_torch`
copies n- and m-vectors back; :func:`add_lower_gram` accumulates the lower column tiles of JᵀJ
(:func:`column_tiles`), :func:`mirror_lower` completes it; :func:`fence` waits for Legate's queue.
"""

from __future__ import annotations

from typing import Any

import numpy
import torch
from torch import Tensor

from . import runtime

__all__ = ["GRAM_TILE_COLUMNS", "add_lower_gram", "column_tiles", "fence", "mirror_lower", "to_legate", "to_torch"]

GRAM_TILE_COLUMNS = 800
"""Column width of the tiles of ``JᵀJ`` (see :func:`column_tiles`); narrower tiles save flops but
each tile is one more Legate task, and products thinner than this lose BLAS efficiency."""


def column_tiles(n: int, width: int | None = None) -> list[tuple[int, int]]:
    """Split ``range(n)`` into k ≈ n/width nearly equal column ranges (k = 1 below 2·width);
    ``width`` defaults to :data:`GRAM_TILE_COLUMNS`."""
    k = max(1, n // (width or GRAM_TILE_COLUMNS))
    edges = [round(i * n / k) for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def add_lower_gram(np: Any, acc: Any, jac: Any, tiles: list[tuple[int, int]]) -> Any:
    """acc[I, K] += J[:, I]ᵀ J[:, K] for the tiles on and below the diagonal (I ≥ K); returns ``acc``
    (a new array when ``acc`` is None).

    cuPyNumeric has no symmetric rank-k update, so ``jac.T @ jac`` costs 2·m·n² flops where BLAS syrk
    needs m·n². Forming only the k(k+1)/2 lower tiles of a k×k tiling costs (1 + 1/k)·m·n²; the upper
    tiles are mirrored once, after the last block (:func:`mirror_lower`)."""
    if len(tiles) == 1:  # one tile: the plain product (fewest Legate tasks, what small n needs)
        product = jac.T @ jac
        if acc is None:
            return product
        acc += product
        return acc
    if acc is None:
        acc = np.zeros((jac.shape[1], jac.shape[1]), dtype=jac.dtype)
    for i, (a0, a1) in enumerate(tiles):
        for b0, b1 in tiles[: i + 1]:
            acc[a0:a1, b0:b1] += jac[:, a0:a1].T @ jac[:, b0:b1]
    return acc


def mirror_lower(acc: Any, tiles: list[tuple[int, int]]) -> None:
    """Copy the tiles below the diagonal onto those above it (the diagonal tiles are full already)."""
    for i, (a0, a1) in enumerate(tiles):
        for b0, b1 in tiles[:i]:
            acc[b0:b1, a0:a1] = acc[a0:a1, b0:b1].T


def to_legate(np: Any, tensor: Tensor) -> Any:
    """A cuPyNumeric view of a torch tensor, without copying when the memory is reachable by Legate.

    CPU tensors go through DLPack: ``cupynumeric.from_dlpack`` → ``legate.core.from_dlpack`` wraps the
    buffer as a sysmem ``ExternalAllocation`` and attaches it to a Legate store; the DLPack capsule
    keeps the tensor alive for as long as Legate uses it. (``cupynumeric.asarray(t.numpy())`` would
    *copy*: cuPyNumeric attaches a NumPy array only when ``arr.base is None``, and ``Tensor.numpy()``
    sets the tensor as base; ``asarray(tensor)`` itself also takes the DLPack path.) Legate reads
    attached memory asynchronously, so the tensor must not be modified in place until the work that
    reads it is done; the systems below fence before handing control back.

    CUDA tensors (not exercised on the CPU-only development machine): DLPack reports
    ``(kDLCUDA, device_id)``, and Legate wraps the pointer as an ``ExternalAllocation.from_fbmem`` on
    that GPU, again without a copy. Legate launches its tasks on its own CUDA streams, so torch's
    current stream is synchronised first (cheap, and correct whether or not Legate honours the DLPack
    ``stream`` handshake). Tasks on that GPU then read the buffer in place; tasks on other GPUs receive
    Legion copies of their tiles over NVLink/PCIe, which is the distribution we want. If Legate runs
    without GPUs (or the attach is refused), the tensor is copied to host memory instead.
    """
    tensor = tensor.detach()
    if tensor.ndim == 2 and not tensor.is_contiguous() and tensor.T.is_contiguous():
        return to_legate(np, tensor.T).T  # column-major (as the Jacobian slices are): attach Jᵀ, view it transposed
    if not tensor.is_contiguous():
        tensor = tensor.contiguous()  # copy: Legate attaches only dense buffers
    if tensor.device.type == "cuda":
        if runtime.machine_summary().get("gpus", 0) > 0:
            torch.cuda.current_stream(tensor.device).synchronize()
            try:
                return np.from_dlpack(tensor)
            except (BufferError, RuntimeError, ValueError, TypeError):
                pass
        tensor = tensor.cpu()  # copy: Legate has no GPU here (or refused the device buffer)
    elif tensor.device.type != "cpu":
        tensor = tensor.cpu()  # copy: a device Legate does not know (mps, xpu, ...)
    return np.from_dlpack(tensor)


def to_torch(array: Any, device: torch.device) -> Tensor:
    """Copy a (small) cuPyNumeric array into a new torch tensor on ``device``.

    ``numpy.asarray`` waits for the producing tasks and maps the store into host memory (Legate copies
    it there first if it lives on a GPU); the mapping is only valid while Legate keeps the store, so
    the data is copied into torch-owned memory. Used only for n- and m-vectors.
    """
    host = numpy.array(numpy.asarray(array), copy=True)
    out = torch.from_numpy(host)
    return out if device.type == "cpu" else out.to(device)


def fence() -> None:
    """Wait until every Legate operation issued so far has run (attached torch memory is then free)."""
    from legate.core import get_legate_runtime

    get_legate_runtime().issue_execution_fence(block=True)
