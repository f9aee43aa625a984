"""``python -m pinnlma.validation.nist_strd``: the NIST StRD nonlinear-regression suite (see :mod:`.nist`).

A thin entry module kept for the command and the names documented with it; the suite lives in
:mod:`pinnlma.validation.nist`.
"""

from .nist import (
    LRE_CAP,
    LRE_PASS,
    MODELS,
    NistProblem,
    default_data_dir,
    format_table,
    load_problem,
    load_suite,
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

if __name__ == "__main__":
    raise SystemExit(main())
