"""The torch and cupynumeric backends run the same LM: same steps, same PINN runs (the NIST
scores of both: tests/validation/test_nist_suite.py and test_nist_suite_mgh10.py).

Nothing here skips: on a machine where cupynumeric cannot start (no `pinnlma setup-legate`), the ``legate``
fixture (tests/conftest.py) fails with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from pinnlma.lm import LMCore, LMOptions
from pinnlma.lm.jacobian import JacobianEngine
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.run import RunConfig, solve


def one_step(fun, x0, backend, form="auto"):
    engine = JacobianEngine(fun)
    core = LMCore(engine, x0, backend=backend, options=LMOptions(form=form))
    core.step()
    return core.state.x - x0


@pytest.mark.parametrize("m,n", [(200, 12), (12, 200)])
def test_one_lm_step_is_the_same_on_both_backends(legate, m: int, n: int) -> None:
    g = torch.Generator().manual_seed(7)
    a = torch.randn(m, n, generator=g, dtype=torch.float64) * torch.logspace(-1, 1, n, dtype=torch.float64)
    b = torch.randn(m, generator=g, dtype=torch.float64)
    fun = lambda x: torch.tanh(a @ x) - 0.5 * b  # noqa: E731
    x0 = 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    step_torch = one_step(fun, x0, "torch")
    step_legate = one_step(fun, x0, legate)
    assert float((step_legate - step_torch).norm() / step_torch.norm()) < 1e-10
    form = "residual" if n > m else "normal"
    assert LMCore(JacobianEngine(fun), x0, backend=legate).form == form


def test_burgers_quick_runs_on_legate_like_on_torch(legate) -> None:
    problem = apply_options(load_problem("burgers"), quick=True)
    on_torch = solve(problem, RunConfig(iters=8), progress=False)
    on_legate = solve(problem, RunConfig(iters=8, backend="cupynumeric"), progress=False)
    assert on_legate.record.attrs["backend"] == "cupynumeric"
    a, b = on_torch.record.history["loss"], on_legate.record.history["loss"]
    assert np.allclose(a, b, rtol=1e-8), (a, b)
    assert on_legate.loss < 0.5 * on_legate.record.history["loss"][0]


def test_torch_device_replicas_give_the_same_runs() -> None:
    """Replicas sum their own partial JᵀJ (another summation order than one device): the same run to rounding."""
    problem = apply_options(load_problem("burgers"), quick=True)
    single = solve(problem, RunConfig(iters=3), progress=False)
    replicas = solve(problem, RunConfig(iters=3, devices=("cpu", "cpu")), progress=False)
    assert float((single.theta - replicas.theta).norm() / single.theta.norm()) < 1e-9
    a, b = single.record.history["loss"], replicas.record.history["loss"]
    assert np.allclose(a, b, rtol=1e-9), (a, b)


def test_replicas_hand_legate_their_partials_not_rows(legate, monkeypatch) -> None:
    """With device replicas the cupynumeric backend sums their n×n partials (no slice is shipped) and the
    run is torch's single-device run to rounding."""
    from pinnlma.pinn import assembler as assembler_module

    problem = apply_options(load_problem("burgers"), quick=True, points=300, boundary_points=60)
    single = solve(problem, RunConfig(iters=3), progress=False)

    def no_slices(*args, **kwargs):
        raise AssertionError("Jacobian slices were shipped from the replicas")

    monkeypatch.setattr(assembler_module, "replicated_slices", no_slices)
    on_legate = solve(problem, RunConfig(iters=3, backend="cupynumeric", devices=("cpu", "cpu")), progress=False)
    assert float((on_legate.theta - single.theta).norm() / single.theta.norm()) < 1e-8
    assert np.allclose(on_legate.record.history["loss"], single.record.history["loss"], rtol=1e-8)


def test_cli_run_with_two_legate_cpu_processors(tmp_path) -> None:
    """A whole `pinnlma run --backend cupynumeric` with Legate given 2 CPU processors (own process)."""
    env = {k: v for k, v in os.environ.items() if k != "LEGATE_CONFIG"}
    env["PINNLMA_LEGATE_CPUS"] = "2"
    out = tmp_path / "run.h5"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pinnlma",
            "run",
            "burgers",
            "--quick",
            "--iters",
            "4",
            "--backend",
            "cupynumeric",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    torch_run = solve(apply_options(load_problem("burgers"), quick=True), RunConfig(iters=4), progress=False)
    import h5py

    with h5py.File(out) as f:
        info = str(f.attrs["backend_info"])
        assert "2 CPU" in info, info
        assert np.allclose(f["history/loss"][:], torch_run.record.history["loss"], rtol=1e-8)
