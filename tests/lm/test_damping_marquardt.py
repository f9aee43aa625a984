"""Marquardt's scaling and rule: diag(JᵀJ) with a floor and a running maximum."""

from __future__ import annotations

import pytest
import torch

from pinnlma.lm import (
    Marquardt,
    MarquardtScaling,
)

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


def test_marquardt_scaling_has_floor_and_running_max() -> None:
    s = MarquardtScaling(floor=1e-3, running_max=True)
    first = s(torch.tensor([1.0, 0.0, 4.0]))
    assert first.tolist() == pytest.approx([1.0, 4e-3, 4.0])
    second = s(torch.tensor([0.5, 2.0, 1.0]))
    assert second.tolist() == pytest.approx([1.0, 2.0, 4.0])  # never below earlier columns
    m = Marquardt(lam0=1e-2, running_max=False)
    assert m.scaling(torch.tensor([3.0, 0.0])).tolist() == pytest.approx([3.0, 3e-10])
