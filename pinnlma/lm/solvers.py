"""How each LM iteration solves its damped system: the registry of solvers and forms, and the auto rule.

Two independent choices (``LMOptions.solver`` and ``LMOptions.form``, each also ``"auto"``):

- solver ``dense``: the backend forms and factors the system exactly (JᵀJ, n×n, for the normal form;
  J D⁻¹Jᵀ, m×m, with J kept whole, for the residual form). ``matrix-free``: preconditioned CG on
  Jacobian products (:mod:`pinnlma.lm.matrix_free`): no J and no n×n matrix; runs in torch on the
  model's device whatever the backend.
- form ``normal``: (JᵀJ + λD) v = Jᵀr; ``residual``: v = D⁻¹Jᵀ(J D⁻¹Jᵀ + λI)⁻¹r.

The auto rule (:func:`choose_solver`): the form is ``residual`` when n > m, else ``normal``. The solver
is ``dense`` when the dense system of that form fits the memory limit, else ``matrix-free``, where the
dense system needs (itemsize = bytes per number of the parameters' dtype)

    normal:   n²·itemsize + one Jacobian slice (the model's memory budget)
    residual: (2·m·n + 2·m²)·itemsize (J whole while its slices are joined, the kernel and its copy)

and the memory limit is ``LMOptions.memory_limit`` bytes, by default half the memory available on the
parameters' device when the run starts (MemAvailable of /proc/meminfo on the CPU, free memory on a
CUDA device).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from ..backends import Backend, LinearSystem
from ..backends.base import Slices
from .jacobian import DEFAULT_MEMORY_BUDGET
from .matrix_free import MatrixFreeOptions, MatrixFreeSolver
from .row_sums import RowSums

SOLVERS = {
    "dense": "the backend forms and factors the damped system exactly",
    "matrix-free": "preconditioned CG on Jacobian products; no J and no n×n matrix",
}
"""The solver choices (``LMOptions.solver``; ``"auto"`` picks one by :func:`choose_solver`)."""

FORMS = {
    "normal": "(JᵀJ + λD) v = Jᵀr, n unknowns",
    "residual": "v = D⁻¹Jᵀ(J D⁻¹Jᵀ + λI)⁻¹r, m unknowns (for n > m)",
}
"""The algebraic forms (``LMOptions.form``; ``"auto"``: residual when n > m)."""

AUTO = "auto"
MEMORY_FRACTION = 0.5
"""The default memory limit is this fraction of the memory available on the parameters' device."""


def check_choice(value: str, choices: dict[str, str], what: str) -> str:
    """``value`` is 'auto' or a key of ``choices``; otherwise a ValueError that lists them."""
    if value != AUTO and value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose 'auto' or one of {', '.join(map(repr, choices))}")
    return value


def available_memory(device: torch.device | str = "cpu") -> int:
    """Bytes available for new allocations on ``device``: free memory on a CUDA device, MemAvailable
    (or, without /proc, free physical pages) on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def dense_bytes(form: str, m: int, n: int, itemsize: int, slice_bytes: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Memory of the dense system of ``form`` (module docstring)."""
    return DENSE_MEMORY[form](m, n, itemsize, slice_bytes)


DENSE_MEMORY: dict[str, Callable[[int, int, int, int], int]] = {
    "normal": lambda m, n, itemsize, slice_bytes: n * n * itemsize + slice_bytes,
    "residual": lambda m, n, itemsize, slice_bytes: (2 * m * n + 2 * m * m) * itemsize,
}


@dataclass(frozen=True)
class SolverChoice:
    """What :func:`choose_solver` decided, and why (``reason``, one line for logs and results)."""

    solver: str
    form: str
    reason: str
    dense_bytes: int
    memory_limit: int


def choose_solver(
    m: int,
    n: int,
    itemsize: int,
    *,
    solver: str = AUTO,
    form: str = AUTO,
    memory_limit: int | None = None,
    slice_bytes: int = DEFAULT_MEMORY_BUDGET,
    device: torch.device | str = "cpu",
) -> SolverChoice:
    """The solver and form for an m×n problem (the auto rule of the module docstring); explicit
    choices are kept. ``memory_limit`` None means MEMORY_FRACTION of :func:`available_memory`."""
    check_choice(solver, SOLVERS, "solver")
    check_choice(form, FORMS, "form")
    chosen_form = form if form != AUTO else ("residual" if n > m else "normal")
    need = dense_bytes(chosen_form, m, n, itemsize, slice_bytes)
    limit = int(memory_limit) if memory_limit is not None else int(MEMORY_FRACTION * available_memory(device))
    form_why = "requested" if form != AUTO else (f"n={n} > m={m}" if n > m else f"n={n} <= m={m}")
    if solver != AUTO:
        reason = f"{solver} requested; {chosen_form} form ({form_why})"
        return SolverChoice(solver, chosen_form, reason, need, limit)
    fits = need <= limit
    chosen = "dense" if fits else "matrix-free"
    reason = (
        f"{chosen_form} form ({form_why}); the dense system needs {need / 2**20:.0f} MiB, "
        f"{'within' if fits else 'over'} the memory limit of {limit / 2**20:.0f} MiB"
    )
    return SolverChoice(chosen, chosen_form, reason, need, limit)


