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
