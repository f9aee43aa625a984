"""HDF5 run files (a *contract*, see docs/run_file.md): write, read, checkpoint.

Layout of a run file::

    /                     attributes: problem, optimizer, backend, dtype, seed, n_params, n_residuals, status,
                          final_loss, final_rel_l2 (NaN without a reference), pinnlma_version, + extra options
    /history/iteration    1-D, one entry per recorded iteration (all history datasets have the same length)
    /history/time         seconds since the start
    /history/loss         the weighted PINN loss (mean squared residual per block, weighted, summed)
    /history/rel_l2       relative L2 error on the evaluation points (NaN where not evaluated)
    /history/damping      LM damping λ (NaN for the other optimizers)
    /history/...          extra series; a key with "/" (e.g. "loss/pde") is stored as "loss:pde" with its
                          original key in the attribute ``pinnlma_key``
    /params               the final flat parameter vector
    /solution/inputs      evaluation points (N, dim)
    /solution/prediction  (N, outputs) or (N,)
    /solution/reference   same shape as prediction; all NaN (attribute ``missing`` = True) without a reference
    /resume/...           what a resumed run needs: nested dicts → groups, arrays → datasets, numbers /
                          strings → attributes, None → an empty attribute (read back as None)

Files are written to a temporary file in the target folder and moved into place with ``os.replace``,
so a crash or an error never leaves a half-written run file nor damages an existing one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .hdf5 import (
    MISSING_ATTR,
    attr_value,
    is_scalar,
    py_value,
    read_array,
    read_tree,
    stored_key,
    write_array,
    write_tree,
)

__all__ = [
    "REQUIRED_ATTRS",
    "REQUIRED_HISTORY",
    "SOLUTION_KEYS",
    "RunFileError",
    "RunRecord",
    "read_run",
    "save_checkpoint",
    "write_run",
]

REQUIRED_ATTRS = (
    "problem",
    "optimizer",
    "backend",
    "dtype",
    "seed",
    "n_params",
    "n_residuals",
    "status",
    "final_loss",
    "final_rel_l2",
    "pinnlma_version",
)
REQUIRED_HISTORY = ("iteration", "time", "loss", "rel_l2", "damping")
SOLUTION_KEYS = ("inputs", "prediction", "reference")


class RunFileError(ValueError):
    """A file that is not a (complete) pinnlma run file."""


@dataclass
class RunRecord:
    """Everything in a run file.

    ``attrs``: the root attributes (the required ones, see REQUIRED_ATTRS, plus any extra scalar or str);
    ``history``: 1-D arrays of equal length (at least REQUIRED_HISTORY; block losses as "loss/<block>");
    ``params``: the final flat parameters; ``solution``: inputs, prediction and (optional) reference;
    ``resume``: nested dict of numpy arrays, numbers, strings, None (lists of numbers become arrays).
    """

    attrs: dict[str, Any]
    history: dict[str, np.ndarray]
    params: np.ndarray
    solution: dict[str, np.ndarray]
    resume: dict[str, Any] = field(default_factory=dict)


# -- validation ----------------------------------------------------------------------------------------


def _numeric(value: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as err:
        raise ValueError(f"{what} cannot be converted to an array: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}")
    return arr


def _validate(record: RunRecord) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Check the required fields; return history, params and solution as arrays (reference filled in)."""
    if not isinstance(record, RunRecord):
        raise TypeError(f"expected a RunRecord, got {type(record).__name__}")
    missing = [k for k in REQUIRED_ATTRS if k not in record.attrs]
    if missing:
        raise ValueError(f"run record is missing attribute(s): {', '.join(missing)}")
    for key, value in record.attrs.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"attribute names must be non-empty strings, got {key!r}")
        if not is_scalar(value):
            raise ValueError(f"attribute {key!r} must be a number or a string, got {type(value).__name__}")
    missing = [k for k in REQUIRED_HISTORY if k not in record.history]
    if missing:
        raise ValueError(f"run record is missing history series: {', '.join(missing)}")
    history = {}
    for key, value in record.history.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"history keys must be non-empty strings, got {key!r}")
        arr = _numeric(value, f"history[{key!r}]")
        if arr.ndim != 1:
            raise ValueError(f"history[{key!r}] must be 1-D, got shape {arr.shape}")
        history[key] = arr
    lengths = {k: len(v) for k, v in history.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"history series have different lengths: {lengths}")
    if record.params is None:
        raise ValueError("run record is missing params")
    params = _numeric(record.params, "params")
    if params.ndim != 1:
        raise ValueError(f"params must be a flat 1-D vector, got shape {params.shape}")
    missing = [k for k in ("inputs", "prediction") if k not in record.solution or record.solution[k] is None]
    if missing:
        raise ValueError(f"run record is missing solution dataset(s): {', '.join(missing)}")
    solution = {}
    for key, value in record.solution.items():
        if value is None and key == "reference":
            continue
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"solution keys must be non-empty strings without '/', got {key!r}")
        solution[key] = _numeric(value, f"solution[{key!r}]")
    inputs, prediction = solution["inputs"], solution["prediction"]
    if inputs.ndim not in (1, 2) or prediction.ndim not in (1, 2) or len(inputs) != len(prediction):
        raise ValueError(
            f"solution inputs {inputs.shape} and prediction {prediction.shape} must be (N, dim) and "
            "(N, outputs) (or (N,)) with the same N"
        )
    if "reference" in solution and solution["reference"].shape != prediction.shape:
        raise ValueError(
            f"solution reference has shape {solution['reference'].shape}, prediction has {prediction.shape}"
        )
    if not isinstance(record.resume, Mapping):
        raise ValueError(f"resume must be a dict, got {type(record.resume).__name__}")
    return history, params, solution


