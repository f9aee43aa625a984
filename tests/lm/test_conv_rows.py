"""The exact one-backward-pass Jacobian rows for networks of Linear and convolution layers
(pinnlma.lm.conv_rows) equal vmap(jacrev) of the residual at 1e-12 in float64, layer type by layer type;
what it cannot cover falls back to the generic rows, saying why."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

import pinnlma
from pinnlma.lm.conv_rows import LayerRowJacobian, unsupported

DT = torch.float64


def _reference(net: nn.Module, residual, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """vmap over rows of jacrev of the one-row residual, with the parameters as one flat vector."""
    params = {k: v.detach() for k, v in net.named_parameters()}
    flat = torch.cat([v.reshape(-1) for v in params.values()])

    def one_row(theta: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        chunks, start = {}, 0
        for name, v in params.items():
            chunks[name] = theta[start:start + v.numel()].view_as(v)
            start += v.numel()
        return residual(functional_call(net, chunks, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    return vmap(jacrev(one_row), in_dims=(None, 0, 0))(flat, x, y).reshape(-1, flat.numel())


def _check(net: nn.Module, x: torch.Tensor, classes: int | None = None, seed: int = 0) -> pinnlma.LevenbergMarquardt:
    net = net.to(DT)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        out = net(x)
    if classes is not None:
        y = torch.randint(0, classes, (x.shape[0],), generator=g)
        loss = pinnlma.losses.CrossEntropy()
    else:
        y = torch.randn(out.shape, generator=g, dtype=DT)
        loss = pinnlma.losses.MSE()
    lm = pinnlma.LevenbergMarquardt(net, loss=loss, memory_budget=4 * 8 * 2000 * 16)  # slices of >= 16 rows
    assert lm.engine.row_jacobian is not None, lm.row_jacobian_note
    lm.step(x, y)
    r, jac = lm.engine.full(lm.core.state.x)
    assert lm.engine.row_jacobian is not None, lm.row_jacobian_note  # served every slice, passed the check
    reference = _reference(net, loss.residuals, x, y)
    assert jac.shape == reference.shape
    assert torch.allclose(jac, reference, rtol=1e-12, atol=1e-12 * float(reference.abs().max()))
    return lm


def _images(n: int = 37, c: int = 2, h: int = 9, w: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=DT)


def _with_head(features: list[nn.Module], outputs: int) -> nn.Sequential:
    """``features`` followed by a Linear layer sized to their output on the test images."""
    body = nn.Sequential(*features).to(DT)
    with torch.no_grad():
        width = body(_images()[:1]).shape[1]
    return nn.Sequential(*features, nn.Linear(width, outputs)).to(DT)


def _signal(n: int = 37, c: int = 3, length: int = 17, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, c, length, generator=torch.Generator().manual_seed(seed), dtype=DT)


@pytest.mark.parametrize("conv", [
    dict(kernel_size=3),
    dict(kernel_size=(3, 2), stride=2, padding=1),
    dict(kernel_size=2, dilation=2, padding=(2, 1), bias=False),
    dict(kernel_size=3, padding="same"),
    dict(kernel_size=(2, 4), padding="same", dilation=(1, 2)),
    dict(kernel_size=3, padding="valid", groups=2),
])
def test_conv2d_rows(conv: dict) -> None:
    torch.manual_seed(0)
    _check(_with_head([nn.Conv2d(2, 4, **conv), nn.Tanh(), nn.Flatten()], 3), _images())


@pytest.mark.parametrize("conv", [
    dict(kernel_size=3),
    dict(kernel_size=4, stride=3, padding=2, dilation=2),
    dict(kernel_size=4, padding="same"),
    dict(kernel_size=1, groups=3, bias=False),
])
def test_conv1d_rows(conv: dict) -> None:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv1d(3, 6, **conv), nn.Softplus(), nn.AdaptiveAvgPool1d(4), nn.Flatten(),
                        nn.Linear(24, 2))
    _check(net, _signal())


@pytest.mark.parametrize("pool", [nn.MaxPool2d(2), nn.AvgPool2d(2, stride=1), nn.MaxPool2d(3, stride=2, padding=1),
                                  nn.AdaptiveMaxPool2d((2, 3)), nn.AdaptiveAvgPool2d(1), nn.LPPool2d(2, 2)])
def test_pooling_between_convolutions(pool: nn.Module) -> None:
    torch.manual_seed(2)
    net = _with_head([nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), pool, nn.Conv2d(3, 4, 1), nn.GELU(), nn.Flatten()], 5)
    _check(net, _images(), classes=5)


@pytest.mark.parametrize("act", [nn.Tanh(), nn.ReLU(), nn.Sigmoid(), nn.GELU(), nn.GELU("tanh"), nn.Softplus(),
                                 nn.SiLU(), nn.ELU(), nn.LeakyReLU(0.1), nn.Mish(), nn.Hardtanh()])
def test_activations(act: nn.Module) -> None:
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv1d(3, 4, 3), act, nn.MaxPool1d(2), nn.Flatten(), nn.Linear(28, 6), act,
                        nn.Linear(6, 4))
    _check(net, _signal(), classes=4)


def test_linear_on_sequences_and_several_outputs_per_row() -> None:
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(17, 5), nn.Tanh(), nn.Flatten(), nn.Linear(15, 4))  # Linear on (rows, 3, 17)
    lm = _check(net, _signal())
    assert lm.core.m == 37 * 4  # MSE: four residuals per row, all from the exact path


def test_cnn_in_eval_mode_with_dropout_and_unflatten() -> None:
    torch.manual_seed(5)
    net = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (2, 72)), nn.Conv1d(2, 3, 5, stride=2), nn.Dropout(0.3),
                        nn.Tanh(), nn.Flatten(), nn.Linear(102, 3)).eval()
    _check(net, _images())


class _TwoBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.skip = nn.Linear(144, 3)
        self.head = nn.Linear(3 * 7 * 6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.conv(x)).flatten(1)) + self.skip(x.flatten(1))


def test_a_branched_model_is_covered() -> None:
    torch.manual_seed(6)
    _check(_TwoBranch(), _images())


def test_uncovered_layers_fall_back_to_vmap_rows_with_a_note() -> None:
    torch.manual_seed(7)
    x, y = _images(), torch.randint(0, 3, (37,))
    batchnorm = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Tanh(), nn.Flatten(),
                              nn.Linear(126, 3)).to(DT).eval()
    lm = pinnlma.LevenbergMarquardt(batchnorm, loss="cross_entropy")
    assert lm.engine.row_jacobian is None
    assert "BatchNorm2d" in lm.row_jacobian_note and "generic vmap(jacrev)" in lm.row_jacobian_note
    lm.step(x, y)  # the generic rows still train it
    circular = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"), nn.Flatten(),
                             nn.Linear(216, 3)).to(DT)
    assert "padding_mode='circular'" in unsupported(circular)
    # a convolution applied twice: caught on the first slice, the generic path takes over
    conv = nn.Conv2d(2, 2, 3, padding=1).to(DT)
    twice = nn.Sequential(conv, nn.Tanh(), conv, nn.Flatten(), nn.Linear(144, 3)).to(DT)
    lm = pinnlma.LevenbergMarquardt(twice, loss="cross_entropy")
    assert lm.engine.row_jacobian is not None
    lm.step(x, y)
    assert lm.engine.row_jacobian is None and "more than once" in lm.row_jacobian_note


def test_batch_statistics_are_caught_by_the_one_time_check() -> None:
    """Rows that mix through a parameter-free op (here: centring by the batch mean) cannot be seen in the
    layer shapes; the one-time comparison with vmap(jacrev) catches it."""
    torch.manual_seed(8)

    class Centred(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(3, 2, 3)
            self.out = nn.Linear(30, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.conv(x)
            return self.out((z - z.mean(0, keepdim=True)).flatten(1))

    net = Centred().to(DT)
    fast = LayerRowJacobian.for_model(net, [n for n, _ in net.named_parameters()], lambda t, a: a)
    assert fast is not None  # the layers are covered ...
    lm = pinnlma.LevenbergMarquardt(net, lambda m, a, b: (m(a) - b).reshape(-1), rowwise=True)
    with pytest.raises(ValueError, match="does not reproduce r"):
        lm.step(_signal(), torch.zeros(37, 1, dtype=DT))
    assert lm.engine.row_jacobian is None  # ... but the rows disagree, so the shortcut is dropped
