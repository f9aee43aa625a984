"""``lm-step``: one LM iteration taken apart, against the measured floor of the same shape.

For each configuration the core is warmed up, then a state is found from which the next iteration
accepts its first trial; every repeat restores that state and runs one full ``LMCore.step()`` with
light instrumentation (wall clocks around the Jacobian slice generator, the system build, each solve and
each trial residual; nothing else changes), alternating with the floor:

- floor = ``A.addmm_(Jᵀ, J)`` for a random m×n J (the JᵀJ product of the same shape; torch exposes no
  syrk) + ``torch.linalg.cholesky`` of an n×n SPD matrix;
- parts = Jacobian (time inside the slice generator), normal equations (the rest of the system build:
  JᵀJ and Jᵀr accumulation), solve (Cholesky of the damped system and the triangular solves), trial
  residuals, overhead (all the rest: diagonal, scaling, gradient norm, bookkeeping).

Reported: medians over the repeats and ``ratio_to_floor`` = step / floor per configuration.
"""
from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import common
from .common import fmt_s, median

CASE = "lm-step"
TARGETS = {"sinc": 1.3, "burgers": 1.5}


class StepProbe:
    """Wall clocks around the pieces of ``core.step()`` (instance attributes shadow the methods; only the
    objects built for this benchmark are touched)."""

    def __init__(self, core: Any) -> None:
        self.core = core
        model = core.model
        slices = model.slices
        build, trial_step, trial_residual = core._build_system, core._trial_step, core._trial_residual
        self.reset()

        def timed_slices(x: torch.Tensor, m: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            gen = slices(x, m)
            while True:
                start = time.perf_counter()
                try:
                    item = next(gen)
                except StopIteration:
                    self.parts["jacobian"] += time.perf_counter() - start
                    return
                self.parts["jacobian"] += time.perf_counter() - start
                self.n_slices += 1
                self.slice_rows = max(self.slice_rows, item[0].shape[0])
                yield item

        def timed_build() -> Any:
            start = time.perf_counter()
            system = build()
            self.build += time.perf_counter() - start
            return system

        def timed_trial_step(*args: Any) -> Any:
            start = time.perf_counter()
            h = trial_step(*args)
            self.parts["solve"] += time.perf_counter() - start
            return h

        def timed_trial_residual(x: torch.Tensor) -> torch.Tensor:
            start = time.perf_counter()
            r = trial_residual(x)
            self.parts["trial_residuals"] += time.perf_counter() - start
            return r

        model.slices = timed_slices
        core._build_system = timed_build
        core._trial_step = timed_trial_step
        core._trial_residual = timed_trial_residual

    def reset(self) -> None:
        self.parts = {"jacobian": 0.0, "normal_equations": 0.0, "solve": 0.0, "trial_residuals": 0.0, "overhead": 0.0}
        self.build = 0.0
        self.n_slices = 0
        self.slice_rows = 0

    def step(self) -> dict[str, Any]:
        """One full iteration; its total, parts and trial count."""
        self.reset()
        gc.collect()
        start = time.perf_counter()
        self.core.step()
        total = time.perf_counter() - start
        parts = dict(self.parts)
        parts["normal_equations"] = self.build - parts["jacobian"]
        parts["overhead"] = total - self.build - parts["solve"] - parts["trial_residuals"]
        return {"step": total, "parts": parts, "trials": int(self.core.state.history["trials"][-1]),
                "n_slices": self.n_slices, "slice_rows": self.slice_rows}


class Floor:
    """The bare products of one iteration of shape (m, n): JᵀJ by addmm into a preallocated n×n, and the
    Cholesky of an n×n SPD matrix. Inputs are allocated once, outside the timed region."""

    def __init__(self, m: int, n: int, dtype: torch.dtype = torch.float64, seed: int = 1) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.jac = torch.randn(m, n, dtype=dtype, generator=gen) / math.sqrt(m)
        self.out = torch.zeros(n, n, dtype=dtype)
        spd = self.jac.T @ self.jac
        spd.diagonal().add_(1.0)
        self.spd = spd
        try:
            self.syrk: common.Syrk | None = common.Syrk(self.jac) if dtype == torch.float64 else None
        except ImportError:
            self.syrk = None

    def measure(self) -> dict[str, float]:
        gc.collect()
        start = time.perf_counter()
        self.out.zero_()
        self.out.addmm_(self.jac.T, self.jac)
        mid = time.perf_counter()
        torch.linalg.cholesky(self.spd)
        end = time.perf_counter()
        out = {"floor": end - start, "gemm": mid - start, "cholesky": end - mid}
        if self.syrk is not None:
            gc.collect()
            begin = time.perf_counter()
            self.syrk()
            out["syrk"] = time.perf_counter() - begin
        return out


@dataclass
class Config:
    name: str
    kind: str  # "sinc" or "burgers": which target applies
    description: str
    build: Callable[[], tuple[Any, dict[str, Any]]]  # → (LMCore, details)


def _sinc_module_config(m: int, widths: tuple[int, ...]) -> Config:
    def build() -> tuple[Any, dict[str, Any]]:
        from ..lm.module import LevenbergMarquardt

        x, y = common.sinc_data(m)
        net = common.sinc_network(widths, seed=0)
        lm = LevenbergMarquardt(net, common.sinc_residual, rowwise=True)
        lm.step(x, y)  # builds the core; the first (warm-up) iteration
        return lm.core, {"path": "LevenbergMarquardt(nn.Sequential), rowwise vmap(jacrev) Jacobian",
                         "jacobian": lm.engine.plan.strategy, "_keep": (lm, x, y)}

    n = common.n_params(common.sinc_network(widths))
    return Config(f"sinc-mlp{n}-m{m}", "sinc",
                  f"sinc(10x) fit, {common.architecture(widths)} ({n} parameters), {m} points, float64, "
                  "through LevenbergMarquardt on an nn.Module", build)


def _sinc_channels_config(m: int, widths: tuple[int, ...]) -> Config:
    def build() -> tuple[Any, dict[str, Any]]:
        from ..lm.core import LMCore

        x, y = common.sinc_data(m)
        net = common.sinc_network(widths, seed=0)
        asm = common.sinc_assembler(net, x, y)
        core = LMCore(asm, asm.initial_parameters(), options=common.no_stop_options())
        core.step()
        return core, {"path": "ResidualAssembler (PointData problem, pinnlma MLP), exact channel Jacobian",
                      "jacobian": asm.jacobian, "_keep": (asm,)}

    n = common.n_params(common.sinc_network(widths))
    return Config(f"sinc-mlp{n}-m{m}-channels", "sinc",
                  "the same sinc fit through the PINN layer (pure-data problem, channel Jacobian)", build)


def _burgers_config(rows: int, width: int, depth: int, boundary: int) -> Config:
    def build() -> tuple[Any, dict[str, Any]]:
        from ..lm.core import LMCore

        asm = common.burgers_assembler(rows, width, depth, boundary=boundary)
        core = LMCore(asm, asm.initial_parameters(), options=common.no_stop_options())
        core.step()
        return core, {"path": "ResidualAssembler (burgers), exact channel Jacobian with u, u_x, u_t, u_xx",
                      "jacobian": asm.jacobian, "blocks": {b.name: b.n_rows for b in asm.blocks},
                      "_keep": (asm,)}

    n = common.burgers_params(width, depth)
    return Config(f"burgers-pinn{n}-m{rows}", "burgers",
                  f"Burgers PINN, 2→{width}×{depth}→1 tanh ({n} parameters), {rows} residual rows "
                  f"({rows - 2 * boundary} interior + 2×{boundary}), float64", build)


def configurations(tiny: bool) -> list[Config]:
    if tiny:
        return [_sinc_module_config(common.SINC_TINY_POINTS, common.SINC_TINY_WIDTHS),
                _sinc_channels_config(common.SINC_TINY_POINTS, common.SINC_TINY_WIDTHS),
                _burgers_config(600, 8, 2, 50)]
    return [_sinc_module_config(common.SINC_POINTS, common.SINC_WIDTHS),
            _sinc_channels_config(common.SINC_POINTS, common.SINC_WIDTHS),
            _burgers_config(common.BURGERS_ROWS, common.BURGERS_WIDTH, common.BURGERS_DEPTH, common.BURGERS_BOUNDARY)]


def _find_one_trial_state(core: Any, probe: StepProbe, attempts: int = 12) -> tuple[dict[str, Any], int]:
    """A state whose next iteration accepts its first trial (the iteration the brief asks to time)."""
    state = common.snapshot(core)
    for _ in range(attempts):
        result = probe.step()
        if result["trials"] == 1:
            return state, 1
        state = common.snapshot(core)
    common.restore(core, state)
    return state, probe.step()["trials"]


def measure(config: Config, repeats: int, warmup: int, echo: Callable[[str], None]) -> dict[str, Any]:
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
        common.restore(core, state)
        return probe.step()

    samples = common.alternate({"step": step, "floor": floor.measure}, repeats)
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
        "m": m, "n": n, "dtype": str(core.state.x.dtype).replace("torch.", ""),
        **details,
        "slice_rows": steps[0]["slice_rows"], "n_slices": steps[0]["n_slices"],
        "trials": [s["trials"] for s in steps],
        "step_s": step_s, "floor_s": floor_s, "ratio_to_floor": ratio,
        "parts_s": parts,
        "parts_fraction_of_step": {k: v / step_s for k, v in parts.items()},
        "floor_parts_s": floor_parts,
        "syrk_s": syrk_s, "syrk_openblas_threads": floor.syrk.threads if floor.syrk is not None else None,
        "syrk_floor_s": syrk_floor_s, "ratio_to_syrk_floor": step_s / syrk_floor_s,
        "jacobian_over_gemm": parts["jacobian"] / floor_parts["gemm"],
        "normal_equations_over_gemm": parts["normal_equations"] / floor_parts["gemm"],
        "flops": {"gemm": 2.0 * m * n * n, "syrk": 1.0 * m * n * n, "cholesky": n ** 3 / 3.0},
        "gemm_gflops_per_s": 2.0 * m * n * n / floor_parts["gemm"] / 1e9,
        "target_ratio": target, "meets_target": bool(ratio <= target),
        "samples": {"step_s": [s["step"] for s in steps], "floor_s": [f["floor"] for f in floors],
                    "parts_s": [s["parts"] for s in steps], "floor_parts_s": floors},
        "wall_s": time.perf_counter() - started,
    }
    if config.kind == "burgers":
        result["jacobian_target"] = "jacobian <= gemm of the same shape"
        result["jacobian_meets_target"] = bool(result["jacobian_over_gemm"] <= 1.0)
    echo(f"  {config.name}: step {fmt_s(step_s)} ({trials} trial), floor {fmt_s(floor_s)} → "
         f"{ratio:.2f}× (target ≤ {target}; {step_s / syrk_floor_s:.2f}× a dsyrk floor); jacobian {fmt_s(parts['jacobian'])}, normal eq. "
         f"{fmt_s(parts['normal_equations'])}, solve {fmt_s(parts['solve'])}, trial residuals "
         f"{fmt_s(parts['trial_residuals'])}, overhead {fmt_s(parts['overhead'])}")
    return result


