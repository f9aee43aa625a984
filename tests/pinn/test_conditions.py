"""Each condition's residual rows on a known function (generic path, any nn.Module), against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinnlma.pinn import (
    Dirichlet,
    Initial,
    InitialVelocity,
    Neumann,
    Periodic,
    PointData,
    ResidualAssembler,
    Sampler,
)
from tests.pinn.fixtures import Known, known_problem, rows_of

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


def test_dirichlet_rows() -> None:
    rows, pts = rows_of(known_problem([Dirichlet(lambda p: p[:, 1], name="bc")]), "bc")
    expected = 2 * torch.sin(pts[:, 0]) * torch.cos(pts[:, 1]) - pts[:, 1]
    assert torch.allclose(rows, expected, atol=1e-14)
    assert set(np.round(pts[:, 0].numpy(), 12)) <= {0.0, 1.0}


def test_neumann_rows_use_outward_normals() -> None:
    rows, pts = rows_of(known_problem([Neumann(0.0, name="flux")]), "flux")
    sign = torch.where(pts[:, 0] > 0.5, 1.0, -1.0)
    expected = sign * 2 * torch.cos(pts[:, 0]) * torch.cos(pts[:, 1])
    assert torch.allclose(rows, expected, atol=1e-13)


def test_initial_and_initial_velocity_rows() -> None:
    rows, pts = rows_of(known_problem([Initial(lambda p: torch.sin(p[:, 0]), name="ic")]), "ic")
    assert torch.allclose(pts[:, 1], torch.zeros(len(pts)))
    assert torch.allclose(rows, torch.sin(pts[:, 0]), atol=1e-14)  # 2 sin x − sin x
    rows, pts = rows_of(known_problem([InitialVelocity(1.0, name="iv")]), "iv")
    assert torch.allclose(rows, -torch.ones(len(pts)), atol=1e-14)  # u_t(x, 0) = 0


def test_periodic_rows_compare_matched_points() -> None:
    problem = known_problem([Periodic("x", name="per0"), Periodic("x", order=1, name="per1")])
    a = ResidualAssembler(problem, Known(), sampler=Sampler("uniform", 1))
    r = a.residual(a.initial_parameters())
    block = next(b for b in a.blocks if b.name == "per0")
    low, high = block.groups
    assert torch.allclose(low[:, 1], high[:, 1]) and torch.all(low[:, 0] == 0) and torch.all(high[:, 0] == 1)
    t = low[:, 1]
    assert torch.allclose(r[a.block_slices()["per0"]] / block.scale, -2 * math.sin(1.0) * torch.cos(t))
    block1 = next(b for b in a.blocks if b.name == "per1")
    t1 = block1.groups[0][:, 1]
    assert torch.allclose(r[a.block_slices()["per1"]] / block1.scale, 2 * (1 - math.cos(1.0)) * torch.cos(t1))


def test_point_data_rows_and_validation() -> None:
    pts = np.array([[0.1, 0.2], [0.5, 0.5]])
    rows, _ = rows_of(known_problem([PointData(pts, [0.0, 1.0], name="obs")]), "obs")
    expected = 2 * np.sin(pts[:, 0]) * np.cos(pts[:, 1]) - np.array([0.0, 1.0])
    assert rows.numpy() == pytest.approx(expected, abs=1e-14)
    with pytest.raises(ValueError, match="2 points but 3 values"):
        PointData(pts, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        PointData(pts, [1.0, float("nan")])
