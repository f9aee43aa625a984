"""Provisioning the CUDA driver library that cuPyNumeric's wheels need, without root-level changes.

The cuPyNumeric/Legate wheels link against the CUDA *driver* library ``libcuda.so.1`` even when they
will only ever run on CPUs, so on a machine without an NVIDIA driver ``import cupynumeric`` dies with
``OSError: libcuda.so.1: cannot open shared object file``. A driver library without a GPU is harmless:
``cuInit`` reports "no device" and Legate carries on with CPU processors.

:func:`provision_driver` (``pinnlma setup-legate``) downloads Debian's ``libcuda1`` package with a
*private* apt configuration (its own lists and cache, the machine's own Debian mirrors and keyring) and
unpacks it with ``dpkg -x`` into :func:`driver_dir`; :func:`provisioned_driver` and :func:`system_driver`
say where a usable library already is. Failures raise :class:`~pinnlma.backends.base.BackendUnavailable`
with what to do instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ..base import BackendUnavailable

__all__ = [
    "DRIVER_PACKAGE",
    "DRIVER_SONAME",
    "AptSource",
    "debian_sources",
    "driver_dir",
    "provision_driver",
    "provisioned_driver",
    "system_driver",
]

DRIVER_PACKAGE = "libcuda1"
DRIVER_SONAME = "libcuda.so.1"
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

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
    """One Debian package source: URI, suite and keyring."""

    uri: str
    suite: str
    signed_by: str | None

    def line(self, component: str) -> str:
        """The sources.list line for ``component`` (e.g. "non-free")."""
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
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key: str | None = None
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
                line = line[: options.start()] + line[options.end() :]
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
        "-o",
        f"Dir::Etc::SourceList={source_file}",
        "-o",
        "Dir::Etc::SourceParts=/nonexistent",
        "-o",
        f"Dir::State::Lists={apt / 'lists'}",
        "-o",
        f"Dir::Cache={apt / 'cache'}",
        "-o",
        "Dir::State::status=/var/lib/dpkg/status",
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
