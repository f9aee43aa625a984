"""The generated ``README.md`` of ``pinnlma reproduce digits``: every number read from the stored summaries."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

TITLE = "8×8 digits: a small CNN trained by Levenberg–Marquardt and by Adam"
NAMES = {"lm": "pinnlma LM (fit's Levenberg damping)", "lm_nielsen": "pinnlma LM, Nielsen damping",
         "lm_growth": "pinnlma LM, batch growth",
         "tlm": "torch-levenberg-marquardt", "adam": "Adam"}


def _num(value: float | None, digits: int = 2, unit: str = "") -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}{unit}"


def _spread(s: dict[str, Any] | None, digits: int = 2, scale: float = 1.0, unit: str = "") -> str:
    if not s or s.get("median") is None:
        return "–"
    med = _num(s["median"] * scale, digits, unit)
    if s.get("n", 1) > 1:
        return f"{med} [{_num(s['min'] * scale, digits)} – {_num(s['max'] * scale, digits)}]"
    return med


def _batch(name: str, t: dict[str, Any]) -> str:
    if name == "adam":
        return str(t["adam_batch"])
    if name == "lm_growth":
        return f"{t['growth_start']} → {t['train_images']}"
    return str(t["lm_batch"])


def _stops(t: dict[str, Any]) -> list[int]:
    """The epochs after which tlm stopped itself, one per seed where it did."""
    return [int(e) for e in t.get("tlm_stopped", []) if e is not None and math.isfinite(e)]


def _training(t: dict[str, Any]) -> list[str]:
    seeds = t["seeds"]
    lines = [
        "## Test accuracy and time", "",
        f"{t['train_images']} training and {t['test_images']} test images, CNN with {t['n_params']} parameters "
        f"(float64), seeds {', '.join(map(str, seeds))} (same initial weights and batch order for every optimizer "
        f"of a seed). Time is the optimizer's own (evaluation not counted), one thread. Values: median"
        + (" [min – max] over seeds" if len(seeds) > 1 else "") + ".", "",
        "| optimizer | epochs | batch | test accuracy | test loss | time [s] | "
        + " | ".join(f"time to {int(100 * x)} % [s] (seeds reaching it)" for x in t["targets"]) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(t["targets"]),
    ]
    for name, o in t["optimizers"].items():
        epochs = str(t["epochs"][name])
        stopped = _stops(t) if name == "tlm" else []
        if stopped:
            epochs += f" (stopped itself after {', '.join(map(str, stopped))})"
        cells = [NAMES.get(name, name), epochs, _batch(name, t),
                 _spread(o["final_accuracy"], 2, 100.0, " %"), _spread(o["final_test_loss"], 3),
                 _spread(o["optimizer_s"], 1)]
        for x in t["targets"]:
            key = str(int(100 * x))
            cells.append(f"{_spread(o[f'time_to_{key}'], 2)} ({o['reached'][key]}/{len(seeds)})")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"![test error against time and epochs]({t['figures'][0]})", "",
              f"pinnlma's Jacobian path on this CNN: {t['jacobian_path']}. "
              f"tlm: {t['tlm']}; its Jacobian is vmap(jacrev) over the batch's rows, its residual √ℓᵢ (pinnlma's "
              "√(2ℓᵢ): ½‖r‖² is the summed loss; the same minimizer), its damping ×10/÷10 from 1e-3 on JᵀJ/batch, "
              f"a QR solve. Adam: lr {t['adam_lr']}, mean cross entropy.", ""]
    lines += _remarks(t)
    return lines


def _remarks(t: dict[str, Any]) -> list[str]:
    """Plain statements of what the table shows, each derived from the stored numbers."""
    o, out = t["optimizers"], []
    best = max(o, key=lambda k: o[k]["final_accuracy"]["median"] or -1.0)
    out.append(f"- Highest median test accuracy: {NAMES.get(best, best)} "
               f"({_spread(o[best]['final_accuracy'], 2, 100.0, ' %')}).")
    target = str(int(100 * t["targets"][-1]))
    timed = {k: v[f"time_to_{target}"]["median"] for k, v in o.items()
             if v[f"time_to_{target}"]["median"] is not None and math.isfinite(v[f"time_to_{target}"]["median"])}
    if timed:
        fastest = min(timed, key=timed.get)
        ranked = sorted(timed.items(), key=lambda kv: kv[1])
        others = ", ".join(f"{NAMES.get(k, k)} {_num(v, 2)} s" for k, v in ranked if k != fastest)
        out.append(f"- First to {target} % test accuracy (median over seeds): {NAMES.get(fastest, fastest)} in "
                   f"{_num(timed[fastest], 2)} s" + (f"; then {others}." if others else "."))
    if "tlm" in o and "lm" in o:
        ours, peer = o["lm"]["step_ms"]["median"], o["tlm"]["step_ms"]["median"]
        ratio = peer / ours
        out.append(f"- Same batches: one pinnlma LM step takes {_num(ours, 1)} ms, one tlm step {_num(peer, 1)} ms "
                   f"(median over seeds; tlm {ratio:.2f}× " + ("slower)." if ratio >= 1 else "faster)."))
    return out + [""]


def _jacobian(j: dict[str, Any]) -> list[str]:
    lines = ["## Jacobian rows of the CNN: exact (one backward pass) against vmap(jacrev)", "",
             f"{j['n_params']} parameters; best of {j['repeats']} alternating repeats each (medians in the HDF5 "
             "file); max |ΔJ| is the largest difference between the two.", "",
             "| loss | residuals per image | batch | exact rows [ms] | vmap(jacrev) [ms] | speed-up | max abs ΔJ |",
             "|---|---|---|---|---|---|---|"]
    for loss, per_batch in j["results"].items():
        for batch, r in per_batch.items():
            lines.append(f"| {loss} | {r['residuals_per_image']} | {batch} | {r['exact_s'] * 1e3:.1f} | "
                         f"{r['vmap_s'] * 1e3:.1f} | {r['speedup']:.2f}× | {r['max_diff']:.1e} |")
    return lines + [""]


def write_report(out: Path, summaries: dict[str, dict[str, Any]], command: str = "") -> Path:
    """Write ``out/README.md`` from the experiments' summaries."""
    first = next(iter(summaries.values()))
    machine = first.get("machine", {})
    lines = [f"# {TITLE}", "",
             "Generated by `" + (command or "pinnlma reproduce digits") + "` "
             f"(size {first.get('size', '?')}, finished {first.get('finished', '?')}); every number below is read "
             "from the HDF5 files beside this README.", "",
             "Data: the 8×8 optical-recognition digits shipped with scikit-learn (`sklearn.datasets.load_digits`, "
             "1797 images, E. Alpaydin and C. Kaynak, UCI Machine Learning Repository, 1998), split 75/25 "
             "stratified; model Conv2d(1→8, 3×3) – tanh – max-pool – Conv2d(8→16, 3×3) – tanh – max-pool – "
             "Linear(64→10). Classification loss: cross entropy; for LM as least squares, r_i = √(2ℓ_i) "
             "(`pinnlma.losses.CrossEntropy`).", ""]
    if "training" in summaries:
        lines += _training(summaries["training"])
    if "jacobian" in summaries:
        lines += _jacobian(summaries["jacobian"])
    v = first.get("versions", {})
    lines += ["## Machine", "",
              f"{machine.get('cpu', '?')} ({machine.get('cpu_count', '?')} cores), torch threads "
              f"{machine.get('torch_threads', '?')}, load average {machine.get('load_average', '?')}, BLAS "
              f"{machine.get('blas', '?')}; " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path
