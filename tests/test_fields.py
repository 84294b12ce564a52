import pytest
import torch

import ltdl


def _rand_controls(field, d, K, gen, batch=()):
    return {n: torch.randn(*batch, K, *s, generator=gen) for n, s in field.shapes(d).items()}


@pytest.mark.parametrize(
    "name,act,hidden", [("outer", "tanh", None), ("inner", "relu", None), ("bottleneck", "relu", 3)]
)
def test_fields_match_explicit_formulas(name, act, hidden, gen):
    f = ltdl.make_field(name, activation=act, hidden=hidden)
    x = torch.randn(5, 2, generator=gen)
    u = {n: t[0] for n, t in _rand_controls(f, 2, 1, gen).items()}
    s = ltdl.ACTIVATIONS[act]
    if name == "outer":
        ref = torch.stack([u["w"] @ s(xi) + u["b"] for xi in x])
    elif name == "inner":
        ref = torch.stack([s(u["w"] @ xi + u["b"]) for xi in x])
    else:
        ref = torch.stack([u["w1"] @ s(u["w2"] @ xi + u["b2"]) + u["b1"] for xi in x])
    torch.testing.assert_close(f(x, u), ref, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize(
    "name,act,hidden,degree",
    [
        ("outer", "tanh", None, 1),
        ("outer", "sigmoid", None, 1),
        ("inner", "relu", None, 1),
        ("inner", "leaky_relu", None, 1),
        ("inner", "tanh", None, None),
        ("bottleneck", "relu", 2, None),
    ],
)
def test_homogeneity_flag_agrees_with_definition(name, act, hidden, degree, gen):
    f = ltdl.make_field(name, activation=act, hidden=hidden)
    assert f.homogeneity_degree == degree
    x = torch.randn(6, 2, generator=gen)
    u = {n: t[0] for n, t in _rand_controls(f, 2, 1, gen).items()}
    alpha = 3.7
    lhs = f(x, {n: alpha * t for n, t in u.items()})
    gap = (lhs - alpha * f(x, u)).abs().max().item()
    if degree == 1:
        assert gap < 1e-12
    else:
        assert gap > 1e-3


def test_batched_controls_broadcast(gen):
    f = ltdl.Outer(activation="tanh")
    x = torch.randn(4, 2, generator=gen)
    u = _rand_controls(f, 2, 1, gen, batch=(3,))
    out = f(x.expand(3, 4, 2), {n: t[:, 0] for n, t in u.items()})
    for s in range(3):
        torch.testing.assert_close(out[s], f(x, {n: t[s, 0] for n, t in u.items()}))


class _HandOuterNoBias(ltdl.Field):
    """f = w σ(x), written by hand: the reference for the frozen-bias ``outer`` field."""

    def shapes(self, d):
        return {"w": (d, d)}

    @property
    def homogeneity_degree(self):
        return 1

    def __call__(self, x, u):
        return self.sigma(x) @ u["w"].transpose(-1, -2)


def test_frozen_bias_matches_a_hand_built_field():
    frozen = ltdl.make_field("outer", activation="tanh", frozen={"b": 0})
    hand = _HandOuterNoBias(activation="tanh")
    assert frozen.shapes(2) == {"w": (2, 2)} and frozen.homogeneity_degree == 1
    ds = ltdl.four_point_rotation()
    u0 = ltdl.init_controls(frozen, 2, 4, kind="normal", scale=0.3, seed=1)
    assert set(u0) == {"w"}
    results = []
    for f in (frozen, hand):
        prob = ltdl.Problem(f, ds.x, ds.y, T=3.0, K=4, lam=0.1)
        res = ltdl.train(prob, u0, max_iter=20)
        sw = ltdl.sweep(f, ds.x, ds.y, T=[1.0, 2.0], lam=0.1, K=4, u0=u0, max_iter=20)
        pen = ltdl.control_penalty(res.controls, f, 2, 3.0, 0.1)
        l1 = ltdl.l1_penalty(res.controls, f, 2, 3.0, 0.1)
        results.append((res.controls["w"], res.trajectory, pen, l1, torch.tensor(sw.E), sw.controls[1]["w"]))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)  # adding a frozen zero bias is exact: the same bits
    # R1: with b frozen at 0 the field stays 1-homogeneous, so x_u on [0, T] = x_v on [0, 1], v = T u.
    x = ds.x
    u = results[0][0]
    lhs = ltdl.flow(frozen, x, {"w": u}, 3.0)
    rhs = ltdl.flow(frozen, x, {"w": 3.0 * u}, 1.0)
    assert (lhs - rhs).abs().max().item() < 1e-14  # rounding of Δt·u vs (1/K)·(T u)


def test_frozen_nonzero_value_and_bad_input(gen):
    f = ltdl.make_field("outer", activation="tanh").freeze(b=torch.tensor([0.5, -1.0]))
    assert f.homogeneity_degree is None  # f = w σ(x) + b0 is not homogeneous in w
    x = torch.randn(5, 2, generator=gen)
    w = torch.randn(2, 2, generator=gen)
    torch.testing.assert_close(f(x, {"w": w}), torch.tanh(x) @ w.T + torch.tensor([0.5, -1.0]), rtol=0, atol=1e-15)
    alpha = 3.0
    assert (f(x, {"w": alpha * w}) - alpha * f(x, {"w": w})).abs().max().item() > 1e-3
    assert ltdl.make_field("inner", activation="relu", frozen={"b": 0}).homogeneity_degree == 1
    with pytest.raises(ValueError, match="frozen names"):
        ltdl.make_field("outer", frozen={"c": 0})
    with pytest.raises(ValueError, match="at least one control"):
        ltdl.make_field("bias", frozen={"b": 0})
    with pytest.raises(ValueError, match="frozen\\['b'\\]"):
        ltdl.make_field("outer", frozen={"b": float("nan")})
    with pytest.raises(TypeError, match="frozen"):
        ltdl.make_field("outer", frozen=[("b", 0)])
    with pytest.raises(ValueError, match="shape"):
        ltdl.make_field("outer").freeze(b=torch.zeros(3))(x, {"w": w})
