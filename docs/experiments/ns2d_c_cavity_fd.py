"""Experiment (not part of the library): an independent finite-difference solve of PINNacle's NS2d-C cavity, to
tell whether the reference file's pressure at the two top corners is a converged value.

The case (CASES.md §2.5): steady incompressible Navier–Stokes on [0, 1]², ν = 1/100, lid u = 4x(1 − x), v = 0 at
y = 1, no slip on the other walls, p(0, 0) = 0. Solved here in the stream function–vorticity form on a uniform
N × N grid (u = ψ_y, v = −ψ_x, ω = v_x − u_y):

    ∇²ψ = −ω,    u ω_x + v ω_y = ν ∇²ω,    ψ = 0 on the walls,

second-order central differences inside and Thom's wall vorticity (ω_wall = −2(ψ₁ + h·U)/h², ψ₁ the stream
function one node in, U the wall's tangential velocity), solved by Newton's method with sparse LU from ψ = ω = 0.
On a no-slip wall the momentum equations reduce to ∇p = ν(−ω_y, ω_x), so the pressure along the walls is the
integral of ν ω_x up the side walls (p_y = ν ω_x at x = 0 and x = 1) and of −ν ω_y along the floor, from the
gauge p(0, 0) = 0 (trapezoidal rule; ω's normal derivative one-sided, second order).

For each N it prints the pressure at the top corners (0, 1) and (1, 1) and near them, beside the reference file's
nodes there, and the relative L2 difference of u and v from the file on its nodes away from the corners (bilinear
interpolation of the grid solution); then PINNacle's joint (u, v, p) L2RE of the grid solution itself against the
file, with and without the corner nodes (p inside from the left wall's p and ∂p/∂x of the x-momentum equation;
its value at (1, 1) against the right wall's integral checks the two paths agree). A pressure that keeps moving as N doubles at the corner, while it settles
elsewhere, is a singular corner whose value at a mesh node depends on the mesh.

    .venv/bin/python docs/experiments/ns2d_c_cavity_fd.py [N ...]      (default: 64 128 256)
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.interpolate import RegularGridInterpolator

from pinnlma.reference.pinnacle import load

NU = 0.01


def lid(x: np.ndarray) -> np.ndarray:
    """The lid's velocity u(x, 1) = 4x(1 − x)."""
    return 4.0 * x * (1.0 - x)


def operators(n: int) -> dict[str, sp.csr_matrix]:
    """Difference operators on the (n + 1)² grid, x fastest: interior-to-interior (zero boundary values) and
    full-grid-to-interior ones (suffix f), and the restriction of a full-grid vector to the interior."""
    h, k = 1.0 / n, n - 1
    second = sp.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(k, k)) / h**2
    first = sp.diags([-1.0, 1.0], [-1, 1], shape=(k, k)) / (2 * h)
    second_f = sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(k, n + 1)) / h**2
    first_f = sp.diags([-1.0, 1.0], [0, 2], shape=(k, n + 1)) / (2 * h)
    inner = sp.eye(k, n + 1, 1)
    eye = sp.eye(k)
    return {
        "lap": (sp.kron(eye, second) + sp.kron(second, eye)).tocsr(),
        "dx": sp.kron(eye, first).tocsr(),
        "dy": sp.kron(first, eye).tocsr(),
        "lap_f": (sp.kron(inner, second_f) + sp.kron(second_f, inner)).tocsr(),
        "dx_f": sp.kron(inner, first_f).tocsr(),
        "dy_f": sp.kron(first_f, inner).tocsr(),
        "restrict": sp.kron(inner, inner).tocsr(),
    }


