"""Reference data of the PINNacle benchmark (Hao et al., "PINNacle: A Comprehensive Benchmark of
Physics-Informed Neural Networks for Solving PDEs", arXiv:2306.08827), shipped in ``data/pinnacle/``.

The four ``.dat`` files are byte-for-byte copies of ``ref/<file>`` in the public repository
``i207M/PINNacle`` at commit ``6f8d69c9c84c41d19644e4ceebdc64c4a11d3adf`` (MIT licence), exported by the
PINNacle authors from COMSOL Multiphysics 6.0; :data:`FILES` holds their SHA-256, checked on loading.

A COMSOL export is a few header lines starting with ``%`` (``% Nodes: 101``, ``% Expressions: 11``, …,
then the column line), followed by one row of whitespace-separated numbers per mesh node: the spatial
coordinates, then the values. :func:`read_comsol` reads it as it is. For a *time-dependent* case the
table is wide, one column per (snapshot, output), the snapshot time written as ``@ t=<number>`` in the
column line; :func:`to_long` turns it into PINNacle's long form, one row (x[, y], t, values) per
(node, snapshot) pair, node-major (all times of node 0, then node 1, …), with several outputs
interleaved per snapshot (out₁@t₀, out₂@t₀, out₁@t₁, …), as PINNacle's ``load_ref_data`` does.

=================  ======================  =====================  ===================================
case               file                    table                  long form (the test points)
=================  ======================  =====================  ===================================
Burgers1d-C        ``burgers1d.dat``       101 × (x + 11 times)   1111 rows (x, t, u), t = 0 … 1
Poisson2d-C        ``poisson1_cg_data.dat`` 1246 × (x, y, u)      as is
Heat2d-LT          ``heat_longtime.dat``   192 × (x, y + 501)     96 192 rows (x, y, t, u), t = 0 … 100
NS2d-C             ``lid_driven_a4.dat``   10 201 × (x, y, u, v, p)  as is (``@ Re=100`` is a label)
=================  ======================  =====================  ===================================

:func:`l2re` is PINNacle's error metric: one relative L2 norm over all outputs jointly.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FILES",
    "ComsolTable",
    "PinnacleFile",
    "ReferenceFileError",
    "box_test_points",
    "data_file",
    "l2re",
    "load",
    "read_comsol",
    "space_points_count",
    "space_time_test_points",
    "to_long",
]

COMMIT = "6f8d69c9c84c41d19644e4ceebdc64c4a11d3adf"
"""The commit of ``i207M/PINNacle`` the files were copied from."""


class ReferenceFileError(ValueError):
    """A reference file that is missing, damaged or not laid out as its case needs."""


@dataclass(frozen=True)
class PinnacleFile:
    """A shipped PINNacle reference: its file, how many spatial coordinates and outputs its table has,
    whether it is a time-dependent (wide) table, and the SHA-256 of the original."""

    file: str
    space_dims: int
    outputs: int
    time_dependent: bool
    sha256: str


FILES: dict[str, PinnacleFile] = {
    "burgers1d": PinnacleFile(
        "burgers1d.dat", 1, 1, True, "3b6d31d895022b397330091ace59220167f0918c2ed616ed2ae5b1458eede5eb"
    ),
    "poisson2d_c": PinnacleFile(
        "poisson1_cg_data.dat", 2, 1, False, "2b9873fa4175fc26a8d62a7c4ea0f3e3239f9106b25ba622a77fd95fafa48490"
    ),
    "heat2d_lt": PinnacleFile(
        "heat_longtime.dat", 2, 1, True, "0a97936a1f5b7a346d6a10bfe927702a0587ef1020416e33cbab299a3ee3e9c0"
    ),
    "ns2d_c": PinnacleFile(
        "lid_driven_a4.dat", 2, 3, False, "9920232758297eee09404d66a914522cc8285ea3a4d7a05f5e776c5fcac852f3"
    ),
}
"""The shipped references by case key."""


@dataclass(frozen=True)
class ComsolTable:
    """A COMSOL text export: ``header`` (``Model``, ``Nodes``, ``Expressions``, … as text), the column
    line, the data (nodes, columns) in float64, and the snapshot times of the value columns read from
    their ``@ t=<number>`` labels (empty when the columns carry none)."""

    header: dict[str, str]
    column_line: str
    data: NDArray[np.float64]
    times: NDArray[np.float64]


_TIME = re.compile(r"@\s*t\s*=\s*([-+0-9.eE]+)")


def data_file(case: str) -> Traversable:
    """The shipped file of ``case`` (a key of :data:`FILES`)."""
    if case not in FILES:
        raise ValueError(f"unknown PINNacle reference {case!r}; choose one of {', '.join(FILES)}")
    return files(__package__).joinpath("data", "pinnacle", FILES[case].file)


def read_comsol(text: str, *, source: str = "file") -> ComsolTable:
    """Parse a COMSOL export (the whole text). Every ``%`` line is header; ``Key: value`` lines fill
    ``header``; the last ``%`` line is the column line. The numbers must form a full table."""
    comments: list[str] = []
    rows: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("%"):
            comments.append(stripped[1:].strip())
        elif stripped:
            rows.append(stripped)
    column_line = comments[-1] if comments else ""
    header: dict[str, str] = {}
    for body in comments[:-1]:
        key, sep, value = body.partition(":")
        if sep:
            header[key.strip()] = value.strip()
    if not rows:
        raise ReferenceFileError(f"{source}: no data rows after the '%' header")
    widths = sorted({len(row.split()) for row in rows})
    if len(widths) > 1:
        raise ReferenceFileError(f"{source}: rows have different numbers of columns {widths}")
    try:
        data = np.array([[float(v) for v in row.split()] for row in rows], dtype=np.float64)
    except ValueError as err:
        raise ReferenceFileError(f"{source}: a data row is not numbers ({err})") from None
    times = np.array([float(t) for t in _TIME.findall(column_line)], dtype=np.float64)
    return ComsolTable(header, column_line, data, times)


def to_long(
    table: ComsolTable, space_dims: int, outputs: int = 1, *, source: str = "file"
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wide time-dependent table → long form: points (nodes·snapshots, space_dims + 1) with columns
    (space…, t) and values (nodes·snapshots, outputs), node-major; the value columns are read as
    out₁@t₀, out₂@t₀, …, out₁@t₁, … (the snapshot times from the column labels, one per snapshot)."""
    data = table.data
    n_nodes, n_values = data.shape[0], data.shape[1] - space_dims
    if n_values < 1 or n_values % outputs:
        raise ReferenceFileError(
            f"{source}: {n_values} value columns do not split into {outputs} output(s) per snapshot"
        )
    n_snap = n_values // outputs
    times = table.times[::outputs] if table.times.size == n_values else table.times
    if times.size != n_snap:
        raise ReferenceFileError(
            f"{source}: {table.times.size} '@ t=' labels in the column line for "
            f"{n_values} value columns ({outputs} output(s) per snapshot)"
        )
    space = np.repeat(data[:, :space_dims], n_snap, axis=0)
    t = np.tile(times, n_nodes)[:, None]
    values = data[:, space_dims:].reshape(n_nodes * n_snap, outputs)
    return np.hstack([space, t]), np.ascontiguousarray(values)


