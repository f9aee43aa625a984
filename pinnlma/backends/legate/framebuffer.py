"""GPU memory between Legate and torch: how much framebuffer Legate may take (``--fbmem``).

Left to itself, Legate reserves about 95 % of every GPU's memory for its framebuffer pool when it
starts. torch replicas computing Jacobian slices on the same GPUs (``--devices cuda:0,...`` beside
``--backend cupynumeric``) then have almost nothing left and fail with out-of-memory on their first
slice. Two layouts work:

- **shared GPUs**: Legate on every GPU with ``--fbmem`` = what torch does not need. torch's need on a
  GPU is its CUDA context and the Jacobian slices in flight: :data:`TORCH_CONTEXT_BYTES` plus
  :data:`SLICES_IN_FLIGHT` slices of the slice memory budget. Legate gets
  :data:`LEGATE_FRACTION` of the rest (Legate itself needs a little memory outside its pool);
- **separate GPUs**: Legate on GPUs 0..k-1 (``--gpus k``; Legate always takes the first visible GPUs)
  and torch on cuda:k and above, each with the whole memory of its GPUs (the layout of the cuPyLMA
  README). Possible when every torch device index is at least 1.

:func:`plan_framebuffer` chooses from the GPU sizes and the torch devices; :func:`legate_config_for`
turns the plan into the ``LEGATE_CONFIG`` pinnlma sets (only when the user set none) or the advice it
gives. Both are pure functions (tested without a GPU); the sizes come from torch where CUDA works.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "LEGATE_FRACTION",
    "MIN_LEGATE_BYTES",
    "SLICES_IN_FLIGHT",
    "SLICE_BYTES",
    "TORCH_CONTEXT_BYTES",
    "FramebufferPlan",
    "config_value",
    "gpu_memory_bytes",
    "info_lines",
    "legate_config_for",
    "plan_framebuffer",
    "torch_cuda_devices",
]

MIB = 2**20
SLICE_BYTES = 512 * MIB
"""Memory of one Jacobian slice and its intermediates: the default budget of the LM core's Jacobian engine
(``pinnlma.lm.jacobian.DEFAULT_MEMORY_BUDGET``; not imported: backends sit below the LM core)."""

TORCH_CONTEXT_BYTES = 1024 * MIB
"""torch's CUDA context, allocator slack and the model and points on one GPU (a generous bound)."""

SLICES_IN_FLIGHT = 4
"""Jacobian slices torch may hold on one GPU at once: the one being computed, its copy on the way out,
and one of each for the next (see :mod:`pinnlma.pinn.replicas`)."""

LEGATE_FRACTION = 0.9
"""Legate's pool is this fraction of what torch leaves (Legate's own context lives outside the pool)."""

MIN_LEGATE_BYTES = 1024 * MIB
"""Below this a shared GPU is too small to share: the plan says to separate the GPUs instead."""


@dataclass(frozen=True)
class FramebufferPlan:
    """How Legate and torch split the GPUs.

    ``shared``: the GPU indices both use; ``fbmem_mib``: the ``--fbmem`` for Legate (None when nothing
    is shared); ``separate_gpus``: the k of the separate layout (Legate ``--gpus k``, torch on cuda:k
    and above), None when a torch device is cuda:0; ``torch_bytes``: what is left to torch on a
    shared GPU; ``advice``: the plan in one line, for ``pinnlma info`` and the start-up notes."""

    shared: tuple[int, ...]
    fbmem_mib: int | None
    separate_gpus: int | None
    torch_bytes: int
    advice: str


