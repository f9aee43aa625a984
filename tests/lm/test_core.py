"""The LM core: damping rules, both system forms, slices, Jacobian strategies, fallback solve, errors."""
from __future__ import annotations

import math
import warnings

import pytest
import torch

import pinnlma
from pinnlma.backends import SingularSystemWarning, TorchBackend
from pinnlma.backends.torch.linalg import spd_solve
from pinnlma.lm.jacobian import JacobianEngine, choose_strategy
from pinnlma.lm import Levenberg, LMOptions, Marquardt, MarquardtScaling, Nielsen, StopReason

torch.set_default_dtype(torch.float64)


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def exp_data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 4, n)
    y = 2.5 * torch.exp(-1.3 * t) + 0.5 + 1e-3 * torch.randn(n, generator=g)
    return t, y


def exp_model(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x[0] * torch.exp(-x[1] * t) + x[2] - y


# -- damping rules ------------------------------------------------------------------------------------
def test_levenberg_rule_divides_and_multiplies() -> None:
    d = Levenberg(lam0=1.0, up=10, down=5)
    diag = torch.tensor([4.0, 9.0])
    assert torch.equal(d.scaling(diag), torch.ones(2))
    d.accept(0.9)
    assert d.lam == pytest.approx(0.2)
    d.reject()
    assert d.lam == pytest.approx(2.0)


def test_marquardt_scaling_has_floor_and_running_max() -> None:
    s = MarquardtScaling(floor=1e-3, running_max=True)
    first = s(torch.tensor([1.0, 0.0, 4.0]))
    assert first.tolist() == pytest.approx([1.0, 4e-3, 4.0])
    second = s(torch.tensor([0.5, 2.0, 1.0]))
    assert second.tolist() == pytest.approx([1.0, 2.0, 4.0])  # never below earlier columns
    m = Marquardt(lam0=1e-2, running_max=False)
    assert m.scaling(torch.tensor([3.0, 0.0])).tolist() == pytest.approx([3.0, 3e-10])


def test_nielsen_gain_ratio_rule() -> None:
    d = Nielsen(scaling="identity", tau=1e-3)
    diag = torch.tensor([2.0, 8.0])
    d.scaling(diag)
    d.start(diag)
    assert d.lam == pytest.approx(8e-3)  # τ·max diag(JᵀJ)
    d.accept(1.0)  # perfect model: shrink by 3
    assert d.lam == pytest.approx(8e-3 / 3)
    lam = d.lam
    d.accept(0.5)  # factor 1 − 0³ = 1
    assert d.lam == pytest.approx(lam)
    d.accept(0.0)  # factor 1 − (−1)³ = 2
    assert d.lam == pytest.approx(2 * lam)
    d.reject()
    d.reject()
    assert d.lam == pytest.approx(2 * lam * 2 * 4) and d.nu == 8


def test_damping_state_round_trip() -> None:
    d = Nielsen()
    d.scaling(torch.tensor([1.0, 2.0]))
    d.start(torch.tensor([1.0, 2.0]))
    d.reject()
    e = Nielsen()
    e.load_state_dict(d.state_dict())
    assert (e.lam, e.nu) == (d.lam, d.nu)
    assert torch.equal(e.scale_rule._max, d.scale_rule._max)


@pytest.mark.parametrize("damping", ["nielsen", "levenberg", "marquardt"])
def test_each_damping_rule_solves_rosenbrock(damping: str) -> None:
    res = pinnlma.least_squares(rosenbrock, torch.tensor([-1.2, 1.0]), damping=damping, max_iter=500)
    assert res.success, res.message
    assert torch.allclose(res.x, torch.ones(2), atol=1e-8)


def test_invalid_damping_options() -> None:
    with pytest.raises(ValueError, match="unknown damping"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), damping="foo")
    with pytest.raises(ValueError, match="up and down"):
        Levenberg(up=0.5)
    with pytest.raises(ValueError, match="floor"):
        MarquardtScaling(floor=0)


