"""Linear-algebra backends for the LM core: ``torch`` (embedded default) and ``cupynumeric`` (Legate)."""
from __future__ import annotations

from .base import Backend, LinearSystem, SingularSystemWarning
from .torch_backend import TorchBackend

BACKEND_NAMES = ("torch", "cupynumeric")


def get_backend(backend: str | Backend = "torch", **options: object) -> Backend:
    """Return a backend instance from its name (or pass an instance through)."""
    if isinstance(backend, Backend):
        return backend
    if backend == "torch":
        return TorchBackend(**options)  # type: ignore[arg-type]
    if backend == "cupynumeric":
        from .cupynumeric_backend import CupynumericBackend  # imports Legate lazily

        return CupynumericBackend(**options)
    raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKEND_NAMES)}")


__all__ = ["Backend", "LinearSystem", "SingularSystemWarning", "TorchBackend", "get_backend", "BACKEND_NAMES"]
