"""The Markdown page of the PINNacle benchmark: the main table, the optimizer table, notes and commands.

:func:`verdict` says whether a case's run met what the project asks of it; :func:`format_report` writes the
whole page from the rows that :mod:`pinnlma.validation.pinnacle` measured (and the studies, when given).
Formatting only: nothing here runs a case.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from typing import Any

from .pinnacle_cases import CASES, Case

__all__ = ["format_optimizers", "format_report", "format_table", "verdict"]


def verdict(case: Case, row: dict[str, Any]) -> tuple[bool | None, str]:
    """(met, what was asked); met is None when nothing but the time is asked."""
    t = case.target
    if not row.get("ok"):
        return False, "run failed"
    checks = [row["wall_s"] <= 60 * t.minutes]
    if t.l2re is not None:
        checks.append(row["l2re"] <= t.l2re)
    if t.floor is not None:
        checks.append(row["l2re"] <= (1 + t.floor_tol) * t.floor)
    checks += [row["extra"].get(k, math.inf) <= v for k, v in t.extra.items()]
    checks += [row["outputs"].get(k, math.inf) <= v for k, v in t.outputs.items()]
    if len(checks) == 1:
        return None, t.describe()
    return all(checks), t.describe()


def _e(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.2e}"


def _network(row: dict[str, Any]) -> str:
    model = row.get("model") or {}
    if "width" in model and "depth" in model:
        return f"{model['depth']} × {model['width']} {model.get('activation', 'tanh')}, {row['n_params']} params"
    return f"{row['n_params']} params"


def _points(case: Case, row: dict[str, Any]) -> str:
    """Our points as PINNacle counts them: interior (shared by the PDE blocks) + each condition's rows."""
    from pinnlma.pinn.registry import load_problem

    blocks = row.get("blocks") or {}
    pde = {name for name, _ in load_problem(case.problem).pde_blocks()}
    interior = max((n for b, n in blocks.items() if b in pde), default=0)
    others = [str(n) for b, n in blocks.items() if b not in pde]
    return " + ".join([str(interior), *others])


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The main table: one line per case (its LM run)."""
    lines = [
        "| case | PINNacle points | our points | our network | wall time | iterations | our L2RE "
        "| PINNacle PINN | PINNacle Adam→L-BFGS | PINNacle best | best/ours | extra references | asked | met |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---|---:|---|---|---|",
    ]
    for row in rows:
        case = CASES[row["case"]]
        met, asked = verdict(case, row)
        pub = case.published
        best = f"{pub.best[0]} {_e(pub.best[1])}" if pub.best else "—"
        if not row.get("ok"):
            lines.append(
                f"| {case.label} | {case.pinnacle_points} | | | {row['wall_s']:.0f} s | | error: {row['error']} "
                f"| {_e(pub.vanilla)} | {_e(pub.lbfgs)} | {best} | | | {asked} | no |"
            )
            continue
        ratio = f"{pub.best[1] / row['l2re']:.3g}×" if pub.best else "—"
        extras = [f"{k} {_e(v)}" for k, v in row["extra"].items() if "_" not in k or k in case.target.extra]
        extras += [f"{k} {_e(v)}" for k, v in row["outputs"].items()]
        lines.append(
            f"| {case.label} | {case.pinnacle_points} | {_points(case, row)} | {_network(row)} | {row['wall_s']:.0f} s "
            f"| {row['iterations']} | {_e(row['l2re'])} | {_e(pub.vanilla)} | {_e(pub.lbfgs)} | {best} | {ratio} "
            f"| {'; '.join(extras) or '—'} | {asked} | {'—' if met is None else ('yes' if met else 'no')} |"
        )
    return "\n".join(lines) + "\n"


def format_optimizers(rows: Sequence[dict[str, Any]], optimizers: Sequence[str]) -> str:
    """Same points, network and training time: the L2RE (and extra references) of each optimizer."""
    head = "| case | " + " | ".join(f"{o} L2RE | {o} iterations" for o in optimizers) + " | training time |"
    lines = [head, "|---|" + "---:|---:|" * len(optimizers) + "---:|"]
    by_case: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_case.setdefault(row["case"], {})[row["optimizer"]] = row
    for key, runs in by_case.items():
        cells = []
        for opt in optimizers:
            r = runs.get(opt)
            if r is None or not r.get("ok"):
                cells.append(f"{'error' if r else '—'} | ")
                continue
            extra = "".join(f" ({k} {_e(v)})" for k, v in r["extra"].items() if k in CASES[key].target.extra)
            extra += "".join(f" ({k} {_e(v)})" for k, v in r["outputs"].items() if k in CASES[key].target.outputs)
            cells.append(f"{_e(r['l2re'])}{extra} | {r['iterations']}")
        lm = runs.get("lm", {})
        lines.append(f"| {CASES[key].label} | " + " | ".join(cells) + f" | {lm.get('train_s', math.nan):.0f} s |")
    return "\n".join(lines) + "\n"


def _dates(rows: Sequence[dict[str, Any]]) -> str:
    """The day (or first–last day) of the runs, and a word on rows kept from before runs carried a date."""
    days = sorted({r["date"] for r in rows if r.get("date")})
    text = "" if not days else days[0] if len(days) == 1 else f"runs of {days[0]} to {days[-1]}"
    undated = sum(1 for r in rows if not r.get("date"))
    if undated:
        text += f"{', and ' if text else ''}{undated} rows of an earlier report (no date recorded)"
    return text


def format_report(
    rows: Sequence[dict[str, Any]],
    optimizers: Sequence[str],
    command: str,
    quick: bool,
    studies: dict[str, Any] | None = None,
) -> str:
    """The whole Markdown page (with the studies' section when ``studies`` is given)."""
    import torch

    lm_rows = [r for r in rows if r["optimizer"] == "lm"]
    loads = [r[k] for r in rows for k in ("load_before", "load_after")]
    parts = [
        "# PINNacle: pinnlma beside the published table",
        "",
        f"Generated by `{command}` (do not edit by hand){' — QUICK SIZES, not the real table' if quick else ''}; "
        "rows of earlier runs into the same results folder are kept, and every row's command is listed at the end.",
        "PINNacle (Hao et al., *PINNacle: A Comprehensive Benchmark of Physics-Informed Neural Networks for Solving "
        "PDEs*, arXiv:2306.08827) trains a 5 × 100 tanh network (~40k parameters) in float32 with 20 000 Adam steps "
        "on a GPU; its L2RE is ‖y − y*‖/‖y*‖ over all outputs jointly on its test points (the reference file's nodes, "
        "or its grid rule for analytic references), at the last step. Our runs: each case's bundled defaults "
        "(`pinnlma run NAME`), Levenberg–Marquardt, float64, seed 0, the same test points and metric.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{_dates(rows)}; load average (1 min) during the runs {min(loads, default=math.nan):.1f}–"
        f"{max(loads, default=math.nan):.1f}. Wall times are the whole command (start-up, data, training, "
        "evaluation, run file and figure) and are honest only when the load is below the core count.",
        "",
        "PINNacle's numbers are the paper's (\"—\": not given). best/ours = PINNacle's best L2RE ÷ ours. The "
        "reference files of Burgers1d-C and Heat2d-LT are inexact, so a perfect solver scores their floor there; "
        "the extra references are the project's accurate ones.",
        "",
        format_table(lm_rows),
    ]
    notes = [f"- **{CASES[r['case']].label}**: {CASES[r['case']].note}" for r in lm_rows if CASES[r["case"]].note]
    if notes:
        parts += ["Notes:", "", *notes, ""]
    if len(optimizers) > 1:
        parts += [
            "## The optimizer alone",
            "",
            "Each case again with `--optimizer adam` (lr 1e-3) and `--optimizer lbfgs` (strong-Wolfe line "
            "search), same points, network and seed, with the LM run's training time as `--time-limit` (a "
            "command that starts with `OMP_NUM_THREADS=T` ran with T torch threads beside other runs; see Commands):",
            "",
            format_optimizers(rows, optimizers),
        ]
    if studies is not None:
        from .pinnacle_studies import format_studies

        parts += [format_studies(studies)]
    parts += [
        "## Commands",
        "",
        "```bash",
        *(r["command"] for r in rows),
        "```",
        "",
        "Figures: " + ", ".join(f"`{r['figure']}`" for r in lm_rows if r.get("ok")),
        "",
    ]
    return "\n".join(parts)
