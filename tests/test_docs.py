"""The README and the docs stay true: their Python blocks run, their commands parse (the cheap ones run),
the modules and files they name exist, and the custom-problem tutorial trains to its stated accuracy."""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pinnlma.cli import build_parser, main
from pinnlma.pinn.registry import load_problem
from pinnlma.run import RunConfig, solve

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "damped_oscillator.py"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path, language: str) -> list[str]:
    """The fenced code blocks of ``language`` in a Markdown file."""
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


def commands(path: Path, program: str) -> list[list[str]]:
    """Every command line of a bash block that starts with ``program`` (comments dropped)."""
    found = []
    for block in blocks(path, "bash"):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith(program + " "):
                found.append(shlex.split(line))
    return found


def test_readme_python_examples_run() -> None:
    found = blocks(ROOT / "README.md", "python")
    assert len(found) >= 2
    for block in found:
        exec(compile(block, "README.md", "exec"), {})


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_pinnlma_command_in_the_docs_parses(path: Path) -> None:
    parser = build_parser()
    for argv in commands(path, "pinnlma"):
        try:
            parser.parse_args(argv[1:])
        except SystemExit as err:
            raise AssertionError(f"{path.name}: `{shlex.join(argv)}` does not parse") from err


def test_the_cheap_readme_commands_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert ["pinnlma", "list"] in commands(ROOT / "README.md", "pinnlma")
    assert main(["list"]) == 0
    assert "burgers" in capsys.readouterr().out
    assert main(["info", "--no-legate"]) == 0
    assert "backends:" in capsys.readouterr().out


def test_every_python_m_command_in_the_docs_names_a_module_with_a_command_line() -> None:
    seen = set()
    for path in DOCS:
        for argv in commands(path, "python"):
            if argv[1] == "-m":
                seen.add(argv[2])
        seen.update(re.findall(r"python -m (pinnlma[\w.]*)", path.read_text()))
    assert {"pinnlma.validation.nist_strd", "pinnlma.validation.problems"} <= seen
    for module in sorted(seen):
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0 and "usage" in done.stdout.lower(), f"python -m {module} --help: {done.stderr}"


def test_make_targets_and_ci_named_in_the_readme_exist() -> None:
    text = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    targets = re.findall(r"^make ([\w-]+(?: [\w-]+)*)", text, flags=re.M)
    assert targets
    for line in targets:
        for target in line.split():
            assert re.search(rf"^{target}:", makefile, flags=re.M), f"README names make {target}, Makefile lacks it"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make lint docs test" in ci and "make lint docs test" in text


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_paths_and_modules_named_in_the_docs_exist(path: Path) -> None:
    text = path.read_text()
    for name in set(re.findall(r"\b(?:tests|docs|pinnlma|problems|scripts)/[\w/]+\.(?:py|md)\b", text)):
        assert (ROOT / name).exists() or (path.parent / name).exists(), (
            f"{path.name} names {name}, which does not exist"
        )
    for dotted in set(re.findall(r"`(pinnlma(?:\.\w+)+)", text)):
        parts = dotted.split(".")
        for k in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:k]))
            except ImportError:
                continue
            for attr in parts[k:]:
                assert hasattr(obj, attr), f"{path.name} names {dotted}: {'.'.join(parts[:k])} has no {attr}"
                obj = getattr(obj, attr)
            break
        else:
            raise AssertionError(f"{path.name} names {dotted}, which does not import")


def test_custom_problem_tutorial_runs_and_is_accurate(tmp_path: Path) -> None:
    problem = load_problem(str(EXAMPLE))
    result = solve(problem, RunConfig(), progress=False)  # the tutorial's own defaults
    assert result.rel_l2 < 1e-4, result.rel_l2  # measured 1.7e-5 at 150 iterations
    argv = next(a for a in commands(ROOT / "docs" / "custom_problem.md", "pinnlma") if a[1] == "run")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pinnlma",
            *argv[1:3],
            "--quick",
            "--quiet",
            "--out",
            str(tmp_path / "osc.h5"),
            "--plot",
            str(tmp_path / "osc.png"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "damped_oscillator: lm 40 iterations" in out.stdout


def test_tutorial_snippets_match_the_example_file() -> None:
    source = EXAMPLE.read_text()
    snippets = blocks(ROOT / "docs" / "custom_problem.md", "python")
    assert snippets
    for snippet in snippets:
        for line in snippet.strip().splitlines():
            assert line.strip() in source, f"tutorial line not in the example file: {line!r}"


def test_the_run_file_reading_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "burgers", "--quick", "--iters", "2", "--out", "run.h5", "--quiet"]) == 0
    (block,) = blocks(ROOT / "docs" / "run_file.md", "python")
    exec(compile(block, "run_file.md", "exec"), {})
    assert "burgers lm" in capsys.readouterr().out
