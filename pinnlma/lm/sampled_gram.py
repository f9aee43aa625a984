"""A subsampled Gauss–Newton matrix: each LM iteration forms JᵀJ from a sample of the rows, Jᵀr from all of them.

With ``LMOptions.gram_rows`` = s < m, iteration k draws S, s of the m residual rows uniformly without
replacement, and solves

    ((m/s)·J_SᵀJ_S + λD) v = Jᵀr,

where Jᵀr is exact (one reverse pass over all m rows). E[(m/s)·J_SᵀJ_S] = JᵀJ, so the step is a damped
Gauss–Newton step on a sketched curvature with the true gradient: the sub-sampled Newton method of
Roosta-Khorasani & Mahoney (2019), Math. Program. 174, 293–326, with LM's damping and gain ratio. The
Jacobian rows and the Gram products cost s/m of the full ones; the factorization (n³/3) does not change.
The gain ratio compares the actual reduction with the sampled model's, −gᵀh − ½·(m/s)·‖J_S h‖².

The sample is a function of ``LMOptions.gram_seed`` and the iteration number alone (:func:`draw_rows`), so a
resumed run draws the rows the uninterrupted one would have drawn. A model may offer the rows of a sample
directly (its optional ``slices_of_rows(x, rows, m)``, as :class:`~pinnlma.lm.jacobian.JacobianEngine`
does for row-wise fits, computing only those rows); otherwise the rows are taken out of its ordinary
slices (:func:`~pinnlma.lm.jacobian.rows_of_slices`: the Jacobian costs what it did, the products s/m).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy
import torch
from torch import Tensor

from ..backends import Backend, LinearSystem
from ..backends.base import Slices
from .jacobian import rows_of_slices

__all__ = [
    "SampledGramSystem",
    "check_gram_rows",
    "check_sampling",
    "draw_rows",
    "sample_size",
    "sampled_slices",
    "sampling_note",
]


def check_gram_rows(value: object) -> int | float | None:
    """``gram_rows`` is None, a whole number of rows ≥ 1, or a fraction of the rows in (0, 1]; else ValueError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"gram_rows must be None, a number of rows >= 1 or a fraction in (0, 1], got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"gram_rows must be at least 1 row, got {value}")
        return value
    if not 0 < value <= 1:
        raise ValueError(
            f"gram_rows as a float is the fraction of the rows sampled and must lie in (0, 1], got {value!r}; "
            "give a whole number for a count of rows"
        )
    return float(value)


def sample_size(gram_rows: int | float | None, m: int) -> int:
    """The rows s sampled out of m: all m when ``gram_rows`` is None or at least m; a float is a fraction
    of m (rounded, at least 1)."""
    if gram_rows is None:
        return m
    s = gram_rows if isinstance(gram_rows, int) else max(1, round(gram_rows * m))
    return min(m, s)


def check_sampling(gram_rows: int | float | None, m: int, solver: str, form: str, why: str, split: bool) -> None:
    """A sample of the m rows needs the dense solver in the normal form (``why``: how those were chosen) and rows
    that one process holds (not ``split``); ValueError otherwise. Nothing to check when all rows are used."""
    if sample_size(gram_rows, m) >= m:
        return
    if (solver, form) != ("dense", "normal"):
        raise ValueError(
            f"gram_rows samples the rows of the dense normal equations, but this run solves with the {solver} solver "
            f"in the {form} form ({why}); pass solver='dense' and form='normal', or drop gram_rows"
        )
    if split:
        raise ValueError("gram_rows cannot sample rows shared among processes; run one process or drop gram_rows")


def sampling_note(gram_rows: int | float | None, m: int) -> str:
    """The sampled Gauss–Newton matrix in words, to follow a solver's reason (empty when all rows are used)."""
    s = sample_size(gram_rows, m)
    return "" if s >= m else f"; JᵀJ from {s} of the {m} rows, sampled afresh each iteration (gram_rows)"


def draw_rows(m: int, s: int, seed: int, iteration: int) -> Tensor:
    """Iteration ``iteration``'s sample: s distinct row indices out of m, sorted, drawn from a generator
    seeded by (seed, iteration) alone."""
    # torch's CPU generator keeps 32 bits of a seed: mix the pair into one 32-bit word
    word = int(numpy.random.SeedSequence([int(seed), int(iteration)]).generate_state(1)[0])
    generator = torch.Generator().manual_seed(word)
    return torch.randperm(m, generator=generator)[:s].sort().values


def sampled_slices(model: Any, x: Tensor, rows: Tensor, m: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Slices of the rows ``rows`` of J at x: the model's own ``slices_of_rows`` where it has one, else the
    rows taken out of its ordinary slices."""
    if hasattr(model, "slices_of_rows"):
        return iter(model.slices_of_rows(x, rows, m))
    return rows_of_slices(model.slices(x, m), rows)


class SampledGramSystem(LinearSystem):
    """The damped system ((m/s)·J_SᵀJ_S + λD) v = Jᵀw on a backend's normal system of the s sampled rows.

    The backend's system is built with ``jt_times`` the identity, so that its solve takes the right-hand
    side as an n-vector (``rhs = jt_times(w)``); this system passes it the exact gradient, or Jᵀw from the
    model for other w (geodesic acceleration, frozen steps). With c = m/s,
    (cA + λD)v = g  ⇔  (A + (λ/c)D)v = g/c, so the sampled rows are never rescaled.
    """

    form = "normal"

    def __init__(self, inner: LinearSystem, gradient: Tensor, jt_times: Callable[[Tensor], Tensor], m: int) -> None:
        self.inner, self.g, self._jt_times = inner, gradient, jt_times
        self.n, self.m, self.sampled = inner.n, m, inner.m
        self.factor = m / inner.m

    @classmethod
    def build(
        cls, backend: Backend, slices: Slices, n: int, m: int, gradient: Tensor, jt_times: Callable[[Tensor], Tensor]
    ) -> SampledGramSystem:
        """The backend's normal system of the sampled ``slices``, with the exact ``gradient`` Jᵀr of all m rows."""
        inner = backend.normal_system(slices, n, lambda rhs: rhs)
        return cls(inner, gradient, jt_times, m)

    @property
    def fallback_solves(self) -> int:  # type: ignore[override]
        """How often the backend's Cholesky failed and its robust solve took over."""
        return self.inner.fallback_solves

    def gradient(self) -> Tensor:
        """g = Jᵀr over all m rows."""
        return self.g

    def jtj_diagonal(self) -> Tensor:
        """diag((m/s)·J_SᵀJ_S)."""
        return self.factor * self.inner.jtj_diagonal()

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        """Solve ((m/s)·J_SᵀJ_S + lam·diag(scale)) v = Jᵀw (w defaults to r; Jᵀw over all m rows)."""
        rhs = self.g if w is None else self._jt_times(w)
        return self.inner.solve(lam / self.factor, scale, rhs / self.factor)

    def curvature(self, v: Tensor) -> float:
        """(m/s)·‖J_S v‖², the sampled estimate of ‖Jv‖²."""
        return self.factor * self.inner.curvature(v)