# -- system forms and slices -----------------------------------------------------------------------------
def random_system(m: int, n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(m, n, generator=g), torch.randn(m, generator=g)


@pytest.mark.parametrize("m,n", [(50, 8), (8, 50)])
def test_normal_and_residual_forms_agree_with_dense_solve(m: int, n: int) -> None:
    jac, r = random_system(m, n)
    scale = torch.rand(n, generator=torch.Generator().manual_seed(3)) + 0.5
    lam = 0.3
    expected = torch.linalg.solve(jac.T @ jac + lam * torch.diag(scale), jac.T @ r)
    backend = TorchBackend()
    normal = backend.normal_system([(r, jac)], n, lambda w: jac.T @ w)
    residual = backend.residual_system([(r, jac)], n)
    for system in (normal, residual):
        v = system.solve(lam, scale)
        assert torch.allclose(v, expected, rtol=1e-10, atol=1e-12), system.form
        assert torch.allclose(system.gradient(), jac.T @ r)
        assert torch.allclose(system.jtj_diagonal(), (jac * jac).sum(0))
        assert system.curvature(v) == pytest.approx(float((jac @ v) @ (jac @ v)), rel=1e-12)
    w = torch.randn(m, generator=torch.Generator().manual_seed(4))
    other = torch.linalg.solve(jac.T @ jac + lam * torch.diag(scale), jac.T @ w)
    assert torch.allclose(normal.solve(lam, scale, w), other, rtol=1e-10)
    assert torch.allclose(residual.solve(lam, scale, w), other, rtol=1e-10)


def test_residual_space_form_is_used_when_more_parameters_than_residuals() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 30, generator=g)
    b = torch.randn(5, generator=g)
    res = pinnlma.least_squares(lambda x: a @ x - b, torch.zeros(30))
    assert res.form == "residual"
    assert res.cost < 1e-20
    normal = pinnlma.least_squares(lambda x: a @ x - b, torch.zeros(30), form="normal")
    assert normal.form == "normal" and normal.cost < 1e-16


def test_slice_accumulation_matches_full_jacobian() -> None:
    jac, r = random_system(1000, 40)
    slices = [(r[i:i + 37], jac[i:i + 37]) for i in range(0, 1000, 37)]
    system = TorchBackend().normal_system(slices, 40, lambda w: jac.T @ w)
    full = jac.T @ jac
    assert float((system.jtj - full).norm() / full.norm()) < 1e-12
    assert float((system.g - jac.T @ r).norm() / (jac.T @ r).norm()) < 1e-12


def test_memory_budget_bounds_slice_size() -> None:
    t = torch.linspace(0, 1, 5000).unsqueeze(1)
    y = torch.sin(t)
    engine = JacobianEngine(lambda x, t, y: (x[0] * t + x[1] * t**2 - y).reshape(-1), (t, y), rowwise=True,
                            strategy="rowwise", memory_budget=4 * 2 * 8 * 100)
    sizes = [s[1].shape[0] for s in engine.slices(torch.ones(2), 5000)]
    assert max(sizes) == 100 and sum(sizes) == 5000


# -- Jacobian strategies ----------------------------------------------------------------------------------
def test_every_jacobian_strategy_gives_the_same_jacobian() -> None:
    t, y = exp_data(30)
    x = torch.tensor([2.0, 1.0, 0.3])

    def explicit(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        e = torch.exp(-x[1] * t)
        return torch.stack([e, -x[0] * t * e, torch.ones_like(t)], dim=1)

    jacobians = {}
    for strategy in ("forward", "reverse", "rowwise", "explicit"):
        engine = JacobianEngine(exp_model, (t, y), strategy=strategy, rowwise=True, jac=explicit,
                                memory_budget=4 * 3 * 8 * 7)  # 7-row slices
        r, jac = engine.full(x)
        assert torch.allclose(r, exp_model(x, t, y))
        jacobians[strategy] = jac
    for strategy, jac in jacobians.items():
        assert torch.allclose(jac, jacobians["explicit"], rtol=1e-13, atol=1e-14), strategy


def test_automatic_strategy_choice() -> None:
    assert choose_strategy(100, 3, 8, rowwise_possible=False).strategy == "forward"
    assert choose_strategy(10, 50, 8, rowwise_possible=False).strategy == "reverse"
    assert choose_strategy(20000, 61, 8, rowwise_possible=True).strategy == "rowwise"
    assert choose_strategy(10**6, 10, 8, rowwise_possible=False, memory_budget=2**20).strategy == "reverse"
    assert choose_strategy(10, 2, 8, rowwise_possible=False, explicit=True).strategy == "explicit"


def test_explicit_jacobian_with_wrong_shape_is_reported() -> None:
    with pytest.raises(ValueError, match=r"expected a tensor of shape \(2, 2\)"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), jac=lambda x: torch.zeros(3, 2))


