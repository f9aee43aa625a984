"""pinnlma: physics-informed neural networks trained by Levenberg–Marquardt with an explicit Jacobian.

Public API (re-exports only): :func:`least_squares`, :class:`LevenbergMarquardt`, the damping rules,
and the backends.
"""
from ._version import __version__
from .backends import get_backend
from .jacobian import JacobianEngine, choose_strategy
from .lm import (
    Damping,
    IterationInfo,
    LevenbergMarquardt,
    Levenberg,
    LMOptions,
    LMResult,
    Marquardt,
    MatrixFreeOptions,
    Nielsen,
    NonFiniteJacobianError,
    NonFiniteResidualError,
    StopReason,
    least_squares,
)

__all__ = [
    "__version__", "Damping", "IterationInfo", "JacobianEngine", "LMOptions", "LMResult", "Levenberg",
    "LevenbergMarquardt", "Marquardt", "MatrixFreeOptions", "Nielsen", "NonFiniteJacobianError",
    "NonFiniteResidualError", "StopReason",
    "choose_strategy", "get_backend", "least_squares",
]
