"""python -m pinnlma.validation.pinnacle --quick: real child runs of one case (PInv, two outputs) with two
optimizers, the report and JSON read back against the run files, the published table, and the verdicts."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import h5py
import pytest

from pinnlma.run import RunConfig
from pinnlma.validation import pinnacle as bench
from pinnlma.validation.kept import KEPT_MARKER


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, int]:
    results = tmp_path_factory.mktemp("pinnacle")
    (results / "quick").mkdir()
    (results / "quick" / "pinnacle.md").write_text(f"# an old table\n{KEPT_MARKER}\n## Analyses\nby hand\n")
    status = bench.main(["--quick", "--cases", "pinv", "--optimizers", "adam,lm", "--results", str(results)])
    return results / "quick", status


def test_every_case_of_the_specification_is_listed() -> None:
    assert list(bench.CASES) == [
        "burgers1d",
        "poisson2d_c",
        "heat2d_ms",
        "heat2d_lt",
        "ns2d_c",
        "wave1d_c",
        "pnd",
        "hnd",
        "pinv",
        "pinv_consistent",
    ]
    from pinnlma.pinn.registry import bundled_names

    assert {c.problem for c in bench.CASES.values()} <= set(bundled_names())
    assert bench.CASES["ns2d_c"].published.best == ("LAAF", 3.60e-2)
    assert bench.CASES["pnd"].target.l2re == 1e-5 and bench.CASES["poisson2d_c"].target.l2re == 1e-3


def test_quick_report_matches_the_run_files(report) -> None:
    folder, status = report
    assert status == 0  # nothing but the time is asked of PINNacle's inconsistent PInv
    data = json.loads((folder / "pinnacle.json").read_text())
    rows = data["rows"]
    assert [(r["case"], r["optimizer"]) for r in rows] == [("pinv", "lm"), ("pinv", "adam")]
    text = (folder / "pinnacle.md").read_text()
    assert "QUICK SIZES" in text and "## The optimizer alone" in text
    assert "an old table" not in text and text.endswith(f"{KEPT_MARKER}\n## Analyses\nby hand\n")  # kept
    for row in rows:
        assert row["ok"], row
        stem = row["case"] if row["optimizer"] == "lm" else f"{row['case']}_{row['optimizer']}"
        with h5py.File(folder / f"{stem}.h5") as f:
            assert float(f.attrs["final_rel_l2"]) == row["l2re"]
            assert str(f.attrs["optimizer"]) == row["optimizer"]
        assert (folder / f"{stem}.png").stat().st_size > 1000
        assert f"{row['l2re']:.2e}" in text
    lm, adam = rows[0], rows[1]
    assert adam["n_params"] == lm["n_params"] and adam["blocks"] == lm["blocks"]
    assert "--time-limit" in adam["command"] and "--optimizer adam" in adam["command"]
    ratio = 1.96e-2 / lm["l2re"]
    assert f"{ratio:.3g}×" in text and "hp-VPINN 1.96e-02" in text and "9.42e-02" in text
    assert set(lm["outputs"]) == {"u", "a"} and f"a {lm['outputs']['a']:.2e}" in text


def test_a_second_run_updates_its_rows_and_keeps_the_others(report, tmp_path) -> None:
    folder, _ = report
    rows = json.loads((folder / "pinnacle.json").read_text())["rows"]
    path = tmp_path / "pinnacle.json"
    path.write_text(json.dumps({"rows": [{**rows[0], "case": "pnd", "l2re": 1.0}, {**rows[1], "case": "burgers1d"}]}))
    merged = bench.merge_rows(path, [{**rows[0], "case": "pnd", "l2re": 2.0}, rows[0]])
    assert [(r["case"], r["optimizer"], r["l2re"]) for r in merged] == [
        ("burgers1d", "adam", rows[1]["l2re"]),
        ("pnd", "lm", 2.0),
        ("pinv", "lm", rows[0]["l2re"]),
    ]


def test_verdicts(report) -> None:
    folder, _ = report
    row = {**json.loads((folder / "pinnacle.json").read_text())["rows"][0], "case": "pnd"}
    case = bench.CASES["pnd"]
    assert bench.verdict(case, {**row, "l2re": 9e-6, "wall_s": 100.0})[0] is True
    assert bench.verdict(case, {**row, "l2re": 9e-6, "wall_s": 601.0})[0] is False
    assert bench.verdict(case, {**row, "l2re": 2e-5})[0] is False
    burgers = bench.CASES["burgers1d"]
    good = {**row, "case": "burgers1d", "l2re": 1.35e-2, "extra": {"cole_hopf": 9e-5}, "wall_s": 10.0}
    assert bench.verdict(burgers, good)[0] is True
    assert bench.verdict(burgers, {**good, "l2re": 1.41e-2})[0] is False  # more than 5 % above the file floor
    assert bench.verdict(burgers, {**good, "extra": {"cole_hopf": 2e-4}})[0] is False
    assert bench.verdict(bench.CASES["pinv"], {**row, "wall_s": 10.0})[0] is None  # nothing but time is asked
    assert bench.verdict(case, {"ok": False, "error": "x", "wall_s": 1.0}) == (False, "run failed")
    assert not math.isnan(row["load_before"])


def test_bad_options_are_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--cases", "poisson3d"])
    assert "unknown case(s) poisson3d" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--optimizers", "lm,sgd"])
    assert "unknown optimizer(s) sgd" in capsys.readouterr().err


def test_the_optimizer_comparison_never_asks_for_a_zero_time_limit(tmp_path: Path) -> None:
    """A quick LM run can train in under 0.05 s; its time, as the other optimizers' limit, stays positive."""
    command, _, _ = bench._command(bench.CASES["pnd"], tmp_path, "adam", True, 0.004)
    limit = float(command[command.index("--time-limit") + 1])
    assert limit > 0 and RunConfig(optimizer="adam", time_limit=limit).time_limit == limit


