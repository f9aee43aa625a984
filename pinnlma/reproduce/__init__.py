"""Reproductions of published evidence, one package per paper (``pinnlma reproduce NAME``).

:data:`PAPERS` is the registry: name → the package that reproduces it. Each package offers
``run(out, *, size, experiments, command)``, ``DEFAULT_OUT`` and ``EXPERIMENTS``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["PAPERS", "load_paper"]

PAPERS: dict[str, str] = {
    "taylor2022": "pinnlma.reproduce.taylor2022",
    "digits": "pinnlma.reproduce.digits",
}
"""Paper name → its reproduction package (imported when asked for)."""


def load_paper(name: str) -> ModuleType:
    """The reproduction package of ``name``; ValueError listing the papers for an unknown one."""
    if name not in PAPERS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(PAPERS)}")
    return importlib.import_module(PAPERS[name])
