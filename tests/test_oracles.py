"""Closed-form oracles of paper-notes §3.5 recovered by the training loop."""

import math

import pytest
import torch

import ltdl


@pytest.mark.parametrize("T,lam,K", [(0.5, 1.0, 1), (3.0, 0.5, 7), (50.0, 2.0, 20), (1000.0, 10.0, 13)])
def test_bias_erm_oracle_recovered_by_training(T, lam, K):
    x0 = torch.tensor([[0.3, -1.2, 0.7]])
    y = torch.tensor([[1.0, 0.5, -0.4]])
    pb = ltdl.Problem(ltdl.Bias(), x0, y, T=T, K=K, lam=lam)
    res = ltdl.train(pb, pb.init_controls(kind="normal", scale=0.3, seed=0), max_iter=200)
    exact = ltdl.bias_erm(x0[0], y[0], T=T, lam=lam)
    # The discrete problem has the continuous solution for every K: b_k ≡ δ/(T+λ).
    b = res.controls["b"]
    assert ((b - exact["b"]).norm() / exact["b"].norm() / math.sqrt(K)).item() < 1e-6
    assert abs(res.terms["J"].item() - exact["J"]) / exact["J"] < 1e-6
    assert abs(res.terms["E_T"].item() - exact["E"]) / exact["E"] < 1e-6
    v = ltdl.rescaled_controls(res.controls, T)["b"]
    assert (v - exact["v"]).abs().max().item() < 1e-6 * exact["v"].norm().item()


def test_bias_erm_depends_only_on_eps():
    x0, y = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0])
    a = ltdl.bias_erm(x0, y, T=4.0, lam=2.0)
    b = ltdl.bias_erm(x0, y, T=40.0, lam=20.0)
    assert a["E"] == pytest.approx(b["E"], rel=1e-14)
    assert a["v"].sub(b["v"]).abs().max().item() < 1e-14


def _discrete_integral_solution(e0, T, beta, lam, K):
    # Exact minimiser of the discrete quadratic problem (Euler, trapezoid, λΔtΣ|b_k|²), one dimension:
    # e_k = e0 + Δt Σ_{j<k} b_j is linear in b, so J is a quadratic form; solve its normal equations.
    dt = T / K
    L = torch.tril(torch.ones(K, K)) * dt  # e_{k+1} - e0 = (L b)_k
    w = torch.full((K,), beta * dt)
    w[-1] = beta * dt / 2 + 1.0  # trapezoid end weight plus the final cost
    H = L.T @ (w[:, None] * L) + lam * dt * torch.eye(K)
    g = L.T @ (w * e0)
    b = torch.linalg.solve(H, -g)
    return b, torch.cat([torch.tensor([e0]), e0 + L @ b])


def test_integral_oracle_discrete_exact_and_continuous_second_order():
    T, beta, lam, e0 = 4.0, 1.0, 0.1, 1.5
    errs, Ks = [], [50, 100, 200, 400]
    for K in Ks:
        pb = ltdl.Problem(ltdl.Bias(), torch.tensor([[e0]]), torch.tensor([[0.0]]), T=T, K=K, lam=lam, beta=beta)
        res = ltdl.train(pb, max_iter=2000)
        b_exact, e_exact = _discrete_integral_solution(e0, T, beta, lam, K)
        got = res.controls["b"][:, 0]
        assert ((got - b_exact).norm() / b_exact.norm()).item() < 1e-6
        t = torch.linspace(0, T, K + 1)
        cont = ltdl.bias_integral(torch.tensor([e0]), t, T=T, beta=beta, lam=lam)["e"][:, 0]
        errs.append((e_exact - cont).abs().max().item())
    fit = ltdl.loglog_slope([T / K for K in Ks], errs)
    assert abs(fit.slope - 2.0) < 0.2, fit