def run(out: Path, *, quick: bool = False, tiny: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any]:
    repeats = 3 if tiny else (3 if quick else 7)
    warmup = 1 if tiny else (2 if quick else 3)
    load = common.machine_info()["load_average"]
    echo(f"{CASE}: {repeats} alternating repeats of step and floor per configuration, torch threads "
         f"{torch.get_num_threads()}")
    results = [measure(config, repeats, warmup, echo) for config in configurations(tiny)]
    parts = "; ".join(f"{r['name']} {r['ratio_to_floor']:.2f}x (<= {r['target_ratio']}: "
                      f"{'met' if r['meets_target'] else 'missed'})" for r in results)
    burgers = [r for r in results if r["kind"] == "burgers"]
    jac = f"; burgers jacobian/gemm {burgers[0]['jacobian_over_gemm']:.2f}" if burgers else ""
    summary = f"{CASE}: step/floor {parts}{jac}"
    payload = {
        "quick": quick, "tiny": tiny,
        "settings": {"repeats": repeats, "warmup_iterations": warmup, "threads": torch.get_num_threads(),
                     "floor": "A.addmm_(J.T, J) on a random m×n J + torch.linalg.cholesky(n×n)",
                     "syrk_floor": "scipy.linalg.blas.dsyrk (scipy's OpenBLAS, threads set to torch's) on the same "
                                   "J + the same Cholesky: what a symmetric rank-k accumulation would cost",
                     "timing": "median of alternating repeats, same process"},
        "configurations": results,
        "summary": summary,
    }
    path = common.write_json(out, CASE, payload, started_load=load)
    return {"summary": summary, "path": path, "payload": payload}
