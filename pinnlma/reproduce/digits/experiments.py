"""``pinnlma reproduce digits``: a small CNN classifying scikit-learn's 8×8 digits, trained by
Levenberg–Marquardt (pinnlma, and torch-levenberg-marquardt with its cross-entropy loss) and by Adam,
test accuracy and time side by side; and the exact CNN Jacobian rows against ``vmap(jacrev)``.

Data: the UCI optical-recognition digits as shipped in scikit-learn (``sklearn.datasets.load_digits``:
1797 images, 8×8 pixels of 0–16, ten classes; Alpaydin & Kaynak 1998), pixels scaled to [0, 1], split
75/25 stratified by class with a fixed seed (1347 training, 450 test images).

Model (float64, 1898 parameters): Conv2d(1→8, 3×3, pad 1) – tanh – MaxPool 2 – Conv2d(8→16, 3×3, pad 1)
– tanh – MaxPool 2 – Flatten – Linear(64→10), the same initial weights for every optimizer of a seed.

Experiments:

1. ``training`` — per seed, from the same initial weights and (for the batch-wise ones) the same
   batch order (:class:`pinnlma.learn.BatchLoader`, reshuffled every epoch):

   - ``lm``: :func:`pinnlma.fit` with ``pinnlma.losses.CrossEntropy()`` (r_i = √(2ℓ_i)), one LM step per
     batch of ``lm_batch``, fit's defaults (Levenberg damping carried from batch to batch);
   - ``lm_nielsen``: the same with the gain-ratio damping of ``LevenbergMarquardt`` (Nielsen, Marquardt
     scaling), the default for single-problem fits;
   - ``lm_growth``: the same, with the batch-growth schedule of the cuPyLMA benchmarks
     (:class:`pinnlma.learn.BatchGrowth`: from ``growth_start`` doubling up to the whole training set
     when an epoch improves the training loss by less than 10 %);
   - ``tlm``: torch-levenberg-marquardt's ``LevenbergMarquardtModule`` with its ``CrossEntropyLoss``
     (r_i = √ℓ_i, Jacobian by vmap(jacrev)) and its defaults, on the same batches as ``lm``, stopped
     when it asks to (its damping at its ceiling, 1e10) (skipped, and said so, when the package is
     not installed);
   - ``adam``: ``torch.optim.Adam`` (lr ``adam_lr``) on the mean cross entropy, batches of ``adam_batch``.

   After every epoch: the test accuracy and test loss (not timed) and the optimizer's own time.
2. ``jacobian`` — the Jacobian rows of the cross entropy (one residual per image) and of the MSE to
   one-hot targets (ten per image) at several batch sizes: pinnlma's exact rows
   (:mod:`pinnlma.lm.conv_rows`) against ``vmap(jacrev)`` of the one-row residual, alternating, the
   best of a few repeats each.

Outputs in ``<out>``: ``training.h5``, ``jacobian.h5`` (curves and a JSON summary), figures, README.md.
"""

from __future__ import annotations

import datetime as _dt
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import jacrev, vmap

from ...learn import BatchGrowth, BatchLoader, accuracy, fit
from ...lm import LevenbergMarquardt, losses
from ...lm.conv_rows import LayerRowJacobian
from ...machine import machine_info, versions
from ...peers import PeerUnavailable, load_tlm
from ..store import prepare_run, read_summary, update_summary, write_h5
from ..taylor2022.figures import pyplot, spread
from .data import SIZES, DigitsSize, load_data, make_cnn
from .report import NAMES, write_report

EXPERIMENTS = ("training", "jacobian")
OPTIMIZERS = ("lm", "lm_nielsen", "lm_growth", "tlm", "adam")
DEFAULT_OUT = Path("results/digits")
TARGETS = (0.95, 0.97)  # test accuracies for the time-to-target columns


# -- data and model ------------------------------------------------------------------------------------
def _test_scores(net: nn.Module, data: dict[str, Tensor]) -> tuple[float, float]:
    with torch.no_grad():
        out = net(data["x_test"])
    return accuracy(out, data["y_test"]), float(F.cross_entropy(out, data["y_test"]))


