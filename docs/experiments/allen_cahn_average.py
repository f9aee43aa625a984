"""Allen–Cahn with RAD: does averaging the parameters of the last K adaptive rounds beat the last state?

    .venv/bin/python docs/experiments/allen_cahn_average.py SEED SECONDS OUT.npz [ADAPT [BOUNDARY_POINTS]]
    .venv/bin/python docs/experiments/allen_cahn_average.py held-out OUT.npz [BOUNDARY_POINTS]

Runs ``pinnlma run allen_cahn --seed SEED --time-limit SECONDS --iters 1000000 --adapt ADAPT`` (default
ADAPT ``rad:every=200,pool=200000``; ``--boundary-points`` BOUNDARY_POINTS if given) through the public
API and keeps θ just before every adaptive round, when the network has been fitted to the previous point
set the longest. The rule is registered under a new
name in ``pinnlma.pinn.adaptive.ADAPTIVE`` (the registry ``--adapt`` reads) and does what ``rad`` does after
keeping θ. Prints, for the rounds of the last time window: the error of each kept state, of the parameter
average of the last K (θ̄ = (1/K) Σ θ_j), and of the average of their predictions. OUT.npz keeps the states.

``held-out`` reads OUT.npz back and prints, from the fourth kept state on, each state's error beside its mean
squared PDE residual on 10⁵ fresh uniform points (numpy seed 123), the correlation of their logarithms, and the
error of the state with the lowest held-out residual (a choice that needs no reference).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from pinnlma.pinn import adaptive
from pinnlma.pinn.assembler import ResidualAssembler
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_assembler
from pinnlma.run import RunConfig, solve
from pinnlma.run.checkpoint import relative_l2

KEPT: list[tuple[float, torch.Tensor]] = []
START = time.perf_counter()


def _rad_keeping(rule: adaptive.Adaptive, assembler: ResidualAssembler, name: str, theta: torch.Tensor) -> bool:
    KEPT.append((time.perf_counter() - START, theta.detach().clone()))
    return adaptive.ADAPTIVE["rad"](rule, assembler, name, theta)


def main(seed: int, seconds: float, out: str, adapt: str, boundary_points: int | None) -> None:
    """One run, then the errors of its kept states and of their averages."""
    adaptive.ADAPTIVE["radkeep"] = _rad_keeping
    kind, _, rest = adapt.partition(":")
    problem = apply_options(load_problem("allen_cahn"), boundary_points=boundary_points)
    config = RunConfig(
        iters=1_000_000, time_limit=seconds, seed=seed, adapt=f"radkeep:{rest}" if kind == "rad" else adapt
    )
    result = solve(problem, config, progress=False)
    points, values = problem.evaluation()
    history = result.record.history
    windows = np.asarray(history["window_end"])
    last_start = float(np.asarray(history["time"])[np.argmax(windows == windows.max())])
    states = [(t, th) for t, th in KEPT if t > last_start + 5]
    final = result.theta
    predictions = [result.assembler.predict(th, points) for _, th in states]
    errors = [relative_l2(prediction, values) for prediction in predictions]
    print(
        f"seed {seed}: final {relative_l2(result.assembler.predict(final, points), values):.3e}; "
        f"last window from {last_start:.0f} s, {len(states)} rounds kept"
    )
    for (t, _), e in zip(states, errors):
        print(f"  round at {t:7.1f} s: {e:.3e}")
    for k in (2, 4, 8, 16, 32):
        if k > len(states):
            break
        tail = [th for _, th in states[-k:]]
        mean_theta = torch.stack(tail).mean(0)
        e_param = relative_l2(result.assembler.predict(mean_theta, points), values)
        e_pred = relative_l2(np.mean(predictions[-k:], 0), values)
        print(
            f"  last {k:2d}: parameter average {e_param:.3e}, prediction average {e_pred:.3e}, "
            f"median of their own {np.median(errors[-k:]):.3e}"
        )
    np.savez(
        out,
        times=np.array([t for t, _ in states]),
        thetas=np.stack([th.numpy() for _, th in states]),
        final=final.numpy(),
        errors=np.array(errors),
    )


def held_out(path: str, boundary_points: int | None) -> None:
    """Errors of the kept states beside their PDE residual on points none of them was fitted to."""
    problem = apply_options(load_problem("allen_cahn"), boundary_points=boundary_points)
    assembler = build_assembler(problem, seed=0)  # the network's shape; θ comes from the file
    points, values = problem.evaluation()
    rng = np.random.default_rng(123)
    fresh = torch.as_tensor(np.column_stack([rng.uniform(-1, 1, 100_000), rng.uniform(0, 1, 100_000)]))
    saved = np.load(path)
    rows = []
    for theta in saved["thetas"][3:]:
        theta = torch.as_tensor(theta)
        residual = float((assembler.block_residual_at("pde", fresh, theta) ** 2).mean())
        rows.append((relative_l2(assembler.predict(theta, points), values), residual))
    table = np.array(rows)
    for error, residual in table:
        print(f"  error {error:.3e}   held-out mean r² {residual:.3e}")
    print(
        f"correlation of the logarithms {np.corrcoef(np.log(table[:, 0]), np.log(table[:, 1]))[0, 1]:.2f}; "
        f"the state with the lowest held-out residual: error {table[np.argmin(table[:, 1]), 0]:.3e}"
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "held-out":
        held_out(args[1], int(args[2]) if len(args) > 2 else None)
        sys.exit(0)
    main(
        int(args[0]),
        float(args[1]),
        args[2],
        args[3] if len(args) > 3 else "rad:every=200,pool=200000",
        int(args[4]) if len(args) > 4 else None,
    )
