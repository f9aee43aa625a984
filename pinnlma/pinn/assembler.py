"""``ResidualAssembler``: a Problem + a model → one residual vector r(θ) with named, weighted row blocks.

Rows of block b (PDE or condition, N_b points, weight w_b) are r_b = √(w_b/N_b) · raw_b, so that

    ½‖r‖² = ½ Σ_b w_b · mean(raw_b²),

the usual weighted PINN loss (halved). θ = [network parameters, unknown PDE coefficients].

The assembler is a :class:`pinnlma.lm.ResidualModel`: it gives the LM core r(θ), the Jacobian in row
slices, Jᵀw and the second directional derivative, and knows nothing of which backend solves. The
Jacobian uses the exact MLP channel path (``jacobian="channels"``, see :mod:`pinnlma.pinn.channels`) when
the model allows it, else per-point ``vmap(jacrev(...))`` with derivatives by nested forward mode
(``jacobian="generic"``). Both give the same J.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, jvp, vmap

from ..lm.jacobian import DEFAULT_MEMORY_BUDGET, forward_product, rows_per_slice
from ..ranks import SINGLE_PROCESS, RowPartition
from .block import Block
from .channels import ChannelForward, close_channels, per_point_jacobian
from .fields import ChannelFields, PointFields, requested_channels
from .models import MLP
from .problem import Problem
from .replicas import Replica, Transfer, accumulate_partial, replicated_partials, replicated_slices, start_copy
from .sampling import Sampler

__all__ = ["JACOBIAN_PATHS", "Block", "ResidualAssembler"]

JACOBIAN_PATHS = ("auto", "channels", "generic")
"""How the assembler forms J: ``channels`` (the exact MLP channel path), ``generic`` (per-point autograd,
any model) or ``auto`` (channels where the model allows it). The ``--jacobian`` choices."""


class ResidualAssembler:
    """Stacks a problem's residual blocks for a model; implements the LM core's ResidualModel.

    ``partition`` (:class:`~pinnlma.ranks.RowPartition`, default one process): which rows this process
    computes; residual, slices and products then cover only those (the LM core reads it as the model's
    ``row_partition`` and sums over the processes)."""

    def __init__(
        self,
        problem: Problem,
        model: nn.Module,
        *,
        sampler: Sampler | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
        jacobian: str = "auto",
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        devices: Sequence[str | torch.device] | None = None,
        transfer: Transfer = start_copy,
        partition: RowPartition | None = None,
    ) -> None:
        if jacobian not in JACOBIAN_PATHS:
            raise ValueError(f"jacobian must be one of {', '.join(map(repr, JACOBIAN_PATHS))}, got {jacobian!r}")
        fast_ok = isinstance(model, MLP) and model.supports_channels
        if jacobian == "channels" and not fast_ok:
            raise ValueError(
                "the channel Jacobian needs a pinnlma MLP with tanh, sin or sigmoid activation (and an output "
                "transform with a channels method); use --jacobian generic"
            )
        self.problem, self.model = problem, model
        self.names = problem.domain.names
        self.outputs = problem.output_columns
        self.dtype, self.device = dtype, torch.device(device)
        self.sampler = sampler or Sampler(problem.sampling, seed=0)
        self.jacobian = (
            "channels" if (jacobian == "auto" and fast_ok) else ("generic" if jacobian == "auto" else jacobian)
        )
        self.memory_budget = memory_budget
        self._param_names = [n for n, _ in model.named_parameters()]
        self._param_shapes = [p.shape for _, p in model.named_parameters()]
        self.n_model = sum(s.numel() for s in self._param_shapes)
        self.unknown_names = list(problem.unknowns)
        self.n_params = self.n_model + len(self.unknown_names)
        self.blocks: list[Block] = []
        self.replicas = [Replica(torch.device(d), model) for d in devices] if devices else []
        self.transfer = transfer  # how replica slices reach self.device (see pinnlma.pinn.replicas)
        # which rows this process computes (all but under a multi-rank launch) and the sums over processes
        self.row_partition = partition or SINGLE_PROCESS
        self.sample()

    # -- points ------------------------------------------------------------------------------------
    def _tensor(self, a: np.ndarray | Tensor) -> Tensor:
        if isinstance(a, Tensor):
            return a.detach().to(dtype=self.dtype, device=self.device).contiguous()
        return torch.as_tensor(np.ascontiguousarray(a), dtype=self.dtype, device=self.device)

    def sample(self) -> None:
        """Draw (or redraw) the points of every block that resamples."""
        p, old = self.problem, {b.name: b for b in self.blocks}
        blocks = []
        satisfied = self.model.satisfied_conditions(p.conditions, p.domain) if isinstance(self.model, MLP) else []
        for name, fn in p.pde_blocks():
            if name in old and not old[name].resample:
                blocks.append(old[name])
                continue
            points = p.domain.interior(p.n_interior, self.sampler)
            blocks.append(Block(name, fn, [self._tensor(points)], [{}], p.weights.get(name, 1.0), True))
        for cond in p.conditions:
            if cond.name in satisfied:
                continue  # holds by construction of the network (periodic embedding, exact output transform)
            if cond.name in old and not cond.resample:
                blocks.append(old[cond.name])
                continue
            sampled = cond.sample(p.domain, self.sampler, cond.n_points or p.n_boundary)
            extras = [{k: self._tensor(v) for k, v in e.items()} for e in sampled.extras]
            weight = p.weights.get(cond.name, cond.weight)
            blocks.append(
                Block(
                    cond.name, cond.residual, [self._tensor(g) for g in sampled.groups], extras, weight, cond.resample
                )
            )
        self.blocks = blocks
        if self.jacobian == "channels":
            self._prepare_channels()
        for replica in self.replicas:
            replica.clear()

    def _prepare_channels(self) -> None:
        params = {k: torch.ones((), dtype=torch.float64) for k in (*self.problem.parameters, *self.unknown_names)}
        for block in self.blocks:
            if block.channels is not None:
                continue
            asked = requested_channels(block.fn, self.names, len(block.groups), params, block.extras, self.outputs)
            block.channels = [close_channels(alpha for alpha, _ in group) for group in asked]

    # -- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The points and per-point data of every block and the sampler's state: what a resumed run needs
        to evaluate exactly the residual rows it stopped on (``{"points", "extras", "sampler"}``)."""
        return {
            "points": {b.name: {f"group{i}": g.detach().clone() for i, g in enumerate(b.groups)} for b in self.blocks},
            "extras": {
                b.name: {f"group{i}": {k: v.detach().clone() for k, v in e.items()} for i, e in enumerate(b.extras)}
                for b in self.blocks
            },
            "sampler": self.sampler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], resizable: Sequence[str] = ()) -> None:
        """Restore :meth:`state_dict` (points may come as tensors or numpy arrays). Raises ValueError,
        before anything changes, when the blocks, their groups or their row counts differ from this
        problem's (the row counts of the blocks named in ``resizable`` may differ: adaptive collocation)."""
        blocks = {b.name: b for b in self.blocks}
        points, extras = state["points"], state["extras"]
        restored: dict[str, tuple[list[Tensor], list[dict[str, Tensor]]]] = {}
        for name, groups in points.items():
            if name not in blocks:
                raise ValueError(
                    f"block {name!r} of the saved state is not in this problem (its blocks: {', '.join(blocks)})"
                )
            block = blocks[name]
            keys = [f"group{i}" for i in range(len(block.groups))]
            if sorted(groups) != sorted(keys):
                raise ValueError(
                    f"block {name!r}: the saved state has point groups {sorted(groups)}, this problem {keys}"
                )
            new_groups = [self._tensor(groups[k]) for k in keys]
            if any(
                g.shape[name in resizable :] != old.shape[name in resizable :]
                for g, old in zip(new_groups, block.groups)
            ):
                raise ValueError(
                    f"block {name!r}: the saved points have shapes {[tuple(g.shape) for g in new_groups]}, "
                    f"this problem {[tuple(g.shape) for g in block.groups]}"
                )
            saved_extras = extras.get(name, {})
            new_extras = [{k: self._tensor(v) for k, v in saved_extras.get(key, {}).items()} for key in keys]
            restored[name] = (new_groups, new_extras)
        for name, (groups, block_extras) in restored.items():
            blocks[name].groups, blocks[name].extras = groups, block_extras
        self.sampler.load_state_dict(state["sampler"])
        for replica in self.replicas:
            replica.clear()

    # -- adaptive collocation hooks (pinnlma.pinn.adaptive) ---------------------------------------------
    def _pde_block(self, name: str) -> Block:
        pde = [n for n, _ in self.problem.pde_blocks()]
        if name not in pde:
            raise ValueError(f"{name!r} is not a PDE block of {self.problem.name} ({', '.join(pde) or 'none'})")
        return next(b for b in self.blocks if b.name == name)

    def block_points(self, name: str) -> Tensor:
        """The collocation points (N, dim) of the PDE block ``name`` (ValueError for another name)."""
        return self._pde_block(name).groups[0]

    def set_block_points(self, name: str, points: Tensor) -> None:
        """Replace the points of the PDE block ``name`` by ``points`` (N, dim), N ≥ 1 (the row count may
        change; call the optimizer's ``refresh()`` after). ValueError for a bad shape or name."""
        block = self._pde_block(name)
        if points.ndim != 2 or points.shape[1] != block.groups[0].shape[1] or len(points) < 1:
            raise ValueError(
                f"block {name!r} needs points (N >= 1, {block.groups[0].shape[1]}), got {tuple(points.shape)}"
            )
        block.groups, block.extras = [self._tensor(points)], [{}]
        for replica in self.replicas:
            replica.clear()

    def block_residual_at(self, name: str, points: Tensor, theta: Tensor) -> Tensor:
        """The raw (unweighted) residual of the PDE block ``name`` at other ``points`` (N, dim), at θ; in
        row chunks of ``slice_rows()``, without a graph."""
        block = self._pde_block(name)
        probe = Block(name, block.fn, [self._tensor(points)], [{}], 1.0, False, block.channels)
        step = self.slice_rows()
        with torch.no_grad():
            parts = [self._block_residual(probe, slice(s, s + step), theta) for s in range(0, len(points), step)]
        return torch.cat(parts) / probe.scale

    @property
    def n_residuals(self) -> int:
        """m: all rows of all blocks."""
        return sum(b.n_rows for b in self.blocks)

    def block_slices(self) -> dict[str, slice]:
        """Row range of each block in r."""
        out, start = {}, 0
        for b in self.blocks:
            out[b.name] = slice(start, start + b.n_rows)
            start += b.n_rows
        return out

    # -- parameters --------------------------------------------------------------------------------
    def initial_parameters(self) -> Tensor:
        """θ₀: the model's current parameters, then the unknown coefficients' initial guesses."""
        flat = torch.cat([p.detach().reshape(-1) for p in self.model.parameters()]).to(self.dtype)
        unknowns = torch.tensor([self.problem.unknowns[k] for k in self.unknown_names], dtype=self.dtype)
        return torch.cat([flat.to(self.device), unknowns.to(self.device)])

    def _split(self, theta: Tensor) -> tuple[list[Tensor], dict[str, Tensor]]:
        """θ → (model tensors in parameter order, coefficient dict known ∪ unknown)."""
        tensors, start = [], 0
        for shape in self._param_shapes:
            tensors.append(theta[start : start + shape.numel()].view(shape))
            start += shape.numel()
        coefs = {
            k: torch.as_tensor(v, dtype=theta.dtype, device=theta.device) for k, v in self.problem.parameters.items()
        }
        for i, k in enumerate(self.unknown_names):
            coefs[k] = theta[self.n_model + i]
        return tensors, coefs

    def write_back(self, theta: Tensor) -> None:
        """Copy θ's network part into the model (for prediction and saving)."""
        tensors, _ = self._split(theta.detach())
        with torch.no_grad():
            for p, t in zip(self.model.parameters(), tensors):
                p.copy_(t.to(p))

    def coefficients(self, theta: Tensor) -> dict[str, float]:
        """The current values of the unknown coefficients."""
        return {k: float(theta[self.n_model + i]) for i, k in enumerate(self.unknown_names)}

    # -- evaluation: fast channel path ---------------------------------------------------------------
    def _channel_rows(
        self,
        block: Block,
        rows: slice,
        tensors: Sequence[Tensor],
        coefs: dict[str, Tensor],
        keep: bool,
        model: nn.Module | None = None,
    ) -> tuple[Tensor, list[tuple[list[Tensor], list[Tensor]]]]:
        fields, graphs = [], []
        assert block.channels is not None  # prepared by sample() on the channel path
        for group, extras, chans in zip(block.groups, block.extras, block.channels):
            forward = ChannelForward(cast(MLP, model or self.model), chans)
            out, pre, acts = forward(group[rows], tensors)
            fields.append(
                ChannelFields(
                    self.names,
                    group[rows],
                    out,
                    forward.index,
                    coefs,
                    {k: v[rows] for k, v in extras.items()},
                    self.outputs,
                )
            )
            graphs.append((pre, acts))
        raw = block.fn(*fields)
        n = fields[0].x.shape[0]
        return block.scale * _rows(raw, n, block.name), graphs if keep else []

    def _channel_jacobian(
        self, block: Block, rows: slice, theta: Tensor, model: nn.Module | None = None
    ) -> tuple[Tensor, Tensor]:
        leaf = theta.detach().requires_grad_(True)
        tensors, coefs = self._split(leaf)
        n_rows = block.groups[0][rows].shape[0]
        per_row = {}
        for k in self.unknown_names:  # per-row copies give ∂r_i/∂c for each row from one backward
            per_row[k] = coefs[k].detach().expand(n_rows).clone().requires_grad_(True)
            coefs[k] = per_row[k]
        r, graphs = self._channel_rows(block, rows, tensors, coefs, keep=True, model=model)
        pre_all = [z for pre, _ in graphs for z in pre]
        wrt = pre_all + list(per_row.values())
        raw = torch.autograd.grad(r.sum(), wrt, allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for g, t in zip(raw, wrt)]
        coef_grads = grads[len(pre_all) :]
        jac: Tensor | None = None
        offset = 0
        for pre, acts in graphs:
            jac = per_point_jacobian(grads[offset : offset + len(pre)], acts, extra_cols=len(coef_grads), out=jac)
            offset += len(pre)
        assert jac is not None  # a block has at least one point group
        for i, g in enumerate(coef_grads):
            jac[:, self.n_model + i] = g
        return r.detach(), jac

    # -- evaluation: generic per-point path ------------------------------------------------------------
    def _row_function(self, block: Block, model: nn.Module | None = None) -> Callable[..., Tensor]:
        names, model, outputs = self.names, model or self.model, self.outputs
        param_names = self._param_names

        def row(theta: Tensor, points: list[Tensor], extras: list[dict[str, Tensor]]) -> Tensor:
            tensors, coefs = self._split(theta)
            params = dict(zip(param_names, tensors))

            def u_fn(p: Tensor) -> Tensor:
                return functional_call(model, params, (p.unsqueeze(0),)).reshape(-1)

            fields = [PointFields(names, p, u_fn, coefs, e, outputs) for p, e in zip(points, extras)]
            return block.scale * block.fn(*fields).reshape(())

        return row

    def _generic_rows(self, block: Block, rows: slice, theta: Tensor) -> Tensor:
        row = self._row_function(block)
        points = [g[rows] for g in block.groups]
        extras = [{k: v[rows] for k, v in e.items()} for e in block.extras]
        return vmap(row, in_dims=(None, 0, 0))(theta, points, extras)

    def _generic_jacobian(
        self, block: Block, rows: slice, theta: Tensor, model: nn.Module | None = None
    ) -> tuple[Tensor, Tensor]:
        row = self._row_function(block, model)
        points = [g[rows] for g in block.groups]
        extras = [{k: v[rows] for k, v in e.items()} for e in block.extras]
        both = lambda t, p, e: (row(t, p, e),) * 2  # noqa: E731
        jac, r = vmap(jacrev(both, has_aux=True), in_dims=(None, 0, 0))(theta, points, extras)
        return r.detach(), jac.detach()

    # -- the ResidualModel interface -------------------------------------------------------------------
    def _block_residual(self, block: Block, rows: slice, theta: Tensor) -> Tensor:
        if self.jacobian == "channels":
            tensors, coefs = self._split(theta)
            return self._channel_rows(block, rows, tensors, coefs, keep=False)[0]
        return self._generic_rows(block, rows, theta)

    def residual(self, theta: Tensor) -> Tensor:
        """r(θ), all blocks stacked in order; evaluated in row chunks of ``slice_rows()`` so that the
        network's activations and derivative channels never need memory for all m points at once."""
        parts = [self._block_residual(block, rows, theta) for block, rows in self._row_chunks()]
        return torch.cat(parts) if parts else theta.new_zeros(0)

    def _row_chunks(self) -> list[tuple[Block, slice]]:
        """The (block, rows) chunks of ``slice_rows()`` rows that residual(), the slices and the products
        work in: this process's rows (``row_partition.tasks``; all rows in one process)."""
        tasks = self.row_partition.tasks([b.n_rows for b in self.blocks], self.slice_rows())
        return [(self.blocks[b], rows) for b, rows in tasks]

    def slice_rows(self) -> int:
        """Rows per Jacobian slice under the memory budget."""
        itemsize = torch.finfo(self.dtype).bits // 8
        return rows_per_slice(self.memory_budget, self.n_params, itemsize)

    def slices(self, theta: Tensor, m: int) -> Iterator[tuple[Tensor, Tensor]]:
        """(r_s, J_s) over row slices of at most ``slice_rows()`` rows, block by block."""
        jac_fn = self._channel_jacobian if self.jacobian == "channels" else self._generic_jacobian
        tasks = self._row_chunks()
        if not self.replicas:
            for block, rows in tasks:
                yield jac_fn(block, rows, theta)
            return
        yield from replicated_slices(self.replicas, tasks, theta, jac_fn, self.device, self.transfer)

    def normal_partials(self, theta: Tensor) -> list[tuple[Tensor, Tensor, int]] | None:
        """Partial normal equations ``(J_dᵀJ_d, J_dᵀr_d, rows)`` of this process's rows on this assembler's
        device: one per device replica (each accumulates its own rows where it computed them; see
        :func:`~pinnlma.pinn.replicas.replicated_partials`), else one when the rows are shared with other
        processes (zeros for a process without rows), else None (the LM core then takes the slices)."""
        jac_fn = self._channel_jacobian if self.jacobian == "channels" else self._generic_jacobian
        if not self.replicas:
            if not self.row_partition.split:
                return None
            n = self.n_params
            zero = (
                torch.zeros(n, n, dtype=self.dtype, device=self.device),
                torch.zeros(n, dtype=self.dtype, device=self.device),
                0,
            )
            return [accumulate_partial(self.slices(theta, 0), n) or zero]
        return replicated_partials(self.replicas, self._row_chunks(), theta, jac_fn, self.device, self.transfer)

    def jt_times(self, theta: Tensor, w: Tensor) -> Tensor:
        """Jᵀw, one reverse pass per row chunk of residual(): memory of one chunk's graph, not all m rows'."""
        m = len(self.row_partition.rows(self.n_residuals))  # this process's rows
        if w.shape != (m,):
            raise ValueError(f"jt_times needs an m-vector, m = {m}; got shape {tuple(w.shape)}")
        leaf = theta.detach().requires_grad_(True)
        out, offset = torch.zeros_like(leaf), 0
        with torch.enable_grad():
            for block, rows in self._row_chunks():
                r = self._block_residual(block, rows, leaf)
                if r.requires_grad:  # rows that do not depend on θ add nothing
                    (grad,) = torch.autograd.grad(r, leaf, w[offset : offset + r.shape[0]], allow_unused=True)
                    if grad is not None:
                        out.add_(grad)
                offset += r.shape[0]
        return out

    def j_times(self, theta: Tensor, v: Tensor) -> Tensor:
        """J v by forward mode through residual(): forward mode keeps no graph, so memory stays that of one
        row chunk's activations and their tangents (the m-vector result aside)."""
        if v.shape != theta.shape:
            raise ValueError(f"j_times needs an n-vector, n = {theta.shape[0]}; got shape {tuple(v.shape)}")
        # the generic path takes its point derivatives by nested forward mode: torch.func.jvp there
        return forward_product(self.residual, theta, v, dual_numbers=self.jacobian == "channels")

    def second_directional(self, theta: Tensor, v: Tensor) -> Tensor:
        """r_vv = d²/dt² r(θ + t v) at t = 0 (geodesic acceleration)."""
        first = lambda t: jvp(self.residual, (t,), (v,))[1]  # noqa: E731
        return jvp(first, (theta,), (v,))[1].detach()

    def full_jacobian(self, theta: Tensor) -> tuple[Tensor, Tensor]:
        """The whole (r, J), concatenated from the slices (for tests and small problems)."""
        parts = list(self.slices(theta, self.n_residuals))
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    # -- reporting ---------------------------------------------------------------------------------
    def block_losses(self, theta: Tensor, r: Tensor | None = None) -> dict[str, float]:
        """mean(raw_b²) per block (unweighted), from r (this process's rows) if given; summed over the
        processes of ``row_partition``."""
        with torch.no_grad():
            r = self.residual(theta) if r is None else r
        index = {id(b): i for i, b in enumerate(self.blocks)}
        sums, offset = r.new_zeros(len(self.blocks)), 0
        for block, rows in self._row_chunks():
            raw = r[offset : offset + len(range(block.n_rows)[rows])] / block.scale
            sums[index[id(block)]] += raw @ raw
            offset += raw.shape[0]
        sums = self.row_partition.allreduce(sums)
        return {b.name: float(sums[i] / b.n_rows) if b.n_rows else math.nan for i, b in enumerate(self.blocks)}

    def loss(self, r: Tensor) -> float:
        """The weighted PINN loss Σ_b w_b mean(raw_b²) = ‖r‖² (r: this process's rows, summed over the processes)."""
        return float(self.row_partition.allreduce(r @ r))

    def predict(self, theta: Tensor, points: np.ndarray, batch: int = 8192) -> np.ndarray:
        """Network outputs (N, outputs) at numpy points."""
        tensors, _ = self._split(theta.detach())
        params = dict(zip(self._param_names, tensors))
        outs = []
        with torch.no_grad():
            for start in range(0, len(points), batch):
                x = self._tensor(points[start : start + batch])
                outs.append(functional_call(self.model, params, (x,)))
        return torch.cat(outs).cpu().numpy().reshape(len(points), -1)


def _rows(raw: Tensor, n: int, name: str) -> Tensor:
    if not isinstance(raw, Tensor):
        raise TypeError(f"block {name!r}: the residual function returned {type(raw).__name__}, not a tensor")
    raw = raw.reshape(-1) if raw.numel() == n else raw
    if raw.shape != (n,):
        raise ValueError(
            f"block {name!r}: the residual function returned shape {tuple(raw.shape)}, expected ({n},) "
            "(one row per point)"
        )
    return raw
