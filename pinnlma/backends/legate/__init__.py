"""The cuPyNumeric (Legate) backend: the normal equations in Legate's distributed arrays.

- :mod:`.backend`: :class:`CupynumericBackend` and its linear systems;
- :mod:`.runtime`: getting this process ready for Legate and importing cupynumeric;
- :mod:`.driver`: provisioning the CUDA driver library cupynumeric needs even without a GPU;
- :mod:`.setup`: the ``pinnlma setup-legate`` command.

Importing this package does not start Legate; building a :class:`CupynumericBackend` does.
"""

from .backend import CupynumericBackend

__all__ = ["CupynumericBackend"]
