"""The house rules, read from the source with ``ast``: imports run one way down the layers without cycles,
and no module reaches into another module's private (underscore) names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pinnlma"
PROBLEMS = ROOT / "problems"  # installed as pinnlma.problems

LAYERS: dict[str, int] = {
    "pinnlma._version": 0,
    "pinnlma.machine": 1,
    "pinnlma.ranks": 1,
    "pinnlma.peers": 2,
    "pinnlma.backends": 2,
    "pinnlma.lm": 3,
    "pinnlma.pinn": 4,
    "pinnlma.reference": 4,
    "pinnlma.problems": 5,
    "pinnlma.optim": 6,
    "pinnlma.run": 7,
    "pinnlma.learn": 8,
    "pinnlma.bench": 9,
    "pinnlma.reproduce": 9,
    "pinnlma.validation": 9,
    "pinnlma.cli": 10,
    "pinnlma.cli_args": 9,
    "pinnlma": 11,
    "pinnlma.__main__": 11,
}
"""Each part of pinnlma and its floor: a module imports only from its own part and from lower floors."""

MAX_LINES = 450
"""A module longer than this does more than one job; split it (or name its one job in LONG_MODULES)."""

LONG_MODULES = {
    "pinnlma.reproduce.taylor2022.report": "one job: the generated README, mostly the paper's statements as text",
}


def modules() -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module of the package and of the bundled problems."""
    for base, prefix in ((PACKAGE, "pinnlma"), (PROBLEMS, "pinnlma.problems")):
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join([prefix, *parts]), path


MODULES = dict(modules())


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def part_of(name: str) -> str:
    """The entry of LAYERS a module belongs to (the longest matching prefix)."""
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return best


def imports(name: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported pinnlma module) of every import in the module, lazy and type-only ones included (a type is
    a dependency too). ``from pkg import x`` counts as pkg.x where that is a module, else as pkg."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "pinnlma" or alias.name.startswith("pinnlma."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not (module == "pinnlma" or module.startswith("pinnlma.")):
                continue
            for alias in node.names:
                full = f"{module}.{alias.name}"
                yield node.lineno, full if full in MODULES else module


def test_every_module_is_found() -> None:
    assert {"pinnlma.lm.core", "pinnlma.backends.torch.backend", "pinnlma.run.loop", "pinnlma.problems.burgers"} <= set(
        MODULES
    )
    assert all(part_of(name) for name in MODULES)


def test_imports_run_down_the_layers() -> None:
    upward = []
    for name, path in MODULES.items():
        here = part_of(name)
        for line, target in imports(name, path):
            there = part_of(target)
            if there == here or LAYERS[there] < LAYERS[here]:
                continue
            upward.append(
                f"{path.relative_to(ROOT)}:{line}: {name} ({here}, floor {LAYERS[here]}) imports {target} "
                f"({there}, floor {LAYERS[there]})"
            )
    assert not upward, "imports that run up or across the layers:\n" + "\n".join(upward)


def test_there_is_no_import_cycle() -> None:
    graph = {name: {t for _, t in imports(name, path) if t in MODULES and t != name} for name, path in MODULES.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def private_names_defined(tree: ast.AST) -> set[str]:
    """Underscore names a module owns: its functions, classes and class attributes, and ``self._x`` it assigns."""
    owned: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            owned.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        owned.add(sub.id)
                    elif (
                        isinstance(sub, ast.Attribute)
                        and isinstance(sub.value, ast.Name)
                        and sub.value.id in ("self", "cls")
                    ):
                        owned.add(sub.attr)
    return {n for n in owned if n.startswith("_") and not n.startswith("__")}


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def reaches_into_private(path: Path, name: str) -> list[str]:
    """Uses of another module's private names: ``obj._x`` (read, written or called) where obj is not
    self/cls and ``_x`` is not this module's own, and ``from pinnlma... import _x``."""
    tree = ast.parse(path.read_text(), str(path))
    owned = private_names_defined(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__") or attr in owned:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            found.append(f"{shown(path)}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("pinnlma")):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{shown(path)}:{node.lineno}: imports {alias.name} from {node.module}")
    return found


def test_no_module_reaches_into_another_modules_private_names() -> None:
    found = [hit for name, path in MODULES.items() for hit in reaches_into_private(path, name)]
    assert not found, "private names used from outside their module (give the owner a public hook):\n" + "\n".join(
        found
    )


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from .lm.core import _State\n\ndef f(core):\n    core._build_system = None\n    return core._trial_step()\n"
    )
    hits = reaches_into_private(bad, "pinnlma.bad")
    assert len(hits) == 3 and "_State" in hits[0] and "core._build_system" in hits[1]
    ok = tmp_path / "ok.py"
    ok.write_text(
        "class A:\n    def __init__(self):\n        self._x = 1\n\n    def same(self, other):\n        return other._x\n"
    )
    assert reaches_into_private(ok, "pinnlma.ok") == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_short_and_say_what_they_do(name: str) -> None:
    path = MODULES[name]
    text = path.read_text()
    lines = text.count("\n")
    assert lines <= MAX_LINES or name in LONG_MODULES, (
        f"{path.relative_to(ROOT)} has {lines} lines (> {MAX_LINES}): split it by job"
    )
    assert ast.get_docstring(ast.parse(text)), f"{path.relative_to(ROOT)} has no module docstring saying what it does"
