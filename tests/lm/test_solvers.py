"""pinnlma.lm.solvers: the registries agree, bad names are errors, and the auto rule picks dense or matrix-free,
normal or residual form, as documented."""

from __future__ import annotations

import pytest

import pinnlma
from pinnlma.lm import LMOptions, MatrixFreeOptions, choose_solver
from pinnlma.lm.core import LMCore
from pinnlma.lm.matrix_free import (
    DIAGONALS,
    PRECONDITIONER_PARTS,
    MatrixFreeSolver,
)
from pinnlma.lm.preconditioners import PRECONDITIONERS
from pinnlma.lm.solvers import DENSE_MEMORY, FORMS, SOLVER_TYPES, SOLVERS, dense_bytes
from tests.lm.matrix_free_problems import small_pinn, wide_pinn


def test_registries_agree() -> None:
    assert set(PRECONDITIONER_PARTS) == set(PRECONDITIONERS)
    assert set(SOLVER_TYPES) == set(SOLVERS) and set(DENSE_MEMORY) == set(FORMS)
    assert set(DIAGONALS) == {"slices", "estimate"}
    for bad in (dict(preconditioner="ilu"), dict(diagonal="guess"), dict(rank=0), dict(forcing=2.0)):
        with pytest.raises(ValueError):
            MatrixFreeOptions(**bad)
    with pytest.raises(ValueError, match="solver"):
        LMOptions(solver="direct")
    with pytest.raises(ValueError, match="form"):
        LMOptions(form="dual")


# -- test problems -----------------------------------------------------------------------------------------


def test_auto_rule_chooses_by_memory_and_shape() -> None:
    mib = 2**20
    # normal form (n <= m): dense while n²·8 + slice fits the limit
    fits = choose_solver(10_000, 1000, 8, memory_limit=8 * 10**6 + 64 * mib, slice_bytes=64 * mib)
    assert (fits.solver, fits.form) == ("dense", "normal") and fits.dense_bytes == 8 * 10**6 + 64 * mib
    over = choose_solver(10_000, 1000, 8, memory_limit=8 * 10**6 + 64 * mib - 1, slice_bytes=64 * mib)
    assert (over.solver, over.form) == ("matrix-free", "normal") and "over" in over.reason
    # residual form (n > m): dense needs (2mn + 2m²)·itemsize
    wide = choose_solver(100, 5000, 4, memory_limit=dense_bytes("residual", 100, 5000, 4))
    assert (wide.solver, wide.form) == ("dense", "residual") and wide.dense_bytes == (2 * 100 * 5000 + 2 * 100**2) * 4
    assert choose_solver(100, 5000, 4, memory_limit=wide.dense_bytes - 1).solver == "matrix-free"
    square = choose_solver(500, 500, 8, memory_limit=2**40)  # n = m: the normal form
    assert square.form == "normal" and choose_solver(500, 501, 8, memory_limit=2**40).form == "residual"
    # explicit choices are kept whatever the memory
    kept = choose_solver(10, 10**6, 8, solver="dense", form="normal", memory_limit=1)
    assert (kept.solver, kept.form) == ("dense", "normal")
    # the default limit is half the available memory
    default = choose_solver(10, 10, 8)
    assert 0 < default.memory_limit <= pinnlma.lm.solvers.available_memory() and default.solver == "dense"
    # the LM core applies the rule: a small limit sends a PINN to the matrix-free solver
    model, x0 = small_pinn()
    core = LMCore(model, x0, options=LMOptions(memory_limit=model.n_params**2 * 8 + model.memory_budget - 1))
    assert core.choice.solver == "matrix-free" and core.form == "normal"
    assert isinstance(core.solver, MatrixFreeSolver)
    core = LMCore(model, x0, options=LMOptions(memory_limit=model.n_params**2 * 8 + model.memory_budget))
    assert core.choice.solver == "dense"
    assert LMCore(*wide_pinn()).form == "residual"
