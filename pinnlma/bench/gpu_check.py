"""The prepared GPU check behind ``scripts/gpu_check.sh``: every device path against the CPU backend.

One LM update (``LMCore.step`` from the same starting point) is computed on the CPU with the torch
backend, the reference, and again on each device path; the check passes when every update equals the
reference to rounding (relative 2-norm difference at most the case's tolerance). The paths:

- ``torch-cuda``: the Burgers PINN with the network, points and normal equations on ``cuda:0``;
- ``cuda-replicas``: two replicas on the GPU(s) accumulating their own JᵀJ (n×n partials reduced);
- ``legate-gpu``: the cupynumeric backend, Legate on the GPU(s) (started after torch holds memory
  there, so pinnlma's ``--fbmem`` rule applies);
- ``matrix-free``: the matrix-free solver (PCG on Jacobian products) on the GPU, against the same
  solver on the CPU (its tolerance is CG's, not rounding's);
- ``net-1e5-residual`` / ``net-1e5-matrix-free``: a data fit with a 10⁵-parameter MLP (m = 1000 < n, so
  the dense solver is the residual-space form), dense and matrix-free.

It writes a JSON file of times and differences and exits 0 (all equal), 1 (a mismatch or a failed
path, named) or 2 (no CUDA GPU, said first). ``--device cpu`` runs the same plumbing on the CPU
(a self-test, for the test suite; it proves nothing about GPUs). Sizes for the 5-minute budget: one
Burgers step takes 3.4 s on the CPU here (2 cores, load 14); the network's CPU reference is the long
part, its reverse-mode Jacobian 21 s per 300 rows here, so about 70 s for its 1000 rows on 2 loaded
cores and, argued, well under that on a GPU machine's 16 cores. The JSON is rewritten after every
case, so a run stopped by the time limit keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["CASE_NAMES", "Comparison", "compare_updates", "main", "parse_args", "run_checks"]

CASE_NAMES = ("torch-cuda", "cuda-replicas", "legate-gpu", "matrix-free", "net-1e5-residual", "net-1e5-matrix-free")
"""The paths checked, in order (``--cases`` picks some)."""

DENSE_TOL = 1e-8
"""Dense paths: float64 rounding of different summation orders, amplified by the damped solve's conditioning."""

MATRIX_FREE_TOL = 1e-5
"""Matrix-free paths: CG stops on a residual tolerance, and rounding may move the stop by an iteration."""


@dataclass
class Comparison:
    """One path's update against the reference: relative difference, tolerance, times (s)."""

    name: str
    rel_diff: float
    tol: float
    seconds: float
    reference_seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Equal to the reference within the tolerance, and ran without error."""
        return self.error is None and self.rel_diff <= self.tol

    def as_dict(self) -> dict[str, Any]:
        """For the JSON file."""
        return {
            "name": self.name,
            "rel_diff": self.rel_diff,
            "tol": self.tol,
            "seconds": self.seconds,
            "reference_seconds": self.reference_seconds,
            "ok": self.ok,
            "error": self.error,
        }


def compare_updates(reference: Tensor, other: Tensor) -> float:
    """‖other − reference‖ / ‖reference‖ in float64 on the CPU (inf for a shape mismatch or a non-finite update)."""
    ref, got = reference.detach().double().cpu(), other.detach().double().cpu()
    if ref.shape != got.shape or not bool(torch.isfinite(got).all()):
        return float("inf")
    scale = float(ref.norm())
    return float((got - ref).norm() / scale) if scale > 0 else float(got.norm())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--out PATH`` (default ``$OUT/gpu_check.json``, else ``results/gpu_check.json``), ``--device``
    (default cuda:0), ``--cases`` (comma-separated names of :data:`CASE_NAMES`), ``--small`` (test sizes)."""
    parser = argparse.ArgumentParser(prog="gpu_check", description="every device path against the CPU backend")
    default_out = (
        Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT") else Path("results/gpu_check.json")
    )
    parser.add_argument("--out", type=Path, default=default_out, help=f"the JSON of times (default {default_out})")
    parser.add_argument("--device", default="cuda:0", help="the device under test (cpu: a self-test of the plumbing)")
    parser.add_argument("--cases", default=",".join(CASE_NAMES), help="comma-separated paths to check")
    parser.add_argument("--small", action="store_true", help="small sizes (the test suite's self-test)")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASE_NAMES]
    if unknown or not cases:
        parser.error(
            f"unknown case(s) {', '.join(map(repr, unknown)) or '(none given)'}; choose from {', '.join(CASE_NAMES)}"
        )
    args.cases = cases
    return args


