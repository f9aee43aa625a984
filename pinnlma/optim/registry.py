"""The optimizer registry: :data:`OPTIMIZERS` names every optimizer; :func:`make_optimizer` builds one.

Each entry is a class following :class:`~pinnlma.optim.base.Optimizer`, built as
``cls(model, x0, **options)``; its constructor's keyword arguments are its options, so
:func:`optimizer_options` can pick the ones a run configuration holds for it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from .adam import Adam
from .base import Optimizer, ResidualFunction
from .bfgs import BFGS
from .lbfgs import LBFGS
from .lm import LM

__all__ = ["OPTIMIZERS", "accepted_options", "make_optimizer", "optimizer_options"]

OPTIMIZERS: dict[str, type[Any]] = {"lm": LM, "adam": Adam, "lbfgs": LBFGS, "bfgs": BFGS}
"""Optimizer name → class (the ``--optimizer`` choices; the first is the default)."""


def _lookup(name: str) -> type[Any]:
    key = name.lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[key]


def accepted_options(name: str) -> list[str]:
    """The options (constructor keywords besides ``model`` and ``x0``) the optimizer ``name`` takes."""
    return [p for p in inspect.signature(_lookup(name)).parameters if p not in ("model", "x0")]


def optimizer_options(name: str, candidates: Mapping[str, Any]) -> dict[str, Any]:
    """Of ``candidates`` (e.g. every optimizer setting of a run), the ones ``name`` takes and that are set (not None)."""
    accepted = set(accepted_options(name))
    return {k: v for k, v in candidates.items() if k in accepted and v is not None}


def make_optimizer(name: str, model: ResidualFunction, x0: Tensor, **opts: Any) -> Optimizer:
    """The optimizer ``name`` (a key of :data:`OPTIMIZERS`) on ``model`` from ``x0``; ``opts`` go to its
    constructor (for example ``lr``, or ``damping`` for lm). Unknown names or options raise ValueError
    listing the choices."""
    cls = _lookup(name)
    accepted = accepted_options(name)
    unknown = sorted(set(opts) - set(accepted))
    if unknown:
        raise ValueError(f"{cls.name} does not take option(s) {', '.join(unknown)}; it accepts {', '.join(accepted)}")
    optimizer: Optimizer = cls(model, x0, **opts)
    return optimizer
