"""A reproduction's HDF5 files: data and the summary its generated README quotes.

Every experiment writes ``<out>/<name>.h5``: nested dicts become groups and arrays (or lists of numbers)
gzip-compressed float datasets, through the one nested-dict writer :func:`pinnlma.run.hdf5.write_tree`;
its summary is stored as a JSON string in the root attribute ``summary``, so the report can be rebuilt
from the files alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..run.hdf5 import is_scalar, write_tree
from ..run.trees import json_safe

__all__ = ["prepare_run", "read_summary", "update_summary", "write_h5"]


def _floats(tree: Mapping[str, Any]) -> dict[str, Any]:
    """Leaves that are neither dicts, numbers, strings nor None become float arrays (the files' convention)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out[str(key)] = _floats(value)
        elif value is None or is_scalar(value):
            out[str(key)] = value
        else:
            out[str(key)] = np.asarray(value, dtype=float)
    return out


def write_h5(path: Path, data: Mapping[str, Any], summary: Mapping[str, Any]) -> Path:
    """Write nested ``data`` (dicts → groups, arrays/lists of numbers → datasets, scalars/str → attrs) and
    ``summary`` (as JSON) to ``path``, replacing it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as fh:
        fh.attrs["summary"] = json.dumps(json_safe(summary))
        write_tree(fh, _floats(data), path.name, compression="gzip")
    return path


def read_summary(path: Path) -> dict[str, Any]:
    """The summary JSON stored in an experiment's HDF5 file."""
    with h5py.File(path, "r") as fh:
        return json.loads(fh.attrs["summary"])


def update_summary(path: Path, summary: Mapping[str, Any]) -> None:
    """Replace the summary JSON of an existing experiment file."""
    with h5py.File(path, "a") as fh:
        fh.attrs["summary"] = json.dumps(json_safe(summary))


def prepare_run(
    out: Path | str, size: str, sizes: Mapping[str, Any], experiments: Sequence[str] | None, known: Sequence[str]
) -> tuple[Path, list[str]]:
    """Check a reproduction's ``size`` (a key of ``sizes``) and ``experiments`` (None: all of ``known``),
    create ``out``; return (out, the chosen experiments). ValueError naming the valid choices otherwise."""
    if size not in sizes:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(sizes)}")
    chosen = list(known) if experiments is None else list(experiments)
    unknown = [e for e in chosen if e not in known]
    if unknown:
        raise ValueError(f"unknown experiment(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return folder, chosen
