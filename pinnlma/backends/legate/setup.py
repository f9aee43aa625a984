"""``pinnlma setup-legate``: provision the CUDA driver library if needed, then check that Legate starts.

Also runnable as ``python -m pinnlma.backends.legate.setup``. :func:`verify` imports cupynumeric in a
fresh interpreter and multiplies two 100×100 matrices of ones there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ...machine import version
from ..base import BackendUnavailable
from .driver import DRIVER_PACKAGE, DRIVER_SONAME, driver_dir, provision_driver, provisioned_driver, system_driver
from .runtime import cpu_config

__all__ = ["main", "verify"]
# the setup-legate command

_VERIFY = """
import json, sys
from pinnlma.backends.legate.runtime import import_cupynumeric, prepare_legate, machine_summary
np = import_cupynumeric()
env = prepare_legate()
a = np.ones((100, 100))
total = float((a @ a).sum())
print(json.dumps({"sum": total, "config": env.legate_config,
                  "config_source": env.config_source, "driver": env.driver,
                  "driver_source": env.driver_source, "gpus": env.gpus, "machine": machine_summary()}))
"""


def verify(timeout: float = 300.0) -> dict[str, Any]:
    """Import cupynumeric in a fresh interpreter and multiply two 100×100 matrices of ones."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", _VERIFY], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
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
        f"ok: sum = {result['sum']:.1f}; legate {version('legate')}, cupynumeric {version('nvidia-cupynumeric')}; "
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
