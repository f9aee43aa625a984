"""Nested dicts in HDF5: groups for dicts, datasets for arrays, attributes for numbers, strings and None.

One writer (:func:`write_tree`) and one reader (:func:`read_tree`) for every HDF5 file pinnlma writes:
the run files (:mod:`pinnlma.run.io`) and the paper reproduction's data files. Keys containing "/"
are stored with ":" instead and their original spelling in the attribute ``pinnlma_key``; arrays of
str carry ``pinnlma_str_array``; None is an empty attribute and reads back as None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

__all__ = [
    "INTERNAL",
    "KEY_ATTR",
    "MISSING_ATTR",
    "STR_ATTR",
    "attr_value",
    "h5name",
    "is_scalar",
    "py_value",
    "read_array",
    "read_tree",
    "stored_key",
    "write_array",
    "write_tree",
]

KEY_ATTR = "pinnlma_key"  # original key of a dataset / group whose name had to be escaped
STR_ATTR = "pinnlma_str_array"  # a dataset holding an array of str
MISSING_ATTR = "missing"  # solution/reference written as NaN placeholder
INTERNAL = (KEY_ATTR, STR_ATTR)


def is_scalar(value: Any) -> bool:
    """Whether ``value`` is stored as an attribute (a str, bool, int or float, numpy's included)."""
    return isinstance(value, (str, bool, int, float, np.bool_, np.integer, np.floating))


def h5name(key: str, where: str) -> str:
    """The HDF5 name of ``key`` ("/" → ":"); ValueError for empty, "." / ".." or reserved keys."""
    if not isinstance(key, str) or not key or key in (".", ".."):
        raise ValueError(f"{where}: keys must be non-empty strings other than '.' and '..', got {key!r}")
    if key in INTERNAL:
        raise ValueError(f"{where}: the key {key!r} is reserved")
    return key.replace("/", ":")


def attr_value(value: Any, where: str) -> Any:
    """``value`` as an HDF5 attribute value (numpy scalar or str); TypeError if it cannot be one."""
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


def write_array(
    group: h5py.Group, key: str, arr: np.ndarray, where: str, compression: str | None = None
) -> h5py.Dataset:
    """Store ``arr`` as dataset ``key`` of ``group`` (``compression`` e.g. "gzip" for numeric arrays)."""
    name = h5name(key, where)
    if name in group:
        raise ValueError(f"{where}: two keys map to the HDF5 name {name!r}")
    if arr.dtype.kind == "U":
        ds = group.create_dataset(name, data=arr.astype(object), dtype=h5py.string_dtype())
        ds.attrs[STR_ATTR] = True
    elif arr.dtype.kind in "biufc":
        data = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
        ds = group.create_dataset(name, data=data, compression=compression if arr.ndim else None)
    else:
        raise TypeError(f"{where}: cannot store an array of dtype {arr.dtype}")
    if name != key:
        ds.attrs[KEY_ATTR] = key
    return ds


def write_tree(group: h5py.Group, tree: Mapping[str, Any], where: str = "", compression: str | None = None) -> None:
    """Write the nested dict ``tree`` into ``group``: dicts → groups, numpy arrays and lists of numbers (or of
    str) → datasets, numbers / strings → attributes, None → an empty attribute. ``where`` names the tree
    in error messages; TypeError for values that cannot be stored, ValueError for keys that cannot."""
    for key, value in tree.items():
        here = f"{where}/{key}"
        if not isinstance(key, str):
            raise TypeError(f"{here}: keys must be strings, got {type(key).__name__}")
        if value is None:
            h5name(key, here)
            group.attrs[key] = h5py.Empty("f8")
        elif isinstance(value, Mapping):
            name = h5name(key, here)
            if name in group:
                raise ValueError(f"{here}: two keys map to the HDF5 name {name!r}")
            sub = group.create_group(name, track_order=True)
            if name != key:
                sub.attrs[KEY_ATTR] = key
            write_tree(sub, value, here, compression)
        elif isinstance(value, np.ndarray):
            write_array(group, key, value, here, compression)
        elif isinstance(value, (list, tuple)):
            if all(isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)) for v in value):
                arr = np.asarray(
                    value,
                    dtype=np.float64 if not value or any(isinstance(v, (float, np.floating)) for v in value) else None,
                )
            elif all(isinstance(v, str) for v in value):
                arr = np.asarray(value, dtype=str)
            else:
                raise TypeError(f"{here}: lists may hold only numbers or only strings (use a dict for others)")
            write_array(group, key, arr, here, compression)
        elif is_scalar(value):
            h5name(key, here)
            group.attrs[key] = attr_value(value, here)
        else:
            raise TypeError(
                f"{here}: cannot store a value of type {type(value).__name__} in a run file "
                "(use numpy arrays, numbers, strings, None, lists of numbers and dicts)"
            )


def py_value(value: Any) -> Any:
    """An attribute value as Python: numpy scalars → bool/int/float, empty → None, byte strings → str."""
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


def read_array(ds: h5py.Dataset) -> np.ndarray:
    """A dataset as a numpy array (arrays of str as str)."""
    if ds.attrs.get(STR_ATTR, False):
        return np.asarray(ds.asstr()[()], dtype=str)
    return np.asarray(ds[()])


def stored_key(obj: h5py.HLObject, name: str) -> str:
    """The original key of a group or dataset stored as ``name``."""
    key = obj.attrs.get(KEY_ATTR)
    return str(key) if key is not None else name


def read_tree(group: h5py.Group) -> dict[str, Any]:
    """Inverse of :func:`write_tree`: the nested dict of numpy arrays and Python values under ``group``."""
    out: dict[str, Any] = {}
    for name, value in group.attrs.items():
        if name not in INTERNAL:
            out[name] = py_value(value)
    for name, member in group.items():
        key = stored_key(member, name)
        out[key] = read_tree(member) if isinstance(member, h5py.Group) else read_array(member)
    return out
