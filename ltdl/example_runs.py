"""Running the authors' examples (ltdl/examples.py) and measuring the runs.

:func:`run_example` trains one :class:`~ltdl.ExampleSpec` (L-BFGS, then the Newton polish where
the spec asks for it) and returns an :class:`ExampleRun`: its numbers, its curves over the layers
and its trajectories. :func:`measures` (with :func:`turnpike_measures`, :func:`drift_measures`,
:func:`xor_measures`) gives the quantities the chapter checks; ``ltdl run`` writes the same
``measures``. :func:`states_at` and :func:`decision_function` read a run at any time and point.

Usage::

    run = run_example("ex41", size="reduced", seed=0)
    run.test_accuracy, run.trajectory.shape      # float, (K+1, N_train, 2)
    measures(run)                                # the chapter's check quantities (t_reach, ...)

``size="full"`` uses the authors' data sizes (not run in CI) and shows a progress bar when
``progress=True``. The settings are in :mod:`ltdl.examples` (imported here, never importing
this module); the drawings of a run in :mod:`ltdl.example_plots`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor

from . import _checks
from .controls import squared_norms
from .costs import risk
from .diagnostics import time_to_reach
from .examples import (
    _SIZE_ALIASES,
    NEWTON_TOL,
    SIZES,
    ExampleSpec,
    _class_ids,
    _labels,
    classify,
    example_data,
    example_problem,
    get_example,
)
from .fields import Controls, Field, make_field
from .flows import flow
from .optim import train, train_newton


def decision_function(run: ExampleRun) -> Callable[[Tensor], Tensor]:
    """points ``(M, 2)`` -> ``(M,)``: P x(T) for one output, the predicted class id otherwise."""
    spec = run.spec
    field, u = make_field(spec.field, activation=spec.activation), run.controls

    def predict(points: Tensor) -> Tensor:
        with torch.no_grad():
            xT = flow(field, points, u, spec.T)[-1]
            z = spec.output_map(dtype=xT.dtype)(xT)
            return z[:, 0] if z.shape[-1] == 1 else z.argmax(-1).to(xT.dtype)

    return predict


def states_at(traj: Tensor, T: float, times) -> Tensor:
    """States of the Euler polygon at the given times, shape ``(len(times), N, d)``.

    Between two layers the Euler scheme moves each point on a straight segment
    (x(t) = x_k + (t − t_k) f(x_k, u_k)), so linear interpolation between the stored states is
    the scheme's own continuous-time trajectory, not an approximation of it.
    """
    _checks.positive("T", T)
    K = traj.shape[0] - 1
    t = torch.as_tensor(times, dtype=traj.dtype).reshape(-1)
    if bool(((t < 0) | (t > T * (1 + 1e-12))).any()):
        raise ValueError(f"times must lie in [0, T] = [0, {T:g}], got {t.tolist()}")
    s = (t / T * K).clamp(0, K)
    k = s.floor().long().clamp(max=K - 1)
    w = (s - k.to(s.dtype)).reshape(-1, 1, 1)
    return (1 - w) * traj[k] + w * traj[k + 1]


def _curve(values: Tensor) -> list[float]:
    return [float(v) for v in values]


@dataclass(frozen=True, eq=False)  # eq=False: tensors have no single truth value
class ExampleRun:
    """One trained example, as returned by :func:`~ltdl.run_example` (N = ``n_train``, N' = ``n_test``,
    t_k = kΔt for k = 0..K; curves are plain lists over the K+1 layers unless said otherwise).

    Attributes:
        name, label, size, seed: the registry key, the paper's name, ``"reduced"``/``"full"``, the seed.
        T, K: final time and number of layers.
        n_train, n_test: N and N'.
        train_accuracy, test_accuracy: accuracy of P at x(T) on each split.
        final_risk, test_risk: E(x(T)) on the training and the test set.
        objective: J at the returned controls; terms: each term of J (``"E_T"``, ``"final"``,
            ``"tracking"``, ``"integral"``, ``"penalty"``, ``"J"`` as they apply).
        n_iter, n_calls: L-BFGS iterations over all calls (plus the Newton steps of the polish), and
            the number of L-BFGS calls (restarts + 1).
        wall_time: seconds spent in training.
        grad_max: the solver's certificate, the max-abs entry of ∂J/∂u at the returned controls.
        times: t_k. risk_curve: E(x(t_k)). accuracy_curve: training accuracy of P at x(t_k).
        state_norms, output_norms: (1/N) Σ ‖x_i(t_k)‖² and (1/N) Σ ‖P x_i(t_k)‖².
        target_distance: (1/N) Σ ‖x_i(t_k) − x̄_i‖ (None without tracking).
        displacement: (1/N) Σ ‖x_i(t_k) − x_i(T)‖.
        late_motion: (1/N) Σ ‖x_i(T) − x_i(T/2)‖ on the Euler polygon; late_fraction: late_motion
            over (1/N) Σ ‖x_i(T) − x_i(0)‖.
        class_means: centroid of each class at T, ``n_classes`` lists of 2 numbers.
        control_norms: ‖u_k‖ for k = 0..K−1 (K numbers).
        trajectory: ``(K+1, N, 2)``; test_trajectory: ``(K+1, N', 2)``.
        controls: the trained controls, ``{"w": (K, 2, 2), "b": (K, 2)}``.
        x_bar: tracking target of each training point ``(N, 2)``, or None.
        train_x, test_x: inputs ``(N, 2)``, ``(N', 2)``; train_classes, test_classes: class ids
            ``(N,)``, ``(N',)``.
        spec: the settings the run used (overrides included).
        min_eig: smallest eigenvalue of the Hessian of J at the returned controls when the spec
            asks for the Newton polish (``newton=True``), else None.
    """

    name: str
    label: str
    size: str
    seed: int
    T: float
    K: int
    n_train: int
    n_test: int
    train_accuracy: float
    test_accuracy: float
    final_risk: float
    test_risk: float
    objective: float
    terms: dict[str, float]
    n_iter: int
    n_calls: int
    wall_time: float
    grad_max: float
    times: list[float]
    risk_curve: list[float]
    accuracy_curve: list[float]
    state_norms: list[float]
    output_norms: list[float]
    target_distance: list[float] | None
    displacement: list[float]
    late_motion: float
    late_fraction: float
    class_means: list[list[float]]
    control_norms: list[float]
    trajectory: Tensor
    test_trajectory: Tensor
    controls: Controls
    x_bar: Tensor | None
    train_x: Tensor
    train_classes: Tensor
    test_x: Tensor
    test_classes: Tensor
    spec: ExampleSpec
    min_eig: float | None = None

    def to_dict(self) -> dict:
        """Every field in declaration order, ``spec`` as ``"settings"`` (a plain dict): the record
        the command line writes (tensors become lists there)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "spec"}
        out["settings"] = dataclasses.asdict(self.spec)
        return out


def run_example(
    name: str, *, size: str = "reduced", seed: int = 0, progress: bool = False, compiled: bool = False, **overrides
) -> ExampleRun:
    """Train one example and measure it.

    Args:
        name: ``"ex41"``, ``"ex42"``, ``"ex43"``, ``"exA1"`` (or ``"4.1"``, ..., ``"A.1"``).
        size: ``"reduced"`` (≤ 600 points, seconds) or ``"full"`` (the authors' data sizes).
        seed: seeds the data and the initial controls.
        progress: show a progress bar (keep False in notebooks: it writes to stderr).
        compiled: train on the fused objective of ``ltdl.compiled`` (compiled by torch.compile
            where a C++ compiler is found, else run eagerly). Its gradients equal the default
            path's up to rounding, so a long L-BFGS run can take a different path to the same
            minimiser; every returned number is evaluated on the default path. Off by default.
        overrides: replace fields of the spec (e.g. ``P_bias=(3.9044,)``) for a variant.

    Returns:
        An :class:`~ltdl.example_runs.ExampleRun` (numbers, curves over the layers, trajectories, the spec).
    """
    spec = get_example(name)
    if overrides:
        known = {f.name for f in dataclasses.fields(ExampleSpec)} - {"name"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"overrides must be fields of ExampleSpec {sorted(known)}, got {unknown}")
        spec = dataclasses.replace(spec, **overrides)
    size = _SIZE_ALIASES.get(size, size)
    _checks.choice("size", size, SIZES)
    train_set, test_set = example_data(spec, size=size, seed=seed)
    problem = example_problem(spec, train_set)
    u0 = problem.init_controls(kind="normal", scale=spec.init_scale, seed=seed)
    used, n_calls, wall, u = 0, 0, 0.0, u0
    fit = problem
    if compiled:
        from .compiled import maybe_compile

        fit = maybe_compile(problem)
    while True:
        res = train(
            fit,
            u,
            optimizer=spec.optimizer,
            max_iter=spec.iters[size] - used,
            lr=spec.lr,
            progress=progress,
            desc=f"{spec.label} ({size})",
        )
        used, n_calls, wall, u = used + res.n_iter, n_calls + 1, wall + res.wall_time, res.controls
        if (
            spec.optimizer != "lbfgs"
            or res.certificate.grad_max <= spec.grad_tol
            or used >= spec.iters[size]
            or res.n_iter == 0
        ):
            break
    min_eig = None
    if spec.newton:  # polish to a certificate; evaluated on the default (uncompiled) objective
        res = train_newton(problem, res.controls, lbfgs_iter=0, tol_grad=NEWTON_TOL)
        used, wall, min_eig = used + res.n_iter, wall + res.wall_time, res.certificate.min_eig
    traj = res.trajectory
    field: Field = problem.field
    u = res.controls
    P = problem.P
    with torch.no_grad():
        test_traj = flow(field, test_set.x, u, spec.T)
        test_labels = _labels(spec, test_set)
        test_risk = risk(test_traj[-1], test_labels, P, problem.loss)
        train_acc = (classify(spec, traj[-1]) == _class_ids(train_set)).to(traj.dtype).mean()
        test_acc = (classify(spec, test_traj[-1]) == _class_ids(test_set)).to(traj.dtype).mean()
        late = (traj[-1] - states_at(traj, spec.T, [spec.T / 2])[0]).norm(dim=-1).mean()
        dist = None
        if problem.x_bar is not None:
            dist = _curve((traj - problem.x_bar).norm(dim=-1).mean(-1))
        out = ExampleRun(
            name=spec.name,
            label=spec.label,
            size=size,
            seed=seed,
            T=spec.T,
            K=spec.K,
            n_train=len(train_set),
            n_test=len(test_set),
            train_accuracy=float(train_acc),
            test_accuracy=float(test_acc),
            final_risk=float(res.terms["E_T"]),
            test_risk=float(test_risk),
            objective=float(res.value),
            terms={k: float(v) for k, v in res.terms.items()},
            n_iter=used,
            n_calls=n_calls,
            wall_time=wall,
            grad_max=res.certificate.grad_max,
            times=[spec.dt * k for k in range(spec.K + 1)],
            risk_curve=_curve(problem.risk_curve(traj)),
            accuracy_curve=_curve((classify(spec, traj) == _class_ids(train_set)).to(traj.dtype).mean(-1)),
            state_norms=_curve((traj**2).sum(-1).mean(-1)),
            output_norms=_curve((P(traj) ** 2).sum(-1).mean(-1)),
            target_distance=dist,
            displacement=_curve((traj - traj[-1]).norm(dim=-1).mean(-1)),
            late_motion=float(late),
            late_fraction=float(late / (traj[-1] - traj[0]).norm(dim=-1).mean()),
            class_means=[traj[-1][train_set.classes == k].mean(0).tolist() for k in range(spec.n_classes)],
            control_norms=_curve(squared_norms(u, field, problem.d).sqrt()),
            trajectory=traj,
            test_trajectory=test_traj,
            controls=u,
            x_bar=problem.x_bar,
            train_x=train_set.x,
            train_classes=_class_ids(train_set),
            test_x=test_set.x,
            test_classes=_class_ids(test_set),
            spec=spec,
            min_eig=min_eig,
        )
    return out


# ---------------------------------------------------------------------------------------------
# What the chapter measures on a run: the same functions give its glued numbers and the
# ``measures`` entry that ``ltdl run`` writes.

Measures = dict[str, float | bool]


def rms_radius(states: Tensor) -> float:
    """Root-mean-square radius ((1/N) Σ |x_i|²)^½ of states ``(N, d)``."""
    return float((states**2).sum(1).mean().sqrt())


def turnpike_measures(run: ExampleRun) -> Measures:
    """The turnpike of a run with tracking targets x̄ (Example 4.1).

    ``r_star`` = artanh(c)/|a| (P x = a·x + c0, labels ±c): within r* of its target a point is
    classified by P alone, since |P x − P x̄| ≤ |a| |x − x̄| < artanh c = |P x̄ − c0|.
    ``t_reach``: the first layer time from which max_i |x_i(t_k) − x̄_i| ≤ r* at every later
    layer (inf if never). From layer k_reach = t_reach/Δt on: ``E_reach`` and ``E_T`` (training
    error at t_reach and T), ``u_reach`` and ``u_last`` (‖u_k‖ at k_reach and at K−1),
    ``u_decreasing`` (‖u_k‖ strictly decreasing), ``norm_change`` (max_k |s_k/s_K − 1| for
    s_k = (1/N) Σ |x_i(t_k)|²). Always: ``dist_T`` (mean distance to x̄ at T), ``late``
    (:attr:`ExampleRun.late_motion`), ``u_max`` (max_k ‖u_k‖).
    """
    if run.x_bar is None or run.target_distance is None:
        raise ValueError(f"run must have tracking targets (x_bar), got a run of {run.name!r} without")
    spec = run.spec
    r_star = math.atanh(cast(float, spec.label_scale)) / math.hypot(*spec.P_matrix[0])  # tanh_mse: c is set
    dmax = (run.trajectory - run.x_bar).norm(dim=-1).amax(-1).tolist()
    t_reach = time_to_reach(run.times, dmax, r_star)
    out: Measures = {
        "r_star": r_star,
        "t_reach": t_reach,
        "dist_T": run.target_distance[-1],
        "late": run.late_motion,
        "u_max": max(run.control_norms),
    }
    if math.isfinite(t_reach):
        k0 = round(t_reach / spec.dt)
        u_after, sn_after = run.control_norms[k0:], run.state_norms[k0:]
        out.update(
            E_reach=run.risk_curve[k0],
            E_T=run.risk_curve[-1],
            u_reach=u_after[0],
            u_last=u_after[-1],
            u_decreasing=all(b < a for a, b in zip(u_after, u_after[1:], strict=False)),
            norm_change=max(abs(s / sn_after[-1] - 1) for s in sn_after),
        )
    return out


def drift_measures(run: ExampleRun, *, E_tol: float = 0.05) -> Measures:
    """Early separation and outward drift (Example 4.2).

    ``t_small``: the first layer time from which E(x(t_k)) ≤ ``E_tol`` (cross-entropy: the
    geometric mean of the probability of the correct class is then ≥ exp(−E_tol)).
    ``radius_half``, ``radius_T``: :func:`rms_radius` at T/2 (on the Euler polygon) and T;
    ``radius_ratio`` = radius_T / radius_half; ``radius_growing``: the rms radius grows at every
    layer from K//2 on.
    """
    _checks.positive("E_tol", E_tol)
    x_half, x_T = states_at(run.trajectory, run.T, [run.T / 2, run.T])
    R_half, R_T = rms_radius(x_half), rms_radius(x_T)
    radii = [s**0.5 for s in run.state_norms[run.K // 2 :]]
    return {
        "t_small": time_to_reach(run.times, run.risk_curve, E_tol),
        "radius_half": R_half,
        "radius_T": R_T,
        "radius_ratio": R_T / R_half,
        "radius_growing": all(b > a for a, b in zip(radii, radii[1:], strict=False)),
    }


def xor_measures(run: ExampleRun) -> Measures:
    """Linear separability made by the flow (Example 4.3).

    ``acc_0``, ``acc_T``: training accuracy of P at t = 0 and T. ``margin``: along
    d = (1, 1)/√2, min over class 0 of d·x_i(T) minus max over class 1 (> 0 when a line
    orthogonal to d separates the features). ``radius_T``: :func:`rms_radius` at T.
    """
    xT, cls = run.trajectory[-1], run.train_classes
    proj = xT @ (torch.tensor([1.0, 1.0], dtype=xT.dtype) / 2**0.5)
    return {
        "acc_0": run.accuracy_curve[0],
        "acc_T": run.accuracy_curve[-1],
        "margin": float(proj[cls == 0].min() - proj[cls == 1].max()),
        "radius_T": rms_radius(xT),
    }


def measures(run: ExampleRun) -> Measures:
    """The chapter's measures of a run: :func:`turnpike_measures` with tracking targets,
    :func:`drift_measures` on tricolor, :func:`xor_measures` on XOR, and always ``rho``
    (:attr:`ExampleRun.late_fraction`, the late-motion fraction)."""
    out: Measures = {"rho": run.late_fraction}
    if run.x_bar is not None:
        out.update(turnpike_measures(run))
    elif run.spec.dataset == "tricolor":
        out.update(drift_measures(run))
    elif run.spec.dataset == "xor":
        out.update(xor_measures(run))
    return out


# ---------------------------------------------------------------------------------------------
# Drawing the results of run_example (the authors' plot types). Nothing here computes a number
