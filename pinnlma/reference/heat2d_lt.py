r"""An accurate reference for PINNacle's Heat2d-LT (long-time nonlinear heat), computed here.

The PDE as PINNacle states and codes it (``Heat2D_LongTime``, arXiv:2306.08827)::

    u_t = D Δu + A sin(k u²) (1 + 2 sin(πt/4)) sin(m₁πx) sin(m₂πy),   (x, y) ∈ [0, 1]², t ∈ [0, 100],
    u(x, y, 0) = sin(4πx) sin(3πy),   u = 0 on the four sides,
    D = 0.001, A = 5, k = 1, m₁ = 4, m₂ = 2.

PINNacle's COMSOL file is about 3.5 % (relative L2) away from a converged solve of this equation, so the
project computes its own reference.

**Method: sine pseudo-spectral in space, integrating-factor RK4 in time.** The source is even in u
(sin(k u²)) times a function odd in x and in y (sin(4πx) sin(2πy)), so the odd 2-periodic extension
of a solution solves the same PDE: u is a smooth odd periodic function and its sine series

    u(x, y, t) = Σ_{p,q=1}^{N−1} c_pq(t) sin(pπx) sin(qπy)

converges spectrally and satisfies the boundary condition exactly. The coefficients come from the values
on the interior grid x_i = i/N, y_j = j/N (i, j = 1…N−1) by the orthonormal type-I discrete sine transform
(``scipy.fft.dstn``), and the nonlinear term is evaluated on that grid. Diffusion is diagonal,
L_pq = −Dπ²(p² + q²), and is integrated exactly by the integrating factor e^{L t}; the rest by the
classical fourth-order Runge–Kutta scheme on ĉ' = e^{−Lt} F(e^{Lt} ĉ, t) (time step ``dt``).
Values at arbitrary points (PINNacle's 16 × 12 cell-centred nodes) are the sine series summed there.

**Convergence (measured with** ``python -m pinnlma.reference.heat2d_lt`` **on PINNacle's 96 192 test points,
relative L2 change between settings).** Over the whole interval t ∈ [0, 100] with dt = 0.01: n = 128 → 192
changes the solution by 2.3e−5, n = 192 → 256 by 3.3e−7. In time (n = 128, t ≤ 20): dt = 0.02 → 0.01 by
2.6e−5, dt = 0.01 → 0.005 by 1.8e−6 (the ratio 14 of a fourth-order scheme). The shipped reference
(``data/pinnacle/heat2d_lt_reference.npz``: n = 192, dt = 0.01, written by
``python -m pinnlma.reference.heat2d_lt --settings 192:0.01 --write FILE``) is therefore accurate to about
2e−6, four orders of magnitude below the 1e−2 asked of a PINN, and it differs from PINNacle's COMSOL file
by 3.5e−2, as the case specification found with an independent finite-difference solve.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.fft import dstn, idstn

__all__ = ["HeatLTParameters", "load_reference", "reference_file", "sine_series_at", "solve"]

REFERENCE_FILE = "heat2d_lt_reference.npz"


@dataclass(frozen=True)
class HeatLTParameters:
    """The coefficients of the PDE (PINNacle's values by default) and its initial mode numbers."""

    diffusion: float = 0.001
    amplitude: float = 5.0
    k: float = 1.0
    m1: int = 4
    m2: int = 2
    init_x: int = 4
    init_y: int = 3
    t_end: float = 100.0


def sine_series_at(
    coefficients: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.float64]:
    """u on the tensor grid x × y from orthonormal DST-I coefficients (N−1, N−1): (len(x), len(y))."""
    n = coefficients.shape[0] + 1
    modes = np.arange(1, n)
    # orthonormal DST-I: u_ij = sqrt(2/N)² Σ c_pq sin(pπ i/N) sin(qπ j/N); the same series at any point
    sx = math.sqrt(2.0 / n) * np.sin(np.pi * np.outer(x, modes))
    sy = math.sqrt(2.0 / n) * np.sin(np.pi * np.outer(y, modes))
    return sx @ coefficients @ sy.T


def solve(
    n: int,
    dt: float,
    times: Sequence[float] | NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    params: HeatLTParameters | None = None,
    progress: Callable[[float], None] | None = None,
) -> NDArray[np.float64]:
    """u at the tensor grid x × y at each of ``times`` (ascending, within [0, t_end], multiples of dt up
    to round-off): an array (len(times), len(x), len(y)). ``n`` grid intervals per axis (N−1 modes)."""
    p = params or HeatLTParameters()
    if n < 4:
        raise ValueError(f"need at least 4 grid intervals per axis, got {n}")
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or np.any(np.diff(times) < 0) or times[0] < 0:
        raise ValueError("times must be ascending and non-negative")
    grid = np.arange(1, n) / n
    gx, gy = np.meshgrid(grid, grid, indexing="ij")
    shape_xy = np.sin(p.m1 * np.pi * gx) * np.sin(p.m2 * np.pi * gy)
    modes = np.arange(1, n)
    lam = -p.diffusion * np.pi**2 * (modes[:, None] ** 2 + modes[None, :] ** 2)
    half, full = np.exp(lam * dt / 2), np.exp(lam * dt)

    def source_hat(c: NDArray[np.float64], t: float) -> NDArray[np.float64]:
        u = idstn(c, type=1, norm="ortho")
        f = p.amplitude * np.sin(p.k * u * u) * (1.0 + 2.0 * np.sin(np.pi * t / 4.0)) * shape_xy
        return dstn(f, type=1, norm="ortho")

    u0 = np.sin(p.init_x * np.pi * gx) * np.sin(p.init_y * np.pi * gy)
    c = dstn(u0, type=1, norm="ortho")
    out = np.empty((len(times), len(x), len(y)))
    t, step = 0.0, 0
    for k, target in enumerate(times):
        n_steps = round(target / dt)
        if abs(n_steps * dt - target) > 1e-9 * max(1.0, target):
            raise ValueError(f"time {target} is not a multiple of dt = {dt}")
        while step < n_steps:
            t = step * dt
            a = dt * source_hat(c, t)
            b = dt * source_hat(half * (c + a / 2), t + dt / 2)
            cc = dt * source_hat(half * c + b / 2, t + dt / 2)
            d = dt * source_hat(full * c + half * cc, t + dt)
            c = full * c + (full * a + 2 * half * (b + cc) + d) / 6
            step += 1
            if progress is not None and step % 1000 == 0:
                progress(step * dt)
        out[k] = sine_series_at(c, x, y)
    return out


def pinnacle_nodes() -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """PINNacle's test nodes: x = (i+½)/16 (16), y = (j+½)/12 (12), t = 0, 0.2, …, 100 (501)."""
    return (np.arange(16) + 0.5) / 16, (np.arange(12) + 0.5) / 12, np.linspace(0.0, 100.0, 501)


def reference_file() -> Path:
    """Where the shipped reference lives in the package."""
    return Path(str(files(__package__).joinpath("data", "pinnacle", REFERENCE_FILE)))


def load_reference() -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, float]]:
    """The shipped reference on PINNacle's test points in PINNacle's long order (node-major, x slowest:
    the row order of ``heat_longtime.dat``, see :func:`pinnlma.reference.pinnacle.load`): points
    (96 192, 3) as (x, y, t), values (96 192, 1), and the settings it was computed with."""
    with np.load(reference_file()) as data:
        x, y, t, u = data["x"], data["y"], data["t"], data["u"]  # u (t, x, y)
        meta = {k: float(data[k]) for k in ("n", "dt")}
    # the COMSOL file lists nodes with x fastest (row = j·16 + i): match it
    xx, yy = np.meshgrid(x, y, indexing="xy")  # (12, 16): row j, column i
    nodes = np.column_stack([xx.ravel(), yy.ravel()])  # node j·16 + i
    values = u.transpose(2, 1, 0).reshape(len(nodes), len(t))  # (y, x, t) → node-major
    points = np.column_stack([np.repeat(nodes, len(t), axis=0), np.tile(t, len(nodes))])
    return points, values.reshape(-1, 1), meta


