"""Training speed of ltdl against the straightforward torchdiffeq implementation.

Regenerate the book's Performance page (one command; about 6 minutes on 2 cores with the full-size
example runs, plus up to a minute per graph the first time torch.compile builds it; ``--quick``:
float32 only, no example runs, at most about 3 minutes):

    .venv/bin/python benchmarks/bench_training.py --write chapters/performance.md [--quick]

Problem (issue 7): spheres, N = 2400 training points (ltdl.concentric_spheres), the ``outer``
field with tanh, d = 2, T = 15, K = 15, midpoint steps, integral loss (β = 1) + final loss +
L² penalty (λ = 0.01) through the fixed output map of the authors' spheres run, full-batch Adam
(lr 1e-2), in float32 and float64. Both implementations run in this process on the same data from
the same initial controls; the final losses must agree (same computation) or the script fails.

Paths: the compiled one (``ltdl.compiled``: the value and the hand-written discrete adjoint of
the whole objective in one function, compiled by torch.compile/inductor), the same function run
eagerly, the fused flow (``ltdl.flows.fused_gradients``), the plain default and the reference.
Every timed run uses one thread; wall time and the CPU time of the thread (``time.thread_time``)
are both recorded, as medians of interleaved repeats.

Then the batched sweep: S problems with different (T, λ) at equal K trained as one ltdl.Problem
(T and λ as (S,) tensors), S = 1, 4, 16, on the compiled path (one thread, then two); the
arithmetic floor of one step; and ``ltdl run NAME --size full`` for the authors' four examples,
on the default path and with ``--compile``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reference_torchdiffeq import ReferenceModel, train_reference  # noqa: E402

import ltdl  # noqa: E402
from ltdl import compiled  # noqa: E402
from ltdl.examples import AUTHORS_A, AUTHORS_BIAS  # noqa: E402
from ltdl.flows import fused_gradients  # noqa: E402

N_INNER, N_OUTER, N_TRAIN = 1000, 2000, 2400  # the authors' 3000 points, 80 % for training
D, T, K, BETA, LAM, LR = 2, 15.0, 15, 1.0, 0.01, 1e-2
P_A, P_C = [list(AUTHORS_A)], [AUTHORS_BIAS]  # fixed projector of the authors' spheres run
SEED_DATA, SEED_U = 0, 1


# ---------------------------------------------------------------------------------------------
# The two implementations of one training run
# ---------------------------------------------------------------------------------------------
def make_problem(dtype: torch.dtype, T=T, lam=LAM, device: str = "cpu") -> ltdl.Problem:
    data = ltdl.concentric_spheres(N_INNER, N_OUTER, seed=SEED_DATA, dtype=dtype).split(N_TRAIN)[0]
    P = ltdl.OutputMap(torch.tensor(P_A, dtype=dtype, device=device), torch.tensor(P_C, dtype=dtype, device=device))
    field = ltdl.make_field("outer", activation="tanh")
    return ltdl.Problem(
        field,
        data.x.to(device),
        data.y.to(device),
        T=T,
        K=K,
        lam=lam,
        P=P,
        loss=ltdl.Loss("tanh_mse"),
        beta=BETA,
        method="midpoint",
    )


def initial_controls(problem: ltdl.Problem) -> dict:
    return problem.init_controls(kind="normal", scale=0.1, seed=SEED_U)


def run_ltdl(problem, u0, steps, fused=True):
    """``ltdl.train`` with Adam; ``fused``: inside ``ltdl.flows.fused_gradients()`` (opt-in path)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    with fused_gradients(fused):
        res = ltdl.train(problem, u0, optimizer="adam", max_iter=steps, lr=LR)
    return time.perf_counter() - t0, time.thread_time() - c0, float(res.value.sum())


def run_ltdl_plain(problem, u0, steps):
    return run_ltdl(problem, u0, steps, fused=False)


def run_compiled(problem, u0, steps):
    """``ltdl.train`` with Adam on ``problem`` (a :class:`ltdl.compiled.CompiledProblem`)."""
    return run_ltdl(problem, u0, steps, fused=False)


def make_fast(problem, backend: str):
    """The compiled (``inductor``) or eager hand-adjoint version of ``problem`` and the time of its
    first call (for inductor: tracing and compiling the graph, or loading it from the on-disk cache)."""
    fast = compiled.compile_problem(problem, backend=backend, fallback=False)
    u = {n: t.clone().requires_grad_(True) for n, t in initial_controls(problem).items()}
    t0 = time.perf_counter()
    fast.objective(u).sum().backward()
    return fast, time.perf_counter() - t0


def run_reference(problem, u0, steps):
    model = ReferenceModel(D, K, T, problem.P.A, problem.P.c, beta=BETA, lam=LAM).to(problem.x.device, problem.x.dtype)
    model.ode.load_controls(u0["w"], u0["b"])
    t0, c0 = time.perf_counter(), time.thread_time()
    train_reference(model, problem.x, problem.y, steps=steps, lr=LR)
    with torch.no_grad():
        final = float(model(problem.x, problem.y))
    return time.perf_counter() - t0, time.thread_time() - c0, final


PATHS = ("compiled", "eager", "fused", "plain", "ref")
LABELS = {
    "compiled": "compiled",
    "eager": "hand adjoint, eager",
    "fused": "fused flow",
    "plain": "plain (default)",
    "ref": "reference",
}


def _inductor_works(device: str) -> bool:
    if device == "cpu":
        return compiled.available()
    import importlib.util

    return importlib.util.find_spec("triton") is not None  # inductor's GPU code generator


