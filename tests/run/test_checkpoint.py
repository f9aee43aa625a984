"""Checkpoints restore any optimizer state through the owners' public state dicts: a damping rule written
here, with state of its own, resumes bit for bit through the HDF5 run file with no edit in pinnlma.run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pinnlma.lm import Damping
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_assembler
from pinnlma.run import RunConfig, read_run, solve
from pinnlma.run.trees import from_storable, json_safe, to_storable


class Remembering(Damping):
    """λ ← λ·(0.5 + the mean of the last gain ratios), λ ← 4λ on failure; its memory is a tensor, a list,
    a counter and a flag, none of which any code in pinnlma knows about."""

    def __init__(self) -> None:
        super().__init__("marquardt", 1e-2, 1e16)
        self.memory = torch.zeros(3, dtype=torch.float64)
        self.ratios: list[float] = []
        self.failures = 0
        self.warm = False

    def accept(self, rho: float) -> None:
        self.ratios.append(rho)
        self.memory = torch.roll(self.memory, 1)
        self.memory[0] = rho
        self.warm = len(self.ratios) > 2
        self.lam *= 0.5 + 0.5 * float(self.memory.mean()) if self.warm else 0.5

    def reject(self) -> None:
        self.failures += 1
        self.lam *= 4.0

    def extra_state(self) -> dict[str, Any]:
        return {
            "memory": self.memory.clone(),
            "ratios": list(self.ratios),
            "failures": self.failures,
            "warm": self.warm,
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.memory = torch.as_tensor(state["memory"], dtype=torch.float64).clone()
        self.ratios = [float(r) for r in state["ratios"]]
        self.failures, self.warm = int(state["failures"]), bool(state["warm"])


def test_a_custom_damping_rule_resumes_bit_for_bit_through_the_run_file(tmp_path: Path) -> None:
    problem = apply_options(load_problem("burgers"), quick=True)
    straight = solve(problem, RunConfig(damping=Remembering(), iters=6), progress=False)
    part = tmp_path / "part.h5"
    solve(problem, RunConfig(damping=Remembering(), iters=3), out=part, progress=False)
    saved = read_run(part).resume["optimizer"]["damping"]
    assert set(saved) >= {"lam", "scaling", "memory", "ratios", "failures", "warm"}
    resumed = solve(problem, RunConfig(damping=Remembering(), iters=6), resume=part, out=part, progress=False)
    assert np.array_equal(straight.theta.numpy(), resumed.theta.numpy())
    assert np.array_equal(straight.record.history["damping"], resumed.record.history["damping"], equal_nan=True)
    assert resumed.record.attrs["iterations"] == 6


def test_a_resume_with_another_damping_rule_is_refused(tmp_path: Path) -> None:
    problem = apply_options(load_problem("burgers"), quick=True)
    part = tmp_path / "part.h5"
    solve(problem, RunConfig(damping=Remembering(), iters=1), out=part, progress=False)
    try:
        solve(problem, RunConfig(damping="nielsen", iters=2), resume=part, out=part, progress=False)
    except ValueError as err:
        assert "Remembering" in str(err) and "nielsen" in str(err)
    else:
        raise AssertionError("a resume with another damping rule went through")


def test_storable_trees_come_back_typed_after_a_template() -> None:
    live = {
        "x": torch.arange(3.0),
        "n": 4,
        "f": 0.5,
        "ok": True,
        "name": "a",
        "none": None,
        "hist": [1.0, 2.0],
        "pair": (torch.ones(2), "b"),
        "nested": {"t": torch.zeros(1, dtype=torch.float32)},
    }
    stored = to_storable(live)
    assert isinstance(stored["x"], np.ndarray) and isinstance(stored["hist"], np.ndarray)
    back = from_storable(stored, live)
    assert torch.equal(back["x"], live["x"]) and back["nested"]["t"].dtype == torch.float32
    assert back["hist"] == [1.0, 2.0] and isinstance(back["pair"], tuple) and back["pair"][1] == "b"
    assert (back["n"], back["f"], back["ok"], back["name"], back["none"]) == (4, 0.5, True, "a", None)
    # without a template: arrays become tensors, numpy scalars Python numbers
    loose = from_storable({"m": np.ones(2), "k": np.int64(3)})
    assert isinstance(loose["m"], Tensor) and loose["k"] == 3 and type(loose["k"]) is int
    assert json_safe({"a": float("nan"), "b": np.float32(1.5), "c": (1, 2)}) == {"a": None, "b": 1.5, "c": [1, 2]}


def test_the_assembler_state_restores_points_and_sampler() -> None:
    problem = apply_options(load_problem("burgers"), quick=True).with_options(resample_every=1)
    one, two = build_assembler(problem, seed=1), build_assembler(problem, seed=2)
    two.load_state_dict(from_storable(to_storable(one.state_dict()), two.state_dict()))
    theta = one.initial_parameters()
    assert torch.equal(one.residual(theta), two.residual(theta))
    one.sample()
    two.sample()  # the sampler continues where the saved one stopped
    assert torch.equal(one.residual(theta), two.residual(theta))
    state = one.state_dict()
    state["points"]["pde"]["group0"] = state["points"]["pde"]["group0"][:5]
    try:
        two.load_state_dict(state)
    except ValueError as err:
        assert "pde" in str(err)
    else:
        raise AssertionError("points of the wrong shape were accepted")
