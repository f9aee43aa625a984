"""``pinnlma reproduce taylor2022``: the evidence of Taylor, Wang, Bala & Bednarz (2022),
"Optimizing the optimizer for data driven deep neural networks and physics informed neural networks"
(arXiv:2205.07430), measured on this machine through pinnlma's public API.

Experiments (each writes ``<out>/<name>.h5`` and PNG figures; :mod:`.report` then writes
``<out>/README.md`` from those files):

1. ``sinc``     — Adam, LM, BFGS, L-BFGS on sinc(10x) with a 1–20–1 tanh network, several seeds;
   ``minibatch`` — the same fit under the paper lineage's own protocol (mini-batches of 1000);
2. ``sweep``    — Adam on growing networks until its MSE matches LM's small network (or the cap);
3. ``burgers``  — the Burgers PINN, LM against L-BFGS and Adam under one wall-time budget each;
4. ``jacobian`` — time and peak memory of the Jacobian strategies against batch size.

Sizes: ``full`` (≈ 30 min on one thread), ``quick`` (≈ 3 min), ``tiny`` (≈ 30–60 s, for the tests).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...machine import machine_info
from ..store import prepare_run, read_summary, update_summary
from . import burgers, jacobian, minibatch, sinc, sweep
from .report import write_report

__all__ = ["DEFAULT_OUT", "EXPERIMENTS", "RUNNERS", "SIZES", "Size", "run"]

EXPERIMENTS = ("sinc", "minibatch", "sweep", "burgers", "jacobian")
"""The experiments, in the order they run (the ``--only`` choices)."""
DEFAULT_OUT = Path("results/taylor2022")
PAPER_BURGERS_WIDTHS = (32, 16, 32)


@dataclass(frozen=True)
class Size:
    """The sizes of every experiment for one named size (full, quick, tiny)."""

    name: str
    sinc: sinc.SincSize
    minibatch: minibatch.MinibatchSize
    sweep: sweep.SweepSize
    burgers: burgers.BurgersSize
    jacobian: jacobian.JacobianSize


SIZES = {
    "full": Size(
        "full",
        sinc.SincSize(points=20000, seeds=(0, 1, 2), iters={"lm": 1000, "adam": 5000, "bfgs": 3000, "lbfgs": 3000}),
        minibatch.MinibatchSize(points=20000, batch=1000, seeds=(0, 1, 2), epochs={"lm": 100, "adam": 1000}),
        sweep.SweepSize(models=((20,), (40,), (20, 20), (40, 40), (40, 40, 40)), seeds=(0, 1), steps=2000),
        burgers.BurgersSize(interior=10000, boundary=10000, widths=PAPER_BURGERS_WIDTHS, budget_s=240.0, seeds=(0,)),
        jacobian.JacobianSize(
            widths=(20, 20),
            batches=(250, 500, 1000, 2000, 4000, 8000, 16000, 32000),
            reverse_max=4000,
            forward_max=8000,
            repeats=3,
        ),
    ),
    "quick": Size(
        "quick",
        sinc.SincSize(points=20000, seeds=(0, 1, 2), iters={"lm": 150, "adam": 1000, "bfgs": 300, "lbfgs": 300}),
        minibatch.MinibatchSize(points=20000, batch=1000, seeds=(0,), epochs={"lm": 20, "adam": 100}),
        sweep.SweepSize(models=((20,), (20, 20), (40, 40)), seeds=(0,), steps=600),
        burgers.BurgersSize(interior=2000, boundary=1000, widths=PAPER_BURGERS_WIDTHS, budget_s=12.0, seeds=(0,)),
        jacobian.JacobianSize(widths=(20, 20), batches=(250, 1000, 4000), reverse_max=1000, repeats=3),
    ),
    "tiny": Size(
        "tiny",
        sinc.SincSize(
            points=2000, seeds=(0, 1), iters={"lm": 60, "adam": 300, "bfgs": 60, "lbfgs": 60}, fit_points=601
        ),
        minibatch.MinibatchSize(points=2000, batch=500, seeds=(0,), epochs={"lm": 5, "adam": 20}),
        sweep.SweepSize(models=((20,), (20, 20)), seeds=(0,), steps=200, points=2000),
        burgers.BurgersSize(interior=300, boundary=100, widths=(8, 8), budget_s=2.0, seeds=(0,), eval_grid=(64, 21)),
        jacobian.JacobianSize(widths=(10, 10), batches=(100, 400), reverse_max=400, repeats=1),
    ),
}


def run(
    out: str | Path = DEFAULT_OUT,
    *,
    size: str = "full",
    experiments: Sequence[str] | None = None,
    command: str = "",
    echo: Callable[[str], None] = print,
) -> Path:
    """Run ``experiments`` (None: all; an empty list: none, only rebuild the README from the stored
    HDF5 files) at ``size`` into ``out``; write the README; return its path."""
    out, chosen = prepare_run(out, size, SIZES, experiments, list(EXPERIMENTS))
    s = SIZES[size]
    summaries: dict[str, dict[str, Any]] = {}
    for name in EXPERIMENTS:
        if name not in chosen:
            continue
        echo(f"taylor2022 [{size}]: {name}")
        _say_what_is_replaced(out / f"{name}.h5", echo)
        summaries[name] = RUNNERS[name](out, s, summaries, echo)
        summaries[name].update(
            size=size,
            command=command,
            machine=machine_info(),
            finished=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
        update_summary(out / f"{name}.h5", summaries[name])
        echo(f"taylor2022 [{size}]: {name} done in {summaries[name]['seconds']:.0f} s")
    for name in EXPERIMENTS:  # experiments not rerun now: their stored results, if any
        if name not in summaries and (out / f"{name}.h5").exists():
            summaries[name] = read_summary(out / f"{name}.h5")
    summaries = {name: summaries[name] for name in EXPERIMENTS if name in summaries}
    if not summaries:
        raise ValueError(f"nothing to report: no experiment ran and {out} holds no stored results")
    path = write_report(out, summaries, command=command)
    echo(f"taylor2022 [{size}]: report written to {path}")
    return path


Summaries = dict[str, dict[str, Any]]
Runner = Callable[[Path, Size, Summaries, Callable[[str], None]], dict[str, Any]]


def _run_sweep(out: Path, size: Size, done: Summaries, echo: Callable[[str], None]) -> dict[str, Any]:
    base = done.get("sinc") or _stored(out, "sinc", "the sweep needs the LM result of the sinc experiment")
    lm = base["optimizers"]["lm"]["final_mse"]["median"]
    return sweep.run(out, size.sweep, lm, int(base["n_params"]), echo)


RUNNERS: dict[str, Runner] = {
    "sinc": lambda out, size, done, echo: sinc.run(out, size.sinc, echo),
    "minibatch": lambda out, size, done, echo: minibatch.run(out, size.minibatch, echo),
    "sweep": _run_sweep,
    "burgers": lambda out, size, done, echo: burgers.run(out, size.burgers, echo),
    "jacobian": lambda out, size, done, echo: jacobian.run(out, size.jacobian, echo),
}
"""Experiment name → runner ``(out, size, summaries so far, echo) -> summary``."""


def _say_what_is_replaced(path: Path, echo: Callable[[str], None]) -> None:
    """Results are regenerated in place; say which earlier run a file held before it is replaced."""
    if not path.exists():
        return
    try:
        earlier = read_summary(path)
        what = f"the {earlier.get('size', '?')} run finished {earlier.get('finished', 'at an unknown time')}"
    except (OSError, KeyError, ValueError):
        what = "a file that could not be read as a stored result"
    echo(f"taylor2022: replacing {path} ({what}); use --out DIR to keep it")


def _stored(out: Path, name: str, why: str) -> dict[str, Any]:
    path = out / f"{name}.h5"
    if not path.exists():
        raise ValueError(f"{why}; run it first (no {path})")
    return read_summary(path)
