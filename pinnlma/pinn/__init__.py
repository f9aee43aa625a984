"""The PINN layer: geometry, fields and derivatives, conditions, problems, models, residual assembler.

It turns a :class:`Problem` and a model into one residual function r(θ) with named row blocks for the
LM core (or the other optimizers); it knows nothing about which backend solves.

- :mod:`.geometry`: domains, boundaries, samplers; :mod:`.conditions`: boundary, initial, data blocks;
- :mod:`.fields`, :mod:`.derivatives`: what a residual function sees; :mod:`.problem`: :class:`Problem`;
- :mod:`.models`: :class:`MLP` and the activations; :mod:`.channels`: its exact Jacobian path;
- :mod:`.embeddings`: periodic and Fourier input features (:class:`FeatureMap`); :mod:`.exact`: exact
  constraints u = g + d·N (:class:`OutputTransform`); :mod:`.adaptive`: RAR/RAD collocation (:class:`Adaptive`);
  :mod:`.causal`: causal residual weights in time (:class:`Causal`);
- :mod:`.block`, :mod:`.assembler`: :class:`ResidualAssembler` (its rows and Jacobian: :mod:`.channel_rows`,
  :mod:`.generic_rows`; θ's layout: :mod:`.layout`; :mod:`.replicas`: several devices); :mod:`.setup`: seed →
  model → sampler → assembler;
- :mod:`.registry`: the bundled problems and user problem files.
"""

from .adaptive import ADAPTIVE, Adaptive
from .assembler import Block, ResidualAssembler
from .causal import Causal
from .conditions import Condition, Dirichlet, Initial, InitialVelocity, Neumann, Periodic, PointData, Robin
from .embeddings import EMBEDDINGS, FeatureMap
from .exact import OutputTransform
from .fields import Fields
from .geometry import (
    Ball,
    BoundarySample,
    Box,
    Cylinder,
    Difference,
    Disk,
    Domain,
    Ellipse,
    Hypercube,
    Hypersphere,
    Intersection,
    Interval,
    Polygon,
    Rectangle,
    SpaceTime,
    Triangle,
    Union,
    periodic_pairs,
)
from .models import MLP
from .problem import Problem
from .registry import ProblemNotFound, apply_options, bundled_names, load_problem
from .sampling import Sampler, SamplingError
from .setup import build_assembler, build_model

__all__ = [
    "ADAPTIVE",
    "EMBEDDINGS",
    "MLP",
    "Adaptive",
    "Ball",
    "Block",
    "BoundarySample",
    "Box",
    "Causal",
    "Condition",
    "Cylinder",
    "Difference",
    "Dirichlet",
    "Disk",
    "Domain",
    "Ellipse",
    "FeatureMap",
    "Fields",
    "Hypercube",
    "Hypersphere",
    "Initial",
    "InitialVelocity",
    "Intersection",
    "Interval",
    "Neumann",
    "OutputTransform",
    "Periodic",
    "PointData",
    "Polygon",
    "Problem",
    "ProblemNotFound",
    "Rectangle",
    "ResidualAssembler",
    "Robin",
    "Sampler",
    "SamplingError",
    "SpaceTime",
    "Triangle",
    "Union",
    "apply_options",
    "build_assembler",
    "build_model",
    "bundled_names",
    "load_problem",
    "periodic_pairs",
]
