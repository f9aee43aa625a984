"""Ctrl-C during a run: finish the iteration that is running, save, then stop (a second Ctrl-C aborts)."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

__all__ = ["AbortNow", "StopAtIterationEnd"]


class AbortNow(KeyboardInterrupt):
    """A second Ctrl-C: the iteration was cut short, so its state is not saved."""


class StopAtIterationEnd:
    """While active in the main thread, a first Ctrl-C sets :attr:`requested`: the loop stops after the
    iteration that is running (so the saved checkpoint is that of a finished iteration and resumes
    exactly); a second one raises :class:`AbortNow` at once. Elsewhere (other threads, custom SIGINT
    handlers) it does nothing."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> StopAtIterationEnd:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise AbortNow
        self.requested = True
        print("\npinnlma: stopping after this iteration (Ctrl-C again to abort without saving)", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
