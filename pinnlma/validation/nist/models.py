"""The 27 models of the NIST StRD nonlinear-regression problems, written from the formula in each file's header.

``b`` is the 1-D parameter vector (b1 is b[0]); ``x`` is (N,) or, for Nelson, (N, 2). Only torch ops,
so every model works under autograd, forward mode (jvp / jacfwd) and vmap, in float64 or float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["MODELS", "Model"]

Model = Callable[[Tensor, Tensor], Tensor]
"""``f(b, x)``: the model's prediction for parameters b at the data x."""

# ---------------------------------------------------------------------------------------------------


def _misra1a(b: Tensor, x: Tensor) -> Tensor:
    """y = b1*(1-exp[-b2*x])"""
    return b[0] * (1 - torch.exp(-b[1] * x))


def _chwirut(b: Tensor, x: Tensor) -> Tensor:
    """y = exp[-b1*x]/(b2+b3*x)   (Chwirut1 and Chwirut2)"""
    return torch.exp(-b[0] * x) / (b[1] + b[2] * x)


def _lanczos(b: Tensor, x: Tensor) -> Tensor:
    """y = b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)   (Lanczos1, 2, 3)"""
    return b[0] * torch.exp(-b[1] * x) + b[2] * torch.exp(-b[3] * x) + b[4] * torch.exp(-b[5] * x)


def _gauss(b: Tensor, x: Tensor) -> Tensor:
    """y = b1*exp(-b2*x) + b3*exp(-(x-b4)**2/b5**2) + b6*exp(-(x-b7)**2/b8**2)   (Gauss1, 2, 3)"""
    return (
        b[0] * torch.exp(-b[1] * x)
        + b[2] * torch.exp(-((x - b[3]) ** 2) / b[4] ** 2)
        + b[5] * torch.exp(-((x - b[6]) ** 2) / b[7] ** 2)
    )


def _danwood(b: Tensor, x: Tensor) -> Tensor:
    """y = b1*x**b2"""
    return b[0] * torch.pow(x, b[1])


def _misra1b(b: Tensor, x: Tensor) -> Tensor:
    """y = b1 * (1-(1+b2*x/2)**(-2))"""
    return b[0] * (1 - torch.pow(1 + b[1] * x / 2, -2))


def _kirby2(b: Tensor, x: Tensor) -> Tensor:
    """y = (b1 + b2*x + b3*x**2) / (1 + b4*x + b5*x**2)"""
    return (b[0] + b[1] * x + b[2] * x**2) / (1 + b[3] * x + b[4] * x**2)


def _cubic_over_cubic(b: Tensor, x: Tensor) -> Tensor:
    """y = (b1 + b2*x + b3*x**2 + b4*x**3) / (1 + b5*x + b6*x**2 + b7*x**3)   (Hahn1, Thurber)"""
    num = b[0] + b[1] * x + b[2] * x**2 + b[3] * x**3
    den = 1 + b[4] * x + b[5] * x**2 + b[6] * x**3
    return num / den


def _nelson(b: Tensor, x: Tensor) -> Tensor:
    """log[y] = b1 - b2*x1 * exp[-b3*x2]   (the response is log y; see NistProblem.target)"""
    x1, x2 = x[..., 0], x[..., 1]
    return b[0] - b[1] * x1 * torch.exp(-b[2] * x2)


def _mgh17(b: Tensor, x: Tensor) -> Tensor:
    """y = b1 + b2*exp[-x*b4] + b3*exp[-x*b5]"""
    return b[0] + b[1] * torch.exp(-x * b[3]) + b[2] * torch.exp(-x * b[4])


def _misra1c(b: Tensor, x: Tensor) -> Tensor:
    """y = b1 * (1-(1+2*b2*x)**(-.5))"""
    return b[0] * (1 - torch.pow(1 + 2 * b[1] * x, -0.5))