# -- fallback solve -----------------------------------------------------------------------------------------
def test_singular_system_falls_back_without_crashing() -> None:
    a = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    x, fell_back = spd_solve(a, torch.tensor([2.0, 2.0]))
    assert fell_back and torch.allclose(x, torch.tensor([1.0, 1.0]))  # the minimum-norm solution
    indefinite = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    _, fell_back = spd_solve(indefinite, torch.tensor([1.0, 0.0]))
    assert fell_back


def test_rank_deficient_problem_converges_with_fallback() -> None:
    # two parameters enter only as their sum: JᵀJ is singular; tiny λ makes Cholesky fail
    t = torch.linspace(0, 1, 20)
    fun = lambda x: (x[0] + x[1]) * t - 2 * t  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularSystemWarning)
        res = pinnlma.least_squares(fun, torch.tensor([0.0, 0.0]), damping=Levenberg(lam0=1e-30))
    assert math.isfinite(res.cost) and res.cost < 1e-20
    assert float(res.x.sum()) == pytest.approx(2.0)


# -- geodesic acceleration, stopping, progress -----------------------------------------------------------
def test_geodesic_acceleration_converges() -> None:
    res = pinnlma.least_squares(rosenbrock, torch.tensor([-1.2, 1.0]), geodesic=True, max_iter=500)
    assert res.success and torch.allclose(res.x, torch.ones(2), atol=1e-8)


def test_stop_reasons() -> None:
    t, y = exp_data()
    x0 = torch.tensor([1.0, 1.0, 0.0])
    assert pinnlma.least_squares(exp_model, x0, args=(t, y), max_iter=2).status is StopReason.MAX_ITER
    assert pinnlma.least_squares(exp_model, x0, args=(t, y), gtol=1e6).status is StopReason.GTOL
    assert pinnlma.least_squares(exp_model, x0, args=(t, y), ftol=1e-3).status is StopReason.FTOL
    zero = pinnlma.least_squares(lambda x: x - 1, torch.zeros(3), damping=Levenberg(lam0=1e-300))
    assert zero.status is StopReason.ZERO_RESIDUAL and zero.success
    stop = pinnlma.least_squares(exp_model, x0, args=(t, y), callback=lambda info: info.iteration >= 3)
    assert stop.status is StopReason.CALLBACK and stop.nit == 3
    timed = pinnlma.least_squares(exp_model, x0, args=(t, y), time_limit=1e-9)
    assert timed.status is StopReason.TIME_LIMIT and timed.nit == 1


def test_history_records_every_iteration() -> None:
    t, y = exp_data()
    res = pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0]), args=(t, y))
    assert len(res.history["cost"]) == res.nit + 1
    assert all(b <= a for a, b in zip(res.history["cost"], res.history["cost"][1:]))  # monotone
    assert res.history["cost"][-1] == pytest.approx(res.cost)


def test_nan_during_trial_step_is_rejected_not_poisoning() -> None:
    # sqrt is NaN for negative arguments: a long first step lands there and must be rejected
    fun = lambda x: torch.stack([torch.sqrt(x[0]) - 0.5, x[0] - 0.25])  # noqa: E731
    res = pinnlma.least_squares(fun, torch.tensor([4.0]), damping=Levenberg(lam0=1e-8))
    assert math.isfinite(res.cost) and res.x[0] == pytest.approx(0.25, abs=1e-8)


def test_float32_works() -> None:
    t, y = exp_data()
    res = pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0], dtype=torch.float32),
                                args=(t.float(), y.float()))
    assert res.x.dtype == torch.float32
    assert torch.allclose(res.x, torch.tensor([2.5, 1.3, 0.5], dtype=torch.float32), atol=1e-2)


# -- bad input ----------------------------------------------------------------------------------------------
def test_bad_input_errors() -> None:
    with pytest.raises(ValueError, match="must be 1-D"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2, 1))
    with pytest.raises(ValueError, match="non-finite"):
        pinnlma.least_squares(rosenbrock, torch.tensor([float("nan"), 0.0]))
    with pytest.raises(TypeError, match="float64 or float32, got torch.int64"):
        pinnlma.least_squares(rosenbrock, torch.tensor([1, 2]))
    with pytest.raises(pinnlma.NonFiniteResidualError, match="first at row 1"):
        pinnlma.least_squares(lambda x: torch.stack([x[0], torch.log(-x[0] - 1)]), torch.ones(1))
    with pytest.raises(TypeError, match="dtype torch.float32"):
        pinnlma.least_squares(lambda x: x.float(), torch.ones(2))
    with pytest.raises(ValueError, match="1-D tensor"):
        pinnlma.least_squares(lambda x: x.reshape(1, 2), torch.ones(2))
    calls = {"n": 0}

    def growing(x: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return x.repeat(calls["n"])

    with pytest.raises(ValueError, match="changed length"):
        pinnlma.least_squares(growing, torch.ones(2))
    with pytest.raises(ValueError, match="unknown Jacobian strategy"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), jac_strategy="magic")
    with pytest.raises(ValueError, match="needs rowwise=True"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), jac_strategy="rowwise")
    with pytest.raises(ValueError, match="unknown backend"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), backend="jax")
    with pytest.raises(ValueError, match="time_limit"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), time_limit=-1)


