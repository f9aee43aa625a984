"""Primitives of pinnlma.pinn.geometry: measures against closed forms and Monte Carlo, boundary measures,
membership, analytic normals, uniform boundary sampling, part names, and refused degenerate input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from pinnlma.pinn.geometry import (
    Ball,
    Box,
    Cylinder,
    Disk,
    Domain,
    Ellipse,
    Hypercube,
    Hypersphere,
    Interval,
    Polygon,
    Rectangle,
    Sampler,
    Triangle,
)

L_SHAPE = [(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]  # non-convex, area 3, perimeter 8
ARROW = [(0, 0), (2, 0), (2, 2), (1, 1), (0, 2)]  # non-convex (reflex vertex at (1, 1)), area 3


def shapes() -> dict[str, tuple[Domain, float, float]]:
    """name → (shape, closed-form measure, closed-form boundary measure)."""
    a, b = 2.0, 0.7
    ellipse_perimeter = integrate.quad(lambda t: math.hypot(a * math.sin(t), b * math.cos(t)), 0, 2 * math.pi,
                                       epsabs=1e-13, epsrel=1e-13)[0]
    return {
        "box": (Box([(0, 2), (-1, 0.5)]), 3.0, 7.0),
        "disk": (Disk((0.3, -0.2), 0.7), math.pi * 0.49, 2 * math.pi * 0.7),
        "ellipse": (Ellipse((1.0, 2.0), (a, b), angle=0.6), math.pi * a * b, ellipse_perimeter),
        "polygon": (Polygon(L_SHAPE), 3.0, 8.0),
        "arrow": (Polygon(ARROW[::-1]), 3.0, 4 + 2 * math.sqrt(2) + 2),  # clockwise input
        "triangle": (Triangle((0, 0), (3, 0), (0, 4)), 6.0, 12.0),
        "ball3": (Ball((0, 1, 2), 1.5), 4 / 3 * math.pi * 1.5**3, 4 * math.pi * 1.5**2),
        "ball5": (Hypersphere([0.0] * 5, 1.0), 8 * math.pi**2 / 15, 8 * math.pi**2 / 3),
        "ball8": (Ball([0.1] * 8, 0.9), math.pi**4 / 24 * 0.9**8, math.pi**4 / 3 * 0.9**7),
        "cylinder": (Cylinder((0, 0, 1), 0.5, 2.0, axis="y"), math.pi * 0.25 * 2, 2 * math.pi * 0.5 * 2 + 2 * math.pi * 0.25),
        "hypercube": (Hypercube(4, -1.0, 1.0), 16.0, 8 * 8.0),
    }


def monte_carlo_measure(domain: Domain, n: int = 200_000, seed: int = 0) -> tuple[float, float]:
    """(estimate, standard error) of |Ω| from uniform points of the bounding box."""
    lo, hi = domain.bounds[:, 0], domain.bounds[:, 1]
    x = lo + (hi - lo) * np.random.default_rng(seed).random((n, domain.dim))
    p = domain.contains(x).mean()
    volume = float(np.prod(hi - lo))
    return p * volume, volume * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("name", list(shapes()))
def test_measure_closed_form_and_monte_carlo(name: str) -> None:
    domain, area, perimeter = shapes()[name]
    assert domain.measure == pytest.approx(area, rel=1e-12)
    estimate, error = monte_carlo_measure(domain)
    assert abs(estimate - area) <= 4.5 * error  # a wrong formula is off by far more than 4.5 σ (σ ≈ 0.2-2 %)
    assert domain.boundary_measure() == pytest.approx(perimeter, rel=1e-10)
    # the divergence theorem (1/d) ∮ x·n dS over the patches gives the same measure
    assert domain.divergence_measure() == pytest.approx(area, rel=1e-12)
    assert domain.acceptance == pytest.approx(area / np.prod(domain.bounds[:, 1] - domain.bounds[:, 0]))


def test_monte_carlo_check_can_fail() -> None:
    """The tolerance of the Monte Carlo check catches a plausible wrong formula (2πr instead of πr²)."""
    disk = Disk((0, 0), 0.7)
    estimate, error = monte_carlo_measure(disk)
    assert abs(estimate - 2 * math.pi * 0.7) > 100 * error
    assert abs(estimate - math.pi * 0.7**2 * 1.02) > 4.5 * error  # even 2 % off is seen


def implicit(domain: Domain, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance-like defect of lying on ∂Ω, analytic outward unit normal) for the curved primitives."""
    if isinstance(domain, Ball):
        q = points - domain.center
        r = np.linalg.norm(q, axis=1)
        return r - domain.radius, q / r[:, None]
    if isinstance(domain, Ellipse):
        rot = np.array([[math.cos(domain.angle), -math.sin(domain.angle)], [math.sin(domain.angle), math.cos(domain.angle)]])
        q = (points - domain.center) @ rot
        level = (q[:, 0] / domain.a) ** 2 + (q[:, 1] / domain.b) ** 2 - 1
        grad = np.stack([q[:, 0] / domain.a**2, q[:, 1] / domain.b**2], axis=1) @ rot.T
        return level, grad / np.linalg.norm(grad, axis=1, keepdims=True)
    raise TypeError(type(domain))


