"""Figures of non-rectangular and higher-dimensional domains: masked triangulations of unstructured
nodes (holes blank), grids with the outside removed, mid-plane and chosen slices of 3-D runs (from the
stored points or evaluated afresh), derived quantities, and the --plot-slice option."""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pinnlma.cli import main
from pinnlma.pinn import Box, Dirichlet, Disk, Problem, Rectangle
from pinnlma.run.io import RunRecord
from pinnlma.run.plot_views import grid_layout, make_view, parse_plot_slice, triangulation
from pinnlma.run.plotting import plot_run, run_figure

CENTERS = [(0.3, 0.3), (-0.3, 0.3), (0.3, -0.3), (-0.3, -0.3)]


def holed_square():
    shape = Rectangle([(-0.5, 0.5), (-0.5, 0.5)])
    for c in CENTERS:
        shape = shape - Disk(c, 0.1, boundary="holes")
    return shape


def record(inputs: np.ndarray, prediction: np.ndarray, reference: np.ndarray | None, coords: str) -> RunRecord:
    n = 4
    attrs = {"problem": "demo", "optimizer": "lm", "backend": "torch", "dtype": "float64", "seed": 0, "n_params": 1,
             "n_residuals": 1, "status": "max_iter", "final_loss": 1.0, "final_rel_l2": 0.1, "pinnlma_version": "0",
             "coordinates": coords}
    history = {"iteration": np.arange(n), "time": np.arange(n) * 0.1, "loss": np.logspace(0, -3, n),
               "rel_l2": np.logspace(0, -2, n), "damping": np.full(n, np.nan)}
    solution = {"inputs": inputs, "prediction": prediction}
    if reference is not None:
        solution["reference"] = reference
    return RunRecord(attrs, history, np.zeros(1), solution)


def test_unstructured_reference_nodes_are_triangulated_with_holes_blank(shared_data: Path, tmp_path: Path) -> None:
    data = np.loadtxt(shared_data / "pinnacle" / "poisson1_cg_data.dat", comments="%")  # PINNacle's COMSOL nodes
    nodes, u = data[:, :2], data[:, 2:]
    domain = holed_square()
    assert domain.contains(nodes, tol=1e-9).all()
    tri = triangulation(nodes, lambda c: domain.contains(c))
    centroids = nodes[tri.triangles].mean(axis=1)
    masked = tri.mask
    assert masked.sum() > 20  # the triangles Delaunay lays across the four holes
    in_hole = np.min(np.linalg.norm(centroids[:, None] - np.array(CENTERS)[None], axis=2), axis=1) < 0.1
    np.testing.assert_array_equal(masked, in_hole)
    # without the domain, triangles with an overlong edge are masked instead: those spanning a hole's middle
    guess = triangulation(nodes, None).mask
    near_centre = np.min(np.linalg.norm(centroids[:, None] - np.array(CENTERS)[None], axis=2), axis=1) < 0.05
    assert guess[near_centre].all() and not guess[~in_hole].any()
    problem = Problem(name="poisson2d_c", domain=domain, pde=lambda f: f.laplacian(),
                      conditions=[Dirichlet(1.0, where="x_min,x_max,y_min,y_max"), Dirichlet(0.0, where="holes", name="holes")],
                      reference_data=(nodes, u))
    out = plot_run(record(nodes, u * 0.99, u, "x,y"), tmp_path / "nodes.png", problem=problem)
    assert out.stat().st_size > 20_000


def test_grid_with_the_outside_removed_is_drawn_as_cells() -> None:
    domain = Disk((0, 0), 1) - Disk((0.2, 0), 0.3)
    grid = domain.grid((41, 41))
    inside = grid[domain.contains(grid)]
    layout = grid_layout(inside)
    assert layout is not None
    xs, ys, i, j = layout
    assert len(xs) == len(ys) == 41 and len(i) == len(inside) < 41 * 41
    assert grid_layout(np.random.default_rng(0).random((300, 2))) is None  # scattered


def cube_record(n: int = 11) -> tuple[RunRecord, np.ndarray]:
    box = Box([(0, 1)] * 3)
    x = box.grid((n, n, n))
    u = (np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1]) * np.sin(np.pi * x[:, 2]))[:, None]
    return record(x, u * 1.01, u, "x,y,z"), x


