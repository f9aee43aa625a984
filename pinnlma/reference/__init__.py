"""Reference solutions of the bundled PDE problems: exact (Burgers by Cole–Hopf) and shipped data.

- :mod:`.burgers`: :func:`burgers_solution`, :func:`burgers_grid` (viscous Burgers, ν = 0.01/π).
- :mod:`.raissi`: the Raissi et al. (2019) data sets (Allen–Cahn, KdV, nonlinear Schrödinger,
  Burgers) as :class:`GridReference` grids, loaded from the package's ``data/`` folder.
"""

from __future__ import annotations

from .burgers import DEFAULT_NODES, DEFAULT_NU, burgers_grid, burgers_solution
from .raissi import (
    DATA_FILES,
    GridReference,
    data_file,
    load_allen_cahn,
    load_burgers_shock,
    load_kdv,
    load_nls,
)

__all__ = [
    "DATA_FILES",
    "DEFAULT_NODES",
    "DEFAULT_NU",
    "GridReference",
    "burgers_grid",
    "burgers_solution",
    "data_file",
    "load_allen_cahn",
    "load_burgers_shock",
    "load_kdv",
    "load_nls",
]
