"""What a run file holds besides the results, and how a run continues from it (``--resume``).

:func:`make_record` turns a run in progress into a :class:`~pinnlma.run.io.RunRecord`: the contract's
attributes, history, parameters and solution, and under ``resume`` the optimizer's state, the
assembler's points and sampler, and torch's RNG state, each made storable by
:func:`~pinnlma.run.trees.to_storable`. :func:`restore` puts them back through the owners' public
``load_state_dict`` methods, the values typed after the fresh objects' own ``state_dict()``
(:func:`~pinnlma.run.trees.from_storable`): a new optimizer, damping rule or block type needs no edit here.
"""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..optim import Optimizer, accepted_options
from ..pinn.adaptive import Adaptive
from ..pinn.assembler import ResidualAssembler
from ..pinn.causal import Causal
from ..pinn.exact import exact_conditions
from ..pinn.problem import Problem
from ..pinn.setup import MODEL_DEFAULTS
from .config import RunConfig
from .io import RunRecord
from .march import run_windows
from .trees import from_storable, to_storable

__all__ = ["RESUME_KEYS", "ResumeError", "RunState", "check_compatible", "make_record", "relative_l2", "restore"]

RESUME_KEYS = ("optimizer", "sampler", "torch_rng", "points", "extras")
"""The groups under ``/resume`` a run file needs to be continued."""


class ResumeError(ValueError):
    """A run file that cannot continue this run (another problem, optimizer, dtype or network size)."""


@dataclass
class RunState:
    """A run in progress: what it runs on, and its history so far (one entry per recorded iteration)."""

    problem: Problem
    config: RunConfig
    assembler: ResidualAssembler
    optimizer: Optimizer
    eval_points: np.ndarray
    reference: np.ndarray | None
    history: dict[str, list[float]] = field(default_factory=dict)
    elapsed: float = 0.0
    iteration: int = 0
    windows: tuple[float, ...] = ()  # time-marching window ends (pinnlma.run.march); () without
    window: int = 0  # the current window
    adaptive: Adaptive | None = None  # adaptive collocation (pinnlma.pinn.adaptive); None without
    adapt_closed: bool = False  # whether the adaptive rule's closing round (Adaptive.finish) has run
    causal: Causal | None = None  # causal residual weights (pinnlma.pinn.causal); None without
    causal_eps: float = math.nan  # the causal ε in force (Causal.apply), NaN without causal weights
    reference_derived: dict[str, np.ndarray] | None = None  # the reference's derived quantities, computed once


def relative_l2(prediction: np.ndarray, reference: np.ndarray | None) -> float:
    """‖prediction − reference‖ / ‖reference‖ (NaN without a reference)."""
    if reference is None:
        return math.nan
    return float(np.linalg.norm(prediction - reference)) / max(float(np.linalg.norm(reference)), 1e-300)


def error_keys(problem: Problem) -> list[str]:
    """History keys of the errors: ``rel_l2`` (all outputs jointly), ``rel_l2/<name>`` per output when
    there are several, and ``rel_l2/<name>`` of each derived quantity the problem declares (e.g. ``|h|``)."""
    names = problem.output_columns
    per_output = [f"rel_l2/{name}" for name in names] if len(names) > 1 else []
    return ["rel_l2", *per_output, *(f"rel_l2/{name}" for name in problem.derived)]


