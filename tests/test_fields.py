import pytest
import torch

import ltdl


def _rand_controls(field, d, K, gen, batch=()):
    return {n: torch.randn(*batch, K, *s, generator=gen) for n, s in field.shapes(d).items()}


@pytest.mark.parametrize("name,act,hidden", [("outer", "tanh", None), ("inner", "relu", None),
                                             ("bottleneck", "relu", 3)])
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


@pytest.mark.parametrize("name,act,hidden,degree", [
    ("outer", "tanh", None, 1), ("outer", "sigmoid", None, 1), ("inner", "relu", None, 1),
    ("inner", "leaky_relu", None, 1), ("inner", "tanh", None, None), ("bottleneck", "relu", 2, None)])
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
