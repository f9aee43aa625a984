"""What the LM core sees of a problem: the :class:`ResidualModel` protocol and the contract its residual keeps.

Anything with these methods can be solved: the Jacobian engine of :func:`pinnlma.least_squares`, the
PINN residual assembler, a user's own class. :func:`check_residual` says clearly what is wrong when r(x)
breaks the contract (type, shape, dtype, a length that changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from torch import Tensor

__all__ = ["ResidualModel", "check_residual"]


class ResidualModel(Protocol):
    """What the LM core needs to see of a problem: r(x), its Jacobian in slices, and its products."""

    def residual(self, x: Tensor) -> Tensor:
        """r(x): a 1-D tensor of x's dtype and fixed length m."""
        ...

    def slices(self, x: Tensor, m: int) -> Iterator[tuple[Tensor, Tensor]]:
        """Row slices ``(r_s, J_s)`` of r and J = ∂r/∂x covering all m rows in order."""
        ...

    def jt_times(self, x: Tensor, w: Tensor) -> Tensor:
        """Jᵀw at x (an n-vector) without storing J."""
        ...

    def j_times(self, x: Tensor, v: Tensor) -> Tensor:
        """J·v at x (an m-vector) without storing J; used by the matrix-free solver only, which gives a model
        without this method ``torch.func.jvp`` of :meth:`residual` instead."""
        ...

    def second_directional(self, x: Tensor, v: Tensor) -> Tensor:
        """d²/dt² r(x + t·v) at t = 0 (an m-vector), for geodesic acceleration."""
        ...

    # Optional: ``normal_partials(x) -> list[(A_d, g_d, m_d)] | None``, partial normal equations of
    # disjoint row sets (A_d = J_dᵀJ_d full symmetric n×n, g_d = J_dᵀr_d, m_d rows) on one device, or None.
    # The dense solver's normal form then sums them (Backend.gram_system) instead of reading slices:
    # the PINN assembler offers it with device replicas, so that the rows stay on the devices that made them.
    #
    # Optional: ``row_partition``, a :class:`pinnlma.ranks.RowPartition` whose ``split`` is True when the rows
    # are shared among processes (a multi-rank launch): then residual, slices, jt_times, second_directional
    # and normal_partials cover only this process's rows, and the core sums what it decides from over the
    # processes with ``row_partition.allreduce`` (:mod:`pinnlma.lm.row_sums`; dense normal form only).
    #
    # Optional: ``slices_of_rows(x, rows, m) -> Iterator[(r_S, J_S)]``, the slices of only the residual rows
    # ``rows`` (a sorted 1-D index tensor out of m), in their order. ``LMOptions.gram_rows`` samples rows each
    # iteration (:mod:`pinnlma.lm.sampled_gram`); without this method they are taken out of :meth:`slices`.


def check_residual(r: Tensor, x: Tensor, m: int | None, where: str) -> None:
    """Shape and dtype contract of r(x): a 1-D tensor of x's dtype and (after the start) fixed length."""
    if not isinstance(r, Tensor):
        raise TypeError(f"the residual function returned {type(r).__name__} {where}; it must return a torch.Tensor")
    if r.ndim != 1:
        raise ValueError(
            f"the residual must be a 1-D tensor, got shape {tuple(r.shape)} {where}; flatten it with .reshape(-1)"
        )
    if r.dtype != x.dtype:
        raise TypeError(
            f"the residual has dtype {r.dtype} but the parameters are {x.dtype} {where}; "
            "make them match (e.g. build data tensors with the parameters' dtype)"
        )
    if m is not None and r.shape[0] != m:
        raise ValueError(f"the residual changed length from {m} to {r.shape[0]} {where}; it must stay fixed")