# -- training ----------------------------------------------------------------------------------------------
def _curve(
    times: list[float], accs: list[float], test_loss: list[float], batch: list[float], steps: int
) -> dict[str, Any]:
    return {
        "epoch": np.arange(len(accs), dtype=float),
        "time": np.asarray(times),
        "test_accuracy": np.asarray(accs),
        "test_loss": np.asarray(test_loss),
        "batch_size": np.asarray(batch, dtype=float),
        "final_accuracy": accs[-1],
        "final_test_loss": test_loss[-1],
        "optimizer_s": times[-1],
        "steps": steps,
        "step_ms": 1e3 * times[-1] / max(steps, 1),
        **{f"time_to_{int(t * 100)}": _time_to(times, accs, t) for t in TARGETS},
    }


def _time_to(times: Sequence[float], accs: Sequence[float], target: float) -> float:
    return next((t for t, a in zip(times, accs) if a >= target), float("nan"))


def _train_pinnlma(name: str, seed: int, data: dict[str, Tensor], size: DigitsSize) -> dict[str, Any]:
    net = make_cnn(seed)
    growth = name == "lm_growth"
    loader = BatchLoader(
        data["x_train"], data["y_train"], batch_size=size.growth_start if growth else size.lm_batch, seed=1000 + seed
    )
    acc0, loss0 = _test_scores(net, data)
    result = fit(
        net,
        loader,
        size.epochs[name],
        loss=losses.CrossEntropy(),
        val=(data["x_test"], data["y_test"]),
        metrics={"accuracy": accuracy},
        batch_growth=BatchGrowth(len(data["x_train"]), min_improvement=0.1) if growth else None,
        damping="nielsen" if name == "lm_nielsen" else None,
        progress=False,
    )
    h = result.history
    curve = _curve(
        [0.0] + h["time"],
        [acc0] + h["val_accuracy"],
        [loss0] + h["val_loss"],
        [h["batch_size"][0]] + h["batch_size"],
        result.steps,
    )
    curve["jacobian"] = result.lm.row_jacobian_note
    return curve


def _train_tlm(seed: int, data: dict[str, Tensor], size: DigitsSize, tlm: Any) -> dict[str, Any]:
    net = make_cnn(seed)
    module = tlm.training.LevenbergMarquardtModule(net, loss_fn=tlm.loss.CrossEntropyLoss())
    loader = BatchLoader(data["x_train"], data["y_train"], batch_size=size.lm_batch, seed=1000 + seed)
    acc0, loss0 = _test_scores(net, data)
    times, accs, test_loss, elapsed, stopped_at, steps = [0.0], [acc0], [loss0], 0.0, None, 0
    for epoch in range(size.epochs["tlm"]):
        started = time.perf_counter()
        for xb, yb in loader.batches(epoch):
            stop = module.training_step(xb, yb)[2]
            steps += 1
            if stop:  # its damping reached the ceiling: tlm asks to stop training, as its Lightning loop would
                break
        elapsed += time.perf_counter() - started
        acc, loss = _test_scores(net, data)
        times.append(elapsed)
        accs.append(acc)
        test_loss.append(loss)
        if stop:
            stopped_at = epoch + 1
            break
    curve = _curve(times, accs, test_loss, [size.lm_batch] * len(accs), steps)
    curve["stopped_at_epoch"] = float("nan") if stopped_at is None else float(stopped_at)
    return curve


def _train_adam(seed: int, data: dict[str, Tensor], size: DigitsSize) -> dict[str, Any]:
    net = make_cnn(seed)
    adam = torch.optim.Adam(net.parameters(), lr=size.adam_lr)
    loader = BatchLoader(data["x_train"], data["y_train"], batch_size=size.adam_batch, seed=1000 + seed)
    acc0, loss0 = _test_scores(net, data)
    times, accs, test_loss, elapsed, steps = [0.0], [acc0], [loss0], 0.0, 0
    for epoch in range(size.epochs["adam"]):
        started = time.perf_counter()
        for xb, yb in loader.batches(epoch):
            adam.zero_grad()
            F.cross_entropy(net(xb), yb).backward()
            adam.step()
            steps += 1
        elapsed += time.perf_counter() - started
        acc, loss = _test_scores(net, data)
        times.append(elapsed)
        accs.append(acc)
        test_loss.append(loss)
    return _curve(times, accs, test_loss, [size.adam_batch] * len(accs), steps)


