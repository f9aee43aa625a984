"""The PINN layer: geometry, fields and derivatives, conditions, problems, models, residual assembler.

It turns a :class:`Problem` and a model into one residual function r(θ) with named row blocks for the
LM core (or the other optimizers); it knows nothing about which backend solves.

- :mod:`.geometry`: domains, boundaries, samplers; :mod:`.conditions`: boundary, initial, data blocks;
- :mod:`.fields`, :mod:`.derivatives`: what a residual function sees; :mod:`.problem`: :class:`Problem`;
- :mod:`.models`: :class:`MLP` and the activations; :mod:`.channels`: its exact Jacobian path;
- :mod:`.block`, :mod:`.assembler`: :class:`ResidualAssembler` (:mod:`.replicas`: several devices); :mod:`.setup`: seed → model → sampler → assembler;
- :mod:`.registry`: the bundled problems and user problem files.
"""

from .assembler import Block, ResidualAssembler
from .conditions import Condition, Dirichlet, Initial, InitialVelocity, Neumann, Periodic, PointData
from .fields import Fields
from .geometry import Box, Domain, Interval, Rectangle, Sampler, SpaceTime
from .models import MLP
from .problem import Problem
from .registry import ProblemNotFound, apply_options, bundled_names, load_problem
from .setup import build_assembler, build_model

__all__ = [
    "MLP",
    "Block",
    "Box",
    "Condition",
    "Dirichlet",
    "Domain",
    "Fields",
    "Initial",
    "InitialVelocity",
    "Interval",
    "Neumann",
    "Periodic",
    "PointData",
    "Problem",
    "ProblemNotFound",
    "Rectangle",
    "ResidualAssembler",
    "Sampler",
    "SpaceTime",
    "apply_options",
    "build_assembler",
    "build_model",
    "bundled_names",
    "load_problem",
]
