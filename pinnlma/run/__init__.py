"""Running an optimizer on a problem: configuration, the loop, checkpoints and resume, run files, figures.

- :mod:`.config`: :class:`RunConfig`; :mod:`.loop`: :func:`solve`; :mod:`.march`: time-marching windows;
- :mod:`.checkpoint`: what a run file holds to resume, and :func:`~.checkpoint.restore`;
- :mod:`.interrupt`: Ctrl-C finishes the iteration, saves, stops;
- :mod:`.io`: the HDF5 run files (a contract: docs/run_file.md); :mod:`.hdf5`: nested dicts in HDF5;
- :mod:`.trees`: state trees between torch, numpy and JSON;
- :mod:`.progress`: the live progress line; :mod:`.plotting`: figures of runs.
"""

from .checkpoint import ResumeError
from .config import DTYPES, RunConfig
from .io import RunFileError, RunRecord, read_run, write_run
from .loop import RunResult, SetupError, solve

__all__ = [
    "DTYPES",
    "ResumeError",
    "RunConfig",
    "RunFileError",
    "RunRecord",
    "RunResult",
    "SetupError",
    "read_run",
    "solve",
    "write_run",
]
