"""Boundary patches: the smooth pieces a boundary is made of, each with exact outward normals.

A :class:`Patch` is the image of the unit cube [0, 1)^k under a map ``place`` that carries the uniform
measure of the cube to the uniform (dim−1)-dimensional measure of the piece (arc length, surface area):
a uniform sample of the cube is a uniform sample of the piece, and

    ∫_patch f dS = |patch| · ∫_[0,1)^k f(place(u)) du.

``place(u)`` returns the points and the piece's own unit normals (the *leaf* normals). Constructive
solid geometry keeps a leaf patch whole and adds :class:`Filter` s: a candidate p with leaf normal n is
kept where ``region.contains(p + offset·n)`` has the wanted value (the offset is a tiny signed step
along n, so the test asks on which side of the cut the two sides of the surface lie), and ``sign``
flips the normal where a difference turns a piece inside out (the surviving part of ∂B in A − B has
normals pointing into B). The measure and the flux moment ∫ x·n dS of a cut patch are integrals of
the filter's verdict over the cube (:meth:`Patch.surviving`; exact when nothing is cut).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.stats import qmc

from ..sampling import Sampler, draw_accepted


class Region(Protocol):
    """What a patch filter needs of a domain: which points it contains."""

    def contains(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        """Boolean (n,): which points lie in the closed region."""
        ...

Place = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
Predicate = Callable[[np.ndarray], np.ndarray]

__all__ = ["Filter", "Patch", "quadrature_points"]


@functools.cache
def quadrature_points(k: int, fine: bool = True) -> np.ndarray:
    """A fixed point set of [0, 1)^k for boundary quadratures (read-only): one point for k = 0,
    a midpoint grid for k = 1, 2 (2^16 / 512² points; 2^12 / 64² coarse), 2^16 scrambled Sobol'
    points (2^12 coarse) from a fixed seed for k ≥ 3."""
    if k == 0:
        u = np.empty((1, 0))
    elif k == 1:
        m = 2**16 if fine else 2**12
        u = ((np.arange(m) + 0.5) / m)[:, None]
    elif k == 2:
        s = 512 if fine else 64
        c = (np.arange(s) + 0.5) / s
        u = np.stack([a.ravel() for a in np.meshgrid(c, c, indexing="ij")], axis=1)
    else:
        u = qmc.Sobol(k, scramble=True, rng=np.random.default_rng(20240917)).random(2**16 if fine else 2**12)
    u.setflags(write=False)
    return u


@dataclass(frozen=True, eq=False)
class Filter:
    """Keep a candidate p (leaf normal n) where ``region.contains(p + offset·n) == inside``.

    ``region`` is a spatial domain; the test uses the first ``region.dim`` columns of the points, so
    it also applies to the space-time extension of a patch (time is the last column)."""

    region: Region
    offset: float
    inside: bool

    def passes(self, points: np.ndarray, leaf_normals: np.ndarray) -> np.ndarray:
        d = self.region.dim
        probe = points[:, :d] + self.offset * leaf_normals[:, :d]
        return self.region.contains(probe, tol=0.0) == self.inside


class Patch:
    """One smooth boundary piece (see the module docstring).

    - ``name``: the part name each of its points carries (e.g. "x_min", "boundary", "holes");
      ``tags``: every name that selects it (its name, plus e.g. the name given to a whole shape).
    - ``unit_dim``: k, the dimension of the unit cube ``place`` maps (dim − 1 for most pieces).
    - ``measure``: (dim−1)-measure of the whole leaf piece; ``moment``: ∫ x·n dS over it with the leaf
      normals (the divergence theorem gives a region's measure as (1/dim)·Σ of its pieces' moments).
    - ``lo``, ``hi``: a bounding box of the leaf piece (lets CSG skip filters that cannot apply).
    - ``sign``: +1 or −1, the outward normal relative to the leaf normal; ``filters``: see :class:`Filter`.
    """

    def __init__(self, name: str, place: Place, unit_dim: int, measure: float, moment: float,
                 lo: np.ndarray, hi: np.ndarray, tags: frozenset[str] | set[str] = frozenset(),
                 sign: float = 1.0, filters: tuple[Filter, ...] = (), base: Patch | None = None,
                 time_span: float = 1.0) -> None:
        self.name = name
        self.tags = frozenset(tags) | {name}
        self.place, self.unit_dim = place, int(unit_dim)
        self.measure, self.moment = float(measure), float(moment)
        self.lo, self.hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        self.sign, self.filters = float(sign), tuple(filters)
        self._base, self._time_span = base, float(time_span)  # space-time extension of ``base``
        self._survival: dict[tuple[Predicate | None, bool], tuple[float, float]] = {}

    def __repr__(self) -> str:
        cut = f", {len(self.filters)} filter(s)" if self.filters else ""
        return f"Patch({self.name!r}, measure={self.measure:.6g}, sign={self.sign:+g}{cut})"

    def _copy(self, **changes: object) -> Patch:
        fields = dict(name=self.name, place=self.place, unit_dim=self.unit_dim, measure=self.measure,
                      moment=self.moment, lo=self.lo, hi=self.hi, tags=self.tags, sign=self.sign,
                      filters=self.filters, base=self._base, time_span=self._time_span)
        fields.update(changes)
        return Patch(**fields)  # type: ignore[arg-type]

    # -- building ----------------------------------------------------------------------------------
    def flipped(self) -> Patch:
        """The same piece with its normals reversed."""
        return self._copy(sign=-self.sign, base=None)

    def tagged(self, *names: str) -> Patch:
        """The same piece, also selected by ``names``."""
        return self._copy(tags=self.tags | set(names))

    def with_filter(self, region: Region, step: float, inside: bool) -> Patch | None:
        """Keep only candidates p where ``region.contains(p + step·ñ) == inside``, ñ the current outward
        normal. None when no candidate can pass (the piece lies wholly on the wrong side, judged by
        bounding boxes); the patch itself when every candidate passes."""
        d = region.dim
        box = region.bounds
        reach = abs(step)
        apart = np.any((self.lo[:d] - reach > box[:, 1]) | (self.hi[:d] + reach < box[:, 0]))
        if apart:  # no probe point can be in the region
            return self if not inside else None
        filt = Filter(region, step * self.sign, inside)
        return self._copy(filters=self.filters + (filt,), base=None)

    def extended(self, t0: float, t1: float) -> Patch:
        """This piece × [t0, t1] (time appended as the last coordinate, normals with time component 0)."""
        span = t1 - t0
        place, k = self.place, self.unit_dim

        def place_st(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            p, n = place(u[:, :k])
            t = np.clip(t0 + span * u[:, k:k + 1], t0, t1)
            return np.concatenate([p, t], axis=1), np.concatenate([n, np.zeros((len(n), 1))], axis=1)

        return Patch(self.name, place_st, k + 1, self.measure * span, self.moment * span,
                     np.append(self.lo, t0), np.append(self.hi, t1), self.tags, self.sign, self.filters,
                     base=self, time_span=span)

    # -- sampling ----------------------------------------------------------------------------------
    def keep(self, points: np.ndarray, leaf_normals: np.ndarray) -> np.ndarray:
        """Boolean mask of the candidates that pass every filter."""
        mask = np.ones(len(points), dtype=bool)
        for filt in self.filters:
            alive = np.flatnonzero(mask)
            if alive.size == 0:
                break
            mask[alive] = filt.passes(points[alive], leaf_normals[alive])
        return mask

    def surviving(self, predicate: Predicate | None = None, fine: bool = True) -> tuple[float, float]:
        """(measure, moment) of the part that passes the filters (and ``predicate``), moment with the
        outward normal. Exact when nothing is cut; else, for k = 1 or 2 unit coordinates, along lines
        with bisected cut points (see ``_line_survival``), and for k ≥ 3 the mean over the Sobol' set
        of :func:`quadrature_points` (2^16 points). ``fine=False`` is a cheap first look (used to refuse
        empty shapes). Cached per predicate."""
        key = (predicate, fine)
        if key in self._survival:
            return self._survival[key]
        if not self.filters and predicate is None:
            result = (self.measure, self.sign * self.moment)
        elif self._base is not None and predicate is None:
            m, mom = self._base.surviving(None, fine)
            result = (m * self._time_span, mom * self._time_span)
        elif 1 <= self.unit_dim <= 2:
            result = self._line_survival(predicate, fine)
        else:
            result = self._point_survival(predicate, fine)
        self._survival[key] = result
        return result

    def _accept(self, u: np.ndarray, predicate: Predicate | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        points, leaf = self.place(u)
        mask = self.keep(points, leaf)
        if predicate is not None:
            mask &= _predicate_mask(predicate, points)
        return mask, points, leaf

    def _point_survival(self, predicate: Predicate | None, fine: bool) -> tuple[float, float]:
        """Quadrature over :func:`quadrature_points` (pieces with k ≥ 3 unit coordinates)."""
        u = quadrature_points(self.unit_dim, fine)
        mask, points, leaf = self._accept(u, predicate)
        kept = int(mask.sum())
        if kept == len(u):
            return self.measure, self.sign * self.moment
        if kept == 0:
            return 0.0, 0.0
        flux = np.einsum("ij,ij->i", points[mask], leaf[mask]).sum() / len(u)
        return self.measure * kept / len(u), self.sign * self.measure * flux

    def _line_survival(self, predicate: Predicate | None, fine: bool) -> tuple[float, float]:
        """Surviving measure and moment along lines of the first unit coordinate u₀ (one line for a
        curve; 512 lines at the midpoints of u₁ for a surface): the filter is evaluated on a grid of
        u₀ (2^14 + 2 nodes for a curve, 512 + 2 for a surface, the ends included), every change of
        the verdict between two nodes is located by bisection to 2^-45 of a cell, and x·n is
        integrated over the surviving intervals by 8-point Gauss–Legendre on pieces of at most 1/64.
        Curves are thus exact to rounding; surfaces have the midpoint rule's O(h²) across the lines.
        A change and its reversal within one cell of the grid are not seen."""
        k = self.unit_dim
        n_nodes = (2**14 if k == 1 else 512) if fine else 256
        n_lines = 1 if k == 1 else (512 if fine else 64)
        nodes = np.concatenate([[0.0], (np.arange(n_nodes) + 0.5) / n_nodes, [1.0 - 2**-52]])
        lines = (np.arange(n_lines) + 0.5) / n_lines

        def unit(u0: np.ndarray, line: np.ndarray) -> np.ndarray:
            return u0[:, None] if k == 1 else np.stack([u0, lines[line]], axis=1)

        grid_u0 = np.tile(nodes, n_lines)
        grid_line = np.repeat(np.arange(n_lines), len(nodes))
        ok = self._accept(unit(grid_u0, grid_line), predicate)[0].reshape(n_lines, len(nodes))
        if ok.all():
            return self.measure, self.sign * self.moment
        if not ok.any():
            return 0.0, 0.0
        li, gi = np.nonzero(ok[:, :-1] != ok[:, 1:])
        a, b, va = nodes[gi], nodes[gi + 1], ok[li, gi]
        for _ in range(45):
            mid = 0.5 * (a + b)
            same = self._accept(unit(mid, li), predicate)[0] == va
            a, b = np.where(same, mid, a), np.where(same, b, mid)
        cuts = 0.5 * (a + b)
        starts, ends, owner = [], [], []
        for line in range(n_lines):
            here = np.sort(cuts[li == line])
            edges = np.concatenate([[0.0], here, [1.0]])
            value = bool(ok[line, 0])
            for j in range(len(edges) - 1):
                if value:
                    starts.append(edges[j])
                    ends.append(edges[j + 1])
                    owner.append(line)
                value = not value
        starts_a, ends_a, owner_a = np.array(starts), np.array(ends), np.array(owner, dtype=np.int64)
        length = float(np.sum(ends_a - starts_a)) / n_lines
        pieces = np.maximum(1, np.ceil((ends_a - starts_a) * 64).astype(np.int64))
        piece_owner = np.repeat(np.arange(len(starts_a)), pieces)
        offset = np.arange(len(piece_owner)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        width = (ends_a - starts_a)[piece_owner] / pieces[piece_owner]
        left = starts_a[piece_owner] + offset * width
        x, w = np.polynomial.legendre.leggauss(8)
        u0 = (left[:, None] + 0.5 * width[:, None] * (x[None, :] + 1.0)).ravel()
        weights = (0.5 * width[:, None] * w[None, :]).ravel()
        line_of = np.repeat(owner_a[piece_owner], len(x))
        points, leaf = self.place(unit(u0, line_of))
        flux = float(np.sum(weights * np.einsum("ij,ij->i", points, leaf))) / n_lines
        return self.measure * length, self.sign * self.measure * flux

    def sample(self, n: int, sampler: Sampler, predicate: Predicate | None = None,
               what: str = "a boundary piece") -> tuple[np.ndarray, np.ndarray]:
        """``n`` points uniform on the surviving part and their outward unit normals, (n, dim) each.
        An uncut piece takes exactly n unit points from the sampler; a cut one rejects (see
        :func:`~pinnlma.pinn.sampling.draw_accepted`)."""
        if not self.filters and predicate is None:
            points, leaf = self.place(sampler.unit(n, self.unit_dim))
            return points, self.sign * leaf
        measure, _ = self.surviving(predicate)
        keep = self.keep if predicate is None else (lambda p, nl: self.keep(p, nl) & _predicate_mask(predicate, p))
        points, leaf = draw_accepted(sampler, n, self.unit_dim, self.place, keep, measure / self.measure,
                                     f"{what}, part {self.name!r}")
        return points, self.sign * leaf


def _predicate_mask(predicate: Predicate, points: np.ndarray) -> np.ndarray:
    mask = np.asarray(predicate(points))
    if mask.shape != (len(points),) or mask.dtype != bool:
        raise ValueError(f"a where= predicate must return a boolean array of shape ({len(points)},) for points "
                         f"of shape {points.shape}, got {mask.dtype} {mask.shape}")
    return mask

