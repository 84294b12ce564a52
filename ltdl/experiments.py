"""The experiments of ``ltdl run``: their registry, their set-up and their figures.

:data:`EXPERIMENTS` maps a name to an :class:`Experiment` (summary, defaults, the function that
runs it); ``erm-sweep`` and ``integral-turnpike`` are written here, ``sparsity`` and ``attention``
call the protocols of their chapters' modules, and the authors' examples (``ltdl/examples.py``,
run by ``ltdl/example_runs.py``, drawn by ``ltdl/example_plots.py``) join through the adapters at
the end. This module knows what an experiment computes and which settings it accepts
(:func:`_resolve`, :class:`UsageError`), not how a run is staged, recorded or interrupted: that is
the run protocol of :mod:`ltdl.runner`, which imports this module (never the other way round), and
the command line of :mod:`ltdl.cli` sits on top of both.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
# Optional: the examples registry written elsewhere (ltdl/examples.py, run by ltdl/example_runs.py,
# drawn by ltdl/example_plots.py), when present.


def _examples() -> dict[str, Any]:
    try:
        from . import example_runs, examples  # noqa: PLC0415
    except ImportError:
        return {}
    reg = getattr(examples, "EXAMPLES", None)
    return dict(reg) if isinstance(reg, dict) and hasattr(example_runs, "run_example") else {}


def _example_summary(obj: Any) -> str:
    if isinstance(obj, str):
        return obj.strip().splitlines()[0] if obj.strip() else ""
    for attr in ("summary", "description", "title", "__doc__"):
        s = getattr(obj, attr, None) if not isinstance(obj, dict) else obj.get(attr)
        if isinstance(s, str) and s.strip():
            return s.strip().splitlines()[0]
    return ""


def _check_example_args(args: argparse.Namespace) -> None:
    given = [f"--{k}" for k in ("T", "lam", "K", "beta", "max_iter") if getattr(args, k) is not None]
    if given:
        raise UsageError(
            f"{', '.join(given).replace('_', '-')} do not apply to the example {args.name!r} (use --size, --seed)"
        )


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _run_example(args: argparse.Namespace, progress: bool) -> dict[str, Any]:
    """Run a registry example of ltdl/examples.py: its record (:meth:`ExampleRun.to_dict`), the
    chapter's measures (``example_runs.measures``) and the chapter's two figures."""
    _check_example_args(args)
    from . import example_runs

    kwargs = {"seed": args.seed, "progress": progress}
    if args.size is not None:
        kwargs["size"] = args.size
    if getattr(args, "compile", False):
        if not _accepts(example_runs.run_example, "compiled"):
            raise UsageError(f"--compile is not supported by the example {args.name!r}")
        kwargs["compiled"] = True
    run = example_runs.run_example(args.name, **kwargs)
    numbers = run.to_dict()
    numbers["measures"] = example_runs.measures(run)
    numbers["figures"] = _example_figures(run, args)
    return numbers


def _example_figures(run: Any, args: argparse.Namespace) -> list[str]:
    """The chapter's figures of an example run, drawn by the chapter's functions
    (``example_plots.draw_snapshots`` and ``example_plots.draw_plot_types``) in the book's style."""
    from . import example_plots, plots

    plots.use_style()
    return [
        _savefig(example_plots.draw_snapshots(run), args.out, f"{args.name}_snapshots.png"),
        _savefig(example_plots.draw_plot_types(run), args.out, f"{args.name}_plot_types.png"),
    ]


# ---------------------------------------------------------------------------------------------
# Settings: the checks and defaults of an experiment, and the settings recorded with its results


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
