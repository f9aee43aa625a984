"""Geometry: domains, their boundaries, and reproducible point sampling.

Every domain is (so far) an axis-aligned box Ω = ∏_k [lo_k, hi_k] with named coordinates, optionally
crossed with a time interval. Points are produced in two steps: a :class:`Sampler` draws points of
the unit cube [0, 1)^d, and the domain maps them affinely, x_k = lo_k + (hi_k − lo_k)·u_k.

All point arrays are numpy float64 of shape (n, dim), columns in the order of ``domain.names``; the
caller converts them to torch with whatever dtype it trains in.

Public names:

- :class:`Sampler` — "uniform", "lhs", "sobol" or "grid" points in [0, 1)^d, with a resumable state.
- :class:`Domain` — the abstract interface (interior, boundary with outward normals, faces, grid, contains).
- :class:`Box` (alias :data:`Rectangle`), :class:`Interval` — boxes of any dimension.
- :class:`SpaceTime` — a spatial domain × [t0, t1], with ``initial`` points at t = t0.
- :func:`periodic_pairs` — matched points on two opposite faces, for periodic conditions.
"""
from __future__ import annotations

import json
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import qmc

__all__ = ["Box", "Domain", "Interval", "Rectangle", "Sampler", "SpaceTime", "periodic_pairs"]

_BELOW_ONE = float(np.nextafter(1.0, 0.0))  # the largest float64 < 1


