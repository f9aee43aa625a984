"""Levenberg–Marquardt as an :class:`~pinnlma.optim.base.Optimizer`: the LM core driven one iteration a step.

The run loop decides when to stop (iteration and time limits, Ctrl-C), so the core runs with
:meth:`~pinnlma.lm.options.LMOptions.unlimited` options; the reasons the core itself stops for (the
damping ceiling, a non-finite Jacobian, a zero residual) come back in :attr:`StepReport.stop`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from torch import Tensor

from ..backends import Backend
from ..lm import Damping, LMCore, LMOptions, ResidualModel, StopReason, make_damping
from .base import StepReport

__all__ = ["LM"]


class LM:
    """The LM core on ``model`` from ``x0``: ``damping`` a rule name or a :class:`~pinnlma.lm.damping.Damping`
    (copied: it stays a reusable template), ``backend`` a name or instance, ``geodesic`` adds geodesic
    acceleration, ``solver`` is ``"auto"``, ``"dense"`` or ``"matrix-free"`` (see :mod:`pinnlma.lm.solvers`);
    ``gram_rows`` (a count or a fraction of the rows) forms JᵀJ from that many rows sampled afresh each
    iteration by ``gram_seed`` (:mod:`pinnlma.lm.sampled_gram`; None: all rows)."""

    name: ClassVar[str] = "lm"
    eval_every: ClassVar[int] = 1

    def __init__(
        self,
        model: ResidualModel,
        x0: Tensor,
        *,
        damping: str | Damping = "nielsen",
        backend: str | Backend = "torch",
        geodesic: bool = False,
        solver: str = "auto",
        gram_rows: int | float | None = None,
        gram_seed: int = 0,
    ) -> None:
        self.core = LMCore(
            model,
            x0,
            damping=make_damping(damping, copy=True),
            backend=backend,
            options=LMOptions.unlimited(geodesic=geodesic, solver=solver, gram_rows=gram_rows, gram_seed=gram_seed),
        )

    @property
    def x(self) -> Tensor:
        """The current parameters (the core's, updated by later steps: clone to keep)."""
        return self.core.state.x

    def step(self) -> StepReport:
        """One LM iteration; ``stop`` carries the core's stop reason when it has one."""
        before = self.core.state.nfev
        status = self.core.step()
        return StepReport(
            loss=2 * self.core.state.cost,
            damping=self.core.damping.lam,
            evaluations=self.core.state.nfev - before,
            residual=self.core.state.r,
            stop=None if status is StopReason.RUNNING else status.value,
        )

    def refresh(self) -> None:
        """Re-evaluate the residual at the current parameters (the points changed)."""
        self.core.refresh()

    def describe(self) -> str:
        """The backend the core solves on, in one line."""
        return self.core.backend.describe()

    def state_dict(self) -> dict[str, Any]:
        """The core's checkpoint: parameters, damping state, counters, history."""
        return self.core.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state_dict` (a run stopped by a limit goes on)."""
        self.core.load_state_dict(dict(state))
