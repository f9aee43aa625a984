"""Allen–Cahn with RAD: how should a run end? Continue a saved run for SECONDS with one closing variant.

    .venv/bin/python docs/experiments/allen_cahn_closing.py RUN.h5 SECONDS MODE OUT.h5

RUN.h5 is a run file of ``pinnlma run allen_cahn --adapt rad:every=200,pool=200000`` (a finished run, or a
copy of its file taken while it runs: it is checkpointed every 50 iterations). It is copied to OUT.h5 and
resumed from the copy, with the time limit moved SECONDS past the saved elapsed time (the continuation is
not written back). MODE:

- ``plain``: RAD goes on as before (a redraw of the 3000 points every 200 iterations);
- ``none``: no more redraws, the last point set is fitted to the end;
- ``xF``: at once one draw of F × 3000 points by the RAD density, then no more redraws (what
  ``final=F`` does in the run's last share);
- ``uF``: at once the current points plus (F − 1) × 3000 new ones drawn by the density, then no more.

The variant replaces the ``rad`` entry of :data:`pinnlma.pinn.adaptive.ADAPTIVE` (the registry the run reads),
so the saved run's ``--adapt`` record still matches. Prints the error at the start, 30 … 300 s later and at
the end.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import replace

import h5py
import numpy as np
import torch

from pinnlma.pinn import adaptive
from pinnlma.pinn.assembler import ResidualAssembler
from pinnlma.pinn.registry import load_problem
from pinnlma.run import RunConfig, solve

PLAIN = adaptive.ADAPTIVE["rad"]


def closing_rule(mode: str) -> tuple[Callable[..., bool], dict[str, bool]]:
    """The rad rule for MODE; for xF and uF its first call (made at once) is the closing draw."""
    drawn = {"done": False}

    def rule(spec: adaptive.Adaptive, assembler: ResidualAssembler, name: str, theta: torch.Tensor) -> bool:
        if mode == "plain":
            return PLAIN(spec, assembler, name, theta)
        if mode == "none" or drawn["done"]:
            return False
        drawn["done"] = True
        factor, current = int(mode[1:]), assembler.block_points(name)
        if mode[0] == "x":  # exactly the library's closing round, final=F
            replace(spec, final=factor).finish(assembler, theta)
            return True
        pool = torch.as_tensor(assembler.problem.domain.interior(spec.pool, assembler.sampler), dtype=current.dtype)
        power = assembler.block_residual_at(name, pool, theta).abs().double() ** spec.k
        density = (power / power.mean() + spec.c).numpy()
        count = (factor - 1) * len(current)
        chosen = assembler.sampler.rng.choice(len(pool), size=count, replace=False, p=density / density.sum())
        assembler.set_block_points(name, torch.cat([current, pool[np.sort(chosen)]]))
        return True

    return rule, drawn


def main(run_file: str, seconds: float, mode: str, out: str) -> None:
    """Resume ``run_file`` (copied to ``out``) for ``seconds`` more with the closing variant ``mode``."""
    if mode not in ("plain", "none") and not (mode[0] in "xu" and mode[1:].isdigit()):
        raise SystemExit(f"MODE is plain, none, xF or uF (F an integer), not {mode!r}")
    shutil.copy(run_file, out)
    with h5py.File(out) as f:
        start, start_iteration = float(f.attrs["elapsed"]), int(f.attrs["iterations"])
    rule, drawn = closing_rule(mode)
    adaptive.ADAPTIVE["rad"] = rule
    every_iteration = adaptive.Adaptive.due
    if mode[0] in "xu":  # the closing draw before the first iteration, then the usual schedule (a no-op)
        adaptive.Adaptive.due = lambda self, iteration: not drawn["done"] or every_iteration(self, iteration)
    config = RunConfig(iters=10**7, time_limit=start + seconds, adapt="rad:every=200,pool=200000")  # as RUN.h5 ran
    result = solve(load_problem("allen_cahn"), config, resume=out, progress=False)
    time, error = np.asarray(result.record.history["time"]), np.asarray(result.record.history["rel_l2"])
    line = [f"{run_file} {mode}: from {start:.0f} s (iteration {start_iteration}) at {error[time <= start][-1]:.3e}"]
    for later in (30, 60, 90, 120, 180, 240, 300):
        if time[-1] >= start + later - 5:
            line.append(f"+{later} s {error[np.searchsorted(time, start + later) - 1]:.2e}")
    line.append(f"end {result.rel_l2:.3e} ({result.record.attrs['iterations']} iterations)")
    print(" ".join(line))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4])
