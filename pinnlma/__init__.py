"""pinnlma: physics-informed neural networks trained by Levenberg–Marquardt with an explicit Jacobian.

Public API (re-exports only): :func:`least_squares`, :class:`LevenbergMarquardt`, the damping rules,
the backends, the loss-to-residual wrappers (``pinnlma.losses``) and mini-batch training
(:func:`fit`, ``pinnlma.learn``).
"""
from ._version import __version__
from .backends import get_backend
from .jacobian import JacobianEngine, choose_strategy
from .learn import fit
from . import learn, losses
from .lm import (
    Damping,
    IterationInfo,
    LevenbergMarquardt,
    Levenberg,
    LMOptions,
    LMResult,
    Marquardt,
    Nielsen,
    NonFiniteJacobianError,
    NonFiniteResidualError,
    StopReason,
    least_squares,
)

__all__ = [
    "__version__", "Damping", "IterationInfo", "JacobianEngine", "LMOptions", "LMResult", "Levenberg",
    "LevenbergMarquardt", "Marquardt", "Nielsen", "NonFiniteJacobianError", "NonFiniteResidualError", "StopReason",
    "choose_strategy", "fit", "get_backend", "learn", "least_squares", "losses",
]
