"""The ``pinnlma`` command line: list | run | reproduce | bench | info | setup-legate.

Every choice list is read from the registry that owns it: optimizers (:data:`pinnlma.optim.OPTIMIZERS`),
backends (:data:`pinnlma.backends.BACKENDS`), dtypes (:data:`pinnlma.run.config.DTYPES`), damping rules
(:data:`pinnlma.lm.damping.DAMPINGS`), Jacobian paths (:data:`pinnlma.pinn.assembler.JACOBIAN_PATHS`),
activations (:data:`pinnlma.pinn.models.ACTIVATIONS`), architectures (:data:`pinnlma.pinn.models.ARCHITECTURES`), benchmark cases (:data:`pinnlma.bench.CASES`) and
papers (:data:`pinnlma.reproduce.PAPERS`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import cli_args
from .bench import CASES
from .cli_args import Choices
from .reproduce import PAPERS

__all__ = ["Choices", "UsageError", "build_parser", "main"]


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


def _cmd_info(args: argparse.Namespace) -> int:
    from .backends import availability
    from .backends.legate.framebuffer import gpu_memory_bytes
    from .backends.legate.framebuffer import info_lines as framebuffer_lines
    from .backends.legate.runtime import legate_networks, networks_line
    from .machine import info_lines

    for line in info_lines():
        print(line)
    for line in framebuffer_lines(gpu_memory_bytes()):
        print(line)
    print(networks_line(legate_networks()))
    print("backends:")
    for name, status in availability(check=not args.no_legate).items():
        print(f"  {name}: {status}")
    return 0


def _cmd_setup_legate(args: argparse.Namespace) -> int:
    from .backends.legate.setup import main as setup_main

    return setup_main(["--force"] if args.force else [])


def _cmd_list(args: argparse.Namespace) -> int:
    from .pinn.registry import bundled_names, describe

    names = bundled_names()
    width = max(16, *(len(n) for n in names))
    for name in names:
        print(f"{name:{width}s} {describe(name)}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .backends import BackendUnavailable
    from .pinn.embeddings import parse_embedding
    from .pinn.exact import parse_exact
    from .pinn.registry import ProblemNotFound, apply_options, load_problem
    from .ranks import is_writer
    from .run import ResumeError, RunConfig, RunFileError, SetupError, solve
    from .run.io import check_file_target
    from .run.march import parse_march
    from .run.plotting import check_figure_path

    try:
        problem = load_problem(args.problem)
        problem = apply_options(
            problem,
            quick=args.quick,
            points=args.points,
            boundary_points=args.boundary_points,
            width=args.width,
            depth=args.depth,
            activation=args.activation,
            arch=args.arch,
            embedding=None if args.embedding is None else parse_embedding(args.embedding),
            exact=None if args.exact is None else parse_exact(args.exact),
        )
        chosen = {
            "optimizer": args.optimizer,
            "backend": args.backend,
            "dtype": args.dtype,
            "damping": args.damping,
            "jacobian": args.jacobian,
            "solver": args.solver,
        }
        config = RunConfig(
            iters=args.iters,
            time_limit=args.time_limit,
            seed=args.seed,
            lr=args.lr,
            geodesic=args.geodesic,
            gram_rows=args.gram_rows,
            devices=tuple(args.devices.split(",")) if args.devices else None,
            device=args.device,
            march=None if args.march is None else parse_march(args.march),
            march_tol=args.march_tol,
            adapt=args.adapt,
            causal=args.causal,
            **{k: v for k, v in chosen.items() if v is not None},
        )  # unset: RunConfig's defaults
    except (ProblemNotFound, ValueError) as err:
        raise UsageError(str(err)) from None
    if args.plot:
        try:
            check_figure_path(args.plot, args.overwrite)
        except (OSError, ValueError) as err:
            raise UsageError(str(err)) from None
    if args.plot_slice is not None:
        from .run.plot_views import parse_plot_slice

        if not args.plot:
            raise UsageError("--plot-slice chooses the slice of the --plot figure; give --plot FIG.png too")
        if problem.domain.dim < 3:
            raise UsageError(
                f"--plot-slice needs a problem with 3 or more coordinates; {problem.name} has "
                f"{', '.join(problem.domain.names)}"
            )
        try:
            parse_plot_slice(args.plot_slice, problem.domain.names)
        except ValueError as err:
            raise UsageError(str(err)) from None
    out = args.out if args.out is not None else args.resume
    if out is not None:
        try:
            check_file_target(out, "run.h5")  # refused before any training, not after
        except OSError as err:
            raise UsageError(str(err)) from None
    started = time.perf_counter()
    try:
        result = solve(
            problem,
            config,
            out=out,
            overwrite=args.overwrite,
            resume=args.resume,
            progress=None if not args.quiet else False,
        )
    except (FileExistsError, FileNotFoundError, RunFileError, ResumeError, BackendUnavailable, SetupError) as err:
        raise UsageError(str(err)) from None
    except FloatingPointError as err:  # a baseline optimizer met a non-finite loss
        raise UsageError(str(err)) from None
    attrs = result.record.attrs
    coefs = "".join(f", {k[6:]}={v:.6g}" for k, v in attrs.items() if k.startswith("param_"))
    coefs += "".join(f", rel_l2 vs {name} {attrs[f'extra_rel_l2_{name}']:.3e}" for name in problem.extra_references)
    print(
        f"{problem.name}: {config.optimizer} {attrs['iterations']} iterations in {attrs['elapsed']:.1f} s of "
        f"training ({time.perf_counter() - started:.0f} s with evaluation and checkpoints), "
        f"loss {attrs['final_loss']:.3e}, rel_l2 {attrs['final_rel_l2']:.3e}{coefs} ({result.status})"
    )
    writer = is_writer()  # a multi-rank launch: rank 0 writes the run file and the figure
    if out is not None and writer:
        print(f"run written to {out}")
    if args.plot and writer:
        import numpy as np

        from .run.plotting import plot_run

        def predict(points: np.ndarray) -> np.ndarray:
            return result.assembler.predict(result.theta, points)

        try:
            plot_run(
                result.record,
                args.plot,
                list(problem.domain.names),
                overwrite=args.overwrite,
                problem=problem,
                predict=predict,
                plot_slice=args.plot_slice,
            )
        except ValueError as err:
            raise UsageError(f"the run finished, but its figure could not be drawn: {err}") from None
        print(f"figure written to {args.plot}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import BUDGETED, run_cases
    from .ranks import require_one_process

    try:
        require_one_process("pinnlma bench")
    except ValueError as err:
        raise UsageError(str(err)) from None

    if args.case is not None and args.case not in CASES:
        raise UsageError(f"unknown benchmark case {args.case!r}; choose one of {', '.join(CASES)}")
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be at least 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if args.budget is not None:
        if not args.budget > 0:
            raise UsageError(f"--budget must be a positive number of seconds, got {args.budget}")
        if args.case is not None and args.case not in BUDGETED:
            raise UsageError(f"--budget applies to {', '.join(BUDGETED)} only, not to {args.case}")
    return run_cases(
        [args.case] if args.case else None, quick=args.quick, out=args.out, tiny=args.tiny, budget=args.budget
    )


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .ranks import require_one_process
    from .reproduce import load_paper

    try:
        require_one_process("pinnlma reproduce")
    except ValueError as err:
        raise UsageError(str(err)) from None

    try:
        paper = load_paper(args.paper)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")

    import torch

    torch.set_num_threads(args.threads)
    size = "tiny" if args.tiny else ("quick" if args.quick else "full")
    only = [e.strip() for e in args.only.split(",") if e.strip()] if args.only else None
    if args.report_only:
        only = []
    out = args.out or str(paper.DEFAULT_OUT)
    command = " ".join(
        [
            "pinnlma reproduce",
            args.paper,
            *(["--quick"] if args.quick else []),
            *(["--only", args.only] if args.only else []),
            "--out",
            out,
            "--threads",
            str(args.threads),
        ]
    )
    try:
        paper.run(out, size=size, experiments=only, command=command)
    except ValueError as err:
        raise UsageError(str(err)) from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand, its choices read from their registries."""
    parser = argparse.ArgumentParser(prog="pinnlma", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="bundled problems")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("run", help="train a PINN on a bundled problem or your own problem file")
    p.add_argument("problem", help="a bundled problem name (see `pinnlma list`) or path/to/problem.py")
    p.add_argument("--optimizer", choices=Choices(cli_args.optimizers), help="default: lm")
    p.add_argument("--backend", choices=Choices(cli_args.backends), help="default: torch")
    p.add_argument("--dtype", choices=Choices(cli_args.dtypes), help="default: float64")
    p.add_argument("--iters", type=cli_args.positive_int, help="iteration limit (default: the problem's)")
    p.add_argument(
        "--time-limit",
        type=cli_args.positive_float,
        metavar="SECONDS",
        help="training-time limit: the clock of history/time (optimizer steps, "
        "window changes, resampling); the per-iteration error evaluation, checkpoints and start-up are "
        "not counted, so the command takes a few per cent longer",
    )
    p.add_argument("--seed", type=cli_args.positive_int, default=0)
    p.add_argument("--out", metavar="RUN.h5", help="write the run (history, parameters, solution) here")
    p.add_argument("--plot", metavar="FIG.png", help="write a figure of solution, reference, error, history")
    p.add_argument(
        "--plot-slice",
        metavar="NAME=VALUE,...",
        help="for 3 or more coordinates: the slice the figure shows, e.g. z=0.5 (default: mid-planes)",
    )
    p.add_argument("--resume", metavar="RUN.h5", help="continue the run saved in this file (and save back to it)")
    p.add_argument("--overwrite", action="store_true", help="replace existing --out/--plot files")
    p.add_argument("--quick", action="store_true", help="the problem's small size (for tests and a first look)")
    p.add_argument("--points", type=cli_args.count, help="interior collocation points")
    p.add_argument("--boundary-points", type=cli_args.count, help="points per boundary/initial condition")
    p.add_argument("--width", type=cli_args.count, help="hidden layer width")
    p.add_argument("--depth", type=cli_args.count, help="number of hidden layers")
    p.add_argument(
        "--activation",
        choices=Choices(cli_args.activations),
        help="hidden-layer activation (default: the problem's, usually tanh)",
    )
    p.add_argument(
        "--arch",
        choices=Choices(cli_args.architectures),
        help="network architecture: plain, or modified (the gated modified MLP of Wang, Teng & Perdikaris 2021) "
        "(default: the problem's, usually plain)",
    )
    p.add_argument(
        "--embedding",
        metavar="KIND=SETTINGS,...",
        help="input embedding (kinds in pinnlma.pinn.embeddings.EMBEDDINGS): periodic=x[:K] makes x exactly "
        "periodic, even=x keeps only its cosines (a mirror-symmetric solution), fourier=M:SIGMA[:SEED] adds random "
        "Fourier features; none for none (default: the problem's)",
    )
    p.add_argument(
        "--exact",
        metavar="CONDITION,...",
        help="impose these initial/Dirichlet conditions exactly, u = g + d*N (their blocks leave the residual); "
        "none for none (default: the problem's)",
    )
    p.add_argument(
        "--march",
        metavar="T1,T2,...",
        help="time-marching: train on [t0, T1], then [t0, T2], ... from the last window's parameters; each "
        "window gets its share of the limits; none for none (default: the problem's)",
    )
    p.add_argument(
        "--march-tol",
        type=float,
        metavar="LOSS",
        help="a time-marching window hands over as soon as its loss is at or below LOSS; 0 for never "
        "(default: the problem's)",
    )
    p.add_argument(
        "--adapt",
        metavar="KIND:KEY=VALUE,...",
        help="residual-based adaptive collocation (kinds in pinnlma.pinn.adaptive.ADAPTIVE): "
        "rar:every=25,points=100,pool=10000,budget=N adds points where |r| is largest, rad:every=50,k=1,c=1 "
        "redistributes them by |r|, and with final=3 (final_share=0.1) the run's last 10 %% starts from one draw "
        "of 3 times the points and no round after it; none for none (default: the problem's)",
    )
    p.add_argument(
        "--causal",
        metavar="EPS[:CHUNKS[:EVERY[:DELTA]]]",
        help="causal residual weights in time (pinnlma.pinn.causal): PDE rows in time chunk i weighted by "
        "exp(-EPS * sum of the earlier chunks' mean squared residuals), CHUNKS chunks (default 32), updated "
        "every EVERY iterations (default 1); EPS may be an increasing schedule (0.01,0.1,1,10,100), each "
        "until every weight exceeds DELTA (default 0.99); none for none (default: the problem's)",
    )
    p.add_argument("--lr", type=cli_args.positive_float, help="learning rate (adam, lbfgs)")
    p.add_argument("--damping", choices=Choices(cli_args.dampings), help="LM damping rule (default: nielsen)")
    p.add_argument("--geodesic", action="store_true", help="LM with geodesic acceleration")
    p.add_argument(
        "--gram-rows",
        type=cli_args.gram_rows,
        metavar="S",
        help="LM forms JᵀJ from S rows sampled afresh each iteration (a count like 2000, or a fraction like 0.25; "
        "Jacobian rows of only those points), Jᵀr from all rows; all for every row (default: the problem's, "
        "usually all)",
    )
    p.add_argument(
        "--solver",
        choices=Choices(cli_args.solvers),
        help="LM linear solve: dense (exact) or matrix-free (CG on Jacobian products); default auto, by memory",
    )
    p.add_argument(
        "--jacobian",
        choices=Choices(cli_args.jacobian_paths),
        help="PINN Jacobian path: exact MLP channels (fast) or generic per-point autograd (default: auto)",
    )
    p.add_argument(
        "--device",
        default="cpu",
        metavar="DEV",
        help="the primary torch device: network, points, residuals and LM vectors (default: cpu), e.g. cuda:0",
    )
    p.add_argument(
        "--devices",
        metavar="DEV,DEV,...",
        help="torch devices that compute Jacobian slices in parallel, e.g. cuda:0,cuda:1 or cpu,cpu",
    )
    p.add_argument("--quiet", action="store_true", help="no live progress line")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("reproduce", help=f"reproduce a paper's evidence on this machine ({', '.join(PAPERS)})")
    p.add_argument("paper", metavar="NAME", help=f"one of {', '.join(PAPERS)}")
    p.add_argument("--quick", action="store_true", help="small sizes that finish in under 5 minutes")
    p.add_argument(
        "--out", metavar="DIR", help="folder for the HDF5 data, figures and README.md (default results/NAME)"
    )
    p.add_argument("--only", metavar="EXP,...", help="run only these experiments (an unknown name lists the paper's)")
    p.add_argument(
        "--threads", type=cli_args.positive_int, default=1, metavar="N", help="torch intra-op threads (default 1)"
    )
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # test-only sizes
    p.add_argument("--report-only", action="store_true", help="only rebuild README.md from the stored HDF5 files")
    p.set_defaults(func=_cmd_reproduce)

    p = sub.add_parser("bench", help=f"benchmark cases ({', '.join(CASES)}); JSON out")
    p.add_argument("case", nargs="?", metavar="CASE", help=f"one of {', '.join(CASES)} (default: all, in that order)")
    p.add_argument("--quick", action="store_true", help="smaller variants that finish in a few minutes")
    p.add_argument(
        "--out",
        default="results/benchmarks",
        metavar="DIR",
        help="folder for <case>.json (and figures); default results/benchmarks",
    )
    p.add_argument(
        "--threads",
        type=cli_args.positive_int,
        metavar="N",
        help="torch intra-op threads (default: torch's default for the machine)",
    )
    p.add_argument(
        "--budget",
        type=float,
        metavar="S",
        help="optimizer seconds per time-to-target run (peer-tlm; default 60, --quick 15)",
    )
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # test-only sizes
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("info", help="versions, backends and devices")
    p.add_argument("--no-legate", action="store_true", help="skip the (slow) cupynumeric start-up check")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("setup-legate", help="provision the CPU driver library cupynumeric needs (CPU-only Linux)")
    p.add_argument("--force", action="store_true", help="download again even if already provisioned")
    p.set_defaults(func=_cmd_setup_legate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); the exit status (2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as err:
        print(f"pinnlma: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pinnlma: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (`pinnlma list | head -1`): stop quietly, as Unix tools do,
        # and point stdout at /dev/null so Python's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
