"""Moving data between torch and Legate, and the tiled products of JᵀJ in cuPyNumeric.

:func:`to_legate` attaches torch memory to Legate read-only and without a copy where it can (DLPack), :func:`to_torch`
copies n- and m-vectors back; :func:`add_lower_gram` accumulates the lower column tiles of JᵀJ
(:func:`column_tiles`), :func:`mirror_lower` completes it; :func:`fence` waits for Legate's queue.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy
import torch
from torch import Tensor

from . import runtime

__all__ = [
    "GRAM_TILE_COLUMNS",
    "add_lower_gram",
    "attach_read_only",
    "column_tiles",
    "fence",
    "legate_gpu_for",
    "mirror_lower",
    "row_tile_store",
    "to_legate",
    "to_torch",
]

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
    """A *read-only* cuPyNumeric view of a torch tensor, without copying when Legate can reach the memory.

    The buffer is wrapped as a read-only ``legate.core.ExternalAllocation`` (``from_dlpack(...,
    read_only=True)``: a sysmem allocation for CPU tensors, an fbmem one on the tensor's GPU for CUDA
    tensors) and made a one-tile store (``create_store_from_tiles``). Read-only matters for speed: Legate
    must treat a *mutable* attachment (what ``cupynumeric.from_dlpack`` makes) as memory the program
    may change behind its back, so it maps it and flushes its scheduling window whenever the store is
    touched; a read-only one is an input like any other and Legate keeps its window of tasks. A write
    through the returned array goes to a Legate copy and never reaches the tensor.

    (``cupynumeric.asarray(t.numpy())`` would *copy*: cuPyNumeric attaches a NumPy array only when
    ``arr.base is None``, and ``Tensor.numpy()`` sets the tensor as base.) Legate reads attached memory
    asynchronously, so the tensor must not be modified in place until the work that reads it is done;
    the systems fence before handing control back.

    CUDA tensors (not exercised on the CPU-only development machine): torch's current stream is
    synchronised first (Legate launches its tasks on its own streams), then the pointer is attached on
    that GPU; tasks on other GPUs receive Legion copies of their tiles over NVLink/PCIe. A tensor on a
    GPU that Legate does not drive (no GPU processors, or ``cuda:k`` with k ≥ Legate's GPU count, see
    :func:`legate_gpu_for`) is copied through host memory instead, with a warning the first time.
    """
    tensor = tensor.detach()
    if tensor.ndim == 2 and not tensor.is_contiguous() and tensor.T.is_contiguous():
        return to_legate(np, tensor.T).T  # column-major (as the Jacobian slices are): attach Jᵀ, view it transposed
    if not tensor.is_contiguous():
        tensor = tensor.contiguous()  # copy: Legate attaches only dense buffers
    if tensor.device.type == "cuda":
        gpus = runtime.machine_summary().get("gpus", 0)
        if legate_gpu_for(tensor.device.index or 0, gpus) is not None:
            torch.cuda.current_stream(tensor.device).synchronize()
            return attach_read_only(np, tensor)
        _warn_host_copy(tensor.device, gpus)
        tensor = tensor.cpu()  # copy: Legate does not drive this GPU
    elif tensor.device.type != "cpu":
        tensor = tensor.cpu()  # copy: a device Legate does not know (mps, xpu, ...)
    return attach_read_only(np, tensor)


def attach_read_only(np: Any, tensor: Tensor) -> Any:
    """Attach a contiguous CPU or CUDA tensor to Legate as a read-only one-tile store; a cuPyNumeric
    array over it (no copy). The DLPack capsule inside the allocation keeps the tensor alive."""
    from legate.core import ExternalAllocation, get_legate_runtime

    shape = tuple(int(d) for d in tensor.shape)
    if tensor.numel() == 0:
        return np.zeros(shape, dtype=_numpy_dtype(tensor.dtype))
    allocation = ExternalAllocation.from_dlpack(tensor, read_only=True)
    store, _ = get_legate_runtime().create_store_from_tiles(
        _legate_type(tensor.dtype), shape, shape, [(allocation, (0,) * len(shape))]
    )
    return np.asarray(store)


def row_tile_store(np: Any, m: int, tiles: list[tuple[int, Tensor]], ranks: int) -> Any:
    """An m×n cuPyNumeric array assembled from row tiles, read-only and without copies: ``tiles`` holds
    ``(rank, J_rank)`` for the ranks whose rows this process computed, ``J_rank`` being the rows
    :func:`pinnlma.ranks.owned_rows` gives that rank (contiguous CPU or CUDA tensors, the last tile may be
    short). Under ``legate --nodes M`` each rank passes only its own tile and Legate builds one store
    over all of them (``create_store_from_tiles``); in one process all tiles are passed.

    Raises ValueError when a tile's rows do not match its rank's share of m rows."""
    from legate.core import ExternalAllocation, get_legate_runtime

    if not tiles:
        raise ValueError("row_tile_store needs at least this rank's tile")
    n = int(tiles[0][1].shape[1])
    tile_rows = -(-m // ranks)
    allocations: list[tuple[Any, tuple[int, ...]]] = []
    for rank, tensor in tiles:
        expected = max(0, min(m, (rank + 1) * tile_rows) - rank * tile_rows)
        if tensor.ndim != 2 or tuple(tensor.shape) != (expected, n):
            raise ValueError(
                f"rank {rank} of {ranks} owns {expected} of the {m} rows (n = {n}); its tile has shape {tuple(tensor.shape)}"
            )
        if expected == 0:
            continue
        tensor = tensor.detach().contiguous()
        if tensor.device.type == "cuda":
            torch.cuda.current_stream(tensor.device).synchronize()
        allocations.append((ExternalAllocation.from_dlpack(tensor, read_only=True), (rank, 0)))
    dtype = _legate_type(tiles[0][1].dtype)
    store, _ = get_legate_runtime().create_store_from_tiles(dtype, (m, n), (tile_rows, n), allocations)
    return np.asarray(store)


def legate_gpu_for(cuda_index: int, legate_gpus: int) -> int | None:
    """The Legate GPU that holds torch's ``cuda:<cuda_index>``, or None when Legate does not drive it.

    Legate numbers its GPU processors 0..G-1 over the same visible devices as torch (both honour
    ``CUDA_VISIBLE_DEVICES``), taking the first G; a torch index beyond them is a GPU Legate cannot
    attach memory on. (Attaching it anyway raised an uncaught IndexError inside Legate.)"""
    if cuda_index < 0:
        raise ValueError(f"a CUDA device index is >= 0, got {cuda_index}")
    return cuda_index if cuda_index < legate_gpus else None


_warned_devices: set[str] = set()


def _warn_host_copy(device: torch.device, gpus: int) -> None:
    if str(device) in _warned_devices:
        return
    _warned_devices.add(str(device))
    warnings.warn(
        f"{device} is not one of Legate's {gpus} GPU(s) (Legate drives cuda:0..cuda:{gpus - 1}): its blocks "
        "are copied through host memory, twice over PCIe. Start Legate with more GPUs (LEGATE_CONFIG="
        "'--gpus N') or keep the primary torch device among Legate's.",
        RuntimeWarning,
        stacklevel=3,
    )


def _numpy_dtype(dtype: torch.dtype) -> Any:
    return torch.empty((), dtype=dtype).numpy().dtype


def _legate_type(dtype: torch.dtype) -> Any:
    from legate.core import types

    table = {
        torch.float64: types.float64,
        torch.float32: types.float32,
        torch.float16: types.float16,
        torch.int64: types.int64,
        torch.int32: types.int32,
        torch.bool: types.bool_,
    }
    if dtype not in table:
        raise TypeError(f"cannot attach a torch {dtype} tensor to Legate (float64, float32, float16, int, bool)")
    return table[dtype]


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
