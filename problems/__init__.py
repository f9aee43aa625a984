"""Bundled PINN problems, one module each (importable as ``pinnlma.problems.<name>``).

Each module defines ``problem(**options) -> Problem`` with the mathematics in its docstring and a
reference solution beside it. ``pinnlma list`` shows them; ``pinnlma run NAME`` runs one.
"""
