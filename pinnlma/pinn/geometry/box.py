"""Axis-aligned boxes ∏_k [lo_k, hi_k] in any dimension: :class:`Box` (alias :data:`Rectangle`),
:class:`Interval`, :class:`Hypercube`.

A box maps the unit cube onto itself exactly, x_k = lo_k + (hi_k − lo_k)·u_k, so its interior samples
keep every property of the sampler (a Latin hypercube stays one). Its faces are ``"<name>_min"``
(x_k = lo_k, outward normal −e_k) and ``"<name>_max"`` (x_k = hi_k, normal +e_k), ordered coordinate
by coordinate; a face has measure |F_k| = ∏_{j≠k} (hi_j − lo_j) (a point counts 1 in 1-D) and is
sampled in its own dim − 1 coordinates.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .base import Domain, check_names, check_part_name, default_names
from .patches import Patch

__all__ = ["Box", "Hypercube", "Interval", "Rectangle"]


class Box(Domain):
    """The box ∏_k [lo_k, hi_k] in any dimension ≥ 1.

    ``bounds``: one (lo, hi) pair per coordinate; ``names``: coordinate names (default x, y, z, or
    x1 … xd beyond 3-D); ``boundary``: an extra name every face answers to (e.g. "outer", so that
    ``where="outer"`` selects the whole box boundary inside a CSG shape).

    ``boundary(n)`` spreads n points over the chosen faces in proportion to |F_k|, rounded by the
    largest-remainder rule (ties to the earlier face) so the total is exactly n; points come grouped
    by face in face order.
    """

    def __init__(self, bounds: Sequence[Sequence[float]], names: Sequence[str] | None = None,
                 boundary: str | None = None) -> None:
        arr = np.array(bounds, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
            raise ValueError(f"bounds must be a non-empty sequence of (lo, hi) pairs, got {bounds!r}")
        self._names = check_names(default_names(arr.shape[0]) if names is None else names, arr.shape[0])
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"bounds must be finite, got {arr.tolist()}")
        for name, (lo, hi) in zip(self._names, arr, strict=True):
            if not lo < hi:
                raise ValueError(f"bounds of {name!r} must have lo < hi, got ({lo}, {hi})")
        self._bounds = arr
        self._bounds.setflags(write=False)
        self._tag = None if boundary is None else check_part_name(boundary)
        self._patches = tuple(self._face_patch(face) for face in self._face_names())

    def __repr__(self) -> str:
        pairs = ", ".join(f"({lo:g}, {hi:g})" for lo, hi in self._bounds)
        return f"{type(self).__name__}(bounds=[{pairs}], names={self._names})"

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def bounds(self) -> np.ndarray:
        return self._bounds

    @property
    def lo(self) -> np.ndarray:
        return self._bounds[:, 0]

    @property
    def hi(self) -> np.ndarray:
        return self._bounds[:, 1]

    @property
    def span(self) -> np.ndarray:
        """hi − lo per coordinate."""
        return self._bounds[:, 1] - self._bounds[:, 0]

    @property
    def measure(self) -> float:
        """∏_k (hi_k − lo_k)."""
        return float(np.prod(self.span))

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """x = lo + (hi − lo)·u, clipped to [lo, hi] against rounding."""
        u = np.asarray(u, dtype=np.float64)
        return np.clip(self.lo + self.span * u, self.lo, self.hi)

    def unit_map(self) -> tuple[int, Callable[[np.ndarray], np.ndarray]]:
        return self.dim, self.from_unit

    def _face_names(self) -> list[str]:
        return [f"{name}_{side}" for name in self._names for side in ("min", "max")]

    def _face(self, face: str) -> tuple[int, bool]:
        """(coordinate index, is the max side) of a face name."""
        k, side = divmod(self._face_names().index(face), 2)
        return k, bool(side)

    def face_measure(self, face: str) -> float:
        """(dim−1)-measure of a face: ∏_{j≠k} (hi_j − lo_j) (1 for the end points of a 1-D box)."""
        patches, _ = self.select(face)
        if len(patches) != 1:
            raise ValueError(f"face_measure takes one face name ({', '.join(self._face_names())}), got {face!r}")
        return patches[0].measure

    def _face_patch(self, face: str) -> Patch:
        k, is_max = self._face(face)
        other = [j for j in range(self.dim) if j != k]
        lo, hi, span = self.lo, self.hi, self.span
        value = hi[k] if is_max else lo[k]
        sign = 1.0 if is_max else -1.0

        def place(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            count = u.shape[0]
            p = np.empty((count, self.dim), dtype=np.float64)
            p[:, other] = np.clip(lo[other] + span[other] * u, lo[other], hi[other])
            p[:, k] = value
            nrm = np.zeros((count, self.dim), dtype=np.float64)
            nrm[:, k] = sign
            return p, nrm

        measure = float(np.prod(np.delete(span, k)))
        face_lo, face_hi = lo.copy(), hi.copy()
        face_lo[k] = face_hi[k] = value
        tags = {self._tag} if self._tag else set()
        return Patch(face, place, self.dim - 1, measure, sign * value * measure, face_lo, face_hi, tags)

    def boundary_patches(self) -> tuple[Patch, ...]:
        return self._patches

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        slack = tol * self.span
        return np.all((points >= self.lo - slack) & (points <= self.hi + slack), axis=1)


Rectangle = Box
"""Alias of :class:`Box`, for 2-D problems."""


class Interval(Box):
    """The interval [a, b] of coordinate ``name``; faces ``"<name>_min"`` (x = a, normal −1) and
    ``"<name>_max"`` (x = b, normal +1). ``boundary(n)`` puts ⌈n/2⌉ points at a and ⌊n/2⌋ at b."""

    def __init__(self, a: float, b: float, name: str = "x", boundary: str | None = None) -> None:
        super().__init__([(a, b)], names=(name,), boundary=boundary)

    def __repr__(self) -> str:
        return f"Interval({self.a:g}, {self.b:g}, name={self.names[0]!r})"

    @property
    def a(self) -> float:
        return float(self.bounds[0, 0])

    @property
    def b(self) -> float:
        return float(self.bounds[0, 1])


class Hypercube(Box):
    """The cube [lo, hi]^dim (PINNacle's PNd domain is ``Hypercube(5)``), faces as for :class:`Box`."""

    def __init__(self, dim: int, lo: float = 0.0, hi: float = 1.0, names: Sequence[str] | None = None,
                 boundary: str | None = None) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"Hypercube dim must be a positive integer, got {dim!r}")
        super().__init__([(lo, hi)] * int(dim), names=names, boundary=boundary)
