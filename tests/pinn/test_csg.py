"""Constructive solid geometry: measures (closed forms, Monte Carlo), boundary parts and their names,
exact normals on cut surfaces (for A − B the surviving part of ∂B points into B), shared faces, nesting,
space-time over CSG shapes, and refused empty or mismatched combinations."""
from __future__ import annotations

import math

import numpy as np
import pytest

from pinnlma.pinn.geometry import (
    Ball,
    Box,
    Cylinder,
    Difference,
    Disk,
    Ellipse,
    Intersection,
    Polygon,
    Rectangle,
    Sampler,
    SpaceTime,
    Union,
)

CENTERS = [(0.3, 0.3), (-0.3, 0.3), (0.3, -0.3), (-0.3, -0.3)]


def poisson2d_c() -> Difference:
    """PINNacle's Poisson2d-C domain: the square [−0.5, 0.5]² minus four disks of radius 0.1."""
    shape = Rectangle([(-0.5, 0.5), (-0.5, 0.5)])
    for c in CENTERS:
        shape = shape - Disk(c, 0.1, boundary="holes")
    return shape


def monte_carlo(domain, n: int = 400_000, seed: int = 0) -> tuple[float, float]:
    lo, hi = domain.bounds[:, 0], domain.bounds[:, 1]
    x = lo + (hi - lo) * np.random.default_rng(seed).random((n, domain.dim))
    p = domain.contains(x).mean()
    volume = float(np.prod(hi - lo))
    return p * volume, volume * math.sqrt(p * (1 - p) / n)


def lens_area(r: float, d: float) -> float:
    """Area of the intersection of two disks of radius r whose centres are d apart."""
    return 2 * r * r * math.acos(d / (2 * r)) - 0.5 * d * math.sqrt(4 * r * r - d * d)


def test_poisson2d_c_measures_parts_and_normals() -> None:
    domain = poisson2d_c()
    assert domain.faces() == ["x_min", "x_max", "y_min", "y_max", "holes"]
    assert domain.measure == pytest.approx(1 - 4 * math.pi * 0.01, rel=1e-13)  # divergence theorem, exact
    estimate, error = monte_carlo(domain)
    assert abs(estimate - domain.measure) < 4.5 * error
    measures = domain.boundary_measures()
    assert measures["holes"] == pytest.approx(4 * 2 * math.pi * 0.1, rel=1e-13)
    assert all(measures[f] == pytest.approx(1.0, rel=1e-13) for f in ("x_min", "x_max", "y_min", "y_max"))
    # n boundary points split in proportion to the parts' lengths: 4 sides of 1 and 4 circles of 0.2π
    counts = domain.face_counts(2048)
    assert sum(counts.values()) == 2048
    # quotas 314.45 per side and 197.6 per circle; the 4 points left go to the largest remainders
    assert counts == {"x_min": 314, "x_max": 314, "y_min": 314, "y_max": 314, "holes": 4 * 198}
    sample = domain.boundary_points(2048, Sampler("lhs", seed=0))
    holes = sample.parts == "holes"
    assert holes.sum() == counts["holes"]
    p = sample.points[holes]
    centre = np.array(CENTERS)[np.argmin(np.linalg.norm(p[:, None] - np.array(CENTERS)[None], axis=2), axis=1)]
    np.testing.assert_allclose(np.linalg.norm(p - centre, axis=1), 0.1, atol=1e-14)
    np.testing.assert_allclose(sample.normals[holes], -(p - centre) / 0.1, atol=1e-12)  # into the holes
    for face, k, value, normal in (("x_min", 0, -0.5, [-1, 0]), ("y_max", 1, 0.5, [0, 1])):
        on = sample.parts == face
        assert np.all(sample.points[on, k] == value) and np.all(sample.normals[on] == normal)
    # every hole gets its share (they are all inside the square, nothing is cut)
    per_hole = np.bincount(np.argmin(np.linalg.norm(p[:, None] - np.array(CENTERS)[None], axis=2), axis=1))
    np.testing.assert_array_equal(per_hole, [198] * 4)
    x = domain.interior(20_000, Sampler("sobol", seed=1))
    assert np.all(np.linalg.norm(x[:, None] - np.array(CENTERS)[None], axis=2) >= 0.1)


