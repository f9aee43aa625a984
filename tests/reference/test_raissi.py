"""The shipped Raissi reference data: shapes, provenance, and what the files actually hold."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pinnlma.reference import (
    DATA_FILES,
    GridReference,
    data_file,
    load_allen_cahn,
    load_burgers_shock,
    load_kdv,
    load_nls,
)

SHAPES = {
    load_allen_cahn: (512, 201, np.float64),
    load_kdv: (512, 201, np.float64),
    load_nls: (256, 201, np.complex128),
    load_burgers_shock: (256, 100, np.float64),
}


@pytest.mark.parametrize("loader", list(SHAPES), ids=lambda f: f.__name__)
def test_shapes(loader: Callable[[], GridReference]) -> None:
    ref = loader()
    nx, nt, dtype = SHAPES[loader]
    assert ref.x.shape == (nx,) and ref.t.shape == (nt,) and ref.u.shape == (nx, nt)
    assert ref.u.dtype == dtype and ref.t[0] == 0.0
    assert np.all(np.diff(ref.x) > 0) and np.all(np.diff(ref.t) > 0)


@pytest.mark.parametrize("name", DATA_FILES)
def test_shipped_copy_is_identical(shared_data: Path, name: str) -> None:
    assert data_file(name).read_bytes() == (shared_data / name).read_bytes()


def test_initial_conditions() -> None:
    ac, kdv, nls = load_allen_cahn(), load_kdv(), load_nls()
    # reached: 4.4e-16, 4.4e-16, 6.7e-16 (and Im h(0, x) = 0 exactly)
    assert np.abs(ac.u[:, 0] - ac.x**2 * np.cos(np.pi * ac.x)).max() < 1e-12
    assert np.abs(kdv.u[:, 0] - np.cos(np.pi * kdv.x)).max() < 1e-12
    assert np.abs(np.abs(nls.u[:, 0]) - 2 / np.cosh(nls.x)).max() < 1e-12
    assert np.all(nls.u[:, 0].imag == 0)


def test_grids() -> None:
    for ref, lo, hi, t_end in [
        (load_allen_cahn(), -1, 1, 1.0),
        (load_kdv(), -1, 1, 1.0),
        (load_nls(), -5, 5, np.pi / 2),
    ]:  # periodic grids: the right endpoint is excluded
        assert np.allclose(ref.x, np.linspace(lo, hi, ref.x.size + 1)[:-1], rtol=0, atol=1e-14)
        assert np.allclose(ref.t, np.linspace(0, t_end, ref.t.size), rtol=0, atol=1e-14)


def _dx(u: np.ndarray, length: float, order: int) -> np.ndarray:
    """Spectral x-derivative of periodic columns."""
    k = 2 * np.pi * np.fft.fftfreq(u.shape[0], d=length / u.shape[0])
    if order % 2:
        k[u.shape[0] // 2] = 0.0  # drop the Nyquist mode for odd derivatives
    return np.fft.ifft((1j * k)[:, None] ** order * np.fft.fft(u, axis=0), axis=0).real


def _dt(ref: GridReference) -> tuple[np.ndarray, np.ndarray]:
    """4th-order central time difference and the matching interior columns."""
    u, h = ref.u, ref.t[1] - ref.t[0]
    return (u[:, :-4] - 8 * u[:, 1:-3] + 8 * u[:, 3:-1] - u[:, 4:]) / (12 * h), u[:, 2:-2]


def test_allen_cahn_and_kdv_equations() -> None:
    """The coefficients stated in :mod:`pinnlma.reference.raissi` (reached: 6e-6 and 5e-7 relative)."""
    ut, u = _dt(load_allen_cahn())
    r = ut - (1e-4 * _dx(u, 2.0, 2) - 5 * u**3 + 5 * u)
    assert np.abs(r).max() < 1e-4 * np.abs(ut).max()
    ut, u = _dt(load_kdv())
    r = ut + u * _dx(u, 2.0, 1) + 0.0025 * _dx(u, 2.0, 3)
    assert np.abs(r).max() < 1e-5 * np.abs(ut).max()


def test_nls_mass_conserved() -> None:
    nls = load_nls()
    mass = (np.abs(nls.u) ** 2).sum(axis=0) * (nls.x[1] - nls.x[0])
    assert np.allclose(mass, mass[0], rtol=1e-9, atol=0)  # reached: 3e-11
    assert mass[0] == pytest.approx(8 * np.tanh(5), rel=1e-6)  # ∫|2 sech|² over [-5, 5]


def test_grid_reference_validates_shapes() -> None:
    with pytest.raises(ValueError, match="inconsistent grid"):
        GridReference(x=np.zeros(3), t=np.zeros(2), u=np.zeros((2, 3)))
