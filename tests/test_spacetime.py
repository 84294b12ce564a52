"""ltdl.spacetime: kernel field, moving grids, variable-width ResNets (paper-notes §4, R7)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ltdl
from ltdl.spacetime import (
    MovingGridProblem,
    SpaceTimeField,
    cosine_basis,
    embed_data,
    interpolation_matrix,
    legendre_basis,
    midpoint_grid,
    moving_grid_flow,
    readout_map,
    resnet_weights,
    width_schedule,
)

DT = torch.float64
X4 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], dtype=DT)


def smooth_controls(K: int, M: int, seed: int = 0) -> dict:
    """Fixed smooth kernels: cosine coefficients decaying like 1/(1+a)² in each index."""
    g = torch.Generator().manual_seed(seed)
    decay = 1.0 / (1.0 + torch.arange(M, dtype=DT)) ** 2
    return {
        "w": torch.randn(K, M, M, generator=g, dtype=DT) * decay[:, None] * decay[None, :],
        "b": torch.randn(K, M, generator=g, dtype=DT) * decay,
    }


def output(field, u, T, widths, kind):
    x0 = embed_data(X4, widths[0], kind=kind)
    xK = moving_grid_flow(field, x0, u, T, widths)[-1]
    return readout_map(widths[-1], 2, kind=kind)(xK)


# ------------------------------------------------------------------------------------- bases
def test_bases_orthonormal_on_midpoint_grids():
    for n in (6, 7, 16):
        xi = midpoint_grid(n)
        phi = cosine_basis(xi, 6)
        # Discrete cosine transform II: exactly orthonormal with weights 1/n when n >= M.
        assert torch.allclose(phi.T @ phi / n, torch.eye(6, dtype=DT), atol=1e-13)
    # Legendre: orthonormal in L²(0,1) (checked with 40-point Gauss quadrature).
    z, wts = np.polynomial.legendre.leggauss(40)
    xi = torch.tensor((z + 1) / 2, dtype=DT)
    L = legendre_basis(xi, 6)
    G = L.T @ (L * torch.tensor(wts / 2, dtype=DT)[:, None])
    assert torch.allclose(G, torch.eye(6, dtype=DT), atol=1e-13)


def test_readout_inverts_embedding():
    x = torch.randn(5, 3, dtype=DT, generator=torch.Generator().manual_seed(1))
    for n in (3, 8, 33):
        z = readout_map(n, 3, kind="cosine")(embed_data(x, n, kind="cosine"))
        assert torch.allclose(z, x, atol=1e-13)
    z = readout_map(12, 3, kind="cells")(embed_data(x, 12, kind="cells"))  # cells aligned
    assert torch.allclose(z, x, atol=1e-13)
    errs = [
        float((readout_map(n, 3, kind="legendre")(embed_data(x, n, kind="legendre")) - x).abs().max())
        for n in (8, 16, 32, 64)
    ]
    assert ltdl.loglog_slope([8, 16, 32, 64], errs).slope < -1.9  # midpoint rule, O(h²)


def test_interpolation_matrix():
    assert torch.equal(interpolation_matrix(7, 7), torch.eye(7, dtype=DT))
    assert torch.equal(interpolation_matrix(1, 4), torch.ones(4, 1, dtype=DT))
    for n_from, n_to in ((4, 8), (8, 4), (16, 5), (3, 17), (2, 1)):
        I = interpolation_matrix(n_from, n_to)
        assert I.shape == (n_to, n_from)
        assert torch.allclose(I.sum(1), torch.ones(n_to, dtype=DT), atol=1e-14)
        # Exact on affine profiles, extrapolated segments included.
        f_from = 3.0 - 2.0 * midpoint_grid(n_from)
        assert torch.allclose(I @ f_from, 3.0 - 2.0 * midpoint_grid(n_to), atol=1e-13)
    ns = [8, 16, 32, 64]
    errs = [
        float(
            (
                interpolation_matrix(n, 3 * n + 1) @ torch.sin(3 * midpoint_grid(n))
                - torch.sin(3 * midpoint_grid(3 * n + 1))
            )
            .abs()
            .max()
        )
        for n in ns
    ]
    assert ltdl.loglog_slope(ns, errs).slope < -1.9


# ------------------------------------------------------------------------------- fixed grid
def test_fixed_grid_is_the_outer_neural_ode():
    """A width-n grid gives the n-dimensional ``outer`` field with W = h w(ξ_j, ξ_l), b = b(ξ_j)."""
    M, K, n, T = 5, 6, 11, 1.7
    field = SpaceTimeField(modes=M)
    u = smooth_controls(K, M)
    x0 = embed_data(X4, n, kind="legendre")
    traj = ltdl.flow(field, x0, u, T)
    xi = midpoint_grid(n)
    W = torch.stack([field.kernel(u["w"][k], xi, xi) / n for k in range(K)])
    b = torch.stack([field.bias(u["b"][k], xi) for k in range(K)])
    ref = ltdl.flow(ltdl.Outer(activation="tanh"), x0, {"w": W, "b": b}, T)
    assert float((traj - ref).abs().max()) <= 1e-13


def test_penalty_is_the_continuum_l2_norm():
    """control_penalty on the coefficients = λ Δt Σ_k (‖w_k‖²_{L²(Ω²)} + ‖b_k‖²_{L²(Ω)})."""
    M, K, T, lam = 4, 3, 2.0, 0.3
    field = SpaceTimeField(modes=M)
    u = smooth_controls(K, M, seed=3)
    z, wts = np.polynomial.legendre.leggauss(30)
    xi = torch.tensor((z + 1) / 2, dtype=DT)
    wq = torch.tensor(wts / 2, dtype=DT)
    total = 0.0
    for k in range(K):
        w = field.kernel(u["w"][k], xi, xi)
        b = field.bias(u["b"][k], xi)
        total += float(wq @ w**2 @ wq) + float(wq @ b**2)
    exact = lam * T / K * total
    pen = float(ltdl.control_penalty(u, field, 1, T, lam))
    assert pen == pytest.approx(exact, rel=1e-12)
    # On any midpoint grid with n >= M the Frobenius norm of W is ‖w‖_{L²} exactly.
    for n in (4, 9, 50):
        W, _ = field.weights({"w": u["w"][0], "b": u["b"][0]}, n, n)
        assert float((W**2).sum()) == pytest.approx(float((u["w"][0] ** 2).sum()), rel=1e-12)


@pytest.mark.parametrize("kind, order", [("legendre", 2.0), ("cells", 1.0)])
def test_grid_refinement_order(kind, order):
    """Fixed smooth kernels, fixed K: P x^K converges in n with the predicted order (>= 1)."""
    M, K, T = 6, 10, 2.0
    field = SpaceTimeField(modes=M)
    u = smooth_controls(K, M)
    # Odd n put the jump of the ``cells`` embedding (ξ = 1/2) inside a cell: first order.
    # No reference solution: the order is fitted on successive differences |P_{n'} − P_n|.
    ns = [17, 33, 65, 129, 257] if kind == "cells" else [16, 32, 64, 128, 256]
    outs = [output(field, u, T, [n] * (K + 1), kind) for n in ns]
    diffs = [float((p - q).abs().max()) for p, q in zip(outs, outs[1:], strict=False)]
    slope = ltdl.loglog_slope(ns[:-1], diffs).slope
    # Midpoint-rule order (2 for C² integrands, 1 across a jump); measured 2.00 and 0.99, so
    # 0.05 is ~5x the largest measured deviation.
    assert abs(-slope - order) < 0.05, (kind, slope)


def test_cosine_embedding_converges_spectrally():
    M, K, T = 6, 10, 2.0
    field = SpaceTimeField(modes=M)
    u = smooth_controls(K, M)
    ref = output(field, u, T, [1024] * (K + 1), "cosine")
    assert float((output(field, u, T, [32] * (K + 1), "cosine") - ref).abs().max()) < 1e-12
    assert float((output(field, u, T, [64] * (K + 1), "cosine") - ref).abs().max()) < 1e-14


# ------------------------------------------------------------------------------ moving grids
def test_width_schedules():
    assert width_schedule("constant", 5, 12) == [12] * 6
    assert width_schedule("funnel", 6, 16) == [16, 16, 8, 8, 4, 4, 4]
    assert width_schedule("hourglass", 10, 16) == [16, 16, 8, 8, 4, 4, 8, 8, 16, 16, 16]
    assert min(width_schedule("hourglass", 7, 2)) == 1
    for K in (10, 20, 40):  # the number of width changes does not grow with K
        w = width_schedule("hourglass", K, 16)
        assert sum(a != b for a, b in zip(w, w[1:], strict=False)) == 4


def test_variable_width_forward_equals_explicit_resnet():
    """moving_grid_flow == a ResNet built by hand (numpy) with the same rectangular weights
    W^k = h_k w(ξ^{k+1}_j, ξ^k_l), biases b(ξ^{k+1}_j) and piecewise-linear skips."""
    M, T = 4, 1.3
    widths = [9, 6, 6, 3, 1, 2, 7, 12]
    K = len(widths) - 1
    field = SpaceTimeField(modes=M)
    u = smooth_controls(K, M, seed=7)
    x0 = torch.randn(5, widths[0], dtype=DT, generator=torch.Generator().manual_seed(2))
    states = moving_grid_flow(field, x0, u, T, widths)

    def phi(a, s):  # cosine mode a at the points s
        return np.ones_like(s) if a == 0 else math.sqrt(2) * np.cos(a * math.pi * s)

    def interp(values, n_from, n_to):  # piecewise linear through the nodes, extended linearly
        s_from = (np.arange(n_from) + 0.5) / n_from
        s_to = (np.arange(n_to) + 0.5) / n_to
        if n_from == 1:
            return np.repeat(values, n_to, axis=-1)
        out = np.empty(values.shape[:-1] + (n_to,))
        for j, s in enumerate(s_to):
            l = min(max(int(np.floor(s * n_from - 0.5)), 0), n_from - 2)
            slope = (values[..., l + 1] - values[..., l]) / (s_from[l + 1] - s_from[l])
            out[..., j] = values[..., l] + slope * (s - s_from[l])
        return out

    c, a = u["w"].numpy(), u["b"].numpy()
    x = x0.numpy()
    explicit = resnet_weights(field, u, widths)
    for k in range(K):
        n_in, n_out = widths[k], widths[k + 1]
        s_in = (np.arange(n_in) + 0.5) / n_in
        s_out = (np.arange(n_out) + 0.5) / n_out
        W = np.zeros((n_out, n_in))
        b = np.zeros(n_out)
        for p in range(M):
            b += a[k, p] * phi(p, s_out)
            for q in range(M):
                W += c[k, p, q] * np.outer(phi(p, s_out), phi(q, s_in)) / n_in
        assert np.abs(explicit[k]["W"].numpy() - W).max() <= 1e-13
        assert np.abs(explicit[k]["b"].numpy() - b).max() <= 1e-13
        assert np.abs(explicit[k]["I"].numpy() - interp(np.eye(n_in), n_in, n_out).T).max() <= 1e-13
        x = interp(x, n_in, n_out) + T / K * (np.tanh(x) @ W.T + b)
        assert states[k + 1].shape == (5, n_out)
        assert np.abs(states[k + 1].numpy() - x).max() <= 1e-12


def test_constant_widths_reduce_to_the_fixed_grid_problem():
    M, K, n, T = 4, 8, 10, 3.0
    field = SpaceTimeField(modes=M)
    u = smooth_controls(K, M, seed=5)
    y = X4 @ torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=DT)
    mg = MovingGridProblem(field, X4, y, T=T, K=K, widths=[n] * (K + 1), lam=0.2, beta=0.7, embedding="legendre")
    fixed = ltdl.Problem(
        field, embed_data(X4, n, kind="legendre"), y, T=T, K=K, lam=0.2, beta=0.7, P=readout_map(n, 2, kind="legendre")
    )
    traj = torch.stack(mg.trajectory(u))
    assert float((traj - fixed.trajectory(u)).abs().max()) <= 1e-14
    for key, value in fixed.terms(u).items():
        assert float(mg.terms(u)[key]) == pytest.approx(float(value), rel=1e-13, abs=1e-15), key


def test_r1_scaling_identity_in_the_kernel_parametrisation():
    """Scaling the coefficients by T scales the kernel by T exactly, and (T, u) ↔ (1, T u)."""
    M, T, lam = 4, 7.0, 0.5
    widths = width_schedule("hourglass", 20, 16)
    K = len(widths) - 1
    field = SpaceTimeField(modes=M)
    u = smooth_controls(K, M, seed=11)
    v = ltdl.scale_controls(u, T)
    xi, zeta = torch.rand(9, dtype=DT), torch.rand(5, dtype=DT)
    # Exact in exact arithmetic; in floating point up to a few roundings.
    assert torch.allclose(
        field.kernel(v["w"][3], xi, zeta), T * field.kernel(u["w"][3], xi, zeta), rtol=1e-14, atol=1e-14
    )
    x0 = embed_data(X4, widths[0])
    a = moving_grid_flow(field, x0, u, T, widths)
    b = moving_grid_flow(field, x0, v, 1.0, widths)
    assert max(float((p - q).abs().max()) for p, q in zip(a, b, strict=False)) <= 1e-13
    y = X4.flip(1)
    JT = MovingGridProblem(field, X4, y, T=T, K=K, widths=widths, lam=lam).terms(u)
    J1 = MovingGridProblem(field, X4, y, T=1.0, K=K, widths=widths, lam=lam / T).terms(v)
    for key in ("E_T", "penalty", "J"):
        assert float(JT[key]) == pytest.approx(float(J1[key]), rel=1e-13), key


def test_moving_grid_consistency_with_the_fine_grid():
    """Schedules with a bounded number of width changes converge to the fine fixed grid at
    second order in n_max (fixed K, smooth data); successive space-time refinement (K ∝ n_max,
    the same piecewise-constant controls in t) converges at order >= 1 (Euler).

    The cosine embedding makes the fixed-grid reference spectrally accurate (test below), so the error is
    the interpolation error alone. The hourglass (coarsest grid n_max/4) is pre-asymptotic
    below n_max ≈ 128: local error ratios 0.9, 2.9, 3.2 per doubling there, 3.6–3.9 above."""
    M, K0, T = 6, 4, 2.0
    field = SpaceTimeField(modes=M)
    u0 = smooth_controls(K0, M)

    def rep(r):
        return {k: t.repeat_interleave(r, 0) for k, t in u0.items()}

    K = 20
    u = rep(K // K0)
    ref = output(field, u, T, [64] * (K + 1), "cosine")  # spectrally accurate already
    ns = [128, 256, 512, 1024]
    for preset in ("funnel", "hourglass"):
        errs = [float((output(field, u, T, width_schedule(preset, K, n), "cosine") - ref).abs().max()) for n in ns]
        # Interpolation between grids is second order; -1.8 leaves the pre-asymptotic 0.2 of the docstring.
        assert ltdl.loglog_slope(ns, errs).slope <= -1.8, (preset, errs)
    outs = [
        output(field, rep(n // 2), T, width_schedule("hourglass", K0 * n // 2, n), "legendre")
        for n in (8, 16, 32, 64, 128)
    ]
    diffs = [float((p - q).abs().max()) for p, q in zip(outs, outs[1:], strict=False)]
    # Refining n and K together: Euler's O(Δt) dominates, so first order (one-sided, 0.1 slack).
    assert ltdl.loglog_slope([8, 16, 32, 64], diffs).slope <= -0.9, diffs


def test_train_drives_the_moving_grid_problem():
    field = SpaceTimeField(modes=3)
    K = 8
    y = X4 @ torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=DT)
    problem = MovingGridProblem(field, X4, y, T=2.0, K=K, widths=width_schedule("funnel", K, 8), lam=0.1, beta=1.0)
    u0 = problem.init_controls(kind="normal", seed=0)
    J0 = float(problem.objective(u0))
    res = ltdl.train(problem, u0, max_iter=40)
    assert float(res.value) < 0.5 * J0
    assert [x.shape[-1] for x in res.trajectory] == problem.widths
    assert problem.risk_curve(res.trajectory).shape == (K + 1,)


# -------------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_named_value_errors():
    field = SpaceTimeField(modes=4)
    K = 5
    u = smooth_controls(K, 4)
    x0 = embed_data(X4, 8)
    with pytest.raises(ValueError, match="widths"):
        moving_grid_flow(field, x0, u, 1.0, [8] * K)  # K entries instead of K+1
    with pytest.raises(ValueError, match="widths"):
        moving_grid_flow(field, x0, u, 1.0, [8, 8, 0, 8, 8, 8])
    with pytest.raises(ValueError, match="widths"):
        moving_grid_flow(field, x0, u, 1.0, [8, 8, 2.5, 8, 8, 8])
    with pytest.raises(ValueError, match=r"u\['w'\]"):
        moving_grid_flow(field, x0, {"w": torch.zeros(K, 3, 3, dtype=DT), "b": u["b"]}, 1.0, [8] * (K + 1))
    with pytest.raises(ValueError, match=r"u\['b'\]"):
        moving_grid_flow(field, x0, {"w": u["w"], "b": torch.zeros(K, 5, dtype=DT)}, 1.0, [8] * (K + 1))
    with pytest.raises(ValueError, match="x0"):
        moving_grid_flow(field, x0, u, 1.0, [9] * (K + 1))
    with pytest.raises(ValueError, match="T"):
        moving_grid_flow(field, x0, u, 0.0, [8] * (K + 1))
    with pytest.raises(ValueError, match="field"):
        moving_grid_flow(ltdl.Outer(), x0, u, 1.0, [8] * (K + 1))
    with pytest.raises(ValueError, match="c"):
        field.kernel(torch.zeros(3, 3, dtype=DT), midpoint_grid(4), midpoint_grid(4))
    with pytest.raises(ValueError, match="widths"):
        MovingGridProblem(field, X4, X4, T=1.0, K=K, widths=[8] * (K + 2), lam=0.1)
    with pytest.raises(ValueError, match="modes"):
        SpaceTimeField(modes=0)
    with pytest.raises(ValueError, match="n"):
        midpoint_grid(0)
    with pytest.raises(ValueError, match="n_to"):
        interpolation_matrix(4, 0)
    with pytest.raises(ValueError, match="kind"):
        embed_data(X4, 8, kind="spline")
    with pytest.raises(ValueError, match="preset"):
        width_schedule("diamond", 4, 8)
    with pytest.raises(ValueError, match="n_max"):
        width_schedule("funnel", 4, 0)
    with pytest.raises(ValueError, match="embedding"):
        MovingGridProblem(field, X4, X4, T=1.0, K=K, widths=[8] * (K + 1), lam=0.1, embedding="x")