def test_lens_and_union_of_overlapping_disks() -> None:
    r, d = 1.0, 1.2
    a, b = Disk((0, 0), r, boundary="left"), Disk((d, 0), r, boundary="right")
    lens = a & b
    area = lens_area(r, d)
    assert lens.measure == pytest.approx(area, rel=1e-8)
    arc = 2 * r * math.acos(d / (2 * r))  # length of each arc of the lens
    assert lens.boundary_measures() == pytest.approx({"left": arc, "right": arc}, rel=1e-8)
    s = lens.boundary_points(800, Sampler("uniform", seed=2))
    left = s.parts == "left"
    np.testing.assert_allclose(s.normals[left], s.points[left] / r, atol=1e-12)  # ∂A kept: its own normal
    np.testing.assert_allclose(s.normals[~left], (s.points[~left] - [d, 0]) / r, atol=1e-12)
    assert np.all(s.points[left, 0] >= d / 2 - 1e-12) and np.all(s.points[~left, 0] <= d / 2 + 1e-12)
    both = a | b
    assert both.measure == pytest.approx(2 * math.pi * r * r - area, rel=1e-8)
    assert both.boundary_measure() == pytest.approx(2 * (2 * math.pi * r - arc), rel=1e-8)
    s = both.boundary_points(800, Sampler("sobol", seed=3))
    assert not (a.contains(s.points, tol=-1e-9) | b.contains(s.points, tol=-1e-9)).any()  # none strictly inside
    estimate, error = monte_carlo(both)
    assert abs(estimate - both.measure) < 4.5 * error


def test_adjacent_and_overlapping_boxes_unite_without_inner_walls() -> None:
    two = Box([(0, 1), (0, 1)]) | Box([(1, 2), (0, 1)])
    assert two.measure == pytest.approx(2.0) and two.boundary_measure() == pytest.approx(6.0)
    assert two.boundary_measures() == pytest.approx({"x_min": 1.0, "x_max": 1.0, "y_min": 2.0, "y_max": 2.0})
    s = two.boundary_points(600, Sampler("lhs", seed=4))
    inner = np.isclose(s.points[:, 0], 1.0) & (s.points[:, 1] > 1e-9) & (s.points[:, 1] < 1 - 1e-9)
    assert not inner.any()
    # overlapping, with coplanar bottom and top faces: counted once
    over = Box([(0, 2), (0, 1)]) | Box([(1, 3), (0, 1)])
    assert over.measure == pytest.approx(3.0) and over.boundary_measure() == pytest.approx(8.0)
    # an L-shape as a union equals the polygon
    ell = Box([(0, 2), (0, 1)]) | Box([(0, 1), (0, 2)])
    poly = Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])
    assert ell.measure == pytest.approx(poly.measure) and ell.boundary_measure() == pytest.approx(poly.boundary_measure())
    grid = Box([(0, 2), (0, 2)]).grid((41, 41))
    np.testing.assert_array_equal(ell.contains(grid), poly.contains(grid))


def test_difference_with_a_shared_face_and_normals_into_the_cut() -> None:
    notch = Box([(0, 2), (0, 1)]) - Box([(0.5, 1.0), (0.5, 1.0)], boundary="notch")
    assert notch.measure == pytest.approx(1.75)
    m = notch.boundary_measures()
    assert m["y_max"] == pytest.approx(1.5) and m["notch"] == pytest.approx(1.5)  # 2 walls + the floor
    s = notch.boundary_points(700, Sampler("uniform", seed=5), where="notch")
    assert set(s.parts) == {"x_min", "x_max", "y_min"}  # the notch box's own faces, as named by it
    floor = s.parts == "y_min"
    np.testing.assert_allclose(s.points[floor, 1], 0.5)
    assert np.all(s.normals[floor] == [0, 1])  # into the removed box
    assert np.all(s.normals[s.parts == "x_min"] == [1, 0]) and np.all(s.normals[s.parts == "x_max"] == [-1, 0])
    top = notch.boundary_points(300, Sampler("lhs", seed=5), where="y_max").points
    assert not np.any((top[:, 0] > 0.5 + 1e-12) & (top[:, 0] < 1.0 - 1e-12))  # the removed part of the top


