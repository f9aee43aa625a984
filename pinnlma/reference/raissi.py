"""Reference solutions from Raissi, Perdikaris & Karniadakis (2019), shipped in ``data/``.

The ``.mat`` files are byte-for-byte copies of ``maziarraissi/PINNs`` @932f50a2 (``main/Data`` and
``appendix/Data``). What they hold was checked here rather than taken from the paper: the initial
conditions hold to round-off (≤ 7e-16), and each equation's coefficients were recovered by a
least-squares fit of u_t (8th/4th-order time differences) against spectral x-derivatives.

- :func:`load_allen_cahn` (``AC.mat``): u_t = 1e-4 u_xx - 5u³ + 5u (fit: 1.0000000e-4, -4.9999999,
  4.9999999; residual ≤ 1.2e-5 with |u_t| ≤ 1.9), u(0, x) = x² cos(πx). x: 512 points on [-1, 1)
  (periodic grid, endpoint excluded, dx = 1/256); t = 0, 0.005, …, 1 (201). u (512, 201) float64.
- :func:`load_kdv` (``KdV.mat``): u_t + u u_x + 0.0025 u_xxx = 0 (fit: 0.9999999, 0.0025000;
  residual ≤ 3.1e-6 with |u_t| ≤ 6.0), u(0, x) = cos(πx). Same grid as Allen–Cahn.
- :func:`load_nls` (``NLS.mat``): i h_t + 0.5 h_xx + |h|² h = 0, h(0, x) = 2 sech(x) (real).
  x: 256 points on [-5, 5) (periodic, dx = 10/256); t = linspace(0, π/2, 201). h (256, 201)
  complex128. The mass Σ|h|² dx = 7.99927326 is constant to 3e-11 (relative), but the fitted
  coefficients are 0.4994 and 0.9996: the stored data satisfy the equation only to ≈ 5e-4
  (the same with 4th- and 8th-order time differences, so it is in the data, not the check).
- :func:`load_burgers_shock` (``burgers_shock.mat``): u_t + u u_x = (0.01/π) u_xx,
  u(0, x) = -sin(πx), u(t, ±1) = 0. x = linspace(-1, 1, 256); t = 0, 0.01, …, 0.99 (100).
  u (256, 100) float64; equals :func:`pinnlma.reference.burgers.burgers_solution` to 3e-12
  (relative L2).

All loaders return a :class:`GridReference` with ``u[i, j] = u(t[j], x[i])`` (x along the rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import numpy as np
import scipy.io
from numpy.typing import NDArray

DATA_FILES: tuple[str, ...] = ("AC.mat", "KdV.mat", "NLS.mat", "burgers_shock.mat")


@dataclass(frozen=True)
class GridReference:
    """A solution sampled on a tensor grid: ``u[i, j] = u(t[j], x[i])``."""

    x: NDArray[np.float64]  # (nx,)
    t: NDArray[np.float64]  # (nt,)
    u: NDArray[np.float64] | NDArray[np.complex128]  # (nx, nt)

    def __post_init__(self) -> None:
        if self.x.ndim != 1 or self.t.ndim != 1 or self.u.shape != (self.x.size, self.t.size):
            raise ValueError(f"inconsistent grid: x {self.x.shape}, t {self.t.shape}, u {self.u.shape}")

    def points(self, stride_x: int = 1, stride_t: int = 1) -> tuple[NDArray[np.float64], np.ndarray]:
        """Every ``stride_x``-th x and ``stride_t``-th t of the grid as points (N, 2) with columns (x, t),
        and u there (N,), x varying slowest."""
        x, t, u = self.x[::stride_x], self.t[::stride_t], self.u[::stride_x, ::stride_t]
        xx, tt = np.meshgrid(x, t, indexing="ij")
        return np.column_stack([xx.ravel(), tt.ravel()]), u.reshape(-1)


def data_file(name: str) -> Traversable:
    """The shipped file ``name`` (one of :data:`DATA_FILES`) as an importlib resource."""
    if name not in DATA_FILES:
        raise ValueError(f"unknown reference file {name!r}; choose one of {', '.join(DATA_FILES)}")
    return files(__package__).joinpath("data", name)


def _load(name: str, t_key: str, u_key: str) -> GridReference:
    with data_file(name).open("rb") as fh:
        mat = scipy.io.loadmat(fh)
    return GridReference(
        x=np.ascontiguousarray(mat["x"].ravel()),
        t=np.ascontiguousarray(mat[t_key].ravel()),
        u=np.ascontiguousarray(mat[u_key]),
    )


def load_allen_cahn() -> GridReference:
    """Allen–Cahn, ``AC.mat``: x (512,), t (201,), u (512, 201) float64 (see module table)."""
    return _load("AC.mat", "tt", "uu")


def load_kdv() -> GridReference:
    """Korteweg–de Vries, ``KdV.mat``: x (512,), t (201,), u (512, 201) float64."""
    return _load("KdV.mat", "tt", "uu")


def load_nls() -> GridReference:
    """Nonlinear Schrödinger, ``NLS.mat``: x (256,), t (201,), h (256, 201) complex128."""
    return _load("NLS.mat", "tt", "uu")


def load_burgers_shock() -> GridReference:
    """Burgers with ν = 0.01/π, ``burgers_shock.mat``: x (256,), t (100,), u (256, 100) float64."""
    return _load("burgers_shock.mat", "t", "usol")
