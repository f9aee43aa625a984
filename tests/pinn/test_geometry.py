"""Tests of pinnlma.pinn.geometry: samplers, boxes, space-time domains, periodic pairs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pinnlma.pinn.geometry import (
    Box,
    Domain,
    Interval,
    Rectangle,
    Sampler,
    SpaceTime,
    periodic_pairs,
)

METHODS = Sampler.methods
RANDOM_METHODS = ("uniform", "lhs", "sobol")


def domains() -> list[Domain]:
    return [
        Interval(-1.0, 2.0),
        Rectangle([(0.1, 0.7), (-3.0, 5.0)]),
        Box([(0, 1), (0, 2), (-1, 1)], names=("x", "y", "z")),
        SpaceTime(Interval(-1.0, 1.0), (0.0, 0.99)),
        SpaceTime(Box([(0, 1), (0, 3)]), (0.5, 2.0), time_name="tau"),
    ]


# -- Sampler ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_unit_shape_dtype_range(method: str) -> None:
    s = Sampler(method, seed=3)
    for n, dim in [(1, 1), (7, 1), (50, 2), (33, 3), (16, 4)]:
        u = s.unit(n, dim)
        assert u.shape == (n, dim) and u.dtype == np.float64
        assert np.all(u >= 0.0) and np.all(u < 1.0)
    assert s.unit(5, 0).shape == (5, 0)


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_points(method: str) -> None:
    a, b = Sampler(method, seed=11), Sampler(method, seed=11)
    for n, dim in [(20, 2), (13, 3), (20, 2)]:
        np.testing.assert_array_equal(a.unit(n, dim), b.unit(n, dim))


@pytest.mark.parametrize("method", RANDOM_METHODS)
def test_different_seed_different_points(method: str) -> None:
    assert not np.allclose(Sampler(method, seed=0).unit(32, 2), Sampler(method, seed=1).unit(32, 2))


@pytest.mark.parametrize("method", RANDOM_METHODS)
def test_successive_draws_differ(method: str) -> None:
    s = Sampler(method, seed=0)
    assert not np.allclose(s.unit(16, 2), s.unit(16, 2))


@pytest.mark.parametrize("method", METHODS)
def test_state_dict_round_trip_continues_sequence(method: str) -> None:
    domain = SpaceTime(Box([(0, 1), (0, 1)]), (0, 1))
    s = Sampler(method, seed=5)
    s.unit(10, 2), domain.interior(37, s), domain.boundary(21, s)  # advance generator and engines
    state = s.state_dict()
    assert all(isinstance(v, (str, int)) for v in state.values())  # HDF5/JSON friendly
    expected = [s.unit(12, 2), domain.interior(40, s), domain.boundary(19, s)[0], s.unit(3, 5)]

    # A fresh sampler with another method and seed becomes the saved one, also after a JSON trip.
    for restored_state in (state, json.loads(json.dumps(state))):
        r = Sampler("uniform" if method != "uniform" else "lhs", seed=99)
        r.load_state_dict(restored_state)
        assert (r.method, r.seed) == (method, 5)
        got = [r.unit(12, 2), domain.interior(40, r), domain.boundary(19, r)[0], r.unit(3, 5)]
        for e, g in zip(expected, got, strict=True):
            np.testing.assert_array_equal(e, g)


def test_state_dict_is_a_snapshot_and_accepts_bytes() -> None:
    s = Sampler("lhs", seed=2)
    state = s.state_dict()
    first = s.unit(8, 2)
    s.unit(8, 2)
    r = Sampler("lhs")
    r.load_state_dict({k: v.encode() if isinstance(v, str) else v for k, v in state.items()})  # as HDF5 returns
    np.testing.assert_array_equal(r.unit(8, 2), first)
    with pytest.raises(ValueError, match="missing"):
        r.load_state_dict({"method": "lhs"})


@pytest.mark.parametrize("n,dim", [(10, 1), (37, 3), (200, 2)])
def test_lhs_stratification(n: int, dim: int) -> None:
    u = Sampler("lhs", seed=4).unit(n, dim)
    strata = np.floor(u * n).astype(int)
    for k in range(dim):
        np.testing.assert_array_equal(np.sort(strata[:, k]), np.arange(n))


def test_sobol_balanced() -> None:
    m = 6
    n = 2**m
    s = Sampler("sobol", seed=7)
    for _ in range(2):  # the first and the second block of 2^m points
        u = s.unit(n, 2)
        # every elementary box of area 2^-m (2^a × 2^(m−a) cells) holds exactly one point: a (0, m, 2)-net
        for a in range(m + 1):
            cells = np.floor(u[:, 0] * 2**a).astype(int) * 2 ** (m - a) + np.floor(u[:, 1] * 2 ** (m - a)).astype(int)
            np.testing.assert_array_equal(np.sort(cells), np.arange(n))
    u3 = Sampler("sobol", seed=7).unit(256, 3)
    for k in range(3):
        np.testing.assert_array_equal(np.sort(np.floor(u3[:, k] * 256).astype(int)), np.arange(256))


def test_sobol_non_power_of_two_is_silent() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Sampler("sobol").unit(100, 2).shape == (100, 2)


@pytest.mark.parametrize("n,dim,expected_k", [(16, 2, 4), (27, 3, 3), (5, 1, 5), (10, 2, 4), (9, 3, 3)])
def test_grid_sampler(n: int, dim: int, expected_k: int) -> None:
    u = Sampler("grid").unit(n, dim)
    assert u.shape == (n, dim)
    assert len(np.unique(u, axis=0)) == n
    centres = (np.arange(expected_k) + 0.5) / expected_k
    assert np.all(np.isin(u, centres))
    if expected_k**dim == n:  # a perfect power: the full grid of cell centres
        mesh = np.meshgrid(*([centres] * dim), indexing="ij")
        np.testing.assert_allclose(u, np.stack([g.ravel() for g in mesh], axis=1))
    np.testing.assert_array_equal(u, Sampler("grid", seed=123).unit(n, dim))  # deterministic


def test_sampler_validation() -> None:
    with pytest.raises(ValueError, match="uniform, lhs, sobol, grid"):
        Sampler("halton")
    with pytest.raises(ValueError, match="seed"):
        Sampler("lhs", seed=-1)
    s = Sampler()
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            s.unit(bad, 2)
    with pytest.raises(ValueError, match="dim"):
        s.unit(3, -1)


# -- Domains ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_interior_points_inside(method: str) -> None:
    for domain in domains():
        s = Sampler(method, seed=1)
        x = domain.interior(123, s)
        assert x.shape == (123, domain.dim) and x.dtype == np.float64
        assert np.all(domain.contains(x))
        assert np.all(x >= domain.bounds[:, 0]) and np.all(x <= domain.bounds[:, 1])


def test_names_bounds_faces() -> None:
    st = SpaceTime(Box([(0, 1), (0, 3)]), (0.5, 2.0), time_name="tau")
    assert st.names == ("x", "y", "tau") and st.dim == 3
    np.testing.assert_array_equal(st.bounds, [[0, 1], [0, 3], [0.5, 2.0]])
    assert st.faces() == ["x_min", "x_max", "y_min", "y_max"]
    assert (st.t0, st.t1) == (0.5, 2.0)
    assert Interval(0, 1, name="r").faces() == ["r_min", "r_max"]
    assert Box([(0, 1)] * 4).names == ("x1", "x2", "x3", "x4")
    assert Rectangle is Box and isinstance(Interval(0, 1), Box)
    assert st.index("tau") == 2


@pytest.mark.parametrize("method", METHODS)
def test_boundary_on_faces_with_outward_normals(method: str) -> None:
    for domain in domains():
        s = Sampler(method, seed=2)
        x, nrm = domain.boundary(61, s)
        assert x.shape == nrm.shape == (61, domain.dim)
        assert np.all(domain.contains(x))
        np.testing.assert_allclose(np.linalg.norm(nrm, axis=1), 1.0)
        lo, hi = domain.bounds[:, 0], domain.bounds[:, 1]
        for p, v in zip(x, nrm, strict=True):
            (k,) = np.flatnonzero(v)
            assert p[k] == (hi[k] if v[k] > 0 else lo[k])
        # outward: stepping along the normal leaves the domain, stepping against it stays inside
        eps = 1e-3 * (hi - lo).min()
        assert not np.any(domain.contains(x + eps * nrm))
        assert np.all(domain.contains(x - eps * nrm))
        if isinstance(domain, SpaceTime):
            assert np.all(nrm[:, -1] == 0.0)


def test_boundary_where_selects_faces() -> None:
    box = Box([(0, 2), (0, 1)])
    x, nrm = box.boundary(30, Sampler("lhs"), where="y_max")
    assert np.all(x[:, 1] == 1.0) and np.all(nrm == [0.0, 1.0])
    x, nrm = box.boundary(30, Sampler("lhs"), where=" x_min , y_min")
    on_x_min = x[:, 0] == 0.0
    assert np.all(on_x_min | (x[:, 1] == 0.0))
    assert on_x_min.sum() == 10  # |x_min| = 1, |y_min| = 2
    st = SpaceTime(Interval(-1, 1), (0, 1))
    x, nrm = st.boundary(9, Sampler("sobol"), where="x_max")
    assert np.all(x[:, 0] == 1.0) and np.all(nrm == [1.0, 0.0])


def test_face_measure_proportional_split() -> None:
    box = Box([(0, 3), (0, 1)])  # |x_min| = |x_max| = 1, |y_min| = |y_max| = 3
    assert box.face_counts(80) == {"x_min": 10, "x_max": 10, "y_min": 30, "y_max": 30}
    # quotas 1.375, 1.375, 4.125, 4.125: floors sum to 10, the one left goes to the largest remainder (first tie)
    assert box.face_counts(11) == {"x_min": 2, "x_max": 1, "y_min": 4, "y_max": 4}
    assert box.face_counts(3) == {"x_min": 1, "x_max": 0, "y_min": 1, "y_max": 1}
    for n in (1, 2, 5, 97):
        c = Box([(0, 1), (0, 2), (0, 5)]).face_counts(n)
        assert sum(c.values()) == n
    # the sampled points follow the counts
    x, _ = box.boundary(80, Sampler("uniform"))
    assert (x[:, 0] == 0.0).sum() == 10 and (x[:, 1] == 1.0).sum() == 30
    # interval: ends alternate evenly, the extra point to x_min
    assert Interval(0, 5).face_counts(7) == {"x_min": 4, "x_max": 3}
    x, nrm = Interval(0, 5).boundary(7, Sampler())
    assert sorted(x[:, 0].tolist()) == [0.0] * 4 + [5.0] * 3
    np.testing.assert_array_equal(nrm[:, 0], np.where(x[:, 0] == 0.0, -1.0, 1.0))
    # a space-time face F × [t0, t1] splits like F
    st = SpaceTime(box, (0, 10))
    x, _ = st.boundary(80, Sampler("lhs"))
    assert (x[:, 0] == 0.0).sum() == 10 and (x[:, 1] == 0.0).sum() == 30


def test_boundary_face_points_spread_over_face() -> None:
    # each face is sampled in its own coordinates: an LHS on a face is stratified along it
    box = Box([(0, 1), (0, 1)])
    x, _ = box.boundary(40, Sampler("lhs", seed=0), where="x_max")
    np.testing.assert_array_equal(np.sort(np.floor(x[:, 1] * 40).astype(int)), np.arange(40))


def test_spacetime_initial() -> None:
    st = SpaceTime(Box([(0, 1), (-2, 2)]), (0.25, 1.0))
    for method in METHODS:
        x = st.initial(50, Sampler(method))
        assert x.shape == (50, 3)
        assert np.all(x[:, -1] == 0.25)
        assert np.all(st.contains(x))


def test_spacetime_interior_joint_lhs() -> None:
    st = SpaceTime(Interval(0, 1), (0, 1))
    x = st.interior(30, Sampler("lhs"))
    for k in range(2):  # stratified in space and in time
        np.testing.assert_array_equal(np.sort(np.floor(x[:, k] * 30).astype(int)), np.arange(30))


@pytest.mark.parametrize("method", METHODS)
def test_periodic_pairs(method: str) -> None:
    cases = [(Box([(0, 2), (-1, 1)]), "x"), (Box([(0, 2), (-1, 1)]), "y"),
             (SpaceTime(Interval(-1, 1), (0, 1)), "x"), (SpaceTime(Box([(0, 1), (0, 2)]), (0, 3)), "y"),
             (SpaceTime(Interval(-1, 1), (0, 1)), "t"), (Interval(-1, 1), "x")]
    for domain, name in cases:
        low, high = periodic_pairs(domain, name, 17, Sampler(method, seed=3))
        k = domain.index(name)
        assert low.shape == high.shape == (17, domain.dim)
        assert np.all(low[:, k] == domain.bounds[k, 0]) and np.all(high[:, k] == domain.bounds[k, 1])
        np.testing.assert_array_equal(np.delete(low, k, axis=1), np.delete(high, k, axis=1))
        assert np.all(domain.contains(low)) and np.all(domain.contains(high))
    with pytest.raises(ValueError, match="unknown coordinate 'z'.*x, t"):
        periodic_pairs(SpaceTime(Interval(-1, 1), (0, 1)), "z", 4, Sampler())


def test_grid() -> None:
    box = Box([(0, 1), (-2, 2), (3, 4)])
    g = box.grid((3, 5, 2))
    assert g.shape == (30, 3)
    corners = np.array(np.meshgrid(*box.bounds, indexing="ij")).reshape(3, -1).T
    for c in corners:
        assert np.any(np.all(g == c, axis=1))
    # ij order: the last coordinate varies fastest, reshape(shape) recovers the axes
    np.testing.assert_array_equal(g[:2, 2], [3.0, 4.0])
    np.testing.assert_array_equal(g[:, 0].reshape(3, 5, 2)[:, 0, 0], box.axes((3, 5, 2))[0])
    st = SpaceTime(Interval(-1, 1), (0, 0.5))
    g = st.grid((5, 3))
    np.testing.assert_array_equal(g[0], [-1.0, 0.0])
    np.testing.assert_array_equal(g[-1], [1.0, 0.5])
    np.testing.assert_array_equal(np.unique(g[:, 1]), [0.0, 0.25, 0.5])
    np.testing.assert_array_equal(Interval(0, 1).grid(3)[:, 0], [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="2 coordinates"):
        st.grid((5,))
    with pytest.raises(ValueError, match=">= 2"):
        st.grid((5, 1))


def test_contains() -> None:
    box = Box([(0, 1), (0, 2)])
    np.testing.assert_array_equal(box.contains([[0, 0], [1, 2], [0.5, 2.1], [-0.01, 1]]), [True, True, False, False])
    assert box.contains([0.5, 0.5]).tolist() == [True]
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        box.contains(np.zeros((3, 3)))
    st = SpaceTime(box, (0, 1))
    np.testing.assert_array_equal(st.contains([[0.5, 1, 0.5], [0.5, 1, 1.5]]), [True, False])


def test_domain_validation_messages() -> None:
    with pytest.raises(ValueError, match=r"'x'.*lo < hi"):
        Interval(1.0, 1.0)
    with pytest.raises(ValueError, match=r"'y'.*lo < hi.*\(2\.0, 1\.0\)"):
        Box([(0, 1), (2, 1)])
    with pytest.raises(ValueError, match="finite"):
        Box([(0, np.inf)])
    with pytest.raises(ValueError, match="pairs"):
        Box([0, 1])
    with pytest.raises(ValueError, match="names"):
        Box([(0, 1), (0, 1)], names=("x",))
    with pytest.raises(ValueError, match="distinct"):
        Box([(0, 1), (0, 1)], names=("x", "x"))
    with pytest.raises(ValueError, match="distinct"):
        SpaceTime(Interval(0, 1, name="t"), (0, 1))
    with pytest.raises(ValueError, match="t0 < t1"):
        SpaceTime(Interval(0, 1), (1, 0))
    box = Box([(0, 1), (0, 1)])
    with pytest.raises(ValueError, match="unknown face 'z_min'.*x_min, x_max, y_min, y_max"):
        box.boundary(10, Sampler(), where="z_min")
    with pytest.raises(ValueError, match="unknown face 't_min'.*x_min, x_max"):
        SpaceTime(Interval(0, 1), (0, 1)).boundary(10, Sampler(), where="x_min,t_min")
    with pytest.raises(ValueError, match="empty face"):
        box.boundary(10, Sampler(), where="x_min,")
    for bad in (0, -1):
        with pytest.raises(ValueError, match="positive integer"):
            box.interior(bad, Sampler())
        with pytest.raises(ValueError, match="positive integer"):
            box.boundary(bad, Sampler())
        with pytest.raises(ValueError, match="positive integer"):
            SpaceTime(box, (0, 1)).initial(bad, Sampler())
    with pytest.raises(ValueError, match="unknown coordinate 'q'.*x, y"):
        periodic_pairs(box, "q", 5, Sampler())
    with pytest.raises(ValueError, match="unknown coordinate"):
        box.index("q")