@pytest.mark.parametrize("name", ["disk", "ellipse", "ball3", "ball5", "ball8"])
@pytest.mark.parametrize("method", Sampler.methods)
def test_curved_boundary_points_and_normals(name: str, method: str) -> None:
    domain = shapes()[name][0]
    sample = domain.boundary_points(500, Sampler(method, seed=4))
    defect, normal = implicit(domain, sample.points)
    np.testing.assert_allclose(defect, 0.0, atol=1e-12)
    np.testing.assert_allclose(sample.normals, normal, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(sample.normals, axis=1), 1.0, atol=1e-14)
    assert set(sample.parts) == {"boundary"}
    step = 1e-6 * domain.bounds[:, 1].max()
    assert not domain.contains(sample.points + step * sample.normals).any()
    assert domain.contains(sample.points - step * sample.normals).all()


def test_polygon_normals_membership_and_edge_names() -> None:
    edges = ["bottom", "right", "step_top", "step_side", "top", "left"]
    for vertices, names in ((L_SHAPE, edges), (L_SHAPE[::-1], edges[::-1][1:] + edges[::-1][:1])):
        poly = Polygon(vertices, boundary=names)
        sample = poly.boundary_points(600, Sampler("lhs", seed=1))
        expected = {"bottom": (0, -1), "right": (1, 0), "step_top": (0, 1), "step_side": (1, 0), "top": (0, 1),
                    "left": (-1, 0)}
        for part, normal in expected.items():
            chosen = sample.parts == part
            assert chosen.sum() > 0
            np.testing.assert_array_equal(sample.normals[chosen], np.broadcast_to(normal, (chosen.sum(), 2)))
        assert poly.boundary_measures()["step_top"] == pytest.approx(1.0)
        assert poly.faces()[:6] == list(dict.fromkeys(names))[:6]
    poly = Polygon(L_SHAPE)
    inside = [(0.5, 0.5), (1.5, 0.5), (0.5, 1.5), (1.0, 1.0), (0.0, 0.0), (2.0, 0.5)]  # corners and edges included
    outside = [(1.5, 1.5), (2.1, 0.5), (-0.01, 1.0), (1.0001, 1.5)]
    assert poly.contains(np.array(inside)).all()
    assert not poly.contains(np.array(outside)).any()
    assert not poly.contains(np.array([(0.0, 0.0), (1.0, 1.5)]), tol=-1e-9).any()  # boundary excluded with tol < 0
    arrow = Polygon(ARROW)
    assert arrow.contains(np.array([(1.0, 0.9), (0.2, 1.5)])).all()
    assert not arrow.contains(np.array([(1.0, 1.2), (1.0, 1.9)])).any()  # the notch above the reflex vertex


