"""Resumable point samplers and the two helpers every geometry samples with.

- :class:`Sampler` — "uniform", "lhs", "sobol" or "grid" points in [0, 1)^d, with a state that a
  checkpoint stores so that a resumed run draws exactly the points the uninterrupted one would.
- :func:`draw_accepted` — exactly n points of a region by rejection: candidates from the sampler,
  mapped and filtered, batch after batch, with a clear error when the acceptance rate is hopeless.
- :func:`split_counts` — n points over pieces in proportion to their measures (largest remainder).
"""
from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import qmc

__all__ = ["MIN_ACCEPTANCE", "Sampler", "SamplingError", "draw_accepted", "split_counts"]

_BELOW_ONE = float(np.nextafter(1.0, 0.0))  # the largest float64 < 1

MIN_ACCEPTANCE = 1e-3
"""Rejection sampling refuses a region that keeps fewer than this fraction of its candidates."""

_MAX_BATCH = 1 << 21  # candidates per batch (memory bound: 2M points × dim × 8 bytes)


class SamplingError(ValueError):
    """A region cannot be sampled: its acceptance rate is too low, or it is empty."""


def check_count(n: Any, what: str = "n") -> int:
    """``n`` as a positive Python int, else ValueError."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


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
        n = check_count(n)
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
# Helpers shared by the geometries
# --------------------------------------------------------------------------------------------------


def split_counts(n: int, measures: Sequence[float]) -> np.ndarray:
    """n split over pieces of the given measures: quotas q_i = n·m_i / Σm, floors, and the points left
    to the largest remainders q_i − ⌊q_i⌋ (rounded to 12 digits, ties to the earlier piece). The counts
    sum to exactly n; a piece of measure 0 gets none."""
    measures = np.asarray(measures, dtype=np.float64)
    if measures.ndim != 1 or measures.size == 0 or not np.all(np.isfinite(measures)) or np.any(measures < 0):
        raise ValueError(f"measures must be a non-empty list of finite numbers >= 0, got {measures.tolist()}")
    total = measures.sum()
    if not total > 0:
        raise SamplingError("the selected pieces have measure 0: there is nothing to sample")
    quotas = n * measures / total
    counts = np.floor(quotas).astype(np.int64)
    frac = np.round(quotas - counts, 12)
    order = np.argsort(-frac, kind="stable")
    counts[order[: n - int(counts.sum())]] += 1
    return counts


Arrays = tuple[np.ndarray, ...]


def draw_accepted(sampler: Sampler, n: int, dim: int, make: Callable[[np.ndarray], Arrays],
                  keep: Callable[..., np.ndarray] | None, acceptance: float, what: str) -> Arrays:
    """Exactly ``n`` accepted candidates by rejection.

    ``make(u)`` maps unit-cube points u (m, dim) from the sampler to a tuple of arrays with m rows
    (points first, then e.g. normals); ``keep(*arrays)`` returns the boolean mask of candidates to keep
    (None keeps all: then one draw of exactly n points, nothing wasted). ``acceptance`` is the expected
    kept fraction (the region's measure over that of what ``make`` covers); the batch sizes follow it.

    - "uniform", "lhs", "sobol": batches of about (n − accepted)/acceptance candidates until n are
      kept; the first n kept, in drawing order (a Sobol' prefix stays a low-discrepancy set).
    - "grid": the smallest grid (growing by 10 %) that keeps at least n points, thinned evenly to n
      (indices ⌊i·k/n⌋ of the k kept), so the points cover the whole region.

    Raises :class:`SamplingError` (a ValueError) when ``acceptance`` is below :data:`MIN_ACCEPTANCE`,
    or when far more candidates than expected were drawn and none or too few kept; the message names
    ``what``, the rate and the fix.
    """
    n = check_count(n)
    if keep is None:
        return make(sampler.unit(n, dim))
    if not acceptance >= MIN_ACCEPTANCE:
        raise SamplingError(
            f"cannot sample {what}: rejection from its bounding region keeps only {acceptance:.2e} of the "
            f"candidates (below {MIN_ACCEPTANCE:g}), so sampling would take ~{1 / max(acceptance, 1e-300):.3g} "
            "candidates per point; give it a tighter bounding box (intersect it with a Box around the region: "
            "shape & Box(...)) or describe the thin region directly")
    if sampler.method == "grid":
        return _grid_accepted(sampler, n, dim, make, keep, acceptance, what)
    parts: list[Arrays] = []
    have, drawn = 0, 0
    budget = 20 * n / acceptance + 10_000
    while have < n:
        m = min(_MAX_BATCH, math.ceil(1.1 * (n - have) / acceptance) + 16)
        arrays = make(sampler.unit(m, dim))
        mask = np.asarray(keep(*arrays), dtype=bool)
        kept = tuple(a[mask] for a in arrays)
        parts.append(kept)
        have += kept[0].shape[0]
        drawn += m
        if have < n and drawn > budget:
            raise SamplingError(
                f"cannot sample {what}: {drawn} candidates kept only {have} points (expected acceptance "
                f"{acceptance:.2e}, found {have / drawn:.2e}); the region is smaller than its measure says, "
                "or empty: check the shape")
    out = tuple(np.concatenate([p[i] for p in parts])[:n] for i in range(len(parts[0])))
    return out


def _grid_accepted(sampler: Sampler, n: int, dim: int, make: Callable[[np.ndarray], Arrays],
                   keep: Callable[..., np.ndarray], acceptance: float, what: str) -> Arrays:
    m = max(n, math.ceil(n / acceptance))
    for _ in range(200):
        arrays = make(sampler.unit(m, dim))
        mask = np.asarray(keep(*arrays), dtype=bool)
        k = int(mask.sum())
        if k >= n:
            index = np.flatnonzero(mask)[(np.arange(n, dtype=np.int64) * k) // n]
            return tuple(a[index] for a in arrays)
        m = math.ceil(1.1 * m) + 1
    raise SamplingError(f"cannot sample {what} on a grid: a grid of {m} points keeps only {k} (< {n}); "
                        "check the shape, or use another sampling method")