def compare(dtype, steps, repeats, device="cpu"):
    """Interleaved repeats (so all paths see the same machine load); per-step times in ms."""
    problem = make_problem(dtype, device=device)
    u0 = initial_controls(problem)
    eager, _ = make_fast(problem, "eager")
    runs = {}
    compile_s = float("nan")
    if _inductor_works(device):
        fast, compile_s = make_fast(problem, "inductor")
        runs["compiled"] = (fast, run_compiled)
    runs.update(
        {
            "eager": (eager, run_compiled),
            "fused": (problem, run_ltdl),
            "plain": (problem, run_ltdl_plain),
            "ref": (problem, run_reference),
        }
    )
    for prob, fn in runs.values():
        fn(prob, u0, 3)  # warm-up
    walls = {name: [] for name in runs}
    cpus = {name: [] for name in runs}
    finals = {}
    for _ in range(repeats):
        for name, (prob, fn) in runs.items():
            wall, cpu, final = fn(prob, u0, steps)
            walls[name].append(1e3 * wall / steps)
            cpus[name].append(1e3 * cpu / steps)
            finals[name] = final
    row = {
        "dtype": str(dtype).replace("torch.", ""),
        "compile_s": compile_s,
        "steps": steps,
        "repeats": repeats,
        "paths": tuple(runs),
        "device": device,
        "tol": 1e-9 if dtype == torch.float64 else 1e-4,
    }
    for name in runs:
        row[f"{name}_ms"] = statistics.median(walls[name])
        row[f"{name}_cpu_ms"] = statistics.median(cpus[name])
        row[f"{name}_spread"] = (min(walls[name]), max(walls[name]))
        row[f"{name}_cpu_spread"] = (min(cpus[name]), max(cpus[name]))
        row[f"J_{name}"] = finals[name]
    for name in runs:
        row[f"ratio_{name}"] = statistics.median(walls["ref"]) / row[f"{name}_ms"]
        row[f"ratio_cpu_{name}"] = statistics.median(cpus["ref"]) / row[f"{name}_cpu_ms"]
    row["rel_diff"] = max(abs(finals[k] - finals["ref"]) for k in runs) / abs(finals["ref"])
    return row


def sweep_grid(S: int, dtype=torch.float64):
    if S == 1:
        return torch.tensor([T], dtype=dtype), torch.tensor([LAM], dtype=dtype)
    return torch.linspace(5.0, 20.0, S, dtype=dtype), torch.logspace(-3, -1, S, dtype=dtype)


def batched(S_values, steps, repeats, dtype=torch.float64):
    """The compiled path on S problems at once, S in ``S_values`` (interleaved repeats)."""
    setups = {}
    for S in S_values:
        Ts, lams = sweep_grid(S, dtype)
        problem = make_problem(dtype, T=Ts, lam=lams)
        fast, compile_s = make_fast(problem, "inductor")
        u0 = initial_controls(problem)
        run_compiled(fast, u0, 2)
        setups[S] = (problem, fast, u0, compile_s)
    walls = {S: [] for S in S_values}
    cpus = {S: [] for S in S_values}
    for _ in range(repeats):
        for S, (_, fast, u0, _) in setups.items():
            wall, cpu, _ = run_compiled(fast, u0, steps)
            walls[S].append(1e3 * wall / steps)
            cpus[S].append(1e3 * cpu / steps)
    rows = []
    for S, (_, fast, u0, compile_s) in setups.items():
        res = ltdl.train(fast, u0, optimizer="adam", max_iter=steps, lr=LR)
        # Block s of the batch is problem s alone on the default path: check the last one.
        Ts, lams = sweep_grid(S, dtype)
        alone = make_problem(dtype, T=float(Ts[-1]), lam=float(lams[-1]))
        u_alone = {n: t[-1] for n, t in u0.items()}
        J_alone = float(ltdl.train(alone, u_alone, optimizer="adam", max_iter=steps, lr=LR).value)
        J_block = float(res.value[-1])
        rows.append(
            {
                "S": S,
                "ms": statistics.median(walls[S]),
                "cpu_ms": statistics.median(cpus[S]),
                "spread": (min(walls[S]), max(walls[S])),
                "compile_s": compile_s,
                "block_rel_diff": abs(J_block - J_alone) / abs(J_alone),
            }
        )
    base, base_cpu = rows[0]["ms"], rows[0]["cpu_ms"]
    for r in rows:
        r["vs_S1"] = r["ms"] / base
        r["cpu_vs_S1"] = r["cpu_ms"] / base_cpu
        r["per_problem_ms"] = r["ms"] / r["S"]
    return rows


def sweep_two_threads(steps, repeats, quick) -> list[dict]:
    """The sweep with 2 threads, in a fresh process (inductor's C++ kernels are specialised on the
    thread count when they are compiled)."""
    import subprocess

    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--sweep-only",
        "--threads",
        "2",
        "--steps",
        str(steps),
        "--repeats",
        str(repeats),
    ] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


EXAMPLE_NAMES = ("ex41", "ex42", "ex43", "exA1")
EXAMPLE_KEYS = ("train_accuracy", "test_accuracy", "final_risk", "objective", "grad_max", "n_iter")


