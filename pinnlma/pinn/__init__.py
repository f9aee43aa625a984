"""The PINN layer: geometry, fields and derivatives, conditions, problems, models, residual assembler.

It turns a :class:`Problem` and a model into one residual function r(θ) with named row blocks for the
LM core (or the baselines); it knows nothing about which backend solves.
"""
from .assembler import Block, ResidualAssembler
from .conditions import Condition, Dirichlet, Initial, InitialVelocity, Neumann, Periodic, PointData, Robin
from .fields import Fields
from .geometry import (
    Ball, BoundarySample, Box, Cylinder, Difference, Disk, Domain, Ellipse, Hypercube, Hypersphere, Intersection,
    Interval, Polygon, Rectangle, SpaceTime, Triangle, Union, periodic_pairs,
)
from .models import MLP
from .problem import Problem
from .sampling import Sampler, SamplingError

__all__ = [
    "MLP", "Ball", "Block", "BoundarySample", "Box", "Condition", "Cylinder", "Difference", "Dirichlet", "Disk",
    "Domain", "Ellipse", "Fields", "Hypercube", "Hypersphere", "Initial", "InitialVelocity", "Intersection",
    "Interval", "Neumann", "Periodic", "PointData", "Polygon", "Problem", "Rectangle", "ResidualAssembler", "Robin",
    "Sampler", "SamplingError", "SpaceTime", "Triangle", "Union", "periodic_pairs",
]
