"""Experiment (not part of the library): where the error of an NS2d-C run sits.

Reads a run file of ``pinnlma run pinnacle_ns2d_c --out RUN.h5`` (its ``solution/`` group: the prediction on
PINNacle's 10 201 reference nodes) and splits the joint relative L2 error over (u, v, p) by region: the two top
corners (within ``--corner`` of (0, 1) and (1, 1), where the lid meets the walls), the rest of a strip of that
width along the walls, and the interior. For each region: its share of the nodes, its share of the squared
error, and the relative error of each output there. docs/pinnacle.md ("NS2d-C: the two top corners") quotes it.

    .venv/bin/python docs/experiments/ns2d_c_error_regions.py RUN.h5 [--corner 0.05]
"""

from __future__ import annotations

import argparse

import h5py
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run file of pinnlma run pinnacle_ns2d_c --out RUN.h5")
    parser.add_argument("--corner", type=float, default=0.05, help="width of the corner boxes and wall strips")
    args = parser.parse_args()
    with h5py.File(args.run, "r") as f:
        points = f["solution/inputs"][:]
        prediction = f["solution/prediction"][:]
        reference = f["solution/reference"][:]
    x, y, w = points[:, 0], points[:, 1], args.corner
    top_corner = (y > 1 - w) & ((x < w) | (x > 1 - w))
    strip = ~top_corner & ((x < w) | (x > 1 - w) | (y < w) | (y > 1 - w))
    interior = ~top_corner & ~strip
    error = prediction - reference
    total = float(np.sum(error**2))
    print(f"joint L2RE {np.linalg.norm(error) / np.linalg.norm(reference):.3e} over {len(points)} nodes")
    print("region            nodes   share of squared error   L2RE u     v          p          joint")
    for name, mask in (("top corners", top_corner), ("wall strips", strip), ("interior", interior)):
        rel = [np.linalg.norm(error[mask, k]) / np.linalg.norm(reference[mask, k]) for k in range(3)]
        joint = np.linalg.norm(error[mask]) / np.linalg.norm(reference[mask])
        share = float(np.sum(error[mask] ** 2)) / total
        print(
            f"{name:<16} {mask.sum():6d}   {share:8.1%}                 "
            f"{rel[0]:.2e}   {rel[1]:.2e}   {rel[2]:.2e}   {joint:.2e}"
        )
    without = ~top_corner
    print(
        f"without the top corners: joint L2RE {np.linalg.norm(error[without]) / np.linalg.norm(reference[without]):.3e}"
    )


if __name__ == "__main__":
    main()