def test_tolerances_are_floored_at_the_dtype_and_zero_turns_them_off() -> None:
    eps = torch.finfo(torch.float64).eps
    assert LMOptions(ftol=1e-30, xtol=1e-30, gtol=1e-30).effective(torch.float64) == (eps, 10 * eps, 1e-30)
    assert LMOptions(ftol=0.0, xtol=0.0, gtol=0.0).effective(torch.float64) == (0.0, 0.0, 0.0)
    assert LMOptions(ftol=1e-3).effective(torch.float32)[0] == 1e-3


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rank_k_update_fills_the_lower_triangle_only(dtype: torch.dtype) -> None:
    from pinnlma.backends.torch.linalg import GRAM_LEAF, rank_k_update

    gen = torch.Generator().manual_seed(3)
    n = 3 * GRAM_LEAF + 7  # several levels of halving, uneven halves
    jac = torch.randn(500, n, dtype=dtype, generator=gen)
    acc = torch.zeros(n, n, dtype=dtype)
    acc.triu_(1).add_(torch.triu(torch.full((n, n), 7.0, dtype=dtype), 1))  # the upper part must survive
    for start in range(0, 500, 128):  # contiguous row slices, as the engines yield them
        rank_k_update(acc, jac[start:start + 128])
    rank_k_update(acc, jac.T.contiguous().T[:10])  # a column-major view works too
    ref = torch.tril(jac.T @ jac + jac[:10].T @ jac[:10])
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert float((torch.tril(acc) - ref).abs().max() / ref.abs().max()) < tol
    assert torch.equal(torch.triu(acc, 1), torch.triu(torch.full((n, n), 7.0, dtype=dtype), 1))
    with pytest.raises(ValueError, match="must match"):
        rank_k_update(acc, jac.to(torch.float16))
    with pytest.raises(ValueError, match="s×n rows"):
        rank_k_update(acc, jac[:, :5])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_lapack_factors_in_place_like_torch_linalg(dtype: torch.dtype) -> None:
    """torch's own potrf/potrs through ctypes: reachable on the supported torch wheels, and right."""
    from pinnlma.backends.torch.lapack import torch_lapack

    lapack = torch_lapack(dtype)
    assert lapack is not None, "torch's LAPACK symbols were not found: the packed solve would use scipy's"
    gen = torch.Generator().manual_seed(4)
    jac = torch.randn(300, 120, dtype=dtype, generator=gen)
    a = jac.T @ jac + torch.eye(120, dtype=dtype)
    work = torch.tril(a) + 99.0 * torch.triu(torch.ones_like(a), 1)  # potrf reads only the other triangle
    work = work.T.contiguous()  # row-major upper triangle = A's, the lower one is junk
    assert lapack.potrf(work) == 0
    tol = 1e-10 if dtype == torch.float64 else 1e-3
    factor = torch.linalg.cholesky(a)
    assert float((torch.triu(work).T - factor).abs().max() / factor.abs().max()) < tol
    assert torch.equal(torch.tril(work, -1), 99.0 * torch.tril(torch.ones_like(a), -1))
    rhs = torch.randn(120, dtype=dtype, generator=gen)
    x = rhs.clone()
    assert lapack.potrs(work, x) == 0
    assert float((a @ x - rhs).norm() / rhs.norm()) < tol
    with pytest.raises(ValueError, match="contiguous square"):
        lapack.potrf(work[:, :5])


