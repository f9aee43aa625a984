"""The solid circular cylinder along a coordinate axis: :class:`Cylinder`.

With centre c (the midpoint of the axis), radius r, length h along axis k and the two other
coordinates (i, j):

    volume π r² h;  side 2π r h, normal ((x_i − c_i)/r, (x_j − c_j)/r) in (i, j), 0 along k;
    caps "<axis>_min" and "<axis>_max" (x_k = c_k ∓ h/2), area π r² each, normals ∓e_k.

Side points: θ = 2πu₁, x_k = c_k − h/2 + h·u₂ (uniform in area); cap points: ρ = r√u₁, θ = 2πu₂
(uniform in area).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .base import Domain, check_length, check_names, check_part_name, check_point
from .patches import Patch

__all__ = ["Cylinder"]


class Cylinder(Domain):
    """The closed cylinder of ``radius`` and ``height`` around the line through ``center`` along the
    coordinate ``axis`` (a name, default the third). Parts: "side", "<axis>_min", "<axis>_max";
    ``boundary``, if given, is an extra name all three answer to."""

    def __init__(self, center: Sequence[float], radius: float, height: float, axis: str = "z",
                 names: Sequence[str] = ("x", "y", "z"), boundary: str | None = None) -> None:
        self.center = check_point(center, "Cylinder center", 3)
        self.radius = check_length(radius, "Cylinder radius")
        self.height = check_length(height, "Cylinder height")
        self._names = check_names(names, 3)
        if axis not in self._names:
            raise ValueError(f"Cylinder axis must be one of the coordinates {', '.join(self._names)}, got {axis!r}")
        self.axis = axis
        self._k = self._names.index(axis)
        self._ij = [m for m in range(3) if m != self._k]
        half = np.full(3, self.radius)
        half[self._k] = self.height / 2
        self._bounds = np.stack([self.center - half, self.center + half], axis=1)
        self._bounds.setflags(write=False)
        self._tag = None if boundary is None else check_part_name(boundary)
        self._patches = (self._side(), self._cap(False), self._cap(True))

    def __repr__(self) -> str:
        return (f"Cylinder(center={self.center.tolist()}, radius={self.radius:g}, height={self.height:g}, "
                f"axis={self.axis!r})")

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def bounds(self) -> np.ndarray:
        return self._bounds

    @property
    def measure(self) -> float:
        """π r² h."""
        return math.pi * self.radius**2 * self.height

    def _tags(self) -> set[str]:
        return {self._tag} if self._tag else set()

    def _side(self) -> Patch:
        c, r, h, k, (i, j) = self.center, self.radius, self.height, self._k, self._ij
        bottom = c[k] - h / 2

        def place(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            theta = 2.0 * math.pi * u[:, 0]
            n = np.zeros((len(u), 3))
            n[:, i], n[:, j] = np.cos(theta), np.sin(theta)
            p = c + r * n
            p[:, k] = np.clip(bottom + h * u[:, 1], bottom, bottom + h)
            return p, n

        area = 2.0 * math.pi * r * h
        return Patch("side", place, 2, area, r * area, self._bounds[:, 0], self._bounds[:, 1], self._tags())

    def _cap(self, top: bool) -> Patch:
        c, r, k, (i, j) = self.center, self.radius, self._k, self._ij
        level = c[k] + (self.height / 2 if top else -self.height / 2)
        sign = 1.0 if top else -1.0

        def place(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rho, theta = r * np.sqrt(u[:, 0]), 2.0 * math.pi * u[:, 1]
            p = np.empty((len(u), 3))
            p[:, i], p[:, j] = c[i] + rho * np.cos(theta), c[j] + rho * np.sin(theta)
            p[:, k] = level
            n = np.zeros((len(u), 3))
            n[:, k] = sign
            return p, n

        lo, hi = self._bounds[:, 0].copy(), self._bounds[:, 1].copy()
        lo[k] = hi[k] = level
        area = math.pi * r * r
        name = f"{self.axis}_{'max' if top else 'min'}"
        return Patch(name, place, 2, area, sign * level * area, lo, hi, self._tags())

    def boundary_patches(self) -> tuple[Patch, ...]:
        return self._patches

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        i, j = self._ij
        dx, dy = points[:, i] - self.center[i], points[:, j] - self.center[j]
        reach = max(0.0, self.radius * (1.0 + tol))
        along = np.abs(points[:, self._k] - self.center[self._k])
        return (dx * dx + dy * dy <= reach * reach) & (along <= self.height / 2 + tol * self.height)
