"""``pinnlma reproduce taylor2022``: Taylor, Wang, Bala & Bednarz (2022), arXiv:2205.07430, on this machine.

- :mod:`.experiments`: the sizes and :func:`run`, which runs the experiments and writes the README;
- :mod:`.sinc`, :mod:`.minibatch`, :mod:`.sweep`, :mod:`.burgers`, :mod:`.jacobian`: one experiment each;
- :mod:`.report`: the generated ``README.md``; :mod:`.figures`: plotting helpers (the HDF5 files: :mod:`pinnlma.reproduce.store`).
"""

from .experiments import DEFAULT_OUT, EXPERIMENTS, SIZES, run

__all__ = ["DEFAULT_OUT", "EXPERIMENTS", "SIZES", "run"]
