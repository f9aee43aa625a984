"""``ParameterLayout``: where each piece of the flat parameter vector θ lives.

θ = [the network's parameters in ``model.named_parameters()`` order, each flattened row-major, then the
unknown PDE coefficients in the problem's order]. The layout splits θ into the model's tensors and a
coefficient dict (known ∪ unknown), builds θ₀ and writes θ back into the model.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

__all__ = ["ParameterLayout"]


class ParameterLayout:
    """The layout of θ for ``model`` with the ``known`` coefficients (held by reference: a problem's own
    dict) and the ``unknowns`` (name → initial guess) appended after the network's parameters."""

    def __init__(self, model: nn.Module, known: Mapping[str, float], unknowns: Mapping[str, float]) -> None:
        self.param_names = [n for n, _ in model.named_parameters()]
        self.param_shapes = [p.shape for _, p in model.named_parameters()]
        self.n_model = sum(s.numel() for s in self.param_shapes)
        self.known, self.unknowns = known, unknowns
        self.unknown_names = list(unknowns)
        self.n_params = self.n_model + len(self.unknown_names)

    def initial(self, model: nn.Module, dtype: torch.dtype, device: torch.device) -> Tensor:
        """θ₀: the model's current parameters, then the unknown coefficients' initial guesses."""
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).to(dtype)
        unknowns = torch.tensor([self.unknowns[k] for k in self.unknown_names], dtype=dtype)
        return torch.cat([flat.to(device), unknowns.to(device)])

    def split(self, theta: Tensor) -> tuple[list[Tensor], dict[str, Tensor]]:
        """θ → (model tensors in parameter order, coefficient dict known ∪ unknown); views of θ."""
        tensors, start = [], 0
        for shape in self.param_shapes:
            tensors.append(theta[start : start + shape.numel()].view(shape))
            start += shape.numel()
        coefs = {k: torch.as_tensor(v, dtype=theta.dtype, device=theta.device) for k, v in self.known.items()}
        for i, k in enumerate(self.unknown_names):
            coefs[k] = theta[self.n_model + i]
        return tensors, coefs

    def params(self, theta: Tensor) -> dict[str, Tensor]:
        """The model's parameters by name, as views of θ (for ``functional_call``)."""
        return dict(zip(self.param_names, self.split(theta)[0]))

    def write_back(self, model: nn.Module, theta: Tensor) -> None:
        """Copy θ's network part into ``model``."""
        tensors, _ = self.split(theta.detach())
        with torch.no_grad():
            for p, t in zip(model.parameters(), tensors):
                p.copy_(t.to(p))

    def coefficients(self, theta: Tensor) -> dict[str, float]:
        """The current values of the unknown coefficients."""
        return {k: float(theta[self.n_model + i]) for i, k in enumerate(self.unknown_names)}
