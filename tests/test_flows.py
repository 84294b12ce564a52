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
        return pb.objective(dict(zip(names, tensors, strict=True)))

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


def _step_before_tableaux(field, method, x, uk, dt):
    """The hand-written steps that the Butcher tableaux replaced, kept as the bit-level reference."""
    if method == "euler":
        return x + dt * field(x, uk)
    if method == "midpoint":
        return x + dt * field(x + 0.5 * dt * field(x, uk), uk)
    k1 = field(x, uk)
    k2 = field(x + 0.5 * dt * k1, uk)
    k3 = field(x + 0.5 * dt * k2, uk)
    k4 = field(x + dt * k3, uk)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
@pytest.mark.parametrize(
    "name,act,hidden",
    [("outer", "tanh", None), ("inner", "relu", None), ("bottleneck", "relu", 2), ("outer", "sigmoid", None)],
)
def test_tableau_flow_is_bit_identical_to_the_hand_written_steps(method, name, act, hidden, gen):
    f = ltdl.make_field(name, activation=act, hidden=hidden)
    for T, K, batch in ((1.0, 3, ()), (7.5, 11, ()), (torch.tensor([0.5, 3.0]), 4, (2,))):
        u = ltdl.init_controls(f, 3, K, kind="normal", scale=0.7, seed=K, batch=batch)
        x0 = torch.randn(*batch, 6, 3, generator=gen)
        dt = (torch.as_tensor(T) / K).reshape(*batch, 1, 1)
        ref = [x0]
        for k in range(K):
            uk = {n: t.select(len(batch), k) for n, t in u.items()}
            ref.append(_step_before_tableaux(f, method, ref[-1], uk, dt))
        assert torch.equal(ltdl.flow(f, x0, u, T, method=method), torch.stack(ref))


def test_a_new_method_is_one_table(monkeypatch):
    # Kutta's third-order method: a_21 = 1/2, a_31 = -1, a_32 = 2, b = (1, 4, 1)/6.
    kutta3 = ltdl.flows.Tableau(a=((), (0.5,), (-1.0, 2.0)), b=(1, 4, 1), den=6, order=3)
    monkeypatch.setitem(ltdl.flows.TABLEAUX, "kutta3", kutta3)
    Ks = [8, 16, 32, 64]
    errs = []
    for K in Ks:
        f, u, x0, exact = _linear_problem(K)
        errs.append((ltdl.flow(f, x0, u, 2.0, method="kutta3")[-1] - exact).abs().max().item())
    fit = ltdl.loglog_slope([2.0 / K for K in Ks], errs)
    assert abs(fit.slope - kutta3.order) < 0.2, fit
    # The fused outer-field path reads the same table: its gradient matches autograd's.
    f = ltdl.Outer(activation="tanh")
    u = ltdl.init_controls(f, 2, 5, kind="normal", scale=0.5, seed=4)
    x0 = torch.tensor([[0.3, -0.7], [1.1, 0.2]])
    grads = []
    for fused in (False, True):
        w = {n: t.clone().requires_grad_(True) for n, t in u.items()}
        with ltdl.flows.fused_gradients(fused):
            (ltdl.flow(f, x0, w, 1.5, method="kutta3")[-1] ** 2).sum().backward()
        grads.append(torch.cat([t.grad.ravel() for t in w.values()]))
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-13, atol=1e-14)  # same sums, other order
    for tab in ltdl.flows.TABLEAUX.values():  # consistency: Σ b_i = den, row sums = stage times
        assert sum(tab.b) == tab.den and all(len(row) == i for i, row in enumerate(tab.a))
