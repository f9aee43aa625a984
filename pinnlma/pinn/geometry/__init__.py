"""Geometry: domains, their boundaries and measures, and reproducible point sampling.

Every domain answers the same questions (:class:`Domain`): coordinate names and bounding box,
``contains(points)``, ``measure`` and ``boundary_measure(where)``, ``interior(n, sampler)`` samples
and ``boundary(n, sampler, where)`` samples with exact outward unit normals (``boundary_points`` adds
the name of the part each point lies on). All point arrays are numpy float64 of shape (n, dim),
columns in the order of ``domain.names``.

Public names:

- boxes: :class:`Box` (alias :data:`Rectangle`), :class:`Interval`, :class:`Hypercube`;
- 2-D: :class:`Disk`, :class:`Ellipse`, :class:`Polygon`, :class:`Triangle`;
- 3-D and N-D: :class:`Ball` (alias :data:`Hypersphere`, any dimension), :class:`Cylinder`;
- constructive solid geometry: :class:`Union` (``a | b``), :class:`Difference` (``a - b``),
  :class:`Intersection` (``a & b``), nestable, keeping the names of the boundary parts;
- :class:`SpaceTime` over any of them, :func:`periodic_pairs` for boxes;
- :class:`BoundarySample`, :class:`Patch` (the pieces a boundary is made of), :class:`Domain`;
- :class:`Sampler` (re-exported from :mod:`pinnlma.pinn.sampling`).

The math of each shape is in its module; docs/geometry.md has a worked example.
"""
from ..sampling import Sampler, SamplingError
from .ball import Ball, Disk, Hypersphere
from .base import BoundarySample, Domain, Where
from .box import Box, Hypercube, Interval, Rectangle
from .csg import Difference, Intersection, Union
from .cylinder import Cylinder
from .ellipse import Ellipse
from .patches import Patch
from .periodic import periodic_pairs
from .polygon import Polygon, Triangle
from .spacetime import SpaceTime

__all__ = [
    "Ball", "BoundarySample", "Box", "Cylinder", "Difference", "Disk", "Domain", "Ellipse", "Hypercube",
    "Hypersphere", "Intersection", "Interval", "Patch", "Polygon", "Rectangle", "Sampler", "SamplingError",
    "SpaceTime", "Triangle", "Union", "Where", "periodic_pairs",
]
