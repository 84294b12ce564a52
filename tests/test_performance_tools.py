"""Performance tooling: the time-budget checker, the fused training path, device handling and the
benchmark's reference implementation (same computation as ltdl)."""

from __future__ import annotations

import importlib.util
import pickle
import sys
import types
from pathlib import Path

import pytest
import torch

import ltdl
from ltdl.flows import flow, fused_gradients

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


budget = _load("check_time_budget", ROOT / "scripts" / "check_time_budget.py")


# --------------------------------------------------------------------------- time budget checker
def _junit(tmp_path, cells: dict[str, list[float]], extra: str = "") -> Path:
    cases = "".join(
        f'<testcase classname="chapters.{nb}.ipynb" name="Cell {i}" time="{t}" />'
        for nb, times in cells.items()
        for i, t in enumerate(times)
    )
    path = tmp_path / "nbval.xml"
    path.write_text(
        f'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
        f"{cases}{extra}</testsuite></testsuites>"
    )
    return path


def test_junit_times_are_summed_per_notebook(tmp_path):
    extra = '<testcase classname="tests.test_flows" name="test_x" time="500" />'
    path = _junit(tmp_path, {"01-a": [3.0, 1.5, 0.5], "02-b.v2": [10.0]}, extra)
    times = budget.times_from_junit(path)
    assert dict(times) == {"01-a": 5.0, "02-b.v2": 10.0}  # the unit test case is not a chapter


def test_budget_passes_and_fails(tmp_path, capsys):
    ok = _junit(tmp_path, {"01-a": [40.0, 49.0], "02-b": [80.0]})
    assert budget.main([str(ok)]) == 0
    out = capsys.readouterr().out
    assert "01-a" in out and "89.0" in out and "total" in out and "169.0" in out

    slow = _junit(tmp_path, {"01-a": [40.0, 50.5], "02-b": [10.0]})
    assert budget.main([str(slow)]) == 1
    assert "01-a took 90.5 s > 90 s" in capsys.readouterr().out


def test_total_limit(tmp_path, capsys):
    path = _junit(tmp_path, {f"{i:02d}-c": [85.0] for i in range(8)})  # each ok, 680 s in all
    assert budget.main([str(path)]) == 1
    assert "the book took 680.0 s > 600 s" in capsys.readouterr().out
    assert budget.main([str(path), "--total-limit", "700"]) == 0


def test_missing_or_empty_input(tmp_path):
    assert budget.main([str(tmp_path / "nope.xml")]) == 2
    assert budget.main([str(_junit(tmp_path, {}))]) == 2
    with pytest.raises(SystemExit):
        budget.main([])


def test_sphinx_env_and_merge(tmp_path):
    env = types.SimpleNamespace(
        nb_metadata={
            "chapters/01-a": {"exec_data": {"runtime": 95.0, "succeeded": True}},
            "chapters/00-preface": {},
        }
    )
    path = tmp_path / "environment.pickle"
    path.write_bytes(pickle.dumps(env))
    assert dict(budget.times_from_sphinx_env(path)) == {"01-a": 95.0}
    junit = _junit(tmp_path, {"01-a": [30.0], "02-b": [20.0]})
    assert budget.main([str(junit), "--sphinx-env", str(path)]) == 1  # the larger time counts
    assert dict(budget.merge({"a": 1.0}, {"a": 2.0, "b": 3.0})) == {"a": 2.0, "b": 3.0}


# --------------------------------------------------------------------------- fused training path
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "leaky_relu", "sigmoid", "softplus", "identity"])
@pytest.mark.parametrize("batched", [False, True])
def test_fused_flow_matches_autograd(dtype, method, activation, batched):
    field = ltdl.make_field("outer", activation=activation)
    batch, T = ((3,), torch.tensor([1.0, 4.0, 9.0], dtype=dtype)) if batched else ((), 3.0)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(*batch, 41, 2, generator=gen, dtype=dtype).requires_grad_()
    u = {
        n: t.requires_grad_()
        for n, t in ltdl.init_controls(field, 2, 7, kind="normal", scale=0.5, seed=3, batch=batch, dtype=dtype).items()
    }
    plain = flow(field, x0, u, T, method=method)
    weights = torch.randn(plain.shape, generator=gen, dtype=dtype)
    g_plain = torch.autograd.grad((plain * weights).sum(), [x0, *u.values()])
    with fused_gradients():
        fused = flow(field, x0, u, T, method=method)
        g_fused = torch.autograd.grad((fused * weights).sum(), [x0, *u.values()])
    assert type(fused.grad_fn).__name__.startswith("_OuterFlow")
    eps = torch.finfo(dtype).eps
    if activation in ("tanh", "relu", "leaky_relu", "identity"):
        assert torch.equal(plain, fused)  # the same operations in the same order
    else:
        torch.testing.assert_close(
            fused.detach(), plain.detach(), rtol=8 * eps, atol=8 * eps * float(plain.detach().abs().max())
        )
    for a, b in zip(g_plain, g_fused, strict=False):
        assert a.shape == b.shape
        assert float((a - b).abs().max()) <= 100 * eps * float(a.abs().max())


