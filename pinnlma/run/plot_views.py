"""What a run figure draws of a solution with two or more input coordinates: the plane, the points
in it, and which parts of the plane lie outside the domain.

- 2-D inputs are drawn as they are (a coordinate named "t" on the horizontal axis).
- 3 or more inputs are drawn on a slice: two free coordinates, every other one fixed — at the value
  given in ``plot_slice`` ("z=0.5", "z=0.5,t=1"), else at the middle of its range (interior mid-planes,
  not a face where the solution is often trivially zero). With a ``predict`` function and an exact
  reference (or none) the slice is evaluated afresh on a 121 × 121 grid; otherwise it is cut from the
  stored evaluation points: the grid plane nearest the asked value, or a thin slab around it when the
  points are scattered (e.g. a reference's own unstructured nodes).
- Points on a tensor grid (full, or a grid with the outside of the domain removed) are drawn as
  cells, holes blank; scattered points are triangulated (Delaunay), and triangles whose centroid lies
  outside the domain are masked so holes stay blank. Without the domain, triangles with an edge longer
  than 4× the median longest edge are masked instead.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.tri import Triangulation

__all__ = ["View", "grid_layout", "make_view", "parse_plot_slice", "triangulation"]

Inside = Callable[[np.ndarray], np.ndarray]
"""Plotted-plane points (m, 2) → which lie in the domain (m,) bool."""

_SLICE_GRID = 121


@dataclass
class View:
    """Plotted points (m, 2) in (horizontal, vertical) order, values there (m, outputs), axis labels,
    a note for titles (" at z=0.5"), the in-domain test of plane points (None: unknown) and whether
    the axes share one length scale."""

    points: np.ndarray
    prediction: np.ndarray
    reference: np.ndarray | None
    labels: tuple[str, str]
    note: str = ""
    inside: Inside | None = None
    equal_aspect: bool = False


def parse_plot_slice(spec: str | Mapping[str, float] | None, names: Sequence[str]) -> dict[str, float]:
    """``"z=0.5"`` / ``"z=0.5,t=1"`` / {"z": 0.5} → {name: value}, checked against the coordinate
    ``names``; ValueError saying what is wrong."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        items = []
        for part in str(spec).split(","):
            if part.count("=") != 1:
                raise ValueError(f"plot slice {spec!r}: write NAME=VALUE pairs separated by commas, e.g. z=0.5")
            key, value = part.split("=")
            items.append((key.strip(), value.strip()))
    out: dict[str, float] = {}
    for key, value in items:
        if key not in names:
            raise ValueError(f"plot slice {spec!r}: unknown coordinate {key!r}; the coordinates are {', '.join(names)}")
        if key in out:
            raise ValueError(f"plot slice {spec!r}: coordinate {key!r} given twice")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"plot slice {spec!r}: {key}={value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"plot slice {spec!r}: {key}={value!r} is not finite")
        out[key] = number
    if out and len(names) - len(out) < 2:
        raise ValueError(f"plot slice {spec!r} fixes {len(out)} of the {len(names)} coordinates "
                         f"({', '.join(names)}); leave two free to draw")
    return out


def _ordered(free: Sequence[int], coords: Sequence[str], time_name: str) -> tuple[int, int]:
    """The two drawn columns, time (if drawn) horizontal."""
    h, v = free[0], free[1]
    if coords[v] == time_name:
        h, v = v, h
    return h, v


