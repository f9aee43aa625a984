"""The optional peer library torch-levenberg-marquardt (tlm), loaded without its Lightning helpers.

Used by the ``peer-tlm`` benchmark and by ``pinnlma reproduce digits`` to run pinnlma and tlm side by side."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

from .machine import version

__all__ = ["TLM_DIST", "TLM_MISSING", "TLM_MODULE", "PeerUnavailable", "load_tlm"]


class PeerUnavailable(RuntimeError):
    """The peer package is not installed (or does not import); the message says how to install it."""


TLM_DIST = "torch-levenberg-marquardt"
TLM_MODULE = "torch_levenberg_marquardt"
TLM_MISSING = (
    "peer-tlm needs torch-levenberg-marquardt, which is not installed; install it with "
    "`pip install --no-deps torch-levenberg-marquardt` (or `pip install 'pinnlma[bench]'`) and run again"
)


def load_tlm() -> types.SimpleNamespace:
    """The parts of torch-levenberg-marquardt the peer run uses: ``training`` and ``loss``.

    The package's ``__init__`` also imports its Lightning/tqdm helpers (``utils``), which the peer run does
    not need; when those are absent (installed with --no-deps) the two modules are loaded under a bare
    package entry instead. Loading again in the same process returns the modules loaded the first time.
    Raises :class:`PeerUnavailable` when the package is not installed."""
    training, loss = (sys.modules.get(f"{TLM_MODULE}.{name}") for name in ("training", "loss"))
    if training is not None and loss is not None:
        return types.SimpleNamespace(training=training, loss=loss, version=version(TLM_DIST))
    spec = importlib.util.find_spec(TLM_MODULE)
    if spec is None or spec.submodule_search_locations is None:
        raise PeerUnavailable(TLM_MISSING)
    try:
        package = importlib.import_module(TLM_MODULE)
        training, loss = package.training, package.loss
    except ImportError:
        for name in [k for k in sys.modules if k == TLM_MODULE or k.startswith(TLM_MODULE + ".")]:
            del sys.modules[name]
        bare = types.ModuleType(TLM_MODULE)
        bare.__path__ = list(spec.submodule_search_locations)
        bare.__package__ = TLM_MODULE
        sys.modules[TLM_MODULE] = bare
        try:
            training = importlib.import_module(TLM_MODULE + ".training")
            loss = importlib.import_module(TLM_MODULE + ".loss")
        except ImportError as err:
            raise PeerUnavailable(f"torch-levenberg-marquardt is installed but does not import: {err}") from None
    return types.SimpleNamespace(training=training, loss=loss, version=version(TLM_DIST))
