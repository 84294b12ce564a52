"""Library-level checks behind chapter 2 (R1 and its limits) not covered by test_scaling.py.

* degree-2 homogeneity (bottleneck-ReLU with b1 = 0): v = sqrt(T) u, effective weight λ;
* a trained P with a T-independent weight γ keeps J_{T,λ}(u, P) = J_{1,λ/T}(v, P) + 0,
  a weight γ = λT/K (the authors' weight decay) does not;
* the H¹ penalty rescales with the two weights λ/T (values) and λ/T³ (jumps);
* the helpers of the chapters' check cells: ``decade_above`` (printed bounds of rounding-level
  numbers) and ``certify_sweep`` (second-order certificates of sweep solves).
"""

import math

import pytest
import torch

import ltdl


def _data(gen, n=8):
    return torch.randn(n, 2, generator=gen), torch.randn(n, 2, generator=gen)


def test_degree_two_identity_for_bottleneck_relu_without_outer_bias(gen):
    f = ltdl.make_field("bottleneck", activation="relu", hidden=5)
    x, y = _data(gen)
    K, T, lam = 20, 7.0, 0.3
    u = ltdl.init_controls(f, 2, K, kind="normal", scale=0.5, seed=3)
    u["b1"] = torch.zeros_like(u["b1"])
    v = ltdl.scale_controls(u, math.sqrt(T))
    traj_T, traj_1 = ltdl.flow(f, x, u, T), ltdl.flow(f, x, v, 1.0)
    # exact identity: only rounding of a K = 20 step recursion (~K * 1e-16) remains
    assert (traj_T - traj_1).abs().max().item() <= 1e-12 * traj_T.abs().max().item()
    J_T = ltdl.Problem(f, x, y, T=T, K=K, lam=lam).objective(u).item()
    J_1 = ltdl.Problem(f, x, y, T=1.0, K=K, lam=lam).objective(v).item()  # same λ: T drops out
    assert abs(J_T - J_1) <= 1e-12 * abs(J_T)  # exact identity, rounding only
    # with the outer bias switched on the field is not homogeneous and the identity fails
    u["b1"] = torch.ones_like(u["b1"])
    gap = (ltdl.flow(f, x, u, T) - ltdl.flow(f, x, ltdl.scale_controls(u, math.sqrt(T)), 1.0)).abs().max()
    assert gap.item() > 1e-3  # not an identity: an O(1) mismatch, far above rounding


def _objective_with_P(f, x, y, T, K, lam, gamma, u, A):
    P = ltdl.OutputMap(A.clone(), torch.zeros(2), trainable=True, gamma=gamma)
    return ltdl.Problem(f, x, y, T=T, K=K, lam=lam, P=P).objective(u).item()


def test_trained_P_penalty_keeps_or_breaks_the_scaling(gen):
    f = ltdl.make_field("outer", activation="tanh")
    x, y = _data(gen)
    K = 10
    A = torch.randn(2, 2, generator=gen)
    v = ltdl.init_controls(f, 2, K, kind="normal", scale=0.5, seed=4)
    pairs = [(1.0, 0.25), (16.0, 4.0)]  # same ε = 0.25
    # γ independent of T: the objective in rescaled form is the same function for both pairs
    const = [_objective_with_P(f, x, y, T, K, lam, 0.1, ltdl.scale_controls(v, 1 / T), A) for T, lam in pairs]
    assert abs(const[0] - const[1]) <= 1e-12 * abs(const[0])  # the same function: rounding only
    # γ = λ T / K (weight decay proportional to Δt, as in the authors' code): different problems
    leia = [_objective_with_P(f, x, y, T, K, lam, lam * T / K, ltdl.scale_controls(v, 1 / T), A) for T, lam in pairs]
    gamma_gap = (pairs[1][1] * pairs[1][0] - pairs[0][1] * pairs[0][0]) / K * (A**2).sum().item()
    # the two objectives differ exactly by the difference of the P penalties: rounding only
    assert abs((leia[1] - leia[0]) - gamma_gap) <= 1e-12 * abs(leia[1])
    assert abs(leia[1] - leia[0]) > 1e-3  # that difference is O(1), far above rounding


def test_h1_penalty_rescales_with_two_weights():
    f = ltdl.make_field("outer", activation="tanh")
    K, T, lam = 12, 5.0, 0.7
    v = ltdl.init_controls(f, 2, K, kind="normal", scale=1.0, seed=5)
    u = ltdl.scale_controls(v, 1 / T)
    h1_T = ltdl.control_penalty(u, f, 2, T, lam, kind="h1").item()
    l2_1 = ltdl.control_penalty(v, f, 2, 1.0, lam / T, kind="l2").item()
    jumps = sum(((t[1:] - t[:-1]) ** 2).sum().item() for t in v.values())
    assert abs(h1_T - (l2_1 + lam / T**3 * K * jumps)) <= 1e-12 * h1_T  # exact rescaling, rounding only
    # hence not a function of ε alone: another pair with the same ε gives another value
    h1_2T = ltdl.control_penalty(ltdl.scale_controls(v, 1 / (2 * T)), f, 2, 2 * T, 2 * lam, kind="h1").item()
    assert abs(h1_2T - h1_T) > 1e-3  # at fixed eps the jump weight lam/T^3 falls 4-fold


def test_decade_above_bounds_rounding_level_numbers():
    from ltdl.diagnostics import decade_above

    assert decade_above(5.8e-8) == 1e-7 and decade_above(1e-7) == 1e-7  # exact powers stay
    assert decade_above(-3.2e-13) == 1e-12 and decade_above(0.0) == 0.0
    with pytest.raises(ValueError, match="x must be finite"):
        decade_above(float("nan"))


def test_certify_sweep_matches_the_closed_form_hessian_of_the_oracle():
    """One point, bias-only field: in the unit-time form J(v) = |x0 + mean_k v_k - y|^2
    + eps mean_k |v_k|^2, whose Hessian (2/K^2) 11^T + (2 eps/K) I has smallest eigenvalue
    2 eps/K exactly (K > 1); the sweep's Newton step leaves a rounding-level gradient."""
    from ltdl.diagnostics import certify_sweep

    x0, y0 = torch.tensor([[0.3, -1.2]]), torch.tensor([[1.5, 0.4]])
    K, Ts = 7, [1.0, 4.0, 16.0]
    sw = ltdl.sweep(ltdl.Bias(), x0, y0, T=Ts, lam=1.0, K=K, newton_steps=1, tol_grad=1e-15)
    certs = certify_sweep(sw, x0, y0)
    for T, c in zip(Ts, certs, strict=True):
        assert c.kind == "newton"
        assert c.grad_max <= 1e-13  # a strictly convex quadratic after one Newton step: rounding
        # closed form, up to rounding of the eigenvalue solver on O(1) entries
        assert abs(c.min_eig - 2 * (1.0 / T) / K) <= 1e-12
