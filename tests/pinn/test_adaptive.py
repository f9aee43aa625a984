"""Adaptive collocation: RAR adds the pool's largest-|r| points up to its budget, RAD redistributes by |r|,
both reproducible from the seed and resumed exactly from the run file."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pinnlma.pinn.adaptive import Adaptive, parse_adaptive
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_assembler
from pinnlma.run import ResumeError, RunConfig, SetupError, solve

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


def test_the_closing_round_draws_final_times_the_points_once_and_resumes_exactly(tmp_path: Path) -> None:
    problem = quick_burgers()
    n_pde = len(build_assembler(problem).block_points("pde"))
    # iterations 0-9; the last 30 % of 10 begin at iteration 7: rounds at 3 and 6, the closing draw at 7, none at 9
    config = RunConfig(iters=10, adapt="rad:every=3,pool=3000,final=2,final_share=0.3", eval_every=100)
    straight = solve(problem, config, progress=False)
    blocks = json.loads(straight.record.attrs["blocks"])
    assert blocks["pde"] == 2 * n_pde and straight.record.attrs["adapt_closed"] == 1
    at_eight = solve(problem, config, progress=False, callback=lambda it, _m: it >= 8)
    assert torch.equal(at_eight.assembler.block_points("pde"), straight.assembler.block_points("pde"))
    at_six = solve(problem, config, progress=False, callback=lambda it, _m: it >= 6)
    assert len(at_six.assembler.block_points("pde")) == n_pde and at_six.record.attrs["adapt_closed"] == 0
    with pytest.raises(SetupError, match="give pool >= 2000"):
        solve(problem, replace(config, adapt="rad:every=3,pool=1500,final=2"), progress=False)
    for stop in (5, 8):  # before and after the closing round
        part = tmp_path / f"close{stop}.h5"
        solve(problem, config, out=part, progress=False, callback=lambda it, _m, stop=stop: it >= stop)
        resumed = solve(problem, config, resume=part, out=part, progress=False)
        assert np.array_equal(straight.theta.numpy(), resumed.theta.numpy()), stop
        assert torch.equal(straight.assembler.block_points("pde"), resumed.assembler.block_points("pde"))


def test_adaptive_settings_parse_and_errors() -> None:
    assert parse_adaptive("none") is None
    assert parse_adaptive("rar:every=25,points=100,budget=6000") == Adaptive("rar", every=25, points=100, budget=6000)
    assert parse_adaptive("rad:k=2,c=0.5") == Adaptive("rad", k=2.0, c=0.5)
    assert parse_adaptive("rad:final=3,final_share=0.2") == Adaptive("rad", final=3, final_share=0.2)
    assert Adaptive("rad", final=3).closes and not Adaptive("rad").closes
    # without a closing round the record is the text run files held before it existed, so they resume
    assert repr(Adaptive("rad")) == "Adaptive(kind='rad', every=50, pool=10000, points=100, budget=None, k=1.0, c=1.0)"
    assert repr(Adaptive("rad", final=3)).endswith("c=1.0, final=3, final_share=0.1)")
    with pytest.raises(ValueError, match="is a rad setting"):
        parse_adaptive("rar:final=2")
    with pytest.raises(ValueError, match="0 < final_share < 1"):
        parse_adaptive("rad:final=2,final_share=1")
    with pytest.raises(ValueError, match="choose rar, rad or none"):
        parse_adaptive("grow:every=3")
    with pytest.raises(ValueError, match="KEY one of"):
        parse_adaptive("rar:often=3")
    with pytest.raises(ValueError, match=">= 1"):
        parse_adaptive("rar:every=0")
    with pytest.raises(ValueError, match="not a PDE block"):
        build_assembler(quick_burgers()).block_points("initial")
