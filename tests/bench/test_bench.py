"""``pinnlma bench``: every case at a tiny size (hidden --tiny) writes its JSON with the keys other tools
read and prints its one-line summary last. Sizes are meaningless for performance; the figures are not checked."""

from __future__ import annotations

import importlib.util
import json
import math
import statistics
from pathlib import Path

import pytest
import torch

from pinnlma import cli
from pinnlma import peers
from pinnlma.bench import CASES, timing

TLM_INSTALLED = importlib.util.find_spec("torch_levenberg_marquardt") is not None


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _bench(case: str, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str, dict]:
    # one thread: tiny problems on a shared machine are dominated by thread hand-offs otherwise
    code = cli.main(["bench", case, "--tiny", "--threads", "1", "--out", str(out)])
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.strip()]
    path = out / f"{case}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    return code, lines, captured.err, data


def _common_keys(data: dict, case: str, lines: list[str]) -> None:
    assert data["case"] == case
    for key in ("machine", "versions", "summary", "created"):
        assert key in data
    assert data["machine"]["cpu_count"] >= 1 and data["versions"]["torch"] == torch.__version__
    assert lines[-1] == data["summary"] and lines[-1].startswith(f"{case}: ")


def test_registry_lists_the_cases() -> None:
    assert list(CASES) == ["lm-step", "peer-tlm", "time-to-accuracy", "scaling", "backends"]


def test_unknown_case_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["bench", "no-such-case", "--out", str(tmp_path)]) == 2
    assert "unknown benchmark case 'no-such-case'" in capsys.readouterr().err


def test_lm_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _, data = _bench("lm-step", tmp_path, capsys)
    assert code == 0
    _common_keys(data, "lm-step", lines)
    configs = data["configurations"]
    assert {c["kind"] for c in configs} == {"sinc", "burgers"}
    for c in configs:
        assert c["name"] and math.isfinite(c["ratio_to_floor"]) and c["ratio_to_floor"] > 0
        assert c["ratio_to_floor"] == pytest.approx(c["step_s"] / c["floor_s"])
        assert set(c["parts_s"]) == {"jacobian", "normal_equations", "solve", "trial_residuals", "overhead"}
        # every timed step is split into parts that add up to it (medians of parts need not add up)
        for parts, step in zip(c["samples"]["parts_s"], c["samples"]["step_s"]):
            assert sum(parts.values()) == pytest.approx(step, rel=1e-9)
        assert set(c["floor_parts_s"]) == {"gemm", "cholesky"} and c["m"] > c["n"] > 0
        assert all(t >= 1 for t in c["trials"])
    assert "burgers jacobian/gemm" in data["summary"]


def test_peer_tlm_without_the_package_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peers, "TLM_MODULE", "torch_levenberg_marquardt_not_installed_for_this_test")
    code, _, err, data = _bench("peer-tlm", tmp_path, capsys)
    assert code != 0 and not data
    assert "torch-levenberg-marquardt" in err and "not installed" in err and "pip install" in err


