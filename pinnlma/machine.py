"""The one record of the machine a run or a measurement happened on: versions, hardware, load, memory.

Everything that describes the machine reads it from here: ``pinnlma info`` (:func:`info_lines`), the
benchmark JSON files and the paper reproduction (:func:`machine_info`, :func:`versions`), the
validation reports and the Legate set-up (:func:`version`). Memory probes (:func:`rss_bytes`,
:func:`peak_rss_bytes`, :func:`reset_peak_rss`) read Linux's ``/proc/self``; elsewhere they return None.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import re
import sys
from collections.abc import Sequence
from typing import Any

import torch

from ._version import __version__

__all__ = [
    "VERSION_DISTRIBUTIONS",
    "cpu_model",
    "info_lines",
    "load_average",
    "machine_info",
    "memory_total",
    "peak_rss_bytes",
    "reset_peak_rss",
    "rss_bytes",
    "version",
    "versions",
]

VERSION_DISTRIBUTIONS = ("numpy", "scipy", "h5py", "matplotlib", "legate", "nvidia-cupynumeric")
"""Installed distributions whose versions a record lists beside pinnlma, Python and torch."""


def version(dist: str) -> str | None:
    """The installed version of the distribution ``dist`` (e.g. ``"numpy"``), or None if it is not installed."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions(extra: Sequence[str] = ()) -> dict[str, str | None]:
    """pinnlma, Python, torch and :data:`VERSION_DISTRIBUTIONS` (plus ``extra``): name → version or None."""
    out: dict[str, str | None] = {
        "pinnlma": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    for dist in (*VERSION_DISTRIBUTIONS, *extra):
        out[dist] = version(dist)
    return out


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> int | None:
    """Physical memory in bytes (Linux), or None."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (a busy machine inflates small kernels), or None."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _blas() -> str:
    found = re.findall(r"(BLAS_INFO|LAPACK_INFO)=(\w+)", torch.__config__.show())
    return ", ".join(f"{k.split('_')[0].lower()}={v}" for k, v in found) or "unknown"


def machine_info() -> dict[str, Any]:
    """CPU, core count, torch threads, memory, platform, load average, CUDA and torch's BLAS, as a dict."""
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_bytes": memory_total(),
        "platform": platform.platform(),
        "load_average": load_average(),
        "cuda": torch.cuda.is_available(),
        "blas": _blas(),
    }


def info_lines() -> list[str]:
    """Versions, platform and devices, one fact a line, as a user pastes them into a bug report."""

    def shown(dist: str) -> str:
        return version(dist) or "not installed"

    lines = [
        f"pinnlma {__version__}",
        f"python {platform.python_version()} ({sys.executable})",
        f"platform {platform.platform()}",
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPUs {os.cpu_count()}",
        f"cuda available: {torch.cuda.is_available()} ({torch.cuda.device_count()} devices)",
    ]
    lines += [f"  cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    lines += [
        f"numpy {shown('numpy')}, scipy {shown('scipy')}, h5py {shown('h5py')}, matplotlib {shown('matplotlib')}",
        f"legate {shown('legate')}, cupynumeric {shown('nvidia-cupynumeric')}",
    ]
    return lines


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_bytes() -> int | None:
    """This process's resident set size in bytes (Linux), or None."""
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024


def peak_rss_bytes() -> int | None:
    """The resident-set high-water mark in bytes since the start or the last :func:`reset_peak_rss`."""
    kb = _status_kb("VmHWM")
    return None if kb is None else kb * 1024


def reset_peak_rss() -> bool:
    """Reset the resident-set high-water mark to the current RSS (Linux ≥ 4.0); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
