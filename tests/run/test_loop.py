"""The run loop's documented behaviour on tiny problems: the stop reasons a run with every tolerance off
really ends by, the callback, checkpoint_every, eval_every, the progress line, and a run file without
resume state refused."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest

from pinnlma.pinn import Interval, PointData, Problem
from pinnlma.run import ResumeError, RunConfig, read_run, solve
from pinnlma.run.progress import format_metrics


@pytest.fixture(autouse=True)
def one_thread() -> None:
    """One torch thread (restored by the suite's conftest): these problems are far too small for more."""
    import torch

    torch.set_num_threads(1)


def sine_fit(points: int = 20, width: int = 1) -> Problem:
    """u(x) ≈ sin(2x) at ``points`` data points by a 1–width–1 tanh network (3·width + 1 parameters)."""
    x = np.linspace(-1.0, 1.0, points)[:, None]
    return Problem(
        name="sine_fit",
        domain=Interval(-1.0, 1.0, name="x"),
        pde=None,
        conditions=[PointData(x, np.sin(2 * x[:, 0]), name="data")],
        reference=lambda p: np.sin(2 * p[:, 0]),
        eval_grid=(11,),
        model={"width": width, "depth": 1},
    )


# -- stop reasons --------------------------------------------------------------------------------------
def test_a_run_with_every_tolerance_off_ends_when_steps_no_longer_change_the_parameters(tmp_path: Path) -> None:
    """`pinnlma run` turns ftol, xtol and gtol off; a fit that has converged (4 parameters, 20 points:
    a residual that cannot vanish) still ends, as xtol, once no step changes θ in float64 (measured:
    iteration 11), well before its iteration limit, and the run file says so."""
    out = tmp_path / "fit.h5"
    result = solve(sine_fit(), RunConfig(iters=500), out=out, progress=False)
    assert result.status == "xtol"
    record = read_run(out)
    assert record.attrs["status"] == "xtol" and 5 < record.attrs["iterations"] < 100
    loss = record.history["loss"]
    assert loss[-1] == loss.min() and loss[-1] > 1e-4  # at its minimum, which is not zero
    assert record.history["damping"][-1] > 1e6  # the last steps were rejected: λ grew (measured: 2e9)


def test_a_run_that_fits_its_data_exactly_ends_as_zero_residual() -> None:
    """7 parameters and 5 data points: the residual reaches exactly zero (measured: iteration 19)."""
    result = solve(sine_fit(points=5, width=2), RunConfig(iters=500), progress=False)
    assert result.status == "zero_residual" and result.loss == 0.0
    assert result.record.attrs["iterations"] < 100


# -- hooks ---------------------------------------------------------------------------------------------
def test_the_callback_sees_every_iteration_and_can_stop_the_run() -> None:
    seen: list[tuple[int, dict[str, float]]] = []

    def callback(iteration: int, metrics: dict[str, float]) -> bool:
        seen.append((iteration, dict(metrics)))
        return iteration == 3

    result = solve(sine_fit(), RunConfig(iters=50), progress=False, callback=callback)
    assert result.status == "callback" and result.record.attrs["iterations"] == 3
    assert [i for i, _ in seen] == [1, 2, 3]
    history = result.record.history
    for i, metrics in seen:
        assert metrics["iteration"] == i and metrics["loss"] == history["loss"][i]
        assert metrics["damping"] == history["damping"][i] and metrics["loss/data"] == history["loss/data"][i]


def test_checkpoint_every_saves_the_run_at_those_iterations(tmp_path: Path) -> None:
    """checkpoint_every=2: after iterations 2 and 4 the file holds that iteration, status running (read
    from the callback, which runs after the save); after 1, 3 and 5 it still holds the last one."""
    out = tmp_path / "run.h5"
    saved: dict[int, tuple[int, str]] = {}

    def callback(iteration: int, metrics: dict[str, float]) -> None:
        if out.exists():
            with h5py.File(out) as f:
                saved[iteration] = (int(f.attrs["iterations"]), str(f.attrs["status"]))

    solve(sine_fit(), RunConfig(iters=5, checkpoint_every=2), out=out, progress=False, callback=callback)
    assert saved == {2: (2, "running"), 3: (2, "running"), 4: (4, "running"), 5: (4, "running")}
    assert read_run(out).attrs["iterations"] == 5
    # 0 turns periodic checkpoints off: the file appears at the end only
    off = tmp_path / "off.h5"
    existed: list[bool] = []
    solve(
        sine_fit(),
        RunConfig(iters=3, checkpoint_every=0),
        out=off,
        progress=False,
        callback=lambda i, m: existed.append(off.exists()),
    )
    assert existed == [False, False, False] and read_run(off).attrs["iterations"] == 3


def test_eval_every_sets_which_iterations_evaluate_the_error() -> None:
    """eval_every=3 over 7 iterations: the error at the start, at 3 and 6, and at the end; NaN between.
    The values are the errors of the parameters of those iterations (the same as with eval_every=1)."""
    sparse = solve(sine_fit(), RunConfig(iters=7, eval_every=3), progress=False).record.history["rel_l2"]
    every = solve(sine_fit(), RunConfig(iters=7, eval_every=1), progress=False).record.history["rel_l2"]
    assert [i for i, v in enumerate(sparse) if math.isfinite(v)] == [0, 3, 6, 7]
    assert all(math.isfinite(v) for v in every)
    np.testing.assert_array_equal(sparse[[0, 3, 6, 7]], every[[0, 3, 6, 7]])


# -- progress and resume ---------------------------------------------------------------------------------
def test_the_progress_line_shows_the_last_iteration(capsys: pytest.CaptureFixture[str]) -> None:
    result = solve(sine_fit(), RunConfig(iters=3), progress=True)
    shown = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    metrics = {k: float(v[-1]) for k, v in result.record.history.items()}
    assert shown.startswith("sine_fit · lm")
    assert " ".join(format_metrics(metrics).split()) in shown and "it 3 | loss" in shown
    solve(sine_fit(), RunConfig(iters=3), progress=False)
    assert capsys.readouterr().err == ""


def test_a_run_file_without_resume_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    solve(sine_fit(), RunConfig(iters=2), out=path, progress=False)
    with h5py.File(path, "a") as f:
        del f["resume/torch_rng"]
    before = path.read_bytes()
    with pytest.raises(ResumeError, match=r"no resume state \(torch_rng missing\).*start a new run"):
        solve(sine_fit(), RunConfig(iters=4), resume=path, out=path, progress=False)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ({"itres": 5}, "unknown key(s) ['itres']"),
        ({"iters": 2.5}, "iters must be a whole number"),
        ({"iters": -1}, "iters must be >= 0"),
        ({"time_limit": 0}, "time limit must be positive"),
        ({"time_limit": "60"}, "time_limit must be a number"),
        ({"march_tol": -1e-9}, "--march-tol must be a loss >= 0"),
        ({"adapt": "rad:evry=5"}, "rad"),
        ({"causal": 1.0}, "causal must be text"),
        ({"causal": "0:32"}, "eps > 0"),
        ({"march": "0.5,1"}, "march must be a sequence"),
    ],
)
def test_a_problem_whose_run_defaults_are_wrong_is_refused_before_training(run: dict, message: str) -> None:
    from pinnlma.run import SetupError

    problem = sine_fit().with_options(run=run)
    with pytest.raises(SetupError, match="problem 'sine_fit': run=") as err:
        solve(problem, RunConfig(iters=1))
    assert message in str(err.value)


def test_every_problem_run_key_is_one_the_run_reads() -> None:
    """PROBLEM_RUN_KEYS is the one list: each key passes the check with a sound value."""
    from pinnlma.run.config import PROBLEM_RUN_KEYS, check_problem_run

    sound = {
        "iters": 3,
        "time_limit": 1.5,
        "march": (0.5, 1.0),
        "march_tol": 0.0,
        "adapt": "rad",
        "causal": "1",
        "gram_rows": 0.5,
    }
    assert set(sound) == set(PROBLEM_RUN_KEYS)
    check_problem_run(sine_fit().with_options(run=sound))
