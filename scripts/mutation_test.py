#!/usr/bin/env python3
"""Mutation test of the claims: would the test suite notice a plausible bug in the mathematics?

Each mutant is one small semantic change to a temporary copy of ``ltdl/`` (a penalty without its
Δt, an mse with a factor ½, the Euler step replaced by the midpoint step, …). For each, the
script runs only the tests that should catch it, against the copy, and requires at least one of
them to FAIL (the mutant is "killed"). Before that it runs the same tests on an unmodified copy,
which must pass, so that a kill is never an already-failing test.

Safeguards:

* every mutant's source snippet must occur exactly once in its file, else the script stops
  before running anything (a refactoring moved the code: update the anchor);
* each test run imports ``ltdl`` from the copy (working directory and first entry of ``sys.path``,
  in a process forked from a server that has imported only third-party modules, see ``_SERVER``),
  and checks so before pytest starts: the imported package's folder must be the copy's and the
  mutated file must contain the mutated text;
* a mutant whose tests end with an error other than test failures (exit status not 1: import or
  collection error) counts as an error, not as a kill.

Writes the table mutant → killing tests → seconds to ``chapters/quality.md`` (a generated page
of the book) and to stdout; exits 1 when a mutant survives or errs, 2 when an anchor is missing.

    python scripts/mutation_test.py            # all mutants, 2 in parallel
    python scripts/mutation_test.py --jobs 1 --only mse-half
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "chapters" / "quality.md"


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # under ltdl/
    old: str
    new: str
    tests: tuple[str, ...]
    what: str


# Curated semantic mutants: each is a bug that would change a number the book interprets.
# Anchors in ltdl/optim.py and ltdl/flows.py (the Butcher tableaux) come last: that code was being
# reorganised when the list was written, so those are the first to re-check if an anchor goes missing.
MUTANTS = (
    Mutant(
        "penalty-without-dt",
        "costs.py",
        "    value = lam * dt * norms.sum(-1)\n",
        "    value = lam * norms.sum(-1)\n",
        (
            "tests/test_costs.py::test_penalties_are_quadrature_consistent",
            "tests/test_scaling.py::test_scaling_identity_holds_for_running_costs_with_the_stated_factors",
        ),
        "the L² penalty λΣ‖u_k‖² loses its Δt (a plain sum over layers)",
    ),
    Mutant(
        "mse-half",
        "costs.py",
        "            return (r**2).sum(-1)\n",
        "            return 0.5 * (r**2).sum(-1)\n",
        ("tests/test_costs.py::test_losses", "tests/test_oracles.py::test_bias_erm_oracle_recovered_by_training"),
        "the mse loss gets a factor ½ (the other common convention)",
    ),
    Mutant(
        "tracking-summed",
        "costs.py",
        "    return trapezoid(sq.mean(-1), T)\n",
        "    return trapezoid(sq.sum(-1), T)\n",
        (
            "tests/test_scaling.py::test_scaling_identity_holds_for_running_costs_with_the_stated_factors",
            "tests/test_turnpike.py::test_linearised_rate_matches_a_solved_tracking_problem",
        ),
        "the tracking cost sums over the N points instead of averaging",
    ),
    Mutant(
        "trapezoid-left-rule",
        "costs.py",
        "    inner = values.sum(0) - 0.5 * (values[0] + values[-1])\n",
        "    inner = values[:-1].sum(0)\n",
        ("tests/test_costs.py::test_trapezoid_exact_for_linear_and_second_order",),
        "the trapezoid rule for ∫E dt and ∫|x − x̄|² dt becomes a left Riemann sum",
    ),
    Mutant(
        "risk-summed",
        "costs.py",
        "    return loss(P(x), y).mean(-1)\n",
        "    return loss(P(x), y).sum(-1)\n",
        ("tests/test_costs.py::test_risk_is_mean_over_points_through_P",),
        "the empirical risk sums the N losses instead of averaging them",
    ),
    Mutant(
        "h1-jumps-times-dt",
        "costs.py",
        "        value = value + lam * jumps / dt\n",
        "        value = value + lam * jumps * dt\n",
        (
            "tests/test_costs.py::test_penalties_are_quadrature_consistent",
            "tests/test_ch02_scaling.py::test_h1_penalty_rescales_with_two_weights",
        ),
        "the H¹ seminorm's difference quotient multiplies by Δt instead of dividing",
    ),
    Mutant(
        "homogeneity-flag",
        "fields.py",
        "        return 1 if self.activation in POSITIVELY_HOMOGENEOUS else None\n",
        "        return 1\n",
        ("tests/test_fields.py::test_homogeneity_flag_agrees_with_definition",),
        "the inner field claims 1-homogeneity for every σ (tanh included)",
    ),
    Mutant(
        "homogeneous-tanh",
        "activations.py",
        'POSITIVELY_HOMOGENEOUS = frozenset({"relu", "leaky_relu", "identity"})',
        'POSITIVELY_HOMOGENEOUS = frozenset({"relu", "leaky_relu", "identity", "tanh"})',
        ("tests/test_fields.py::test_homogeneity_flag_agrees_with_definition",),
        "tanh is listed as positively homogeneous",
    ),
    Mutant(
        "control-grid-off-by-one",
        "controls.py",
        "    return {name: t.select(t.ndim - len(shapes[name]) - 1, k) for name, t in u.items()}\n",
        "    return {name: t.select(t.ndim - len(shapes[name]) - 1, max(k - 1, 0)) for name, t in u.items()}\n",
        ("tests/test_flows.py::test_resnet_is_euler", "tests/test_flows.py::test_odeint_reference_agrees_with_rk4"),
        "layer k uses the control u_(k−1) (off by one on the control grid)",
    ),
    Mutant(
        "r1-rescaling-exponent",
        "diagnostics.py",
        "    return scale_controls(u, T)\n",
        "    return scale_controls(u, T**2)\n",
        ("tests/test_scaling.py::test_scaling_identity_exact",),
        "the R1 rescaled control is T² u(Ts) instead of T u(Ts)",
    ),
    Mutant(
        "warm-start-exponent",
        "sweeps.py",
        "    return scale_controls(detach(u), T_from / T_to)\n",
        "    return scale_controls(detach(u), (T_from / T_to) ** 2)\n",
        ("tests/test_sweeps.py::test_warm_start_keeps_the_rescaled_control",),
        "the R1 warm start between horizons scales by (T/T')² instead of T/T'",
    ),
    Mutant(
        "spacetime-kernel-normalisation",
        "spacetime.py",
        "        W = phi_out @ c @ phi_in.transpose(0, 1) / n_in\n",
        "        W = phi_out @ c @ phi_in.transpose(0, 1) / n_out\n",
        (
            "tests/test_spacetime.py::test_variable_width_forward_equals_explicit_resnet",
            "tests/test_spacetime.py::test_moving_grid_consistency_with_the_fine_grid",
        ),
        "the quadrature weight of ∫w(ξ,ζ)σ(x(ζ))dζ uses the output grid's width",
    ),
    Mutant(
        "minnorm-norm-without-mean",
        "minnorm.py",
        "    return squared_norms(v, field, d).mean(-1)\n",
        "    return squared_norms(v, field, d).sum(-1)\n",
        ("tests/test_minnorm.py::test_recovers_the_bias_oracle_minimal_norm_control",),
        "‖v‖²_L²(0,1) loses its 1/K (a sum over layers)",
    ),
    Mutant(
        "discrete-rate-formula",
        "turnpike.py",
        "    return 2.0 / dt * math.asinh(mu * dt / 2.0)\n",
        "    return mu\n",
        ("tests/test_turnpike.py::test_linearised_rate_closed_form_and_discrete_formula",),
        "the Euler/trapezoid correction of the turnpike rate is dropped",
    ),
    # --- anchors in code that was being reorganised (re-check these first)
    Mutant(
        "lbfgs-3-iterations",
        "optim.py",
        "        lr=lr,\n        max_iter=max_iter,\n        history_size=history_size,",
        "        lr=lr,\n        max_iter=min(max_iter, 3),\n        history_size=history_size,",
        ("tests/test_oracles.py::test_bias_erm_oracle_recovered_by_training",),
        "L-BFGS stops after 3 iterations",
    ),
    Mutant(
        "certificate-mean-gradient",
        "optim.py",
        "    return max(float(t.detach().abs().max()) for t in tensors)\n",
        "    return max(float(t.detach().abs().mean()) for t in tensors)\n",
        ("tests/test_turnpike.py::test_train_certificate_is_the_max_abs_gradient_at_the_returned_controls",),
        "the gradient certificate reports the mean |∂J/∂u| instead of the max",
    ),
    Mutant(
        "euler-is-midpoint",
        "flows.py",
        '    "euler": Tableau(a=((),), b=(1,), den=1, order=1),',
        '    "euler": Tableau(a=((), (0.5,)), b=(0, 1), den=1, order=1),',
        ("tests/test_flows.py::test_resnet_is_euler", "tests/test_flows.py::test_convergence_order"),
        "the ResNet (Euler) step is replaced by the midpoint step",
    ),
    Mutant(
        "rk4-weights",
        "flows.py",
        "b=(1, 2, 2, 1), den=6, order=4)",
        "b=(1, 1, 1, 1), den=4, order=4)",
        ("tests/test_flows.py::test_convergence_order", "tests/test_flows.py::test_odeint_reference_agrees_with_rk4"),
        "the RK4 weights become equal (a first-order method)",
    ),
)

# Runs pytest after proving that ltdl comes from the copy and carries the mutation (in a child of
# the server below, with argv = [name, copy, mutated file, mutated text, pytest arguments...]).
_RUNNER = r"""
import os, sys
root, rel, needle = sys.argv[1], sys.argv[2], sys.argv[3]
import ltdl
pkg = os.path.dirname(os.path.realpath(ltdl.__file__))
if pkg != os.path.realpath(os.path.join(root, "ltdl")):
    print(f"MUTATION-TEST: ltdl imported from {pkg}, not from the copy {root}", flush=True)
    sys.exit(97)
