"""pinnlma: physics-informed neural networks trained by Levenberg–Marquardt with an explicit Jacobian.

Public API (re-exports only): :func:`least_squares`, :class:`LevenbergMarquardt`, the damping rules,
the Jacobian engine and the backends. The layers below, each a subpackage that knows only the ones
under it: :mod:`pinnlma.backends` → :mod:`pinnlma.lm` → :mod:`pinnlma.pinn` → :mod:`pinnlma.optim` →
:mod:`pinnlma.run` → the entry points (:mod:`pinnlma.cli`, :mod:`pinnlma.bench`,
:mod:`pinnlma.reproduce`, :mod:`pinnlma.validation`).
Also the loss-to-residual wrappers (``pinnlma.losses``) and mini-batch training (:func:`fit`,
``pinnlma.learn``, above the LM core beside :mod:`pinnlma.pinn`).
"""

from ._version import __version__
from .backends import get_backend
from . import learn, losses
from .learn import fit
from .lm import (
    Damping,
    IterationInfo,
    JacobianEngine,
    Levenberg,
    LevenbergMarquardt,
    LMOptions,
    LMResult,
    Marquardt,
    Nielsen,
    NonFiniteJacobianError,
    NonFiniteResidualError,
    StopReason,
    choose_strategy,
    least_squares,
)

__all__ = [
    "Damping",
    "IterationInfo",
    "JacobianEngine",
    "LMOptions",
    "LMResult",
    "Levenberg",
    "LevenbergMarquardt",
    "Marquardt",
    "Nielsen",
    "NonFiniteJacobianError",
    "NonFiniteResidualError",
    "StopReason",
    "__version__",
    "choose_strategy",
    "get_backend",
    "least_squares",
    "fit",
    "learn",
    "losses",
]
