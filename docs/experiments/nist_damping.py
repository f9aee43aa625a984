"""Experiment (not part of the library): damping rules and options on the whole NIST StRD suite.

docs/nist_boxbod.md asks which change lets ``pinnlma.least_squares`` solve BoxBOD from start 1 (the run
MINPACK misses) without losing any of the other 53 runs or lengthening the suite. This script scores the
54 runs (27 problems × 2 starts, torch backend, float64, one thread) for each named configuration and
prints, per configuration, the runs with LRE ≥ 6, the misses, and the iterations (Jacobians) and residual
evaluations summed over the suite — the counts that set the suite's time on either backend.

    .venv/bin/python docs/experiments/nist_damping.py [CONFIG ...]     (default: all of CONFIGS)
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

import pinnlma
from pinnlma.lm import Marquardt, Nielsen
from pinnlma.validation.nist_strd import default_data_dir, load_suite, log_relative_error

CONFIGS: dict[str, Callable[[], dict[str, Any]]] = {
    "default": lambda: {},
    "nielsen nu_max=inf (Nielsen's unbounded doubling)": lambda: {"damping": Nielsen(nu_max=math.inf)},
    "nielsen nu_max=8": lambda: {"damping": Nielsen(nu_max=8.0)},
    "nielsen nu_max=2": lambda: {"damping": Nielsen(nu_max=2.0)},
    "geodesic": lambda: {"geodesic": True},
    "geodesic, gtol=0": lambda: {"geodesic": True, "gtol": 0.0},
    "nielsen identity scaling": lambda: {"damping": Nielsen(scaling="identity")},
    "nielsen tau=100": lambda: {"damping": Nielsen(tau=100.0)},
    "marquardt up=2 down=3 running max": lambda: {"damping": Marquardt(up=2, down=3, running_max=True)},
    "marquardt up=2 down=10 running max": lambda: {"damping": Marquardt(up=2, down=10, running_max=True)},
}


def score(config: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Every (problem, start): the worst parameter's LRE, iterations and residual evaluations."""
    misses, nit, nfev = [], 0, 0
    started = time.perf_counter()
    for problem in load_suite(default_data_dir()):
        fun = problem.residual_fn(torch.float64)
        for s, start in enumerate(problem.starts):
            result = pinnlma.least_squares(fun, torch.tensor(start, dtype=torch.float64), **config())
            lre = float(log_relative_error(result.x, problem.certified).min())
            nit, nfev = nit + result.nit, nfev + result.nfev
            if lre < 6:
                misses.append(f"{problem.name}/{s + 1} ({lre:.1f})")
    return {"misses": misses, "nit": nit, "nfev": nfev, "seconds": time.perf_counter() - started}


def main(names: list[str]) -> None:
    """Score and print each named configuration (all when none is named)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.set_num_threads(1)
    for name in names or list(CONFIGS):
        r = score(CONFIGS[name])
        print(
            f"{name}: {54 - len(r['misses'])}/54, misses {', '.join(r['misses']) or 'none'}; "
            f"{r['nit']} iterations, {r['nfev']} residual evaluations ({r['seconds']:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
