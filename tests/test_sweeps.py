"""Sweeps in T, λ and ε = λ/T: warm-started chains, batched sweeps, R1 invariance."""

import numpy as np
import pytest
import torch

import ltdl

X0 = torch.tensor([[0.3, -1.2]], dtype=torch.float64)
Y0 = torch.tensor([[1.5, 0.4]], dtype=torch.float64)


def test_chain_reproduces_bias_oracle():
    Ts = [0.5, 2.0, 8.0, 64.0]
    sw = ltdl.sweep(ltdl.Bias(), X0, Y0, T=Ts, lam=0.7, K=5)
    for i, T in enumerate(Ts):
        ref = ltdl.bias_erm(X0[0], Y0[0], T=T, lam=0.7)
        assert sw.E[i] == pytest.approx(ref["E"], rel=1e-8)
        assert sw.J[i] == pytest.approx(ref["J"], rel=1e-10)
        torch.testing.assert_close(sw.v(i)["b"], ref["v"].expand(5, 2), rtol=1e-8, atol=1e-10)


def test_batch_mode_matches_oracle_and_chain():
    Ts = [1.0, 4.0, 16.0]
    batch = ltdl.sweep(ltdl.Bias(), X0, Y0, T=Ts, lam=1.0, K=3, mode="batch")
    chain = ltdl.sweep(ltdl.Bias(), X0, Y0, T=Ts, lam=1.0, K=3)
    ref = np.array([ltdl.bias_erm(X0[0], Y0[0], T=T, lam=1.0)["E"] for T in Ts])
    # One L-BFGS run on the summed objective stops on the sum's tolerance: less accurate per problem.
    np.testing.assert_allclose(batch.E, ref, rtol=1e-6)
    np.testing.assert_allclose(chain.E, ref, rtol=1e-8)
    assert batch.mode == "batch" and len(batch) == 3


def test_warm_start_keeps_the_rescaled_control():
    f = ltdl.make_field("outer")
    u = ltdl.init_controls(f, 2, 4, kind="normal", seed=3, scale=1.0)
    w = ltdl.warm_start(u, 2.0, 8.0)
    for n in u:
        torch.testing.assert_close(8.0 * w[n], 2.0 * u[n], rtol=1e-15, atol=0)


def test_T_sweep_and_lambda_sweep_coincide_in_eps():
    """R1 at fixed K: (T, λ=1) and (T=1, λ=1/T) are the same problem; Newton-polished optima agree."""
    ds = ltdl.four_point_rotation()
    f = ltdl.make_field("outer", activation="tanh")
    K = 4
    u0 = ltdl.init_controls(f, 2, K, kind="normal", scale=0.01, seed=0)
    Ts = [1.0, 4.0, 16.0, 64.0]
    a = ltdl.sweep(f, ds.x, ds.y, T=Ts, lam=1.0, K=K, u0=u0, newton_steps=2)
    b = ltdl.sweep(f, ds.x, ds.y, T=1.0, lam=[1 / T for T in Ts], K=K, u0=u0, newton_steps=2)
    np.testing.assert_allclose(a.eps, b.eps, rtol=1e-15)
    np.testing.assert_allclose(a.E, b.E, rtol=1e-9)
    for i in range(len(Ts)):
        assert ltdl.l2_distance(a.v(i), b.v(i), f, 2, 1.0) < 1e-9
    assert np.all(a.grad < 1e-12) and np.all(b.grad < 1e-12)


def test_tikhonov_monotonicity_on_a_chain():
    ds = ltdl.four_point_rotation()
    f = ltdl.make_field("outer", activation="tanh")
    u0 = ltdl.init_controls(f, 2, 4, kind="normal", scale=0.01, seed=0)
    sw = ltdl.sweep(f, ds.x, ds.y, T=ltdl.doubling(1, 256), lam=1.0, K=4, u0=u0)
    assert np.all(np.diff(sw.v_norm_sq) > -1e-9)  # ‖v_T‖² non-decreasing in T
    assert np.all(np.diff(sw.E) < 1e-12)  # E_T non-increasing
    TE = sw.T * sw.E
    assert TE.max() < 10 and TE[-1] < TE.max()  # bounded, eventually decreasing
    diffs = sw.cauchy_differences()
    assert diffs.shape == (len(sw) - 1,)
    assert diffs[-1] == pytest.approx(sw.distance(len(sw) - 1, len(sw) - 2))
    assert sw.v_stacked()["w"].shape == (len(sw), 4, 2, 2)
    assert sw.v_profile(0).shape == (4,)


def test_doubling():
    assert ltdl.doubling(1, 8) == [1.0, 2.0, 4.0, 8.0]
    assert ltdl.doubling(3, 20) == [3.0, 6.0, 12.0]
    with pytest.raises(ValueError, match="stop"):
        ltdl.doubling(4, 2)


def test_shared_newton_on_a_quadratic():
    A = torch.tensor([[3.0, 1.0], [1.0, 2.0]])
    rhs = torch.tensor([1.0, -1.0])
    z, g_max, min_eig, history = ltdl.optim.newton(lambda z: 0.5 * z @ A @ z - rhs @ z, torch.zeros(2))
    torch.testing.assert_close(z, torch.linalg.solve(A, rhs))
    assert len(history) == 1 and g_max <= 1e-15  # a quadratic: one exact step, gradient at rounding
    assert min_eig == pytest.approx(float(torch.linalg.eigvalsh(A)[0]), rel=1e-14)


def test_newton_steps_polish_a_chain_sweep_to_rounding_level():
    field = ltdl.make_field("outer", activation="tanh")
    ds = ltdl.four_point_rotation()
    plain = ltdl.sweep(field, ds.x, ds.y, T=[1.0, 4.0], lam=1.0, K=3, max_iter=10)
    polished = ltdl.sweep(field, ds.x, ds.y, T=[1.0, 4.0], lam=1.0, K=3, max_iter=10, newton_steps=8)
    assert plain.grad.max() > 1e-8  # ten L-BFGS iterations leave a visible gradient
    assert polished.grad.max() <= 1e-12  # quadratic convergence from 1e-8 within eight steps: rounding level


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(T=[1.0, 2.0], lam=[1.0, 2.0, 3.0]), "T and lam"),
        (dict(T=[1.0, -2.0], lam=1.0), "T must"),
        (dict(T=1.0, lam=-1.0), "lam must"),
        (dict(T=1.0, lam=1.0, mode="parallel"), "mode"),
        (dict(T=1.0, lam=1.0, K=0), "K must"),
        (dict(T=1.0, lam=1.0, mode="batch", newton_steps=1), "newton_steps"),
        (dict(T=[], lam=1.0), "T must"),
    ],
)
def test_bad_arguments(kwargs, match):
    kwargs = {"K": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        ltdl.sweep(ltdl.Bias(), X0, Y0, **kwargs)


def test_bad_u0_and_trainable_P():
    f = ltdl.Bias()
    with pytest.raises(ValueError, match="u0"):
        ltdl.sweep(f, X0, Y0, T=1.0, lam=1.0, K=3, u0={"b": torch.zeros(4, 2)})
    P = ltdl.OutputMap(torch.eye(2), trainable=True)
    with pytest.raises(ValueError, match="P must be fixed"):
        ltdl.sweep(f, X0, Y0, T=1.0, lam=1.0, K=3, P=P)
    with pytest.raises(ValueError, match="T_to"):
        ltdl.warm_start({"b": torch.zeros(3, 2)}, 1.0, 0.0)


def test_reference_sweep_is_the_zero_weight_chain_with_two_newton_steps():
    """The reference protocol: the same numbers, bit for bit, as the sweep it stands for."""
    ds = ltdl.four_point_rotation()
    f = ltdl.make_field("outer", activation="tanh")
    u0 = ltdl.init_controls(f, 2, 3, kind="normal", scale=0.01, seed=5)
    u0["w"].zero_()
    by_hand = ltdl.sweep(f, ds.x, ds.y, T=[1.0, 8.0], lam=1.0, K=3, u0=u0, max_iter=50, newton_steps=2, tol_grad=1e-15)
    ref = ltdl.reference_sweep(f, ds.x, ds.y, T=[1.0, 8.0], lam=1.0, K=3, seed=5, max_iter=50)
    for i in range(2):
        for n in u0:
            assert torch.equal(ref.controls[i][n], by_hand.controls[i][n])
    assert np.array_equal(ref.E, by_hand.E) and np.array_equal(ref.grad, by_hand.grad)
    assert ref.grad.max() <= 1e-12  # two Newton steps after L-BFGS: rounding level
    # A field without a weight w (the bias field) starts from its random bias alone.
    b = ltdl.reference_sweep(ltdl.Bias(), X0, Y0, T=2.0, lam=1.0, K=3)
    assert b.E[0] == pytest.approx(ltdl.bias_erm(X0[0], Y0[0], T=2.0, lam=1.0)["E"], rel=1e-10)


def test_certified_distance_is_the_newton_step_bound():
    ds = ltdl.four_point_rotation()
    f = ltdl.make_field("outer", activation="tanh")
    sw = ltdl.reference_sweep(f, ds.x, ds.y, T=[1.0, 4.0], lam=1.0, K=3, max_iter=50)
    certs = ltdl.diagnostics.certify_sweep(sw, ds.x, ds.y)
    assert sw.n_controls == 3 * 6  # K layers of w (2x2) and b (2)
    bound = max(18**0.5 * c.grad_max / c.min_eig for c in certs)
    assert ltdl.certified_distance(sw, certs) == bound and 0 < bound <= 1e-10
    # One more exact Newton step from the returned controls moves them by less than the bound.
    prob = ltdl.Problem(f, ds.x, ds.y, T=4.0, K=3, lam=1.0)
    step = ltdl.train_newton(prob, sw.controls[1], lbfgs_iter=0, tol_grad=0.0, max_steps=1).controls
    moved = max(float((4.0 * (step[n] - sw.controls[1][n])).abs().max()) for n in step)  # in v = T u
    assert moved <= bound
    flat = ltdl.Certificate("newton", certs[0].grad_max, -1.0)
    assert ltdl.certified_distance(sw, [certs[0], flat]) == float("inf")  # no strict minimum: no bound
    with pytest.raises(ValueError, match="certificates"):
        ltdl.certified_distance(sw, certs[:1])
    with pytest.raises(ValueError, match="certificates"):
        ltdl.certified_distance(sw, [ltdl.Certificate("gradient", 0.0)] * 2)


def test_accuracy_counts_the_signs_of_the_outputs():
    f = ltdl.make_field("outer", activation="tanh")
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.5], [0.2, -2.0]])
    y = torch.tensor([[1.0], [-1.0], [1.0]])  # the signs of x^1
    sw = ltdl.sweep(f, x, y, T=[1.0, 2.0], lam=1.0, K=2, P=ltdl.OutputMap(torch.tensor([[1.0, 0.0]])), max_iter=1)
    sw.controls = [{"w": torch.zeros(2, 2, 2), "b": torch.zeros(2, 2)}] * 2  # the identity map x(T) = x
    P = ltdl.OutputMap(torch.tensor([[1.0, 0.0]]))
    np.testing.assert_array_equal(sw.accuracy(x, y, P=P), [1.0, 1.0])
    np.testing.assert_array_equal(sw.accuracy(x, -y, P=P), [0.0, 0.0])
    np.testing.assert_allclose(sw.accuracy(x, torch.ones(3, 1), P=P), [2 / 3, 2 / 3], rtol=1e-15)
    with pytest.raises(ValueError, match="y must have the shape"):
        sw.accuracy(x, y[:, 0], P=P)


