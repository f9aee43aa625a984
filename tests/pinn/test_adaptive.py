"""Adaptive collocation: RAR adds the pool's largest-|r| points up to its budget, RAD redistributes by |r|,
both reproducible from the seed and resumed exactly from the run file."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from pinnlma.pinn.adaptive import Adaptive, parse_adaptive
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_assembler
from pinnlma.run import ResumeError, RunConfig, solve

pytestmark = pytest.mark.usefixtures("float64_default")


def quick_burgers():
    return apply_options(load_problem("burgers"), quick=True)


def test_rar_adds_the_largest_residual_points_of_the_pool_up_to_the_budget() -> None:
    a = build_assembler(quick_burgers(), seed=1)
    theta = a.initial_parameters() + 0.1 * torch.randn(a.n_params, generator=torch.Generator().manual_seed(0))
    before = a.block_points("pde").clone()
    sampler = copy.deepcopy(a.sampler)  # the pool the rule will draw
    rule = Adaptive("rar", pool=500, points=40, budget=len(before) + 60)
    assert rule.apply(a, theta)
    pool = torch.as_tensor(a.problem.domain.interior(500, sampler))
    size = a.block_residual_at("pde", pool, theta).abs()
    after = a.block_points("pde")
    assert torch.equal(after[: len(before)], before) and len(after) == len(before) + 40
    added = after[len(before) :]
    assert torch.equal(added, pool[torch.topk(size, 40).indices])
    assert float(size[torch.topk(size, 40).indices].min()) >= float(torch.sort(size).values[-41])
    assert rule.apply(a, theta) and len(a.block_points("pde")) == len(before) + 60  # only 20 fit
    assert not rule.apply(a, theta)  # budget reached
    assert a.n_residuals == sum(b.n_rows for b in a.blocks) and a.residual(theta).shape == (a.n_residuals,)


def test_rad_keeps_the_count_and_follows_the_residual() -> None:
    a = build_assembler(quick_burgers(), seed=2)
    theta = a.initial_parameters()
    n = len(a.block_points("pde"))
    sampler = copy.deepcopy(a.sampler)
    assert Adaptive("rad", pool=3000, k=2.0, c=0.0).apply(a, theta)
    pool = torch.as_tensor(a.problem.domain.interior(3000, sampler))
    size = a.block_residual_at("pde", pool, theta).abs()
    chosen = a.block_points("pde")
    assert chosen.shape == (n, 2)
    assert len(torch.unique(chosen, dim=0)) == n  # drawn without replacement from the pool
    assert float(a.block_residual_at("pde", chosen, theta).abs().mean()) > 1.5 * float(size.mean())


def test_adaptive_runs_are_reproducible_and_resume_exactly(tmp_path: Path) -> None:
    problem = quick_burgers()
    for adapt in ("rar:every=2,points=20,pool=400", "rad:every=3,pool=600"):
        config = RunConfig(iters=8, adapt=adapt, eval_every=100)
        straight = solve(problem, config, progress=False)
        again = solve(problem, config, progress=False)
        assert np.array_equal(straight.theta.numpy(), again.theta.numpy())
        part = tmp_path / f"{adapt[:3]}.h5"
        solve(problem, config, out=part, progress=False, callback=lambda it, _m: it >= 5)
        resumed = solve(problem, config, resume=part, out=part, progress=False)
        assert np.array_equal(straight.theta.numpy(), resumed.theta.numpy()), adapt
        assert np.array_equal(straight.record.history["loss"], resumed.record.history["loss"])
        assert straight.record.attrs["n_residuals"] == resumed.record.attrs["n_residuals"]
    assert straight.record.attrs["adapt"].startswith("Adaptive(kind='rad'")
    with pytest.raises(ResumeError, match="same --adapt"):
        solve(problem, RunConfig(iters=9), resume=part, progress=False)


def test_adaptive_settings_parse_and_errors() -> None:
    assert parse_adaptive("none") is None
    assert parse_adaptive("rar:every=25,points=100,budget=6000") == Adaptive("rar", every=25, points=100, budget=6000)
    assert parse_adaptive("rad:k=2,c=0.5") == Adaptive("rad", k=2.0, c=0.5)
    with pytest.raises(ValueError, match="choose rar, rad or none"):
        parse_adaptive("grow:every=3")
    with pytest.raises(ValueError, match="KEY one of"):
        parse_adaptive("rar:often=3")
    with pytest.raises(ValueError, match=">= 1"):
        parse_adaptive("rar:every=0")
    with pytest.raises(ValueError, match="not a PDE block"):
        build_assembler(quick_burgers()).block_points("initial")