def _check_count(n: Any, what: str = "n") -> int:
    """``n`` as a positive Python int, else ValueError."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


# --------------------------------------------------------------------------------------------------
# Sampler
# --------------------------------------------------------------------------------------------------


class Sampler:
    """Reproducible points in the unit cube [0, 1)^d.

    Methods:

    - ``"uniform"``: i.i.d. uniform points from a PCG64 generator seeded with ``seed``.
    - ``"lhs"``: Latin hypercube. For each dimension k an independent random permutation π_k of
      {0, …, n−1} and jitter ξ ~ U[0, 1): u_ik = (π_k(i) + ξ_ik) / n, so each of the n strata
      [j/n, (j+1)/n) of every coordinate holds exactly one point.
    - ``"sobol"``: scrambled Sobol' sequence (``scipy.stats.qmc.Sobol``), one engine per dimension d,
      its scrambling seeded from (seed, d). Successive calls with the same d *continue* the sequence,
      so n = 2^m points drawn after a multiple of 2^m points are balanced (a (t, m, d)-net). SciPy's
      warning about n not being a power of 2 is silenced: PINN point counts rarely are, and the
      points are still a good low-discrepancy set.
    - ``"grid"``: a deterministic tensor-product grid of cell centres, (i + ½)/k per coordinate, with
      k = ⌈n^(1/d)⌉ (the smallest k with k^d ≥ n). When n is a perfect d-th power the grid has exactly n
      points. Otherwise the k^d grid points (in ``indexing="ij"`` order, last coordinate fastest) are
      thinned to n by taking the evenly spread indices ⌊i·k^d / n⌋, i = 0, …, n−1. The generator is not
      used, so repeated calls return the same points and the seed has no effect.

    ``dim = 0`` returns an (n, 0) array without touching any state (the faces of a 1-D domain are
    points, with no coordinates of their own).

    :meth:`state_dict` / :meth:`load_state_dict` capture the generator and the Sobol' engines, so a
    resumed run draws exactly the points the uninterrupted run would have drawn.
    """

    methods: tuple[str, ...] = ("uniform", "lhs", "sobol", "grid")

    def __init__(self, method: str = "uniform", seed: int = 0) -> None:
        if method not in self.methods:
            raise ValueError(f"unknown sampling method {method!r}; choose one of {', '.join(self.methods)}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.method = method
        self.seed = int(seed)
        self.rng = np.random.Generator(np.random.PCG64(self.seed))
        self._sobol: dict[int, qmc.Sobol] = {}

    def __repr__(self) -> str:
        return f"Sampler(method={self.method!r}, seed={self.seed})"

    # -- drawing -----------------------------------------------------------------------------------

    def unit(self, n: int, dim: int) -> np.ndarray:
        """``n`` points of [0, 1)^dim as a float64 array (n, dim)."""
        n = _check_count(n)
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 0:
            raise ValueError(f"dim must be a non-negative integer, got {dim!r}")
        dim = int(dim)
        if dim == 0:
            return np.empty((n, 0), dtype=np.float64)
        if self.method == "uniform":
            return self.rng.random((n, dim))
        if self.method == "lhs":
            return self._lhs(n, dim)
        if self.method == "sobol":
            return self._sobol_points(n, dim)
        return self._grid(n, dim)

    def _lhs(self, n: int, dim: int) -> np.ndarray:
        strata = np.stack([self.rng.permutation(n) for _ in range(dim)], axis=1)
        u = (strata + self.rng.random((n, dim))) / n
        return np.minimum(u, _BELOW_ONE)  # (n−1 + ξ)/n may round up to 1.0

    def _engine(self, dim: int, skip: int = 0) -> qmc.Sobol:
        engine = self._sobol.get(dim)
        if engine is None:
            engine = qmc.Sobol(dim, scramble=True, rng=np.random.default_rng([self.seed, dim]))
            if skip:
                engine.fast_forward(skip)
            self._sobol[dim] = engine
        return engine

    def _sobol_points(self, n: int, dim: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            u = self._engine(dim).random(n)
        return np.minimum(np.asarray(u, dtype=np.float64), _BELOW_ONE)

    @staticmethod
    def _grid(n: int, dim: int) -> np.ndarray:
        k = max(1, round(n ** (1.0 / dim)))
        while k**dim < n:
            k += 1
        while k > 1 and (k - 1) ** dim >= n:
            k -= 1
        centres = (np.arange(k, dtype=np.float64) + 0.5) / k
        mesh = np.meshgrid(*([centres] * dim), indexing="ij")
        points = np.stack([m.ravel() for m in mesh], axis=1)
        total = k**dim
        if total > n:
            points = points[(np.arange(n, dtype=np.int64) * total) // n]
        return points

    # -- state -------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The full sampler state as a flat dict of ``str`` and ``int`` values (HDF5/JSON friendly).

        The 128-bit PCG64 words are hex strings; the Sobol' engines are a JSON string mapping each
        dimension to the number of points drawn so far (their scrambling is rebuilt from the seed).
        """
        bit = self.rng.bit_generator.state
        return {
            "method": self.method,
            "seed": self.seed,
            "pcg64_state": format(int(bit["state"]["state"]), "x"),
            "pcg64_inc": format(int(bit["state"]["inc"]), "x"),
            "pcg64_has_uint32": int(bit["has_uint32"]),
            "pcg64_uinteger": int(bit["uinteger"]),
            "sobol": json.dumps({str(d): int(e.num_generated) for d, e in sorted(self._sobol.items())}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (method and seed included); the next draws continue exactly
        where the saved sampler stopped."""
        missing = [k for k in ("method", "seed", "pcg64_state", "pcg64_inc", "pcg64_has_uint32",
                               "pcg64_uinteger", "sobol") if k not in state]
        if missing:
            raise ValueError(f"not a Sampler state dict: missing {', '.join(missing)}")

        def text(v: Any) -> str:
            return v.decode() if isinstance(v, bytes) else str(v)

        method = text(state["method"])
        if method not in self.methods:
            raise ValueError(f"unknown sampling method {method!r} in state; choose one of {', '.join(self.methods)}")
        self.method, self.seed = method, int(state["seed"])
        self.rng = np.random.Generator(np.random.PCG64(self.seed))
        self.rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int(text(state["pcg64_state"]), 16), "inc": int(text(state["pcg64_inc"]), 16)},
            "has_uint32": int(state["pcg64_has_uint32"]),
            "uinteger": int(state["pcg64_uinteger"]),
        }
        self._sobol = {}
        for d, count in json.loads(text(state["sobol"])).items():
            self._engine(int(d), skip=int(count))


# --------------------------------------------------------------------------------------------------
# Domains
# --------------------------------------------------------------------------------------------------


def _parse_where(where: str | None, faces: Sequence[str]) -> list[str]:
    """The faces selected by ``where`` (None = all; one name or a comma-separated list), in the
    canonical order of ``faces``."""
    if where is None:
        return list(faces)
    if not isinstance(where, str):
        raise ValueError(f"where must be a face name or a comma-separated list of them, got {where!r}")
    asked = [w.strip() for w in where.split(",")]
    if not asked or any(not w for w in asked):
        raise ValueError(f"empty face name in where={where!r}; valid faces are {', '.join(faces)}")
    bad = [w for w in asked if w not in faces]
    if bad:
        raise ValueError(f"unknown face {bad[0]!r} in where={where!r}; valid faces are {', '.join(faces)}")
    return [f for f in faces if f in asked]


def _check_names(names: Sequence[str], dim: int) -> tuple[str, ...]:
    names = tuple(names)
    if len(names) != dim:
        raise ValueError(f"{len(names)} coordinate names {names} for {dim} coordinates")
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"coordinate names must be identifiers (letters, digits, _), got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"coordinate names must be distinct, got {names}")
    return names


def _default_names(dim: int) -> tuple[str, ...]:
    return ("x", "y", "z")[:dim] if dim <= 3 else tuple(f"x{i + 1}" for i in range(dim))


class Domain(ABC):
    """A region Ω ⊂ ℝ^dim with named coordinates.

    Subclasses provide ``names``, ``bounds`` (the bounding box, (dim, 2) of [lo, hi]), ``from_unit``
    (the map [0, 1)^dim → Ω used by :meth:`interior`), ``boundary``, ``faces`` and ``contains``.
    """

    @property
    @abstractmethod
    def names(self) -> tuple[str, ...]:
        """Coordinate names, in column order."""

    @property
    @abstractmethod
    def bounds(self) -> np.ndarray:
        """(dim, 2) float64: row k is [lo_k, hi_k] of the bounding box."""

    @abstractmethod
    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map unit-cube points (n, dim) into the domain (n, dim)."""

    @abstractmethod
    def boundary(self, n: int, sampler: Sampler, where: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points on the boundary faces ``where`` (None = all) and their outward unit normals,
        both (n, dim)."""

    @abstractmethod
    def faces(self) -> list[str]:
        """Names of the boundary pieces, valid in ``boundary(where=...)``."""

    @abstractmethod
    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        """Boolean (n,): which points lie in the closed domain (up to ``tol`` relative to its size)."""

    # -- shared behaviour --------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        """Number of coordinates."""
        return len(self.names)

    def index(self, name: str) -> int:
        """Column of coordinate ``name``; ValueError listing the valid names otherwise."""
        if name not in self.names:
            raise ValueError(f"unknown coordinate {name!r}; this domain's coordinates are {', '.join(self.names)}")
        return self.names.index(name)

    def interior(self, n: int, sampler: Sampler) -> np.ndarray:
        """``n`` collocation points (n, dim): ``from_unit(sampler.unit(n, dim))``."""
        return self.from_unit(sampler.unit(_check_count(n), self.dim))

    def axes(self, shape: int | Sequence[int]) -> list[np.ndarray]:
        """The 1-D axes of :meth:`grid`: ``linspace(lo_k, hi_k, shape[k])``, end points included."""
        shape = self._check_shape(shape)
        return [np.linspace(lo, hi, m) for (lo, hi), m in zip(self.bounds, shape, strict=True)]

    def grid(self, shape: int | Sequence[int]) -> np.ndarray:
        """A uniform evaluation grid of the bounding box, end points included, as (∏ shape, dim).

        Built with ``np.meshgrid(*axes, indexing="ij")`` and flattened in C order, so the last
        coordinate varies fastest and ``values.reshape(shape)`` gives the array indexed [i_0, …, i_{d−1}].
        An int ``shape`` is allowed for 1-D domains.
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


class Box(Domain):
    """The box ∏_k [lo_k, hi_k] in any dimension ≥ 1.

    Faces are ``"<name>_min"`` (x_k = lo_k, outward normal −e_k) and ``"<name>_max"`` (x_k = hi_k,
    normal +e_k), ordered coordinate by coordinate. ``boundary(n)`` spreads n points over the chosen
    faces in proportion to their (dim−1)-measure |F_k| = ∏_{j≠k} (hi_j − lo_j) (a point counts 1 in
    1-D), rounded by the largest-remainder rule (ties to the earlier face) so the total is exactly n;
    each face is sampled with the sampler in its own dim−1 coordinates. Points come grouped by face
    in face order.
    """

    def __init__(self, bounds: Sequence[Sequence[float]], names: Sequence[str] | None = None) -> None:
        arr = np.array(bounds, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
            raise ValueError(f"bounds must be a non-empty sequence of (lo, hi) pairs, got {bounds!r}")
        self._names = _check_names(_default_names(arr.shape[0]) if names is None else names, arr.shape[0])
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"bounds must be finite, got {arr.tolist()}")
        for name, (lo, hi) in zip(self._names, arr, strict=True):
            if not lo < hi:
                raise ValueError(f"bounds of {name!r} must have lo < hi, got ({lo}, {hi})")
        self._bounds = arr
        self._bounds.setflags(write=False)

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

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """x = lo + (hi − lo)·u, clipped to [lo, hi] against rounding."""
        u = np.asarray(u, dtype=np.float64)
        return np.clip(self.lo + self.span * u, self.lo, self.hi)

    def faces(self) -> list[str]:
        return [f"{name}_{side}" for name in self._names for side in ("min", "max")]

    def _face(self, face: str) -> tuple[int, bool]:
        """(coordinate index, is the max side) of a face name."""
        k, side = divmod(self.faces().index(face), 2)
        return k, bool(side)

    def face_measure(self, face: str) -> float:
        """(dim−1)-measure of a face: ∏_{j≠k} (hi_j − lo_j) (1 for the end points of a 1-D box)."""
        k, _ = self._face(_parse_where(face, self.faces())[0])
        return float(np.prod(np.delete(self.span, k)))

    def face_counts(self, n: int, where: str | None = None) -> dict[str, int]:
        """How ``boundary(n, where=where)`` splits n points over the faces (largest remainder on
        n·|F| / Σ|F|, ties to the earlier face); the counts sum to exactly n."""
        n = _check_count(n)
        faces = _parse_where(where, self.faces())
        measures = np.array([self.face_measure(f) for f in faces])
        quotas = n * measures / measures.sum()
        counts = np.floor(quotas).astype(np.int64)
        frac = np.round(quotas - counts, 12)
        order = np.argsort(-frac, kind="stable")
        counts[order[: n - int(counts.sum())]] += 1
        return {f: int(c) for f, c in zip(faces, counts, strict=True)}

    def boundary(self, n: int, sampler: Sampler, where: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        points, normals = [], []
        for face, count in self.face_counts(n, where).items():
            if count == 0:
                continue
            k, is_max = self._face(face)
            other = [j for j in range(self.dim) if j != k]
            u = sampler.unit(count, self.dim - 1)
            p = np.empty((count, self.dim), dtype=np.float64)
            p[:, other] = np.clip(self.lo[other] + self.span[other] * u, self.lo[other], self.hi[other])
            p[:, k] = self.hi[k] if is_max else self.lo[k]
            nrm = np.zeros((count, self.dim), dtype=np.float64)
            nrm[:, k] = 1.0 if is_max else -1.0
            points.append(p)
            normals.append(nrm)
        return np.concatenate(points), np.concatenate(normals)

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        slack = tol * self.span
        return np.all((points >= self.lo - slack) & (points <= self.hi + slack), axis=1)


Rectangle = Box
"""Alias of :class:`Box`, for 2-D problems."""


class Interval(Box):
    """The interval [a, b] of coordinate ``name``; faces ``"<name>_min"`` (x = a, normal −1) and
    ``"<name>_max"`` (x = b, normal +1). ``boundary(n)`` puts ⌈n/2⌉ points at a and ⌊n/2⌋ at b."""

    def __init__(self, a: float, b: float, name: str = "x") -> None:
        super().__init__([(a, b)], names=(name,))

    def __repr__(self) -> str:
        return f"Interval({self.a:g}, {self.b:g}, name={self.names[0]!r})"

    @property
    def a(self) -> float:
        return float(self.bounds[0, 0])

    @property
    def b(self) -> float:
        return float(self.bounds[0, 1])


class SpaceTime(Domain):
    """Space × time, Ω × [t0, t1], with coordinates ``space.names + (time_name,)`` (time last).

    - ``interior``: the sampler draws dim+1 coordinates jointly (e.g. a Latin hypercube in space-time).
    - ``boundary``: the lateral boundary ∂Ω × [t0, t1]; faces are the spatial faces, normals have a 0
      time component. For a box Ω each face F × [t0, t1] is sampled jointly in its dim coordinates,
      with the split proportional to |F| as for :class:`Box`.
    - ``initial``: points of Ω × {t0}.
    """

    def __init__(self, space: Domain, t_span: Sequence[float] = (0.0, 1.0), time_name: str = "t") -> None:
        if not isinstance(space, Domain) or isinstance(space, SpaceTime):
            raise ValueError(f"space must be a spatial Domain (Interval, Box, ...), got {type(space).__name__}")
        span = tuple(float(t) for t in t_span)
        if len(span) != 2 or not all(math.isfinite(t) for t in span):
            raise ValueError(f"t_span must be two finite numbers (t0, t1), got {t_span!r}")
        if not span[0] < span[1]:
            raise ValueError(f"t_span must have t0 < t1, got {span}")
        self.space = space
        self.time_name = time_name
        self._names = _check_names(space.names + (time_name,), space.dim + 1)
        self._bounds = np.vstack([space.bounds, [span]])
        self._bounds.setflags(write=False)
        self._box = Box(self._bounds, self._names) if isinstance(space, Box) else None

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

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        t = np.clip(self.t0 + (self.t1 - self.t0) * u[:, -1:], self.t0, self.t1)
        return np.concatenate([self.space.from_unit(u[:, :-1]), t], axis=1)

    def faces(self) -> list[str]:
        return self.space.faces()

    def boundary(self, n: int, sampler: Sampler, where: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        n = _check_count(n)
        faces = _parse_where(where, self.faces())
        if self._box is not None:
            return self._box.boundary(n, sampler, where=",".join(faces))
        points, normals = self.space.boundary(n, sampler, where=",".join(faces))
        t = self.t0 + (self.t1 - self.t0) * sampler.unit(n, 1)
        return (np.concatenate([points, t], axis=1),
                np.concatenate([normals, np.zeros((n, 1))], axis=1))

    def initial(self, n: int, sampler: Sampler) -> np.ndarray:
        """``n`` points (n, dim) of Ω × {t0}: space sampled with the sampler, time column = t0."""
        x = self.space.interior(n, sampler)
        return np.concatenate([x, np.full((x.shape[0], 1), self.t0)], axis=1)

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        points = self._check_points(points)
        slack = tol * (self.t1 - self.t0)
        t = points[:, -1]
        return self.space.contains(points[:, :-1], tol) & (t >= self.t0 - slack) & (t <= self.t1 + slack)


def periodic_pairs(domain: Domain, name: str, n: int, sampler: Sampler) -> tuple[np.ndarray, np.ndarray]:
    """Matched points on the two opposite faces of coordinate ``name``, for periodic conditions.

    Returns (points_min, points_max), both (n, dim): the other coordinates are drawn once with the
    sampler (in dim−1 dimensions, jointly with time for a SpaceTime) and shared, and column ``name``
    is lo in the first array and hi in the second. Works for a :class:`Box` and a
    :class:`SpaceTime` over a Box (``name`` may then also be the time coordinate).
    """
    if isinstance(domain, Box):
        box = domain
    elif isinstance(domain, SpaceTime) and domain._box is not None:
        box = domain._box
    else:
        raise ValueError(f"periodic_pairs needs a Box, Interval or SpaceTime over one, got {type(domain).__name__}")
    k = box.index(name)
    n = _check_count(n)
    other = [j for j in range(box.dim) if j != k]
    u = sampler.unit(n, box.dim - 1)
    low = np.empty((n, box.dim), dtype=np.float64)
    low[:, other] = np.clip(box.lo[other] + box.span[other] * u, box.lo[other], box.hi[other])
    high = low.copy()
    low[:, k], high[:, k] = box.lo[k], box.hi[k]
    return low, high
