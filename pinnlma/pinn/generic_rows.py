"""Residual rows and their Jacobian on the generic per-point path (``jacobian="generic"``, any model).

Each row is a function of θ and one point (of each point group): the network through ``functional_call``,
its derivatives at the point by nested forward mode (:class:`~pinnlma.pinn.fields.PointFields`); the rows
come from ``vmap`` over the points, the Jacobian from ``vmap(jacrev(...))``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from .block import Block, Rows
from .fields import PointFields
from .layout import ParameterLayout

__all__ = ["GenericRows"]


class GenericRows:
    """Rows ``scale · √w_i · raw_i`` and their Jacobian for any ``model``, θ laid out by ``layout``, the
    coordinates ``names`` and output columns ``outputs``."""

    def __init__(self, model: nn.Module, layout: ParameterLayout, names: Sequence[str], outputs: Sequence[str]) -> None:
        self.model, self.layout, self.names, self.outputs = model, layout, names, outputs

    def row_function(self, block: Block, model: nn.Module | None = None) -> Callable[..., Tensor]:
        """``row(θ, points, extras)``: the row ``scale · raw`` of ``block`` at one point of each group."""
        names, net, outputs, layout = self.names, model or self.model, self.outputs, self.layout

        def row(theta: Tensor, points: list[Tensor], extras: list[dict[str, Tensor]]) -> Tensor:
            tensors, coefs = layout.split(theta)
            params = dict(zip(layout.param_names, tensors))

            def u_fn(p: Tensor) -> Tensor:
                return functional_call(net, params, (p.unsqueeze(0),)).reshape(-1)

            fields = [PointFields(names, p, u_fn, coefs, e, outputs) for p, e in zip(points, extras)]
            return block.scale * block.fn(*fields).reshape(())

        return row

    def residual(self, block: Block, rows: Rows, theta: Tensor) -> Tensor:
        """The rows ``rows`` of ``block`` at θ (differentiable in θ)."""
        row = self.row_function(block)
        points = [g[rows] for g in block.groups]
        extras = [{k: v[rows] for k, v in e.items()} for e in block.extras]
        return block.row_factors(vmap(row, in_dims=(None, 0, 0))(theta, points, extras), rows)

    def jacobian(
        self, block: Block, rows: Rows, theta: Tensor, model: nn.Module | None = None
    ) -> tuple[Tensor, Tensor]:
        """(r, J) of the rows ``rows`` of ``block`` at θ; ``model``: a replica's copy of the network."""
        row = self.row_function(block, model)
        points = [g[rows] for g in block.groups]
        extras = [{k: v[rows] for k, v in e.items()} for e in block.extras]
        both = lambda t, p, e: (row(t, p, e),) * 2  # noqa: E731
        jac, r = vmap(jacrev(both, has_aux=True), in_dims=(None, 0, 0))(theta, points, extras)
        return block.row_factors(r.detach(), rows), block.row_factors(jac.detach(), rows)
