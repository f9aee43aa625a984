"""How many GPUs a CUDA program started here sees: ``CUDA_VISIBLE_DEVICES`` and MIG taken into account.

The authority is the driver itself (``cuInit`` + ``cuDeviceGetCount``: it applies
``CUDA_VISIBLE_DEVICES`` and enumerates MIG instances exactly as Legate and torch will). Where the
driver cannot answer, the physical GPUs listed in ``/proc/driver/nvidia/gpus`` are filtered by
:func:`visible_count`, which applies CUDA's documented rules for the variable:

- unset: every physical GPU; set but empty: none;
- a comma-separated list of indices or UUIDs (``GPU-…``, or ``MIG-…`` for a MIG instance);
- the list ends at the first invalid entry (an index that is not a physical GPU, ``-1``, anything
  else unparsable) and a repeated entry ends it too: only the devices before it are visible.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

__all__ = ["PROC_GPUS", "count_gpus", "physical_gpus", "visible_count"]

PROC_GPUS = Path("/proc/driver/nvidia/gpus")
"""One directory per physical NVIDIA GPU (by PCI bus id) where the kernel driver is loaded."""


def physical_gpus(proc: Path = PROC_GPUS) -> int:
    """The number of physical NVIDIA GPUs the kernel driver lists (0 without the driver)."""
    try:
        return sum(1 for p in proc.iterdir() if p.is_dir())
    except OSError:
        return 0


def visible_count(physical: int, visible: str | None) -> int:
    """GPUs visible under ``CUDA_VISIBLE_DEVICES=visible`` (None: unset) with ``physical`` GPUs present.

    UUID entries (``GPU-…``, ``MIG-…``) cannot be checked without the driver and count as one device
    each; ``physical == 0`` means no device whatever the variable says."""
    if physical <= 0:
        return 0
    if visible is None:
        return physical
    seen: list[str] = []
    for raw in visible.split(","):
        entry = raw.strip()
        if entry.upper().startswith(("GPU-", "MIG-")):
            key = entry.upper()
        else:
            try:
                index = int(entry)
            except ValueError:
                break
            if not 0 <= index < physical:
                break
            key = str(index)
        if key in seen:
            break
        seen.append(key)
    return len(seen)


def count_gpus(driver: Any | None, proc: Path = PROC_GPUS, environ: dict[str, str] | None = None) -> int:
    """The GPUs CUDA programs in this process will see.

    ``driver``: the loaded ``libcuda.so.1`` (a ``ctypes.CDLL``) or None. Its ``cuDeviceGetCount`` is
    used when ``cuInit`` succeeds; otherwise (no driver, no kernel module, ``CUDA_ERROR_NO_DEVICE``) the
    physical GPUs in ``proc`` filtered by ``CUDA_VISIBLE_DEVICES`` (from ``environ``, default
    ``os.environ``). Never raises."""
    if driver is not None:
        try:
            if driver.cuInit(0) == 0:
                count = ctypes.c_int(0)
                if driver.cuDeviceGetCount(ctypes.byref(count)) == 0:
                    return int(count.value)
        except (AttributeError, OSError):
            pass
    env = os.environ if environ is None else environ
    return visible_count(physical_gpus(proc), env.get("CUDA_VISIBLE_DEVICES"))
