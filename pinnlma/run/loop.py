"""``solve``: run one optimizer on one problem — the loop, progress, time limit, checkpoints, resume.

The loop is the same for every optimizer of :data:`pinnlma.optim.OPTIMIZERS`; each iteration records
loss = Σ_b w_b·mean(raw_b²) (= ‖r‖²), per-block losses, the relative L2 error on the evaluation points,
the damping (LM) and the elapsed time. What goes into the run file and how a run resumes is
:mod:`pinnlma.run.checkpoint`; Ctrl-C handling is :mod:`pinnlma.run.interrupt`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from torch import Tensor

from ..backends import get_backend
from ..optim import make_optimizer
from ..pinn.assembler import ResidualAssembler
from ..pinn.problem import Problem
from ..pinn.setup import build_assembler
from ..ranks import RowPartition, is_writer, process_rank
from .checkpoint import ResumeError, RunState, check_compatible, error_keys, make_record, output_errors, restore
from .config import RunConfig, check_problem_run
from .interrupt import AbortNow, StopAtIterationEnd
from .io import RunRecord, read_run, save_checkpoint, write_run
from .march import run_windows, window_converged, window_limits, window_problem
from .progress import ProgressDisplay

__all__ = ["ResumeError", "RunResult", "SetupError", "solve"]


class SetupError(ValueError):
    """The problem, network or optimizer could not be set up (bad options, or a residual that fails at
    the start): nothing was trained."""


@dataclass
class RunResult:
    """A finished run: its record (what the run file holds), the final parameters, the assembler, the status."""

    record: RunRecord
    theta: Tensor
    assembler: ResidualAssembler
    status: str

    @property
    def rel_l2(self) -> float:
        """The final relative L2 error (NaN without a reference)."""
        return float(self.record.attrs["final_rel_l2"])

    @property
    def loss(self) -> float:
        """The final loss Σ_b w_b·mean(raw_b²)."""
        return float(self.record.attrs["final_loss"])


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
    ``progress`` None = a live line when stderr is a terminal, silent otherwise. ``callback(iteration,
    metrics)`` after each iteration; True stops the run. Raises FileExistsError (``out`` exists without
    ``overwrite``), :class:`SetupError`, :class:`~pinnlma.run.checkpoint.ResumeError`, and on Ctrl-C
    KeyboardInterrupt after saving a checkpoint to ``out``. Under a multi-rank launch only rank 0 writes
    ``out`` (:func:`pinnlma.ranks.is_writer`); every rank checks it first, so all stop alike.
    """
    config = config or RunConfig()
    try:
        check_problem_run(problem)
    except ValueError as err:
        raise SetupError(str(err)) from err
    saved = read_run(resume) if resume is not None else None
    if saved is not None:
        check_compatible(saved, problem, config)
        # the seed drew the initial weights and points, which now come from the file: record the saved one
        config = replace(config, seed=int(saved.attrs.get("seed", config.seed)))
    if out is not None:
        out = Path(out)
        same_file = resume is not None and Path(resume).resolve() == out.resolve()
        if out.exists() and not (overwrite or same_file):
            raise FileExistsError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
        if not is_writer():
            out = None  # a multi-rank launch: rank 0 writes the run file and checkpoints, the others none
    try:
        run = _set_up(problem, config)
    except (ValueError, FloatingPointError) as err:
        raise SetupError(str(err)) from err
    if saved is not None:
        while run.window < int(saved.attrs.get("march_window", 0)) and run.window < len(run.windows) - 1:
            _next_window(run)  # the window the saved state belongs to; restore() then loads its points
        restore(run, saved)
    else:
        _record(run, float(run.assembler.loss(run.assembler.residual(run.optimizer.x))), math.nan)
    status = _iterate(run, out, progress, callback)
    if not math.isfinite(run.history["rel_l2"][-1]) and run.reference is not None:
        for key, value in _errors(run).items():
            run.history[key][-1] = value
    record = make_record(run, status)
    if out is not None:
        if saved is not None or out.exists():
            save_checkpoint(out, record)
        else:
            write_run(out, record, overwrite=overwrite)
    run.assembler.write_back(run.optimizer.x)
    return RunResult(record, run.optimizer.x.detach().clone(), run.assembler, status)


