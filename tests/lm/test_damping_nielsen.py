"""Nielsen's gain-ratio rule and its resumable state."""

from __future__ import annotations

import math

import pytest
import torch

from pinnlma.lm import (
    Nielsen,
)

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


def test_nielsen_gain_ratio_rule() -> None:
    d = Nielsen(scaling="identity", tau=1e-3, nu_max=4.0)
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
    assert d.lam == pytest.approx(2 * lam * 2 * 4) and d.nu == 4  # ν doubles up to nu_max = 4
    d.reject()
    assert d.lam == pytest.approx(2 * lam * 2 * 4 * 4) and d.nu == 4
    d.accept(1.0)
    assert d.nu == 2


def test_nielsen_unbounded_doubling() -> None:
    assert Nielsen().nu_max == math.inf  # the default
    d = Nielsen(scaling="identity", lam0=1.0, nu_max=math.inf)
    for _ in range(4):
        d.reject()
    assert d.lam == 2 * 4 * 8 * 16 and d.nu == 32  # Nielsen's original rule: ν doubles without bound


def test_nielsen_rejects_a_growth_bound_below_two() -> None:
    with pytest.raises(ValueError, match="nu_max must be at least 2"):
        Nielsen(nu_max=1.5)


def test_damping_state_round_trip() -> None:
    d = Nielsen()
    d.scaling(torch.tensor([1.0, 2.0]))
    d.start(torch.tensor([1.0, 2.0]))
    d.reject()
    e = Nielsen()
    e.load_state_dict(d.state_dict())
    assert (e.lam, e.nu) == (d.lam, d.nu)
    assert torch.equal(e.scale_rule._max, d.scale_rule._max)
