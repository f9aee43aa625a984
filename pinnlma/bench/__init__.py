"""Benchmark cases behind ``pinnlma bench [CASE] [--quick] [--out DIR]``.

Each case is a module with ``run(out, *, quick, tiny, echo) -> {"summary", "path", "payload"}`` that
writes ``<out>/<case>.json`` (machine, versions, configuration, measured figures); :func:`run_case`
prints the one-line summary last. ``tiny`` is a test-only size (seconds, not minutes).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

CASES: dict[str, tuple[str, str]] = {
    "lm-step": (
        "pinnlma.bench.lm_step",
        "one LM iteration in parts (Jacobian, normal equations, solve, trials) "
        "against the measured JᵀJ + Cholesky floor",
    ),
    "peer-tlm": (
        "pinnlma.bench.peer_tlm",
        "the same sinc fit through torch-levenberg-marquardt and pinnlma, alternating: time per step, final MSE",
    ),
    "time-to-accuracy": (
        "pinnlma.bench.time_to_accuracy",
        "burgers with LM, L-BFGS and Adam under one wall-time budget each: error against time",
    ),
    "scaling": ("pinnlma.bench.scaling", "time and peak memory per iteration as m and n double, slice budget on/off"),
    "backends": (
        "pinnlma.bench.backends",
        "one LM iteration of the Burgers PINN (n≈3300, m=10000) on torch and on "
        "cupynumeric/Legate, alternating: the time ratio and where it goes",
    ),
}

BUDGETED = ("peer-tlm",)
"""The cases whose runs take a wall-time ``budget`` (``pinnlma bench --budget SECONDS``)."""

__all__ = ["BUDGETED", "CASES", "DEFAULT_OUT", "run_case", "run_cases"]

DEFAULT_OUT = Path("results/benchmarks")
"""Where ``pinnlma bench`` writes unless told otherwise."""


def run_case(
    name: str,
    *,
    quick: bool = False,
    out: str | Path = DEFAULT_OUT,
    tiny: bool = False,
    echo: Callable[[str], None] = print,
    budget: float | None = None,
) -> dict[str, Any]:
    """Run one case; its progress lines, then where the JSON went, then the one-line summary (last).
    ``budget`` (seconds) goes to the cases of :data:`BUDGETED`; None: their default."""
    if name not in CASES:
        raise ValueError(f"unknown benchmark case {name!r}; choose one of {', '.join(CASES)}")
    module = importlib.import_module(CASES[name][0])
    extra = {"budget": budget} if budget is not None and name in BUDGETED else {}
    result = module.run(Path(out), quick=quick, tiny=tiny, echo=echo, **extra)
    extra = result.get("figure")
    echo(f"wrote {result['path']}" + (f" and {extra}" if extra else ""))
    echo(result["summary"])
    return result


def run_cases(
    names: list[str] | None = None,
    *,
    quick: bool = False,
    out: str | Path = DEFAULT_OUT,
    tiny: bool = False,
    echo: Callable[[str], None] = print,
    budget: float | None = None,
) -> int:
    """Run the named cases (all when None) in order; exit status 0, or 1 if a case could not run.
    ``budget``: see :func:`run_case`."""
    from ..peers import PeerUnavailable
    from .output import BenchUnavailable  # the cases' modules are imported only when they run

    status = 0
    for name in names or list(CASES):
        try:
            run_case(name, quick=quick, out=out, tiny=tiny, echo=echo, budget=budget)
        except (BenchUnavailable, PeerUnavailable) as err:
            print(f"pinnlma bench {name}: {err}", file=sys.stderr)
            status = 1
    return status
