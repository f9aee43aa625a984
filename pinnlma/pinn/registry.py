"""The problem registry: bundled problems by name (``pinnlma.problems.<name>``) or a user's own file by path.

A problem module defines ``problem``: a :class:`~pinnlma.pinn.problem.Problem`, or a function
returning one (called with no arguments). The bundled problems are plug-ins found at run time
(:func:`bundled_names` lists the modules of the ``pinnlma.problems`` package); this module imports none
of them by name, so the PINN layer does not depend on the problems built on it.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

from .problem import Problem

__all__ = ["PROBLEMS_PACKAGE", "ProblemNotFound", "apply_options", "bundled_names", "describe", "load_problem"]

PROBLEMS_PACKAGE = "pinnlma.problems"
"""Where the bundled problems live, one module each."""


class ProblemNotFound(LookupError):
    """An unknown problem name or a file that defines no problem."""


def bundled_names() -> list[str]:
    """The bundled problems' names, sorted (the modules of :data:`PROBLEMS_PACKAGE`)."""
    package = importlib.import_module(PROBLEMS_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def describe(name: str) -> str:
    """The first line of a bundled problem's docstring."""
    module = importlib.import_module(f"{PROBLEMS_PACKAGE}.{name}")
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""


def _from_module(module: ModuleType, origin: str) -> Problem:
    obj = getattr(module, "problem", None)
    if obj is None:
        raise ProblemNotFound(f"{origin} defines no `problem` (a pinnlma Problem or a function returning one)")
    problem = obj() if callable(obj) and not isinstance(obj, Problem) else obj
    if not isinstance(problem, Problem):
        raise ProblemNotFound(f"`problem` in {origin} is {type(problem).__name__}, not a pinnlma Problem")
    return problem


def load_problem(name_or_path: str) -> Problem:
    """A bundled problem by name, or the problem defined in a ``.py`` file."""
    if name_or_path.endswith(".py") or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ProblemNotFound(f"problem file {path} does not exist")
        spec = importlib.util.spec_from_file_location(f"pinnlma_user_problem_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ProblemNotFound(f"{path} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return _from_module(module, str(path))
    names = bundled_names()
    if name_or_path not in names:
        raise ProblemNotFound(
            f"unknown problem {name_or_path!r}; bundled problems: {', '.join(names)} "
            "(or give a path to your own problem file)"
        )
    return _from_module(importlib.import_module(f"{PROBLEMS_PACKAGE}.{name_or_path}"), name_or_path)


def apply_options(problem: Problem, *, quick: bool = False, **options: Any) -> Problem:
    """Apply the problem's --quick overrides, then explicit options (points, boundary_points, width,
    depth, activation, arch (:data:`~pinnlma.pinn.models.ARCHITECTURES`), embedding: the model's embedding
    settings ({} for none), exact: condition names
    (() for none)); None values are ignored."""
    if quick and problem.quick:
        quick_opts = dict(problem.quick)
        model = {**problem.model, **quick_opts.pop("model", {})}
        run = {**problem.run, **quick_opts.pop("run", {})}
        problem = problem.with_options(model=model, run=run, **quick_opts)
    changes: dict[str, Any] = {}
    if options.get("points") is not None:
        changes["n_interior"] = int(options["points"])
    if options.get("boundary_points") is not None:
        changes["n_boundary"] = int(options["boundary_points"])
    model = {k: options[k] for k in ("width", "depth", "activation", "arch", "embedding") if options.get(k) is not None}
    if options.get("exact") is not None:
        changes["exact"] = tuple(options["exact"])
    if model:
        changes["model"] = {**problem.model, **model}
    return problem.with_options(**changes) if changes else problem
