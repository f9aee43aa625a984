"""The dense-against-matrix-free part of ``pinnlma bench scaling``: LM as n grows past 10⁵, and the loss agreement.

Solver sweep (``solvers`` in the JSON): the Burgers PINN at fixed m, widths up to n > 10⁵, each (solver, width)
measured in the scaling case's child process (peak memory as there), the solver given explicitly ('dense' or
'matrix-free'), the form by the auto rule (residual space when n > m), the default slice budget and the default
matrix-free settings. A solver's sweep stops after its first size over :data:`LIMIT_S` per iteration; dense is
not started where its system would exceed half the available memory (:func:`pinnlma.lm.solvers.dense_bytes`).
For the matrix-free runs the child also times ``setup_s`` (one system: the pass over the slices, the sketch,
the preconditioner, one CG product and v from the solution), one product Jᵀ(Jv) (``product_s``) and one
residual, and reports ``at_cap_s`` = setup + (trials·max_iterations − 1)·product + trials·residual: the
iteration's time if every solve ran to the CG cap. ``largest_n_within_limit``: the largest n whose measured
median iteration (and, separately, whose ``at_cap_s``) stayed within LIMIT_S.

Agreement (``agreement``): from the same start, K iterations of dense LM, of matrix-free LM with tight CG
(:data:`TIGHT`) and with the defaults; the relative difference of the final losses, ≤ :data:`AGREEMENT_RTOL`
for the tight solver.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from ..lm import LMCore, LMOptions, MatrixFreeOptions
from ..lm.jacobian import DEFAULT_MEMORY_BUDGET
from ..lm.matrix_free import MatrixFreeSolver
from ..lm.solvers import MEMORY_FRACTION, available_memory, dense_bytes
from . import fixtures, timing

__all__ = [
    "AGREEMENT_RTOL",
    "LIMIT_S",
    "TIGHT",
    "agreement_child",
    "agreement_configurations",
    "agreement_line",
    "agreement_summary",
    "plan",
    "planned",
    "plot_panel",
    "solver_configurations",
    "solver_details",
    "solver_line",
    "solver_plan",
    "solver_summary",
    "summary_text",
]

LIMIT_S = 60.0
"""The per-iteration time that defines the largest n of a solver."""
TIGHT = {"forcing": 1e-12, "eta_min": 1e-13, "max_iterations": 3000, "rank": 100}
"""Matrix-free settings of the agreement runs: CG converged far enough that the steps are the dense ones."""
AGREEMENT_RTOL = 1e-8


def plan(quick: bool, tiny: bool) -> dict[str, Any]:
    """The widths, rows and iteration counts of the sweep and the agreement runs at the case's size."""
    if tiny:
        return {
            "solver_widths": [4, 12],
            "solver_rows": 200,
            "solver_steps": 1,
            "agreement_sizes": [[200, 4], [200, 12]],
            "agreement_iterations": 3,
        }
    if quick:
        return {
            "solver_widths": [8, 16, 32, 64],
            "solver_rows": 2000,
            "solver_steps": 1,
            "agreement_sizes": [[2000, 8], [2000, 16], [400, 16]],
            "agreement_iterations": 5,
        }
    return {
        "solver_widths": [16, 32, 64, 100, 182, 260, 360],
        "solver_rows": 5000,
        "solver_steps": 2,
        "agreement_sizes": [[5000, 16], [5000, 32], [1000, 32]],
        "agreement_iterations": 6,
    }


def solver_configurations(p: dict[str, Any], boundary: int) -> list[dict[str, Any]]:
    """The solver sweep: (solver, width) at ``solver_rows`` rows, in order of growing n per solver."""
    return [
        {
            "kind": "solver",
            "solver": solver,
            "rows": p["solver_rows"],
            "width": width,
            "depth": 4,
            "memory_budget": DEFAULT_MEMORY_BUDGET,
            "boundary": boundary,
            "steps": p["solver_steps"],
        }
        for solver in ("dense", "matrix-free")
        for width in p["solver_widths"]
    ]


def agreement_configurations(p: dict[str, Any], boundary: int) -> list[dict[str, Any]]:
    """One agreement run per (rows, width) of ``agreement_sizes`` (normal form where n <= m, else residual)."""
    return [
        {
            "kind": "agreement",
            "rows": rows,
            "width": width,
            "depth": 4,
            "boundary": boundary,
            "memory_budget": DEFAULT_MEMORY_BUDGET,
            "iterations": p["agreement_iterations"],
        }
        for rows, width in p["agreement_sizes"]
    ]


