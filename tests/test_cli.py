"""`pinnlma run` and the run loop through it: the run file, resume, overwrite protection, error paths."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import pinnlma
from pinnlma.cli import main
from pinnlma.pinn.registry import ProblemNotFound, apply_options, bundled_names, describe, load_problem
from pinnlma.pinn.setup import build_assembler
from pinnlma.run import RunConfig, read_run, solve

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "damped_oscillator.py"


def quick_burgers():
    return apply_options(load_problem("burgers"), quick=True)


def test_run_file_follows_the_contract(tmp_path: Path) -> None:
    out = tmp_path / "run.h5"
    assert main(["run", "burgers", "--quick", "--iters", "3", "--out", str(out), "--quiet"]) == 0
    with h5py.File(out) as f:
        for key in (
            "problem",
            "optimizer",
            "backend",
            "dtype",
            "seed",
            "n_params",
            "n_residuals",
            "status",
            "final_loss",
            "final_rel_l2",
            "pinnlma_version",
        ):
            assert key in f.attrs, key
        assert f.attrs["problem"] == "burgers" and f.attrs["optimizer"] == "lm" and f.attrs["dtype"] == "float64"
        for key in ("iteration", "time", "loss", "rel_l2", "damping"):
            assert f[f"history/{key}"].shape == (4,), key
        assert f["params"].shape == (int(f.attrs["n_params"]),)
        n_eval = f["solution/inputs"].shape[0]
        assert f["solution/prediction"].shape == (n_eval, 1) == f["solution/reference"].shape
        assert "resume" in f
        loss = f["history/loss"][:]
        assert loss[-1] < loss[0]
        assert math.isfinite(f.attrs["final_rel_l2"])


def test_embedding_and_exact_options_reach_the_run(tmp_path: Path) -> None:
    """--embedding/--exact replace the problem's; the run file says which blocks remain and what is exact."""
    out = tmp_path / "run.h5"
    common = ["run", "kdv", "--quick", "--iters", "2", "--quiet", "--overwrite", "--out", str(out)]
    assert main([*common, "--embedding", "periodic=x:2,fourier=4:1.0", "--exact", "initial"]) == 0
    with h5py.File(out) as f:
        assert list(json.loads(f.attrs["blocks"])) == ["pde"] and f.attrs["exact"] == "initial"
        assert json.loads(f.attrs["model"])["embedding"] == {
            "periodic": {"x": 2},
            "fourier": {"features": 4, "scale": 1.0},
        }
    assert main([*common, "--embedding", "none", "--exact", "none"]) == 0
    with h5py.File(out) as f:
        assert list(json.loads(f.attrs["blocks"])) == ["pde", "initial", "periodic", "periodic_x", "periodic_xx"]
        assert f.attrs["exact"] == ""


@pytest.mark.parametrize("optimizer", ["lm", "adam", "lbfgs", "bfgs"])
def test_resume_continues_bit_for_bit(tmp_path: Path, optimizer: str) -> None:
    problem = quick_burgers().with_options(resample_every=3)  # sampler state must survive too
    straight = solve(problem, RunConfig(optimizer=optimizer, iters=6), progress=False)
    part = tmp_path / "part.h5"
    solve(problem, RunConfig(optimizer=optimizer, iters=4), out=part, progress=False)
    resumed = solve(problem, RunConfig(optimizer=optimizer, iters=6), resume=part, out=part, progress=False)
    assert np.array_equal(straight.theta.numpy(), resumed.theta.numpy())
    assert np.array_equal(straight.record.history["loss"], resumed.record.history["loss"])
    assert resumed.record.attrs["iterations"] == 6


