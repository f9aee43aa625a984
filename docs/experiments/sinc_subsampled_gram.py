"""Experiment (not part of the library): LM on the peer-tlm sinc fit (5000 points, 769 parameters, the bench's
initial weights of seed K) with a row-subsampled Gauss–Newton matrix A = (m/s)·J_Sᵀ J_S, S a fresh uniform sample
of s rows each iteration, and the exact gradient Jᵀr (one backward pass over all rows). Nielsen's damping with
Marquardt's running-maximum scaling, τ = 1e-3, as pinnlma's defaults; s = m is plain LM. A standalone prototype on
torch.func (its Jacobian is vmap(jacrev), far slower than pinnlma's rows), so only its step counts carry over;
docs/performance.md quotes them.

    .venv/bin/python docs/experiments/sinc_subsampled_gram.py S1,S2,... [K]
"""

from __future__ import annotations

import math
import sys
import time

import torch
from torch.func import functional_call, jacrev, vmap

from pinnlma.bench import fixtures

torch.set_num_threads(1)
m = fixtures.SINC_POINTS
x, y = fixtures.sinc_data(m)
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
net = fixtures.sinc_network(fixtures.SINC_WIDTHS, seed=seed)
names = [k for k, _ in net.named_parameters()]
shapes = [p.shape for _, p in net.named_parameters()]
sizes = [p.numel() for _, p in net.named_parameters()]
theta0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def unflat(t: torch.Tensor) -> dict[str, torch.Tensor]:
    """Flat parameters → the network's named tensors."""
    return {k: v.reshape(s) for k, v, s in zip(names, torch.split(t, sizes), shapes)}


def f(theta: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """The network at ``xs`` with parameters ``theta``."""
    return functional_call(net, unflat(theta), (xs,)).reshape(-1)


def residual(theta: torch.Tensor) -> torch.Tensor:
    """r with ‖r‖² the MSE."""
    return (f(theta, x) - y.reshape(-1)) / math.sqrt(m)


def jac_rows(theta: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """The rows ``idx`` of J."""

    def one(t: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        return f(t, xi[None])[0]

    return vmap(jacrev(one), in_dims=(None, 0))(theta, x[idx]) / math.sqrt(m)


def run(s: int, budget: float = 120.0, tau: float = 1e-3) -> tuple[int, dict[float, tuple[int, float]], str]:
    """LM with s sampled Gram rows until MSE 1e-6 or the budget; (steps, {target: (steps, seconds)}, end)."""
    gen = torch.Generator().manual_seed(1)
    th = theta0.clone()
    r = residual(th)
    cost = 0.5 * float(r @ r)
    lam, nu, dmax = None, 2.0, None
    steps, t0, reached = 0, time.perf_counter(), {}
    while time.perf_counter() - t0 < budget:
        idx = torch.arange(m) if s >= m else torch.randperm(m, generator=gen)[:s]
        Js = jac_rows(th, idx)
        A = (m / len(idx)) * (Js.T @ Js)
        thr = th.clone().requires_grad_(True)
        rr = residual(thr)
        (g,) = torch.autograd.grad(0.5 * (rr @ rr), thr)
        d = torch.diagonal(A).clone()
        dmax = d if dmax is None else torch.maximum(dmax, d)
        if lam is None:
            lam = tau * float(d.max())
        while True:
            K = A + lam * torch.diag(dmax)
            h = -torch.linalg.solve(K, g)
            rn = residual(th + h)
            new = 0.5 * float(rn @ rn)
            pred = float(-(g @ h) - 0.5 * (h @ (A @ h)))
            rho = (cost - new) / pred if pred > 0 else -1.0
            if rho > 0:
                th, cost = th + h, new
                lam *= max(1 / 3, 1 - (2 * rho - 1) ** 3)
                nu = 2.0
                break
            lam *= nu
            nu *= 2
            if lam > 1e20:
                return steps, reached, "lambda blew up"
        steps += 1
        mse = 2 * cost
        for tgt in (1e-5, 1e-6):
            if mse <= tgt and tgt not in reached:
                reached[tgt] = (steps, time.perf_counter() - t0)
        if mse <= 1e-6:
            break
    return steps, reached, f"mse {2 * cost:.2e}"


for s in [int(a) for a in sys.argv[1].split(",")]:
    steps, reached, end = run(s)
    print(
        f"seed {seed} s={s:5d}: "
        + ", ".join(f"{k:g}: {v[0]} steps {v[1]:.1f} s" for k, v in reached.items())
        + f" | {steps} steps, {end}",
        flush=True,
    )
