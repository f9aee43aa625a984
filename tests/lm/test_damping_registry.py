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


class HalveOrQuadruple(pinnlma.Damping):
    """A user's own rule, written as the README says: subclass pinnlma.Damping, say how λ moves. λI
    damping (identity scaling), λ/2 after a success, 4λ after a failure; it counts its calls."""

    def __init__(self, lam0: float = 1e-3) -> None:
        super().__init__("identity", lam0, 1e16)
        self.accepted = self.rejected = 0

    def accept(self, rho: float) -> None:
        self.accepted += 1
        self.lam /= 2

    def reject(self) -> None:
        self.rejected += 1
        self.lam *= 4


def test_a_users_damping_subclass_drives_the_run_and_stays_a_template() -> None:
    """The same rule as Levenberg(up=4, down=2) gives the same iterates bit for bit; the instance passed
    in is copied (never called), and a fit with it converges."""
    rule = HalveOrQuadruple()
    x0 = torch.tensor([-1.2, 1.0])
    mine = pinnlma.least_squares(rosenbrock, x0, damping=rule, max_iter=500)
    builtin = pinnlma.least_squares(rosenbrock, x0, damping=Levenberg(lam0=1e-3, up=4.0, down=2.0), max_iter=500)
    assert mine.history["lam"] == builtin.history["lam"] and torch.equal(mine.x, builtin.x)
    assert mine.success and torch.allclose(mine.x, torch.ones(2), atol=1e-8)
    assert (rule.lam, rule.accepted, rule.rejected) == (1e-3, 0, 0)  # the template is untouched
    lm = pinnlma.LevenbergMarquardt(
        torch.nn.Linear(1, 1).double(), lambda net, a: (net(a) - 2 * a).reshape(-1), damping=rule
    )
    lm.step(torch.linspace(0, 1, 5, dtype=torch.float64).unsqueeze(1))
    live = lm.damping
    assert isinstance(live, HalveOrQuadruple) and live is not rule
    assert live.accepted + live.rejected >= 1 and rule.accepted == 0
