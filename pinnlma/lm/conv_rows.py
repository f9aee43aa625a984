"""Exact Jacobian rows from one backward pass for networks of Linear and convolution layers.

For a row-wise residual (the residuals of data row i depend on row i alone), take any layer ℓ with
parameters, input a_ℓ and output z_ℓ. Row i of r depends on row i of z_ℓ only, so the gradients
g_ℓ,i = ∂r_i/∂z_ℓ,i of *all* rows come from one backward pass of Σ_i r_i (one pass per residual
component when a row gives k residuals), and the per-row parameter gradients follow in closed form:

- ``nn.Linear`` (z = a Wᵀ + b, on (rows, in) or (rows, …, in)):
  ∂r_i/∂W = Σ_t g_i,t ⊗ a_i,t,   ∂r_i/∂b = Σ_t g_i,t   (t runs over the middle dimensions, if any);
- ``nn.Conv1d`` / ``nn.Conv2d`` (any stride, padding, dilation, groups; zero padding): with
  U_i = unfold(a_i), the im2col matrix (C_in/G·kh·kw, L) of the L = output positions,
  ∂r_i/∂W_g = g_i,g U_i,gᵀ per group g,   ∂r_i/∂b = Σ_L g_i.

Everything without parameters between them (activations, max/avg/adaptive pooling, flatten,
reshape, dropout in eval mode, the loss of :mod:`pinnlma.lm.losses`) needs no rule: the backward
pass carries it into g exactly. So a slice of J costs one forward and k backward passes of the batch
plus one batched product per layer, instead of ``vmap(jacrev(...))`` (a vectorized backward per
row). :class:`LayerRowJacobian` checks its preconditions on every slice (each layer called once, on
a batch of the slice's rows) and the engine compares its first rows once with ``vmap(jacrev)``;
anything that does not fit (a parameter outside these layers, a layer used twice, rows that mix,
BatchNorm in training mode) falls back to the generic path, and :attr:`LayerRowJacobian.note` or
:func:`unsupported` says why.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["LayerRowJacobian", "ROW_RULES", "RowRule", "unsupported"]


@dataclass(frozen=True)
class RowRule:
    """How one layer type gives per-row parameter gradients.

    ``check(layer)``: None when the layer is covered, else why not. ``prepare(layer, a)``: what ``fill``
    needs of the layer input ``a`` (s leading rows), computed once per slice (e.g. the im2col matrix).
    ``fill(layer, leaf, prepared, g, dest)`` writes ∂r_i/∂(layer.leaf) for the s rows into ``dest`` of
    shape (leaf.numel(), s) (possibly strided), from the output gradient ``g``. ``input_ndim``: the
    input dimensions (with the row dimension) the rule accepts, None for any >= 2."""

    check: Callable[[nn.Module], str | None]
    prepare: Callable[[nn.Module, Tensor], Any]
    fill: Callable[[nn.Module, str, Any, Tensor, Tensor], None]
    input_ndim: int | None = None


def _linear_prepare(layer: nn.Module, a: Tensor) -> Tensor:
    """(in, s) for a 2-D input (the outer products then run along unit strides), else (s, t, in)."""
    return a.T.contiguous() if a.ndim == 2 else a.reshape(a.shape[0], -1, a.shape[-1])


def _linear_fill(layer: nn.Module, leaf: str, a: Tensor, g: Tensor, dest: Tensor) -> None:
    if a.ndim == 2:  # a is (in, s)
        if leaf == "bias":
            dest.copy_(g.T)
        else:  # (out, in, s) = g ⊗ a along unit strides of the transposed copies
            out = dest.view(g.shape[1], a.shape[0], a.shape[1])
            torch.mul(g.T.contiguous().unsqueeze(1), a.unsqueeze(0), out=out)
        return
    s = a.shape[0]
    g3 = g.reshape(s, -1, g.shape[-1])
    if leaf == "bias":
        dest.copy_(g3.sum(1).T)
    else:
        dest.copy_(torch.bmm(g3.transpose(1, 2), a).reshape(s, -1).T)


def _conv_check(layer: nn.Module) -> str | None:
    if layer.padding_mode != "zeros":
        return f"padding_mode={layer.padding_mode!r} (only 'zeros' is covered)"
    return None


def _conv_geometry(layer: nn.Module, a: Tensor) -> tuple[Tensor, dict[str, tuple[int, int]]]:
    """The input as (s, C, H, W) (padded here only for an asymmetric 'same') and the 2-D unfold arguments."""
    one_d = isinstance(layer, nn.Conv1d)
    pair = (lambda v: (1, v[0])) if one_d else (lambda v: tuple(v))
    if one_d:
        a = a.unsqueeze(2)
    kernel, dilation, stride = pair(layer.kernel_size), pair(layer.dilation), pair(layer.stride)
    padding = (0, 0)
    if layer.padding == "same":  # total d·(k−1) per dimension, the odd one at the end (as torch)
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if all(t % 2 == 0 for t in totals):
            padding = (totals[0] // 2, totals[1] // 2)
        else:
            a = F.pad(a, [totals[1] // 2, totals[1] - totals[1] // 2, totals[0] // 2, totals[0] - totals[0] // 2])
    elif not isinstance(layer.padding, str):  # 'valid' is no padding
        padding = (0, layer.padding[0]) if one_d else tuple(layer.padding)
    return a, {"kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}


def _conv_prepare(layer: nn.Module, a: Tensor) -> Tensor:
    """The im2col matrix (s, C·kh·kw, L) of the input, channel-major: the weight's layout."""
    a, geometry = _conv_geometry(layer, a)
    return F.unfold(a, **geometry)