def test_box_cylinder_and_interval_parts() -> None:
    box = Rectangle([(0, 2), (0, 1)], boundary="walls")
    assert box.faces() == ["x_min", "x_max", "y_min", "y_max", "walls"]
    assert box.boundary_measure("walls") == 6.0 and box.boundary_measure("x_min,y_max") == 3.0
    cyl = Cylinder((1, 2, 3), 0.5, 2.0, boundary="pipe")
    assert cyl.faces() == ["side", "z_min", "z_max", "pipe"]
    sample = cyl.boundary_points(900, Sampler("sobol", seed=2))
    side = sample.parts == "side"
    q = sample.points[side] - [1, 2, 3]
    np.testing.assert_allclose(np.hypot(q[:, 0], q[:, 1]), 0.5, atol=1e-13)
    np.testing.assert_allclose(sample.normals[side][:, :2], q[:, :2] / 0.5, atol=1e-12)
    assert np.all(sample.normals[side][:, 2] == 0) and np.all(np.abs(q[:, 2]) <= 1.0)
    for part, z, nz in (("z_min", 2.0, -1.0), ("z_max", 4.0, 1.0)):
        cap = sample.parts == part
        assert np.all(sample.points[cap, 2] == z) and np.all(sample.normals[cap] == [0, 0, nz])
        assert np.all(np.hypot(sample.points[cap, 0] - 1, sample.points[cap, 1] - 2) <= 0.5 + 1e-15)
    # measure-proportional split: side 2π·0.5·2 = 2π, each cap π·0.5² = π/4
    counts = cyl.face_counts(900)
    assert counts == {"side": 720, "z_min": 90, "z_max": 90}
    assert Interval(0, 3, name="r", boundary="ends").boundary_measure("ends") == 2.0
    assert Cylinder((0, 0, 0), 1, 1, axis="x").faces() == ["side", "x_min", "x_max"]


def test_uniform_in_boundary_measure() -> None:
    """Boundary points are uniform in arc length / area, not in the parameter."""
    ellipse = Ellipse((0, 0), (3.0, 0.5))
    p = ellipse.boundary_points(40_000, Sampler("uniform", seed=5)).points
    # arc length of the part with x > 2.5 against the share of points there
    t_cut = math.acos(2.5 / 3.0)
    speed = lambda t: math.hypot(3.0 * math.sin(t), 0.5 * math.cos(t))  # noqa: E731
    share = 2 * integrate.quad(speed, 0, t_cut)[0] / ellipse.perimeter
    observed = np.mean(p[:, 0] > 2.5)
    assert abs(observed - share) < 4 * math.sqrt(share * (1 - share) / len(p))
    # sphere in 3-D: the height is uniform on [−r, r] (Archimedes); in 5-D E[x_k²] = r²/5
    z = Ball((0, 0, 0), 2.0).boundary_points(20_000, Sampler("uniform", seed=6)).points[:, 2]
    assert stats.kstest(z, stats.uniform(loc=-2, scale=4).cdf).pvalue > 1e-3
    x = Ball([0] * 5, 1.0).boundary_points(20_000, Sampler("sobol", seed=6)).points
    np.testing.assert_allclose((x**2).mean(axis=0), 0.2, atol=0.01)
    caps = Cylinder((0, 0, 0), 1.0, 1.0).boundary_points(20_000, Sampler("uniform", seed=7), where="z_max").points
    assert abs(np.mean(np.hypot(caps[:, 0], caps[:, 1]) < 0.5) - 0.25) < 0.015  # area share of the inner disk


@pytest.mark.parametrize("method", Sampler.methods)
def test_interior_points_inside_and_exactly_n(method: str) -> None:
    for name, (domain, _, _) in shapes().items():
        x = domain.interior(257, Sampler(method, seed=3))
        assert x.shape == (257, domain.dim), name
        assert domain.contains(x).all(), name