def test_reference_sweep_refuses_what_its_protocol_fixes():
    ds = ltdl.four_point_rotation()
    f = ltdl.make_field("outer", activation="tanh")
    with pytest.raises(TypeError, match="fixes \\['tol_grad'\\]"):
        ltdl.reference_sweep(f, ds.x, ds.y, T=1.0, lam=1.0, K=3, tol_grad=1e-6)
    with pytest.raises(TypeError, match="needs K"):
        ltdl.reference_sweep(f, ds.x, ds.y, T=1.0, lam=1.0)


def test_sweep_passes_train_options_and_refuses_unknown_ones():
    ds = ltdl.four_point_rotation()
    f = ltdl.make_field("outer", activation="tanh")
    with pytest.raises(TypeError, match="unknown options \\['tol'\\]"):
        ltdl.sweep(f, ds.x, ds.y, T=1.0, lam=1.0, K=3, tol=1e-6)
    # The same option means the same thing in both: one L-BFGS call of ltdl.train per problem.
    sw = ltdl.sweep(f, ds.x, ds.y, T=2.0, lam=1.0, K=3, max_iter=7, tol_grad=1e-9)
    res = ltdl.train(ltdl.Problem(f, ds.x, ds.y, T=2.0, K=3, lam=1.0), max_iter=7, tol_grad=1e-9)
    assert torch.equal(sw.controls[0]["w"], res.controls["w"]) and sw.n_iter[0] == res.n_iter
