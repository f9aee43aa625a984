"""How to run: :class:`RunConfig` (optimizer and its options, limits, seed, precision, backend, devices)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..backends import BACKENDS
from ..lm import SOLVERS, Damping
from ..lm.sampled_gram import check_gram_rows
from ..optim import OPTIMIZERS, accepted_options, optimizer_options
from ..pinn.adaptive import Adaptive, parse_adaptive
from ..pinn.assembler import JACOBIAN_PATHS
from ..pinn.causal import Causal, parse_causal
from ..pinn.problem import Problem

__all__ = ["DTYPES", "PROBLEM_RUN_KEYS", "RunConfig", "check_device", "check_problem_run"]

DTYPES = {"float64": torch.float64, "float32": torch.float32}
"""Training precision name → torch dtype (the ``--dtype`` choices; the first is the default)."""

PROBLEM_RUN_KEYS = {
    "iters": "iteration limit (a whole number >= 0), as --iters",
    "time_limit": "training-time limit in seconds (> 0; the clock of history/time), as --time-limit",
    "march": "time-marching window ends (increasing numbers), as --march",
    "march_tol": "loss at which a window hands over (>= 0; 0: never), as --march-tol",
    "adapt": "adaptive collocation text, as --adapt",
    "causal": "causal weights text, as --causal",
    "gram_rows": "rows sampled for LM's Gauss-Newton matrix each iteration (a count >= 1 or a fraction in (0, 1]), "
    "as --gram-rows",
}
"""The keys a problem's ``run`` defaults may hold → what each is (:func:`check_problem_run` checks them)."""


