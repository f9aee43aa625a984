"""Experiment (not part of the library): the digits case of ``pinnlma bench peer-tlm``'s time to target on its
own, one repeat, one torch thread (the bench runs it with two repeats after its sinc case).

    .venv/bin/python docs/experiments/digits_targets.py BUDGET_S

Prints the targets (tlm's training loss after its first 6 and 30 steps), one line per variant and the
``time_speedup_vs_tlm`` entries. Needs the bench extra (torch-levenberg-marquardt).
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import torch

from pinnlma import peers
from pinnlma.bench import peer_targets


def main(budget: float) -> None:
    """Run the digits case once under ``budget`` optimizer seconds per run and print what it measured."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.set_num_threads(1)
    tlm = peers.load_tlm()
    started = time.time()
    case = peer_targets.digits_case(tlm, tiny=False)
    print("targets", case.targets, f"(anchor run {time.time() - started:.0f} s), load {os.getloadavg()[0]:.1f}")
    out = peer_targets.run_case(case, budget=budget, repeats=1, echo=print)
    print(f"load {os.getloadavg()[0]:.1f}")
    for name, runs in out["runs"].items():
        run, times = runs[0], runs[0]["trajectory"]["time_s"]
        reach = {k: (v["steps"], v["time_s"]) for k, v in run["reach"].items()}
        print(
            f"{name}: {run['steps']} steps, {times[-1]:.1f} s, {1e3 * times[-1] / max(run['steps'], 1):.0f} ms/step, "
            f"final loss {run['trajectory']['loss'][-1]:.4f} ({run['ended']}); reach (steps, s) {reach}"
        )
    print(json.dumps(out["time_speedup_vs_tlm"]))


if __name__ == "__main__":
    main(float(sys.argv[1]))
