"""Space × time: :class:`SpaceTime` over any spatial domain."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..sampling import Sampler
from .base import Domain, check_names
from .box import Box
from .patches import Patch

__all__ = ["SpaceTime"]


class SpaceTime(Domain):
    """Space × time, Ω × [t0, t1], with coordinates ``space.names + (time_name,)`` (time last).

    - ``interior``: the sampler draws the space and time coordinates jointly (e.g. a Latin hypercube in
      space-time): exactly mapped when Ω is a box, else by rejection against Ω in its bounding box × [t0, t1].
    - ``boundary``: the lateral boundary ∂Ω × [t0, t1]; its parts are Ω's (same names), each patch F × [t0, t1]
      sampled jointly in its own coordinates and time, split in proportion to |F|·(t1 − t0); normals have a 0
      time component.
    - ``initial``: points of Ω × {t0}.
    """

    def __init__(self, space: Domain, t_span: Sequence[float] = (0.0, 1.0), time_name: str = "t") -> None:
        if not isinstance(space, Domain) or isinstance(space, SpaceTime):
            raise ValueError(f"space must be a spatial Domain (Interval, Box, Disk, a CSG shape, ...), "
                             f"got {type(space).__name__}")
        span = tuple(float(t) for t in t_span)
        if len(span) != 2 or not all(math.isfinite(t) for t in span):
            raise ValueError(f"t_span must be two finite numbers (t0, t1), got {t_span!r}")
        if not span[0] < span[1]:
            raise ValueError(f"t_span must have t0 < t1, got {span}")
        self.space = space
        self.time_name = time_name
        self._names = check_names(space.names + (time_name,), space.dim + 1)
        self._bounds = np.vstack([space.bounds, [span]])
        self._bounds.setflags(write=False)
        self._patches = tuple(p.extended(*span) for p in space.boundary_patches())

    def __repr__(self) -> str:
        return f"SpaceTime({self.space!r}, t_span=({self.t0:g}, {self.t1:g}), time_name={self.time_name!r})"

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def bounds(self) -> np.ndarray:
        return self._bounds

    @property
    def t0(self) -> float:
        return float(self._bounds[-1, 0])

    @property
    def t1(self) -> float:
        return float(self._bounds[-1, 1])

    @property
    def measure(self) -> float:
        """|Ω|·(t1 − t0)."""
        return self.space.measure * (self.t1 - self.t0)

    @property
    def box(self) -> Box | None:
        """The space-time box when Ω is a box (used for periodic pairs), else None."""
        return Box(self._bounds, self._names) if isinstance(self.space, Box) else None

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """The exact map of the unit cube for a box Ω: space from the first columns, time from the last."""
        mapped = self.space.unit_map()
        if mapped is None:
            raise ValueError(f"{self.space!r} has no exact unit-cube map; sample it with interior()")
        u = np.asarray(u, dtype=np.float64)
        t = np.clip(self.t0 + (self.t1 - self.t0) * u[:, -1:], self.t0, self.t1)
        return np.concatenate([mapped[1](u[:, :-1]), t], axis=1)

    def unit_map(self) -> tuple[int, Callable[[np.ndarray], np.ndarray]] | None:
        mapped = self.space.unit_map()
        return None if mapped is None else (mapped[0] + 1, self.from_unit)

    def boundary_patches(self) -> tuple[Patch, ...]:
        return self._patches

    def initial(self, n: int, sampler: Sampler) -> np.ndarray:
        """``n`` points (n, dim) of Ω × {t0}: space sampled with the sampler, time column = t0."""
        x = self.space.interior(n, sampler)
        return np.concatenate([x, np.full((x.shape[0], 1), self.t0)], axis=1)

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        slack = tol * (self.t1 - self.t0)
        t = points[:, -1]
        return self.space.contains(points[:, :-1], tol) & (t >= self.t0 - slack) & (t <= self.t1 + slack)
