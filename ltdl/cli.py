"""Command-line interface: ``ltdl list`` and ``ltdl run NAME [options]``.

Each experiment writes its figures (PNG) and ``results.json`` (its numbers and parameters)
into ``--out``, next to ``manifest.json`` (settings, versions, the content hash of ``ltdl/``,
start and end time, and ``status``: ``running``, then ``complete``, ``interrupted`` or
``failed``). Files are written into a hidden staging folder and moved into ``--out`` only when
the run completes, ``results.json`` last, each by an atomic rename: an interrupted run (Ctrl-C,
SIGTERM) leaves its manifest marked ``interrupted`` and no result file, and a previous run's
results are removed when a new run starts. Bad arguments, and an ``--out`` that cannot be
written, print one clear line to stderr and exit with status 2 before any work; an interrupted
run exits with status 130.

    ltdl list
    ltdl run erm-sweep --T 1,2,4,8,16,32 --lam 1 --K 10 --out out/erm
    ltdl run integral-turnpike --T 4,8 --lam 0.1 --beta 1 --out out/turnpike
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO

DATASETS = ("four-point", "spheres", "xor")
FIELDS = ("outer", "inner", "bottleneck")


class UsageError(Exception):
    """A bad command-line argument (message shown to the user, exit status 2)."""


@dataclass
class Experiment:
    name: str
    summary: str
    defaults: dict[str, Any]
    run: Callable[[argparse.Namespace, bool], dict[str, Any]]
    fields: tuple[str, ...] = FIELDS
    datasets: tuple[str, ...] = DATASETS
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Problem set-up shared by the experiments


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


def _setup(args: argparse.Namespace) -> tuple[Any, Any, Any, Any, Any]:
    import torch

    import ltdl

    if args.data == "four-point":
        data = ltdl.four_point_rotation()
        P = None
    else:
        n = args.n
        if args.data == "spheres":
            data = ltdl.concentric_spheres(n // 3, n - n // 3, seed=args.seed)
        else:
            data = ltdl.xor(n, seed=args.seed)
        # P is given, not trained: the first coordinate.
        P = ltdl.OutputMap(torch.tensor([[1.0, 0.0]]))
    hidden = args.hidden if args.field == "bottleneck" else None
    fld = ltdl.make_field(args.field, activation=args.activation, hidden=hidden)
    return ltdl, torch, data, P, fld


def _bar(total: int, progress: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not progress, desc=desc, unit="run", file=sys.stderr)


def _savefig(fig: Any, out: Path, name: str) -> str:
    path = out / name
    fig.savefig(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


ERM_TAIL_POINTS = 5  # the fitted tail: the last five horizons, as chapter 03 fits T = 64..1024


def _erm_sweep(args: argparse.Namespace, progress: bool) -> dict[str, Any]:
    """R2: T sweep of L2-regularised ERM at fixed K, the reference protocol of chapter 03
    (:func:`ltdl.reference_sweep`: R1 warm starts, L-BFGS and two Newton steps), certified."""
    ltdl, torch, data, P, fld = _setup(args)
    Ts = args.T
    opts = dict(seed=args.seed, max_iter=args.max_iter, progress=progress, desc="erm-sweep")
    sw = ltdl.reference_sweep(fld, data.x, data.y, T=Ts, lam=args.lam, K=args.K, P=P, **opts)
    certs = ltdl.diagnostics.certify_sweep(sw, data.x, data.y, P=P)
    rows = [
        {
            "T": T,
            "E_T": float(sw.E[i]),
            "T_E_T": T * float(sw.E[i]),
            "v_norm_sq": float(sw.v_norm_sq[i]),
            "J": float(sw.J[i]),
            "n_iter": int(sw.n_iter[i]),
            "grad_max": certs[i].grad_max,  # max |dJ/dv| (unit-time form)
            "min_eig": certs[i].min_eig,  # smallest Hessian eigenvalue (unit-time form)
        }
        for i, T in enumerate(Ts)
    ]
    E = [r["E_T"] for r in rows]
    tail = min(ERM_TAIL_POINTS, len(Ts))
    slope = ci = None
    if tail >= 2 and all(e > 0 for e in E[-tail:]):
        fit = ltdl.loglog_slope(Ts[-tail:], E[-tail:])
        slope, ci = fit.slope, list(fit.ci)
    distance = ltdl.certified_distance(sw, certs)  # to the exact strict minimisers; inf: none certified
    import matplotlib.pyplot as plt

    from . import plots

    plots.use_style()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    if all(e > 0 for e in E):
        plots.rate_plot(axes[0], Ts, E, slope=-1.0, label="$E_T$")
    axes[0].set_xlabel("$T$")
    axes[0].set_ylabel("training error $E_T$")
    axes[0].legend()
    axes[1].semilogx(Ts, [r["T_E_T"] for r in rows], "o-", ms=3)
    axes[1].set_xlabel("$T$")
    axes[1].set_ylabel(r"$T\cdot E_T$")
    figs = [_savefig(fig, args.out, "erm_sweep.png")]
    return {
        "rows": rows,
        "tail_slope": slope,
        "tail_ci": ci,
        "tail_points": tail,
        "distance_bound": distance,
        "figures": figs,
    }


# Chapter 06's protocol constants: the accuracies η of its depth table and the floors of its rate
# fits (below them the solver's accuracy, not the turnpike, sets the values of E and of ‖u‖).
R6_ETAS = (1e-2, 1e-4, 1e-6)
R6_FLOORS = {"E": 1e-20, "u": 1e-10}
R6_GRAD_TOL = 1e-12  # train_newton's stopping tolerance: the certificate of chapter 06


def _r6_prediction(ltdl: Any, fld: Any, data: Any, P: Any, beta: float, lam: float, dt: float) -> float | None:
    """μ_Δt of the problem linearised at x = y (chapter 06), or None where it does not apply: no
    integral term (β = 0), a readout P ≠ I (the zero-error set is then not the point x = y), or a
    field without the steady state f(y, 0) = 0."""
    if beta == 0 or P is not None:
        return None
    try:
        return float(ltdl.linearised_rate(fld, data.y, weight=beta, lam=lam, dt=dt))
    except ValueError:
        return None


def _integral_turnpike(args: argparse.Namespace, progress: bool) -> dict[str, Any]:
    """R6: integral regulariser β∫E dt; the check of chapter 06 (the same library calls).

    Per T: a certified Newton solve from W = 0 (:func:`ltdl.turnpike_run`), then the two-sided rate
    fits of E and ‖u‖ and the depth to each η of ``R6_ETAS`` (:func:`ltdl.turnpike_table`).
    """
    ltdl, torch, data, P, fld = _setup(args)
    runs = {}
    bar = _bar(len(args.T), progress, "integral-turnpike")
    for T in args.T:
        K = max(1, round(args.K_per_unit * T))
        prob = ltdl.Problem(fld, data.x, data.y, T=T, K=K, lam=args.lam, P=P, loss=ltdl.Loss("mse"), beta=args.beta)
        runs[T] = ltdl.turnpike_run(prob, seed=args.seed, max_steps=args.max_iter)
        bar.update(1)
        bar.set_postfix(T=T, grad=f"{runs[T].certificate.grad_max:.1e}")
    bar.close()
    tab_E = ltdl.turnpike_table(runs, curve="E", etas=R6_ETAS, floor=R6_FLOORS["E"])
    tab_u = ltdl.turnpike_table(runs, curve="u", floor=R6_FLOORS["u"])
    curves = []
    for T, r in runs.items():
        cert = r.certificate
        curves.append(
            {
                "T": T,
                "K": len(r.tu),
                "t": r.t.tolist(),
                "E": r.E.tolist(),
                "u_norm": r.u.tolist(),
                "mu_E": tab_E.rate[T],
                "mu_u": tab_u.rate[T],
                "depth": [{"eta": eta, "t": tab_E.depth[eta][T]} for eta in R6_ETAS],
                "E_T": r.E_T,
                "J": float(r.result.value),
                "n_iter": r.result.n_iter,
                "grad_max": cert.grad_max,
                "min_eig": cert.min_eig,
                "certified": bool(cert.grad_max <= R6_GRAD_TOL and cert.min_eig is not None and cert.min_eig > 0),
            }
        )
    mu_lin = _r6_prediction(ltdl, fld, data, P, args.beta, args.lam, 1.0 / args.K_per_unit)

    import matplotlib.pyplot as plt

    from . import plots

    plots.use_style()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for r in runs.values():
        axes[0].semilogy(r.t, [max(float(e), 1e-300) for e in r.E], label=f"T = {r.T:g}")
        plots.control_norm_plot(axes[1], r.tu, [max(float(n), 1e-300) for n in r.u], label=f"T = {r.T:g}")
    axes[0].set_xlabel("$t$")
    axes[0].set_ylabel("$E(x(t))$")
    axes[0].legend()
    axes[1].legend()
    figs = [_savefig(fig, args.out, "integral_turnpike.png")]
    rates = [c["mu_E"] for c in curves]
    return {
        "curves": curves,
        "predicted_mu": mu_lin,  # rate of the distance and of ‖u‖; E, a squared distance, decays at 2μ
        "predicted_mu_E": None if mu_lin is None else 2 * mu_lin,
        "spread_mu_E": ltdl.relative_spread(rates) if all(m > 0 for m in rates) else None,
        "etas": list(R6_ETAS),
        "floors": dict(R6_FLOORS),
        "grad_tol": R6_GRAD_TOL,
        "figures": figs,
    }


# The registry. An experiment's ``run(args, progress)`` returns a JSON-able dict of its numbers;
# it saves each figure with ``_savefig(fig, args.out, name)`` and lists the names under
# ``"figures"`` (``args.out`` is then the staging folder: unlisted files are discarded).
EXPERIMENTS: dict[str, Experiment] = {
    "erm-sweep": Experiment(
        "erm-sweep",
        "R2: L2-regularised ERM, sweep of the horizon T at fixed K (four-point rotation); "
        "E_T, T*E_T, ||v_T||^2 and the second-order certificate per T, fitted slope of log E_T vs log T "
        "over the last five T (chapter 03's protocol, ltdl.reference_sweep).",
        {"T": [1, 2, 4, 8, 16, 32, 64, 128], "lam": 1.0, "K": 10, "max_iter": 500},
        _erm_sweep,
    ),
    "integral-turnpike": Experiment(
        "integral-turnpike",
        "R6: integral regulariser beta*int E dt (squared l2 distance), chapter 06's check: per T a certified "
        "Newton solve, the two-sided rates of E(t) and ||u(t)||, the depth to E <= 1e-2, 1e-4, 1e-6.",
        {"T": [4, 8, 16], "lam": 0.1, "K": None, "max_iter": 200},
        _integral_turnpike,
        extra={"K_per_unit": 4, "beta": 1.0},
    ),
    "sparsity": Experiment(  # chapter 10; the protocol lives in ltdl/sparsity.py
        "sparsity",
        "l1 controls + integral risk (four-point rotation, outer ReLU field): stopping layer k*, "
        "t* = k* dt per T at dt = 1 and for dt = 1, 1/2, 1/4 at T = 8 (the table of chapter 10).",
        {"T": [4, 8, 16, 32], "lam": 0.05, "K": None, "max_iter": 200},
        lambda args, progress: __import__("ltdl.sparsity", fromlist=["cli_run"]).cli_run(args, progress),
        fields=("outer",),
        datasets=("four-point",),
    ),
    "attention": Experiment(  # chapter 11; the protocol lives in ltdl/metastability.py
        "attention",
        "self-attention dynamics on the circle (32 tokens, beta = 4, 9, 16, 25, five seeds from --seed): time of the "
        "last cluster merge, the two-cluster oracle's prediction, fitted slope of ln t against beta (chapter 11).",
        {"T": [], "lam": None, "K": None, "max_iter": None},  # T, lam, K, max_iter do not apply
        lambda args, progress: __import__("ltdl.metastability", fromlist=["cli_run"]).cli_run(args, progress),
        fields=("outer",),
        datasets=("four-point",),
        extra={"n": 32, "betas": [4, 9, 16, 25], "seeds": 5},  # shown by `ltdl list`; ltdl.metastability.META
    ),
}


# ---------------------------------------------------------------------------------------------
# Optional: the examples registry written elsewhere (ltdl/examples.py), when present.


def _examples() -> dict[str, Any]:
    try:
        from . import examples  # noqa: PLC0415
    except ImportError:
        return {}
    reg = getattr(examples, "EXAMPLES", None)
    return dict(reg) if isinstance(reg, dict) and hasattr(examples, "run_example") else {}


def _example_summary(obj: Any) -> str:
    if isinstance(obj, str):
        return obj.strip().splitlines()[0] if obj.strip() else ""
    for attr in ("summary", "description", "title", "__doc__"):
        s = getattr(obj, attr, None) if not isinstance(obj, dict) else obj.get(attr)
        if isinstance(s, str) and s.strip():
            return s.strip().splitlines()[0]
    return ""


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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ltdl", description="Experiments of 'Large-time asymptotics in deep learning'.")
    sub = p.add_subparsers(dest="command", metavar="{list,run,sweep}", parser_class=_Parser)
    sub.required = True
    sub.add_parser("list", help="list the experiments and their defaults")
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
    from . import grid  # ``ltdl sweep``: a grid of ``ltdl run`` points (ltdl/grid.py)

    grid.add_parser(sub)
    return p


def _list(stream: TextIO) -> None:
    print("Experiments (ltdl run NAME --out DIR [options]):", file=stream)
    for e in EXPERIMENTS.values():
        d = {k: v for k, v in {**e.defaults, **e.extra}.items() if v is not None and v != []}  # [] = not used
        print(f"  {e.name:20s} {e.summary}", file=stream)
        print(f"  {'':20s} defaults: " + ", ".join(f"{k}={v}" for k, v in d.items()), file=stream)
    ex = _examples()
    if ex:
        print("Examples (ltdl run NAME --out DIR [--size SIZE] [--seed S]):", file=stream)
        for name, obj in ex.items():
            print(f"  {name:20s} {_example_summary(obj)}", file=stream)


def _resolve(args: argparse.Namespace) -> Experiment:
    from .activations import ACTIVATIONS

    exp = EXPERIMENTS[args.name]
    if args.field not in exp.fields:
        raise UsageError(f"--field must be one of {exp.fields} for {exp.name}, got {args.field!r}")
    if args.activation not in ACTIVATIONS:
        raise UsageError(f"--activation must be one of {tuple(ACTIVATIONS)}, got {args.activation!r}")
    if args.beta is not None and "beta" not in exp.extra:
        raise UsageError(f"--beta does not apply to {exp.name}")
    if args.size is not None:
        raise UsageError(f"--size applies to registry examples only, not to {exp.name}")
    if getattr(args, "compile", False):
        raise UsageError(f"--compile applies to registry examples only, not to {exp.name}")
    args.T = sorted(args.T) if args.T is not None else list(exp.defaults["T"])
    args.lam = exp.defaults["lam"] if args.lam is None else args.lam
    args.max_iter = exp.defaults["max_iter"] if args.max_iter is None else args.max_iter
    if exp.name == "integral-turnpike":
        args.K_per_unit = exp.extra["K_per_unit"] if args.K is None else args.K
        args.beta = exp.extra["beta"] if args.beta is None else args.beta
    else:
        args.K = exp.defaults["K"] if args.K is None else args.K
    if args.lam == 0 and exp.name == "integral-turnpike":
        raise UsageError("--lam must be > 0 for integral-turnpike")
    if exp.name == "integral-turnpike" and min(args.T) < 2 + 2 / args.K_per_unit:
        # the rate fits use the grid times in [1, T - 1]: at least 3 of them
        raise UsageError(
            f"every --T must be >= {2 + 2 / args.K_per_unit:g} for integral-turnpike (rate fit on [1, T - 1])"
        )
    return exp


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
    """Entry point of the ``ltdl`` console script; returns the exit status.

    Ctrl-C (or SIGTERM) during a run marks its manifest ``interrupted``; then the command line
    exits with status 130, while a call from Python with an explicit ``argv`` (a sweep) gets the
    ``KeyboardInterrupt`` back, so that it stops as well.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        _list(sys.stdout)
        return 0
    if args.command == "sweep":
        from . import grid

        return grid.command(args)
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


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The settings recorded with the results."""
    if args.name not in EXPERIMENTS:
        return {"size": args.size or "default", "seed": args.seed}
    params = {
        k: getattr(args, k)
        for k in ("T", "lam", "K", "field", "activation", "data", "seed", "max_iter")
        if hasattr(args, k)
    }
    if args.name == "integral-turnpike":
        params.update(K_per_unit=args.K_per_unit, beta=args.beta)
        params.pop("K", None)
    return params


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _check_example_args(args: argparse.Namespace) -> None:
    given = [f"--{k}" for k in ("T", "lam", "K", "beta", "max_iter") if getattr(args, k) is not None]
    if given:
        raise UsageError(
            f"{', '.join(given).replace('_', '-')} do not apply to the example {args.name!r} (use --size, --seed)"
        )


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


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _run_example(args: argparse.Namespace, progress: bool) -> dict[str, Any]:
    """Run a registry example of ltdl/examples.py: its record (:meth:`ExampleRun.to_dict`), the
    chapter's measures (``examples.measures``) and the chapter's two figures."""
    _check_example_args(args)
    from . import examples

    kwargs = {"seed": args.seed, "progress": progress}
    if args.size is not None:
        kwargs["size"] = args.size
    if getattr(args, "compile", False):
        if not _accepts(examples.run_example, "compiled"):
            raise UsageError(f"--compile is not supported by the example {args.name!r}")
        kwargs["compiled"] = True
    run = examples.run_example(args.name, **kwargs)
    numbers = run.to_dict()
    numbers["measures"] = examples.measures(run)
    numbers["figures"] = _example_figures(run, args)
    return numbers


def _example_figures(run: Any, args: argparse.Namespace) -> list[str]:
    """The chapter's figures of an example run, drawn by the chapter's functions
    (``examples.draw_snapshots`` and ``examples.draw_plot_types``) in the book's style."""
    from . import examples, plots

    plots.use_style()
    return [
        _savefig(examples.draw_snapshots(run), args.out, f"{args.name}_snapshots.png"),
        _savefig(examples.draw_plot_types(run), args.out, f"{args.name}_plot_types.png"),
    ]
