"""The damping-rule registry: :data:`DAMPINGS` names every rule; :func:`make_damping` builds one."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy

from .base import Damping
from .multiplicative import Levenberg, Marquardt
from .nielsen import Nielsen

__all__ = ["DAMPINGS", "make_damping"]

DAMPINGS: dict[str, Callable[[], Damping]] = {"nielsen": Nielsen, "levenberg": Levenberg, "marquardt": Marquardt}
"""Damping rule name → class (built with its default settings); the first is the default."""


def make_damping(damping: str | Damping | None, *, copy: bool = False) -> Damping:
    """A fresh strategy from a name ('nielsen', 'levenberg', 'marquardt'); an instance is passed through,
    or with ``copy=True`` deep-copied (what the front ends do, so that a user's instance is a reusable
    template: every run starts from its settings and leaves it untouched)."""
    if damping is None:
        return Nielsen()
    if isinstance(damping, Damping):
        return deepcopy(damping) if copy else damping
    try:
        return DAMPINGS[damping]()
    except KeyError:
        raise ValueError(
            f"unknown damping {damping!r}; choose one of {', '.join(DAMPINGS)} or pass a pinnlma.Damping instance"
        ) from None
