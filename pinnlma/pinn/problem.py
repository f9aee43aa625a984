"""``Problem``: everything that defines a PINN task, independent of optimizer and backend."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor

from .conditions import Condition
from .fields import Fields
from .geometry import Domain

PdeFn = Callable[[Fields], Tensor]
DerivedFn = Callable[[Mapping[str, np.ndarray]], np.ndarray]
"""A quantity for display computed from the outputs: ``fn({"u": (N,), "v": (N,)}) -> (N,)``."""


def default_output_names(count: int) -> tuple[str, ...]:
    """ "u" for one output; "u0", "u1", … (matching the indices) for several."""
    return ("u",) if count == 1 else tuple(f"u{i}" for i in range(count))


def default_eval_grid(dim: int) -> tuple[int, ...]:
    """Evaluation grid when a problem gives none: 1001 points in 1-D, 101² in 2-D, 41³ in 3-D, and
    about 10⁵ points (at least 3 per axis) beyond."""
    per_axis = {1: 1001, 2: 101, 3: 41}.get(dim, max(3, round(1e5 ** (1.0 / dim))))
    return (per_axis,) * dim


def _check_output_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip() or name != name.strip() or any(c in name for c in ",/"):
        raise ValueError(f"{what} must be a non-empty string without ',', '/' or surrounding spaces, got {name!r}")
    return name


@dataclass
class Problem:
    """A PDE (or data-fitting) problem.

    - ``domain``: the geometry; its coordinate names are what residuals use (``f.d("x")``).
    - ``pde``: residual of the equation at interior points, ``pde(f) -> rows``; a dict of several
      (name → fn) for systems (e.g. real and imaginary parts); None for pure data fits.
    - ``conditions``: boundary / initial / periodic / data blocks.
    - ``outputs``: the number of network outputs, or their names (``("u", "v", "p")``); residuals and
      conditions address an output by index or name (``f.u("v")``, ``Dirichlet(0, out="v")``). With a
      number the names are "u" (one output) or "u0", "u1", … (``output_names`` holds them).
    - ``parameters``: known PDE coefficients (read with ``f.param(name)``).
    - ``unknowns``: coefficients to identify (inverse problems), name → initial guess; they become
      trainable parameters appended to the network's.
    - ``reference``: exact solution ``points (N, dim) -> (N,) or (N, outputs)``, or ``reference_data``
      = (points, values) of a numerical reference; ``eval_points`` where errors are measured
      (default: the points of ``domain.grid(eval_grid)`` inside the domain; ``eval_grid`` None gives
      :func:`default_eval_grid`).
    - ``extra_references``: further references where the final error is also reported, name →
      (points (N, dim), values (N,) or (N, outputs)); e.g. an exact solution beside an inexact data
      file. Run files record ``extra_rel_l2_<name>`` (and ``extra_rel_l2_<name>_<output>`` with several
      outputs); the optimizer never sees them.
    - ``n_interior``: collocation points; ``weights``: block name → loss weight.
    - ``model``: MLP settings (width, depth, activation, ``embedding``: see :mod:`pinnlma.pinn.embeddings`, ...);
      ``run``: run defaults, keyed as ``pinnlma.run.config.PROBLEM_RUN_KEYS`` (iters, time_limit, march,
      march_tol, adapt, causal; checked with the command-line options' checks when a run starts);
      ``quick``: overrides for the ``--quick`` size.
    - ``exact``: conditions imposed by construction, u = g + d·N (see :mod:`pinnlma.pinn.exact`): their
      names (g and d generated) or an ``OutputTransform`` with its own g and d; their blocks leave r(θ).
    - ``derived``: quantities for display, name → fn(outputs by name) (e.g. ``{"|h|": lambda o:
      np.hypot(o["u"], o["v"])}``); ``plot_fields``: the names (outputs and derived) the figure shows,
      default every output then every derived quantity.
    """

    name: str
    domain: Domain
    pde: PdeFn | Mapping[str, PdeFn] | None
    conditions: Sequence[Condition] = ()
    outputs: int | Sequence[str] = 1
    parameters: Mapping[str, float] = field(default_factory=dict)
    unknowns: Mapping[str, float] = field(default_factory=dict)
    reference: Callable[[np.ndarray], np.ndarray] | None = None
    reference_data: tuple[np.ndarray, np.ndarray] | None = None
    eval_grid: tuple[int, ...] | None = None
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
    output_names: Sequence[str] | None = None
    derived: Mapping[str, DerivedFn] = field(default_factory=dict)
    plot_fields: Sequence[str] | None = None
    extra_references: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    exact: Sequence[str] | Any = ()

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
        self._set_outputs()
        self._check_displays()
        self._check_extra_references()
        if isinstance(self.exact, str):
            self.exact = tuple(n.strip() for n in self.exact.split(",") if n.strip())
        if isinstance(self.exact, (tuple, list)):
            unknown = [n for n in self.exact if n not in {c.name for c in self.conditions}]
            if unknown:
                raise ValueError(
                    f"problem {self.name!r}: exact={unknown} are not its conditions "
                    f"({', '.join(c.name for c in self.conditions) or 'none'})"
                )
        for cond in self.conditions:
            out = getattr(cond, "out", None)
            if out is not None:
                try:
                    self.output_index(out)
                except (KeyError, ValueError) as err:
                    raise ValueError(f"problem {self.name!r}, condition {cond.name!r}: {err.args[0]}") from None

    def _set_outputs(self) -> None:
        outputs, names = self.outputs, self.output_names
        if isinstance(outputs, (int, np.integer)) and not isinstance(outputs, bool):
            if outputs < 1:
                raise ValueError(f"problem {self.name!r}: outputs must be >= 1, got {outputs}")
            count = int(outputs)
            names = tuple(names) if names is not None else default_output_names(count)
        elif isinstance(outputs, Sequence) and not isinstance(outputs, str) and outputs:
            count = len(outputs)
            if names is not None and tuple(names) != tuple(outputs):
                raise ValueError(
                    f"problem {self.name!r}: outputs={tuple(outputs)} and output_names={tuple(names)} differ"
                )
            names = tuple(outputs)
        else:
            raise ValueError(
                f"problem {self.name!r}: outputs must be a number of outputs or a list of their names, got {outputs!r}"
            )
        if len(names) != count:
            raise ValueError(f"problem {self.name!r}: {len(names)} output names {names} for {count} outputs")
        for name in names:
            _check_output_name(name, f"problem {self.name!r}: an output name")
        if len(set(names)) != len(names):
            raise ValueError(f"problem {self.name!r}: output names must be distinct, got {names}")
        self.outputs, self.output_names = count, names

    @property
    def output_columns(self) -> tuple[str, ...]:
        """The output names in column order: ``output_names`` once the constructor has filled in the
        defaults (typed as a tuple; the field also accepts None before that)."""
        return tuple(self.output_names or ())

    @property
    def output_count(self) -> int:
        """The number of network outputs (``outputs`` once the constructor has counted the names)."""
        return len(self.output_columns)

    def _check_displays(self) -> None:
        for name, fn in self.derived.items():
            _check_output_name(name, f"problem {self.name!r}: a derived quantity's name")
            if name in self.output_columns:
                raise ValueError(f"problem {self.name!r}: derived quantity {name!r} has the name of an output")
            if not callable(fn):
                raise ValueError(f"problem {self.name!r}: derived quantity {name!r} must be a function of the outputs")
        if self.plot_fields is not None:
            known = (*self.output_columns, *self.derived)
            bad = [f for f in self.plot_fields if f not in known]
            if bad or not self.plot_fields:
                raise ValueError(
                    f"problem {self.name!r}: plot_fields {list(self.plot_fields)} must name outputs or "
                    f"derived quantities ({', '.join(known)})"
                )

    def _check_extra_references(self) -> None:
        checked = {}
        for name, ref in self.extra_references.items():
            _check_output_name(name, f"problem {self.name!r}: an extra reference's name")
            what = f"problem {self.name!r}, extra reference {name!r}"
            if not isinstance(ref, tuple) or len(ref) != 2:
                raise ValueError(f"{what} must be a pair (points, values), got {type(ref).__name__}")
            points, values = (np.asarray(a, dtype=np.float64) for a in ref)
            if points.ndim != 2 or points.shape[1] != self.domain.dim:
                raise ValueError(f"{what}: points must be (N, {self.domain.dim}), got shape {points.shape}")
            if values.size != len(points) * self.output_count:
                raise ValueError(
                    f"{what}: {values.size} values for {len(points)} points and {self.output_count} "
                    f"output(s); give (N,) or (N, {self.output_count})"
                )
            if not (np.isfinite(points).all() and np.isfinite(values).all()) or not np.any(values):
                raise ValueError(f"{what} holds NaN/Inf or only zeros")
            checked[name] = (points, values.reshape(len(points), self.output_count))
        self.extra_references = checked

    def extra_errors(self, predict: Callable[[np.ndarray], np.ndarray]) -> dict[str, float]:
        """Relative L2 error of ``predict(points) -> (N, outputs)`` against each extra reference:
        ``{"<name>": joint error}`` plus ``{"<name>_<output>": …}`` per output when there are several."""
        out = {}
        for name, (points, values) in self.extra_references.items():
            pred = np.asarray(predict(points), dtype=np.float64).reshape(values.shape)
            out[name] = float(np.linalg.norm(pred - values) / np.linalg.norm(values))
            if self.output_count > 1:
                for i, output in enumerate(self.output_columns):
                    norm = np.linalg.norm(values[:, i])
                    out[f"{name}_{output}"] = (
                        float(np.linalg.norm(pred[:, i] - values[:, i]) / norm) if norm else math.nan
                    )
        return out

    def output_index(self, out: int | str) -> int:
        """The column of output ``out`` (an index or a name); ValueError listing the outputs otherwise."""
        names = self.output_columns
        if isinstance(out, str):
            if out not in names:
                raise ValueError(f"unknown output {out!r}; the outputs are {', '.join(names)}")
            return names.index(out)
        if isinstance(out, bool) or not isinstance(out, (int, np.integer)) or not 0 <= out < len(names):
            raise ValueError(f"output index {out!r} out of range: there are {len(names)} outputs ({', '.join(names)})")
        return int(out)

    def display_fields(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """The fields a figure shows (``plot_fields``, default outputs then derived), name → (N,), from
        output values (N, outputs)."""
        values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        fields = {name: values[:, i] for i, name in enumerate(self.output_columns)}
        fields.update(self.derived_values(values))
        order = list(self.plot_fields) if self.plot_fields is not None else list(fields)
        return {name: fields[name] for name in order}

    def derived_values(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Each derived quantity, name → (N,), from output values (N, outputs); ValueError when one
        returns another shape."""
        values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        columns = {name: values[:, i] for i, name in enumerate(self.output_columns)}
        out = {}
        for name, fn in self.derived.items():
            field = np.asarray(fn(columns), dtype=np.float64).reshape(-1)
            if field.shape != (len(values),):
                raise ValueError(
                    f"problem {self.name!r}: derived quantity {name!r} returned shape {field.shape} for "
                    f"{len(values)} points"
                )
            out[name] = field
        return out

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
        if self.eval_points is not None:
            points = np.asarray(self.eval_points, float)
        else:
            shape = tuple(self.eval_grid) if self.eval_grid is not None else default_eval_grid(self.domain.dim)
            points = self.domain.grid(shape)
            points = points[self.domain.contains(points)]
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
