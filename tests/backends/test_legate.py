"""The cuPyNumeric (Legate) backend against the torch backend, and the Legate set-up helpers.

These tests never skip for a missing backend: where ``pinnlma setup-legate`` has been run (CI), a
cupynumeric that cannot start is a failure, reported with the BackendUnavailable message.

Legate reads its configuration once per process, so the multi-processor test runs in a subprocess
with ``LEGATE_CONFIG="--cpus 2 --gpus 0"``; the in-process tests use whatever this process got
(pinnlma's default CPU configuration unless the user set LEGATE_CONFIG).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy
import pytest
import torch

from pinnlma.backends import BackendUnavailable
from pinnlma.backends.base import SingularSystemWarning
from pinnlma.backends.legate import driver, runtime, setup
from pinnlma.backends.torch.backend import TorchBackend

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS = (1e-2, 1.0, 1e2)
SOLVES = {"torch": None, "legate": 0}  # where the damped systems are factored: torch_solve_max_n


@pytest.fixture(params=sorted(SOLVES))
def cupy(legate, request):
    """A CupynumericBackend factory (keyword options as the class) whose systems (all small here) are
    factored in torch (the default below TORCH_SOLVE_MAX_N) or, with torch_solve_max_n=0, in Legate."""
    from pinnlma.backends.legate.backend import CupynumericBackend
    from pinnlma.backends.legate.solve import TORCH_SOLVE_MAX_N

    max_n = SOLVES[request.param]

    def make(**options):
        return CupynumericBackend(torch_solve_max_n=TORCH_SOLVE_MAX_N if max_n is None else max_n, **options)

    make.solves_in = request.param
    return make


def make_problem(m: int, n: int, dtype=torch.float64, seed: int = 0):
    """Random J with widely different column norms, r, a Marquardt scale D = diag(JᵀJ) and w."""
    gen = torch.Generator().manual_seed(seed)
    jac = torch.randn(m, n, dtype=torch.float64, generator=gen)
    jac *= torch.logspace(-1, 1, n, dtype=torch.float64)  # columns scaled over two decades
    res = torch.randn(m, dtype=torch.float64, generator=gen)
    w = torch.randn(m, dtype=torch.float64, generator=gen)
    scale = (jac * jac).sum(0).clamp_min(1e-3)  # Marquardt: D = max(diag(JᵀJ), floor)
    return jac.to(dtype), res.to(dtype), scale.to(dtype), w.to(dtype)


def row_slices(res, jac, rows):
    return [(res[i : i + rows], jac[i : i + rows]) for i in range(0, res.shape[0], rows)]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def build(backend_obj, form, res, jac, rows):
    n = jac.shape[1]
    if form == "normal":
        return backend_obj.normal_system(row_slices(res, jac, rows), n, lambda w: jac.T @ w)
    return backend_obj.residual_system(row_slices(res, jac, rows), n)


CASES = [  # (m, n, form, slice rows)
    (400, 60, "normal", 37),  # m > n, many small slices gathered into one block
    (50, 120, "normal", 50),  # m < n in normal form (JᵀJ singular, damping makes it PD)
    (50, 120, "residual", 16),  # m < n in residual space
]


@pytest.mark.parametrize("m,n,form,rows", CASES)
def test_float64_matches_torch(cupy, m, n, form, rows):
    jac, res, scale, w = make_problem(m, n)
    ours, ref = build(cupy(), form, res, jac, rows), build(TorchBackend(), form, res, jac, rows)
    assert (ours.form, ours.m, ours.n) == (form, m, n)
    assert ours.factorization == ("torch" if cupy.solves_in == "torch" else "cholesky")
    assert rel(ours.gradient(), ref.gradient()) < 1e-12
    assert rel(ours.jtj_diagonal(), ref.jtj_diagonal()) < 1e-12
    for lam in LAMBDAS:
        for rhs in (None, w):
            v, v_ref = ours.solve(lam, scale, rhs), ref.solve(lam, scale, rhs)
            assert v.dtype == torch.float64 and v.shape == (n,)
            assert rel(v, v_ref) < 1e-10, (lam, rhs is None)
        assert abs(ours.curvature(v) - ref.curvature(v_ref)) <= 1e-10 * ref.curvature(v_ref)
    assert ours.fallback_solves == 0


def test_normal_and_residual_forms_agree(cupy):
    jac, res, scale, w = make_problem(40, 150, seed=3)
    normal = cupy().normal_system(row_slices(res, jac, 40), 150, lambda x: jac.T @ x)
    resid = cupy().residual_system(row_slices(res, jac, 40), 150)
    for lam in LAMBDAS:
        assert rel(normal.solve(lam, scale, w), resid.solve(lam, scale, w)) < 1e-10


def test_blocks_and_single_slices(cupy):
    """Tiny blocks (several Legate products), one slice per block (attached without copy), and a
    slice larger than a block all give the same system."""

    jac, res, scale, _ = make_problem(300, 40, seed=5)
    ref = build(TorchBackend(), "normal", res, jac, 300).solve(0.1, scale)
    for rows, block_rows, blocks in ((25, 64, 4), (100, 100, 3), (300, 64, 1)):
        system = build(cupy(slice_rows=block_rows), "normal", res, jac, rows)
        assert system.blocks == blocks
        assert rel(system.solve(0.1, scale), ref) < 1e-10
    # column-major slices, as the Jacobian engine makes them: attached as Jᵀ and read transposed
    column_major = [(r, j.T.contiguous().T) for r, j in row_slices(res, jac, 100)]
    system = cupy(slice_rows=100).normal_system(column_major, 40, lambda x: jac.T @ x)
    assert system.blocks == 3 and rel(system.solve(0.1, scale), ref) < 1e-10


def test_tiled_gram_matrix_equals_the_full_product(cupy, monkeypatch):
    """JᵀJ from its lower column tiles (uneven widths, several row blocks), mirrored: the same system."""
    from pinnlma.backends.legate import arrays
    from pinnlma.backends.legate import backend as cb

    monkeypatch.setattr(arrays, "GRAM_TILE_COLUMNS", 16)
    assert cb.column_tiles(70) == [(0, 18), (18, 35), (35, 52), (52, 70)] and cb.column_tiles(20) == [(0, 20)]
    jac, res, scale, w = make_problem(300, 70, seed=9)
    ref = build(TorchBackend(), "normal", res, jac, 300)
    system = build(cupy(slice_rows=100), "normal", res, jac, 50)
    assert system.blocks == 3
    full = torch.from_numpy(numpy.asarray(system.jtj))
    assert rel(full, full.T) < 1e-15 and rel(full, jac.T @ jac) < 1e-13
    for lam in LAMBDAS:
        assert rel(system.solve(lam, scale, w), ref.solve(lam, scale, w)) < 1e-10


def test_residual_kernel_from_column_blocks(cupy, monkeypatch):
    """J D⁻¹ Jᵀ summed over column blocks (no scaled m×n copy of J): the same solves as torch's."""
    from pinnlma.backends.legate import backend as cb

    monkeypatch.setattr(cb, "KERNEL_COLUMNS", 25)
    jac, res, scale, w = make_problem(30, 140, seed=12)
    ours, ref = build(cupy(), "residual", res, jac, 16), build(TorchBackend(), "residual", res, jac, 16)
    for lam in LAMBDAS:
        assert rel(ours.solve(lam, scale, w), ref.solve(lam, scale, w)) < 1e-10
    equilibrated = ours._kernel
    scaled = (
        equilibrated.scaled_torch if cupy.solves_in == "torch" else torch.from_numpy(numpy.asarray(equilibrated.scaled))
    )
    kernel = scaled / torch.outer(equilibrated.s, equilibrated.s)
    assert rel(kernel, (jac / scale) @ jac.T) < 1e-13


