"""First-order and quasi-Newton baselines on the same residual r(θ) the LM core sees.

Every optimizer here minimises the loss L(θ) = ‖r(θ)‖² (the weighted PINN loss Σ_b w_b·mean(raw_b²));
the LM core minimises ½‖r‖², which has the same minimiser. The model is any object with
``residual(theta) -> 1-D tensor`` that autograd can differentiate (a :class:`ResidualAssembler`, or a
plain test function); the optimizers work on the flat parameter vector, in float64 or float32.

- :class:`Adam` — ``torch.optim.Adam`` on a leaf tensor, one update per :meth:`step`.
- :class:`LBFGS` — ``torch.optim.LBFGS`` with the strong-Wolfe line search, one outer iteration per
  :meth:`step` (``max_iter=1``; torch keeps its memory across calls). ``max_eval`` is set so the line
  search really runs: with ``max_iter=1`` torch's default ``max_eval`` (= 1) would leave it zero
  evaluations, i.e. no line search at all. Tolerances default to 0 so a run is stopped by its budget,
  not by torch's absolute defaults (1e-7 / 1e-9), which stop well before float64 accuracy.
- :class:`BFGS` — dense BFGS on the inverse Hessian, strong-Wolfe line search
  (``torch.optim.lbfgs._strong_wolfe``), first inverse Hessian scaled by yᵀs/yᵀy; O(n²) memory.

Each :meth:`step` reports the loss at the *new* parameters (as the LM adapter does); the gradient there
is kept for the next step, so no evaluation is repeated. :meth:`refresh` drops that cached value
(call it after the collocation points change). :meth:`state_dict` holds tensors, floats, ints and
bools only, with the same keys at every iteration, and :meth:`load_state_dict` continues a run bit for
bit (it also accepts numpy arrays / scalars, as read back from a run file).
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor
from torch.optim.lbfgs import _strong_wolfe

__all__ = ["Adam", "BFGS", "LBFGS", "OPTIMIZERS", "Optimizer", "ResidualFunction", "StepReport", "make_optimizer"]


class ResidualFunction(Protocol):
    """What the baselines need of a problem: the residual vector r(θ), differentiable by autograd."""

    def residual(self, theta: Tensor) -> Tensor: ...


@dataclass(frozen=True)
class StepReport:
    """Outcome of one iteration: the loss ‖r‖² at the new parameters, the damping (LM only) and the
    number of residual + gradient evaluations the iteration cost."""

    loss: float
    damping: float = math.nan
    evaluations: int = 0
    residual: Tensor | None = None  # r at the new parameters when the optimizer has it (LM), else None


class Optimizer(Protocol):
    """The common interface of the baselines (and of the LM adapter in :mod:`pinnlma.train`)."""

    name: str

    @property
    def x(self) -> Tensor:
        """The current flat parameters (detached; may be updated in place by later steps: clone to keep)."""
        ...

    def step(self) -> StepReport: ...

    def refresh(self) -> None:
        """Forget values computed on the current collocation points (after resampling)."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


# -- helpers -------------------------------------------------------------------------------------------

# how a number that torch's L-BFGS keeps as either a Python number or a 0-d tensor is stored
_INT, _FLOAT, _TENSOR = 0, 1, 2


def _start_vector(x0: Tensor) -> Tensor:
    if not isinstance(x0, Tensor):
        raise TypeError(f"x0 must be a torch tensor, got {type(x0).__name__}")
    if x0.ndim != 1:
        raise ValueError(f"x0 must be a flat (1-D) parameter vector, got shape {tuple(x0.shape)}")
    if x0.dtype not in (torch.float64, torch.float32):
        raise ValueError(f"x0 must be float64 or float32, got {x0.dtype}")
    return x0.detach().clone()


def _tensor(value: Any, like: Tensor) -> Tensor:
    """A tensor (or numpy array / number) from a state dict, with ``like``'s dtype and device, copied."""
    return torch.as_tensor(np.asarray(value) if not isinstance(value, Tensor) else value).to(
        dtype=like.dtype, device=like.device).clone()


