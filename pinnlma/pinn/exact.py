"""Exact constraints by output transform: u_o(x) = g_o(x) + d_o(x)·N_o(x).

N is the network, g_o meets the constrained data (initial values, Dirichlet values) and d_o vanishes where
they are imposed, so the data hold by construction and their residual blocks leave r(θ) (Lagaris et al.
1998; Sukumar & Srivastava 2022, arXiv:2104.08426). A problem turns it on with ``exact=("initial",)``
(names of conditions, g and d generated) or ``exact=OutputTransform(...)`` (its own g and d); the command
line with ``--exact initial`` or ``--exact none``.

**Generated g and d** (:func:`generated_transform`), per output, from the conditions named:

- ``Initial`` u(x, t₀) = u₀(x):                 g = u₀,             d = τ,   τ = (t − t₀)/(t₁ − t₀);
- with ``InitialVelocity`` u_t(x, t₀) = v₀(x):   g = u₀ + (t − t₀)v₀, d = τ²;
- ``Dirichlet`` u = h on faces F of a box:        g = h,              d = Π_{faces} ρ_F(x),
  ρ = (x_k − lo)/L_k or (hi − x_k)/L_k for one face of coordinate k, 4(x_k − lo)(hi − x_k)/L_k² for both;
- both: g = u₀ (+ (t − t₀)v₀), d = τ (or τ²)·Π ρ_F, valid when the initial data meet h on the faces
  (checked at sample points; ValueError otherwise, e.g. for time-dependent h).

**Derivative channels.** The transform sits after the last linear layer, so the per-point Jacobian's
reverse pass is unchanged; only the output channels change, by Leibniz over the positions of α:
∂^α(dN) = Σ_{β ⊆ α} ∂^β d · ∂^{α∖β} N, plus ∂^α g. The ∂^β d and ∂^α g have no parameters; they come from
nested autograd in x at the points of each call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.func import jvp

from .channels import MultiIndex
from .conditions import Dirichlet, Initial, InitialVelocity, evaluate_value
from .geometry import Box, SpaceTime
from .problem import Problem
from .sampling import Sampler

__all__ = [
    "OutputTransform",
    "PointFn",
    "exact_conditions",
    "generated_transform",
    "parse_exact",
    "point_derivatives",
]

PointFn = Callable[[Tensor], Tensor]
"""A function of the points (N, dim) → (N,) (a torch function, so autograd gives its derivatives)."""


def point_derivatives(fn: PointFn, x: Tensor, channels: Sequence[MultiIndex]) -> list[Tensor]:
    """∂^α fn at the points x (N, dim) for every α of ``channels``, detached (N,) tensors.

    By nested forward mode (``torch.func.jvp`` along the unit vector of each coordinate of α): fn's row i
    depends only on point i, so one directional derivative over the batch gives every point's partial. Forward
    mode composes with the functorch transforms the LM core applies to r(θ) (geodesic acceleration)."""

    def along(inner: Callable[[Tensor], Tensor], k: int) -> Callable[[Tensor], Tensor]:
        def derivative(y: Tensor) -> Tensor:
            unit = torch.zeros_like(y)
            unit[:, k] = 1.0
            return jvp(inner, (y,), (unit,))[1]

        return derivative

    def value(y: Tensor) -> Tensor:
        return torch.as_tensor(fn(y), dtype=y.dtype, device=y.device).reshape(-1).expand(len(y)) + 0.0 * y[:, 0]

    x = x.detach()
    out = []
    for alpha in channels:
        f: Callable[[Tensor], Tensor] = value
        for k in alpha:
            f = along(f, k)
        out.append(f(x).detach())
    return out


class OutputTransform:
    """u_o = g_o(x) + d_o(x)·N_o(x) for each network output o.

    ``g`` and ``d``: output (index or name) → a :data:`PointFn` (or a number for g); outputs left out keep
    g = 0 and d = 1 (no constraint). ``replaces``: the names of the conditions it satisfies by
    construction (their blocks leave the residual). ValueError for an output the problem does not have
    (checked by :meth:`bind`).
    """

    def __init__(
        self,
        g: Mapping[int | str, PointFn | float] | None = None,
        d: Mapping[int | str, PointFn] | None = None,
        replaces: Sequence[str] = (),
    ) -> None:
        self.g, self.d = dict(g or {}), dict(d or {})
        self.replaces = tuple(replaces)
        self._g: list[PointFn | float | None] = []
        self._d: list[PointFn | None] = []

    def bind(self, problem: Problem) -> OutputTransform:
        """Resolve the outputs by the problem's names (done by :func:`~pinnlma.pinn.setup.build_model`)."""
        count = problem.output_count
        self._g, self._d = [None] * count, [None] * count
        for key, fn in self.g.items():
            self._g[problem.output_index(key)] = fn
        for key, dfn in self.d.items():
            self._d[problem.output_index(key)] = dfn
        known = {c.name for c in problem.conditions}
        unknown = [name for name in self.replaces if name not in known]
        if unknown:
            raise ValueError(f"exact constraint replaces {unknown}, not conditions of {problem.name} ({sorted(known)})")
        return self

    def __call__(self, x: Tensor, out: Tensor) -> Tensor:
        """The transformed outputs (N, outputs) from the network's ``out`` (N, outputs) at points x."""
        cols = []
        for o in range(out.shape[1]):
            u = out[:, o]
            if o < len(self._d) and self._d[o] is not None:
                u = self._d[o](x).reshape(-1) * u  # type: ignore[misc]
            g = self._g[o] if o < len(self._g) else None
            if g is not None:
                u = u + _value(g, x)
            cols.append(u)
        return torch.stack(cols, 1)

    def channels(self, x: Tensor, z: Tensor, channels: Sequence[MultiIndex], index: Mapping[MultiIndex, int]) -> Tensor:
        """Transformed derivative channels (C, N, outputs) from the network's channels z (C, N, outputs)."""
        outs = []
        for o in range(z.shape[2]):
            dfn = self._d[o] if o < len(self._d) else None
            gfn = self._g[o] if o < len(self._g) else None
            net = z[:, :, o].unbind(0)
            if dfn is None:
                chans = list(net)
            else:
                dd = point_derivatives(dfn, x, channels)
                chans = []
                for alpha in channels:
                    k, total = len(alpha), None
                    for mask in range(1 << k):
                        beta = tuple(alpha[i] for i in range(k) if mask >> i & 1)
                        rest = tuple(alpha[i] for i in range(k) if not mask >> i & 1)
                        term = dd[index[beta]] * net[index[rest]]
                        total = term if total is None else total + term
                    assert total is not None  # the empty subset is always a term
                    chans.append(total)
            if gfn is not None:
                gd = point_derivatives(functools.partial(_value, gfn), x, channels)
                chans = [c + g for c, g in zip(chans, gd)]
            outs.append(torch.stack(chans))
        return torch.stack(outs, 2)