def _misra1d(b: Tensor, x: Tensor) -> Tensor:
    """y = b1*b2*x*((1+b2*x)**(-1))"""
    return b[0] * b[1] * x / (1 + b[1] * x)


def _roszman1(b: Tensor, x: Tensor) -> Tensor:
    """y = b1 - b2*x - arctan[b3/(x-b4)]/pi"""
    return b[0] - b[1] * x - torch.atan(b[2] / (x - b[3])) / math.pi


def _enso(b: Tensor, x: Tensor) -> Tensor:
    """y = b1 + b2*cos(2*pi*x/12) + b3*sin(2*pi*x/12) + b5*cos(2*pi*x/b4) + b6*sin(2*pi*x/b4)
    + b8*cos(2*pi*x/b7) + b9*sin(2*pi*x/b7)"""
    w = 2 * math.pi * x
    return (
        b[0]
        + b[1] * torch.cos(w / 12)
        + b[2] * torch.sin(w / 12)
        + b[4] * torch.cos(w / b[3])
        + b[5] * torch.sin(w / b[3])
        + b[7] * torch.cos(w / b[6])
        + b[8] * torch.sin(w / b[6])
    )


def _mgh09(b: Tensor, x: Tensor) -> Tensor:
    """y = b1*(x**2+x*b2) / (x**2+x*b3+b4)"""
    return b[0] * (x**2 + x * b[1]) / (x**2 + x * b[2] + b[3])


def _mgh10(b: Tensor, x: Tensor) -> Tensor:
    """y = b1 * exp[b2/(x+b3)]"""
    return b[0] * torch.exp(b[1] / (x + b[2]))


def _eckerle4(b: Tensor, x: Tensor) -> Tensor:
    """y = (b1/b2) * exp[-0.5*((x-b3)/b2)**2]"""
    return (b[0] / b[1]) * torch.exp(-0.5 * ((x - b[2]) / b[1]) ** 2)


def _rat42(b: Tensor, x: Tensor) -> Tensor:
    """y = b1 / (1+exp[b2-b3*x])"""
    return b[0] / (1 + torch.exp(b[1] - b[2] * x))


def _rat43(b: Tensor, x: Tensor) -> Tensor:
    """y = b1 / ((1+exp[b2-b3*x])**(1/b4))"""
    return b[0] / torch.pow(1 + torch.exp(b[1] - b[2] * x), 1 / b[3])


def _bennett5(b: Tensor, x: Tensor) -> Tensor:
    """y = b1 * (b2+x)**(-1/b3)"""
    return b[0] * torch.pow(b[1] + x, -1 / b[2])


def _boxbod(b: Tensor, x: Tensor) -> Tensor:
    """y = b1*(1-exp[-b2*x])"""
    return b[0] * (1 - torch.exp(-b[1] * x))


MODELS: dict[str, Model] = {
    "Misra1a": _misra1a,
    "Chwirut2": _chwirut,
    "Chwirut1": _chwirut,
    "Lanczos3": _lanczos,
    "Gauss1": _gauss,
    "Gauss2": _gauss,
    "DanWood": _danwood,
    "Misra1b": _misra1b,
    "Kirby2": _kirby2,
    "Hahn1": _cubic_over_cubic,
    "Nelson": _nelson,
    "MGH17": _mgh17,
    "Lanczos1": _lanczos,
    "Lanczos2": _lanczos,
    "Gauss3": _gauss,
    "Misra1c": _misra1c,
    "Misra1d": _misra1d,
    "Roszman1": _roszman1,
    "ENSO": _enso,
    "MGH09": _mgh09,
    "Thurber": _cubic_over_cubic,
    "BoxBOD": _boxbod,
    "Rat42": _rat42,
    "MGH10": _mgh10,
    "Eckerle4": _eckerle4,
    "Rat43": _rat43,
    "Bennett5": _bennett5,
}
"""Problem name -> model ``f(b, x)`` (the order is NIST's: lower, average, higher difficulty)."""