def _vector(value: Any, like: Tensor, what: str) -> Tensor:
    v = _tensor(value, like).reshape(-1)
    if v.shape != like.shape:
        raise ValueError(f"state has {what} of {v.numel()} entries, this problem has {like.numel()} parameters")
    return v


def _encode_number(value: Any) -> tuple[Tensor, int]:
    """A Python int / float or a 0-d tensor as (float64 0-d tensor, kind) — exact for all three."""
    if isinstance(value, Tensor):
        return value.detach().to(device="cpu", dtype=torch.float64).reshape(()).clone(), _TENSOR
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64), _INT
    return torch.tensor(float(value), dtype=torch.float64), _FLOAT


def _decode_number(value: Any, kind: Any, like: Tensor) -> Any:
    kind = int(kind)
    number = float(np.asarray(value.detach().cpu() if isinstance(value, Tensor) else value).reshape(()))
    if kind == _TENSOR:
        return torch.tensor(number, dtype=like.dtype, device=like.device)
    return int(number) if kind == _INT else number


def _loss_and_grad(model: ResidualFunction, x: Tensor) -> tuple[Tensor, Tensor]:
    """L = ‖r(x)‖² and ∇L at ``x`` (a leaf tensor or a plain one), both detached."""
    leaf = x if x.requires_grad and x.is_leaf else x.detach().requires_grad_(True)
    with torch.enable_grad():
        r = model.residual(leaf)
        if not isinstance(r, Tensor) or r.ndim != 1:
            shape = tuple(r.shape) if isinstance(r, Tensor) else type(r).__name__
            raise ValueError(f"residual(theta) must return a 1-D tensor, got {shape}")
        if not r.requires_grad:
            raise ValueError("residual(theta) does not depend on theta through autograd; cannot compute the gradient")
        loss = torch.dot(r, r)
        (grad,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), grad.detach()


def _check_finite(name: str, loss: float, iteration: int) -> None:
    if not math.isfinite(loss):
        where = "at the starting point (iteration 0)" if iteration == 0 else f"at iteration {iteration}"
        raise FloatingPointError(
            f"{name}: the loss is not finite ({loss}) {where}; try a smaller learning rate, float64, or "
            "another initialisation")


# -- Adam ----------------------------------------------------------------------------------------------

