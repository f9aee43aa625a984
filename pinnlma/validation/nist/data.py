"""NIST StRD ``.dat`` files: :class:`NistProblem` (data, starts, certified values, model) and the parser.

The data files are not shipped with the package; they are found through :func:`default_data_dir`
(environment variable ``PINNLMA_NIST_DIR``, else ``<repo>/../shared/data/nist_strd``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .models import MODELS, Model

__all__ = ["ENV_VAR", "NistProblem", "default_data_dir", "load_problem", "load_suite"]

ENV_VAR = "PINNLMA_NIST_DIR"

# Response transforms as the headers state them: the left-hand side of the model equation.
_RESPONSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "y": lambda y: y,
    "log[y]": np.log,
}


@dataclass(frozen=True, eq=False)  # eq=False: fields are arrays, so compare and hash by identity
class NistProblem:
    """One StRD problem: data, both starting points, certified answer and the model in torch ops.

    ``y`` is the response column exactly as printed in the file. The quantity fitted is
    :attr:`target`, the left-hand side of the header's model equation: ``y`` itself except for
    Nelson, whose header reads ``log[y] = b1 - b2*x1 * exp[-b3*x2]``, so there the residual is
    ``model - log(y)``.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    starts: tuple[np.ndarray, np.ndarray]
    certified: np.ndarray
    certified_std: np.ndarray
    certified_rss: float
    difficulty: str
    model: Model
    response: str = "y"
    formula: str = ""

    @property
    def n_obs(self) -> int:
        """Number of observations N."""
        return int(self.y.shape[0])

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return int(self.certified.shape[0])

    @property
    def target(self) -> np.ndarray:
        """The fitted response values: ``y``, or ``log(y)`` when the header's response is ``log[y]``."""
        return _RESPONSES[self.response](self.y)

    def residual_fn(
        self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
    ) -> Callable[[Tensor], Tensor]:
        """Return ``fun(b) -> model(b, x) - target`` on 1-D tensors, with the data held in ``dtype``."""
        # torch.tensor copies: the problem's arrays are read-only and must stay so.
        x_t = torch.tensor(self.x, dtype=dtype, device=device)
        y_t = torch.tensor(self.target, dtype=dtype, device=device)
        model = self.model

        def fun(b: Tensor) -> Tensor:
            return model(b, x_t) - y_t

        fun.__name__ = f"{self.name}_residual"
        return fun


def _line_range(text: str, label: str, path: Path) -> tuple[int, int]:
    """The 1-based inclusive line range stated in the header as ``<label> (lines A to B)``."""
    pattern = r"\s+".join(map(re.escape, label.split())) + r"\s*\(\s*lines\s+(\d+)\s+to\s+(\d+)\s*\)"
    m = re.search(pattern, text, re.IGNORECASE)
    if m is None:
        raise ValueError(f"{path}: no '{label} (lines A to B)' in the header")
    return int(m.group(1)), int(m.group(2))


def _header_int(pattern: str, text: str, path: Path, what: str) -> int:
    m = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
    if m is None:
        raise ValueError(f"{path}: cannot find {what} in the header")
    return int(m.group(1))


_PARAM_LINE = re.compile(r"^\s*b(\d+)\s*=\s*(.*?)\s*$")
_RSS_LINE = re.compile(r"Residual\s+Sum\s+of\s+Squares\s*:\s*(\S+)", re.IGNORECASE)


def _param_rows(lines: Sequence[str], min_fields: int, path: Path, what: str) -> dict[int, list[float]]:
    """Parse ``b<k> = v1 v2 ...`` lines; returns {k: [v1, v2, ...]}."""
    rows: dict[int, list[float]] = {}
    for line in lines:
        m = _PARAM_LINE.match(line)
        if m is None:
            continue
        try:
            values = [float(tok) for tok in m.group(2).split()]
        except ValueError as exc:
            raise ValueError(f"{path}: bad {what} line {line.strip()!r}") from exc
        if len(values) < min_fields:
            raise ValueError(f"{path}: {what} line {line.strip()!r} has {len(values)} numbers, expected {min_fields}")
        rows[int(m.group(1))] = values
    return rows


def _formula(text: str) -> tuple[str, str]:
    """The model equation from the 'Model:' block, joined into one line, and its left-hand side."""
    block = text.split("Model:", 1)[1]
    block = re.split(r"^\s*Starting\s+values", block, maxsplit=1, flags=re.IGNORECASE | re.MULTILINE)[0]
    eq_lines: list[str] = []
    for line in block.splitlines()[2:]:  # skip the class line and the parameter-count line
        s = line.strip()
        if not s:
            if eq_lines:
                break
            continue
        if s.lower().startswith("pi ="):  # a constant definition (Roszman1)
            continue
        eq_lines.append(s)
    formula = " ".join(eq_lines)
    lhs = formula.split("=", 1)[0].replace(" ", "")
    return formula, lhs


