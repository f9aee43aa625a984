"""Jacobian rows of a row-wise residual whose trainable parameters all live in ``nn.Linear`` layers.

For r_i = ρ(f(x_i; θ), y_i), every layer ℓ with input a_ℓ and output z_ℓ = W_ℓ a_ℓ + b_ℓ gives, row by
row, ∂r_i/∂W_ℓ = g_ℓ,i ⊗ a_ℓ,i and ∂r_i/∂b_ℓ = g_ℓ,i with g_ℓ,i = ∂r_i/∂z_ℓ,i from ONE backward pass
of Σ_i r_i. :class:`LinearRowJacobian` is :class:`~pinnlma.lm.conv_rows.LayerRowJacobian` restricted
to that one rule; :class:`~pinnlma.LevenbergMarquardt` uses the general class, which also covers
convolutions.
"""

from __future__ import annotations

from torch import nn

from .conv_rows import ROW_RULES, LayerRowJacobian, RowRule

__all__ = ["LinearRowJacobian"]


class LinearRowJacobian(LayerRowJacobian):
    """:class:`LayerRowJacobian` for models whose trainable parameters are all in ``nn.Linear`` layers."""

    rules: dict[type[nn.Module], RowRule] = {nn.Linear: ROW_RULES[nn.Linear]}
