"""Nielsen's gain-ratio rule (the default): λ follows how well the linear model predicted the reduction."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import Damping
from .scaling import Scaling

__all__ = ["Nielsen"]


class Nielsen(Damping):
    """Gain-ratio rule (Nielsen 1999; Madsen, Nielsen & Tingleff 2004).

    λ₀ = τ·max(diag JᵀJ)/max(D) unless lam0 is given. With ρ = actual / predicted reduction:
    accept when ρ > 0 and set λ ← λ·max(1/3, 1 − (2ρ − 1)³), ν ← 2; on rejection λ ← λ·ν, ν ← 2ν.
    """

    def __init__(
        self,
        scaling: str | Scaling = "marquardt",
        tau: float = 1e-3,
        lam0: float | None = None,
        lambda_max: float = 1e16,
    ) -> None:
        if not tau > 0:
            raise ValueError(f"tau must be positive, got {tau}")
        super().__init__(scaling, lam0, lambda_max)
        self.tau, self.nu = tau, 2.0

    def start(self, jtj_diag: Tensor) -> None:
        """λ₀ = τ·max(diag JᵀJ)/max(D) unless ``lam0`` was given."""
        if self.lam0 is None:
            scale = self._scale if self._scale is not None else torch.ones_like(jtj_diag)
            top = float(jtj_diag.max())
            self.lam = self.tau * (top / float(scale.max()) if top > 0 else 1.0)

    def accept(self, rho: float) -> None:
        """λ ← λ·max(1/3, 1 − (2ρ − 1)³), ν ← 2."""
        self.lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
        self.lam = max(self.lam, 1e-300)
        self.nu = 2.0

    def reject(self) -> None:
        """λ ← λ·ν, ν ← 2ν."""
        self.lam *= self.nu
        self.nu *= 2.0

    def extra_state(self) -> dict[str, Any]:
        """The growth factor ν of consecutive rejections."""
        return {"nu": self.nu}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore ν."""
        self.nu = float(state.get("nu", 2.0))
