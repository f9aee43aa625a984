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
