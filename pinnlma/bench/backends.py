"""``backends``: one LM iteration on the torch and the cupynumeric (Legate) backends, side by side.

The same Burgers PINN (2 → 32×4 → 1 tanh, n = 3297 parameters, m = 10000 residual rows, float64) is built
twice from the same seed, once per backend; both cores take one warm-up iteration, then each repeat
restores the saved state and runs one full ``LMCore.step()`` on each backend, alternating the order.
The pieces are timed as in ``lm-step`` (Jacobian slices, system build, solve, trial residuals), so the
JSON says where the Legate overhead goes. Both steps start from the same parameters, so their updates
must agree (the relative difference is recorded as a check).

Key read by other tools: ``ratio`` = cupynumeric step time / torch step time (target ≤ 1.5 on CPU).
Legate runs with the processors pinnlma chooses (``--cpus 1`` on a CPU-only machine unless
``LEGATE_CONFIG`` or ``PINNLMA_LEGATE_CPUS`` says otherwise), torch with its default threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..backends import BackendUnavailable, get_backend
from ..lm import LMCore, LMOptions
from ..machine import load_average
from . import fixtures, output, timing
from .output import BenchUnavailable
from .probe import StepProbe, restore, snapshot
from .timing import fmt_s, median

CASE = "backends"
TARGET = 1.5
BACKENDS = ("torch", "cupynumeric")


def _size(quick: bool, tiny: bool) -> tuple[int, int, int, int]:
    """(rows, width, depth, boundary points per condition)."""
    if tiny:
        return 600, 8, 2, 50
    return fixtures.BURGERS_ROWS, fixtures.BURGERS_WIDTH, fixtures.BURGERS_DEPTH, fixtures.BURGERS_BOUNDARY


def _core(backend: Any, rows: int, width: int, depth: int, boundary: int) -> tuple[Any, Any]:
    asm = fixtures.burgers_assembler(rows, width, depth, boundary=boundary)
    core = LMCore(asm, asm.initial_parameters(), backend=backend, options=LMOptions.unlimited())
    core.step()  # warm-up: first Jacobian, first λ, Legate's first tasks
    return core, asm


def _legate_backend() -> Any:
    try:
        return get_backend("cupynumeric")
    except BackendUnavailable as err:
        raise BenchUnavailable(f"the backends case needs cupynumeric: {err}") from None


def run(out: Path, *, quick: bool = False, tiny: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the case; ``{"summary", "path", "payload"}`` (see :mod:`pinnlma.bench`)."""
    started = time.perf_counter()
    load = load_average()
    repeats = 3 if (tiny or quick) else 5
    rows, width, depth, boundary = _size(quick, tiny)
    legate = _legate_backend()
    backends = {"torch": "torch", "cupynumeric": legate}
    echo(
        f"{CASE}: Burgers PINN m={rows}, 2→{width}×{depth}→1; {repeats} alternating repeats of one LM step "
        f"per backend; torch threads {torch.get_num_threads()}; legate: {legate.describe()}"
    )
    cores = {name: _core(backend, rows, width, depth, boundary) for name, backend in backends.items()}
    probes = {name: StepProbe(core) for name, (core, _) in cores.items()}
    state = snapshot(cores["torch"][0])
    for core, _ in cores.values():
        restore(core, state)

    def step(name: str) -> Callable[[], dict[str, Any]]:
        def go() -> dict[str, Any]:
            core = cores[name][0]
            restore(core, state)
            result = probes[name].step()
            result["x"] = core.state.x.clone()
            return result

        return go

    samples = timing.alternate({name: step(name) for name in BACKENDS}, repeats)
    x_torch, x_legate = samples["torch"][-1]["x"], samples["cupynumeric"][-1]["x"]
    x0 = state["x"]
    update_diff = float((x_legate - x_torch).norm() / max(float((x_torch - x0).norm()), 1e-300))
    per_backend: dict[str, Any] = {}
    for name in BACKENDS:
        runs = samples[name]
        per_backend[name] = {
            "step_s": median([r["step"] for r in runs]),
            "parts_s": {k: median([r["parts"][k] for r in runs]) for k in runs[0]["parts"]},
            "trials": [r["trials"] for r in runs],
            "samples_step_s": [r["step"] for r in runs],
        }
    core = cores["torch"][0]
    ratio = per_backend["cupynumeric"]["step_s"] / per_backend["torch"]["step_s"]
    parts_t, parts_l = per_backend["torch"]["parts_s"], per_backend["cupynumeric"]["parts_s"]
    where = {k: parts_l[k] - parts_t[k] for k in parts_t}
    for name in BACKENDS:
        p = per_backend[name]
        echo(f"  {name}: step {fmt_s(p['step_s'])}; " + ", ".join(f"{k} {fmt_s(v)}" for k, v in p["parts_s"].items()))
    summary = (
        f"{CASE}: cupynumeric/torch per-iteration time {ratio:.2f}x (target <= {TARGET}: "
        f"{'met' if ratio <= TARGET else 'missed'}), m={core.m}, n={core.n}, update rel. diff {update_diff:.1e}"
    )
    payload = {
        "quick": quick,
        "tiny": tiny,
        "configuration": {
            "problem": "burgers",
            "m": core.m,
            "n": core.n,
            "width": width,
            "depth": depth,
            "dtype": "float64",
            "repeats": repeats,
            "torch_threads": torch.get_num_threads(),
            "legate": legate.describe(),
            "timing": "median of alternating repeats, same process, each step from the same restored state",
        },
        "backends": per_backend,
        "name": f"burgers-pinn{core.n}-m{core.m}",
        "ratio": ratio,
        "target_ratio": TARGET,
        "meets_target": bool(ratio <= TARGET),
        "extra_time_by_part_s": where,
        "update_relative_difference": update_diff,
        "wall_s": time.perf_counter() - started,
        "summary": summary,
    }
    path = output.write_json(out, CASE, payload, started_load=load)
    return {"summary": summary, "path": path, "payload": payload}
