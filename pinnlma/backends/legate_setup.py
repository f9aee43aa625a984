"""Starting Legate (and so cuPyNumeric) for the user, on GPU machines and on CPU-only ones.

The cuPyNumeric/Legate wheels link against the CUDA *driver* library ``libcuda.so.1`` even when they
will only ever run on CPUs, so on a machine without an NVIDIA driver ``import cupynumeric`` dies with
``OSError: libcuda.so.1: cannot open shared object file``. A driver library without a GPU is harmless:
``cuInit`` reports "no device" and Legate carries on with CPU processors. This module

- provisions that library once, without root-level changes to the system: it downloads Debian's
  ``libcuda1`` package with a *private* apt configuration (its own lists and cache, the machine's own
  Debian mirrors and keyring) and unpacks it with ``dpkg -x`` into :func:`driver_dir`
  (``pinnlma setup-legate`` / ``python -m pinnlma.backends.legate_setup``);
- before the first Legate import (:func:`prepare_legate`) loads that library into the process with
  ``RTLD_GLOBAL`` when the system has none (``LD_LIBRARY_PATH`` cannot be changed for a running process,
  but a library already loaded under the soname ``libcuda.so.1`` satisfies the wheels' ``DT_NEEDED``), and,
  when there is no GPU and the user did not set ``LEGATE_CONFIG``, sets a CPU configuration that works
  (Legate's auto-configuration fails on small CPU-only machines: it wants two cores for utility threads);
- turns every way the import can fail into :class:`BackendUnavailable` with the command that fixes it.

A ``LEGATE_CONFIG`` set by the user is never changed. Legate reads its configuration once, when it
starts; to run with another configuration start a new process.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

DRIVER_PACKAGE = "libcuda1"
DRIVER_SONAME = "libcuda.so.1"
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
CUDA_ERROR_NO_DEVICE = 100
INSTALL_HINT = "pip install 'pinnlma[legate]'"
SETUP_HINT = "run `pinnlma setup-legate` (or `python -m pinnlma.backends.legate_setup`)"


class BackendUnavailable(RuntimeError):
    """The cuPyNumeric backend cannot start here; the message says what to do about it."""


# --------------------------------------------------------------------------------------------------
# where the driver lives


def driver_dir() -> Path:
    """The folder that holds (or will hold) the provisioned CUDA driver library.

    ``$PINNLMA_CUDA_DRIVER_DIR`` if set, else ``${XDG_CACHE_HOME:-~/.cache}/pinnlma/cuda-driver``.
    """
    explicit = os.environ.get("PINNLMA_CUDA_DRIVER_DIR")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "pinnlma" / "cuda-driver"


def provisioned_driver(directory: Path | None = None) -> Path | None:
    """The provisioned ``libcuda.so.1`` in ``directory`` (default :func:`driver_dir`), if there is one.

    Accepts both the layout written by :func:`provision_driver` (``lib/libcuda.so.1``) and a folder
    that simply contains ``libcuda.so.1`` (e.g. PINNLMA_CUDA_DRIVER_DIR pointed at a driver install).
    """
    directory = driver_dir() if directory is None else directory
    for candidate in (directory / "lib" / DRIVER_SONAME, directory / DRIVER_SONAME):
        if candidate.is_file():  # follows the symlink: a dangling link does not count
            return candidate
    return None


def system_driver(exclude: Path | None = None) -> Path | None:
    """Path of a ``libcuda.so.1`` that the dynamic loader finds on its own, or None.

    Checked in a fresh interpreter so that a driver this process already loaded (the provisioned
    one, found by soname) does not count, with ``exclude`` (our own folder) removed from
    ``LD_LIBRARY_PATH``.
    """
    env = dict(os.environ)
    if exclude is not None and env.get("LD_LIBRARY_PATH"):
        keep = [p for p in env["LD_LIBRARY_PATH"].split(os.pathsep) if p and not _inside(Path(p), exclude)]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(keep)
    probe = (
        "import ctypes\n"
        f"ctypes.CDLL({DRIVER_SONAME!r})\n"
        "for line in open('/proc/self/maps'):\n"
        "    if 'libcuda.so' in line:\n"
        "        print(line.split()[-1]); break\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    path = out.stdout.strip()
    return Path(path) if path else Path(DRIVER_SONAME)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


# --------------------------------------------------------------------------------------------------
# provisioning with a private apt configuration


@dataclass(frozen=True)
class AptSource:
    uri: str
    suite: str
    signed_by: str | None

    def line(self, component: str) -> str:
        options = f"[signed-by={self.signed_by}] " if self.signed_by else ""
        return f"deb {options}{self.uri} {self.suite} {component}"


def _os_release() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return info
    for raw in text.splitlines():
        if "=" in raw and not raw.startswith("#"):
            key, _, value = raw.partition("=")
            info[key.strip()] = value.strip().strip('"')
    return info


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas, current, key = [], {}, None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
            continue
        if raw[0] in " \t" and key is not None:  # continuation line (e.g. an inline key block)
            current[key] += "\n" + raw.strip()
            continue
        key, _, value = raw.partition(":")
        key = key.strip().lower()
        current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _keyring(value: str | None) -> str | None:
    """A Signed-By keyring *file* we can pass on; inline key blocks fall back to Debian's keyring."""
    if value and "\n" not in value and not value.startswith("-----") and Path(value.split()[0]).exists():
        return value.split()[0]
    return DEFAULT_KEYRING if Path(DEFAULT_KEYRING).exists() else None


