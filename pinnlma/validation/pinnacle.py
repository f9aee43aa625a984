"""The PINNacle benchmark (Hao et al., arXiv:2306.08827) side by side with its published table.

Runs each bundled PINNacle case exactly as a user would, one child process at a time::

    pinnlma run pinnacle_<case> --out RESULTS/<case>.h5 --plot RESULTS/<case>.png --overwrite --quiet

reads the run files back and writes a Markdown report (case, PINNacle's and our points and network, wall
time, our L2RE measured as PINNacle measures it, PINNacle's published vanilla PINN, Adam→L-BFGS and best
method, the ratio best/ours, and the errors against the project's accurate references where PINNacle's
file is inexact), a JSON file of every figure, and one figure per case::

    python -m pinnlma.validation.pinnacle [--quick] [--cases burgers1d,pnd] [--optimizers lm,adam,lbfgs]
                                          [--results results/pinnacle] [--doc docs/pinnacle.md]

``--optimizers lm,adam,lbfgs`` also runs each case with ``--optimizer adam`` and ``--optimizer lbfgs`` on
the same points and network (same seed, same problem defaults), with the LM run's training time as their
time limit, so the table shows what the optimizer alone changes. Without ``lm`` in the list
(``--optimizers adam,lbfgs``) the LM rows kept in ``RESULTS/pinnacle.json`` from an earlier run give each
case's time limit, and LM is not run again. ``--jobs N`` runs N children at a time, each with
``OMP_NUM_THREADS = cores // N`` (all LM runs first, then the others, whose limits come from them).
``--quick`` runs every case in its ``--quick`` size (seconds each) and writes under ``RESULTS/quick/``
(for the tests and a first look). ``--studies`` also runs the measured studies of the cases out of reach
(:mod:`pinnlma.validation.pinnacle_studies`, ``--study-time`` seconds per variant) into
``RESULTS/studies.json``; ``--studies-only`` runs only those, keeps every case row of
``RESULTS/pinnacle.json`` and rewrites the report around them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5py

__all__ = ["CASES", "Case", "format_report", "main", "run_case", "verdict"]


from ..ranks import require_one_process
from .kept import kept_part
from .pinnacle_cases import CASES, Case


def _command(
    case: Case, results: Path, optimizer: str, quick: bool, time_limit: float | None
) -> tuple[list[str], Path, Path]:
    stem = case.key if optimizer == "lm" else f"{case.key}_{optimizer}"
    out, plot = results / f"{stem}.h5", results / f"{stem}.png"
    command = ["pinnlma", "run", case.problem, "--out", str(out), "--plot", str(plot), "--overwrite", "--quiet"]
    if quick:
        command.append("--quick")
    if optimizer != "lm":
        command += ["--optimizer", optimizer, "--iters", str(10**9)]
        if time_limit is not None:
            # the LM run's training time (a quick run can train in well under 0.1 s: never a limit of 0)
            command += ["--time-limit", f"{max(time_limit, 0.01):.6g}"]
    return command, out, plot


def run_case(
    case: Case,
    results: Path,
    optimizer: str = "lm",
    *,
    quick: bool = False,
    time_limit: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run one case in a child process (``pinnlma run …``) and read its run file back.

    ``threads``: the child's ``OMP_NUM_THREADS`` (torch's intra-op threads); None leaves the environment as it is.
    """
    results.mkdir(parents=True, exist_ok=True)
    command, out, plot = _command(case, results, optimizer, quick, time_limit)
    env = dict(os.environ)
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pinnlma", *command[1:]], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    shown = " ".join(command) if threads is None else f"OMP_NUM_THREADS={threads} " + " ".join(command)
    row: dict[str, Any] = {
        "case": case.key,
        "optimizer": optimizer,
        "command": shown,
        "threads": threads,
        "date": time.strftime("%Y-%m-%d"),
        "wall_s": wall,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "ok": done.returncode == 0,
        "figure": str(plot),
    }
    if done.returncode != 0:
        row["error"] = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return row
    with h5py.File(out, "r") as f:
        attrs = dict(f.attrs)
        model_cfg = json.loads(f.attrs["model"]) if "model" in f.attrs else {}
        blocks = json.loads(f.attrs["blocks"]) if "blocks" in f.attrs else {}
    outputs = str(attrs.get("output_names", "u")).split(",")
    row.update(
        l2re=float(attrs["final_rel_l2"]),
        loss=float(attrs["final_loss"]),
        status=str(attrs["status"]),
        iterations=int(attrs["iterations"]),
        train_s=float(attrs["elapsed"]),
        n_params=int(attrs["n_params"]),
        n_residuals=int(attrs["n_residuals"]),
        model=model_cfg,
        blocks=blocks,
        extra={k[len("extra_rel_l2_") :]: float(v) for k, v in attrs.items() if k.startswith("extra_rel_l2_")},
        outputs={name: float(attrs[f"final_rel_l2_{name}"]) for name in outputs if f"final_rel_l2_{name}" in attrs},
    )
    return row


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


