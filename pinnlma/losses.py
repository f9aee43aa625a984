"""``pinnlma.losses``: the loss-to-residual wrappers of :mod:`pinnlma.lm.losses`, importable by this short
name (``from pinnlma.losses import CrossEntropy``); ½‖r‖² of each is its loss summed over the batch."""
from .lm.losses import BCE, LOSSES, MSE, BCEWithLogits, CrossEntropy, Huber, L1, Loss, PseudoHuber, make_loss

__all__ = ["BCE", "BCEWithLogits", "CrossEntropy", "Huber", "L1", "LOSSES", "Loss", "MSE", "PseudoHuber", "make_loss"]
