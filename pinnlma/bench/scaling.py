"""``scaling``: time and peak memory of one LM iteration as m (rows) and n (parameters) double, with the
Jacobian slice budget on and off; fitted exponents; and dense against matrix-free LM as n grows past 10⁵.

Problem: the Burgers PINN (u, u_x, u_t, u_xx channels), 2 → width × 4 → 1 tanh, float64. Two sweeps:
m doubling at fixed width, and n roughly doubling (width 11, 16, 23, 32 → n = 441, 881, 1749, 3297) at
fixed m. "Budget on" gives the assembler a small Jacobian memory budget (slices of budget/(4·n·8) rows,
several per iteration); "budget off" gives it an unlimited one (one slice per row block, i.e. all of J).

Every configuration runs in one child process started with glibc's mmap threshold fixed at 64 KiB
(``MALLOC_MMAP_THRESHOLD_``), so every large tensor is its own mapping and a freed one leaves the
resident set at once; the peak of an iteration is then the resident-set high-water mark during the step
(reset through /proc/self/clear_refs just before it) minus the resident set before it: the Jacobian
slices, JᵀJ, the solve's work matrices and every temporary, not the points, the model or x. Time is
the median over the measured iterations (after one warm-up iteration) in that child.

Exponents: least-squares slopes of log(time) and log(peak) against log(m) and log(n).

Solver sweep (``solvers`` in the JSON): the same Burgers PINN at fixed m, widths up to n > 10⁵, one child
process per (solver, width), the solver given explicitly ('dense' or 'matrix-free', form by the auto rule:
residual space when n > m) with the default slice budget and default matrix-free settings. A solver's
sweep stops after its first size over ``LIMIT_S`` per iteration; dense is not started where its system
would exceed half the available memory (:func:`pinnlma.lm.solvers.dense_bytes`). For the matrix-free
runs the child also times ``setup_s`` (one system: the pass over the slices, the sketch, the
preconditioner, one CG product and v from the solution), one product Jᵀ(Jv) (``product_s``) and one
residual, and reports ``at_cap_s`` = setup + (trials·max_iterations − 1)·product + trials·residual: the
iteration's time if every solve ran to the CG cap. ``largest_n_within_limit`` is the largest
n whose measured median iteration (and, separately, whose ``at_cap_s``) stayed within ``LIMIT_S``.

Agreement (``agreement``): from the same start, K iterations of dense LM and of matrix-free LM with tight
CG (``TIGHT``: η = 1e-12, up to 3000 CG iterations, Nyström rank 100) and with the defaults; the
relative difference of the final losses, to be ≤ 1e-8 for the tight solver.
Bound checked: peak ≤ 1.25 × (n²·8 + one slice), where one slice is what the Jacobian engine budgets
for a slice and its intermediates (:data:`pinnlma.jacobian.DEFAULT_MEMORY_BUDGET`): slice_rows rows of J
plus the derivative channels they are formed from, 4·slice_rows·n·8 bytes (``slice_work_bytes``, never
more than the budget). The stricter ratio against the bare rows of J (``slice_bytes`` =
slice_rows·n·8) is reported too (``peak_over_jtj_plus_rows``).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..jacobian import DEFAULT_MEMORY_BUDGET, SLICE_WORK_FACTOR
from . import common

CASE = "scaling"
BUDGET_ON = 32 * 2**20
BUDGET_OFF = 2**50
BOUNDARY = 200
LIMIT_S = 60.0
"""The per-iteration time that defines the largest n of a solver."""
TIGHT = {"forcing": 1e-12, "eta_min": 1e-13, "max_iterations": 3000, "rank": 100}
"""Matrix-free settings of the agreement runs: CG converged far enough that the steps are the dense ones."""
AGREEMENT_RTOL = 1e-8


def plan(quick: bool, tiny: bool) -> dict[str, Any]:
    if tiny:
        return {"m_sweep": [400, 800], "m_width": 4, "n_widths": [4, 6], "n_rows": 400, "steps": 1,
                "budget_on": 256 * 2**10, "boundary": 40,
                "solver_widths": [4, 12], "solver_rows": 200, "solver_steps": 1,
                "agreement_widths": [4, 12], "agreement_iterations": 3}
    if quick:
        return {"m_sweep": [1000, 2000, 4000], "m_width": 11, "n_widths": [8, 11, 16], "n_rows": 2000, "steps": 2,
                "budget_on": 4 * 2**20, "boundary": 100,
                "solver_widths": [8, 16, 32, 64], "solver_rows": 2000, "solver_steps": 1,
                "agreement_widths": [8, 16], "agreement_iterations": 5}
    return {"m_sweep": [2500, 5000, 10000, 20000], "m_width": 16, "n_widths": [11, 16, 23, 32], "n_rows": 5000,
            "steps": 3, "budget_on": BUDGET_ON, "boundary": BOUNDARY,
            "solver_widths": [16, 32, 64, 100, 140, 182, 260, 360], "solver_rows": 5000, "solver_steps": 2,
            "agreement_widths": [16, 32, 64], "agreement_iterations": 6}


def configurations(p: dict[str, Any]) -> list[dict[str, Any]]:
    configs, seen = [], set()
    points = [(m, p["m_width"], "m") for m in p["m_sweep"]] + [(p["n_rows"], w, "n") for w in p["n_widths"]]
    for rows, width, sweep in points:
        for budget_name, budget in (("on", p["budget_on"]), ("off", BUDGET_OFF)):
            key = (rows, width, budget_name)
            sweeps = [s for r, w, s in points if (r, w) == (rows, width)]
            if key in seen:
                continue
            seen.add(key)
            configs.append({"rows": rows, "width": width, "depth": 4, "budget": budget_name, "memory_budget": budget,
                            "boundary": p["boundary"], "steps": p["steps"], "sweeps": sorted(set(sweeps))})
    return configs


def solver_configurations(p: dict[str, Any]) -> list[dict[str, Any]]:
    """The solver sweep: (solver, width) at ``solver_rows`` rows, in order of growing n per solver."""
    return [{"kind": "solver", "solver": solver, "rows": p["solver_rows"], "width": width, "depth": 4,
             "memory_budget": DEFAULT_MEMORY_BUDGET, "boundary": p["boundary"], "steps": p["solver_steps"]}
            for solver in ("dense", "matrix-free") for width in p["solver_widths"]]


def agreement_configurations(p: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"kind": "agreement", "rows": p["solver_rows"], "width": width, "depth": 4, "boundary": p["boundary"],
             "memory_budget": DEFAULT_MEMORY_BUDGET, "iterations": p["agreement_iterations"]}
            for width in p["agreement_widths"]]


# -- the child: measures one configuration after another, one JSON line each ---------------------------------
def _core(config: dict[str, Any], **options: Any) -> Any:
    import dataclasses

    from ..lm.core import LMCore

    asm = common.burgers_assembler(config["rows"], config["width"], config["depth"], boundary=config["boundary"],
                                   memory_budget=config["memory_budget"])
    return LMCore(asm, asm.initial_parameters(), options=dataclasses.replace(common.no_stop_options(), **options))


def _measure_child(config: dict[str, Any]) -> dict[str, Any]:
    import gc

    import torch

    if config.get("kind") == "agreement":
        return _agreement_child(config)
    core = _core(config, solver=config.get("solver", "dense"))
    asm = core.model
    m, n = core.m, core.n
    core.step()  # warm-up
    times, peaks = [], []
    for _ in range(config["steps"]):
        gc.collect()
        before = common.rss_bytes()
        ok = common.reset_peak_rss()
        start = time.perf_counter()
        core.step()
        times.append(time.perf_counter() - start)
        high = common.peak_rss_bytes()
        peaks.append(high - before if ok and high is not None and before is not None else None)
    slice_rows = min(asm.slice_rows(), max(b.n_rows for b in asm.blocks))
    result = {**config, "m": m, "n": n, "slice_rows": slice_rows, "time_s": common.median(times), "times_s": times,
              "peak_bytes": max((p for p in peaks if p is not None), default=None), "peaks_bytes": peaks,
              "jtj_bytes": n * n * 8, "slice_bytes": slice_rows * n * 8, "slice_work_bytes": SLICE_WORK_FACTOR * slice_rows * n * 8,
              "threads": torch.get_num_threads()}
    if config.get("kind") == "solver":
        result.update(_solver_details(core, config["steps"]))
    del core, asm
    gc.collect()
    return result


def _solver_details(core: Any, steps: int) -> dict[str, Any]:
    """Form, trials and CG iterations of the measured steps; for matrix-free, the parts of an iteration."""
    h = core.state.history
    details: dict[str, Any] = {"form": core.form, "solver_reason": core.choice.reason,
                               "trials": h["trials"][-steps:], "cg_iterations": h["linear_iterations"][-steps:],
                               "cg_relative_residual": h["linear_residual"][-steps:]}
    if not core.solver.matrix_free:
        return details
    import dataclasses

    from ..lm.matrix_free import MatrixFreeSolver

    x, r, options = core.state.x, core.state.r, core.options.matrix_free
    one_product = MatrixFreeSolver(dataclasses.replace(options, max_iterations=1))

    def setup() -> None:  # the pass over the slices, the sketch, the preconditioner, one CG product, v from y
        system = one_product.system(core.form, core.model, x, r, core.state.iteration)
        diag = system.jtj_diagonal()
        system.solve(core.damping.lam, diag.clamp_min(1e-10 * float(diag.max())))

    setup_s, _ = common.timed(setup)
    v = torch_randn_like(x)
    product_s, _ = common.timed(lambda: core.model.jt_times(x, core.model.j_times(x, v)))
    residual_s, _ = common.timed(lambda: core.model.residual(x))
    cap = options.max_iterations
    trials = common.median(h["trials"][-steps:])
    details.update({"setup_s": setup_s, "product_s": product_s, "residual_s": residual_s, "max_cg_iterations": cap,
                    "preconditioner": options.preconditioner, "rank": options.rank,
                    "at_cap_s": setup_s + (trials * cap - 1) * product_s + trials * residual_s})
    return details


def torch_randn_like(t: Any) -> Any:
    import torch

    return torch.randn(t.shape, dtype=t.dtype, generator=torch.Generator().manual_seed(0)).to(t.device)


def _agreement_child(config: dict[str, Any]) -> dict[str, Any]:
    """K iterations of dense, tight matrix-free and default matrix-free LM from the same start."""
    from ..lm.matrix_free import MatrixFreeOptions

    runs = {"dense": {"solver": "dense"},
            "matrix-free tight": {"solver": "matrix-free", "matrix_free": MatrixFreeOptions(**TIGHT)},
            "matrix-free default": {"solver": "matrix-free"}}
    out: dict[str, Any] = {**config, "runs": {}}
    for name, options in runs.items():
        core = _core(config, **options)
        start = time.perf_counter()
        for _ in range(config["iterations"]):
            core.step()
        elapsed = time.perf_counter() - start
        h = core.state.history
        out["m"], out["n"], out["form"] = core.m, core.n, core.form
        out["runs"][name] = {"loss": 2 * core.state.cost, "losses": [2 * c for c in h["cost"]], "time_s": elapsed,
                             "cg_iterations": h["linear_iterations"][1:], "trials": h["trials"][1:]}
    dense = out["runs"]["dense"]["loss"]
    for name in ("matrix-free tight", "matrix-free default"):
        out["runs"][name]["relative_difference"] = abs(out["runs"][name]["loss"] - dense) / dense
    out["agrees"] = out["runs"]["matrix-free tight"]["relative_difference"] <= AGREEMENT_RTOL
    return out


def _child_main(argv: list[str]) -> int:
    import torch

    spec = json.loads(argv[0])
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    over: dict[str, float] = {}  # solver → the time of its first configuration over LIMIT_S
    for config in spec["configs"]:
        solver = config.get("solver", "")
        if config.get("kind") == "solver" and solver in over:
            reason = f"not run: the previous size took {over[solver]:.0f} s > {LIMIT_S:.0f} s per iteration"
            print(json.dumps({**_planned(config), "skipped": True, "reason": reason}), flush=True)
            continue
        result = _measure_child(config)
        if config.get("kind") == "solver" and result["time_s"] > LIMIT_S:
            over[solver] = result["time_s"]
        print(json.dumps(result), flush=True)
    return 0


# -- the parent -------------------------------------------------------------------------------------------------
def _budget_line(r: dict[str, Any]) -> str:
    peak = "n/a" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f} MiB"
    return (f"  m={r['m']:6d} n={r['n']:5d} budget {r['budget']:3s} (slice {r['slice_rows']} rows): "
            f"{common.fmt_s(r['time_s'])}/iteration, peak {peak}")


def _solver_line(r: dict[str, Any]) -> str:
    if r.get("skipped"):
        return f"  {r['solver']:11s} m={r['m']:6d} n={r['n']:7d} ({r['form']}): {r['reason']}"
    peak = "n/a" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f} MiB"
    cg = (f", CG {sum(r['cg_iterations']) / len(r['cg_iterations']):.0f}/iteration, at the CG cap "
          f"{common.fmt_s(r['at_cap_s'])}" if r["solver"] == "matrix-free" else "")
    return (f"  {r['solver']:11s} m={r['m']:6d} n={r['n']:7d} ({r['form']}): {common.fmt_s(r['time_s'])}/iteration, "
            f"peak {peak}{cg}")


def _agreement_line(r: dict[str, Any]) -> str:
    runs = r["runs"]
    return (f"  agreement m={r['m']} n={r['n']} ({r['form']}), {r['iterations']} iterations: loss dense "
            f"{runs['dense']['loss']:.10e}, matrix-free tight {runs['matrix-free tight']['loss']:.10e} (rel. "
            f"{runs['matrix-free tight']['relative_difference']:.1e}), default "
            f"{runs['matrix-free default']['loss']:.4e} "
            f"(rel. {runs['matrix-free default']['relative_difference']:.1e})")


def _line(r: dict[str, Any]) -> str:
    return {"solver": _solver_line, "agreement": _agreement_line}.get(r.get("kind", ""), _budget_line)(r)


def _run_child(configs: list[dict[str, Any]], echo: Callable[[str], None]) -> list[dict[str, Any]]:
    import torch

    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="65536")
    spec = json.dumps({"configs": configs, "threads": torch.get_num_threads()})
    proc = subprocess.Popen([sys.executable, "-m", "pinnlma.bench.scaling", "--child", spec], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    results = []
    assert proc.stdout is not None
    for text in proc.stdout:
        r = json.loads(text)
        results.append(r)
        echo(_line(r))
    err = proc.stderr.read() if proc.stderr is not None else ""
    if proc.wait() != 0:
        raise RuntimeError(f"the scaling child process failed: {err.strip().splitlines()[-1:] or err}")
    return results


def _planned(config: dict[str, Any]) -> dict[str, Any]:
    """m, n and the auto rule's form of a solver configuration, before anything is built."""
    m, n = config["rows"], common.burgers_params(config["width"], config["depth"])
    return {"solver": config["solver"], "width": config["width"], "m": m, "n": n,
            "form": "residual" if n > m else "normal"}


