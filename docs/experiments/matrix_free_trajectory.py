"""Experiment (not part of the library): dense and matrix-free LM side by side on one Burgers PINN, N iterations
from the same start, to see what the inexact solves cost in progress per iteration and in time.

docs/performance.md uses it to choose the matrix-free defaults (the forcing term and the CG cap). Each
configuration runs in this process, one after the other, with the same seed and points; every ``EVERY``
iterations it prints the loss (mean squared residual, weighted), the optimizer time so far, the CG
iterations per LM iteration over the last ``EVERY`` and the damping. A configuration is ``dense`` or a list
of MatrixFreeOptions fields, e.g. ``eta_max=0.01`` or ``forcing=1e-6,max_iterations=300``, or ``default``
(the matrix-free defaults).

    .venv/bin/python docs/experiments/matrix_free_trajectory.py WIDTH ROWS ITERATIONS EVERY [CONFIG ...]

e.g. ``... 16 2000 100 10 dense default eta_max=0.001`` (torch on one thread).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import torch

from pinnlma.bench import fixtures
from pinnlma.lm.core import LMCore, LMOptions
from pinnlma.lm.matrix_free import MatrixFreeOptions


def parse(spec: str) -> dict[str, Any]:
    """LMOptions fields of a configuration: ``dense``, ``default`` or ``field=value,...`` of MatrixFreeOptions."""
    if spec == "dense":
        return {"solver": "dense"}
    fields: dict[str, Any] = {}
    for item in filter(None, "" if spec == "default" else spec.split(",")):
        key, value = item.split("=")
        fields[key] = (
            int(value)
            if key in ("rank", "max_iterations", "probes", "seed")
            else (value if key in ("preconditioner", "diagonal") or value == "eisenstat-walker" else float(value))
        )
    return {"solver": "matrix-free", "matrix_free": MatrixFreeOptions(**fields)}


def main(argv: list[str]) -> None:
    """Run every configuration of ``argv`` (see the module docstring) and print the table rows."""
    torch.set_num_threads(1)
    width, rows, iterations, every = map(int, argv[:4])
    print("| configuration | iteration | loss | time [s] | CG / iteration | λ |")
    print("|---|---:|---:|---:|---:|---:|")
    for spec in argv[4:] or ["dense", "default"]:
        asm = fixtures.burgers_assembler(rows, width, 4, boundary=200)
        options = LMOptions(max_iter=10**9, ftol=0.0, xtol=0.0, gtol=0.0, **parse(spec))
        core = LMCore(asm, asm.initial_parameters(), options=options)
        started = time.perf_counter()
        for i in range(1, iterations + 1):
            core.step()
            if i % every == 0:
                h = core.state.history
                cg = sum(h["linear_iterations"][-every:]) / every
                print(
                    f"| {spec} (n={core.n}, m={core.m}) | {i} | {2 * core.state.cost:.3e} | "
                    f"{time.perf_counter() - started:.1f} | {cg:.1f} | {core.damping.lam:.1e} |",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
