"""Taking one LM iteration apart: wall clocks on its phases through :attr:`LMCore.on_phase`, and LM snapshots.

:class:`StepProbe` sets the core's public timing hook (nothing of the core is replaced) and runs one
full ``step()``; :func:`snapshot` / :func:`restore` save and reload a core's state so every repeat of a
measurement starts from the same iteration.
"""

from __future__ import annotations

import copy
import gc
import time
from typing import Any

from ..lm import LMCore

__all__ = ["StepProbe", "restore", "snapshot"]

PARTS = ("jacobian", "normal_equations", "solve", "trial_residuals", "overhead")
"""The parts a probed step is split into (``overhead``: everything the phases do not cover)."""

_PHASE_PART = {
    "jacobian": "jacobian",
    "normal_equations": "normal_equations",
    "solve": "solve",
    "trial_residual": "trial_residuals",
}


class StepProbe:
    """Times the phases of ``core.step()`` (Jacobian slices, normal equations, solves, trial residuals) via
    the core's ``on_phase`` hook, which it sets on construction."""

    parts: dict[str, float]
    n_slices: int
    slice_rows: int

    def __init__(self, core: LMCore) -> None:
        self.core = core
        self.reset()
        core.on_phase = self._on_phase

    def _on_phase(self, phase: str, seconds: float, rows: int) -> None:
        self.parts[_PHASE_PART[phase]] += seconds
        if phase == "jacobian":
            self.n_slices += 1
            self.slice_rows = max(self.slice_rows, rows)

    def reset(self) -> None:
        """Zero the clocks and the slice counters."""
        self.parts = dict.fromkeys(PARTS, 0.0)
        self.n_slices = 0
        self.slice_rows = 0

    def step(self) -> dict[str, Any]:
        """One full iteration; its total, parts, trial count, number of slices and largest slice."""
        self.reset()
        gc.collect()
        start = time.perf_counter()
        self.core.step()
        total = time.perf_counter() - start
        parts = dict(self.parts)
        parts["overhead"] = total - sum(v for k, v in parts.items() if k != "overhead")
        return {
            "step": total,
            "parts": parts,
            "trials": int(self.core.state.history["trials"][-1]),
            "n_slices": self.n_slices,
            "slice_rows": self.slice_rows,
        }


def snapshot(core: LMCore) -> dict[str, Any]:
    """A deep copy of the core's checkpoint."""
    return copy.deepcopy(core.state_dict())


def restore(core: LMCore, state: dict[str, Any]) -> None:
    """Load ``state`` into the core and let it iterate again from there."""
    core.load_state_dict(copy.deepcopy(state))
    core.resume()
