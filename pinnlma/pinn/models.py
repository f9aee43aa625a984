"""Neural network models for PINNs: the :class:`MLP`, its architectures :data:`ARCHITECTURES` and the
activation registry :data:`ACTIVATIONS`.

Architectures (``model={"arch": ...}``, ``--arch``), with h₀ the input features, σ the activation and L the
number of hidden layers:

- ``plain``: H₁ = σ(h₀W₁ + b₁), H_{k+1} = σ(H_kW_{k+1} + b_{k+1}), output H_L W + b;
- ``modified`` (the modified MLP of Wang, Teng & Perdikaris 2021, arXiv:2001.04536): two encoders
  U = σ(h₀W_u + b_u), V = σ(h₀W_v + b_v), H₁ = σ(h₀W₁ + b₁), then for k = 1 … L − 1 a gate
  Z_k = σ(H_kW_{k+1} + b_{k+1}) and H_{k+1} = (1 − Z_k)⊙U + Z_k⊙V; output H_L W + b. All hidden widths equal,
  L ≥ 2; 2(q·w + w) parameters more than the plain MLP (q input features, w the width), the encoders' after
  the others in θ.

An MLP may carry a fixed input feature layer (:class:`~pinnlma.pinn.embeddings.FeatureMap`: periodic and
Fourier embeddings) and an output transform (:class:`~pinnlma.pinn.exact.OutputTransform`: exact
constraints u = g + d·N). The exact per-point Jacobian of an MLP (derivative channels) lives in
:mod:`pinnlma.pinn.channels`; :attr:`MLP.supports_channels` says whether it applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .channels import CHANNEL_ACTIVATIONS, CHANNEL_ARCHITECTURES, MultiIndex, affine_input_channels
from .conditions import Condition, Periodic
from .embeddings import FeatureMap
from .geometry import Domain

OutputMap = Callable[[Tensor, Tensor], Tensor]

__all__ = ["ACTIVATIONS", "ARCHITECTURES", "MLP", "Sine"]


class Sine(nn.Module):
    """σ(z) = sin(z)."""

    def forward(self, z: Tensor) -> Tensor:
        """sin(z), elementwise."""
        return torch.sin(z)


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "sin": Sine,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
}
"""Hidden-layer activation name → module factory (the ``--activation`` choices)."""


def _plain(net: MLP, h: Tensor) -> Tensor:
    for layer in net.linears[:-1]:
        h = net.act(layer(h))
    return h


def _modified(net: MLP, h0: Tensor) -> Tensor:
    u, v = (net.act(encoder(h0)) for encoder in net.encoders)
    h = net.act(net.linears[0](h0))
    for layer in net.linears[1:-1]:
        z = net.act(layer(h))
        h = (1 - z) * u + z * v
    return h


ARCHITECTURES: dict[str, Callable[[MLP, Tensor], Tensor]] = {"plain": _plain, "modified": _modified}
"""Architecture name → the hidden layers' map h₀ ↦ H_L (the ``--arch`` choices; math in the module docstring)."""