@dataclass
class RunConfig:
    """How to run: optimizer and its options, limits, seed, precision, backend.

    ``lr``, ``damping``, ``geodesic``, ``solver`` and ``backend`` go to the optimizers that take them (see
    :func:`~pinnlma.optim.registry.accepted_options`); ``damping`` is a rule name or a
    :class:`~pinnlma.lm.damping.Damping` instance (a template: the run starts from a copy). ``iters`` and
    ``time_limit`` default to the problem's; ``eval_every`` to the optimizer's. ``march``: the ends of
    the growing time windows (:mod:`pinnlma.run.march`), None for the problem's ``run["march"]``, () for
    none; ``adapt``: the adaptive collocation rule (:func:`~pinnlma.pinn.adaptive.parse_adaptive` text),
    None for the problem's ``run["adapt"]``, "none" for none; ``causal``: the causal residual weights
    (:func:`~pinnlma.pinn.causal.parse_causal` text ``EPS[:CHUNKS[:EVERY[:DELTA]]]``), None for the problem's
    ``run["causal"]``, "none" for none; ``march_tol``: a window (not the last) hands over as soon as its loss
    is at or below this (:func:`~pinnlma.run.march.window_converged`), None for the problem's
    ``run["march_tol"]``, 0 for never; ``gram_rows``: LM forms JᵀJ from this many rows (a count, or a
    fraction of the rows) sampled afresh each iteration from ``seed`` (:mod:`pinnlma.lm.sampled_gram`), None
    for the problem's ``run["gram_rows"]``, 1.0 for all rows. Raises ValueError on a value that cannot
    work, saying which.
    """

    optimizer: str = "lm"
    backend: str = "torch"
    dtype: str = "float64"
    iters: int | None = None
    time_limit: float | None = None
    seed: int = 0
    lr: float | None = None
    damping: str | Damping = "nielsen"
    geodesic: bool = False
    solver: str = "auto"
    jacobian: str = "auto"
    eval_every: int | None = None
    checkpoint_every: int = 50
    devices: tuple[str, ...] | None = None  # torch devices computing Jacobian slices (replicas)
    device: str = "cpu"  # the primary torch device: model, points, residuals, Jᵀw, predictions, LM vectors
    march: tuple[float, ...] | None = None  # time-marching window ends (None: the problem's; (): none)
    adapt: str | None = None  # adaptive collocation rule, e.g. "rar:every=25" (None: the problem's; "none")
    causal: str | None = None  # causal residual weights, e.g. "1:32" (None: the problem's; "none")
    march_tol: float | None = None  # a window hands over once its loss is <= this (None: the problem's; 0: never)
    gram_rows: int | float | None = None  # LM's sampled Gauss-Newton rows (None: the problem's; 1.0: all)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.jacobian not in JACOBIAN_PATHS:
            raise ValueError(f"unknown Jacobian path {self.jacobian!r}; choose one of {', '.join(JACOBIAN_PATHS)}")
        if self.solver != "auto" and self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; choose one of auto, {', '.join(SOLVERS)}")
        if self.solver != "auto" and "solver" not in accepted_options(self.optimizer):
            raise ValueError(f"--solver {self.solver} applies to the LM optimizer, not to {self.optimizer}")
        if self.iters is not None and self.iters < 0:
            raise ValueError(f"iters must be >= 0, got {self.iters}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time limit must be positive seconds, got {self.time_limit}")
        if self.backend != "torch" and "backend" not in accepted_options(self.optimizer):
            raise ValueError(
                f"backend {self.backend!r} applies to optimizers that solve linear systems "
                f"({', '.join(n for n in OPTIMIZERS if 'backend' in accepted_options(n))}), "
                f"not to {self.optimizer}"
            )
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be a whole number from 0 to 2**63 - 1, got {self.seed}")
        for device in self.devices or ():
            check_device(device)
        check_device(self.device, "--device")
        if self.adapt is not None:
            parse_adaptive(self.adapt)
        if self.causal is not None:
            parse_causal(self.causal)
        if self.march_tol is not None and not (math.isfinite(self.march_tol) and self.march_tol >= 0):
            raise ValueError(
                f"--march-tol must be a loss >= 0 (0: windows hand over at their share only), got {self.march_tol}"
            )
        if self.gram_rows is not None:
            try:
                self.gram_rows = check_gram_rows(self.gram_rows)
            except ValueError as err:
                raise ValueError(f"--gram-rows: {err}") from None
            if "gram_rows" not in accepted_options(self.optimizer):
                raise ValueError(f"--gram-rows applies to the LM optimizer, not to {self.optimizer}")
        if self.march is not None:
            self.march = tuple(float(t) for t in self.march)
            if any(not math.isfinite(t) for t in self.march) or any(b <= a for a, b in zip(self.march, self.march[1:])):
                raise ValueError(f"--march window ends must be increasing numbers, got {list(self.march)}")

    @property
    def torch_dtype(self) -> torch.dtype:
        """The training precision as a torch dtype."""
        return DTYPES[self.dtype]

    @property
    def damping_name(self) -> str:
        """The damping rule's name (a custom rule: its class name), as the run file records it."""
        return self.damping if isinstance(self.damping, str) else type(self.damping).__name__

    def adaptive(self, problem_default: str | None) -> Adaptive | None:
        """The adaptive collocation rule of this run: ``adapt``, else the problem's default text."""
        text = self.adapt if self.adapt is not None else problem_default
        return None if text is None else parse_adaptive(text)

    def causal_weights(self, problem_default: str | None) -> Causal | None:
        """The causal weighting of this run: ``causal``, else the problem's default text."""
        text = self.causal if self.causal is not None else problem_default
        return None if text is None else parse_causal(text)

    def march_tolerance(self, problem_default: float | None) -> float:
        """The loss at which a time-marching window hands over early: ``march_tol``, else the problem's; 0: never."""
        value = self.march_tol if self.march_tol is not None else problem_default
        return 0.0 if value is None else float(value)

    def gram_sample(self, problem_default: int | float | None) -> int | float | None:
        """LM's sampled Gauss–Newton rows in this run: ``gram_rows``, else the problem's; None for all rows."""
        value = self.gram_rows if self.gram_rows is not None else problem_default
        return None if value is None or (value == 1.0 and isinstance(value, float)) else value

    def optimizer_options(self, problem_run: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The settings of this run that its optimizer takes (unset ones left to the optimizer's defaults);
        ``problem_run``: the problem's ``run`` defaults, for the settings that fall back to them (gram_rows)."""
        gram_rows = self.gram_sample((problem_run or {}).get("gram_rows"))
        candidates = {
            "lr": self.lr,
            "damping": self.damping,
            "geodesic": self.geodesic,
            "backend": self.backend,
            "solver": self.solver,
            "gram_rows": gram_rows,
            "gram_seed": self.seed if gram_rows is not None else None,
        }
        return optimizer_options(self.optimizer, candidates)

    def record(self) -> dict[str, Any]:
        """The settings as plain values (the damping as its name), for the run file's ``config`` attribute."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["damping"] = self.damping_name
        return out


def check_problem_run(problem: Problem) -> None:
    """ValueError unless every key of ``problem.run`` is in :data:`PROBLEM_RUN_KEYS` and its value passes
    the check the matching command-line option gets (the same :class:`RunConfig` checks), naming the key."""
    what = f"problem {problem.name!r}: run={{...}}"
    unknown = sorted(set(problem.run) - set(PROBLEM_RUN_KEYS))
    if unknown:
        raise ValueError(f"{what} has unknown key(s) {unknown}; the known ones: {', '.join(PROBLEM_RUN_KEYS)}")
    run = dict(problem.run)
    iters = run.get("iters")
    if iters is not None and (isinstance(iters, bool) or not isinstance(iters, (int, np.integer))):
        raise ValueError(f"{what}: iters must be a whole number, got {iters!r}")
    for key in ("time_limit", "march_tol", "gram_rows"):
        value = run.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
            raise ValueError(f"{what}: {key} must be a number, got {value!r}")
    for key in ("adapt", "causal"):
        if run.get(key) is not None and not isinstance(run[key], str):
            raise ValueError(f"{what}: {key} must be text like the --{key} option, got {run[key]!r}")
    march = run.get("march")
    if march is not None:
        if isinstance(march, str) or not all(isinstance(t, (int, float, np.number)) for t in march):
            raise ValueError(f"{what}: march must be a sequence of window end times, got {march!r}")
        run["march"] = tuple(march)
    try:
        RunConfig(**run)
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None


def check_device(name: str, option: str = "--devices") -> torch.device:
    """A torch device this machine has, or ValueError saying what is wrong with ``name`` (given to ``option``)."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r} in {option} ({err}); use e.g. cpu or cuda:0") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ValueError(f"device {name!r} is not available: this machine has {count} CUDA device(s)")
    elif device.type != "cpu":
        raise ValueError(f"device {name!r}: only cpu and cuda devices compute Jacobian slices")
    return device
