"""Boundary, initial and data conditions. Each samples its points and returns its residual rows.

A condition is a block of the residual vector: ``sample`` draws its point groups (one group for most,
two matched groups for periodicity) with any per-point data, and ``residual(*fields)`` maps the
:class:`~pinnlma.pinn.fields.Fields` at those points to one row per point:

- Dirichlet        u − g(x)                  on the chosen boundary parts
- Neumann          ∂u/∂n − g(x)              on the chosen boundary parts (outward normal)
- Robin            a·u + b·∂u/∂n − g(x)      on the chosen boundary parts
- Periodic         ∂ᵏu(x_min) − ∂ᵏu(x_max)   on matched points of opposite faces
- Initial          u(x, t₀) − g(x)
- InitialVelocity  u_t(x, t₀) − h(x)
- PointData        u(x_k) − y_k              at given points (data fitting, inverse problems)

Boundary conditions choose their points with ``where`` (see :class:`~pinnlma.pinn.geometry.Domain`):
None for the whole boundary, a part name ("x_min", "holes"), a comma-separated list or a list of
names, or a predicate ``where(points) -> bool mask``. Every condition addresses a network output by
index or by name (``out="v"`` with ``Problem(outputs=("u", "v", "p"))``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .fields import Fields, Output
from .geometry import Domain, Sampler, SpaceTime, Where, periodic_pairs

ValueFn = Callable[[Tensor], Tensor] | float
"""g(x): a constant, or a function of the points tensor (N, dim) returning (N,)."""


@dataclass
class Sampled:
    """The point groups of a block and per-point data, numpy float64."""

    groups: list[np.ndarray]
    extras: list[dict[str, np.ndarray]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.extras:
            self.extras = [{} for _ in self.groups]


def evaluate_value(value: ValueFn, points: np.ndarray) -> np.ndarray:
    """g at the points as a float64 array (N,)."""
    if callable(value):
        out = value(torch.as_tensor(points, dtype=torch.float64))
        out = out.detach().cpu().numpy() if isinstance(out, Tensor) else np.asarray(out, dtype=np.float64)
        out = np.broadcast_to(np.asarray(out, dtype=np.float64).reshape(-1), (points.shape[0],))
        return np.array(out)
    return np.full(points.shape[0], float(value))


class Condition(ABC):
    """A block of residual rows with its own points."""

    default_name = "condition"
    resample = True  # redraw points when the problem resamples

    def __init__(self, n_points: int | None, weight: float, name: str | None) -> None:
        if n_points is not None and n_points < 1:
            raise ValueError(f"{type(self).__name__}: n_points must be >= 1, got {n_points}")
        if not weight > 0:
            raise ValueError(f"{type(self).__name__}: weight must be positive, got {weight}")
        self.n_points, self.weight = n_points, weight
        self.name = name or self.default_name

    @abstractmethod
    def sample(self, domain: Domain, sampler: Sampler, n: int) -> Sampled: ...

    @abstractmethod
    def residual(self, *fields: Fields) -> Tensor: ...


class Dirichlet(Condition):
    """u_out = g on the boundary parts ``where`` (the whole boundary when None)."""

    default_name = "boundary"

    def __init__(self, value: ValueFn = 0.0, where: Where = None, out: Output = 0,
                 n_points: int | None = None, weight: float = 1.0, name: str | None = None) -> None:
        super().__init__(n_points, weight, name)
        self.value, self.where, self.out = value, where, out

    def sample(self, domain: Domain, sampler: Sampler, n: int) -> Sampled:
        points, _ = domain.boundary(n, sampler, where=self.where)
        return Sampled([points], [{"target": evaluate_value(self.value, points)}])

    def residual(self, f: Fields) -> Tensor:
        return f.u(self.out) - f.data("target")


class Neumann(Dirichlet):
    """∂u_out/∂n = g on the boundary parts ``where`` (outward normals)."""

    default_name = "neumann"

    def sample(self, domain: Domain, sampler: Sampler, n: int) -> Sampled:
        points, normals = domain.boundary(n, sampler, where=self.where)
        return Sampled([points], [{"target": evaluate_value(self.value, points), "normals": normals}])

    def residual(self, f: Fields) -> Tensor:
        return f.normal_derivative(self.out) - f.data("target")


class Robin(Dirichlet):
    """a·u_out + b·∂u_out/∂n = g on the boundary parts ``where`` (outward normals).

    ``a``, ``b`` and ``value`` (g) are numbers or functions of the points tensor (N, dim), evaluated at
    the sampled points. a = 1, b = 0 is Dirichlet, a = 0, b = 1 Neumann; e.g. a convective (Newton
    cooling) wall k·∂T/∂n = −h·(T − T∞) is ``Robin(a=h, b=k, value=h * T_inf)``.
    """

    default_name = "robin"

    def __init__(self, a: ValueFn = 1.0, b: ValueFn = 1.0, value: ValueFn = 0.0, where: Where = None,
                 out: Output = 0, n_points: int | None = None, weight: float = 1.0, name: str | None = None) -> None:
        super().__init__(value, where, out, n_points, weight, name)
        for label, coef in (("a", a), ("b", b)):
            if not callable(coef) and not np.isfinite(float(coef)):
                raise ValueError(f"Robin: {label} must be a finite number or a function of the points, got {coef!r}")
        if not callable(a) and not callable(b) and float(a) == 0.0 and float(b) == 0.0:
            raise ValueError("Robin: a and b are both 0, so the condition says nothing; give a or b")
        self.a, self.b = a, b

    def sample(self, domain: Domain, sampler: Sampler, n: int) -> Sampled:
        points, normals = domain.boundary(n, sampler, where=self.where)
        extras = {"target": evaluate_value(self.value, points), "normals": normals,
                  "robin_a": evaluate_value(self.a, points), "robin_b": evaluate_value(self.b, points)}
        return Sampled([points], [extras])

    def residual(self, f: Fields) -> Tensor:
        return f.data("robin_a") * f.u(self.out) + f.data("robin_b") * f.normal_derivative(self.out) - f.data("target")


class Periodic(Condition):
    """∂^k u_out/∂name^k equal on the two opposite faces of ``name`` (k = ``order``, default 0).
    Full C¹ periodicity is two conditions, ``Periodic("x")`` and ``Periodic("x", order=1)``."""

    default_name = "periodic"

    def __init__(self, coordinate: str = "x", out: Output = 0, order: int = 0,
                 n_points: int | None = None, weight: float = 1.0, name: str | None = None) -> None:
        if order < 0:
            raise ValueError(f"Periodic: order must be >= 0, got {order}")
        super().__init__(n_points, weight, name or (f"periodic_d{order}" if order else None))
        self.coordinate, self.out, self.order = coordinate, out, order

    def sample(self, domain: Domain, sampler: Sampler, n: int) -> Sampled:
        low, high = periodic_pairs(domain, self.coordinate, n, sampler)
        return Sampled([low, high])

    def residual(self, low: Fields, high: Fields) -> Tensor:
        names = (self.coordinate,) * self.order
        return low.d(*names, out=self.out) - high.d(*names, out=self.out)


class Initial(Condition):
    """u_out(x, t₀) = g(x) (g gets the full points, time column included)."""

    default_name = "initial"

    def __init__(self, value: ValueFn = 0.0, out: Output = 0, n_points: int | None = None,
                 weight: float = 1.0, name: str | None = None) -> None:
        super().__init__(n_points, weight, name)
        self.value, self.out = value, out

    def sample(self, domain: Domain, sampler: Sampler, n: int) -> Sampled:
        if not isinstance(domain, SpaceTime):
            raise TypeError(f"{type(self).__name__} needs a SpaceTime domain, got {type(domain).__name__}")
        points = domain.initial(n, sampler)
        return Sampled([points], [{"target": evaluate_value(self.value, points)}])

    def residual(self, f: Fields) -> Tensor:
        return f.u(self.out) - f.data("target")


class InitialVelocity(Initial):
    """∂u_out/∂t (x, t₀) = h(x)."""

    default_name = "initial_velocity"

    def residual(self, f: Fields) -> Tensor:
        return f.d(f.names[-1], out=self.out) - f.data("target")


class PointData(Condition):
    """u_out(x_k) = y_k at fixed data points (not resampled)."""

    default_name = "data"
    resample = False

    def __init__(self, points: np.ndarray, values: np.ndarray, out: Output = 0, weight: float = 1.0,
                 name: str | None = None) -> None:
        points = np.asarray(points, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if points.ndim != 2:
            raise ValueError(f"PointData points must be (N, dim), got shape {points.shape}")
        if values.shape[0] != points.shape[0]:
            raise ValueError(f"PointData has {points.shape[0]} points but {values.shape[0]} values")
        if not (np.isfinite(points).all() and np.isfinite(values).all()):
            raise ValueError("PointData holds NaN or Inf; clean the data first")
        super().__init__(points.shape[0], weight, name)
        self.points, self.values, self.out = points, values, out

    def sample(self, domain: Domain, sampler: Sampler, n: int) -> Sampled:
        if self.points.shape[1] != domain.dim:
            raise ValueError(f"PointData points have {self.points.shape[1]} columns, the domain has {domain.dim}")
        return Sampled([self.points], [{"target": self.values}])

    def residual(self, f: Fields) -> Tensor:
        return f.u(self.out) - f.data("target")
