"""The command line's argument types and its choice lists, each read lazily from the registry that owns it
(so that building the parser imports no layer ``pinnlma --help`` does not use)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Iterator

__all__ = [
    "Choices",
    "activations",
    "architectures",
    "backends",
    "count",
    "dampings",
    "dtypes",
    "jacobian_paths",
    "optimizers",
    "positive_float",
    "positive_int",
    "solvers",
]


class Choices:
    """argparse ``choices`` read from their registry the first time they are needed (checking a value or
    printing help), so building the parser imports no layer that ``pinnlma --help`` does not use."""

    def __init__(self, load: Callable[[], Collection[str]]) -> None:
        self._load = load
        self._names: tuple[str, ...] | None = None

    def names(self) -> tuple[str, ...]:
        """The registry's names, in its order."""
        if self._names is None:
            self._names = tuple(self._load())
        return self._names

    def __contains__(self, value: object) -> bool:
        return value in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def optimizers() -> Collection[str]:
    """The ``--optimizer`` choices (:data:`pinnlma.optim.OPTIMIZERS`)."""
    from .optim import OPTIMIZERS

    return OPTIMIZERS


def backends() -> Collection[str]:
    """The ``--backend`` choices (:data:`pinnlma.backends.BACKENDS`)."""
    from .backends import BACKENDS

    return BACKENDS


def dtypes() -> Collection[str]:
    """The ``--dtype`` choices (:data:`pinnlma.run.config.DTYPES`)."""
    from .run.config import DTYPES

    return DTYPES


def activations() -> Collection[str]:
    """The ``--activation`` choices (:data:`pinnlma.pinn.models.ACTIVATIONS`)."""
    from .pinn.models import ACTIVATIONS

    return ACTIVATIONS


def architectures() -> Collection[str]:
    """The ``--arch`` choices (:data:`pinnlma.pinn.models.ARCHITECTURES`)."""
    from .pinn.models import ARCHITECTURES

    return ARCHITECTURES


def dampings() -> Collection[str]:
    """The ``--damping`` choices (:data:`pinnlma.lm.damping.DAMPINGS`)."""
    from .lm.damping import DAMPINGS

    return DAMPINGS


def solvers() -> Collection[str]:
    """The ``--solver`` choices: auto, then :data:`pinnlma.lm.solvers.SOLVERS`."""
    from .lm.solvers import SOLVERS

    return ["auto", *SOLVERS]


def jacobian_paths() -> Collection[str]:
    """The ``--jacobian`` choices (:data:`pinnlma.pinn.assembler.JACOBIAN_PATHS`)."""
    from .pinn.assembler import JACOBIAN_PATHS

    return JACOBIAN_PATHS


def positive_int(text: str) -> int:
    """A whole number ≥ 0 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def count(text: str) -> int:
    """A whole number ≥ 1 (argparse type)."""
    value = positive_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def gram_rows(text: str) -> int | float:
    """``--gram-rows``: a whole number of rows (≥ 1), a fraction of the rows in (0, 1], or ``all`` (argparse type)."""
    from .lm.sampled_gram import check_gram_rows

    word = text.strip().lower()
    if word == "all":
        return 1.0
    try:
        value: int | float = int(word) if word.lstrip("+").isdigit() else float(word)
        checked = check_gram_rows(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected a number of rows (e.g. 2000), a fraction of the rows (e.g. 0.25) or all, got {text!r}"
            + ("" if "could not convert" in str(err) else f" ({err})")
        ) from None
    assert checked is not None
    return checked


def positive_float(text: str) -> float:
    """A number > 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value
