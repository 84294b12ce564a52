"""The command-line interface: `ltdl list`, `ltdl run NAME ...`, clear errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ltdl import cli

ROOT = Path(__file__).resolve().parents[1]


def run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_names_every_experiment(capsys):
    code, out, _ = run(["list"], capsys)
    assert code == 0
    for name in ("erm-sweep", "integral-turnpike"):
        assert name in out


def test_erm_sweep_follows_the_competitor_bound_and_the_T2_law(tmp_path, capsys):
    """R2 on the four-point rotation (outer tanh, K = 10, λ = 1), on T = 16…128, past the hump of
    T·E_T, where the predictions show. The competitor v*/T (v* the minimal-norm interpolant,
    computed here independently of ERM) gives J_T ≤ (λ/T)‖v*‖², and the expansion of the value
    function in ε = λ/T, J = ε‖v*‖² − ε²N|m|²/4 + o(ε²) (m the Lagrange multiplier of the
    min-norm problem), predicts T·E_T/λ = ‖v*‖² − T·J_T/λ up to a relative O(1/T) correction,
    hence E_T ~ T^(-2)."""
    import ltdl

    out_dir = tmp_path / "erm"
    code, out, err = run(["run", "erm-sweep", "--T", "64,16,32,128", "--out", str(out_dir)], capsys)
    assert code == 0, err
    rec = json.loads((out_dir / "results.json").read_text())
    assert rec["experiment"] == "erm-sweep"
    assert rec["parameters"]["T"] == [16, 32, 64, 128] and rec["parameters"]["K"] == 10  # sorted; default K
    lam = rec["parameters"]["lam"]
    rows = rec["results"]["rows"]
    T = np.array([r["T"] for r in rows], dtype=float)
    E = np.array([r["E_T"] for r in rows])
    J = np.array([r["J"] for r in rows])
    for r in rows:
        assert r["T_E_T"] == pytest.approx(r["T"] * r["E_T"], rel=1e-14)  # the column is T·E_T
    data = ltdl.four_point_rotation()
    vstar = ltdl.min_norm_interpolant(ltdl.make_field("outer", activation="tanh"), data.x, data.y, K=10)
    assert vstar.converged and vstar.residual <= 1e-9  # an interpolant: its own E ≤ 1e-18, negligible
    # The bound is exact (Euler + 1-homogeneity make v*/T on [0, T] the same network as v* on
    # [0, 1]); the only slack allowed is rounding. Measured: 6.03 … 7.15 against ‖v*‖² = 7.35.
    assert np.all(T * J / lam <= vstar.norm_sq * (1 + 1e-12)), (T * J / lam, vstar.norm_sq)
    # Past the hump T·E_T decreases (measured 1.08, 0.654, 0.362, 0.191).
    assert np.all(np.diff(T * E) < 0), T * E
    # The value-function identity, ratio → 1 like 1 − c/T: measured 1 − ratio = 0.18, 0.099,
    # 0.050, 0.025 (halving with T). Tolerances: 2× the measured deviation at T = 128, and the
    # halving to within ±0.1.
    ratio = (T * E / lam) / (vstar.norm_sq - T * J / lam)
    assert abs(1 - ratio[-1]) <= 0.05, ratio
    assert np.all(np.abs((1 - ratio[1:]) / (1 - ratio[:-1]) - 0.5) <= 0.1), ratio
    # Hence the slope: −2 approached from above (T²E_T increases to its limit; measured 17.2,
    # 20.9, 23.2, 24.4). The fitted slope on these four T (measured −1.84) lies within 0.25 of −2,
    # ~1.5× the measured O(1/T) offset.
    assert np.all(np.diff(T**2 * E) > 0), T**2 * E
    # ... towards the constant the multiplier predicts, T²E_T → λ²N|m|²/4 (measured 25.65):
    # T²E_T/limit = 0.67, 0.82, 0.90, 0.95, the gap again halving with T. Tolerance at T = 128:
    # 0.1, 2× the measured gap; never above the limit.
    frac = T**2 * E / (lam**2 * vstar.error_constant)
    assert np.all(frac < 1) and frac[-1] >= 0.9, frac
    assert -2.0 < rec["results"]["tail_slope"] <= -1.75, rec["results"]["tail_slope"]
    assert (out_dir / "erm_sweep.png").stat().st_size > 1000
    assert rec["provenance"]["packages"]["torch"]
    assert "erm-sweep" in err  # the progress bar goes to stderr


def test_integral_turnpike_rate_matches_the_linearisation(tmp_path, capsys):
    """R6 with the squared ℓ² distance, λ = 0.1, β = 1, P = I, Δt = 1/4 (chapter 06's protocol): near
    the turnpike x̄ = y the linearised problem predicts E(t) ~ e^{−2μt} and ‖u(t)‖ ~ e^{−μt} with
    μ_Δt = 1.6904 (Euler + trapezoid rate of ltdl.linearised_rate). The two-sided fits on [1, T − 1]
    leave the transients out; at T = 4 the window is short and the fit is off by more."""
    import ltdl

    out_dir = tmp_path / "tp"
    code, _, err = run(
        ["run", "integral-turnpike", "--T", "4,8", "--K", "4", "--no-progress", "--out", str(out_dir)], capsys
    )
    assert code == 0, err
    rec = json.loads((out_dir / "results.json").read_text())
    assert rec["parameters"]["max_iter"] == 200  # Newton steps (chapter 06's max_steps)
    res = rec["results"]
    c4, c8 = res["curves"]
    assert c8["K"] == 32 and len(c8["E"]) == 33 and len(c8["u_norm"]) == 32
    assert c4["certified"] and c8["certified"] and c8["grad_max"] <= 1e-12 and c8["min_eig"] > 0
    data = ltdl.four_point_rotation()
    mu = ltdl.linearised_rate(ltdl.make_field("outer", activation="tanh"), data.y, weight=1.0, lam=0.1, dt=0.25)
    assert res["predicted_mu"] == mu and res["predicted_mu_E"] == 2 * mu
    # Measured −0.44 % (E) and −0.49 % (‖u‖) at T = 8: the 1/T² bias of a fitted rate; 1 % is about 2×.
    assert abs(c8["mu_E"] / (2 * mu) - 1) <= 0.01 and abs(c8["mu_u"] / mu - 1) <= 0.01, (c8["mu_E"], c8["mu_u"], mu)
    assert abs(c4["mu_E"] / (2 * mu) - 1) > abs(c8["mu_E"] / (2 * mu) - 1)  # the shorter window is biased more
    # The depth to E ≤ 1e-4 does not grow with T (measured 3.25 for both), and is the curve's own first time.
    d4, d8 = ({d["eta"]: d["t"] for d in c["depth"]} for c in (c4, c8))
    assert d4[1e-4] == d8[1e-4] == ltdl.first_time_below(c8["t"], c8["E"], 1e-4)
    assert d4[1e-6] == "inf" and d8[1e-6] < 8  # T = 4 ends before 1e-6 (JSON writes inf as a string)
    assert c8["E"][-1] < 1e-6 * c8["E"][0]  # measured 2e-9 / 2: the error has collapsed
    assert (out_dir / "integral_turnpike.png").is_file()
    assert err == ""  # --no-progress: nothing on stderr


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "no-such-thing", "--out", "X"], "unknown experiment"),
        (["run", "erm-sweep", "--T", "-1", "--out", "X"], "--T"),
        (["run", "erm-sweep", "--T", "1,two", "--out", "X"], "--T"),
        (["run", "erm-sweep", "--T", "1,,4", "--out", "X"], "empty entry"),
        (["run", "erm-sweep", "--T", "1,2,", "--out", "X"], "empty entry"),
        (["run", "erm-sweep", "--T", ",1", "--out", "X"], "empty entry"),
        (["run", "erm-sweep", "--T", "", "--out", "X"], "empty entry"),
        (["run", "erm-sweep", "--T", "1;2", "--out", "X"], "--T"),
        (["run", "erm-sweep", "--T", "1 2", "--out", "X"], "--T"),
        (["run", "erm-sweep", "--T", "2,2", "--out", "X"], "once"),
        (["run", "erm-sweep", "--T", "inf", "--out", "X"], "--T"),
        (["run", "erm-sweep", "--T", "0,1", "--out", "X"], "--T"),
        (["run", "erm-sweep", "--lam", "-0.5", "--out", "X"], "--lam"),
        (["run", "erm-sweep", "--lam", "nan", "--out", "X"], "--lam"),
        (["run", "erm-sweep", "--K", "0", "--out", "X"], "--K"),
        (["run", "erm-sweep", "--K", "2.5", "--out", "X"], "--K"),
        (["run", "erm-sweep", "--seed", "-3", "--out", "X"], "--seed"),
        (["run", "erm-sweep", "--field", "sideways", "--out", "X"], "--field"),
        (["run", "erm-sweep", "--data", "mnist", "--out", "X"], "--data"),
        (["run", "erm-sweep", "--activation", "gelu", "--out", "X"], "--activation"),
        (["run", "erm-sweep", "--beta", "1", "--out", "X"], "--beta"),
        (["run", "integral-turnpike", "--lam", "0", "--out", "X"], "--lam"),
        (["run", "integral-turnpike", "--T", "2,8", "--out", "X"], "--T"),
        (["run", "erm-sweep"], "--out"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, needle, tmp_path, capsys):
    argv = [str(tmp_path / a) if a == "X" else a for a in argv]
    with pytest.raises(SystemExit) as exc:
        code = cli.main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "ltdl: error:" in err and needle in err
    assert "Traceback" not in err
    assert not (tmp_path / "X" / "results.json").exists()


def test_library_value_error_becomes_clear_exit(tmp_path, capsys):
    # bottleneck with hidden=0 is refused by argparse; a library ValueError is also turned into exit 2
    code, _, err = run(
        [
            "run",
            "erm-sweep",
            "--field",
            "bottleneck",
            "--hidden",
            "2",
            "--activation",
            "relu",
            "--T",
            "1",
            "--max-iter",
            "5",
            "--no-progress",
            "--out",
            str(tmp_path / "b"),
        ],
        capsys,
    )
    assert code == 0, err
    code, _, err = run(
        ["run", "erm-sweep", "--data", "xor", "--n", "3", "--T", "1", "--no-progress", "--out", str(tmp_path / "c")],
        capsys,
    )
    assert code == 2 and "ltdl: error: n must be an integer >= 4" in err


def test_console_script_and_module_entry_points(tmp_path):
    exe = Path(sys.executable).with_name("ltdl")
    r = subprocess.run([str(exe), "list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "erm-sweep" in r.stdout, r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "ltdl", "run", "erm-sweep", "--K", "zero", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert "argument --K: expected an integer" in r.stderr and "Traceback" not in r.stderr


def test_examples_registry_is_exposed_when_present(tmp_path, capsys, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from ltdl import example_runs, examples

    calls, runs = {}, []
    real = example_runs.run_example

    def run_example(name, size="small", seed=0, progress=False):
        calls.update(name=name, size=size, seed=seed, progress=progress)
        runs.append(real("ex43", size="reduced", seed=seed, iters={"reduced": 1, "full": 1}))  # a real, tiny run
        return runs[-1]

    monkeypatch.setitem(examples.EXAMPLES, "fake-example", examples.EXAMPLES["ex43"])
    monkeypatch.setattr(example_runs, "run_example", run_example)
    code, out, _ = run(["list"], capsys)
    assert code == 0 and "fake-example" in out and examples.EXAMPLES["ex43"].title in out
    code, _, err = run(
        ["run", "fake-example", "--size", "full", "--seed", "3", "--no-progress", "--out", str(tmp_path)], capsys
    )
    assert code == 0, err
    assert calls == {"name": "fake-example", "size": "full", "seed": 3, "progress": False}
    rec = json.loads((tmp_path / "results.json").read_text())["results"]
    # the record is the run's own (tensors as lists), then the chapter's measures and figures
    assert list(rec) == [*runs[0].to_dict(), "measures", "figures"]
    assert rec["test_accuracy"] == runs[0].test_accuracy and rec["trajectory"] == runs[0].trajectory.tolist()
    assert rec["measures"] == example_runs.measures(runs[0])
    assert rec["figures"] == ["fake-example_snapshots.png", "fake-example_plot_types.png"]
    assert all((tmp_path / f).is_file() for f in rec["figures"])
    code, _, err = run(["run", "fake-example", "--T", "3", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--T" in err


def test_cli_works_without_examples_module(monkeypatch, capsys):
    import ltdl

    monkeypatch.setitem(sys.modules, "ltdl.examples", None)  # import raises ImportError
    monkeypatch.delattr(ltdl, "examples", raising=False)
    code, out, _ = run(["list"], capsys)
    assert code == 0 and "erm-sweep" in out and "Examples" not in out


# ----------------------------------------------------------------------------- safe runs
def _boom(*args, **kwargs):
    raise AssertionError("the experiment started although the arguments were bad")


def _no_work(monkeypatch):
    monkeypatch.setattr(cli.EXPERIMENTS["erm-sweep"], "run", _boom)


@pytest.mark.parametrize("case", ["file", "file-parent", "results-is-folder", "proc", "read-only"])
def test_unwritable_out_is_refused_before_any_work(case, tmp_path, capsys, monkeypatch):
    import os

    _no_work(monkeypatch)
    if case == "file":
        out = tmp_path / "f"
        out.write_text("x")
    elif case == "file-parent":
        (tmp_path / "f").write_text("x")
        out = tmp_path / "f" / "sub"
    elif case == "results-is-folder":
        out = tmp_path / "o"
        (out / "results.json").mkdir(parents=True)
    elif case == "proc":  # exists, but no file can be created there (not even by root)
        if not Path("/proc/self").is_dir():
            pytest.skip("no /proc")
        out = Path("/proc")
    else:
        if os.geteuid() == 0:
            pytest.skip("root can write into a read-only folder")
        out = tmp_path / "ro"
        out.mkdir()
        out.chmod(0o500)
    code, _, err = run(["run", "erm-sweep", "--T", "1", "--out", str(out)], capsys)
    assert code == 2 and "ltdl: error:" in err and "--out" in err and "Traceback" not in err, err
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_complete_run_writes_manifest_and_replaces_the_previous_results(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    # A previous run's files: they must not survive next to the new run's manifest.
    (out / "results.json").write_text('{"old": true}')
    (out / "old_figure.png").write_bytes(b"png")
    (out / "manifest.json").write_text(json.dumps({"status": "complete", "files": ["old_figure.png", "results.json"]}))
    code, _, err = run(
        ["run", "erm-sweep", "--T", "1,2", "--K", "4", "--max-iter", "20", "--no-progress", "--out", str(out)], capsys
    )
    assert code == 0, err
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["started"] <= man["ended"]
    assert man["parameters"]["T"] == [1, 2] and man["parameters"]["K"] == 4
    assert man["files"] == ["erm_sweep.png", "results.json"]
    assert len(man["code"]["ltdl_sources"]) == 16 and man["provenance"]["packages"]["torch"]
    rec = json.loads((out / "results.json").read_text())
    assert rec["code"] == man["code"] and "old" not in rec
    assert not (out / "old_figure.png").exists()
    assert sorted(p.name for p in out.iterdir()) == ["erm_sweep.png", "manifest.json", "results.json"]


def test_failed_run_is_marked_failed_without_results(tmp_path, capsys):
    out = tmp_path / "bad"
    code, _, err = run(
        ["run", "erm-sweep", "--data", "xor", "--n", "3", "--T", "1", "--no-progress", "--out", str(out)], capsys
    )
    assert code == 2 and "n must be an integer >= 4" in err
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "failed" and "n must be" in man["error"] and man["ended"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_a_marked_manifest_and_no_results(sig, tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text('{"old": true}')  # a previous run's result
    (out / "manifest.json").write_text(json.dumps({"status": "complete", "files": ["results.json"]}))
    err = tmp_path / "stderr.txt"  # read while the run goes on (a pipe could only be read at its end)
    err_file = err.open("w")
    # A run far longer than the test: many horizons, many iterations.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ltdl",
            "run",
            "erm-sweep",
            "--T",
            ",".join(str(2**k) for k in range(12)),
            "--max-iter",
            "100000",
            "--K",
            "20",
            "--no-progress",
            "--out",
            str(out),
        ],
        # A parent started in the background (e.g. `cmd &` without job control) passes SIGINT on
        # as ignored, and Python then installs no KeyboardInterrupt handler: restore the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=subprocess.DEVNULL,
        stderr=err_file,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 120
        man = {}
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                man = json.loads((out / "manifest.json").read_text())
            except (OSError, ValueError):
                man = {}
            if man.get("status") == "running" and man.get("pid") == proc.pid:
                break
            time.sleep(0.05)
        if man.get("status") != "running":
            proc.kill()
            proc.wait()
            pytest.fail(f"the run never reported 'running' (exit {proc.poll()}): {err.read_text()[-2000:]}")
        assert not (out / "results.json").exists()  # the old result is gone as soon as the run starts
        time.sleep(0.5)  # inside the experiment
        # A signal that lands while the interpreter runs a callback it must not interrupt (an import
        # lock's cleanup) is reported as "Exception ignored" and lost, as a user's Ctrl-C can be:
        # like that user, press again after a few seconds, but only while the run has not answered
        # (on a busy machine its cleanup can take seconds, and a second press during it would kill it).
        for _ in range(12):
            if "ltdl: interrupted" not in err.read_text():
                proc.send_signal(getattr(signal, sig))
            try:
                proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err_file.close()
    stderr = err.read_text()
    assert proc.returncode == 130, stderr
    assert "ltdl: interrupted" in stderr, stderr
    # No traceback of ours; the only one allowed is Python's report of a lost first signal.
    before, ours = stderr.split("ltdl: interrupted", 1)
    assert "Traceback" not in ours and before.count("Traceback") <= before.count("Exception ignored"), stderr
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "interrupted" and man["ended"] and man["files"] == []
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]  # no results, no partial files
