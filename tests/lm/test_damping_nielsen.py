"""Nielsen's gain-ratio rule and its resumable state."""

from __future__ import annotations

import pytest
import torch

from pinnlma.lm import (
    Nielsen,
)

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


def test_nielsen_gain_ratio_rule() -> None:
    d = Nielsen(scaling="identity", tau=1e-3)
    diag = torch.tensor([2.0, 8.0])
    d.scaling(diag)
    d.start(diag)
    assert d.lam == pytest.approx(8e-3)  # τ·max diag(JᵀJ)
    d.accept(1.0)  # perfect model: shrink by 3
    assert d.lam == pytest.approx(8e-3 / 3)
    lam = d.lam
    d.accept(0.5)  # factor 1 − 0³ = 1
    assert d.lam == pytest.approx(lam)
    d.accept(0.0)  # factor 1 − (−1)³ = 2
    assert d.lam == pytest.approx(2 * lam)
    d.reject()
    d.reject()
    assert d.lam == pytest.approx(2 * lam * 2 * 4) and d.nu == 8


def test_damping_state_round_trip() -> None:
    d = Nielsen()
    d.scaling(torch.tensor([1.0, 2.0]))
    d.start(torch.tensor([1.0, 2.0]))
    d.reject()
    e = Nielsen()
    e.load_state_dict(d.state_dict())
    assert (e.lam, e.nu) == (d.lam, d.nu)
    assert torch.equal(e.scale_rule._max, d.scale_rule._max)
