"""The Levenberg–Marquardt core: knows residuals and Jacobians, nothing about PDEs."""
from .core import (IterationInfo, LMCore, LMOptions, LMResult, NonFiniteJacobianError, NonFiniteResidualError,
                   ResidualModel, StopReason)
from .damping import Damping, IdentityScaling, Levenberg, Marquardt, MarquardtScaling, Nielsen, Scaling, make_damping
from .least_squares import least_squares
from .matrix_free import MatrixFreeOptions, SolveRecord
from .module import LevenbergMarquardt
from .solvers import FORMS, SOLVERS, SolverChoice, choose_solver

__all__ = [
    "FORMS", "MatrixFreeOptions", "SOLVERS", "SolveRecord", "SolverChoice", "choose_solver",
    "Damping", "IdentityScaling", "IterationInfo", "LMCore", "LMOptions", "LMResult", "Levenberg",
    "LevenbergMarquardt", "Marquardt", "MarquardtScaling", "Nielsen", "NonFiniteJacobianError",
    "NonFiniteResidualError", "ResidualModel", "Scaling", "StopReason", "least_squares", "make_damping",
]
