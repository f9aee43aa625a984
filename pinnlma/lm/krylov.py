"""Preconditioned conjugate gradients with an inexact-Newton stopping rule, and the forcing terms.

:func:`pcg` solves K x = b for a symmetric positive definite K given only as a product x ↦ Kx:

    x₀ = 0, r₀ = b, z₀ = M⁻¹r₀, p₀ = z₀
    αₖ = rₖᵀzₖ / pₖᵀKpₖ,  xₖ₊₁ = xₖ + αₖpₖ,  rₖ₊₁ = rₖ − αₖKpₖ,
    zₖ₊₁ = M⁻¹rₖ₊₁,  βₖ = rₖ₊₁ᵀzₖ₊₁ / rₖᵀzₖ,  pₖ₊₁ = zₖ₊₁ + βₖpₖ,

and stops at the first of: ‖rₖ‖ ≤ η‖b‖ (the forcing term η), ``max_iterations``, or pₖᵀKpₖ ≤ 0
(Steihaug 1983: no positive curvature along pₖ; the iterate reached so far is returned). Started from
x₀ = 0, every iterate minimises the quadratic model q(x) = ½xᵀKx − bᵀx over its Krylov subspace and
q decreases monotonically, so a truncated solve is still a descent step whose model reduction is at
least that of the first (Cauchy-like) iterate; Steihaug also shows that ‖xₖ‖_M grows with k. For the
LM system K = JᵀJ + λD with λ > 0 and D > 0, K is SPD and the curvature test only catches rounding or
non-finite products.

The forcing term follows Eisenstat & Walker (1996), "Choosing the forcing terms in an inexact Newton
method", SIAM J. Sci. Comput. 17, choice 2 with its safeguard, applied to the LM gradient g = Jᵀr:

    η₀ = η_max,  ηₖ = γ (‖gₖ‖ / ‖gₖ₋₁‖)^α,  ηₖ ← max(ηₖ, γ ηₖ₋₁^α) when γ ηₖ₋₁^α > 0.1,
    ηₖ ← min(max(ηₖ, η_min), η_max),   γ = 0.9, α = 2,

or a fixed η.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

CG_STOPS = {
    "tolerance": "relative residual at or below the forcing term",
    "max_iterations": "iteration cap reached",
    "nonpositive_curvature": "pᵀKp ≤ 0 along a search direction (Steihaug): the iterate so far is returned",
    "nonfinite": "a product gave NaN/Inf: no usable solution",
    "breakdown": "rᵀM⁻¹r ≤ 0 (underflow, or M not positive definite) before the tolerance was met: the "
    "iterate so far is returned",
    "zero_rhs": "the right-hand side is zero: x = 0",
}
"""Why :func:`pcg` stopped (the ``stop`` of a :class:`CGResult`)."""


@dataclass(frozen=True)
class CGResult:
    """x, the number of products with K spent, the achieved ‖b − Kx‖/‖b‖ (the recursively updated
    residual), and why CG stopped (a key of :data:`CG_STOPS`)."""

    x: Tensor
    iterations: int
    relative_residual: float
    stop: str


def pcg(
    apply: Callable[[Tensor], Tensor],
    b: Tensor,
    *,
    rtol: float,
    max_iterations: int,
    precondition: Callable[[Tensor], Tensor] | None = None,
) -> CGResult:
    """Solve K x = b by preconditioned CG from x₀ = 0.

    ``apply(p)`` returns K p; ``precondition(r)`` returns M⁻¹ r for an SPD M ≈ K (identity if None).
    Stops when ‖b − Kx‖ ≤ ``rtol``·‖b‖, after ``max_iterations`` products, or at non-positive
    curvature (see the module docstring). A non-finite product returns x full of NaN (stop
    ``nonfinite``), so that a caller's finiteness check rejects it. Raises ValueError for a negative
    ``rtol`` or a ``max_iterations`` below 1."""
    if not rtol >= 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, got {max_iterations}")
    x = torch.zeros_like(b)
    b_norm = float(b.norm())
    if b_norm == 0.0:
        return CGResult(x, 0, 0.0, "zero_rhs")
    if not math.isfinite(b_norm):
        return CGResult(torch.full_like(b, math.nan), 0, math.nan, "nonfinite")
    r = b.clone()
    z = precondition(r) if precondition is not None else r
    p = z.clone()
    rz = float(r @ z)
    relres = 1.0
    for k in range(1, max_iterations + 1):
        q = apply(p)
        curvature = float(p @ q)
        if not math.isfinite(curvature) or not math.isfinite(rz):
            return CGResult(torch.full_like(b, math.nan), k, math.nan, "nonfinite")
        if curvature <= 0.0:
            return CGResult(x, k, relres, "nonpositive_curvature")
        alpha = rz / curvature
        x.add_(p, alpha=alpha)
        r.add_(q, alpha=-alpha)
        relres = float(r.norm()) / b_norm
        if relres <= rtol:
            return CGResult(x, k, relres, "tolerance")
        if k == max_iterations:
            break
        z = precondition(r) if precondition is not None else r
        rz_next = float(r @ z)
        if not math.isfinite(rz_next):
            return CGResult(torch.full_like(b, math.nan), k, math.nan, "nonfinite")
        if not rz_next > 0:
            return CGResult(x, k, relres, "breakdown")
        p = z + (rz_next / rz) * p
        rz = rz_next
    return CGResult(x, max_iterations, relres, "max_iterations")


class Forcing:
    """The relative tolerance η of each LM iteration's linear solves, from the gradient norm ‖Jᵀr‖.

    ``Forcing(0.1)`` is a fixed η; ``Forcing("eisenstat-walker", eta_max=..., eta_min=...)`` is
    Eisenstat–Walker choice 2 (module docstring). ``next(grad_norm)`` is called once per Jacobian;
    ``state_dict``/``load_state_dict`` carry the previous norm and η across a resume."""

    GAMMA, ALPHA = 0.9, 2.0

    def __init__(self, rule: str | float, *, eta_max: float = 1e-3, eta_min: float = 1e-10) -> None:
        if not 0 < eta_min <= eta_max < 1:
            raise ValueError(f"forcing needs 0 < eta_min <= eta_max < 1, got eta_min={eta_min}, eta_max={eta_max}")
        if isinstance(rule, str):
            if rule != "eisenstat-walker":
                raise ValueError(
                    f"unknown forcing rule {rule!r}; give 'eisenstat-walker' or a fixed tolerance in (0, 1)"
                )
        elif not 0 < float(rule) < 1:
            raise ValueError(f"a fixed forcing term must lie in (0, 1), got {rule}")
        self.rule, self.eta_max, self.eta_min = rule, eta_max, eta_min
        self._previous_norm: float | None = None
        self._previous_eta: float | None = None

    def next(self, grad_norm: float) -> float:
        """η for an iteration whose gradient has Euclidean norm ``grad_norm``."""
        if not isinstance(self.rule, str):
            return float(self.rule)
        if self._previous_norm is None or not self._previous_norm > 0 or not math.isfinite(grad_norm):
            eta = self.eta_max
        else:
            eta = self.GAMMA * (grad_norm / self._previous_norm) ** self.ALPHA
            floor = self.GAMMA * (self._previous_eta or self.eta_max) ** self.ALPHA
            if floor > 0.1:
                eta = max(eta, floor)
            eta = min(max(eta, self.eta_min), self.eta_max)
        self._previous_norm, self._previous_eta = grad_norm, eta
        return eta

    def state_dict(self) -> dict[str, Any]:
        """The previous gradient norm and η (what the next η depends on)."""
        return {"previous_norm": self._previous_norm, "previous_eta": self._previous_eta}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s result."""
        norm, eta = state.get("previous_norm"), state.get("previous_eta")
        self._previous_norm = None if norm is None else float(norm)
        self._previous_eta = None if eta is None else float(eta)
