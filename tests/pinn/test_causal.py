"""Causal residual weights (Wang, Sankaran & Perdikaris 2022): the weights against a hand computation, the
weighted rows √w·r, the channel Jacobian against the generic path with weights on, the LM objective hook, an
exact resume, a real short run, and clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pinnlma.optim import make_optimizer
from pinnlma.pinn.causal import Causal, chunk_index, chunk_losses, chunk_weights, parse_causal
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_assembler
from pinnlma.run import ResumeError, RunConfig, SetupError, solve

pytestmark = pytest.mark.usefixtures("float64_default")


def quick_allen_cahn():
    return apply_options(load_problem("allen_cahn"), quick=True)


def perturbed(a, seed: int = 0) -> torch.Tensor:
    """θ₀ moved off the initial point, so that the residual differs between chunks."""
    return a.initial_parameters() + 0.3 * torch.randn(a.n_params, generator=torch.Generator().manual_seed(seed))


def test_chunk_weights_by_hand() -> None:
    t = torch.tensor([0.1, 0.3, 0.6, 0.9, 1.0, 0.5])
    index = chunk_index(t, 0.0, 1.0, 2)
    assert index.tolist() == [0, 0, 1, 1, 1, 1]  # T itself in the last chunk
    raw = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0, 1.0])
    losses = chunk_losses(index, raw * raw, 2)
    assert losses.tolist() == [2.5, 6.5]  # (1 + 4)/2 and (9 + 16 + 0 + 1)/4
    assert chunk_losses(torch.tensor([0, 0]), torch.tensor([1.0, 3.0]), 3).tolist() == [2.0, 0.0, 0.0]
    w = chunk_weights(torch.tensor([2.5, 6.5, 1.0]), 0.5)
    assert w.tolist() == [1.0, math.exp(-0.5 * 2.5), math.exp(-0.5 * 9.0)]
    assert float(chunk_weights(torch.tensor([1e6, 1.0]), 1.0)[1]) == math.sqrt(torch.finfo(torch.float64).tiny)


def test_weights_and_rows_on_allen_cahn_by_hand() -> None:
    """Weights from the raw PDE residual chunk by chunk (plain Python loops), rows √w·r, conditions untouched."""
    plain = build_assembler(quick_allen_cahn(), seed=3)
    a = build_assembler(quick_allen_cahn(), seed=3)
    theta = perturbed(a)
    rule = Causal(0.7, chunks=4)
    assert rule.apply(a, theta) and not rule.apply(a, theta)  # the same θ: nothing changes the second time
    points = a.block_points("pde")
    raw = plain.block_residual_at("pde", points, theta).tolist()
    sums, counts = [0.0] * 4, [0] * 4
    for (_, t), value in zip(points.tolist(), raw):
        k = min(int(t * 4), 3)
        sums[k] += value * value
        counts[k] += 1
    losses = [s / c for s, c in zip(sums, counts)]
    expected = [math.exp(-0.7 * sum(losses[:k])) for k in range(4)]
    w = a.row_weights("pde")
    assert w is not None and len(set(w.tolist())) == 4
    chunks = [min(int(t * 4), 3) for t in points[:, 1].tolist()]
    assert np.allclose(w.numpy(), [expected[k] for k in chunks], rtol=1e-13, atol=0)
    r, r_plain = a.residual(theta), plain.residual(theta)
    rows = a.block_slices()["pde"]
    assert torch.allclose(r[rows], w.sqrt() * r_plain[rows], rtol=1e-14, atol=0)
    others = [sl for name, sl in a.block_slices().items() if name != "pde"]
    assert all(torch.equal(r[sl], r_plain[sl]) for sl in others)
    assert a.block_losses(theta) == pytest.approx(plain.block_losses(theta), rel=1e-12)  # reported unweighted
    assert a.loss(r) == pytest.approx(float(r_plain @ r_plain) - float(r_plain[rows] @ ((1 - w) * r_plain[rows])))


def test_channel_jacobian_equals_the_generic_path_with_weights_on() -> None:
    fast = build_assembler(quick_allen_cahn(), seed=4, jacobian="channels")
    slow = build_assembler(quick_allen_cahn(), seed=4, jacobian="generic")
    plain = build_assembler(quick_allen_cahn(), seed=4, jacobian="channels")
    theta = perturbed(fast, 1)
    Causal(2.0, chunks=5).apply(fast, theta)
    slow.set_row_weights("pde", fast.row_weights("pde"))
    (r_fast, j_fast), (r_slow, j_slow) = fast.full_jacobian(theta), slow.full_jacobian(theta)
    scale = float(j_slow.abs().max())
    assert float((j_fast - j_slow).abs().max()) <= 1e-12 * scale
    assert float((r_fast - r_slow).abs().max()) <= 1e-12 * float(r_slow.abs().max())
    _, j_plain = plain.full_jacobian(theta)
    factors = torch.ones(fast.n_residuals, dtype=theta.dtype)
    factors[fast.block_slices()["pde"]] = fast.row_weights("pde").sqrt()
    assert float((j_fast - factors[:, None] * j_plain).abs().max()) <= 1e-13 * scale
    v = torch.randn(fast.n_params, generator=torch.Generator().manual_seed(2), dtype=theta.dtype)
    assert torch.allclose(fast.j_times(theta, v), j_slow @ v, rtol=1e-10, atol=1e-12 * scale)
    assert torch.allclose(fast.jt_times(theta, r_slow), j_slow.T @ r_slow, rtol=1e-10, atol=1e-12 * scale)


def test_the_optimizer_refresh_puts_lm_on_the_new_objective() -> None:
    a = build_assembler(quick_allen_cahn(), seed=5)
    theta = perturbed(a, 2)
    lm = make_optimizer("lm", a, theta)
    assert Causal(5.0, chunks=3).apply(a, lm.x)
    lm.refresh()
    r = a.residual(lm.x)
    assert lm.core.state.cost == 0.5 * float(r @ r)
    report = lm.step()
    assert report.loss == pytest.approx(float(a.residual(lm.x) @ a.residual(lm.x)), rel=1e-14)


def test_causal_runs_resume_exactly_across_windows_and_updates(tmp_path: Path) -> None:
    """Weights updated every 3 iterations (so a resume must restore them, not recompute them), time-marching
    on (allen_cahn's default), stopped between updates and resumed."""
    problem = quick_allen_cahn()
    config = RunConfig(iters=10, causal="1:4:3", eval_every=100)
    straight = solve(problem, config, progress=False)
    assert straight.record.attrs["causal"] == "Causal(eps=1.0, chunks=4, every=3)"
    for stop in (4, 7):
        part = tmp_path / f"part{stop}.h5"
        solve(problem, config, out=part, progress=False, callback=lambda it, _m, s=stop: it >= s)
        resumed = solve(problem, config, resume=part, out=part, progress=False)
        assert np.array_equal(straight.theta.numpy(), resumed.theta.numpy()), stop
        assert np.array_equal(straight.record.history["loss"], resumed.record.history["loss"]), stop
    with pytest.raises(ResumeError, match="same --causal"):
        solve(problem, RunConfig(iters=12, causal="2:4:3"), resume=part, progress=False)


def test_a_causal_run_trains(tmp_path: Path) -> None:
    """A real short run of a bundled problem (allen_cahn --quick, 30 iterations) with --causal: the loss and
    the error fall, and the recorded per-block losses are the unweighted ones."""
    problem = quick_allen_cahn()
    run = solve(
        problem, RunConfig(iters=30, causal="1:8", march=(), adapt="none"), out=tmp_path / "ac.h5", progress=False
    )
    history = run.record.history
    start = build_assembler(problem, seed=0)  # the run's network and points
    Causal(1.0, chunks=8).apply(start, start.initial_parameters())
    assert history["loss"][0] == start.loss(start.residual(start.initial_parameters()))  # weighted from the start
    assert history["rel_l2"][-1] < 0.5 * history["rel_l2"][0]
    assert history["loss"][-1] < 0.1 * history["loss"][0]
    plain = build_assembler(problem, seed=0)
    plain.load_state_dict(
        {k: v for k, v in run.assembler.state_dict().items() if k != "row_weights"}
    )  # the same points, no weights
    assert history["loss/pde"][-1] == pytest.approx(plain.block_losses(run.theta)["pde"], rel=1e-10)
    assert run.assembler.row_weights("pde") is not None


def test_causal_settings_parse_and_errors() -> None:
    assert parse_causal("none") is None
    assert parse_causal("1") == Causal(1.0) and parse_causal("10:64:5") == Causal(10.0, 64, 5)
    assert parse_causal("0.01,0.1,1:16:2:0.9") == Causal((0.01, 0.1, 1.0), 16, 2, 0.9)
    assert parse_causal("0.5,2").schedule == (0.5, 2.0) and parse_causal("3").schedule == (3.0,)
    assert repr(parse_causal("1:4:3")) == "Causal(eps=1.0, chunks=4, every=3)"  # as run files before delta
    for bad in ("x", "1:2:3:0.5:4", "1:2.5", "1,,2"):
        with pytest.raises(ValueError, match="EPS\\[:CHUNKS"):
            parse_causal(bad)
    for bad in ("0", "-1:4", "1:0", "1:4:0", "inf", "0.1,0"):
        with pytest.raises(ValueError, match="eps > 0"):
            parse_causal(bad)
    with pytest.raises(ValueError, match="must increase"):
        parse_causal("1,0.1")
    with pytest.raises(ValueError, match="delta"):
        parse_causal("1:4:1:1.5")
    with pytest.raises(ValueError, match="EPS"):
        RunConfig(causal="fast")
    with pytest.raises(SetupError, match="no time coordinate"):
        solve(apply_options(load_problem("poisson2d"), quick=True), RunConfig(iters=1, causal="1"), progress=False)
    a = build_assembler(quick_allen_cahn())
    with pytest.raises(ValueError, match="positive finite row weights"):
        a.set_row_weights("pde", torch.ones(3))
    with pytest.raises(ValueError, match="not a block"):
        a.row_weights("nothing")


def test_device_replicas_see_the_weights_in_force() -> None:
    """Jacobian slices computed on replicas (two CPU replicas here) use the current weights, also after they change."""
    one = build_assembler(quick_allen_cahn(), seed=6)
    two = build_assembler(quick_allen_cahn(), seed=6, devices=["cpu", "cpu"])
    theta = perturbed(one, 4)
    for eps in (0.5, 3.0):
        w = Causal(eps, chunks=4).weights(one, theta)["pde"]
        one.set_row_weights("pde", w)
        two.set_row_weights("pde", w)
        (r1, j1), (r2, j2) = one.full_jacobian(theta), two.full_jacobian(theta)
        assert torch.equal(r1, r2) and torch.equal(j1, j2), eps


def test_the_eps_schedule_moves_on_once_every_occupied_chunk_weighs_more_than_delta() -> None:
    """Algorithm 1 of Wang et al.: ε_s stays while min_i exp(−ε_s Σ_{k<i} L_k) ≤ δ; empty chunks do not count."""
    rule = Causal((0.01, 0.1, 1.0), chunks=4)
    every = torch.ones(4, dtype=torch.bool)
    assert rule.tolerance(torch.full((4,), 0.5), every) == 0.01  # worst Σ 1.5: exp(−0.015) ≤ 0.99
    assert rule.tolerance(torch.tensor([0.2, 0.2, 0.1, 9.0]), every) == 0.1  # Σ 0.5: 0.995 > δ, exp(−0.05) ≤ δ
    assert rule.tolerance(torch.full((4,), 1e-4), every) == 1.0  # all passed: the last
    first_two = torch.tensor([True, True, False, False])
    assert rule.tolerance(torch.tensor([0.5, 9.0, 0.0, 0.0]), first_two) == 0.1  # only chunk 1's Σ 0.5 counts
    a = build_assembler(quick_allen_cahn(), seed=7)
    theta = perturbed(a, 5)
    weights, eps = rule.update(a, theta)
    assert eps in rule.schedule
    assert torch.equal(weights["pde"], Causal(eps, chunks=4).weights(a, theta)["pde"])  # the fixed-ε weights


def test_a_scheduled_causal_run_records_its_eps_and_resumes_exactly(tmp_path: Path) -> None:
    problem = quick_allen_cahn()
    config = RunConfig(iters=30, causal="0.01,1,100:4:2", march=(), adapt="none", eval_every=100)
    straight = solve(problem, config, progress=False)
    eps = straight.record.history["causal_eps"]
    assert set(eps.tolist()) <= {0.01, 1.0, 100.0} and len(set(eps.tolist())) > 1  # it moved on
    part = tmp_path / "part.h5"
    solve(problem, config, out=part, progress=False, callback=lambda it, _m: it >= 27)  # ε = 1 by then
    resumed = solve(problem, config, resume=part, out=part, progress=False)
    assert np.array_equal(straight.theta.numpy(), resumed.theta.numpy())
    assert np.array_equal(eps, resumed.record.history["causal_eps"])
