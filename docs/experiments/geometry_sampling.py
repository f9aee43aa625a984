"""Measurement (not part of the library): how fast pinnlma samples a domain with holes.

PINNacle's Poisson2d-C domain, the square [−0.5, 0.5]² minus four disks of radius 0.1 at (±0.3, ±0.3)
(87.4 % of its bounding box), sampled by rejection: 10⁵ interior points and 10⁴ boundary points with
each sampling method, the median of REPEATS draws (each from a fresh sampler), plus the time to build
the shape (its boundary patches and the emptiness check) and to compute its measures.

    .venv/bin/python docs/experiments/geometry_sampling.py [REPEATS]

docs/geometry.md quotes its output.
"""
from __future__ import annotations

import platform
import statistics
import sys
import time

import torch

from pinnlma.pinn import Disk, Rectangle, Sampler


def poisson2d_c():
    shape = Rectangle([(-0.5, 0.5), (-0.5, 0.5)])
    for c in [(0.3, 0.3), (-0.3, 0.3), (0.3, -0.3), (-0.3, -0.3)]:
        shape = shape - Disk(c, 0.1, boundary="holes")
    return shape


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(repeats: int = 7) -> None:
    torch.set_num_threads(1)
    build = median_ms(poisson2d_c, repeats)
    shape = poisson2d_c()
    start = time.perf_counter()
    measures = (shape.measure, shape.boundary_measures())
    first = 1e3 * (time.perf_counter() - start)
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, {repeats} repeats")
    print(f"build {build:.2f} ms, measures (first call) {first:.1f} ms: area {measures[0]:.12f}")
    print("| method | 10^5 interior points [ms] | 10^4 boundary points [ms] |")
    print("|---|---|---|")
    for method in Sampler.methods:
        interior = median_ms(lambda: shape.interior(100_000, Sampler(method, seed=1)), repeats)
        boundary = median_ms(lambda: shape.boundary(10_000, Sampler(method, seed=1)), repeats)
        print(f"| {method} | {interior:.1f} | {boundary:.1f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
