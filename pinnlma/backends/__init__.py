"""Linear-algebra backends of the LM core, behind one narrow interface (:mod:`.base`).

- :mod:`.torch`: the embedded default, on whatever torch device the Jacobian lives;
- :mod:`.legate`: cuPyNumeric on Legate (multi-GPU, multi-node; CPUs too), started lazily.

:data:`BACKENDS` (in :mod:`.registry`) is the one list of backend names; :func:`get_backend` builds one.
"""

from .base import Backend, BackendUnavailable, LinearSystem, SingularSystemWarning
from .registry import BACKEND_NAMES, BACKENDS, availability, get_backend
from .torch import TorchBackend

__all__ = [
    "BACKENDS",
    "BACKEND_NAMES",
    "Backend",
    "BackendUnavailable",
    "LinearSystem",
    "SingularSystemWarning",
    "TorchBackend",
    "availability",
    "get_backend",
]
