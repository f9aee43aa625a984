"""The narrow interface between the LM core and the linear algebra that runs one iteration.

The core hands a backend the rows of the Jacobian in slices ``(r_s, J_s)`` and gets back a
:class:`LinearSystem`, an object that can solve the damped Gauss–Newton system

    (JᵀJ + λ·diag(D)) v = Jᵀw          (w = r for the ordinary step)

in whichever form is cheaper: the *normal* form accumulates the n×n matrix JᵀJ, the *residual-space*
form keeps J (m×n, m < n) and uses the push-through identity

    v = D⁻¹Jᵀ (J D⁻¹ Jᵀ + λ I)⁻¹ w,

which costs m²·n instead of m·n². Everything that crosses the interface is a torch n-vector or m-vector
(or a float); the matrices stay wherever the backend keeps them.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import Tensor

from ..ranks import SINGLE_PROCESS, RowPartition, process_rank

Slices = Iterable[tuple[Tensor, Tensor]]
"""Row slices of one Jacobian: pairs ``(r_s, J_s)`` with shapes ``(s,)`` and ``(s, n)``.

A backend may read a slice's memory without copying it (the cupynumeric backend attaches torch memory
to Legate through DLPack and reads it asynchronously): a producer must not overwrite a slice it has
yielded until the system-building call that consumed it has returned."""


NormalPartials = Iterable[tuple[Tensor, Tensor, int]]
"""Partial normal equations ``(A_d, g_d, m_d)`` of disjoint row sets, already on one device: A_d = J_dᵀJ_d
(full symmetric n×n), g_d = J_dᵀr_d, m_d the rows. Device replicas make one per device, so only n×n
matrices (not the Jacobian rows) cross between devices; the system is A = Σ A_d, g = Σ g_d."""


class BackendUnavailable(RuntimeError):
    """A backend cannot start on this installation; the message says what to do about it (the command or
    package that fixes it). Raised by :func:`pinnlma.backends.get_backend`."""


class SingularSystemWarning(RuntimeWarning):
    """The damped system was not positive definite and was solved by the robust fallback."""


def warn_fallback(system: str, lam: float) -> None:
    """Tell the user a damped ``system`` ('normal equations', 'residual-space system') needed the fallback."""
    warnings.warn(
        f"damped {system} not positive definite (lambda={lam:.3g}); solved by eigendecomposition instead",
        SingularSystemWarning,
        stacklevel=4,
    )


class LinearSystem(ABC):
    """One iteration's damped Gauss–Newton system, held by a backend."""

    n: int
    m: int
    form: str  # "normal" or "residual"
    fallback_solves: int = 0  # how often Cholesky failed and the robust solve took over

    @abstractmethod
    def gradient(self) -> Tensor:
        """g = Jᵀr as a torch n-vector."""

    @abstractmethod
    def jtj_diagonal(self) -> Tensor:
        """diag(JᵀJ) (the squared column norms of J) as a torch n-vector."""

    @abstractmethod
    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        """Solve (JᵀJ + lam·diag(scale)) v = Jᵀw, w defaulting to r; return v as a torch n-vector."""

    @abstractmethod
    def curvature(self, v: Tensor) -> float:
        """vᵀJᵀJv = ‖Jv‖², the quadratic term of the linear model's predicted reduction."""


class Backend(ABC):
    """Builds :class:`LinearSystem` objects from Jacobian slices."""

    name: str

    @abstractmethod
    def normal_system(self, slices: Slices, n: int, jt_times: Callable[[Tensor], Tensor]) -> LinearSystem:
        """Accumulate JᵀJ and Jᵀr over the slices. ``jt_times(w)`` returns Jᵀw (for right-hand
        sides other than r, e.g. geodesic acceleration), computed by the caller without storing J."""

    @abstractmethod
    def residual_system(self, slices: Slices, n: int) -> LinearSystem:
        """Keep J (m×n with m < n) and solve in residual space."""

    accepts_partials: bool = False
    """Whether :meth:`gram_system` builds systems (the caller then reduces per-device partials)."""

    def gram_system(
        self,
        partials: NormalPartials,
        n: int,
        jt_times: Callable[[Tensor], Tensor],
        partition: RowPartition | None = None,
    ) -> LinearSystem | None:
        """The normal system from partial normal equations (:data:`NormalPartials`), summed here; None
        when this backend takes only slices (:attr:`accepts_partials` False; the caller then passes the
        slices to :meth:`normal_system`). With a ``partition`` whose rows are split among processes, the
        partials are this process's rows only and the system is their sum over all processes (every
        process gets the same one). Raises ValueError when there are no rows."""
        return None

    def row_partition(self, environ: Mapping[str, str] | None = None) -> RowPartition:
        """The :class:`~pinnlma.ranks.RowPartition` of this launch (:func:`~pinnlma.ranks.process_rank`) with
        this backend's cross-process sum. This base has none: ValueError under a launch of several ranks
        (one process gets :data:`~pinnlma.ranks.SINGLE_PROCESS`)."""
        ranks = process_rank(environ)[1]
        if ranks > 1:
            raise ValueError(
                f"the {self.name} backend cannot sum the partials of the {ranks} ranks of this launch; run several "
                "ranks with the cupynumeric backend (--backend cupynumeric), whose Legate stores span the ranks"
            )
        return SINGLE_PROCESS

    def describe(self) -> str:
        """One line for logs and ``pinnlma info``."""
        return self.name


def sum_partials(partials: NormalPartials, n: int, partition: RowPartition) -> tuple[Tensor, Tensor, int]:
    """(Σ A_d, Σ g_d, Σ m_d) of this process's partials, then summed over the processes of ``partition``
    (its ``allreduce``): the whole normal system's A = JᵀJ, g = Jᵀr and m, the same on every process.
    A process without rows contributes zeros. ValueError for shapes other than (n, n) and (n,)."""
    jtj: Tensor | None = None
    g: Tensor | None = None
    rows = 0
    for a_d, g_d, m_d in partials:
        if a_d.shape != (n, n) or g_d.shape != (n,):
            raise ValueError(
                f"partial normal equations have shapes {tuple(a_d.shape)} and {tuple(g_d.shape)}, expected ({n}, {n}) and ({n},)"
            )
        jtj = a_d.clone() if jtj is None else jtj.add_(a_d.to(jtj))
        g = g_d.clone() if g is None else g.add_(g_d.to(g))
        rows += int(m_d)
    if jtj is None or g is None:
        jtj, g = torch.zeros(n, n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    total_rows = partition.allreduce(torch.tensor(float(rows), dtype=torch.float64))
    return partition.allreduce(jtj), partition.allreduce(g), int(total_rows)


def check_scale(scale: Tensor, n: int) -> None:
    """Damping scales must be positive n-vectors; anything else is a bug upstream, so fail loudly."""
    if scale.shape != (n,):
        raise ValueError(f"damping scale has shape {tuple(scale.shape)}, expected ({n},)")
    if not bool(torch.all(scale > 0)):
        raise ValueError("damping scale must be strictly positive")
