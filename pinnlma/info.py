"""``pinnlma info``: versions, backends and devices, as a user would paste into a bug report."""
from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import subprocess
import sys

import torch

from ._version import __version__


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def cupynumeric_status(timeout: float = 120.0) -> str:
    """Try the cupynumeric backend in a child process (Legate's start-up must not touch this one)."""
    if _version("nvidia-cupynumeric") == "not installed" and _version("cupynumeric") == "not installed":
        return "not installed (pip install 'pinnlma[legate]')"
    code = "from pinnlma.backends import get_backend; print(get_backend('cupynumeric').describe())"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"did not start within {timeout:.0f} s"
    if out.returncode == 0:
        return "available: " + out.stdout.strip().splitlines()[-1]
    last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
    return f"unavailable: {last}"


def _packed_lapack() -> str:
    """Which LAPACK the torch backend's packed CPU solves use (torch's own, else scipy's)."""
    from .backends.torch_lapack import torch_lapack

    return ("CPU solves with torch's own LAPACK" if torch_lapack(torch.float64) is not None
            else "CPU solves with scipy's LAPACK: torch's LAPACK symbols were not found")


def info_lines(check_legate: bool = True) -> list[str]:
    lines = [
        f"pinnlma {__version__}",
        f"python {platform.python_version()} ({sys.executable})",
        f"platform {platform.platform()}",
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPUs {os.cpu_count()}",
        f"cuda available: {torch.cuda.is_available()} ({torch.cuda.device_count()} devices)",
    ]
    for i in range(torch.cuda.device_count()):
        lines.append(f"  cuda:{i} {torch.cuda.get_device_name(i)}")
    lines += [f"numpy {_version('numpy')}, scipy {_version('scipy')}, h5py {_version('h5py')}, "
              f"matplotlib {_version('matplotlib')}",
              f"legate {_version('legate')}, cupynumeric {_version('nvidia-cupynumeric')}",
              "backends:", f"  torch: available ({_packed_lapack()})"]
    lines.append("  cupynumeric: " + (cupynumeric_status() if check_legate else "not checked"))
    return lines