def plan_framebuffer(
    gpu_bytes: Sequence[int],
    torch_devices: Iterable[int],
    *,
    legate_gpus: int | None = None,
    slice_budget: int = SLICE_BYTES,
) -> FramebufferPlan:
    """The split for GPUs of ``gpu_bytes`` each (index = CUDA device), torch on ``torch_devices`` and
    Legate on GPUs ``0..legate_gpus-1`` (default: all of them).

    Raises ValueError for a torch device that is not one of the GPUs."""
    count = len(gpu_bytes)
    legate = count if legate_gpus is None else min(int(legate_gpus), count)
    devices = sorted(set(int(d) for d in torch_devices))
    for d in devices:
        if not 0 <= d < count:
            raise ValueError(f"torch device cuda:{d} is not one of the {count} visible GPU(s)")
    shared = tuple(d for d in devices if d < legate)
    separate = min(devices) if devices and min(devices) >= 1 else None
    torch_need = TORCH_CONTEXT_BYTES + SLICES_IN_FLIGHT * int(slice_budget)
    if not shared:
        advice = (
            "torch and Legate use separate GPUs: Legate may take its default framebuffer"
            if devices
            else "torch computes on no GPU: Legate may take its default framebuffer (about 95 % of each GPU)"
        )
        return FramebufferPlan((), None, separate, 0, advice)
    smallest = min(gpu_bytes[:legate])  # --fbmem is one size for all of Legate's GPUs
    legate_bytes = int(LEGATE_FRACTION * (smallest - torch_need))
    alternative = (
        f"; or separate them: LEGATE_CONFIG='--gpus {separate}' with torch on cuda:{separate} and above"
        if separate is not None
        else ""
    )
    names = ",".join(f"cuda:{d}" for d in shared)
    if legate_bytes < MIN_LEGATE_BYTES:
        return FramebufferPlan(
            shared,
            None,
            separate,
            smallest,
            f"GPUs of {smallest / 2**30:.1f} GiB are too small for torch ({torch_need / 2**30:.1f} GiB) and Legate "
            f"together on {names}: give them separate GPUs"
            + (alternative.replace("; or separate them", "") if separate is not None else " (torch on cuda:1 and up)"),
        )
    fbmem = legate_bytes // MIB
    left = smallest - fbmem * MIB
    return FramebufferPlan(
        shared,
        fbmem,
        separate,
        left,
        f"torch shares {names} with Legate: Legate --fbmem {fbmem} (MiB per GPU), leaving torch "
        f"{left / 2**30:.1f} GiB of the {smallest / 2**30:.1f} GiB{alternative}",
    )


def config_value(config: str, flag: str) -> int | None:
    """The integer value of ``flag`` (e.g. ``"--fbmem"``) in a LEGATE_CONFIG string, or None."""
    found = re.search(rf"(?:^|\s){re.escape(flag)}(?:\s+|=)(\d+)(?:\s|$)", config)
    return int(found.group(1)) if found else None


def legate_config_for(
    user_config: str | None, gpu_bytes: Sequence[int], torch_devices: Iterable[int]
) -> tuple[str | None, list[str]]:
    """The LEGATE_CONFIG pinnlma sets on a GPU machine (None: leave Legate's auto-configuration alone),
    and notes for the user.

    - no user config, torch on GPUs Legate uses: ``--fbmem N`` from :func:`plan_framebuffer` (the rest
      is left to Legate's auto-configuration);
    - a user config: never changed; when it has no ``--fbmem`` and torch shares GPUs with it, a note
      with the advice."""
    devices = list(torch_devices)
    if not gpu_bytes or not devices:
        return None, []
    legate_gpus = config_value(user_config, "--gpus") if user_config else None
    plan = plan_framebuffer(gpu_bytes, devices, legate_gpus=legate_gpus)
    if user_config is not None:
        if plan.shared and config_value(user_config, "--fbmem") is None:
            return None, [f"LEGATE_CONFIG has no --fbmem: {plan.advice}"]
        return None, []
    if plan.fbmem_mib is None:
        return None, [plan.advice] if plan.shared else []
    return f"--fbmem {plan.fbmem_mib}", [plan.advice]


def torch_cuda_devices() -> list[int]:
    """The CUDA devices torch holds memory on in this process (none before torch touched CUDA)."""
    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return []
    return [i for i in range(torch.cuda.device_count()) if torch.cuda.memory_reserved(i) > 0]


def gpu_memory_bytes() -> list[int]:
    """Total memory of each visible GPU, from torch ([] without CUDA)."""
    if not torch.cuda.is_available():
        return []
    return [int(torch.cuda.get_device_properties(i).total_memory) for i in range(torch.cuda.device_count())]


def info_lines(gpu_bytes: Sequence[int]) -> list[str]:
    """What ``pinnlma info`` says about GPU memory between Legate and torch on GPUs of ``gpu_bytes``."""
    if not gpu_bytes:
        return ["GPU memory: no CUDA GPU visible to torch; Legate runs on CPUs (--fbmem does not apply)"]
    count = len(gpu_bytes)
    lines = [
        f"GPU memory: {count} GPU(s), {min(gpu_bytes) / 2**30:.1f} GiB the smallest; Legate alone takes about 95 % "
        "of each (pinnlma sets --fbmem when torch replicas already use Legate's GPUs and LEGATE_CONFIG is unset)",
        "  torch replicas on every GPU: " + plan_framebuffer(gpu_bytes, range(count)).advice,
    ]
    if count >= 2:
        k = (count + 1) // 2
        lines.append(
            f"  separate GPUs: LEGATE_CONFIG='--gpus {k}' (Legate on cuda:0..{k - 1}) and --devices "
            + ",".join(f"cuda:{d}" for d in range(k, count))
            + " (torch), each with all of its GPUs' memory"
        )
    return lines
