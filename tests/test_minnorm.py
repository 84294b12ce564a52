"""The minimal-norm interpolant solver (R3) and the bias-only field."""

import numpy as np
import pytest
import torch

import ltdl


def test_bias_field_moves_every_point_by_the_integral_of_b():
    f = ltdl.Bias()
    assert f.is_homogeneous and f.shapes(3) == {"b": (3,)}
    x0 = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    u = ltdl.init_controls(f, 3, 4, kind="normal", seed=1, scale=1.0)
    traj = ltdl.flow(f, x0, u, 2.0)
    torch.testing.assert_close(traj[-1], x0 + 0.5 * u["b"].sum(0), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("K", [1, 3, 8])
def test_recovers_the_bias_oracle_minimal_norm_control(K):
    """v* ≡ y − x0 for every K (paper-notes §3.5), with multiplier −2δ."""
    x0 = torch.tensor([[0.3, -1.2, 0.5]])
    y = torch.tensor([[1.5, 0.4, -0.1]])
    delta = (y - x0)[0]
    mn = ltdl.min_norm_interpolant(ltdl.Bias(), x0, y, K=K)
    assert mn.converged and mn.residual < 1e-12
    torch.testing.assert_close(mn.v["b"], delta.expand(K, 3), rtol=1e-12, atol=1e-12)
    assert mn.norm_sq == pytest.approx(float(delta @ delta), rel=1e-12)
    torch.testing.assert_close(mn.multiplier, -2 * delta.unsqueeze(0), rtol=1e-10, atol=1e-10)
    # T² E_T → λ² |δ|² for the oracle; the multiplier predicts the same constant.
    assert mn.error_constant == pytest.approx(float(delta @ delta), rel=1e-10)
    T, lam = 1e6, 1.0
    assert T**2 * ltdl.bias_erm(x0[0], y[0], T=T, lam=lam)["E"] == pytest.approx(mn.error_constant, rel=1e-5)


def test_agrees_with_the_large_T_limit_of_erm():
    ds = ltdl.four_point_rotation()
    f = ltdl.make_field("outer", activation="tanh")
    K = 4
    mn = ltdl.min_norm_interpolant(f, ds.x, ds.y, K=K)
    assert mn.converged and mn.residual < 1e-10 and mn.stationarity < 1e-9
    u0 = ltdl.init_controls(f, 2, K, kind="normal", scale=0.01, seed=0)
    sw = ltdl.sweep(f, ds.x, ds.y, T=ltdl.doubling(1, 1024), lam=1.0, K=K, u0=u0, newton_steps=1)
    dist = np.array([ltdl.l2_distance(sw.v(i), mn.v, f, 2, 1.0) for i in range(len(sw))])
    # ‖v_T − v*‖ = O(1/T): the distance roughly halves per doubling at large T.
    ratios = dist[-3:] / dist[-4:-1]
    assert np.all((ratios > 0.4) & (ratios < 0.6)), ratios
    assert np.all(sw.v_norm_sq <= mn.norm_sq + 1e-9)  # ‖v_T‖ ≤ ‖v*‖ (R2 competitor bound)
    T2E = sw.T[-1] ** 2 * sw.E[-1]
    assert T2E == pytest.approx(mn.error_constant, rel=0.01)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(K=0), "K must"),
        (dict(K=3, rho=0.0), "rho must"),
        (dict(K=3, rho_growth=1.0), "rho_growth"),
        (dict(K=3, tol=-1.0), "tol must"),
        (dict(K=3, P=ltdl.OutputMap(torch.ones(1, 3))), "P must map"),
        (dict(K=3, v0={"b": torch.zeros(5, 2)}), "v0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ltdl.min_norm_interpolant(ltdl.Bias(), torch.zeros(1, 2), torch.ones(1, 2), **kwargs)


def test_bad_data_shapes():
    with pytest.raises(ValueError, match="y must"):
        ltdl.min_norm_interpolant(ltdl.Bias(), torch.zeros(2, 2), torch.ones(3, 2), K=2)
    with pytest.raises(ValueError, match="x must"):
        ltdl.min_norm_interpolant(ltdl.Bias(), torch.zeros(2), torch.ones(2, 2), K=2)
