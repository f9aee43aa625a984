"""``LevenbergMarquardt``: the LM core driven step by step on a ``torch.nn.Module``.

The module's trainable parameters are flattened into one vector θ; ``residual_fn(model, *batch)``
is evaluated with θ substituted functionally (``torch.func.functional_call``), so every Jacobian
strategy of the engine applies. After each step the module holds the new parameters.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..backends import Backend
from .conv_rows import LayerRowJacobian, unsupported
from .core import LMCore
from .damping import Damping, make_damping
from .jacobian import DEFAULT_MEMORY_BUDGET, JacobianEngine
from .least_squares import check_dtype
from .losses import Loss, make_loss
from .options import IterationInfo, LMOptions, LMResult, NonFiniteJacobianError, StopReason


class _Bound(nn.Module):
    """Wraps (model, residual_fn) so functional_call can substitute the model's parameters."""

    def __init__(self, model: nn.Module, residual_fn: Callable[..., Tensor]) -> None:
        super().__init__()
        self.model = model
        self.residual_fn = residual_fn

    def forward(self, *batch: Any) -> Tensor:
        return self.residual_fn(self.model, *batch)


class LevenbergMarquardt:
    """Train ``model`` so that ``residual_fn(model, *batch)`` (a 1-D tensor) goes to zero.

    >>> lm = LevenbergMarquardt(net, lambda net, x, y: (net(x) - y).reshape(-1), rowwise=True)
    >>> for _ in range(100):
    ...     info = lm.step(x, y)

    or, from a loss (:mod:`pinnlma.lm.losses`; ½‖r‖² is the loss summed over the batch, and the batch
    may carry sample weights, ``lm.step(x, y, w)``):

    >>> lm = LevenbergMarquardt(net, loss=pinnlma.losses.CrossEntropy())

    ``rowwise=True`` (the default with a ``loss``) declares that the residuals of data row i depend
    only on row i of each batch tensor (pointwise data fits; each row may give several residuals, in
    row order), which enables the cheap per-row Jacobian: exact, from one backward pass, when the
    trainable parameters all sit in Linear/Conv1d/Conv2d layers (:mod:`pinnlma.lm.conv_rows`;
    ``row_jacobian_note`` says which path a fit takes and why), else ``vmap(jacrev)`` over rows.
    ``damping``, ``backend``, ``jac_strategy`` and ``memory_budget`` as in :func:`pinnlma.least_squares`;
    ``geodesic=True`` adds geodesic acceleration; tolerances and the
    trial limit go in ``options`` (:class:`~pinnlma.lm.options.LMOptions`). A ``Damping`` instance is
    copied, so it can be reused: ``self.damping`` is the live one. Calling ``step`` with a different
    batch re-evaluates the residual there (mini-batch LM); the damping state carries over.
    """

    def __init__(
        self,
        model: nn.Module,
        residual_fn: Callable[..., Tensor] | None = None,
        *,
        loss: str | Loss | None = None,
        damping: str | Damping | None = None,
        backend: str | Backend = "torch",
        jac_strategy: str = "auto",
        rowwise: bool | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        options: LMOptions | None = None,
        geodesic: bool = False,
    ) -> None:
        if (residual_fn is None) == (loss is None):
            raise TypeError("give either residual_fn(model, *batch) or loss= (e.g. pinnlma.losses.MSE()), not "
                            + ("both" if loss is not None else "neither"))
        self.loss = make_loss(loss) if loss is not None else None
        if self.loss is not None:
            residual_fn = self.loss.residual_fn
            rowwise = True if rowwise is None else rowwise
        rowwise = bool(rowwise)
        self.model = model
        self._bound = _Bound(model, residual_fn)
        self.names = [name for name, p in model.named_parameters() if p.requires_grad]
        if not self.names:
            raise ValueError("the model has no trainable parameters (requires_grad=True)")
        params = [p for _, p in model.named_parameters() if p.requires_grad]
        dtypes = {p.dtype for p in params}
        if len(dtypes) != 1:
            raise TypeError(f"all trainable parameters must share one dtype, found {sorted(map(str, dtypes))}")
        check_dtype(params[0].dtype, "the model's parameters", "model.double()")
        self.shapes = [p.shape for p in params]
        self.damping = make_damping(damping, copy=True)
        self.backend = backend
        self.options = options or LMOptions(max_iter=10**9)
        if geodesic and not self.options.geodesic:
            self.options = dataclasses.replace(self.options, geodesic=True)
        # all parameters in Linear/Conv layers: exact rowwise Jacobian slices from one backward pass
        self._rows = LayerRowJacobian.for_model(model, self.names, self._flat_residual) if rowwise else None
        self.engine = JacobianEngine(self._flat_residual, (), strategy=jac_strategy, rowwise=rowwise,
                                     memory_budget=memory_budget, row_jacobian=self._rows)
        self.core: LMCore | None = None
        self._pending_state: dict[str, Any] | None = None

    # -- flat parameter view -----------------------------------------------------------------------
    @property
    def params(self) -> Tensor:
        """The trainable parameters as one flat vector (a copy)."""
        return torch.cat([p.detach().reshape(-1) for _, p in self._trainable()])

    def _trainable(self) -> list[tuple[str, nn.Parameter]]:
        named = dict(self.model.named_parameters())
        return [(name, named[name]) for name in self.names]

    def _unflatten(self, x: Tensor) -> dict[str, Tensor]:
        out, start = {}, 0
        for name, shape in zip(self.names, self.shapes):
            size = shape.numel()
            out["model." + name] = x[start:start + size].view(shape)
            start += size
        return out

    def _flat_residual(self, x: Tensor, *batch: Any) -> Tensor:
        return functional_call(self._bound, self._unflatten(x), batch)

    def _write_back(self, x: Tensor) -> None:
        with torch.no_grad():
            start = 0
            for _, p in self._trainable():
                p.copy_(x[start:start + p.numel()].view_as(p))
                start += p.numel()

    # -- stepping ----------------------------------------------------------------------------------
    def _core_for(self, batch: tuple[Any, ...]) -> LMCore:
        same = len(batch) == len(self.engine.args) and all(a is b for a, b in zip(batch, self.engine.args))
        if self.core is not None and same:
            return self.core
        self.engine.rebind(args=batch)
        if self.core is not None:  # a new batch: its residual at the current x; damping and counters carry over
            self.core.options, self.core.callback = self.options, None
            self.core.refresh()
            return self.core
        x, previous = self.params, self._pending_state
        self.core = LMCore(self.engine, x, damping=self.damping, backend=self.backend, options=self.options)
        if previous is not None:
            previous = dict(previous, x=x)
            self.core.load_state_dict(previous)
        self._pending_state = None
        return self.core

    def step(self, *batch: Any) -> IterationInfo:
        """One LM iteration on this batch; the model holds the new parameters afterwards."""
        core = self._core_for(batch)
        core.resume()  # stepping by hand: limits are the caller's business
        if core.step() is StopReason.NONFINITE_JACOBIAN:
            raise NonFiniteJacobianError(core.message)
        self._write_back(core.state.x)
        s, h = core.state, core.state.history
        return IterationInfo(s.iteration, s.cost, self.damping.lam, h["grad_norm"][-1], h["step_norm"][-1],
                             int(h["trials"][-1]), s.elapsed, s.x)

    @property
    def row_jacobian_note(self) -> str:
        """Which Jacobian rows this fit uses and, where it is not the exact one-backward-pass path, why."""
        if not self.engine.rowwise:
            return "rowwise=False: the engine's whole-residual strategies (no per-row Jacobian)"
        if self._rows is None:
            return f"generic vmap(jacrev) rows: {unsupported(self.model, self.names)}"
        if self.engine.row_jacobian is self._rows:
            kinds = ", ".join(sorted({type(layer).__name__ for layer in self._rows.layers}))
            return f"exact rows from one backward pass ({kinds})"
        why = self._rows.note or "its rows disagreed with vmap(jacrev) in the one-time check"
        return f"generic vmap(jacrev) rows: the exact path was dropped: {why}"

    @property
    def stop_reason(self) -> StopReason:
        """Why the last step would have stopped a run (RUNNING if it would not)."""
        return self.core.state.status if self.core is not None else StopReason.RUNNING

    def fit(self, *batch: Any, max_iter: int = 100, time_limit: float | None = None,
            callback: Callable[[IterationInfo], bool | None] | None = None) -> LMResult:
        """Iterate on one batch until a stopping rule fires (tolerances from ``options``)."""
        core = self._core_for(batch)
        core.options = LMOptions(**{**vars(self.options), "max_iter": core.state.iteration + max_iter,
                                    "time_limit": time_limit})
        core.callback = callback
        core.resume()
        result = core.run()
        self._write_back(result.x)
        return result

    # -- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Parameters and damping, plus the core's counters and history once a step was taken."""
        if self.core is not None:
            return self.core.state_dict()
        return {"x": self.params, "damping": self.damping.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore parameters and damping; counters and history too when the state came from a run.

        Raises ValueError, before anything changes, when the checkpoint holds a different number of
        parameters than this model (a checkpoint of another architecture)."""
        params = self.params
        x = state["x"]
        if not isinstance(x, Tensor) or x.shape != params.shape:
            got = f"{x.numel()} parameters" if isinstance(x, Tensor) else f"a {type(x).__name__}"
            raise ValueError(f"the checkpoint holds {got}, this model has {params.numel()} trainable parameters "
                             f"({', '.join(self.names)}); load a checkpoint of the same architecture")
        self._write_back(x.to(params))
        if "iteration" in state:
            self._pending_state = state
        self.damping.load_state_dict(state["damping"])
        self.core = None
