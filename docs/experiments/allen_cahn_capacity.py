"""Experiment (not part of the library): can the Allen–Cahn network represent the solution to 2e-5?

Fits the default network of ``allen_cahn`` (periodic embedding, width × depth tanh) straight to the reference
values on every STRIDE-th x and t of Raissi's 512 × 201 grid by LM (no PDE) for SECONDS, one thread, and
prints the relative L2 error on those training nodes, on the evaluation grid of the problem (every 2nd x
and t) and on the full grid.

    .venv/bin/python docs/experiments/allen_cahn_capacity.py WIDTH DEPTH SECONDS [STRIDE]
"""

from __future__ import annotations

import sys
import time

import torch

from pinnlma.lm.module import LevenbergMarquardt
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_model
from pinnlma.reference import load_allen_cahn
from pinnlma.run.checkpoint import relative_l2


def main(width: int, depth: int, seconds: float, stride: int) -> None:
    """Fit, printing the three errors every 100 steps and at the end."""
    torch.set_num_threads(1)
    problem = apply_options(load_problem("allen_cahn"), width=width, depth=depth)
    torch.manual_seed(0)
    model = build_model(problem, torch.float64)
    reference = load_allen_cahn()
    grids = {
        "train": reference.points(stride, stride),
        "eval": problem.evaluation(),
        "full": reference.points(1, 1),
    }
    x, y = (torch.as_tensor(a) for a in grids["train"])
    print(f"{sum(p.numel() for p in model.parameters())} parameters, {len(x)} training nodes", flush=True)
    lm = LevenbergMarquardt(model, lambda net, x, y: (net(x) - y.reshape(-1, 1)).reshape(-1), rowwise=True)

    def errors() -> str:
        with torch.no_grad():
            out = {k: model(torch.as_tensor(p)).numpy().reshape(-1) for k, (p, _) in grids.items()}
        return " ".join(f"{k} {relative_l2(out[k], u.reshape(-1)):.2e}" for k, (_, u) in grids.items())

    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        lm.step(x, y)
        steps += 1
        if steps % 100 == 0:
            print(f"{steps} steps, {time.perf_counter() - start:.0f} s: {errors()}", flush=True)
    print(f"final, {steps} steps: {errors()}")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 4)
