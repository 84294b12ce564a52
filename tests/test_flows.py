import math

import pytest
import torch

import ltdl


def _linear_problem(K, T=2.0):
    # dx/dt = w x with constant w: outer field with identity σ, b = 0; exact flow exp(T w) x0.
    f = ltdl.Outer(activation="identity")
    w = torch.tensor([[-0.3, 1.0], [-1.0, -0.3]])
    u = {"w": w.expand(K, 2, 2).clone(), "b": torch.zeros(K, 2)}
    x0 = torch.tensor([[1.0, 0.5], [-0.2, 0.8]])
    exact = x0 @ torch.linalg.matrix_exp(T * w).T
    return f, u, x0, exact


@pytest.mark.parametrize("method,order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_convergence_order(method, order):
    Ks = [8, 16, 32, 64, 128]
    errs = []
    for K in Ks:
        f, u, x0, exact = _linear_problem(K)
        errs.append((ltdl.flow(f, x0, u, 2.0, method=method)[-1] - exact).abs().max().item())
    fit = ltdl.loglog_slope([2.0 / K for K in Ks], errs)
    assert abs(fit.slope - order) < 0.2, fit


def test_resnet_is_euler(gen):
    f = ltdl.Outer(activation="tanh")
    K, T = 7, 3.0
    u = ltdl.init_controls(f, 2, K, kind="normal", scale=1.0, seed=3)
    x = torch.randn(9, 2, generator=gen)
    states = [x]
    for k in range(K):  # a hand-written residual network, layer by layer
        x = x + (T / K) * (torch.tanh(x) @ u["w"][k].T + u["b"][k])
        states.append(x)
    traj = ltdl.flow(f, states[0], u, T)
    assert traj.shape == (K + 1, 9, 2)
    assert (traj - torch.stack(states)).abs().max().item() < 1e-12


def test_odeint_reference_agrees_with_rk4(gen):
    f = ltdl.Outer(activation="tanh")
    u = ltdl.init_controls(f, 2, 4, kind="normal", scale=0.5, seed=5)
    x0 = torch.randn(3, 2, generator=gen)
    ref = ltdl.odeint_flow(f, x0, u, 1.0, rtol=1e-12, atol=1e-12)
    fine = ltdl.flow(f, x0, {n: t.repeat_interleave(64, dim=0) for n, t in u.items()}, 1.0, method="rk4")
    assert (ref - fine[::64]).abs().max().item() < 1e-9


def test_batched_flow_matches_individual_runs(gen):
    f = ltdl.Outer(activation="tanh")
    Ts = torch.tensor([0.5, 2.0, 8.0])
    u = ltdl.init_controls(f, 2, 5, kind="normal", scale=0.3, seed=2, batch=(3,))
    x0 = torch.randn(6, 2, generator=gen)
    batched = ltdl.flow(f, x0.expand(3, 6, 2), u, Ts)
    for s in range(3):
        single = ltdl.flow(f, x0, {n: t[s] for n, t in u.items()}, float(Ts[s]))
        torch.testing.assert_close(batched[:, s], single, rtol=1e-14, atol=1e-14)


def test_gradcheck_flow_and_cost(gen):
    f = ltdl.Outer(activation="tanh")
    x = torch.randn(3, 2, generator=gen)
    y = torch.randn(3, 2, generator=gen)
    pb = ltdl.Problem(f, x, y, T=1.5, K=3, lam=0.2, beta=0.5)
    u0 = ltdl.init_controls(f, 2, 3, kind="normal", scale=0.5, seed=0)
    names = list(u0)

    def J(*tensors):
        return pb.objective(dict(zip(names, tensors)))

    inputs = tuple(t.clone().requires_grad_(True) for t in u0.values())
    assert torch.autograd.gradcheck(J, inputs)


def test_adjoint_gradients_equal_direct(gen):
    f = ltdl.Outer(activation="tanh")
    x0 = torch.randn(4, 2, generator=gen)
    y = torch.randn(4, 2, generator=gen)
    grads = []
    for adjoint in (False, True):
        u = ltdl.init_controls(f, 2, 3, kind="normal", scale=0.5, seed=1)
        for t in u.values():
            t.requires_grad_(True)
        xT = ltdl.odeint_flow(f, x0, u, 1.0, adjoint=adjoint, rtol=1e-12, atol=1e-12)[-1]
        ((xT - y) ** 2).sum().backward()
        grads.append(torch.cat([t.grad.ravel() for t in u.values()]))
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=1e-9)
    assert math.isfinite(grads[0].norm().item())
