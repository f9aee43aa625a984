"""Experiment (not part of the library): where the Allen–Cahn error sits, and the first window alone.

Two uses, both quoted by docs/problems.md ("Where the Allen–Cahn error sits: the seam"):

- ``file RUN.h5``: the error of a finished ``pinnlma run allen_cahn --out RUN.h5`` split by time band (its
  ``solution/`` group: the prediction on the 256 × 101 reference nodes), and the largest error of each of the first
  snapshots with its x.
- ``window T SECONDS [exact=initial] [weight=W] [nb=N] [harmonics=K]``: train on [0, T] only (the first window of
  the default march) for SECONDS with one of the variants, and print the error on the reference nodes with t ≤ T
  by snapshot: exact initial value, initial weight W (default 100), N initial points (default 400), K periodic
  harmonics of x (default 1).

    .venv/bin/python docs/experiments/allen_cahn_seam.py file RUN.h5
    .venv/bin/python docs/experiments/allen_cahn_seam.py window 0.1 240 nb=1600
"""

from __future__ import annotations

import sys

import h5py
import numpy as np

from pinnlma.pinn.registry import load_problem
from pinnlma.run import RunConfig, solve
from pinnlma.run.march import window_problem


def by_snapshot(t: np.ndarray, x: np.ndarray, error: np.ndarray, reference: np.ndarray, every: int = 1) -> None:
    """One line per snapshot: relative L2 there and the largest |error| with its x."""
    for tt in np.unique(t)[::every]:
        k = t == tt
        worst = int(np.argmax(np.abs(error[k])))
        print(
            f"  t={tt:.3f} rel {np.linalg.norm(error[k]) / np.linalg.norm(reference[k]):.2e} "
            f"max|e| {np.abs(error[k]).max():.1e} at x={x[k][worst]:+.3f}"
        )


def from_file(path: str) -> None:
    """The error of a finished run by time band and by early snapshot."""
    with h5py.File(path, "r") as f:
        points = f["solution/inputs"][:]
        prediction = f["solution/prediction"][:].reshape(-1)
        reference = f["solution/reference"][:].reshape(-1)
    x, t = points[:, 0], points[:, 1]
    error = prediction - reference
    total = float(np.sum(error**2))
    print(f"joint rel. L2 {np.linalg.norm(error) / np.linalg.norm(reference):.2e}")
    for lo, hi in ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.01)):
        band = (t >= lo) & (t < hi)
        print(
            f"  t in [{lo}, {min(hi, 1.0)}{')' if hi < 1 else ']'}: share of the squared error "
            f"{np.sum(error[band] ** 2) / total:.1%}, rel. L2 {np.linalg.norm(error[band]) / np.linalg.norm(reference[band]):.2e}"
        )
    first = t <= np.unique(t)[7]
    by_snapshot(t[first], x[first], error[first], reference[first])


def window(end: float, seconds: float, options: dict[str, str]) -> None:
    """Train on [0, end] for ``seconds`` with the variant in ``options``; the error there by snapshot."""
    problem = load_problem("allen_cahn")
    changes: dict = {}
    if "exact" in options:
        changes["exact"] = options["exact"]
    if "weight" in options:
        changes["weights"] = {"initial": float(options["weight"])}
    if "nb" in options:
        changes["n_boundary"] = int(options["nb"])
    if "harmonics" in options:
        changes["model"] = {**problem.model, "embedding": {"periodic": {"x": int(options["harmonics"])}}}
    problem = problem.with_options(**changes) if changes else problem
    result = solve(window_problem(problem, end), RunConfig(iters=10**6, time_limit=seconds, march=()), progress=False)
    assert problem.reference_data is not None
    points, reference = problem.reference_data
    inside = points[:, 1] <= end + 1e-12
    reference = reference[inside].reshape(-1)
    error = result.assembler.predict(result.theta, points[inside]).reshape(-1) - reference
    print(
        f"{options or 'default'}: {result.record.attrs['iterations']} iterations, loss {result.loss:.2e}, "
        f"rel. L2 on t <= {end:g}: {np.linalg.norm(error) / np.linalg.norm(reference):.2e}"
    )
    by_snapshot(points[inside, 1], points[inside, 0], error, reference, every=2)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "file":
        from_file(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "window":
        window(float(sys.argv[2]), float(sys.argv[3]), dict(a.split("=", 1) for a in sys.argv[4:]))
    else:
        raise SystemExit(__doc__)
