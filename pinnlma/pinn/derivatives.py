"""Derivative helpers over autograd for point functions u: (dim,) → (outputs,).

They are built from ``torch.func`` transforms, so they compose with ``vmap`` over points and with
``jacrev``/``jvp`` over parameters (the generic Jacobian path): they stay exact in float64.

    partial(u, 0, 0)(x)   = ∂²u/∂x₀²       gradient(u)(x) = ∂u/∂x  (outputs, dim)
    laplacian(u)(x)       = Σ_k ∂²u/∂x_k²
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from torch import Tensor
from torch.func import jacfwd

PointFn = Callable[[Tensor], Tensor]


def partial(fn: PointFn, *dims: int) -> PointFn:
    """x ↦ ∂^k fn(x)/∂x_{dims[0]}…∂x_{dims[k-1]} by nested forward mode."""
    for k in dims:
        fn = _partial1(fn, k)
    return fn


def _partial1(fn: PointFn, k: int) -> PointFn:
    def dfn(x: Tensor) -> Tensor:
        return jacfwd(fn)(x)[..., k]

    return dfn


def gradient(fn: PointFn) -> PointFn:
    """x ↦ ∂fn/∂x with shape (outputs, dim)."""
    return jacfwd(fn)


def laplacian(fn: PointFn, dims: Sequence[int] | None = None) -> PointFn:
    """x ↦ Σ_{k in dims} ∂²fn/∂x_k² (all coordinates by default)."""

    def lap(x: Tensor) -> Tensor:
        ks = range(x.shape[-1]) if dims is None else dims
        return cast(Tensor, sum(partial(fn, k, k)(x) for k in ks))

    return lap
