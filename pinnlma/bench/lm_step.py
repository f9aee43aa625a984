"""``lm-step``: one LM iteration taken apart, against the measured floor of the same shape.

For each configuration the core is warmed up, then a state is found from which the next iteration
accepts its first trial; every repeat restores that state and runs one full ``LMCore.step()`` timed by
its ``on_phase`` hook (:class:`~pinnlma.bench.probe.StepProbe`: wall clocks around each Jacobian slice,
the system build, each solve and each trial residual; nothing else changes), alternating with the floor
(:class:`~pinnlma.bench.floor.Floor`):

- floor = ``A.addmm_(Jᵀ, J)`` for a random m×n J (the JᵀJ product of the same shape; torch exposes no
  syrk) + ``torch.linalg.cholesky`` of an n×n SPD matrix;
- parts = Jacobian (time inside the slice generator), normal equations (the rest of the system build:
  JᵀJ and Jᵀr accumulation), solve (Cholesky of the damped system and the triangular solves), trial
  residuals, overhead (all the rest: diagonal, scaling, gradient norm, bookkeeping).

Reported: medians over the repeats and ``ratio_to_floor`` = step / floor per configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..lm import LevenbergMarquardt, LMCore, LMOptions
from ..machine import load_average
from . import fixtures, output, timing
from .floor import Floor
from .probe import StepProbe, restore, snapshot
from .timing import fmt_s, median

CASE = "lm-step"
TARGETS = {"sinc": 1.3, "burgers": 1.5}


@dataclass
class Config:
    """One measured configuration: its name, which target applies, and how to build its warmed-up core."""

    name: str
    kind: str  # "sinc" or "burgers": which target applies
    description: str
    build: Callable[[], tuple[Any, dict[str, Any]]]  # → (LMCore, details)


def _sinc_module_config(m: int, widths: tuple[int, ...]) -> Config:
    def build() -> tuple[Any, dict[str, Any]]:
        x, y = fixtures.sinc_data(m)
        net = fixtures.sinc_network(widths, seed=0)
        lm = LevenbergMarquardt(net, fixtures.sinc_residual, rowwise=True)
        lm.step(x, y)  # builds the core; the first (warm-up) iteration
        return lm.core, {
            "path": "LevenbergMarquardt(nn.Sequential), rowwise vmap(jacrev) Jacobian",
            "jacobian": lm.engine.plan.strategy if lm.engine.plan else "",
            "_keep": (lm, x, y),
        }

    n = fixtures.n_params(fixtures.sinc_network(widths))
    return Config(
        f"sinc-mlp{n}-m{m}",
        "sinc",
        f"sinc(10x) fit, {fixtures.architecture(widths)} ({n} parameters), {m} points, float64, "
        "through LevenbergMarquardt on an nn.Module",
        build,
    )


def _sinc_channels_config(m: int, widths: tuple[int, ...]) -> Config:
    def build() -> tuple[Any, dict[str, Any]]:
        x, y = fixtures.sinc_data(m)
        net = fixtures.sinc_network(widths, seed=0)
        asm = fixtures.sinc_assembler(net, x, y)
        core = LMCore(asm, asm.initial_parameters(), options=LMOptions.unlimited())
        core.step()
        return core, {
            "path": "ResidualAssembler (PointData problem, pinnlma MLP), exact channel Jacobian",
            "jacobian": asm.jacobian,
            "_keep": (asm,),
        }

    n = fixtures.n_params(fixtures.sinc_network(widths))
    return Config(
        f"sinc-mlp{n}-m{m}-channels",
        "sinc",
        "the same sinc fit through the PINN layer (pure-data problem, channel Jacobian)",
        build,
    )


def _burgers_config(rows: int, width: int, depth: int, boundary: int) -> Config:
    def build() -> tuple[Any, dict[str, Any]]:
        asm = fixtures.burgers_assembler(rows, width, depth, boundary=boundary)
        core = LMCore(asm, asm.initial_parameters(), options=LMOptions.unlimited())
        core.step()
        return core, {
            "path": "ResidualAssembler (burgers), exact channel Jacobian with u, u_x, u_t, u_xx",
            "jacobian": asm.jacobian,
            "blocks": {b.name: b.n_rows for b in asm.blocks},
            "_keep": (asm,),
        }

    n = fixtures.burgers_params(width, depth)
    return Config(
        f"burgers-pinn{n}-m{rows}",
        "burgers",
        f"Burgers PINN, 2→{width}×{depth}→1 tanh ({n} parameters), {rows} residual rows "
        f"({rows - 2 * boundary} interior + 2×{boundary}), float64",
        build,
    )


def configurations(tiny: bool) -> list[Config]:
    """The configurations of the case (test-sized ones with ``tiny``)."""
    if tiny:
        return [
            _sinc_module_config(fixtures.SINC_TINY_POINTS, fixtures.SINC_TINY_WIDTHS),
            _sinc_channels_config(fixtures.SINC_TINY_POINTS, fixtures.SINC_TINY_WIDTHS),
            _burgers_config(600, 8, 2, 50),
        ]
    return [
        _sinc_module_config(fixtures.SINC_POINTS, fixtures.SINC_WIDTHS),
        _sinc_channels_config(fixtures.SINC_POINTS, fixtures.SINC_WIDTHS),
        _burgers_config(
            fixtures.BURGERS_ROWS, fixtures.BURGERS_WIDTH, fixtures.BURGERS_DEPTH, fixtures.BURGERS_BOUNDARY
        ),
    ]


def _find_one_trial_state(core: Any, probe: StepProbe, attempts: int = 12) -> tuple[dict[str, Any], int]:
    """A state whose next iteration accepts its first trial (the iteration the brief asks to time)."""
    state = snapshot(core)
    for _ in range(attempts):
        result = probe.step()
        if result["trials"] == 1:
            return state, 1
        state = snapshot(core)
    restore(core, state)
    return state, probe.step()["trials"]


def measure(config: Config, repeats: int, warmup: int, echo: Callable[[str], None]) -> dict[str, Any]:
    """Time one configuration: alternating repeats of one restored step and the floor; the JSON entry."""
    started = time.perf_counter()
    core, details = config.build()
    keep = details.pop("_keep")  # noqa: F841 - the model/data must outlive the core's use
    for _ in range(max(0, warmup - 1)):
        core.step()
    probe = StepProbe(core)
    state, trials = _find_one_trial_state(core, probe)
    m, n = core.m, core.n
    floor = Floor(m, n, core.state.x.dtype)

    def step() -> dict[str, Any]:
        restore(core, state)
        return probe.step()

    samples = timing.alternate({"step": step, "floor": floor.measure}, repeats)
    steps, floors = samples["step"], samples["floor"]
    step_s = median([s["step"] for s in steps])
    floor_s = median([f["floor"] for f in floors])
    parts = {k: median([s["parts"][k] for s in steps]) for k in steps[0]["parts"]}
    floor_parts = {k: median([f[k] for f in floors]) for k in ("gemm", "cholesky")}
    syrk_s = median([f["syrk"] for f in floors if "syrk" in f])
    syrk_floor_s = syrk_s + median([f["cholesky"] for f in floors])
    target = TARGETS[config.kind]
    ratio = step_s / floor_s
    result = {
        "name": config.name,
        "description": config.description,
        "kind": config.kind,
        "m": m,
        "n": n,
        "dtype": str(core.state.x.dtype).replace("torch.", ""),
        **details,
        "slice_rows": steps[0]["slice_rows"],
        "n_slices": steps[0]["n_slices"],
        "trials": [s["trials"] for s in steps],
        "step_s": step_s,
        "floor_s": floor_s,
        "ratio_to_floor": ratio,
        "parts_s": parts,
        "parts_fraction_of_step": {k: v / step_s for k, v in parts.items()},
        "floor_parts_s": floor_parts,
        "syrk_s": syrk_s,
        "syrk_openblas_threads": floor.syrk.threads if floor.syrk is not None else None,
        "syrk_floor_s": syrk_floor_s,
        "ratio_to_syrk_floor": step_s / syrk_floor_s,
        "jacobian_over_gemm": parts["jacobian"] / floor_parts["gemm"],
        "normal_equations_over_gemm": parts["normal_equations"] / floor_parts["gemm"],
        "flops": {"gemm": 2.0 * m * n * n, "syrk": 1.0 * m * n * n, "cholesky": n**3 / 3.0},
        "gemm_gflops_per_s": 2.0 * m * n * n / floor_parts["gemm"] / 1e9,
        "target_ratio": target,
        "meets_target": bool(ratio <= target),
        "samples": {
            "step_s": [s["step"] for s in steps],
            "floor_s": [f["floor"] for f in floors],
            "parts_s": [s["parts"] for s in steps],
            "floor_parts_s": floors,
        },
        "wall_s": time.perf_counter() - started,
    }
    if config.kind == "burgers":
        result["jacobian_target"] = "jacobian <= gemm of the same shape"
        result["jacobian_meets_target"] = bool(result["jacobian_over_gemm"] <= 1.0)
    echo(
        f"  {config.name}: step {fmt_s(step_s)} ({trials} trial), floor {fmt_s(floor_s)} → "
        f"{ratio:.2f}× (target ≤ {target}; {step_s / syrk_floor_s:.2f}× a dsyrk floor); jacobian {fmt_s(parts['jacobian'])}, normal eq. "
        f"{fmt_s(parts['normal_equations'])}, solve {fmt_s(parts['solve'])}, trial residuals "
        f"{fmt_s(parts['trial_residuals'])}, overhead {fmt_s(parts['overhead'])}"
    )
    return result


def run(out: Path, *, quick: bool = False, tiny: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the case; ``{"summary", "path", "payload"}`` (see :mod:`pinnlma.bench`)."""
    repeats = 3 if tiny else (3 if quick else 7)
    warmup = 1 if tiny else (2 if quick else 3)
    load = load_average()
    echo(
        f"{CASE}: {repeats} alternating repeats of step and floor per configuration, torch threads "
        f"{torch.get_num_threads()}"
    )
    results = [measure(config, repeats, warmup, echo) for config in configurations(tiny)]
    parts = "; ".join(
        f"{r['name']} {r['ratio_to_floor']:.2f}x (<= {r['target_ratio']}: {'met' if r['meets_target'] else 'missed'})"
        for r in results
    )
    burgers = [r for r in results if r["kind"] == "burgers"]
    jac = f"; burgers jacobian/gemm {burgers[0]['jacobian_over_gemm']:.2f}" if burgers else ""
    summary = f"{CASE}: step/floor {parts}{jac}"
    payload = {
        "quick": quick,
        "tiny": tiny,
        "settings": {
            "repeats": repeats,
            "warmup_iterations": warmup,
            "threads": torch.get_num_threads(),
            "floor": "A.addmm_(J.T, J) on a random m×n J + torch.linalg.cholesky(n×n)",
            "syrk_floor": "scipy.linalg.blas.dsyrk (scipy's OpenBLAS, threads set to torch's) on the same "
            "J + the same Cholesky: what a symmetric rank-k accumulation would cost",
            "timing": "median of alternating repeats, same process",
        },
        "configurations": results,
        "summary": summary,
    }
    path = output.write_json(out, CASE, payload, started_load=load)
    return {"summary": summary, "path": path, "payload": payload}
