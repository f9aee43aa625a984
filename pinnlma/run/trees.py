"""Nested state trees between their three forms: live (torch), storable (numpy, for HDF5) and JSON.

A *state tree* is what ``state_dict()`` methods return: dicts of tensors, numbers, strings, bools, None,
lists/tuples of those and nested dicts. :func:`to_storable` turns one into what
:mod:`pinnlma.run.hdf5` writes (tensors → numpy arrays, lists of other things → ``item<i>`` dicts);
:func:`from_storable` turns what was read back into live values, guided by a *template* (a fresh
object's own ``state_dict()``) for the types, and by sensible defaults where the template has nothing
to say (a key it lacks, or None where a value was saved: arrays become tensors). That is how a
checkpoint restores any optimizer's, damping rule's or sampler's state without knowing its inside.
:func:`json_safe` makes a tree JSON-serialisable (non-finite floats → None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["from_storable", "json_safe", "to_storable"]


def _numbers(values: Any) -> bool:
    return all(isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)) for v in values)


def to_storable(tree: Any) -> Any:
    """The tree with tensors as numpy arrays, lists of numbers as float arrays and other lists/tuples as
    ``{"item0": ..., "item1": ...}`` dicts; numbers, strings, bools and None as they are."""
    if isinstance(tree, Tensor):
        return tree.detach().cpu().numpy()
    if isinstance(tree, Mapping):
        return {str(k): to_storable(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)) and tree and _numbers(tree):
        return np.asarray(tree, dtype=np.float64)
    if isinstance(tree, (list, tuple)):
        return {f"item{i}": to_storable(v) for i, v in enumerate(tree)}
    return tree


def from_storable(tree: Any, like: Any = None) -> Any:
    """Inverse of :func:`to_storable`, the types taken from the live template ``like`` where it has them.

    Saved keys are kept (a key the template lacks is decoded without guidance); a tensor in the
    template gives a tensor of its dtype and device; a list gives a list of Python numbers; a number its
    Python type; bytes become str. Without guidance numpy arrays become tensors and numpy scalars
    Python numbers.
    """
    if isinstance(like, Tensor):
        return torch.as_tensor(np.asarray(tree)).to(like)
    if isinstance(like, (list, tuple)) and not isinstance(tree, Mapping):
        values = np.asarray(tree).reshape(-1).tolist()
        return type(like)(values) if isinstance(like, tuple) else values
    if isinstance(tree, Mapping):
        if isinstance(like, (list, tuple)):
            items = [from_storable(tree[f"item{i}"], like[i] if i < len(like) else None) for i in range(len(tree))]
            return type(like)(items)
        guide = like if isinstance(like, Mapping) else {}
        return {k: from_storable(v, guide.get(k)) for k, v in tree.items()}
    if isinstance(tree, bytes):
        return tree.decode()
    if isinstance(like, bool):
        return bool(tree)
    if isinstance(like, int):
        return int(tree)
    if isinstance(like, float):
        return float(tree)
    if isinstance(tree, np.ndarray):
        return torch.as_tensor(tree)
    if isinstance(tree, np.generic):
        return tree.item()
    return tree


def json_safe(obj: Any) -> Any:
    """``obj`` as JSON-serialisable values: non-finite floats → None, numpy/torch scalars and arrays →
    Python numbers and lists, tuples → lists, paths → str, keys → str."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.ndarray, Tensor)):
        return json_safe(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj
