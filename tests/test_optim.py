"""Tests of ltdl.optim: certificates, the proximal-gradient solver and its closed-form oracle."""

import pytest
import torch

import ltdl


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: OpenMP threads only add contention on a shared machine.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _bias_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.randn(5, 3, generator=g, dtype=torch.float64)
    return x, y, (y - x).mean(0)  # m = mean(y_i − x_i) = (-0.233, 0.0287, 0.939)


def _oracle_b(m, T, K, lam):
    """b_0 = c*/Δt, b_k = 0 for k ≥ 1, c* = sign(m) max(|m| − λ/(2W), 0), W = T − Δt/2."""
    dt = T / K
    W = T - dt / 2
    c = torch.sign(m) * torch.clamp(m.abs() - lam / (2 * W), min=0.0)
    b = torch.zeros(K, m.numel(), dtype=m.dtype)
    b[0] = c / dt
    return b


# n_small: components with |m| < λ/(2W), whose control must stay exactly zero (|m_1| = 0.0287).
@pytest.mark.parametrize("T,K,lam,n_small", [(2.0, 8, 0.3, 1), (8.0, 16, 1.0, 1), (4.0, 20, 0.05, 0), (1.0, 4, 2.0, 3)])
def test_fista_recovers_the_l1_oracle(T, K, lam, n_small):
    x, y, m = _bias_data()
    prob = ltdl.Problem(ltdl.Bias(), x, y, T=T, K=K, lam=0.0, beta=1.0, final_weight=0.0)
    res = ltdl.fista(prob, l1=lam, tol=1e-13)
    b = _oracle_b(m, T, K, lam)
    # b is ~ Δt⁻¹ (Hessian)⁻¹ G: a certificate of 1e-13 bounds its error well below 1e-10.
    assert float((res.controls["b"] - b).abs().max()) <= 1e-10
    assert res.certificate.kind == "prox-gradient" and res.certificate.min_eig is None
    res.certificate.check(1e-13)
    # Exact zeros: every layer after the first, and the whole component with |m| < λ/(2W).
    assert bool((res.controls["b"][1:] == 0).all())
    small = m.abs() < lam / (2 * (T - T / K / 2))
    assert int(small.sum()) == n_small
    assert bool((res.controls["b"][:, small] == 0).all())
    # Result bookkeeping: J includes the l1 term, the l1 term is l1·Δt·Σ|b|.
    l1_term = lam * (T / K) * float(res.controls["b"].abs().sum())
    assert float(res.terms["l1"]) == pytest.approx(l1_term, rel=1e-14)
    assert float(res.value) == pytest.approx(float(prob.objective(res.controls)) + l1_term, rel=1e-14)


def test_fista_on_a_batch_uses_each_members_dt():
    x, y, m = _bias_data()
    Ts, K, lam = (2.0, 8.0), 8, 0.4
    prob = ltdl.Problem(ltdl.Bias(), x, y, T=torch.tensor(Ts), K=K, lam=0.0, beta=1.0, final_weight=0.0)
    res = ltdl.fista(prob, l1=lam, tol=1e-13)
    for s, T in enumerate(Ts):
        assert float((res.controls["b"][s] - _oracle_b(m, T, K, lam)).abs().max()) <= 1e-10
    assert res.terms["l1"].shape == (2,)


def test_fista_prox_step_matches_a_hand_computation():
    x, y, _ = _bias_data()
    T, K, lam, s = 2.0, 4, 0.7, 1e-3  # s small: the descent test accepts it, no backtracking
    prob = ltdl.Problem(ltdl.Bias(), x, y, T=T, K=K, lam=0.0, beta=1.0, final_weight=0.0)
    u0 = {"b": torch.linspace(-0.01, 0.01, K * 3, dtype=torch.float64).reshape(K, 3)}
    res = ltdl.fista(prob, u0, l1=lam, step=s, max_iter=1)
    g = ltdl.optim.gradient(prob, u0)["b"]
    thr = s * lam * T / K
    expected = torch.empty(K, 3, dtype=torch.float64)
    for k in range(K):
        for j in range(3):
            v = float(u0["b"][k, j] - s * g[k, j])
            expected[k, j] = (v - thr) if v > thr else (v + thr) if v < -thr else 0.0
    assert bool((expected == 0).any()) and bool((expected != 0).any())  # both branches exercised
    torch.testing.assert_close(res.controls["b"], expected, rtol=0, atol=1e-15)


def test_fista_without_l1_matches_newton_and_is_monotone():
    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")
    prob = ltdl.Problem(field, data.x, data.y, T=2.0, K=4, lam=0.1)
    u0 = prob.init_controls(kind="normal", scale=0.1, seed=0)
    res = ltdl.fista(prob, u0, l1=0.0, tol=1e-10)
    ref = ltdl.train_newton(prob, u0)
    res.certificate.check(1e-10)
    ref.certificate.check(1e-10, min_eig_floor=0.0)
    # Same strict local minimum; distance ≤ (grad tolerance)/(min eigenvalue) with margin.
    dist = max(float((res.controls[n] - ref.controls[n]).abs().max()) for n in res.controls)
    assert dist <= 1e-10 / ref.certificate.min_eig * 10
    h = torch.tensor(res.history)
    assert bool((h[1:] <= h[:-1] * (1 + 1e-14)).all())  # restart keeps F monotone (rounding slack)