if needle and needle not in open(os.path.join(pkg, rel), encoding="utf-8").read():
    print(f"MUTATION-TEST: the imported {rel} does not contain the mutation", flush=True)
    sys.exit(98)
import pytest
sys.exit(pytest.main(sys.argv[4:]))
"""

# Why a fork server: a fresh interpreter per run spent most of its CPU time importing torch, scipy,
# matplotlib, pytest and pytest's plugins (entry points "pytest11"; nbval brings jupyter_client):
# about 8 s per run, measured on 2026-12-06, when the 19 runs took 189 s of CPU in all. The server is
# a fresh interpreter that imports these once, never imports ltdl or the tests, and forks one child
# per run: the child puts the copy first on sys.path, changes into it and runs _RUNNER there, so each
# run still imports ltdl and the tests from its own copy. Jobs arrive as one JSON list on stdin; the
# server runs at most `jobs` children at a time (one thread: forking is safe) and prints one JSON line
# per finished run. A run past its time limit is killed and reported with exit status -9.
PRELOAD = ("numpy", "scipy.integrate", "scipy.optimize", "torch", "matplotlib.pyplot", "pytest", "yaml")
_SERVER = r"""
import importlib, json, os, signal, sys, time
runner, jobs, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
from importlib.metadata import entry_points
for name in [*sys.argv[4:], *(e.module for e in entry_points(group="pytest11"))]:
    importlib.import_module(name)
