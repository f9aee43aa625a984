"""Rows shared among the ranks of a multi-rank launch (pinnlma.ranks.RowPartition wired into the assembler
and the LM core).

There is no MPI here, so no real multi-rank launch: (a) each rank's assembler is built under a fake
launcher environment and must compute exactly its own rows; (b) M = 2 and 3 ranks run as threads whose
``allreduce`` meets at a barrier, and their LM iterations must be the single process's."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import Tensor

from pinnlma.lm import LMCore, LMOptions
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_assembler
from pinnlma.ranks import RowPartition, owned_rows

BUDGET = 2**15  # slices of 9 rows at n = 113: the tiles cut blocks and slices in odd places


def small_burgers():
    """Burgers on 200 interior and 3 × 40 condition points, a 2-8-8-1 tanh network (n = 113)."""
    return apply_options(load_problem("burgers"), points=200, boundary_points=40, width=8, depth=2)


def launcher(rank: int, ranks: int) -> dict[str, str]:
    return {"OMPI_COMM_WORLD_RANK": str(rank), "OMPI_COMM_WORLD_SIZE": str(ranks)}


def count_rows(assembler) -> list[int]:
    """Wrap every block's row function to count the rows (points) it is evaluated on."""
    seen = [0]
    for block in assembler.blocks:
        fn = block.fn

        def counted(*fields, _fn=fn):
            seen[0] += int(fields[0].x.shape[0])
            return _fn(*fields)

        block.fn = counted
    return seen


