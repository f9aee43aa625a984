"""``pinnlma bench``: every case at a tiny size (hidden --tiny) writes its JSON with the keys other tools
read and prints its one-line summary last. Times are not checked (speed is what the benchmarks measure,
on a machine of their own); what is checked is what does not depend on the clock: shapes and counts,
that the timed parts of a step are disjoint pieces of it, the memory target with the bound computed
here from its documented formula, and runs that must agree with each other (tlm's rule in pinnlma and
tlm itself, the PINN layer and the refined float32 products against the plain float64 fit)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from pinnlma import cli, peers
from pinnlma.bench import CASES, fixtures, timing
from pinnlma.bench.scaling import plan

TLM_INSTALLED = importlib.util.find_spec("torch_levenberg_marquardt") is not None


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


def test_budget_is_checked_before_anything_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["bench", "lm-step", "--budget", "5", "--out", str(tmp_path)]) == 2
    assert "--budget applies to peer-tlm only" in capsys.readouterr().err
    assert cli.main(["bench", "peer-tlm", "--budget", "0", "--out", str(tmp_path)]) == 2
    assert "--budget must be a positive number of seconds" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_lm_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _, data = _bench("lm-step", tmp_path, capsys)
    assert code == 0
    _common_keys(data, "lm-step", lines)
    configs = {c["name"]: c for c in data["configurations"]}
    # the tiny configurations: 1→8→8→1 tanh on 400 points (twice: nn.Module and PINN layer), and the
    # Burgers PINN 2→8→8→1 on 500 interior + 2×50 boundary/initial rows
    sinc_n = (1 * 8 + 8) + (8 * 8 + 8) + (8 + 1)
    burgers_n = (2 * 8 + 8) + (8 * 8 + 8) + (8 + 1)
    assert {name: (c["m"], c["n"]) for name, c in configs.items()} == {
        f"sinc-mlp{sinc_n}-m400": (400, sinc_n),
        f"sinc-mlp{sinc_n}-m400-channels": (400, sinc_n),
        f"burgers-pinn{burgers_n}-m600": (600, burgers_n),
    }
    assert configs[f"burgers-pinn{burgers_n}-m600"]["jacobian"] == "channels"
    for c in configs.values():
        repeats = len(c["samples"]["step_s"])
        assert repeats == data["settings"]["repeats"] and c["trials"] == [1] * repeats  # the first trial accepted
        assert c["n_slices"] * c["slice_rows"] >= c["m"]  # the slices cover the rows
        for parts, step in zip(c["samples"]["parts_s"], c["samples"]["step_s"]):
            # the phases are disjoint pieces of the step: none negative, and together not more than it
            # (a phase counted twice, e.g. the Jacobian inside the normal equations, drives overhead < 0)
            assert set(parts) == {"jacobian", "normal_equations", "solve", "trial_residuals", "overhead"}
            assert all(v >= -1e-9 * step for v in parts.values()), parts
            assert parts["jacobian"] > 0 and parts["trial_residuals"] > 0 and step > 0
        assert set(c["floor_parts_s"]) == {"gemm", "cholesky"} and all(v > 0 for v in c["floor_parts_s"].values())
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
    epochs = data["configuration"]["epochs"]
    # same network, data and initial weights: every run starts from the same MSE, takes every epoch's
    # step and improves on the start
    for v in variants.values():
        assert v["steps"] == epochs and v["final_mse"] < data["configuration"]["initial_mse"]
    # tlm's own damping rule in pinnlma takes the same steps as tlm
    assert variants["pinnlma-levenberg"]["final_mse"] == pytest.approx(variants["tlm"]["final_mse"], rel=1e-6)
    # the same fit through the PINN layer (exact channel Jacobian), and with float32 products refined to
    # float64 accuracy, takes the same steps as the plain float64 fit
    for same in ("pinnlma-channels", "pinnlma-refined"):
        assert variants[same]["final_mse"] == pytest.approx(variants["pinnlma"]["final_mse"], rel=1e-9), same
    assert all(v > 0 for v in data["products"].values())
    _check_time_to_target(data, epochs)


def _first_reach(times: list[float], losses: list[float], target: float, budget: float) -> tuple[float, int] | None:
    for k, (t, v) in enumerate(zip(times, losses)):
        if v <= target and t <= budget:
            return t, k
    return None


def _check_time_to_target(data: dict, epochs: int) -> None:
    """The recorded reach times and speedups follow from the recorded trajectories, and tlm's own anchor
    target is the loss of its own trajectory after that many steps (same weights and batches)."""
    detail = data["time_to_target_detail"]
    assert set(data["time_to_target"]) == set(data["time_speedup_vs_tlm"]) == set(detail) == {"sinc", "digits"}
    assert set(detail["sinc"]["targets"]) == {f"tlm_{epochs}_steps", "1e-05", "1e-06"}
    assert set(detail["digits"]["targets"]) == {"tlm_2_steps", "tlm_4_steps"}
    assert {"tlm", "pinnlma", "pinnlma-levenberg", "pinnlma-tau0.1", "pinnlma-search-frozen"} <= set(
        detail["sinc"]["runs"]
    )
    assert {"tlm", "pinnlma", "pinnlma-nielsen", "pinnlma-tlm-rule"} <= set(detail["digits"]["runs"])
    for name, case in detail.items():
        budget, targets = case["budget_s"], case["targets"]
        assert set(data["time_speedup_vs_tlm"][name]) == set(case["runs"]) - {"tlm"}
        for variant, runs in case["runs"].items():
            assert len(runs) == case["repeats"] == 1
            (run,) = runs
            times, losses = run["trajectory"]["time_s"], run["trajectory"]["loss"]
            assert len(times) == len(losses) == run["steps"] + 1 and times[0] == 0.0
            assert all(b >= a for a, b in zip(times, times[1:]))  # optimizer time only grows
            assert run["steps"] <= case["max_steps"] and run["ended"]
            for target, value in targets.items():
                hit = _first_reach(times, losses, value, budget)
                recorded = run["reach"][target]
                if hit is None:
                    assert recorded["time_s"] is None and recorded["steps"] is None and not recorded["reached"]
                    assert recorded["note"].startswith("not reached")
                else:
                    assert (recorded["time_s"], recorded["steps"]) == hit and recorded["reached"]
                assert data["time_to_target"][name][variant][target] == recorded["time_s"]
        tlm_run = case["runs"]["tlm"][0]
        for target, value in targets.items():
            if target.startswith("tlm_"):
                k = int(target.split("_")[1])
                if tlm_run["steps"] >= k:  # deterministic: tlm's run repeats its anchor run
                    assert tlm_run["trajectory"]["loss"][k] == value
                    assert tlm_run["reach"][target]["steps"] <= k
            t_tlm = tlm_run["reach"][target]["time_s"]
            for variant, runs in case["runs"].items():
                if variant == "tlm":
                    continue
                t_ours = runs[0]["reach"][target]["time_s"]
                got = data["time_speedup_vs_tlm"][name][variant][target]
                if t_ours is None:
                    assert got is None
                elif t_tlm is None:
                    assert got == "inf"
                    assert case["speedup_detail"][variant][target]["speedup_at_least"] == pytest.approx(budget / t_ours)
                else:
                    assert got == pytest.approx(t_tlm / t_ours, rel=1e-12)
    # the sinc runs end on the step cap or the smallest target, each step a real step: the MSE never rises
    # for the LM runs on one full batch (a rejected step leaves the weights as they were)
    for variant, runs in detail["sinc"]["runs"].items():
        losses = runs[0]["trajectory"]["loss"]
        assert all(b <= a * (1 + 1e-12) for a, b in zip(losses, losses[1:])), variant
        assert losses[-1] < losses[0]


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
    p = plan(quick=False, tiny=True)
    results = data["results"]
    on = [r for r in results if r["budget"] == "on"]
    off = [r for r in results if r["budget"] == "off"]
    assert on and off and all(r["time_s"] > 0 for r in results)
    widths = {r["width"]: r["n"] for r in results}
    assert widths == {w: fixtures.burgers_params(w, 4) for w in {p["m_width"], *p["n_widths"]}}
    for r in on:  # the budget gives slices of budget / (4·n·8) rows (4: J's rows and their derivative channels)
        assert r["slice_rows"] == min(p["budget_on"] // (4 * r["n"] * 8), r["rows"] - 2 * p["boundary"])
    for r in off:  # unlimited: one slice per residual block, the interior block the largest
        assert r["slice_rows"] == r["rows"] - 2 * p["boundary"]
    # the documented target, with the bound computed here: peak ≤ 1.25 × (n²·8 + 4·slice_rows·n·8), checked
    # on the widest network, where JᵀJ stands far above the allocator's noise (the peak counts the pages
    # a step touches; JᵀJ is filled in its lower triangle only)
    (wide,) = [r for r in on if r["n"] == max(widths.values())]
    bound = wide["n"] ** 2 * 8 + 4 * wide["slice_rows"] * wide["n"] * 8
    assert wide["bound_bytes"] == bound
    assert wide["n"] ** 2 * 8 / 8 < wide["peak_bytes"] <= 1.25 * bound, (wide["peak_bytes"], bound)
    # dense against matrix-free: both solvers at every width (tiny sizes stay far below the limits)
    solvers = data["solvers"]
    assert {(r["solver"], r["width"]) for r in solvers["results"]} == {
        (s, w) for s in ("dense", "matrix-free") for w in data["configuration"]["solver_widths"]
    }
    assert not solvers["skipped"] and solvers["limit_s"] == 60
    for r in solvers["results"]:
        assert r["form"] == ("residual" if r["n"] > r["m"] else "normal") and r["time_s"] > 0
        assert all(c == 0 for c in r["cg_iterations"]) == (r["solver"] == "dense")
    free = [r for r in solvers["results"] if r["solver"] == "matrix-free"]
    assert {r["form"] for r in free} == {"normal", "residual"}
    for r in free:
        assert r["at_cap_s"] >= r["setup_s"] + (r["max_cg_iterations"] - 1) * r["product_s"]
    assert solvers["largest_n_within_limit"]["matrix-free"] == max(r["n"] for r in free)
    agreement = data["agreement"]
    assert len(agreement["runs"]) == len(data["configuration"]["agreement_sizes"])
    for r in agreement["runs"]:
        assert set(r["runs"]) == {"dense", "matrix-free tight", "matrix-free default"}
        assert r["runs"]["matrix-free tight"]["relative_difference"] <= 1e-8 and r["agrees"]
        assert r["runs"]["dense"]["loss"] < r["runs"]["dense"]["losses"][0]
    assert agreement["met"] and "matrix-free" in data["summary"]
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
