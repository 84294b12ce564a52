"""Experiment grids: ``ltdl sweep NAME --grid T=1,4,16 lam=1e-2,1e-3 --out DIR``.

A grid is the Cartesian product of a few command-line settings of one ``ltdl run`` experiment
(and, with ``--seeds N``, of the seeds ``0 … N-1``). Every grid point is an independent
``ltdl run NAME`` with scalar settings, written into its own folder ``DIR/points/<id>/``; the
point's id is made from its settings only, so a point's seed and folder never depend on the
order in which points run. Finished points (their ``results.json`` exists — the run writes it
last and atomically) are skipped on a rerun, so an interrupted sweep resumes where it stopped. A
point that fails records its error in ``DIR/points/<id>/error.txt`` and the others go on.

Executors (``--executor``):

* ``serial`` (default): one point after the other in this process;
* ``processes``: a :class:`concurrent.futures.ProcessPoolExecutor` with ``--workers`` processes;
* ``dask``: a ``dask.distributed`` client, on a :class:`~distributed.LocalCluster` of
  ``--workers`` single-threaded worker processes, or on an existing cluster given by
  ``--scheduler ADDRESS``. Dask is an optional dependency (``pip install 'ltdl[grid]'``); this
  module imports it only when this executor is chosen.

Each point runs with one torch thread, so a point's numbers do not depend on the executor.
Another engine (Ray, Slurm through ``submitit``) fits the same shape: it needs only a ``map`` of
:func:`run_point` over the pending points that yields ``(point, status)`` pairs as they finish —
see :data:`EXECUTORS`.

The combined table is ``DIR/grid.csv`` and ``DIR/grid.json`` (one row per point: its settings,
its status and the experiment's scalar results); ``DIR/grid.png`` plots the first result column
against the first grid axis.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXECUTORS", "GridPoint", "expand_grid", "parse_grid", "run_grid", "run_point"]


@dataclass(frozen=True)
class GridPoint:
    """One configuration of a grid: the experiment's name and its scalar settings.

    ``settings`` maps a ``ltdl run`` option name (without ``--``: ``T``, ``lam``, ``seed`` …) to
    its value as written on the command line; ``id`` is a readable, order-independent folder name.
    """

    experiment: str
    settings: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        text = "_".join(f"{k}={v}" for k, v in self.settings)
        digest = hashlib.sha1(f"{self.experiment}|{text}".encode()).hexdigest()[:8]
        safe = "".join(c if c.isalnum() or c in "=._-" else "-" for c in text)
        return f"{safe}_{digest}"

    def argv(self, out: Path) -> list[str]:
        """The ``ltdl`` command line of this point (no progress bar, output in ``out``)."""
        args = ["run", self.experiment]
        for key, value in self.settings:
            args += [f"--{key.replace('_', '-')}", value]
        return args + ["--out", str(out), "--no-progress"]


def parse_grid(items: Iterable[str]) -> dict[str, list[str]]:
    """``["T=1,4,16", "lam=1e-2,1e-3"]`` → ``{"T": ["1", "4", "16"], "lam": ["1e-2", "1e-3"]}``.

    Raises:
        ValueError: an item without ``=``, an empty name or value, an empty entry (``1,,4``), a
            repeated value or a repeated name (each names the offending item).
    """
    grid: dict[str, list[str]] = {}
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"grid item must be a str like 'T=1,4,16', got {type(item).__name__}")
        name, sep, values = item.partition("=")
        name = name.strip().lstrip("-")
        if not sep or not name:
            raise ValueError(f"--grid item {item!r}: expected NAME=V1,V2,... (e.g. T=1,4,16)")
        entries = [v.strip() for v in values.split(",")]
        if not values.strip() or any(not v for v in entries):
            raise ValueError(f"--grid item {item!r}: expected a comma-separated list of values with no empty entry")
        if len(set(entries)) != len(entries):
            raise ValueError(f"--grid item {item!r}: a value is repeated")
        if name in grid:
            raise ValueError(f"--grid names {name!r} twice")
        grid[name] = entries
    if not grid:
        raise ValueError("--grid: expected at least one NAME=V1,V2,... item")
    return grid


def expand_grid(experiment: str, grid: dict[str, list[str]], *, seeds: int | None = None) -> list[GridPoint]:
    """All points of the grid, in a fixed order (axes sorted by name, values as given).

    With ``seeds=N`` the seeds ``0 … N-1`` form one more axis (``seed``), so each point's seed is
    part of its settings and independent of execution order.
    """
    if not isinstance(experiment, str) or not experiment:
        raise ValueError(f"experiment must be a non-empty name, got {experiment!r}")
    axes = dict(grid)
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise ValueError(f"seeds must be a positive int, got {seeds!r}")
        if "seed" in axes:
            raise ValueError("give either --seeds or a 'seed' axis in --grid, not both")
        axes["seed"] = [str(s) for s in range(seeds)]
    names = sorted(axes)
    return [
        GridPoint(experiment, tuple(zip(names, combo, strict=True)))
        for combo in itertools.product(*(axes[n] for n in names))
    ]


def _is_complete(folder: Path) -> bool:
    # The run writes results.json last, atomically: its presence marks a finished point. A
    # manifest, when the run writes one, must agree.
    if not (folder / "results.json").is_file():
        return False
    manifest = folder / "manifest.json"
    if manifest.is_file():
        try:
            return json.loads(manifest.read_text()).get("status") == "complete"
        except (OSError, ValueError):
            return False
    return True


def _usage_error(code, log: str) -> str:
    lines = [ln for ln in log.strip().splitlines() if ln.strip()]
    message = next((ln for ln in reversed(lines) if "error" in ln), lines[-1] if lines else "")
    return f"ltdl run exited with status {code}: {message}\n\n{log.strip()}"


def run_point(point: GridPoint, root: str) -> dict:
    """Run one grid point with one torch thread; returns ``{"id", "status", "error", "seconds"}``.

    Never raises for a failing experiment (only for Ctrl-C): the error — a one-line summary, then
    the details — is written to ``<point>/error.txt`` and returned, so that one bad
    configuration does not stop a sweep.
    """
    import torch

    from . import runner

    folder = Path(root) / "points" / point.id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "error.txt").unlink(missing_ok=True)
    torch.set_num_threads(1)  # the same arithmetic in every executor
    start = time.perf_counter()
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            code = runner.main(point.argv(folder))
        error = None if code == 0 else _usage_error(code, log.getvalue())
    except SystemExit as exc:  # argparse rejected a setting: its message is in the log
        error = _usage_error(exc.code, log.getvalue())
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a sweep records any failure of one point and goes on
        error = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"
    if error is None and not _is_complete(folder):
        error = "the run finished without writing a complete results.json"
    if error is not None:
        (folder / "error.txt").write_text(error + "\n")
    return {
        "id": point.id,
        "status": "failed" if error else "done",
        "error": error,
        "seconds": time.perf_counter() - start,
    }


# ---------------------------------------------------------------------------------------------
# Executors: each maps run_point over the pending points and yields (point, status) as they end.

Executor = Callable[[list[GridPoint], str, int, "str | None"], Iterator[tuple[GridPoint, dict]]]


def _serial(points, root, workers, scheduler):
    for p in points:
        yield p, run_point(p, root)


def _processes(points, root, workers, scheduler):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: a fresh interpreter per worker (no forked torch thread pools).
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_point, p, root): p for p in points}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def _dask(points, root, workers, scheduler):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ValueError("--executor dask needs dask.distributed: pip install 'ltdl[grid]'") from exc
    with contextlib.ExitStack() as stack:
        if scheduler:
            client = stack.enter_context(Client(scheduler))
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
                )
            )
            client = stack.enter_context(Client(cluster))
        futures = {client.submit(run_point, p, root, key=f"ltdl-{p.id}", pure=False): p for p in points}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


EXECUTORS: dict[str, Executor] = {"dask": _dask, "processes": _processes, "serial": _serial}


# ---------------------------------------------------------------------------------------------


def _scalars(results: dict) -> dict:
    """The scalar numbers of an experiment's results, flattened (``rows`` of one row are inlined)."""
    out: dict = {}
    for key, value in results.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            out[key] = value
        elif key in ("rows", "curves") and isinstance(value, list) and len(value) == 1:
            out.update({k: v for k, v in value[0].items() if isinstance(v, int | float) and not isinstance(v, bool)})
    return out


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_grid(
    experiment: str,
    grid: dict[str, list[str]],
    out: str | Path,
    *,
    seeds: int | None = None,
    executor: str = "serial",
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Run every point of ``grid`` not already complete under ``out``; write the combined table.

    Returns the rows of the table (one per point, in grid order): ``id``, the settings,
    ``status`` (``done`` / ``skipped`` — complete from an earlier run — / ``failed``) and the
    experiment's scalar results.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {sorted(EXECUTORS)}, got {executor!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if scheduler is not None and executor != "dask":
        raise ValueError("scheduler is only used with executor='dask'")
    points = expand_grid(experiment, grid, seeds=seeds)
    root = Path(out)
    (root / "points").mkdir(parents=True, exist_ok=True)
    if not os.access(root, os.W_OK):
        raise ValueError(f"out: cannot write to {str(root)!r}")
    status = {p.id: "skipped" for p in points if _is_complete(root / "points" / p.id)}
    pending = [p for p in points if p.id not in status]
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(points),
        initial=len(status),
        disable=not progress,
        desc=f"sweep {experiment}",
        unit="point",
        file=sys.stderr,
        mininterval=1.0,
    )
    counts = {"done": 0, "failed": 0}
    for point, result in EXECUTORS[executor](pending, str(root), workers, scheduler):
        status[point.id] = result["status"]
        counts[result["status"]] += 1
        bar.update(1)
        bar.set_postfix(
            done=counts["done"],
            failed=counts["failed"],
            running=max(0, min(workers, len(pending) - sum(counts.values()))),
        )
    bar.close()
    rows = []
    for p in points:
        folder = root / "points" / p.id
        row: dict = {"id": p.id, **dict(p.settings), "status": status[p.id]}
        if status[p.id] != "failed":
            row.update(_scalars(json.loads((folder / "results.json").read_text())["results"]))
        else:
            row["error"] = (folder / "error.txt").read_text().splitlines()[0]  # the one-line summary
        rows.append(row)
    _write_table(root, rows)
    _plot(root, rows, list(dict(points[0].settings)))
    return rows


