"""`ltdl sweep`: grids over `ltdl run` settings, on three executors, resumable, failures recorded.

The executors must give byte-identical numbers (each point runs with one torch thread and a seed
that is part of its settings), a rerun must skip finished points, and a failing point must not
stop the others.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ltdl import grid

# A grid whose points take well under a second each: the four-point rotation at K = 4.
GRID = {"T": ["1", "2"], "lam": ["1", "0.1"], "K": ["4"], "max_iter": ["60"]}


def _results(root: Path) -> dict[str, str]:
    """Each point's `results` block, serialised: what must not depend on the executor."""
    out = {}
    for folder in sorted((root / "points").iterdir()):
        record = json.loads((folder / "results.json").read_text())
        out[folder.name] = json.dumps(record["results"], sort_keys=True)
    return out


def test_parse_grid_names_the_bad_item():
    assert grid.parse_grid(["T=1,4,16", "lam=1e-2"]) == {"T": ["1", "4", "16"], "lam": ["1e-2"]}
    for bad, match in [
        ("T=1,,4", "empty entry"),
        ("T", "NAME=V1"),
        ("=1,2", "NAME=V1"),
        ("T=", "empty entry"),
        ("T=1,1", "repeated"),
    ]:
        with pytest.raises(ValueError, match=match):
            grid.parse_grid([bad])
    with pytest.raises(ValueError, match="twice"):
        grid.parse_grid(["T=1", "T=2"])
    with pytest.raises(TypeError, match="grid item"):
        grid.parse_grid([3])


def test_points_and_seeds_do_not_depend_on_order():
    a = grid.expand_grid("erm-sweep", {"T": ["1", "2"], "lam": ["1"]}, seeds=2)
    b = grid.expand_grid("erm-sweep", {"lam": ["1"], "T": ["1", "2"]}, seeds=2)
    assert [p.id for p in a] == [p.id for p in b]
    assert len({p.id for p in a}) == 4
    assert all(dict(p.settings)["seed"] in ("0", "1") for p in a)
    with pytest.raises(ValueError, match="seeds"):
        grid.expand_grid("erm-sweep", {"T": ["1"]}, seeds=0)
    with pytest.raises(ValueError, match="not both"):
        grid.expand_grid("erm-sweep", {"seed": ["1"]}, seeds=2)


def test_bad_options_are_named(tmp_path):
    with pytest.raises(ValueError, match="executor"):
        grid.run_grid("erm-sweep", GRID, tmp_path, executor="ray")
    with pytest.raises(ValueError, match="workers"):
        grid.run_grid("erm-sweep", GRID, tmp_path, workers=True)
    with pytest.raises(ValueError, match="scheduler"):
        grid.run_grid("erm-sweep", GRID, tmp_path, scheduler="tcp://x:1")


def test_serial_processes_and_dask_give_identical_numbers(tmp_path):
    pytest.importorskip("distributed", reason="dask.distributed is in the lock; missing means a broken install")
    tables = {}
    for executor in ("serial", "processes", "dask"):
        rows = grid.run_grid("erm-sweep", GRID, tmp_path / executor, executor=executor, workers=2, progress=False)
        assert [r["status"] for r in rows] == ["done"] * 4, rows
        tables[executor] = _results(tmp_path / executor)
        assert (tmp_path / executor / "grid.csv").is_file() and (tmp_path / executor / "grid.png").is_file()
    assert tables["serial"] == tables["processes"] == tables["dask"]
    # The table carries the experiment's scalar results next to the settings.
    row = json.loads((tmp_path / "serial" / "grid.json").read_text())[0]
    assert {"T", "lam", "E_T", "status"} <= set(row)


def test_a_failing_point_is_recorded_and_the_others_run(tmp_path):
    rows = grid.run_grid(
        "erm-sweep", {"T": ["1"], "lam": ["1", "-1"], "K": ["4"], "max_iter": ["20"]}, tmp_path, progress=False
    )
    by_lam = {r["lam"]: r for r in rows}
    assert by_lam["1"]["status"] == "done"
    assert by_lam["-1"]["status"] == "failed" and "lam" in by_lam["-1"]["error"]
    assert (tmp_path / "points" / rows[1]["id"] / "error.txt").is_file()
    # A rerun retries only the failed point.
    again = grid.run_grid(
        "erm-sweep", {"T": ["1"], "lam": ["1", "-1"], "K": ["4"], "max_iter": ["20"]}, tmp_path, progress=False
    )
    assert [r["status"] for r in again] == ["skipped", "failed"]


def test_an_interrupted_sweep_resumes_without_recomputing(tmp_path):
    out = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "-m",
        "ltdl",
        "sweep",
        "erm-sweep",
        "--grid",
        "T=1,2,4,8,16,32",
        "lam=1",
        "K=8",
        "max_iter=200",
        "--out",
        str(out),
        "--no-progress",
    ]
    # SIGINT restored to its default in the child: a parent started in the background may pass it on as ignored.
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("points/*/results.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("points/*/results.json")}
    assert 2 <= len(finished) < 6, "interrupt the sweep between its first and last point"
    assert not (out / "grid.csv").exists(), "an interrupted sweep must not leave a table that looks complete"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads((out / "grid.json").read_text())
    assert sum(r["status"] == "skipped" for r in rows) == len(finished)
    assert all(r["status"] in ("skipped", "done") for r in rows)
    for name, mtime in finished.items():  # finished points were not recomputed
        assert (out / "points" / name / "results.json").stat().st_mtime_ns == mtime
    assert f"{len(finished)} already complete" in done.stdout
    assert os.path.getsize(out / "grid.csv") > 0
