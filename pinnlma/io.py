"""HDF5 run files (the *contract* of docs/DESIGN.md): write, read, checkpoint.

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

__all__ = [
    "REQUIRED_ATTRS", "REQUIRED_HISTORY", "SOLUTION_KEYS", "RunFileError", "RunRecord", "read_run",
    "save_checkpoint", "write_run",
]

REQUIRED_ATTRS = ("problem", "optimizer", "backend", "dtype", "seed", "n_params", "n_residuals", "status",
                  "final_loss", "final_rel_l2", "pinnlma_version")
REQUIRED_HISTORY = ("iteration", "time", "loss", "rel_l2", "damping")
SOLUTION_KEYS = ("inputs", "prediction", "reference")

_KEY_ATTR = "pinnlma_key"          # original key of a dataset / group whose name had to be escaped
_STR_ATTR = "pinnlma_str_array"    # a dataset holding an array of str
_MISSING_ATTR = "missing"          # solution/reference written as NaN placeholder
_INTERNAL = (_KEY_ATTR, _STR_ATTR)


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

def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bool, int, float, np.bool_, np.integer, np.floating))


def _numeric(value: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as err:  # noqa: BLE001 - report any conversion failure the same way
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
        if not _is_scalar(value):
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
        raise ValueError(f"solution inputs {inputs.shape} and prediction {prediction.shape} must be (N, dim) and "
                         "(N, outputs) (or (N,)) with the same N")
    if "reference" in solution and solution["reference"].shape != prediction.shape:
        raise ValueError(f"solution reference has shape {solution['reference'].shape}, "
                         f"prediction has {prediction.shape}")
    if not isinstance(record.resume, Mapping):
        raise ValueError(f"resume must be a dict, got {type(record.resume).__name__}")
    return history, params, solution


# -- writing -------------------------------------------------------------------------------------------

def _h5name(key: str, where: str) -> str:
    if not isinstance(key, str) or not key or key in (".", ".."):
        raise ValueError(f"{where}: keys must be non-empty strings other than '.' and '..', got {key!r}")
    if key in _INTERNAL:
        raise ValueError(f"{where}: the key {key!r} is reserved")
    return key.replace("/", ":")


def _attr_value(value: Any, where: str) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value)
    if isinstance(value, (int, np.integer)):
        if not -(2**63) <= int(value) < 2**63:
            raise TypeError(f"{where}: integer {value} does not fit in 64 bits; store it as a string")
        return np.int64(value)
    if isinstance(value, (float, np.floating)):
        return value if isinstance(value, np.floating) else np.float64(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"{where}: cannot store a value of type {type(value).__name__} as an HDF5 attribute")


def _write_array(group: h5py.Group, key: str, arr: np.ndarray, where: str) -> h5py.Dataset:
    name = _h5name(key, where)
    if name in group:
        raise ValueError(f"{where}: two keys map to the HDF5 name {name!r}")
    if arr.dtype.kind == "U":
        ds = group.create_dataset(name, data=arr.astype(object), dtype=h5py.string_dtype())
        ds.attrs[_STR_ATTR] = True
    elif arr.dtype.kind in "biufc":
        ds = group.create_dataset(name, data=arr if arr.flags.c_contiguous else np.ascontiguousarray(arr))
    else:
        raise TypeError(f"{where}: cannot store an array of dtype {arr.dtype}")
    if name != key:
        ds.attrs[_KEY_ATTR] = key
    return ds


def _write_tree(group: h5py.Group, tree: Mapping[str, Any], where: str) -> None:
    for key, value in tree.items():
        here = f"{where}/{key}"
        if not isinstance(key, str):
            raise TypeError(f"{here}: keys must be strings, got {type(key).__name__}")
        if value is None:
            _h5name(key, here)
            group.attrs[key] = h5py.Empty("f8")
        elif isinstance(value, Mapping):
            name = _h5name(key, here)
            if name in group:
                raise ValueError(f"{here}: two keys map to the HDF5 name {name!r}")
            sub = group.create_group(name, track_order=True)
            if name != key:
                sub.attrs[_KEY_ATTR] = key
            _write_tree(sub, value, here)
        elif isinstance(value, np.ndarray):
            _write_array(group, key, value, here)
        elif isinstance(value, (list, tuple)):
            if all(isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)) for v in value):
                arr = np.asarray(value, dtype=np.float64 if not value or any(
                    isinstance(v, (float, np.floating)) for v in value) else None)
            elif all(isinstance(v, str) for v in value):
                arr = np.asarray(value, dtype=str)
            else:
                raise TypeError(f"{here}: lists may hold only numbers or only strings (use a dict for others)")
            _write_array(group, key, arr, here)
        elif _is_scalar(value):
            _h5name(key, here)
            group.attrs[key] = _attr_value(value, here)
        else:
            raise TypeError(f"{here}: cannot store a value of type {type(value).__name__} in a run file "
                            "(use numpy arrays, numbers, strings, None, lists of numbers and dicts)")


def _write(f: h5py.File, record: RunRecord, history: dict[str, np.ndarray], params: np.ndarray,
           solution: dict[str, np.ndarray]) -> None:
    for key, value in record.attrs.items():
        f.attrs[key] = _attr_value(value, f"attribute {key!r}")
    group = f.create_group("history", track_order=True)
    for key, arr in history.items():
        _write_array(group, key, arr, "history")
    f.create_dataset("params", data=np.ascontiguousarray(params))
    group = f.create_group("solution", track_order=True)
    for key, arr in solution.items():
        _write_array(group, key, arr, "solution")
    if "reference" not in solution:
        prediction = solution["prediction"]
        dtype = prediction.dtype if prediction.dtype.kind == "f" else np.float64
        ds = group.create_dataset("reference", data=np.full(prediction.shape, np.nan, dtype=dtype))
        ds.attrs[_MISSING_ATTR] = True
    _write_tree(f.create_group("resume", track_order=True), record.resume, "resume")


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

def _py(value: Any) -> Any:
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return np.array([v.decode() if isinstance(v, bytes) else v for v in value.ravel()]).reshape(value.shape)
    return value


def _read_array(ds: h5py.Dataset) -> np.ndarray:
    if ds.attrs.get(_STR_ATTR, False):
        return np.asarray(ds.asstr()[()], dtype=str)
    return np.asarray(ds[()])


def _key(obj: h5py.HLObject, name: str) -> str:
    key = obj.attrs.get(_KEY_ATTR)
    return str(key) if key is not None else name


def _read_tree(group: h5py.Group) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in group.attrs.items():
        if name not in _INTERNAL:
            out[name] = _py(value)
    for name, member in group.items():
        key = _key(member, name)
        out[key] = _read_tree(member) if isinstance(member, h5py.Group) else _read_array(member)
    return out


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
        raise RunFileError(f"{path} cannot be read as a pinnlma run file ({err}); it may be truncated or damaged, "
                           "so resume from another copy or start a new run") from None


def _read_run(path: Path) -> RunRecord:
    with h5py.File(path, "r") as f:
        missing = [f"attribute {k}" for k in REQUIRED_ATTRS if k not in f.attrs]
        missing += [f"dataset {p}" for p in
                    [f"history/{k}" for k in REQUIRED_HISTORY] + ["params"] + [f"solution/{k}" for k in SOLUTION_KEYS]
                    if not isinstance(f.get(p), h5py.Dataset)]
        if missing:
            raise RunFileError(f"{path} is not a pinnlma run file: missing {', '.join(missing)}")
        attrs = {k: _py(v) for k, v in f.attrs.items()}
        history = {_key(ds, name): _read_array(ds) for name, ds in f["history"].items()
                   if isinstance(ds, h5py.Dataset)}
        solution = {_key(ds, name): _read_array(ds) for name, ds in f["solution"].items()
                    if isinstance(ds, h5py.Dataset)}
        resume = _read_tree(f["resume"]) if isinstance(f.get("resume"), h5py.Group) else {}
        params = np.asarray(f["params"][()])
    return RunRecord(attrs=attrs, history=history, params=params, solution=solution, resume=resume)
