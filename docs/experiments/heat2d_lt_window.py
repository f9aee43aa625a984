"""Experiment (not part of the library): PINNacle Heat2d-LT on a short window [0, T], to see where a PINN loses
the solution — the long time span, or the first transient.

Each run is :func:`pinnlma.run.solve` on ``pinnacle_heat2d_lt.build(t_end=T)`` (the case's network, points and
LM settings, seed 0) with a time budget, optionally with the exact initial value u = g + t·N and causal residual
weights. It prints the error against the project's converged spectral solve on the window's test points and,
per snapshot, at t = 0, 0.2, …, T: the relative L2 error and the rms of the prediction and of the solution.
docs/pinnacle.md ("Heat2d-LT: lost in the first transient") quotes its output.

    .venv/bin/python docs/experiments/heat2d_lt_window.py T BUDGET_S [--exact-initial] [--causal EPS:CHUNKS]
        [--width W] [--depth D] [--points N]
"""

from __future__ import annotations

import argparse

import numpy as np

from pinnlma.problems import pinnacle_heat2d_lt
from pinnlma.run import RunConfig, solve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("t_end", type=float)
    parser.add_argument("budget", type=float, help="training time in seconds")
    parser.add_argument("--exact-initial", action="store_true", help="u = g + t·N (the initial block leaves r)")
    parser.add_argument("--causal", default=None, help="causal weights EPS[:CHUNKS[:EVERY]] (pinnlma run --causal)")
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument("--points", type=int, default=None, help="interior points (default: the case's 4000)")
    args = parser.parse_args()

    problem = pinnacle_heat2d_lt.build(t_end=args.t_end)
    options: dict = {}
    if args.exact_initial:
        options["exact"] = ("initial",)
    if args.width or args.depth:
        options["model"] = {**problem.model, **({"width": args.width} if args.width else {}),
                            **({"depth": args.depth} if args.depth else {})}
    if args.points:
        options["n_interior"] = args.points
    if options:
        problem = problem.with_options(**options)
    config = RunConfig(seed=0, iters=10**9, time_limit=args.budget, causal=args.causal)
    result = solve(problem, config, progress=False)
    attrs = result.record.attrs
    print(
        f"T={args.t_end:g} budget={args.budget:g}s exact_initial={args.exact_initial} causal={args.causal} "
        f"params={int(attrs['n_params'])} iterations={int(attrs['iterations'])} loss={float(attrs['final_loss']):.3e} "
        f"vs spectral {float(attrs['extra_rel_l2_spectral']):.3e}"
    )
    points, values = problem.extra_references["spectral"]  # the window's points, as build(t_end=T) kept them
    points, values = np.asarray(points), np.asarray(values).ravel()
    prediction = np.asarray(result.assembler.predict(result.theta, points)).ravel()
    print("   t   rel. L2   rms pred   rms true")
    for t in np.unique(np.round(points[:, 2], 9)):
        at = np.abs(points[:, 2] - t) < 1e-9
        error = np.linalg.norm(prediction[at] - values[at]) / np.linalg.norm(values[at])
        rms = lambda a: float(np.sqrt(np.mean(a**2)))  # noqa: E731
        print(f"{t:5.1f}  {error:8.2e}  {rms(prediction[at]):8.3f}  {rms(values[at]):8.3f}")


if __name__ == "__main__":
    main()
