"""Residual rows and their Jacobian on the exact MLP channel path (``jacobian="channels"``).

The network's outputs and derivative channels come from one :class:`~pinnlma.pinn.channels.ChannelForward`
per point group; the per-point Jacobian from one reverse pass of Σ_i r_i to the pre-activations
(:func:`~pinnlma.pinn.channels.per_point_jacobian`), and the columns of unknown coefficients from per-row
copies of each coefficient. See :mod:`pinnlma.pinn.channels` for the math.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import torch
from torch import Tensor, nn

from .block import Block, Rows, checked_rows
from .channels import ChannelForward, close_channels, per_point_jacobian
from .fields import ChannelFields, requested_channels
from .layout import ParameterLayout
from .models import MLP

__all__ = ["ChannelRows"]


class ChannelRows:
    """Rows ``scale · √w_i · raw_i`` and their Jacobian for ``model`` (an MLP whose ``supports_channels``),
    θ laid out by ``layout``, the coordinates ``names`` and output columns ``outputs``."""

    def __init__(self, model: nn.Module, layout: ParameterLayout, names: Sequence[str], outputs: Sequence[str]) -> None:
        self.model, self.layout, self.names, self.outputs = model, layout, names, outputs

    def prepare(self, blocks: Sequence[Block], parameter_names: Sequence[str]) -> None:
        """Find the derivative channels each point group of each new block needs (a probe call of its
        residual function with the coefficients ``parameter_names`` set to 1)."""
        params = {k: torch.ones((), dtype=torch.float64) for k in parameter_names}
        for block in blocks:
            if block.channels is not None:
                continue
            asked = requested_channels(block.fn, self.names, len(block.groups), params, block.extras, self.outputs)
            block.channels = [close_channels(alpha for alpha, _ in group) for group in asked]

    def forward(
        self,
        block: Block,
        rows: Rows,
        tensors: Sequence[Tensor],
        coefs: Mapping[str, Tensor],
        keep: bool,
        model: nn.Module | None = None,
    ) -> tuple[Tensor, list[tuple[list[Tensor], list[Tensor]]]]:
        """(the rows ``rows`` of ``block``, and when ``keep`` each group's (pre-activations, layer inputs))."""
        fields, graphs = [], []
        assert block.channels is not None  # set by prepare() on the channel path
        for group, extras, chans in zip(block.groups, block.extras, block.channels):
            forward = ChannelForward(cast(MLP, model or self.model), chans)
            out, pre, acts = forward(group[rows], tensors)
            fields.append(
                ChannelFields(
                    self.names,
                    group[rows],
                    out,
                    forward.index,
                    dict(coefs),
                    {k: v[rows] for k, v in extras.items()},
                    self.outputs,
                )
            )
            graphs.append((pre, acts))
        raw = block.fn(*fields)
        n = fields[0].x.shape[0]
        r = block.row_factors(block.scale * checked_rows(raw, n, block.name), rows)
        return r, graphs if keep else []

    def residual(self, block: Block, rows: Rows, theta: Tensor) -> Tensor:
        """The rows ``rows`` of ``block`` at θ (differentiable in θ)."""
        tensors, coefs = self.layout.split(theta)
        return self.forward(block, rows, tensors, coefs, keep=False)[0]

    def jacobian(
        self, block: Block, rows: Rows, theta: Tensor, model: nn.Module | None = None
    ) -> tuple[Tensor, Tensor]:
        """(r, J) of the rows ``rows`` of ``block`` at θ, J column-major (N, n); ``model``: a replica's copy."""
        layout = self.layout
        leaf = theta.detach().requires_grad_(True)
        tensors, coefs = layout.split(leaf)
        n_rows = block.groups[0][rows].shape[0]
        per_row = {}
        for k in layout.unknown_names:  # per-row copies give ∂r_i/∂c for each row from one backward
            per_row[k] = coefs[k].detach().expand(n_rows).clone().requires_grad_(True)
            coefs[k] = per_row[k]
        r, graphs = self.forward(block, rows, tensors, coefs, keep=True, model=model)
        pre_all = [z for pre, _ in graphs for z in pre]
        wrt = pre_all + list(per_row.values())
        raw = torch.autograd.grad(r.sum(), wrt, allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for g, t in zip(raw, wrt)]
        coef_grads = grads[len(pre_all) :]
        jac: Tensor | None = None
        offset = 0
        for pre, acts in graphs:
            jac = per_point_jacobian(grads[offset : offset + len(pre)], acts, extra_cols=len(coef_grads), out=jac)
            offset += len(pre)
        assert jac is not None  # a block has at least one point group
        for i, g in enumerate(coef_grads):
            jac[:, layout.n_model + i] = g
        return r.detach(), jac
