"""The :class:`Domain` interface every geometry implements, and what its boundary samples look like.

A domain Ω ⊂ ℝ^dim answers: coordinate names and bounding box, ``contains(points)``, its measure
(length, area, volume) and that of its boundary parts, interior samples, and boundary samples with
outward unit normals and the name of the part each point lies on. Subclasses provide ``names``,
``bounds``, ``contains``, ``measure`` and ``boundary_patches``; everything else is built on those:

- interior: an exact map of the unit cube when the shape has one (:meth:`Domain.unit_map`, boxes),
  else rejection of sampler points of the bounding box against ``contains`` (exactly n points);
- boundary: n points split over the selected patches in proportion to their measures (largest
  remainder), each patch sampled uniformly in its own measure (see :mod:`.patches`).

Boundary parts are selected with ``where``: None (all), a part name, a comma-separated list or a
sequence of names (a name selects every patch that carries it as name or tag), or a predicate
``where(points) -> bool mask`` on candidate points of the whole boundary.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from ..sampling import Sampler, SamplingError, check_count, draw_accepted, split_counts
from .patches import Patch, Predicate

Where = Union[str, Sequence[str], Callable[[np.ndarray], np.ndarray], None]
"""Which boundary parts: None (all), a name, "a,b", ["a", "b"], or a predicate on points (n, dim)."""

__all__ = ["BoundarySample", "Domain", "Where", "register_combination"]

_COMBINATIONS: dict[str, Callable[[Domain, Domain], Domain]] = {}
"""How ``a | b``, ``a & b`` and ``a - b`` build their domain, by operator symbol (filled by :mod:`.csg`)."""


def register_combination(symbol: str, build: Callable[[Domain, Domain], Domain]) -> None:
    """Make the operator ``symbol`` ("|", "&" or "-") between two domains call ``build(a, b)``.

    :mod:`.csg` registers Union, Intersection and Difference when the geometry package is imported, so
    the base interface needs no import of the classes built on it."""
    if symbol not in ("|", "&", "-"):
        raise ValueError(f"unknown domain operator {symbol!r}; use '|', '&' or '-'")
    _COMBINATIONS[symbol] = build


def _combine(symbol: str, a: Domain, b: object) -> Domain:
    if not isinstance(b, Domain):
        raise TypeError(f"cannot combine a domain with {type(b).__name__} by {symbol!r}; both sides must be domains")
    if symbol not in _COMBINATIONS:
        raise RuntimeError("the CSG operations are not registered; import pinnlma.pinn.geometry")
    return _COMBINATIONS[symbol](a, b)


@dataclass
class BoundarySample:
    """Points on a boundary (n, dim), their outward unit normals (n, dim), and the name of the part
    each point lies on (n,) (str)."""

    points: np.ndarray
    normals: np.ndarray
    parts: np.ndarray


def describe(domain: object, limit: int = 160) -> str:
    """``repr(domain)``, shortened to ``limit`` characters for error messages (CSG trees grow long)."""
    text = repr(domain)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_names(names: Sequence[str], dim: int) -> tuple[str, ...]:
    """Coordinate names: ``dim`` distinct identifiers, else ValueError."""
    names = tuple(names)
    if len(names) != dim:
        raise ValueError(f"{len(names)} coordinate names {names} for {dim} coordinates")
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"coordinate names must be identifiers (letters, digits, _), got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"coordinate names must be distinct, got {names}")
    return names


def default_names(dim: int) -> tuple[str, ...]:
    """x, y, z up to 3-D; x1 … xd beyond."""
    return ("x", "y", "z")[:dim] if dim <= 3 else tuple(f"x{i + 1}" for i in range(dim))


def check_part_name(name: object, what: str = "boundary name") -> str:
    """A boundary part name: a non-empty string without commas (``where`` splits on them)."""
    if not isinstance(name, str) or not name.strip() or "," in name or name != name.strip():
        raise ValueError(f"a {what} must be a non-empty string without commas or surrounding spaces, got {name!r}")
    return name


def check_point(value: Sequence[float], what: str, dim: int | None = None) -> np.ndarray:
    """A finite 1-D float64 vector (of length ``dim`` if given), else ValueError naming ``what``."""
    arr = np.array(value, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0 or (dim is not None and arr.size != dim):
        want = f"{dim} numbers" if dim is not None else "a sequence of numbers"
        raise ValueError(f"{what} must be {want}, got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} must be finite, got {arr.tolist()}")
    return arr


def check_length(value: float, what: str) -> float:
    """A finite positive float, else ValueError."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a positive number, got {value!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return x


