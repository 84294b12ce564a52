"""The second-order check of a minimal-norm solution (:func:`ltdl.minnorm_second_order`)."""

import pytest
import torch

import ltdl


@pytest.mark.parametrize("K", [2, 5])
def test_bias_oracle_reduced_hessian_and_jacobian_in_closed_form(K):
    """Bias field, one point: ‖v‖² = (1/K) Σ|v_k|², c = x0 + (1/K) Σ v_k − y is linear, so the
    Hessian of the Lagrangian is (2/K) I in the flat vector, 2 in the L²(0,1) metric (×K), on every
    subspace; Dc = (1/K)[I … I] has singular values 1/√K, i.e. 1 in that metric (×√K)."""
    x0, y = torch.tensor([[0.3, -1.2]]), torch.tensor([[1.5, 0.4]])
    mn = ltdl.min_norm_interpolant(ltdl.Bias(), x0, y, K=K)
    so = ltdl.minnorm_second_order(ltdl.Bias(), x0, y, mn)
    assert (so.n_controls, so.n_constraints) == (2 * K, 2)
    assert so.reduced_min_eig == pytest.approx(2.0, rel=1e-12)  # exact up to rounding
    assert so.jacobian_min_sv == pytest.approx(1.0, rel=1e-12)


def test_four_point_rotation_is_a_nondegenerate_strict_minimum():
    ds = ltdl.four_point_rotation()
    f = ltdl.make_field("outer", activation="tanh")
    mn = ltdl.min_norm_interpolant(f, ds.x, ds.y, K=4)
    so = ltdl.minnorm_second_order(f, ds.x, ds.y, mn)
    assert (so.n_controls, so.n_constraints) == (24, 8)
    assert so.reduced_min_eig > 0 and so.jacobian_min_sv > 0


def test_bad_inputs_name_the_argument():
    x0, y = torch.tensor([[0.3, -1.2]]), torch.tensor([[1.5, 0.4]])
    mn = ltdl.min_norm_interpolant(ltdl.Bias(), x0, y, K=3)
    with pytest.raises(ValueError, match="result must come from"):
        ltdl.minnorm_second_order(ltdl.Bias(), x0, torch.zeros(1, 3), mn)
    one = ltdl.min_norm_interpolant(ltdl.Bias(), x0, y, K=1)  # 2 controls, 2 constraints
    with pytest.raises(ValueError, match="no null space"):
        ltdl.minnorm_second_order(ltdl.Bias(), x0, y, one)
