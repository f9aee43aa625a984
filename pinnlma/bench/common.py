"""Shared pieces of the benchmark cases: machine and version records, JSON output, timing helpers,
peak-memory probes, the sinc and Burgers configurations, and the optional torch-levenberg-marquardt import.

Timing rules (see docs/performance.md): every ratio is measured side by side in one process, the
things compared are run alternately (the order flips every repeat) and the median of the repeats is
reported; raw samples go to the JSON too. Threads are left at torch's default for the machine.
"""
from __future__ import annotations

import copy
import datetime as _dt
import gc
import importlib
import importlib.metadata as metadata
import importlib.util
import json
import math
import os
import platform
import re
import statistics
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

DEFAULT_OUT = Path("results/benchmarks")

# -- the sinc configuration (1a and peer-tlm) -------------------------------------------------------------------
SINC_POINTS = 5000
SINC_WIDTHS = (20, 20, 14)  # 1→20→20→14→1 tanh: 40 + 420 + 294 + 15 = 769 parameters
SINC_TINY_POINTS = 400
SINC_TINY_WIDTHS = (8, 8)  # 1→8→8→1: 16 + 72 + 9 = 97 parameters

# -- the Burgers PINN configuration (1b) -----------------------------------------------------------------------
BURGERS_WIDTH, BURGERS_DEPTH = 32, 4  # 2→32→32→32→32→1 tanh: 3297 parameters
BURGERS_BOUNDARY = 400  # points per condition (boundary, initial): 800 rows
BURGERS_ROWS = 10000  # m = interior + 800


class BenchUnavailable(RuntimeError):
    """A case cannot run on this installation (an optional dependency is missing)."""


# -- records ------------------------------------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _blas() -> str:
    config = torch.__config__.show()
    found = re.findall(r"(BLAS_INFO|LAPACK_INFO)=(\w+)", config)
    return ", ".join(f"{k.split('_')[0].lower()}={v}" for k, v in found) or "unknown"


def machine_info() -> dict[str, Any]:
    """The machine a measurement ran on (load average included: a busy machine inflates small kernels)."""
    return {
        "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "memory_bytes": _memory_total(), "platform": platform.platform(), "load_average": _load(),
        "cuda": torch.cuda.is_available(), "blas": _blas(),
    }


def versions() -> dict[str, Any]:
    from .. import __version__

    return {
        "pinnlma": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": np.__version__, "torch-levenberg-marquardt": _version("torch-levenberg-marquardt"),
    }


