"""Sampling of non-box shapes: exactly n points, uniform, reproducible from the seed, resumable from the
sampler state, boundary selection by names and predicates, and the error for hopeless acceptance."""
from __future__ import annotations

import math

import numpy as np
import pytest

from pinnlma.pinn.geometry import Box, Disk, Polygon, Rectangle, Sampler, SpaceTime
from pinnlma.pinn.sampling import MIN_ACCEPTANCE, SamplingError, draw_accepted, split_counts


def holed_square():
    shape = Rectangle([(-0.5, 0.5), (-0.5, 0.5)])
    for c in [(0.3, 0.3), (-0.3, 0.3), (0.3, -0.3), (-0.3, -0.3)]:
        shape = shape - Disk(c, 0.1, boundary="holes")
    return shape


DOMAINS = {
    "holed_square": holed_square,
    "annulus_time": lambda: SpaceTime(Disk((0, 0), 1, boundary="outer") - Disk((0.2, 0), 0.3, boundary="hole"), (0, 1)),
    "polygon": lambda: Polygon([(0, 0), (2, 0), (2, 2), (1, 1), (0, 2)]),
}


@pytest.mark.parametrize("method", Sampler.methods)
@pytest.mark.parametrize("name", list(DOMAINS))
def test_exact_counts_inside_and_reproducible(method: str, name: str) -> None:
    domain = DOMAINS[name]()
    draws = []
    for _ in range(2):
        s = Sampler(method, seed=11)
        x = domain.interior(1001, s)
        b = domain.boundary_points(333, s)
        draws.append((x, b.points, b.normals, b.parts))
        assert x.shape == (1001, domain.dim) and domain.contains(x).all()
        assert b.points.shape == b.normals.shape == (333, domain.dim) and b.parts.shape == (333,)
        assert domain.contains(b.points).all()
    for first, second in zip(*draws):
        np.testing.assert_array_equal(first, second)
    if method != "grid":  # the grid does not depend on the seed
        other = domain.interior(1001, Sampler(method, seed=12))
        assert not np.array_equal(other, draws[0][0])


@pytest.mark.parametrize("method", ["uniform", "lhs", "sobol"])
def test_resume_continues_exactly(method: str) -> None:
    domain = DOMAINS["annulus_time"]()
    s = Sampler(method, seed=5)
    domain.interior(300, s), domain.boundary(70, s, where="hole"), domain.space.interior(20, s)
    state = s.state_dict()
    expected = [domain.interior(400, s), domain.boundary(90, s)[0], domain.initial(30, s)]
    resumed = Sampler("uniform", seed=99)
    resumed.load_state_dict(state)
    got = [domain.interior(400, resumed), domain.boundary(90, resumed)[0], domain.initial(30, resumed)]
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)


def test_interior_is_uniform_in_area() -> None:
    annulus = Disk((0, 0), 1) - Disk((0, 0), 0.3)
    for method in ("uniform", "lhs", "sobol"):
        x = annulus.interior(40_000, Sampler(method, seed=2))
        share = np.mean(np.hypot(x[:, 0], x[:, 1]) < 0.6)
        expected = (0.36 - 0.09) / (1 - 0.09)
        assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / len(x))
        assert abs(np.mean(x[:, 0] > 0) - 0.5) < 0.01


def test_grid_rejection_covers_the_domain() -> None:
    domain = holed_square()
    x = domain.interior(2000, Sampler("grid"))
    assert len(np.unique(x, axis=0)) == 2000
    # an even thinning of a grid: every part of the domain is near some point
    probe = domain.interior(5000, Sampler("uniform", seed=0))
    nearest = np.min(np.linalg.norm(probe[:, None] - x[None], axis=2), axis=1)
    assert nearest.max() < 0.04


def test_boundary_selection_by_names_lists_and_predicates() -> None:
    domain = holed_square()
    s = Sampler("lhs", seed=3)
    for where in ("holes,x_min", ["holes", "x_min"]):
        b = domain.boundary_points(500, s, where=where)
        assert set(b.parts) == {"holes", "x_min"}
        assert (b.parts == "x_min").sum() == round(500 * 1 / (1 + 0.8 * math.pi))
    right = lambda p: p[:, 0] > 0.25  # noqa: E731 - a predicate on points
    b = domain.boundary_points(1000, s, where=right)
    assert np.all(b.points[:, 0] > 0.25)
    # in proportion to length: the right side (1), the strips of y_min/y_max (0.25 each), and the arcs
    # cos θ > −1/2 (two thirds) of the two circles centred at x = 0.3
    measure = domain.boundary_measure(right)
    assert measure == pytest.approx(1.5 + 2 * (2 / 3) * 0.2 * math.pi, rel=1e-9)
    counts = {k: int((b.parts == k).sum()) for k in set(b.parts)}
    assert counts["x_max"] == pytest.approx(1000 / measure, abs=1)
    with pytest.raises(ValueError, match="unknown face 'hole'.*holes"):
        domain.boundary(10, s, where="hole")
    with pytest.raises(ValueError, match="boolean array"):
        domain.boundary(10, s, where=lambda p: p[:, 0])
    with pytest.raises(SamplingError, match="selects no part"):
        domain.boundary(10, s, where=lambda p: p[:, 0] > 5)


def test_hopeless_acceptance_is_refused_with_the_rate_and_a_fix() -> None:
    sliver = Box([(0, 1), (0, 1)]) - Box([(0.0002, 2), (-1, 2)])  # keeps 2e-4 of its bounding box
    with pytest.raises(SamplingError, match=r"keeps only 2\.00e-04.*tighter bounding box"):
        sliver.interior(10, Sampler())
    tight = sliver & Box([(0, 0.0002), (0, 1)])  # the fix the message names
    x = tight.interior(100, Sampler("sobol"))
    assert np.all(x[:, 0] <= 0.0002)
    assert MIN_ACCEPTANCE == 1e-3


def test_draw_accepted_and_split_counts() -> None:
    s = Sampler("uniform", seed=0)
    (x,) = draw_accepted(s, 37, 2, lambda u: (u,), lambda p: p[:, 0] < 0.1, 0.1, "a strip")
    assert x.shape == (37, 2) and np.all(x[:, 0] < 0.1)
    with pytest.raises(SamplingError, match="kept only 0 points"):  # the acceptance estimate was wrong
        draw_accepted(s, 5, 1, lambda u: (u,), lambda p: p[:, 0] > 2, 0.5, "nothing")
    np.testing.assert_array_equal(split_counts(11, [1, 1, 3, 3]), [2, 1, 4, 4])
    np.testing.assert_array_equal(split_counts(5, [0, 1, 0]), [0, 5, 0])
    with pytest.raises(SamplingError):
        split_counts(3, [0, 0])