@pytest.mark.parametrize("lapack", ["torch", "scipy"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_packed_normal_matrix_matches_the_dense_one(dtype: torch.dtype, lapack: str) -> None:
    """JᵀJ and each trial's factor share one n×n matrix: solves, quadratic forms and the stored JᵀJ
    agree with the dense storage, and a solve leaves JᵀJ intact for the next λ; with torch's LAPACK and
    with scipy's (the fallback where torch's cannot be reached)."""
    from pinnlma.backends.torch.normal_matrix import DenseNormalMatrix, PackedNormalMatrix

    gen = torch.Generator().manual_seed(5)
    n = 300  # more than one band of rows
    jac = torch.randn(900, n, dtype=dtype, generator=gen)
    rhs = torch.randn(n, dtype=dtype, generator=gen)
    packed, dense = PackedNormalMatrix(n, dtype), DenseNormalMatrix(n, dtype, torch.device("cpu"))
    if lapack == "scipy":
        packed._lapack = None
    for start in range(0, 900, 200):
        packed.add_rows(jac[start:start + 200])
        dense.add_rows(jac[start:start + 200])
    packed.finish()
    dense.finish()
    tol = 1e-11 if dtype == torch.float64 else 1e-4
    for lam in (1e-6, 1.0, 1e3, 1.0):
        shift = lam * (1.0 + torch.rand(n, dtype=dtype, generator=gen))
        (x, fell_back), (y, _) = packed.solve(shift, rhs), dense.solve(shift, rhs)
        assert not fell_back and float((x - y).norm() / y.norm()) < tol
        v = torch.randn(n, dtype=dtype, generator=gen)
        assert packed.quadratic(v) == pytest.approx(dense.quadratic(v), rel=tol)
        assert float((packed.matrix() - dense.matrix()).abs().max() / dense.matrix().abs().max()) < tol
    assert torch.equal(packed.diagonal(), packed.matrix().diagonal())


def test_packed_normal_matrix_falls_back_on_a_singular_system() -> None:
    from pinnlma.backends.torch.normal_matrix import PackedNormalMatrix

    jac = torch.zeros(10, 4, dtype=torch.float64)
    jac[:, :2] = 1.0  # rank one: JᵀJ is singular and undamped Cholesky breaks down
    packed = PackedNormalMatrix(4, torch.float64)
    packed.add_rows(jac)
    packed.finish()
    rhs = jac.T @ torch.ones(10, dtype=torch.float64)
    x, fell_back = packed.solve(torch.zeros(4, dtype=torch.float64), rhs)
    assert fell_back and torch.allclose(x, torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64))
    x, fell_back = packed.solve(torch.full((4,), 1e-3, dtype=torch.float64), rhs)  # damped: Cholesky again
    damped = jac.T @ jac + 1e-3 * torch.eye(4, dtype=torch.float64)
    assert not fell_back and torch.allclose(damped @ x, rhs, rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match="after finish"):
        packed.add_rows(jac)


def test_float32_gram_products_keep_float64_elsewhere_and_widen_after_a_breakdown() -> None:
    """TorchBackend(gram_dtype='float32'): JᵀJ within single-precision error of the float64 one, Jᵀr
    exact, an LM fit still converges; a breakdown of Cholesky switches later iterations to float64."""
    from pinnlma.backends import SingularSystemWarning, TorchBackend, get_backend

    gen = torch.Generator().manual_seed(8)
    jac = torch.randn(400, 90, dtype=torch.float64, generator=gen)
    r = torch.randn(400, dtype=torch.float64, generator=gen)
    backend = get_backend("torch", gram_dtype="float32")
    assert backend.gram_dtype == torch.float32 and "float32" in backend.describe()
    system = backend.normal_system([(r[:250], jac[:250]), (r[250:], jac[250:])], 90, lambda w: jac.T @ w)
    exact = jac.T @ jac
    err = float((system.jtj - exact).abs().max() / exact.abs().max())
    assert 1e-12 < err < 1e-5  # float32 products (not float64 ones), summed in float64
    assert system.jtj.dtype == torch.float64
    assert torch.allclose(system.gradient(), jac.T @ r, rtol=1e-13, atol=1e-12)  # float64, not float32

    # a fit converges with it
    t = torch.linspace(0, 1, 50, dtype=torch.float64)
    target = 2.0 * torch.exp(-1.3 * t) + 0.5
    result = pinnlma.least_squares(lambda p: p[0] * torch.exp(-p[1] * t) + p[2] - target,
                                   torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64),
                                   backend=TorchBackend(gram_dtype=torch.float32))
    assert torch.allclose(result.x, torch.tensor([2.0, 1.3, 0.5], dtype=torch.float64), atol=1e-8)

    # a singular system breaks Cholesky down: the fallback solves it, and the next systems are float64
    singular = torch.zeros(10, 4, dtype=torch.float64)
    singular[:, :2] = 1.0
    system = backend.normal_system([(torch.ones(10, dtype=torch.float64), singular)], 4, lambda w: singular.T @ w)
    with pytest.warns(SingularSystemWarning):
        system.solve(0.0, torch.ones(4, dtype=torch.float64))
    assert backend.gram_dtype_now is None and "float32" not in backend.describe()
    system = backend.normal_system([(r, jac)], 90, lambda w: jac.T @ w)
    assert float((system.jtj - exact).abs().max() / exact.abs().max()) < 1e-13
    with pytest.raises(ValueError, match="gram_dtype"):
        TorchBackend(gram_dtype="float16")