def output_errors(
    problem: Problem,
    prediction: np.ndarray,
    reference: np.ndarray | None,
    known: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """The relative L2 errors of :func:`error_keys`: jointly over all outputs, per output by name, and of
    each derived quantity (computed from the prediction and from the reference alike; ``known``: the
    reference's derived quantities when the caller has them already, computed here when None)."""
    out = {"rel_l2": relative_l2(prediction, reference)}
    names = problem.output_columns
    if len(names) > 1:
        for i, name in enumerate(names):
            out[f"rel_l2/{name}"] = relative_l2(prediction[:, i], None if reference is None else reference[:, i])
    if problem.derived:
        predicted = problem.derived_values(prediction)
        if known is None:
            known = problem.derived_values(reference) if reference is not None else {}
        for name, field in predicted.items():
            out[f"rel_l2/{name}"] = relative_l2(field, known.get(name))
    return out


def make_record(run: RunState, status: str) -> RunRecord:
    """The run file's content for ``run`` now, with ``status`` (e.g. "running", "max_iter")."""
    p, c, a, opt = run.problem, run.config, run.assembler, run.optimizer
    prediction = a.predict(opt.x, run.eval_points)
    finite = [v for v in run.history["rel_l2"] if math.isfinite(v)]
    attrs: dict[str, Any] = {
        "problem": p.name,
        "optimizer": c.optimizer,
        "backend": c.backend,
        "dtype": c.dtype,
        "seed": c.seed,
        "n_params": a.n_params,
        "n_residuals": a.n_residuals,
        "status": status,
        "final_loss": run.history["loss"][-1],
        "final_rel_l2": relative_l2(prediction, run.reference),
        "pinnlma_version": __version__,
        "iterations": run.iteration,
        "elapsed": run.elapsed,
        "jacobian": a.jacobian,
        "coordinates": ",".join(p.domain.names),
        "output_names": ",".join(p.output_columns),
        "best_rel_l2": min(finite) if finite else math.nan,
        "config": repr(c.record()),
        "model": json.dumps({**MODEL_DEFAULTS, **p.model}, sort_keys=True, default=str),
        "blocks": json.dumps({b.name: b.n_rows for b in a.blocks}),
        "exact": ",".join(exact_conditions(p)),
        "march": ",".join(f"{t:.17g}" for t in run.windows),
        "march_window": run.window,
        "march_tol": c.march_tolerance(p.run.get("march_tol")),
        "adapt": repr(run.adaptive) if run.adaptive is not None else "",
        "adapt_closed": int(run.adapt_closed),
        "causal": repr(run.causal) if run.causal is not None else "",
        "gram_rows": _gram_text(c.gram_sample(p.run.get("gram_rows"))),
        "backend_info": opt.describe(),
    }
    attrs.update({f"param_{k}": v for k, v in a.coefficients(opt.x).items()})
    attrs.update({f"extra_rel_l2_{k}": v for k, v in p.extra_errors(lambda x: a.predict(opt.x, x)).items()})
    if p.output_count > 1 or p.derived:
        errors = output_errors(p, prediction, run.reference, run.reference_derived)
        attrs.update({f"final_rel_l2_{key.split('/', 1)[1]}": v for key, v in errors.items() if key != "rel_l2"})
    resume = {
        "optimizer": to_storable(opt.state_dict()),
        "torch_rng": torch.get_rng_state().numpy(),
        **to_storable(a.state_dict()),
    }
    return RunRecord(
        attrs=attrs,
        history={k: np.asarray(v) for k, v in run.history.items()},
        params=opt.x.detach().cpu().numpy(),
        solution={
            "inputs": run.eval_points,
            "prediction": prediction,
            **({"reference": run.reference} if run.reference is not None else {}),
        },
        resume=resume,
    )


def _gram_text(gram_rows: int | float | None) -> str:
    """The sampled Gauss–Newton rows as the run file records them ("" for all rows)."""
    return "" if gram_rows is None else repr(gram_rows)


def saved_config(saved: RunRecord) -> dict[str, Any]:
    """The :meth:`RunConfig.record` a run file holds (empty for files without one)."""
    try:
        config = ast.literal_eval(str(saved.attrs.get("config", "{}")))
    except (ValueError, SyntaxError):
        return {}
    return config if isinstance(config, dict) else {}


def check_compatible(saved: RunRecord, problem: Problem, config: RunConfig) -> None:
    """ResumeError saying what differs when ``saved`` cannot continue as the run ``problem``/``config`` asks."""
    a = saved.attrs
    for key, want in (("problem", problem.name), ("optimizer", config.optimizer), ("dtype", config.dtype)):
        if str(a[key]) != str(want):
            raise ResumeError(f"cannot resume: the run file has {key}={a[key]!r}, this run asks for {want!r}")
    missing = [k for k in RESUME_KEYS if k not in saved.resume]
    if missing:
        raise ResumeError(
            f"cannot resume: the run file has no resume state ({', '.join(missing)} missing); it was "
            "not written by `pinnlma run`, so start a new run"
        )
    windows = ",".join(f"{t:.17g}" for t in run_windows(problem, config.march))
    if str(a.get("march", "")) != windows:
        raise ResumeError(
            f"cannot resume: the run marched through the windows {a.get('march', '') or 'none'}, this run asks "
            f"for {windows or 'none'}; give the same --march"
        )
    tol = config.march_tolerance(problem.run.get("march_tol"))
    if float(a.get("march_tol", 0.0)) != tol:
        raise ResumeError(
            f"cannot resume: the run's windows handed over at loss {float(a.get('march_tol', 0.0)):g} "
            f"(0: never), this run asks for {tol:g}; give the same --march-tol"
        )
    adaptive = config.adaptive(problem.run.get("adapt"))
    if str(a.get("adapt", "")) != (repr(adaptive) if adaptive is not None else ""):
        raise ResumeError(
            f"cannot resume: the run used adaptive collocation {a.get('adapt', '') or 'none'}, "
            f"this run asks for {adaptive or 'none'}; give the same --adapt"
        )
    causal = config.causal_weights(problem.run.get("causal"))
    if str(a.get("causal", "")) != (repr(causal) if causal is not None else ""):
        raise ResumeError(
            f"cannot resume: the run used causal weights {a.get('causal', '') or 'none'}, "
            f"this run asks for {causal or 'none'}; give the same --causal"
        )
    gram = _gram_text(config.gram_sample(problem.run.get("gram_rows")))
    if str(a.get("gram_rows", "")) != gram:
        raise ResumeError(
            f"cannot resume: the run sampled its Gauss-Newton rows as {a.get('gram_rows', '') or 'all rows'}, "
            f"this run asks for {gram or 'all rows'}; give the same --gram-rows"
        )
    damping = saved_config(saved).get("damping")
    if "damping" in accepted_options(config.optimizer) and damping is not None and damping != config.damping_name:
        raise ResumeError(
            f"cannot resume: the run used --damping {damping}, this run asks for {config.damping_name}; "
            "the saved damping state belongs to that rule"
        )


def restore(run: RunState, saved: RunRecord) -> None:
    """Continue ``run`` (freshly set up) from the run file ``saved``: parameters, optimizer state, points,
    sampler, RNG, history and counters. ResumeError when the file belongs to another network or problem size."""
    a, opt = run.assembler, run.optimizer
    n_saved = len(saved.params)
    if n_saved != len(opt.x):
        raise ResumeError(
            f"cannot resume: the run file has {n_saved} parameters, this network has "
            f"{len(opt.x)}; use the same --width/--depth/--activation as the saved run"
        )
    m_saved = int(saved.attrs.get("n_residuals", a.n_residuals))
    if m_saved != a.n_residuals and run.adaptive is None:
        raise ResumeError(
            f"cannot resume: the run file has {m_saved} residual rows, this problem has "
            f"{a.n_residuals}; use the same --quick/--points/--boundary-points as the saved run"
        )
    points = {key: saved.resume[key] for key in ("points", "extras", "sampler", "row_weights") if key in saved.resume}
    resizable = [name for name, _ in run.problem.pde_blocks()] if run.adaptive is not None else []
    m_fresh = a.n_residuals
    try:
        a.load_state_dict(from_storable(points, a.state_dict()), resizable=resizable)
    except ValueError as err:
        raise ResumeError(f"cannot resume: {err}") from None
    if a.n_residuals != m_fresh:
        opt.refresh()  # adaptive collocation had changed the row count: the optimizer sizes itself anew
    torch.set_rng_state(torch.as_tensor(saved.resume["torch_rng"], dtype=torch.uint8))
    opt.load_state_dict(from_storable(saved.resume["optimizer"], opt.state_dict()))
    run.history = {k: [float(x) for x in v] for k, v in saved.history.items()}
    if run.causal is not None and run.history.get("causal_eps"):
        run.causal_eps = run.history["causal_eps"][-1]  # the ε of the weights just loaded
    run.iteration = int(saved.attrs["iterations"])
    run.adapt_closed = bool(int(saved.attrs.get("adapt_closed", 0)))
    run.elapsed = float(saved.attrs["elapsed"])