def no_gpu_reason(device: str) -> str | None:
    """Why ``device`` cannot be checked here (None when it can)."""
    dev = torch.device(device)
    if dev.type == "cpu":
        return None
    if dev.type != "cuda":
        return f"device {device!r}: only cuda devices (or cpu for the self-test) are checked"
    if not torch.cuda.is_available():
        build = "a CPU-only torch build" if torch.version.cuda is None else f"torch built for CUDA {torch.version.cuda}"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        return (
            f"no CUDA GPU visible to torch ({build}; CUDA_VISIBLE_DEVICES={visible!r}): this check needs one NVIDIA "
            "GPU and a CUDA build of torch"
        )
    if (dev.index or 0) >= torch.cuda.device_count():
        return f"{device} is not available: torch sees {torch.cuda.device_count()} CUDA device(s)"
    return None


# -- the problems ----------------------------------------------------------------------------------------


def _burgers_step(device: str, small: bool, **core: Any) -> Callable[[], Tensor]:
    from ..lm import LMCore, LMOptions
    from ..pinn.registry import apply_options, load_problem
    from ..pinn.setup import build_assembler

    problem = apply_options(
        load_problem("burgers"), quick=True, **({"points": 300, "boundary_points": 60} if small else {})
    )
    devices = core.pop("devices", None)
    solver = core.pop("solver", "dense")
    backend = core.pop("backend", "torch")

    def step() -> Tensor:
        assembler = build_assembler(problem, seed=0, device=device, devices=devices)
        x0 = assembler.initial_parameters()
        lm = LMCore(assembler, x0, backend=backend, options=LMOptions(solver=solver))
        lm.step()
        return lm.state.x - x0

    return step


