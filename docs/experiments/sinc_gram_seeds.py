"""Experiment (not part of the library): the peer-tlm bench's sinc time-to-target runs from the initial weights of
other seeds, for tlm, pinnlma's defaults and ``pinnlma-gram0.2`` only (``peer_targets.sinc_case(seed=K)``; the
bench itself runs seed 0), so that the bench's one start is not the whole evidence. One alternating repeat per
seed, 60 s budget, two torch threads; prints the bench's lines.

    .venv/bin/python docs/experiments/sinc_gram_seeds.py K1,K2,...
"""

from __future__ import annotations

import sys

import torch

from pinnlma import peers
from pinnlma.bench import peer_targets

KEEP = ("tlm", "pinnlma", "pinnlma-gram0.2")


def main(seeds: list[int]) -> None:
    """One repeat of the three variants per seed."""
    torch.set_num_threads(2)
    tlm = peers.load_tlm()
    for seed in seeds:
        case = peer_targets.sinc_case(tlm, tiny=False, anchor_steps=100, seed=seed)
        case.variants = {k: v for k, v in case.variants.items() if k in KEEP}
        print(f"seed {seed}:", flush=True)
        payload = peer_targets.run_case(case, budget=60.0, repeats=1, echo=lambda line: print(line, flush=True))
        print(f"  steps: {payload['steps_to_target']}", flush=True)


if __name__ == "__main__":
    main([int(k) for k in sys.argv[1].split(",")])
