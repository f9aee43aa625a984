"""From a :class:`~pinnlma.pinn.problem.Problem` and a seed to a ready residual function.

The one set-up sequence every caller shares (the run loop, the benchmarks, the paper reproduction):
seed torch → build the network → a sampler with the same seed → the residual assembler, which draws
the collocation points. The same seed gives the same weights and points, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..lm.jacobian import DEFAULT_MEMORY_BUDGET
from ..ranks import RowPartition
from .assembler import ResidualAssembler
from .embeddings import FeatureMap, embedding_settings
from .exact import OutputTransform, generated_transform
from .models import MLP
from .problem import Problem
from .sampling import Sampler

__all__ = ["MODEL_DEFAULTS", "build_assembler", "build_model", "build_transform"]

MODEL_DEFAULTS: dict[str, Any] = {"width": 20, "depth": 3, "activation": "tanh"}
"""The network a problem gets unless its ``model`` settings say otherwise."""


def build_model(problem: Problem, dtype: torch.dtype = torch.float64) -> MLP:
    """The problem's MLP (:data:`MODEL_DEFAULTS` updated by ``problem.model``), its inputs scaled from the
    domain's bounding box onto [−1, 1], or embedded by ``problem.model["embedding"]``
    (:mod:`pinnlma.pinn.embeddings`), with the output transform of ``problem.exact``
    (:mod:`pinnlma.pinn.exact`). Draws the initial weights from torch's global generator. ValueError for
    unknown embedding kinds, coordinates or conditions."""
    settings = {**MODEL_DEFAULTS, **problem.model}
    embed = embedding_settings(settings.pop("embedding", None))
    bounds = [(float(lo), float(hi)) for lo, hi in problem.domain.bounds]
    embedding = None
    if embed:
        embedding = FeatureMap(
            bounds,
            problem.domain.names,
            embed.get("periodic"),
            embed.get("fourier"),
            dtype=dtype,
            even=embed.get("even"),
        )
    return MLP(
        problem.domain.dim,
        problem.output_count,
        dtype=dtype,
        input_range=bounds,
        embedding=embedding,
        transform=build_transform(problem),
        **settings,
    )


def build_transform(problem: Problem) -> OutputTransform | None:
    """The output transform ``problem.exact`` asks for: its own, one generated for the named conditions, or None."""
    exact = problem.exact
    if isinstance(exact, OutputTransform):
        return exact.bind(problem)
    if not exact:
        return None
    return generated_transform(problem, list(exact)).bind(problem)


def build_assembler(
    problem: Problem,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    jacobian: str = "auto",
    devices: Sequence[str | torch.device] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    device: str | torch.device = "cpu",
    model_problem: Problem | None = None,
    partition: RowPartition | None = None,
) -> ResidualAssembler:
    """Seed torch with ``seed``, build the network, and assemble the problem's residual on points drawn by a
    sampler seeded with ``seed`` too. The network is built on the CPU (the same weights from a seed on every
    machine) and moved to ``device``, the primary device. ``jacobian``, ``devices``, ``device`` and
    ``memory_budget`` go to :class:`~pinnlma.pinn.assembler.ResidualAssembler` (which raises ValueError for
    bad values). ``model_problem``: the problem the network is built for, when it differs from the one
    trained on (a time-marching window trains the network of the whole time span); default ``problem``.
    ``partition``: the rows this process computes under a multi-rank launch (default: all of them)."""
    torch.manual_seed(seed)
    model = build_model(model_problem or problem, dtype)
    sampler = Sampler(problem.sampling, seed=seed)
    return ResidualAssembler(
        problem,
        model.to(device),
        sampler=sampler,
        dtype=dtype,
        jacobian=jacobian,
        devices=devices,
        memory_budget=memory_budget,
        device=device,
        partition=partition,
    )