def _kept_lm_rows(path: Path) -> dict[str, dict[str, Any]]:
    """The successful LM rows of an earlier ``pinnacle.json``, by case (empty when there is none)."""
    if not path.exists():
        return {}
    rows = json.loads(path.read_text(encoding="utf-8")).get("rows", [])
    return {r["case"]: r for r in rows if r.get("optimizer") == "lm" and r.get("ok") and r.get("case") in CASES}


def merge_rows(path: Path, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` together with the rows of an earlier ``pinnacle.json`` in the same folder that they do not
    replace (same case and optimizer), in the order of :data:`CASES` and lm, adam, lbfgs: running a subset
    of the cases again updates those rows of the report and keeps the rest."""
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    if path.exists():
        for row in json.loads(path.read_text(encoding="utf-8")).get("rows", []):
            if row.get("case") in CASES:
                kept[(row["case"], row["optimizer"])] = row
    kept.update({(r["case"], r["optimizer"]): r for r in rows})
    order = {opt: i for i, opt in enumerate(("lm", "adam", "lbfgs"))}
    keys = list(CASES)
    return sorted(kept.values(), key=lambda r: (keys.index(r["case"]), order.get(r["optimizer"], 9)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cases, write the JSON and the report; exit 0 when every asked target is met."""
    parser = argparse.ArgumentParser(prog="python -m pinnlma.validation.pinnacle", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every case in its --quick size (seconds each)")
    parser.add_argument("--cases", help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument(
        "--optimizers",
        default="lm",
        help="comma-separated: lm, adam, lbfgs (lm runs first; without it the kept LM rows give the time limits)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="children at a time, each with OMP_NUM_THREADS = cores // N (default 1: the environment's threads)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results/pinnacle"),
        help="folder for run files, figures and pinnacle.json (default results/pinnacle)",
    )
    parser.add_argument(
        "--studies",
        action="store_true",
        help="also run the measured studies of the cases out of reach (pinnacle_studies)",
    )
    parser.add_argument(
        "--studies-only",
        action="store_true",
        help="run only the studies: keep the case rows of RESULTS/pinnacle.json and rewrite the report",
    )
    parser.add_argument(
        "--study-time",
        type=float,
        default=240.0,
        metavar="SECONDS",
        help="training time of each study variant (default 240)",
    )
    parser.add_argument(
        "--doc",
        type=Path,
        help="the Markdown report (default docs/pinnacle.md; with --quick RESULTS/quick/pinnacle.md)",
    )
    args = parser.parse_args(argv)
    try:
        require_one_process("python -m pinnlma.validation.pinnacle")
    except ValueError as err:
        parser.error(str(err))
    keys = [k.strip() for k in args.cases.split(",") if k.strip()] if args.cases else list(CASES)
    unknown = [k for k in keys if k not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    bad = [o for o in optimizers if o not in ("lm", "adam", "lbfgs")]
    if bad or not optimizers:
        parser.error(f"unknown optimizer(s) {', '.join(bad) or '(none)'}; choose from lm, adam, lbfgs")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    run_lm = "lm" in optimizers
    optimizers = [*(["lm"] if run_lm else []), *[o for o in dict.fromkeys(optimizers) if o != "lm"]]
    results = args.results / "quick" if args.quick else args.results
    if args.studies_only:
        return _studies_only(parser, args, results)
    kept_lm = {} if run_lm else _kept_lm_rows(results / "pinnacle.json")
    missing = [] if run_lm else [k for k in keys if k not in kept_lm]
    if missing:
        parser.error(
            f"no successful LM row for {', '.join(missing)} in {results / 'pinnacle.json'} to take the time limit "
            "from: add lm to --optimizers (or run those cases with lm first)"
        )
    doc = args.doc or (results / "pinnacle.md" if args.quick else Path("docs/pinnacle.md"))
    command = " ".join(
        [
            "python -m pinnlma.validation.pinnacle",
            *(["--quick"] if args.quick else []),
            *(["--cases", args.cases] if args.cases else []),
            *(["--optimizers", ",".join(optimizers)] if optimizers != ["lm"] else []),
            *(["--jobs", str(args.jobs)] if args.jobs > 1 else []),
            *(["--studies"] if args.studies else []),
        ]
    )
    threads = None if args.jobs == 1 else max(1, (os.cpu_count() or 1) // args.jobs)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:

        def lm_run(key: str) -> dict[str, Any]:
            row = run_case(CASES[key], results, "lm", quick=args.quick, threads=threads)
            print(format_table([row]).splitlines()[-1], flush=True)
            return row

        lm_rows = dict(zip(keys, pool.map(lm_run, keys))) if run_lm else kept_lm

        def other_run(job: tuple[str, str]) -> dict[str, Any]:
            key, opt = job
            lm = lm_rows[key]
            budget = lm.get("train_s") if lm.get("ok") else None
            row = run_case(CASES[key], results, opt, quick=args.quick, time_limit=budget, threads=threads)
            print(f"  {key} {opt}: L2RE {_e(row.get('l2re'))}, {row.get('iterations', 0)} iterations", flush=True)
            return row

        jobs = [(key, opt) for key in keys for opt in optimizers if opt != "lm"]
        others = list(pool.map(other_run, jobs))
    rows = [*(lm_rows[k] for k in keys if run_lm), *others]
    if args.studies:
        _write_studies(results, args, command)
    rows = merge_rows(results / "pinnacle.json", rows)
    (results / "pinnacle.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1), encoding="utf-8")
    return _write_report(rows, command, args.quick, results, doc)


def _write_studies(results: Path, args: argparse.Namespace, command: str) -> None:
    """Run the studies and write ``RESULTS/studies.json`` (with the command, threads and date)."""
    from .pinnacle_studies import run_studies

    results.mkdir(parents=True, exist_ok=True)
    data = {"command": command, **run_studies(quick=args.quick, time_limit=args.study_time)}
    (results / "studies.json").write_text(json.dumps(data, indent=1), encoding="utf-8")


def _studies_only(parser: argparse.ArgumentParser, args: argparse.Namespace, results: Path) -> int:
    """``--studies-only``: run the studies, keep the case rows and their command, rewrite the report."""
    given = [
        flag for flag, on in (("--cases", args.cases), ("--jobs", args.jobs != 1), ("--studies", args.studies)) if on
    ]
    if args.optimizers != "lm":
        given.append("--optimizers")
    if given:
        parser.error(f"--studies-only runs no case; drop {', '.join(given)}")
    path = results / "pinnacle.json"
    if not path.exists():
        parser.error(f"--studies-only keeps the case rows of {path}, which does not exist: run the cases first")
    kept = json.loads(path.read_text(encoding="utf-8"))
    study_command = " ".join(
        [
            "python -m pinnlma.validation.pinnacle --studies-only",
            *(["--quick"] if args.quick else []),
            *([f"--study-time {args.study_time:g}"] if args.study_time != 240.0 else []),
        ]
    )
    _write_studies(results, args, study_command)
    doc = args.doc or (results / "pinnacle.md" if args.quick else Path("docs/pinnacle.md"))
    return _write_report(
        merge_rows(path, []), kept.get("command", "python -m pinnlma.validation.pinnacle"), args.quick, results, doc
    )


def _write_report(rows: list[dict[str, Any]], command: str, quick: bool, results: Path, doc: Path) -> int:
    """Write the Markdown report (with ``RESULTS/studies.json`` when present); 0 when every LM target is met."""
    studies_file = results / "studies.json"
    studies = json.loads(studies_file.read_text(encoding="utf-8")) if studies_file.exists() else None
    doc.parent.mkdir(parents=True, exist_ok=True)
    present = [o for o in ("lm", "adam", "lbfgs") if any(r["optimizer"] == o for r in rows)]
    report = format_report(rows, present, command, quick, studies)
    doc.write_text(report + kept_part(doc), encoding="utf-8")  # the hand-written analyses stay
    print(f"wrote {doc} and {results / 'pinnacle.json'}")
    return 0 if all(verdict(CASES[r["case"]], r)[0] is not False for r in rows if r["optimizer"] == "lm") else 1


if __name__ == "__main__":
    raise SystemExit(main())
