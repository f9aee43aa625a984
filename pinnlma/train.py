"""``solve``: run one optimizer on one problem — the loop, progress, time limit, checkpoints, resume.

The loop is the same for every optimizer (LM through the core, Adam / L-BFGS / BFGS through
:mod:`pinnlma.baselines`); each iteration records loss = Σ_b w_b·mean(raw_b²) (= ‖r‖²), per-block
losses, the relative L2 error on the evaluation points, the damping (LM) and the elapsed time.
"""
from __future__ import annotations

import ast
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import __version__
from .baselines import StepReport, make_optimizer
from .io import RunRecord, read_run, save_checkpoint, write_run
from .lm.core import LMCore, LMOptions, StopReason
from .pinn.assembler import ResidualAssembler
from .pinn.geometry import Sampler
from .pinn.models import MLP
from .pinn.problem import Problem
from .progress import ProgressDisplay

OPTIMIZERS = ("lm", "adam", "lbfgs", "bfgs")
DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass
class RunConfig:
    """How to run: optimizer and its options, limits, seed, precision, backend."""

    optimizer: str = "lm"
    backend: str = "torch"
    dtype: str = "float64"
    iters: int | None = None
    time_limit: float | None = None
    seed: int = 0
    lr: float | None = None
    damping: str = "nielsen"
    geodesic: bool = False
    jacobian: str = "auto"
    eval_every: int | None = None
    checkpoint_every: int = 50
    devices: tuple[str, ...] | None = None  # torch devices computing Jacobian slices (replicas)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; choose float64 or float32")
        if self.iters is not None and self.iters < 0:
            raise ValueError(f"iters must be >= 0, got {self.iters}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time limit must be positive seconds, got {self.time_limit}")
        if self.backend != "torch" and self.optimizer != "lm":
            raise ValueError(f"backend {self.backend!r} applies to the lm optimizer only")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be a whole number from 0 to 2**63 - 1, got {self.seed}")
        for device in self.devices or ():
            check_device(device)