def solver_plan(p: dict[str, Any], echo: Callable[[str], None]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The solver sweep's configurations to run, and those skipped up front: dense where its system would
    not fit half the available memory (:func:`pinnlma.lm.solvers.dense_bytes`)."""
    from ..lm.solvers import MEMORY_FRACTION, available_memory, dense_bytes

    configs, skipped = [], []
    limit = MEMORY_FRACTION * available_memory()
    for config in solver_configurations(p):
        planned = _planned(config)
        need = dense_bytes(planned["form"], planned["m"], planned["n"], 8, config["memory_budget"])
        if config["solver"] == "dense" and need > limit:
            reason = (f"not run: the dense {planned['form']} system needs {need / 2**30:.1f} GiB, over half the "
                      f"available memory ({limit / 2**30:.1f} GiB)")
            skipped.append({**planned, "reason": reason})
            echo(_line({**planned, "kind": "solver", "skipped": True, "reason": reason}))
        else:
            configs.append(config)
    return configs, skipped


def solver_summary(measured: list[dict[str, Any]], skipped: list[dict[str, Any]]) -> dict[str, Any]:
    """The sweep's records, what was skipped and why, and the largest n within LIMIT_S per solver."""
    results = [r for r in measured if not r.get("skipped")]
    skipped = skipped + [{k: r[k] for k in ("solver", "width", "m", "n", "form", "reason")}
                         for r in measured if r.get("skipped")]

    def largest(solver: str, key: str) -> int | None:
        return max((r["n"] for r in results if r["solver"] == solver and r[key] <= LIMIT_S), default=None)

    return {"results": results, "skipped": skipped, "limit_s": LIMIT_S,
            "largest_n_within_limit": {"dense": largest("dense", "time_s"),
                                       "matrix-free": largest("matrix-free", "time_s"),
                                       "matrix-free at the CG cap": largest("matrix-free", "at_cap_s")}}


def agreement_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    worst = max((r["runs"]["matrix-free tight"]["relative_difference"] for r in runs), default=math.nan)
    return {"runs": runs, "tight_options": TIGHT, "rtol": AGREEMENT_RTOL, "worst_relative_difference": worst,
            "met": bool(runs) and all(r["agrees"] for r in runs)}


def _fits(results: list[dict[str, Any]]) -> dict[str, Any]:
    fits: dict[str, Any] = {}
    for budget in ("on", "off"):
        m_pts = sorted((r for r in results if r["budget"] == budget and "m" in r["sweeps"]), key=lambda r: r["m"])
        n_pts = sorted((r for r in results if r["budget"] == budget and "n" in r["sweeps"]), key=lambda r: r["n"])
        fits[f"budget_{budget}"] = {
            "time_vs_m": common.fit_exponent([r["m"] for r in m_pts], [r["time_s"] for r in m_pts]),
            "time_vs_n": common.fit_exponent([r["n"] for r in n_pts], [r["time_s"] for r in n_pts]),
            "peak_vs_m": common.fit_exponent([r["m"] for r in m_pts], [r["peak_bytes"] or math.nan for r in m_pts]),
            "peak_vs_n": common.fit_exponent([r["n"] for r in n_pts], [r["peak_bytes"] or math.nan for r in n_pts]),
        }
    return fits


def run(out: Path, *, quick: bool = False, tiny: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any]:
    load = common.machine_info()["load_average"]
    p = plan(quick, tiny)
    configs = configurations(p)
    echo(f"{CASE}: burgers PINN, depth 4; m sweep {p['m_sweep']} at width {p['m_width']}, width sweep {p['n_widths']} "
         f"at m={p['n_rows']}; budget on = {p['budget_on'] / 2**20:g} MiB, off = unlimited; {len(configs)} runs")
    echo(f"{CASE}: then dense and matrix-free LM at m={p['solver_rows']}, widths {p['solver_widths']} (depth 4), "
         f"{LIMIT_S:.0f} s per iteration at most; then {p['agreement_iterations']} iterations of each from the same "
         f"start at widths {p['agreement_widths']}")
    solver_configs, skipped = solver_plan(p, echo)
    measured = _run_child(configs + solver_configs + agreement_configurations(p), echo)
    results = [r for r in measured if r.get("kind") not in ("solver", "agreement")]
    solvers = solver_summary([r for r in measured if r.get("kind") == "solver"], skipped)
    agree = agreement_summary([r for r in measured if r.get("kind") == "agreement"])
    for r in results:
        bound = r["jtj_bytes"] + r["slice_work_bytes"]
        r["bound_bytes"] = bound
        r["peak_over_bound"] = r["peak_bytes"] / bound if r["peak_bytes"] else None
        r["peak_over_jtj_plus_rows"] = (r["peak_bytes"] / (r["jtj_bytes"] + r["slice_bytes"])
                                        if r["peak_bytes"] else None)
    fits = _fits(results)
    on = [r for r in results if r["budget"] == "on" and r["peak_over_bound"] is not None]
    worst = max(on, key=lambda r: r["peak_over_bound"]) if on else None
    memory_ok = bool(worst and worst["peak_over_bound"] <= 1.25)
    figure = out / f"{CASE}.png"
    _plot(results, figure, solvers)
    f_on, f_off = fits["budget_on"], fits["budget_off"]
    worst_text = (f"worst peak/(n^2*8+slice) {worst['peak_over_bound']:.2f} at m={worst['m']} n={worst['n']} "
                  f"(<= 1.25: {'met' if memory_ok else 'missed'})" if worst else "peak memory not measurable here")
    summary = (f"{CASE}: time ~ m^{f_on['time_vs_m']:.2f} n^{f_on['time_vs_n']:.2f} (budget on), "
               f"m^{f_off['time_vs_m']:.2f} n^{f_off['time_vs_n']:.2f} (off); peak ~ m^{f_on['peak_vs_m']:.2f} (on) vs "
               f"m^{f_off['peak_vs_m']:.2f} (off); {worst_text}; {_solver_summary(solvers, agree, p)}")
    payload = {
        "quick": quick, "tiny": tiny,
        "configuration": {"problem": "burgers", "depth": 4, "dtype": "float64", **p, "budget_off": "unlimited",
                          "memory": "RSS high-water mark during one step minus RSS before it; child process with "
                                    "MALLOC_MMAP_THRESHOLD_=65536",
                          "bound": "n^2*8 + one slice's working memory (4*slice_rows*n*8 bytes: the rows of J and "
                                   "the derivative channels they are formed from); target peak <= 1.25 x bound "
                                   "with the budget on; peak_over_jtj_plus_rows: against n^2*8 + slice_rows*n*8"},
        "results": results,
        "exponents": fits,
        "memory_target_met": memory_ok,
        "solvers": solvers,
        "agreement": agree,
        "figure": figure.name,
        "summary": summary,
    }
    path = common.write_json(out, CASE, payload, started_load=load)
    return {"summary": summary, "path": path, "payload": payload, "figure": figure}


def _solver_summary(solvers: dict[str, Any], agree: dict[str, Any], p: dict[str, Any]) -> str:
    big = solvers["largest_n_within_limit"]
    return (f"largest n with an iteration <= {LIMIT_S:.0f} s at m={p['solver_rows']}: dense {big['dense']}, "
            f"matrix-free {big['matrix-free']} ({big['matrix-free at the CG cap']} at the CG cap); tight matrix-free "
            f"loss within {agree['worst_relative_difference']:.1e} of dense (<= {AGREEMENT_RTOL:g}: "
            f"{'met' if agree['met'] else 'missed'})")


def _plot(results: list[dict[str, Any]], path: Path, solvers: dict[str, Any] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.2))
    for budget, style in (("on", "o-"), ("off", "s--")):
        m_pts = sorted((r for r in results if r["budget"] == budget and "m" in r["sweeps"]), key=lambda r: r["m"])
        n_pts = sorted((r for r in results if r["budget"] == budget and "n" in r["sweeps"]), key=lambda r: r["n"])
        axes[0].loglog([r["m"] for r in m_pts], [r["time_s"] for r in m_pts], style, label=f"budget {budget}")
        axes[1].loglog([r["n"] for r in n_pts], [r["time_s"] for r in n_pts], style, label=f"budget {budget}")
        axes[2].loglog([r["m"] for r in m_pts], [(r["peak_bytes"] or math.nan) / 2**20 for r in m_pts], style,
                       label=f"peak, budget {budget}")
    m_pts = sorted((r for r in results if r["budget"] == "on" and "m" in r["sweeps"]), key=lambda r: r["m"])
    axes[2].loglog([r["m"] for r in m_pts], [1.25 * r["bound_bytes"] / 2**20 for r in m_pts], "k:",
                   label="1.25·(n²·8 + slice)")
    axes[0].set(xlabel="m (residual rows)", ylabel="time per iteration [s]", title="time vs m")
    axes[1].set(xlabel="n (parameters)", ylabel="time per iteration [s]", title="time vs n")
    axes[2].set(xlabel="m (residual rows)", ylabel="peak memory of an iteration [MiB]", title="memory vs m")
    for solver, style in (("dense", "o-"), ("matrix-free", "s-")):
        pts = sorted((r for r in (solvers or {}).get("results", []) if r["solver"] == solver), key=lambda r: r["n"])
        axes[3].loglog([r["n"] for r in pts], [r["time_s"] for r in pts], style, label=solver)
        if solver == "matrix-free":
            axes[3].loglog([r["n"] for r in pts], [r["at_cap_s"] for r in pts], "s:", label="matrix-free at the CG cap")
    axes[3].axhline(LIMIT_S, color="k", ls=":", lw=0.8)
    axes[3].set(xlabel="n (parameters)", ylabel="time per iteration [s]", title="dense vs matrix-free LM")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        sys.exit(_child_main(sys.argv[2:]))
    print("usage: pinnlma bench scaling [--quick] [--out DIR]", file=sys.stderr)
    sys.exit(2)