def debian_sources(
    sources_dir: Path = Path("/etc/apt/sources.list.d"),
    sources_list: Path = Path("/etc/apt/sources.list"),
    os_release: dict[str, str] | None = None,
) -> list[AptSource]:
    """The machine's own Debian mirrors (URI, suite, keyring) for the release it runs.

    Only suites of the running release (``bookworm``, ``bookworm-updates``, ``bookworm-security``, ...)
    are kept, so third-party repositories are ignored. Falls back to deb.debian.org and the codename
    from /etc/os-release when the system configuration names none.
    """
    info = _os_release() if os_release is None else os_release
    codename = info.get("VERSION_CODENAME") or info.get("DEBIAN_CODENAME") or ""
    found: list[AptSource] = []

    def keep(uri: str, suite: str, signed_by: str | None) -> None:
        uri = uri.rstrip("/")
        if codename and not (suite == codename or suite.startswith(codename + "-")):
            return
        src = AptSource(uri, suite, _keyring(signed_by))
        if src not in found:
            found.append(src)

    if sources_dir.is_dir():
        for path in sorted(sources_dir.glob("*.sources")):
            try:
                stanzas = _deb822_stanzas(path.read_text())
            except OSError:
                continue
            for st in stanzas:
                if "deb" not in st.get("types", "").split() or st.get("enabled", "yes").lower() == "no":
                    continue
                for uri in st.get("uris", "").split():
                    for suite in st.get("suites", "").split():
                        keep(uri, suite, st.get("signed-by"))
    lists = [sources_list] + (sorted(sources_dir.glob("*.list")) if sources_dir.is_dir() else [])
    for path in lists:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for raw in lines:
            line = raw.split("#", 1)[0].strip()
            if not line.startswith("deb "):
                continue
            signed_by = None
            options = re.search(r"\[(.*?)\]", line)
            if options:
                for opt in options.group(1).split():
                    if opt.startswith("signed-by="):
                        signed_by = opt.split("=", 1)[1]
                line = line[: options.start()] + line[options.end():]
            parts = line.split()
            if len(parts) >= 3:
                keep(parts[1], parts[2], signed_by)
    if not found and codename:
        keyring = _keyring(None)
        found = [
            AptSource("http://deb.debian.org/debian", codename, keyring),
            AptSource("http://deb.debian.org/debian", f"{codename}-updates", keyring),
            AptSource("http://deb.debian.org/debian-security", f"{codename}-security", keyring),
        ]
    return found


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as exc:
        raise BackendUnavailable(f"{what}: {cmd[0]} is not installed ({exc})") from exc
    except subprocess.TimeoutExpired as exc:
        raise BackendUnavailable(f"{what}: `{' '.join(cmd[:2])} ...` timed out after 600 s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-6:])
        raise BackendUnavailable(f"{what} failed (exit code {done.returncode}):\n{textwrap.indent(tail, '    ')}")
    return done


def _manual_instructions(directory: Path) -> str:
    return (
        "To provide the library by hand, install the NVIDIA driver's user-space library "
        "(Debian: the non-free package libcuda1; Ubuntu: libnvidia-compute-<version>; or the CUDA "
        f"driver from nvidia.com), or unpack a {DRIVER_PACKAGE} .deb with `dpkg -x` and put its "
        f"{DRIVER_SONAME} into {directory} (or point PINNLMA_CUDA_DRIVER_DIR at a folder that holds it)."
    )


def provision_driver(force: bool = False, directory: Path | None = None) -> Path:
    """Make a ``libcuda.so.1`` available to pinnlma and return its path.

    Idempotent: returns at once when the system already provides the library (a real driver install)
    or when it was provisioned before, unless ``force``. Otherwise downloads Debian's ``libcuda1``
    with a private apt configuration (nothing under /etc or /var/lib/apt is touched) and unpacks it
    with ``dpkg -x`` into ``directory`` (default :func:`driver_dir`). Raises
    :class:`BackendUnavailable` saying what to do when apt-get/dpkg are missing or the download fails.
    """
    directory = driver_dir() if directory is None else Path(directory)
    if not force:
        existing = provisioned_driver(directory)
        if existing is not None:
            return existing
        system = system_driver(exclude=directory)
        if system is not None:
            return system
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise BackendUnavailable(
                f"cannot provision {DRIVER_SONAME}: `{tool}` was not found (this is done with Debian's "
                f"package tools). {_manual_instructions(directory)}"
            )
    sources = debian_sources()
    if not sources:
        raise BackendUnavailable(
            f"cannot provision {DRIVER_SONAME}: found no Debian package source and no VERSION_CODENAME "
            f"in /etc/os-release. {_manual_instructions(directory)}"
        )
    apt = directory / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "etc"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    source_file = apt / "etc" / "sources.list"
    # libcuda1 is in "non-free" on Debian (>= 12 splits firmware into "non-free-firmware", not drivers)
    source_file.write_text("".join(src.line("non-free") + "\n" for src in sources))
    options = [
        "-o", f"Dir::Etc::SourceList={source_file}",
        "-o", "Dir::Etc::SourceParts=/nonexistent",
        "-o", f"Dir::State::Lists={apt / 'lists'}",
        "-o", f"Dir::Cache={apt / 'cache'}",
        "-o", "Dir::State::status=/var/lib/dpkg/status",
    ]
    if os.geteuid() == 0:
        # as root apt drops to the _apt user for downloads, which cannot write into a private folder
        options += ["-o", "APT::Sandbox::User=root"]
    where = ", ".join(f"{s.uri} {s.suite}" for s in sources)
    _run(["apt-get", *options, "-q", "update"], f"apt-get update (private configuration, {where})")
    for old in apt.glob(f"{DRIVER_PACKAGE}_*.deb"):
        old.unlink()
    try:
        _run(["apt-get", *options, "-q", "download", DRIVER_PACKAGE], f"apt-get download {DRIVER_PACKAGE}", cwd=apt)
    except BackendUnavailable as exc:
        raise BackendUnavailable(
            f"{exc}\nThe package {DRIVER_PACKAGE} is in Debian's non-free section ({where}); on other "
            f"distributions it does not exist. {_manual_instructions(directory)}"
        ) from exc
    debs = sorted(apt.glob(f"{DRIVER_PACKAGE}_*.deb"))
    if not debs:
        raise BackendUnavailable(f"apt-get download {DRIVER_PACKAGE} produced no .deb in {apt}")
    root = directory / "root"
    staging = directory / "root.partial"
    shutil.rmtree(staging, ignore_errors=True)
    _run(["dpkg", "-x", str(debs[-1]), str(staging)], f"dpkg -x {debs[-1].name}")
    found = sorted(p for p in staging.rglob(DRIVER_SONAME) if p.is_file())
    if not found:
        raise BackendUnavailable(f"{debs[-1].name} does not contain {DRIVER_SONAME}")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    library = root / found[0].relative_to(staging)
    lib = directory / "lib"
    lib.mkdir(exist_ok=True)
    for name in (DRIVER_SONAME, "libcuda.so"):
        link = lib / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(library, lib))
    (directory / "PACKAGE").write_text(debs[-1].name + "\n")
    shutil.rmtree(apt, ignore_errors=True)  # package lists, apt cache and the .deb are not needed again
    return lib / DRIVER_SONAME


