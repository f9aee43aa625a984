"""``pinnlma reproduce digits``: a CNN on scikit-learn's 8×8 digits trained by LM (pinnlma and
torch-levenberg-marquardt) and by Adam, side by side.

- :mod:`.data`: the sizes, the data and the CNN;
- :mod:`.experiments`: the experiments and :func:`run`;
- :mod:`.report`: the generated ``README.md``.
"""

from .data import SIZES
from .experiments import DEFAULT_OUT, EXPERIMENTS, run

__all__ = ["DEFAULT_OUT", "EXPERIMENTS", "SIZES", "run"]