def test_fused_is_off_by_default_and_first_order_only():
    field = ltdl.make_field("outer", activation="tanh")
    x0 = torch.randn(5, 2, dtype=torch.float64)
    u = {n: t.requires_grad_() for n, t in ltdl.init_controls(field, 2, 3, kind="normal", seed=0).items()}
    assert not type(flow(field, x0, u, 1.0).grad_fn).__name__.startswith("_OuterFlow")
    inner = ltdl.make_field("inner", activation="relu")
    ui = {n: t.requires_grad_() for n, t in ltdl.init_controls(inner, 2, 3, kind="normal", seed=0).items()}
    with fused_gradients():
        assert not type(flow(inner, x0, ui, 1.0).grad_fn).__name__.startswith("_OuterFlow")
        traj = flow(field, x0, u, 1.0)
        (g,) = torch.autograd.grad(traj.square().sum(), [u["w"]], create_graph=True)
        with pytest.raises(RuntimeError):
            torch.autograd.grad(g.sum(), [u["w"]])


def _adam_by_hand(problem, u0, steps, lr):
    u = {n: t.clone().requires_grad_() for n, t in u0.items()}
    opt = torch.optim.Adam(list(u.values()), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        J = problem.objective(u).sum()
        J.backward()
        opt.step()
    with torch.no_grad():
        return problem.objective(u)


def test_train_default_is_plain_and_fused_adam_agrees():
    data = ltdl.concentric_spheres(30, 60, seed=0)
    P = ltdl.OutputMap(torch.tensor([[0.8, -0.45]], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64))
    problem = ltdl.Problem(
        ltdl.make_field("outer"),
        data.x,
        data.y,
        T=torch.tensor([2.0, 5.0], dtype=torch.float64),
        K=6,
        lam=torch.tensor([1e-2, 1e-3], dtype=torch.float64),
        P=P,
        beta=1.0,
        method="midpoint",
    )
    u0 = problem.init_controls(kind="normal", scale=0.1, seed=1)
    plain = ltdl.train(problem, u0, optimizer="adam", max_iter=30)
    assert torch.equal(plain.value, _adam_by_hand(problem, u0, 30, 1e-2))  # default: the plain path, bit for bit
    with fused_gradients():
        fused = ltdl.train(problem, u0, optimizer="adam", max_iter=30)
    assert fused.history[0] == plain.history[0]  # same forward
    torch.testing.assert_close(fused.value, plain.value, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- devices
def _devices():
    out = ["cpu", torch.device("cpu")]
    if torch.cuda.is_available():
        out.append("cuda")
    return out


@pytest.mark.parametrize("device", _devices())
def test_problem_and_training_follow_the_data_device(device):
    data = ltdl.concentric_spheres(10, 20, seed=0)
    x, y = data.x.to(device), data.y.to(device)
    problem = ltdl.Problem(
        ltdl.make_field("outer"), x, y[:, :1].expand(-1, 2).contiguous(), T=3.0, K=4, lam=1e-2, beta=1.0, method="rk4"
    )  # identity P built on the data's device
    assert problem.P.A.device == x.device
    u0 = problem.init_controls(kind="normal", seed=0)
    assert all(t.device == x.device for t in u0.values())
    res = ltdl.train(problem, u0, optimizer="adam", max_iter=5)
    assert res.trajectory.device == x.device and res.value.device == x.device
    assert all(t.device == x.device for t in res.controls.values())
    if x.device.type != "cpu":  # the same numbers as on the CPU
        cpu = ltdl.Problem(problem.field, x.cpu(), problem.y.cpu(), T=3.0, K=4, lam=1e-2, beta=1.0, method="rk4")
        ref = ltdl.train(cpu, {n: t.cpu() for n, t in u0.items()}, optimizer="adam", max_iter=5)
        torch.testing.assert_close(res.value.cpu(), ref.value, rtol=1e-10, atol=0)


# --------------------------------------------------------------------------- benchmark reference
def test_reference_implementation_computes_the_same_objective():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        ref = _load("reference_torchdiffeq", ROOT / "benchmarks" / "reference_torchdiffeq.py")
    finally:
        sys.path.pop(0)
    pytest.importorskip("torchdiffeq")
    dtype = torch.float64
    data = ltdl.concentric_spheres(40, 80, seed=0)
    A, c = torch.tensor([[0.8156, -0.4525]], dtype=dtype), torch.tensor([3.9044], dtype=dtype)
    problem = ltdl.Problem(
        ltdl.make_field("outer"),
        data.x,
        data.y,
        T=6.0,
        K=6,
        lam=0.01,
        P=ltdl.OutputMap(A, c),
        loss=ltdl.Loss("tanh_mse"),
        beta=1.0,
        method="midpoint",
    )
    u0 = problem.init_controls(kind="normal", scale=0.1, seed=1)
    for twice in (True, False):
        model = ref.ReferenceModel(2, 6, 6.0, A, c, beta=1.0, lam=0.01, integrate_twice=twice).to(dtype)
        model.ode.load_controls(u0["w"], u0["b"])
        with torch.no_grad():
            torch.testing.assert_close(model(data.x, data.y), problem.objective(u0), rtol=1e-13, atol=0)
        hist = ref.train_reference(model, data.x, data.y, steps=10, lr=1e-2)
        res = ltdl.train(problem, u0, optimizer="adam", max_iter=10, lr=1e-2)
        torch.testing.assert_close(torch.tensor(hist), torch.tensor(res.history), rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- peak memory per chapter
def _nb_with_memory(path: Path, mib) -> Path:
    rec = {"ltdl_sources": "x", "peak_memory_mib": mib, "packages": {}}
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": ["ltdl.provenance()"],
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "metadata": {},
                        "execution_count": 1,
                        "data": {"text/plain": [repr(rec)]},
                    }
                ],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(__import__("json").dumps(nb))
    return path


def test_budget_shows_memory_and_fails_above_the_limit(tmp_path, capsys):
    junit = _junit(tmp_path, {"01-a": [10.0], "02-b": [20.0]})
    a = _nb_with_memory(tmp_path / "01-a.ipynb", 480.5)
    b = _nb_with_memory(tmp_path / "02-b.ipynb", 1400.0)
    assert dict(budget.memory_from_notebooks([a, b])) == {"01-a": 480.5, "02-b": 1400.0}
    assert budget.main([str(junit), "--notebooks", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "peak MiB" in out and "480" in out and "1400" in out and "1536 MiB" in out
    b = _nb_with_memory(tmp_path / "02-b.ipynb", 1600.0)  # above 1.5 GiB
    assert budget.main([str(junit), "--notebooks", str(a), str(b)]) == 1
    assert "02-b peaked at 1600 MiB > 1536 MiB" in capsys.readouterr().out
    old = _nb_with_memory(tmp_path / "02-b.ipynb", None)  # executed before memory was recorded
    assert budget.main([str(junit), "--notebooks", str(a), str(old)]) == 0
    assert "no peak memory recorded in 02-b" in capsys.readouterr().out
    assert budget.main([str(junit), "--notebooks", str(tmp_path / "nope.ipynb")]) == 2


# --------------------------------------------------------------------------- the mutation test script
mutation = _load("mutation_test", ROOT / "scripts" / "mutation_test.py")


def test_mutants_are_curated_and_anchored_in_the_current_code():
    names = [m.name for m in mutation.MUTANTS]
    assert len(names) >= 10 and len(set(names)) == len(names)
    assert mutation.check_anchors(mutation.MUTANTS) == []  # a moved snippet fails here too
    for m in mutation.MUTANTS:
        assert m.old != m.new and m.tests, m.name
        for t in m.tests:  # every selected test exists
            file, func = t.split("::")
            assert f"def {func}(" in (ROOT / file).read_text(), t


def test_missing_anchor_fails_loudly(monkeypatch, capsys):
    fake = mutation.Mutant("gone", "costs.py", "this text is not in costs.py", "x", ("tests/test_costs.py",), "-")
    monkeypatch.setattr(mutation, "MUTANTS", (fake,))
    assert mutation.main(["--no-page"]) == 2
    assert "snippet found 0 times in ltdl/costs.py" in capsys.readouterr().err


def test_mutant_runs_import_the_copy_not_the_installed_package(tmp_path):
    dest = mutation._copy(tmp_path / "copy")
    marker = "# mutation-test marker\n"
    (dest / "ltdl" / "costs.py").write_text((dest / "ltdl" / "costs.py").read_text() + marker)
    code, out, _ = mutation._run(dest, "costs.py", marker, ["--co", "-q", "tests/test_house.py"])
    assert code == 0, out  # ltdl came from the copy and carries the edit
    code, out, _ = mutation._run(dest, "costs.py", "text that is nowhere", ["--co", "-q", "tests/test_house.py"])
    assert code == 98 and "does not contain the mutation" in out


# --------------------------------------------------------------------------- test-command timings
def test_timing_section_reads_the_last_test_run(tmp_path):
    bench = _load("bench_training", ROOT / "benchmarks" / "bench_training.py")
    assert bench._cpu_seconds("0m0.100s 0m0.020s\n9m50.500s 0m48.250s\n") == 590.5 + 48.25
    logs = tmp_path / "logs"
    logs.mkdir()
    none = tmp_path / "no-earlier-run"
    assert any("Not measured" in line for line in bench.timing_section(logs, none))
    (logs / "steps.tsv").write_text(
        "step\tseconds\tended_at\trc\n2/7 unit tests\t250\t254\t0\n6/7 browser\t120\t409\t1\n"
    )
    (logs / "total.seconds").write_text("409\n")
    (logs / "times.txt").write_text("0m0.1s 0m0.0s\n10m0.0s 1m0.0s\n")
    text = "\n".join(bench.timing_section(logs, none))
    assert "**409 s**" in text and "**not met**" in text and "Before" not in text
    assert "| 6/7 browser | 120 | 409 | FAILED |" in text and "| 2/7 unit tests | 250 | 254 | ok |" in text
    assert "CPU time of the steps' processes (Chromium not counted): 660 s, so 330 s" in text
    # a run with per-step CPU and the machine's CPU, after an earlier run (the "before" table)
    new = tmp_path / "new"
    new.mkdir()
    (new / "steps.tsv").write_text("step\tseconds\tended_at\trc\tcpu_seconds\n2/7 unit tests\t200\t210\t0\t180\n")
    (new / "total.seconds").write_text("290\n")
    (new / "machine_cpu.seconds").write_text("570\n")
    (logs / "README.md").write_text("the old schedule")
    text = "\n".join(bench.timing_section(new, logs))
    assert "**290 s**" in text and ", met." in text and "| 2/7 unit tests | 200 | 210 | 180 | ok |" in text
    assert "CPU time of the machine during the run: 570 s, so 285 s" in text
    assert "**Before** (the old schedule): **409 s**." in text and text.index("570 s") < text.index("409 s**.")


def test_verdicts_through_the_fork_server(monkeypatch, capsys, tmp_path):
    """A mutant the selected tests cannot see survives, a killed one is reported with its test, and
    the page says so: the whole path of the test command (server, children, verdicts)."""
    anchor = "    value = lam * dt * norms.sum(-1)\n"
    blind = mutation.Mutant(
        "comment-only", "costs.py", anchor, anchor + "    # a comment\n", ("tests/test_costs.py::test_losses",), "-"
    )
    caught = mutation.Mutant(
        "penalty-without-dt",
        "costs.py",
        anchor,
        "    value = lam * norms.sum(-1)\n",
        ("tests/test_costs.py::test_penalties_are_quadrature_consistent",),
        "-",
    )
    monkeypatch.setattr(mutation, "MUTANTS", (blind, caught))
    page = tmp_path / "quality.md"
    assert mutation.main(["--page", str(page)]) == 1
    out = capsys.readouterr().out
    assert "MUTATION TEST FAILED: comment-only (SURVIVED)" in out and "1 of 2 mutants killed" in out
    text = page.read_text()
    assert "| comment-only |" in text and "**SURVIVED**" in text
    assert "`test_costs.py::test_penalties_are_quadrature_consistent`" in text
    assert mutation.verdict(blind, 2, "", 1.0)["status"] == "ERROR (exit 2)"  # an import or collection error
