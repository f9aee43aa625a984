"""The exact fast Jacobian path of an :class:`~pinnlma.pinn.models.MLP`: derivative channels and per-point Jacobians.

**Derivative channels.** A PDE residual needs u and some partial derivatives D^α u at every point,
α a multi-index over the input coordinates (e.g. (), (x,), (t,), (x, x) for Burgers). An MLP carries,
besides its activations, one *channel* per needed α through the layers:

- linear layer z = W a + b:          z_α = W a_α   (+ b only in the value channel α = ())
- activation a = σ(z), elementwise:  a_α = Σ over set partitions π of α of σ^(|π|)(z) · Π_{B∈π} z_B
  (Faà di Bruno; e.g. a_ij = σ''(z) z_i z_j + σ'(z) z_ij).

**Per-point Jacobians in batched products.** Every residual row r_i depends only on point i, so one
reverse pass of Σ_i r_i gives δ_{α,i} = ∂r_i/∂z_{α,i} at every layer for all points at once, and

    ∂r_i/∂W = Σ_α δ_{α,i} a_{α,i}ᵀ        ∂r_i/∂b = δ_{(),i}

are batched outer products (one einsum per layer): the whole m×n Jacobian for the price of about one
forward and one backward pass over the channels, instead of m nested-autograd evaluations.

**Architectures** (:data:`CHANNEL_ARCHITECTURES`): the plain chain of layers, and the modified MLP
(:mod:`pinnlma.pinn.models`), whose gate H = U + Z⊙(V − U) carries its channels by Leibniz,
(Z⊙D)_α = Σ_{S ⊆ positions of α} Z_{α_S} ⊙ D_{α∖α_S}. Every linear layer, the encoders included, is one
(pre-activation, input) pair of :func:`per_point_jacobian`, in the order of the model's parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Protocol

import torch
from torch import Tensor

__all__ = [
    "CHANNEL_ACTIVATIONS",
    "CHANNEL_ARCHITECTURES",
    "ChannelForward",
    "ChannelModel",
    "MultiIndex",
    "activation_derivatives",
    "affine_input_channels",
    "close_channels",
    "per_point_jacobian",
    "set_partitions",
]

MultiIndex = tuple[int, ...]
"""Indices of the input coordinates a derivative is taken along, sorted: () is u, (0, 0) is ∂²u/∂x₀²."""


def _tanh_derivatives(z: Tensor, order: int) -> list[Tensor]:
    t = torch.tanh(z)
    out = [t]
    if order >= 1:
        s1 = 1 - t * t
        out.append(s1)
    if order >= 2:
        s2 = -2 * t * s1
        out.append(s2)
    if order >= 3:
        s3 = -2 * s1 * s1 - 2 * t * s2
        out.append(s3)
    if order >= 4:
        out.append(-6 * s1 * s2 - 2 * t * s3)
    if order >= 5:
        raise ValueError("tanh derivative channels are implemented up to order 4")
    return out


def _sin_derivatives(z: Tensor, order: int) -> list[Tensor]:
    return [torch.sin(z + k * math.pi / 2) for k in range(order + 1)]


def _sigmoid_derivatives(z: Tensor, order: int) -> list[Tensor]:
    s = torch.sigmoid(z)
    out = [s]
    if order >= 1:
        d1 = s * (1 - s)
        out.append(d1)
    if order >= 2:
        d2 = d1 * (1 - 2 * s)
        out.append(d2)
    if order >= 3:
        out.append(d2 * (1 - 2 * s) - 2 * d1 * d1)
    if order >= 4:
        raise ValueError("sigmoid derivative channels are implemented up to order 3")
    return out


CHANNEL_ACTIVATIONS: dict[str, Callable[[Tensor, int], list[Tensor]]] = {
    "tanh": _tanh_derivatives,
    "sin": _sin_derivatives,
    "sigmoid": _sigmoid_derivatives,
}
"""Activations whose derivatives have closed forms here: name → (z, order) ↦ [σ(z), σ'(z), …, σ^(order)(z)]."""


def activation_derivatives(name: str, z: Tensor, order: int) -> list[Tensor]:
    """[σ(z), σ'(z), ..., σ^(order)(z)] in closed form (for the channel propagation)."""
    if name not in CHANNEL_ACTIVATIONS:
        raise ValueError(
            f"no closed-form derivatives for activation {name!r}; channels exist for {', '.join(CHANNEL_ACTIVATIONS)}"
        )
    return CHANNEL_ACTIVATIONS[name](z, order)


@cache
def set_partitions(n: int) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """All partitions of the positions {0..n-1} into blocks."""
    if n == 0:
        return ((),)
    out = []
    for part in set_partitions(n - 1):
        out.append(part + ((n - 1,),))
        for i in range(len(part)):
            out.append(part[:i] + (part[i] + (n - 1,),) + part[i + 1 :])
    return tuple(out)


def close_channels(requests: Iterable[MultiIndex]) -> list[MultiIndex]:
    """The sorted multi-indices needed to propagate ``requests``: closed under sub-multisets."""
    needed: set[MultiIndex] = {()}
    for alpha in requests:
        alpha = tuple(sorted(alpha))
        for mask in range(1 << len(alpha)):
            needed.add(tuple(a for k, a in enumerate(alpha) if mask >> k & 1))
    return sorted(needed, key=lambda a: (len(a), a))


def affine_input_channels(x: Tensor, scale: Tensor, shift: Tensor, channels: Sequence[MultiIndex]) -> Tensor:
    """Channels (C, N, dim) of x̂ = x·scale + shift: x̂ itself, ∂x̂/∂x_k = scale_k e_k, higher ones 0."""
    n_points, dim = x.shape
    scale = scale.to(x)
    chans = [x * scale + shift.to(x)]
    for alpha in channels[1:]:
        c = torch.zeros(n_points, dim, dtype=x.dtype, device=x.device)
        if len(alpha) == 1:
            c[:, alpha[0]] = scale[alpha[0]]  # ∂x̂/∂x_k
        chans.append(c)
    return torch.stack(chans)


class ChannelModel(Protocol):
    """What the channel path needs of a network (an :class:`~pinnlma.pinn.models.MLP` has it): the activation's
    name, the first layer's input channels (∂^α of the input map) and the output map of the last layer's
    channels (identity, or an output transform); the weights come as explicit tensors."""

    activation_name: str
    arch: str

    def input_channels(self, x: Tensor, channels: Sequence[MultiIndex]) -> Tensor:
        """(C, N, q): ∂^α of the first layer's input for each channel α (``channels[0]`` is ())."""
        ...

    def output_channels(
        self, x: Tensor, z: Tensor, channels: Sequence[MultiIndex], index: dict[MultiIndex, int]
    ) -> Tensor:
        """(C, N, outputs): the outputs' channels from the last linear layer's channels z."""
        ...


class ChannelForward:
    """Forward pass of an :class:`MLP` carrying derivative channels, with pre-activations kept for the
    per-point Jacobian. Parameters can be given explicitly (flat-vector functional use)."""

    def __init__(self, model: ChannelModel, channels: Sequence[MultiIndex]) -> None:
        if model.activation_name not in CHANNEL_ACTIVATIONS:
            raise ValueError(f"activation {model.activation_name!r} has no derivative channels")
        self.model = model
        self.channels = list(channels)
        self.index = {alpha: k for k, alpha in enumerate(self.channels)}
        self.order = max(len(a) for a in self.channels)
        # for each channel, its Faà di Bruno terms: (number of blocks, [channel index of each block])
        self.terms = []
        for alpha in self.channels:
            terms = []
            for part in set_partitions(len(alpha)):
                blocks = [self.index[tuple(sorted(alpha[p] for p in block))] for block in part]
                terms.append((len(part), blocks))
            self.terms.append(terms)

        # for each channel α, its Leibniz pairs (channel of α_S, channel of α∖α_S) over subsets S of positions
        self.leibniz = [
            [
                (
                    self.index[tuple(a for k, a in enumerate(alpha) if mask >> k & 1)],
                    self.index[tuple(a for k, a in enumerate(alpha) if not mask >> k & 1)],
                )
                for mask in range(1 << len(alpha))
            ]
            for alpha in self.channels
        ]
        if model.arch not in CHANNEL_ARCHITECTURES:
            raise ValueError(f"architecture {model.arch!r} has no derivative channels")

    def __call__(self, x: Tensor, params: Sequence[Tensor]) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """Returns (out, pre, acts): out (C, N, outputs) (after the model's output map); pre[l] (C, N, p_l) the
        pre-activations of linear layer l; acts[l] (C, N, q_l) its input, layers in the order of ``params``
        (the model's parameters, weight and bias per layer).

        Channels are kept as lists between layers (``unbind``/``stack`` have cheap backward passes,
        unlike indexing a stacked tensor once per Faà di Bruno term)."""
        a = self.model.input_channels(x, self.channels)
        return CHANNEL_ARCHITECTURES[self.model.arch](self, x, a, params)

    def linear(self, a: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """z = W a (+ b in the value channel only), channels (C, N, p)."""
        zs = list((a @ weight.T).unbind(0))
        zs[0] = zs[0] + bias
        return torch.stack(zs)

    def activate(self, z: Tensor) -> Tensor:
        """σ(z) with its channels (Faà di Bruno)."""
        return torch.stack(self._activate(z.unbind(0)))

    def gate(self, z: Tensor, u: Tensor, v: Tensor) -> Tensor:
        """(1 − z)⊙u + z⊙v = u + z⊙(v − u) with its channels (Leibniz)."""
        zs, ds, us = z.unbind(0), (v - u).unbind(0), u.unbind(0)
        out = []
        for c, pairs in enumerate(self.leibniz):
            total = us[c]
            for i, j in pairs:
                total = total + zs[i] * ds[j]
            out.append(total)
        return torch.stack(out)

    def _activate(self, zs: Sequence[Tensor]) -> list[Tensor]:
        sig = activation_derivatives(self.model.activation_name, zs[0], self.order)
        out: list[Tensor] = []
        for terms in self.terms:
            total: Tensor | None = None
            for n_blocks, blocks in terms:
                term = sig[n_blocks]
                for b in blocks:
                    term = term * zs[b]
                total = term if total is None else total + term
            assert total is not None  # every channel has at least one Faà di Bruno term
            out.append(total)
        return out


def _plain_channels(
    forward: ChannelForward, x: Tensor, a: Tensor, params: Sequence[Tensor]
) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    acts, pre = [a], []
    n_layers = len(params) // 2
    for layer in range(n_layers):
        z = forward.linear(a, params[2 * layer], params[2 * layer + 1])
        pre.append(z)
        if layer == n_layers - 1:
            return forward.model.output_channels(x, z, forward.channels, forward.index), pre, acts
        a = forward.activate(z)
        acts.append(a)
    raise AssertionError("unreachable")


def _modified_channels(
    forward: ChannelForward, x: Tensor, a0: Tensor, params: Sequence[Tensor]
) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    n_layers = len(params) // 2 - 2  # then the encoders U, V
    z_u, z_v = (forward.linear(a0, params[2 * k], params[2 * k + 1]) for k in (n_layers, n_layers + 1))
    u, v = forward.activate(z_u), forward.activate(z_v)
    z = forward.linear(a0, params[0], params[1])
    h, pre, acts = forward.activate(z), [z], [a0]
    for layer in range(1, n_layers):
        z = forward.linear(h, params[2 * layer], params[2 * layer + 1])
        pre.append(z)
        acts.append(h)
        if layer == n_layers - 1:
            out = forward.model.output_channels(x, z, forward.channels, forward.index)
            return out, [*pre, z_u, z_v], [*acts, a0, a0]
        h = forward.gate(forward.activate(z), u, v)
    raise AssertionError("unreachable")


CHANNEL_ARCHITECTURES: dict[
    str, Callable[[ChannelForward, Tensor, Tensor, Sequence[Tensor]], tuple[Tensor, list[Tensor], list[Tensor]]]
] = {"plain": _plain_channels, "modified": _modified_channels}
"""Architectures the channel path covers: name → (forward, x, input channels, params) ↦ (out, pre, acts)."""


def per_point_jacobian(
    pre_grads: Sequence[Tensor], acts: Sequence[Tensor], extra_cols: int = 0, out: Tensor | None = None
) -> Tensor:
    """Assemble J (N, n + extra_cols) from δ = ∂r_i/∂z (per layer, (C, N, p)) and layer inputs a
    ((C, N, q)), in the order of ``MLP.parameters()`` (weight then bias per layer, weight row-major).

    Written in place into ``out`` (accumulating, for point groups that share rows) or a new tensor,
    which is column-major (a transposed view of a contiguous (n + extra_cols, N) tensor: the products
    JᵀJ read it along unit strides); the last ``extra_cols`` columns are left for the caller (unknown PDE
    coefficients)."""
    n_points = pre_grads[0].shape[1]
    n = sum(d.shape[2] * (a.shape[2] + 1) for d, a in zip(pre_grads, acts))
    accumulate = out is not None
    if out is None:
        out = torch.empty(n + extra_cols, n_points, dtype=pre_grads[0].dtype, device=pre_grads[0].device).T
    col = 0
    for delta, a in zip(pre_grads, acts):
        # (C, p, N) and (C, q, N) made contiguous: the outer products below then run along unit strides
        # (for Burgers slices 52 ms instead of 89 ms with the strided views)
        delta, a = delta.detach().transpose(1, 2).contiguous(), a.detach().transpose(1, 2).contiguous()
        p, q = delta.shape[1], a.shape[1]
        weight = out[:, col : col + p * q].T.view(p, q, n_points)  # ∂r/∂W as (p, q, N)
        for c in range(delta.shape[0]):
            if c == 0 and not accumulate:
                torch.mul(delta[0].unsqueeze(1), a[0].unsqueeze(0), out=weight)
            else:
                weight.addcmul_(delta[c].unsqueeze(1), a[c].unsqueeze(0))
        col += p * q
        if accumulate:
            out[:, col : col + p] += delta[0].T
        else:
            out[:, col : col + p] = delta[0].T
        col += p
    return out