def convergence_study(
    settings: Sequence[tuple[int, float]], t_end: float = 100.0, echo: Callable[[str], None] = print
) -> dict[tuple[int, float], NDArray[np.float64]]:
    """Solve at every (n, dt) on PINNacle's nodes up to ``t_end``; print the relative L2 change from the
    previous setting and, at the end, each setting's distance from the last (finest) one."""
    x, y, t = pinnacle_nodes()
    t = t[t <= t_end + 1e-12]
    out: dict[tuple[int, float], NDArray[np.float64]] = {}
    previous = None
    for n, dt in settings:
        started = time.perf_counter()
        u = solve(n, dt, t, x, y, HeatLTParameters(t_end=t_end))
        out[(n, dt)] = u
        change = math.nan if previous is None else float(np.linalg.norm(u - previous) / np.linalg.norm(u))
        echo(f"n={n:4d} dt={dt:g}: {time.perf_counter() - started:7.1f} s, relative L2 change {change:.2e}")
        previous = u
    finest = previous
    if finest is None:
        raise ValueError("give at least one (n, dt) setting")
    for (n, dt), u in out.items():
        echo(
            f"n={n:4d} dt={dt:g}: relative L2 distance from the last {np.linalg.norm(u - finest) / np.linalg.norm(finest):.2e}"
        )
    return out


def _setting(text: str) -> tuple[int, float]:
    n, _, dt = text.partition(":")
    return int(n), float(dt)


def main(argv: Sequence[str] | None = None) -> int:
    """Recompute the convergence study and write the shipped reference (the last setting)."""
    parser = argparse.ArgumentParser(prog="python -m pinnlma.reference.heat2d_lt", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--settings",
        type=_setting,
        nargs="+",
        metavar="N:DT",
        default=[(128, 0.01), (192, 0.01), (256, 0.01)],
        help="grid intervals per axis and time step of each solve, coarsest first",
    )
    parser.add_argument("--t-end", type=float, default=100.0)
    parser.add_argument("--write", type=Path, help="write the last solution here (.npz)")
    args = parser.parse_args(argv)
    sols = convergence_study(args.settings, args.t_end)
    if args.write:
        (n, dt), u = list(sols.items())[-1]
        x, y, t = pinnacle_nodes()
        np.savez_compressed(args.write, x=x, y=y, t=t[t <= args.t_end + 1e-12], u=u, n=n, dt=dt)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
