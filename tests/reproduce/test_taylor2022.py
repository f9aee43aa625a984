"""``pinnlma reproduce taylor2022`` at the hidden --tiny size: files, the paper's first claim (LM fits
sinc(10x) better than Adam), the generated README (its numbers are the stored ones, each verdict follows
the rule its row states, in both directions), ``--report-only``, ``--quick`` and reruns.

The tiny size runs every experiment and every report path the quick and full sizes do, with fewer
points and iterations; how long ``--quick`` takes on a machine is what the command itself records (the
README's "run time of the experiments"), not a test's business.
"""

from __future__ import annotations

import copy
import math
import shutil
from pathlib import Path
from typing import Any

import h5py
import pytest
import torch

from pinnlma import cli
from pinnlma.reproduce import taylor2022
from pinnlma.reproduce.store import read_summary
from pinnlma.reproduce.taylor2022 import experiments
from pinnlma.reproduce.taylor2022.figures import fmt
from pinnlma.reproduce.taylor2022.report import write_report

FILES = (
    "README.md",
    "sinc.h5",
    "sinc_mse.png",
    "sinc_fits.png",
    "minibatch.h5",
    "minibatch_mse.png",
    "sweep.h5",
    "sweep_adam_size.png",
    "burgers.h5",
    "burgers_solutions.png",
    "burgers_slices.png",
    "burgers_history.png",
    "jacobian.h5",
    "jacobian_strategies.png",
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("taylor2022")
    threads = torch.get_num_threads()
    try:
        assert cli.main(["reproduce", "taylor2022", "--tiny", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)  # module scope: the per-test restore in conftest does not cover it
    return out


def stored(out: Path) -> dict[str, dict[str, Any]]:
    return {name: read_summary(out / f"{name}.h5") for name in experiments.EXPERIMENTS}


def table(readme: str) -> dict[str, list[str]]:
    """The statements table of a generated README: first cell (the statement) → the row's cells."""
    rows = {}
    for line in readme.split("## Where we differ")[0].splitlines():
        if line.startswith("| ") and "**" in line:
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0]] = cells
    return rows