def planned(config: dict[str, Any]) -> dict[str, Any]:
    """m, n and the auto rule's form of a solver configuration, before anything is built."""
    m, n = config["rows"], fixtures.burgers_params(config["width"], config["depth"])
    return {
        "solver": config["solver"],
        "width": config["width"],
        "m": m,
        "n": n,
        "form": "residual" if n > m else "normal",
    }


def solver_plan(
    p: dict[str, Any], boundary: int, echo: Callable[[str], None]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The sweep's configurations to run, and those skipped up front: dense where its system would not fit
    half the available memory."""
    configs, skipped = [], []
    limit = MEMORY_FRACTION * available_memory()
    for config in solver_configurations(p, boundary):
        plan_ = planned(config)
        need = dense_bytes(plan_["form"], plan_["m"], plan_["n"], 8, config["memory_budget"])
        if config["solver"] == "dense" and need > limit:
            reason = (
                f"not run: the dense {plan_['form']} system needs {need / 2**30:.1f} GiB, over half the "
                f"available memory ({limit / 2**30:.1f} GiB)"
            )
            skipped.append({**plan_, "reason": reason})
            echo(solver_line({**plan_, "skipped": True, "reason": reason}))
        else:
            configs.append(config)
    return configs, skipped


# -- the child ----------------------------------------------------------------------------------------------------
def core_for(config: dict[str, Any], **options: Any) -> LMCore:
    """The LM core of a configuration: the Burgers assembler and no stopping rule but the caller's."""
    asm = fixtures.burgers_assembler(
        config["rows"],
        config["width"],
        config["depth"],
        boundary=config["boundary"],
        memory_budget=config["memory_budget"],
    )
    return LMCore(asm, asm.initial_parameters(), options=LMOptions.unlimited(**options))


def solver_details(core: LMCore, steps: int) -> dict[str, Any]:
    """Form, trials and CG iterations of the last ``steps`` iterations; for matrix-free the parts of one."""
    h = core.state.history
    details: dict[str, Any] = {
        "form": core.form,
        "solver_reason": core.choice.reason,
        "trials": h["trials"][-steps:],
        "cg_iterations": h["linear_iterations"][-steps:],
        "cg_relative_residual": h["linear_residual"][-steps:],
    }
    if not core.solver.matrix_free:
        return details
    x, r, options = core.state.x, core.state.r, core.options.matrix_free
    one_product = MatrixFreeSolver(dataclasses.replace(options, max_iterations=1))

    def setup() -> None:  # the pass over the slices, the sketch, the preconditioner, one CG product, v from y
        system = one_product.system(core.form, core.model, x, r, core.state.iteration)
        diag = system.jtj_diagonal()
        system.solve(core.damping.lam, diag.clamp_min(1e-10 * float(diag.max())))

    setup_s, _ = timing.timed(setup)
    v = torch.randn(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(0)).to(x.device)
    product_s, _ = timing.timed(lambda: core.model.jt_times(x, core.model.j_times(x, v)))
    residual_s, _ = timing.timed(lambda: core.model.residual(x))
    cap, trials = options.max_iterations, timing.median(h["trials"][-steps:])
    details.update(
        {
            "setup_s": setup_s,
            "product_s": product_s,
            "residual_s": residual_s,
            "max_cg_iterations": cap,
            "preconditioner": options.preconditioner,
            "rank": options.rank,
            "at_cap_s": setup_s + (trials * cap - 1) * product_s + trials * residual_s,
        }
    )
    return details


def agreement_child(config: dict[str, Any]) -> dict[str, Any]:
    """K iterations of dense, tight matrix-free and default matrix-free LM from the same start."""
    runs: dict[str, dict[str, Any]] = {
        "dense": {"solver": "dense"},
        "matrix-free tight": {"solver": "matrix-free", "matrix_free": MatrixFreeOptions(**TIGHT)},  # type: ignore[arg-type]
        "matrix-free default": {"solver": "matrix-free"},
    }
    out: dict[str, Any] = {**config, "runs": {}}
    for name, options in runs.items():
        core = core_for(config, **options)

        def iterate(core: LMCore = core) -> None:
            for _ in range(config["iterations"]):
                core.step()

        elapsed, _ = timing.timed(iterate)
        h = core.state.history
        out.update(m=core.m, n=core.n, form=core.form)
        out["runs"][name] = {
            "loss": 2 * core.state.cost,
            "losses": [2 * c for c in h["cost"]],
            "time_s": elapsed,
            "cg_iterations": h["linear_iterations"][1:],
            "trials": h["trials"][1:],
        }
    dense = out["runs"]["dense"]["loss"]
    for name in ("matrix-free tight", "matrix-free default"):
        out["runs"][name]["relative_difference"] = abs(out["runs"][name]["loss"] - dense) / dense
    out["agrees"] = out["runs"]["matrix-free tight"]["relative_difference"] <= AGREEMENT_RTOL
    return out


# -- the parent ---------------------------------------------------------------------------------------------------
def solver_line(r: dict[str, Any]) -> str:
    """The progress line of one solver configuration (measured or skipped)."""
    if r.get("skipped"):
        return f"  {r['solver']:11s} m={r['m']:6d} n={r['n']:7d} ({r['form']}): {r['reason']}"
    peak = "n/a" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f} MiB"
    cg = (
        f", CG {sum(r['cg_iterations']) / len(r['cg_iterations']):.0f}/iteration, at the CG cap "
        f"{timing.fmt_s(r['at_cap_s'])}"
        if r["solver"] == "matrix-free"
        else ""
    )
    return (
        f"  {r['solver']:11s} m={r['m']:6d} n={r['n']:7d} ({r['form']}): {timing.fmt_s(r['time_s'])}/iteration, "
        f"peak {peak}{cg}"
    )