def test_nested_csg_keeps_names() -> None:
    plate = Rectangle([(0, 4), (0, 2)], boundary="outer")
    ring = Disk((1, 1), 0.8, boundary="ring") - Disk((1, 1), 0.4, boundary="core")
    shape = (plate - Disk((1, 1), 0.8, boundary="hole")) | ring  # an annular island inside a hole
    slot = Ellipse((3, 1), (0.6, 0.3), angle=0.4, boundary="slot")
    shape = shape - slot
    assert set(shape.faces()) == {"x_min", "x_max", "y_min", "y_max", "outer", "hole", "ring", "core", "slot"}
    # the island's outer circle coincides with the hole's: neither survives, the gap is closed
    m = shape.boundary_measures()
    assert m["hole"] == 0.0 and m["ring"] == 0.0
    assert m["core"] == pytest.approx(2 * math.pi * 0.4, rel=1e-10)
    assert m["slot"] == pytest.approx(slot.perimeter, rel=1e-10)
    assert m["outer"] == pytest.approx(12.0)
    area = 8 - math.pi * 0.16 - math.pi * 0.18
    assert shape.measure == pytest.approx(area, rel=1e-10)
    estimate, error = monte_carlo(shape)
    assert abs(estimate - area) < 4.5 * error
    s = shape.boundary_points(400, Sampler("sobol", seed=6), where=["core", "slot"])
    core = s.parts == "core"
    np.testing.assert_allclose(s.normals[core], -(s.points[core] - [1, 1]) / 0.4, atol=1e-12)


def test_cut_curved_surfaces_in_3d() -> None:
    r, h, rb = 1.0, 2.0, 0.5
    cup = Cylinder((0, 0, 0), r, h) - Ball((0, 0, 1), rb, boundary="dent")  # a hemispherical dent in the top
    volume = math.pi * r * r * h - 0.5 * 4 / 3 * math.pi * rb**3
    assert cup.measure == pytest.approx(volume, rel=1e-9)
    estimate, error = monte_carlo(cup)
    assert abs(estimate - volume) < 4.5 * error
    m = cup.boundary_measures()
    assert m["dent"] == pytest.approx(2 * math.pi * rb * rb, rel=1e-9)
    assert m["z_max"] == pytest.approx(math.pi * (r * r - rb * rb), rel=1e-12)  # cut along its radial lines
    assert m["side"] == pytest.approx(2 * math.pi * r * h, rel=1e-12)
    s = cup.boundary_points(1000, Sampler("lhs", seed=7))
    dent = s.parts == "dent"
    q = s.points[dent] - [0, 0, 1]
    assert np.all(q[:, 2] <= 1e-12)  # only the lower half of the ball's sphere survives
    np.testing.assert_allclose(s.normals[dent], -q / rb, atol=1e-12)  # into the ball
    top = s.parts == "z_max"
    assert np.all(np.hypot(s.points[top, 0], s.points[top, 1]) >= rb - 1e-12)
    # a box with a ball cut off one corner: three faces cut by circles
    # (faces cut along curves that the quadrature lines cross: the midpoint rule across 512 lines, ~1e-5)
    corner = Box([(0, 1)] * 3) - Ball((1, 1, 1), 0.5, boundary="round")
    assert corner.measure == pytest.approx(1 - math.pi / 6 * 0.125, rel=2e-5)
    assert corner.boundary_measure("round") == pytest.approx(4 * math.pi * 0.25 / 8, rel=1e-9)
    assert corner.boundary_measure("x_max") == pytest.approx(1 - math.pi * 0.25 / 4, rel=2e-5)
    estimate, error = monte_carlo(corner)
    assert abs(estimate - corner.measure) < 4.5 * error


def test_intersection_with_box_tightens_the_sampling_box() -> None:
    strip = Disk((0, 0), 1) & Box([(-1, 1), (0.9, 1)])
    np.testing.assert_allclose(strip.bounds, [[-1, 1], [0.9, 1]])
    x = strip.interior(500, Sampler("sobol"))
    assert np.all(x[:, 1] >= 0.9) and np.all(np.hypot(x[:, 0], x[:, 1]) <= 1)


def test_operators_and_classes_agree() -> None:
    a, b, c = Disk((0, 0), 1), Disk((0.5, 0), 0.6), Box([(-2, 0), (-2, 2)])
    assert (a | b).measure == pytest.approx(Union(a, b).measure)
    assert (a - b - c).measure == pytest.approx(Difference(a, b, c).measure)
    assert (a & b & c).measure == pytest.approx(Intersection(a, b, c).measure)
    assert repr(a - b).startswith("(Disk(")


