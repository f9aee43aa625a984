"""The backend registry: every backend name, how to build it, and how to tell whether it works here.

The command line's ``--backend`` choices, :func:`pinnlma.least_squares`'s ``backend=`` and
``pinnlma info`` all read :data:`BACKENDS`. A backend that needs an optional install is imported only
when it is asked for (Legate's start-up must not happen on ``import pinnlma``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import Backend

__all__ = ["BACKENDS", "BACKEND_NAMES", "BackendEntry", "availability", "get_backend"]


def _torch(**options: Any) -> Backend:
    from .torch import TorchBackend

    return TorchBackend(**options)


def _torch_status(check: bool) -> str:
    from .torch.lapack import describe_lapack

    return f"available ({describe_lapack()})"


def _cupynumeric(**options: Any) -> Backend:
    from .legate import CupynumericBackend  # imports Legate lazily

    return CupynumericBackend(**options)


def _cupynumeric_status(check: bool) -> str:
    if not check:
        return "not checked"
    from .legate.runtime import status_in_child

    return status_in_child()


@dataclass(frozen=True)
class BackendEntry:
    """One registered backend: ``build(**options)`` returns an instance (raising
    :class:`~pinnlma.backends.base.BackendUnavailable` when it cannot start), ``status(check)`` says in
    one line whether it works here (``check=False`` skips a slow start-up check)."""

    build: Callable[..., Backend]
    status: Callable[[bool], str]
    description: str


BACKENDS: dict[str, BackendEntry] = {
    "torch": BackendEntry(_torch, _torch_status, "torch on the Jacobian's device (embedded default)"),
    "cupynumeric": BackendEntry(_cupynumeric, _cupynumeric_status, "cuPyNumeric on Legate (GPUs, nodes or CPUs)"),
}
"""Backend name → :class:`BackendEntry`."""

BACKEND_NAMES = tuple(BACKENDS)


def get_backend(backend: str | Backend = "torch", **options: Any) -> Backend:
    """A backend instance from its name in :data:`BACKENDS` (an instance is passed through).

    ``options`` go to the backend's constructor. Raises ValueError for an unknown name and
    :class:`~pinnlma.backends.base.BackendUnavailable` when the backend cannot start here.
    """
    if isinstance(backend, Backend):
        return backend
    entry = BACKENDS.get(backend)
    if entry is None:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return entry.build(**options)


def availability(check: bool = True) -> dict[str, str]:
    """Backend name → one line saying whether it works on this machine (``check=False``: skip slow checks)."""
    return {name: entry.status(check) for name, entry in BACKENDS.items()}
