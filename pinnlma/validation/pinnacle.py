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
import os
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
from .pinnacle_report import format_report, format_table, verdict


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
            l2re = row.get("l2re") if row.get("ok") else None
            print(
                f"  {key} {opt}: L2RE {'failed' if l2re is None else f'{l2re:.2e}'}, "
                f"{row.get('iterations', 0)} iterations",
                flush=True,
            )
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
