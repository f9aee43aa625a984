"""``python -m pinnlma.validation.nist_strd``: the NIST StRD nonlinear-regression suite (see :mod:`.nist`).

A thin entry module kept for the command and the names documented with it; the suite lives in
:mod:`pinnlma.validation.nist`, whose public names it re-exports.
"""

from . import nist
from .nist import *  # noqa: F403 - the documented names, re-exported
from .nist import main

__all__ = nist.__all__

if __name__ == "__main__":
    raise SystemExit(main())