def test_three_dimensional_runs_are_sliced_through_the_middle() -> None:
    rec, x = cube_record()
    u = rec.solution["reference"]
    view = make_view(x, u, u, ["x", "y", "z"])
    assert view.note == " at z=0.5" and view.labels == ("x", "y") and len(view.points) == 121
    assert view.reference.max() == pytest.approx(1.0)  # the interior plane, not the face z = 1 where u ≡ 0
    view = make_view(x, u, u, ["x", "y", "z"], plot_slice="y=0.25")
    assert view.labels == ("x", "z") and view.note == " at y=0.2"  # the grid plane nearest 0.25 (a tie: the lower)
    view = make_view(x, u, u, ["x", "y", "z"], plot_slice={"x": 0.0})
    assert view.labels == ("y", "z") and np.all(view.reference == 0)
    # space-time: time on the horizontal axis
    view = make_view(x, u, u, ["x", "y", "t"], plot_slice="y=0.5")
    assert view.labels == ("t", "x")
    # scattered points: a slab around the plane
    pts = np.random.default_rng(1).random((20_000, 3))
    view = make_view(pts, pts[:, 2:], None, ["x", "y", "z"])
    assert view.note == " at z≈0.5 (±0.01 of the range)" and len(view.points) >= 50
    assert np.all(np.abs(view.prediction - 0.5) <= 0.01)  # the prediction here is z itself
    # afresh from the model on a 121² grid, with the exact reference, inside a ball only
    ball = Disk((0.5, 0.5), 0.5)
    inside = lambda p: np.hypot(p[:, 0] - 0.5, p[:, 1] - 0.5) <= 0.5  # noqa: E731
    view = make_view(x, u, u, ["x", "y", "z"], contains=inside, bounds=np.array([[0, 1]] * 3, float),
                     predict=lambda p: p[:, :1] + p[:, 1:2], reference_fn=lambda p: p[:, 0] + p[:, 1],
                     plot_slice="z=0.7")
    assert view.note == " at z=0.7" and len(view.points) == int(inside(view.points).sum())
    assert len(view.points) == pytest.approx(121 * 121 * math.pi / 4, rel=0.02)
    np.testing.assert_allclose(view.prediction[:, 0], view.reference[:, 0])
    assert view.equal_aspect and ball.measure == pytest.approx(math.pi / 4)


def test_plot_slice_errors() -> None:
    rec, x = cube_record(5)
    u = rec.solution["reference"]
    for spec, message in (("w=1", "unknown coordinate 'w'"), ("z", "NAME=VALUE"), ("z=a", "not a number"),
                          ("x=0.1,y=0.2", "leave two free"), ("z=2", "outside the domain's range"),
                          ("z=0.1,z=0.2", "given twice")):
        with pytest.raises(ValueError, match=message):
            make_view(x, u, u, ["x", "y", "z"], plot_slice=spec)
    with pytest.raises(ValueError, match="nothing to slice"):
        make_view(x[:, :2], u, u, ["x", "y"], plot_slice="x=0.5")
    assert parse_plot_slice(" z = 0.5 ", ["x", "y", "z"]) == {"z": 0.5}


def test_derived_quantity_rows(tmp_path: Path) -> None:
    pts = Rectangle([(-1, 1), (0, 1)], names=("x", "t")).grid((21, 11))
    h = np.stack([np.cos(pts[:, 0]), np.sin(pts[:, 0])], axis=1) * np.exp(-pts[:, 1:])
    problem = Problem(name="nls", domain=Rectangle([(-1, 1), (0, 1)], names=("x", "t")), pde=lambda f: f.u(),
                      outputs=("u", "v"), derived={"|h|": lambda o: np.hypot(o["u"], o["v"])})
    rec = record(pts, h, h, "x,t")
    titles = [ax.get_title() for ax in run_figure(rec, problem=problem).axes]
    assert [t for t in titles if t.startswith("prediction")] == ["prediction u", "prediction v", "prediction |h|"]
    only = problem.with_options(plot_fields=("|h|",))
    titles = [ax.get_title() for ax in run_figure(rec, problem=only).axes]
    assert [t for t in titles if t.startswith("prediction")] == ["prediction |h|"]
    assert "reference |h|" in titles


def test_cli_plot_slice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cube.py"
    path.write_text(textwrap.dedent('''
        import math, torch
        from pinnlma.pinn import Box, Dirichlet, Problem

        def residual(f):
            s = torch.sin(math.pi * f.coord("x")) * torch.sin(math.pi * f.coord("y")) * torch.sin(math.pi * f.coord("z"))
            return -f.laplacian() - 3 * math.pi**2 * s

        def exact(p):
            p = torch.as_tensor(p)
            return (torch.sin(math.pi * p[:, 0]) * torch.sin(math.pi * p[:, 1]) * torch.sin(math.pi * p[:, 2])).numpy()

        problem = Problem(name="cube", domain=Box([(0, 1)] * 3), pde=residual, conditions=[Dirichlet(0.0)],
                          reference=exact, eval_grid=(9, 9, 9), n_interior=60, n_boundary=60,
                          model={"width": 6, "depth": 1}, run={"iters": 2})
    '''))
    fig = tmp_path / "cube.png"
    assert main(["run", str(path), "--plot", str(fig), "--plot-slice", "y=0.25", "--quiet"]) == 0
    assert fig.stat().st_size > 20_000
    assert main(["run", str(path), "--plot", str(tmp_path / "q.png"), "--plot-slice", "q=1", "--quiet"]) == 2
    assert "unknown coordinate 'q'" in capsys.readouterr().err
    assert main(["run", str(path), "--plot-slice", "z=1", "--quiet"]) == 2
    assert "give --plot" in capsys.readouterr().err
    annulus = Path(__file__).resolve().parent / "annulus_problem.py"
    assert main(["run", str(annulus), "--quick", "--iters", "1", "--plot", str(tmp_path / "a.png"),
                 "--plot-slice", "x=0", "--quiet"]) == 2
    assert "3 or more coordinates" in capsys.readouterr().err