def _iterate(
    run: RunState,
    out: Path | None,
    progress: bool | None,
    callback: Callable[[int, dict[str, float]], bool | None] | None,
) -> str:
    """Step until a limit, the optimizer, the callback or Ctrl-C stops the run; the status."""
    problem, config = run.problem, run.config
    iters = config.iters if config.iters is not None else int(problem.run.get("iters", 1000))
    time_limit = config.time_limit if config.time_limit is not None else problem.run.get("time_limit")
    eval_every = config.eval_every or run.optimizer.eval_every
    display = ProgressDisplay(enabled=progress, title=f"{problem.name} · {config.optimizer}")
    stop = StopAtIterationEnd()
    try:
        with display, stop:
            while True:
                if run.iteration >= iters:
                    return "max_iter"
                if time_limit is not None and run.elapsed >= time_limit:
                    return "time_limit"
                started = time.perf_counter()
                if _window_done(run, iters, time_limit):
                    _next_window(run)
                    run.elapsed += time.perf_counter() - started
                    continue
                if _update_objective(run, iters, time_limit):
                    run.optimizer.refresh()  # new points or weights: r, the cost and the solver belong to them
                report = run.optimizer.step()
                run.elapsed += time.perf_counter() - started
                run.iteration += 1
                evaluate = run.iteration % eval_every == 0 or run.iteration >= iters
                _record(run, report.loss, report.damping, evaluate=evaluate, residual=report.residual)
                metrics = {k: v[-1] for k, v in run.history.items()}
                display.update(metrics)
                if out is not None and config.checkpoint_every and run.iteration % config.checkpoint_every == 0:
                    save_checkpoint(out, make_record(run, "running"))
                if callback is not None and callback(run.iteration, metrics):
                    return "callback"
                if report.stop is not None:
                    if run.window < len(run.windows) - 1:
                        _next_window(run)  # this window converged: the next one starts now
                        continue
                    return report.stop
                if stop.requested:
                    raise KeyboardInterrupt
    except AbortNow:
        raise
    except KeyboardInterrupt:
        if out is not None:
            save_checkpoint(out, make_record(run, "interrupted"))
        raise


def _update_objective(run: RunState, iters: int, time_limit: float | None) -> bool:
    """Before an iteration: resample, adaptive collocation (its closing round once the run enters its
    final share) and causal weights where due; whether the residual function changed (then the optimizer
    must refresh). The causal weights come last, from the points the iteration will use."""
    problem, changed = run.problem, False
    if problem.resample_every and run.iteration and run.iteration % problem.resample_every == 0:
        run.assembler.sample()
        changed = True
    adaptive, causal, x = run.adaptive, run.causal, run.optimizer.x
    if adaptive is not None and not run.adapt_closed:
        if adaptive.closes and _in_final_share(run, adaptive.final_share, iters, time_limit):
            adaptive.finish(run.assembler, x)
            run.adapt_closed = changed = True
        elif adaptive.due(run.iteration) and adaptive.apply(run.assembler, x):
            changed = True
    if causal is not None and causal.due(run.iteration, run.assembler):
        eps = causal.apply(run.assembler, x)
        if eps is not None:
            run.causal_eps, changed = eps, True
    return changed


def _in_final_share(run: RunState, share: float, iters: int, time_limit: float | None) -> bool:
    """Whether the run (in its last time-marching window, if marching) has used 1 − ``share`` of its
    iteration limit or of its time limit."""
    if run.window < len(run.windows) - 1:
        return False
    late = time_limit is not None and run.elapsed >= (1 - share) * time_limit
    return late or run.iteration >= (1 - share) * iters


