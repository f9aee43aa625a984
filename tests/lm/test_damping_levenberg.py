"""Levenberg's rule: λ divided on success, multiplied on failure, identity scaling."""

from __future__ import annotations

import pytest
import torch

from pinnlma.lm import (
    Levenberg,
)

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


# -- damping rules ------------------------------------------------------------------------------------
def test_levenberg_rule_divides_and_multiplies() -> None:
    d = Levenberg(lam0=1.0, up=10, down=5)
    diag = torch.tensor([4.0, 9.0])
    assert torch.equal(d.scaling(diag), torch.ones(2))
    d.accept(0.9)
    assert d.lam == pytest.approx(0.2)
    d.reject()
    assert d.lam == pytest.approx(2.0)
