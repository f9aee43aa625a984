"""``scaling``: time and peak memory of one LM iteration as m (rows) and n (parameters) double, with the
Jacobian slice budget on and off; fitted exponents; then dense against matrix-free LM as n grows past 10⁵
and their loss agreement (:mod:`pinnlma.bench.solver_sweep`, run in the same child process).

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
Bound checked: peak ≤ 1.25 × (n²·8 + one slice), where one slice is what the Jacobian engine budgets
for a slice and its intermediates (:data:`pinnlma.lm.jacobian.DEFAULT_MEMORY_BUDGET`): slice_rows rows of J
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

from .. import machine
from ..lm.jacobian import SLICE_WORK_FACTOR
from ..machine import load_average
from . import output, solver_sweep, timing

CASE = "scaling"
BUDGET_ON = 32 * 2**20
BUDGET_OFF = 2**50
BOUNDARY = 200


def plan(quick: bool, tiny: bool) -> dict[str, Any]:
    """The sweeps of the case at its size (the solver sweep's from :func:`pinnlma.bench.solver_sweep.plan`)."""
    return {**_budget_plan(quick, tiny), **solver_sweep.plan(quick, tiny)}


def _budget_plan(quick: bool, tiny: bool) -> dict[str, Any]:
    if tiny:
        return {
            "m_sweep": [400, 800],
            "m_width": 4,
            "n_widths": [4, 24],
            "n_rows": 400,
            "steps": 1,
            "budget_on": 256 * 2**10,
            "boundary": 40,
        }
    if quick:
        return {
            "m_sweep": [1000, 2000, 4000],
            "m_width": 11,
            "n_widths": [8, 11, 16],
            "n_rows": 2000,
            "steps": 2,
            "budget_on": 4 * 2**20,
            "boundary": 100,
        }
    return {
        "m_sweep": [2500, 5000, 10000, 20000],
        "m_width": 16,
        "n_widths": [11, 16, 23, 32],
        "n_rows": 5000,
        "steps": 3,
        "budget_on": BUDGET_ON,
        "boundary": BOUNDARY,
    }


def configurations(p: dict[str, Any]) -> list[dict[str, Any]]:
    """The distinct (rows, width, budget) configurations the sweeps of plan ``p`` need."""
    configs, seen = [], set()
    points = [(m, p["m_width"], "m") for m in p["m_sweep"]] + [(p["n_rows"], w, "n") for w in p["n_widths"]]
    for rows, width, _ in points:
        for budget_name, budget in (("on", p["budget_on"]), ("off", BUDGET_OFF)):
            key = (rows, width, budget_name)
            sweeps = [s for r, w, s in points if (r, w) == (rows, width)]
            if key in seen:
                continue
            seen.add(key)
            configs.append(
                {
                    "rows": rows,
                    "width": width,
                    "depth": 4,
                    "budget": budget_name,
                    "memory_budget": budget,
                    "boundary": p["boundary"],
                    "steps": p["steps"],
                    "sweeps": sorted(set(sweeps)),
                }
            )
    return configs


# -- the child: measures one configuration after another, one JSON line each ---------------------------------
def _measure_child(config: dict[str, Any]) -> dict[str, Any]:
    import gc

    import torch

    if config.get("kind") == "agreement":
        return solver_sweep.agreement_child(config)
    core = solver_sweep.core_for(config, solver=config.get("solver", "auto"))
    asm: Any = core.model  # the Burgers assembler
    m, n = core.m, core.n
    core.step()  # warm-up
    times, peaks = [], []
    for _ in range(config["steps"]):
        gc.collect()
        before = machine.rss_bytes()
        ok = machine.reset_peak_rss()
        start = time.perf_counter()
        core.step()
        times.append(time.perf_counter() - start)
        high = machine.peak_rss_bytes()
        peaks.append(high - before if ok and high is not None and before is not None else None)
    slice_rows = min(asm.slice_rows(), max(b.n_rows for b in asm.blocks))
    result = {
        **config,
        "m": m,
        "n": n,
        "slice_rows": slice_rows,
        "time_s": timing.median(times),
        "times_s": times,
        "peak_bytes": max((p for p in peaks if p is not None), default=None),
        "peaks_bytes": peaks,
        "jtj_bytes": n * n * 8,
        "slice_bytes": slice_rows * n * 8,
        "slice_work_bytes": SLICE_WORK_FACTOR * slice_rows * n * 8,
        "threads": torch.get_num_threads(),
    }
    if config.get("kind") == "solver":
        result.update(solver_sweep.solver_details(core, config["steps"]))
    del core, asm
    gc.collect()
    return result


def _child_main(argv: list[str]) -> int:
    import torch

    spec = json.loads(argv[0])
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    over: dict[str, float] = {}  # solver → the time of its first configuration over the limit
    for config in spec["configs"]:
        solver = config.get("solver", "")
        if config.get("kind") == "solver" and solver in over:
            reason = (
                f"not run: the previous size took {over[solver]:.0f} s > {solver_sweep.LIMIT_S:.0f} s per iteration"
            )
            print(json.dumps({**solver_sweep.planned(config), "skipped": True, "reason": reason}), flush=True)
            continue
        result = _measure_child(config)
        if config.get("kind") == "solver" and result["time_s"] > solver_sweep.LIMIT_S:
            over[solver] = result["time_s"]
        print(json.dumps(result), flush=True)
    return 0


# -- the parent -------------------------------------------------------------------------------------------------
def _run_child(configs: list[dict[str, Any]], echo: Callable[[str], None]) -> list[dict[str, Any]]:
    import torch

    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="65536")
    spec = json.dumps({"configs": configs, "threads": torch.get_num_threads()})
    proc = subprocess.Popen(
        [sys.executable, "-m", "pinnlma.bench.scaling", "--child", spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    results = []
    assert proc.stdout is not None
    for line in proc.stdout:
        r = json.loads(line)
        results.append(r)
        echo(_line(r))
    err = proc.stderr.read() if proc.stderr is not None else ""
    if proc.wait() != 0:
        raise RuntimeError(f"the scaling child process failed: {err.strip().splitlines()[-1:] or err}")
    return results


def _line(r: dict[str, Any]) -> str:
    if r.get("kind") == "agreement":
        return solver_sweep.agreement_line(r)
    if r.get("kind") == "solver" or r.get("skipped"):
        return solver_sweep.solver_line(r)
    peak = "n/a" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f} MiB"
    return (
        f"  m={r['m']:6d} n={r['n']:5d} budget {r['budget']:3s} (slice {r['slice_rows']} rows): "
        f"{timing.fmt_s(r['time_s'])}/iteration, peak {peak}"
    )


def _fits(results: list[dict[str, Any]]) -> dict[str, Any]:
    fits: dict[str, Any] = {}
    for budget in ("on", "off"):
        m_pts = sorted((r for r in results if r["budget"] == budget and "m" in r["sweeps"]), key=lambda r: r["m"])
        n_pts = sorted((r for r in results if r["budget"] == budget and "n" in r["sweeps"]), key=lambda r: r["n"])
        fits[f"budget_{budget}"] = {
            "time_vs_m": timing.fit_exponent([r["m"] for r in m_pts], [r["time_s"] for r in m_pts]),
            "time_vs_n": timing.fit_exponent([r["n"] for r in n_pts], [r["time_s"] for r in n_pts]),
            "peak_vs_m": timing.fit_exponent([r["m"] for r in m_pts], [r["peak_bytes"] or math.nan for r in m_pts]),
            "peak_vs_n": timing.fit_exponent([r["n"] for r in n_pts], [r["peak_bytes"] or math.nan for r in n_pts]),
        }
    return fits


def run(out: Path, *, quick: bool = False, tiny: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the case; ``{"summary", "path", "payload", "figure"}`` (see :mod:`pinnlma.bench`)."""
    load = load_average()
    p = plan(quick, tiny)
    configs = configurations(p)
    echo(
        f"{CASE}: burgers PINN, depth 4; m sweep {p['m_sweep']} at width {p['m_width']}, width sweep {p['n_widths']} "
        f"at m={p['n_rows']}; budget on = {p['budget_on'] / 2**20:g} MiB, off = unlimited; {len(configs)} runs"
    )
    echo(
        f"{CASE}: then dense and matrix-free LM at m={p['solver_rows']}, widths {p['solver_widths']} (depth 4), at most "
        f"{solver_sweep.LIMIT_S:.0f} s per iteration; then {p['agreement_iterations']} iterations of each from one "
        f"start at (rows, width) {p['agreement_sizes']}"
    )
    solver_configs, skipped = solver_sweep.solver_plan(p, p["boundary"], echo)
    agreement_configs = solver_sweep.agreement_configurations(p, p["boundary"])
    measured = _run_child(configs + solver_configs + agreement_configs, echo)
    results = [r for r in measured if r.get("kind") not in ("solver", "agreement") and not r.get("skipped")]
    solvers = solver_sweep.solver_summary(
        [r for r in measured if r.get("kind") == "solver" or r.get("skipped")], skipped
    )
    agree = solver_sweep.agreement_summary([r for r in measured if r.get("kind") == "agreement"])
    for r in results:
        bound = r["jtj_bytes"] + r["slice_work_bytes"]
        r["bound_bytes"] = bound
        r["peak_over_bound"] = r["peak_bytes"] / bound if r["peak_bytes"] else None
        r["peak_over_jtj_plus_rows"] = (
            r["peak_bytes"] / (r["jtj_bytes"] + r["slice_bytes"]) if r["peak_bytes"] else None
        )
    fits = _fits(results)
    on = [r for r in results if r["budget"] == "on" and r["peak_over_bound"] is not None]
    worst = max(on, key=lambda r: r["peak_over_bound"]) if on else None
    memory_ok = bool(worst and worst["peak_over_bound"] <= 1.25)
    figure = out / f"{CASE}.png"
    _plot(results, figure, solvers)
    f_on, f_off = fits["budget_on"], fits["budget_off"]
    worst_text = (
        f"worst peak/(n^2*8+slice) {worst['peak_over_bound']:.2f} at m={worst['m']} n={worst['n']} "
        f"(<= 1.25: {'met' if memory_ok else 'missed'})"
        if worst
        else "peak memory not measurable here"
    )
    summary = (
        f"{CASE}: time ~ m^{f_on['time_vs_m']:.2f} n^{f_on['time_vs_n']:.2f} (budget on), "
        f"m^{f_off['time_vs_m']:.2f} n^{f_off['time_vs_n']:.2f} (off); peak ~ m^{f_on['peak_vs_m']:.2f} (on) vs "
        f"m^{f_off['peak_vs_m']:.2f} (off); {worst_text}; {solver_sweep.summary_text(solvers, agree, p['solver_rows'])}"
    )
    payload = {
        "quick": quick,
        "tiny": tiny,
        "configuration": {
            "problem": "burgers",
            "depth": 4,
            "dtype": "float64",
            **p,
            "budget_off": "unlimited",
            "memory": "RSS high-water mark during one step minus RSS before it; child process with "
            "MALLOC_MMAP_THRESHOLD_=65536",
            "bound": "n^2*8 + one slice's working memory (4*slice_rows*n*8 bytes: the rows of J and "
            "the derivative channels they are formed from); target peak <= 1.25 x bound "
            "with the budget on; peak_over_jtj_plus_rows: against n^2*8 + slice_rows*n*8",
        },
        "results": results,
        "exponents": fits,
        "memory_target_met": memory_ok,
        "solvers": solvers,
        "agreement": agree,
        "figure": figure.name,
        "summary": summary,
    }
    path = output.write_json(out, CASE, payload, started_load=load)
    return {"summary": summary, "path": path, "payload": payload, "figure": figure}


def _plot(results: list[dict[str, Any]], path: Path, solvers: dict[str, Any]) -> None:
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
        axes[2].loglog(
            [r["m"] for r in m_pts],
            [(r["peak_bytes"] or math.nan) / 2**20 for r in m_pts],
            style,
            label=f"peak, budget {budget}",
        )
    m_pts = sorted((r for r in results if r["budget"] == "on" and "m" in r["sweeps"]), key=lambda r: r["m"])
    axes[2].loglog(
        [r["m"] for r in m_pts], [1.25 * r["bound_bytes"] / 2**20 for r in m_pts], "k:", label="1.25·(n²·8 + slice)"
    )
    axes[0].set(xlabel="m (residual rows)", ylabel="time per iteration [s]", title="time vs m")
    axes[1].set(xlabel="n (parameters)", ylabel="time per iteration [s]", title="time vs n")
    axes[2].set(xlabel="m (residual rows)", ylabel="peak memory of an iteration [MiB]", title="memory vs m")
    solver_sweep.plot_panel(axes[3], solvers)
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