def _write_table(root: Path, rows: list[dict]) -> None:
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_atomic(root / "grid.csv", buf.getvalue())
    _write_atomic(root / "grid.json", json.dumps(rows, indent=2) + "\n")


def _plot(root: Path, rows: list[dict], axes: list[str]) -> None:
    done = [r for r in rows if r["status"] != "failed"]
    numeric = [
        c
        for c in (done[0] if done else {})
        if c not in axes and c not in ("id", "status") and isinstance(done[0][c], int | float)
    ]
    if not done or not numeric:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plots

    plots.use_style()
    x_axis, metric = axes[0], numeric[0]
    fig, ax = plt.subplots()
    groups: dict[tuple, list[dict]] = {}
    for r in done:
        groups.setdefault(tuple((a, r[a]) for a in axes[1:]), []).append(r)
    for key, group in groups.items():
        xs = [float(r[x_axis]) for r in group]
        ax.plot(xs, [r[metric] for r in group], "o-", label=", ".join(f"{a}={v}" for a, v in key) or None)
    ax.set_xlabel(x_axis)
    ax.set_ylabel(metric)
    if all(float(r[x_axis]) > 0 for r in done) and len({float(r[x_axis]) for r in done}) > 2:
        ax.set_xscale("log")
    if any(k for k in groups):
        ax.legend()
    tmp = root / ".grid.png.tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, root / "grid.png")


