"""Simple polygons, convex or not, given by their vertices: :class:`Polygon`, :class:`Triangle`.

For vertices v_0 … v_{m−1} (either orientation; the edge i runs from v_i to v_{i+1}, indices mod m):

    signed area A = ½ Σ_i (x_i y_{i+1} − x_{i+1} y_i)   (positive when anticlockwise), area |A|;
    edge i: length L_i = |v_{i+1} − v_i|, outward normal n_i = sign(A)·(Δy_i, −Δx_i)/L_i.

Membership is the even–odd (crossing number) rule, plus a distance-to-edges test for the tolerance;
the constructor refuses fewer than 3 vertices, repeated vertices, self-intersecting or self-touching
outlines (every pair of non-adjacent edges is tested; this also catches edges folding back on each
other) and collinear vertex sets (zero area).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import Domain, check_names, check_part_name
from .patches import Patch

__all__ = ["Polygon", "Triangle"]

_CHUNK = 1 << 15


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


class Polygon(Domain):
    """The closed region inside a simple polygon.

    ``vertices``: (m, 2), m ≥ 3, in order around the outline (a repeated first vertex at the end is
    dropped); ``boundary``: one name for every edge (default "boundary") or a list of m names, edge i
    being v_i → v_{i+1}, so edges can be selected separately (e.g. ["inlet", "wall", "outlet", "wall"]).
    """

    def __init__(self, vertices: Sequence[Sequence[float]], names: Sequence[str] = ("x", "y"),
                 boundary: str | Sequence[str] = "boundary") -> None:
        v = np.array(vertices, dtype=np.float64)
        kind = type(self).__name__
        if v.ndim != 2 or v.shape[1] != 2:
            raise ValueError(f"{kind} vertices must be a sequence of (x, y) pairs, got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{kind} vertices must be finite")
        if len(v) > 1 and np.array_equal(v[0], v[-1]):
            v = v[:-1]
        if len(v) < 3:
            raise ValueError(f"a {kind} needs at least 3 distinct vertices, got {len(v)}")
        self._names = check_names(names, 2)
        self.vertices = v
        self.vertices.setflags(write=False)
        edges = np.roll(v, -1, axis=0) - v
        lengths = np.linalg.norm(edges, axis=1)
        scale = float(np.max(v.max(axis=0) - v.min(axis=0)))
        if np.any(lengths <= 1e-14 * scale):
            i = int(np.argmin(lengths))
            raise ValueError(f"{kind} has a repeated vertex: vertices {i} and {(i + 1) % len(v)} coincide at "
                             f"{v[i].tolist()}")
        self._check_crossings(v, edges, scale)
        signed = 0.5 * float(np.sum(_cross(v, np.roll(v, -1, axis=0))))
        if abs(signed) <= 1e-12 * scale * scale:
            raise ValueError(f"{kind} has zero area (its vertices are collinear): {v.tolist()}")
        self._area = abs(signed)
        self._orientation = 1.0 if signed > 0 else -1.0
        self._edges, self._lengths, self._scale = edges, lengths, scale
        self._bounds = np.stack([v.min(axis=0), v.max(axis=0)], axis=1)
        self._bounds.setflags(write=False)
        if isinstance(boundary, str):
            labels = [check_part_name(boundary)] * len(v)
        else:
            labels = [check_part_name(b) for b in boundary]
            if len(labels) != len(v):
                raise ValueError(f"{kind} boundary names: {len(labels)} names for {len(v)} edges (give one name "
                                 "or one per edge)")
        self.edge_names = tuple(labels)
        self._patches = tuple(self._edge_patch(i) for i in range(len(v)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vertices.tolist()})"

    @staticmethod
    def _check_crossings(v: np.ndarray, edges: np.ndarray, scale: float) -> None:
        """Every pair of non-adjacent edges must be disjoint (touching counts as crossing; an outline that
        folds back on itself always makes a vertex touch a non-adjacent edge, or has zero area)."""
        m = len(v)
        eps = 1e-12 * scale
        a, b = v, v + edges
        i, j = np.triu_indices(m, k=2)
        keep = ~((i == 0) & (j == m - 1))  # the first and last edges share vertex 0
        i, j = i[keep], j[keep]
        if i.size == 0:
            return
        p, r = a[i], edges[i]
        q, s = a[j], edges[j]

        def orient(o: np.ndarray, d: np.ndarray, x: np.ndarray) -> np.ndarray:
            val = _cross(d, x - o)
            return np.where(np.abs(val) <= eps * np.linalg.norm(d, axis=1), 0.0, np.sign(val))

        def on_segment(o: np.ndarray, e: np.ndarray, x: np.ndarray) -> np.ndarray:
            lo, hi = np.minimum(o, e) - eps, np.maximum(o, e) + eps
            return np.all((x >= lo) & (x <= hi), axis=1)

        o1, o2 = orient(p, r, q), orient(p, r, q + s)
        o3, o4 = orient(q, s, p), orient(q, s, p + r)
        proper = (o1 * o2 < 0) & (o3 * o4 < 0)
        touch = ((o1 == 0) & on_segment(p, b[i], q)) | ((o2 == 0) & on_segment(p, b[i], b[j])) \
            | ((o3 == 0) & on_segment(q, b[j], p)) | ((o4 == 0) & on_segment(q, b[j], b[i]))
        bad = np.flatnonzero(proper | touch)
        if bad.size:
            k = bad[0]
            raise ValueError(f"Polygon outline intersects itself: edge {i[k]} ({a[i[k]].tolist()} → "
                             f"{b[i[k]].tolist()}) meets edge {j[k]} ({a[j[k]].tolist()} → {b[j[k]].tolist()}); "
                             "give the vertices in order around a simple outline")

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def bounds(self) -> np.ndarray:
        return self._bounds

    @property
    def measure(self) -> float:
        """|½ Σ_i (x_i y_{i+1} − x_{i+1} y_i)|."""
        return self._area

    def _edge_patch(self, i: int) -> Patch:
        start, edge, length = self.vertices[i], self._edges[i], self._lengths[i]
        normal = self._orientation * np.array([edge[1], -edge[0]]) / length

        def place(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            points = start + u[:, :1] * edge
            return points, np.broadcast_to(normal, points.shape).copy()

        end = start + edge
        return Patch(self.edge_names[i], place, 1, length, float(start @ normal) * length,
                     np.minimum(start, end), np.maximum(start, end))

    def boundary_patches(self) -> tuple[Patch, ...]:
        return self._patches

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        out = np.empty(len(points), dtype=bool)
        for start in range(0, len(points), _CHUNK):
            out[start:start + _CHUNK] = self._contains(points[start:start + _CHUNK], tol)
        return out

    def _contains(self, pts: np.ndarray, tol: float) -> np.ndarray:
        a = self.vertices[None, :, :]
        b = np.roll(self.vertices, -1, axis=0)[None, :, :]
        px, py = pts[:, None, 0], pts[:, None, 1]
        ay, by = a[..., 1], b[..., 1]
        straddle = (ay > py) != (by > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = a[..., 0] + (py - ay) * (b[..., 0] - a[..., 0]) / (by - ay)
        inside = (np.count_nonzero(straddle & (px < x_cross), axis=1) % 2) == 1
        if tol == 0.0:
            return inside
        d = self._edges[None, :, :]
        rel = pts[:, None, :] - a
        t = np.clip(np.sum(rel * d, axis=2) / (self._lengths**2)[None, :], 0.0, 1.0)
        dist = np.min(np.linalg.norm(rel - t[..., None] * d, axis=2), axis=1)
        reach = abs(tol) * self._scale
        return (inside | (dist <= reach)) if tol > 0 else (inside & (dist > reach))


class Triangle(Polygon):
    """The triangle with vertices ``a``, ``b``, ``c`` (either orientation); edges a→b, b→c, c→a."""

    def __init__(self, a: Sequence[float], b: Sequence[float], c: Sequence[float], names: Sequence[str] = ("x", "y"),
                 boundary: str | Sequence[str] = "boundary") -> None:
        super().__init__([a, b, c], names=names, boundary=boundary)