def _graded_problem(m: int, n: int, decades: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A column-major J with singular values from 1 down to 10^-decades, and a residual."""
    gen = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(m, n, dtype=torch.float64, generator=gen))
    v, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=gen))
    sigma = torch.logspace(0, -decades, n, dtype=torch.float64)
    jac = ((u * sigma) @ v.T).T.contiguous().T
    return jac, torch.randn(m, dtype=torch.float64, generator=gen)


def test_refined_float32_products_solve_the_float64_system() -> None:
    """TorchBackend(gram_dtype='float32') refines every solve against J: the steps, ‖Jv‖², diag(JᵀJ)
    and Jᵀr are those of float64, to float64 accuracy, from single-precision products."""
    from pinnlma.backends import TorchBackend
    from pinnlma.backends.torch.refinement import RefinedNormalSystem

    jac, r = _graded_problem(600, 80, decades=2.0, seed=4)
    slices = [(r[:250], jac[:250]), (r[250:], jac[250:])]
    backend = TorchBackend(gram_dtype="float32")
    assert "refined" in backend.describe()
    system = backend.normal_system(slices, 80, lambda w: jac.T @ w)
    assert isinstance(system, RefinedNormalSystem) and len(system.rows) == 2
    exact = jac.T @ jac
    assert 1e-12 < float((system.jtj - exact).abs().max() / exact.abs().max()) < 1e-5  # float32 products
    assert torch.allclose(system.jtj_diagonal(), exact.diagonal(), rtol=1e-14, atol=0)
    assert torch.allclose(system.gradient(), jac.T @ r, rtol=1e-13, atol=1e-13)
    scale = exact.diagonal().clone()
    w = torch.randn(600, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    for lam in (1e-1, 1e-3, 1e-6):
        damped = exact + lam * torch.diag(scale)
        for rhs_w in (None, w):
            v = system.solve(lam, scale, rhs_w)
            b = jac.T @ (r if rhs_w is None else w)
            reference = torch.linalg.solve(damped, b)
            assert float((v - reference).norm() / reference.norm()) < 1e-11, lam
            # the backward error of a float64 solve, not of a float32 one
            assert float((damped @ v - b).abs().max()) <= 80 * 2.3e-16 * float(damped.abs().sum(1).max() * v.abs().max())
            assert system.curvature(-v) == pytest.approx(float((jac @ v).square().sum()), rel=1e-13)
    assert not system.exact and system.sweeps and max(system.sweeps) <= 4
    assert backend.gram_dtype_now == torch.float32


def test_refinement_that_cannot_contract_rebuilds_in_float64() -> None:
    """κ(JᵀJ)·u₃₂ ≫ 1 and a tiny λ: the float32 matrix fails (indefinite or no contraction); the system
    is rebuilt from the kept rows in float64, solves correctly, and the backend widens for good."""
    from pinnlma.backends import TorchBackend

    jac, r = _graded_problem(400, 60, decades=6.0, seed=6)
    backend = TorchBackend(gram_dtype="float32")
    system = backend.normal_system([(r, jac)], 60, lambda w: jac.T @ w)
    scale = torch.ones(60, dtype=torch.float64)
    v = system.solve(1e-13, scale)
    reference = torch.linalg.solve(jac.T @ jac + 1e-13 * torch.eye(60, dtype=torch.float64), jac.T @ r)
    assert system.exact and backend.gram_dtype_now is None
    assert float((v - reference).norm() / reference.norm()) < 1e-3  # κ ≈ 1e12: float64's own accuracy
    assert float(((jac.T @ jac) @ v + 1e-13 * v - jac.T @ r).norm() / (jac.T @ r).norm()) < 1e-9
    assert "float32" not in backend.describe()


def test_unrefined_float32_products_do_not_keep_the_jacobian() -> None:
    from pinnlma.backends import TorchBackend
    from pinnlma.backends.torch.backend import TorchNormalSystem

    jac, r = _graded_problem(300, 40, decades=1.0, seed=7)
    system = TorchBackend(gram_dtype="float32", refine=False).normal_system([(r, jac)], 40, lambda w: jac.T @ w)
    assert isinstance(system, TorchNormalSystem)
    v = system.solve(1e-3, torch.ones(40, dtype=torch.float64))
    reference = torch.linalg.solve(jac.T @ jac + 1e-3 * torch.eye(40, dtype=torch.float64), jac.T @ r)
    assert 1e-12 < float((v - reference).norm() / reference.norm()) < 1e-4  # single-precision A, as documented


@pytest.mark.parametrize("storage", ["packed", "dense"])
def test_factor_reuses_one_cholesky_and_inf_norm_is_the_row_sum_norm(storage: str) -> None:
    from pinnlma.backends.torch.normal_matrix import DenseNormalMatrix, PackedNormalMatrix

    gen = torch.Generator().manual_seed(9)
    jac = torch.randn(300, 37, dtype=torch.float64, generator=gen)
    matrix = (PackedNormalMatrix(37, torch.float64) if storage == "packed"
              else DenseNormalMatrix(37, torch.float64, torch.device("cpu")))
    matrix.add_rows(jac[:100])
    matrix.add_rows(jac[100:])
    matrix.finish()
    exact = jac.T @ jac
    shift = torch.full((37,), 0.5, dtype=torch.float64)
    solver = matrix.factor(shift)
    damped = exact + torch.diag(shift)
    for seed in (1, 2):  # one factor, several right-hand sides
        b = torch.randn(37, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(damped @ solver(b), b, rtol=1e-12, atol=1e-12)
    assert matrix.inf_norm() == pytest.approx(float(exact.abs().sum(1).max()), rel=1e-13)
    assert matrix.factor(torch.full((37,), -1e9, dtype=torch.float64)) is None  # indefinite: no factor


# -- front-end contracts a user relies on -------------------------------------------------------------
def _mlp(width: int = 6, outputs: int = 1, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(1, width), torch.nn.Tanh(), torch.nn.Linear(width, outputs)).double()


def _fit_residual(model: torch.nn.Module, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (model(a) - b).reshape(-1)


def test_a_checkpoint_of_another_architecture_is_refused_before_anything_changes() -> None:
    x = torch.linspace(-1, 1, 40).unsqueeze(1)
    y = torch.sinc(3 * x)
    big = pinnlma.LevenbergMarquardt(_mlp(8), _fit_residual, rowwise=True)
    big.step(x, y)
    small = pinnlma.LevenbergMarquardt(_mlp(4), _fit_residual, rowwise=True)
    before = small.params
    with pytest.raises(ValueError, match="checkpoint holds 25 parameters, this model has 13"):
        small.load_state_dict(big.state_dict())
    assert torch.equal(small.params, before)
    with pytest.raises(ValueError, match="checkpoint holds 13 parameters, this model has 25"):
        big.load_state_dict(small.state_dict())


def test_a_damping_instance_is_a_reusable_template() -> None:
    t, y = exp_data()
    rule = Levenberg(lam0=1e3)
    first = pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0]), args=(t, y), damping=rule, max_iter=3)
    second = pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0]), args=(t, y), damping=rule, max_iter=3)
    assert rule.lam == 1e3  # the caller's instance is left as it was
    assert first.history["lam"] == second.history["lam"] and torch.equal(first.x, second.x)
    lm = pinnlma.LevenbergMarquardt(_mlp(), _fit_residual, damping=rule)
    assert lm.damping is not rule and isinstance(lm.damping, Levenberg)


def test_a_nonfinite_jacobian_stops_the_run_and_says_where() -> None:
    result = pinnlma.least_squares(lambda b: torch.sqrt(b) - 1, torch.tensor([0.0, 4.0]))
    assert result.status is StopReason.NONFINITE_JACOBIAN and not result.success
    assert "parameter columns (first: parameter 0) at iteration 0" in result.message
    explicit = pinnlma.least_squares(lambda b: b - 1, torch.zeros(2),
                                     jac=lambda b: torch.tensor([[1.0, float("inf")], [0.0, 1.0]]))
    assert "in 1 of 2 parameter columns (first: parameter 1)" in explicit.message
    model = torch.nn.Linear(1, 1).double()
    lm = pinnlma.LevenbergMarquardt(model, lambda net, a: torch.sqrt(net(a) * 0).reshape(-1), rowwise=True)
    before = lm.params
    with pytest.raises(pinnlma.NonFiniteJacobianError, match="not differentiable"):
        lm.step(torch.ones(5, 1))
    assert torch.equal(lm.params, before)


def test_rowwise_rows_with_several_residuals_give_the_generic_jacobian() -> None:
    x = torch.linspace(-1, 1, 30).unsqueeze(1)
    y = torch.cat([torch.sinc(3 * x), torch.cos(2 * x), x**2], dim=1)
    net = _mlp(5, outputs=3)
    lm = pinnlma.LevenbergMarquardt(net, _fit_residual, rowwise=True)
    theta = lm.params
    engine = JacobianEngine(lm._flat_residual, (x, y), rowwise=True, strategy="rowwise", memory_budget=10**9)
    r_rows, jac_rows = engine.full(theta)
    engine_generic = JacobianEngine(lm._flat_residual, (x, y), strategy="reverse")
    r_ref, jac_ref = engine_generic.full(theta)
    assert jac_rows.shape == (90, theta.numel())
    torch.testing.assert_close(r_rows, r_ref)
    torch.testing.assert_close(jac_rows, jac_ref)
    # small slices: several data rows per slice, never a row split between slices
    tiny = JacobianEngine(lm._flat_residual, (x, y), rowwise=True, strategy="rowwise",
                          memory_budget=7 * 3 * theta.numel() * 8 * 4)
    torch.testing.assert_close(tiny.full(theta)[1], jac_ref)
    assert lm.step(x, y).cost < 0.5 * float(r_ref @ r_ref)


def test_rowwise_promises_that_do_not_hold_are_reported() -> None:
    x = torch.linspace(-1, 1, 20).unsqueeze(1)
    y2 = torch.cat([x, -x], dim=1)
    column_by_column = pinnlma.LevenbergMarquardt(_mlp(4, outputs=2), lambda net, a, b: (net(a) - b).T.reshape(-1),
                                                  rowwise=True)
    with pytest.raises(ValueError, match=r"positions k·i"):
        column_by_column.step(x, y2)
    with pytest.raises(ValueError, match="same number of rows"):
        pinnlma.LevenbergMarquardt(_mlp(), lambda net, a, b: net(a).reshape(-1) - b.mean(),
                                   rowwise=True).step(x, x[:10])
    with pytest.raises(ValueError, match="the residual has 19 entries but the data has 20 rows"):
        pinnlma.LevenbergMarquardt(_mlp(), lambda net, a, b: (net(a) - b).reshape(-1)[1:], rowwise=True).step(x, x)
    # a 0-d tensor argument has no rows: it is passed whole
    weighted = pinnlma.LevenbergMarquardt(_mlp(), lambda net, a, b, w: (w * (net(a) - b)).reshape(-1), rowwise=True)
    assert math.isfinite(weighted.step(x, x, torch.tensor(2.0)).cost)


def test_levenberg_marquardt_takes_geodesic_and_refuses_half_precision() -> None:
    lm = pinnlma.LevenbergMarquardt(_mlp(), _fit_residual, geodesic=True)
    assert lm.options.geodesic
    with pytest.raises(TypeError, match="float64 or float32, got torch.float16"):
        pinnlma.LevenbergMarquardt(_mlp().half(), _fit_residual)
    with pytest.raises(TypeError, match="float64 or float32, got torch.bfloat16"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2, dtype=torch.bfloat16))


def test_steps_cut_short_by_a_nonfinite_region_are_not_reported_as_converged() -> None:
    """The exponential fit's optimum (b0 = 2.5) lies where log(2 − b0) is NaN: xtol fires at b0 → 2 with a
    huge damping and a gradient far from zero, which must not read as success."""
    t, y = exp_data()
    result = pinnlma.least_squares(lambda b: exp_model(b, t, y) + 0 * torch.log(2 - b[0]),
                                   torch.tensor([1.0, 1.0, 0.0]))
    assert result.status is StopReason.NONFINITE_BOUNDARY and not result.success
    assert "gave NaN/Inf" in result.message and float(result.grad.abs().max()) > 0.1
    assert 1.99 < float(result.x[0]) < 2.0
    # the same fit without the wall converges as before
    assert pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0]), args=(t, y)).success
