"""Constructive solid geometry: :class:`Union` (``a | b``), :class:`Difference` (``a - b``) and
:class:`Intersection` (``a & b``) of any two domains with the same coordinates, nestable.

Membership is the Boolean combination (for A − B: in A and not in the interior of B). The boundary of
the result is made of the operands' boundary patches, each kept whole with filters that decide, point
by point, whether it survives. A point p of a patch with outward normal ñ is on the boundary of the
result, with outward normal ±ñ, when the result is on one side of the surface and not on the other;
with a step δ (10⁻⁹ of the bounding-box diagonal) the rules are

    A ∩ B:  p ∈ ∂A kept if p − δñ ∈ B;   p ∈ ∂B kept if p − δñ ∈ A and p + δñ ∈ A;
    A ∪ B:  p ∈ ∂A kept if p + δñ ∉ B;   p ∈ ∂B kept if p + δñ ∉ A and p − δñ ∉ A;
    A − B:  p ∈ ∂A kept if p − δñ ∉ B;   p ∈ ∂B kept if p + δñ ∈ A and p − δñ ∈ A, with normal −ñ
                                         (it points into B, out of the result).

The second test on ∂B keeps a face the two operands share only once (from A) and drops faces where
they touch from opposite sides, so adjacent boxes unite without an inner wall. Every kept point keeps
its exact analytic normal and its part name (e.g. the sides of a square and the "holes" cut from it).

Boundary samples stay proportional to the surviving measure: each patch's surviving measure is
integrated from its filters (:meth:`~pinnlma.pinn.geometry.patches.Patch.surviving`: exact when nothing
is cut; on a curve the cut points are found by bisection, so 2-D results are exact to ~1e-9, the
size of δ; a surface is integrated along 512 lines, ~1e-5 where a cut crosses the lines), the n points
are split by largest remainder, and each patch is sampled by rejection of its own uniform candidates,
which leaves the survivors uniform. The measure of the region comes from the divergence theorem,
|Ω| = (1/d) Σ_patches ∫ x·n dS, exact when no patch is cut (e.g. a square minus four disks inside it).
"""
from __future__ import annotations

import numpy as np

from ..sampling import SamplingError
from .base import Domain, describe, register_combination
from .patches import Patch

__all__ = ["Difference", "Intersection", "Union"]

_STEP = 1e-9  # δ relative to the bounding-box diagonal


class _Combination(Domain):
    symbol = "?"

    def __init__(self, a: Domain, b: Domain, *more: Domain) -> None:
        if more:
            a, b = type(self)(a, b, *more[:-1]), more[-1]
        from .spacetime import SpaceTime

        for operand in (a, b):
            if not isinstance(operand, Domain) or isinstance(operand, SpaceTime):
                raise TypeError(f"{type(self).__name__} combines spatial domains (Box, Disk, Polygon, ...), got "
                                f"{type(operand).__name__}; build the shape first, then SpaceTime(shape, ...)")
        if a.names != b.names:
            raise ValueError(f"{type(self).__name__} of shapes with different coordinates: {a.names} and {b.names}; "
                             "give both the same names=")
        self.left, self.right = a, b
        self._bounds = self._combined_bounds()
        self._bounds.setflags(write=False)
        hull = np.maximum(a.bounds[:, 1], b.bounds[:, 1]) - np.minimum(a.bounds[:, 0], b.bounds[:, 0])
        step = _STEP * float(np.linalg.norm(hull))
        self._patches = tuple(p for p in self._build(step) if p is not None)
        self._measure: float | None = None
        self._check_not_empty()

    def __repr__(self) -> str:
        return f"({self.left!r} {self.symbol} {self.right!r})"

    def _combined_bounds(self) -> np.ndarray:  # pragma: no cover - each operation defines it
        raise NotImplementedError

    def _build(self, step: float) -> list[Patch | None]:  # pragma: no cover
        raise NotImplementedError

    def _check_not_empty(self) -> None:
        for fine in (False, True):
            if any(p.surviving(fine=fine)[0] > 0 for p in self._patches):
                return
        raise ValueError(f"{type(self).__name__} {describe(self)} is empty (no part of either boundary survives): "
                         "check the positions and sizes of the shapes")

    @property
    def names(self) -> tuple[str, ...]:
        return self.left.names

    @property
    def bounds(self) -> np.ndarray:
        return self._bounds

    @property
    def measure(self) -> float:
        """(1/dim)·Σ ∫ x·n dS over the surviving patches (divergence theorem)."""
        if self._measure is None:
            value = self.divergence_measure()
            scale = float(np.prod(self._bounds[:, 1] - self._bounds[:, 0]))
            if not value > 1e-12 * scale:
                raise SamplingError(f"{describe(self)} has measure {value:.3g}: it is empty or thinner than the boundary "
                                    "quadrature resolves")
            self._measure = value
        return self._measure

    def boundary_patches(self) -> tuple[Patch, ...]:
        return self._patches


class Union(_Combination):
    """A ∪ B (``a | b``); more operands fold left: Union(a, b, c) = (a ∪ b) ∪ c."""

    symbol = "|"

    def _combined_bounds(self) -> np.ndarray:
        a, b = self.left.bounds, self.right.bounds
        return np.stack([np.minimum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])], axis=1)

    def _build(self, step: float) -> list[Patch | None]:
        a, b = self.left, self.right
        out: list[Patch | None] = [p.with_filter(b, step, False) for p in a.boundary_patches()]
        for p in b.boundary_patches():
            q = p.with_filter(a, step, False)
            out.append(None if q is None else q.with_filter(a, -step, False))
        return out

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        return self.left.contains(points, tol) | self.right.contains(points, tol)


class Intersection(_Combination):
    """A ∩ B (``a & b``); more operands fold left. Its bounding box is the overlap of the operands'
    (so ``shape & Box(...)`` also tightens the box interior points are drawn from)."""

    symbol = "&"

    def _combined_bounds(self) -> np.ndarray:
        a, b = self.left.bounds, self.right.bounds
        box = np.stack([np.maximum(a[:, 0], b[:, 0]), np.minimum(a[:, 1], b[:, 1])], axis=1)
        if np.any(box[:, 0] >= box[:, 1]):
            raise ValueError(f"Intersection {describe(self.left)} & {describe(self.right)} is empty: their bounding boxes "
                             "do not overlap")
        return box

    def _build(self, step: float) -> list[Patch | None]:
        a, b = self.left, self.right
        out: list[Patch | None] = [p.with_filter(b, -step, True) for p in a.boundary_patches()]
        for p in b.boundary_patches():
            q = p.with_filter(a, -step, True)
            out.append(None if q is None else q.with_filter(a, step, True))
        return out

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        return self.left.contains(points, tol) & self.right.contains(points, tol)


class Difference(_Combination):
    """A − B (``a - b``): A without the interior of B; more operands subtract in turn:
    Difference(a, b, c) = (a − b) − c. The surviving part of ∂B has normals pointing into B."""

    symbol = "-"

    def _combined_bounds(self) -> np.ndarray:
        return np.array(self.left.bounds)

    def _build(self, step: float) -> list[Patch | None]:
        a, b = self.left, self.right
        out: list[Patch | None] = [p.with_filter(b, -step, False) for p in a.boundary_patches()]
        for p in b.boundary_patches():
            q = p.with_filter(a, step, True)
            q = None if q is None else q.with_filter(a, -step, True)
            out.append(None if q is None else q.flipped())
        return out

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        return self.left.contains(points, tol) & ~self.right.contains(points, -tol)



register_combination("|", Union)
register_combination("&", Intersection)
register_combination("-", Difference)
