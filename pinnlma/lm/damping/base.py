"""The damping rule's interface: how λ (and the scaling D) of (JᵀJ + λ·diag(D)) v = Jᵀr evolve.

A rule is a small object with typed hooks called by the LM loop:

- ``scaling(jtj_diag)``: the vector D for this iteration (called once per Jacobian);
- ``start(jtj_diag)``: set the first λ (called once, at the first Jacobian);
- ``adopt(lam)``: the λ search (``LMOptions.lambda_search``) took its trial's step with damping ``lam``
  (called before ``accept``/``reject``; without the search ``lam`` is the rule's own λ);
- ``accept(rho)``: the trial step reduced the cost; ρ is the gain ratio actual/predicted reduction;
- ``reject()``: the trial step failed (no reduction, non-finite residuals, or a geodesic veto);
- ``exhausted(jtj_diag)``: λ has grown so large that steps can no longer change x: stop.

``state_dict`` / ``load_state_dict`` make a run resumable bit for bit; a rule with state of its own
adds it through ``extra_state`` / ``load_extra_state``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from .scaling import Scaling, make_scaling

__all__ = ["Damping"]


class Damping(ABC):
    """Base class: holds λ and a scaling; subclasses decide how λ moves."""

    def __init__(self, scaling: str | Scaling, lam0: float | None, lambda_max: float) -> None:
        if lam0 is not None and not lam0 > 0:
            raise ValueError(f"initial damping lam0 must be positive, got {lam0}")
        self.scale_rule = make_scaling(scaling)
        self.lam0 = lam0
        self.lam = lam0 if lam0 is not None else 1e-3
        self.lambda_max = lambda_max
        self._scale: Tensor | None = None

    def scaling(self, jtj_diag: Tensor) -> Tensor:
        """D for this iteration (called once per Jacobian, before :meth:`start` on the first one)."""
        self._scale = self.scale_rule(jtj_diag)
        return self._scale

    def start(self, jtj_diag: Tensor) -> None:  # noqa: B027 - a hook with a default
        """Default: keep lam0."""

    def adopt(self, lam: float) -> None:
        """The trial's step was the one for damping ``lam`` (one of the λ search's candidates λ·f_j): the
        rule continues from it, λ ← lam (its :meth:`accept` or :meth:`reject` follows)."""
        if not lam > 0:
            raise ValueError(f"the adopted damping must be positive, got {lam}")
        self.lam = float(lam)

    @abstractmethod
    def accept(self, rho: float) -> None:
        """The trial step reduced the cost; ``rho`` = actual / predicted reduction (the gain ratio)."""

    @abstractmethod
    def reject(self) -> None:
        """The trial step failed (no reduction, non-finite residuals, or a geodesic veto): raise λ."""

    def exhausted(self, jtj_diag: Tensor) -> bool:
        """λ·max(D) beyond lambda_max·max(diag JᵀJ): the step is pure, vanishing gradient descent."""
        top = float(jtj_diag.max()) if jtj_diag.numel() else 0.0
        scale = float(self._scale.max()) if self._scale is not None else 1.0
        return self.lam * scale > self.lambda_max * max(top, torch.finfo(jtj_diag.dtype).tiny)

    def state_dict(self) -> dict[str, Any]:
        """λ, the scaling's state and :meth:`extra_state`: everything a resumed run needs, bit for bit.

        Values are tensors, numbers, strings, bools, None, lists of numbers and nested dicts, which is
        what a run file stores; a checkpoint restores them without knowing the rule.
        """
        return {"lam": self.lam, "scaling": self.scale_rule.state_dict(), **self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (numbers may arrive as numpy scalars, tensors as numpy arrays)."""
        self.lam = float(state["lam"])
        self.scale_rule.load_state_dict(state.get("scaling", {}))
        self.load_extra_state(state)

    def extra_state(self) -> dict[str, Any]:
        """Hook for subclasses: their own state, merged into :meth:`state_dict` (default: none)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - stateless by default
        """Hook for subclasses: restore what :meth:`extra_state` saved, from the whole state dict."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lam={self.lam:.3g}, scaling={type(self.scale_rule).__name__})"