def _value(fn: PointFn | float, x: Tensor) -> Tensor:
    if callable(fn):
        return torch.as_tensor(fn(x), dtype=x.dtype, device=x.device).reshape(-1)
    return torch.full_like(x[:, 0], float(fn))


def parse_exact(text: str) -> tuple[str, ...]:
    """``--exact`` text → condition names: "none" → (), "initial,boundary" → ("initial", "boundary")."""
    return () if text.strip() == "none" else tuple(n.strip() for n in text.split(",") if n.strip())


def exact_conditions(problem: Problem) -> tuple[str, ...]:
    """The names of the conditions ``problem.exact`` imposes by construction."""
    exact = problem.exact
    if isinstance(exact, OutputTransform):
        return exact.replaces
    return tuple(exact or ())


def _face_factor(box: Box, faces: Sequence[str], dim: int) -> PointFn:
    """Π over the faces of the normalized distances ρ_F (see the module docstring)."""
    per_coord: dict[int, set[str]] = {}
    for face in faces:
        name, _, side = face.rpartition("_")
        per_coord.setdefault(box.names.index(name), set()).add(side)
    lo, hi = box.lo, box.hi

    def d(x: Tensor) -> Tensor:
        out = torch.ones_like(x[:, 0])
        for k, sides in per_coord.items():
            a, b, span = float(lo[k]), float(hi[k]), float(hi[k] - lo[k])
            if sides == {"min", "max"}:
                out = out * (4.0 * (x[:, k] - a) * (b - x[:, k]) / span**2)
            elif "min" in sides:
                out = out * ((x[:, k] - a) / span)
            else:
                out = out * ((b - x[:, k]) / span)
        return out

    return d


def _dirichlet_faces(problem: Problem, cond: Dirichlet) -> tuple[Box, list[str]]:
    domain = problem.domain
    space = domain.space if isinstance(domain, SpaceTime) else domain
    if not isinstance(space, Box):
        raise ValueError(
            f"exact Dirichlet {cond.name!r}: a distance d is generated only for boxes, not {type(space).__name__}; "
            "give OutputTransform(g=..., d=...) with your own d"
        )
    faces = [f"{n}_{s}" for n in space.names for s in ("min", "max")]
    where = cond.where
    if where is None:
        return space, faces
    chosen = (
        [w.strip() for w in where.split(",")] if isinstance(where, str) else list(where) if not callable(where) else []
    )
    if not chosen or any(f not in faces for f in chosen):
        raise ValueError(
            f"exact Dirichlet {cond.name!r}: where={where!r} must name faces of the box ({', '.join(faces)}); "
            "give OutputTransform(g=..., d=...) for other boundary parts"
        )
    return space, chosen


