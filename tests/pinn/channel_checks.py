"""The check shared by the channel tests: every derivative channel of a network equals nested autograd."""

from __future__ import annotations

import torch
from torch import nn

from pinnlma.pinn.channels import ChannelForward, close_channels

REQUESTS = [(0,), (1,), (0, 0), (0, 1), (1, 1), (0, 0, 0), (0, 0, 1)]
"""Derivatives up to third order in two inputs."""


def assert_channels_match_autograd(
    net: nn.Module, x: torch.Tensor, requests: list[tuple[int, ...]] = REQUESTS
) -> tuple[torch.Tensor, list, list, torch.Tensor]:
    """ChannelForward's ∂^α u for every α of ``requests`` against nested autograd at the points ``x``
    (rtol 1e-11, atol 1e-12); returns ``(channels, pre-activations, layer inputs, u)`` for further checks."""
    forward = ChannelForward(net, close_channels(requests))
    out, pre, acts = forward(x.detach(), list(net.parameters()))
    x = x.detach().requires_grad_(True)
    u = net(x)
    for o in range(u.shape[1]):
        for alpha in requests:
            g = u[:, o]
            for k in alpha:
                g = torch.autograd.grad(g.sum(), x, create_graph=True)[0][:, k]
            assert torch.allclose(out[forward.index[alpha], :, o], g, rtol=1e-11, atol=1e-12), (alpha, o)
    return out, pre, acts, u
