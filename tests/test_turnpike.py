"""Tests of ltdl.turnpike: Newton training, linearised rates, depth, two-sided fits, discrete oracle."""

import math

import numpy as np
import pytest
import torch

import ltdl

torch.set_default_dtype(torch.float64)


def _tracking_problem(T=4.0, K=8, angle=45.0, penalty="l2"):
    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")
    xb = data.x @ ltdl.rotation(angle).T
    prob = ltdl.Problem(
        field, data.x, data.y, T=T, K=K, lam=0.1, x_bar=xb, tracking_weight=1.0, final_weight=10.0, penalty=penalty
    )
    return prob, field, xb


def test_train_newton_reaches_a_certified_minimum_and_beats_lbfgs():
    prob, _, _ = _tracking_problem()
    u0 = prob.init_controls(kind="normal", scale=0.01, seed=0)
    res = ltdl.train_newton(prob, u0)
    cert = res.certificate
    assert cert.kind == "newton"
    assert cert.grad_max < 1e-10 and cert.min_eig > 0 and len(res.history) >= 1  # history: one J per Newton step
    cert.check(1e-10, min_eig_floor=0.0)
    ref = ltdl.train(prob, u0, max_iter=300)
    assert float(res.value) <= float(ref.value) + 1e-12
    assert float(res.value) == pytest.approx(float(prob.objective(res.controls)), rel=1e-14)


def test_train_newton_is_exact_on_the_erm_oracle():
    x0, y = torch.tensor([[0.3, -1.0]]), torch.tensor([[1.0, 2.0]])
    prob = ltdl.Problem(ltdl.Bias(), x0, y, T=3.0, K=7, lam=0.5)
    res = ltdl.train_newton(prob, lbfgs_iter=0)
    exact = ltdl.bias_erm(x0[0], y[0], T=3.0, lam=0.5)
    assert torch.allclose(res.controls["b"], exact["b"].expand(7, 2), atol=1e-13)
    assert res.n_iter == 1 and len(res.history) == 1  # a quadratic problem: one Newton step


def test_train_newton_rejects_batches_and_bad_options():
    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer")
    batch = ltdl.Problem(field, data.x, data.y, T=torch.tensor([1.0, 2.0]), K=4, lam=0.1)
    with pytest.raises(ValueError, match="problem"):
        ltdl.train_newton(batch)
    prob, _, _ = _tracking_problem()
    with pytest.raises(ValueError, match="lbfgs_iter"):
        ltdl.train_newton(prob, lbfgs_iter=-1)
    with pytest.raises(ValueError, match="tol_grad"):
        ltdl.train_newton(prob, tol_grad=-1e-12)


def test_linearised_rate_closed_form_and_discrete_formula():
    field = ltdl.make_field("outer", activation="tanh")
    xb = ltdl.four_point_rotation().x @ ltdl.rotation(45.0).T
    # B^T B has eigenvalues 4 tanh(1/sqrt 2)^2 (w-block) and N = 4 (b-block); the smaller one sets mu.
    s2 = 4 * math.tanh(1 / math.sqrt(2)) ** 2
    mu = math.sqrt(s2 * 1.0 / (4 * 0.1))
    assert ltdl.linearised_rate(field, xb, weight=1.0, lam=0.1) == pytest.approx(mu, rel=1e-12)
    dt = 0.5
    mu_dt = ltdl.linearised_rate(field, xb, weight=1.0, lam=0.1, dt=dt)
    rho = math.exp(-mu_dt * dt)  # root of rho + 1/rho = 2 + (mu dt)^2
    assert rho + 1 / rho == pytest.approx(2 + (mu * dt) ** 2, rel=1e-12)
    assert ltdl.linearised_rate(field, xb, weight=4.0, lam=0.1) == pytest.approx(2 * mu, rel=1e-12)


def test_linearised_rate_matches_a_solved_tracking_problem():
    prob, field, xb = _tracking_problem(T=16.0, K=32)
    u0 = prob.init_controls(kind="normal", scale=0.01, seed=0, zero=("w",))
    res = ltdl.train_newton(prob, u0)
    dist = ((res.trajectory - xb) ** 2).sum(-1).mean(-1).sqrt()
    t = np.arange(33) * 0.5
    # in the middle arc the local rate is the discrete linearised rate (up to ~1 % from the final arc at T = 16)
    local = -np.log(float(dist[14]) / float(dist[12])) / 1.0
    assert local == pytest.approx(ltdl.linearised_rate(field, xb, weight=1.0, lam=0.1, dt=0.5), rel=0.015)
    assert ltdl.turnpike_rate(t, dist, T=16.0) == pytest.approx(local, rel=0.05)


def test_linearised_rate_errors():
    field = ltdl.make_field("inner", activation="sigmoid")  # f(x, 0) = 1/2: no steady state
    xb = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="field"):
        ltdl.linearised_rate(field, xb, weight=1.0, lam=0.1)
    with pytest.raises(ValueError, match="lam"):
        ltdl.linearised_rate(ltdl.make_field("outer"), xb, weight=1.0, lam=0.0)
    with pytest.raises(ValueError, match="dt"):
        ltdl.linearised_rate(ltdl.make_field("outer"), xb + 1, weight=1.0, lam=0.1, dt=-1.0)


def test_turnpike_rate_recovers_synthetic_two_sided_curves():
    t = np.linspace(0, 20, 81)
    y = 0.7 * np.exp(-1.3 * t) + 0.2 * np.exp(-1.3 * (20 - t))
    assert ltdl.turnpike_rate(t, y, T=20.0) == pytest.approx(1.3, rel=1e-6)
    assert ltdl.turnpike_rate(t, 0.7 * np.exp(-1.3 * t), T=20.0, floor=1e-12) == pytest.approx(1.3, rel=1e-6)
    with pytest.raises(ValueError, match="margin"):
        ltdl.turnpike_rate(t[:5], y[:5], T=1.0, margin=0.5)


def test_first_time_below():
    t = np.arange(6) * 0.5
    y = np.array([1.0, 0.1, 0.01, 0.05, 0.001, 1.0])
    assert ltdl.first_time_below(t, y, 0.02) == 1.0
    assert ltdl.first_time_below(t, y, 1e-6) == math.inf
    with pytest.raises(ValueError, match="eps"):
        ltdl.first_time_below(t, y, 0.0)
    with pytest.raises(ValueError, match="same length"):
        ltdl.first_time_below(t[:3], y, 0.1)


def test_discrete_oracle_is_the_minimiser_and_converges_at_second_order():
    e0, T, beta, lam = torch.tensor([1.0, -0.5]), 4.0, 1.0, 0.1
    K = 12
    ex = ltdl.bias_integral_discrete(e0, T=T, K=K, beta=beta, lam=lam)
    prob = ltdl.Problem(ltdl.Bias(), torch.zeros(1, 2), -e0[None], T=T, K=K, lam=lam, beta=beta)
    assert float(prob.objective({"b": ex["b"]})) == pytest.approx(ex["J"], rel=1e-13)
    res = ltdl.train_newton(prob, lbfgs_iter=0)
    assert torch.allclose(res.controls["b"], ex["b"], atol=1e-12)
    assert torch.allclose(res.trajectory[:, 0] + e0 * 0 - (-e0), ex["e"], atol=1e-12)
    errs = []
    for K in (100, 200, 400):
        ex = ltdl.bias_integral_discrete(e0, T=T, K=K, beta=beta, lam=lam)
        cont = ltdl.bias_integral(e0, torch.linspace(0, T, K + 1), T=T, beta=beta, lam=lam)
        errs.append(float((ex["e"] - cont["e"]).abs().max()))
    assert errs[0] / errs[1] == pytest.approx(4.0, rel=0.03)
    assert errs[1] / errs[2] == pytest.approx(4.0, rel=0.03)


def test_discrete_oracle_errors():
    with pytest.raises(ValueError, match="K"):
        ltdl.bias_integral_discrete(torch.ones(2), T=1.0, K=0, beta=1.0, lam=1.0)
    with pytest.raises(ValueError, match="beta"):
        ltdl.bias_integral_discrete(torch.ones(2), T=1.0, K=4, beta=0.0, lam=1.0)


def test_train_certificate_is_the_max_abs_gradient_at_the_returned_controls():
    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")
    prob = ltdl.Problem(field, data.x, data.y, T=torch.tensor([1.0, 2.0]), K=4, lam=0.1)
    res = ltdl.train(prob, max_iter=5)
    g = ltdl.optim.gradient(prob, res.controls)
    per_member = [max(float(t[s].abs().max()) for t in g.values()) for s in range(2)]
    assert res.certificate.kind == "gradient" and res.certificate.min_eig is None
    assert res.certificate.grad_max == max(per_member)  # the same autograd evaluation: equal
    assert res.certificate.grad_max > 1e-8  # five iterations do not converge: the certificate must show it
    with pytest.raises(AssertionError, match="gradient"):
        res.certificate.check(1e-10)
    with pytest.raises(AssertionError, match="eigenvalue"):
        ltdl.Certificate("gradient", 0.0).check(1.0, min_eig_floor=0.0)
    with pytest.raises(AssertionError, match="eigenvalue"):
        ltdl.Certificate("newton", 0.0, -1.0).check(1.0, min_eig_floor=0.0)
    with pytest.raises(AssertionError):
        ltdl.Certificate("gradient", float("nan")).check(1.0)
    with pytest.raises(ValueError, match="grad_tol"):
        ltdl.Certificate("gradient", 0.0).check(0.0)
    ltdl.Certificate("newton", 1e-13, 0.5).check(1e-12, min_eig_floor=0.0)


# --- H¹ rate, envelope rate, extrapolation of fitted rates (chapter 05) ---------------------


def test_linearised_rate_h1_solves_the_characteristic_equations():
    from ltdl.turnpike import linearised_rate_h1

    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")
    xb = data.x @ ltdl.rotation(45.0).T
    m = ltdl.linearised_rate(field, xb, weight=1.0, lam=0.1)  # L² rate of the slowest mode
    r = linearised_rate_h1(field, xb, weight=1.0, lam=0.1)
    assert abs(r**4 - r**2 + m**2) < 1e-12 and r.real > 0 and r.imag > 0  # m > 1/2: underdamped
    dt = 0.5
    rd = linearised_rate_h1(field, xb, weight=1.0, lam=0.1, dt=dt)
    rho = np.exp(-rd * dt)
    w = rho + 1 / rho - 2  # symbol of the second difference
    assert abs(w**2 - dt**2 * w + dt**4 * m**2) < 1e-12 and abs(rho) < 1
    # overdamped (m < 1/2): the slow real root r² = (1 − sqrt(1 − 4m²))/2
    r_small = linearised_rate_h1(field, xb, weight=1e-3, lam=0.1)
    m_small = ltdl.linearised_rate(field, xb, weight=1e-3, lam=0.1)
    slow = math.sqrt((1 - math.sqrt(1 - 4 * m_small**2)) / 2)
    assert r_small.imag == 0 and r_small.real == pytest.approx(slow, rel=1e-12)


def test_h1_tracking_solution_decays_at_the_predicted_envelope_rate():
    """Bias field (ẋ = b, B = I): the linearisation is exact, so the solved H¹ problem must show r_Δt."""
    from ltdl.turnpike import envelope_rate, linearised_rate_h1

    x0, xb = torch.tensor([[1.0, -0.5]]), torch.zeros(1, 2)
    T, dt = 24.0, 0.25
    prob = ltdl.Problem(
        ltdl.Bias(),
        x0,
        xb,
        T=T,
        K=round(T / dt),
        lam=0.1,
        x_bar=xb,
        tracking_weight=1.0,
        final_weight=0.0,
        penalty="h1",
    )
    res = ltdl.train_newton(prob, lbfgs_iter=0)
    res.certificate.check(1e-10, min_eig_floor=0.0)  # a strictly convex quadratic: Newton is exact
    rd = linearised_rate_h1(ltdl.Bias(), xb, weight=1.0, lam=0.1, dt=dt)
    t = np.arange(prob.K + 1) * dt
    dist = (res.trajectory[:, 0] - xb[0]).norm(dim=-1).numpy()
    alpha = envelope_rate(t, dist, period=math.pi / rd.imag, t_min=1.0, t_max=T / 2)
    # measured deviation 2e-4 (linear interpolation of log|z| between grid points): margin 10x
    assert alpha == pytest.approx(rd.real, rel=2e-3)


def test_envelope_rate_of_a_synthetic_oscillating_exponential():
    from ltdl.turnpike import envelope_rate

    t = np.arange(0, 20.0001, 0.05)
    alpha, omega = 1.3, 0.9
    y = np.exp(-alpha * t) * np.sqrt(2.0 + np.cos(2 * omega * t + 0.3))
    assert envelope_rate(t, y, period=math.pi / omega, t_min=1.0, t_max=15.0) == pytest.approx(alpha, rel=1e-3)
    with pytest.raises(ValueError, match="positive"):
        envelope_rate(t, -y, period=1.0, t_min=1.0, t_max=15.0)
    with pytest.raises(ValueError, match="fewer than 3"):
        envelope_rate(t, y, period=14.0, t_min=1.0, t_max=15.0)


def test_rate_limit_recovers_the_limit_and_rejects_bad_input():
    from ltdl.turnpike import rate_limit

    T = np.array([8.0, 10, 12, 16, 20])
    fit = rate_limit(T, 1.8 + 15.0 / T**2)
    assert fit.mu_inf == pytest.approx(1.8, abs=1e-12) and fit.coef[0] == pytest.approx(15.0) and fit.max_resid < 1e-12
    fit3 = rate_limit(T, 1.8 + 15.0 / T**2 + 30.0 / T**3, powers=(2, 3))
    assert fit3.mu_inf == pytest.approx(1.8, abs=1e-10)
    with pytest.raises(ValueError, match="at least 4"):
        rate_limit(T[:3], T[:3], powers=(2, 3))
    with pytest.raises(ValueError, match="same length"):
        rate_limit(T, T[:3])
    with pytest.raises(ValueError, match="powers"):
        rate_limit(T, T, powers=(0,))


# --- the solve → measure → depth protocol (ltdl.turnpike_run, ltdl.turnpike_table) -----------


def _integral_problem(T, K=None, beta=1.0):
    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")
    return ltdl.Problem(field, data.x, data.y, T=T, K=K or round(4 * T), lam=0.1, beta=beta)


def test_turnpike_run_starts_at_zero_weights_and_returns_the_curves_of_its_solution():
    prob = _integral_problem(4.0)
    run = ltdl.turnpike_run(prob, max_steps=200)
    u0 = prob.init_controls(kind="normal", scale=0.01, seed=0, zero=("w",))
    ref = ltdl.train_newton(prob, u0, max_steps=200)  # the documented start and solver, called directly
    assert torch.equal(run.controls["w"], ref.controls["w"]) and torch.equal(run.trajectory, ref.trajectory)
    run.certificate.check(1e-12, min_eig_floor=0.0)
    K = prob.K
    assert run.t.shape == (K + 1,) and run.tu.shape == (K,) and run.E.shape == (K + 1,) and run.u.shape == (K,)
    assert run.dt == 0.25 and run.t[-1] == 4.0 and run.tu[0] == 0.125
    # E is the mean over points of |x_i - y_i|^2 (P = I, mse); u the norm of all controls of a layer
    E = ((run.trajectory - prob.y) ** 2).sum(-1).mean(-1).numpy()
    np.testing.assert_allclose(run.E, E, rtol=1e-14, atol=0)
    u = torch.sqrt((run.controls["w"] ** 2).sum((1, 2)) + (run.controls["b"] ** 2).sum(1)).numpy()
    np.testing.assert_allclose(run.u, u, rtol=1e-14)
    assert run.E_T == run.E[-1]
    # the RMS distance to y is sqrt(E) for P = I and the mse loss
    np.testing.assert_allclose(run.distance(prob.y), np.sqrt(E), rtol=1e-14)
    t, y = run.curve("distance", prob.y)
    assert t is run.t and np.array_equal(y, run.distance(prob.y))


def test_turnpike_run_with_lbfgs_only_and_bad_arguments():
    prob = _integral_problem(2.0, K=4)
    run = ltdl.turnpike_run(prob, newton=False, max_iter=5)
    assert run.certificate.kind == "gradient" and run.certificate.min_eig is None
    with pytest.raises(TypeError, match="problem"):
        ltdl.turnpike_run("not a problem")
    batch = ltdl.Problem(prob.field, prob.x, prob.y, T=torch.tensor([1.0, 2.0]), K=4, lam=0.1)
    with pytest.raises(ValueError, match="problem"):
        ltdl.turnpike_run(batch)
    with pytest.raises(ValueError, match="zero"):
        ltdl.turnpike_run(prob, zero=("v",))
    with pytest.raises(ValueError, match="x_bar"):
        run.distance(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="x_bar"):
        run.curve("distance")
    with pytest.raises(ValueError, match="curve"):
        run.curve("energy")


def _synthetic_run(T, dt, y, u=None):
    """A TurnpikeRun holding given curves (the table reads only T and the curves)."""
    K = round(T / dt)
    t = np.arange(K + 1) * dt
    res = ltdl.Result({}, torch.zeros(K + 1, 1, 1), {}, certificate=ltdl.Certificate("gradient", 0.0))
    u = np.ones(K) if u is None else u
    return ltdl.TurnpikeRun(T=T, dt=dt, result=res, t=t, tu=(np.arange(K) + 0.5) * dt, E=y(t), u=u)


def test_turnpike_table_rates_depths_and_depth_stats_on_known_curves():
    dt, mu, b = 0.25, 1.3, 1e-6
    # two-sided curves y = 0.7 e^{-mu t} + b e^{-mu (T - t)}: the fitted rate is mu for every T
    runs = {
        T: _synthetic_run(T, dt, lambda t, T=T: 0.7 * np.exp(-mu * t) + b * np.exp(-mu * (T - t))) for T in (4, 8, 16)
    }
    tab = ltdl.turnpike_table(runs, curve="E", etas=[0.1, 1e-3], floor=1e-12)
    assert tab.horizons == (4, 8, 16) and tab.curve == "E"
    for T in (4, 8, 16):
        assert tab.rate[T] == pytest.approx(mu, rel=1e-6)
        assert tab.minimum[T] == float(runs[T].E.min())
    # first grid time with 0.7 e^{-mu t} <= eta (the b-term is below 1e-7 of eta there): t* rounded up to the grid
    for eta, Ts in ((0.1, (4, 8, 16)), (1e-3, (8, 16))):
        for T in Ts:
            assert tab.depth[eta][T] == math.ceil(math.log(0.7 / eta) / mu / dt) * dt
    assert tab.depth[1e-3][4] == math.inf  # y(4) = 0.7 e^{-5.2} = 3.9e-3: T = 4 ends before reaching 1e-3
    st = tab.depth_stats(1e-3, long_from=8)
    assert st.reached == (8, 16) and st.suffix and st.long == (8, 16) and st.spread == 0.0 and st.excess == 0.0
    st = tab.depth_stats(0.1, long_from=8)
    assert st.reached == (4, 8, 16) and st.suffix and st.long == (8, 16) and st.excess == 0.0
    assert tab.depth_stats(1e-3, long_from=32).spread == math.inf  # no long horizon: a check on it must fail
    assert tab.depth_stats(1e-3, long_from=8, horizons=[4, 8]).reached == (8,)


def test_depth_stats_detects_growth_with_T_and_gaps():
    dt = 0.5
    # a depth that grows with T: flat until t = log2(T), then e^{-5 (t - log2 T)}; eta = 1e-3 is reached at
    # log2(T) + log(1e3)/5 = log2(T) + 1.38, i.e. t = 3.5, 4.5, 5.5 on the grid for T = 4, 8, 16
    runs = {
        T: _synthetic_run(T, dt, lambda t, T=T: np.exp(-5 * np.clip(t - math.log2(T), 0, None))) for T in (4, 8, 16)
    }
    tab = ltdl.turnpike_table(runs, etas=[1e-3], floor=1e-12)
    assert [tab.depth[1e-3][T] for T in (4, 8, 16)] == [3.5, 4.5, 5.5]
    st = tab.depth_stats(1e-3, long_from=4)
    assert st.spread == 2.0 and st.excess == 2.0 and st.suffix
    # T = 8 never reaches eta while T = 4 and 16 do: not a suffix
    gap = {**runs, 8: _synthetic_run(8, dt, lambda t: np.ones_like(t))}
    assert not ltdl.turnpike_table(gap, etas=[1e-3], floor=1e-12).depth_stats(1e-3, long_from=4).suffix


def test_turnpike_table_rejects_bad_arguments():
    run = _synthetic_run(4, 0.25, lambda t: np.exp(-t))
    with pytest.raises(ValueError, match="curve"):
        ltdl.turnpike_table({4: run}, curve="dist")
    with pytest.raises(ValueError, match="runs"):
        ltdl.turnpike_table({8: run})  # the key must be the run's horizon
    with pytest.raises(ValueError, match="runs"):
        ltdl.turnpike_table({})
    with pytest.raises(TypeError, match="runs"):
        ltdl.turnpike_table({4: "run"})
    with pytest.raises(ValueError, match="etas"):
        ltdl.turnpike_table({4: run}, etas=[0.0])
    with pytest.raises(ValueError, match="x_bar"):
        ltdl.turnpike_table({4: run}, curve="distance")
    with pytest.raises(ValueError, match="margin"):
        ltdl.turnpike_table({4: run}, margin=1.9)  # fewer than 3 grid points in [margin, T - margin]
    tab = ltdl.turnpike_table({4: run}, etas=[0.1])
    with pytest.raises(ValueError, match="eta"):
        tab.depth_stats(0.2, long_from=1)
    with pytest.raises(ValueError, match="horizons"):
        tab.depth_stats(0.1, long_from=1, horizons=[8])


def test_turnpike_table_reproduces_the_linearised_rate_of_a_solved_integral_problem():
    """R6 at T = 8, dt = 1/4: E, a squared distance, decays at 2 mu_dt, ||u|| at mu_dt (chapter 06)."""
    run = ltdl.turnpike_run(_integral_problem(8.0), max_steps=200)
    run.certificate.check(1e-12, min_eig_floor=0.0)
    data = ltdl.four_point_rotation()
    mu = ltdl.linearised_rate(ltdl.make_field("outer", activation="tanh"), data.y, weight=1.0, lam=0.1, dt=0.25)
    tab_E = ltdl.turnpike_table({8: run}, curve="E", etas=[1e-4], floor=1e-20)
    tab_u = ltdl.turnpike_table({8: run}, curve="u", floor=1e-10)
    # measured -0.44 % (E) and -0.48 % (u): the 1/T^2 window bias at T = 8 (chapter 05); 1 % is about 2x
    assert abs(tab_E.rate[8] / (2 * mu) - 1) <= 0.01 and abs(tab_u.rate[8] / mu - 1) <= 0.01
    assert tab_E.depth[1e-4][8] == ltdl.first_time_below(run.t, run.E, 1e-4)