def generated_transform(problem: Problem, names: Sequence[str]) -> OutputTransform:
    """The :class:`OutputTransform` that imposes the conditions ``names`` of ``problem`` (see the module
    docstring). ValueError for a condition kind it cannot impose, or initial and boundary data that disagree."""
    conds = {c.name: c for c in problem.conditions}
    missing = [n for n in names if n not in conds]
    if missing:
        raise ValueError(f"--exact {','.join(missing)}: {problem.name} has conditions {', '.join(conds) or 'none'}")
    per_output: dict[int, list] = {}
    for name in names:
        cond = conds[name]
        if type(cond) not in (Initial, InitialVelocity, Dirichlet):
            raise ValueError(
                f"condition {name!r} ({type(cond).__name__}) cannot be imposed exactly; only Initial, "
                "InitialVelocity and Dirichlet can (give OutputTransform(g=..., d=...) for others)"
            )
        assert isinstance(cond, (Initial, Dirichlet))  # InitialVelocity is an Initial
        per_output.setdefault(problem.output_index(cond.out), []).append(cond)
    g: dict[int | str, PointFn | float] = {}
    d: dict[int | str, PointFn] = {}
    for out, group in per_output.items():
        g[out], d[out] = _one_output(problem, group)
    return OutputTransform(g, d, replaces=tuple(names))


def _one_output(problem: Problem, group: list) -> tuple[PointFn, PointFn]:
    kinds = {type(c): c for c in group}
    if len(kinds) != len(group) and not all(type(c) is Dirichlet for c in group):
        raise ValueError(
            f"exact constraint: two initial conditions of one kind on one output ({[c.name for c in group]})"
        )
    initial, velocity = kinds.get(Initial), kinds.get(InitialVelocity)
    dirichlet = [c for c in group if type(c) is Dirichlet]
    if velocity is not None and initial is None:
        raise ValueError(f"exact {velocity.name!r}: an initial velocity is imposed together with its Initial value")
    factors: list[PointFn] = []
    g: PointFn | None = None
    if initial is not None:
        domain = problem.domain
        assert isinstance(domain, SpaceTime)  # Initial conditions sample only SpaceTime domains
        t0, span = domain.t0, domain.t1 - domain.t0
        power = 2 if velocity is not None else 1
        u0, v0 = initial.value, velocity.value if velocity is not None else None

        def g_time(x: Tensor) -> Tensor:
            out = _value(u0, x)
            return out if v0 is None else out + (x[:, -1] - t0) * _value(v0, x)

        factors.append(lambda x: ((x[:, -1] - t0) / span) ** power)
        g = g_time
    if dirichlet:
        values = {repr(c.value) if callable(c.value) else float(c.value) for c in dirichlet}
        if len(dirichlet) > 1 and (len(values) > 1 or any(callable(c.value) for c in dirichlet)):
            raise ValueError(
                f"exact Dirichlet {[c.name for c in dirichlet]}: several boundary values on one output need your "
                "own g; give OutputTransform(g=..., d=...)"
            )
        faces: list[str] = []
        for c in dirichlet:
            box, chosen = _dirichlet_faces(problem, c)
            faces += chosen
        factors.append(_face_factor(box, faces, problem.domain.dim))
        h = dirichlet[0].value
        if g is None:
            g = lambda x: _value(h, x)  # noqa: E731
        else:
            _check_compatible(problem, dirichlet[0], g)
    assert g is not None

    def d(x: Tensor) -> Tensor:
        out = factors[0](x)
        for f in factors[1:]:
            out = out * f(x)
        return out

    return g, d


def _check_compatible(problem: Problem, cond: Dirichlet, g: PointFn) -> None:
    """The initial data must meet the Dirichlet value h on its faces at all times (checked at 256 points)."""
    points, _ = problem.domain.boundary(256, Sampler("uniform", seed=0), where=cond.where)
    h = evaluate_value(cond.value, points)
    with torch.no_grad():
        got = g(torch.as_tensor(points, dtype=torch.float64)).numpy()
    gap = float(np.max(np.abs(got - h)))
    if gap > 1e-9 * max(1.0, float(np.max(np.abs(h)))):
        raise ValueError(
            f"exact {cond.name!r} with the initial data: the initial data differ from the boundary value on the "
            f"boundary by up to {gap:.3g} (time-dependent boundary data?); give OutputTransform(g=..., d=...)"
        )
