"""Bad input raises ValueError whose message names the argument."""
import math

import pytest
import torch

import ltdl

F = ltdl.Outer(activation="tanh")
X = torch.zeros(3, 2, dtype=torch.float64)
Y = torch.zeros(3, 2, dtype=torch.float64)
U = ltdl.init_controls(F, 2, 4)


def _problem(**kw):
    args = dict(T=1.0, K=4, lam=0.1)
    args.update(kw)
    return ltdl.Problem(F, args.pop("x", X), args.pop("y", Y), **args)


CASES = {
    "T": lambda: _problem(T=-1.0),
    "T ": lambda: ltdl.flow(F, X, U, 0.0),
    "T  ": lambda: ltdl.flow(F, X, U, math.nan),
    "K": lambda: _problem(K=0),
    "K ": lambda: ltdl.flow(F, X, U, 1.0, K=5),
    "lam": lambda: _problem(lam=-0.5),
    "beta": lambda: _problem(beta=-1.0),
    "x": lambda: _problem(x=torch.tensor([[0.0, math.nan], [0.0, 0.0], [1.0, 1.0]])),
    "x ": lambda: _problem(x=torch.zeros(3)),
    "y": lambda: _problem(y=torch.zeros(4, 2)),
    "y ": lambda: _problem(y=torch.zeros(3, 3)),
    "x0": lambda: ltdl.flow(F, torch.zeros(3, 2, dtype=torch.int64), U, 1.0),
    "u": lambda: ltdl.flow(F, X, {"w": U["w"]}, 1.0),
    "u['w']": lambda: ltdl.flow(F, X, {"w": torch.zeros(4, 3, 3), "b": torch.zeros(4, 2)}, 1.0),
    "u[ 'w']": lambda: ltdl.flow(F, X, {"w": U["w"].float(), "b": U["b"]}, 1.0),
    "method": lambda: ltdl.flow(F, X, U, 1.0, method="heun"),
    "activation": lambda: ltdl.Outer(activation="swish"),
    "name": lambda: ltdl.make_field("attention"),
    "hidden": lambda: ltdl.make_field("bottleneck"),
    "loss": lambda: ltdl.Loss("hinge"),
    "p": lambda: ltdl.Loss("lp", p=0.5),
    "seed": lambda: ltdl.init_controls(F, 2, 4, kind="normal"),
    "kind": lambda: ltdl.init_controls(F, 2, 4, kind="xavier"),
    "penalty": lambda: _problem(penalty="l1"),
    "x_bar": lambda: _problem(x_bar=torch.zeros(3, 2)),
    "P": lambda: _problem(P=ltdl.OutputMap(torch.zeros(1, 3))),
    "optimizer": lambda: ltdl.train(_problem(), optimizer="sgd"),
    "max_iter": lambda: ltdl.train(_problem(), max_iter=0),
    "eps": lambda: ltdl.time_to_reach([0, 1], [1, 0.1], -1.0),
    "y  ": lambda: ltdl.loglog_slope([1, 2, 3], [1.0, -1.0, 2.0]),
    "y   ": lambda: ltdl.loglog_slope([1, 2, 3], [1.0, 2.0]),
    "factor": lambda: ltdl.refine_controls(U, 0),
    "values": lambda: ltdl.relative_spread([1.0, -1.0]),
    "gamma": lambda: ltdl.OutputMap(torch.eye(2), gamma=1.0),
}


@pytest.mark.parametrize("arg", list(CASES))
def test_bad_input_names_the_argument(arg):
    name = arg.strip().replace(" ", "")
    with pytest.raises(ValueError) as info:
        CASES[arg]()
    assert name in str(info.value), str(info.value)
