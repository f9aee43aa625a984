"""``ResidualAssembler``: a Problem + a model → one residual vector r(θ) with named, weighted row blocks.

Rows of block b (PDE or condition, N_b points, weight w_b) are r_b = √(w_b/N_b) · raw_b, so that

    ½‖r‖² = ½ Σ_b w_b · mean(raw_b²),

the usual weighted PINN loss (halved). A block may carry per-row weights w_i (:meth:`set_row_weights`,
e.g. causal weights): its rows are then √w_i · √(w_b/N_b) · raw_{b,i}. θ = [network parameters, unknown PDE coefficients].

The assembler is a :class:`pinnlma.lm.ResidualModel`: it gives the LM core r(θ), the Jacobian in row
slices, Jᵀw and the second directional derivative, and knows nothing of which backend solves. The
Jacobian uses the exact MLP channel path (``jacobian="channels"``, :mod:`pinnlma.pinn.channel_rows`, math in
:mod:`pinnlma.pinn.channels`) when the model allows it, else per-point ``vmap(jacrev(...))`` with derivatives
by nested forward mode (``jacobian="generic"``, :mod:`pinnlma.pinn.generic_rows`). Both give the same J.
Where θ's pieces live is :mod:`pinnlma.pinn.layout`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, jvp

from ..lm.jacobian import DEFAULT_MEMORY_BUDGET, forward_product, rows_per_slice
from ..ranks import SINGLE_PROCESS, RowPartition
from .block import Block
from .channel_rows import ChannelRows
from .generic_rows import GenericRows
from .layout import ParameterLayout
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
        self.layout = ParameterLayout(model, problem.parameters, problem.unknowns)
        self.n_model, self.n_params = self.layout.n_model, self.layout.n_params
        self.unknown_names = self.layout.unknown_names
        rows_class = ChannelRows if self.jacobian == "channels" else GenericRows
        self.path: ChannelRows | GenericRows = rows_class(model, self.layout, self.names, self.outputs)
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
        if isinstance(self.path, ChannelRows):
            self.path.prepare(self.blocks, [*p.parameters, *self.unknown_names])
        for replica in self.replicas:
            replica.clear()

    # -- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The points and per-point data of every block, the sampler's state and the row weights of the
        blocks that have them: what a resumed run needs to evaluate exactly the residual rows it stopped on
        (``{"points", "extras", "sampler", "row_weights"}``)."""
        return {
            "points": {b.name: {f"group{i}": g.detach().clone() for i, g in enumerate(b.groups)} for b in self.blocks},
            "extras": {
                b.name: {f"group{i}": {k: v.detach().clone() for k, v in e.items()} for i, e in enumerate(b.extras)}
                for b in self.blocks
            },
            "sampler": self.sampler.state_dict(),
            "row_weights": {b.name: w for b in self.blocks if (w := self.row_weights(b.name)) is not None},
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
            blocks[name].groups, blocks[name].extras, blocks[name].row_weight = groups, block_extras, None
        for name, weights in state.get("row_weights", {}).items():
            self.set_row_weights(name, weights)
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
        block.groups, block.extras, block.row_weight = [self._tensor(points)], [{}], None
        for replica in self.replicas:
            replica.clear()

    def row_weights(self, name: str) -> Tensor | None:
        """The per-row weights w of block ``name`` (its rows are √w · scale · raw), None when it has none."""
        return self._named_block(name).row_weight

    def set_row_weights(self, name: str, weights: Tensor | None) -> None:
        """Weight the rows of block ``name`` by ``weights`` (N,), positive and finite (rows become
        √w · scale · raw; causal weights, :mod:`pinnlma.pinn.causal`), or remove them (None). Points that
        change drop the weights. Call the optimizer's ``refresh()`` after. ValueError for a bad shape or value."""
        block = self._named_block(name)
        if weights is None:
            block.row_weight = None
        else:
            w = self._tensor(weights)
            if w.shape != (block.n_rows,) or not bool(torch.isfinite(w).all() and (w > 0).all()):
                raise ValueError(
                    f"block {name!r} needs {block.n_rows} positive finite row weights, got shape {tuple(w.shape)}"
                )
            block.row_weight = w
        for replica in self.replicas:
            replica.clear()

    def _named_block(self, name: str) -> Block:
        for block in self.blocks:
            if block.name == name:
                return block
        raise ValueError(f"{name!r} is not a block of {self.problem.name} ({', '.join(b.name for b in self.blocks)})")

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
        return self.layout.initial(self.model, self.dtype, self.device)

    def write_back(self, theta: Tensor) -> None:
        """Copy θ's network part into the model (for prediction and saving)."""
        self.layout.write_back(self.model, theta)

    def coefficients(self, theta: Tensor) -> dict[str, float]:
        """The current values of the unknown coefficients."""
        return self.layout.coefficients(theta)

    # -- the ResidualModel interface -------------------------------------------------------------------
    def _block_residual(self, block: Block, rows: slice, theta: Tensor) -> Tensor:
        return self.path.residual(block, rows, theta)

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
        jac_fn = self.path.jacobian
        tasks = self._row_chunks()
        if not self.replicas:
            for block, rows in tasks:
                yield jac_fn(block, rows, theta)
            return
        yield from replicated_slices(self.replicas, tasks, theta, jac_fn, self.device, self.transfer)

    def slices_of_rows(self, theta: Tensor, rows: Tensor, m: int) -> Iterator[tuple[Tensor, Tensor]]:
        """(r_S, J_S) of only the rows ``rows`` (sorted indices out of all m rows), in their order, in chunks
        of at most ``slice_rows()`` rows: the Jacobian of just those points (``LMOptions.gram_rows``), on
        this assembler's device. A row depends only on its own point (the contract of a block's residual
        function, which RAD's :meth:`block_residual_at` relies on too), so the rows equal those of
        :meth:`slices`. ValueError when the rows are shared among processes or an index is out of range."""
        if self.row_partition.split:
            raise ValueError("slices_of_rows covers the rows of one process; the rows here are shared")
        total = self.n_residuals
        if rows.numel() and (int(rows[0]) < 0 or int(rows[-1]) >= total):
            raise ValueError(f"row indices must lie in [0, {total}), got {int(rows[0])} … {int(rows[-1])}")
        rows, step = rows.to(self.device), self.slice_rows()
        for block, span in zip(self.blocks, self.block_slices().values()):
            bounds = torch.tensor([span.start, span.stop], device=self.device)
            lo, hi = (int(i) for i in torch.searchsorted(rows, bounds))
            local = rows[lo:hi] - span.start
            for chunk in range(0, local.shape[0], step):
                yield self.path.jacobian(block, local[chunk : chunk + step], theta)

    def normal_partials(self, theta: Tensor) -> list[tuple[Tensor, Tensor, int]] | None:
        """Partial normal equations ``(J_dᵀJ_d, J_dᵀr_d, rows)`` of this process's rows on this assembler's
        device: one per device replica (each accumulates its own rows where it computed them; see
        :func:`~pinnlma.pinn.replicas.replicated_partials`), else one when the rows are shared with other
        processes (a zero partial for a process without rows, with or without replicas: it still joins the
        sum over processes), else None (the LM core then takes the slices)."""
        if self.replicas:
            partials = replicated_partials(
                self.replicas, self._row_chunks(), theta, self.path.jacobian, self.device, self.transfer
            )
        elif self.row_partition.split:
            partial = accumulate_partial(self.slices(theta, 0), self.n_params)
            partials = [] if partial is None else [partial]
        else:
            return None
        if not partials and self.row_partition.split:  # a rank without rows still joins the sum over ranks
            n = self.n_params
            zeros = torch.zeros(n, n, dtype=self.dtype, device=self.device)
            partials = [(zeros, torch.zeros(n, dtype=self.dtype, device=self.device), 0)]
        return partials

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
        """mean(raw_b²) per block (unweighted: neither the block weight nor row weights), from r (this
        process's rows) if given; summed over the processes of ``row_partition``."""
        with torch.no_grad():
            r = self.residual(theta) if r is None else r
        index = {id(b): i for i, b in enumerate(self.blocks)}
        sums, offset = r.new_zeros(len(self.blocks)), 0
        for block, rows in self._row_chunks():
            raw = r[offset : offset + len(range(block.n_rows)[rows])] / block.scale
            if block.row_weight is not None:
                raw = raw / block.row_weight[rows].sqrt()
            sums[index[id(block)]] += raw @ raw
            offset += raw.shape[0]
        sums = self.row_partition.allreduce(sums)
        return {b.name: float(sums[i] / b.n_rows) if b.n_rows else math.nan for i, b in enumerate(self.blocks)}

    def loss(self, r: Tensor) -> float:
        """The weighted PINN loss Σ_b w_b mean(raw_b²) = ‖r‖² (with row weights w_i: Σ_b w_b mean(w_i raw_b²);
        r: this process's rows, summed over the processes)."""
        return float(self.row_partition.allreduce(r @ r))

    def predict(self, theta: Tensor, points: np.ndarray, batch: int = 8192) -> np.ndarray:
        """Network outputs (N, outputs) at numpy points."""
        params = self.layout.params(theta.detach())
        outs = []
        with torch.no_grad():
            for start in range(0, len(points), batch):
                x = self._tensor(points[start : start + batch])
                outs.append(functional_call(self.model, params, (x,)))
        return torch.cat(outs).cpu().numpy().reshape(len(points), -1)
