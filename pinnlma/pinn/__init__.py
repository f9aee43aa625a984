"""The PINN layer: geometry, fields and derivatives, conditions, problems, models, residual assembler.

It turns a :class:`Problem` and a model into one residual function r(θ) with named row blocks for the
LM core (or the baselines); it knows nothing about which backend solves.
"""
from .assembler import Block, ResidualAssembler
from .conditions import Condition, Dirichlet, Initial, InitialVelocity, Neumann, Periodic, PointData
from .fields import Fields
from .geometry import Box, Domain, Interval, Rectangle, Sampler, SpaceTime
from .models import MLP
from .problem import Problem

__all__ = [
    "Block", "Box", "Condition", "Dirichlet", "Domain", "Fields", "Initial", "InitialVelocity", "Interval", "MLP",
    "Neumann", "Periodic", "PointData", "Problem", "Rectangle", "ResidualAssembler", "Sampler", "SpaceTime",
]