def test_existing_files_are_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.h5"
    out.write_bytes(b"precious")
    assert main(["run", "burgers", "--quick", "--iters", "1", "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    plot = tmp_path / "fig.png"
    plot.write_bytes(b"mine")
    assert main(["run", "burgers", "--quick", "--iters", "1", "--plot", str(plot), "--quiet"]) == 2
    assert plot.read_bytes() == b"mine"


def test_plot_is_written(tmp_path: Path) -> None:
    fig = tmp_path / "fig.png"
    assert main(["run", "burgers", "--quick", "--iters", "2", "--plot", str(fig), "--quiet"]) == 0
    assert fig.stat().st_size > 10_000


def test_error_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no_such_problem"]) == 2
    err = capsys.readouterr().err
    assert "unknown problem 'no_such_problem'" in err and "burgers" in err
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert main(["run", str(empty)]) == 2
    assert "defines no `problem`" in capsys.readouterr().err
    with pytest.raises(ProblemNotFound, match="does not exist"):
        load_problem(str(tmp_path / "missing.py"))
    with pytest.raises(SystemExit):
        main(["run", "burgers", "--iters", "-1"])
    with pytest.raises(SystemExit):
        main(["run", "burgers", "--optimizer", "sgd"])
    with pytest.raises(ValueError, match="applies to optimizers that solve linear systems"):
        RunConfig(optimizer="adam", backend="cupynumeric")
    with pytest.raises(ValueError, match="cannot resume"):
        out = tmp_path / "lm.h5"
        solve(quick_burgers(), RunConfig(iters=1), out=out, progress=False)
        solve(quick_burgers(), RunConfig(optimizer="adam", iters=2), resume=out, progress=False)


def _refused_resume(
    capsys: pytest.CaptureFixture[str], resume: Path, out: Path, *options: str, iters: str = "1"
) -> str:
    """Resume the quick Burgers run from ``resume`` with ``options``: exit 2; the error output."""
    command = ["run", "burgers", "--quick", *options, "--iters", iters, "--resume", str(resume)]
    assert main([*command, "--out", str(out), "--quiet"]) == 2
    return capsys.readouterr().err


def test_bad_resume_files_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("not a run file\n")
    assert "not an HDF5 file" in _refused_resume(capsys, text, tmp_path / "a.h5")
    heat = tmp_path / "heat.h5"
    assert main(["run", "heat1d", "--quick", "--iters", "1", "--out", str(heat), "--quiet"]) == 0
    capsys.readouterr()
    assert "run file has problem='heat1d'" in _refused_resume(capsys, heat, tmp_path / "b.h5")
    small = tmp_path / "small.h5"
    assert main(["run", "burgers", "--quick", "--iters", "1", "--out", str(small), "--quiet"]) == 0
    capsys.readouterr()
    assert "--width/--depth" in _refused_resume(capsys, small, tmp_path / "c.h5", "--width", "12")
    assert "--quick/--points/--boundary-points" in _refused_resume(capsys, small, tmp_path / "d.h5", "--points", "40")
    err = _refused_resume(capsys, small, tmp_path / "e.h5", "--damping", "levenberg", iters="2")
    assert "the run used --damping nielsen" in err
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(small.read_bytes()[:3000])
    assert "truncated or damaged" in _refused_resume(capsys, truncated, tmp_path / "f.h5", iters="2")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--devices", "nonsense"], "unknown device 'nonsense'"),
        (["--devices", "cpu,,cpu"], "unknown device ''"),
        (["--devices", "cuda:7"], "is not available"),
        (["--device", "cuda:7"], "is not available"),
        (["--device", "nonsense"], "unknown device 'nonsense' in --device"),
        (["--seed", str(2**64)], "seed must be a whole number"),
        (["--jacobian", "channels", "--activation", "gelu"], "channel Jacobian needs"),
        (["--plot", "figure.jpg"], "ending in .png"),
        (["--plot", "."], "is a folder"),
        (["--out", "."], "is a folder"),
        (["--out", "blocker/run.h5"], "blocker is a file, not a folder"),
        (["--embedding", "wavelet=2"], "KIND one of periodic, even, fourier"),
        (["--embedding", "periodic=z"], "the coordinates are x, t"),
        (["--exact", "nope"], "are not its conditions"),
    ],
)
def test_bad_options_are_refused_before_training(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("a file where a folder would go\n")
    assert main(["run", "burgers", "--quick", "--iters", "1", "--quiet", *options]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]  # nothing trained, nothing written


@pytest.mark.parametrize("option", ["--points", "--boundary-points", "--width", "--depth"])
def test_sizes_must_be_at_least_one(option: str) -> None:
    with pytest.raises(SystemExit):
        main(["run", "burgers", option, "0"])


def test_a_residual_that_is_nan_at_the_start_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem_file = tmp_path / "nan_problem.py"
    source = EXAMPLE.read_text()
    pde = '    return f.d("t", "t") + '
    assert pde in source
    problem_file.write_text(source.replace(pde, '    return float("nan") * f.u() + f.d("t", "t") + '))
    assert main(["run", str(problem_file), "--quick", "--iters", "1", "--quiet"]) == 2
    assert "non-finite" in capsys.readouterr().err


def _default_sigint() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signal_state(pid: int) -> str:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError as err:
        return str(err)
    return "; ".join(line for line in lines if line.startswith(("State", "SigPnd", "ShdPnd", "SigBlk", "SigIgn")))


def test_ctrl_c_stops_after_an_iteration_and_the_checkpoint_resumes(tmp_path: Path) -> None:
    """SIGINT to a real `pinnlma run`: exit 130, a checkpoint whose history ends at its iteration count, and
    a resume that continues from there without a gap."""
    out = tmp_path / "run.h5"
    command = [
        sys.executable,
        "-m",
        "pinnlma",
        "run",
        "burgers",
        "--quick",
        "--iters",
        "100000",
        "--out",
        str(out),
        "--quiet",
    ]
    # the child starts as from a terminal: SIGINT unblocked and at its default, whatever this worker
    # process inherited (a signal mask or an ignored SIGINT is passed on through fork and exec)
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 300
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # the first periodic checkpoint: the loop is running
        assert out.exists(), "no checkpoint appeared"
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit 120 s after SIGINT; the child's signal state: {_signal_state(proc.pid)}")
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "stopping after this iteration" in err
    with h5py.File(out) as f:
        iterations = int(f.attrs["iterations"])
        assert str(f.attrs["status"]) == "interrupted"
        assert list(f["history/iteration"][:]) == list(range(iterations + 1))
    assert main(["run", "burgers", "--quick", "--iters", str(iterations + 2), "--resume", str(out), "--quiet"]) == 0
    with h5py.File(out) as f:
        assert list(f["history/iteration"][:]) == list(range(iterations + 3))


def test_a_float32_run_computes_what_float64_computes_at_its_parameters(tmp_path: Path) -> None:
    """`--dtype float32`: float32 parameters, and the loss and error the run reports are those a float64
    evaluation of its final parameters gives (measured: 2e-7 relative), after a real decrease."""
    out = tmp_path / "run32.h5"
    assert main(["run", "burgers", "--quick", "--iters", "5", "--dtype", "float32", "--out", str(out), "--quiet"]) == 0
    record = read_run(out)
    assert record.attrs["dtype"] == "float32" and record.params.dtype == np.float32
    exact = build_assembler(quick_burgers(), seed=0, dtype=torch.float64)  # the same points, in float64
    theta = torch.from_numpy(record.params).double()
    loss64 = float(exact.loss(exact.residual(theta)))
    assert record.attrs["final_loss"] == pytest.approx(loss64, rel=1e-5)
    points, reference = quick_burgers().evaluation()
    rel_l2 = float(np.linalg.norm(exact.predict(theta, points) - reference) / np.linalg.norm(reference))
    assert record.attrs["final_rel_l2"] == pytest.approx(rel_l2, rel=1e-4)
    assert record.history["loss"][-1] < 0.2 * record.history["loss"][0]


def test_lr_reaches_the_optimizer(tmp_path: Path) -> None:
    """Adam's first update moves every parameter by lr (m̂/√v̂ = ±1), so `--lr` shows in the parameters."""
    start = build_assembler(quick_burgers(), seed=0).initial_parameters().numpy()
    for lr in ("0.003", "0.0005"):
        out = tmp_path / f"adam{lr}.h5"
        assert (
            main(
                [
                    "run",
                    "burgers",
                    "--quick",
                    "--optimizer",
                    "adam",
                    "--lr",
                    lr,
                    "--iters",
                    "1",
                    "--out",
                    str(out),
                    "--quiet",
                ]
            )
            == 0
        )
        step = np.abs(read_run(out).params - start)
        assert step.max() == pytest.approx(float(lr), rel=1e-6)


def test_geodesic_flag_runs_geodesic_lm(tmp_path: Path) -> None:
    out = tmp_path / "geo.h5"
    assert main(["run", "burgers", "--quick", "--iters", "3", "--geodesic", "--out", str(out), "--quiet"]) == 0
    geodesic = solve(quick_burgers(), RunConfig(iters=3, geodesic=True), progress=False)
    plain = solve(quick_burgers(), RunConfig(iters=3), progress=False)
    assert np.array_equal(read_run(out).params, geodesic.theta.numpy())
    assert not np.allclose(geodesic.theta.numpy(), plain.theta.numpy(), rtol=1e-6, atol=0)


def test_time_limit_flag_stops_the_run_and_limits_count_from_the_original_start(tmp_path: Path) -> None:
    out = tmp_path / "timed.h5"
    run = ["run", "burgers", "--quick", "--out", str(out), "--quiet"]
    assert main([*run, "--iters", "50", "--time-limit", "1e-6"]) == 0
    record = read_run(out)
    assert record.attrs["status"] == "time_limit" and record.attrs["iterations"] == 1
    assert record.attrs["elapsed"] >= 1e-6
    # resumed with the same limit: the time already spent counts, so no iteration runs
    assert main([*run, "--iters", "50", "--time-limit", "1e-6", "--resume", str(out)]) == 0
    record = read_run(out)
    assert record.attrs["status"] == "time_limit" and record.attrs["iterations"] == 1
    # with room in time, --iters 3 means three in all, not three more
    assert main([*run, "--iters", "3", "--time-limit", "1e6", "--resume", str(out)]) == 0
    record = read_run(out)
    assert record.attrs["status"] == "max_iter" and record.attrs["iterations"] == 3
    assert list(record.history["iteration"]) == [0, 1, 2, 3]


def test_resuming_into_another_out_leaves_the_resume_file_as_it_was(tmp_path: Path) -> None:
    first, second = tmp_path / "first.h5", tmp_path / "second.h5"
    assert main(["run", "burgers", "--quick", "--iters", "2", "--out", str(first), "--quiet"]) == 0
    before = first.read_bytes()
    assert (
        main(["run", "burgers", "--quick", "--iters", "4", "--resume", str(first), "--out", str(second), "--quiet"])
        == 0
    )
    assert first.read_bytes() == before
    straight = solve(quick_burgers(), RunConfig(iters=4), progress=False)
    resumed = read_run(second)
    assert resumed.attrs["iterations"] == 4 and np.array_equal(resumed.params, straight.theta.numpy())


def test_list_prints_every_bundled_problem_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == bundled_names()
    for line, name in zip(lines, bundled_names()):
        assert line.split(None, 1)[1] == describe(name)


def test_info_reports_this_machine_and_the_backends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--no-legate"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"pinnlma {pinnlma.__version__}"
    assert f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPUs {os.cpu_count()}" in lines
    assert f"numpy {np.__version__}" in out
    assert "backends:\n  torch: available" in out and "cupynumeric: not checked" in out


def test_seed_reproducibility() -> None:
    a = solve(quick_burgers(), RunConfig(iters=2, seed=5), progress=False)
    b = solve(quick_burgers(), RunConfig(iters=2, seed=5), progress=False)
    c = solve(quick_burgers(), RunConfig(iters=2, seed=6), progress=False)
    assert np.array_equal(a.theta.numpy(), b.theta.numpy())
    assert not np.array_equal(a.theta.numpy(), c.theta.numpy())


def test_closed_output_pipe_ends_quietly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pinnlma list | head -1`: a reader that goes away ends the command with 141, not a traceback."""
    sink = open(tmp_path / "sink", "w")  # a real descriptor for the final redirect to /dev/null

    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            pass

        def fileno(self) -> int:
            return sink.fileno()

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["list"]) == 141
    sink.close()