def _warm_up(data: dict[str, Tensor]) -> None:
    """torch.func imports most of torch's compiler stack on its first call (about 2 s); do it before any
    timing so that it is charged to no optimizer."""
    net = make_cnn(0)
    LevenbergMarquardt(net, loss=losses.CrossEntropy()).step(data["x_train"][:8], data["y_train"][:8])


def run_training(out: Path, size: DigitsSize, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train every optimizer for every seed; write training.h5 and a figure; return the summary."""
    started = time.perf_counter()
    data = load_data(0, size.train_rows)
    try:
        tlm = load_tlm()
        tlm_note = f"torch-levenberg-marquardt {tlm.version}"
    except PeerUnavailable as err:
        tlm, tlm_note = None, str(err)
        echo(f"  digits: tlm skipped: {err}")
    _warm_up(data)
    runs: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in OPTIMIZERS if name != "tlm" or tlm}
    for seed in size.seeds:
        for name in runs:
            if name == "adam":
                r = _train_adam(seed, data, size)
            elif name == "tlm":
                r = _train_tlm(seed, data, size, tlm)
            else:
                r = _train_pinnlma(name, seed, data, size)
            runs[name][seed] = r
            echo(
                f"  digits seed {seed} {name:10s}: test accuracy {r['final_accuracy']:.4f} after "
                f"{size.epochs[name]} epochs, {r['optimizer_s']:.1f} s"
            )
    summary = {
        "experiment": "training",
        "seeds": list(size.seeds),
        "epochs": dict(size.epochs),
        "train_images": len(data["x_train"]),
        "test_images": len(data["x_test"]),
        "n_params": sum(p.numel() for p in make_cnn(0).parameters()),
        "lm_batch": size.lm_batch,
        "growth_start": size.growth_start,
        "adam_batch": size.adam_batch,
        "adam_lr": size.adam_lr,
        "tlm": tlm_note,
        "targets": list(TARGETS),
        "jacobian_path": next(iter(runs["lm"].values()))["jacobian"],
        "optimizers": {
            name: {
                key: spread([r[key] for r in rs.values()])
                for key in (
                    "final_accuracy",
                    "final_test_loss",
                    "optimizer_s",
                    "steps",
                    "step_ms",
                    *(f"time_to_{int(t * 100)}" for t in TARGETS),
                )
            }
            for name, rs in runs.items()
        },
    }
    for name, rs in runs.items():
        summary["optimizers"][name]["reached"] = {
            str(int(t * 100)): sum(np.isfinite(r[f"time_to_{int(t * 100)}"]) for r in rs.values()) for t in TARGETS
        }
    if "tlm" in runs:
        summary["tlm_stopped"] = [r["stopped_at_epoch"] for r in runs["tlm"].values()]
    summary["figures"] = [_plot_training(out, runs)]
    summary["seconds"] = time.perf_counter() - started
    data_out = {
        name: {f"seed{s}": {k: v for k, v in r.items() if k != "jacobian"} for s, r in rs.items()}
        for name, rs in runs.items()
    }
    write_h5(out / "training.h5", data_out, summary)
    return summary


COLORS = {"lm": "C3", "lm_nielsen": "C4", "lm_growth": "C1", "tlm": "C2", "adam": "C0"}


def _plot_training(out: Path, runs: dict[str, dict[int, dict[str, Any]]]) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for name, per_seed in runs.items():
        for k, r in enumerate(per_seed.values()):
            label = NAMES[name] if k == 0 else None
            axes[0].plot(r["time"], 1 - r["test_accuracy"], color=COLORS[name], lw=1.1, label=label)
            axes[1].plot(r["epoch"], 1 - r["test_accuracy"], color=COLORS[name], lw=1.1, label=label)
    axes[0].set_xlabel("optimizer time [s] (one thread)")
    axes[1].set_xlabel("epoch")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylabel("test error (1 − accuracy)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("8×8 digits, 1898-parameter CNN, float64: LM against Adam")
    fig.tight_layout()
    path = out / "digits_accuracy.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


# -- Jacobian rows -----------------------------------------------------------------------------------------
def run_jacobian(out: Path, size: DigitsSize, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Time the exact CNN Jacobian rows against vmap(jacrev); write jacobian.h5; return the summary."""
    started = time.perf_counter()
    data = load_data(0)
    images, labels = torch.cat([data["x_train"], data["x_test"]]), torch.cat([data["y_train"], data["y_test"]])
    results: dict[str, dict[str, Any]] = {}
    for loss_name, target in (("cross_entropy", labels), ("mse", F.one_hot(labels, 10).double())):
        per_batch = {}
        for batch in size.jacobian_batches:
            x, y = images[:batch], target[:batch]
            times = _time_rows(make_cnn(0), loss_name, x, y, size.jacobian_repeats)
            per_batch[str(batch)] = times
            echo(
                f"  digits jacobian {loss_name:13s} batch {batch:5d}: exact {times['exact_s'] * 1e3:.1f} ms, "
                f"vmap(jacrev) {times['vmap_s'] * 1e3:.1f} ms ({times['speedup']:.2f}x), "
                f"max |ΔJ| {times['max_diff']:.1e}"
            )
        results[loss_name] = per_batch
    summary = {
        "experiment": "jacobian",
        "batches": list(size.jacobian_batches),
        "repeats": size.jacobian_repeats,
        "n_params": sum(p.numel() for p in make_cnn(0).parameters()),
        "results": results,
        "seconds": time.perf_counter() - started,
    }
    write_h5(out / "jacobian.h5", {}, summary)
    return summary


def _time_rows(net: nn.Module, loss_name: str, x: Tensor, y: Tensor, repeats: int) -> dict[str, float]:
    lm = LevenbergMarquardt(net, loss=loss_name)
    residual, theta = lm.engine.fun, lm.params  # r(θ, *batch) with flat θ
    rows = LayerRowJacobian(net, lm.names, residual)
    generic = vmap(jacrev(lambda p, xi, yi: residual(p, xi.unsqueeze(0), yi.unsqueeze(0))), in_dims=(None, 0, 0))

    def exact_run() -> Tensor:
        served = rows(theta, (x, y))
        if served is None:
            raise RuntimeError(f"the exact row Jacobian did not serve the digits CNN: {rows.note}")
        return served[1]

    vmap_run = lambda: generic(theta, x, y).reshape(-1, theta.numel())  # noqa: E731
    diff = float((exact_run() - vmap_run()).abs().max())
    exact, generic_s = [], []
    for _ in range(repeats):  # alternating, so that machine load falls on both alike
        exact.append(_seconds(exact_run))
        generic_s.append(_seconds(vmap_run))
    e, g = min(exact), min(generic_s)
    return {
        "exact_s": e,
        "vmap_s": g,
        "speedup": g / e,
        "exact_median_s": statistics.median(exact),
        "vmap_median_s": statistics.median(generic_s),
        "max_diff": diff,
        "residuals_per_image": int(residual(theta, x[:1], y[:1]).numel()),
    }


def _seconds(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# -- the command -------------------------------------------------------------------------------------------
def run(
    out: str | Path = DEFAULT_OUT,
    *,
    size: str = "full",
    experiments: Sequence[str] | None = None,
    command: str = "",
    echo: Callable[[str], None] = print,
) -> Path:
    """Run ``experiments`` (None: all; an empty list: none, only rebuild README.md from the stored HDF5
    files) at ``size`` into ``out``; write the README; return its path."""
    out, chosen = prepare_run(out, size, SIZES, experiments, list(EXPERIMENTS))
    s = SIZES[size]
    summaries: dict[str, dict[str, Any]] = {}
    for name in EXPERIMENTS:
        if name not in chosen:
            if (out / f"{name}.h5").exists():
                summaries[name] = read_summary(out / f"{name}.h5")
            continue
        if (out / f"{name}.h5").exists():
            echo(f"digits: replacing {out / f'{name}.h5'}; use --out DIR to keep it")
        echo(f"digits [{size}]: {name}")
        summary = run_training(out, s, echo) if name == "training" else run_jacobian(out, s, echo)
        summary.update(
            size=size,
            command=command,
            machine=machine_info(),
            versions=versions(),
            finished=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
        update_summary(out / f"{name}.h5", summary)
        summaries[name] = summary
    if not summaries:
        raise ValueError(f"nothing to report: no experiment ran and {out} holds no stored results")
    path = write_report(out, summaries, command=command)
    echo(f"digits [{size}]: report written to {path}")
    return path