# ---------------------------------------------------------------------------------------------
# The `ltdl sweep` command (registered by ltdl.cli; its points run through ltdl.runner, never ltdl.cli)


def add_parser(subparsers) -> None:
    """Register ``ltdl sweep NAME --grid ... --out DIR`` on ``subparsers`` (argparse)."""
    p = subparsers.add_parser(
        "sweep",
        help="run an experiment over a grid of settings (serial, processes or Dask)",
        description="Run `ltdl run NAME` at every point of a grid; resumable; one result folder per point.",
    )
    p.add_argument("name", help="an experiment of `ltdl list`")
    p.add_argument(
        "--grid",
        nargs="+",
        required=True,
        metavar="NAME=V1,V2",
        help="one or more axes, e.g. --grid T=1,4,16 lam=1e-2,1e-3",
    )
    p.add_argument("--seeds", type=int, default=None, help="add a seed axis 0..N-1")
    p.add_argument("--out", type=Path, required=True, help="output folder (created; reruns resume)")
    p.add_argument("--executor", choices=sorted(EXECUTORS), default="serial")
    p.add_argument("--workers", type=int, default=2, help="worker processes (processes, local Dask cluster)")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:8786)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def command(args) -> int:
    """Run ``ltdl sweep``; returns the exit status (2: bad arguments, 1: some point failed)."""
    try:
        rows = run_grid(
            args.name,
            parse_grid(args.grid),
            args.out,
            seeds=args.seeds,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
        )
    except (ValueError, TypeError) as exc:
        print(f"ltdl: error: {exc}", file=sys.stderr)
        return 2
    failed = [r["id"] for r in rows if r["status"] == "failed"]
    n_skip = sum(r["status"] == "skipped" for r in rows)
    print(
        f"{len(rows)} points: {len(rows) - len(failed) - n_skip} run, {n_skip} already complete, "
        f"{len(failed)} failed; table {args.out / 'grid.csv'}"
    )
    for pid in failed:
        print(f"failed: {pid} (see {args.out / 'points' / pid / 'error.txt'})", file=sys.stderr)
    return 1 if failed else 0
