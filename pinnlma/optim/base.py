"""The optimizer interface the run loop drives: :class:`Optimizer` and its :class:`StepReport`.

Every optimizer (:mod:`.lm`, :mod:`.adam`, :mod:`.lbfgs`, :mod:`.bfgs`) works on the flat parameter
vector θ of a residual model r(θ) (a :class:`~pinnlma.pinn.assembler.ResidualAssembler`, or any object
with ``residual(theta)``): one :meth:`Optimizer.step` is one iteration, the report carries the loss
‖r‖² at the new parameters. :mod:`.registry` names them and builds one from its name. The helpers below
are shared by the gradient-based ones (checked start vector, loss and gradient, state conversion).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "Optimizer",
    "ResidualFunction",
    "StepReport",
    "check_finite",
    "loss_and_grad",
    "start_vector",
    "state_tensor",
    "state_vector",
]


class ResidualFunction(Protocol):
    """What the baselines need of a problem: the residual vector r(θ), differentiable by autograd."""

    def residual(self, theta: Tensor) -> Tensor:
        """r(θ), a 1-D tensor."""
        ...


@dataclass(frozen=True)
class StepReport:
    """Outcome of one iteration: the loss ‖r‖² at the new parameters, the damping (LM only) and the
    number of residual + gradient evaluations the iteration cost."""

    loss: float
    damping: float = math.nan
    evaluations: int = 0
    residual: Tensor | None = None  # r at the new parameters when the optimizer has it (LM), else None
    stop: str | None = None  # why the optimizer would stop the run after this step (e.g. "ftol"), else None


class Optimizer(Protocol):
    """What the run loop needs of an optimizer (LM, Adam, L-BFGS, BFGS all provide it).

    Built as ``cls(model, x0, **options)`` by :func:`~pinnlma.optim.registry.make_optimizer`.
    ``name`` is its registry name; ``eval_every`` how often (in iterations) the run loop evaluates the
    error by default (cheap iterations: rarely).
    """

    name: ClassVar[str]
    eval_every: ClassVar[int]

    @property
    def x(self) -> Tensor:
        """The current flat parameters (detached; may be updated in place by later steps: clone to keep)."""
        ...

    def step(self) -> StepReport:
        """One iteration; the report's loss is ‖r‖² at the new parameters. Raises FloatingPointError when
        the loss is not finite."""
        ...

    def refresh(self) -> None:
        """Forget values computed on the current collocation points (after resampling)."""
        ...

    def describe(self) -> str:
        """One line on where the linear algebra ran (for the run file's ``backend_info``)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (tensors, numbers, strings, bools, None, lists, dicts)."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue exactly from :meth:`state_dict` (tensors may arrive as numpy arrays)."""
        ...


def start_vector(x0: Tensor) -> Tensor:
    """A detached copy of the starting point, checked: a flat float64/float32 tensor."""
    if not isinstance(x0, Tensor):
        raise TypeError(f"x0 must be a torch tensor, got {type(x0).__name__}")
    if x0.ndim != 1:
        raise ValueError(f"x0 must be a flat (1-D) parameter vector, got shape {tuple(x0.shape)}")
    if x0.dtype not in (torch.float64, torch.float32):
        raise ValueError(f"x0 must be float64 or float32, got {x0.dtype}")
    return x0.detach().clone()


def state_tensor(value: Any, like: Tensor) -> Tensor:
    """A tensor (or numpy array / number) from a state dict, with ``like``'s dtype and device, copied."""
    return (
        torch.as_tensor(np.asarray(value) if not isinstance(value, Tensor) else value)
        .to(dtype=like.dtype, device=like.device)
        .clone()
    )


def state_vector(value: Any, like: Tensor, what: str) -> Tensor:
    """:func:`state_tensor` flattened, checked to have ``like``'s length (``what`` names it in the error)."""
    v = state_tensor(value, like).reshape(-1)
    if v.shape != like.shape:
        raise ValueError(f"state has {what} of {v.numel()} entries, this problem has {like.numel()} parameters")
    return v


def loss_and_grad(model: ResidualFunction, x: Tensor) -> tuple[Tensor, Tensor]:
    """L = ‖r(x)‖² and ∇L at ``x`` (a leaf tensor or a plain one), both detached."""
    leaf = x if x.requires_grad and x.is_leaf else x.detach().requires_grad_(True)
    with torch.enable_grad():
        r = model.residual(leaf)
        if not isinstance(r, Tensor) or r.ndim != 1:
            shape = tuple(r.shape) if isinstance(r, Tensor) else type(r).__name__
            raise ValueError(f"residual(theta) must return a 1-D tensor, got {shape}")
        if not r.requires_grad:
            raise ValueError("residual(theta) does not depend on theta through autograd; cannot compute the gradient")
        loss = torch.dot(r, r)
        (grad,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), grad.detach()


def check_finite(name: str, loss: float, iteration: int) -> None:
    """FloatingPointError saying where, when ``loss`` is not finite (``name``: the optimizer)."""
    if not math.isfinite(loss):
        where = "at the starting point (iteration 0)" if iteration == 0 else f"at iteration {iteration}"
        raise FloatingPointError(
            f"{name}: the loss is not finite ({loss}) {where}; try a smaller learning rate, float64, or "
            "another initialisation"
        )
