"""What the LM core decides from m-sized vectors when a model's rows are shared among processes.

A model may compute only some of the m residual rows in each of several processes (the PINN assembler
under a multi-rank launch: its optional ``row_partition`` attribute, a :class:`pinnlma.ranks.RowPartition`).
Then r, J and r_vv are each process's own rows, and everything the core decides from them is summed over
the processes through the partition's ``allreduce`` hook, so that every process takes the same decision:

- the cost ½‖r‖² = ½ Σ_k ‖r_k‖² at the current point and at each trial point (+∞ on every process when
  any process's rows hold NaN/Inf),
- whether a vector of rows is finite everywhere (the geodesic term r_vv),
- the number of rows m (the solver choice),
- Jᵀw = Σ_k J_kᵀw_k, and JᵀJ and Jᵀr through the backend (:class:`pinnlma.lm.solvers.DenseSolver`).

n-sized quantities (the step, the predicted reduction) are computed from these sums and agree already.
Only the dense normal-equations solver supports shared rows; the others refuse (:meth:`RowSums.check_solver`).
Without a partition (one process) every sum here is the plain local one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["RowSums"]


class RowSums:
    """The LM core's sums over the processes that share ``model``'s rows (identity when they are not shared)."""

    def __init__(self, model: Any) -> None:
        self.partition: Any = getattr(model, "row_partition", None)
        self.split = bool(getattr(self.partition, "split", False))

    def total(self, partial: Tensor) -> Tensor:
        """Σ over processes of ``partial`` (``partial`` itself in one process)."""
        return self.partition.allreduce(partial) if self.split else partial

    def cost(self, r: Tensor) -> float:
        """½‖r‖² over all processes' rows; +∞ where any process has a NaN/Inf row."""
        local = r @ r if bool(torch.isfinite(r).all()) else torch.full((), math.inf, dtype=r.dtype, device=r.device)
        total = float(self.total(local))
        return 0.5 * total if math.isfinite(total) else math.inf

    def nonfinite(self, rows: Tensor) -> int:
        """How many entries of ``rows`` are NaN/Inf, over all processes."""
        return int(self.total((~torch.isfinite(rows)).sum().to(torch.float64)))

    def describe_nonfinite(self, r: Tensor) -> str:
        """'' when every process's rows are finite, else 'k non-finite entries (NaN/Inf), the first at row i'
        (the row on this process, or 'elsewhere' when this process's rows are finite)."""
        bad = self.nonfinite(r)
        if not bad:
            return ""
        local = (~torch.isfinite(r)).nonzero()
        return f"{bad} non-finite entries (NaN/Inf), " + (
            f"the first at row {int(local[0])}" if len(local) else "elsewhere"
        )

    def rows(self, m: int) -> int:
        """The number of rows of all processes (m of the local rows in one process)."""
        return int(self.total(torch.tensor(float(m), dtype=torch.float64))) if self.split else m

    def jt_times(self, model: Any, x: Tensor) -> Callable[[Tensor], Tensor]:
        """w ↦ Jᵀw = Σ_k J_kᵀw_k (w: this process's rows)."""
        return lambda w: self.total(model.jt_times(x, w))

    def check_solver(self, solver: str, form: str) -> None:
        """ValueError unless shared rows meet the dense normal-equations solver, the one that sums them."""
        if self.split and (solver, form) != ("dense", "normal"):
            raise ValueError(
                f"the residual rows are shared among {self.partition.ranks} processes (a multi-rank launch), "
                f"which only the dense normal-equations solver supports, not solver={solver!r}, form={form!r}; "
                "run with solver 'dense' (--solver dense) on a problem with m >= n (the normal form), or as one process"
            )
