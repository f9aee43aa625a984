"""``Problem``: everything that defines a PINN task, independent of optimizer and backend."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor

from .conditions import Condition
from .fields import Fields
from .geometry import Domain

PdeFn = Callable[[Fields], Tensor]


@dataclass
class Problem:
    """A PDE (or data-fitting) problem.

    - ``domain``: the geometry; its coordinate names are what residuals use (``f.d("x")``).
    - ``pde``: residual of the equation at interior points, ``pde(f) -> rows``; a dict of several
      (name → fn) for systems (e.g. real and imaginary parts); None for pure data fits.
    - ``conditions``: boundary / initial / periodic / data blocks.
    - ``parameters``: known PDE coefficients (read with ``f.param(name)``).
    - ``unknowns``: coefficients to identify (inverse problems), name → initial guess; they become
      trainable parameters appended to the network's.
    - ``reference``: exact solution ``points (N, dim) -> (N,) or (N, outputs)``, or ``reference_data``
      = (points, values) of a numerical reference; ``eval_points`` where errors are measured
      (default: ``domain.grid(eval_grid)``).
    - ``n_interior``: collocation points; ``weights``: block name → loss weight.
    - ``model``: MLP settings (width, depth, activation, ...); ``run``: optimizer defaults
      (iters, time_limit); ``quick``: overrides for the ``--quick`` size.
    """

    name: str
    domain: Domain
    pde: PdeFn | Mapping[str, PdeFn] | None
    conditions: Sequence[Condition] = ()
    outputs: int = 1
    parameters: Mapping[str, float] = field(default_factory=dict)
    unknowns: Mapping[str, float] = field(default_factory=dict)
    reference: Callable[[np.ndarray], np.ndarray] | None = None
    reference_data: tuple[np.ndarray, np.ndarray] | None = None
    eval_grid: tuple[int, ...] = (101, 101)
    eval_points: np.ndarray | None = None
    n_interior: int = 2000
    n_boundary: int = 200
    sampling: str = "lhs"
    resample_every: int = 0
    weights: Mapping[str, float] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)
    run: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.domain, Domain):
            raise TypeError(f"problem {self.name!r}: domain must be a pinnlma Domain, got {type(self.domain).__name__}")
        if self.pde is None and not self.conditions:
            raise ValueError(f"problem {self.name!r} has neither a PDE nor conditions: nothing to fit")
        clash = set(self.parameters) & set(self.unknowns)
        if clash:
            raise ValueError(f"problem {self.name!r}: {sorted(clash)} are both known parameters and unknowns")
        names = [name for name, _ in self.pde_blocks()] + [c.name for c in self.conditions]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"problem {self.name!r}: block names must be unique, repeated: {sorted(dupes)}")

    def pde_blocks(self) -> list[tuple[str, PdeFn]]:
        """(name, residual function) of each PDE block."""
        if self.pde is None:
            return []
        if callable(self.pde):
            return [("pde", self.pde)]
        return list(self.pde.items())

    @property
    def has_reference(self) -> bool:
        """Whether the problem has an exact or numerical reference."""
        return self.reference is not None or self.reference_data is not None

    def evaluation(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Points where the solution is reported, and the reference there ((N, outputs) or None)."""
        if self.reference_data is not None:
            points, values = self.reference_data
            return np.asarray(points, float), np.asarray(values, float).reshape(len(points), -1)
        points = self.eval_points if self.eval_points is not None else self.domain.grid(tuple(self.eval_grid))
        if self.reference is None:
            return points, None
        return points, np.asarray(self.reference(points), float).reshape(len(points), -1)

    def with_options(self, **overrides: Any) -> Problem:
        """A copy with fields replaced (used for --quick sizes and command-line options)."""
        from dataclasses import replace

        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown problem options {sorted(unknown)}")
        return replace(self, **overrides)
