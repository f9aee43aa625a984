"""Common losses as least-squares residuals: ½‖r‖² equals the loss summed over the batch.

Levenberg–Marquardt minimizes ½‖r‖². Each :class:`Loss` here turns a model output ŷ and a target y
into a residual vector r with, exactly,

    ½‖r‖² = Σ_i w_i ℓ(ŷ_i, y_i)      (the loss with ``reduction="sum"``; N × the mean over N rows)

where ℓ is the per-element (or per-sample) loss and w_i optional sample weights (r_i·√w_i). The
sum, not the mean, is the fixed multiple because it is the only one that does not change when a
residual is evaluated on fewer rows: the engine evaluates rows alone for the exact row Jacobian.

- :class:`MSE`: r = √2·(ŷ − y), so ½r² = (ŷ − y)².
- :class:`Huber` (exact, ``torch.nn.functional.huber_loss``): the *signed* square root
  r = sign(e)·√(2ℓ_δ(e)), e = ŷ − y, which is r = e for |e| ≤ δ and sign(e)·√(δ(2|e| − δ)) beyond.
  It is continuously differentiable (dr/de = 1 on both sides of |e| = δ), unlike the unsigned √ℓ,
  whose derivative jumps from −1/√2 to +1/√2 at e = 0.
- :class:`PseudoHuber`: ℓ = δ²(√(1 + (e/δ)²) − 1), smooth everywhere. Its residual is written without
  a sign or a cancelling difference: r = e·√(2 / (1 + s)), s = √(1 + (e/δ)²), since
  (s − 1)(s + 1) = (e/δ)² gives ½r² = e²/(1 + s) = δ²(s − 1); near 0, r ≈ e; far out, ½r² ≈ δ|e|.
- :class:`L1`: the smooth L1 ℓ = PseudoHuber_δ / δ = δ(√(1 + (e/δ)²) − 1), within δ of |e| for every
  e (|e| − δ ≤ ℓ ≤ |e|), r = e·√(2 / (δ(1 + s))). The exact |e| has no usable residual:
  √(2|e|) has an infinite slope at 0.
- :class:`CrossEntropy` (logits, class indices or probabilities as targets), :class:`BCE`
  (probabilities) and :class:`BCEWithLogits`: one residual per sample, r_i = √(2ℓ_i), the square-root
  trick of torch-levenberg-marquardt (up to the √2 that makes ½‖r‖² the summed loss). The derivative
  ℓ'/(2√ℓ) is 0/0 where ℓ_i rounds to exactly 0 (a sample classified with a margin beyond the
  precision): there the residual is computed as √(where(ℓ > 0, ℓ, 1))·[ℓ > 0], whose value is 0 and
  whose gradient is 0, the limit of ℓ'/(2√ℓ) ~ √ℓ → 0; elsewhere it is the plain square root.

Each loss is also a callable torch loss (``loss(output, target)`` gives the mean, for Adam or for
metrics), and ``loss.residual_fn`` is the ``residual_fn(model, inputs, target[, weight])`` that
:class:`~pinnlma.lm.module.LevenbergMarquardt` takes; ``LevenbergMarquardt(model, loss=loss)`` does it
for you. Every residual of data row i depends on row i alone, so the exact fast row Jacobian applies
(J_i = ∂r_i/∂ŷ_i · ∂ŷ_i/∂θ, see :mod:`pinnlma.lm.conv_rows`).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["BCE", "BCEWithLogits", "CrossEntropy", "Huber", "L1", "LOSSES", "Loss", "MSE", "PseudoHuber",
           "make_loss"]


def _safe_sqrt(value: Tensor) -> Tensor:
    """√value with value 0 and gradient 0 where value == 0 (instead of ∞·0 = NaN)."""
    positive = value > 0
    return torch.sqrt(torch.where(positive, value, torch.ones_like(value))) * positive


class Loss(ABC):
    """A loss ℓ and the residual r with ½‖r‖² = Σ w·ℓ (see the module docstring).

    Subclasses define :meth:`elementwise` (ℓ for every residual entry, shape (rows, ...)) and
    :meth:`signed_root` (r before weighting, same shape, with ½r² = ℓ)."""

    name = "loss"

    @abstractmethod
    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        """ℓ per residual entry, shape (rows, ...) (per sample for the classification losses)."""

    @abstractmethod
    def signed_root(self, output: Tensor, target: Tensor) -> Tensor:
        """r per residual entry with ½r² = ℓ, same shape as :meth:`elementwise`."""

    # -- what LM sees ------------------------------------------------------------------------------
    def residuals(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        """The 1-D residual r (row-major: the entries of row i together), ½‖r‖² = Σ w·ℓ."""
        r = self.signed_root(output, target)
        if weight is not None:
            r = r * self._root_weight(weight, r)
        return r.reshape(-1)

    @property
    def residual_fn(self) -> Callable[..., Tensor]:
        """``residual_fn(model, inputs, target, weight=None) = residuals(model(inputs), target, weight)``."""

        def residual_fn(model: nn.Module, inputs: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
            return self.residuals(model(inputs), target, weight)

        residual_fn.__qualname__ = f"{type(self).__name__}.residual_fn"
        return residual_fn

    # -- the loss itself ---------------------------------------------------------------------------
    def value(self, output: Tensor, target: Tensor, weight: Tensor | None = None,
              reduction: str = "mean") -> Tensor:
        """The loss: Σ w·ℓ (``"sum"``) or Σ w·ℓ / Σ w over the entries (``"mean"``, as torch's weighted
        means); without weights the mean is over the entries (rows·outputs), as torch's losses."""
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        ell = self.elementwise(output, target)
        if weight is None:
            return ell.sum() if reduction == "sum" else ell.mean()
        w = self._root_weight(weight, ell) ** 2 * torch.ones_like(ell)
        total = (w * ell).sum()
        return total if reduction == "sum" else total / w.sum()

    def __call__(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return self.value(output, target, weight)

    @staticmethod
    def _root_weight(weight: Tensor, like: Tensor) -> Tensor:
        """√w shaped to broadcast over ``like``: one weight per row, or one per entry (w >= 0; not checked
        here, where a data-dependent test would break vmap: a negative weight gives a NaN residual, which
        LM reports)."""
        if not isinstance(weight, Tensor):
            raise TypeError(f"sample weights must be a tensor, got {type(weight).__name__}")
        if weight.shape[:1] != like.shape[:1] or weight.numel() not in (like.shape[0], like.numel()):
            raise ValueError(f"sample weights of shape {tuple(weight.shape)} do not fit residuals of shape "
                             f"{tuple(like.shape)}: give one weight per row ({like.shape[0]},) or one per entry")
        w = weight.to(like.dtype)
        w = w.reshape(like.shape[0], *([1] * (like.ndim - 1))) if w.numel() == like.shape[0] else w.reshape(like.shape)
        return torch.sqrt(w)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class _Regression(Loss):
    @staticmethod
    def _error(output: Tensor, target: Tensor) -> Tensor:
        if output.shape != target.shape:
            if output.numel() == target.numel() and output.shape[:1] == target.shape[:1]:
                target = target.reshape(output.shape)
            else:
                raise ValueError(f"the model output has shape {tuple(output.shape)} but the target "
                                 f"{tuple(target.shape)}; they must match (one target per output)")
        return output - target.to(output.dtype)


class MSE(_Regression):
    """Squared error ℓ = (ŷ − y)², r = √2·(ŷ − y) (``torch.nn.functional.mse_loss``)."""

    name = "mse"

    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        return self._error(output, target) ** 2

    def signed_root(self, output: Tensor, target: Tensor) -> Tensor:
        return math.sqrt(2.0) * self._error(output, target)


class Huber(_Regression):
    """Huber loss (``torch.nn.functional.huber_loss``): ½e² for |e| ≤ δ, δ(|e| − ½δ) beyond, with the
    C¹ signed root r = e for |e| ≤ δ, sign(e)·√(δ(2|e| − δ)) beyond."""

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        if not delta > 0:
            raise ValueError(f"Huber delta must be positive, got {delta}")
        self.delta = float(delta)

    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        e = self._error(output, target).abs()
        d = self.delta
        return torch.where(e <= d, 0.5 * e ** 2, d * (e - 0.5 * d))

    def signed_root(self, output: Tensor, target: Tensor) -> Tensor:
        e = self._error(output, target)
        d = self.delta
        outer = torch.sign(e) * torch.sqrt(d * (2 * torch.clamp(e.abs(), min=d) - d))  # argument >= δ² > 0
        return torch.where(e.abs() <= d, e, outer)


class PseudoHuber(_Regression):
    """ℓ = δ²(s − 1), s = √(1 + (e/δ)²) (smooth Huber: ½e² near 0, δ|e| far out); r = e·√(2 / (1 + s))."""

    name = "pseudo_huber"

    def __init__(self, delta: float = 1.0) -> None:
        if not delta > 0:
            raise ValueError(f"{type(self).__name__} delta must be positive, got {delta}")
        self.delta = float(delta)

    def _s(self, e: Tensor) -> Tensor:
        return torch.sqrt(1 + (e / self.delta) ** 2)

    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        e = self._error(output, target)
        return self.delta ** 2 * (self._s(e) - 1)

    def signed_root(self, output: Tensor, target: Tensor) -> Tensor:
        e = self._error(output, target)
        return e * torch.sqrt(2 / (1 + self._s(e)))


class L1(PseudoHuber):
    """Smooth absolute error ℓ = δ(√(1 + (e/δ)²) − 1) (pseudo-Huber / δ), |e| − δ ≤ ℓ ≤ |e|;
    r = e·√(2/(δ(1 + √(1 + (e/δ)²)))). Choose δ small against the errors that matter."""

    name = "l1"

    def __init__(self, delta: float = 1e-3) -> None:
        super().__init__(delta)

    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        return super().elementwise(output, target) / self.delta

    def signed_root(self, output: Tensor, target: Tensor) -> Tensor:
        return super().signed_root(output, target) / math.sqrt(self.delta)


class CrossEntropy(Loss):
    """Cross entropy of logits (``torch.nn.functional.cross_entropy``, targets class indices (N,) or
    class probabilities (N, C)); one residual per sample, r_i = √(2ℓ_i)."""

    name = "cross_entropy"

    def __init__(self, label_smoothing: float = 0.0) -> None:
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        if output.ndim != 2:
            raise ValueError(f"CrossEntropy expects logits of shape (rows, classes), got {tuple(output.shape)}")
        if target.dtype.is_floating_point:
            target = target.to(output.dtype)
        elif target.ndim != 1:
            target = target.reshape(-1)
        return F.cross_entropy(output, target, reduction="none", label_smoothing=self.label_smoothing)

    def signed_root(self, output: Tensor, target: Tensor) -> Tensor:
        return _safe_sqrt(2 * self.elementwise(output, target))


class BCE(Loss):
    """Binary cross entropy of probabilities (``torch.nn.functional.binary_cross_entropy``); one
    residual per entry, r = √(2ℓ). Prefer :class:`BCEWithLogits` (stable for outputs near 0 or 1)."""

    name = "bce"

    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(output, target.to(output.dtype).reshape(output.shape), reduction="none")

    def signed_root(self, output: Tensor, target: Tensor) -> Tensor:
        return _safe_sqrt(2 * self.elementwise(output, target))


class BCEWithLogits(BCE):
    """Binary cross entropy of logits (``torch.nn.functional.binary_cross_entropy_with_logits``)."""

    name = "bce_with_logits"

    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(output, target.to(output.dtype).reshape(output.shape),
                                                  reduction="none")


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (MSE, Huber, PseudoHuber, L1, CrossEntropy, BCE, BCEWithLogits)}
"""The losses by name (``make_loss`` and command lines read this)."""


def make_loss(loss: str | Loss) -> Loss:
    """A :class:`Loss` from an instance or a name in :data:`LOSSES` (with default settings)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]()
    raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)} or pass a pinnlma.losses.Loss")
