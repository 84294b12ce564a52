"""The command-line interface: `ltdl list`, `ltdl run NAME ...`, clear errors on bad input."""
from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

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


def test_erm_sweep_writes_json_and_figure(tmp_path, capsys):
    out_dir = tmp_path / "erm"
    code, out, err = run(["run", "erm-sweep", "--T", "4,1,2", "--lam", "1", "--K", "6", "--max-iter", "60",
                          "--out", str(out_dir)], capsys)
    assert code == 0, err
    rec = json.loads((out_dir / "results.json").read_text())
    assert rec["experiment"] == "erm-sweep"
    assert rec["parameters"]["T"] == [1, 2, 4]  # sorted
    rows = rec["results"]["rows"]
    assert [r["T"] for r in rows] == [1, 2, 4]
    E = [r["E_T"] for r in rows]
    assert all(e > 0 for e in E)
    assert E[0] > E[1] > E[2]  # R2: the training error falls with T (same problem as ε = λ/T falling)
    for r in rows:
        assert r["T_E_T"] == pytest.approx(r["T"] * r["E_T"])
    assert rec["results"]["tail_slope"] < 0
    assert (out_dir / "erm_sweep.png").stat().st_size > 1000
    assert rec["provenance"]["packages"]["torch"]
    assert "erm-sweep" in err  # the progress bar goes to stderr


def test_integral_turnpike_decays(tmp_path, capsys):
    out_dir = tmp_path / "tp"
    code, _, err = run(["run", "integral-turnpike", "--T", "3", "--K", "4", "--max-iter", "300",
                        "--no-progress", "--out", str(out_dir)], capsys)
    assert code == 0, err
    rec = json.loads((out_dir / "results.json").read_text())
    (c,) = rec["results"]["curves"]
    assert c["K"] == 12 and len(c["E"]) == 13 and len(c["u_norm"]) == 12
    assert c["E"][-1] < 1e-2 * c["E"][0]
    assert c["mu_E"] > 1.0
    assert (out_dir / "integral_turnpike.png").is_file()
    assert err == ""  # --no-progress: nothing on stderr


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "no-such-thing", "--out", "X"], "unknown experiment"),
        (["run", "erm-sweep", "--T", "-1", "--out", "X"], "--T"),
        (["run", "erm-sweep", "--T", "1,two", "--out", "X"], "--T"),
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
    code, _, err = run(["run", "erm-sweep", "--field", "bottleneck", "--hidden", "2", "--activation", "relu",
                        "--T", "1", "--max-iter", "5", "--no-progress", "--out", str(tmp_path / "b")], capsys)
    assert code == 0, err
    code, _, err = run(["run", "erm-sweep", "--data", "xor", "--n", "3", "--T", "1", "--no-progress",
                        "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and "ltdl: error: n must be an integer >= 4" in err


def test_console_script_and_module_entry_points(tmp_path):
    exe = Path(sys.executable).with_name("ltdl")
    r = subprocess.run([str(exe), "list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "erm-sweep" in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "-m", "ltdl", "run", "erm-sweep", "--K", "zero", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "argument --K: expected an integer" in r.stderr and "Traceback" not in r.stderr


def test_examples_registry_is_exposed_when_present(tmp_path, capsys, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calls = {}

    def run_example(name, size="small", seed=0, progress=False):
        calls.update(name=name, size=size, seed=seed, progress=progress)
        fig = plt.figure()
        import torch

        traj = torch.zeros(4, 3, 2)
        return {"value": 1.5, "figure": fig, "trajectory": traj, "train_classes": torch.tensor([0, 1, 1]),
                "times": [0.0, 1.0, 2.0, 3.0], "risk_curve": [1.0, 0.5, 0.2, 0.1]}

    fake = types.ModuleType("ltdl.examples")
    fake.EXAMPLES = {"fake-example": "A fake example for the test."}
    fake.run_example = run_example
    monkeypatch.setitem(sys.modules, "ltdl.examples", fake)
    import ltdl

    monkeypatch.setattr(ltdl, "examples", fake, raising=False)
    code, out, _ = run(["list"], capsys)
    assert code == 0 and "fake-example" in out and "A fake example" in out
    code, _, err = run(["run", "fake-example", "--size", "full", "--seed", "3", "--no-progress",
                        "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert calls == {"name": "fake-example", "size": "full", "seed": 3, "progress": False}
    rec = json.loads((tmp_path / "results.json").read_text())
    assert rec["results"]["value"] == 1.5
    assert (tmp_path / "fake-example_figure.png").is_file()
    assert (tmp_path / "fake-example_trajectories.png").is_file()
    assert (tmp_path / "fake-example_curves.png").is_file()
    assert rec["results"]["trajectory"] == [[[0.0, 0.0]] * 3] * 4
    code, _, err = run(["run", "fake-example", "--T", "3", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--T" in err


def test_cli_works_without_examples_module(monkeypatch, capsys):
    import ltdl

    monkeypatch.setitem(sys.modules, "ltdl.examples", None)  # import raises ImportError
    monkeypatch.delattr(ltdl, "examples", raising=False)
    code, out, _ = run(["list"], capsys)
    assert code == 0 and "erm-sweep" in out and "Examples" not in out
