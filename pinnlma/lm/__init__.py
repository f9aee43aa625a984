"""The Levenberg–Marquardt core: knows residuals and Jacobians, nothing about PDEs.

- :mod:`.core`: the iteration (:class:`LMCore`) on any :class:`ResidualModel` (:mod:`.model`);
- :mod:`.options`: options, stop reasons, per-iteration info and results;
- :mod:`.damping`: the damping rules and their registry;
- :mod:`.jacobian`: :class:`JacobianEngine`, J = ∂r/∂θ by autograd in memory-bounded row slices;
- :mod:`.linear_rows`, :mod:`.conv_rows`: the one-backward-pass row Jacobian of networks of ``nn.Linear`` and
  ``nn.Conv1d``/``nn.Conv2d`` layers; :mod:`.losses`: common losses as least-squares residuals;
- :mod:`.least_squares` and :mod:`.module`: the front ends :func:`least_squares` and
  :class:`LevenbergMarquardt`;
- :mod:`.sampled_gram`: JᵀJ from a sample of the rows each iteration, Jᵀr from all (``LMOptions.gram_rows``);
- :mod:`.solvers`: dense or matrix-free, the registry and the auto rule; :mod:`.matrix_free` (with
  :mod:`.krylov` and :mod:`.preconditioners`): the inexact LM solve by preconditioned CG on Jacobian products.
"""

from . import losses
from .conv_rows import LayerRowJacobian
from .core import PHASES, LMCore, PhaseCallback
from .damping import (
    DAMPINGS,
    Damping,
    IdentityScaling,
    Levenberg,
    Marquardt,
    MarquardtScaling,
    Nielsen,
    Scaling,
    make_damping,
)
from .jacobian import STRATEGIES, JacobianEngine, choose_strategy
from .least_squares import least_squares
from .losses import BCE, L1, MSE, BCEWithLogits, CrossEntropy, Huber, Loss, PseudoHuber
from .matrix_free import MatrixFreeOptions, SolveRecord
from .model import ResidualModel, check_residual
from .module import LevenbergMarquardt
from .options import (
    IterationInfo,
    LMOptions,
    LMResult,
    NonFiniteJacobianError,
    NonFiniteResidualError,
    StopReason,
)
from .solvers import FORMS, SOLVERS, SolverChoice, choose_solver

__all__ = [
    "BCE",
    "DAMPINGS",
    "FORMS",
    "L1",
    "MSE",
    "PHASES",
    "SOLVERS",
    "STRATEGIES",
    "BCEWithLogits",
    "CrossEntropy",
    "Damping",
    "Huber",
    "IdentityScaling",
    "IterationInfo",
    "JacobianEngine",
    "LMCore",
    "LMOptions",
    "LMResult",
    "LayerRowJacobian",
    "Levenberg",
    "LevenbergMarquardt",
    "Loss",
    "Marquardt",
    "MarquardtScaling",
    "MatrixFreeOptions",
    "Nielsen",
    "NonFiniteJacobianError",
    "NonFiniteResidualError",
    "PhaseCallback",
    "PseudoHuber",
    "ResidualModel",
    "Scaling",
    "SolveRecord",
    "SolverChoice",
    "StopReason",
    "check_residual",
    "choose_solver",
    "choose_strategy",
    "least_squares",
    "losses",
    "make_damping",
]