def _clean(obj: Any) -> Any:
    """JSON-safe: non-finite floats → None, numpy/torch scalars → Python, tuples → lists."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return _clean(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(out: Path, case: str, payload: dict[str, Any], started_load: list[float] | None = None) -> Path:
    """``<out>/<case>.json`` with the machine, the versions, the time, then the case's payload."""
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    if started_load is not None:
        machine["load_average_at_start"] = started_load
    record = {
        "case": case,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "versions": versions(),
        **payload,
    }
    path = out / f"{case}.json"
    path.write_text(json.dumps(_clean(record), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


# -- timing -------------------------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call, after a garbage collection outside the timed region."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def alternate(measures: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[Any]]:
    """Run each measure ``repeats`` times, interleaved, the order reversed every other repeat
    (A B, B A, A B, ...) so a drifting machine load hits all of them alike. Returns name → results."""
    names = list(measures)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for k in range(repeats):
        for name in (names if k % 2 == 0 else names[::-1]):
            out[name].append(measures[name]())
    return out


def fit_exponent(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Slope of log y against log x (least squares): y ∝ x^slope."""
    pairs = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0 and math.isfinite(y)]
    if len(pairs) < 2:
        return math.nan
    lx = np.log([p[0] for p in pairs])
    ly = np.log([p[1] for p in pairs])
    return float(np.polyfit(lx, ly, 1)[0])


# -- peak memory (Linux) --------------------------------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_bytes() -> int | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024


def peak_rss_bytes() -> int | None:
    kb = _status_kb("VmHWM")
    return None if kb is None else kb * 1024


def reset_peak_rss() -> bool:
    """Reset the resident-set high-water mark to the current RSS (Linux ≥ 4.0); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# -- a real symmetric rank-k update (torch has none) --------------------------------------------------------------
def _openblas_threads(threads: int) -> int | None:
    """Set the thread count of the OpenBLAS that scipy loaded (to match torch's); the count, or None."""
    import ctypes

    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and line.strip().endswith(".so")}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in (("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
                               ("openblas_set_num_threads", "openblas_get_num_threads")):
            if hasattr(lib, setter) and hasattr(lib, getter):
                getattr(lib, setter)(int(threads))
                return int(getattr(lib, getter)())
    return None


class Syrk:
    """C ← JᵀJ (lower triangle) by BLAS dsyrk through scipy, on a Fortran view of torch's row-major J (no
    copy): m·n² flops, half the JᵀJ matrix product. The reference for what a syrk-based accumulation costs."""

    def __init__(self, jac: torch.Tensor) -> None:
        from scipy.linalg import blas

        self._dsyrk = blas.dsyrk
        self._a = jac.detach().cpu().numpy().T  # n×m, Fortran order, shares memory with jac
        n = self._a.shape[0]
        self._c = np.zeros((n, n), order="F")
        self.threads = _openblas_threads(torch.get_num_threads())

    def __call__(self) -> None:
        self._c[...] = 0.0
        self._dsyrk(1.0, self._a, beta=0.0, c=self._c, trans=0, lower=1, overwrite_c=1)


# -- the sinc data fit ------------------------------------------------------------------------------------------
def sinc_data(m: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """x = m points evenly on [−1, 1] (as a column), y = sinc(10x) = sin(10πx)/(10πx)."""
    x = torch.linspace(-1, 1, m, dtype=dtype).unsqueeze(1)
    return x, torch.sinc(10 * x)


def sinc_network(widths: Sequence[int] = SINC_WIDTHS, seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """1 → widths → 1 with tanh, torch's default initialisation under ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    sizes = [1, *widths, 1]
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=dtype))
        if k < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def architecture(widths: Sequence[int], inputs: int = 1) -> str:
    return "→".join(str(s) for s in (inputs, *widths, 1)) + " tanh"


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def sinc_residual(model: nn.Module, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (model(a) - b).reshape(-1)


def sinc_mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(((model(x) - y) ** 2).mean())


def sinc_assembler(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, memory_budget: int | None = None) -> Any:
    """The same fit through pinnlma's PINN layer: a pure-data Problem (one PointData block) and a pinnlma
    MLP holding ``net``'s weights, so the ResidualAssembler's exact channel Jacobian applies. The rows
    are (u − y)/√m: the loss ‖r‖² is the MSE, the minimiser and the LM steps are those of u − y."""
    from ..jacobian import DEFAULT_MEMORY_BUDGET
    from ..pinn import Interval, PointData, Problem
    from ..pinn.assembler import ResidualAssembler
    from ..pinn.models import MLP

    linears = [layer for layer in net if isinstance(layer, nn.Linear)]
    widths = [layer.out_features for layer in linears[:-1]]
    mlp = MLP(1, 1, widths=widths, dtype=x.dtype)  # input_range [−1, 1]: the input map is the identity
    with torch.no_grad():
        for mine, theirs in zip(mlp.linears, linears):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    problem = Problem(name="sinc", domain=Interval(-1.0, 1.0, name="x"), pde=None,
                      conditions=[PointData(x.numpy(), y.numpy().reshape(-1), name="data")])
    return ResidualAssembler(problem, mlp, dtype=x.dtype,
                             memory_budget=memory_budget or DEFAULT_MEMORY_BUDGET)


# -- Burgers -----------------------------------------------------------------------------------------------------
def burgers_problem(rows: int, width: int, depth: int, boundary: int = BURGERS_BOUNDARY) -> Any:
    """pinnlma's bundled Burgers problem with ``rows`` residual rows in all (interior = rows − 2·boundary)."""
    from ..registry import apply_options, load_problem

    interior = rows - 2 * boundary
    if interior < 1:
        raise ValueError(f"{rows} rows leave no interior points with {boundary} points per condition")
    return apply_options(load_problem("burgers"), points=interior, boundary_points=boundary, width=width, depth=depth)


def burgers_assembler(rows: int, width: int, depth: int, *, boundary: int = BURGERS_BOUNDARY, seed: int = 0,
                      memory_budget: int | None = None, dtype: torch.dtype = torch.float64) -> Any:
    from ..jacobian import DEFAULT_MEMORY_BUDGET
    from ..pinn.assembler import ResidualAssembler
    from ..pinn.geometry import Sampler
    from ..train import build_model

    problem = burgers_problem(rows, width, depth, boundary)
    torch.manual_seed(seed)
    model = build_model(problem, dtype)
    return ResidualAssembler(problem, model, sampler=Sampler(problem.sampling, seed=seed), dtype=dtype,
                             memory_budget=memory_budget or DEFAULT_MEMORY_BUDGET)


def burgers_params(width: int, depth: int) -> int:
    """Parameters of a 2 → width × depth → 1 MLP."""
    return 3 * width + (depth - 1) * (width * width + width) + width + 1


def no_stop_options() -> Any:
    """LM options under which only the caller stops the iteration (as ``pinnlma run`` does)."""
    from ..lm.core import LMOptions

    return LMOptions(max_iter=10**12, ftol=0.0, xtol=0.0, gtol=0.0)


def snapshot(core: Any) -> dict[str, Any]:
    return copy.deepcopy(core.state_dict())


def restore(core: Any, state: dict[str, Any]) -> None:
    from ..lm.core import StopReason

    core.load_state_dict(copy.deepcopy(state))
    core.state.status = StopReason.RUNNING


# -- torch-levenberg-marquardt (optional) -------------------------------------------------------------------------
TLM_DIST = "torch-levenberg-marquardt"
TLM_MODULE = "torch_levenberg_marquardt"
TLM_MISSING = (
    "peer-tlm needs torch-levenberg-marquardt, which is not installed; install it with "
    "`pip install --no-deps torch-levenberg-marquardt` (or `pip install 'pinnlma[bench]'`) and run again"
)


def load_tlm() -> types.SimpleNamespace:
    """The parts of torch-levenberg-marquardt the peer run uses: ``training`` and ``loss``.

    The package's ``__init__`` also imports its Lightning/tqdm helpers (``utils``), which the peer run does
    not need; when those are absent (installed with --no-deps) the two modules are loaded under a bare
    package entry instead. Raises :class:`BenchUnavailable` when the package is not installed."""
    spec = importlib.util.find_spec(TLM_MODULE)
    if spec is None or spec.submodule_search_locations is None:
        raise BenchUnavailable(TLM_MISSING)
    try:
        package = importlib.import_module(TLM_MODULE)
        training, loss = package.training, package.loss
    except ImportError:
        for name in [k for k in sys.modules if k == TLM_MODULE or k.startswith(TLM_MODULE + ".")]:
            del sys.modules[name]
        bare = types.ModuleType(TLM_MODULE)
        bare.__path__ = list(spec.submodule_search_locations)
        bare.__package__ = TLM_MODULE
        sys.modules[TLM_MODULE] = bare
        try:
            training = importlib.import_module(TLM_MODULE + ".training")
            loss = importlib.import_module(TLM_MODULE + ".loss")
        except ImportError as err:
            raise BenchUnavailable(f"torch-levenberg-marquardt is installed but does not import: {err}") from None
    return types.SimpleNamespace(training=training, loss=loss, version=_version(TLM_DIST))


def fmt_s(seconds: float) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
