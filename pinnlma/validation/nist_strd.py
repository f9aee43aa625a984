"""NIST StRD nonlinear-regression validation suite.

The 27 problems of the NIST Statistical Reference Datasets (nonlinear regression) each come with two
starting points and certified parameter values computed in 128-bit arithmetic. A least-squares solver
is scored per problem and start by the log relative error (LRE, "agreeing digits") of its worst
parameter; six or more digits is the customary pass mark.

Usage::

    python -m pinnlma.validation.nist_strd [--data DIR] [--out FILE.md] [--solver pinnlma|scipy]

``--solver scipy`` runs MINPACK's Levenberg–Marquardt (``scipy.optimize.least_squares(method="lm")``)
with an exact autograd Jacobian, the reference anchor for ``pinnlma.least_squares``.

The data files are not shipped with the package; they are found through :func:`default_data_dir`
(environment variable ``PINNLMA_NIST_DIR``, else ``<repo>/../shared/data/nist_strd``).
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "MODELS",
    "NistProblem",
    "default_data_dir",
    "format_table",
    "load_problem",
    "load_suite",
    "log_relative_error",
    "main",
    "pinnlma_solve",
    "run_suite",
    "scipy_minpack_solve",
]

LRE_CAP = 11.0
"""Largest LRE reported: certified values carry 11 significant digits."""

LRE_PASS = 6.0
"""Customary pass mark: at least six agreeing digits in every parameter."""

ENV_VAR = "PINNLMA_NIST_DIR"

Model = Callable[[Tensor, Tensor], Tensor]
Solver = Callable[[Callable[[Tensor], Tensor], Tensor], Any]

# ---------------------------------------------------------------------------------------------------
# Models, written from the formula in each file's header. ``b`` is the 1-D parameter vector
# (b1 is b[0]); ``x`` is (N,) or, for Nelson, (N, 2). Only torch ops, so every model works under
# autograd, forward mode (jvp / jacfwd) and vmap, in float64 or float32.
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

# Response transforms as the headers state them: the left-hand side of the model equation.
_RESPONSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "y": lambda y: y,
    "log[y]": np.log,
}


# ---------------------------------------------------------------------------------------------------
# Problem type and parsing
# ---------------------------------------------------------------------------------------------------


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
    repo_root = Path(__file__).resolve().parents[2]  # .../<repo>/pinnlma/validation/nist_strd.py
    candidate = repo_root.parent / "shared" / "data" / "nist_strd"
    if not candidate.is_dir():
        raise FileNotFoundError(
            f"NIST StRD data not found at {candidate}; set the environment variable {ENV_VAR} to the "
            f"directory holding the .dat files (e.g. export {ENV_VAR}=/path/to/nist_strd)"
        )
    return candidate


# ---------------------------------------------------------------------------------------------------
# Scoring, running, reporting
# ---------------------------------------------------------------------------------------------------


def log_relative_error(estimate: Any, certified: Any, cap: float = LRE_CAP) -> np.ndarray:
    """Per-parameter LRE = -log10(|est - cert| / |cert|), clipped to [0, cap].

    An exact match scores ``cap``; a NaN or infinite estimate scores 0. Where the certified value is 0
    the absolute error is used instead (NIST's convention).
    """
    est = np.asarray(estimate.detach().cpu() if isinstance(estimate, Tensor) else estimate, dtype=np.float64)
    cert = np.asarray(certified, dtype=np.float64)
    est, cert = np.broadcast_arrays(est, cert)
    with np.errstate(all="ignore"):
        scale = np.where(cert != 0, np.abs(cert), 1.0)
        lre = -np.log10(np.abs(est - cert) / scale)  # exact -> +inf, inf estimate -> -inf, NaN -> NaN
    lre = np.where(np.isnan(lre), 0.0, lre)
    return np.clip(lre, 0.0, cap)


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().cpu().to(torch.float64).numpy().reshape(-1)
    return np.asarray(x, dtype=np.float64).reshape(-1)


def run_suite(
    solve: Solver, problems: Sequence[NistProblem] | None = None, starts: Sequence[int] = (0, 1)
) -> list[dict[str, Any]]:
    """Run ``solve(fun, x0)`` on every (problem, start); one row per run, never aborting on errors.

    ``starts`` holds 0-based indices into ``problem.starts``; rows report them 1-based as NIST does.
    The result of ``solve`` needs ``x`` (tensor or array) and may have ``nit``, ``message``, ``success``.
    An exception is recorded in ``error`` and scores LRE 0.
    """
    if problems is None:
        problems = load_suite(default_data_dir())
    rows: list[dict[str, Any]] = []
    for problem in problems:
        for s in starts:
            row: dict[str, Any] = {
                "name": problem.name,
                "start": int(s) + 1,
                "difficulty": problem.difficulty,
                "n_params": problem.n_params,
                "min_lre": 0.0,
                "lre": [0.0] * problem.n_params,
                "nit": None,
                "message": "",
                "success": False,
                "rss": float("nan"),
                "time": float("nan"),
                "error": None,
            }
            t0 = time.perf_counter()
            try:
                fun = problem.residual_fn(torch.float64)
                x0 = torch.tensor(problem.starts[s], dtype=torch.float64)
                result = solve(fun, x0)
                row["time"] = time.perf_counter() - t0
                est = _to_numpy(result.x)
                if est.shape != problem.certified.shape:
                    raise ValueError(f"solution has shape {est.shape}, expected {problem.certified.shape}")
                lre = log_relative_error(est, problem.certified)
                row["lre"] = [float(v) for v in lre]
                row["min_lre"] = float(lre.min())
                row["nit"] = getattr(result, "nit", None)
                row["message"] = str(getattr(result, "message", ""))
                row["success"] = bool(getattr(result, "success", False))
                with torch.no_grad():
                    r = fun(torch.as_tensor(est, dtype=torch.float64))
                row["rss"] = float(torch.dot(r, r))
            except Exception as exc:  # noqa: BLE001 - a failing run is a score of 0, not a crash
                if math.isnan(row["time"]):
                    row["time"] = time.perf_counter() - t0
                row["min_lre"] = 0.0
                row["lre"] = [0.0] * problem.n_params
                row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
    return rows


def _cell(text: Any, width: int = 80) -> str:
    s = " ".join(str(text).split()).replace("|", "\\|")
    return s if len(s) <= width else s[: width - 1] + "…"


def format_table(rows: Sequence[dict[str, Any]], threshold: float = LRE_PASS) -> str:
    """A Markdown table of :func:`run_suite` rows and a summary line ``N of M with LRE >= 6``."""
    out = [
        "| problem | difficulty | start | min LRE | iterations | time (s) | stop message |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        nit = "" if r.get("nit") is None else str(r["nit"])
        msg = f"error: {r['error']}" if r.get("error") else r.get("message", "")
        out.append(
            f"| {r['name']} | {r['difficulty']} | {r['start']} | {r['min_lre']:.1f} | {nit} "
            f"| {r['time']:.3f} | {_cell(msg)} |"
        )
    passed = sum(1 for r in rows if r["min_lre"] >= threshold)
    failed = [f"{r['name']}/{r['start']}" for r in rows if r["min_lre"] < threshold]
    out.append("")
    out.append(f"{passed} of {len(rows)} with LRE >= {threshold:g}")
    if failed:
        out.append(f"below {threshold:g}: {', '.join(failed)}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------
# Solvers
# ---------------------------------------------------------------------------------------------------


def scipy_minpack_solve(fun: Callable[[Tensor], Tensor], x0: Tensor) -> SimpleNamespace:
    """MINPACK LM anchor: ``scipy.optimize.least_squares(method="lm")`` with a ``jacfwd`` Jacobian.

    ``x_scale="jac"``, ``ftol = xtol = gtol = 1e-15``, ``max_nfev = 100000``. ``nit`` is the number of
    Jacobian evaluations (one per accepted-or-rejected outer iteration of ``lmder``).
    """
    from scipy.optimize import least_squares as scipy_least_squares
    from torch.func import jacfwd

    jac_t = jacfwd(fun)

    def f_np(z: np.ndarray) -> np.ndarray:
        return fun(torch.tensor(z, dtype=torch.float64)).detach().numpy()

    def j_np(z: np.ndarray) -> np.ndarray:
        return jac_t(torch.tensor(z, dtype=torch.float64)).detach().numpy()

    res = scipy_least_squares(
        f_np,
        x0.detach().cpu().to(torch.float64).numpy(),
        jac=j_np,
        method="lm",
        x_scale="jac",
        ftol=1e-15,
        xtol=1e-15,
        gtol=1e-15,
        max_nfev=100000,
    )
    return SimpleNamespace(
        x=torch.from_numpy(np.array(res.x, dtype=np.float64)),
        cost=float(res.cost),
        nit=res.njev,
        nfev=res.nfev,
        message=res.message,
        success=bool(res.success),
        status=res.status,
    )


def pinnlma_solve(fun: Callable[[Tensor], Tensor], x0: Tensor) -> Any:
    """``pinnlma.least_squares(fun, x0)`` with its default options (imported lazily)."""
    try:
        import pinnlma

        least_squares = pinnlma.least_squares  # type: ignore[attr-defined]
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"pinnlma.least_squares is not available ({exc}); try --solver scipy") from exc
    return least_squares(fun, x0)


SOLVERS: dict[str, Solver] = {"pinnlma": pinnlma_solve, "scipy": scipy_minpack_solve}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the suite with one solver, print the Markdown table, optionally save it."""
    parser = argparse.ArgumentParser(
        prog="python -m pinnlma.validation.nist_strd",
        description="Score a least-squares solver on the 27 NIST StRD nonlinear-regression problems.",
    )
    parser.add_argument("--data", type=Path, default=None, help=f"directory of .dat files (default: ${ENV_VAR} or the shared data)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown table to this file")
    parser.add_argument("--solver", choices=sorted(SOLVERS), default="pinnlma", help="solver to score (default: pinnlma)")
    args = parser.parse_args(argv)

    try:
        data_dir = args.data if args.data is not None else default_data_dir()
        problems = load_suite(data_dir)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.solver == "pinnlma":
        try:
            import pinnlma

            pinnlma.least_squares  # type: ignore[attr-defined]  # noqa: B018 - fail early, not 54 times
        except (ImportError, AttributeError) as exc:
            print(f"error: pinnlma.least_squares is not available ({exc}); try --solver scipy", file=sys.stderr)
            return 2

    rows = run_suite(SOLVERS[args.solver], problems)
    table = f"NIST StRD nonlinear regression, solver: {args.solver}\n\n" + format_table(rows)
    print(table, end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
