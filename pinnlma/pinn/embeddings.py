"""Input embeddings: a fixed feature layer φ(x) in front of the MLP, with its derivative channels ∂^α φ.

The registry :data:`EMBEDDINGS` holds the kinds; a problem turns them on in its model settings,
``model={"embedding": {"periodic": {"x": 1}, "fourier": {"features": 32, "scale": 2.0}}}``, and the
command line with ``--embedding periodic=x:1,fourier=32:2.0`` (``--embedding none`` for none).

Every coordinate enters φ once: a periodic one as harmonics, any other affinely scaled onto [−1, 1],

- **periodic** (period P = hi − lo of the domain's bounding box, ω = 2π/P, harmonics j = 1..K):
  ``cos(jω(x − lo)), sin(jω(x − lo))``, so u(x + P) = u(x) with all derivatives holds by construction
  and the problem's :class:`~pinnlma.pinn.conditions.Periodic` blocks along x leave the residual.
  Derivatives: ∂ᵈ/∂xᵈ cos(jωx) = (jω)ᵈ cos(jωx + dπ/2) (the same for sin); mixed ones vanish.
- **even** (a periodic coordinate whose solution is known to be mirror-symmetric): only the cosines
  ``cos(jω(x − lo))``, so u(lo + s) = u(lo − s) (and, with the period, u(c + s) = u(c − s) about the
  midpoint c = lo + P/2) holds by construction. The network then represents one half-period, and every
  collocation point at x also counts for its mirror image, so the same points are twice as dense
  (``even=x``). The price: cos is stationary on the mirror lines, so a feature of width w there becomes one
  of width ~w² in φ; on Allen–Cahn (a corner at the seam) and Schrödinger (the peak at x = 0) that loses
  (measured in docs/problems.md).
- **affine** (every other coordinate): x̂ = s(x − lo) − 1, s = 2/(hi − lo); ∂x̂/∂x = s, higher ones 0;
- **fourier** (random Fourier features, Tancik et al. 2020; Wang, Wang & Perdikaris 2021,
  arXiv:2012.10047): ``sin(x̂·B), cos(x̂·B)`` on the non-periodic coordinates (so periodicity is kept), B
  of shape (coordinates, M) with entries N(0, σ²) drawn from ``seed``;
  ∂^α sin(x̂·B)_m = Π_{a∈α} (B_am s_a) · sin(x̂·B_m + |α|π/2), and the same with cos.

The channel path (:mod:`pinnlma.pinn.channels`) takes ∂^α φ as the first layer's input channels; the rest of
the exact per-point Jacobian is unchanged because φ has no parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["EMBEDDINGS", "EmbeddingKind", "FeatureMap", "embedding_settings", "parse_embedding"]


def _parse_periodic(text: str) -> dict[str, int]:
    """ "x" or "x:2" or "x:2;y" → {name: harmonics}."""
    out: dict[str, int] = {}
    for item in text.split(";"):
        name, _, k = item.strip().partition(":")
        if not name:
            raise ValueError(f"periodic embedding {text!r}: give a coordinate name, e.g. periodic=x or periodic=x:2")
        out[name] = int(k) if k else 1
    return out


def _parse_even(text: str) -> list[str]:
    """ "x" or "x;y" → [names]."""
    names = [item.strip() for item in text.split(";")]
    if not all(names):
        raise ValueError(f"even embedding {text!r}: give periodic coordinate names, e.g. even=x")
    return names


def _parse_fourier(text: str) -> dict[str, Any]:
    """ "M:SIGMA" or "M:SIGMA:SEED" → {features, scale, seed}."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"fourier embedding {text!r}: give FEATURES:SCALE[:SEED], e.g. fourier=32:2.0")
    out: dict[str, Any] = {"features": int(parts[0]), "scale": float(parts[1])}
    if len(parts) == 3:
        out["seed"] = int(parts[2])
    return out