@pytest.mark.skipif(
    not TLM_INSTALLED, reason="torch-levenberg-marquardt is not installed (pip install 'pinnlma[bench]')"
)
def test_peer_tlm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _, data = _bench("peer-tlm", tmp_path, capsys)
    assert code == 0
    _common_keys(data, "peer-tlm", lines)
    assert data["speedup_vs_tlm"] > 0 and data["final_mse_tlm"] > 0 and data["final_mse_pinnlma"] > 0
    variants = data["variants"]
    assert {"tlm", "pinnlma", "pinnlma-levenberg", "pinnlma-channels", "pinnlma-refined", "pinnlma-gram32"} <= set(
        variants
    )
    assert data["speedup_vs_tlm_refined"] > 0 and "speedup_vs_tlm_refined >= 2" in data["targets"]
    # the speed-up pairs each repeat's runs: the median of the per-repeat ratios
    tlm_runs, ours = variants["tlm"]["samples_time_per_step_s"], variants["pinnlma"]["samples_time_per_step_s"]
    assert data["speedup_vs_tlm"] == pytest.approx(statistics.median(t / o for t, o in zip(tlm_runs, ours)))
    # same network, data and initial weights: every run starts from the same MSE and improves on it
    for v in variants.values():
        assert v["final_mse"] < data["configuration"]["initial_mse"]
    # tlm's own damping rule in pinnlma takes the same steps as tlm
    assert variants["pinnlma-levenberg"]["final_mse"] == pytest.approx(variants["tlm"]["final_mse"], rel=1e-6)
    products = data["products"]
    t_tlm = variants["tlm"]["time_per_step_s"]
    assert products["speedup_bound_float64"] == pytest.approx(
        t_tlm / (products["pinnlma_jtj_s"] + products["cholesky_s"])
    )
    assert products["pinnlma_jacobian_s"] > 0
    assert products["speedup_bound_float64_with_jacobian"] == pytest.approx(
        t_tlm / (products["pinnlma_jtj_s"] + products["cholesky_s"] + products["pinnlma_jacobian_s"])
    )
    assert 0 < products["tlm_jtj_share_of_tlm_step"] < 1.5


def test_time_to_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _, data = _bench("time-to-accuracy", tmp_path, capsys)
    assert code == 0
    _common_keys(data, "time-to-accuracy", lines)
    assert set(data["optimizers"]) == {"lm", "lbfgs", "adam"}
    for r in data["optimizers"].values():
        assert {"time_to_0.01", "time_to_0.001", "final_rel_l2", "final_loss", "history"} <= set(r)
        assert r["iterations"] >= 1 and len(r["history"]["time"]) == len(r["history"]["rel_l2"])
    assert (tmp_path / "time-to-accuracy.png").stat().st_size > 0


def test_scaling(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _, data = _bench("scaling", tmp_path, capsys)
    assert code == 0
    _common_keys(data, "scaling", lines)
    for budget in ("budget_on", "budget_off"):
        assert set(data["exponents"][budget]) == {"time_vs_m", "time_vs_n", "peak_vs_m", "peak_vs_n"}
    on = [r for r in data["results"] if r["budget"] == "on"]
    off = [r for r in data["results"] if r["budget"] == "off"]
    assert on and off and all(r["time_s"] > 0 for r in data["results"])
    assert max(r["slice_rows"] for r in on) < max(r["slice_rows"] for r in off)
    for r in data["results"]:  # one slice = its rows of J and the 4 derivative channels they come from
        assert r["slice_work_bytes"] == 4 * r["slice_bytes"] == 4 * r["slice_rows"] * r["n"] * 8
        assert r["bound_bytes"] == r["n"] ** 2 * 8 + r["slice_work_bytes"]
        assert "peak_over_jtj_plus_rows" in r
    assert (tmp_path / "scaling.png").stat().st_size > 0


def test_first_time_below_threshold() -> None:
    from pinnlma.bench.time_to_accuracy import first_time_below

    assert first_time_below([0.0, 1.0, 2.0, 3.0], [1.0, float("nan"), 5e-3, 1e-4], 1e-2) == 2.0
    assert first_time_below([0.0, 1.0], [1.0, 0.5], 1e-2) is None


def test_fit_exponent_recovers_a_power_law() -> None:
    assert timing.fit_exponent([1, 2, 4, 8], [3 * x**2 for x in (1, 2, 4, 8)]) == pytest.approx(2.0)


def test_backends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _, data = _bench("backends", tmp_path, capsys)
    assert code == 0, lines
    _common_keys(data, "backends", lines)
    assert set(data["backends"]) == {"torch", "cupynumeric"}
    assert math.isfinite(data["ratio"]) and data["ratio"] > 0
    # both backends take the same step from the same state
    assert data["update_relative_difference"] < 1e-8
