"""Scoring a least-squares solver on the NIST StRD nonlinear-regression suite, and the command line.

The 27 problems each come with two starting points and certified parameter values computed in 128-bit
arithmetic. A solver is scored per problem and start by the log relative error (LRE, "agreeing digits")
of its worst parameter; six or more digits is the customary pass mark.

Usage::

    python -m pinnlma.validation.nist_strd [--data DIR] [--out FILE.md] [--solver pinnlma|scipy]

``--solver scipy`` runs MINPACK's Levenberg–Marquardt (``scipy.optimize.least_squares(method="lm")``)
with an exact autograd Jacobian, the reference anchor for ``pinnlma.least_squares``.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...backends import BACKEND_NAMES, Backend, BackendUnavailable, get_backend
from ...lm import Nielsen, least_squares
from ...ranks import require_one_process
from .data import ENV_VAR, NistProblem, default_data_dir, load_suite

__all__ = [
    "LRE_CAP",
    "LRE_PASS",
    "NIST_DAMPING",
    "SOLVERS",
    "format_table",
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

Solver = Callable[[Callable[[Tensor], Tensor], Tensor], Any]


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
            except Exception as exc:
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


NIST_DAMPING = Nielsen(nu_max=4.0)
"""The damping the suite runs with: Nielsen's rule with λ's growth per rejection capped at ×4 (BoxBOD from
start 1 needs it; docs/nist_boxbod.md). A template: every run starts from a copy."""


def pinnlma_solve(fun: Callable[[Tensor], Tensor], x0: Tensor, backend: str | Backend = "torch") -> Any:
    """``pinnlma.least_squares(fun, x0, damping=Nielsen(nu_max=4.0), backend=backend)``: the default options
    but for the bounded growth of λ on rejections (:class:`~pinnlma.lm.damping.Nielsen`; docs/nist_boxbod.md)."""
    return least_squares(fun, x0, damping=NIST_DAMPING, backend=backend)


SOLVERS: dict[str, Solver] = {"pinnlma": pinnlma_solve, "scipy": scipy_minpack_solve}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the suite with one solver, print the Markdown table, optionally save it."""
    parser = argparse.ArgumentParser(
        prog="python -m pinnlma.validation.nist_strd",
        description="Score a least-squares solver on the 27 NIST StRD nonlinear-regression problems.",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help=f"directory of .dat files (default: ${ENV_VAR} or the shared data)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown table to this file")
    parser.add_argument(
        "--solver", choices=sorted(SOLVERS), default="pinnlma", help="solver to score (default: pinnlma)"
    )
    parser.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default="torch",
        help="linear-algebra backend of the pinnlma solver (default: torch; cupynumeric runs on Legate)",
    )
    args = parser.parse_args(argv)
    if args.backend != "torch" and args.solver != "pinnlma":
        parser.error(f"--backend {args.backend} applies to --solver pinnlma only, not to {args.solver}")
    try:
        require_one_process("python -m pinnlma.validation.nist_strd")
    except ValueError as err:
        parser.error(str(err))

    try:
        data_dir = args.data if args.data is not None else default_data_dir()
        problems = load_suite(data_dir)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    solve = SOLVERS[args.solver]
    label = args.solver
    if args.backend != "torch":
        try:
            backend = get_backend(args.backend)
        except BackendUnavailable as exc:
            print(f"error: backend {args.backend} cannot start: {exc}", file=sys.stderr)
            return 2

        solve = functools.partial(pinnlma_solve, backend=backend)
        label = f"{args.solver}, backend {args.backend}"
    rows = run_suite(solve, problems)
    table = f"NIST StRD nonlinear regression, solver: {label}\n\n" + format_table(rows)
    print(table, end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
