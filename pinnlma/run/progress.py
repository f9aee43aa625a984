"""A live one-line progress display for long runs (iteration, loss, blocks, error, damping, time).

Shown on stderr only when it is a terminal (or when forced); silent in pipes, logs and CI.
"""

from __future__ import annotations

import math
import sys
import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text


def _fmt(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.3e}"


def format_metrics(metrics: dict[str, float]) -> str:
    """'it 12 | loss 1.2e-03 (pde 1.0e-03, boundary 2.0e-04) | rel_l2 3.1e-02 | λ 1.0e-03 | 4.2 s'; with
    several outputs the error of each follows by name: 'rel_l2 3.1e-02 (u 2.0e-02, v 4.4e-02)'."""
    blocks = ", ".join(f"{k.split('/', 1)[1]} {_fmt(v)}" for k, v in metrics.items() if k.startswith("loss/"))
    params = ", ".join(f"{k.split('/', 1)[1]}={v:.6g}" for k, v in metrics.items() if k.startswith("param/"))
    parts = [
        f"it {int(metrics.get('iteration', 0))}",
        f"loss {_fmt(metrics.get('loss', math.nan))}" + (f" ({blocks})" if blocks else ""),
    ]
    if math.isfinite(metrics.get("rel_l2", math.nan)):
        outputs = ", ".join(f"{k.split('/', 1)[1]} {_fmt(v)}" for k, v in metrics.items() if k.startswith("rel_l2/"))
        parts.append(f"rel_l2 {_fmt(metrics['rel_l2'])}" + (f" ({outputs})" if outputs else ""))
    if math.isfinite(metrics.get("damping", math.nan)):
        parts.append(f"λ {_fmt(metrics['damping'])}")
    if params:
        parts.append(params)
    parts.append(f"{metrics.get('time', 0.0):.1f} s")
    return " | ".join(parts)


class ProgressDisplay:
    """Context manager; ``update(metrics)`` refreshes the line at most ``refresh`` times a second."""

    def __init__(self, enabled: bool | None = None, title: str = "", refresh: float = 4.0) -> None:
        self.console = Console(stderr=True)
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.title, self.min_interval = title, 1.0 / refresh
        self._live: Live | None = None
        self._last = 0.0
        self._text = ""

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            self._live = Live(Text(self.title), console=self.console, auto_refresh=False, transient=False)
            self._live.__enter__()
        return self

    def update(self, metrics: dict[str, float]) -> None:
        """Show these metrics (at most ``refresh`` times a second)."""
        self._text = format_metrics(metrics)
        now = time.monotonic()
        if self._live is not None and now - self._last >= self.min_interval:
            self._live.update(Text(f"{self.title}  {self._text}"), refresh=True)
            self._last = now

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(Text(f"{self.title}  {self._text}"), refresh=True)
            self._live.__exit__(exc_type, exc, tb)
