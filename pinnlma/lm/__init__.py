"""The Levenberg–Marquardt core: knows residuals and Jacobians, nothing about PDEs."""
from . import losses
from .conv_rows import LayerRowJacobian
from .core import (IterationInfo, LMCore, LMOptions, LMResult, NonFiniteJacobianError, NonFiniteResidualError,
                   ResidualModel, StopReason)
from .damping import Damping, IdentityScaling, Levenberg, Marquardt, MarquardtScaling, Nielsen, Scaling, make_damping
from .least_squares import least_squares
from .losses import BCE, BCEWithLogits, CrossEntropy, Huber, L1, Loss, MSE, PseudoHuber
from .module import LevenbergMarquardt

__all__ = [
    "BCE", "BCEWithLogits", "CrossEntropy", "Huber", "L1", "LayerRowJacobian", "Loss", "MSE", "PseudoHuber",
    "losses",
    "Damping", "IdentityScaling", "IterationInfo", "LMCore", "LMOptions", "LMResult", "Levenberg",
    "LevenbergMarquardt", "Marquardt", "MarquardtScaling", "Nielsen", "NonFiniteJacobianError",
    "NonFiniteResidualError", "ResidualModel", "Scaling", "StopReason", "least_squares", "make_damping",
]