# --------------------------------------------------------------------------------------------------
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


def count_gpus(driver: ctypes.CDLL | None) -> int:
    """Number of NVIDIA GPUs: /proc/driver/nvidia/gpus when present, else cuInit + cuDeviceGetCount."""
    proc = Path("/proc/driver/nvidia/gpus")
    if proc.is_dir():
        entries = [p for p in proc.iterdir() if p.is_dir()]
        if entries:
            return len(entries)
    if driver is None:
        return 0
    try:
        rc = driver.cuInit(0)
        if rc != 0:  # CUDA_ERROR_NO_DEVICE (100) on a machine without GPU, other codes without a kernel driver
            return 0
        count = ctypes.c_int(0)
        if driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return int(count.value)
    except (AttributeError, OSError):
        return 0


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
       never touched; with a GPU, Legate's own auto-configuration is left alone.

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
        raise BackendUnavailable(
            f"the cupynumeric backend needs the nvidia-cupynumeric package: {INSTALL_HINT}"
        )
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


# --------------------------------------------------------------------------------------------------
# the setup-legate command

_VERIFY = """
import json, sys
from pinnlma.backends.legate_setup import import_cupynumeric, prepare_legate, machine_summary
np = import_cupynumeric()
env = prepare_legate()
a = np.ones((100, 100))
total = float((a @ a).sum())
import legate
print(json.dumps({"sum": total, "legate": getattr(legate, "__version__", "?"),
                  "cupynumeric": getattr(np, "__version__", "?"), "config": env.legate_config,
                  "config_source": env.config_source, "driver": env.driver,
                  "driver_source": env.driver_source, "gpus": env.gpus, "machine": machine_summary()}))
"""