class Adam:
    """``torch.optim.Adam`` on the flat parameter vector; one parameter update per :meth:`step`."""

    name = "adam"

    def __init__(self, model: ResidualFunction, x0: Tensor, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.model = model
        self._x = _start_vector(x0).requires_grad_(True)
        self._opt = torch.optim.Adam([self._x], lr=lr, betas=tuple(betas), eps=eps)
        self.iteration = 0
        self.evaluations = 0
        self._cache: tuple[Tensor, Tensor] | None = None  # (loss, grad) at the current x

    @property
    def x(self) -> Tensor:
        return self._x.detach()

    def _evaluate(self) -> tuple[Tensor, Tensor]:
        if self._cache is None:
            loss, grad = _loss_and_grad(self.model, self._x)
            self.evaluations += 1
            _check_finite(self.name, float(loss), self.iteration)
            self._cache = (loss, grad)
        return self._cache

    def step(self) -> StepReport:
        """One Adam update; the loss (and gradient) at the new parameters are evaluated once."""
        before = self.evaluations
        _, grad = self._evaluate()
        self._x.grad = grad.clone()
        self._opt.step()
        self._x.grad = None
        self._cache = None
        self.iteration += 1
        loss, _ = self._evaluate()
        return StepReport(loss=float(loss), evaluations=self.evaluations - before)

    def refresh(self) -> None:
        self._cache = None

    def state_dict(self) -> dict[str, Any]:
        """Parameters, the moment estimates, the step count and the cached loss / gradient."""
        st = self._opt.state.get(self._x, {})
        empty = self._x.new_zeros(0).detach()
        has_moments = "exp_avg" in st
        return {
            "x": self.x.clone(),
            "iteration": self.iteration,
            "evaluations": self.evaluations,
            "step": int(float(st["step"])) if "step" in st else 0,
            "exp_avg": st["exp_avg"].detach().clone() if has_moments else empty.clone(),
            "exp_avg_sq": st["exp_avg_sq"].detach().clone() if has_moments else empty.clone(),
            "loss": float(self._cache[0]) if self._cache is not None else math.nan,
            "grad": self._cache[1].clone() if self._cache is not None else empty.clone(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        x = _vector(state["x"], self._x, "x")
        with torch.no_grad():
            self._x.copy_(x)
        self.iteration, self.evaluations = int(state["iteration"]), int(state["evaluations"])
        exp_avg = _tensor(state["exp_avg"], self._x).reshape(-1)
        self._opt.state.clear()
        if exp_avg.numel():
            step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
            self._opt.state[self._x] = {
                "step": torch.tensor(float(int(state["step"])), dtype=step_dtype),
                "exp_avg": _vector(exp_avg, self._x, "exp_avg"),
                "exp_avg_sq": _vector(state["exp_avg_sq"], self._x, "exp_avg_sq"),
            }
        grad = _tensor(state["grad"], self._x).reshape(-1)
        self._cache = None
        if grad.numel():
            self._cache = (torch.tensor(float(state["loss"]), dtype=self._x.dtype, device=self._x.device),
                           _vector(grad, self._x, "grad"))


# -- L-BFGS --------------------------------------------------------------------------------------------

_LBFGS_NUMBERS = ("t", "H_diag")


class LBFGS:
    """``torch.optim.LBFGS`` (strong-Wolfe line search), one outer iteration per :meth:`step`.

    ``lr`` is torch's initial step length, ``max_ls`` the most line-search evaluations per step. The
    loss and gradient at the accepted point are taken from the line search's own evaluation when it
    ended there (the usual case), else evaluated once; the next step starts from them.
    """

    name = "lbfgs"

    def __init__(self, model: ResidualFunction, x0: Tensor, lr: float = 1.0, history_size: int = 50,
                 max_ls: int = 25, tolerance_grad: float = 0.0, tolerance_change: float = 0.0) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if history_size < 1:
            raise ValueError(f"history_size must be >= 1, got {history_size}")
        if max_ls < 1:
            raise ValueError(f"max_ls must be >= 1, got {max_ls}")
        self.model = model
        self._x = _start_vector(x0).requires_grad_(True)
        self._opt = torch.optim.LBFGS([self._x], lr=lr, max_iter=1, max_eval=1 + max_ls,
                                      history_size=history_size, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, line_search_fn="strong_wolfe")
        self.history_size = history_size
        self.iteration = 0
        self.evaluations = 0
        self._cache: tuple[Tensor, Tensor] | None = None  # (loss, grad) at the current x
        self._use_cache = False
        self._seen: list[tuple[Tensor, Tensor, Tensor]] = []  # (x, loss, grad) of this step's evaluations

    @property
    def x(self) -> Tensor:
        return self._x.detach()

    def _closure(self) -> Tensor:
        if self._use_cache and self._cache is not None:
            self._use_cache = False
            loss, grad = self._cache
        else:
            self._use_cache = False
            loss, grad = _loss_and_grad(self.model, self._x)
            self.evaluations += 1
            self._seen.append((self._x.detach().clone(), loss, grad))
        self._x.grad = grad.clone()
        return loss.clone()

    def step(self) -> StepReport:
        """One L-BFGS iteration (direction from the memory, strong-Wolfe line search, memory update)."""
        before = self.evaluations
        if self._cache is None:  # the starting point, or after refresh(): check it before moving
            loss, grad = _loss_and_grad(self.model, self._x)
            self.evaluations += 1
            _check_finite(self.name, float(loss), self.iteration)
            self._cache = (loss, grad)
        start = self._x.detach().clone()
        self._use_cache, self._seen = True, []
        self._opt.step(self._closure)
        self._x.grad = None
        self.iteration += 1
        x = self._x.detach()
        if torch.equal(x, start):  # converged or no acceptable step: still at the cached point
            found = self._cache
        else:
            found = next(((loss, grad) for xs, loss, grad in reversed(self._seen) if torch.equal(xs, x)), None)
            if found is None:
                found = _loss_and_grad(self.model, self._x)
                self.evaluations += 1
        self._seen = []
        self._cache = found
        _check_finite(self.name, float(found[0]), self.iteration)
        return StepReport(loss=float(found[0]), evaluations=self.evaluations - before)

    def refresh(self) -> None:
        self._cache = None

    def state_dict(self) -> dict[str, Any]:
        """Parameters, torch's L-BFGS memory (stacked into fixed-key tensors) and the cached loss."""
        st = self._opt.state.get(self._x, {})
        n, like = self._x.numel(), self._x.detach()
        started = "d" in st
        empty = like.new_zeros(0)
        out: dict[str, Any] = {
            "x": like.clone(),
            "iteration": self.iteration,
            "evaluations": self.evaluations,
            "func_evals": int(st.get("func_evals", 0)),
            "n_iter": int(st.get("n_iter", 0)),
            "started": started,
            "d": st["d"].detach().clone() if started else empty.clone(),
            "prev_flat_grad": st["prev_flat_grad"].detach().clone() if started else empty.clone(),
            "prev_loss": float(st["prev_loss"]) if started else math.nan,
            "old_dirs": torch.stack(st["old_dirs"]).detach().clone() if started and st["old_dirs"]
            else like.new_zeros(0, n),
            "old_stps": torch.stack(st["old_stps"]).detach().clone() if started and st["old_stps"]
            else like.new_zeros(0, n),
            "ro": torch.stack([torch.as_tensor(v, dtype=like.dtype) for v in st["ro"]]).detach().clone()
            if started and st["ro"] else empty.clone(),
            "loss": float(self._cache[0]) if self._cache is not None else math.nan,
            "grad": self._cache[1].clone() if self._cache is not None else empty.clone(),
        }
        for key in _LBFGS_NUMBERS:
            value, kind = _encode_number(st[key]) if started else (torch.tensor(math.nan, dtype=torch.float64), _FLOAT)
            out[key], out[f"{key}_kind"] = value, kind
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        like = self._x.detach()
        x = _vector(state["x"], like, "x")
        with torch.no_grad():
            self._x.copy_(x)
        self.iteration, self.evaluations = int(state["iteration"]), int(state["evaluations"])
        self._opt.state.clear()
        st: dict[str, Any] = {"func_evals": int(state["func_evals"]), "n_iter": int(state["n_iter"])}
        if bool(state["started"]):
            dirs = _tensor(state["old_dirs"], like).reshape(-1, like.numel())
            stps = _tensor(state["old_stps"], like).reshape(-1, like.numel())
            ro = _tensor(state["ro"], like).reshape(-1)
            if not dirs.shape[0] == stps.shape[0] == ro.shape[0]:
                raise ValueError("inconsistent L-BFGS memory in the state (old_dirs, old_stps, ro lengths differ)")
            st.update({
                "d": _vector(state["d"], like, "d"),
                "prev_flat_grad": _vector(state["prev_flat_grad"], like, "prev_flat_grad"),
                "prev_loss": float(state["prev_loss"]),
                "old_dirs": [v.clone() for v in dirs], "old_stps": [v.clone() for v in stps],
                "ro": [v.clone() for v in ro],
            })
            for key in _LBFGS_NUMBERS:
                st[key] = _decode_number(state[key], state[f"{key}_kind"], like)
        self._opt.state[self._x] = st
        grad = _tensor(state["grad"], like).reshape(-1)
        self._cache = None
        if grad.numel():
            self._cache = (torch.tensor(float(state["loss"]), dtype=like.dtype, device=like.device),
                           _vector(grad, like, "grad"))


# -- BFGS ----------------------------------------------------------------------------------------------

class _NonFiniteTrial(Exception):
    """A line-search trial point gave a non-finite loss (handled by backtracking)."""

    def __init__(self, t: Any) -> None:
        super().__init__(t)
        self.t = t


class BFGS:
    """Dense BFGS on the inverse Hessian H with a strong-Wolfe line search.

    Update (skipped when yᵀs ≤ ``curvature_eps``·‖y‖‖s‖):  H ← (I − ρsyᵀ) H (I − ρysᵀ) + ρssᵀ, ρ = 1/yᵀs;
    before the first update H = (yᵀs / yᵀy)·I. The first trial step is min(1, 1/‖g‖₁)·``lr`` along −g,
    later ones ``lr`` along −Hg. When −Hg is not a descent direction (H spoiled by rounding) H is reset to
    I; when a trial point's loss is not finite the step is halved until it is (backtracking, Armijo).
    Memory is n² numbers, so this is for small networks (a few thousand parameters).
    """

    name = "bfgs"

    def __init__(self, model: ResidualFunction, x0: Tensor, lr: float = 1.0, max_ls: int = 25,
                 c1: float = 1e-4, c2: float = 0.9, curvature_eps: float | None = None) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not 0 < c1 < c2 < 1:
            raise ValueError(f"need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
        if max_ls < 1:
            raise ValueError(f"max_ls must be >= 1, got {max_ls}")
        self.model = model
        self.lr, self.max_ls, self.c1, self.c2 = float(lr), int(max_ls), float(c1), float(c2)
        self._x = _start_vector(x0)
        self.curvature_eps = torch.finfo(self._x.dtype).eps if curvature_eps is None else float(curvature_eps)
        n = self._x.numel()
        self._H = torch.eye(n, dtype=self._x.dtype, device=self._x.device)
        self._scaled = False  # H still the unscaled identity
        self._f = math.nan
        self._g: Tensor | None = None
        self.iteration = 0
        self.evaluations = 0
        self.updates_skipped = 0

    @property
    def x(self) -> Tensor:
        return self._x

    def _evaluate(self, x: Tensor) -> tuple[float, Tensor]:
        loss, grad = _loss_and_grad(self.model, x)
        self.evaluations += 1
        return float(loss), grad

    def _trial(self, x: Tensor, t: Any, d: Tensor) -> tuple[float, Tensor]:
        f, g = self._evaluate(x + t * d)
        if not (math.isfinite(f) and bool(torch.isfinite(g).all())):
            raise _NonFiniteTrial(t)
        return f, g

    def _backtrack(self, t: Any, d: Tensor, gtd: float) -> tuple[float, Tensor | None, Any]:
        """Halve t (from a step whose loss was not finite) until the loss is finite and decreases enough."""
        t = float(t)
        for _ in range(self.max_ls + 30):
            t *= 0.5
            f, g = self._evaluate(self._x + t * d)
            if math.isfinite(f) and bool(torch.isfinite(g).all()) and f <= self._f + self.c1 * t * gtd:
                return f, g, t
        return math.nan, None, 0.0

    def _reset(self) -> None:
        self._H = torch.eye(self._x.numel(), dtype=self._x.dtype, device=self._x.device)
        self._scaled = False

    def step(self) -> StepReport:
        """One BFGS iteration: d = −Hg, strong-Wolfe line search, inverse-Hessian update."""
        before = self.evaluations
        if self._g is None:  # the starting point, or after refresh()
            self._f, self._g = self._evaluate(self._x)
            _check_finite(self.name, self._f, self.iteration)
        self.iteration += 1
        g = self._g
        if not bool(g.any()):  # exactly stationary: nothing to do
            return StepReport(loss=self._f, evaluations=self.evaluations - before)
        d = -(self._H @ g)
        gtd = g.dot(d)
        if not gtd < 0:
            self._reset()
            d = -g
            gtd = g.dot(d)
        t0 = self.lr if self._scaled else min(1.0, 1.0 / float(g.abs().sum())) * self.lr
        try:
            f_new, g_new, t, _ = _strong_wolfe(self._trial, self._x, t0, d, self._f, g, gtd,
                                               c1=self.c1, c2=self.c2, max_ls=self.max_ls)
        except _NonFiniteTrial as err:
            f_new, g_new, t = self._backtrack(err.t, d, float(gtd))
        if g_new is None or not f_new < self._f or float(t) == 0.0:
            # no decrease along d: restart from steepest descent next time, stay at x
            self._reset()
            return StepReport(loss=self._f, evaluations=self.evaluations - before)
        x_new = self._x + t * d
        s, y = x_new - self._x, g_new - g
        ys = float(y.dot(s))
        if ys > self.curvature_eps * float(y.norm()) * float(s.norm()):
            if not self._scaled:
                self._H = torch.eye(s.numel(), dtype=s.dtype, device=s.device) * (ys / float(y.dot(y)))
                self._scaled = True
            rho = 1.0 / ys
            hy = self._H @ y
            a = torch.outer(hy, s)
            self._H = self._H - rho * (a + a.T) + (rho * rho * float(y.dot(hy)) + rho) * torch.outer(s, s)
        else:
            self.updates_skipped += 1
        self._x, self._f, self._g = x_new, f_new, g_new
        _check_finite(self.name, self._f, self.iteration)
        return StepReport(loss=self._f, evaluations=self.evaluations - before)

    def refresh(self) -> None:
        self._g = None
        self._f = math.nan

    def state_dict(self) -> dict[str, Any]:
        """Parameters, loss and gradient there, the inverse Hessian and the counters."""
        empty = self._x.new_zeros(0)
        return {
            "x": self._x.clone(), "H": self._H.clone(), "scaled": self._scaled,
            "loss": self._f if self._g is not None else math.nan,
            "grad": self._g.clone() if self._g is not None else empty,
            "iteration": self.iteration, "evaluations": self.evaluations, "updates_skipped": self.updates_skipped,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._x = _vector(state["x"], self._x, "x")
        n = self._x.numel()
        H = _tensor(state["H"], self._x)
        if H.shape != (n, n):
            raise ValueError(f"state has an inverse Hessian of shape {tuple(H.shape)}, expected ({n}, {n})")
        self._H, self._scaled = H, bool(state["scaled"])
        grad = _tensor(state["grad"], self._x).reshape(-1)
        self._g = _vector(grad, self._x, "grad") if grad.numel() else None
        self._f = float(state["loss"]) if self._g is not None else math.nan
        self.iteration, self.evaluations = int(state["iteration"]), int(state["evaluations"])
        self.updates_skipped = int(state.get("updates_skipped", 0))


# -- factory -------------------------------------------------------------------------------------------

OPTIMIZERS: dict[str, Callable[..., Any]] = {"adam": Adam, "bfgs": BFGS, "lbfgs": LBFGS}


def make_optimizer(name: str, model: ResidualFunction, x0: Tensor, **opts: Any) -> Adam | LBFGS | BFGS:
    """The baseline ``name`` ("adam", "lbfgs" or "bfgs") on ``model`` from ``x0``; ``opts`` go to its
    constructor (for example ``lr``). Unknown names or options raise ValueError listing the choices."""
    key = name.lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(sorted(OPTIMIZERS))}")
    cls = OPTIMIZERS[key]
    accepted = [p for p in inspect.signature(cls).parameters if p not in ("model", "x0")]
    unknown = sorted(set(opts) - set(accepted))
    if unknown:
        raise ValueError(f"{key} does not take option(s) {', '.join(unknown)}; it accepts {', '.join(accepted)}")
    return cls(model, x0, **opts)
