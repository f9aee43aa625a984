"""Balls in any dimension: :class:`Ball` (alias :data:`Hypersphere`, as PINNacle and DeepXDE call the
solid ball) and :class:`Disk` (the 2-D ball).

For centre c and radius r in ℝ^d:

    |B| = π^{d/2} / Γ(d/2 + 1) · r^d,      |∂B| = d·|B| / r,      n(x) = (x − c) / r.

The sphere is sampled uniformly in surface measure through an equal-measure map of the unit cube:
d = 2: θ = 2πu; d = 3: Archimedes' map z = 1 − 2u₁, φ = 2πu₂ (equal area); d ≥ 4: the normalised
Gaussian vector n = g/|g| with g_k = Φ⁻¹(u_k) (uniform on the sphere, from d unit coordinates).
Interior points come by rejection from the bounding cube (acceptance |B|/(2r)^d: 0.79 in 2-D, 0.16 in
5-D) up to 6-D, and from the exact map x = c + r·u_{d+1}^{1/d}·n beyond, where rejection would waste
more than 92 % of the candidates.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import ndtri

from .base import Domain, check_length, check_names, check_part_name, check_point, default_names
from .patches import Patch

__all__ = ["Ball", "Disk", "Hypersphere"]

_REJECTION_MAX_DIM = 6
_TINY = 1e-300


def unit_ball_volume(d: int) -> float:
    """π^{d/2} / Γ(d/2 + 1)."""
    return math.pi ** (d / 2) / math.gamma(d / 2 + 1)


def sphere_directions(u: np.ndarray, d: int) -> np.ndarray:
    """Unit vectors (m, d), uniform on S^{d−1}, from unit-cube points (m, k) (k = 1, 2 or d, see the
    module docstring)."""
    if d == 2:
        theta = 2.0 * math.pi * u[:, 0]
        return np.stack([np.cos(theta), np.sin(theta)], axis=1)
    if d == 3:
        z = 1.0 - 2.0 * u[:, 0]
        phi = 2.0 * math.pi * u[:, 1]
        s = np.sqrt(np.maximum(0.0, 1.0 - z * z))
        return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)
    g = ndtri(np.clip(u[:, :d], _TINY, 1.0 - 2**-53))
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    flat = norm[:, 0] == 0.0  # the centre of a grid cube: any direction will do
    g[flat] = 0.0
    g[flat, 0] = 1.0
    norm[flat] = 1.0
    return g / norm


def sphere_unit_dim(d: int) -> int:
    return 1 if d == 2 else (2 if d == 3 else d)


class Ball(Domain):
    """The closed ball |x − c| ≤ r in ℝ^d, d ≥ 2 (d = len(center)).

    ``names``: coordinate names (default x, y, z, or x1 … xd); ``boundary``: the name of its sphere
    (default "boundary"). See the module docstring for the sampling.
    """

    def __init__(self, center: Sequence[float], radius: float, names: Sequence[str] | None = None,
                 boundary: str = "boundary") -> None:
        c = check_point(center, f"{type(self).__name__} center")
        if c.size < 2:
            raise ValueError(f"{type(self).__name__} needs a center with at least 2 coordinates (for 1-D use "
                             f"Interval), got {center!r}")
        self.center = c
        self.center.setflags(write=False)
        self.radius = check_length(radius, f"{type(self).__name__} radius")
        d = c.size
        self._names = check_names(default_names(d) if names is None else names, d)
        self._bounds = np.stack([c - self.radius, c + self.radius], axis=1)
        self._bounds.setflags(write=False)
        self._boundary = check_part_name(boundary)
        self._patches = (self._sphere_patch(),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(center={self.center.tolist()}, radius={self.radius:g})"

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def bounds(self) -> np.ndarray:
        return self._bounds

    @property
    def measure(self) -> float:
        """π^{d/2}/Γ(d/2 + 1)·r^d."""
        return unit_ball_volume(self.dim) * self.radius**self.dim

    def _sphere_patch(self) -> Patch:
        d, c, r = self.dim, self.center, self.radius

        def place(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            n = sphere_directions(u, d)
            return c + r * n, n

        area = d * self.measure / r
        return Patch(self._boundary, place, sphere_unit_dim(d), area, r * area, c - r, c + r)

    def boundary_patches(self) -> tuple[Patch, ...]:
        return self._patches

    def unit_map(self) -> tuple[int, Callable[[np.ndarray], np.ndarray]] | None:
        if self.dim <= _REJECTION_MAX_DIM:
            return None
        d, c, r = self.dim, self.center, self.radius

        def radial(u: np.ndarray) -> np.ndarray:
            return c + r * u[:, d:d + 1] ** (1.0 / d) * sphere_directions(u[:, :d], d)

        return d + 1, radial

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        q = points - self.center
        reach = self.radius * (1.0 + tol)
        return np.einsum("ij,ij->i", q, q) <= reach * reach if reach > 0 else np.zeros(len(points), dtype=bool)


Hypersphere = Ball
"""Alias of :class:`Ball` (the solid ball, as PINNacle's HNd domain ``Hypersphere([0]*5, 1)`` means it)."""


class Disk(Ball):
    """The disk |x − c| ≤ r in the plane; its circle is the part ``boundary`` (default "boundary")."""

    def __init__(self, center: Sequence[float], radius: float, names: Sequence[str] = ("x", "y"),
                 boundary: str = "boundary") -> None:
        check_point(center, "Disk center", 2)
        super().__init__(center, radius, names=names, boundary=boundary)