class MLP(nn.Module):
    """Fully connected network inputs → width × depth hidden layers → outputs.

    ``activation`` in ACTIVATIONS; ``init`` 'xavier' (Glorot normal, zero biases; the PINN default)
    or 'default' (torch's). ``dtype`` float64 by default: LM's normal equations need it. ``arch`` in
    :data:`ARCHITECTURES` (``modified``: gated by two input encoders, held in :attr:`encoders`).
    ``embedding``: a :class:`~pinnlma.pinn.embeddings.FeatureMap` φ in place of the affine input scaling
    (the first layer then reads its ``n_features``); ``transform``: an output map ``(x, N(x)) -> u`` such as
    :class:`~pinnlma.pinn.exact.OutputTransform` (with a ``channels`` method for the exact Jacobian path).
    """

    input_scale: Tensor
    input_shift: Tensor

    def __init__(
        self,
        inputs: int,
        outputs: int = 1,
        width: int = 20,
        depth: int = 3,
        activation: str = "tanh",
        init: str = "xavier",
        dtype: torch.dtype = torch.float64,
        widths: Sequence[int] | None = None,
        input_range: Sequence[tuple[float, float]] | None = None,
        embedding: FeatureMap | None = None,
        transform: OutputMap | None = None,
        arch: str = "plain",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        hidden = list(widths) if widths is not None else [width] * depth
        if inputs < 1 or outputs < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"MLP needs inputs, outputs and hidden widths >= 1, got {inputs}, {outputs}, {hidden}")
        if arch == "modified" and (len(hidden) < 2 or len(set(hidden)) != 1):
            raise ValueError(f"the modified MLP needs at least 2 hidden layers of one width, got widths {hidden}")
        if embedding is not None and len(embedding.names) != inputs:
            raise ValueError(f"the embedding has {len(embedding.names)} coordinates, the MLP {inputs} inputs")
        self.embedding, self.transform = embedding, transform
        sizes = [embedding.n_features if embedding is not None else inputs, *hidden, outputs]
        self.activation_name, self.arch = activation, arch
        self.linears = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:]))
        n_encoders = 2 if arch == "modified" else 0
        self.encoders = nn.ModuleList(nn.Linear(sizes[0], sizes[1], dtype=dtype) for _ in range(n_encoders))
        self.act = ACTIVATIONS[activation]()
        if init == "xavier":
            for layer in [*self.linears, *self.encoders]:
                assert isinstance(layer, nn.Linear)
                nn.init.xavier_normal_(layer.weight)
                nn.init.zeros_(layer.bias)
        elif init != "default":
            raise ValueError(f"unknown init {init!r}; choose 'xavier' or 'default'")
        self.sizes = sizes
        # x̂ = 2(x − lo)/(hi − lo) − 1 maps the domain onto [−1, 1]² so tanh units start unsaturated
        lo = (
            torch.tensor([r[0] for r in input_range], dtype=dtype)
            if input_range
            else torch.full((inputs,), -1.0, dtype=dtype)
        )
        hi = torch.tensor([r[1] for r in input_range], dtype=dtype) if input_range else torch.ones(inputs, dtype=dtype)
        if lo.shape != (inputs,) or not bool(torch.all(hi > lo)):
            raise ValueError(f"input_range must give {inputs} (lo, hi) pairs with hi > lo")
        self.register_buffer("input_scale", 2.0 / (hi - lo))
        self.register_buffer("input_shift", -1.0 - lo * (2.0 / (hi - lo)))

    @property
    def n_params(self) -> int:
        """The number of parameters (weights and biases)."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: Tensor) -> Tensor:
        """Outputs (N, outputs) at points x (N, inputs)."""
        h = self.embedding(x) if self.embedding is not None else x * self.input_scale + self.input_shift
        out = self.linears[-1](ARCHITECTURES[self.arch](self, h))
        return out if self.transform is None else self.transform(x, out)

    def input_channels(self, x: Tensor, channels: Sequence[MultiIndex]) -> Tensor:
        """The first layer's input channels (C, N, q): ∂^α of the embedding, or of the affine scaling."""
        if self.embedding is not None:
            return torch.stack([self.embedding.channel(x, alpha) for alpha in channels])
        return affine_input_channels(x, self.input_scale, self.input_shift, channels)

    def output_channels(
        self, x: Tensor, z: Tensor, channels: Sequence[MultiIndex], index: dict[MultiIndex, int]
    ) -> Tensor:
        """The outputs' channels (C, N, outputs) from the last layer's z: z itself, or the transform's."""
        if self.transform is None:
            return z
        return self.transform.channels(x, z, channels, index)  # type: ignore[attr-defined]

    def satisfied_conditions(self, conditions: Sequence[Condition], domain: Domain) -> list[str]:
        """The names of the conditions this network meets by construction, whose blocks leave the residual:
        :class:`~pinnlma.pinn.conditions.Periodic` along a coordinate its embedding makes periodic with the
        domain's period, and those its output transform lists in ``replaces``."""
        out = list(getattr(self.transform, "replaces", ()))
        if self.embedding is not None:
            bounds = dict(zip(domain.names, domain.bounds))
            for cond in conditions:
                if isinstance(cond, Periodic) and cond.coordinate in self.embedding.periodic_names:
                    lo, hi = bounds[cond.coordinate]
                    if abs(self.embedding.period(cond.coordinate) - (hi - lo)) <= 1e-12 * (hi - lo):
                        out.append(cond.name)
        return out

    @property
    def supports_channels(self) -> bool:
        """Whether the exact channel Jacobian (:mod:`pinnlma.pinn.channels`) applies: an activation with
        closed-form derivatives, an architecture the channels cover, and an output transform (if any) that
        gives its channels."""
        transform_ok = self.transform is None or callable(getattr(self.transform, "channels", None))
        return self.activation_name in CHANNEL_ACTIVATIONS and self.arch in CHANNEL_ARCHITECTURES and transform_ok
