import pytest
import torch

import ltdl


def test_refine_controls_gives_the_same_flow_on_a_finer_grid(gen):
    # The same piecewise-constant control on 3x the layers: Euler on the finer grid, same function u(t).
    f = ltdl.Outer(activation="tanh")
    u = ltdl.init_controls(f, 2, 4, kind="normal", scale=0.5, seed=0)
    fine = ltdl.refine_controls(u, 3)
    assert fine["w"].shape == (12, 2, 2)
    for k in range(12):
        assert torch.equal(fine["w"][k], u["w"][k // 3])
    ub = ltdl.init_controls(f, 2, 4, kind="normal", scale=0.5, seed=0, batch=(2,))
    assert ltdl.refine_controls(ub, 2, batch_ndim=1)["b"].shape == (2, 8, 2)


def test_relative_spread():
    assert ltdl.relative_spread([1.0, 2.0, 3.0]) == 1.0
    assert ltdl.relative_spread([2.0, 2.0]) == 0.0


def test_zero_names_start_at_zero_and_leave_the_other_draws_unchanged():
    f = ltdl.make_field("outer", activation="tanh")
    plain = ltdl.init_controls(f, 2, 5, kind="normal", scale=0.01, seed=3)
    u = ltdl.init_controls(f, 2, 5, kind="normal", scale=0.01, seed=3, zero=("w",))
    assert torch.count_nonzero(u["w"]) == 0
    assert torch.equal(u["b"], plain["b"])  # the zero-weight start of the chapters, bit for bit


@pytest.mark.parametrize("zero", [("v",), "w", ["w"]])
def test_zero_must_name_controls_of_the_field(zero):
    f = ltdl.make_field("outer", activation="tanh")
    with pytest.raises(ValueError, match="zero must be a tuple of control names"):
        ltdl.init_controls(f, 2, 5, kind="normal", seed=0, zero=zero)
