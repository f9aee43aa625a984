"""Experiment (not part of the library): steps and optimizer time to MSE 1e-5 and 1e-6 on the peer-tlm sinc fit
(5000 points, 1→20→20→14→1 tanh, 769 parameters, float64, full batch, the bench's initial weights) for each
named pinnlma option, one run each, one torch thread; also the residual evaluations (trial points) and
Jacobians per step. ``gramS`` samples S rows for JᵀJ each iteration (``LMOptions.gram_rows``). ``--seed K`` starts from the weights of seed K instead of the bench's seed 0 (the
trajectories are sensitive: docs/performance.md compares options over seeds 0-3).

docs/performance.md ("Time to target against tlm") uses it to find which options buy fewer steps; the step
counts do not depend on the machine's load, the times do.

    .venv/bin/python docs/experiments/sinc_targets.py BUDGET_S [--seed K] [OPTION ...]     (default: all of OPTIONS)
"""

from __future__ import annotations

import copy
import math
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import torch

from pinnlma.backends import TorchBackend
from pinnlma.bench import fixtures
from pinnlma.bench.peer_targets import run_to_targets
from pinnlma.lm import Levenberg, LevenbergMarquardt, LMOptions, Marquardt, MarquardtScaling, Nielsen

M = fixtures.SINC_POINTS
OPTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "default": lambda: {},
    "nielsen-nu-inf": lambda: {"damping": Nielsen(nu_max=math.inf)},
    "levenberg-tlm": lambda: {"damping": Levenberg(lam0=1e-3 * M)},
    "geodesic": lambda: {"geodesic": True},
    "identity": lambda: {"damping": Nielsen(scaling="identity")},
    "no-running-max": lambda: {"damping": Nielsen(scaling=MarquardtScaling(running_max=False))},
    "tau1e-2": lambda: {"damping": Nielsen(tau=1e-2)},
    "tau1e-1": lambda: {"damping": Nielsen(tau=1e-1)},
    "tau1": lambda: {"damping": Nielsen(tau=1.0)},
    "marquardt-dg": lambda: {"damping": Marquardt(up=2, down=3, running_max=True)},
    "refined32": lambda: {"backend": TorchBackend(gram_dtype="float32")},
    "lambda-search": lambda: {"options": LMOptions(max_iter=10**9, lambda_search=(0.1, 1.0, 10.0))},
    "frozen3": lambda: {"options": LMOptions(max_iter=10**9, frozen_steps=3)},
    "frozen8": lambda: {"options": LMOptions(max_iter=10**9, frozen_steps=8)},
    "search-frozen5": lambda: {
        "options": LMOptions(max_iter=10**9, lambda_search=(0.1, 1.0, 10.0), frozen_steps=5)
    },
    "search-frozen8": lambda: {
        "options": LMOptions(max_iter=10**9, lambda_search=(0.1, 1.0, 10.0), frozen_steps=8)
    },
    "search2-frozen5": lambda: {"options": LMOptions(max_iter=10**9, lambda_search=(0.1, 1.0), frozen_steps=5)},
    "search-frozen5-f32": lambda: {
        "options": LMOptions(max_iter=10**9, lambda_search=(0.1, 1.0, 10.0), frozen_steps=5),
        "backend": TorchBackend(gram_dtype="float32"),
    },
    **{
        f"gram{s}": (lambda s=s: {"options": LMOptions(max_iter=10**9, gram_rows=s)})
        for s in (250, 500, 750, 1000, 1500, 2500)
    },
    "gram1000-frozen3": lambda: {"options": LMOptions(max_iter=10**9, gram_rows=1000, frozen_steps=3)},
    "gram1000-search-frozen5": lambda: {
        "options": LMOptions(max_iter=10**9, gram_rows=1000, lambda_search=(0.1, 1.0, 10.0), frozen_steps=5)
    },
    "gram1000-geodesic": lambda: {"options": LMOptions(max_iter=10**9, gram_rows=1000), "geodesic": True},
}
TARGETS = {"1e-05": 1e-5, "1e-06": 1e-6}


def main(argv: list[str]) -> None:
    """Run each named option (all when none is named) under the budget; one line each."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.set_num_threads(1)
    budget, names, seed = float(argv[0]), list(argv[1:]), 0
    if "--seed" in names:
        at = names.index("--seed")
        seed = int(names[at + 1])
        del names[at : at + 2]
    x, y = fixtures.sinc_data(M)
    template = fixtures.sinc_network(fixtures.SINC_WIDTHS, seed=seed)
    state = copy.deepcopy(template.state_dict())
    for name in names or list(OPTIONS):
        made: list[LevenbergMarquardt] = []

        def make(name: str = name) -> tuple[Callable[[], bool], Callable[[], float]]:
            net = copy.deepcopy(template)
            net.load_state_dict(state)
            lm = LevenbergMarquardt(net, fixtures.sinc_residual, rowwise=True, **OPTIONS[name]())
            made.append(lm)

            def step() -> bool:
                lm.step(x, y)
                return lm.stop_reason.value != "running"

            return step, lambda: fixtures.sinc_mse(net, x, y)

        make()[0]()  # warm-up
        load = os.getloadavg()[0]
        run = run_to_targets(make, TARGETS, budget, 10**6)
        times, losses = run["trajectory"]["time_s"], run["trajectory"]["loss"]
        cells = [
            f"{t}: {v['steps']} steps {v['time_s']:.2f} s" if v["reached"] else f"{t}: not reached"
            for t, v in run["reach"].items()
        ]
        core = made[-1].core
        evaluations = (core.state.nfev - 1) / max(core.state.njev, 1)  # trial points per Jacobian
        print(
            f"{name:16s} seed {seed} load {load:.1f} | {' | '.join(cells)} | {run['steps']} steps {times[-1]:.1f} s, "
            f"{1e3 * times[-1] / max(run['steps'], 1):.0f} ms/step, {evaluations:.2f} residual evaluations/step, "
            f"final MSE {losses[-1]:.2e} ({run['ended']})",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