@pytest.mark.parametrize("ranks", [2, 3])
def test_each_rank_computes_exactly_its_own_rows(ranks: int) -> None:
    problem = small_burgers()
    single = build_assembler(problem, memory_budget=BUDGET)
    theta = single.initial_parameters()
    r_full, j_full = single.full_jacobian(theta)
    m = single.n_residuals
    parts, gram, grad = [], torch.zeros(single.n_params, single.n_params, dtype=torch.float64), 0.0
    for k in range(ranks):
        partition = RowPartition.from_environment(reduce=lambda t: t, environ=launcher(k, ranks))
        mine = owned_rows(m, k, ranks)
        a = build_assembler(problem, memory_budget=BUDGET, partition=partition)
        seen = count_rows(a)
        r_k, j_k = a.full_jacobian(theta)
        assert seen[0] == len(mine) and r_k.shape == (len(mine),)  # the Jacobian of its rows, no more
        seen[0] = 0
        assert torch.allclose(a.residual(theta), r_full[mine.start : mine.stop], rtol=1e-13, atol=1e-15)
        assert seen[0] == len(mine)
        ((a_k, g_k, rows),) = a.normal_partials(theta)
        assert rows == len(mine)
        parts.append((r_k, j_k))
        gram, grad = gram + a_k, grad + g_k
    assert torch.allclose(torch.cat([p[0] for p in parts]), r_full, rtol=1e-13, atol=1e-15)
    assert torch.allclose(torch.cat([p[1] for p in parts]), j_full, rtol=1e-13, atol=1e-13)
    assert torch.allclose(gram, j_full.T @ j_full, rtol=1e-12, atol=1e-12)
    assert torch.allclose(grad, j_full.T @ r_full, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("devices", [None, ("cpu", "cpu")])
def test_a_rank_without_rows_adds_zeros(devices) -> None:
    """With more ranks than rows (here 1000 > m) the last ranks own nothing: empty residuals and one zero
    partial, also with device replicas (whose partials come one per replica that got rows: none here)."""
    partition = RowPartition(999, 1000, lambda t: t)
    a = build_assembler(small_burgers(), memory_budget=BUDGET, partition=partition, devices=devices)
    theta = a.initial_parameters()
    assert a.n_residuals < 999 and a.residual(theta).shape == (0,)
    ((jtj, g, rows),) = a.normal_partials(theta)
    assert rows == 0 and not jtj.any() and not g.any() and jtj.shape == (a.n_params, a.n_params)


class BarrierSum:
    """An allreduce among threads standing in for ranks: each puts its partial, all meet, each reads the
    sum in rank order (the same numbers on every rank), all meet again before the slots are reused."""

    def __init__(self, ranks: int) -> None:
        self.barrier = threading.Barrier(ranks, timeout=120)
        self.slots: list[Tensor | None] = [None] * ranks
        self.calls = 0

    def for_rank(self, rank: int):
        def reduce(partial: Tensor) -> Tensor:
            self.slots[rank] = partial.detach().clone()
            self.barrier.wait()
            total = sum(self.slots[1:], self.slots[0].clone())
            self.barrier.wait()
            if rank == 0:
                self.calls += 1
            return total

        return reduce


def serialized(method, lock: threading.Lock):
    def call(*args):
        with lock:
            return method(*args)

    return call


def run_lm(assembler, options: LMOptions) -> LMCore:
    core = LMCore(assembler, assembler.initial_parameters(), backend="torch", options=options)
    core.run()
    return core


@pytest.mark.parametrize("ranks,geodesic", [(2, False), (3, True)])
def test_shared_rows_take_the_single_process_steps(ranks: int, geodesic: bool) -> None:
    problem = small_burgers()
    options = LMOptions(max_iter=6, geodesic=geodesic, solver="dense")
    reference = run_lm(build_assembler(problem, memory_budget=BUDGET), options)
    hub = BarrierSum(ranks)
    assemblers = [
        build_assembler(problem, memory_budget=BUDGET, partition=RowPartition(k, ranks, hub.for_rank(k)))
        for k in range(ranks)
    ]
    forward_mode = threading.Lock()  # torch's forward-AD levels are per process, not per thread
    for a in assemblers:
        a.second_directional = serialized(a.second_directional, forward_mode)
    cores: list[LMCore | None] = [None] * ranks
    errors: list[BaseException] = []

    def rank_main(k: int) -> None:
        try:
            cores[k] = run_lm(assemblers[k], options)
        except BaseException as err:
            errors.append(err)
            hub.barrier.abort()

    threads = [threading.Thread(target=rank_main, args=(k,)) for k in range(ranks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    ref = reference.state.history
    assert len(ref["iteration"]) == 7 and hub.calls > 0
    for core in cores:
        assert core is not None
        h = core.state.history
        assert h["trials"] == ref["trials"]  # the same steps accepted and rejected
        for key in ("cost", "lam", "step_norm", "grad_norm"):
            assert torch.allclose(torch.tensor(h[key]), torch.tensor(ref[key]), rtol=1e-12, atol=0, equal_nan=True), key
        drift = float((core.state.x - reference.state.x).norm() / reference.state.x.norm())
        assert drift < 1e-11, drift
        assert core.state.x.equal(cores[0].state.x)  # every rank holds the same parameters, bit for bit
    assert min(ref["cost"][1:]) < ref["cost"][0]


def test_shared_rows_refuse_other_solvers() -> None:
    problem = small_burgers()
    partition = RowPartition(0, 2, lambda t: t)  # rank 0 of 2 (its sums need no partner here: it stops first)
    a = build_assembler(problem, memory_budget=BUDGET, partition=partition)
    with pytest.raises(ValueError, match="only the dense normal-equations solver"):
        LMCore(a, a.initial_parameters(), options=LMOptions(solver="matrix-free"))
    with pytest.raises(ValueError, match="only the dense normal-equations solver"):
        LMCore(a, a.initial_parameters(), options=LMOptions(form="residual"))


def test_a_partition_of_several_ranks_needs_a_sum() -> None:
    with pytest.raises(ValueError, match="needs a cross-process sum"):
        RowPartition(0, 2)
    with pytest.raises(ValueError, match="cannot sum the partials of the 2 ranks"):
        from pinnlma.backends import get_backend

        get_backend("torch").row_partition(launcher(1, 2))
