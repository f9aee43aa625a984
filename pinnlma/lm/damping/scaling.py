"""The diagonal D of the damped system (JᵀJ + λ·diag(D)) v = Jᵀr: identity (Levenberg) or Marquardt's.

:data:`SCALINGS` names them for the damping rules' ``scaling=`` argument; :func:`make_scaling` builds one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

__all__ = ["SCALINGS", "IdentityScaling", "MarquardtScaling", "Scaling", "make_scaling"]


class Scaling(ABC):
    """The diagonal D."""

    @abstractmethod
    def __call__(self, jtj_diag: Tensor) -> Tensor:
        """The positive n-vector D for this iteration from diag(JᵀJ) (called once per Jacobian)."""

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs (tensors, numbers, strings, None; stateless rules return {})."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 - stateless by default
        """Restore :meth:`state_dict`; values may arrive as tensors or numpy arrays."""


class IdentityScaling(Scaling):
    """D = I (Levenberg)."""

    def __call__(self, jtj_diag: Tensor) -> Tensor:
        """D = 1."""
        return torch.ones_like(jtj_diag)


class MarquardtScaling(Scaling):
    """D = max(diag(JᵀJ), floor·max diag(JᵀJ)), optionally the running maximum over iterations (Moré).

    The floor keeps D positive for parameters the residual does not (yet) depend on; the running
    maximum makes the scaling invariant to a column that shrinks temporarily, as MINPACK does.
    """

    def __init__(self, floor: float = 1e-10, running_max: bool = True) -> None:
        if not floor > 0:
            raise ValueError(f"floor must be positive, got {floor}")
        self.floor, self.running_max = floor, running_max
        self._max: Tensor | None = None

    def __call__(self, jtj_diag: Tensor) -> Tensor:
        """D from diag(JᵀJ): the floor, and the running maximum if enabled."""
        d = jtj_diag.clone()
        if self.running_max:
            if self._max is not None and self._max.shape == d.shape:
                d = torch.maximum(d, self._max.to(d))
            self._max = d.clone()
        top = float(d.max()) if d.numel() else 0.0
        floor = self.floor * top if top > 0 else 1.0
        return d.clamp_min(floor)

    def state_dict(self) -> dict[str, Any]:
        """The running maximum of diag(JᵀJ) (None before the first Jacobian)."""
        return {"max": None if self._max is None else self._max.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the running maximum."""
        saved = state.get("max")
        self._max = None if saved is None else torch.as_tensor(saved)


SCALINGS: dict[str, type[Scaling]] = {"identity": IdentityScaling, "marquardt": MarquardtScaling}
"""Scaling name → class (built with its default settings)."""


def make_scaling(scaling: str | Scaling) -> Scaling:
    """A :class:`Scaling` from its name in :data:`SCALINGS` (an instance is passed through)."""
    if isinstance(scaling, Scaling):
        return scaling
    if scaling not in SCALINGS:
        raise ValueError(
            f"unknown scaling {scaling!r}; choose one of {', '.join(map(repr, SCALINGS))} or pass a Scaling"
        )
    return SCALINGS[scaling]()