def full_size_examples() -> list[dict]:
    """``ltdl run NAME --size full`` on the default path and with ``--compile``, each in a fresh
    process: wall time, CPU time (user + system of the child) and the final numbers."""
    import resource
    import subprocess
    import tempfile

    rows = []
    exe = Path(sys.executable).with_name("ltdl")
    cmd0 = [str(exe)] if exe.exists() else [sys.executable, "-m", "ltdl"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in EXAMPLE_NAMES:
            row = {"name": name}
            for flag in ("", "--compile"):
                out = Path(tmp) / f"{name}{flag}"
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                subprocess.run(
                    cmd0 + ["run", name, "--size", "full", "--out", str(out)] + ([flag] if flag else []),
                    check=True,
                    capture_output=True,
                    text=True,
                )
                wall = time.perf_counter() - t0
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                res = json.loads((out / "results.json").read_text())["results"]
                key = "compiled" if flag else "default"
                row[key] = {"wall": wall, "cpu": cpu, **{k: res[k] for k in EXAMPLE_KEYS}}
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Arithmetic floor
# ---------------------------------------------------------------------------------------------
def step_counts(N=N_TRAIN, d=D, K=K, m=1, S=1, stages=2):
    """FLOPs (multiply or add = 1) and tanh evaluations of one Adam step of the benchmark.

    Forward per stage: σ (N d tanh), w σ + b (2 N d² FLOPs), the stage update (2 N d).
    Loss per state (K+1 of them): P x (2 N m d), tanh, residual, square, sum (≈ 4 N m).
    Backward ≈ 2 × the forward FLOPs (two products per product), σ' from the saved σ (3 N d per
    stage), no new tanh. Adam: about 15 FLOPs per parameter (K (d² + d) of them).
    """
    fwd_flow = K * stages * (2 * N * d * d + 2 * N * d)
    fwd_loss = (K + 1) * (2 * N * m * d + 4 * N * m)
    backward = 2 * (fwd_flow + fwd_loss) + K * stages * 3 * N * d
    adam = 15 * K * (d * d + d)
    flops = S * (fwd_flow + fwd_loss + backward + adam)
    tanh = S * (K * stages * N * d + (K + 1) * N * m)
    return flops, tanh


def machine_rates(dtype):
    """Best rates of this thread: GFLOP/s of a 1024² matmul and ns per tanh on 10⁶ entries, each
    the best of several tries in CPU time of the thread (robust to other jobs on the machine)."""
    a = torch.randn(1024, 1024, dtype=dtype)
    a @ a
    best = []
    for _ in range(5):
        c0 = time.thread_time()
        a @ a
        best.append(time.thread_time() - c0)
    gflops = 2 * 1024**3 / min(best) / 1e9
    v = torch.randn(1_000_000, dtype=dtype)
    torch.tanh(v)
    best = []
    for _ in range(10):
        c0 = time.thread_time()
        torch.tanh(v)
        best.append(time.thread_time() - c0)
    tanh_ns = min(best) / 1e6 * 1e9
    return gflops, tanh_ns


def floor_ms(dtype, S=1):
    flops, tanh = step_counts(S=S)
    gflops, tanh_ns = machine_rates(dtype)
    return {
        "flops": flops,
        "tanh": tanh,
        "gflops": gflops,
        "tanh_ns": tanh_ns,
        "floor_ms": 1e3 * flops / (gflops * 1e9) + 1e-6 * tanh * tanh_ns,
        "tanh_ms": 1e-6 * tanh * tanh_ns,
    }


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def machine_info():
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torchdiffeq

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchdiffeq": torchdiffeq.__version__,
        "ltdl": ltdl.__version__,
        "os": platform.platform(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cxx": _cxx(),
    }


def _cxx() -> str:
    import shutil
    import subprocess

    for name in (os.environ.get("CXX", ""), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            try:
                out = subprocess.run([name, "--version"], capture_output=True, text=True, timeout=10).stdout
                return out.splitlines()[0].strip() if out else name
            except (OSError, subprocess.SubprocessError):
                return name
    return "none found"


def load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _spread(lo_hi) -> str:
    return f"{lo_hi[0]:.2f}–{lo_hi[1]:.2f}"


def render(
    info,
    cmp_rows,
    sweep_rows,
    sweep_rows2,
    example_rows,
    floors,
    sweep_floor,
    steps,
    repeats,
    quick,
    load_before,
    load_after,
    seconds,
) -> str:
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    busy = _busy(info, load_before, load_after)
    L = []
    L.append("# Performance\n")
    L.append(
        "How fast `ltdl` trains, measured against the implementation a researcher writes by hand "
        "with torchdiffeq, and what the book's time budget is. This page is generated: do not edit "
        "it, regenerate it with one command (`--quick`: fewer steps and repeats, float32 only, "
        "at most about 3 minutes)\n"
    )
    L.append("```bash\n.venv/bin/python benchmarks/bench_training.py --write chapters/performance.md\n```\n")
    if quick:
        L.append(
            ":::{warning}\nThese numbers come from a `--quick` run (few steps and repeats): indicative only.\n:::\n"
        )
    if busy:
        L.append(
            ":::{warning}\nThese timings were taken **under load**: the machine was shared with other jobs "
            "(load average above the number of cores, see the table at the end). Wall-clock times are "
            "inflated and noisy; the CPU time of the benchmark's own thread is the steadier measure. "
            "Rerun the command above on a quiet machine for reference numbers.\n:::\n"
        )
    L.append("## The benchmark\n")
    L.append(
        f"Spheres, $N = {N_TRAIN}$ training points, the `outer` field $f(x,u) = w\\tanh(x) + b$ in "
        f"$d = {D}$, $T = {T:g}$, $K = {K}$ midpoint steps, the objective final loss + integral loss "
        f"($\\beta = {BETA:g}$) + $L^2$ penalty ($\\lambda = {LAM:g}$) through the fixed output map of the "
        f"authors' spheres run, full-batch Adam (lr {LR:g}), {steps} steps per run, one thread, median of "
        f"{repeats} interleaved repeats (every repeat runs each path once, in turn, so that all see the same "
        "machine load). All paths run in the same process on the same data from the same initial "
        "controls:\n"
    )
    L.append(
        '- **compiled**: `ltdl.train(ltdl.compiled.compile_problem(problem), optimizer="adam")`. The '
        "objective's value and its gradient come from one function: the trajectory, every cost, and the "
        "discrete adjoint of the whole objective written by hand (the transposed Runge–Kutta steps), in a "
        "$(d, N)$ layout with the $2\\times 2$ products written as elementwise terms, compiled by "
        "`torch.compile` (inductor, which emits C++ loops over the points and needs a C++ compiler)."
    )
    L.append(
        '- **hand adjoint, eager**: the same function, `compile_problem(problem, backend="eager")`, run '
        "operation by operation (no compiler needed)."
    )
    L.append(
        "- **fused flow**: `ltdl.train` inside `with ltdl.flows.fused_gradients():` (only the flow is one "
        "autograd node with a hand-written adjoint; the costs go through autograd)."
    )
    L.append("- **plain (default)**: `ltdl.train` as the chapters call it (autograd through the step loop).")
    L.append(
        "- **reference** (`benchmarks/reference_torchdiffeq.py`): one `nn.Linear` per layer, "
        "`torchdiffeq.odeint` with the fixed-step midpoint method and a lookup of the layer of $t$ in "
        "the right-hand side, the trajectory integrated a second time for the running cost, the weight "
        "decay written as a penalty over `model.parameters()`.\n"
    )
    L.append("### Time per training step\n")
    L.append(
        "Median ms per Adam step; in brackets the range over the repeats. Speed-up = reference time / "
        "path time, from wall-clock and from CPU time of the thread.\n"
    )
    L.append("| dtype | path | wall ms/step | CPU ms/step | speed-up (wall) | speed-up (CPU) | final J |")
    L.append("|---|---|---:|---:|---:|---:|---:|")
    for r in cmp_rows:
        for name in r["paths"]:
            sp = "1×" if name == "ref" else f"{r[f'ratio_{name}']:.1f}×"
            spc = "1×" if name == "ref" else f"{r[f'ratio_cpu_{name}']:.1f}×"
            L.append(
                f"| {r['dtype']} | {LABELS[name]} | {r[f'{name}_ms']:.2f} ({_spread(r[f'{name}_spread'])}) "
                f"| {r[f'{name}_cpu_ms']:.2f} ({_spread(r[f'{name}_cpu_spread'])}) | {sp} | {spc} "
                f"| {r[f'J_{name}']:.8g} |"
            )
    L.append("")
    L.append(
        "Same computation: the final objectives agree to "
        + ", ".join(f"{r['rel_diff']:.1e} ({r['dtype']})" for r in cmp_rows)
        + " relative (the script fails above 1e-4 in float32, 1e-9 in float64). First call of the compiled "
        "path (tracing, compiling, or loading the graph from inductor's on-disk cache): "
        + ", ".join(f"{r['compile_s']:.0f} s ({r['dtype']})" for r in cmp_rows)
        + "; it is paid once per process and problem shape, so the path suits long runs (the command "
        "line, sweeps), not a chapter of a few seconds.\n"
    )
    if info.get("device", "cpu") != "cpu":
        L.append(
            f"Device: **{info['device']} ({info['gpu']})**; CPU times of the thread measure only the host side there.\n"
        )
    if not all("compiled" in r["paths"] for r in cmp_rows):
        L.append("The compiled path did not run on this device (inductor needs triton on a GPU).\n")
        return _tail(L, info, date, load_before, load_after, seconds, busy)
    best = max(min(r["ratio_compiled"], r["ratio_cpu_compiled"]) for r in cmp_rows)
    measured = "; ".join(
        f"{r['ratio_compiled']:.1f}× wall, {r['ratio_cpu_compiled']:.1f}× CPU ({r['dtype']})" for r in cmp_rows
    )
    verdict = "met" if best >= 10 else "**not met**"
    L.append(
        f"Target: the compiled path at least 10× faster than the reference. Measured: {measured}; "
        f"target {verdict} (judged on the smaller of the two ratios of the best dtype).\n"
    )
    L.append("### Arithmetic floor\n")
    L.append(
        "The arithmetic one step needs, at the best rates this machine showed in the same process "
        "(a 1024² matrix product for FLOP/s, `torch.tanh` on 10⁶ entries for the tanh cost), one thread:\n"
    )
    L.append(
        "| dtype | FLOPs / step | tanh / step | machine GFLOP/s | ns / tanh | floor ms/step | of which tanh "
        "| compiled CPU ms/step | compiled / floor |"
    )
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r, f in zip(cmp_rows, floors, strict=True):
        L.append(
            f"| {r['dtype']} | {f['flops']:.2e} | {f['tanh']:.2e} | {f['gflops']:.1f} | {f['tanh_ns']:.2f} "
            f"| {f['floor_ms']:.3f} | {f['tanh_ms'] / f['floor_ms']:.0%} | {r['compiled_cpu_ms']:.2f} "
            f"| {r['compiled_cpu_ms'] / f['floor_ms']:.1f}× |"
        )
    L.append("")
    L.append(
        "FLOPs and tanh counts are from `step_counts` in the script (forward, backward ≈ 2× forward, Adam). "
        "The tanh evaluations dominate the floor. What separates the compiled path from the floor: the "
        "Python of the training loop and of `torch.optim.Adam` (a few dozen tensor operations per step, "
        "microseconds each), the call into the compiled graph, and the sequential structure of the "
        "step (the backward pass cannot start before the forward pass ends, and each of the "
        f"{K} layers depends on the previous one, so each loop over the points is short). The eager paths "
        "pay microseconds of dispatch for each of their hundreds of operations.\n"
    )
    if sweep_rows:
        L.append("## Batched sweeps\n")
        L.append(
            "S problems with different $(T_s, \\lambda_s)$ at equal $K$ (T from 5 to 20, λ from 1e-3 to 1e-1) "
            "trained as one `ltdl.Problem` whose `T` and `lam` are `(S,)` tensors, on the compiled path; "
            "float64, same steps, interleaved repeats; one thread, then two threads (in a second process, "
            "as inductor's kernels are built for a thread count). The tanh bound is S times the tanh work "
            "of one problem at the rate of the floor table (float64). The last column checks that block $s$ "
            "of the batch is problem $s$ trained alone on the default path (last problem, relative "
            "difference of the final J).\n"
        )
        L.append(
            "| threads | S | wall ms/step | CPU ms/step | × time of S = 1 (wall / CPU) | ms per problem-step "
            "| tanh bound ms/step | block vs alone |"
        )
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for threads, rows in ((1, sweep_rows), (2, sweep_rows2)):
            for r in rows:
                L.append(
                    f"| {threads} | {r['S']} | {r['ms']:.2f} ({_spread(r['spread'])}) | {r['cpu_ms']:.2f} "
                    f"| {r['vs_S1']:.2f} / {r['cpu_vs_S1']:.2f} | {r['per_problem_ms']:.2f} "
                    f"| {r['S'] * sweep_floor['tanh_ms']:.2f} | {r['block_rel_diff']:.1e} |"
                )
        L.append("")
        L.append("CPU time counts the benchmark's own thread only; with two threads the wall time is the measure.\n")
        s16 = [r for r in sweep_rows if r["S"] == 16]
        if s16:
            r16, r1 = s16[0], sweep_rows[0]
            v1 = r16["cpu_vs_S1"] / 16
            a16 = r16["cpu_ms"] / 16
            o = max(r1["cpu_ms"] - a16, 0.0)
            t = sweep_floor["tanh_ms"]
            best = (o + 16 * t) / (16 * (o + t))
            L.append(
                f"Target: S = 16 in at most 0.5 × (16 × the S = 1 step time). One thread: S = 16 takes "
                f"{r16['vs_S1']:.2f}× (wall) and {r16['cpu_vs_S1']:.2f}× (CPU) the S = 1 time, i.e. "
                f"{r16['vs_S1'] / 16:.2f} and {v1:.2f} × (16 × S = 1); target "
                f"{'met' if max(v1, r16['vs_S1'] / 16) <= 0.5 else '**not met**'} on one thread. The bound: a "
                "step costs a fixed overhead o (Python, Adam, the call into the graph) plus the arithmetic a "
                "of each problem, so S = 1 costs o + a, S = 16 costs o + 16 a, and the ratio "
                "(o + 16 a) / (16 (o + a)) is at most 0.5 exactly when a ≤ 7o/8. From the CPU times, "
                f"a ≈ {a16:.2f} ms (S = 16 time / 16) and o ≈ {o:.2f} ms, so the target needs "
                f"a ≤ {7 * o / 8:.2f} ms. The tanh evaluations alone take t = {t:.2f} ms per problem at this "
                f"machine's best rate ({sweep_floor['tanh_ns']:.2f} ns per float64 tanh), and a ≥ t: "
                + (
                    f"tanh throughput rules the target out on one thread (even with a = t the ratio would be "
                    f"{best:.2f})."
                    if t > 7 * o / 8
                    else f"tanh throughput alone does not rule it out (with a = t the ratio would be {best:.2f}); "
                    f"the measured a is {a16 / t:.1f} t."
                )
                + " Making the single step cheaper (a smaller o) moves the target further away: batching "
                "saves exactly the overhead o per extra problem."
            )
            t2 = [r for r in sweep_rows2 if r["S"] == 16]
            if t2:
                v2 = t2[0]["ms"] / (16 * min(r1["ms"], sweep_rows2[0]["ms"]))
                L.append(
                    f" With two threads (against the faster of the two S = 1 wall times, one or two threads): "
                    f"S = 16 takes {v2:.2f} × (16 × S = 1) in wall time; target "
                    f"{'met' if v2 <= 0.5 else '**not met**'} on two cores."
                    + (
                        " On a shared machine the second thread mostly waits for a free core, so this "
                        "two-thread figure measures the load, not the kernels."
                        if busy
                        else ""
                    )
                )
            L.append("\n")
    if example_rows:
        L.append("## The authors' examples at full size\n")
        L.append(
            "`ltdl run NAME --size full --out DIR` (the authors' data sizes, L-BFGS, float64), each in a fresh "
            "process, on the default path and with `--compile` (the compiled objective; the numbers it "
            "reports are evaluated on the default path). Wall time and CPU time (user + system) of the whole "
            "command: start-up, imports, training, figures; the compiled graph comes from inductor's on-disk "
            "cache, as it does from the second run on. Example runs use one thread.\n"
        )
        L.append(
            "| example | default: wall s | CPU s | `--compile`: wall s | CPU s | train / test accuracy | "
            "E(x(T)) default / compiled | J rel. difference | max\\|∇J\\| default / compiled "
            "| L-BFGS iterations default / compiled |"
        )
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in example_rows:
            d, c = r["default"], r["compiled"]
            acc = (
                "same"
                if (d["train_accuracy"], d["test_accuracy"]) == (c["train_accuracy"], c["test_accuracy"])
                else "differ"
            )
            L.append(
                f"| {r['name']} | {d['wall']:.1f} | {d['cpu']:.1f} | {c['wall']:.1f} | {c['cpu']:.1f} "
                f"| {d['train_accuracy']:.4g} / {d['test_accuracy']:.4g} ({acc}) "
                f"| {d['final_risk']:.4g} / {c['final_risk']:.4g} "
                f"| {abs(c['objective'] - d['objective']) / abs(d['objective']):.1e} "
                f"| {d['grad_max']:.1e} / {c['grad_max']:.1e} | {d['n_iter']} / {c['n_iter']} |"
            )
        L.append("")
        slow = [r["name"] for r in example_rows if r["default"]["cpu"] > 20]
        slow_c = [r["name"] for r in example_rows if r["compiled"]["cpu"] > 20]
        L.append(
            "Target: each full-size example in at most 20 s on 2 cores with the same final numbers. Over 20 s "
            "of CPU on the default path (the plain training path, whose arithmetic these changes leave as it "
            "was): "
            + (", ".join(slow) if slow else "none")
            + "; with `--compile`: "
            + (", ".join(slow_c) if slow_c else "none")
            + ". The compiled gradients equal the default ones "
            "only up to rounding, so L-BFGS follows a different path: the accuracies, risks and objectives "
            "above agree, but the iteration counts and the final gradient (the certificate) can differ, which "
            "is why `--compile` is opt-in.\n"
        )
    L.append("## What makes ltdl fast\n")
    L.append(
        "- The step grid is the control grid: the flow indexes layer $k$ at step $k$, with no time-to-layer "
        "lookup and no solver bookkeeping, and the running cost reuses the one trajectory."
    )
    L.append(
        "- Opt-in, `ltdl.compiled.compile_problem(problem)`: the value and the gradient of the whole objective "
        "from one compiled function. Gradients agree with autograd's up to rounding (tested: relative "
        "difference ≤ 1e-12 in float64, ≤ 1e-6 in float32), not bit for bit, so the chapters keep the "
        "default path and their stored outputs do not change. First derivatives only (double backward "
        "raises); Hessians and `torch.func` use the default path. Where no C++ compiler is found, "
        "`ltdl.compiled.maybe_compile` gives the eager version of the same function, and the default path "
        "needs no compiler at all."
    )
    L.append(
        "- Opt-in, `with ltdl.flows.fused_gradients():` around `ltdl.train`: the flow of the `outer` field is "
        "one autograd node with a hand-written discrete adjoint (`ltdl.flows._OuterFlow`)."
    )
    L.append("- Batches of problems are leading tensor dimensions, not Python loops.")
    L.append(
        "- Where the compiled path is used: opt-in everywhere (`ltdl run NAME --compile`, "
        "`ltdl.run_example(..., compiled=True)`, `ltdl.sweep(..., compiled=True)`, "
        "`ltdl.compiled.compile_problem`); the chapters and every default call keep the plain path.\n"
    )
    return _tail(L, info, date, load_before, load_after, seconds, busy)


def _tail(L, info, date, load_before, load_after, seconds, busy) -> str:
    L.append("## Machine and versions\n")
    L.append("| | |\n|---|---|")
    L.append(f"| date | {date} |")
    L.append(f"| CPU | {info['cpu']} ({info['cores']} cores, {info['capability']}) |")
    L.append(f"| torch threads | {info['threads']} |")
    L.append(f"| load average (1, 5, 15 min) before / after | {load_before} / {load_after} |")
    L.append(
        f"| Python / torch / torchdiffeq / ltdl | {info['python']} / {info['torch']} / {info['torchdiffeq']} "
        f"/ {info['ltdl']} |"
    )
    L.append(f"| C++ compiler for inductor | {info['cxx']} |")
    L.append(f"| OS | {info['os']} |")
    L.append(f"| benchmark run time | {seconds:.0f} s |")
    L.append("")
    if busy:
        L.append(
            "The machine was shared with other jobs while these numbers were taken: a load average "
            "above the number of cores inflates every wall-clock time above, the reference's and "
            "ltdl's alike.\n"
        )
    else:
        L.append("The load average stayed below the number of cores: the machine was otherwise quiet.\n")
    L.append("## GPU\n")
    if info["gpu"]:
        L.append(
            f"This run saw a CUDA device ({info['gpu']}); the tables above are CPU numbers. "
            "`scripts/gpu_check.sh` runs the device checks and the benchmark on it.\n"
        )
    else:
        L.append(
            "GPU: **not measured**. No GPU was available to the session that produced this page; every "
            "number above is CPU only. `scripts/gpu_check.sh` runs the library tests marked for devices, "
            "one chapter and this benchmark on CUDA; its numbers, labelled with the card, belong here "
            "once a GPU machine has run it.\n"
        )
    L.append("## The book's time budget\n")
    L.append(
        "Every chapter must execute in at most 90 s and the whole book in at most 10 min on 2 cores. The "
        "notebook test of `scripts/test.sh` writes each cell's time to `_build/reports/nbval.xml`; "
        "`scripts/check_time_budget.py` sums them per chapter, prints the table and fails when a limit "
        "is exceeded:\n"
    )
    L.append("```bash\n.venv/bin/python scripts/check_time_budget.py _build/reports/nbval.xml\n```\n")
    L.append(
        "It also reads the execution times that the strict book build records "
        "(`--sphinx-env _build/.doctrees/environment.pickle`).\n"
    )
    L += timing_section()
    return "\n".join(L)


TEST_LOGS = HERE.parent / "_build" / "reports" / "logs"  # written by the last `bash scripts/test.sh`
TEST_TARGET_S = 300  # the project's target for the test command on 2 cores, after set-up
TEST_BEFORE = HERE / "test-command-before"  # logs of the run before the last schedule change (committed)


def _cpu_seconds(times_txt: str) -> float | None:
    """User + system CPU of the shell's children from bash's ``times`` output (second line)."""
    lines = times_txt.strip().splitlines()
    if len(lines) != 2:
        return None
    total = 0.0
    for part in lines[1].split():
        minutes, _, seconds = part.rstrip("s").partition("m")
        total += 60 * float(minutes) + float(seconds)
    return total


def _run_table(logs: Path) -> tuple[list[str], int, float | None, str]:
    """One run of the test command from its logs: the step table, wall s, CPU s (or None), and its label.

    The CPU time is the machine's (``machine_cpu.seconds``: every process, Chromium's included),
    else that of the steps' own processes (bash's ``times``), which misses Chromium.
    """
    rows = [line.split("\t") for line in (logs / "steps.tsv").read_text().strip().splitlines()[1:]]
    wall = int((logs / "total.seconds").read_text())
    machine = logs / "machine_cpu.seconds"
    if machine.is_file():
        cpu, label = float(machine.read_text()), "CPU time of the machine during the run"
    elif (logs / "times.txt").is_file():
        cpu = _cpu_seconds((logs / "times.txt").read_text())
        label = "CPU time of the steps' processes (Chromium not counted)"
    else:
        cpu, label = None, ""
    with_cpu = all(len(r) >= 5 for r in rows)
    head = "| step | wall s | ended at s |" + (" CPU s |" if with_cpu else "") + " status |"
    table = [head, "|---|---:|---:|" + ("---:|" if with_cpu else "") + "---|"]
    for r in rows:
        name, sec, end, rc = r[:4]
        cpu_cell = f" {r[4]} |" if with_cpu else ""
        table.append(f"| {name} | {sec} | {end} |{cpu_cell} {'ok' if rc == '0' else 'FAILED'} |")
    return table, wall, cpu, label


def timing_section(logs: Path = TEST_LOGS, before: Path = TEST_BEFORE) -> list[str]:
    """The Performance page's section on the test command, from the logs of its last run.

    When ``before`` holds the logs of an earlier run (committed: the schedule before the last change
    to scripts/test.sh), its table follows for comparison.
    """
    L = ["## The test command\n"]
    if not ((logs / "steps.tsv").is_file() and (logs / "total.seconds").is_file()):
        L.append("Not measured: no logs of a run of `bash scripts/test.sh` (`_build/reports/logs/`).\n")
        return L
    table, wall, cpu, label = _run_table(logs)
    when = datetime.datetime.fromtimestamp((logs / "total.seconds").stat().st_mtime, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC"
    )
    L.append(
        f"The last `bash scripts/test.sh` on this machine ({when}, after the environment set-up) took "
        f"**{wall} s**; target: at most {TEST_TARGET_S} s on 2 cores, "
        f"{'met' if wall <= TEST_TARGET_S else '**not met**'}. Steps that need no result of each other run "
        "at the same time, so a step's wall time includes waiting for a core; a step's CPU time counts its "
        "own processes (Chromium's are not among them).\n"
    )
    L += table + [""]
    if cpu is not None:
        L.append(
            f"{label}: {cpu:.0f} s, so {cpu / 2:.0f} s is the least any schedule "
            f"of this work can take on 2 cores; the {TEST_TARGET_S} s target then needs less work, "
            "not only better packing.\n"
        )
    if (before / "steps.tsv").is_file() and (before / "total.seconds").is_file():
        table, wall, cpu, label = _run_table(before)
        note = (before / "README.md").read_text().strip() if (before / "README.md").is_file() else ""
        L.append(f"**Before** ({note}): **{wall} s**.\n" if note else f"**Before**: **{wall} s**.\n")
        L += table + [""]
        if cpu is not None:
            L.append(f"{label}: {cpu:.0f} s.\n")
    return L


def rewrite_test_command_section(path: str | None) -> int:
    """Replace the section "## The test command" of the page at ``path`` by :func:`timing_section`.

    The test command takes minutes and the benchmark other minutes: after a run of the test
    command, its section can be brought up to date without measuring the training paths again.
    """
    if not path or not Path(path).is_file():
        print(f"[bench] --test-command-only needs --write PATH of an existing page, got {path!r}", file=sys.stderr)
        return 2
    text = Path(path).read_text()
    head, sep, rest = text.partition("## The test command\n")
    if not sep:
        print(f"[bench] {path} has no section '## The test command'", file=sys.stderr)
        return 2
    nxt = rest.find("\n## ")
    tail = rest[nxt + 1 :] if nxt >= 0 else ""
    Path(path).write_text(head + "\n".join(timing_section()) + ("\n" + tail if tail else ""))
    print(f"[bench] rewrote the test-command section of {path}")
    return 0


def _busy(info, load_before, load_after) -> bool:
    """Busy when a 1- or 5-minute load average, before or after, exceeds the number of cores (the
    15-minute average mostly remembers what ran before the benchmark)."""
    loads = []
    for text in (load_before, load_after):
        parts = [v.strip() for v in text.split(",")]
        loads += [float(v) for v in parts[:2] if v not in ("n/a", "")]
    return any(v > info["cores"] for v in loads)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="30 steps, 3 repeats, float32 comparison, sweep S = 1 and 16 (at most about 3 minutes)",
    )
    ap.add_argument("--write", metavar="PATH", help="write the Performance page (MyST markdown) here")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda: the comparison table on that device")
    ap.add_argument("--no-examples", action="store_true", help="skip the full-size example runs (about 2 minutes)")
    ap.add_argument("--sweep-only", action="store_true", help=argparse.SUPPRESS)  # the 2-thread sweep
    ap.add_argument(
        "--test-command-only",
        action="store_true",
        help="with --write: rewrite only the page's section on the test command, from the logs of the last "
        "`bash scripts/test.sh` (no benchmark is run; the other sections keep their measurements)",
    )
    args = ap.parse_args(argv)
    if args.test_command_only:
        return rewrite_test_command_section(args.write)
    torch.set_num_threads(args.threads)
    if args.sweep_only:  # one JSON line: the sweep rows at this thread count (inductor specialises on it)
        S_values = (1, 16) if args.quick else (1, 4, 16)
        rows = batched(S_values, args.steps or (30 if args.quick else 100), args.repeats or (3 if args.quick else 5))
        print(json.dumps(rows))
        return 0
    if args.device != "cpu" and not torch.cuda.is_available():
        print(f"[bench] --device {args.device}: no CUDA device visible to torch", file=sys.stderr)
        return 2
    if args.device == "cpu" and not compiled.available():
        print("[bench] torch.compile needs a C++ compiler (g++, c++ or clang++) on the PATH", file=sys.stderr)
        return 2
    steps = args.steps or (30 if args.quick else 100)
    repeats = args.repeats or (3 if args.quick else 5)
    dtypes = (torch.float32,) if args.quick else (torch.float32, torch.float64)
    S_values = (1, 16) if args.quick else (1, 4, 16)
    start, load_before = time.perf_counter(), load()
    info = machine_info()
    print(f"[bench] {info['cpu']}, {info['threads']} threads, load {load_before}", flush=True)
    cmp_rows, floors = [], []
    info["device"] = args.device
    for dtype in dtypes:
        r = compare(dtype, steps, repeats, args.device)
        cmp_rows.append(r)
        floors.append(floor_ms(dtype))
        print(
            f"[bench] {r['dtype']}: "
            + ", ".join(
                f"{name} {r[f'{name}_ms']:.2f} ms wall / {r[f'{name}_cpu_ms']:.2f} ms CPU" for name in r["paths"]
            )
            + f"; compiled {r.get('ratio_compiled', float('nan')):.1f}x wall, "
            f"{r.get('ratio_cpu_compiled', float('nan')):.1f}x CPU; "
            f"floor {floors[-1]['floor_ms']:.3f} ms; first call {r['compile_s']:.1f} s; rel {r['rel_diff']:.1e}",
            flush=True,
        )
    if args.device != "cpu":  # the sweep and floor sections are CPU measurements
        sweep_rows, sweep_rows2, sweep_floor = [], [], None
    else:
        sweep_rows2 = []
        sweep_rows = batched(S_values, steps, repeats)
        sweep_floor = floor_ms(torch.float64)
        if (os.cpu_count() or 1) >= 2 and args.threads == 1:
            sweep_rows2 = sweep_two_threads(steps, repeats, args.quick)
    for r in sweep_rows2:
        print(f"[bench] 2 threads S={r['S']}: {r['ms']:.2f} ms/step wall, {r['cpu_ms']:.2f} CPU", flush=True)
    for r in sweep_rows:
        print(
            f"[bench] S={r['S']}: {r['ms']:.2f} ms/step wall, {r['cpu_ms']:.2f} CPU ({r['vs_S1']:.2f}x / "
            f"{r['cpu_vs_S1']:.2f}x S=1), tanh bound {r['S'] * sweep_floor['tanh_ms']:.2f} ms, "
            f"block vs alone {r['block_rel_diff']:.1e}",
            flush=True,
        )
    example_rows = [] if (args.quick or args.device != "cpu" or args.no_examples) else full_size_examples()
    for r in example_rows:
        print(
            f"[bench] {r['name']} --size full: default {r['default']['wall']:.1f} s wall / "
            f"{r['default']['cpu']:.1f} s CPU, --compile {r['compiled']['wall']:.1f} s / "
            f"{r['compiled']['cpu']:.1f} s",
            flush=True,
        )
    seconds, load_after = time.perf_counter() - start, load()
    print(f"[bench] done in {seconds:.0f} s, load {load_after}")
    bad = [r for r in cmp_rows if not r["rel_diff"] <= r["tol"]]
    bad += [r for r in sweep_rows + sweep_rows2 if not r["block_rel_diff"] <= 1e-9]
    if args.write:
        Path(args.write).write_text(
            render(
                info,
                cmp_rows,
                sweep_rows,
                sweep_rows2,
                example_rows,
                floors,
                sweep_floor,
                steps,
                repeats,
                args.quick,
                load_before,
                load_after,
                seconds,
            ),
            encoding="utf-8",
        )
        print(f"[bench] wrote {args.write}")
    if bad:
        print(f"[bench] FAILED: the implementations disagree: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