class WideNet(nn.Module):
    """2 → width → width → width → 1 tanh MLP; width 222 gives 99,901 parameters."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(2, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
            nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def _net_step(device: str, small: bool, solver: str) -> Callable[[], Tensor]:
    from torch.func import functional_call

    from ..lm import LMCore, LMOptions
    from ..lm.jacobian import JacobianEngine

    width, m = (12, 60) if small else (222, 1000)
    torch.manual_seed(0)
    net = WideNet(width).double()
    names = [k for k, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    x0_cpu = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    gen = torch.Generator().manual_seed(1)
    inputs_cpu = torch.rand(m, 2, generator=gen, dtype=torch.float64) * 2 - 1
    targets_cpu = torch.sin(3 * inputs_cpu[:, 0]) * torch.cos(2 * inputs_cpu[:, 1])

    def step() -> Tensor:
        model = WideNet(width).double().to(device)
        inputs, targets = inputs_cpu.to(device), targets_cpu.to(device)

        def fun(x: Tensor) -> Tensor:
            params, start = {}, 0
            for name, shape in zip(names, shapes):
                params[name] = x[start : start + shape.numel()].view(shape)
                start += shape.numel()
            return functional_call(model, params, (inputs,)).reshape(-1) - targets

        x0 = x0_cpu.to(device)
        lm = LMCore(JacobianEngine(fun), x0, options=LMOptions(solver=solver, form="auto"))
        lm.step()
        return lm.state.x - x0

    return step


def _paths(device: str, small: bool) -> dict[str, tuple[Callable[[], Tensor], Callable[[], Tensor], float]]:
    """name → (reference step on the CPU, step under test, tolerance). Built lazily (Legate starts only
    when its case runs)."""
    two = (device, device)
    return {
        "torch-cuda": (_burgers_step("cpu", small), _burgers_step(device, small), DENSE_TOL),
        "cuda-replicas": (_burgers_step("cpu", small), _burgers_step(device, small, devices=two), DENSE_TOL),
        "legate-gpu": (_burgers_step("cpu", small), _burgers_step(device, small, backend="cupynumeric"), DENSE_TOL),
        "matrix-free": (
            _burgers_step("cpu", small, solver="matrix-free"),
            _burgers_step(device, small, solver="matrix-free"),
            MATRIX_FREE_TOL,
        ),
        "net-1e5-residual": (_net_step("cpu", small, "dense"), _net_step(device, small, "dense"), DENSE_TOL),
        "net-1e5-matrix-free": (
            _net_step("cpu", small, "matrix-free"),
            _net_step(device, small, "matrix-free"),
            MATRIX_FREE_TOL,
        ),
    }


def _timed(fn: Callable[[], Tensor], device: str) -> tuple[Tensor, float]:
    started = time.perf_counter()
    out = fn()
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return out.detach().cpu(), time.perf_counter() - started


def run_checks(
    device: str,
    cases: Sequence[str],
    small: bool = False,
    echo: Callable[[str], None] = print,
    on_result: Callable[[list[Comparison]], None] | None = None,
) -> list[Comparison]:
    """Run each case: the CPU reference, then the path under test; a path that raises is a failed
    comparison carrying the error (the others still run)."""
    paths = _paths(device, small)
    results = []
    for name in cases:
        reference, under_test, tol = paths[name]
        try:
            ref, ref_seconds = _timed(reference, "cpu")
            got, seconds = _timed(under_test, device)
            result = Comparison(name, compare_updates(ref, got), tol, seconds, ref_seconds)
        except Exception as exc:  # a broken path is a result of the check, not its end
            result = Comparison(name, float("inf"), tol, float("nan"), float("nan"), f"{type(exc).__name__}: {exc}")
        verdict = "ok" if result.ok else "MISMATCH" if result.error is None else "FAILED"
        echo(
            f"{name:22s} {verdict:8s} rel_diff {result.rel_diff:.2e} (tol {tol:.0e}) "
            f"{result.seconds:.2f} s vs CPU {result.reference_seconds:.2f} s"
            + (f"  {result.error}" if result.error else "")
        )
        results.append(result)
        if on_result is not None:
            on_result(results)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """The command: 2 without a GPU, else run, write the JSON, and 0 when every path agrees, else 1."""
    args = parse_args(argv)
    reason = no_gpu_reason(args.device)
    if reason is not None:
        print(f"gpu_check: {reason}", file=sys.stderr)
        return 2
    from ..machine import machine_info, versions

    torch.set_default_dtype(torch.float64)
    started = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "name": "gpu-check",
        "device": args.device,
        "device_name": torch.cuda.get_device_name(torch.device(args.device))
        if args.device.startswith("cuda")
        else "cpu",
        "machine": machine_info(),
        "versions": versions(),
        "small": args.small,
        "cases_asked": list(args.cases),
    }

    def write(done: list[Comparison]) -> None:
        payload = {
            **header,
            "total_seconds": time.perf_counter() - started,
            "cases": [r.as_dict() for r in done],
            "complete": len(done) == len(args.cases),
            "ok": len(done) == len(args.cases) and all(r.ok for r in done),
        }
        args.out.write_text(json.dumps(payload, indent=2, default=str) + "\n")

    results = run_checks(args.device, args.cases, small=args.small, on_result=write)
    bad = [r.name for r in results if not r.ok]
    print(f"gpu_check: {len(results) - len(bad)}/{len(results)} paths equal the CPU backend; times in {args.out}"
          + (f"; failed: {', '.join(bad)}" if bad else ""))  # fmt: skip
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
