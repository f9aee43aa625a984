"""Time-marching windows: hand-over at each window's share of the limits or at the loss tolerance, points
drawn in the window, exact resume across a window boundary, and clear errors for windows that cannot work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pinnlma.pinn import ResidualAssembler
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_model
from pinnlma.run import ResumeError, RunConfig, SetupError, solve
from pinnlma.run.march import march_windows, window_problem


def quick_allen_cahn():
    return apply_options(load_problem("allen_cahn"), quick=True)


def test_windows_hand_over_at_their_share_and_draw_points_in_the_window() -> None:
    problem = quick_allen_cahn()
    run = solve(problem, RunConfig(iters=12, march=(0.25, 0.5), eval_every=100), progress=False)
    assert run.record.history["window_end"].tolist() == [0.25] * 4 + [0.5] * 3 + [1.0] * 6
    assert run.record.attrs["march"] == "0.25,0.5,1" and run.record.attrs["march_window"] == 2
    first = solve(problem, RunConfig(iters=12, march=(0.25,), eval_every=100), progress=False)  # the same first window
    assert np.array_equal(run.record.history["loss"][:4], first.record.history["loss"][:4])
    assert not np.array_equal(run.record.history["loss"][:6], first.record.history["loss"][:6])
    window = ResidualAssembler(window_problem(problem, 0.25), build_model(problem))
    for block in window.blocks:
        assert float(block.groups[0][:, 1].max()) <= 0.25
    assert float(window.blocks[0].groups[0][:, 1].max()) > 0.2


def test_resume_is_exact_across_windows(tmp_path: Path) -> None:
    """Stopped in window 0 and in window 1 (as Ctrl-C or a crash after a checkpoint would), then resumed."""
    problem = quick_allen_cahn()
    config = RunConfig(iters=10, march=(0.3, 0.6), eval_every=100)
    straight = solve(problem, config, progress=False)
    for stop in (2, 5):
        part = tmp_path / f"part{stop}.h5"
        solve(problem, config, out=part, progress=False, callback=lambda it, _m, stop=stop: it >= stop)
        resumed = solve(problem, config, resume=part, out=part, progress=False)
        assert np.array_equal(straight.theta.numpy(), resumed.theta.numpy())
        assert np.array_equal(straight.record.history["loss"], resumed.record.history["loss"])
    with pytest.raises(ResumeError, match="same --march"):
        solve(problem, RunConfig(iters=12, march=(0.5,)), resume=part, progress=False)


def test_a_window_hands_over_once_its_loss_reaches_the_tolerance(tmp_path: Path) -> None:
    problem = quick_allen_cahn()
    assert RunConfig().march_tolerance(problem.run.get("march_tol")) == 1e-9  # allen_cahn's own default
    # 0: never early, whatever the problem's default; the windows hand over at their shares
    shares = solve(problem, RunConfig(iters=12, march=(0.25, 0.5), march_tol=0.0, eval_every=100), progress=False)
    never = solve(problem, RunConfig(iters=12, march=(0.25, 0.5), march_tol=1e-300, eval_every=100), progress=False)
    assert np.array_equal(never.record.history["loss"], shares.record.history["loss"])  # not reached: the shares
    # reached at once: window 0 hands over on its initial loss, window 1 after its first iteration
    config = RunConfig(iters=12, march=(0.25, 0.5), march_tol=1e300, eval_every=100)
    early = solve(problem, config, out=tmp_path / "early.h5", progress=False)
    assert early.record.history["window_end"].tolist() == [0.25, 0.5] + [1.0] * 11
    assert early.record.attrs["march_tol"] == 1e300 and shares.record.attrs["march_tol"] == 0.0
    # between the two: window 0 hands over at the first loss below the initial one's tenth
    tol = float(shares.record.history["loss"][0]) / 10
    mid = solve(problem, RunConfig(iters=12, march=(0.25, 0.5), march_tol=tol, eval_every=100), progress=False)
    losses, ends = mid.record.history["loss"], mid.record.history["window_end"]
    first_below = int(np.argmax(losses <= tol))
    assert 0 < first_below < 4 and ends[first_below] == 0.25 and ends[first_below + 1] == 0.5
    with pytest.raises(ResumeError, match="same --march-tol"):
        solve(
            problem,
            RunConfig(iters=13, march=(0.25, 0.5), eval_every=100),
            resume=tmp_path / "early.h5",
            progress=False,
        )
    with pytest.raises(ValueError, match="march-tol must be a loss >= 0"):
        RunConfig(march_tol=-1.0)


def test_bad_windows_are_refused() -> None:
    problem = quick_allen_cahn()
    assert march_windows(problem, (0.5,)) == (0.5, 1.0) and march_windows(problem, ()) == ()
    with pytest.raises(ValueError, match=r"increase within \(0, 1\]"):
        march_windows(problem, (0.5, 1.5))
    with pytest.raises(ValueError, match="increasing numbers"):
        RunConfig(march=(0.5, 0.25))
    with pytest.raises(SetupError, match="space-time problem"):
        solve(apply_options(load_problem("poisson2d"), quick=True), RunConfig(iters=1, march=(0.5,)), progress=False)
