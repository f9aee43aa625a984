"""PINNacle's reference files through the project's loader, against the file facts of the case
specification (row counts, the t = 0 column equals the initial condition, NS p(0, 0) = 0, rms values),
the long-form layout, PINNacle's test-grid rules and its L2RE."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pinnlma.reference import pinnacle as pc


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {case: pc.load(case) for case in pc.FILES}


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(a**2)))


def test_row_counts_and_shapes(data) -> None:
    shapes = {case: (x.shape, y.shape) for case, (x, y) in data.items()}
    assert shapes == {
        "burgers1d": ((1111, 2), (1111, 1)),
        "poisson2d_c": ((1246, 2), (1246, 1)),
        "heat2d_lt": ((96192, 3), (96192, 1)),
        "ns2d_c": ((10201, 2), (10201, 3)),
    }


def test_rms_values_match_the_specification(data) -> None:
    assert _rms(data["burgers1d"][1]) == pytest.approx(0.609, abs=5e-4)
    assert _rms(data["poisson2d_c"][1]) == pytest.approx(0.494, abs=5e-4)
    assert _rms(data["heat2d_lt"][1]) == pytest.approx(1.066, abs=5e-4)
    ns = data["ns2d_c"][1]
    assert _rms(ns) == pytest.approx(0.138, abs=5e-4)
    assert [round(_rms(ns[:, k]), 3) for k in range(3)] == [0.192, 0.121, 0.073]


def test_burgers_long_form_is_node_major_with_the_initial_condition_at_t0(data) -> None:
    x, u = data["burgers1d"]
    np.testing.assert_allclose(x[:11, 1], np.linspace(0, 1, 11), atol=1e-12)  # node 0, all times
    assert np.all(x[:11, 0] == -1.0) and x[11, 0] == pytest.approx(-0.98)
    np.testing.assert_allclose(np.unique(x[:, 0]), np.linspace(-1, 1, 101), atol=1e-12)
    t0 = x[:, 1] == 0
    assert t0.sum() == 101
    assert np.max(np.abs(u[t0, 0] + np.sin(np.pi * x[t0, 0]))) < 5e-6
    assert np.max(np.abs(u[np.abs(x[:, 0]) == 1, 0])) < 1e-12


def test_heat_longtime_long_form_and_initial_condition(data) -> None:
    x, u = data["heat2d_lt"]
    times = np.unique(x[:, 2])
    np.testing.assert_allclose(times, np.linspace(0, 100, 501), atol=1e-9)
    np.testing.assert_allclose(np.unique(x[:, 0]), (np.arange(16) + 0.5) / 16, atol=1e-12)
    np.testing.assert_allclose(np.unique(x[:, 1]), (np.arange(12) + 0.5) / 12, atol=1e-12)
    assert np.all(x[:501, :2] == x[0, :2])  # node-major: node 0's 501 snapshots first
    t0 = x[:, 2] == 0
    ic = np.sin(4 * np.pi * x[t0, 0]) * np.sin(3 * np.pi * x[t0, 1])
    assert np.max(np.abs(u[t0, 0] - ic)) < 1e-3


def test_ns_pressure_gauge_and_lid(data) -> None:
    x, y = data["ns2d_c"]
    origin = np.flatnonzero((x[:, 0] == 0) & (x[:, 1] == 0))
    assert origin.size == 1 and y[origin[0], 2] == 0.0
    lid = x[:, 1] == 1
    assert np.max(np.abs(y[lid, 0] - 4 * x[lid, 0] * (1 - x[lid, 0]))) < 3e-4
    assert len(np.unique(x[:, 0])) == 755


def test_poisson_boundary_values(data) -> None:
    x, u = data["poisson2d_c"]
    square = np.isclose(np.abs(x).max(axis=1), 0.5)
    np.testing.assert_allclose(u[square, 0], 1.0, atol=1e-12)
    centers = np.array([[0.3, 0.3], [-0.3, 0.3], [0.3, -0.3], [-0.3, -0.3]])
    dist = np.min(np.linalg.norm(x[:, None, :] - centers[None], axis=2), axis=1)
    on_circle = np.isclose(dist, 0.1, atol=1e-9)
    assert on_circle.sum() > 50
    np.testing.assert_allclose(u[on_circle, 0], 0.0, atol=1e-12)


def test_wide_to_long_interleaves_several_outputs() -> None:
    text = "\n".join(
        [
            "% Model: toy.mph",
            "% Nodes: 2",
            "% Expressions: 4",
            "% X  a @ t=0  b @ t=0  a @ t=0.5  b @ t=0.5",
            "0.0  1 2 3 4",
            "1.0  5 6 7 8",
        ]
    )
    table = pc.read_comsol(text)
    assert table.header["Nodes"] == "2" and table.times.tolist() == [0.0, 0.0, 0.5, 0.5]
    points, values = pc.to_long(table, space_dims=1, outputs=2)
    assert points.tolist() == [[0.0, 0.0], [0.0, 0.5], [1.0, 0.0], [1.0, 0.5]]
    assert values.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]


def test_bad_files_are_refused_with_a_reason() -> None:
    with pytest.raises(pc.ReferenceFileError, match="no data rows"):
        pc.read_comsol("% X u\n")
    with pytest.raises(pc.ReferenceFileError, match="different numbers of columns"):
        pc.read_comsol("% X u\n1 2\n3\n")
    table = pc.read_comsol("% X u @ t=0 u @ t=1\n0 1 2\n")
    with pytest.raises(pc.ReferenceFileError, match="labels"):
        pc.to_long(pc.ComsolTable({}, "", table.data, np.array([0.0])), 1)
    with pytest.raises(ValueError, match="unknown PINNacle reference"):
        pc.load("poisson3d")


def test_pinnacle_grid_rules() -> None:
    grid = pc.box_test_points([(0, 1), (0, 1)], 2500)
    assert grid.shape == (2500, 2)
    np.testing.assert_allclose(np.unique(grid[:, 0]), np.arange(1, 51) / 51)
    assert pc.box_test_points([(0, 1)] * 5, 20000).shape == (8**5, 5)
    n_space = pc.space_points_count(20000, 1.0, 5.0)
    assert n_space == 64
    st = pc.space_time_test_points(pc.box_test_points([(0, 1), (0, 1)], n_space), (0.0, 5.0), 20000)
    assert st.shape == (20032, 3)
    times = np.unique(st[:, 2])
    assert times.max() == 5.0 and times.min() == pytest.approx(5 / 313) and len(times) == 313
    assert pc.space_points_count(20000, 2.0**5, 1.0) == 800


def test_l2re_is_one_joint_norm_over_all_outputs() -> None:
    ref = np.array([[1.0, 0.0], [0.0, 2.0]])
    pred = np.array([[1.0, 1.0], [0.0, 2.0]])
    # mean (y − y*)² = 1/4, mean y*² = 5/4: L2RE = sqrt(1/5); not the mean of per-output errors (1/2 · (1/1 + 0))
    assert pc.l2re(pred, ref) == pytest.approx(math.sqrt(1 / 5), rel=1e-15)
    assert pc.l2re(np.zeros_like(ref), ref) == 1.0
    from pinnlma.run.checkpoint import relative_l2

    assert relative_l2(pred, ref) == pytest.approx(pc.l2re(pred, ref), rel=1e-15)