def test_high_dimensional_ball_uses_the_radial_map() -> None:
    ball = Ball([0.0] * 8, 1.0)
    assert ball.unit_map() is not None and Ball([0.0] * 5, 1.0).unit_map() is None
    x = ball.interior(20_000, Sampler("uniform", seed=1))
    r8 = np.linalg.norm(x, axis=1) ** 8  # uniform in the ball ⇔ r^d uniform on [0, 1]
    assert stats.kstest(r8, "uniform").pvalue > 1e-3


def test_membership_points() -> None:
    assert Disk((0, 0), 1).contains(np.array([(1, 0), (0.6, 0.8), (0.71, 0.71), (0.0, 0.0)])).tolist() == [
        True, True, False, True]
    e = Ellipse((0, 0), (2, 1), angle=math.pi / 2)  # long axis along y
    assert e.contains(np.array([(0, 1.9), (0.9, 0), (1.1, 0), (1.9, 0)])).tolist() == [True, True, False, False]
    assert Ball((0, 0, 0), 1).contains(np.array([(0, 0, 1), (0, 0, -1.001)])).tolist() == [True, False]
    c = Cylinder((0, 0, 0), 1, 2)
    assert c.contains(np.array([(0.7, 0.7, 0.99), (0.7, 0.7, 1.01), (0.8, 0.8, 0)])).tolist() == [True, False, False]
    t = Triangle((0, 0), (1, 0), (0, 1))
    assert t.contains(np.array([(0.2, 0.2), (0.5, 0.5), (0.6, 0.6)])).tolist() == [True, True, False]
    assert not Disk((0, 0), 1).contains(np.array([(1.0, 0.0)]), tol=-1e-9).any()


def test_degenerate_input_is_refused() -> None:
    cases = [
        (lambda: Disk((0, 0), 0.0), "radius must be a positive"),
        (lambda: Disk((0, 0), -1.0), "radius must be a positive"),
        (lambda: Disk((0, math.nan), 1.0), "center must be finite"),
        (lambda: Disk((0, 0, 0), 1.0), "Disk center must be 2 numbers"),
        (lambda: Ball((0,), 1.0), "at least 2 coordinates"),
        (lambda: Ellipse((0, 0), (1.0, 0.0)), "semi-axis b must be a positive"),
        (lambda: Polygon([(0, 0), (1, 0)]), "at least 3 distinct vertices, got 2"),
        (lambda: Polygon([(0, 0), (1, 0), (0, 0)]), "at least 3 distinct vertices, got 2"),
        (lambda: Polygon([(0, 0), (1, 1), (2, 2)]), "zero area"),
        (lambda: Polygon([(0, 0), (1, 0), (1, 0), (0, 1)]), "repeated vertex"),
        (lambda: Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), "intersects itself"),  # a bow tie
        (lambda: Polygon([(0, 0), (2, 0), (2, 2), (0, 2), (1, 2), (1, 1)]), "intersects itself"),
        (lambda: Polygon([(0, 0), (2, 0), (1, 0), (1, 1)]), "intersects itself"),  # edge 2 starts on edge 0
        (lambda: Polygon([(0, 0), (2, 0), (2, 1), (2, 0.5)]), "intersects itself"),  # folds back at (2, 1)
        (lambda: Triangle((0, 0), (1, 1), (2, 2)), "zero area"),
        (lambda: Cylinder((0, 0, 0), 1.0, 1.0, axis="w"), "axis must be one of"),
        (lambda: Cylinder((0, 0, 0), 1.0, 0.0), "height must be a positive"),
        (lambda: Hypercube(0), "positive integer"),
        (lambda: Disk((0, 0), 1.0, boundary="a,b"), "without commas"),
        (lambda: Polygon(L_SHAPE, boundary=["a", "b"]), "2 names for 6 edges"),
    ]
    for build, message in cases:
        with pytest.raises(ValueError, match=message):
            build()
