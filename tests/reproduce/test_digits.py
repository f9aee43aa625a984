"""`pinnlma reproduce digits` in its test size: every optimizer trains, the files and the README are
written from the stored results, and the exact CNN Jacobian rows equal vmap(jacrev)."""
from __future__ import annotations

import h5py
import pytest

from pinnlma.cli import main
from pinnlma.reproduce.store import read_summary

pytest.importorskip("sklearn")


def test_reproduce_digits_tiny_writes_results_and_report(tmp_path, capsys) -> None:
    out = tmp_path / "digits"
    assert main(["reproduce", "digits", "--tiny", "--out", str(out)]) == 0
    training, jacobian = read_summary(out / "training.h5"), read_summary(out / "jacobian.h5")
    assert set(training["optimizers"]) == {"lm", "lm_nielsen", "lm_growth", "tlm", "adam"}  # tlm is installed by setup-full
    for name, o in training["optimizers"].items():
        assert 0.0 <= o["final_accuracy"]["median"] <= 1.0
        assert o["optimizer_s"]["median"] > 0
    # LM learns in two epochs what Adam (three epochs at its learning rate) does not: far above chance (10 %)
    assert training["optimizers"]["lm"]["final_accuracy"]["median"] > 0.5
    assert training["jacobian_path"].startswith("exact rows")
    with h5py.File(out / "training.h5") as fh:
        curve = fh["lm_growth/seed0/batch_size"][()]
        assert curve[0] == 32 and (curve[1:] >= 32).all()
        assert len(fh["adam/seed0/test_accuracy"][()]) == 4  # the start and three epochs
    for loss in ("cross_entropy", "mse"):
        r = jacobian["results"][loss]["32"]
        assert r["max_diff"] <= 1e-12 and r["exact_s"] > 0 and r["vmap_s"] > 0
    assert jacobian["results"]["mse"]["32"]["residuals_per_image"] == 10
    readme = (out / "README.md").read_text()
    lm_accuracy = f"{100 * training['optimizers']['lm']['final_accuracy']['median']:.2f} %"
    assert lm_accuracy in readme and "torch-levenberg-marquardt" in readme and "vmap(jacrev)" in readme
    assert (out / "digits_accuracy.png").stat().st_size > 10_000
    # the README is rebuilt from the stored files alone
    (out / "README.md").unlink()
    assert main(["reproduce", "digits", "--report-only", "--out", str(out)]) == 0
    assert lm_accuracy in (out / "README.md").read_text()
    assert main(["reproduce", "digits", "--tiny", "--only", "weights", "--out", str(out)]) == 2
    assert "unknown experiment(s) weights" in capsys.readouterr().err


def test_tlm_loads_again_in_the_same_process() -> None:
    """The bench and the digits reproduction both load tlm; a second load returns the same modules."""
    from pinnlma.peers import load_tlm

    first, again = load_tlm(), load_tlm()
    assert again.training.LevenbergMarquardtModule is first.training.LevenbergMarquardtModule