def verify(timeout: float = 300.0) -> dict[str, object]:
    """Import cupynumeric in a fresh interpreter and multiply two 100×100 matrices of ones."""
    import json

    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-c", _VERIFY], env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        reason = next((ln for ln in reversed(lines) if "BackendUnavailable" in ln), lines[-1] if lines else "")
        raise BackendUnavailable(f"verification failed: {reason}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["sum"] != 1_000_000.0:
        raise BackendUnavailable(f"verification computed {result['sum']} instead of 1000000.0")
    return result


def main(argv: list[str] | None = None) -> int:
    """``pinnlma setup-legate``: provision the CUDA driver library if needed, then verify Legate starts."""
    parser = argparse.ArgumentParser(
        prog="pinnlma setup-legate",
        description="Make the cupynumeric (Legate) backend work on this machine, with or without GPU.",
    )
    parser.add_argument("--force", action="store_true", help="download the driver library again")
    parser.add_argument("--no-verify", action="store_true", help="skip the test import of cupynumeric")
    args = parser.parse_args(argv)
    directory = driver_dir()
    print(f"driver folder: {directory}")
    try:
        existing = None if args.force else provisioned_driver(directory)
        system = None if (args.force or existing) else system_driver(exclude=directory)
        if existing is not None:
            print(f"already provisioned: {existing} -> {existing.resolve()}")
        elif system is not None:
            print(f"the system provides {DRIVER_SONAME} ({system}); nothing to download")
        else:
            print(f"no {DRIVER_SONAME} on this system: downloading Debian's {DRIVER_PACKAGE} (private apt setup)")
            library = provision_driver(force=args.force, directory=directory)
            package = (directory / "PACKAGE").read_text().strip() if (directory / "PACKAGE").exists() else "?"
            print(f"unpacked {package}: {library} -> {library.resolve()}")
        if args.no_verify:
            return 0
        print("verifying: import cupynumeric in a new process and compute ones(100,100) @ ones(100,100) ...")
        result = verify()
    except BackendUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    machine = result["machine"]
    print(
        f"ok: sum = {result['sum']:.1f}; legate {result['legate']}, cupynumeric {result['cupynumeric']}; "
        f"driver {result['driver_source']} ({result['driver']}); GPUs {result['gpus']}; "
        f"Legate machine: {machine['cpus']} CPU, {machine['omps']} OpenMP, {machine['gpus']} GPU processor(s)"
    )
    source = {"user": "your LEGATE_CONFIG", "pinnlma": "chosen by pinnlma", "unset": "Legate auto-configuration"}
    print(f"LEGATE_CONFIG: {result['config']!r} ({source.get(str(result['config_source']), '?')})")
    if result["driver_source"] == "provisioned":
        ours = provisioned_driver(directory)
        lib_dir = ours.parent if ours is not None else Path(str(result["driver"])).parent
        print(
            "pinnlma loads this driver library by itself. To use cupynumeric directly outside pinnlma:\n"
            f"  export LD_LIBRARY_PATH={lib_dir}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\n"
            f"  export LEGATE_CONFIG='{cpu_config(1)}'"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
