"""The generated ``README.md`` of a taylor2022 reproduction: the paper's statements next to ours.

Every number is read from the experiments' summaries (stored in their HDF5 files); the verdicts
follow fixed rules stated in the table, applied to the measured values.
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any

from ...machine import machine_info, versions
from .figures import LABELS, fmt

PAPER = (
    "J. Taylor, W. Wang, B. Bala, T. Bednarz, *Optimizing the optimizer for data driven deep neural networks "
    "and physics informed neural networks*, arXiv:2205.07430 (2022)"
)
BASELINES = ("adam", "bfgs", "lbfgs")


def _sp(s: dict[str, Any] | None, digits: int = 2) -> str:
    """'median [min – max]' of a spread record."""
    if not s or s.get("median") is None:
        return "–"
    if s.get("n", 1) > 1:
        return f"{fmt(s['median'], digits)} [{fmt(s['min'], 1)} – {fmt(s['max'], 1)}]"
    return fmt(s["median"], digits)


def _med(s: dict[str, Any] | None) -> float:
    value = None if not s else s.get("median")
    return math.nan if value is None else float(value)


def _verdict(ok: bool | None) -> str:
    return {True: "**agrees**", False: "**disagrees**", None: "not run"}[ok]


def _rows(S: dict[str, dict[str, Any]]) -> tuple[list[list[str]], list[str]]:
    """Table rows [claim, paper, ours, verdict] and the disagreement notes."""
    rows, notes = [], []
    sinc, mb, sweep, burg, jac = (S.get(k) for k in ("sinc", "minibatch", "sweep", "burgers", "jacobian"))
    if sinc:
        o = sinc["optimizers"]
        lm = o["lm"]
        lm_final = _med(lm["final_mse"])
        at = lm["mse_at_iteration"]
        ours = (
            f"median MSE (seeds {', '.join(map(str, sinc['seeds']))}) after 100 iterations "
            f"{_sp(at.get('100'))}, after 200 {_sp(at.get('200'))}, after {lm['iterations']} {_sp(lm['final_mse'])}"
        )
        ok = lm_final <= 1e-6
        rows.append(
            [
                f"LM on sinc(10x), 1–20–1 tanh, {sinc['points']} points",
                "converges rapidly to near machine precision: MSE ≈ 1.0e-8 in 100 epochs (public run of the "
                "paper's code lineage); about 1e-7 within 200 epochs (cuPyLMA figure)",
                ours,
                _verdict(ok) + " (rule: final median MSE ≤ 1e-6)",
            ]
        )
        if not ok:
            mb = S.get("minibatch")
            extra = ""
            if mb:
                mb_lm = _med(mb["optimizers"]["lm"]["final_mse"])
                extra = (
                    f" Under that protocol (experiment 1b) our LM reaches {_sp(mb['optimizers']['lm']['final_mse'])} "
                    f"in {mb['epochs']['lm']} epochs"
                    + (
                        ": the mini-batch steps get past the plateaus where full-batch LM lingers on some seeds."
                        if mb_lm < lm_final / 10
                        else "."
                    )
                )
            notes.append(
                f"LM's median final MSE on sinc is {fmt(lm_final)}, above 1e-6: our LM runs full-batch "
                "steps from a Glorot-normal start; the public run used mini-batches of 1000 (20 LM steps per "
                "epoch) and Keras' initialisation." + extra
            )
        if _med(at.get("100")) > 1e-8 and ok:
            notes.append(
                f"After 100 iterations our LM is at {_sp(at.get('100'))}, not 1.0e-8: the paper's 100 "
                "*epochs* were 2000 mini-batch LM steps (batch 1000); ours are 100 full-batch steps. "
                f"Given {lm['iterations']} steps it reaches {_sp(lm['final_mse'])}."
            )
        adam = o["adam"]
        a_final = _med(adam["final_mse"])
        ok = a_final >= 100 * lm_final
        rows.append(
            [
                "Adam (lr 0.01) on the same network and data",
                "stays near MSE 6.6e-4 (1000 epochs) while LM reaches 1e-8",
                f"median MSE after {adam['iterations']} full-batch epochs {_sp(adam['final_mse'])} "
                f"({a_final / lm_final:.0f}× LM's)",
                _verdict(ok) + " (rule: Adam ≥ 100× LM's MSE)",
            ]
        )
        if ok and not (6.6e-5 <= a_final <= 6.6e-3):
            notes.append(
                f"Adam's level ({fmt(a_final)}) is not within 10× of the paper's 6.6e-4: the epochs differ "
                "(full batch here, 20 mini-batches per epoch there), so only the gap to LM is comparable."
            )
        tails_ok = all(_med(o[n]["rel_err_tails"]) > _med(o[n]["rel_err_lobe"]) for n in BASELINES)
        beaten = all(_med(o[n]["final_mse"]) > lm_final for n in BASELINES)
        detail = "; ".join(
            f"{LABELS[n]} lobe {fmt(_med(o[n]['rel_err_lobe']), 1)}, tails "
            f"{fmt(_med(o[n]['rel_err_tails']), 1)}, MSE {fmt(_med(o[n]['final_mse']), 1)}"
            for n in ("adam", "bfgs", "lbfgs", "lm")
        )
        rows.append(
            [
                "Adam, BFGS, L-BFGS: large amplitudes first, small-amplitude tails poorly",
                "they fit the large-amplitude part first and struggle with the tails; LM fits both",
                f"relative RMS error on the main lobe |x|<0.1 vs the tails |x|>0.5 (median over seeds): {detail}",
                _verdict(tails_ok and beaten) + " (rule: each baseline's tail error > its lobe error and "
                "its MSE > LM's)",
            ]
        )
        if not tails_ok:
            worse = [LABELS[n] for n in BASELINES if not _med(o[n]["rel_err_tails"]) > _med(o[n]["rel_err_lobe"])]
            notes.append(f"{', '.join(worse)}: relative error on the tails not above that on the main lobe here.")
        if not beaten:
            better = [LABELS[n] for n in BASELINES if not _med(o[n]["final_mse"]) > lm_final]
            notes.append(
                f"{', '.join(better)} reached a median MSE at or below LM's on sinc with the iteration "
                "budgets used here."
            )
    if mb:
        o, ep = mb["optimizers"], mb["epochs"]
        proto = f"mini-batches of {mb['batch']} out of {mb['points']} points, Keras initialisation"
        lm_mb, adam_mb = _med(o["lm"]["final_mse"]), _med(o["adam"]["final_mse"])
        ok = lm_mb <= 1e-7
        rows.append(
            [
                f"LM under the lineage's protocol ({proto})",
                "MSE ≈ 1.0e-8 after 100 epochs",
                f"median MSE after {ep['lm']} epochs {_sp(o['lm']['final_mse'])}, after 10 "
                f"{_sp(o['lm']['mse_at_epoch'].get('10'))}; {_med(o['lm']['optimizer_s']):.1f} s",
                _verdict(ok) + " (rule: ≤ 1e-7, within 10× of the paper)",
            ]
        )
        if not ok:
            notes.append(
                f"Mini-batch LM ends at {fmt(lm_mb)} after {ep['lm']} epochs, not ≈ 1e-8 (float64 here, "
                "our damping rule and a different random start)."
            )
        ok = 6.6e-5 <= adam_mb <= 6.6e-3
        rows.append(
            [
                f"Adam under the lineage's protocol ({proto}), lr {mb['adam_lr']}",
                "MSE ≈ 6.6e-4 after 1000 epochs",
                f"median MSE after {ep['adam']} epochs {_sp(o['adam']['final_mse'])} "
                f"({adam_mb / lm_mb:.0f}× mini-batch LM's); {_med(o['adam']['optimizer_s']):.1f} s",
                _verdict(ok) + " (rule: within 10× of 6.6e-4)",
            ]
        )
        if not ok:
            notes.append(
                f"Mini-batch Adam ends at {fmt(adam_mb)} after {ep['adam']} epochs, not within 10× of "
                "6.6e-4 (different random start, float64, reshuffled batches)."
            )
    if sweep:
        r = sweep["reached"]
        parts = []
        for factor, label in (("1", "matches LM"), ("10", "within 10× of LM"), ("100", "within 100× of LM")):
            hit = r.get(factor)
            parts.append(
                f"{label}: "
                + (f"{hit['arch']} ({hit['n_params']} parameters, **{hit['ratio']:.1f}×**)" if hit else "not reached")
            )
        cap = sweep["cap"]
        ours = (
            f"target = LM's median MSE {fmt(sweep['lm_target'])} ({sweep['base_params']} parameters); Adam "
            f"{sweep['steps']} epochs, lr {sweep['lr']}, seeds {', '.join(map(str, sweep['seeds']))}; "
            + "; ".join(parts)
            + f"; largest model tried {cap['arch']} ({cap['n_params']} parameters, "
            f"{cap['ratio']:.1f}×), best Adam MSE {fmt(sweep['best']['mse'])}"
        )
        hit10 = r.get("10")
        ok = bool(sweep["matched"]) or (hit10 is not None and hit10["ratio"] <= 26 * 1.5)
        rows.append(
            [
                "Adam needs bigger models",
                "deeper, wider models with up to 26× more parameters to approach LM's fit",
                ours,
                _verdict(ok) + " (rule: Adam matches LM, or comes within 10× of it at ≤ ~26× the parameters)",
            ]
        )
        if not sweep["matched"]:
            notes.append(
                f"Adam did not match LM's MSE ({fmt(sweep['lm_target'])}) up to the cap of {cap['n_params']} "
                f"parameters ({cap['ratio']:.0f}×) in {sweep['steps']} epochs; the paper's 26× is about "
                "*approaching* LM's fit, read here as the within-10× and within-100× columns. LM's target "
                "here is a float64 full-batch result, lower than the paper's single-precision one."
            )
    if burg:
        o = burg["optimizers"]
        lm_e = _med(o["lm"]["final_rel_l2"])
        others = {n: _med(o[n]["final_rel_l2"]) for n in ("lbfgs", "adam")}
        ours = "; ".join(
            f"{LABELS[n]} rel L2 {_sp(o[n]['final_rel_l2'])}, loss {_sp(o[n]['final_loss'])}, "
            f"{_med(o[n]['iterations']):.0f} iterations"
            for n in ("lm", "lbfgs", "adam")
        )
        ok = all(lm_e < e for e in others.values())

        rows.append(
            [
                f"Burgers PINN (ν = 0.01/π), 2–{'–'.join(map(str, burg['widths']))}–1 tanh, "
                f"{burg['interior']} interior + {burg['boundary']} initial + {burg['boundary']} boundary points",
                "LM beats BFGS / L-BFGS-B; the lineage's L-BFGS-B ran up to 5000 iterations to loss ≈ 6.8e-5",
                f"{burg['budget_s']:g} s of optimizer time each on one thread: {ours}",
                _verdict(ok) + " (rule: LM's rel L2 below L-BFGS's and Adam's at equal time)",
            ]
        )
        per_it = list(burg.get("at_lm_iterations", {}).values())
        if per_it:
            ok_it = all(
                row["lm"] is not None and all(row[n] is None or row["lm"] < row[n] for n in ("lbfgs", "adam"))
                for row in per_it
            )
            row0 = per_it[0]
            rows.append(
                [
                    "Burgers PINN, per iteration",
                    "LM beats BFGS / L-BFGS-B (the same claim, read per iteration)",
                    f"after {row0['iterations']} iterations (LM's count within its budget): LM rel L2 "
                    f"{fmt(row0['lm'])}, L-BFGS {fmt(row0['lbfgs'])}, Adam {fmt(row0['adam'])}",
                    _verdict(ok_it) + " (rule: LM's rel L2 lowest at LM's iteration count)",
                ]
            )
        lb_loss = _med(o["lbfgs"]["final_loss"])
        notes.append(
            f"Burgers L-BFGS loss after {_med(o['lbfgs']['iterations']):.0f} iterations: {fmt(lb_loss)} "
            "against the lineage's ≈ 6.8e-5 after up to 5000 L-BFGS-B iterations (scipy, float32 network, "
            "its own points); "
            + (
                "the same order."
                if 6.8e-6 <= lb_loss <= 6.8e-4
                else "not the same order: different iteration count, line search, precision and sampling."
            )
        )
        if not ok:
            notes.append(
                f"On Burgers LM's relative L2 error ({fmt(lm_e)}) is not below every baseline's within "
                f"{burg['budget_s']:g} s: one LM iteration costs m·n² flops (m = {burg['n_residuals']}, "
                f"n = {burg['n_params']}), so on one CPU thread LM gets few iterations in the budget."
            )
    if jac:
        chosen = jac["auto_choice"]
        ratio = jac["auto_vs_best"]
        worst = max((v for v in ratio.values() if v is not None), default=math.nan)
        ours = (
            f"DNN 1–{'–'.join(map(str, jac['widths']))}–1 ({jac['n_params']} parameters), m = "
            f"{min(jac['batches'])}…{max(jac['batches'])}: auto chose "
            + ", ".join(sorted(set(chosen.values())))
            + f"; the chosen strategy's time ≤ {worst:.2f}× the fastest "
            "strategy's at every m; reverse mode grows ~m² (run up to m = "
            f"{jac['reverse_max']})"
        )
        rows.append(
            [
                "Jacobian strategy (cuPyLMA README)",
                "the Jacobian's cost and memory depend on the strategy "
                "and batch size; a per-row (vectorized) Jacobian scales to large batches",
                ours,
                _verdict(worst <= 1.5) + " (rule: auto's choice within 1.5× of the fastest)",
            ]
        )
    return rows, notes


PROTOCOL = [
    "Experiments 1, 2 and 3 train full batch (one epoch = one iteration over all points, through "
    "`pinnlma.run.solve`); the paper's lineage trained Adam and LM on mini-batches of 1000 (20 steps per "
    "epoch), which experiment 1b repeats. Full-batch and mini-batch epoch counts are not comparable.",
    "float64 throughout (LM's normal equations need it); Glorot-normal initial weights, zero biases "
    "(pinnlma's MLP default; Glorot-uniform in 1b, as Keras); the same seed gives every optimizer the same start.",
    "BFGS is pinnlma's dense BFGS and L-BFGS is torch's (strong-Wolfe line search), not scipy's "
    "BFGS / L-BFGS-B; one iteration may use several loss evaluations.",
    "Burgers: equal wall-time budgets on one CPU thread instead of a fixed 5000 L-BFGS-B iterations; "
    "the error is measured against the Cole–Hopf reference on the problem's evaluation grid (x × t).",
]


def write_report(out: Path, S: dict[str, dict[str, Any]], *, command: str) -> Path:
    """Write ``out/README.md`` from the experiment summaries ``S`` (as stored in their HDF5 files)."""
    rows, notes = _rows(S)
    notes += _context_notes(S)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes = sorted({str(s.get("size", "?")) for s in S.values()})
    L = [
        "# Reproducing Taylor et al. (2022) with pinnlma",
        "",
        f"Paper: {PAPER}.",
        "",
        f"Generated by the code (`pinnlma/reproduce/taylor2022/`) from the measured data (the HDF5 files here) "
        f"on {now}; do not edit by hand. Size of the runs: **{', '.join(sizes)}**.",
    ]
    if sizes != ["full"]:
        L += [
            "",
            f"> These are the **{', '.join(sizes)}** sizes, not the full reproduction: fewer iterations, "
            "smaller budgets, so the numbers are indicative only.",
        ]
    L += [
        "",
        "## The paper's statements and ours",
        "",
        "| statement | paper | this reproduction (median [min – max] over seeds) | verdict |",
        "|---|---|---|---|",
    ]
    L += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    L += ["", "## Where we differ from the paper, and why", ""]
    L += [f"- {n}" for n in notes + PROTOCOL]
    L += _sections(S)
    commands = list(dict.fromkeys(str(s.get("command") or command) for s in S.values())) or [command]
    L += [
        "",
        "## Commands",
        "",
        "```bash",
        *commands,
        "```",
        "",
        "Every experiment can be rerun on its own: `pinnlma reproduce taylor2022 --only sinc,sweep` (the README "
        "is then rebuilt from the stored HDF5 files of the others; `--report-only` just rebuilds it).",
        "",
        "## Machine, versions, seeds and run times",
        "",
    ]
    stored = [s["machine"] for s in S.values() if s.get("machine")]
    m = stored[-1] if stored else machine_info()
    load = (
        f"load average when the last experiment finished {m['load_average']}"
        if stored
        else f"load average when this report was written {m['load_average']}"
    )
    v = versions()
    L += [
        f"- machine: {m['cpu']}, {m['cpu_count']} CPUs, torch threads {m['torch_threads']}, "
        f"{(m['memory_bytes'] or 0) / 2**30:.1f} GiB, {m['platform']}, BLAS {m['blas']}, {load}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val),
        f"- run time of the experiments: {sum(float(s.get('seconds') or 0) for s in S.values()):.0f} s in all",
    ]
    for name, s in S.items():
        seeds = s.get("seeds")
        when = f", finished {s['finished']}" if s.get("finished") else ""
        L.append(
            f"- {name}: {s.get('seconds', math.nan):.0f} s"
            + (f", seeds {', '.join(map(str, seeds))}" if seeds else "")
            + when
        )
    path = out / "README.md"
    path.write_text("\n".join(L) + "\n", encoding="utf-8")
    return path


def _context_notes(S: dict[str, dict[str, Any]]) -> list[str]:
    """Notes on how the runs were made (seeds, machine load) and on the sweep's trend."""
    notes = []
    sweep, burg = S.get("sweep"), S.get("burgers")
    if sweep and len(sweep["models"]) > 1:
        first, best = sweep["models"][0], sweep["best"]
        gain = _med(first["final_mse"]) / best["mse"]
        notes.append(
            f"Adam's MSE does improve with size — from {fmt(_med(first['final_mse']))} ({first['arch']}) to "
            f"{fmt(best['mse'])} ({best['arch']}, {best['ratio']:.0f}× the parameters), a factor {gain:.0f} — "
            f"but stays {best['mse'] / sweep['lm_target']:.0f}× above LM's small network."
        )
    if burg and len(burg["seeds"]) == 1:
        notes.append(
            f"Burgers ran one seed ({burg['seeds'][0]}): three optimizers × {burg['budget_s']:g} s of "
            "optimizer time (about twice that in wall time, with the error evaluations) is what the "
            "full run's time allowed; no spread is reported there."
        )
    loads = [
        s["machine"]["load_average"][0] for s in S.values() if s.get("machine") and s["machine"].get("load_average")
    ]
    if loads and max(loads) > 1.5:
        notes.append(
            f"The 2-CPU machine was shared with another job (1-minute load average up to {max(loads):.1f} "
            "when experiments finished): all runs used one thread, but absolute times are slower than on an "
            "idle machine and the time-budgeted Burgers runs got correspondingly fewer iterations."
        )
    return notes


