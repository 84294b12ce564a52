"""Bad input raises ValueError/TypeError whose message names the argument and what was expected.

Every case is one parametrised test: the call, the exception type and words the message must
contain (the argument's name first). ``ArgumentTypeError`` is both a TypeError and a ValueError.
"""

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
    return ltdl.Problem(args.pop("field", F), args.pop("x", X), args.pop("y", Y), **args)


def _ce_problem(y):
    return _problem(y=y, loss=ltdl.Loss("cross_entropy"), P=ltdl.OutputMap(torch.eye(3, 2)))


def _train_on(u0):
    return ltdl.train(_problem(), u0, max_iter=2)


def _meta(u):
    return {n: torch.empty_like(t, device="meta") for n, t in u.items()}


V, T_ = ValueError, TypeError
# (argument named in the message, call, exception type, other words the message must contain)
CASES = [
    # --- numbers: range, and bools/strings where a number is expected (True is not 1)
    ("T", lambda: _problem(T=-1.0), V, "> 0"),
    ("T", lambda: _problem(T=True), T_, "number, got bool"),
    ("T", lambda: _problem(T="1"), T_, "number, got str"),
    ("T", lambda: _problem(T=torch.tensor([1.0, True])), None, None),  # a float tensor is fine
    ("T", lambda: _problem(T=torch.tensor([True, True])), T_, "torch.bool"),
    ("T", lambda: ltdl.flow(F, X, U, 0.0), V, "> 0"),
    ("T", lambda: ltdl.flow(F, X, U, math.nan), V, "finite"),
    ("K", lambda: _problem(K=0), V, ">= 1"),
    ("K", lambda: _problem(K=True), T_, "integer"),
    ("K", lambda: _problem(K=4.0), T_, "integer"),
    ("K", lambda: ltdl.flow(F, X, U, 1.0, K=5), V, "control grid"),
    ("lam", lambda: _problem(lam=-0.5), V, ">= 0"),
    ("lam", lambda: _problem(lam=True), T_, "number, got bool"),
    ("lam", lambda: _problem(lam=None), T_, "number, got NoneType"),
    ("beta", lambda: _problem(beta=-1.0), V, ">= 0"),
    ("beta", lambda: _problem(beta=True), T_, "bool"),
    ("tracking_weight", lambda: _problem(tracking_weight=True, x_bar=X), T_, "bool"),
    ("final_weight", lambda: _problem(final_weight=False), T_, "bool"),
    ("lam", lambda: ltdl.control_penalty(U, F, 2, 1.0, True), T_, "bool"),
    ("max_iter", lambda: ltdl.train(_problem(), max_iter=True), T_, "integer"),
    ("max_iter", lambda: ltdl.train(_problem(), max_iter=0), V, ">= 1"),
    ("lr", lambda: ltdl.train(_problem(), lr=True), T_, "bool"),
    ("p", lambda: ltdl.Loss("lp", p=0.5), V, ">= 1"),
    ("p", lambda: ltdl.Loss("lp", p=True), T_, "bool"),
    ("power", lambda: ltdl.Loss("lp", power=True), T_, "bool"),
    ("gamma", lambda: ltdl.OutputMap(torch.eye(2), gamma=1.0), V, "trainable"),
    ("gamma", lambda: ltdl.OutputMap(torch.eye(2), gamma=True, trainable=True), T_, "bool"),
    ("factor", lambda: ltdl.refine_controls(U, 0), V, ">= 1"),
    ("factor", lambda: ltdl.refine_controls(U, True), T_, "integer"),
    ("eps", lambda: ltdl.time_to_reach([0, 1], [1, 0.1], -1.0), V, "> 0"),
    # --- data: empty, non-finite, low precision, shapes, wrong types
    ("x", lambda: _problem(x=torch.zeros(0, 2), y=torch.zeros(0, 2)), V, "at least one point"),
    ("x", lambda: _problem(x=torch.tensor([[0.0, math.nan], [0.0, 0.0], [1.0, 1.0]])), V, "finite"),
    ("x", lambda: _problem(x=torch.zeros(3)), V, "dimensions"),
    ("x", lambda: _problem(x=X.half(), y=Y.half()), V, "float16"),
    ("x", lambda: _problem(x=X.bfloat16(), y=Y.bfloat16()), V, "bfloat16"),
    ("x", lambda: _problem(x=X.numpy()), T_, "torch.Tensor"),
    ("x", lambda: _problem(x=[[0.0, 0.0]] * 3), T_, "torch.Tensor"),
    ("x", lambda: _problem(x=torch.zeros(3, 2, dtype=torch.int64)), V, "floating dtype"),
    ("y", lambda: _problem(y=Y.half()), V, "float16"),
    ("y", lambda: _problem(y=torch.zeros(4, 2)), V, "N=3"),
    ("y", lambda: _problem(y=torch.zeros(3, 3)), V, "m=2"),
    ("y", lambda: _problem(y=Y.numpy()), T_, "torch.Tensor"),
    ("x0", lambda: ltdl.flow(F, torch.zeros(3, 2, dtype=torch.int64), U, 1.0), V, "floating"),
    ("x0", lambda: ltdl.flow(F, X.half(), U, 1.0), V, "float16"),
    ("x_bar", lambda: _problem(x_bar=torch.zeros(3, 2)), V, "together"),
    ("x_bar", lambda: _problem(x_bar=torch.zeros(3, 2, dtype=torch.float32), tracking_weight=1.0), V, "float64"),
    ("x", lambda: ltdl.Dataset(torch.zeros(3, 2, dtype=torch.float16), torch.zeros(3, 1)), V, "float16"),
    ("y", lambda: ltdl.Dataset(torch.zeros(3, 2), torch.zeros(2, 1)), V, "one label per point"),
    # --- class ids for cross-entropy
    ("y", lambda: _ce_problem(torch.tensor([0, 1, 3])), V, "class ids in 0..2"),
    ("y", lambda: _ce_problem(torch.tensor([0, -1, 2])), V, "class ids in 0..2"),
    ("y", lambda: _ce_problem(torch.tensor([0.0, 1.0, 2.0])), V, "integer tensor"),
    # --- strings or classes where objects are expected: a hint to the right constructor
    ("loss", lambda: _problem(loss="mse"), T_, "ltdl.Loss('mse')"),
    ("field", lambda: _problem(field="outer"), T_, "ltdl.make_field('outer')"),
    ("field", lambda: _problem(field=ltdl.Outer), T_, "the class itself"),
    ("P", lambda: _problem(P=torch.eye(2)), T_, "ltdl.OutputMap(A)"),
    ("P", lambda: _problem(P="identity"), T_, "ltdl.OutputMap(A)"),
    ("u0", lambda: _problem().check_controls("zero", "u0"), T_, "init_controls"),
    # --- choices, at construction
    ("method", lambda: _problem(method="heun"), V, "'euler'"),
    ("method", lambda: ltdl.flow(F, X, U, 1.0, method="heun"), V, "'euler'"),
    ("penalty", lambda: _problem(penalty="l1"), V, "'l2'"),
    ("activation", lambda: ltdl.Outer(activation="swish"), V, "tanh"),
    ("name", lambda: ltdl.make_field("attention"), V, "outer"),
    ("hidden", lambda: ltdl.make_field("bottleneck"), V, "integer"),
    ("hidden", lambda: ltdl.make_field("bottleneck", hidden=True), T_, "integer"),
    ("loss", lambda: ltdl.Loss("hinge"), V, "mse"),
    ("kind", lambda: ltdl.init_controls(F, 2, 4, kind="xavier"), V, "normal"),
    ("optimizer", lambda: ltdl.train(_problem(), optimizer="sgd"), V, "lbfgs"),
    # --- dtype / device mismatch between data, controls and P (meta stands in for another device)
    ("P.A", lambda: _problem(P=ltdl.OutputMap(torch.eye(2, dtype=torch.float32))), V, "float64"),
    ("P.A", lambda: _problem(P=ltdl.OutputMap(torch.empty(2, 2, device="meta"))), V, "device of x"),
    ("P", lambda: _problem(P=ltdl.OutputMap(torch.zeros(1, 3))), V, "R^2"),
    ("c", lambda: ltdl.OutputMap(torch.eye(2), torch.zeros(2, dtype=torch.float32)), V, "dtype and device of A"),
    ("y", lambda: _problem(y=torch.empty(3, 2, device="meta")), V, "device of x"),
    ("u", lambda: _problem().trajectory(_meta(U)), V, "device of x"),
    ("u", lambda: _train_on(_meta(U)), V, "device of x"),
    ("u0", lambda: _train_on({n: t.float() for n, t in U.items()}), V, "dtype"),
    ("u['w']", lambda: ltdl.flow(F, X, {"w": U["w"].float(), "b": U["b"]}, 1.0), V, "dtype"),
    ("u", lambda: ltdl.flow(F, X, {"w": U["w"]}, 1.0), V, "keys"),
    ("u['w']", lambda: ltdl.flow(F, X, {"w": torch.zeros(4, 3, 3), "b": torch.zeros(4, 2)}, 1.0), V, "shape"),
    # --- data sets: explicit seeds, sizes, dtypes
    ("seed", lambda: ltdl.concentric_spheres(seed=None), V, "integer >= 0"),
    ("seed", lambda: ltdl.xor(seed=None), V, "integer >= 0"),
    ("seed", lambda: ltdl.tricolor(seed=None), V, "integer >= 0"),
    ("seed", lambda: ltdl.xor(seed=True), T_, "integer"),
    ("seed", lambda: ltdl.xor(seed=1.5), T_, "integer"),
    ("seed", lambda: ltdl.xor(seed=-1), V, ">= 0"),
    ("seed", lambda: ltdl.xor(seed="0"), T_, "integer"),
    ("seed", lambda: ltdl.init_controls(F, 2, 4, kind="normal"), V, "integer"),
    ("n", lambda: ltdl.xor(3, seed=0), V, ">= 4"),
    ("n", lambda: ltdl.xor(True, seed=0), T_, "integer"),
    ("n_inner", lambda: ltdl.concentric_spheres(0, seed=0), V, ">= 1"),
    ("dtype", lambda: ltdl.xor(seed=0, dtype=torch.float16), V, "float64"),
    ("dtype", lambda: ltdl.concentric_spheres(seed=0, dtype="float64"), T_, "torch.dtype"),
    ("dtype", lambda: ltdl.four_point_rotation(dtype=torch.bfloat16), V, "float64"),
    ("angle", lambda: ltdl.rotation(True), T_, "bool"),
    ("angle", lambda: ltdl.rotation(math.inf), V, "finite"),
    ("n_train", lambda: ltdl.xor(8, seed=0).split(8), V, "< N=8"),
    ("n_train", lambda: ltdl.xor(8, seed=0).split(True), T_, "integer"),
    # --- diagnostics
    ("y", lambda: ltdl.loglog_slope([1, 2, 3], [1.0, -1.0, 2.0]), V, None),
    ("y", lambda: ltdl.loglog_slope([1, 2, 3], [1.0, 2.0]), V, None),
    ("values", lambda: ltdl.relative_spread([1.0, -1.0]), V, None),
]


@pytest.mark.parametrize("arg, call, exc, words", CASES, ids=[f"{i:02d}-{c[0]}" for i, c in enumerate(CASES)])
def test_bad_input_names_the_argument(arg, call, exc, words):
    if exc is None:  # a control case: valid input must not raise
        call()
        return
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(arg) or f" {arg} " in msg or msg.startswith(f"{arg}["), msg
    if words:
        assert words in msg, msg


def test_type_errors_are_also_value_errors():
    # Callers (and the command line) that catch ValueError keep catching every bad argument.
    with pytest.raises(ValueError):
        _problem(T=True)
    assert issubclass(ltdl._checks.ArgumentTypeError, TypeError)


def test_valid_input_still_works():
    prob = _problem(method="midpoint", T=torch.tensor([1.0, 2.0]), lam=torch.tensor([0.1, 0.2]))
    assert prob.objective(prob.init_controls()).shape == (2,)
    ds = ltdl.xor(8, seed=0)
    ce = ltdl.Problem(F, ds.x, ds.classes, T=1.0, K=2, lam=0.1, loss=ltdl.Loss("cross_entropy"))
    assert torch.isfinite(ce.objective(ce.init_controls()))
