import math

import torch

import ltdl


def test_trapezoid_exact_for_linear_and_second_order():
    T = 2.0
    for K in (1, 3, 10):
        t = torch.linspace(0, T, K + 1)
        assert abs(ltdl.trapezoid(3 * t + 1, T).item() - (1.5 * T**2 + T)) < 1e-13
    errs = [
        abs(ltdl.trapezoid(torch.sin(torch.linspace(0, T, K + 1)), T).item() - (1 - math.cos(T)))
        for K in (10, 20, 40, 80)
    ]
    assert abs(ltdl.loglog_slope([10, 20, 40, 80], errs).slope + 2) < 0.1


def test_penalties_are_quadrature_consistent():
    f = ltdl.Bias()
    T, lam = 3.0, 0.7
    for K in (5, 50):
        t = (torch.arange(K) + 0.5) * T / K
        u = {"b": torch.stack([torch.sin(t), torch.cos(t)], 1)}  # |u|² = 1
        assert abs(ltdl.control_penalty(u, f, 2, T, lam).item() - lam * T) < 1e-12
        h1 = ltdl.control_penalty(u, f, 2, T, lam, kind="h1").item()
        # ∫|u'|² = T for this u; the difference quotient approximates it to O(Δt²).
        assert abs(h1 - lam * T - lam * T * (1 - 1 / K)) < lam * T * (T / K) ** 2


def test_losses():
    z = torch.tensor([[3.0, 4.0]])
    y = torch.zeros(1, 2)
    assert ltdl.Loss("mse")(z, y).item() == 25.0
    assert ltdl.Loss("lp", p=2)(z, y).item() == 5.0
    assert ltdl.Loss("lp", p=1, power=2)(z, y).item() == 49.0
    assert abs(ltdl.Loss("smooth_l2", delta=1e-6)(z, y).item() - 5.0) < 1e-6
    ce = ltdl.Loss("cross_entropy")(torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([1]))
    assert abs(ce.item() - math.log(4 / 3)) < 1e-14


def test_risk_is_mean_over_points_through_P():
    P = ltdl.OutputMap(torch.tensor([[1.0, 1.0]]), torch.tensor([0.5]))
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    y = torch.tensor([[0.0], [0.0]])
    assert abs(ltdl.risk(x, y, P).item() - (1.5**2 + 2.5**2) / 2) < 1e-14


def test_tracking_cost_in_the_plane_is_the_summed_formula_bit_for_bit():
    # The planar shortcut adds the two squares by hand; value and gradient must equal the
    # plain reduction exactly (one addition has one rounding), for a batch of problems too.
    gen = torch.Generator().manual_seed(0)
    traj = torch.randn(5, 3, 40, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    x_bar = torch.randn(40, 2, dtype=torch.float64, generator=gen)
    T = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    fast = ltdl.costs.tracking_cost(traj, x_bar, T)
    (g_fast,) = torch.autograd.grad(fast.sum(), traj)
    plain = ltdl.costs.trapezoid(((traj - x_bar) ** 2).sum(-1).mean(-1), T)
    (g_plain,) = torch.autograd.grad(plain.sum(), traj)
    assert torch.equal(fast, plain) and torch.equal(g_fast, g_plain)
    # d = 3 keeps the reduction
    traj3 = torch.randn(5, 40, 3, dtype=torch.float64, generator=gen)
    bar3 = torch.randn(40, 3, dtype=torch.float64, generator=gen)
    assert torch.equal(
        ltdl.costs.tracking_cost(traj3, bar3, 2.0), ltdl.costs.trapezoid(((traj3 - bar3) ** 2).sum(-1).mean(-1), 2.0)
    )
