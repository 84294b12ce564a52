"""The protocol of ``ltdl run NAME``: staging folder, manifest, atomic results, signals, exit status.

Each experiment writes its figures (PNG) and ``results.json`` (its numbers and parameters)
into ``--out``, next to ``manifest.json`` (settings, versions, the content hash of ``ltdl/``,
start and end time, and ``status``: ``running``, then ``complete``, ``interrupted`` or
``failed``). Files are written into a hidden staging folder and moved into ``--out`` only when
the run completes, ``results.json`` last, each by an atomic rename: an interrupted run (Ctrl-C,
SIGTERM) leaves its manifest marked ``interrupted`` and no result file, and a previous run's
results are removed when a new run starts. Bad arguments, and an ``--out`` that cannot be
written, print one clear line to stderr and exit with status 2 before any work; an interrupted
run exits with status 130.

Why a module of its own: ``ltdl run`` is called by two users, the command line
(:mod:`ltdl.cli`) and each point of a sweep (:func:`ltdl.grid.run_point`). Both import this
module, and it imports neither: it knows the experiments (:mod:`ltdl.experiments`) and the
arguments of ``run`` (:func:`add_parser`), nothing of ``list`` or ``sweep``. :func:`main` parses
a ``run`` command line with a parser that has the ``run`` subcommand only, so its messages are
those of ``ltdl run`` on the full command line.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import math
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from .experiments import (
    DATASETS,
    EXPERIMENTS,
    FIELDS,
    UsageError,
    _check_example_args,
    _examples,
    _parameters,
    _resolve,
    _run_example,
)

# ---------------------------------------------------------------------------------------------
# The arithmetic of a run


@contextlib.contextmanager
def _chapter_arithmetic() -> Iterator[None]:
    """float64 and one torch thread while an experiment runs, as in the chapters (ltdl.setup_chapter):
    one thread is the fastest for these small tensors, and a command then sums in the chapter's
    order, which is what lets it reproduce the chapter's rounding-level certificates. The previous
    settings come back afterwards (``main`` also runs inside other programs, e.g. the tests)."""
    import torch

    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# Argument parsing


def _float_list(text: str) -> list[float]:
    """``1,2,4``: comma-separated finite numbers > 0, no empty entries, no repeats."""
    example = "comma-separated numbers such as 1,2,4"
    parts = [v.strip() for v in text.split(",")]
    if any(not v for v in parts):
        raise argparse.ArgumentTypeError(f"expected {example}, got an empty entry in {text!r}")
    try:
        vals = [float(v) for v in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {example}, got {text!r}") from None
    if any(not math.isfinite(v) or v <= 0 for v in vals):
        raise argparse.ArgumentTypeError(f"every T must be a finite number > 0, got {text!r}")
    if len(set(vals)) != len(vals):
        raise argparse.ArgumentTypeError(f"every T must appear once, got {text!r}")
    return [int(v) if v.is_integer() else v for v in vals]


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return v


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return v


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return v

    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one clear line, exit status 2
        self.print_usage(sys.stderr)
        self.exit(2, f"ltdl: error: {message}\n")


def add_parser(sub: Any) -> None:
    """Register ``ltdl run NAME [options]`` on ``sub`` (the subparsers of an argparse parser)."""
    r = sub.add_parser("run", help="run one experiment")
    r.add_argument("name", help="experiment name (see `ltdl list`)")
    r.add_argument("--T", type=_float_list, default=None, help="horizons, comma-separated (e.g. 1,2,4,8)")
    r.add_argument("--lam", type=_nonneg_float, default=None, help="penalty weight lambda >= 0")
    r.add_argument(
        "--K",
        type=_positive_int,
        default=None,
        help="layers (erm-sweep: per horizon; integral-turnpike: per unit time, default 4)",
    )
    r.add_argument("--beta", type=_nonneg_float, default=None, help="integral weight beta (integral-turnpike)")
    r.add_argument("--field", choices=FIELDS, default="outer", help="vector field (default outer)")
    r.add_argument("--activation", default="tanh", help="activation sigma (default tanh)")
    r.add_argument("--hidden", type=_positive_int, default=4, help="hidden width for --field bottleneck")
    r.add_argument("--data", choices=DATASETS, default="four-point", help="data set (default four-point)")
    r.add_argument("--n", type=_positive_int, default=60, help="points for spheres/xor (default 60)")
    r.add_argument("--seed", type=_nonneg_int, default=0, help="seed of data and initial controls")
    r.add_argument(
        "--max-iter",
        type=_positive_int,
        default=None,
        help="iterations per run (L-BFGS; integral-turnpike: Newton steps)",
    )
    r.add_argument("--size", default=None, help="size of a registry example (e.g. reduced, full)")
    r.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.add_argument(
        "--compile",
        action="store_true",
        help="registry examples: train on the compiled objective of ltdl.compiled (faster; gradients "
        "equal to rounding, so a long L-BFGS run may take another path to the same minimiser)",
    )


def build_parser() -> argparse.ArgumentParser:
    """A parser of ``run`` command lines only (``["run", NAME, ...]``): the ``run`` subcommand of
    ``ltdl`` as :mod:`ltdl.cli` registers it, so its usage lines and messages are the same."""
    p = _Parser(prog="ltdl", description="Experiments of 'Large-time asymptotics in deep learning'.")
    sub = p.add_subparsers(dest="command", metavar="{list,run,sweep}", parser_class=_Parser)
    sub.required = True
    add_parser(sub)
    return p


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)  # anything else (data sets, fields): a readable placeholder


RESULTS, MANIFEST = "results.json", "manifest.json"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically: a temporary file in the same folder, then a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the results from other users
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(_jsonable(obj), indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_out(out: Path) -> str | None:
    """Create ``--out`` and prove it writable before any work; returns an error message or None."""
    if out.exists() and not out.is_dir():
        return f"--out {str(out)!r} exists and is not a folder"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create --out {str(out)!r}: {exc.strerror or exc}"
    if not out.is_dir():
        return f"--out {str(out)!r} exists and is not a folder"
    for name in (RESULTS, MANIFEST):
        if (out / name).is_dir():
            return f"cannot write --out {str(out)!r}: {name} there is a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".ltdl-write-test-"):
            pass
    except OSError as exc:
        return f"cannot write into --out {str(out)!r}: {exc.strerror or exc}"
    return None


def _clear_previous(out: Path) -> None:
    """Remove the previous run's results (and the files its manifest lists) so that nothing
    left in ``--out`` looks like the result of the run that is starting."""
    old = out / MANIFEST
    files: list[Any] = []
    if old.is_file():
        try:
            files = json.loads(old.read_text()).get("files", []) or []
        except (OSError, ValueError, AttributeError):
            files = []
    for name in [RESULTS, *files]:
        path = out / Path(str(name)).name
        if path.is_file():
            path.unlink()


class _Terminated(Exception):
    """SIGTERM, handled like Ctrl-C."""


def _on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    """``ltdl run NAME [options]`` from its command line ``argv`` (``["run", NAME, ...]``, as
    :meth:`ltdl.grid.GridPoint.argv` writes it); returns the exit status, like :func:`ltdl.cli.main`."""
    return run(build_parser().parse_args(argv), argv)


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Run the parsed ``ltdl run`` command ``args``; returns the exit status.

    Ctrl-C (or SIGTERM) during a run marks its manifest ``interrupted``; then the command line
    exits with status 130, while a call from Python with an explicit ``argv`` (a sweep) gets the
    ``KeyboardInterrupt`` back, so that it stops as well.
    """
    examples = _examples()
    if args.name not in EXPERIMENTS and args.name not in examples:
        names = sorted(EXPERIMENTS) + sorted(examples)
        print(
            f"ltdl: error: unknown experiment {args.name!r}; choose one of {names} (see `ltdl list`)", file=sys.stderr
        )
        return 2
    progress = not args.no_progress
    # Every check that needs no computation comes before any work.
    try:
        if args.name in EXPERIMENTS:
            exp = _resolve(args)
        else:
            _check_example_args(args)
        params = _parameters(args)
    except UsageError as exc:
        print(f"ltdl: error: {exc}", file=sys.stderr)
        return 2
    problem = _check_out(args.out)
    if problem:
        print(f"ltdl: error: {problem}", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    from .provenance import provenance

    out = args.out
    prov = dict(provenance())
    manifest = {
        "experiment": args.name,
        "status": "running",
        "started": _now(),
        "ended": None,
        "parameters": params,
        "argv": list(sys.argv[1:] if argv is None else argv),
        "code": {"ltdl_sources": prov.pop("ltdl_sources")},
        "provenance": prov,
        "pid": os.getpid(),
        "files": [],
    }
    old_term = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    status, code, stage, moved, reraise = "failed", 1, None, [], False
    try:
        _clear_previous(out)
        _write_json(out / MANIFEST, manifest)
        stage = Path(tempfile.mkdtemp(dir=out, prefix=".ltdl-partial-"))
        args.out = stage  # the experiment writes its figures into the staging folder
        with _log_rate_progress(progress and not sys.stderr.isatty()), _chapter_arithmetic():
            numbers = exp.run(args, progress) if args.name in EXPERIMENTS else _run_example(args, progress)
        args.out = out
        params = manifest["parameters"] = _parameters(args)  # as the experiment settled them
        record = {
            "experiment": args.name,
            "parameters": params,
            "results": numbers,
            "provenance": prov,
            "code": manifest["code"],
        }
        figures = [f for f in numbers.get("figures", []) if (stage / f).is_file()]
        for f in figures:  # figures first, results.json last: its presence means complete
            os.replace(stage / f, out / f)
            moved.append(out / f)
        _write_json(out / RESULTS, record)
        status, code = "complete", 0
        manifest["files"] = [*figures, RESULTS]
        print(f"wrote {out / RESULTS}" + "".join(f"\nwrote {out / f}" for f in figures))
    except (KeyboardInterrupt, _Terminated):
        status, code = "interrupted", 130
        print("ltdl: interrupted: no results written (see manifest.json)", file=sys.stderr)
        if argv is not None:  # called from Python (e.g. a sweep): let the caller stop too
            reraise = True
    except (UsageError, ValueError) as exc:  # library argument checks name the argument
        status, code = "failed", 2
        manifest["error"] = str(exc)
        print(f"ltdl: error: {exc}", file=sys.stderr)
    except BaseException as exc:
        manifest["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        args.out = out
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        if status != "complete":
            for path in [*moved, out / RESULTS]:
                path.unlink(missing_ok=True)
        manifest.update(status=status, ended=_now())
        _write_json(out / MANIFEST, manifest)
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    if reraise:
        raise KeyboardInterrupt
    return code


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


LOG_PROGRESS_INTERVAL = 10.0  # seconds between two progress lines when stderr is not a terminal


@contextlib.contextmanager
def _log_rate_progress(enabled: bool):
    """While ``enabled``, every tqdm bar redraws at most every ``LOG_PROGRESS_INTERVAL`` seconds.

    For a log file (stderr not a terminal): a full-size run would otherwise write a bar update
    every 0.1 s. The bars are created inside the library (``tqdm.auto.tqdm``), hence the swap.
    """
    if not enabled:
        yield
        return
    import tqdm.auto

    base = tqdm.auto.tqdm

    class _LogRateTqdm(base):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **kw: Any) -> None:
            kw.setdefault("mininterval", LOG_PROGRESS_INTERVAL)
            super().__init__(*a, **kw)

    tqdm.auto.tqdm = _LogRateTqdm
    try:
        yield
    finally:
        tqdm.auto.tqdm = base
