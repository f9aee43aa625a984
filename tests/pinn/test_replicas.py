"""Device replicas: slices computed on several devices reach the primary device complete and in order.

The copy from a CUDA replica is asynchronous (``non_blocking=True`` returns before the bytes arrive);
here a fake transfer that fills its destination later, on another thread, stands in for it, so the
waiting is exercised on the CPU."""

from __future__ import annotations

import threading
import time

import torch
from torch import Tensor

from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.replicas import start_copy
from pinnlma.pinn.setup import build_assembler


def slow_copy(delay: float = 0.05):
    """A transfer that returns a NaN-filled destination at once and writes the data after ``delay`` s."""
    started: list[threading.Thread] = []

    def transfer(tensor: Tensor, device: torch.device) -> tuple[Tensor, object]:
        out = torch.full_like(tensor, float("nan"), device=device)
        source = tensor.detach().clone()

        def fill() -> None:
            time.sleep(delay)
            out.copy_(source)

        thread = threading.Thread(target=fill)
        thread.start()
        started.append(thread)
        return out, thread.join

    return transfer, started


def test_replica_slices_are_complete_before_they_are_used() -> None:
    problem = apply_options(load_problem("burgers"), quick=True)
    single = build_assembler(problem, memory_budget=2**18)
    theta = single.initial_parameters()
    r_ref, j_ref = single.full_jacobian(theta)
    transfer, started = slow_copy()
    replicated = build_assembler(problem, devices=("cpu", "cpu"), memory_budget=2**18)
    replicated.transfer = transfer
    parts = list(replicated.slices(theta, replicated.n_residuals))
    assert len(parts) > 2 and len(started) == 2 * len(parts)  # several slices, all through the slow copy
    r, jac = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    assert not torch.isnan(jac).any() and not torch.isnan(r).any()
    assert torch.equal(r, r_ref) and torch.equal(jac, j_ref)


def test_start_copy_on_the_cpu_is_complete_at_once() -> None:
    t = torch.arange(6.0)
    same, ready = start_copy(t, torch.device("cpu"))
    assert same is t
    ready()
    assert torch.equal(same, t)


def test_replicas_reduce_only_their_partial_normal_equations() -> None:
    """Each replica sums J_dᵀJ_d and J_dᵀr_d on its device; the sum over devices is JᵀJ, Jᵀr to rounding,
    and the transfers carry n×n matrices and n-vectors only (never Jacobian rows)."""
    problem = apply_options(load_problem("burgers"), quick=True)
    single = build_assembler(problem, memory_budget=2**18)
    theta = single.initial_parameters()
    r, jac = single.full_jacobian(theta)
    n = theta.shape[0]
    replicated = build_assembler(problem, devices=("cpu", "cpu", "cpu"), memory_budget=2**18)
    shapes = []

    def transfer(tensor: Tensor, device: torch.device):
        shapes.append(tuple(tensor.shape))
        return start_copy(tensor, device)

    replicated.transfer = transfer
    partials = replicated.normal_partials(theta)
    assert partials is not None and len(partials) == 3
    assert sorted(set(shapes)) == [(n,), (n, n)] and len(shapes) == 6
    assert sum(rows for _, _, rows in partials) == r.shape[0]
    jtj = sum(a for a, _, _ in partials)
    g = sum(g for _, g, _ in partials)
    exact = jac.T @ jac
    assert torch.equal(jtj, jtj.T)
    assert float((jtj - exact).abs().max() / exact.abs().max()) < 1e-13
    assert float((g - jac.T @ r).norm() / (jac.T @ r).norm()) < 1e-13
    assert single.normal_partials(theta) is None  # one device: the LM core reads slices


def test_lm_with_replicas_reads_partials_not_slices(monkeypatch) -> None:
    """In the normal form the dense solver takes the replicas' partial normal equations: no Jacobian slice
    travels (replicated_slices is never called), and the steps are those of one device to rounding."""
    from pinnlma.pinn import assembler as assembler_module
    from pinnlma.run import RunConfig, solve

    problem = apply_options(load_problem("burgers"), quick=True, points=200, boundary_points=40)
    single = solve(problem, RunConfig(iters=2), progress=False)

    def no_slices(*args, **kwargs):
        raise AssertionError("Jacobian slices were shipped from the replicas")

    monkeypatch.setattr(assembler_module, "replicated_slices", no_slices)
    replicated = solve(problem, RunConfig(iters=2, devices=("cpu", "cpu")), progress=False)
    assert float((replicated.theta - single.theta).norm() / single.theta.norm()) < 1e-9
