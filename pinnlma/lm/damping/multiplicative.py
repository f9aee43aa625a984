"""The multiplicative rules: λ divided by a fixed factor after a success, multiplied after a failure.

:class:`Levenberg` damps with the identity (λI), :class:`Marquardt` with diag(JᵀJ) (scale-invariant steps).
"""

from __future__ import annotations

from .base import Damping
from .scaling import MarquardtScaling, Scaling

__all__ = ["Levenberg", "Marquardt"]


class _Multiplicative(Damping):
    """λ ← λ/down after a success, λ ← λ·up after a failure."""

    def __init__(self, scaling: str | Scaling, lam0: float, up: float, down: float, lambda_max: float) -> None:
        if not (up > 1 and down > 1):
            raise ValueError(f"up and down factors must exceed 1, got up={up}, down={down}")
        super().__init__(scaling, lam0, lambda_max)
        self.up, self.down = up, down

    def accept(self, rho: float) -> None:
        """λ ← λ/down."""
        self.lam = max(self.lam / self.down, 1e-300)

    def reject(self) -> None:
        """λ ← λ·up."""
        self.lam *= self.up


class Levenberg(_Multiplicative):
    """Levenberg: (JᵀJ + λI) v = Jᵀr; λ divided by ``down`` on success, multiplied by ``up`` on failure."""

    def __init__(self, lam0: float = 1e-3, up: float = 10.0, down: float = 10.0, lambda_max: float = 1e16) -> None:
        super().__init__("identity", lam0, up, down, lambda_max)


class Marquardt(_Multiplicative):
    """Marquardt: (JᵀJ + λ·diag(JᵀJ)) v = Jᵀr with a floor on the diagonal (scale-invariant steps)."""

    def __init__(
        self,
        lam0: float = 1e-3,
        up: float = 10.0,
        down: float = 10.0,
        floor: float = 1e-10,
        running_max: bool = False,
        lambda_max: float = 1e16,
    ) -> None:
        super().__init__(MarquardtScaling(floor, running_max), lam0, up, down, lambda_max)