# -- writing -------------------------------------------------------------------------------------------


def _write(
    f: h5py.File, record: RunRecord, history: dict[str, np.ndarray], params: np.ndarray, solution: dict[str, np.ndarray]
) -> None:
    for key, value in record.attrs.items():
        f.attrs[key] = attr_value(value, f"attribute {key!r}")
    group = f.create_group("history", track_order=True)
    for key, arr in history.items():
        write_array(group, key, arr, "history")
    f.create_dataset("params", data=np.ascontiguousarray(params))
    group = f.create_group("solution", track_order=True)
    for key, arr in solution.items():
        write_array(group, key, arr, "solution")
    if "reference" not in solution:
        prediction = solution["prediction"]
        dtype = prediction.dtype if prediction.dtype.kind == "f" else np.float64
        ds = group.create_dataset("reference", data=np.full(prediction.shape, np.nan, dtype=dtype))
        ds.attrs[MISSING_ATTR] = True
    write_tree(f.create_group("resume", track_order=True), record.resume, "resume")


def write_run(path: str | os.PathLike[str], record: RunRecord, *, overwrite: bool = False) -> Path:
    """Write ``record`` to the HDF5 run file ``path`` atomically; return the path.

    Refuses to replace an existing file unless ``overwrite``; validates the record first (ValueError
    naming what is missing) and raises TypeError for values that cannot be stored. On any error the
    temporary file is removed and an existing ``path`` is left untouched.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it, or choose another --out")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a run file")
    history, params, solution = _validate(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with h5py.File(tmp, "w-", track_order=True) as f:
            _write(f, record, history, params, solution)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (best effort: not every file system allows it)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


def save_checkpoint(path: str | os.PathLike[str], record: RunRecord) -> Path:
    """Periodic checkpoint of the run being written to ``path`` (replaces it atomically)."""
    return write_run(path, record, overwrite=True)


# -- reading -------------------------------------------------------------------------------------------


def check_file_target(path: str | os.PathLike[str], example: str) -> Path:
    """``path`` as a Path, or IsADirectoryError/NotADirectoryError when no file can be written there: it
    is a folder (``example`` names a file to suggest inside it), or a file stands where one of its parent
    folders must go."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file such as {path / example}")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise NotADirectoryError(f"cannot write {path}: {blocking} is a file, not a folder")
    return path


def read_run(path: str | os.PathLike[str]) -> RunRecord:
    """Read a run file written by :func:`write_run`.

    FileNotFoundError when ``path`` does not exist; :class:`RunFileError` (a ValueError) when it is not
    an HDF5 file or lacks what a pinnlma run file must hold. An absent reference reads back as NaNs.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"run file {path} does not exist")
    if path.is_dir() or not h5py.is_hdf5(path):
        raise RunFileError(f"{path} is not an HDF5 file, so not a pinnlma run file")
    try:
        return _read_run(path)
    except (OSError, KeyError) as err:  # a truncated or damaged file: h5py's low-level errors
        raise RunFileError(
            f"{path} cannot be read as a pinnlma run file ({err}); it may be truncated or damaged, "
            "so resume from another copy or start a new run"
        ) from None


def _read_run(path: Path) -> RunRecord:
    with h5py.File(path, "r") as f:
        missing = [f"attribute {k}" for k in REQUIRED_ATTRS if k not in f.attrs]
        missing += [
            f"dataset {p}"
            for p in [f"history/{k}" for k in REQUIRED_HISTORY] + ["params"] + [f"solution/{k}" for k in SOLUTION_KEYS]
            if not isinstance(f.get(p), h5py.Dataset)
        ]
        if missing:
            raise RunFileError(f"{path} is not a pinnlma run file: missing {', '.join(missing)}")
        attrs = {k: py_value(v) for k, v in f.attrs.items()}
        history = {
            stored_key(ds, name): read_array(ds) for name, ds in f["history"].items() if isinstance(ds, h5py.Dataset)
        }
        solution = {
            stored_key(ds, name): read_array(ds) for name, ds in f["solution"].items() if isinstance(ds, h5py.Dataset)
        }
        resume = read_tree(f["resume"]) if isinstance(f.get("resume"), h5py.Group) else {}
        params = np.asarray(f["params"][()])
    return RunRecord(attrs=attrs, history=history, params=params, solution=solution, resume=resume)
