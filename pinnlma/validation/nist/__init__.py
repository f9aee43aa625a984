"""The NIST StRD nonlinear-regression suite: 27 problems with certified answers, and a scorer.

- :mod:`.models`: the 27 models in torch ops; :mod:`.data`: the ``.dat`` files and :class:`NistProblem`;
- :mod:`.suite`: log relative errors, :func:`run_suite`, the Markdown table, the two solvers, the CLI
  (``python -m pinnlma.validation.nist_strd``).
"""

from .data import NistProblem, default_data_dir, load_problem, load_suite
from .models import MODELS
from .suite import (
    LRE_CAP,
    LRE_PASS,
    NIST_DAMPING,
    format_table,
    log_relative_error,
    main,
    pinnlma_solve,
    run_suite,
    scipy_minpack_solve,
)

__all__ = [
    "LRE_CAP",
    "LRE_PASS",
    "MODELS",
    "NIST_DAMPING",
    "NistProblem",
    "default_data_dir",
    "format_table",
    "load_problem",
    "load_suite",
    "log_relative_error",
    "main",
    "pinnlma_solve",
    "run_suite",
    "scipy_minpack_solve",
]
