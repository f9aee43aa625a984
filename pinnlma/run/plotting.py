"""Figures of runs: solution, reference, error and history (:func:`plot_run`); optimizer comparisons
(:func:`plot_history`).

Figures are drawn on matplotlib ``Figure`` objects with the Agg canvas directly — pyplot, its global
figure registry and the rc settings are never touched — and written atomically (temporary file, then
``os.replace``). An existing PNG is replaced only with ``overwrite=True``.
"""
from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .io import RunRecord, check_file_target
from .plot_views import View, grid_layout, make_view, triangulation

if TYPE_CHECKING:
    from .pinn.problem import Problem

__all__ = ["OUTPUT_MODES", "plot_history", "plot_run", "run_figure"]

OUTPUT_MODES = ("auto", "each", "modulus")
"""How plot_run draws several outputs: by name plus derived quantities, by name only, as one norm."""

_ROW_HEIGHT = 4.5  # inches per row of panels in plot_run
_WIDTH = 15.0
_FORMATS = (".png", ".pdf", ".svg")


# -- files ---------------------------------------------------------------------------------------------

def check_figure_path(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """A figure path that can be written: a known suffix, not a folder, not an existing file unless
    ``overwrite``, and no file where a parent folder must go. Raises with what to change."""
    path = check_file_target(path, "run.png")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it, or choose another --plot")
    if path.suffix.lower() not in _FORMATS:
        raise ValueError(f"give a figure path ending in {', '.join(_FORMATS)}, got {path}")
    return path


def _save(fig: Figure, path: Path, dpi: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}")
    try:
        fig.savefig(tmp, format=path.suffix.lower()[1:], dpi=dpi)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _figure(figsize: tuple[float, float], dpi: float) -> Figure:
    """A figure on the Agg canvas, with fixed margins (constrained layout would double the drawing time)."""
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    width, height = figsize
    fig.subplots_adjust(left=0.8 / width, right=1 - 0.3 / width, bottom=0.6 / height, top=1 - 0.7 / height,
                        wspace=0.38, hspace=1.0 / (height / max(1, round(height / _ROW_HEIGHT)) - 1.0))
    return fig


# -- fields --------------------------------------------------------------------------------------------

FieldRow = tuple[str, np.ndarray, np.ndarray | None]


def _fields(prediction: np.ndarray, reference: np.ndarray | None, outputs: str, names: Sequence[str],
            problem: Problem | None) -> list[FieldRow]:
    """(label, predicted values, reference values) per plotted field (each a 1-D array over the points).

    "auto": each output by name plus the problem's derived quantities (its ``plot_fields`` choose);
    "each": each output by name; "modulus": one field, the Euclidean norm of the outputs."""
    pred = prediction.reshape(len(prediction), -1)
    ref = reference.reshape(len(reference), -1) if reference is not None else None
    k = pred.shape[1]
    if outputs not in OUTPUT_MODES:
        raise ValueError(f"outputs must be one of {', '.join(OUTPUT_MODES)}, got {outputs!r}")
    if len(names) != k:
        raise ValueError(f"{len(names)} output names for {k} outputs")
    if outputs == "modulus" and k > 1:
        label = f"|({', '.join(names)})|"
        return [(label, np.linalg.norm(pred, axis=1), None if ref is None else np.linalg.norm(ref, axis=1))]
    if outputs == "auto" and problem is not None and problem.outputs == k:
        shown = problem.display_fields(pred)
        known = problem.display_fields(ref) if ref is not None else {}
        return [(label, values, known.get(label)) for label, values in shown.items()]
    return [(names[i], pred[:, i], None if ref is None else ref[:, i]) for i in range(k)]


def _output_names(record: RunRecord, k: int, given: Sequence[str] | None, problem: Problem | None) -> list[str]:
    """Names of the k outputs: given, the problem's, the run file's ``output_names``, else u / u0, u1, …"""
    if given is not None:
        return list(given)
    if problem is not None and problem.outputs == k:
        return list(problem.output_names)
    stored = str(record.attrs.get("output_names", ""))
    if stored and len(stored.split(",")) == k:
        return stored.split(",")
    return ["u"] if k == 1 else [f"u{i}" for i in range(k)]


def _no_data(ax: Axes, title: str, text: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _heat(fig: Figure, ax: Axes, view: View, z: np.ndarray, title: str, cmap: str,
          limits: tuple[float, float] | None) -> None:
    vmin, vmax = limits if limits is not None else (None, None)
    pts = view.points
    grid = grid_layout(pts)
    if grid is not None:
        xs, ys, i, j = grid
        image = np.full((len(ys), len(xs)), np.nan)
        image[j, i] = z
        mappable = ax.pcolormesh(xs, ys, np.ma.masked_invalid(image), shading="nearest", cmap=cmap,
                                 vmin=vmin, vmax=vmax)
    else:
        finite = np.isfinite(z)
        try:
            levels = np.linspace(vmin, vmax, 41) if limits is not None and vmax > vmin else 40
            tri = triangulation(pts[finite], view.inside)
            mappable = ax.tricontourf(tri, z[finite], levels=levels, cmap=cmap, extend="neither")
        except (ValueError, RuntimeError):  # too few or collinear points: show them as they are
            mappable = ax.scatter(pts[:, 0], pts[:, 1], c=z, s=8, cmap=cmap, vmin=vmin, vmax=vmax)
    fig.colorbar(mappable, ax=ax, ticks=MaxNLocator(7))
    ax.set_xlabel(view.labels[0])
    ax.set_ylabel(view.labels[1])
    ax.set_title(title)
    if view.equal_aspect:
        ax.set_aspect("equal", adjustable="box")


def _limits(*arrays: np.ndarray | None) -> tuple[float, float] | None:
    values = np.concatenate([a[np.isfinite(a)] for a in arrays if a is not None])
    if values.size == 0:
        return None
    lo, hi = float(values.min()), float(values.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _field_row(fig: Figure, axes: Sequence[Axes], inputs: np.ndarray, coords: Sequence[str], label: str,
               pred: np.ndarray, ref: np.ndarray | None, view: View | None) -> None:
    error = np.abs(pred - ref) if ref is not None else None
    note = view.note if view is not None else ""
    if view is None:
        order = np.argsort(inputs[:, 0], kind="stable")
        x = inputs[order, 0]
        ax = axes[0]
        ax.plot(x, pred[order], label="prediction", lw=1.6)
        if ref is not None:
            ax.plot(x, ref[order], "--", label="reference", lw=1.2, color="k")
        ax.legend(loc="best", fontsize="small")
        ax.set_title(f"prediction {label}{note}")
        if ref is not None:
            axes[1].plot(x, ref[order], color="k", lw=1.2)
            axes[1].set_title(f"reference {label}")
            err = error[order]
            positive = err > 0
            axes[2].plot(x[positive], err[positive], lw=1.2, color="C3")
            if positive.any():
                axes[2].set_yscale("log")
            axes[2].set_title(f"|error|, max {np.nanmax(err):.2e}")
        else:
            _no_data(axes[1], f"reference {label}", "no reference")
            _no_data(axes[2], "|error|", "no reference")
        for ax in axes[:3]:
            if ax.has_data():
                ax.set_xlabel(coords[0])
        axes[0].set_ylabel(label)
        return
    # 2-D (or a slice): the time coordinate (if drawn) is on the horizontal axis, as in the PINN literature
    limits = _limits(pred, ref)
    _heat(fig, axes[0], view, pred, f"prediction {label}{note}", "viridis", limits)
    if ref is not None:
        _heat(fig, axes[1], view, ref, f"reference {label}", "viridis", limits)
        _heat(fig, axes[2], view, error, f"|error|, max {np.nanmax(error):.2e}", "magma", None)
    else:
        _no_data(axes[1], f"reference {label}", "no reference")
        _no_data(axes[2], "|error|", "no reference")


def _plot_log(ax: Axes, x: np.ndarray, y: np.ndarray, label: str, **kw: Any) -> bool:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
    if not keep.any():
        return False
    ax.plot(x[keep], y[keep], label=label, **kw)
    return True


def _history_panel(ax: Axes, history: Mapping[str, np.ndarray], x: str, xlabel: str) -> None:
    drawn = False
    if x in history:
        drawn |= _plot_log(ax, history[x], history["loss"], "loss", lw=1.4)
        if "rel_l2" in history:
            drawn |= _plot_log(ax, history[x], history["rel_l2"], "rel. L2 error", lw=1.4, marker=".", ms=3)
    if drawn:
        ax.set_yscale("log")
        ax.legend(loc="best", fontsize="small")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel(xlabel)
        ax.set_title(f"history vs {x}")
    else:
        _no_data(ax, f"history vs {x}", "no positive values")


def _blocks_panel(ax: Axes, history: Mapping[str, np.ndarray]) -> None:
    blocks = [k for k in history if k.startswith("loss/")]
    drawn = False
    for key in blocks:
        drawn |= _plot_log(ax, history["iteration"], history[key], key[5:], lw=1.2)
    if "damping" in history:
        if _plot_log(ax, history["iteration"], history["damping"], "damping λ", lw=1.0, ls=":", color="0.3"):
            drawn = True
    if drawn:
        ax.set_yscale("log")
        ax.legend(loc="best", fontsize="small")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("iteration")
        ax.set_title("block losses" + (" and damping" if "damping" in history else ""))
    else:
        _no_data(ax, "block losses", "none recorded")


def _fmt(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.3e}" if math.isfinite(number) else "n/a"


def plot_run(record: RunRecord, path: str | os.PathLike[str], coord_names: Sequence[str] | None = None, *,
             overwrite: bool = False, outputs: str = "auto", output_names: Sequence[str] | None = None,
             problem: Problem | None = None, predict: Callable[[np.ndarray], np.ndarray] | None = None,
             plot_slice: str | Mapping[str, float] | None = None,
             figsize: tuple[float, float] | None = None, dpi: float = 100) -> Path:
    """One PNG of a run: prediction, reference and absolute error per field, then the history.

    1-D inputs give line plots; 2-D inputs heat maps (cells when the points lie on a tensor grid,
    holes blank; a triangulation otherwise, with triangles outside the domain masked), with a
    coordinate named "t" on the horizontal axis; 3 or more inputs are drawn on a slice through the
    middle of the domain, or where ``plot_slice`` says ("z=0.5"; see :mod:`pinnlma.run.plot_views`).
    Each output is drawn by its name (``output_names``, else the problem's, else the run file's
    ``output_names``), then the derived quantities the ``problem`` declares (its ``plot_fields`` choose
    and order them); ``outputs="each"`` draws the outputs only, ``"modulus"`` their Euclidean norm.
    Identified unknowns (``param_<name>`` attributes) are listed under the title. The last row shows
    loss and relative L2 error (log scale) against iteration and time, and the block losses.

    ``problem`` supplies the domain (masks, slice ranges), the derived quantities and the exact
    reference; ``predict(points) -> (N, outputs)`` (the trained model) lets slices be evaluated afresh.
    ``coord_names`` default to the run's ``coordinates`` attribute. The figure is ``figsize`` inches
    (default 15 × 4.5 per row) at ``dpi``; returns the path.
    """
    path = check_figure_path(path, overwrite)
    fig = run_figure(record, coord_names, outputs=outputs, output_names=output_names, problem=problem,
                     predict=predict, plot_slice=plot_slice, figsize=figsize, dpi=dpi)
    return _save(fig, path, dpi)


def run_figure(record: RunRecord, coord_names: Sequence[str] | None = None, *, outputs: str = "auto",
               output_names: Sequence[str] | None = None, problem: Problem | None = None,
               predict: Callable[[np.ndarray], np.ndarray] | None = None,
               plot_slice: str | Mapping[str, float] | None = None,
               figsize: tuple[float, float] | None = None, dpi: float = 100) -> Figure:
    """The figure :func:`plot_run` saves (same arguments, no file)."""
    inputs = np.asarray(record.solution["inputs"], dtype=float)
    if inputs.ndim == 1:
        inputs = inputs[:, None]
    prediction = np.asarray(record.solution["prediction"], dtype=float).reshape(len(inputs), -1)
    reference = record.solution.get("reference")
    reference = None if reference is None else np.asarray(reference, dtype=float).reshape(len(inputs), -1)
    if reference is not None and not np.isfinite(reference).any():
        reference = None
    dim = inputs.shape[1]
    if coord_names is None:
        stored = str(record.attrs.get("coordinates", ""))
        coord_names = stored.split(",") if stored else [f"x{i}" for i in range(dim)]
    coords = list(coord_names)
    if len(coords) != dim:
        raise ValueError(f"{len(coords)} coordinate names {coords} for {dim}-dimensional inputs")
    names = _output_names(record, prediction.shape[1], output_names, problem)
    view = None
    if dim >= 2:
        view = _view(inputs, prediction, reference, coords, problem, predict, plot_slice)
        prediction, reference = view.prediction, view.reference
    elif plot_slice:
        raise ValueError(f"plot slice {plot_slice!r}: the inputs have one coordinate, there is nothing to slice")
    fields = _fields(prediction, reference, outputs, names, problem)
    rows = len(fields) + 1
    fig = _figure(figsize or (_WIDTH, _ROW_HEIGHT * rows), dpi)
    axes = fig.subplots(rows, 3, squeeze=False)
    for row, (label, pred, ref) in zip(axes, fields):
        _field_row(fig, row, inputs, coords, label, pred, ref, view)
    history = {k: np.asarray(v) for k, v in record.history.items()}
    _history_panel(axes[-1][0], history, "iteration", "iteration")
    _history_panel(axes[-1][1], history, "time", "time [s]")
    _blocks_panel(axes[-1][2], history)
    a = record.attrs
    title = (f"{a.get('problem', '?')} · {a.get('optimizer', '?')} · {a.get('dtype', '?')} · "
             f"{a.get('n_params', '?')} parameters · loss {_fmt(a.get('final_loss'))} · "
             f"rel. L2 {_fmt(a.get('final_rel_l2'))} · {a.get('status', '?')}")
    identified = {k[len("param_"):]: v for k, v in a.items() if k.startswith("param_")}
    if identified:
        start = problem.unknowns if problem is not None else {}
        title += "\nidentified: " + ", ".join(
            f"{k} = {float(v):.8g}" + (f" (start {float(start[k]):.3g})" if k in start else "")
            for k, v in identified.items())
        height = fig.get_figheight()
        fig.subplots_adjust(top=1 - 1.0 / height)  # room for the second title line
    fig.suptitle(title)
    return fig


def _view(inputs: np.ndarray, prediction: np.ndarray, reference: np.ndarray | None, coords: Sequence[str],
          problem: Problem | None, predict: Callable[[np.ndarray], np.ndarray] | None,
          plot_slice: str | Mapping[str, float] | None) -> View:
    """The plane drawn for ≥ 2 inputs, with the problem's domain when it matches the inputs."""
    domain = problem.domain if problem is not None and tuple(problem.domain.names) == tuple(coords) else None
    if domain is None:
        return make_view(inputs, prediction, reference, coords, plot_slice=plot_slice)
    time_name = getattr(domain, "time_name", "t")
    exact = problem.reference if problem.reference_data is None else None
    return make_view(inputs, prediction, reference, coords, contains=domain.contains, bounds=domain.bounds,
                     reference_fn=exact, fresh_ok=not problem.has_reference, predict=predict,
                     plot_slice=plot_slice, time_name=time_name)


def plot_history(histories: Mapping[str, Mapping[str, Any] | RunRecord], path: str | os.PathLike[str],
                 x: str = "time", y: str = "loss", *, overwrite: bool = False, title: str | None = None,
                 logy: bool = True, figsize: tuple[float, float] = (8.0, 5.0), dpi: float = 100) -> Path:
    """One curve per run (label → history dict or RunRecord): ``y`` against ``x`` ("time" or
    "iteration"), log scale by default; NaN and (on a log scale) non-positive values are skipped."""
    path = check_figure_path(path, overwrite)
    if not histories:
        raise ValueError("no histories to plot")
    fig = _figure(figsize, dpi)
    ax = fig.subplots()
    for label, history in histories.items():
        history = history.history if isinstance(history, RunRecord) else history
        for key in (x, y):
            if key not in history:
                raise ValueError(f"history {label!r} has no {key!r} series (it has {', '.join(history)})")
        xs = np.asarray(history[x], dtype=float)
        ys = np.asarray(history[y], dtype=float)
        if xs.shape != ys.shape:
            raise ValueError(f"history {label!r}: {x} and {y} have different lengths")
        keep = np.isfinite(xs) & np.isfinite(ys) & ((ys > 0) if logy else True)
        ax.plot(xs[keep], ys[keep], label=str(label), lw=1.4)
    if logy and ax.has_data():
        ax.set_yscale("log")
    ax.set_xlabel("time [s]" if x == "time" else x)
    ax.set_ylabel({"loss": "loss ‖r‖²", "rel_l2": "relative L2 error"}.get(y, y))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, path, dpi)
