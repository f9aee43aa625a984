"""The embedded default backend: the normal equations in torch, on the device of the Jacobian slices.

- :mod:`.backend`: :class:`TorchBackend` and its two linear systems (normal form, residual space);
- :mod:`.normal_matrix`: the packed (CPU) and dense storages of JᵀJ and their damped solves;
- :mod:`.refinement`: float32 products with solves refined to float64 accuracy against J;
- :mod:`.linalg`: the symmetric rank-k update and the SPD solve with its eigendecomposition fallback;
- :mod:`.lapack`: torch's own LAPACK (potrf/potrs) reached through ctypes.
"""

from .backend import TorchBackend, TorchNormalSystem, TorchResidualSystem

__all__ = ["TorchBackend", "TorchNormalSystem", "TorchResidualSystem"]