def _sections(S: dict[str, dict[str, Any]]) -> list[str]:
    L: list[str] = []
    if "sinc" in S:
        s = S["sinc"]
        L += [
            "",
            "## 1. sinc(10x): optimizer comparison",
            "",
            f"{s['points']} points on [−1, 1], 1–20–1 tanh ({s['n_params']} parameters), Adam lr {s['adam_lr']}, "
            f"seeds {', '.join(map(str, s['seeds']))}. Data: `sinc.h5`.",
            "",
            "| optimizer | iterations | final MSE | MSE at 100 | MSE at 200 | lobe rel. error | tail rel. error "
            "| optimizer time [s] |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for n in ("lm", "adam", "bfgs", "lbfgs"):
            o = s["optimizers"][n]
            L.append(
                f"| {LABELS[n]} | {o['iterations']} | {_sp(o['final_mse'])} | {_sp(o['mse_at_iteration'].get('100'))} "
                f"| {_sp(o['mse_at_iteration'].get('200'))} | {_sp(o['rel_err_lobe'])} | {_sp(o['rel_err_tails'])} "
                f"| {_med(o['optimizer_s']):.1f} |"
            )
        L += [""] + [f"![{f}]({f})" for f in s.get("figures", [])]
    if "minibatch" in S:
        s = S["minibatch"]
        L += [
            "",
            "## 1b. sinc(10x) under the paper lineage's protocol",
            "",
            f"{s['points']} points, mini-batches of {s['batch']} reshuffled every epoch, Glorot-uniform weights and "
            f"zero biases, Adam (torch.optim.Adam, lr {s['adam_lr']}) for {s['epochs']['adam']} epochs, LM "
            f"(pinnlma.LevenbergMarquardt stepping on each batch) for {s['epochs']['lm']} epochs, seeds "
            f"{', '.join(map(str, s['seeds']))}. Data: `minibatch.h5`.",
            "",
            "| optimizer | epochs | final MSE (all points) | MSE after 10 epochs | MSE after 100 epochs | time [s] |",
            "|---|---|---|---|---|---|",
        ]
        for n in ("lm", "adam"):
            o = s["optimizers"][n]
            L.append(
                f"| {LABELS[n]} | {s['epochs'][n]} | {_sp(o['final_mse'])} | {_sp(o['mse_at_epoch'].get('10'))} | "
                f"{_sp(o['mse_at_epoch'].get('100'))} | {_med(o['optimizer_s']):.1f} |"
            )
        L += [""] + [f"![{f}]({f})" for f in s.get("figures", [])]
    if "sweep" in S:
        s = S["sweep"]
        L += [
            "",
            "## 2. Adam model-size sweep",
            "",
            f"Adam, lr {s['lr']}, {s['steps']} full-batch epochs, seeds {', '.join(map(str, s['seeds']))}; "
            f"target: LM's median MSE {fmt(s['lm_target'])} on 1–20–1. Data: `sweep.h5`.",
            "",
            "| network | parameters | × 1–20–1 | Adam final MSE | optimizer time [s] |",
            "|---|---|---|---|---|",
        ]
        for r in s["models"]:
            L.append(
                f"| {r['arch']} | {r['n_params']} | {r['ratio']:.1f} | {_sp(r['final_mse'])} | "
                f"{_med(r['optimizer_s']):.1f} |"
            )
        L += [""] + [f"![{f}]({f})" for f in s.get("figures", [])]
    if "burgers" in S:
        s = S["burgers"]
        L += [
            "",
            "## 3. Burgers PINN",
            "",
            f"ν = {s['nu']:.6g}, {s['interior']} interior, {s['boundary']} initial and {s['boundary']} boundary points, "
            f"2–{'–'.join(map(str, s['widths']))}–1 tanh ({s['n_params']} parameters, {s['n_residuals']} residuals), "
            f"{s['budget_s']:g} s of optimizer time per optimizer, seeds {', '.join(map(str, s['seeds']))}. "
            "Data: `burgers.h5`.",
            "",
            "| optimizer | iterations | final loss | rel. L2 error |",
            "|---|---|---|---|",
        ]
        for n in ("lm", "lbfgs", "adam"):
            o = s["optimizers"][n]
            L.append(
                f"| {LABELS[n]} | {_med(o['iterations']):.0f} | {_sp(o['final_loss'])} | {_sp(o['final_rel_l2'])} |"
            )
        L += [""] + [f"![{f}]({f})" for f in s.get("figures", [])]
    if "jacobian" in S:
        s = S["jacobian"]
        res = s["results"]
        L += [
            "",
            "## 4. Jacobian strategies",
            "",
            f"DNN 1–{'–'.join(map(str, s['widths']))}–1 tanh ({s['n_params']} parameters); time = median of "
            f"{s['repeats']} calls of `JacobianEngine.full`; memory = growth of the peak resident set over the first "
            "call, each (strategy, m) in a freshly forked process after a warm-up on 16 rows (includes J itself, "
            "m·n·8 bytes). Data: `jacobian.h5`.",
            "",
            "| m | "
            + " | ".join(f"{k} [ms]" for k in res)
            + " | "
            + " | ".join(f"{k} [MiB]" for k in res)
            + " | auto chose |",
            "|---" * (2 * len(res) + 2) + "|",
        ]
        for m in s["batches"]:
            cells, mem = [], []
            for r in res.values():
                i = r["batch"].index(m) if m in r["batch"] else None
                cells.append("–" if i is None else f"{r['seconds'][i] * 1e3:.1f}")
                peak = None if i is None else r["peak_bytes"][i]
                mem.append("–" if peak is None or not math.isfinite(peak) else f"{peak / 2**20:.1f}")
            L.append(f"| {m} | " + " | ".join(cells) + " | " + " | ".join(mem) + f" | {s['auto_choice'][str(m)]} |")
        L += [""] + [f"![{f}]({f})" for f in s.get("figures", [])]
    return L
