"""The GPU check's CPU-checkable parts: arguments, the comparison, the verdicts and the JSON, no-GPU refusal.

``--device cpu`` runs the same plumbing on the CPU (what the script runs on a GPU is the same code with
cuda:0); the GPU figures themselves come only from a GPU machine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from pinnlma.bench import gpu_check

ROOT = Path(__file__).resolve().parents[2]


def test_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OUT", str(tmp_path))
    args = gpu_check.parse_args([])
    assert (
        args.out == tmp_path / "gpu_check.json" and args.device == "cuda:0" and args.cases == list(gpu_check.CASE_NAMES)
    )
    monkeypatch.delenv("OUT")
    assert gpu_check.parse_args([]).out == Path("results/gpu_check.json")
    args = gpu_check.parse_args(["--out", "x.json", "--cases", "matrix-free, torch-cuda", "--small"])
    assert args.out == Path("x.json") and args.cases == ["matrix-free", "torch-cuda"] and args.small
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--cases", "warp-drive"])


def test_comparison() -> None:
    ref = torch.tensor([3.0, 4.0], dtype=torch.float64)
    assert gpu_check.compare_updates(ref, ref.clone()) == 0.0
    assert gpu_check.compare_updates(ref, ref + torch.tensor([0.0, 5e-9], dtype=torch.float64)) == pytest.approx(1e-9)
    assert gpu_check.compare_updates(ref, ref.float()) == 0.0  # compared in float64
    assert gpu_check.compare_updates(ref, torch.tensor([3.0, float("nan")])) == float("inf")
    assert gpu_check.compare_updates(ref, torch.zeros(3)) == float("inf")


def test_without_a_gpu_it_refuses_clearly(tmp_path: Path) -> None:
    if torch.cuda.is_available():  # the refusal is what a machine without GPU sees; here the check would run
        assert gpu_check.no_gpu_reason("cuda:0") is None
        return
    out = tmp_path / "g.json"
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "no CUDA GPU" in done.stderr and "CUDA build of torch" in done.stderr
    assert not out.exists()
    assert "only cuda devices" in gpu_check.no_gpu_reason("mps")


def test_a_mismatch_and_a_broken_path_fail_the_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    step = torch.tensor([1.0, 2.0], dtype=torch.float64)

    def broken() -> torch.Tensor:
        raise RuntimeError("CUDA error: out of memory")

    out = tmp_path / "g.json"

    def after_the_first_case() -> torch.Tensor:  # the JSON is written after every case (a timeout keeps it)
        so_far = json.loads(out.read_text())
        assert [c["name"] for c in so_far["cases"]] == ["torch-cuda"] and not so_far["complete"]
        return step * 1.001

    fake = {
        "torch-cuda": (lambda: step, lambda: step * (1 + 1e-12), 1e-8),
        "matrix-free": (lambda: step, after_the_first_case, 1e-5),
        "legate-gpu": (lambda: step, broken, 1e-8),
    }
    monkeypatch.setattr(gpu_check, "_paths", lambda device, small: fake)
    code = gpu_check.main(["--device", "cpu", "--out", str(out), "--cases", "torch-cuda,matrix-free,legate-gpu"])
    data = json.loads(out.read_text())
    assert code == 1 and not data["ok"] and data["complete"]
    verdicts = {c["name"]: (c["ok"], c["error"]) for c in data["cases"]}
    assert verdicts["torch-cuda"] == (True, None) and verdicts["matrix-free"] == (False, None)
    assert verdicts["legate-gpu"][0] is False and "out of memory" in verdicts["legate-gpu"][1]


def test_the_paths_agree_on_the_cpu(legate, tmp_path: Path) -> None:
    """The whole plumbing at small sizes with the CPU as the 'device': Burgers on one device, on two
    replicas and on Legate, and the network's residual-space update, each equal to the reference."""
    out = tmp_path / "g.json"
    cases = "torch-cuda,cuda-replicas,legate-gpu,net-1e5-residual"
    assert gpu_check.main(["--device", "cpu", "--small", "--out", str(out), "--cases", cases]) == 0
    data = json.loads(out.read_text())
    assert data["ok"] and [c["name"] for c in data["cases"]] == cases.split(",")
    assert all(c["rel_diff"] < 1e-12 and c["seconds"] > 0 for c in data["cases"])
