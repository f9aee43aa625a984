"""``pinnlma reproduce digits``: a CNN on scikit-learn's 8×8 digits trained by LM (pinnlma and
torch-levenberg-marquardt) and by Adam, side by side.

- :mod:`.experiments`: the sizes, the experiments and :func:`run`;
- :mod:`.report`: the generated ``README.md``.
"""

from .experiments import DEFAULT_OUT, EXPERIMENTS, SIZES, run

__all__ = ["DEFAULT_OUT", "EXPERIMENTS", "SIZES", "run"]