def load(case: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The test points and reference values of ``case`` exactly as PINNacle's loader builds them:
    points (N, d_in), values (N, outputs), float64 (PINNacle casts to float32; we keep the file's
    digits). The file's SHA-256 is checked first."""
    spec = FILES.get(case)
    if spec is None:
        raise ValueError(f"unknown PINNacle reference {case!r}; choose one of {', '.join(FILES)}")
    resource = data_file(case)
    try:
        raw = resource.read_bytes()
    except FileNotFoundError:
        raise ReferenceFileError(
            f"the reference file {spec.file} is missing from the installed package; reinstall pinnlma"
        ) from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise ReferenceFileError(
            f"{spec.file} is damaged: SHA-256 {digest[:16]}… instead of {spec.sha256[:16]}…; reinstall pinnlma"
        )
    table = read_comsol(raw.decode("utf-8"), source=spec.file)
    nodes = int(table.header.get("Nodes", str(table.data.shape[0])))
    if table.data.shape[0] != nodes:
        raise ReferenceFileError(f"{spec.file}: {table.data.shape[0]} rows, the header says {nodes} nodes")
    if spec.time_dependent:
        return to_long(table, spec.space_dims, spec.outputs, source=spec.file)
    width = spec.space_dims + spec.outputs
    if table.data.shape[1] != width:
        raise ReferenceFileError(f"{spec.file}: {table.data.shape[1]} columns, expected {width}")
    return (
        np.ascontiguousarray(table.data[:, : spec.space_dims]),
        np.ascontiguousarray(table.data[:, spec.space_dims :]),
    )


def l2re(prediction: NDArray[np.float64], reference: NDArray[np.float64]) -> float:
    """PINNacle's L2RE: sqrt(mean (y − y*)²) / sqrt(mean y*²) over all N·d_out entries of (N, d_out)
    arrays — one joint norm over every output (= ‖y − y*‖_F / ‖y*‖_F). A zero prediction scores 1."""
    y = np.asarray(prediction, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if y.size != ref.size:
        raise ValueError(f"prediction has {y.size} entries, the reference {ref.size}")
    y, ref = y.reshape(ref.shape), ref
    return float(np.sqrt(np.mean((y - ref) ** 2)) / np.sqrt(np.mean(ref**2)))


def box_test_points(bounds: NDArray[np.float64] | list[tuple[float, float]], n: int) -> NDArray[np.float64]:
    """PINNacle's test grid of a box (deepxde ``uniform_points(n, boundary=False)``): per axis of length
    L, n_i = ceil(L/dx) nodes at lo + k·L/(n_i + 1), k = 1…n_i, with dx = (volume/n)^(1/dim); the
    tensor grid of them, the first axis slowest. E.g. [0, 1]², n = 2500 → 50 × 50 at k/51."""
    bounds = np.asarray(bounds, dtype=np.float64)
    span = bounds[:, 1] - bounds[:, 0]
    dx = (float(np.prod(span)) / n) ** (1.0 / len(span))
    axes = []
    for (lo, _), length in zip(bounds, span):
        count = math.ceil(length / dx)
        axes.append(lo + np.arange(1, count + 1) * length / (count + 1))
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.column_stack([m.ravel() for m in mesh])


def space_time_test_points(space: NDArray[np.float64], t_span: tuple[float, float], n: int) -> NDArray[np.float64]:
    """PINNacle's space-time test set from ``space`` (n_x spatial points, from :func:`box_test_points`
    or random points for a shape without a grid) and n_t = ceil(n / n_x) times t = t1 − k·(t1 − t0)/n_t,
    k = 0…n_t − 1 (t1 included, t0 not); rows (space…, t), space slowest."""
    t0, t1 = t_span
    n_t = math.ceil(n / len(space))
    times = t1 - np.arange(n_t) * (t1 - t0) / n_t
    return np.column_stack([np.repeat(space, n_t, axis=0), np.tile(times, len(space))])


def space_points_count(n: int, space_bbox_volume: float, duration: float) -> int:
    """n_x = ceil(sqrt(n · vol(space bounding box) / duration)), PINNacle's number of spatial test points."""
    return math.ceil(math.sqrt(n * space_bbox_volume / duration))