class Domain(ABC):
    """A region Ω ⊂ ℝ^dim with named coordinates (see the module docstring).

    Subclass hooks: ``names``, ``bounds``, ``measure``, ``contains`` and ``boundary_patches``;
    optionally ``unit_map`` (an exact interior map). Shapes combine with ``|`` (union), ``-``
    (difference) and ``&`` (intersection).
    """

    @property
    @abstractmethod
    def names(self) -> tuple[str, ...]:
        """Coordinate names, in column order."""

    @property
    @abstractmethod
    def bounds(self) -> np.ndarray:
        """(dim, 2) float64: row k is [lo_k, hi_k] of a bounding box."""

    @property
    @abstractmethod
    def measure(self) -> float:
        """Length, area, volume … of Ω (the dim-dimensional measure)."""

    @abstractmethod
    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        """Boolean (n,): which points lie in the closed domain, up to ``tol`` relative to its size
        (tol < 0: at least |tol| inside, which excludes the boundary)."""

    @abstractmethod
    def boundary_patches(self) -> tuple[Patch, ...]:
        """The pieces of ∂Ω, in a fixed order (see :class:`~pinnlma.pinn.geometry.patches.Patch`).
        Public so that CSG and space-time domains can build on any shape."""

    def unit_map(self) -> tuple[int, Callable[[np.ndarray], np.ndarray]] | None:
        """(k, map) when the unit cube [0, 1)^k maps exactly onto Ω with uniform density (a box);
        None when interior points come by rejection from the bounding box (the default)."""
        return None

    # -- shared behaviour --------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Number of coordinates."""
        return len(self.names)

    @property
    def acceptance(self) -> float:
        """measure / volume of the bounding box: the fraction of bounding-box points inside Ω."""
        return float(self.measure / np.prod(self.bounds[:, 1] - self.bounds[:, 0]))

    def index(self, name: str) -> int:
        """Column of coordinate ``name``; ValueError listing the valid names otherwise."""
        if name not in self.names:
            raise ValueError(f"unknown coordinate {name!r}; this domain's coordinates are {', '.join(self.names)}")
        return self.names.index(name)

    def interior(self, n: int, sampler: Sampler) -> np.ndarray:
        """``n`` collocation points (n, dim), uniform in Ω: the exact unit map if there is one, else
        rejection of the sampler's points in the bounding box (exactly n, see
        :func:`~pinnlma.pinn.sampling.draw_accepted`; :class:`~pinnlma.pinn.sampling.SamplingError`
        when the acceptance rate is below :data:`~pinnlma.pinn.sampling.MIN_ACCEPTANCE`)."""
        n = check_count(n)
        mapped = self.unit_map()
        if mapped is not None:
            k, fn = mapped
            return fn(sampler.unit(n, k))
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        span = hi - lo

        def make(u: np.ndarray) -> tuple[np.ndarray]:
            return (np.clip(lo + span * u, lo, hi),)

        (points,) = draw_accepted(sampler, n, self.dim, make, lambda x: self.contains(x, tol=0.0),
                                  self.acceptance, describe(self))
        return points

    def faces(self) -> list[str]:
        """Every name ``where`` accepts: the part names in patch order, then the extra tags."""
        out: list[str] = []
        patches = self.boundary_patches()
        for patch in patches:
            if patch.name not in out:
                out.append(patch.name)
        for patch in patches:
            out.extend(sorted(t for t in patch.tags if t not in out))
        return out

    def select(self, where: Where = None) -> tuple[list[Patch], Predicate | None]:
        """The patches ``where`` selects (in patch order) and the predicate, if one was given."""
        patches = list(self.boundary_patches())
        if where is None:
            return patches, None
        if callable(where):
            return patches, where
        if isinstance(where, str):
            asked = [w.strip() for w in where.split(",")]
        elif isinstance(where, Sequence) and where and all(isinstance(w, str) for w in where):
            asked = [w.strip() for w in where]
        else:
            raise ValueError(f"where must be a part name, a comma-separated list or a list of names, or a predicate "
                             f"on points, got {where!r}")
        faces = self.faces()
        if not asked or any(not w for w in asked):
            raise ValueError(f"empty face name in where={where!r}; valid faces are {', '.join(faces)}")
        bad = [w for w in asked if w not in faces]
        if bad:
            raise ValueError(f"unknown face {bad[0]!r} in where={where!r}; valid faces are {', '.join(faces)}")
        return [p for p in patches if p.tags & set(asked)], None

    def _split(self, n: int, where: Where) -> list[tuple[Patch, int, Predicate | None]]:
        patches, predicate = self.select(where)
        measures = [p.surviving(predicate)[0] for p in patches]
        try:
            counts = split_counts(n, measures)
        except SamplingError:
            raise SamplingError(f"where={where!r} selects no part of the boundary of {describe(self)} (measure 0)") from None
        return [(p, int(c), predicate) for p, c in zip(patches, counts, strict=True)]

    def face_counts(self, n: int, where: Where = None) -> dict[str, int]:
        """How :meth:`boundary` splits n points over the selected parts, by part name (largest
        remainder on n·|part|/Σ|part|, ties to the earlier part); the counts sum to exactly n."""
        out: dict[str, int] = {}
        for patch, count, _ in self._split(check_count(n), where):
            out[patch.name] = out.get(patch.name, 0) + count
        return out

    def boundary_points(self, n: int, sampler: Sampler, where: Where = None) -> BoundarySample:
        """``n`` points on the selected boundary parts, measure-proportional, with outward unit normals
        and part names; grouped by patch in patch order."""
        points, normals, parts = [], [], []
        for patch, count, predicate in self._split(check_count(n), where):
            if count == 0:
                continue
            p, nrm = patch.sample(count, sampler, predicate, what=f"the boundary of {describe(self)}")
            points.append(p)
            normals.append(nrm)
            parts.append(np.full(count, patch.name, dtype=object))
        return BoundarySample(np.concatenate(points), np.concatenate(normals), np.concatenate(parts).astype(str))

    def boundary(self, n: int, sampler: Sampler, where: Where = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` boundary points and their outward unit normals, both (n, dim) (see :meth:`boundary_points`)."""
        sample = self.boundary_points(n, sampler, where)
        return sample.points, sample.normals

    def boundary_measure(self, where: Where = None) -> float:
        """(dim−1)-measure of the selected boundary parts (perimeter, surface area …)."""
        patches, predicate = self.select(where)
        return float(sum(p.surviving(predicate)[0] for p in patches))

    def boundary_measures(self) -> dict[str, float]:
        """Boundary measure of every name in :meth:`faces`."""
        return {name: self.boundary_measure(name) for name in self.faces()}

    def divergence_measure(self) -> float:
        """The measure from the divergence theorem, |Ω| = (1/dim) ∮ x·n dS over the boundary patches
        (exact for uncut patches): how CSG regions compute theirs, and a check for every shape."""
        return float(sum(p.surviving()[1] for p in self.boundary_patches()) / self.dim)

    def axes(self, shape: int | Sequence[int]) -> list[np.ndarray]:
        """The 1-D axes of :meth:`grid`: ``linspace(lo_k, hi_k, shape[k])``, end points included."""
        shape = self._check_shape(shape)
        return [np.linspace(lo, hi, m) for (lo, hi), m in zip(self.bounds, shape, strict=True)]

    def grid(self, shape: int | Sequence[int]) -> np.ndarray:
        """A uniform grid of the bounding box, end points included, as (∏ shape, dim).

        Built with ``np.meshgrid(*axes, indexing="ij")`` and flattened in C order, so the last
        coordinate varies fastest and ``values.reshape(shape)`` gives the array indexed [i_0, …, i_{d−1}].
        An int ``shape`` is allowed for 1-D domains. For a shape other than a box, keep the points
        inside with ``grid[domain.contains(grid)]``.
        """
        mesh = np.meshgrid(*self.axes(shape), indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1)

    def _check_shape(self, shape: int | Sequence[int]) -> tuple[int, ...]:
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (int(shape),)
        shape = tuple(shape)
        if len(shape) != self.dim:
            raise ValueError(f"grid shape {shape} has {len(shape)} entries; this domain has {self.dim} "
                             f"coordinates ({', '.join(self.names)})")
        for m in shape:
            if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
                raise ValueError(f"grid shape entries must be integers >= 2 (both end points), got {shape}")
        return tuple(int(m) for m in shape)

    def _check_points(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        if points.ndim == 1 and points.shape[0] == self.dim:
            points = points[None, :]
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise ValueError(f"points must have shape (n, {self.dim}), got {points.shape}")
        return points

    # -- constructive solid geometry ---------------------------------------------------------------
    def __or__(self, other: Domain) -> Domain:
        """``a | b``: the union (:class:`~pinnlma.pinn.geometry.csg.Union`)."""
        return _combine("|", self, other)

    def __and__(self, other: Domain) -> Domain:
        """``a & b``: the intersection (:class:`~pinnlma.pinn.geometry.csg.Intersection`)."""
        return _combine("&", self, other)

    def __sub__(self, other: Domain) -> Domain:
        """``a - b``: the difference (:class:`~pinnlma.pinn.geometry.csg.Difference`)."""
        return _combine("-", self, other)
