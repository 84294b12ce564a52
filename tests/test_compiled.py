"""The opt-in fused / compiled objective (ltdl.compiled) gives the default path's J and gradients.

Tolerances: gradients are compared as ‖g − g_default‖ / ‖g_default‖ over all control tensors.
Both paths compute the same sums in a different order (a (d, N) layout, a hand-written adjoint),
so they differ by rounding only: ≤ 1e-12 in float64 (measured ~3e-16 on the benchmark problem)
and ≤ 1e-6 in float32 (measured ~5e-7 at N = 2400: a mean over N points in float32 carries a
rounding of order √N · 6e-8 ≈ 3e-6 on single entries, less in norm).
"""

from __future__ import annotations

import pytest
import torch

import ltdl
from ltdl import compiled


def _problem(
    dtype,
    *,
    N=60,
    K=4,
    method="midpoint",
    loss="tanh_mse",
    S=None,
    beta=1.0,
    tracking=True,
    penalty="l2",
    activation="tanh",
    seed=0,
):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, 2, generator=g, dtype=dtype)
    if loss == "cross_entropy":
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
        P = ltdl.OutputMap(torch.randn(3, 2, generator=g, dtype=dtype), torch.randn(3, generator=g, dtype=dtype))
    else:
        y = 0.9 * torch.sign(x[:, :1] * x[:, 1:])
        P = ltdl.OutputMap(torch.tensor([[0.8, -0.45]], dtype=dtype), torch.tensor([0.3], dtype=dtype))
    x_bar = None
    if tracking:
        x_bar = torch.randn(N, 2, generator=g, dtype=dtype)
    T = 3.0 if S is None else torch.linspace(2.0, 4.0, S, dtype=dtype)
    lam = 0.01 if S is None else torch.logspace(-3, -1, S, dtype=dtype)
    field = ltdl.make_field("outer", activation=activation)
    return ltdl.Problem(
        field,
        x,
        y,
        T=T,
        K=K,
        lam=lam,
        P=P,
        loss=ltdl.Loss(loss),
        beta=beta,
        x_bar=x_bar,
        tracking_weight=0.5 if tracking else 0.0,
        method=method,
        penalty=penalty,
    )


def _grads(problem, u0):
    u = {n: t.clone().requires_grad_(True) for n, t in u0.items()}
    J = problem.objective(u)
    g = torch.autograd.grad(J.sum(), [u["w"], u["b"]])
    return J.detach(), g


def _rel(g, g_ref):
    num = torch.cat([(a - b).flatten() for a, b in zip(g, g_ref, strict=True)]).norm()
    return float(num / torch.cat([b.flatten() for b in g_ref]).norm())


