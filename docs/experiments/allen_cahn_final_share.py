"""Allen–Cahn: how long should the closing round last? Finish a saved default run with another ``final_share``.

    .venv/bin/python docs/experiments/allen_cahn_final_share.py RUN.h5 SHARE OUT.h5

RUN.h5 is a run file of the default ``pinnlma run allen_cahn`` (``--adapt rad:every=200,pool=200000,final=3``
with any ``final_share``), or a copy of it taken while the run goes (it is checkpointed every 50 iterations),
from before its closing round. It is copied to OUT.h5, the copy's recorded rule is replaced by the same rule
with ``final_share=SHARE``, and the run is resumed from the copy to its 30-minute limit: the closing round
starts once (1 − SHARE) of the limit has passed. Run the same file with two shares for a paired comparison
(one thread, ``OMP_NUM_THREADS=1``, so the trajectory up to the round is the same). Prints the error at the
start and at the end.
"""

from __future__ import annotations

import shutil
import sys

import h5py
import numpy as np

from pinnlma.pinn.adaptive import parse_adaptive
from pinnlma.pinn.registry import load_problem
from pinnlma.run import RunConfig, solve

RULE = "rad:every=200,pool=200000,final=3,final_share={share}"


def main(run_file: str, share: float, out: str) -> None:
    """Finish a copy of ``run_file`` at ``out`` with the closing round's share ``share``; print the result."""
    rule = RULE.format(share=share)
    shutil.copy(run_file, out)
    with h5py.File(out, "r+") as f:
        start = float(f.attrs["elapsed"])
        if int(f.attrs.get("adapt_closed", 0)):
            raise SystemExit(f"{run_file}: its closing round has already run (adapt_closed = 1); take an earlier copy")
        f.attrs["adapt"] = repr(parse_adaptive(rule))
    result = solve(load_problem("allen_cahn"), RunConfig(iters=10**7, time_limit=1800, adapt=rule), resume=out)
    history = result.record.history
    time, error = np.asarray(history["time"]), np.asarray(history["rel_l2"])
    print(
        f"{run_file} final_share={share}: from {start:.0f} s at {error[time <= start][-1]:.3e} -> "
        f"{result.rel_l2:.3e} at the end ({result.record.attrs['iterations']} iterations)"
    )


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3])