def test_space_time_over_csg() -> None:
    annulus = Disk((0, 0), 1, boundary="outer") - Disk((0, 0), 0.5, boundary="inner")
    st = SpaceTime(annulus, (0.0, 2.0))
    assert st.faces() == ["outer", "inner"]
    assert st.measure == pytest.approx(2 * math.pi * 0.75)
    assert st.boundary_measures() == pytest.approx({"outer": 4 * math.pi, "inner": 2 * math.pi})
    s = st.boundary_points(300, Sampler("lhs", seed=8))
    assert np.all(s.normals[:, 2] == 0)
    inner = s.parts == "inner"
    np.testing.assert_allclose(s.normals[inner, :2], -s.points[inner, :2] / 0.5, atol=1e-12)
    assert inner.sum() == 100
    x = st.interior(1000, Sampler("lhs", seed=8))
    r = np.hypot(x[:, 0], x[:, 1])
    assert np.all((r >= 0.5) & (r <= 1)) and np.all((x[:, 2] >= 0) & (x[:, 2] <= 2))
    x0 = st.initial(50, Sampler("sobol"))
    assert np.all(x0[:, 2] == 0) and st.contains(x0).all()
    ball = SpaceTime(Ball([0] * 5, 1.0), (0, 1))  # PINNacle's HNd domain
    s = ball.boundary_points(200, Sampler("sobol"))
    np.testing.assert_allclose(np.linalg.norm(s.points[:, :5], axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(s.normals[:, :5], s.points[:, :5], atol=1e-12)


def test_refused_combinations() -> None:
    with pytest.raises(ValueError, match="Difference .* is empty"):
        Disk((0, 0), 1) - Disk((0, 0), 2)
    with pytest.raises(ValueError, match="bounding boxes do not overlap"):
        Disk((0, 0), 1) & Disk((3, 0), 1)
    with pytest.raises(ValueError, match="Intersection .* is empty"):
        Disk((0, 0), 1) & Box([(0.8, 2), (0.8, 2)])  # boxes overlap, the shapes do not
    with pytest.raises(ValueError, match="different coordinates"):
        Disk((0, 0), 1) | Disk((0, 0), 1, names=("x", "z"))
    with pytest.raises(TypeError, match="spatial domains"):
        SpaceTime(Disk((0, 0), 1)) | Disk((0, 0), 1)
    with pytest.raises(TypeError, match="spatial domains"):
        Union(Disk((0, 0), 1), "disk")


def test_random_nested_combinations_are_consistent() -> None:
    """For random two-level combinations of disks, boxes, ellipses and triangles: the divergence-theorem
    measure agrees with Monte Carlo, and every boundary point has the region on the inner side of its
    normal and not on the outer side."""
    rng = np.random.default_rng(3)

    def shape():
        kind, c = rng.integers(4), rng.uniform(-0.6, 0.6, 2)
        if kind == 0:
            return Disk(c, rng.uniform(0.2, 0.6))
        if kind == 1:
            w = rng.uniform(0.1, 0.5, 4)
            return Box([(c[0] - w[0], c[0] + w[1]), (c[1] - w[2], c[1] + w[3])])
        if kind == 2:
            return Ellipse(c, rng.uniform(0.2, 0.6, 2), rng.uniform(0, 3))
        return Polygon([c + rng.uniform(-0.5, 0.5, 2) for _ in range(3)])

    ops = [lambda a, b: a | b, lambda a, b: a - b, lambda a, b: a & b]
    checked = 0
    while checked < 20:
        try:
            domain = ops[rng.integers(3)](ops[rng.integers(3)](shape(), shape()), shape())
        except ValueError:  # an empty or degenerate draw
            continue
        checked += 1
        estimate, error = monte_carlo(domain, n=200_000)
        assert abs(estimate - domain.measure) < 4.5 * error + 1e-12, domain
        s = domain.boundary_points(1000, Sampler("uniform", seed=checked))
        assert domain.contains(s.points - 1e-6 * s.normals).mean() > 0.995, domain
        assert (~domain.contains(s.points + 1e-6 * s.normals)).mean() > 0.995, domain
