"""Starting Legate (and so cuPyNumeric) in this process, on GPU machines and on CPU-only ones.

Before the first Legate import, :func:`prepare_legate` loads the CUDA driver library into the process
with ``RTLD_GLOBAL`` when the system has none (the one :mod:`.driver` provisioned: ``LD_LIBRARY_PATH``
cannot be changed for a running process, but a library already loaded under the soname ``libcuda.so.1``
satisfies the wheels' ``DT_NEEDED``) and, when there is no GPU and the user did not set
``LEGATE_CONFIG``, sets a CPU configuration that works (Legate's auto-configuration fails on small
CPU-only machines: it wants two cores for utility threads). :func:`import_cupynumeric` then imports
it and turns every way that can fail into :class:`~pinnlma.backends.base.BackendUnavailable` with the
command that fixes it.

A ``LEGATE_CONFIG`` set by the user is never changed. Legate reads its configuration once, when it
starts; to run with another configuration start a new process.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from ...machine import version
from ..base import BackendUnavailable
from .driver import DRIVER_SONAME, driver_dir, provisioned_driver
from .framebuffer import gpu_memory_bytes, legate_config_for, torch_cuda_devices
from .visible import count_gpus

__all__ = [
    "INSTALL_HINT",
    "SETUP_HINT",
    "LegateEnvironment",
    "count_gpus",
    "cpu_config",
    "import_cupynumeric",
    "legate_networks",
    "legate_started",
    "machine_summary",
    "networks_line",
    "prepare_legate",
    "status_in_child",
]

INSTALL_HINT = "pip install 'pinnlma[legate]'"
SETUP_HINT = "run `pinnlma setup-legate`"

# preparing the process before the first Legate import


@dataclass
class LegateEnvironment:
    """What :func:`prepare_legate` found and did (shown by ``describe()`` and ``setup-legate``)."""

    driver: str | None = None  # path of the libcuda.so.1 in use, or None
    driver_source: str = "missing"  # "system", "provisioned" or "missing"
    gpus: int = 0
    legate_config: str | None = None
    config_source: str = "unset"  # "user", "pinnlma" or "unset" (Legate's auto-configuration)
    notes: list[str] = field(default_factory=list)


_state: LegateEnvironment | None = None
_import_error: BackendUnavailable | None = None


def _loaded_driver_path() -> str | None:
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if "libcuda.so" in line:
                    return line.split()[-1]
    except OSError:
        pass
    return None


def _load_driver(env: LegateEnvironment) -> ctypes.CDLL | None:
    """Load libcuda.so.1 with RTLD_GLOBAL: the system's if the loader finds one, else ours."""
    try:
        handle = ctypes.CDLL(DRIVER_SONAME, mode=ctypes.RTLD_GLOBAL)
        path = _loaded_driver_path()
        ours = provisioned_driver()
        env.driver = path
        env.driver_source = "provisioned" if ours and path and Path(path).resolve() == ours.resolve() else "system"
        return handle
    except OSError:
        pass
    ours = provisioned_driver()
    if ours is None:
        env.driver_source = "missing"
        return None
    try:
        handle = ctypes.CDLL(str(ours), mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        env.driver_source = "missing"
        env.notes.append(f"could not load {ours}: {exc}")
        return None
    env.driver, env.driver_source = str(ours.resolve()), "provisioned"
    return handle


def cpu_config(cpus: int = 1) -> str:
    """A LEGATE_CONFIG that starts Legate on CPUs only. ``--logging gpu=6`` silences Realm's
    "cuInit returned CUDA_ERROR_NO_DEVICE" messages, which are expected without a GPU."""
    return f"--cpus {int(cpus)} --gpus 0 --logging gpu=6"


def _requested_cpus(cpus: int | None) -> int:
    if cpus is None:
        raw = os.environ.get("PINNLMA_LEGATE_CPUS", "").strip()
        if not raw:
            return 1
        try:
            cpus = int(raw)
        except ValueError as exc:
            raise ValueError(f"PINNLMA_LEGATE_CPUS must be a positive integer, got {raw!r}") from exc
    if cpus < 1:
        raise ValueError(f"the number of Legate CPU processors must be >= 1, got {cpus}")
    return cpus


def legate_started() -> bool:
    """Whether Legate has already been imported (and so configured) in this process."""
    return "legate.core" in sys.modules or "cupynumeric" in sys.modules


def prepare_legate(cpus: int | None = None) -> LegateEnvironment:
    """Get the process ready for ``import cupynumeric``; call it before the first Legate import.

    1. Loads ``libcuda.so.1`` (the system's, else the provisioned one) with ``RTLD_GLOBAL``.
    2. Counts GPUs. Without a GPU and without a user ``LEGATE_CONFIG``, sets ``LEGATE_CONFIG`` to
       :func:`cpu_config` with ``cpus`` CPU processors (default ``$PINNLMA_LEGATE_CPUS`` or 1; one
       Legate CPU processor already runs a multi-threaded BLAS). A ``LEGATE_CONFIG`` the user set is
       never touched; with a GPU, Legate's own auto-configuration is left alone, except that when torch
       already holds memory on GPUs Legate will use (device replicas), ``--fbmem`` keeps some for torch
       (:mod:`.framebuffer`; with a user ``LEGATE_CONFIG`` a note gives the advice instead).

    Idempotent; once Legate has started, later calls only report (its configuration is fixed).
    """
    global _state
    if _state is not None:
        if cpus is not None and _state.config_source == "pinnlma" and _state.legate_config != cpu_config(cpus):
            if legate_started():
                _state.notes.append(f"Legate already runs with {_state.legate_config!r}; cpus={cpus} ignored")
            else:
                os.environ["LEGATE_CONFIG"] = _state.legate_config = cpu_config(_requested_cpus(cpus))
        return _state
    env = LegateEnvironment()
    driver = _load_driver(env)
    env.gpus = count_gpus(driver)
    user_config = os.environ.get("LEGATE_CONFIG")
    if user_config is not None:
        env.legate_config, env.config_source = user_config, "user"
        if env.gpus == 0 and "--gpus 0" not in " ".join(user_config.split()):
            env.notes.append("no GPU found; if Legate fails to start, add '--gpus 0' to LEGATE_CONFIG")
    elif env.gpus == 0:
        os.environ["LEGATE_CONFIG"] = cpu_config(_requested_cpus(cpus))
        env.legate_config, env.config_source = os.environ["LEGATE_CONFIG"], "pinnlma"
    if env.gpus > 0:  # torch replicas already on GPUs Legate will take: keep memory for them
        in_use = torch_cuda_devices()  # first: asking for the sizes would start torch's CUDA context
        config, notes = legate_config_for(user_config, gpu_memory_bytes() if in_use else [], in_use)
        env.notes += notes
        for note in notes if user_config is not None else ():
            warnings.warn(note, RuntimeWarning, stacklevel=2)  # the user's config: tell, never change
        if config is not None:
            os.environ["LEGATE_CONFIG"] = env.legate_config = config
            env.config_source = "pinnlma"
    if legate_started():
        env.notes.append("Legate was imported before prepare_legate(); its configuration may differ")
    _state = env
    return env


def _legate_error_summary(exc: BaseException) -> str:
    """The informative line of Legate's multi-kilobyte start-up error (the exception, not the stack)."""
    text = str(exc)
    for line in text.splitlines():
        line = line.replace("LEGATE ERROR:", "").strip()
        if line.startswith("#0") and "::" in line:
            return line[2:].strip()
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _load_h5py_first() -> None:
    """Import h5py (pinnlma's run files) before Legate: the legate wheel ships its own libhdf5 of another
    version, and h5py imported after it fails at start-up ("Not a datatype") against that library,
    while Legate works with h5py's HDF5 already loaded."""
    try:
        import h5py  # noqa: F401
    except ImportError:
        pass


def import_cupynumeric(cpus: int | None = None) -> ModuleType:
    """``prepare_legate()`` then ``import cupynumeric``; every failure becomes :class:`BackendUnavailable`."""
    global _import_error
    if "cupynumeric" in sys.modules and _import_error is None:
        prepare_legate(cpus)
        return sys.modules["cupynumeric"]
    if _import_error is not None:  # Legate cannot be restarted in the same process
        raise _import_error
    try:
        import importlib.util

        missing = importlib.util.find_spec("cupynumeric") is None or importlib.util.find_spec("legate") is None
    except (ImportError, ValueError):
        missing = True
    if missing:
        raise BackendUnavailable(f"the cupynumeric backend needs the nvidia-cupynumeric package: {INSTALL_HINT}")
    env = prepare_legate(cpus)
    if env.driver_source == "missing":
        raise BackendUnavailable(
            f"the cupynumeric backend needs the CUDA driver library {DRIVER_SONAME}, even on a machine "
            f"without GPU, and none was found (looked in the system and in {driver_dir()}): {SETUP_HINT}"
        )
    _load_h5py_first()
    try:
        import cupynumeric
    except ImportError as exc:
        if DRIVER_SONAME in str(exc) or "libcuda" in str(exc):
            _import_error = BackendUnavailable(f"cannot load {DRIVER_SONAME} ({exc}): {SETUP_HINT}")
        elif getattr(exc, "name", None) in ("cupynumeric", "legate"):
            _import_error = BackendUnavailable(f"cupynumeric is not installed ({exc}): {INSTALL_HINT}")
        else:
            _import_error = BackendUnavailable(f"importing cupynumeric failed: {exc}; try {INSTALL_HINT}")
        raise _import_error from exc
    except (RuntimeError, OSError) as exc:
        config = os.environ.get("LEGATE_CONFIG")
        advice = (
            f"LEGATE_CONFIG={config!r} was set by you; on a machine without GPU use e.g. "
            f"LEGATE_CONFIG='{cpu_config(1)}', or unset it and let pinnlma choose"
            if env.config_source == "user"
            else f"LEGATE_CONFIG={config!r}; set LEGATE_CONFIG yourself to override"
        )
        _import_error = BackendUnavailable(f"Legate failed to start: {_legate_error_summary(exc)} ({advice})")
        raise _import_error from exc
    if env.config_source == "pinnlma" and os.environ.get("LEGATE_CONFIG") == env.legate_config:
        # Legate has read it; do not hand our choice to child processes as if the user had set it
        del os.environ["LEGATE_CONFIG"]
    return cupynumeric


def legate_networks() -> list[str] | None:
    """The networks the installed Legate was built with (``legate.install_info.networks``, e.g. ``ucx``,
    ``gasnet``, ``mpi``): empty means one rank only; None: Legate is not installed. Reads build facts
    only, starts no runtime."""
    try:
        from legate import install_info
    except ImportError:
        return None
    return [str(n) for n in getattr(install_info, "networks", [])]


def networks_line(networks: list[str] | None) -> str:
    """One line for ``pinnlma info``: whether this Legate can run several ranks (``legate --nodes M`` or
    ``--ranks-per-node M`` refuse a second rank without a network)."""
    if networks is None:
        return f"legate networks: legate not installed ({INSTALL_HINT})"
    if not networks:
        return (
            "legate networks: none in this build: one rank only (legate --nodes/--ranks-per-node need a Legate "
            "built with UCX, GASNet or MPI networking)"
        )
    return f"legate networks: {', '.join(networks)} (multi-rank launches possible)"


def machine_summary() -> dict[str, int]:
    """Processor counts of the running Legate machine (CPU, OMP, GPU). Legate must be imported."""
    from legate.core import TaskTarget, get_legate_runtime

    machine = get_legate_runtime().get_machine()
    counts = {}
    for name, target in (("cpus", TaskTarget.CPU), ("omps", TaskTarget.OMP), ("gpus", TaskTarget.GPU)):
        try:
            counts[name] = int(machine.count(target))
        except Exception:  # a target the machine does not have
            counts[name] = 0
    return counts


def status_in_child(timeout: float = 120.0) -> str:
    """Start the cupynumeric backend in a child process (Legate's start-up must not touch this one) and
    say how it went: ``"available: <describe()>"``, ``"unavailable: <reason>"`` or ``"not installed (...)"``."""
    if version("nvidia-cupynumeric") is None and version("cupynumeric") is None:
        return f"not installed ({INSTALL_HINT})"
    code = "from pinnlma.backends import get_backend; print(get_backend('cupynumeric').describe())"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"did not start within {timeout:.0f} s"
    if out.returncode == 0:
        return "available: " + out.stdout.strip().splitlines()[-1]
    last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
    return f"unavailable: {last}"
