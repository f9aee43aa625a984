"""Optimizers on the same residual r(θ): Levenberg–Marquardt, Adam, L-BFGS and BFGS, behind one interface.

- :mod:`.base`: the :class:`Optimizer` protocol and :class:`StepReport`;
- :mod:`.lm`, :mod:`.adam`, :mod:`.lbfgs`, :mod:`.bfgs`: one optimizer each;
- :mod:`.registry`: :data:`OPTIMIZERS` and :func:`make_optimizer`.

Every optimizer minimises the loss L(θ) = ‖r(θ)‖² (the LM core minimises ½‖r‖², the same minimiser);
each :meth:`~Optimizer.step` reports the loss at the *new* parameters, and :meth:`~Optimizer.state_dict`
continues a run bit for bit.
"""

from .adam import Adam
from .base import Optimizer, ResidualFunction, StepReport
from .bfgs import BFGS
from .lbfgs import LBFGS
from .lm import LM
from .registry import OPTIMIZERS, accepted_options, make_optimizer, optimizer_options

__all__ = [
    "BFGS",
    "LBFGS",
    "LM",
    "OPTIMIZERS",
    "Adam",
    "Optimizer",
    "ResidualFunction",
    "StepReport",
    "accepted_options",
    "make_optimizer",
    "optimizer_options",
]