def load_problem(path: str | os.PathLike[str]) -> NistProblem:
    """Read one StRD ``.dat`` file, using the line ranges stated in its header."""
    path = Path(path)
    text = path.read_text()
    lines = text.splitlines()

    m = re.search(r"Dataset\s+Name\s*:\s*(\S+)", text)
    name = m.group(1) if m else path.stem
    if name not in MODELS:
        raise KeyError(f"{path}: no model for problem {name!r}; known: {sorted(MODELS)}")

    s0, s1 = _line_range(text, "Starting Values", path)
    c0, c1 = _line_range(text, "Certified Values", path)
    d0, d1 = _line_range(text, "Data", path)
    n_params = _header_int(r"(\d+)\s+Parameters\s*\(", text, path, "the number of parameters")
    n_obs = _header_int(r"^\s*(\d+)\s+Observations", text, path, "the number of observations")
    m = re.search(r"\b(Lower|Average|Higher)\s+Level\s+of\s+Difficulty", text, re.IGNORECASE)
    if m is None:
        raise ValueError(f"{path}: cannot find the level of difficulty")
    difficulty = m.group(1).capitalize()

    start_rows = _param_rows(lines[s0 - 1 : s1], 2, path, "starting-value")
    cert_rows = _param_rows(lines[c0 - 1 : c1], 4, path, "certified-value")
    for rows, what in ((start_rows, "starting values"), (cert_rows, "certified values")):
        if sorted(rows) != list(range(1, n_params + 1)):
            raise ValueError(f"{path}: {what} for b{sorted(rows)}, header says {n_params} parameters")
    start1 = np.array([start_rows[k][0] for k in range(1, n_params + 1)])
    start2 = np.array([start_rows[k][1] for k in range(1, n_params + 1)])
    certified = np.array([cert_rows[k][-2] for k in range(1, n_params + 1)])
    certified_std = np.array([cert_rows[k][-1] for k in range(1, n_params + 1)])

    rss = None
    for line in lines[c0 - 1 : c1]:
        m = _RSS_LINE.search(line)
        if m:
            rss = float(m.group(1))
    if rss is None:
        raise ValueError(f"{path}: no 'Residual Sum of Squares' within lines {c0} to {c1}")

    # The column names sit on the 'Data:' line just above the data range; the response comes first.
    columns = lines[d0 - 2].split() if d0 >= 2 and lines[d0 - 2].strip().startswith("Data:") else []
    if columns and columns[1] != "y":
        raise ValueError(f"{path}: expected the response y in the first data column, got {columns[1:]}")
    try:
        data = np.array([[float(tok) for tok in line.split()] for line in lines[d0 - 1 : d1] if line.strip()])
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric data within lines {d0} to {d1}") from exc
    if data.ndim != 2 or data.shape[0] != n_obs or data.shape[1] < 2:
        raise ValueError(f"{path}: data shape {data.shape}, header says {n_obs} observations")
    if columns and data.shape[1] != len(columns) - 1:
        raise ValueError(f"{path}: {data.shape[1]} data columns, the 'Data:' line names {columns[1:]}")
    y = np.ascontiguousarray(data[:, 0])
    x = np.ascontiguousarray(data[:, 1] if data.shape[1] == 2 else data[:, 1:])

    formula, lhs = _formula(text)
    if lhs not in _RESPONSES:
        raise ValueError(f"{path}: unsupported response {lhs!r} in model {formula!r}")

    arrays = (x, y, start1, start2, certified, certified_std)
    for a in arrays:
        a.setflags(write=False)
    return NistProblem(
        name=name,
        x=x,
        y=y,
        starts=(start1, start2),
        certified=certified,
        certified_std=certified_std,
        certified_rss=rss,
        difficulty=difficulty,
        model=MODELS[name],
        response=lhs,
        formula=formula,
    )


def load_suite(data_dir: str | os.PathLike[str] | None = None) -> list[NistProblem]:
    """Load every ``*.dat`` problem in ``data_dir`` (default :func:`default_data_dir`), sorted by name."""
    directory = Path(data_dir) if data_dir is not None else default_data_dir()
    files = sorted(directory.glob("*.dat"))
    if not files:
        raise FileNotFoundError(f"no NIST StRD .dat files in {directory}")
    return sorted((load_problem(f) for f in files), key=lambda p: p.name)


def default_data_dir() -> Path:
    """Where the StRD files are: ``$PINNLMA_NIST_DIR`` if set, else ``<repo>/../shared/data/nist_strd``."""
    env = os.environ.get(ENV_VAR)
    if env:
        candidate = Path(env).expanduser()
        if not candidate.is_dir():
            raise FileNotFoundError(f"{ENV_VAR}={env} is not a directory; point it at the NIST StRD .dat files")
        return candidate
    repo_root = Path(__file__).resolve().parents[3]  # .../<repo>/pinnlma/validation/nist/data.py
    candidate = repo_root.parent / "shared" / "data" / "nist_strd"
    if not candidate.is_dir():
        raise FileNotFoundError(
            f"NIST StRD data not found at {candidate}; set the environment variable {ENV_VAR} to the "
            f"directory holding the .dat files (e.g. export {ENV_VAR}=/path/to/nist_strd)"
        )
    return candidate