def check_device(name: str) -> torch.device:
    """A torch device this machine has, or ValueError saying what is wrong with ``name``."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r} in --devices ({err}); use e.g. cpu or cuda:0") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ValueError(f"device {name!r} is not available: this machine has {count} CUDA device(s)")
    elif device.type != "cpu":
        raise ValueError(f"device {name!r}: only cpu and cuda devices compute Jacobian slices")
    return device


class SetupError(ValueError):
    """The problem, network or optimizer could not be set up (bad options, or a residual that fails at
    the start): nothing was trained."""


class _StopAtIterationEnd:
    """While active in the main thread, a first Ctrl-C asks the loop to stop after the iteration that is
    running (so the saved checkpoint is that of a finished iteration and resumes exactly); a second one
    aborts at once, without saving. Elsewhere (other threads, custom SIGINT handlers) it does nothing."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopAtIterationEnd:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise _AbortNow
        self.requested = True
        print("\npinnlma: stopping after this iteration (Ctrl-C again to abort without saving)", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _AbortNow(KeyboardInterrupt):
    """A second Ctrl-C: the iteration was cut short, so its state is not saved."""


@dataclass
class RunResult:
    record: RunRecord
    theta: Tensor
    assembler: ResidualAssembler
    status: str

    @property
    def rel_l2(self) -> float:
        return float(self.record.attrs["final_rel_l2"])

    @property
    def loss(self) -> float:
        return float(self.record.attrs["final_loss"])


class _LMAdapter:
    """The LM core behind the same step/state interface as the baselines."""

    name = "lm"

    def __init__(self, assembler: ResidualAssembler, x0: Tensor, config: RunConfig) -> None:
        options = LMOptions(max_iter=10**12, geodesic=config.geodesic, ftol=0.0, xtol=0.0, gtol=0.0)
        self.core = LMCore(assembler, x0, damping=config.damping, backend=config.backend, options=options)

    @property
    def x(self) -> Tensor:
        return self.core.state.x

    def step(self) -> StepReport:
        before = self.core.state.nfev
        status = self.core.step()
        self.stop_reason = status
        return StepReport(loss=2 * self.core.state.cost, damping=self.core.damping.lam,
                          evaluations=self.core.state.nfev - before, residual=self.core.state.r)

    def refresh(self) -> None:
        self.core.refresh()

    def state_dict(self) -> dict[str, Any]:
        return self.core.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.core.load_state_dict(state)


def build_model(problem: Problem, dtype: torch.dtype) -> MLP:
    settings = {"width": 20, "depth": 3, "activation": "tanh", **problem.model}
    bounds = [tuple(map(float, b)) for b in problem.domain.bounds]
    return MLP(problem.domain.dim, problem.outputs, dtype=dtype, input_range=bounds, **settings)


def relative_l2(prediction: np.ndarray, reference: np.ndarray | None) -> float:
    if reference is None:
        return math.nan
    return float(np.linalg.norm(prediction - reference) / max(np.linalg.norm(reference), 1e-300))


def _to_numpy_tree(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, dict):
        return {str(k): _to_numpy_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(v, (int, float)) for v in obj):
        return np.asarray(obj, dtype=np.float64)
    if isinstance(obj, (list, tuple)):
        return {f"item{i}": _to_numpy_tree(v) for i, v in enumerate(obj)}
    return obj


def _from_numpy_tree(obj: Any, like: Any) -> Any:
    """Inverse of _to_numpy_tree guided by a live state dict ``like`` (types taken from it)."""
    if isinstance(like, Tensor):
        return torch.as_tensor(np.asarray(obj)).to(like)
    if isinstance(like, dict):
        return {k: _from_numpy_tree(obj[str(k)], v) if str(k) in obj else v for k, v in like.items()}
    if isinstance(like, (list, tuple)) and like and all(isinstance(v, (int, float)) for v in like):
        return [float(v) for v in np.asarray(obj)]
    if isinstance(like, (list, tuple)):
        return type(like)(_from_numpy_tree(obj[f"item{i}"], v) for i, v in enumerate(like))
    if isinstance(like, bool):
        return bool(obj)
    if isinstance(like, int):
        return int(obj)
    if isinstance(like, float):
        return float(obj)
    if isinstance(like, str) and isinstance(obj, bytes):
        return obj.decode()
    return obj


def _lm_state_from_numpy(state: dict[str, Any]) -> dict[str, Any]:
    """LMCore.state_dict from its HDF5 form (shapes are known; no live template needed)."""
    out = dict(state)
    out["x"] = torch.as_tensor(np.asarray(state["x"]))
    out["history"] = {k: [float(v) for v in np.asarray(a).reshape(-1)] for k, a in state["history"].items()}
    damping = dict(state["damping"])
    scaling = damping.get("scaling") or {}
    damping["scaling"] = {k: (None if v is None else torch.as_tensor(np.asarray(v))) for k, v in scaling.items()}
    out["damping"] = damping
    for key in ("iteration", "nfev", "njev", "fallback_solves"):
        out[key] = int(state[key])
    out["first"] = bool(state["first"])
    out["status"] = state["status"].decode() if isinstance(state["status"], bytes) else str(state["status"])
    return out


@dataclass
class _Loop:
    problem: Problem
    config: RunConfig
    assembler: ResidualAssembler
    optimizer: Any
    eval_points: np.ndarray
    reference: np.ndarray | None
    history: dict[str, list[float]] = field(default_factory=dict)
    elapsed: float = 0.0
    iteration: int = 0


def solve(
    problem: Problem,
    config: RunConfig | None = None,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    resume: str | Path | None = None,
    progress: bool | None = None,
    callback: Callable[[int, dict[str, float]], bool | None] | None = None,
) -> RunResult:
    """Train a PINN for ``problem`` and return the run (and write it to ``out`` if given).

    ``resume`` continues a run from its HDF5 file exactly where it stopped (parameters, optimizer and
    damping state, sampler state and points); iteration and time limits count from the original start.
    ``progress`` None = a live line when stderr is a terminal, silent otherwise.
    """
    config = config or RunConfig()
    saved = read_run(resume) if resume is not None else None
    if saved is not None:
        _check_compatible(saved, problem, config)
        # the seed drew the initial weights and points, which now come from the file: record the saved one
        config = replace(config, seed=int(saved.attrs.get("seed", config.seed)))
    if out is not None:
        out = Path(out)
        same_file = resume is not None and Path(resume).resolve() == out.resolve()
        if out.exists() and not (overwrite or same_file):
            raise FileExistsError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    try:
        loop = _set_up(problem, config)
    except (ValueError, FloatingPointError) as err:
        raise SetupError(str(err)) from err
    assembler, optimizer, reference = loop.assembler, loop.optimizer, loop.reference
    if saved is not None:
        n_saved = len(saved.params)
        if n_saved != len(optimizer.x):
            raise ResumeError(f"cannot resume: the run file has {n_saved} parameters, this network has "
                              f"{len(optimizer.x)}; use the same --width/--depth/--activation as the saved run")
        _check_same_residuals(saved, assembler)
        _restore(loop, saved)
    else:
        _record(loop, float(assembler.loss(assembler.residual(optimizer.x))), math.nan)
    iters = config.iters if config.iters is not None else int(problem.run.get("iters", 1000))
    time_limit = config.time_limit if config.time_limit is not None else problem.run.get("time_limit")
    eval_every = config.eval_every or (1 if config.optimizer in ("lm", "bfgs") else 10)
    display = ProgressDisplay(enabled=progress, title=f"{problem.name} · {config.optimizer}")
    status = "running"
    stop = _StopAtIterationEnd()
    try:
        with display, stop:
            while True:
                if loop.iteration >= iters:
                    status = "max_iter"
                    break
                if time_limit is not None and loop.elapsed >= time_limit:
                    status = "time_limit"
                    break
                started = time.perf_counter()
                if problem.resample_every and loop.iteration and loop.iteration % problem.resample_every == 0:
                    assembler.sample()
                    if hasattr(optimizer, "refresh"):
                        optimizer.refresh()
                report = optimizer.step()
                loop.elapsed += time.perf_counter() - started
                loop.iteration += 1
                evaluate = loop.iteration % eval_every == 0 or loop.iteration >= iters
                _record(loop, report.loss, report.damping, evaluate=evaluate, residual=report.residual)
                metrics = {k: v[-1] for k, v in loop.history.items()}
                display.update(metrics)
                if out is not None and config.checkpoint_every and loop.iteration % config.checkpoint_every == 0:
                    save_checkpoint(out, _make_record(loop, "running"))
                if callback is not None and callback(loop.iteration, metrics):
                    status = "callback"
                    break
                reason = getattr(optimizer, "stop_reason", StopReason.RUNNING)
                if reason is not StopReason.RUNNING:
                    status = reason.value
                    break
                if stop.requested:
                    raise KeyboardInterrupt
    except _AbortNow:
        raise
    except KeyboardInterrupt:
        status = "interrupted"
        if out is not None:
            save_checkpoint(out, _make_record(loop, status))
        raise
    if not math.isfinite(loop.history["rel_l2"][-1]) and reference is not None:
        for key, value in _errors(loop).items():
            loop.history[key][-1] = value
    record = _make_record(loop, status)
    if out is not None:
        if saved is not None or out.exists():
            save_checkpoint(out, record)
        else:
            write_run(out, record, overwrite=overwrite)
    assembler.write_back(optimizer.x)
    return RunResult(record, optimizer.x.detach().clone(), assembler, status)


def _set_up(problem: Problem, config: RunConfig) -> _Loop:
    """Network, sampler, residual assembler and optimizer, all from ``config.seed``."""
    dtype = DTYPES[config.dtype]
    torch.manual_seed(config.seed)
    model = build_model(problem, dtype)
    sampler = Sampler(problem.sampling, seed=config.seed)
    assembler = ResidualAssembler(problem, model, sampler=sampler, dtype=dtype, jacobian=config.jacobian,
                                  devices=config.devices)
    x0 = assembler.initial_parameters()
    if config.optimizer == "lm":
        optimizer = _LMAdapter(assembler, x0, config)
    else:
        options = {"lr": config.lr} if config.lr is not None else {}
        optimizer = make_optimizer(config.optimizer, assembler, x0, **options)
    eval_points, reference = problem.evaluation()
    return _Loop(problem, config, assembler, optimizer, eval_points, reference)


def _error_keys(problem: Problem) -> list[str]:
    names = problem.output_names
    return ["rel_l2"] + ([f"rel_l2/{name}" for name in names] if len(names) > 1 else [])


def _errors(loop: _Loop, prediction: np.ndarray | None = None) -> dict[str, float]:
    """rel_l2 over all outputs jointly, and per output ("rel_l2/<name>") when there are several."""
    if prediction is None:
        prediction = loop.assembler.predict(loop.optimizer.x, loop.eval_points)
    out = {"rel_l2": relative_l2(prediction, loop.reference)}
    for i, key in enumerate(_error_keys(loop.problem)[1:]):
        out[key] = relative_l2(prediction[:, i], None if loop.reference is None else loop.reference[:, i])
    return out


def _record(loop: _Loop, loss: float, damping: float, evaluate: bool = True, residual: Tensor | None = None) -> None:
    """Append one history row; the per-block losses come from ``residual`` (r at the current parameters)
    when the optimizer has it, which saves a residual evaluation with all its derivatives."""
    h = loop.history
    blocks = loop.assembler.block_losses(loop.optimizer.x, residual)
    row = {"iteration": loop.iteration, "time": loop.elapsed, "loss": loss, "damping": damping}
    row.update(_errors(loop) if evaluate else dict.fromkeys(_error_keys(loop.problem), math.nan))
    row.update({f"loss/{name}": value for name, value in blocks.items()})
    for key, value in loop.assembler.coefficients(loop.optimizer.x).items():
        row[f"param/{key}"] = value
    before = len(h.get("iteration", ()))
    for key, value in row.items():  # a series new to a resumed history starts with NaN
        h.setdefault(key, [math.nan] * before).append(float(value))


def _make_record(loop: _Loop, status: str) -> RunRecord:
    p, c, a = loop.problem, loop.config, loop.assembler
    prediction = a.predict(loop.optimizer.x, loop.eval_points)
    finite = [v for v in loop.history["rel_l2"] if math.isfinite(v)]
    attrs = {
        "problem": p.name, "optimizer": c.optimizer, "backend": c.backend, "dtype": c.dtype, "seed": c.seed,
        "n_params": a.n_params, "n_residuals": a.n_residuals, "status": status,
        "final_loss": loop.history["loss"][-1], "final_rel_l2": relative_l2(prediction, loop.reference),
        "pinnlma_version": __version__, "iterations": loop.iteration, "elapsed": loop.elapsed,
        "jacobian": a.jacobian, "coordinates": ",".join(p.domain.names), "output_names": ",".join(p.output_names),
        "best_rel_l2": min(finite) if finite else math.nan,
        "config": repr(asdict(c)),
        "model": json.dumps({"width": 20, "depth": 3, "activation": "tanh", **p.model}, sort_keys=True, default=str),
        "blocks": json.dumps({b.name: b.n_rows for b in a.blocks}),
        "backend_info": loop.optimizer.core.backend.describe() if isinstance(loop.optimizer, _LMAdapter) else "torch",
    }
    attrs.update({f"param_{k}": v for k, v in a.coefficients(loop.optimizer.x).items()})
    attrs.update({f"extra_rel_l2_{k}": v for k, v in p.extra_errors(lambda x: a.predict(loop.optimizer.x, x)).items()})
    if len(p.output_names) > 1:
        errors = _errors(loop, prediction)
        attrs.update({f"final_rel_l2_{name}": errors[f"rel_l2/{name}"] for name in p.output_names})
    resume = {
        "optimizer": _to_numpy_tree(loop.optimizer.state_dict()),
        "sampler": _to_numpy_tree(a.sampler.state_dict()),
        "torch_rng": torch.get_rng_state().numpy(),
        "points": {b.name: {f"group{i}": g.cpu().numpy() for i, g in enumerate(b.groups)} for b in a.blocks},
        "extras": {b.name: {f"group{i}": {k: v.cpu().numpy() for k, v in e.items()} for i, e in enumerate(b.extras)}
                   for b in a.blocks},
    }
    return RunRecord(
        attrs=attrs,
        history={k: np.asarray(v) for k, v in loop.history.items()},
        params=loop.optimizer.x.detach().cpu().numpy(),
        solution={"inputs": loop.eval_points, "prediction": prediction,
                  **({"reference": loop.reference} if loop.reference is not None else {})},
        resume=resume,
    )


class ResumeError(ValueError):
    """A run file that cannot continue this run (another problem, optimizer, dtype or network size)."""


def _check_compatible(saved: RunRecord, problem: Problem, config: RunConfig) -> None:
    a = saved.attrs
    for key, want in (("problem", problem.name), ("optimizer", config.optimizer), ("dtype", config.dtype)):
        if str(a[key]) != str(want):
            raise ResumeError(f"cannot resume: the run file has {key}={a[key]!r}, this run asks for {want!r}")
    missing = [k for k in ("optimizer", "sampler", "torch_rng", "points", "extras") if k not in saved.resume]
    if missing:
        raise ResumeError(f"cannot resume: the run file has no resume state ({', '.join(missing)} missing); it was "
                          "not written by `pinnlma run`, so start a new run")
    damping = _saved_config(saved).get("damping")
    if config.optimizer == "lm" and damping is not None and damping != config.damping:
        raise ResumeError(f"cannot resume: the run used --damping {damping}, this run asks for {config.damping}; "
                          "the saved damping state belongs to that rule")


def _saved_config(saved: RunRecord) -> dict[str, Any]:
    """The RunConfig fields a run file recorded (empty for files without them)."""
    try:
        config = ast.literal_eval(str(saved.attrs.get("config", "{}")))
    except (ValueError, SyntaxError):
        return {}
    return config if isinstance(config, dict) else {}


def _check_same_residuals(saved: RunRecord, assembler: ResidualAssembler) -> None:
    m_saved = int(saved.attrs.get("n_residuals", assembler.n_residuals))
    if m_saved != assembler.n_residuals:
        raise ResumeError(f"cannot resume: the run file has {m_saved} residual rows, this problem has "
                          f"{assembler.n_residuals}; use the same --quick/--points/--boundary-points as the saved run")


def _restore(loop: _Loop, saved: RunRecord) -> None:
    a = loop.assembler
    blocks = {b.name: b for b in a.blocks}
    for name, groups in saved.resume["points"].items():
        if name not in blocks:
            raise ResumeError(f"cannot resume: block {name!r} of the run file is not in this problem")
        block = blocks[name]
        block.groups = [a._tensor(groups[f"group{i}"]) for i in range(len(block.groups))]
        block.extras = [{k: a._tensor(v) for k, v in saved.resume["extras"][name][f"group{i}"].items()}
                        for i in range(len(block.groups))]
    a.sampler.load_state_dict(_from_numpy_tree(saved.resume["sampler"], a.sampler.state_dict()))
    torch.set_rng_state(torch.as_tensor(saved.resume["torch_rng"], dtype=torch.uint8))
    state = saved.resume["optimizer"]
    if isinstance(loop.optimizer, _LMAdapter):
        loop.optimizer.load_state_dict(_lm_state_from_numpy(state))
    else:
        loop.optimizer.load_state_dict(_from_numpy_tree(state, loop.optimizer.state_dict()))
    loop.history = {k: [float(x) for x in v] for k, v in saved.history.items()}
    loop.iteration = int(saved.attrs["iterations"])
    loop.elapsed = float(saved.attrs["elapsed"])
