"""Damping rules of the LM iteration: one rule per module, one registry.

- :mod:`.base`: the :class:`Damping` interface (hooks, generic state);
- :mod:`.scaling`: the diagonal D (identity, Marquardt's);
- :mod:`.multiplicative`: :class:`Levenberg`, :class:`Marquardt`;
- :mod:`.nielsen`: :class:`Nielsen` (the default);
- :mod:`.registry`: :data:`DAMPINGS` and :func:`make_damping`.
"""

from .base import Damping
from .multiplicative import Levenberg, Marquardt
from .nielsen import Nielsen
from .registry import DAMPINGS, make_damping
from .scaling import SCALINGS, IdentityScaling, MarquardtScaling, Scaling, make_scaling

__all__ = [
    "DAMPINGS",
    "SCALINGS",
    "Damping",
    "IdentityScaling",
    "Levenberg",
    "Marquardt",
    "MarquardtScaling",
    "Nielsen",
    "Scaling",
    "make_damping",
    "make_scaling",
]
