"""How the identified ν of ``burgers_inverse`` depends on the data, the network and the noise draw.

One run per call; writes ``OUT/VARIANT_SEED.json`` with the final relative errors of ν and λ₁ (in %)
and a trace every 10 iterations (iteration, seconds, ν %, λ₁ %, data loss, PDE loss, rel. L2)::

    python scripts/burgers_inverse_study.py VARIANT NOISE_SEED [SECONDS] [--out results/burgers_inverse_study]

VARIANT: ``base`` (the problem's defaults with 2000 samples, Raissi's count), ``dataN`` (N samples),
``intN`` (N collocation points, 2000 samples), ``icbc`` (2000 samples plus the known initial and
boundary conditions), ``deep`` (20×8 network), ``wide`` (30×4), ``pdeW`` (PDE loss weight W), ``clean``
(2000 samples without noise). The runs in results/burgers_inverse_study were made with one torch thread,
two at a time on the 2-core machine, 300 s each.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import torch

from pinnlma.pinn import Dirichlet, Initial, PointData
from pinnlma.run import RunConfig, solve
from pinnlma.problems import burgers_inverse as bi


def variant_problem(variant: str, seed: int):
    base = bi.problem()
    n_data = int(variant[4:]) if variant.startswith("data") else 2000
    noise = 0.0 if variant == "clean" else bi.NOISE
    conditions = [PointData(*bi.data(n=n_data, noise=noise, seed=seed), name="data")]
    options: dict = {}
    if variant == "icbc":
        conditions += [Dirichlet(0.0, name="boundary"),
                       Initial(lambda p: -torch.sin(math.pi * p[:, 0]), name="initial")]
    if variant.startswith("int"):
        options["n_interior"] = int(variant[3:])
    if variant.startswith("pde"):
        options["weights"] = {"pde": float(variant[3:])}
    if variant == "deep":
        options["model"] = {"width": 20, "depth": 8}
    if variant == "wide":
        options["model"] = {"width": 30, "depth": 4}
    return dataclasses.replace(base, conditions=conditions, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant")
    parser.add_argument("seed", type=int)
    parser.add_argument("seconds", type=float, nargs="?", default=300.0)
    parser.add_argument("--out", type=Path, default=Path("results/burgers_inverse_study"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    problem = variant_problem(args.variant, args.seed)
    trace: list[tuple] = []
    started = time.time()

    def record(iteration: int, m: dict[str, float]) -> None:
        trace.append((iteration, round(time.time() - started, 1), (m["param/nu"] / bi.NU - 1) * 100,
                      (m["param/lambda1"] - 1) * 100, m.get("loss/data"), m.get("loss/pde"), m.get("rel_l2")))

    solve(problem, RunConfig(time_limit=args.seconds, iters=100000), progress=False, callback=record)
    result = {"variant": args.variant, "seed": args.seed, "final_nu_pct": trace[-1][2], "final_l1_pct": trace[-1][3],
              "trace": trace[::10] + [trace[-1]]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.variant}_{args.seed}.json").write_text(json.dumps(result))
    print(f"{args.variant} {args.seed}: nu {trace[-1][2]:+.3f} %, lambda1 {trace[-1][3]:+.3f} %, "
          f"{trace[-1][0]} iterations")


if __name__ == "__main__":
    main()
