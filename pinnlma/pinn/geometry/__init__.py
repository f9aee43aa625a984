"""Geometry: domains, their boundaries, and reproducible point sampling."""
from .box import Box, Domain, Interval, Rectangle, Sampler, SpaceTime, periodic_pairs

__all__ = ["Box", "Domain", "Interval", "Rectangle", "Sampler", "SpaceTime", "periodic_pairs"]
