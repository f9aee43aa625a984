"""The parts of an LM iteration that :class:`~pinnlma.lm.core.LMCore` times, and the timed Jacobian slices."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from torch import Tensor

__all__ = ["PHASES", "PhaseCallback", "TimedSlices"]

PHASES = ("jacobian", "normal_equations", "solve", "trial_residual")
"""The parts of an iteration :attr:`LMCore.on_phase` times (see :data:`PhaseCallback`)."""

PhaseCallback = Callable[[str, float, int], None]
"""``on_phase(phase, seconds, rows)``: called with the wall time of one part of an iteration.

- ``"jacobian"``: once per Jacobian slice, the time spent producing it; ``rows`` its row count;
- ``"normal_equations"``: once per iteration, the time of the system build (JᵀJ and Jᵀr, or the
  residual-space matrices; matrix-free: diag JᵀJ, Jᵀr and the sketch) less the Jacobian time inside it;
  ``rows`` = m;
- ``"solve"``: once per damped solve (a trial's step; the acceleration's too, each λ of a search, each
  frozen step); ``rows`` = 0;
- ``"trial_residual"``: once per trial point, the residual evaluation there; ``rows`` = m.

What is not covered (diagonal, scaling, geodesic r_vv, bookkeeping) is the iteration's time less these. It must not
raise; its own cost counts in the iteration's time.
"""


class TimedSlices:
    """Iterates ``slices``, reporting the time spent producing each one to ``on_phase("jacobian", ...)``."""

    def __init__(self, slices: Iterator[tuple[Tensor, Tensor]], on_phase: PhaseCallback) -> None:
        self.slices, self.on_phase, self.seconds = iter(slices), on_phase, 0.0

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self

    def __next__(self) -> tuple[Tensor, Tensor]:
        started = time.perf_counter()
        try:
            item = next(self.slices)
        except StopIteration:
            self.seconds += time.perf_counter() - started
            raise
        spent = time.perf_counter() - started
        self.seconds += spent
        self.on_phase("jacobian", spent, int(item[0].shape[0]))
        return item
