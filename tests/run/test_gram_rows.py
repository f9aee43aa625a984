"""``pinnlma run --gram-rows`` (and a problem's ``run["gram_rows"]``): LM's Gauss–Newton matrix from a sample
of the PINN rows each iteration reaches the core, changes the run, resumes bit for bit, and is refused where
it cannot apply."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from pinnlma.cli import main
from pinnlma.cli_args import gram_rows
from pinnlma.optim import make_optimizer
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_assembler
from pinnlma.run import RunConfig, read_run, solve
from pinnlma.run.config import check_problem_run


def _problem():
    return apply_options(load_problem("burgers"), quick=True)


def test_sampled_rows_change_the_run_and_resume_bit_for_bit(tmp_path: Path) -> None:
    problem = _problem()
    plain = solve(problem, RunConfig(iters=6), progress=False)
    straight = solve(problem, RunConfig(iters=6, gram_rows=0.5, seed=3), progress=False)
    assert straight.record.attrs["gram_rows"] == "0.5" and plain.record.attrs["gram_rows"] == ""
    assert not np.array_equal(plain.theta.numpy(), straight.theta.numpy())
    assert straight.record.attrs["final_loss"] < straight.record.history["loss"][0]  # it trains
    part = tmp_path / "part.h5"
    solve(problem, RunConfig(iters=3, gram_rows=0.5, seed=3), out=part, progress=False)
    resumed = solve(problem, RunConfig(iters=6, gram_rows=0.5, seed=3), resume=part, out=part, progress=False)
    assert np.array_equal(straight.theta.numpy(), resumed.theta.numpy())
    with pytest.raises(ValueError, match="sampled its Gauss-Newton rows as 0.5, this run asks for all rows"):
        solve(problem, RunConfig(iters=8), resume=part, out=part, progress=False)
    assert read_run(part).attrs["iterations"] == 6  # the refused resume left the file as it was


def test_the_problem_default_is_read_and_all_overrides_it() -> None:
    problem = _problem()
    problem.run = {**problem.run, "gram_rows": 100}
    check_problem_run(problem)
    assert RunConfig().optimizer_options(problem.run)["gram_rows"] == 100
    assert RunConfig(seed=7).optimizer_options(problem.run)["gram_seed"] == 7
    assert "gram_rows" not in RunConfig(gram_rows=1.0).optimizer_options(problem.run)  # "all"
    assembler = build_assembler(problem)
    lm = make_optimizer(
        "lm", assembler, assembler.initial_parameters(), **RunConfig(seed=7).optimizer_options(problem.run)
    )
    assert (lm.core.options.gram_rows, lm.core.options.gram_seed) == (100, 7)
    assert "gram_rows" not in RunConfig(optimizer="adam").optimizer_options(problem.run)
    problem.run["gram_rows"] = 0
    with pytest.raises(ValueError, match=r"run=\{\.\.\.\}: --gram-rows: gram_rows must be at least 1 row"):
        check_problem_run(problem)


def test_the_option_text_and_its_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert gram_rows("2000") == 2000 and isinstance(gram_rows("2000"), int)
    assert gram_rows("0.25") == 0.25 and gram_rows("all") == 1.0 and gram_rows("1") == 1
    for bad in ("abc", "0", "1.5", "-3"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a number of rows"):
            gram_rows(bad)
    with pytest.raises(ValueError, match="--gram-rows applies to the LM optimizer, not to adam"):
        RunConfig(optimizer="adam", gram_rows=100)
    assert main(["run", "burgers", "--quick", "--optimizer", "lbfgs", "--gram-rows", "0.5"]) == 2
    assert "--gram-rows applies to the LM optimizer" in capsys.readouterr().err
    assert main(["run", "burgers", "--quick", "--solver", "matrix-free", "--gram-rows", "0.5", "--iters", "1"]) != 0
    assert "pass solver='dense'" in capsys.readouterr().err