def test_l1_penalty_formula():
    field = ltdl.make_field("outer")
    g = torch.Generator().manual_seed(3)
    u = {n: torch.randn(2, 5, *s, generator=g, dtype=torch.float64) for n, s in field.shapes(2).items()}
    T = torch.tensor([1.0, 4.0], dtype=torch.float64)
    val = ltdl.l1_penalty(u, field, 2, T, 0.3)
    by_hand = [0.3 * float(T[s]) / 5 * sum(float(t[s].abs().sum()) for t in u.values()) for s in range(2)]
    assert val.tolist() == pytest.approx(by_hand, rel=1e-14)
    with pytest.raises(ValueError, match="lam"):
        ltdl.l1_penalty(u, field, 2, T, -1.0)


def test_fista_rejects_bad_inputs_and_warns_on_non_homogeneous_fields():
    x, y, _ = _bias_data()
    prob = ltdl.Problem(ltdl.Bias(), x, y, T=1.0, K=2, lam=0.0, beta=1.0, final_weight=0.0)
    with pytest.raises(ValueError, match="l1"):
        ltdl.fista(prob, l1=-0.1)
    with pytest.raises(ValueError, match="tol"):
        ltdl.fista(prob, l1=0.1, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        ltdl.fista(prob, l1=0.1, max_iter=0)
    P = ltdl.OutputMap(torch.eye(3, dtype=torch.float64), trainable=True)
    with pytest.raises(ValueError, match="P"):
        ltdl.fista(ltdl.Problem(ltdl.Bias(), x, y, T=1.0, K=2, lam=0.0, P=P), l1=0.1)
    bott = ltdl.make_field("bottleneck", activation="relu", hidden=2)
    with pytest.warns(UserWarning, match="homogeneous"):
        ltdl.fista(ltdl.Problem(bott, x, y, T=1.0, K=2, lam=0.0), l1=0.1, max_iter=3)


def test_certificate_check_messages():
    with pytest.raises(AssertionError, match="prox-gradient certificate fails"):
        ltdl.Certificate("prox-gradient", 1e-6).check(1e-10)
    ltdl.Certificate("prox-gradient", 0.0).check(1e-10)


def test_fista_respects_frozen_controls():
    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="relu", frozen={"b": 0})
    prob = ltdl.Problem(field, data.x, data.y, T=2.0, K=4, lam=0.0, beta=1.0)
    res = ltdl.fista(prob, prob.init_controls(kind="normal", scale=0.1, seed=0), l1=0.05, tol=1e-9)
    assert set(res.controls) == {"w"}  # the frozen bias is no control: nothing to train or penalise
    res.certificate.check(1e-9)
    by_hand = 0.05 * 0.5 * float(res.controls["w"].abs().sum())  # l1·Δt·Σ|w|, Δt = 0.5
    assert float(res.terms["l1"]) == pytest.approx(by_hand, rel=1e-14)


def test_train_certificate_covers_a_trained_output_map():
    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")
    P = ltdl.OutputMap(torch.eye(2, dtype=torch.float64) * 0.5, trainable=True, gamma=0.1)
    prob = ltdl.Problem(field, data.x, data.y, T=1.0, K=3, lam=0.1, P=P)
    res = ltdl.train(prob, max_iter=3)
    u = {n: t.clone().requires_grad_(True) for n, t in res.controls.items()}
    A, c = prob.P.A.clone().requires_grad_(True), prob.P.c.clone().requires_grad_(True)
    prob.P.A, prob.P.c = A, c
    grads = torch.autograd.grad(prob.objective(u), [*u.values(), A, c])
    assert res.certificate.grad_max == max(float(g.abs().max()) for g in grads)  # controls and P alike


def test_restarts_keep_only_strict_decreases_and_restore_a_trainable_P():
    ds = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")
    P = ltdl.OutputMap(torch.eye(2, dtype=torch.float64), trainable=True, gamma=0.1)
    prob = ltdl.Problem(field, ds.x, ds.y, T=2.0, K=4, lam=0.1, P=P)
    u0 = prob.init_controls(kind="normal", scale=0.1, seed=0)
    once = ltdl.train(prob, u0, max_iter=5)
    A_once = prob.P.A.clone()
    prob.P.A, prob.P.c = torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    res = ltdl.train(prob, u0, max_iter=5, restarts=3)
    # A call that stops after 5 iterations leaves room to improve: the first restart is kept.
    assert float(res.value) < float(once.value)
    assert res.n_iter > once.n_iter and res.history[: len(once.history)] == once.history
    assert not torch.equal(prob.P.A, A_once)
    assert res.certificate.kind == "gradient"


def test_a_rejected_restart_puts_a_trainable_P_back(monkeypatch):
    ds = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")
    P = ltdl.OutputMap(torch.eye(2, dtype=torch.float64), trainable=True, gamma=0.1)
    prob = ltdl.Problem(field, ds.x, ds.y, T=2.0, K=4, lam=0.1, P=P)
    u0 = prob.init_controls(kind="normal", scale=0.1, seed=0)
    real, calls = ltdl.optim._train_once, []

    def first_real_then_worse(problem, u, **kw):
        calls.append(problem.P.A.clone())
        if len(calls) == 1:
            return real(problem, u, **kw)
        with torch.no_grad():
            problem.P.A.add_(1.0)  # what a call does to P: in place; and it ends higher
        return real(problem, {n: t + 1.0 for n, t in u.items()}, **{**kw, "max_iter": 1})

    monkeypatch.setattr(ltdl.optim, "_train_once", first_real_then_worse)
    res = ltdl.train(prob, u0, max_iter=20, restarts=3)
    assert len(calls) == 2  # the first worse call ends the restarts
    torch.testing.assert_close(prob.P.A, calls[1], rtol=0, atol=0)  # P as the kept call left it
    assert res.n_iter <= 20  # only the kept call counts
    with pytest.raises(ValueError, match="restarts"):
        ltdl.train(prob, u0, restarts=-1)