def make_view(inputs: np.ndarray, prediction: np.ndarray, reference: np.ndarray | None, coords: Sequence[str], *,
              contains: Callable[[np.ndarray], np.ndarray] | None = None, bounds: np.ndarray | None = None,
              reference_fn: Callable[[np.ndarray], np.ndarray] | None = None, fresh_ok: bool = False,
              predict: Callable[[np.ndarray], np.ndarray] | None = None,
              plot_slice: str | Mapping[str, float] | None = None, time_name: str = "t") -> View:
    """The :class:`View` of a solution with ≥ 2 input coordinates (see the module docstring).

    ``contains``/``bounds``: the domain's membership test and bounding box (None: unknown, the box
    of the points is used); ``predict``: the model, for fresh slices; ``reference_fn``: the exact
    reference, for fresh slices; ``fresh_ok``: whether a fresh slice may be drawn without
    ``reference_fn`` (the problem has no reference at all)."""
    dim = inputs.shape[1]
    if dim == 2 and plot_slice:
        raise ValueError(f"plot slice {plot_slice!r}: the inputs have only two coordinates ({', '.join(coords)}), "
                         "there is nothing to slice")
    fixed = parse_plot_slice(plot_slice, coords)
    if bounds is None:
        bounds = np.stack([inputs.min(axis=0), inputs.max(axis=0)], axis=1)
    spatial = [c for c in coords if c != time_name]
    free = [k for k, c in enumerate(coords) if c not in fixed]
    h, v = _ordered(free, coords, time_name)
    others = [k for k in range(dim) if k not in (h, v)]
    target = {k: fixed.get(coords[k], 0.5 * (bounds[k, 0] + bounds[k, 1])) for k in others}
    for k, value in target.items():
        lo, hi = bounds[k]
        if not lo - 1e-9 * (hi - lo) <= value <= hi + 1e-9 * (hi - lo):
            raise ValueError(f"plot slice {coords[k]}={value:g} is outside the domain's range [{lo:g}, {hi:g}]")

    def embed(plane: np.ndarray, values: Mapping[int, float]) -> np.ndarray:
        full = np.empty((len(plane), dim))
        full[:, h], full[:, v] = plane[:, 0], plane[:, 1]
        for k, value in values.items():
            full[:, k] = value
        return full

    def inside_for(values: Mapping[int, float]) -> Inside | None:
        return None if contains is None else (lambda plane: contains(embed(plane, values)))

    labels = (coords[h], coords[v])
    ranges = bounds[[h, v], 1] - bounds[[h, v], 0]
    equal = contains is not None and labels[0] in spatial and labels[1] in spatial and \
        1 / 3 <= ranges[0] / ranges[1] <= 3
    if dim == 2:
        return View(inputs[:, [h, v]], prediction, reference, labels, "", inside_for({}), equal)
    note = " at " + ", ".join(f"{coords[k]}={target[k]:.3g}" for k in others)
    fresh = predict is not None and (reference_fn is not None or fresh_ok)
    if fresh:
        axes = [np.linspace(bounds[k, 0], bounds[k, 1], _SLICE_GRID) for k in (h, v)]
        plane = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)
        full = embed(plane, target)
        keep = contains(full) if contains is not None else np.ones(len(full), dtype=bool)
        if keep.sum() < 3:
            raise ValueError(f"the slice{note} does not cut the domain; choose another --plot-slice")
        full, plane = full[keep], plane[keep]
        pred = np.asarray(predict(full), dtype=float).reshape(len(full), -1)
        ref = None if reference_fn is None else np.asarray(reference_fn(full), dtype=float).reshape(len(full), -1)
        return View(plane, pred, ref, labels, note, inside_for(target), equal)
    chosen, note = _cut(inputs, coords, others, target, bounds)
    ref = reference[chosen] if reference is not None else None
    values = {k: float(np.median(inputs[chosen, k])) for k in others}
    return View(inputs[chosen][:, [h, v]], prediction[chosen], ref, labels, note, inside_for(values), equal)


def _cut(inputs: np.ndarray, coords: Sequence[str], others: Sequence[int], target: Mapping[int, float],
         bounds: np.ndarray) -> tuple[np.ndarray, str]:
    """Indices of the stored points on the slice, and the note saying where it is."""
    chosen = np.arange(len(inputs))
    parts = []
    for k in others:  # the grid plane nearest the asked value, if the points have planes
        column = inputs[chosen, k]
        levels = np.unique(column)
        if len(levels) > max(2, len(chosen) // 3):
            break
        nearest = levels[np.argmin(np.abs(levels - target[k]))]
        chosen = chosen[column == nearest]
        parts.append(f"{coords[k]}={nearest:.3g}")
    else:  # a plane of a grid holds about N^(2/dim) points; a line of repeated values far fewer
        if len(chosen) >= max(3, 0.25 * len(inputs) ** (2 / inputs.shape[1])):
            return chosen, " at " + ", ".join(parts)
    for width in (0.01, 0.02, 0.05, 0.1, 0.2):  # scattered points: a slab around the slice
        keep = np.ones(len(inputs), dtype=bool)
        for k in others:
            keep &= np.abs(inputs[:, k] - target[k]) <= width * (bounds[k, 1] - bounds[k, 0])
        if keep.sum() >= 50 or (width == 0.2 and keep.sum() >= 3):
            where = ", ".join(f"{coords[k]}≈{target[k]:.3g}" for k in others)
            return np.flatnonzero(keep), f" at {where} (±{width:g} of the range)"
    where = ", ".join(f"{coords[k]}={target[k]:g}" for k in others)
    raise ValueError(f"cannot draw the slice {where}: fewer than 3 evaluation points lie near it")


def grid_layout(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """If the 2-D points are (a subset of) a tensor grid with at least a quarter of its nodes present:
    (unique first coords, unique second coords, i, j) with points[p] = (xs[i[p]], ys[j[p]])."""
    xs, i = np.unique(points[:, 0], return_inverse=True)
    ys, j = np.unique(points[:, 1], return_inverse=True)
    i, j = i.ravel(), j.ravel()
    if len(xs) < 2 or len(ys) < 2 or len(xs) * len(ys) > 4 * len(points):
        return None
    if len(np.unique(i * len(ys) + j)) != len(points):
        return None
    return xs, ys, i, j


def triangulation(points: np.ndarray, inside: Inside | None) -> Triangulation:
    """Delaunay triangulation of the 2-D points with the triangles outside the domain masked
    (centroid test with ``inside``; long-edge test without it)."""
    tri = Triangulation(points[:, 0], points[:, 1])
    corners = points[tri.triangles]  # (t, 3, 2)
    if inside is not None:
        mask = ~np.asarray(inside(corners.mean(axis=1)), dtype=bool)
    else:
        scale = np.maximum(points.max(axis=0) - points.min(axis=0), 1e-300)
        scaled = corners / scale
        longest = np.max(np.linalg.norm(scaled - np.roll(scaled, 1, axis=1), axis=2), axis=1)
        mask = longest > 4.0 * np.median(longest)
    if mask.all():
        mask[:] = False
    tri.set_mask(mask)
    return tri
