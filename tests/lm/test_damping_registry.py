"""The damping registry: every named rule solves Rosenbrock; bad names and options are refused."""

from __future__ import annotations

import pytest
import torch

import pinnlma
from pinnlma.lm import (
    Levenberg,
    MarquardtScaling,
)
from tests.lm.fixtures import rosenbrock

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


@pytest.mark.parametrize("damping", ["nielsen", "levenberg", "marquardt"])
def test_each_damping_rule_solves_rosenbrock(damping: str) -> None:
    res = pinnlma.least_squares(rosenbrock, torch.tensor([-1.2, 1.0]), damping=damping, max_iter=500)
    assert res.success, res.message
    assert torch.allclose(res.x, torch.ones(2), atol=1e-8)


def test_invalid_damping_options() -> None:
    with pytest.raises(ValueError, match="unknown damping"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), damping="foo")
    with pytest.raises(ValueError, match="up and down"):
        Levenberg(up=0.5)
    with pytest.raises(ValueError, match="floor"):
        MarquardtScaling(floor=0)
