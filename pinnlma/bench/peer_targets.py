"""Time to a target loss, pinnlma against torch-levenberg-marquardt (tlm): the ``time_to_target`` part of
``pinnlma bench peer-tlm``.

Every run starts from the same initial weights and steps until its loss reaches the smallest target, the
optimizer stops, or its optimizer time passes the per-run budget. The clock runs only inside the steps;
the loss after each step (the whole data set, without gradients) is taken off the clock, so a trajectory
is the list of (optimizer seconds so far, loss) after every step, entry 0 the start. A target counts as
reached at the first entry whose loss is at or below it with a time within the budget; otherwise its time
is None, said in the run's ``reach`` entry as ``"not within budget"``.

The variants of a case run alternately (the order reversed every other repeat, :func:`~.timing.alternate`),
so a drifting machine load falls on all of them alike. ``time_speedup_vs_tlm[variant][target]`` is the
median over the repeats of each repeat's ratio tlm time / variant time; when tlm did not reach a target
within the budget but the variant did, it is the string ``"inf"`` (JSON has no infinity; the detail
gives ``speedup_at_least`` = budget / variant time); when the variant did not reach it, None.

Cases (:func:`sinc_case`, :func:`digits_case`):

- ``sinc``: the peer-tlm fit (y = sinc(10x), full batch, float64); loss = MSE; targets: tlm's MSE after
  its ``anchor_steps`` steps (the per-step bench's epochs), 1e-5 and 1e-6.
- ``digits``: the 8×8-digits CNN of ``pinnlma reproduce digits`` (1898 parameters, float64), one LM step
  per batch of 256 in one fixed shuffled order (reshuffled every epoch, the same batches for everyone);
  loss = the mean cross entropy on the training images; targets: tlm's loss after its first 6 and 30
  steps (1 and 5 epochs of the 1347 training images).
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..learn.digits import load_data, make_cnn
from ..learn.fit import DEFAULT_DAMPING
from ..learn.loader import BatchLoader
from ..lm import Damping, Levenberg, LevenbergMarquardt, LMOptions, Nielsen, losses
from . import fixtures, timing
from .timing import fmt_s, median

__all__ = [
    "Case",
    "Stepper",
    "digits_case",
    "reach",
    "run_case",
    "run_to_targets",
    "sinc_case",
]

TLM = "tlm"
INF = "inf"  # a speedup where only tlm missed the target (JSON has no infinity)

Stepper = tuple[Callable[[], bool], Callable[[], float]]
"""``(step, loss)``: ``step()`` takes one optimizer step and says whether the optimizer asks to stop;
``loss()`` is the loss now (not timed)."""


@dataclass
class Case:
    """One time-to-target comparison: named targets, the variants (each a factory of a fresh
    :data:`Stepper` from the same initial weights) and what they are."""

    name: str
    loss: str
    targets: dict[str, float]
    variants: dict[str, Callable[[], Stepper]]
    described: dict[str, str]
    configuration: dict[str, Any]
    max_steps: int = 10**6
    """A cap on the steps of one run besides the budget (the test-only tiny size ends its runs by steps)."""


def run_to_targets(
    make: Callable[[], Stepper], targets: dict[str, float], budget: float, max_steps: int
) -> dict[str, Any]:
    """One run: steps until the smallest target, a stop, the budget or ``max_steps``; its trajectory
    (``time_s`` and ``loss`` after every step, entry 0 the start), why it ended and :func:`reach`."""
    step, loss = make()
    times, values = [0.0], [loss()]
    elapsed, ended, floor = 0.0, "budget", min(targets.values())
    while True:
        if values[-1] <= floor:
            ended = "smallest target reached"
            break
        if elapsed >= budget:
            ended = "budget"
            break
        if len(times) > max_steps:
            ended = f"{max_steps} steps"
            break
        started = time.perf_counter()
        stop = step()
        elapsed += time.perf_counter() - started
        times.append(elapsed)
        values.append(loss())
        if stop:
            ended = "the optimizer stopped"
            break
        if not math.isfinite(values[-1]):
            ended = "non-finite loss"
            break
    reached = reach(times, values, targets, budget)
    for entry in reached.values():
        if not entry["reached"] and ended != "budget":
            entry["note"] = f"not reached: the run ended first ({ended})"
    return {"trajectory": {"time_s": times, "loss": values}, "ended": ended, "steps": len(times) - 1, "reach": reached}


def reach(
    times: Sequence[float], values: Sequence[float], targets: dict[str, float], budget: float
) -> dict[str, dict[str, Any]]:
    """Per target: the time and step count of the first trajectory entry at or below it within the budget,
    or None for both with the note ``"not reached within the budget (… s)"``."""
    out = {}
    for name, target in targets.items():
        hit = next((k for k, (t, v) in enumerate(zip(times, values)) if v <= target and t <= budget), None)
        out[name] = (
            {"time_s": None, "steps": None, "reached": False, "note": f"not reached within the budget ({budget:g} s)"}
            if hit is None
            else {"time_s": times[hit], "steps": hit, "reached": True, "note": "reached"}
        )
    return out


def _speedup(tlm_runs: list[dict[str, Any]], runs: list[dict[str, Any]], target: str, budget: float) -> dict:
    ratios: list[float | str | None] = []
    bounds: list[float] = []
    for theirs, ours in zip(tlm_runs, runs):
        t_tlm, t_ours = theirs["reach"][target]["time_s"], ours["reach"][target]["time_s"]
        if t_ours is None:
            ratios.append(None)
        elif t_tlm is None:
            ratios.append(INF)
            bounds.append(budget / t_ours if t_ours > 0 else math.inf)
        else:
            ratios.append(t_tlm / t_ours if t_ours > 0 else INF)
    reached = [r for r in ratios if r is not None]
    value: float | str | None
    if len(reached) < len(ratios):
        value, note = None, "the variant did not reach the target within the budget in every repeat"
    elif INF in reached:
        value, note = INF, "tlm did not reach the target within the budget; the variant did"
    else:
        value, note = median([float(r) for r in reached]), "both reached the target"
    return {
        "value": value,
        "per_repeat": ratios,
        "speedup_at_least": min(bounds) if bounds else None,
        "note": note,
    }


def run_case(case: Case, *, budget: float, repeats: int, echo: Callable[[str], None]) -> dict:
    """Run every variant of ``case`` ``repeats`` times, alternating; the payload of the case."""
    for make in case.variants.values():  # warm-up: first-call costs (vmap/jacrev tracing) off the clock
        step, _ = make()
        step()
    measures: dict[str, Callable[[], Any]] = {
        name: functools.partial(run_to_targets, make, case.targets, budget, case.max_steps)
        for name, make in case.variants.items()
    }
    runs = timing.alternate(measures, repeats)
    time_to_target = {
        name: {t: _median_or_none([r["reach"][t]["time_s"] for r in rs]) for t in case.targets}
        for name, rs in runs.items()
    }
    steps_to_target = {
        name: {t: _median_or_none([r["reach"][t]["steps"] for r in rs]) for t in case.targets}
        for name, rs in runs.items()
    }
    speedups = {
        name: {t: _speedup(runs[TLM], rs, t, budget) for t in case.targets} for name, rs in runs.items() if name != TLM
    }
    for name, rs in runs.items():
        cells = []
        for t in case.targets:
            got = time_to_target[name][t]
            cell = f"{t} {fmt_s(got)}" if got is not None else f"{t} not reached ({rs[-1]['ended']})"
            if name != TLM:
                s = speedups[name][t]["value"]
                cell += "" if s is None else (" (tlm not within budget)" if s == INF else f" ({s:.1f}x)")
            cells.append(cell)
        echo(f"  {case.name} {name}: " + "; ".join(cells))
    return {
        "loss": case.loss,
        "targets": case.targets,
        "budget_s": budget,
        "max_steps": case.max_steps,
        "repeats": repeats,
        "variants": case.described,
        "configuration": case.configuration,
        "time_to_target": time_to_target,
        "steps_to_target": steps_to_target,
        "time_speedup_vs_tlm": {name: {t: s["value"] for t, s in per.items()} for name, per in speedups.items()},
        "speedup_detail": speedups,
        "runs": runs,
    }


def _median_or_none(values: list[float | None]) -> float | None:
    """The median when every repeat has a value, else None (a target missed in some repeat is missed)."""
    present = [float(v) for v in values if v is not None]
    return median(present) if values and len(present) == len(values) else None


# -- sinc --------------------------------------------------------------------------------------------------
def _tlm_sinc(tlm: Any, net: nn.Module, x: Tensor, y: Tensor) -> Stepper:
    module = tlm.training.LevenbergMarquardtModule(
        model=net, loss_fn=tlm.loss.MSELoss(), learning_rate=1.0, attempts_per_step=10, solve_method="cholesky"
    )
    return (lambda: bool(module.training_step(x, y)[2])), (lambda: fixtures.sinc_mse(net, x, y))


def _pinnlma_sinc(net: nn.Module, x: Tensor, y: Tensor, **lm_kwargs: Any) -> Stepper:
    lm = LevenbergMarquardt(net, fixtures.sinc_residual, rowwise=True, **lm_kwargs)

    def step() -> bool:
        lm.step(x, y)
        return lm.stop_reason.value != "running"

    return step, lambda: fixtures.sinc_mse(net, x, y)


def _sinc_variant(
    template: nn.Module, state: dict[str, Tensor], x: Tensor, y: Tensor, kwargs: dict[str, Any]
) -> Stepper:
    """A fresh pinnlma run from the initial weights (a Damping in ``kwargs`` is copied by LevenbergMarquardt)."""
    return _pinnlma_sinc(_fresh(template, state), x, y, **kwargs)


def _fresh(template: nn.Module, state: dict[str, Tensor]) -> nn.Module:
    net = copy.deepcopy(template)
    net.load_state_dict(state)
    return net


SEARCH_FACTORS = (0.1, 1.0, 10.0)
FROZEN_STEPS = 5
GRAM_FRACTION = 0.2
SINC_OPTIONS: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "pinnlma": ("LevenbergMarquardt(net, residual, rowwise=True): pinnlma's defaults (Nielsen damping)", lambda m: {}),
    "pinnlma-levenberg": (
        "the same with tlm's damping rule: Levenberg(lam0=1e-3*m, up=10, down=10)",
        lambda m: {"damping": Levenberg(lam0=1e-3 * m, up=10.0, down=10.0)},
    ),
    "pinnlma-tau0.1": (
        "the same with Nielsen(tau=0.1): λ₀ = 0.1·max diag JᵀJ instead of 1e-3, the start that took the "
        "fewest steps to 1e-5 and 1e-6 in docs/performance.md's study",
        lambda m: {"damping": Nielsen(tau=0.1)},
    ),
    "pinnlma-search-frozen": (
        f"the defaults with LMOptions(lambda_search={SEARCH_FACTORS}, frozen_steps={FROZEN_STEPS}): each trial "
        "tries λ·(0.1, 1, 10) on one system and keeps the lowest cost, and an accepted step is followed by up to "
        f"{FROZEN_STEPS} steps on the same Jacobian and factor (docs/performance.md: the fewest steps to 1e-5 "
        "and 1e-6 over four initial weights)",
        lambda m: {"options": LMOptions(max_iter=10**9, lambda_search=SEARCH_FACTORS, frozen_steps=FROZEN_STEPS)},
    ),
    "pinnlma-gram0.2": (
        f"the defaults with LMOptions(gram_rows={GRAM_FRACTION}): JᵀJ from a fresh sample of a fifth of the rows "
        "each iteration, Jᵀr from all of them (pinnlma.lm.sampled_gram; docs/performance.md's study of the sample size)",
        lambda m: {"options": LMOptions(max_iter=10**9, gram_rows=GRAM_FRACTION)},
    ),
}
"""The pinnlma variants of the sinc case: name → (what it is, LevenbergMarquardt keywords for m points)."""


def sinc_case(tlm: Any, *, tiny: bool, anchor_steps: int, options: dict[str, Any] | None = None, seed: int = 0) -> Case:
    """The sinc fit from the initial weights of ``seed`` (the bench's: 0); the first target is tlm's MSE after
    ``anchor_steps`` steps (one untimed run). ``options`` adds pinnlma variants in :data:`SINC_OPTIONS`' form."""
    m, widths = (
        (fixtures.SINC_TINY_POINTS, fixtures.SINC_TINY_WIDTHS) if tiny else (fixtures.SINC_POINTS, fixtures.SINC_WIDTHS)
    )
    x, y = fixtures.sinc_data(m)
    template = fixtures.sinc_network(widths, seed=seed)
    state = copy.deepcopy(template.state_dict())
    anchor_net = _fresh(template, state)
    step, loss = _tlm_sinc(tlm, anchor_net, x, y)
    for _ in range(anchor_steps):
        if step():
            break
    anchor = loss()
    variants: dict[str, Callable[[], Stepper]] = {TLM: lambda: _tlm_sinc(tlm, _fresh(template, state), x, y)}
    described = {
        TLM: "training.LevenbergMarquardtModule(loss_fn=loss.MSELoss(), learning_rate=1.0, attempts_per_step=10, "
        "solve_method='cholesky'): tlm's defaults with its fastest solver"
    }
    for name, (what, kwargs) in {**SINC_OPTIONS, **(options or {})}.items():
        variants[name] = functools.partial(_sinc_variant, template, state, x, y, kwargs(m))
        described[name] = what
    return Case(
        name="sinc",
        loss="MSE = mean (u(x) - y)^2",
        targets={f"tlm_{anchor_steps}_steps": anchor, "1e-05": 1e-5, "1e-06": 1e-6},
        variants=variants,
        described=described,
        configuration={
            "problem": "y = sinc(10x) on x = linspace(-1, 1, m)",
            "m": m,
            "n": fixtures.n_params(template),
            "architecture": fixtures.architecture(widths),
            "dtype": "float64",
            "batch": "full",
            "seed": seed,
            "anchor": f"tlm's MSE after its first {anchor_steps} steps from the same weights: {anchor:.6g}",
        },
        max_steps=40 if tiny else 10**6,
    )


# -- digits ------------------------------------------------------------------------------------------------
DIGITS_BATCH, DIGITS_TINY_BATCH = 256, 64
DIGITS_ANCHORS = (6, 30)  # tlm's steps behind the two loss targets (1 and 5 epochs of 1347 images)
DIGITS_TINY_ANCHORS = (2, 4)  # tiny: 128 training images, batches of 64


def _batches(loader: BatchLoader) -> Iterator[tuple[Tensor, ...]]:
    epoch = 0
    while True:
        yield from loader.batches(epoch)
        epoch += 1


def _digits_stepper(
    step: Callable[[Tensor, Tensor], bool], net: nn.Module, data: dict[str, Tensor], batch: int
) -> Stepper:
    """One optimizer step per batch, in one fixed order (drawing a batch, an index of its rows, is inside
    the step for everyone)."""
    batches = _batches(BatchLoader(data["x_train"], data["y_train"], batch_size=batch, seed=1000))

    def one() -> bool:
        return step(*next(batches))

    def loss() -> float:
        with torch.no_grad():
            return float(F.cross_entropy(net(data["x_train"]), data["y_train"]))

    return one, loss


def _tlm_digits(tlm: Any, net: nn.Module, data: dict[str, Tensor], batch: int) -> Stepper:
    module = tlm.training.LevenbergMarquardtModule(net, loss_fn=tlm.loss.CrossEntropyLoss(), solve_method="cholesky")
    return _digits_stepper(lambda xb, yb: bool(module.training_step(xb, yb)[2]), net, data, batch)


def _pinnlma_digits(net: nn.Module, data: dict[str, Tensor], batch: int, damping: str | Damping | None) -> Stepper:
    lm = LevenbergMarquardt(net, loss=losses.CrossEntropy(), damping=damping, options=LMOptions(max_iter=10**9))

    def step(xb: Tensor, yb: Tensor) -> bool:
        lm.step(xb, yb)
        return False  # mini-batches: a tolerance met on one batch says nothing about the next

    return _digits_stepper(step, net, data, batch)


def digits_case(tlm: Any, *, tiny: bool) -> Case:
    """The digits CNN; the targets are tlm's training loss after its first 6 and 30 steps (tiny: 2, 4)."""
    data = load_data(0, 128 if tiny else None)
    template = make_cnn(0)
    state = copy.deepcopy(template.state_dict())
    anchors, batch = (DIGITS_TINY_ANCHORS, DIGITS_TINY_BATCH) if tiny else (DIGITS_ANCHORS, DIGITS_BATCH)
    step, loss = _tlm_digits(tlm, _fresh(template, state), data, batch)
    targets, done, value = {}, 0, math.nan
    for k in anchors:  # one untimed tlm run: its loss after k steps
        while done < k:
            step()
            value = loss()
            done += 1
        targets[f"tlm_{k}_steps"] = value
    lam0 = 2e-3 * batch  # tlm's 1e-3 on JᵀJ/batch of √ℓ; pinnlma's rows are √(2ℓ): JᵀJ twice as large
    variants: dict[str, Callable[[], Stepper]] = {
        TLM: lambda: _tlm_digits(tlm, _fresh(template, state), data, batch),
        "pinnlma": lambda: _pinnlma_digits(_fresh(template, state), data, batch, DEFAULT_DAMPING),
        "pinnlma-nielsen": lambda: _pinnlma_digits(_fresh(template, state), data, batch, None),
        "pinnlma-tlm-rule": lambda: _pinnlma_digits(
            _fresh(template, state), data, batch, Levenberg(lam0=lam0, up=10.0, down=10.0)
        ),
    }
    described = {
        TLM: "training.LevenbergMarquardtModule(net, loss_fn=loss.CrossEntropyLoss(), solve_method='cholesky'): "
        "tlm's defaults with its fastest solver (residual √ℓ per image)",
        "pinnlma": f"LevenbergMarquardt(net, loss=losses.CrossEntropy(), damping={DEFAULT_DAMPING!r}): what "
        "pinnlma.fit steps with (residual √(2ℓ) per image)",
        "pinnlma-nielsen": "LevenbergMarquardt(net, loss=losses.CrossEntropy()): LevenbergMarquardt's default "
        "(Nielsen) damping",
        "pinnlma-tlm-rule": f"tlm's damping rule: Levenberg(lam0={lam0:g}, up=10, down=10)",
    }
    return Case(
        name="digits",
        loss="mean cross entropy on the training images",
        targets=targets,
        variants=variants,
        described=described,
        configuration={
            "problem": "scikit-learn 8x8 digits (pinnlma reproduce digits), 10 classes",
            "train_images": len(data["x_train"]),
            "n": fixtures.n_params(template),
            "dtype": "float64",
            "batch": f"{batch}, one fixed shuffled order (BatchLoader seed 1000), reshuffled every epoch",
            "seed": 0,
            "anchor": f"tlm's training loss after its first {', '.join(map(str, anchors))} steps from the same "
            "weights and batches",
        },
        max_steps=5 if tiny else 10**6,
    )