def _conv_fill(layer: nn.Module, leaf: str, cols: Tensor, g: Tensor, dest: Tensor) -> None:
    s, groups = g.shape[0], layer.groups
    out_channels = g.shape[1]
    g = g.reshape(s, out_channels, -1)
    if leaf == "bias":
        dest.copy_(g.sum(-1).T)
        return
    if groups == 1:
        per_row = torch.bmm(g, cols.transpose(1, 2))  # (s, out, C·kh·kw): the weight's layout
    else:
        cols = cols.reshape(s, groups, -1, cols.shape[-1])
        per_row = torch.einsum("sgol,sgkl->sgok", g.reshape(s, groups, out_channels // groups, -1), cols)
    dest.copy_(per_row.reshape(s, -1).T)


ROW_RULES: dict[type[nn.Module], RowRule] = {
    nn.Linear: RowRule(lambda layer: None, _linear_prepare, _linear_fill),
    nn.Conv1d: RowRule(_conv_check, _conv_prepare, _conv_fill, input_ndim=3),
    nn.Conv2d: RowRule(_conv_check, _conv_prepare, _conv_fill, input_ndim=4),
}
"""The layer types whose parameters the exact row Jacobian covers (exact type, not subclasses: a
subclass may change ``forward``)."""


def _layout(model: nn.Module, names: Sequence[str],
            rules: dict[type[nn.Module], RowRule]) -> tuple[list[tuple[nn.Module, str]], str | None]:
    modules = dict(model.named_modules())
    layout: list[tuple[nn.Module, str]] = []
    for name in names:
        owner, _, leaf = name.rpartition(".")
        layer = modules.get(owner)
        rule = rules.get(type(layer)) if layer is not None else None
        if rule is None or leaf not in ("weight", "bias"):
            kind = type(layer).__name__ if layer is not None and layer is not model else "the model itself"
            covered = ", ".join(t.__name__ for t in rules)
            return [], f"parameter {name!r} belongs to {kind}, which the exact row Jacobian does not cover ({covered})"
        why = rule.check(layer)
        if why is not None:
            return [], f"parameter {name!r}: {type(layer).__name__} with {why}"
        layout.append((layer, leaf))
    return layout, None


def unsupported(model: nn.Module, names: Sequence[str] | None = None) -> str | None:
    """Why the exact row Jacobian cannot cover ``model`` (its trainable parameters ``names``), or None."""
    if names is None:
        names = [n for n, p in model.named_parameters() if p.requires_grad]
    return _layout(model, names, ROW_RULES)[1]


class LayerRowJacobian:
    """Row slices (r_s, J_s) for a model whose trainable parameters (``names``, in flat order) are all
    weights and biases of layers in ``rules`` (default :data:`ROW_RULES`); ``residual(x, *batch)``
    evaluates r with flat θ = x. ``note`` says why the last slice could not be served (else "")."""

    rules: dict[type[nn.Module], RowRule] = ROW_RULES

    def __init__(self, model: nn.Module, names: Sequence[str], residual: Callable[..., Tensor]) -> None:
        self.residual = residual
        self.layout, why = _layout(model, names, self.rules)
        if why is not None:
            raise ValueError(why)
        self.layers = list(dict.fromkeys(layer for layer, _ in self.layout))
        self.note = ""

    @classmethod
    def for_model(cls, model: nn.Module, names: Sequence[str],
                  residual: Callable[..., Tensor]) -> LayerRowJacobian | None:
        try:
            return cls(model, names, residual)
        except ValueError:
            return None

    def _refuse(self, why: str) -> None:
        self.note = why
        return None

    def __call__(self, x: Tensor, batch: Sequence[object]) -> tuple[Tensor, Tensor] | None:
        """(r_s, J_s) for this slice of the batch, or None (and ``note``) when the scheme does not fit."""
        seen: dict[nn.Module, list[tuple[object, Tensor]]] = {layer: [] for layer in self.layers}

        def record(layer: nn.Module, inputs: tuple[object, ...], output: Tensor) -> None:
            seen[layer].append((inputs[0] if inputs else None, output))

        hooks = [layer.register_forward_hook(record) for layer in self.layers]
        try:
            leaf = x.detach().requires_grad_(True)
            with torch.enable_grad():
                r = self.residual(leaf, *batch)
                rows = _rows(batch)
                if rows is None or rows == 0 or r.ndim != 1 or r.shape[0] % rows:
                    return self._refuse("the residual does not give the same number of entries for every data row")
                per_row = r.shape[0] // rows
                if any(len(calls) != 1 for calls in seen.values()):
                    return self._refuse("a layer with parameters is called more than once (or not at all) per "
                                        "evaluation, so its per-row outputs are not unique")
                pairs = [seen[layer][0] for layer in self.layers]
                for layer, (a, z) in zip(self.layers, pairs):
                    want = self.rules[type(layer)].input_ndim
                    if (not isinstance(a, Tensor) or a.ndim < 2 or (want is not None and a.ndim != want)
                            or a.shape[0] != rows or z.shape[0] != rows or not z.requires_grad):
                        return self._refuse(f"{type(layer).__name__} was not called on a batch of the slice's "
                                            f"{rows} rows (input shape {getattr(a, 'shape', None)})")
                outputs = [z for _, z in pairs]
                r_rows = r.view(rows, per_row)
                grads_by_component = []
                for j in range(per_row):
                    grads = torch.autograd.grad(r_rows[:, j].sum(), outputs, allow_unused=True,
                                                retain_graph=j + 1 < per_row)
                    if any(gr is None for gr in grads):
                        return self._refuse("a layer with parameters does not influence the residual")
                    grads_by_component.append(grads)
        finally:
            for hook in hooks:
                hook.remove()
        inputs = {layer: self.rules[type(layer)].prepare(layer, a.detach())  # once, whatever the residuals per row
                  for layer, (a, _) in zip(self.layers, pairs)}
        # J is written column-major (Jᵀ contiguous): the products JᵀJ then read both operands along their
        # unit stride, 7-19 % faster than from row-major J (see pinnlma.backends.linalg.rank_k_update)
        jac_t = torch.empty(x.shape[0], rows, per_row, dtype=r.dtype, device=r.device)
        for j, grads in enumerate(grads_by_component):
            by_layer = dict(zip(self.layers, grads))
            start = 0
            for layer, leaf_name in self.layout:
                width = getattr(layer, leaf_name).numel()
                self.rules[type(layer)].fill(layer, leaf_name, inputs[layer], by_layer[layer],
                                             jac_t[start:start + width, :, j])
                start += width
        self.note = ""
        return r.detach(), jac_t.view(x.shape[0], rows * per_row).T


def _rows(batch: Sequence[object]) -> int | None:
    lengths = {int(a.shape[0]) for a in batch if isinstance(a, Tensor) and a.ndim > 0}
    return lengths.pop() if len(lengths) == 1 else None