def test_other_optimizers_take_their_limits_from_the_kept_lm_rows(report, tmp_path: Path) -> None:
    """``--optimizers lbfgs`` alone does not run LM again: the LM row kept in pinnacle.json sets the time limit,
    and ``--jobs 2`` gives each child one torch thread (on this 2-core machine)."""
    import shutil

    folder, _ = report
    shutil.copytree(folder, tmp_path / "quick")
    kept = json.loads((tmp_path / "quick" / "pinnacle.json").read_text())["rows"]
    bench.main(["--quick", "--cases", "pinv", "--optimizers", "lbfgs", "--jobs", "2", "--results", str(tmp_path)])
    rows = json.loads((tmp_path / "quick" / "pinnacle.json").read_text())["rows"]
    assert [(r["case"], r["optimizer"]) for r in rows] == [("pinv", "lm"), ("pinv", "adam"), ("pinv", "lbfgs")]
    assert rows[0] == kept[0] and rows[1] == kept[1]  # LM not run again, Adam's row kept
    lbfgs = rows[2]
    assert lbfgs["ok"] and lbfgs["threads"] == max(1, (os.cpu_count() or 1) // 2)
    assert lbfgs["command"].startswith(f"OMP_NUM_THREADS={lbfgs['threads']} pinnlma run pinnacle_pinv")
    limit = float(lbfgs["command"].split("--time-limit ")[1].split()[0])
    assert limit == pytest.approx(max(kept[0]["train_s"], 0.01), rel=1e-5)
    text = (tmp_path / "quick" / "pinnacle.md").read_text()
    assert "lbfgs L2RE" in text and f"{lbfgs['l2re']:.2e}" in text


def test_other_optimizers_without_a_kept_lm_row_are_refused(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--cases", "pnd", "--optimizers", "adam", "--results", str(tmp_path)])
    assert "no successful LM row for pnd" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--jobs", "0"])
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_studies_only_runs_the_studies_and_keeps_every_case_row(report, tmp_path: Path) -> None:
    """``--studies-only --quick``: the studies run in their quick sizes into studies.json (with the command and
    threads), the case rows and their command stay as they were, and the report gains the studies' section."""
    import shutil

    import torch

    folder, _ = report
    shutil.copytree(folder, tmp_path / "quick")
    before = json.loads((tmp_path / "quick" / "pinnacle.json").read_text())
    assert bench.main(["--studies-only", "--quick", "--results", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "quick" / "pinnacle.json").read_text()) == before
    studies = json.loads((tmp_path / "quick" / "studies.json").read_text())
    assert studies["command"] == "python -m pinnlma.validation.pinnacle --studies-only --quick"
    assert studies["quick"] and studies["threads"] == torch.get_num_threads()
    assert [r["t_end"] for r in studies["heat2d_lt_windows"]] == [1.0, 2.0]
    assert [r["frequency"] for r in studies["heat2d_ms_frequency"]] == [2, 20]
    assert [r["noise"] for r in studies["pinv_noise"]] == [0.1, 0.0]
    for row in [*studies["heat2d_lt_windows"], *studies["heat2d_ms_frequency"], *studies["pinv_noise"]]:
        assert row["iterations"] > 0 and math.isfinite(row["l2re"]) and row["l2re"] > 0
    text = (tmp_path / "quick" / "pinnacle.md").read_text()
    assert "## Measured studies of the cases out of reach" in text
    assert f"Generated by `{before['command']}`" in text and studies["command"] in text
    first = studies["pinv_noise"][0]
    assert f"| 0.1 | {first['iterations']} | {first['outputs']['a']:.2e} |" in text
    assert f"{before['rows'][0]['l2re']:.2e}" in text  # the kept LM row is still in the table


def test_studies_only_refuses_case_options_and_a_missing_table(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--studies-only", "--cases", "pinv", "--results", str(tmp_path)])
    assert "--studies-only runs no case; drop --cases" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--studies-only", "--results", str(tmp_path)])
    assert "does not exist: run the cases first" in capsys.readouterr().err