def verdicts(out: Path, summaries: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Statement prefix → 'agrees' / 'disagrees' in the README written from ``summaries``."""
    text = write_report(out, summaries, command="test").read_text()
    found = {}
    for statement, cells in table(text).items():
        verdict = cells[-1]
        assert verdict.startswith(("**agrees**", "**disagrees**")), cells
        found[statement] = "agrees" if verdict.startswith("**agrees**") else "disagrees"
    return found


def verdict_of(found: dict[str, str], prefix: str) -> str:
    (key,) = [k for k in found if k.startswith(prefix)]
    return found[key]


def spread(value: float) -> dict[str, float]:
    return {"median": value, "min": value, "max": value, "n": 1}


def test_files_written(tiny_run: Path) -> None:
    for name in FILES:
        path = tiny_run / name
        assert path.exists() and path.stat().st_size > 0, name
    with h5py.File(tiny_run / "sinc.h5") as fh:
        for opt in ("adam", "lm", "bfgs", "lbfgs"):
            run = fh[opt]["seed0"]
            assert len(run["mse"]) > 1 and run["fit"].shape == fh["fit_x"].shape
        assert float(fh["fit_x"][0]) == -1.5 and float(fh["fit_x"][-1]) == 1.5
    with h5py.File(tiny_run / "burgers.h5") as fh:
        assert fh["lm"]["seed0"]["prediction"].shape == fh["grid"]["reference"].shape


def test_lm_beats_adam_on_sinc(tiny_run: Path) -> None:
    s = read_summary(tiny_run / "sinc.h5")
    lm = s["optimizers"]["lm"]["final_mse"]["median"]
    adam = s["optimizers"]["adam"]["final_mse"]["median"]
    assert math.isfinite(lm) and lm < adam
    assert s["size"] == "tiny" and s["n_params"] == 61


def test_readme_shows_the_stored_numbers_and_this_run(tiny_run: Path) -> None:
    text = (tiny_run / "README.md").read_text()
    s = stored(tiny_run)
    rows = table(text)
    assert len(rows) == 9  # one row per paper statement (Burgers twice: at equal time and per iteration)
    lm_row = next(cells for key, cells in rows.items() if key.startswith("LM on sinc"))
    lm_final = s["sinc"]["optimizers"]["lm"]["final_mse"]["median"]
    assert fmt(lm_final) in lm_row[2] and f"after {s['sinc']['optimizers']['lm']['iterations']} " in lm_row[2]
    adam_row = next(cells for key, cells in rows.items() if key.startswith("Adam (lr"))
    adam_final = s["sinc"]["optimizers"]["adam"]["final_mse"]["median"]
    assert f"({adam_final / lm_final:.0f}× LM's)" in adam_row[2]
    burgers = s["burgers"]["optimizers"]["lm"]["final_rel_l2"]["median"]
    assert fmt(burgers) in next(cells for key, cells in rows.items() if key.startswith("Burgers PINN (ν"))[2]
    assert f"pinnlma reproduce taylor2022 --out {tiny_run} --threads 1" in text
    assert "Size of the runs: **tiny**" in text and "torch threads 1" in text
    for figure in ("sinc_mse.png", "sweep_adam_size.png", "burgers_slices.png", "jacobian_strategies.png"):
        assert f"]({figure})" in text


def test_each_verdict_follows_its_stated_rule_both_ways(tiny_run: Path, tmp_path: Path) -> None:
    """The stored summaries with the deciding numbers moved just across each rule's threshold."""
    base = stored(tiny_run)

    def judged(change: Any) -> dict[str, str]:
        s = copy.deepcopy(base)
        change(s)
        return verdicts(tmp_path, s)

    def sinc_lm(value: float) -> Any:
        return lambda s: s["sinc"]["optimizers"]["lm"].update(final_mse=spread(value))

    assert verdict_of(judged(sinc_lm(0.9e-6)), "LM on sinc") == "agrees"  # rule: ≤ 1e-6
    assert verdict_of(judged(sinc_lm(1.1e-6)), "LM on sinc") == "disagrees"

    def adam_over_lm(factor: float) -> Any:
        def change(s: dict) -> None:
            s["sinc"]["optimizers"]["lm"]["final_mse"] = spread(1e-6)
            s["sinc"]["optimizers"]["adam"]["final_mse"] = spread(factor * 1e-6)

        return change

    assert verdict_of(judged(adam_over_lm(101)), "Adam (lr") == "agrees"  # rule: Adam ≥ 100× LM
    assert verdict_of(judged(adam_over_lm(99)), "Adam (lr") == "disagrees"

    def tails(lobe: float, tail: float, final: float) -> Any:
        def change(s: dict) -> None:
            o = s["sinc"]["optimizers"]
            o["lm"]["final_mse"] = spread(1e-6)
            for name in ("adam", "bfgs", "lbfgs"):
                o[name].update(rel_err_lobe=spread(0.1), rel_err_tails=spread(0.5), final_mse=spread(1e-3))
            o["lbfgs"].update(rel_err_lobe=spread(lobe), rel_err_tails=spread(tail), final_mse=spread(final))

        return change

    claim = "Adam, BFGS, L-BFGS"
    assert verdict_of(judged(tails(0.1, 0.5, 1e-3)), claim) == "agrees"
    assert verdict_of(judged(tails(0.5, 0.1, 1e-3)), claim) == "disagrees"  # tails fitted better than the lobe
    assert verdict_of(judged(tails(0.1, 0.5, 1e-7)), claim) == "disagrees"  # below LM's MSE

    def minibatch(lm: float, adam: float) -> Any:
        def change(s: dict) -> None:
            s["minibatch"]["optimizers"]["lm"]["final_mse"] = spread(lm)
            s["minibatch"]["optimizers"]["adam"]["final_mse"] = spread(adam)

        return change

    found = judged(minibatch(0.9e-7, 6.6e-4))  # rules: LM ≤ 1e-7, Adam within 10× of 6.6e-4
    assert verdict_of(found, "LM under") == verdict_of(found, "Adam under") == "agrees"
    found = judged(minibatch(1.1e-7, 7e-3))
    assert verdict_of(found, "LM under") == verdict_of(found, "Adam under") == "disagrees"
    assert verdict_of(judged(minibatch(1e-8, 6e-5)), "Adam under") == "disagrees"

    def sweep(matched: bool, ratio_within_10: float | None) -> Any:
        def change(s: dict) -> None:
            s["sweep"]["matched"] = matched
            hit = None if ratio_within_10 is None else {"arch": "1–40–40–1", "n_params": 2000, "ratio": ratio_within_10}
            s["sweep"]["reached"]["10"] = hit

        return change

    claim = "Adam needs bigger models"  # rule: matches LM, or within 10× at ≤ 26·1.5× the parameters
    assert verdict_of(judged(sweep(True, None)), claim) == "agrees"
    assert verdict_of(judged(sweep(False, 38.0)), claim) == "agrees"
    assert verdict_of(judged(sweep(False, 40.0)), claim) == "disagrees"
    assert verdict_of(judged(sweep(False, None)), claim) == "disagrees"

    def burgers(lm: float) -> Any:
        def change(s: dict) -> None:
            o = s["burgers"]["optimizers"]
            o["lm"]["final_rel_l2"], o["lbfgs"]["final_rel_l2"], o["adam"]["final_rel_l2"] = (
                spread(lm),
                spread(0.2),
                spread(0.3),
            )
            s["burgers"]["at_lm_iterations"] = {"0": {"iterations": 10, "lm": lm, "lbfgs": 0.2, "adam": 0.3}}

        return change

    found = judged(burgers(0.19))  # rule: LM's error below both baselines'
    assert verdict_of(found, "Burgers PINN (ν") == verdict_of(found, "Burgers PINN, per") == "agrees"
    found = judged(burgers(0.21))
    assert verdict_of(found, "Burgers PINN (ν") == verdict_of(found, "Burgers PINN, per") == "disagrees"

    def jacobian(worst: float) -> Any:
        return lambda s: s["jacobian"].update(auto_vs_best={"100": 1.0, "400": worst})

    assert verdict_of(judged(jacobian(1.49)), "Jacobian strategy") == "agrees"  # rule: within 1.5× the fastest
    assert verdict_of(judged(jacobian(1.51)), "Jacobian strategy") == "disagrees"


def test_report_only_rebuilds_the_readme_from_the_stored_files_alone(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in experiments.EXPERIMENTS:
        shutil.copy(tiny_run / f"{name}.h5", tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def no_experiment(*args: object) -> dict:
        raise AssertionError("--report-only ran an experiment")

    for name in experiments.EXPERIMENTS:
        monkeypatch.setitem(experiments.RUNNERS, name, no_experiment)
    assert cli.main(["reproduce", "taylor2022", "--report-only", "--out", str(tmp_path)]) == 0
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.h5")} == before  # the data untouched
    assert table((tmp_path / "README.md").read_text()) == table((tiny_run / "README.md").read_text())
    empty = tmp_path / "empty"
    assert cli.main(["reproduce", "taylor2022", "--report-only", "--out", str(empty)]) == 2  # nothing stored


def test_quick_selects_the_quick_size_and_records_the_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []
    monkeypatch.setattr(taylor2022, "run", lambda out, **kw: calls.append((out, kw)))
    assert cli.main(["reproduce", "taylor2022", "--quick", "--only", "sinc", "--out", str(tmp_path)]) == 0
    ((out, kw),) = calls
    assert out == str(tmp_path) and kw["size"] == "quick" and kw["experiments"] == ["sinc"]
    assert kw["command"] == f"pinnlma reproduce taylor2022 --quick --only sinc --out {tmp_path} --threads 1"
    quick, full = experiments.SIZES["quick"], experiments.SIZES["full"]
    assert quick.sinc.iters["lm"] >= 100  # the README's "MSE after 100 iterations" has a value at --quick
    assert all(quick.sinc.iters[k] <= full.sinc.iters[k] for k in full.sinc.iters)


def test_unknown_experiment_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reproduce", "nosuchpaper", "--tiny", "--out", str(tmp_path)]) == 2
    assert "unknown experiment 'nosuchpaper'" in capsys.readouterr().err
    assert cli.main(["reproduce", "taylor2022", "--tiny", "--only", "sinc,bogus", "--out", str(tmp_path)]) == 2
    assert "bogus" in capsys.readouterr().err


def test_rerun_says_which_stored_result_it_replaces(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(tiny_run / "jacobian.h5", tmp_path / "jacobian.h5")
    earlier = read_summary(tmp_path / "jacobian.h5")
    # the experiment itself is not what is tested here: hand back the stored result
    monkeypatch.setitem(experiments.RUNNERS, "jacobian", lambda out, size, done, echo: copy.deepcopy(earlier))
    capsys.readouterr()
    assert cli.main(["reproduce", "taylor2022", "--tiny", "--only", "jacobian", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"replacing {tmp_path / 'jacobian.h5'} (the tiny run finished {earlier['finished']})" in out
    assert "--out DIR" in out