def agreement_line(r: dict[str, Any]) -> str:
    """The progress line of one agreement run."""
    runs = r["runs"]
    tight, default = runs["matrix-free tight"], runs["matrix-free default"]
    return (
        f"  agreement m={r['m']} n={r['n']} ({r['form']}), {r['iterations']} iterations: loss dense "
        f"{runs['dense']['loss']:.10e}, matrix-free tight {tight['loss']:.10e} (rel. "
        f"{tight['relative_difference']:.1e}), default {default['loss']:.4e} "
        f"(rel. {default['relative_difference']:.1e})"
    )


def solver_summary(measured: list[dict[str, Any]], skipped: list[dict[str, Any]]) -> dict[str, Any]:
    """The sweep's records, what was skipped and why, and the largest n within LIMIT_S per solver."""
    results = [r for r in measured if not r.get("skipped")]
    skipped = skipped + [
        {k: r[k] for k in ("solver", "width", "m", "n", "form", "reason")} for r in measured if r.get("skipped")
    ]

    def largest(solver: str, key: str) -> int | None:
        return max((r["n"] for r in results if r["solver"] == solver and r[key] <= LIMIT_S), default=None)

    return {
        "results": results,
        "skipped": skipped,
        "limit_s": LIMIT_S,
        "largest_n_within_limit": {
            "dense": largest("dense", "time_s"),
            "matrix-free": largest("matrix-free", "time_s"),
            "matrix-free at the CG cap": largest("matrix-free", "at_cap_s"),
        },
    }


def agreement_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The agreement runs, the worst relative loss difference of the tight solver and whether it is met."""
    worst = max((r["runs"]["matrix-free tight"]["relative_difference"] for r in runs), default=math.nan)
    return {
        "runs": runs,
        "tight_options": TIGHT,
        "rtol": AGREEMENT_RTOL,
        "worst_relative_difference": worst,
        "met": bool(runs) and all(r["agrees"] for r in runs),
    }


def summary_text(solvers: dict[str, Any], agree: dict[str, Any], rows: int) -> str:
    """The solver part of the case's one-line summary."""
    big = solvers["largest_n_within_limit"]
    return (
        f"largest n with an iteration <= {LIMIT_S:.0f} s at m={rows}: dense {big['dense']}, "
        f"matrix-free {big['matrix-free']} ({big['matrix-free at the CG cap']} at the CG cap); tight matrix-free "
        f"loss within {agree['worst_relative_difference']:.1e} of dense (<= {AGREEMENT_RTOL:g}: "
        f"{'met' if agree['met'] else 'missed'})"
    )


def plot_panel(ax: Any, solvers: dict[str, Any]) -> None:
    """Time per iteration against n for both solvers (and matrix-free at the CG cap), the limit dotted."""
    for solver, style in (("dense", "o-"), ("matrix-free", "s-")):
        pts = sorted((r for r in solvers["results"] if r["solver"] == solver), key=lambda r: r["n"])
        ax.loglog([r["n"] for r in pts], [r["time_s"] for r in pts], style, label=solver)
        if solver == "matrix-free":
            ax.loglog([r["n"] for r in pts], [r["at_cap_s"] for r in pts], "s:", label="matrix-free at the CG cap")
    ax.axhline(LIMIT_S, color="k", ls=":", lw=0.8)
    ax.set(xlabel="n (parameters)", ylabel="time per iteration [s]", title="dense vs matrix-free LM")
