"""``pinnlma.least_squares``: minimize ½‖r(x)‖² by Levenberg–Marquardt, scipy-style."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..backends import Backend
from .core import LMCore
from .damping import Damping, make_damping
from .jacobian import DEFAULT_MEMORY_BUDGET, JacobianEngine
from .options import IterationInfo, LMOptions, LMResult

SUPPORTED_DTYPES = (torch.float64, torch.float32)


def check_dtype(dtype: torch.dtype, what: str, fix: str) -> None:
    """Parameters must be float64 or float32: the solves need LAPACK precisions."""
    if dtype not in SUPPORTED_DTYPES:
        why = " (half precisions are too coarse for the Cholesky solves)" if dtype.is_floating_point else ""
        raise TypeError(f"{what} must be float64 or float32, got {dtype}; convert with {fix}{why}")


def check_parameters(x0: object) -> Tensor:
    """x0 must be a finite 1-D floating tensor (a numpy array or list is converted to float64)."""
    if not isinstance(x0, Tensor):
        try:
            x0 = torch.as_tensor(x0, dtype=torch.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"x0 must be a 1-D torch tensor of parameters, got {type(x0).__name__}") from err
    if x0.ndim != 1:
        raise ValueError(f"x0 must be 1-D (a flat parameter vector), got shape {tuple(x0.shape)}; use x0.reshape(-1)")
    check_dtype(x0.dtype, "x0", "x0.double()")
    if x0.numel() == 0:
        raise ValueError("x0 is empty: there are no parameters to fit")
    if not bool(torch.isfinite(x0).all()):
        raise ValueError(
            f"x0 holds {int((~torch.isfinite(x0)).sum())} non-finite entries (NaN/Inf); start from finite values"
        )
    return x0


def least_squares(
    fun: Callable[..., Tensor],
    x0: Tensor,
    *,
    jac: Callable[..., Tensor] | None = None,
    args: Sequence[object] = (),
    rowwise: bool = False,
    backend: str | Backend = "torch",
    damping: str | Damping | None = None,
    jac_strategy: str = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ftol: float = 1e-15,
    xtol: float = 1e-12,
    gtol: float = 1e-12,
    max_iter: int = 10000,
    time_limit: float | None = None,
    geodesic: bool = False,
    form: str = "auto",
    callback: Callable[[IterationInfo], bool | None] | None = None,
) -> LMResult:
    """Minimize F(x) = ½‖r(x)‖², r = ``fun(x, *args)``, by Levenberg–Marquardt.

    Each iteration solves (JᵀJ + λ·diag(D)) v = Jᵀr and tries x − v; when there are more parameters
    than residuals it uses the residual-space form v = D⁻¹Jᵀ(JD⁻¹Jᵀ + λI)⁻¹r instead (``form``).

    Parameters mirror scipy.optimize.least_squares where they can:

    - ``fun(x, *args) -> r``: 1-D tensor of the same dtype as x, fixed length m.
    - ``jac(x, *args) -> J``: optional (m, n) tensor; otherwise J comes from autograd using
      ``jac_strategy`` ('auto', 'forward', 'reverse', 'rowwise', 'explicit'), in row slices of at most
      ``memory_budget`` bytes so that the normal equations need about n² + slice·n memory.
    - ``rowwise``: the residuals of data row i depend only on row i of each tensor in ``args``
      (enables 'rowwise'); a row may give k > 1 residuals, at positions k·i … k·i + k − 1 of r.
    - ``damping``: 'nielsen' (default, gain ratio with Marquardt scaling), 'levenberg', 'marquardt',
      or a :class:`~pinnlma.lm.damping.Damping` instance (copied: each call starts from its settings
      and leaves it unchanged).
    - ``ftol``, ``xtol``, ``gtol``: stop when the cost falls by less than ftol·F in a well-modelled
      step, the step is below xtol·(xtol + ‖x‖), or ‖Jᵀr‖∞ < gtol; ``max_iter``, ``time_limit`` (s).
      The defaults aim at parameters correct to the last digits float64 resolves (the cost is flat to
      rounding well before the parameters are: an ftol near 1e-12 stops ENSO of NIST StRD at 5 digits);
      pass a larger ftol for a quicker, rougher answer. Tolerances finer than the dtype resolves are
      raised to eps (ftol) and 10·eps (xtol); 0 turns a test off.
    - ``geodesic``: add Transtrum–Sethna geodesic acceleration (second directional derivative by
      forward-mode autodiff; steps whose acceleration exceeds ¾ of the velocity are rejected).
    - ``backend``: 'torch' or 'cupynumeric' (Legate), or a Backend instance.
    - ``callback(info)``: called after every iteration; return True to stop.

    Returns an :class:`~pinnlma.lm.options.LMResult` (``x``, ``cost``, ``nit``, ``success``, ``message``,
    ``status``, ``history``, ...). Raises ValueError/TypeError with the reason on bad input.
    """
    x0 = check_parameters(x0)
    engine = JacobianEngine(fun, args, jac=jac, strategy=jac_strategy, rowwise=rowwise, memory_budget=memory_budget)
    options = LMOptions(
        ftol=ftol, xtol=xtol, gtol=gtol, max_iter=max_iter, time_limit=time_limit, geodesic=geodesic, form=form
    )
    core = LMCore(
        engine, x0, damping=make_damping(damping, copy=True), backend=backend, options=options, callback=callback
    )
    return core.run()