@dataclass(frozen=True)
class EmbeddingKind:
    """One embedding kind: what it does, and how the command line's ``KIND=TEXT`` becomes its settings."""

    summary: str
    parse: Callable[[str], Any]


EMBEDDINGS: dict[str, EmbeddingKind] = {
    "periodic": EmbeddingKind("exact periodic harmonics for a coordinate: periodic=x or periodic=x:K", _parse_periodic),
    "even": EmbeddingKind(
        "keep only the cosine harmonics of periodic coordinates (a mirror-symmetric solution): even=x", _parse_even
    ),
    "fourier": EmbeddingKind(
        "random Fourier features of the other coordinates: fourier=M:SIGMA[:SEED]", _parse_fourier
    ),
}
"""Embedding kind → its description and command-line parser (the ``--embedding`` choices)."""


def parse_embedding(text: str) -> dict[str, Any]:
    """``--embedding`` text → model settings: "none" → {}, "periodic=x:1,fourier=32:2.0" → {"periodic":
    {"x": 1}, "fourier": {"features": 32, "scale": 2.0}}. ValueError naming the kinds for anything else."""
    if text.strip() == "none":
        return {}
    out: dict[str, Any] = {}
    for item in text.split(","):
        kind, eq, value = item.strip().partition("=")
        if kind not in EMBEDDINGS or not eq:
            raise ValueError(
                f"unknown embedding {item.strip()!r}; use KIND=SETTINGS with KIND one of {', '.join(EMBEDDINGS)} "
                "(e.g. periodic=x:1,fourier=32:2.0), or none"
            )
        try:
            out[kind] = EMBEDDINGS[kind].parse(value)
        except ValueError as err:
            raise ValueError(f"--embedding {item.strip()!r}: {err}") from None
    return out


