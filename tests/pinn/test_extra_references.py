"""Problem.extra_references: more (points, values) sets where the final error is reported (run file
attrs extra_rel_l2_<name>, per output with several outputs), checked against hand-computed errors,
and refused when malformed."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pinnlma.pinn import Dirichlet, Interval, Problem, Rectangle
from pinnlma.run import RunConfig, solve


def _line(**kw) -> Problem:
    base = dict(
        name="line",
        domain=Interval(0.0, 1.0),
        pde=lambda f: f.d("x", "x"),
        conditions=[Dirichlet(lambda p: p[:, 0], name="ends")],
        reference=lambda p: p[:, 0],
        n_interior=30,
        n_boundary=10,
        model={"width": 6, "depth": 1},
        run={"iters": 5},
    )
    return Problem(**{**base, **kw})


def test_errors_against_extra_references_are_hand_checkable() -> None:
    points = np.array([[0.25], [0.5], [1.0]])
    problem = _line(extra_references={"exact": (points, points[:, 0]), "shifted": (points, points[:, 0] + 1.0)})
    pred = lambda p: 2.0 * p  # noqa: E731 - a "prediction" twice the truth
    errors = problem.extra_errors(pred)
    x = points[:, 0]
    assert errors["exact"] == pytest.approx(np.linalg.norm(x) / np.linalg.norm(x), rel=1e-15)  # = 1
    assert errors["shifted"] == pytest.approx(np.linalg.norm(2 * x - x - 1) / np.linalg.norm(x + 1), rel=1e-15)


def test_run_file_records_each_extra_reference(tmp_path) -> None:
    grid = np.linspace(0, 1, 11)[:, None]
    problem = _line(extra_references={"fine": (grid, grid[:, 0])})
    out = tmp_path / "run.h5"
    result = solve(problem, RunConfig(seed=0), out=out, progress=False)
    with h5py.File(out) as f:
        got = float(f.attrs["extra_rel_l2_fine"])
        assert f.attrs["blocks"] == '{"pde": 30, "ends": 10}'
    prediction = result.assembler.predict(result.theta, grid)[:, 0]
    assert got == pytest.approx(np.linalg.norm(prediction - grid[:, 0]) / np.linalg.norm(grid[:, 0]), rel=1e-12)


def test_several_outputs_get_joint_and_per_output_errors() -> None:
    points = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.9]])
    values = np.column_stack([points[:, 0], np.ones(3)])
    problem = Problem(
        name="two",
        domain=Rectangle([(0, 1), (0, 1)]),
        outputs=("u", "a"),
        pde=None,
        conditions=[Dirichlet(0.0, out="u")],
        extra_references={"ref": (points, values)},
    )
    errors = problem.extra_errors(lambda p: np.column_stack([p[:, 0], np.zeros(len(p))]))
    assert errors["ref_u"] == 0.0 and errors["ref_a"] == 1.0
    assert errors["ref"] == pytest.approx(np.sqrt(3) / np.linalg.norm(values), rel=1e-15)


@pytest.mark.parametrize(
    "bad, message",
    [
        ((np.zeros((3, 2)), np.ones(3)), r"points must be \(N, 1\)"),
        ((np.zeros((3, 1)), np.ones(4)), "4 values for 3 points"),
        ((np.zeros((3, 1)), np.zeros(3)), "only zeros"),
        ((np.zeros((3, 1)), np.array([1.0, np.nan, 1.0])), "NaN"),
        (np.zeros((3, 1)), "pair"),
    ],
)
def test_malformed_extra_references_are_refused(bad, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _line(extra_references={"bad": bad})
    with pytest.raises(ValueError, match="name"):
        _line(extra_references={"a,b": (np.zeros((1, 1)), np.ones(1))})
