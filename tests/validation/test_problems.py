"""The problem-accuracy report (python -m pinnlma.validation.problems): verdicts and table, on made-up rows
(the real runs take half an hour; their output is docs/problems.md)."""

from __future__ import annotations

import math

from pinnlma.validation.problems import TARGETS, format_table, verdict


def _row(name: str, **kw) -> dict:
    base = {
        "name": name,
        "ok": True,
        "wall_s": 100.0,
        "rel_l2": 1e-6,
        "loss": 1e-9,
        "status": "max_iter",
        "iterations": 10,
        "train_s": 90.0,
        "n_params": 10,
        "n_residuals": 20,
        "coefficients": {},
    }
    return {**base, **kw}


def test_every_issue_target_is_listed() -> None:
    assert set(TARGETS) == {"burgers", "poisson2d", "heat1d", "helmholtz2d", "burgers_inverse"}


def test_error_and_time_both_count() -> None:
    assert verdict(_row("poisson2d"), TARGETS["poisson2d"])[0]
    assert not verdict(_row("poisson2d", rel_l2=2e-5), TARGETS["poisson2d"])[0]
    assert not verdict(_row("poisson2d", wall_s=301.0), TARGETS["poisson2d"])[0]
    assert not verdict(_row("poisson2d", ok=False, error="boom"), TARGETS["poisson2d"])[0]


def test_inverse_problem_checks_each_coefficient() -> None:
    nu = 0.01 / math.pi
    good = _row("burgers_inverse", rel_l2=math.nan, coefficients={"nu": nu * 1.005, "lambda1": 0.998})
    assert verdict(good, TARGETS["burgers_inverse"])[0]
    bad = _row("burgers_inverse", coefficients={"nu": nu * 1.02, "lambda1": 1.0})
    assert not verdict(bad, TARGETS["burgers_inverse"])[0]
    table = format_table([good, bad, _row("heat1d", ok=False, error="exit 2", wall_s=3.0)])
    assert "nu = " in table and "+0.50 %" in table and "error: exit 2" in table
    assert table.count("| yes |") == 1 and table.count("| no |") == 2
