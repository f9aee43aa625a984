"""pinnlma.fit: mini-batch LM with checkpoints that resume bit for bit, the batch-growth schedule,
validation metrics and the step scale."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import pinnlma
from pinnlma.learn import BatchGrowth, BatchLoader, accuracy


def _classes(n: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 6, generator=g, dtype=torch.float64)
    y = (x[:, 0, :3].sum(1) > x[:, 0, 3:].sum(1)).long() + (x[:, 0, 0] > 1).long()
    return x, y


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(12, 3)).double()


def _run(loader_factory, checkpoint=None, stop_at: int | None = None, resume: bool = False, epochs: int = 3,
         **kwargs):
    torch.manual_seed(123)  # the global RNG a shuffling DataLoader draws from
    x, y = _classes()
    stop = (lambda step: step.step == stop_at) if stop_at is not None else None
    return pinnlma.fit(_net(), loader_factory(x, y), epochs, loss="cross_entropy", val=_classes(60, seed=1),
                       metrics={"accuracy": accuracy}, checkpoint=checkpoint, resume=resume, callback=stop,
                       **kwargs)


LOADERS = {
    "batchloader": lambda x, y: BatchLoader(x, y, batch_size=32, seed=5),
    "dataloader": lambda x, y: DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True),
    "dataloader_generator": lambda x, y: DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True,
                                                    generator=torch.Generator().manual_seed(9)),
}


@pytest.mark.parametrize("kind", LOADERS)
def test_resume_is_bit_for_bit_the_uninterrupted_run(kind: str, tmp_path) -> None:
    whole = _run(LOADERS[kind])
    ckpt = tmp_path / "fit.pt"
    first = _run(LOADERS[kind], checkpoint=ckpt, stop_at=6)  # mid-epoch 2 (4 batches per epoch)
    assert first.stopped == "callback" and first.steps == 6 and first.epochs == 1
    with pytest.raises(FileExistsError, match="resume=True"):
        _run(LOADERS[kind], checkpoint=ckpt)
    torch.manual_seed(999)  # whatever the RNG does in between: the checkpoint restores it
    rest = pinnlma.fit(_net(seed=7), LOADERS[kind](*_classes()), 3, loss="cross_entropy", val=_classes(60, seed=1),
                       metrics={"accuracy": accuracy}, checkpoint=ckpt, resume=True)
    assert rest.steps == whole.steps == 12 and rest.stopped == "epochs"
    assert torch.equal(rest.lm.params, whole.lm.params)
    assert {k: v for k, v in rest.history.items() if k != "time"} == \
           {k: v for k, v in whole.history.items() if k != "time"}
    assert rest.lm.core.state.history["cost"] == whole.lm.core.state.history["cost"]


def test_resume_continues_to_more_epochs_and_keeps_the_growth_state(tmp_path) -> None:
    growth = lambda: BatchGrowth(max_size=64, min_improvement=0.999)  # noqa: E731 - every epoch stalls
    loader = lambda x, y: BatchLoader(x, y, batch_size=16, seed=2)  # noqa: E731
    whole = _run(loader, epochs=5, batch_growth=growth())
    _run(loader, checkpoint=tmp_path / "g.pt", epochs=3, batch_growth=growth())
    rest = _run(loader, checkpoint=tmp_path / "g.pt", epochs=5, resume=True, batch_growth=growth())
    assert torch.equal(rest.lm.params, whole.lm.params)
    assert rest.history["batch_size"] == whole.history["batch_size"]


def test_batch_growth_doubles_after_a_stall_up_to_the_cap() -> None:
    # an epoch after the first at a size stalls (improvement < 99.9 %): sizes 16, 16, 32, 32, 64, 64 (cap)
    result = _run(lambda x, y: BatchLoader(x, y, batch_size=16, seed=2), epochs=6,
                  batch_growth=BatchGrowth(max_size=64, min_improvement=0.999))
    assert result.history["batch_size"] == [16, 16, 32, 32, 64, 64]
    # no growth while the loss keeps improving enough
    steady = BatchGrowth(max_size=64, min_improvement=0.1)
    assert [steady.after_epoch(16, loss) for loss in (1.0, 0.5, 0.3, 0.2)] == [16, 16, 16, 16]
    assert steady.after_epoch(16, 0.19) == 32  # 5 % < 10 %: stalled
    assert steady.after_epoch(32, 0.19) == 32  # the first epoch at a new size never stalls ...
    assert steady.after_epoch(32, 0.25, hit_ceiling=True) == 64  # ... a damping-ceiling epoch always does
    patient = BatchGrowth(max_size=64, min_improvement=0.1, patience=2)
    assert [patient.after_epoch(8, loss) for loss in (1.0, 0.99, 0.98)] == [8, 8, 16]
    with pytest.raises(ValueError, match="BatchLoader"):
        pinnlma.fit(_net(), DataLoader(TensorDataset(*_classes()), batch_size=8), 1, loss="cross_entropy",
                    batch_growth=BatchGrowth(64))


def test_validation_metrics_and_the_training_loss() -> None:
    result = _run(lambda x, y: BatchLoader(x, y, batch_size=40, shuffle=False), epochs=4)
    xv, yv = _classes(60, seed=1)
    with torch.no_grad():
        out = result.lm.model(xv)
    assert result.history["val_accuracy"][-1] == float((out.argmax(1) == yv).double().mean())
    assert math.isclose(result.history["val_loss"][-1],
                        float(torch.nn.functional.cross_entropy(out, yv)), rel_tol=1e-12)
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert result.history["epoch"] == [1, 2, 3, 4] and result.history["steps"] == [3, 6, 9, 12]
    assert accuracy(torch.tensor([[0.1, 0.9], [2.0, -1.0]]), torch.tensor([[0.0, 1.0], [0.0, 1.0]])) == 0.5


def test_the_step_scale_shortens_the_lm_step() -> None:
    """On a linear least-squares problem the first trial step is accepted, so x₁ − x₀ = η·h."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 4, generator=g, dtype=torch.float64), torch.randn(50, 1, generator=g, dtype=torch.float64)
    steps = {}
    for eta in (1.0, 0.3):
        torch.manual_seed(0)
        net = nn.Linear(4, 1).double()
        x0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
        result = pinnlma.fit(net, [(x, y)], 1, loss="mse", lr=eta)
        steps[eta] = result.lm.params - x0
    assert torch.allclose(steps[0.3], 0.3 * steps[1.0], rtol=1e-12, atol=1e-15)


def test_bad_arguments_are_refused_before_training(tmp_path) -> None:
    x, y = _classes()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        pinnlma.fit(_net(), BatchLoader(x, y, batch_size=8), 1, loss="cross_entropy",
                    checkpoint=tmp_path / "none.pt", resume=True)
    with pytest.raises(ValueError, match="lr"):
        pinnlma.fit(_net(), BatchLoader(x, y, batch_size=8), 1, loss="cross_entropy", lr=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        BatchLoader(x, y, batch_size=0)
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable"):
        pinnlma.fit(_net(), BatchLoader(x, y, batch_size=8), 1, loss="cross_entropy",
                    checkpoint=tmp_path / "junk.pt", resume=True)