CASES = [
    dict(),
    dict(method="euler", beta=0.0, tracking=False),
    dict(method="rk4", penalty="h1"),
    dict(loss="mse", activation="sigmoid"),
    dict(loss="cross_entropy", tracking=False, activation="relu"),
    dict(loss="logistic", beta=0.0, tracking=False, activation="softplus"),
    dict(loss="mse", activation="leaky_relu", method="euler"),
    dict(activation="identity", penalty="h1"),
    dict(S=3),
    dict(S=3, loss="cross_entropy", tracking=False, method="rk4", penalty="h1"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_eager_fused_matches_default(case, dtype):
    p = _problem(dtype, **case)
    u0 = p.init_controls(kind="normal", scale=0.3, seed=1)
    fast = compiled.compile_problem(p, backend="eager")
    J, g = _grads(fast, u0)
    J_ref, g_ref = _grads(p, u0)
    tol = 1e-12 if dtype == torch.float64 else 1e-6  # rounding only (module docstring)
    assert float(((J - J_ref).abs() / J_ref.abs()).max()) <= tol
    assert _rel(g, g_ref) <= tol
    # value_and_grad is the same computation without autograd
    J2, g2 = fast.value_and_grad(u0)
    assert torch.equal(J2, J) and torch.equal(g2["w"], g[0]) and torch.equal(g2["b"], g[1])


def test_batch_blocks_are_the_single_problems():
    # Each block of a batched J has the gradient of its own problem (independent problems).
    p = _problem(torch.float64, S=3)
    u0 = p.init_controls(kind="normal", scale=0.3, seed=2)
    _, (gw, gb) = _grads(compiled.compile_problem(p, backend="eager"), u0)
    alone = _problem(torch.float64)
    alone.T, alone.lam = float(p.T[1]), float(p.lam[1])
    _, (gw1, gb1) = _grads(alone, {n: t[1] for n, t in u0.items()})
    assert _rel((gw[1], gb[1]), (gw1, gb1)) <= 1e-12  # rounding only


def test_training_reaches_the_default_numbers():
    # Adam is insensitive to rounding-level gradient differences over a short run.
    p = _problem(torch.float64)
    u0 = p.init_controls(kind="normal", scale=0.3, seed=3)
    ref = ltdl.train(p, u0, optimizer="adam", max_iter=30)
    res = ltdl.train(compiled.compile_problem(p, backend="eager"), u0, optimizer="adam", max_iter=30)
    assert abs(float(res.value) - float(ref.value)) <= 1e-12 * abs(float(ref.value))  # rounding, 30 steps
    assert res.certificate.grad_max == pytest.approx(ref.certificate.grad_max, rel=1e-9)  # same gradient, rounding


def test_first_order_only():
    p = _problem(torch.float64, N=10, K=2)
    u = {n: t.requires_grad_(True) for n, t in p.init_controls(kind="normal", scale=0.3, seed=4).items()}
    J = compiled.compile_problem(p, backend="eager").objective(u)
    (gw,) = torch.autograd.grad(J.sum(), [u["w"]], create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(gw.sum(), [u["w"]])


def test_unsupported_and_missing_compiler(monkeypatch):
    p = _problem(torch.float64, N=10, K=2)
    inner = ltdl.Problem(ltdl.make_field("inner"), p.x, p.y, T=1.0, K=2, lam=0.1, P=p.P, loss=p.loss)
    with pytest.raises(ValueError, match="outer"):
        compiled.compile_problem(inner)
    assert compiled.maybe_compile(inner) is inner
    lp = ltdl.Problem(p.field, p.x, p.y, T=1.0, K=2, lam=0.1, P=p.P, loss=ltdl.Loss("smooth_l2"))
    with pytest.raises(ValueError, match="smooth_l2"):
        compiled.compile_problem(lp)
    with pytest.raises(ValueError, match="backend"):
        compiled.compile_problem(p, backend="xla")
    monkeypatch.setenv("LTDL_NO_COMPILE", "1")
    assert not compiled.available()
    with pytest.raises(RuntimeError, match="compiler"):
        compiled.compile_problem(p)
    fast = compiled.maybe_compile(p)  # the eager fused path works without a compiler
    assert isinstance(fast, compiled.CompiledProblem) and fast.backend == "eager"


@pytest.mark.skipif(not compiled.available(), reason="no C++ compiler for torch.compile")
def test_inductor_matches_default():
    # One small graph (compiles in seconds; inductor's on-disk cache makes reruns faster).
    torch.manual_seed(0)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-6)):  # rounding only (docstring)
        p = _problem(dtype, N=40, K=3)
        u0 = p.init_controls(kind="normal", scale=0.3, seed=5)
        fast = compiled.compile_problem(p, fallback=False)
        J, g = _grads(fast, u0)
        J_ref, g_ref = _grads(p, u0)
        assert fast.compiled_ok is True
        assert float(((J - J_ref).abs() / J_ref.abs()).max()) <= tol
        assert _rel(g, g_ref) <= tol


def _devices():
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.device
@pytest.mark.parametrize("device", _devices())
def test_fused_path_follows_the_data_device(device):
    # The eager hand adjoint on the data's device gives the default path's J and gradient there.
    p = _problem(torch.float64, S=2)
    moved = ltdl.Problem(
        p.field,
        p.x.to(device),
        p.y.to(device),
        T=p.T.to(device),
        K=p.K,
        lam=p.lam.to(device),
        P=ltdl.OutputMap(p.P.A.to(device), p.P.c.to(device)),
        loss=p.loss,
        beta=p.beta,
        x_bar=p.x_bar.to(device),
        tracking_weight=p.tracking_weight,
        method=p.method,
    )
    u0 = {n: t.to(device) for n, t in moved.init_controls(kind="normal", scale=0.3, seed=6).items()}
    J, g = _grads(compiled.compile_problem(moved, backend="eager"), u0)
    J_ref, g_ref = _grads(moved, u0)
    assert J.device == moved.x.device and g[0].device == moved.x.device
    assert float(((J - J_ref).abs() / J_ref.abs()).max()) <= 1e-12  # rounding only (module docstring)
    assert _rel(g, g_ref) <= 1e-12


# --------------------------------------------------------------------------- the command line
_REAL_RUN_EXAMPLE = ltdl.run_example  # the library's, whatever a test swaps in ltdl.example_runs


def _fake_examples(monkeypatch, calls, updates=0):
    from ltdl import example_runs, examples

    real = _REAL_RUN_EXAMPLE

    def run_example(name, size="reduced", seed=0, progress=False, compiled=False):
        calls.update(name=name, size=size, compiled=compiled)
        from tqdm.auto import tqdm

        bar = tqdm(total=None, disable=not progress, desc="fake", leave=False)
        for _ in range(updates):
            bar.update(1)
        bar.close()
        return real("ex43", seed=0, iters={"reduced": 1, "full": 1})  # a real, tiny run

    monkeypatch.setitem(examples.EXAMPLES, "fake-example", examples.EXAMPLES["ex43"])
    monkeypatch.setattr(example_runs, "run_example", run_example)


def test_cli_compile_flag_selects_the_compiled_path(tmp_path, monkeypatch, capsys):
    import matplotlib

    matplotlib.use("Agg")
    from ltdl import cli

    calls = {}
    _fake_examples(monkeypatch, calls)
    for argv, expected in ((["--size", "full"], False), (["--size", "full", "--compile"], True), (["--compile"], True)):
        assert cli.main(["run", "fake-example", *argv, "--no-progress", "--out", str(tmp_path / "o")]) == 0
        capsys.readouterr()
        assert calls["compiled"] is expected, argv


def test_cli_progress_to_a_log_is_rate_limited(tmp_path, monkeypatch, capsys):
    import time

    import matplotlib

    matplotlib.use("Agg")
    import tqdm.auto

    from ltdl import cli

    calls = {}
    _fake_examples(monkeypatch, calls, updates=0)
    base = tqdm.auto.tqdm
    slow = []

    class Slow(base):  # each update takes 20 ms: 50 updates = 1 s, far below the 10 s interval
        def update(self, n=1):
            time.sleep(0.02)
            slow.append(n)
            return super().update(n)

    tiny = _REAL_RUN_EXAMPLE("ex43", seed=0, iters={"reduced": 1, "full": 1})  # a real run, before Slow counts
    monkeypatch.setattr(tqdm.auto, "tqdm", Slow)

    def run_example(name, size="reduced", seed=0, progress=False, compiled=False):
        bar = tqdm.auto.tqdm(total=None, disable=not progress, desc="fake", leave=True)
        for _ in range(50):
            bar.update(1)
        bar.close()
        return tiny

    monkeypatch.setattr(ltdl.example_runs, "run_example", run_example)
    assert cli.main(["run", "fake-example", "--out", str(tmp_path / "o")]) == 0  # captured stderr: not a tty
    err = capsys.readouterr().err.replace("\r", "\n")
    lines = [ln for ln in err.splitlines() if "fake" in ln]
    assert len(slow) == 50 and 1 <= len(lines) <= 3  # first draw and the final one, not 50 redraws
    assert tqdm.auto.tqdm is Slow  # restored after the run


@pytest.mark.parametrize("mode", ["chain", "batch"])
def test_sweep_on_the_fused_path_reaches_the_same_minimisers(mode, monkeypatch):
    monkeypatch.setenv("LTDL_NO_COMPILE", "1")  # the eager fused path: no compile time in the unit tests
    data = ltdl.concentric_spheres(15, 30, seed=0)
    P = ltdl.OutputMap(torch.tensor([[0.8, -0.45]], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64))
    args = dict(T=[1.0, 2.0], lam=[0.1, 0.05], K=4, P=P, mode=mode, max_iter=300)
    ref = ltdl.sweep(ltdl.make_field("outer"), data.x, data.y, **args)
    fast = ltdl.sweep(ltdl.make_field("outer"), data.x, data.y, compiled=True, **args)
    assert float(fast.grad.max()) <= 1e-8 and float(ref.grad.max()) <= 1e-8  # both converged (measured ≤ 7e-9)
    rel = float(abs(fast.J - ref.J).max() / abs(ref.J).max())
    assert rel <= 1e-12, rel  # the same minimiser: J agrees to rounding (measured ≤ 2e-16)