def _set_up(problem: Problem, config: RunConfig) -> RunState:
    """Network, sampler, residual assembler and optimizer, all from ``config.seed`` (on the first window
    when time-marching: the network is built for the whole span, the points drawn in the window)."""
    windows = run_windows(problem, config.march)
    train = window_problem(problem, windows[0]) if windows else problem
    assembler = build_assembler(
        train,
        seed=config.seed,
        dtype=config.torch_dtype,
        jacobian=config.jacobian,
        devices=config.devices,
        device=config.device,
        model_problem=problem,
        partition=_launch_partition(config),
    )
    causal = config.causal_weights(problem.run.get("causal"))
    causal_eps = math.nan
    if causal is not None:
        causal.check(problem)
        # the optimizer starts on the weighted objective
        causal_eps = causal.apply(assembler, assembler.initial_parameters()) or math.nan
    optimizer = make_optimizer(
        config.optimizer, assembler, assembler.initial_parameters(), **config.optimizer_options(problem.run)
    )
    eval_points, reference = problem.evaluation()
    # the reference's derived quantities, once (a derived quantity that fails stops here, before training)
    derived = problem.derived_values(reference) if reference is not None else {}
    adaptive = config.adaptive(problem.run.get("adapt"))
    if adaptive is not None:
        adaptive.check(assembler)
    return RunState(
        problem,
        config,
        assembler,
        optimizer,
        eval_points,
        reference,
        windows=windows,
        adaptive=adaptive,
        causal=causal,
        causal_eps=causal_eps,
        reference_derived=derived,
    )


def _launch_partition(config: RunConfig) -> RowPartition | None:
    """Under a launch of several ranks, the rows each rank computes and the backend's sums over the ranks
    (``Backend.row_partition``; ValueError for a backend without one, or an optimizer other than LM, the
    one that sums its decisions over the ranks); None for one process."""
    ranks = process_rank()[1]
    if ranks == 1:
        return None
    if config.optimizer != "lm":
        raise ValueError(
            f"a launch of {ranks} ranks shares the residual rows among them, which only the LM optimizer sums "
            f"over the ranks, not {config.optimizer!r}; run --optimizer lm, or one process"
        )
    return get_backend(config.backend).row_partition()


def _window_done(run: RunState, iters: int, time_limit: float | None) -> bool:
    """Whether the current time-marching window (not the last) has used its share of the limits, or reached
    the run's ``march_tol``."""
    if run.window >= len(run.windows) - 1:
        return False
    tol = run.config.march_tolerance(run.problem.run.get("march_tol"))
    if window_converged(run.history, run.windows[run.window], tol):
        return True
    window_iters, window_time = window_limits(run.problem, run.windows, run.window, iters, time_limit)
    return run.iteration >= window_iters or (window_time is not None and run.elapsed >= window_time)


def _next_window(run: RunState) -> None:
    """Move to the next time-marching window: the same network from the current θ, fresh points in the
    window (the sampler continues) and a fresh optimizer state."""
    old, x = run.assembler, run.optimizer.x.detach().clone()
    run.window += 1
    run.assembler = ResidualAssembler(
        window_problem(run.problem, run.windows[run.window]),
        old.model,
        sampler=old.sampler,
        dtype=old.dtype,
        device=old.device,
        jacobian=old.jacobian,
        memory_budget=old.memory_budget,
        devices=[replica.device for replica in old.replicas] or None,
        transfer=old.transfer,
        partition=old.row_partition,
    )
    run.optimizer = make_optimizer(
        run.config.optimizer, run.assembler, x, **run.config.optimizer_options(run.problem.run)
    )


def _errors(run: RunState) -> dict[str, float]:
    prediction = run.assembler.predict(run.optimizer.x, run.eval_points)
    return output_errors(run.problem, prediction, run.reference, run.reference_derived)


def _record(run: RunState, loss: float, damping: float, evaluate: bool = True, residual: Tensor | None = None) -> None:
    """Append one history row; the per-block losses come from ``residual`` (r at the current parameters)
    when the optimizer has it, which saves a residual evaluation with all its derivatives."""
    blocks = run.assembler.block_losses(run.optimizer.x, residual)
    row = {
        "iteration": run.iteration,
        "time": run.elapsed,
        "loss": loss,
        "damping": damping,
    }
    row.update(_errors(run) if evaluate else dict.fromkeys(error_keys(run.problem), math.nan))
    if run.windows:
        row["window_end"] = run.windows[run.window]
    if run.causal is not None:
        row["causal_eps"] = run.causal_eps
    row.update({f"loss/{name}": value for name, value in blocks.items()})
    for key, value in run.assembler.coefficients(run.optimizer.x).items():
        row[f"param/{key}"] = value
    before = len(run.history.get("iteration", ()))
    for key, value in row.items():  # a series new to a resumed history starts with NaN
        run.history.setdefault(key, [math.nan] * before).append(float(value))
