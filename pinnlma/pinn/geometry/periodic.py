"""Matched points on opposite faces of a box, for periodic conditions: :func:`periodic_pairs`."""
from __future__ import annotations

import numpy as np

from ..sampling import Sampler, check_count
from .base import Domain
from .box import Box
from .spacetime import SpaceTime

__all__ = ["periodic_pairs"]


def periodic_pairs(domain: Domain, name: str, n: int, sampler: Sampler) -> tuple[np.ndarray, np.ndarray]:
    """Matched points on the two opposite faces of coordinate ``name``, for periodic conditions.

    Returns (points_min, points_max), both (n, dim): the other coordinates are drawn once with the
    sampler (in dim−1 dimensions, jointly with time for a SpaceTime) and shared, and column ``name``
    is lo in the first array and hi in the second. Works for a :class:`Box` and a
    :class:`SpaceTime` over a Box (``name`` may then also be the time coordinate).
    """
    box = domain if isinstance(domain, Box) else (domain.box if isinstance(domain, SpaceTime) else None)
    if box is None:
        raise ValueError(f"periodic_pairs needs a Box, Interval or SpaceTime over one, got {type(domain).__name__}"
                         + (f" over {type(domain.space).__name__}" if isinstance(domain, SpaceTime) else ""))
    k = box.index(name)
    n = check_count(n)
    other = [j for j in range(box.dim) if j != k]
    u = sampler.unit(n, box.dim - 1)
    low = np.empty((n, box.dim), dtype=np.float64)
    low[:, other] = np.clip(box.lo[other] + box.span[other] * u, box.lo[other], box.hi[other])
    high = low.copy()
    low[:, k], high[:, k] = box.lo[k], box.hi[k]
    return low, high