assert not any(m == "ltdl" or m.startswith("ltdl.") for m in sys.modules)
todo, running = json.loads(sys.stdin.read()), {}
while todo or running:
    while todo and len(running) < jobs:
        job = todo.pop(0)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.chdir(job["root"])
                sys.path.insert(0, job["root"])
                sys.argv = ["mutation-run", job["root"], job["rel"], job["needle"], *job["args"]]
                exec(compile(runner, "<mutation-run>", "exec"), {"__name__": "__main__"})
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        running[pid] = (job["id"], time.perf_counter())
    pid, status = os.waitpid(-1, os.WNOHANG)
    if pid == 0:
        for p, (_, t0) in running.items():
            if time.perf_counter() - t0 > limit:
                os.kill(p, signal.SIGKILL)
        time.sleep(0.05)
        continue
    job_id, t0 = running.pop(pid)
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"id": job_id, "code": code, "seconds": time.perf_counter() - t0}), flush=True)
"""


def check_anchors(mutants, src: Path = ROOT / "ltdl") -> list[str]:
    """One line per mutant whose snippet does not occur exactly once (empty when all are fine)."""
    bad = []
    for m in mutants:
        path = src / m.file
        if not path.is_file():
            bad.append(f"{m.name}: ltdl/{m.file} does not exist")
            continue
        n = path.read_text(encoding="utf-8").count(m.old)
        if n != 1:
            bad.append(f"{m.name}: snippet found {n} times in ltdl/{m.file} (expected once): {m.old.strip()!r}")
    return bad


def _copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "ltdl", dest / "ltdl", ignore=ignore)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _run_all(jobs: list[dict], parallel: int, on_done=None) -> dict[str, tuple[int, str, float]]:
    """Run pytest for each job (id, root, rel, needle, args) in the fork server; id -> (exit status, output, s).

    ``on_done(id, code, output, seconds)`` is called as each run finishes.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)  # the server must not see the repository's ltdl; each child adds its copy
    logs = Path(tempfile.mkdtemp(prefix="ltdl-mutant-logs-"))
    payload = [
        {
            **job,
            "log": str(logs / f"{job['id']}.log"),
            "args": ["-q", "-p", "no:cacheprovider", "-rf", "--rootdir", job["root"], *job["args"]],
        }
        for job in jobs
    ]
    cmd = [sys.executable, "-B", "-c", _SERVER, _RUNNER, str(max(1, parallel)), "600", *PRELOAD]
    out: dict[str, tuple[int, str, float]] = {}
    try:
        with subprocess.Popen(cmd, cwd=logs, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as p:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write(json.dumps(payload))
            p.stdin.close()
            for line in p.stdout:
                r = json.loads(line)
                log = logs / f"{r['id']}.log"
                text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
                out[r["id"]] = (r["code"], text, r["seconds"])
                if on_done:
                    on_done(r["id"], r["code"], text, r["seconds"])
        if p.returncode != 0 or len(out) != len(jobs):
            raise RuntimeError(
                f"the mutation test's fork server ended with status {p.returncode} after {len(out)} of {len(jobs)} runs"
            )
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    return out


def _run(dest: Path, rel: str, needle: str, tests) -> tuple[int, str, float]:
    """One run: pytest on ``tests`` against the copy at ``dest`` (exit status, output, seconds)."""
    job = {"id": "run", "root": str(dest), "rel": rel, "needle": needle, "args": list(tests)}
    return _run_all([job], 1)["run"]


def _failed(output: str) -> list[str]:
    return sorted(set(re.findall(r"^FAILED (\S+?)(?: - .*)?$", output, flags=re.M)))


def prepare_mutant(m: Mutant, work: Path) -> dict:
    """Copy ltdl/ and the tests to ``work/<name>`` and apply the mutation: the run's job, or its result
    ("ANCHOR MISSING", with no job) when the snippet is not found exactly once."""
    dest = _copy(work / m.name)
    path = dest / "ltdl" / m.file
    text = path.read_text(encoding="utf-8")
    if text.count(m.old) != 1:  # the source changed after the anchors were checked
        return {
            "mutant": m,
            "status": "ANCHOR MISSING",
            "killers": [],
            "seconds": 0.0,
            "output": f"snippet found {text.count(m.old)} times in ltdl/{m.file}: {m.old.strip()!r}",
        }
    path.write_text(text.replace(m.old, m.new, 1), encoding="utf-8")
    return {"id": m.name, "root": str(dest), "rel": m.file, "needle": m.new, "args": list(m.tests)}


def verdict(m: Mutant, code: int, out: str, secs: float) -> dict:
    """Killed only when the tests ran and failed (pytest exit status 1); 0 is a survivor, else an error."""
    killers = _failed(out)
    status = "killed" if code == 1 and killers else ("SURVIVED" if code == 0 else f"ERROR (exit {code})")
    return {"mutant": m, "status": status, "killers": killers, "seconds": secs, "output": out}


def write_page(results: list[dict], baseline_s: float, total_s: float, jobs: int, path: Path = PAGE) -> None:
    killed = sum(r["status"] == "killed" for r in results)
    lines = [
        "(quality)=",
        "# Quality: a mutation test of the claims",
        "",
        "Would the tests notice a plausible bug in the mathematics? `scripts/mutation_test.py` makes",
        "one deliberate, small change at a time to a temporary copy of the library (a *mutant*), runs",
        "the tests that should catch it against that copy, and requires at least one of them to fail.",
        "The same tests first pass on an unmodified copy, so a failure is caused by the mutation.",
        "This page is generated by the test command; the table below is from its last run.",
        "",
        f"**{killed} of {len(results)} mutants killed**, in {total_s:.0f} s with {jobs} parallel "
        f"jobs (baseline run of the unmodified copy: {baseline_s:.0f} s).",
        "",
        "| mutant | file | the change | killed by | s |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        m = r["mutant"]
        who = (
            ", ".join(f"`{k.split('::')[0].removeprefix('tests/')}::{k.split('::')[-1]}`" for k in r["killers"])
            or f"**{r['status']}**"
        )
        what = m.what.replace("|", "\\|")  # a table cell
        lines.append(f"| {m.name} | `ltdl/{m.file}` | {what} | {who} | {r['seconds']:.0f} |")
    lines += [
        "",
        "A mutant counts as killed only when the tests fail (pytest exit status 1); an import",
        "or collection error would be reported as an error instead.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Apply curated semantic mutants to a copy of ltdl/ and require the relevant tests to fail."
    )
    ap.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    ap.add_argument("--only", nargs="*", default=None, help="names of mutants to run")
    ap.add_argument("--page", default=str(PAGE), help="generated Markdown page (default chapters/quality.md)")
    ap.add_argument("--no-page", action="store_true", help="do not write the page")
    args = ap.parse_args(argv)
    mutants = MUTANTS if not args.only else tuple(m for m in MUTANTS if m.name in args.only)
    unknown = set(args.only or ()) - {m.name for m in MUTANTS}
    if unknown:
        print(f"mutation_test: unknown mutants {sorted(unknown)}", file=sys.stderr)
        return 2
    bad = check_anchors(mutants)
    if bad:
        print("MUTATION TEST FAILED: source snippets not found (the code moved; update the anchors):", file=sys.stderr)
        for line in bad:
            print("  " + line, file=sys.stderr)
        return 2
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="ltdl-mutants-"))
    try:
        tests = sorted({t for m in mutants for t in m.tests})
        # The unmodified copy runs first (the server starts the runs in this order); the mutants'
        # verdicts count only if it passes.
        base = {
            "id": "(baseline)",
            "root": str(_copy(work / "baseline")),
            "rel": "__init__.py",
            "needle": "",
            "args": tests,
        }
        prepared = {m.name: prepare_mutant(m, work) for m in mutants}
        jobs = [base] + [j for j in prepared.values() if "id" in j]

        by_name = {m.name: m for m in mutants}
        verdicts = {}  # name -> result, as each run finishes (printed then, kept for the page)

        def report(name, code, out, secs):
            if name == base["id"]:
                print(f"baseline: {len(tests)} tests on an unmodified copy, exit status {code} ({secs:.0f} s)")
            else:
                r = verdicts[name] = verdict(by_name[name], code, out, secs)
                killers = ", ".join(k.split("::")[-1] for k in r["killers"])
                print(f"{name:32s} {r['status']:10s} {secs:5.0f} s  {killers}")
            sys.stdout.flush()

        runs = _run_all(jobs, args.jobs, report)
        code, out, baseline_s = runs[base["id"]]
        if code != 0:
            print(out[-6000:])
            print("MUTATION TEST FAILED: the selected tests do not pass on the unmodified copy", file=sys.stderr)
            return 1
        results = [verdicts.get(m.name, prepared[m.name]) for m in mutants]  # else: its anchor went missing
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - start
    if not args.no_page:
        write_page(results, baseline_s, total, args.jobs, Path(args.page))
        print(f"wrote {args.page}")
    bad = [r for r in results if r["status"] != "killed"]
    for r in bad:
        print(f"\n--- {r['mutant'].name}: {r['status']}\n{r['output'][-3000:]}", file=sys.stderr)
    print(f"{len(results) - len(bad)} of {len(results)} mutants killed in {total:.0f} s")
    if bad:
        print("MUTATION TEST FAILED: " + ", ".join(f"{r['mutant'].name} ({r['status']})" for r in bad))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