def wall_vorticity(n: int) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """ω on the full grid = P ω_interior + Q ψ_interior + c, Thom's formula on the walls (corners 0)."""
    h, k = 1.0 / n, n - 1
    full = (n + 1) ** 2

    def node(i: int, j: int) -> int:
        return j * (n + 1) + i

    def inside(i: int, j: int) -> int:
        return (j - 1) * k + (i - 1)

    p_rows = [node(i, j) for j in range(1, n) for i in range(1, n)]
    p = sp.csr_matrix((np.ones(k * k), (p_rows, np.arange(k * k))), shape=(full, k * k))
    q_rows, q_cols, c = [], [], np.zeros(full)
    x = np.linspace(0.0, 1.0, n + 1)
    for s in range(1, n):
        for wall, near in (((s, 0), (s, 1)), ((s, n), (s, n - 1)), ((0, s), (1, s)), ((n, s), (n - 1, s))):
            q_rows.append(node(*wall))
            q_cols.append(inside(*near))
        c[node(s, n)] = -2.0 * lid(x[s]) / h
    q = sp.csr_matrix((np.full(len(q_rows), -2.0 / h**2), (q_rows, q_cols)), shape=(full, k * k))
    return p, q, c


def solve(n: int, tol: float = 1e-11) -> tuple[np.ndarray, np.ndarray]:
    """ψ and ω on the full (n + 1) × (n + 1) grid (index [j, i]: y then x) by Newton's method."""
    ops = operators(n)
    p, q, c = wall_vorticity(n)
    k2 = (n - 1) ** 2
    psi, omega = np.zeros(k2), np.zeros(k2)
    for _ in range(30):
        w = p @ omega + q @ psi + c
        u, v = ops["dy"] @ psi, -(ops["dx"] @ psi)
        wx, wy = ops["dx_f"] @ w, ops["dy_f"] @ w
        f1 = -(ops["lap"] @ psi) - omega
        f2 = u * wx + v * wy - NU * (ops["lap_f"] @ w)
        if max(np.abs(f1).max(), np.abs(f2).max() * 1e-2) < tol:
            break
        transport = sp.diags(u) @ ops["dx_f"] + sp.diags(v) @ ops["dy_f"] - NU * ops["lap_f"]
        j21 = sp.diags(wx) @ ops["dy"] - sp.diags(wy) @ ops["dx"] + transport @ q
        j22 = transport @ p
        jac = sp.bmat([[-ops["lap"], -sp.eye(k2)], [j21, j22]], format="csc")
        step = spla.spsolve(jac, -np.concatenate([f1, f2]))
        psi, omega = psi + step[:k2], omega + step[k2:]
    else:
        raise RuntimeError(f"Newton did not converge at N = {n}")
    full_psi = np.zeros((n + 1) ** 2)
    full_psi[ops["restrict"].indices] = psi
    w = p @ omega + q @ psi + c
    return full_psi.reshape(n + 1, n + 1), w.reshape(n + 1, n + 1)


def wall_pressure(omega: np.ndarray) -> dict[str, np.ndarray]:
    """p along the left wall, the floor and the right wall (each (n + 1,)) from ∇p = ν(−ω_y, ω_x), p(0, 0) = 0."""
    n = omega.shape[0] - 1
    h = 1.0 / n

    def integral(values: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(0.5 * h * (values[1:] + values[:-1]))])

    wx_left = (-3 * omega[:, 0] + 4 * omega[:, 1] - omega[:, 2]) / (2 * h)
    wx_right = (3 * omega[:, n] - 4 * omega[:, n - 1] + omega[:, n - 2]) / (2 * h)
    wy_floor = (-3 * omega[0, :] + 4 * omega[1, :] - omega[2, :]) / (2 * h)
    left = NU * integral(wx_left)
    floor = -NU * integral(wy_floor)
    right = floor[-1] + NU * integral(wx_right)
    return {"left": left, "floor": floor, "right": right}


