"""The ellipse: :class:`Ellipse`.

With centre c, semi-axes a, b and rotation φ (radians, anticlockwise), a point is x = c + R(φ)·q with
q = (a cos θ, b sin θ) on the boundary, and

    area = π a b,   perimeter P = 4 A E(1 − B²/A²)   (A = max(a, b), B = min(a, b), E the complete elliptic
    integral of the second kind with parameter m),
    outward normal n(θ) = R(φ)·(b cos θ, a sin θ) / √(b² cos² θ + a² sin² θ).

The boundary is sampled uniformly in arc length: u ∈ [0, 1) is mapped to the θ whose arc length
s(θ) = ∫₀^θ √(a² sin² t + b² cos² t) dt equals u·P, by linear interpolation in a table of s on
2^14 + 1 nodes (Simpson's rule on each cell), so the density is uniform up to the variation of the speed
within one cell (< 0.1 % even for a:b = 10) while every point lies exactly on the ellipse with its exact
normal.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import ellipe

from .base import Domain, check_length, check_names, check_part_name, check_point
from .patches import Patch

__all__ = ["Ellipse"]

_TABLE = 2**14


class Ellipse(Domain):
    """The closed ellipse with ``center``, ``semi_axes`` (a, b) along its own axes, rotated by ``angle``
    radians; its boundary is the part ``boundary`` (default "boundary")."""

    def __init__(self, center: Sequence[float], semi_axes: Sequence[float], angle: float = 0.0,
                 names: Sequence[str] = ("x", "y"), boundary: str = "boundary") -> None:
        self.center = check_point(center, "Ellipse center", 2)
        axes = check_point(semi_axes, "Ellipse semi_axes", 2)
        self.a = check_length(axes[0], "Ellipse semi-axis a")
        self.b = check_length(axes[1], "Ellipse semi-axis b")
        if not math.isfinite(float(angle)):
            raise ValueError(f"Ellipse angle must be finite, got {angle!r}")
        self.angle = float(angle)
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        self._rotation = np.array([[cos, -sin], [sin, cos]])
        self._names = check_names(names, 2)
        half = np.array([math.hypot(self.a * cos, self.b * sin), math.hypot(self.a * sin, self.b * cos)])
        self._bounds = np.stack([self.center - half, self.center + half], axis=1)
        self._bounds.setflags(write=False)
        self._boundary = check_part_name(boundary)
        self._build_table()
        self._patches = (self._patch(),)

    def __repr__(self) -> str:
        return (f"Ellipse(center={self.center.tolist()}, semi_axes=({self.a:g}, {self.b:g}), "
                f"angle={self.angle:g})")

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def bounds(self) -> np.ndarray:
        return self._bounds

    @property
    def measure(self) -> float:
        """π a b."""
        return math.pi * self.a * self.b

    @property
    def perimeter(self) -> float:
        """4 A E(1 − B²/A²)."""
        big, small = max(self.a, self.b), min(self.a, self.b)
        return float(4.0 * big * ellipe(1.0 - (small / big) ** 2))

    def _speed(self, theta: np.ndarray) -> np.ndarray:
        return np.sqrt((self.a * np.sin(theta)) ** 2 + (self.b * np.cos(theta)) ** 2)

    def _build_table(self) -> None:
        """Arc length s(θ) on θ_j = 2πj/N, Simpson's rule on each cell, scaled to the exact perimeter."""
        theta = np.linspace(0.0, 2.0 * math.pi, _TABLE + 1)
        h = theta[1] - theta[0]
        cells = h / 6.0 * (self._speed(theta[:-1]) + 4.0 * self._speed(theta[:-1] + h / 2) + self._speed(theta[1:]))
        arc = np.concatenate([[0.0], np.cumsum(cells)])
        self._theta, self._arc = theta, arc * (self.perimeter / arc[-1])

    def _patch(self) -> Patch:
        c, rot, a, b = self.center, self._rotation, self.a, self.b
        perimeter = self.perimeter

        def place(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            theta = np.interp(u[:, 0] * perimeter, self._arc, self._theta)
            cos, sin = np.cos(theta), np.sin(theta)
            q = np.stack([a * cos, b * sin], axis=1)
            n = np.stack([b * cos, a * sin], axis=1)
            n /= np.linalg.norm(n, axis=1, keepdims=True)
            return c + q @ rot.T, n @ rot.T

        # ∮ x·n ds = 2·area (divergence theorem, ∇·x = 2)
        return Patch(self._boundary, place, 1, perimeter, 2.0 * self.measure, self._bounds[:, 0], self._bounds[:, 1])

    def boundary_patches(self) -> tuple[Patch, ...]:
        return self._patches

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        q = (points - self.center) @ self._rotation  # coordinates along the ellipse's own axes
        level = (q[:, 0] / self.a) ** 2 + (q[:, 1] / self.b) ** 2
        reach = max(0.0, 1.0 + tol)
        return level <= reach * reach
