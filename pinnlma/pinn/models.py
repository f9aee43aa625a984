"""Neural network models for PINNs: the :class:`MLP` and the activation registry :data:`ACTIVATIONS`.

The exact per-point Jacobian of an MLP (derivative channels) lives in :mod:`pinnlma.pinn.channels`;
:attr:`MLP.supports_channels` says whether it applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .channels import CHANNEL_ACTIVATIONS

__all__ = ["ACTIVATIONS", "MLP", "Sine"]


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


class MLP(nn.Module):
    """Fully connected network inputs → width × depth hidden layers → outputs.

    ``activation`` in ACTIVATIONS; ``init`` 'xavier' (Glorot normal, zero biases; the PINN default)
    or 'default' (torch's). ``dtype`` float64 by default: LM's normal equations need it.
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
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        hidden = list(widths) if widths is not None else [width] * depth
        if inputs < 1 or outputs < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"MLP needs inputs, outputs and hidden widths >= 1, got {inputs}, {outputs}, {hidden}")
        sizes = [inputs, *hidden, outputs]
        self.activation_name = activation
        self.linears = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = ACTIVATIONS[activation]()
        if init == "xavier":
            for layer in self.linears:
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
        x = x * self.input_scale + self.input_shift
        for layer in self.linears[:-1]:
            x = self.act(layer(x))
        return self.linears[-1](x)

    @property
    def supports_channels(self) -> bool:
        """Whether the exact channel Jacobian (:mod:`pinnlma.pinn.channels`) applies to this activation."""
        return self.activation_name in CHANNEL_ACTIVATIONS
