"""``pinnlma run --solver``: the choice reaches the LM core (the run file records it and the solver's own
counters show which one ran), and it is refused where it cannot apply."""

from __future__ import annotations

import ast
from pathlib import Path

import h5py
import pytest

from pinnlma.cli import main
from pinnlma.run import RunConfig


@pytest.mark.parametrize("solver", ["dense", "matrix-free"])
def test_the_solver_option_reaches_the_lm_core(tmp_path: Path, solver: str) -> None:
    out = tmp_path / f"{solver}.h5"
    args = ["run", "burgers", "--quick", "--iters", "2", "--solver", solver, "--out", str(out), "--quiet"]
    assert main([*args, "--points", "200", "--width", "6"]) == 0
    with h5py.File(out) as f:
        assert ast.literal_eval(f.attrs["config"])["solver"] == solver
        cg = f["resume/optimizer/history/linear_iterations"][1:]
    # dense solves record no CG iterations; the matrix-free solver at least one per iteration
    assert (cg.min() >= 1) if solver == "matrix-free" else (cg.max() == 0)


def test_unknown_or_inapplicable_solvers_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown solver 'cholesky'; choose one of auto, dense, matrix-free"):
        RunConfig(solver="cholesky")
    with pytest.raises(ValueError, match="applies to the LM optimizer, not to adam"):
        RunConfig(optimizer="adam", solver="dense")
    assert main(["run", "burgers", "--quick", "--optimizer", "lbfgs", "--solver", "matrix-free"]) == 2
    assert "applies to the LM optimizer" in capsys.readouterr().err