class DenseSolver:
    """The exact solver: the backend accumulates or keeps J from the model's slices; in the normal form,
    from the model's per-device partial normal equations instead where the model offers them (its
    optional ``normal_partials(x)``, see :class:`~pinnlma.lm.model.ResidualModel`) and the backend sums
    them (``Backend.accepts_partials``)."""

    matrix_free = False

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def system(self, form: str, model: Any, x: Tensor, r: Tensor, iteration: int, slices: Slices) -> LinearSystem:
        """The backend's system of ``form`` from the Jacobian ``slices`` of ``model`` at x (``r``, ``iteration``:
        unused here, the matrix-free solver's signature)."""
        n = x.shape[0]
        rows = RowSums(model)
        if rows.split:  # each process holds partials of its own rows: the backend sums them over processes
            return self._shared_rows_system(model, x, rows)
        if form == "normal" and self.backend.accepts_partials and hasattr(model, "normal_partials"):
            partials = model.normal_partials(x)  # device replicas: only n×n partials cross devices
            if partials is not None:
                system = self.backend.gram_system(partials, n, lambda w: model.jt_times(x, w))
                if system is not None:
                    return system
        build = {
            "normal": lambda: self.backend.normal_system(slices, n, lambda w: model.jt_times(x, w)),
            "residual": lambda: self.backend.residual_system(slices, n),
        }
        return build[form]()

    def _shared_rows_system(self, model: Any, x: Tensor, rows: RowSums) -> LinearSystem:
        """The normal system of rows shared among processes: the model's partials of this process's rows,
        summed over the processes by the backend (``gram_system(..., partition=...)``)."""
        partials = model.normal_partials(x) if hasattr(model, "normal_partials") else None
        system = None
        if partials is not None and self.backend.accepts_partials:
            system = self.backend.gram_system(partials, x.shape[0], rows.jt_times(model, x), partition=rows.partition)
        if system is None:
            raise ValueError(
                f"rows shared among {rows.partition.ranks} processes need partial normal equations from the model "
                f"(normal_partials) and a backend that sums them ({self.backend.name} with its current settings "
                "does not: float32 products need the rows)"
            )
        return system

    @classmethod
    def from_options(cls, backend: Backend, options: MatrixFreeOptions) -> DenseSolver:
        """The dense solver on ``backend`` (the matrix-free ``options`` do not concern it)."""
        return cls(backend)

    def state_dict(self) -> dict[str, Any]:
        """Nothing lives across iterations."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore."""


Solver = DenseSolver | MatrixFreeSolver

SOLVER_TYPES: dict[str, type[DenseSolver] | type[MatrixFreeSolver]] = {
    "dense": DenseSolver,
    "matrix-free": MatrixFreeSolver,
}
"""The class of each entry of SOLVERS (same keys); each is built by ``from_options(backend, options)``."""


def make_solver(name: str, backend: Backend, options: MatrixFreeOptions | None = None) -> Solver:
    """The solver object named ``name`` (a key of SOLVERS, not 'auto')."""
    return SOLVER_TYPES[name].from_options(backend, options or MatrixFreeOptions())


class SolverSettings(Protocol):
    """The fields of :class:`~pinnlma.lm.options.LMOptions` the choice reads."""

    solver: str
    form: str
    memory_limit: int | None
    matrix_free: MatrixFreeOptions


def select_solver(
    options: SolverSettings, model: Any, x: Tensor, m: int, backend: Backend, current: Solver | None = None
) -> tuple[SolverChoice, Solver]:
    """The choice for ``model`` with m residuals at parameters x (:func:`choose_solver`, the slice taken as the
    model's ``memory_budget``) and the solver object: ``current`` when it is of the chosen kind (its state
    carries on), else a new one."""
    budget = int(getattr(model, "memory_budget", DEFAULT_MEMORY_BUDGET))
    choice = choose_solver(
        m,
        x.shape[0],
        x.element_size(),
        solver=options.solver,
        form=options.form,
        memory_limit=options.memory_limit,
        device=x.device,
        slice_bytes=budget,
    )
    if isinstance(current, SOLVER_TYPES[choice.solver]):
        return choice, current
    return choice, make_solver(choice.solver, backend, options.matrix_free)
