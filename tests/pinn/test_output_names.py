"""Named outputs: Problem.outputs as names, residuals and conditions by name, per-output errors in the
history, the run file and the progress line, and the figure of a two-output inverse problem."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from pinnlma.pinn import MLP, Interval, PointData, Problem, ResidualAssembler, Sampler
from pinnlma.run import RunConfig, solve
from pinnlma.run.io import read_run
from pinnlma.run.plotting import run_figure
from pinnlma.run.progress import format_metrics

A, B, D, G = 1.0, 0.5, 0.75, 1.0  # x' = a x − b x y, y' = d x y − g y


def predator_prey() -> Problem:
    """Lotka–Volterra on t ∈ [0, 4] with a and d unknown, observed at 40 times (reference: solve_ivp)."""
    t = np.linspace(0, 4, 401)
    sol = solve_ivp(
        lambda _, z: [A * z[0] - B * z[0] * z[1], D * z[0] * z[1] - G * z[1]],
        (0, 4),
        [1.0, 0.5],
        t_eval=t,
        rtol=1e-12,
        atol=1e-12,
    )
    values = sol.y.T
    observed = slice(None, None, 10)
    return Problem(
        name="predator_prey",
        domain=Interval(0.0, 4.0, name="t"),
        outputs=("x", "y"),
        pde={
            "prey": lambda f: f.d("t", out="x") - f.param("a") * f.u("x") + f.param("b") * f.u("x") * f.u("y"),
            "predator": lambda f: f.d("t", out="y") - f.param("d") * f.u("x") * f.u("y") + f.param("g") * f.u("y"),
        },
        conditions=[
            PointData(t[observed, None], values[observed, 0], out="x", name="data_x"),
            PointData(t[observed, None], values[observed, 1], out="y", name="data_y"),
        ],
        parameters={"b": B, "g": G},
        unknowns={"a": 0.5, "d": 0.5},
        reference_data=(t[:, None], values),
        n_interior=80,
        model={"width": 10, "depth": 2},
    )


def test_output_names_defaults_and_validation() -> None:
    domain = Interval(0, 1)
    assert Problem(name="p", domain=domain, pde=lambda f: f.u()).output_names == ("u",)
    p = Problem(name="p", domain=domain, pde=lambda f: f.u(), outputs=3)
    assert p.outputs == 3 and p.output_names == ("u0", "u1", "u2")
    p = Problem(name="p", domain=domain, pde=lambda f: f.u(), outputs=["u", "v", "p"])
    assert p.outputs == 3 and p.output_names == ("u", "v", "p") and p.output_index("p") == 2
    assert p.with_options(n_interior=5).output_names == ("u", "v", "p")  # survives dataclasses.replace
    bad = [
        ({"outputs": ("u", "u")}, "distinct"),
        ({"outputs": ("u", "a,b")}, "without ','"),
        ({"outputs": 0}, ">= 1"),
        ({"outputs": ()}, "number of outputs or a list"),
        ({"outputs": 2, "output_names": ("a",)}, "1 output names"),
        ({"outputs": ("u",), "derived": {"u": np.abs}}, "has the name of an output"),
        ({"outputs": ("u",), "plot_fields": ("w",)}, "plot_fields"),
        ({"outputs": ("u",), "derived": {"|u|": 3}}, "must be a function"),
    ]
    for options, message in bad:
        with pytest.raises(ValueError, match=message):
            Problem(name="p", domain=domain, pde=lambda f: f.u(), **options)


def test_named_outputs_in_residuals_match_indices_on_both_jacobian_paths() -> None:
    problem = predator_prey()
    indexed = problem.with_options(
        pde={
            "prey": lambda f: f.d("t", out=0) - f.param("a") * f.u(0) + f.param("b") * f.u(0) * f.u(1),
            "predator": lambda f: f.d("t", out=1) - f.param("d") * f.u(0) * f.u(1) + f.param("g") * f.u(1),
        }
    )
    results = []
    for p in (problem, indexed):
        for path in ("channels", "generic"):
            torch.manual_seed(0)
            a = ResidualAssembler(p, MLP(1, 2, width=6, depth=2), sampler=Sampler("lhs", seed=0), jacobian=path)
            results.append(a.full_jacobian(a.initial_parameters()))
    for r, j in results[1:]:
        torch.testing.assert_close(r, results[0][0])
        torch.testing.assert_close(j, results[0][1])


def test_run_file_progress_and_figure_show_outputs_by_name(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    problem = predator_prey()
    result = solve(problem, RunConfig(iters=4, seed=1), out=tmp_path / "run.h5", progress=False)
    record = read_run(tmp_path / "run.h5")
    attrs = record.attrs
    assert attrs["output_names"] == "x,y"
    assert {"final_rel_l2_x", "final_rel_l2_y", "param_a", "param_d"} <= set(attrs)
    pred, ref = record.solution["prediction"], record.solution["reference"]
    assert attrs["final_rel_l2_y"] == pytest.approx(np.linalg.norm(pred[:, 1] - ref[:, 1]) / np.linalg.norm(ref[:, 1]))
    assert attrs["final_rel_l2"] == pytest.approx(np.linalg.norm(pred - ref) / np.linalg.norm(ref))  # joint
    assert len(record.history["rel_l2/x"]) == len(record.history["rel_l2"]) == 5
    with h5py.File(tmp_path / "run.h5") as f:
        assert "rel_l2:x" in f["history"]
    metrics = {k: v[-1] for k, v in record.history.items()}
    line = format_metrics(metrics)
    assert f"(x {metrics['rel_l2/x']:.3e}, y {metrics['rel_l2/y']:.3e})" in line
    fig = run_figure(result.record, problem=problem)
    titles = [ax.get_title() for ax in fig.axes]
    assert "prediction x" in titles and "prediction y" in titles and "reference y" in titles
    title = fig._suptitle.get_text()
    assert f"a = {attrs['param_a']:.8g} (start 0.5)" in title and f"d = {attrs['param_d']:.8g}" in title
    # without the problem, the names come from the run file
    titles = [ax.get_title() for ax in run_figure(record).axes]
    assert "prediction x" in titles and "prediction y" in titles


def test_derived_quantities_follow_plot_fields() -> None:
    problem = predator_prey().with_options(derived={"total": lambda o: o["x"] + o["y"]})
    values = np.array([[1.0, 2.0], [3.0, 5.0]])
    fields = problem.display_fields(values)
    assert list(fields) == ["x", "y", "total"]
    np.testing.assert_array_equal(fields["total"], [3.0, 8.0])
    only = problem.with_options(plot_fields=("total", "x")).display_fields(values)
    assert list(only) == ["total", "x"]
    with pytest.raises(ValueError, match="returned shape"):
        problem.with_options(derived={"bad": lambda o: o["x"][:1]}).display_fields(values)
    assert math.isclose(float(fields["x"][1]), 3.0)


def test_a_derived_quantity_has_its_error_in_the_history_progress_and_run_file(tmp_path: Path) -> None:
    """|x + y| style quantities: rel_l2/<name> from the prediction against the same quantity of the reference."""
    torch.set_num_threads(1)
    seen: list[np.ndarray] = []

    def modulus(o: dict[str, np.ndarray]) -> np.ndarray:
        seen.append(o["x"].copy())
        return np.hypot(o["x"], o["y"])

    problem = predator_prey().with_options(derived={"|z|": modulus})
    solve(problem, RunConfig(iters=3, seed=1), out=tmp_path / "run.h5", progress=False)
    record = read_run(tmp_path / "run.h5")
    pred, ref = record.solution["prediction"], record.solution["reference"]
    assert sum(np.array_equal(x, ref[:, 0]) for x in seen) == 1  # the reference's |z| is computed once
    assert len(seen) > 4  # and the prediction's at every evaluation
    expected = np.linalg.norm(np.hypot(*pred.T) - np.hypot(*ref.T)) / np.linalg.norm(np.hypot(*ref.T))
    assert record.attrs["final_rel_l2_|z|"] == pytest.approx(expected, rel=1e-12)
    assert record.history["rel_l2/|z|"][-1] == pytest.approx(expected, rel=1e-12)
    assert len(record.history["rel_l2/|z|"]) == len(record.history["rel_l2"]) == 4
    assert record.attrs["final_rel_l2_|z|"] != pytest.approx(record.attrs["final_rel_l2"])  # not the joint error
    assert f"|z| {record.history['rel_l2/|z|'][-1]:.3e}" in format_metrics(
        {k: v[-1] for k, v in record.history.items()}
    )


def test_a_derived_quantity_that_fails_stops_the_run_before_training() -> None:
    from pinnlma.run import SetupError

    problem = predator_prey().with_options(derived={"bad": lambda o: o["x"][:3]})
    with pytest.raises(SetupError, match="derived quantity 'bad' returned shape"):
        solve(problem, RunConfig(iters=2), progress=False)
