"""Mini-batch deep learning with Levenberg–Marquardt: :func:`fit`, a seeded :class:`BatchLoader`,
the :class:`BatchGrowth` schedule and validation helpers."""
from .fit import FitResult, FitStep, accuracy, evaluate, fit
from .growth import BatchGrowth
from .loader import BatchLoader

__all__ = ["BatchGrowth", "BatchLoader", "FitResult", "FitStep", "accuracy", "evaluate", "fit"]
