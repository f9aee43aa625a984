"""The problem-accuracy report (python -m pinnlma.validation.problems): verdicts and table, on made-up rows
(the real runs take half an hour; their output is docs/problems.md)."""

from __future__ import annotations

import math

import pytest

from pinnlma.pinn.registry import bundled_names
from pinnlma.validation.problems import GROUPS, TARGETS, format_table, main, verdict


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
    assert GROUPS["default"] == ["burgers", "poisson2d", "heat1d", "helmholtz2d", "burgers_inverse"]
    hard = {name: TARGETS[name] for name in GROUPS["hard"]}
    asked = {name: (t.problem or name, t.rel_l2, t.minutes) for name, t in hard.items()}
    assert asked == {
        "allen_cahn": ("allen_cahn", 2e-5, 30),
        "allen_cahn_10min": ("allen_cahn", 1e-3, 10),
        "kdv": ("kdv", 4e-4, 10),
        "schrodinger": ("schrodinger", 1e-3, 30),
        "schrodinger_10min": ("schrodinger", 1e-3, 10),
        "wave1d": ("wave1d", 1e-5, 30),
    }
    assert hard["schrodinger"].error == hard["schrodinger_10min"].error == "final_rel_l2_|h|"
    assert set(GROUPS) == {"default", "hard"} and sorted(n for names in GROUPS.values() for n in names) == sorted(
        TARGETS
    )


def test_every_target_runs_a_bundled_problem_with_a_limit_inside_its_minutes() -> None:
    for name, target in TARGETS.items():
        assert (target.problem or name) in bundled_names(), name
        if "--time-limit" in target.flags:
            limit = float(target.flags[target.flags.index("--time-limit") + 1])
            assert limit < 60 * target.minutes, name


def test_a_derived_quantity_target_names_it_and_reads_its_own_error() -> None:
    target = TARGETS["schrodinger"]
    met, asked = verdict(_row("schrodinger", rel_l2=9e-4, wall_s=1790.0), target)
    assert met and asked == "rel. L2 of |h| ≤ 0.001, ≤ 30 min"
    assert not verdict(_row("schrodinger", rel_l2=9e-4, wall_s=1801.0), target)[0]
    assert not verdict(_row("schrodinger", rel_l2=math.nan), target)[0]  # no such attribute in the file


def test_an_unknown_target_is_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["allen-cahn"])
    assert "no target for allen-cahn; choose from burgers" in capsys.readouterr().err


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