def embedding_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The embedding settings checked against :data:`EMBEDDINGS` (ValueError for an unknown kind)."""
    settings = dict(settings or {})
    unknown = set(settings) - set(EMBEDDINGS)
    if unknown:
        raise ValueError(f"unknown embedding kinds {sorted(unknown)}; choose from {', '.join(EMBEDDINGS)}")
    return settings


class FeatureMap(nn.Module):
    """φ(x): the periodic, affine and Fourier features of :mod:`pinnlma.pinn.embeddings`, and ∂^α φ.

    ``bounds`` (lo, hi) per coordinate and ``names`` from the domain; ``periodic`` name → harmonics K;
    ``even`` names of periodic coordinates that keep only their cosines; ``fourier`` {"features": M,
    "scale": σ, "seed": 0}. ValueError for unknown names, an even coordinate that is not periodic, or bad numbers.
    """

    fourier_matrix: Tensor

    def __init__(
        self,
        bounds: Sequence[tuple[float, float]],
        names: Sequence[str],
        periodic: Mapping[str, int] | None = None,
        fourier: Mapping[str, Any] | None = None,
        dtype: torch.dtype = torch.float64,
        even: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.names = tuple(names)
        self.bounds = [(float(lo), float(hi)) for lo, hi in bounds]
        if len(self.bounds) != len(self.names) or any(hi <= lo for lo, hi in self.bounds):
            raise ValueError(f"FeatureMap needs one (lo, hi) pair with hi > lo per coordinate {self.names}")
        periodic = dict(periodic or {})
        unknown = set(periodic) - set(self.names)
        if unknown:
            raise ValueError(f"periodic embedding of {sorted(unknown)}: the coordinates are {', '.join(self.names)}")
        if any(int(k) < 1 for k in periodic.values()):
            raise ValueError(f"periodic embedding needs at least 1 harmonic per coordinate, got {periodic}")
        self.harmonics = {self.names.index(n): int(k) for n, k in periodic.items()}
        if isinstance(even, str):
            even = [even]
        even_names = set(even or ())
        if not even_names <= set(periodic):
            raise ValueError(
                f"even embedding of {sorted(even_names - set(periodic))}: only a periodic coordinate can be even; "
                f"add it to the periodic embedding (periodic=NAME) or drop it from even"
            )
        self.even = {self.names.index(n) for n in even_names}
        self.plain = [k for k in range(len(self.names)) if k not in self.harmonics]
        self.fourier = dict(fourier or {})
        n_fourier = 0
        matrix = torch.zeros(len(self.plain), 0, dtype=dtype)
        if fourier is not None:
            unknown = set(self.fourier) - {"features", "scale", "seed"}
            n_fourier, scale = int(self.fourier.get("features", 0)), float(self.fourier.get("scale", 0.0))
            if unknown or n_fourier < 1 or not scale > 0 or not self.plain:
                raise ValueError(
                    "fourier embedding needs features >= 1, scale > 0 (optional seed) and a non-periodic "
                    f"coordinate, got {self.fourier}"
                )
            generator = torch.Generator().manual_seed(int(self.fourier.get("seed", 0)))
            matrix = torch.randn(len(self.plain), n_fourier, generator=generator, dtype=torch.float64).to(dtype) * scale
        self.register_buffer("fourier_matrix", matrix)
        self.n_features = sum(self._width(k) for k in range(len(self.names))) + 2 * n_fourier

    def _width(self, k: int) -> int:
        """How many features coordinate k gives: 2K harmonics (K when even), or 1 scaled copy."""
        if k not in self.harmonics:
            return 1
        return self.harmonics[k] * (1 if k in self.even else 2)

    @property
    def periodic_names(self) -> tuple[str, ...]:
        """The coordinates that are periodic by construction."""
        return tuple(self.names[k] for k in sorted(self.harmonics))

    def period(self, name: str) -> float:
        """The period of a periodic coordinate (hi − lo of its bounds)."""
        lo, hi = self.bounds[self.names.index(name)]
        return hi - lo

    def _scaled(self, x: Tensor, k: int) -> Tensor:
        lo, hi = self.bounds[k]
        return (x[:, k] - lo) * (2.0 / (hi - lo)) - 1.0

    def forward(self, x: Tensor) -> Tensor:
        """φ(x), (N, n_features)."""
        return self.channel(x, ())

    def channel(self, x: Tensor, alpha: tuple[int, ...]) -> Tensor:
        """∂^α φ(x), (N, n_features); α a sorted multi-index of coordinate indices."""
        order, cols = len(alpha), []
        shift = order * math.pi / 2
        for k in range(len(self.names)):
            lo, hi = self.bounds[k]
            if k in self.harmonics:
                freq = torch.arange(1, self.harmonics[k] + 1, dtype=x.dtype, device=x.device) * (
                    2 * math.pi / (hi - lo)
                )
                if any(a != k for a in alpha):
                    cols.append(torch.zeros_like(x[:, :1]).expand(-1, self._width(k)).clone())
                    continue
                arg = (x[:, k : k + 1] - lo) * freq
                fac = freq**order
                cols.append(fac * torch.cos(arg + shift))
                if k not in self.even:
                    cols.append(fac * torch.sin(arg + shift))
            elif order == 0:
                cols.append(self._scaled(x, k).unsqueeze(1))
            elif alpha == (k,):
                cols.append(torch.full_like(x[:, :1], 2.0 / (hi - lo)))
            else:
                cols.append(torch.zeros_like(x[:, :1]))
        if self.fourier_matrix.shape[1]:
            matrix = self.fourier_matrix.to(x)
            scaled = torch.stack([self._scaled(x, k) for k in self.plain], 1)
            arg = scaled @ matrix
            fac = torch.ones_like(matrix[0])
            for a in alpha:
                if a in self.harmonics:
                    fac = fac * 0.0
                else:
                    lo, hi = self.bounds[a]
                    fac = fac * matrix[self.plain.index(a)] * (2.0 / (hi - lo))
            cols += [fac * torch.sin(arg + shift), fac * torch.cos(arg + shift)]
        return torch.cat(cols, 1)
