"""``Fields``: what a residual function sees at its points — coordinates, outputs, derivatives, coefficients.

A residual is written once, as plain torch arithmetic on what a Fields object returns::

    def burgers(f):
        return f.d("t") + f.u() * f.d("x") - f.param("nu") * f.d("x", "x")

and runs unchanged on three implementations:

- :class:`ChannelFields`: batched, derivatives read from the MLP's derivative channels (fast path);
- :class:`PointFields`: one point at a time, derivatives by nested ``torch.func.jacfwd`` (composes with
  vmap/jacrev: the generic path for any model);
- :class:`RecordingFields`: a dry run that records which derivatives a residual asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

import torch
from torch import Tensor

from .channels import MultiIndex
from .derivatives import partial

Output = int | str
"""A network output: its index, or its name (``Problem(outputs=("u", "v", "p"))``)."""



class Fields:
    """Base: coordinate names, output names, and the lookup from names to multi-indices."""

    x: Tensor
    """The points (N, dim), or one point (dim,)."""

    def __init__(
        self,
        names: Sequence[str],
        params: Mapping[str, Tensor],
        extras: Mapping[str, Tensor],
        outputs: Sequence[str] = (),
    ) -> None:
        self.names = tuple(names)
        self.outputs = tuple(outputs)
        self._params = params
        self._extras = extras

    def output(self, out: Output) -> int:
        """The index of output ``out`` (an index, or a name from the problem's ``outputs``)."""
        if isinstance(out, str):
            try:
                return self.outputs.index(out)
            except ValueError:
                known = ", ".join(self.outputs) if self.outputs else "none named"
                raise KeyError(f"unknown output {out!r}; this problem's outputs are {known}") from None
        if self.outputs and not -len(self.outputs) <= out < len(self.outputs):
            raise KeyError(f"output index {out} out of range for {len(self.outputs)} outputs "
                           f"({', '.join(self.outputs)})")
        return out

    def index(self, *names: str) -> MultiIndex:
        """The sorted multi-index of coordinate ``names`` (KeyError naming the coordinates for an unknown one)."""
        try:
            return tuple(sorted(self.names.index(n) for n in names))
        except ValueError:
            bad = [n for n in names if n not in self.names]
            raise KeyError(f"unknown coordinate {bad[0]!r}; this problem's coordinates are {self.names}") from None

    def coord(self, name: str) -> Tensor:
        """The coordinate ``name`` of the points."""
        return self.x[..., self.index(name)[0]]

    def u(self, out: Output = 0) -> Tensor:
        """Output ``out`` of the network (an index or an output name)."""
        return self.d(out=out)

    def d(self, *names: str, out: Output = 0) -> Tensor:  # pragma: no cover - abstract
        """∂^k u_out / ∂names[0]…∂names[k-1], e.g. ``d("x", "x")`` = u_xx, ``d("x", out="v")`` = v_x."""
        raise NotImplementedError

    def param(self, name: str) -> Tensor:
        """A PDE coefficient (trainable in inverse problems)."""
        try:
            return self._params[name]
        except KeyError:
            raise KeyError(f"unknown PDE parameter {name!r}; defined: {sorted(self._params)}") from None

    def data(self, name: str) -> Tensor:
        """Per-point data attached to the block (targets, normals, source values)."""
        try:
            return self._extras[name]
        except KeyError:
            raise KeyError(f"no per-point data {name!r} on this block; available: {sorted(self._extras)}") from None

    def laplacian(self, out: Output = 0, names: Sequence[str] | None = None) -> Tensor:
        """Σ_k ∂²u/∂x_k² over ``names`` (default: every coordinate except 't')."""
        names = names if names is not None else [n for n in self.names if n != "t"]
        return cast(Tensor, sum(self.d(n, n, out=out) for n in names))

    def normal_derivative(self, out: Output = 0, names: Sequence[str] | None = None) -> Tensor:
        """∂u/∂n = Σ_k n_k ∂u/∂x_k with the block's outward normals (data 'normals'), over ``names``
        (default: every coordinate — a space-time boundary's normals have time component 0, and a
        coordinate named "t" of a plain box, as in PINNacle's Wave1d-C, is a direction like any other)."""
        normals = self.data("normals")
        names = names if names is not None else list(self.names)
        return cast(Tensor, sum(normals[..., self.names.index(n)] * self.d(n, out=out) for n in names))


class ChannelFields(Fields):
    """Batched fields from derivative channels: ``values`` (C, N, outputs), ``index`` multi-index → c."""

    def __init__(
        self,
        names: Sequence[str],
        x: Tensor,
        values: Tensor,
        index: Mapping[MultiIndex, int],
        params: Mapping[str, Tensor],
        extras: Mapping[str, Tensor],
        outputs: Sequence[str] = (),
    ) -> None:
        super().__init__(names, params, extras, outputs)
        self.x, self._values, self._index = x, values, index

    def d(self, *names: str, out: Output = 0) -> Tensor:
        """∂^k u_out from the derivative channels."""
        alpha = self.index(*names)
        try:
            return self._values[self._index[alpha], :, self.output(out)]
        except KeyError:
            raise KeyError(f"derivative {names} was not prepared; the assembler must be told of it") from None


class RecordingFields(Fields):
    """Dry run: returns ones and records the multi-indices requested."""

    def __init__(
        self,
        names: Sequence[str],
        dim: int,
        params: Mapping[str, Tensor],
        extras: Mapping[str, Tensor],
        outputs: Sequence[str] = (),
    ) -> None:
        super().__init__(names, params, extras, outputs)
        self.x = torch.ones(1, dim, dtype=torch.float64)
        self.requested: set[tuple[MultiIndex, int]] = set()

    def d(self, *names: str, out: Output = 0) -> Tensor:
        """Record the request; ones."""
        self.requested.add((self.index(*names), self.output(out)))
        return torch.ones(1, dtype=torch.float64)


class PointFields(Fields):
    """Fields at a single point (x of shape (dim,)), derivatives by nested forward-mode autodiff of
    ``u_fn(point) -> (outputs,)``. Composes with vmap over points and jacrev over parameters."""

    def __init__(
        self,
        names: Sequence[str],
        x: Tensor,
        u_fn: Callable[[Tensor], Tensor],
        params: Mapping[str, Tensor],
        extras: Mapping[str, Tensor],
        outputs: Sequence[str] = (),
    ) -> None:
        super().__init__(names, params, extras, outputs)
        self.x, self._u_fn = x, u_fn
        self._cache: dict[MultiIndex, Tensor] = {}

    def d(self, *names: str, out: Output = 0) -> Tensor:
        """∂^k u_out at the point, by nested forward mode."""
        alpha = self.index(*names)
        if alpha not in self._cache:
            self._cache[alpha] = partial(self._u_fn, *alpha)(self.x)
        return self._cache[alpha][self.output(out)]


def requested_channels(
    fn: Callable[..., Tensor],
    names: Sequence[str],
    n_groups: int,
    params: Mapping[str, Tensor],
    extras: Sequence[Mapping[str, Tensor]],
    outputs: Sequence[str] = (),
) -> list[set[tuple[MultiIndex, int]]]:
    """Run ``fn`` on recording fields (one per point group) and return what each group asked for."""
    recorders = [
        RecordingFields(names, len(names), params, {k: v[:1] for k, v in extras[g].items()}, outputs)
        for g in range(n_groups)
    ]
    with torch.no_grad():
        fn(*recorders)
    return [r.requested for r in recorders]