def test_unread_blocks_are_bounded(cupy, monkeypatch):
    """Once block_bytes of attached rows are waiting for Legate, the build waits (an execution fence)
    before taking more slices from the producer; the system is the same."""
    from pinnlma.backends.legate import backend as cb

    fences = []
    real_fence = cb.fence
    monkeypatch.setattr(cb, "fence", lambda: (fences.append(1), real_fence()))
    jac, res, scale, _ = make_problem(300, 40, seed=5)
    ref = build(TorchBackend(), "normal", res, jac, 300).solve(0.1, scale)
    block_bytes = 2 * 100 * 40 * 8  # two 100-row blocks
    system = build(cupy(slice_rows=100, block_bytes=block_bytes), "normal", res, jac, 100)
    assert system.blocks == 3 and len(fences) == 2  # one after the second block, one at the end
    assert rel(system.solve(0.1, scale), ref) < 1e-10


@pytest.mark.parametrize("form", ["normal", "residual"])
def test_singular_system_uses_fallback(cupy, form):
    """Zero columns (normal) or duplicated rows (residual) with lam = 0: Cholesky breaks down exactly."""
    m, n = (60, 20) if form == "normal" else (20, 60)
    jac, res, scale, _ = make_problem(m, n, seed=7)
    if form == "normal":
        jac[:, 3] = 0.0
        jac[:, 11] = 0.0
    else:
        jac[5] = jac[4]
        res[5] = res[4]
    ours, ref = build(cupy(), form, res, jac, 16), build(TorchBackend(), form, res, jac, 16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v = ours.solve(0.0, scale)
        v_ref = ref.solve(0.0, scale)
    assert torch.isfinite(v).all()
    assert ours.fallback_solves == 1 and ref.fallback_solves == 1
    assert any(issubclass(c.category, SingularSystemWarning) for c in caught)
    assert rel(v, v_ref) < 1e-8  # both are the minimum-norm solution
    # a damped solve on the same system is back on the Cholesky path
    ours.solve(1.0, scale)
    assert ours.fallback_solves == 1


def test_a_nan_in_the_jacobian_is_reported_as_torch_reports_it_and_stops_the_run(cupy):
    """A NaN entry: diag(JᵀJ) and Jᵀr are NaN in its column only (what the LM core reads to stop), the
    solve says so with a NaN step rather than a finite wrong one, as torch's does; an LM run on the
    cupynumeric backend stops as nonfinite_jacobian at its starting point, like the torch run."""
    jac, res, scale, _ = make_problem(30, 10)
    jac[2, 2] = float("nan")
    system, reference = build(cupy(), "normal", res, jac, 30), build(TorchBackend(), "normal", res, jac, 30)
    assert torch.isnan(system.jtj_diagonal()).nonzero().flatten().tolist() == [2]
    assert torch.isnan(system.gradient()).nonzero().flatten().tolist() == [2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularSystemWarning)
        v, v_ref = system.solve(1.0, scale), reference.solve(1.0, scale)
    assert v.shape == (10,) and system.fallback_solves == 1
    assert torch.equal(torch.isfinite(v), torch.isfinite(v_ref)) and not torch.isfinite(v).any()
    import pinnlma
    from pinnlma.lm import StopReason

    x0 = torch.tensor([0.0, 4.0], dtype=torch.float64)
    runs = {
        name: pinnlma.least_squares(lambda b: torch.sqrt(b) - 1, x0, backend=cupy() if name == "cupynumeric" else name)
        for name in ("cupynumeric", "torch")
    }
    for result in runs.values():
        assert result.status is StopReason.NONFINITE_JACOBIAN and not result.success
        assert torch.equal(result.x, x0) and result.nit == 1
    assert runs["cupynumeric"].message == runs["torch"].message


@pytest.mark.parametrize("m,n,form", [(300, 40, "normal"), (30, 80, "residual")])
def test_float32(cupy, m, n, form):
    jac, res, scale, w = make_problem(m, n, dtype=torch.float32, seed=11)
    ours, ref = build(cupy(), form, res, jac, 64), build(TorchBackend(), form, res, jac, 64)
    assert ours.gradient().dtype == torch.float32
    assert rel(ours.gradient(), ref.gradient()) < 1e-5
    for lam in LAMBDAS:
        v = ours.solve(lam, scale, w)
        assert v.dtype == torch.float32
        assert rel(v, ref.solve(lam, scale, w)) < 1e-4
    assert abs(ours.curvature(v) - ref.curvature(v)) <= 1e-4 * ref.curvature(v)


def test_bad_input(legate):
    jac, res, scale, _ = make_problem(20, 5)
    with pytest.raises(ValueError, match="no rows"):
        legate.normal_system([], 5, lambda w: w)
    with pytest.raises(ValueError, match="expected"):
        legate.normal_system([(res, jac)], 6, lambda w: w)
    system = build(legate, "normal", res, jac, 20)
    with pytest.raises(ValueError, match="positive"):
        system.solve(1.0, -scale)


def test_cpu_tensors_are_attached_without_copy(legate):
    """to_legate shares the tensor's memory (read-only DLPack attach); to_torch returns memory torch owns."""
    from pinnlma.backends.legate.backend import to_legate, to_torch

    tensor = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    shared = to_legate(legate.np, tensor[1:])  # a row slice, as the Jacobian engine yields
    column_major = to_legate(legate.np, tensor.T)  # Fortran order, as the Jacobian slices are: shared
    copied = to_legate(legate.np, tensor[:, ::2])  # not dense: copied
    assert tuple(column_major.shape) == (4, 3) and float(column_major[2, 1]) == 6.0
    tensor[1, 0] = 42.0
    assert float(shared[0, 0]) == 42.0 and float(column_major[0, 1]) == 42.0 and float(copied[1, 0]) == 4.0
    back = to_torch(shared[0], torch.device("cpu"))
    tensor[1, 0] = -1.0
    assert back[0] == 42.0


def test_attached_tensors_are_read_only(legate):
    """The attachment is read-only (Legate need not flush its window for it): a write through the
    cuPyNumeric array lands in a Legate copy, never in the torch tensor; reads are still zero-copy.
    (A mutable attach, ``cupynumeric.from_dlpack``, writes through: shown first, so the test can fail.)"""
    from pinnlma.backends.legate.arrays import fence, to_legate

    mutable_source = torch.zeros(4, 3, dtype=torch.float64)
    legate.np.from_dlpack(mutable_source)[0, 0] = 7.0
    fence()
    assert float(mutable_source[0, 0]) == 7.0
    for tensor in (torch.zeros(4, 3, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float32).T):
        attached = to_legate(legate.np, tensor)
        assert attached.dtype == numpy.dtype(str(tensor.dtype).removeprefix("torch."))
        attached[1, 2] = 5.0
        fence()
        assert float(attached[1, 2]) == 5.0 and float(tensor[1, 2]) == 0.0
        assert float(attached.sum()) == 5.0


def test_a_store_from_per_rank_row_tiles(legate):
    """The multi-node path's store: each rank's rows (pinnlma.ranks.owned_rows) attached as one tile of a
    single Legate store; here all 3 ranks' tiles in one process, the last one short."""
    from pinnlma.backends.legate.arrays import row_tile_store
    from pinnlma.ranks import owned_rows

    jac, _, _, _ = make_problem(13, 4, seed=14)
    tiles = [(k, jac[owned_rows(13, k, 3).start : owned_rows(13, k, 3).stop]) for k in range(3)]
    assert [t.shape[0] for _, t in tiles] == [5, 5, 3]
    store = row_tile_store(legate.np, 13, tiles, 3)
    assert tuple(store.shape) == (13, 4)
    assert torch.equal(torch.from_numpy(numpy.asarray(store).copy()), jac)
    assert rel(torch.from_numpy(numpy.asarray(store.T @ store).copy()), jac.T @ jac) < 1e-14
    with pytest.raises(ValueError, match="rank 2 of 3 owns 3 of the 13 rows"):
        row_tile_store(legate.np, 13, [(2, jac[:4])], 3)


def test_sums_over_ranks_through_one_store_of_their_tiles(legate):
    """The multi-rank sum of pinnlma.backends.legate.partition: each rank's partial (a scalar, an n-vector,
    an n×n matrix) is one row tile of a store and the sum is cuPyNumeric's; here 3 pretend ranks' tiles
    in one process must give the torch sums, and a single rank's sum (through a 1-tile store) itself."""
    from pinnlma.backends.legate.partition import legate_partition, sum_rank_tiles

    gen = torch.Generator().manual_seed(3)
    for shape in ((), (7,), (7, 7)):
        parts = [torch.randn(shape, dtype=torch.float64, generator=gen) for _ in range(3)]
        total = sum_rank_tiles(legate.np, list(enumerate(parts)), 3)
        ours = torch.from_numpy(numpy.asarray(total).copy())
        assert ours.shape == shape and torch.allclose(ours, parts[0] + parts[1] + parts[2], rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="one shape"):
        sum_rank_tiles(legate.np, [(0, torch.zeros(2)), (1, torch.zeros(3))], 2)
    single = legate_partition(legate.np, environ={})
    assert (single.rank, single.ranks, single.split) == (0, 1, False)
    g = torch.randn(5, dtype=torch.float64, generator=gen)
    assert torch.equal(single.allreduce(g), g) and single.allreduce(g) is not g  # through Legate, not a shortcut
    assert legate.row_partition({"PMI_RANK": "0", "PMI_SIZE": "1"}).ranks == 1


def test_the_normal_system_of_rows_shared_by_ranks(legate, monkeypatch):
    """Rank 0 of 3 gives gram_system the partials of its own rows (pinnlma.ranks.owned_rows); the other two
    ranks' tiles of the A store, and their g and m in the partition's allreduce, are pretended in this
    process. The system must be the one of all rows: the torch backend's from the whole J."""
    from pinnlma.backends.legate import backend as legate_backend
    from pinnlma.ranks import RowPartition, owned_rows

    m, n = 50, 9
    jac, res, scale, w = make_problem(m, n, seed=21)
    tiles = [owned_rows(m, k, 3) for k in range(3)]
    partials = [
        (jac[t.start : t.stop].T @ jac[t.start : t.stop], jac[t.start : t.stop].T @ res[t.start : t.stop], len(t))
        for t in tiles
    ]
    real_sum = legate_backend.sum_rank_tiles
    seen: list[int] = []

    def with_other_ranks(np, mine, ranks):
        seen.append(len(mine))
        return real_sum(np, mine + [(k, partials[k][0]) for k in (1, 2)], ranks)

    monkeypatch.setattr(legate_backend, "sum_rank_tiles", with_other_ranks)

    def pretend_allreduce(t):  # rank 0's g or m plus the other ranks'
        k = 1 if t.ndim == 1 else 2
        return t + sum(p[k] if k == 1 else torch.tensor(float(p[k]), dtype=torch.float64) for p in partials[1:])

    partition = RowPartition(0, 3, pretend_allreduce)
    ours = legate.gram_system([partials[0]], n, lambda v: jac.T @ v, partition=partition)
    ref = build(TorchBackend(), "normal", res, jac, 16)
    assert seen == [1] and ours.m == m  # only rank 0's own tile was attached by the backend
    assert rel(ours.gradient(), ref.gradient()) < 1e-13
    assert rel(ours.jtj_diagonal(), ref.jtj_diagonal()) < 1e-13
    for lam in LAMBDAS:
        v, v_ref = ours.solve(lam, scale, w), ref.solve(lam, scale, w)
        assert rel(v, v_ref) < 1e-10
        assert abs(ours.curvature(v) - ref.curvature(v_ref)) <= 1e-10 * ref.curvature(v_ref)


def test_factorization_rule():
    """LU (linalg.solve) only where cuPyNumeric distributes it: cuSOLVERMp, >= 2 GPUs, n >= 2048."""
    from pinnlma.backends.legate.solve import DISTRIBUTED_SOLVE_MIN_N, choose_factorization

    assert DISTRIBUTED_SOLVE_MIN_N == 2048
    assert choose_factorization(3000, 8, True) == "lu" and choose_factorization(2048, 2, True) == "lu"
    assert choose_factorization(2047, 8, True) == "cholesky"  # one task either way: half the flops
    assert choose_factorization(3000, 1, True) == "cholesky" and choose_factorization(3000, 8, False) == "cholesky"
    assert choose_factorization(10**5, 0, False) == "cholesky"  # CPUs
    with pytest.raises(ValueError):
        choose_factorization(-1, 0, False)


def test_small_systems_are_factored_in_torch():
    """Up to TORCH_SOLVE_MAX_N torch factors (Legate's fixed cost per solve exceeds torch's whole solve
    there), on any Legate machine; torch_max_n=0 keeps every solve in Legate."""
    from pinnlma.backends.legate.solve import TORCH_SOLVE_MAX_N, choose_factorization

    assert TORCH_SOLVE_MAX_N == 512
    for gpus, cusolvermp in ((0, False), (1, False), (8, True)):
        assert choose_factorization(3, gpus, cusolvermp) == "torch"
        assert choose_factorization(TORCH_SOLVE_MAX_N, gpus, cusolvermp) == "torch"
        assert choose_factorization(TORCH_SOLVE_MAX_N + 1, gpus, cusolvermp) == "cholesky"
        assert choose_factorization(3, gpus, cusolvermp, torch_max_n=0) == "cholesky"
    assert choose_factorization(3000, 8, True, torch_max_n=4000) == "torch"
    with pytest.raises(ValueError, match="torch_max_n"):
        choose_factorization(3, 0, False, torch_max_n=-1)


def test_a_system_factored_in_torch_starts_no_legate_task_per_trial(legate, monkeypatch):
    """Once built (and copied to torch), its trials, diagonal and curvature touch no Legate array."""
    from pinnlma.backends.legate import backend as cb
    from pinnlma.backends.legate import solve

    jac, res, scale, w = make_problem(200, 30, seed=4)
    system = build(legate, "normal", res, jac, 200)
    reference = build(TorchBackend(), "normal", res, jac, 200)
    assert system.factorization == "torch"

    def no_legate(*args, **kwargs):
        raise AssertionError("a Legate array was made or read")

    for module in (cb, solve):
        monkeypatch.setattr(module, "to_legate", no_legate)
        monkeypatch.setattr(module, "to_torch", no_legate)
    assert rel(system.jtj_diagonal(), reference.jtj_diagonal()) < 1e-13
    for lam in LAMBDAS:
        v = system.solve(lam, scale, None)
        assert rel(v, reference.solve(lam, scale, None)) < 1e-10
        assert abs(system.curvature(w[:30]) - reference.curvature(w[:30])) <= 1e-12 * reference.curvature(w[:30])


def test_the_torch_solve_limit_is_checked(legate):
    from pinnlma.backends.legate.backend import CupynumericBackend

    for bad in (-1, 1.5, True, "512"):
        with pytest.raises(ValueError, match="torch_solve_max_n must be an int >= 0"):
            CupynumericBackend(torch_solve_max_n=bad)


@pytest.mark.parametrize("factorization", ["cholesky", "lu", "torch"])
def test_both_factorizations_solve_and_fall_back_alike(legate, factorization):
    from pinnlma.backends.legate.arrays import to_legate
    from pinnlma.backends.legate.solve import EquilibratedSPD

    jac, _, scale, _ = make_problem(80, 30, seed=15)
    gram = jac.T @ jac
    rhs = torch.randn(30, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    system = EquilibratedSPD(legate.np, to_legate(legate.np, gram), gram.diagonal().clone(), factorization)
    assert system.factorization == factorization
    for lam in LAMBDAS:
        x, fell_back = system.solve(lam * scale, rhs)
        assert not fell_back and rel(x, torch.linalg.solve(gram + torch.diag(lam * scale), rhs)) < 1e-10
    indefinite = torch.diag(torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
    bad = EquilibratedSPD(legate.np, to_legate(legate.np, indefinite), indefinite.diagonal().clone(), factorization)
    _, fell_back = bad.solve(torch.zeros(3, dtype=torch.float64), torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    assert fell_back
    with pytest.raises(ValueError, match="unknown factorization"):
        EquilibratedSPD(legate.np, to_legate(legate.np, gram), gram.diagonal().clone(), "qr")


def test_cuda_index_beyond_legates_gpus_is_not_attached():
    """torch's cuda:k is Legate's GPU k when Legate drives at least k+1 GPUs; otherwise None (the block
    goes through host memory) instead of Legate's uncaught IndexError."""
    from pinnlma.backends.legate.arrays import legate_gpu_for

    assert legate_gpu_for(0, 1) == 0 and legate_gpu_for(3, 4) == 3
    assert legate_gpu_for(1, 1) is None and legate_gpu_for(0, 0) is None
    with pytest.raises(ValueError, match=">= 0"):
        legate_gpu_for(-1, 2)


def test_describe_reports_versions_and_machine(legate):
    text = legate.describe()
    assert "cupynumeric" in text and "legate" in text and "CPU" in text
    counts = legate.machine()
    assert counts["cpus"] + counts["gpus"] + counts["omps"] >= 1


# --------------------------------------------------------------------------------------------------
# two CPU processors, in a subprocess (Legate's configuration is fixed when it starts)

TWO_PROCS = r"""
import itertools, json, sys, threading
import numpy, torch
from pinnlma.backends.legate.backend import CupynumericBackend
from pinnlma.backends.torch.backend import TorchBackend
from tests.backends.test_legate import make_problem, row_slices, build, LAMBDAS

# prepares the process and starts Legate (before any legate import); every solve in Legate, as these
# small systems would otherwise be factored in torch
backend = CupynumericBackend(torch_solve_max_n=0)
from legate.core import TaskContext, get_legate_runtime
from legate.core.task import task, InputStore
seen = []

@task
def probe(ctx: TaskContext, piece: InputStore) -> None:
    # one call per point task: which point, which rows of the store it was given, on which thread
    seen.append({"point": list(ctx.task_index), "lo": list(piece.domain.lo), "hi": list(piece.domain.hi),
                 "thread": threading.get_ident(), "single": ctx.is_single_task()})

def store_of(array):
    # the public Legate data interface of a cuPyNumeric array -> its LogicalStore
    (logical_array,) = array.__legate_data_interface__["data"].values()
    return logical_array.data

def partition_info(array):
    store = store_of(array)
    part = store.partition  # the partition Legate chose for this store in the operations so far
    seen.clear()
    probe(store)
    get_legate_runtime().issue_execution_fence(block=True)
    return {"shape": list(store.shape), "colors": list(part.color_shape) if part is not None else None,
            "tiles": [list(part.get_child_store(*c).shape) for c in itertools.product(*map(range, part.color_shape))]
                     if part is not None else None,
            "points": sorted(seen, key=lambda s: s["point"])}

out = {"machine": backend.machine(), "results": {}}
for key, (m, n, form) in {"normal": (2000, 300, "normal"), "residual": (200, 600, "residual")}.items():
    jac, res, scale, w = make_problem(m, n, seed=21)
    system = build(backend, form, res, jac, 512)
    ref = build(TorchBackend(), form, res, jac, 512)
    sols = [system.solve(lam, scale, rhs) for lam in LAMBDAS for rhs in (None, w)]
    refs = [ref.solve(lam, scale, rhs) for lam in LAMBDAS for rhs in (None, w)]
    out["results"][key] = {
        "max_rel_vs_torch": max(float((a - b).norm() / b.norm()) for a, b in zip(sols, refs)),
        "solutions": [s.tolist() for s in sols],
        # the Legate-owned matrix of each form: JᵀJ (n×n) or the kernel J D⁻¹Jᵀ (m×m)
        "partition": partition_info(system.jtj if form == "normal" else system._kernel.scaled),
    }
    if form == "residual":  # J itself is attached torch memory: Legate still hands out tiles
        out["results"][key]["jac_points"] = partition_info(system.jac)["points"]
import pinnlma.backends.legate.arrays as arrays
arrays.GRAM_TILE_COLUMNS = 100  # JᵀJ from 3×3 column tiles (6 products), each split over the 2 processors
jac, res, scale, w = make_problem(2000, 300, seed=22)
tiled, ref = build(backend, "normal", res, jac, 512), build(TorchBackend(), "normal", res, jac, 512)
out["tiled_max_rel_vs_torch"] = max(float((tiled.solve(lam, scale, w) - ref.solve(lam, scale, w)).norm()
                                          / ref.solve(lam, scale, w).norm()) for lam in LAMBDAS)
jac, res, scale, _ = make_problem(60, 20, seed=7)
jac[:, 3] = 0.0
system = build(backend, "normal", res, jac, 16)
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    v = system.solve(0.0, scale)
    v_ref = build(TorchBackend(), "normal", res, jac, 16).solve(0.0, scale)
out["fallback"] = {"count": system.fallback_solves, "finite": bool(torch.isfinite(v).all()),
                   "rel_vs_torch": float((v - v_ref).norm() / v_ref.norm())}
print("RESULT " + json.dumps(out))
"""


def run_python(
    code: str, env_update: dict[str, str | None], timeout: float = 240, args: list[str] | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for key, value in env_update.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-c", code, *(args or [])], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_two_cpu_processors_partition_and_agree(legate):
    done = run_python(TWO_PROCS, {"LEGATE_CONFIG": "--cpus 2 --gpus 0 --logging gpu=6"})
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["machine"]["cpus"] == 2  # the user's LEGATE_CONFIG was used
    for key, (m, n, form) in {"normal": (2000, 300, "normal"), "residual": (200, 600, "residual")}.items():
        result = out["results"][key]
        part = result["partition"]
        # Legate split the store into 2 tiles that cover it ...
        assert part["colors"] is not None and numpy.prod(part["colors"]) == 2, part
        # ... and a task launched over it ran as 2 point tasks, on 2 different processor threads,
        # each given only its own tile: disjoint tiles that together are the whole array
        points = part["points"]
        assert len(points) == 2 and not any(p["single"] for p in points), points
        assert len({p["thread"] for p in points}) == 2
        volumes = [numpy.prod([h - lo + 1 for lo, h in zip(p["lo"], p["hi"])]) for p in points]
        assert all(0 < v < numpy.prod(part["shape"]) for v in volumes) and sum(volumes) == numpy.prod(part["shape"])
        assert points[0]["lo"] != points[1]["lo"]
        if form == "residual":
            assert len(result["jac_points"]) == 2 and len({p["thread"] for p in result["jac_points"]}) == 2
        assert result["max_rel_vs_torch"] < 1e-10
        # ... and gives the same answers as this process (one processor) to 1e-10
        jac, res, scale, w = make_problem(m, n, seed=21)
        here = build(legate, form, res, jac, 512)
        mine = [here.solve(lam, scale, rhs) for lam in LAMBDAS for rhs in (None, w)]
        for theirs, ours in zip(result["solutions"], mine):
            assert rel(torch.tensor(theirs, dtype=torch.float64), ours) < 1e-10
    assert out["tiled_max_rel_vs_torch"] < 1e-10
    assert out["fallback"]["count"] == 1 and out["fallback"]["finite"]
    assert out["fallback"]["rel_vs_torch"] < 1e-8


# --------------------------------------------------------------------------------------------------
# legate runtime, driver provisioning, setup-legate

PREPARE = r"""
import json, os, sys
from pinnlma.backends.legate import runtime
if len(sys.argv) > 1:  # pretend this many GPUs, so that both branches run on any machine
    runtime.count_gpus = lambda driver: int(sys.argv[1])
env = runtime.prepare_legate()
print("RESULT " + json.dumps({"config": os.environ.get("LEGATE_CONFIG"), "source": env.config_source,
                              "gpus": env.gpus, "driver": env.driver_source,
                              "legate_started": runtime.legate_started()}))
"""


def _prepare(env_update, gpus=None):
    done = run_python(PREPARE, env_update, timeout=60, args=None if gpus is None else [str(gpus)])
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.split("RESULT ", 1)[1])


def test_user_legate_config_is_respected():
    mine = "--cpus 1 --gpus 0 --sysmem 256"
    got = _prepare({"LEGATE_CONFIG": mine, "PINNLMA_LEGATE_CPUS": "2"})
    assert got["config"] == mine and got["source"] == "user"
    assert not got["legate_started"]  # prepare_legate itself does not start Legate


def test_default_cpu_config_and_cpu_count():
    """Both branches on every machine (the GPU count is pretended in the child): without a GPU pinnlma
    sets a CPU configuration, with one it leaves Legate's auto-configuration alone."""
    got = _prepare({"LEGATE_CONFIG": None, "PINNLMA_LEGATE_CPUS": None}, gpus=0)
    assert got["gpus"] == 0
    assert got["config"] == runtime.cpu_config(1) and got["source"] == "pinnlma"
    assert "--cpus 1 --gpus 0" in got["config"]
    got = _prepare({"LEGATE_CONFIG": None, "PINNLMA_LEGATE_CPUS": "3"}, gpus=0)
    assert got["config"].startswith("--cpus 3 --gpus 0")
    got = _prepare({"LEGATE_CONFIG": None, "PINNLMA_LEGATE_CPUS": "3"}, gpus=2)
    assert got["gpus"] == 2 and got["config"] is None and got["source"] == "unset"


def test_driver_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PINNLMA_CUDA_DRIVER_DIR", str(tmp_path / "drv"))
    assert driver.driver_dir() == tmp_path / "drv"
    monkeypatch.delenv("PINNLMA_CUDA_DRIVER_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert driver.driver_dir() == tmp_path / "cache" / "pinnlma" / "cuda-driver"


def test_provisioning_is_idempotent(monkeypatch, tmp_path, capsys):
    """An already provisioned folder is used as it is: no apt-get, no dpkg, no download."""
    folder = tmp_path / "drv"
    real = folder / "root" / "usr" / "lib" / "nvidia" / "libcuda.so.1"
    real.parent.mkdir(parents=True)
    real.write_bytes(b"\x7fELF placeholder")
    (folder / "lib").mkdir()
    (folder / "lib" / "libcuda.so.1").symlink_to(os.path.relpath(real, folder / "lib"))
    monkeypatch.setenv("PINNLMA_CUDA_DRIVER_DIR", str(folder))
    calls = []

    def no_tools(cmd, what, cwd=None):
        calls.append(cmd)
        raise AssertionError(f"provisioning ran {cmd[0]} although the driver is present")

    monkeypatch.setattr(driver, "_run", no_tools)
    for _ in range(2):
        assert driver.provision_driver() == folder / "lib" / "libcuda.so.1"
    assert setup.main(["--no-verify"]) == 0
    assert "already provisioned" in capsys.readouterr().out
    assert calls == []
    # force=True really does go to apt (stopped here by the stub)
    monkeypatch.setattr(driver.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    with pytest.raises(AssertionError, match="apt-get"):
        driver.provision_driver(force=True)


def test_missing_tools_give_actionable_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PINNLMA_CUDA_DRIVER_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(driver, "system_driver", lambda exclude=None: None)
    monkeypatch.setattr(driver.shutil, "which", lambda tool: None)
    with pytest.raises(BackendUnavailable, match="apt-get.*not found.*libcuda"):
        driver.provision_driver()


def test_debian_sources_from_deb822(tmp_path):
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (parts / "debian.sources").write_text(
        textwrap.dedent("""\
        Types: deb
        # http://snapshot.debian.org/archive/debian/20250520T000000Z
        URIs: http://mirror.example/debian
        Suites: bookworm bookworm-updates
        Components: main
        Signed-By: /nonexistent/keyring.gpg

        Types: deb
        URIs: http://deb.nodesource.example/node
        Suites: nodistro
        Components: main
        """)
    )
    found = driver.debian_sources(parts, tmp_path / "missing.list", {"VERSION_CODENAME": "bookworm"})
    assert [(s.uri, s.suite) for s in found] == [
        ("http://mirror.example/debian", "bookworm"),
        ("http://mirror.example/debian", "bookworm-updates"),
    ]
    assert found[0].line("non-free").endswith("http://mirror.example/debian bookworm non-free")
    fallback = driver.debian_sources(tmp_path / "none", tmp_path / "none.list", {"VERSION_CODENAME": "trixie"})
    assert ("http://deb.debian.org/debian-security", "trixie-security") in [(s.uri, s.suite) for s in fallback]


def test_missing_driver_message_names_the_setup_command():
    code = (
        "from pinnlma.backends import BackendUnavailable\n"
        "from pinnlma.backends.legate import runtime as ls\n"
        "ls._load_driver = lambda env: None  # as on a machine with neither a driver nor a provisioned one\n"
        "try:\n    ls.import_cupynumeric()\nexcept BackendUnavailable as exc:\n    print('MESSAGE', exc)\n"
    )
    done = run_python(code, {}, timeout=60)
    assert "MESSAGE" in done.stdout and "pinnlma setup-legate" in done.stdout, done.stdout + done.stderr


H5_AFTER_LEGATE = r"""
import sys
from pinnlma.backends import get_backend
get_backend("cupynumeric")          # Legate first, as a user's script may do
assert "h5py" in sys.modules
from pinnlma.run import io               # the run-file module imports h5py
import h5py, numpy
with h5py.File(sys.argv[1], "w") as f:
    f["x"] = numpy.arange(3.0)
print("RESULT ok")
"""


def test_h5py_works_when_legate_starts_first(tmp_path):
    """Legate's wheel ships another libhdf5; pinnlma loads h5py first so run files still work."""
    done = run_python(H5_AFTER_LEGATE, {}, timeout=120, args=[str(tmp_path / "a.h5")])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RESULT ok" in done.stdout


def test_info_starts_the_cupynumeric_backend_and_says_how_it_runs(legate, capsys):
    """`pinnlma info` checks cupynumeric in a child process: available, described as this process's backend."""
    from pinnlma.cli import main

    assert main(["info"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert f"cupynumeric: available: {legate.describe()}" in lines


def test_info_says_whether_this_legate_can_run_several_ranks(capsys):
    """The build's networks decide whether `legate --nodes/--ranks-per-node` can start a second rank."""
    from legate import install_info

    from pinnlma.cli import main

    assert runtime.legate_networks() == list(install_info.networks)
    assert "one rank only" in runtime.networks_line([])
    assert runtime.networks_line(["ucx", "mpi"]) == "legate networks: ucx, mpi (multi-rank launches possible)"
    assert "not installed" in runtime.networks_line(None)
    assert main(["info", "--no-legate"]) == 0
    assert runtime.networks_line(runtime.legate_networks()) in capsys.readouterr().out.splitlines()