def pressure_field(psi: np.ndarray, omega: np.ndarray, left: np.ndarray) -> np.ndarray:
    """p on the full grid ([j, i]): the left wall's p, then along each row the integral of
    p_x = −(u u_x + v u_y) − ν ω_y (trapezoidal rule; central differences, one-sided at the walls)."""
    n = psi.shape[0] - 1
    h = 1.0 / n
    u, v = velocities(psi)
    px = -(u * np.gradient(u, h, edge_order=2, axis=1) + v * np.gradient(u, h, edge_order=2, axis=0))
    px -= NU * np.gradient(omega, h, edge_order=2, axis=0)
    steps = 0.5 * h * (px[:, 1:] + px[:, :-1])
    return left[:, None] + np.concatenate([np.zeros((n + 1, 1)), np.cumsum(steps, axis=1)], axis=1)


def velocities(psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """u = ψ_y, v = −ψ_x on the full grid (central inside, second-order one-sided at the walls; the lid's u
    is its boundary value)."""
    n = psi.shape[0] - 1
    h = 1.0 / n
    u, v = np.gradient(psi, h, edge_order=2, axis=0), -np.gradient(psi, h, edge_order=2, axis=1)
    u[0, :], u[:, 0], u[:, -1] = 0.0, 0.0, 0.0
    u[-1, :] = lid(np.linspace(0.0, 1.0, n + 1))
    v[0, :], v[-1, :], v[:, 0], v[:, -1] = 0.0, 0.0, 0.0, 0.0
    return u, v


def main(sizes: list[int]) -> None:
    """Solve at each N and print the wall pressures near the top corners and the velocity difference."""
    points, ref = load("ns2d_c")
    x, y = points[:, 0], points[:, 1]
    far = ~((y > 0.95) & ((x < 0.05) | (x > 0.95)))
    on_left = np.isclose(x, 0.0) & (y > 0.9)
    print("reference file, left wall x = 0 near the top:", ", ".join(f"p({yy:.4f}) = {pp:+.4f}" for yy, pp in
                                                                     sorted(zip(y[on_left], ref[on_left, 2]))[-6:]))
    corners = {(0.0, 1.0): None, (1.0, 1.0): None}
    for xy in corners:
        hit = np.where(np.isclose(x, xy[0]) & np.isclose(y, xy[1]))[0]
        corners[xy] = float(ref[hit[0], 2]) if len(hit) else None
    print("reference file at the corners:", corners)
    print("   N   p(0,1)    p(0,0.979)  p(0,0.99)  p(1,1)    p(1,0.979)  u,v L2 diff from the file away from the corners")
    scores: list[str] = []
    for n in sizes:
        psi, omega = solve(n)
        wall = wall_pressure(omega)
        grid = np.linspace(0.0, 1.0, n + 1)
        u, v = velocities(psi)

        def at(values: np.ndarray, where: float, grid: np.ndarray = grid) -> float:
            return float(np.interp(where, grid, values))

        p = pressure_field(psi, omega, wall["left"])
        interp = [RegularGridInterpolator((grid, grid), f) for f in (u, v, p)]
        fd = np.stack([g(np.stack([y, x], 1)) for g in interp], 1)
        diff = np.linalg.norm(fd[far, :2] - ref[far, :2]) / np.linalg.norm(ref[far, :2])
        scores.append(
            f"{n:4d}  joint (u, v, p) L2RE against the file {np.linalg.norm(fd - ref) / np.linalg.norm(ref):.2e}, "
            f"without the top corners {np.linalg.norm(fd[far] - ref[far]) / np.linalg.norm(ref[far]):.2e}; "
            f"p alone {np.linalg.norm(fd[:, 2] - ref[:, 2]) / np.linalg.norm(ref[:, 2]):.2e}, "
            f"p at the far right of the lid row vs the right wall's integral {p[-1, -1] - wall['right'][-1]:+.1e}"
        )
        print(
            f"{n:4d}  {wall['left'][-1]:+.4f}   {at(wall['left'], 0.979):+.4f}     {at(wall['left'], 0.99):+.4f}    "
            f"{wall['right'][-1]:+.4f}   {at(wall['right'], 0.979):+.4f}      {diff:.2e}",
            flush=True,
        )
    print("PINNacle's metric for the finite-difference solution itself (bilinear on the file's 10 201 nodes):")
    print("\n".join(scores))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [64, 128, 256])
