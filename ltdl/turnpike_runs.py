"""The solve → measure → depth protocol of the turnpike chapters (tracking and integral costs).

A turnpike experiment solves one control problem per horizon T on the same Euler step Δt, all
from the same start, reads a curve along the layers from each solution — the training error
E(x(t_k)), the RMS distance to a running target x̄, or the control norm ‖u_k‖ — and reduces each
curve to two numbers: the rate μ of its two-sided exponential fit (:func:`ltdl.turnpike_rate`)
and, for each accuracy η, the depth t_k at which the curve first falls to η
(:func:`ltdl.first_time_below`). The turnpike statements predict a rate that does not depend on
T and a depth that does not grow with T; :class:`TurnpikeTable` holds what is needed to check both.

* :func:`turnpike_run`: one problem, from the chapters' start (W = 0, a small random bias), by
  Newton's method (:func:`ltdl.train_newton`, certificate kind ``"newton"``) or, for a loss without
  a Hessian at its minimum, by L-BFGS; returns a :class:`TurnpikeRun` with its curves on the grid.
* :func:`turnpike_table`: per horizon, the fitted rate and the depth to each η of one curve.
* :meth:`TurnpikeTable.depth_stats`: the numbers behind "the depth does not grow with T".

The caller checks the certificates (``run.certificate.check(...)``): the tolerance and its reason
belong next to the claim that relies on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from . import _checks
from .controls import squared_norms
from .fields import Controls
from .optim import Certificate, Result, train, train_newton
from .problem import Problem
from .turnpike import first_time_below, turnpike_rate

CURVES = ("E", "distance", "u")


@dataclass(frozen=True)
class TurnpikeRun:
    """One solved problem and its curves on the Euler grid (K layers, Δt = T/K).

    Attributes:
        T, dt: the horizon and the step Δt = T/K.
        result: the solver's :class:`ltdl.Result` (controls, trajectory, terms, certificate).
        t: the grid times t_k = k Δt, shape ``(K+1,)``.
        tu: the layer midpoints (k + ½) Δt where the controls are plotted, shape ``(K,)``.
        E: the training error E(x(t_k)) = (1/N) Σ_i loss(P x_i(t_k), y_i), shape ``(K+1,)``.
        u: the control norms ‖u_k‖ (all controls of layer k together), shape ``(K,)``.
    """

    T: float
    dt: float
    result: Result
    t: np.ndarray
    tu: np.ndarray
    E: np.ndarray
    u: np.ndarray

    @property
    def trajectory(self) -> Tensor:
        """The states x(t_k), shape ``(K+1, N, d)``."""
        return self.result.trajectory

    @property
    def controls(self) -> Controls:
        """The optimal controls, ``result.controls``: tensors ``(K, ...)``."""
        return self.result.controls

    @property
    def certificate(self) -> Certificate:
        """The solver's :class:`Certificate` at the returned controls, ``result.certificate``."""
        return self.result.certificate

    @property
    def E_T(self) -> float:
        """The final training error E(x(T)) (unweighted)."""
        return float(self.result.terms["E_T"])

    def distance(self, x_bar: Tensor) -> np.ndarray:
        """RMS distance to the running target, :math:`((1/N) Σ_i ‖x_i(t_k) − x̄_i‖²)^{1/2}`, shape ``(K+1,)``.

        Args:
            x_bar: the targets x̄, shape ``(N, d)`` (the shape of one state).
        """
        traj = self.result.trajectory
        _checks.tensor("x_bar", x_bar, ndim=2)
        if tuple(x_bar.shape) != tuple(traj.shape[1:]):
            raise ValueError(f"x_bar must have the shape (N, d) = {tuple(traj.shape[1:])}, got {tuple(x_bar.shape)}")
        return ((traj - x_bar) ** 2).sum(-1).mean(-1).sqrt().numpy()

    def curve(self, name: str, x_bar: Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) of one curve: ``"E"`` and ``"distance"`` (needs ``x_bar``) on the grid
        times t_k, ``"u"`` on the midpoints."""
        _checks.choice("curve", name, CURVES)
        if name == "u":
            return self.tu, self.u
        if name == "E":
            return self.t, self.E
        if x_bar is None:
            raise ValueError('x_bar is required for curve="distance"')
        return self.t, self.distance(x_bar)


def turnpike_run(
    problem: Problem,
    *,
    seed: int = 0,
    scale: float = 0.01,
    zero: tuple[str, ...] = ("w",),
    newton: bool = True,
    lbfgs_iter: int = 30,
    max_steps: int = 40,
    max_iter: int = 300,
) -> TurnpikeRun:
    """Solve ``problem`` from the turnpike chapters' start and return its curves.

    The start is u_k ~ N(0, scale²) i.i.d. with the controls named in ``zero`` set to 0 (default:
    W = 0 and a small random bias, so the first step is almost the identity). With ``newton``,
    ``lbfgs_iter`` L-BFGS iterations then at most ``max_steps`` damped Newton steps
    (:func:`ltdl.train_newton`: the certificate carries the max-abs entry of ∂J/∂u and the smallest
    Hessian eigenvalue); without, ``max_iter`` L-BFGS iterations (:func:`ltdl.train`: the certificate
    carries the gradient only) — for losses that have no Hessian where the optimum lies.

    Args:
        problem: a single problem (scalar T and λ) with a fixed output map.
        seed, scale, zero: the start (see :func:`ltdl.init_controls`).
        newton: Newton's method (True) or L-BFGS only.
        lbfgs_iter, max_steps: the two phases of :func:`ltdl.train_newton`.
        max_iter: L-BFGS iterations when ``newton`` is False.

    Returns:
        A :class:`TurnpikeRun`: ``t`` ``(K+1,)``, ``tu`` ``(K,)``, ``E`` ``(K+1,)``, ``u`` ``(K,)``.
    """
    _checks.instance("problem", problem, Problem, "ltdl.Problem(field, x, y, T=..., K=..., lam=...)")
    if problem.batch != ():
        raise ValueError(f"problem must be a single problem (scalar T and lam), got batch shape {problem.batch}")
    u0 = problem.init_controls(kind="normal", scale=scale, seed=seed, zero=zero)
    if newton:
        res = train_newton(problem, u0, lbfgs_iter=lbfgs_iter, max_steps=max_steps)
    else:
        res = train(problem, u0, max_iter=max_iter)
    T, K = float(problem.T), problem.K
    dt = T / K
    return TurnpikeRun(
        T=T,
        dt=dt,
        result=res,
        t=np.arange(K + 1) * dt,
        tu=(np.arange(K) + 0.5) * dt,
        E=problem.risk_curve(res.trajectory).numpy(),
        u=squared_norms(res.controls, problem.field, problem.d).sqrt().numpy(),
    )


@dataclass(frozen=True)
class DepthStats:
    """How the depth to one accuracy η depends on T (see :meth:`TurnpikeTable.depth_stats`).

    Attributes:
        eta: the accuracy η.
        reached: the horizons whose curve reaches η, increasing.
        suffix: True when every horizon longer than the first one in ``reached`` reaches η too.
        long: the horizons of ``reached`` that are ≥ ``long_from``.
        spread: max − min of the depth over ``long`` (inf when ``long`` is empty).
        excess: max of the depth over ``reached`` minus its min over ``long`` (inf when ``long``
            is empty): ≤ Δt means that no horizon needs more than one layer beyond the long ones.
    """

    eta: float
    reached: tuple[float, ...]
    suffix: bool
    long: tuple[float, ...]
    spread: float
    excess: float


@dataclass(frozen=True)
class TurnpikeTable:
    """Fitted rate and depths of one curve, per horizon (see :func:`turnpike_table`).

    Attributes:
        curve: which curve (``"E"``, ``"distance"`` or ``"u"``).
        horizons: the horizons T, increasing.
        rate: T → μ of the two-sided fit :math:`y(t) ≈ a e^{−μt} + b e^{−μ(T−t)}` on [margin, T − margin],
            values ≥ floor.
        depth: η → (T → first grid time with y ≤ η, inf if none).
        minimum: T → the smallest value of the curve.
    """

    curve: str
    horizons: tuple[float, ...]
    rate: dict[float, float]
    depth: dict[float, dict[float, float]]
    minimum: dict[float, float]

    def depth_stats(self, eta: float, *, long_from: float, horizons: Iterable[float] | None = None) -> DepthStats:
        """The depth to ``eta`` across horizons: which reach it, and its spread over the long ones.

        Args:
            eta: one of the accuracies of the table.
            long_from: the horizons T ≥ ``long_from`` are the long ones (a middle arc exists).
            horizons: restrict to these horizons (default: all of the table).
        """
        if eta not in self.depth:
            raise ValueError(f"eta must be one of the table's accuracies {tuple(self.depth)}, got {eta!r}")
        hs = self.horizons if horizons is None else tuple(sorted(horizons))
        missing = [T for T in hs if T not in self.depth[eta]]
        if missing:
            raise ValueError(f"horizons must be horizons of the table {self.horizons}, got {missing}")
        d = self.depth[eta]
        reached = tuple(T for T in hs if math.isfinite(d[T]))
        suffix = bool(reached) and reached == hs[hs.index(reached[0]) :]
        long = tuple(T for T in reached if T >= long_from)
        if not long:
            return DepthStats(eta, reached, suffix, long, math.inf, math.inf)
        low = min(d[T] for T in long)
        return DepthStats(eta, reached, suffix, long, max(d[T] for T in long) - low, max(d[T] for T in reached) - low)


def turnpike_table(
    runs: Mapping[float, TurnpikeRun],
    *,
    curve: str = "E",
    x_bar: Tensor | None = None,
    etas: Iterable[float] = (),
    floor: float = 1e-10,
    margin: float = 1.0,
) -> TurnpikeTable:
    """Fitted rate, depth to each accuracy and minimum of one curve of ``runs``, per horizon.

    For each horizon T: μ(T) = :func:`ltdl.turnpike_rate` of the curve on [margin, T − margin]
    over the values ≥ ``floor`` (below it the solver's accuracy, not the turnpike, sets them), and
    for each η the depth :func:`ltdl.first_time_below` (the first grid time with y ≤ η).

    Args:
        runs: T → :class:`TurnpikeRun` (the key is the horizon; it must equal ``run.T``).
        curve: ``"E"`` (training error), ``"distance"`` (RMS distance to ``x_bar``) or ``"u"``.
        x_bar: the running target ``(N, d)``, for ``curve="distance"``.
        etas: the accuracies η > 0.
        floor, margin: as in :func:`ltdl.turnpike_rate`.

    Raises:
        ValueError: a bad argument, or a window that holds fewer than 3 points above ``floor``.
    """
    _checks.choice("curve", curve, CURVES)
    etas = tuple(float(e) for e in etas)
    for e in etas:
        _checks.positive("etas", e)
    if not runs:
        raise ValueError("runs must hold at least one run")
    for T, run in runs.items():
        _checks.instance("runs[T]", run, TurnpikeRun, "ltdl.turnpike_run(problem)")
        if not math.isclose(float(T), run.T, rel_tol=1e-12):
            raise ValueError(f"runs must map each horizon T to its run, got key {T!r} for a run with T = {run.T:g}")
    horizons = tuple(sorted(runs))
    curves = {T: runs[T].curve(curve, x_bar) for T in horizons}
    return TurnpikeTable(
        curve=curve,
        horizons=horizons,
        rate={T: turnpike_rate(t, y, T=runs[T].T, margin=margin, floor=floor) for T, (t, y) in curves.items()},
        depth={e: {T: first_time_below(t, y, e) for T, (t, y) in curves.items()} for e in etas},
        minimum={T: float(np.min(y)) for T, (_, y) in curves.items()},
    )
