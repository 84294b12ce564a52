"""Sweeps in T, λ or ε = λ/T: many ERM problems on one data set, solved one after another with
warm starts, or all at once as a batch.

Two ways to run a sweep over the parameter pairs (T_s, λ_s), s = 0..S−1:

* ``mode="chain"`` (the reference runs of R2–R4): one L-BFGS call per pair, in the given order,
  each started from the previous optimum moved by the R1 rescaling. The rescaled control
  v(s) = T u(Ts) is the natural unknown (the book's result R1), so the warm start keeps v fixed:
  u_start = u_prev · T_prev / T. For a λ-sweep at fixed T the factor is 1.
* ``mode="batch"``: one :class:`ltdl.Problem` whose T and λ are ``(S,)`` tensors, i.e. S
  independent problems trained as one (the sum of their objectives, whose gradient is blockwise).
  No information flows between the problems; every one starts from the same ``u0``.

The result, :class:`Sweep`, keeps the optimal controls of every problem and the usual
measurements: E_T, J_T, ‖v_T‖²_{L²(0,1)} = T ‖u_T‖²_{L²(0,T)}, the distances between
consecutive rescaled controls, and the sign accuracy of a classifier on any point set.

:func:`reference_sweep` is the one protocol of the reference runs (chapters 03 and 04, and
``ltdl run erm-sweep``): the zero-weight start, L-BFGS to rounding level, two Newton steps.
:func:`certified_distance` turns their second-order certificates into a bound on the distance
to the exact minimisers.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from . import _checks
from .controls import detach, init_controls, num_layers, scale_controls, squared_norms
from .costs import Loss, OutputMap
from .fields import Controls, Field
from .flows import flow
from .optim import Certificate, gradient, train, train_newton
from .problem import Problem

MODES = ("chain", "batch")
_MSE = Loss()  # the default loss (immutable)


def warm_start(u: Controls, T_from, T_to) -> Controls:
    """The R1 warm start: controls for horizon ``T_to`` with the same rescaled control v as ``u``.

    Returns u · T_from / T_to (v = T u is unchanged), shapes as ``u``.
    """
    _checks.positive("T_from", T_from)
    _checks.positive("T_to", T_to)
    return scale_controls(detach(u), T_from / T_to)


def _as_grid(name: str, value) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    a = np.atleast_1d(np.asarray(value, dtype=float))
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence, got shape {a.shape}")
    return a


@dataclass
class Sweep:
    """Results of :func:`sweep`, one entry per problem s = 0..S−1.

    Attributes:
        T, lam: the parameters, arrays ``(S,)``.
        K: number of layers (the same for all problems).
        field: the vector field; ``d``: the state dimension.
        controls: optimal controls u_T of each problem on [0, T_s], each a dict of
            tensors ``(K, ...)``.
        E: final training error E(x(T)), ``(S,)``.
        J: optimal value of J, ``(S,)``.
        n_iter: L-BFGS iterations per problem (for ``batch``: the one shared count).
        grad: the max-abs entry of ∂J/∂v at the returned controls, in the unit-time form
            :math:`J_{1,ε}(v)`, ``(S,)`` (the optimality reached; comparable across T because it is taken in v).
        mode: ``"chain"`` or ``"batch"``; ``wall_time``: seconds in total.
    """

    T: np.ndarray
    lam: np.ndarray
    K: int
    field: Field
    d: int
    controls: list[Controls]
    E: np.ndarray
    J: np.ndarray
    n_iter: np.ndarray
    grad: np.ndarray
    mode: str
    wall_time: float

    def __len__(self) -> int:
        return self.T.size

    @property
    def eps(self) -> np.ndarray:
        """ε = λ/T, the only parameter of the problem (R1)."""
        return self.lam / self.T

    def v(self, i: int) -> Controls:
        """Rescaled control v_T = T u_T of problem ``i`` on the unit-time grid (tensors ``(K, ...)``)."""
        return scale_controls(self.controls[i], float(self.T[i]))

    def v_stacked(self) -> Controls:
        """All rescaled controls stacked: tensors ``(S, K, ...)``."""
        return {n: torch.stack([self.v(i)[n] for i in range(len(self))]) for n in self.controls[0]}

    @property
    def v_norm_sq(self) -> np.ndarray:
        """:math:`‖v_T‖²_{L²(0,1)} = (1/K) Σ_k ‖v_k‖² = T ‖u_T‖²_{L²(0,T)}`, shape ``(S,)``."""
        return np.array([float(squared_norms(self.v(i), self.field, self.d).mean()) for i in range(len(self))])

    def v_profile(self, i: int) -> Tensor:
        """‖v_T(s_k)‖ on the K unit-time intervals, shape ``(K,)`` (the collapse plot)."""
        return squared_norms(self.v(i), self.field, self.d).sqrt()

    def distance(self, i: int, j: int) -> float:
        """:math:`‖v_{T_i} − v_{T_j}‖_{L²(0,1)}`."""
        vi, vj = self.v(i), self.v(j)
        diff = {n: vi[n] - vj[n] for n in vi}
        return float(squared_norms(diff, self.field, self.d).mean().sqrt())

    def cauchy_differences(self) -> np.ndarray:
        """:math:`‖v_{s+1} − v_s‖_{L²(0,1)}` for consecutive problems, shape ``(S−1,)``."""
        return np.array([self.distance(i + 1, i) for i in range(len(self) - 1)])

    @property
    def n_controls(self) -> int:
        """Number of scalar controls of one problem (all K layers)."""
        return sum(t.numel() for t in self.controls[0].values())

    def accuracy(self, x: Tensor, y: Tensor, *, P: OutputMap | None = None) -> np.ndarray:
        """Sign accuracy of each trained network on the points ``x`` ``(N, d)`` with labels ±1.

        Problem s maps x_i to the output o_i = P x_i(T_s) (``x`` run through the flow of its
        controls); the accuracy is (1/N) Σ_i 1[sign(o_i) = y_i], over every output entry.

        Args:
            x: inputs ``(N, d)`` (e.g. a test set, not the training data).
            y: labels ±1, shaped like the outputs ``(N, m)``.
            P: the output map the sweep was trained with (None: the identity).

        Returns:
            Accuracies in [0, 1], shape ``(S,)``.
        """
        out = []
        for s in range(len(self)):
            with torch.no_grad():
                final = flow(self.field, x, self.controls[s], float(self.T[s]))[-1]
                pred = final if P is None else P(final)
            if pred.shape != y.shape:
                raise ValueError(f"y must have the shape of the outputs {tuple(pred.shape)}, got {tuple(y.shape)}")
            out.append(float((torch.sign(pred) == y).double().mean()))
        return np.array(out)


# What sweep passes on to ltdl.train: every option but those the sweep sets itself.
_TRAIN_OPTIONS = set(inspect.signature(train).parameters) - {"problem", "u0", "progress", "desc"}


def sweep(
    field: Field,
    x: Tensor,
    y: Tensor,
    *,
    T,
    lam,
    K: int,
    P: OutputMap | None = None,
    loss: Loss = _MSE,
    u0: Controls | None = None,
    mode: str = "chain",
    newton_steps: int = 0,
    progress: bool = False,
    desc: str | None = None,
    compiled: bool = False,
    **train_options: Any,
) -> Sweep:
    """Solve the L²-regularised ERM problem for each pair (T_s, λ_s).

    Args:
        field, x, y, K, P, loss: as in :class:`ltdl.Problem` (P fixed; penalty ``"l2"``).
        T: final times, a number or a sequence ``(S,)``; broadcast against ``lam``.
        lam: penalty weights λ, a number or a sequence ``(S,)``.
        u0: starting controls for the first problem (``chain``) or for every problem
            (``batch``), tensors ``(K, ...)`` in t-form for the horizon T_0; zeros when None.
        mode: ``"chain"`` (sequential, warm-started by the R1 rescaling) or ``"batch"``
            (all problems as one batched L-BFGS run).
        train_options: options of :func:`ltdl.train` for each first-order run (per problem for
            ``chain``), with its defaults and meanings: ``max_iter``, ``tol_grad`` (the max-abs
            entry of ∂J/∂u at which L-BFGS stops), ``tol_change``, ``history_size``, ``restarts``, …
        newton_steps: after each L-BFGS run (``chain`` only), exactly this many damped Newton
            steps of :func:`ltdl.train_newton` (``tol_grad=0``: a polish to rounding level,
            not stopped by ``tol_grad``), with the exact Hessian (meant for small problems, a
            few hundred controls). L-BFGS stops when J no longer changes in floating point,
            which for the ill-conditioned small-ε problems leaves v accurate to only ~1e-6;
            Newton steps use the gradient alone and bring it to rounding level.
        progress: a tqdm bar over the problems (``chain``) or the evaluations (``batch``).
        compiled: run L-BFGS on the fused objective of ``ltdl.compiled`` (compiled by
            torch.compile where a C++ compiler is found). Gradients equal the default path's up to
            rounding, so L-BFGS may take a different path to the same minimiser; Newton polishing,
            the reported values and the optimality measure use the default path. Off by default.

    Returns:
        A :class:`Sweep`.
    """
    _checks.choice("mode", mode, MODES)
    _checks.integer("K", K)
    unknown = set(train_options) - _TRAIN_OPTIONS
    if unknown:
        raise TypeError(f"sweep got unknown options {sorted(unknown)}; options of ltdl.train: {sorted(_TRAIN_OPTIONS)}")
    Ts, lams = _as_grid("T", T), _as_grid("lam", lam)
    try:
        Ts, lams = np.broadcast_arrays(Ts, lams)
    except ValueError:
        raise ValueError(f"T and lam must have the same length or length 1, got {Ts.size} and {lams.size}") from None
    Ts, lams = Ts.copy(), lams.copy()
    if not (np.all(np.isfinite(Ts)) and np.all(Ts > 0)):
        raise ValueError(f"T must be finite and > 0, got {Ts}")
    if not (np.all(np.isfinite(lams)) and np.all(lams >= 0)):
        raise ValueError(f"lam must be finite and >= 0, got {lams}")
    if P is not None and P.trainable:
        raise ValueError("P must be fixed (trainable=False): a trained P breaks the R1 rescaling")
    d = x.shape[-1] if isinstance(x, Tensor) and x.ndim == 2 else None
    if d is None:
        raise ValueError(f"x must be a tensor of shape (N, d), got {getattr(x, 'shape', type(x).__name__)}")
    if u0 is not None:
        if num_layers(u0, field, d) != K:
            raise ValueError(f"u0 must have K={K} layers")
        for name, t in u0.items():
            if t.ndim != len(field.shapes(d)[name]) + 1:
                raise ValueError(
                    f"u0[{name!r}] must have shape (K, ...) without a batch dimension, got {tuple(t.shape)}"
                )
    _checks.integer("newton_steps", newton_steps, minimum=0)
    if newton_steps and mode == "batch":
        raise ValueError("newton_steps must be 0 for mode='batch' (Newton polishing runs per problem)")
    opts = train_options
    start = time.perf_counter()
    if mode == "chain":
        from tqdm.auto import tqdm

        controls, E, J, n_iter, grads = [], [], [], [], []
        u = u0
        T_prev = float(Ts[0])
        for T_s, lam_s in tqdm(list(zip(Ts, lams, strict=True)), disable=not progress, desc=desc, leave=False):
            T_s, lam_s = float(T_s), float(lam_s)
            prob = Problem(field, x, y, T=T_s, K=K, lam=lam_s, P=P, loss=loss)
            start_u = None if u is None else warm_start(u, T_prev, T_s)
            res = train(_fit(prob, compiled), start_u, **opts)
            if newton_steps:
                u_s = train_newton(prob, res.controls, lbfgs_iter=0, tol_grad=0.0, max_steps=newton_steps).controls
            else:
                u_s = res.controls
            with torch.no_grad():
                terms = prob.terms(u_s)
            u, T_prev = u_s, T_s
            controls.append(u_s)
            E.append(float(terms["E_T"]))
            J.append(float(terms["J"]))
            n_iter.append(res.n_iter)
            grads.append(_grad_max(prob, u_s) / T_s)
    else:
        S = Ts.size
        T_t = torch.as_tensor(Ts, dtype=x.dtype)
        lam_t = torch.as_tensor(lams, dtype=x.dtype)
        prob = Problem(field, x, y, T=T_t, K=K, lam=lam_t, P=P, loss=loss)
        start_u = None if u0 is None else {n: t.expand(S, *t.shape).clone() for n, t in u0.items()}
        res = train(_fit(prob, compiled), start_u, progress=progress, desc=desc, **opts)
        controls = [{n: t[s].clone() for n, t in res.controls.items()} for s in range(S)]
        E = res.terms["E_T"].tolist()
        J = res.terms["J"].tolist()
        n_iter = [res.n_iter] * S
        g = gradient(prob, res.controls)
        grads = [max(float(t[s].abs().max()) for t in g.values()) / Ts[s] for s in range(S)]
    return Sweep(
        Ts,
        lams,
        K,
        field,
        d,
        controls,
        np.array(E),
        np.array(J),
        np.array(n_iter),
        np.array(grads),
        mode,
        time.perf_counter() - start,
    )


def reference_sweep(field: Field, x: Tensor, y: Tensor, *, seed: int = 0, **options: Any) -> Sweep:
    """The reference runs of R2–R4 (chapters 03 and 04, ``ltdl run erm-sweep``): one protocol.

    :func:`sweep` in ``chain`` mode from the zero-weight start (the weight ``w``, when the field
    has one, starts at 0; every other control i.i.d. N(0, 0.01²), drawn with ``seed``), each
    problem solved by L-BFGS with ``tol_grad=1e-15`` (it stops when J no longer changes in
    floating point) and then polished by exactly two Newton steps (``newton_steps=2``), which
    bring the gradient to rounding level.

    Args:
        field, x, y: as in :func:`sweep`.
        seed: seed of the random start.
        options: the other arguments of :func:`sweep` that the protocol leaves free: ``T``,
            ``lam``, ``K`` (required), ``P``, ``loss``, ``max_iter`` (L-BFGS iterations per
            problem), ``progress``, ``desc``.

    Returns:
        A :class:`Sweep` (certify it with ``ltdl.diagnostics.certify_sweep`` and
        :func:`certified_distance`).
    """
    d = x.shape[-1] if isinstance(x, Tensor) and x.ndim == 2 else None
    if d is None:
        raise ValueError(f"x must be a tensor of shape (N, d), got {getattr(x, 'shape', type(x).__name__)}")
    fixed = {"u0", "mode", "tol_grad", "tol_change", "history_size", "newton_steps", "compiled"} & set(options)
    if fixed:
        raise TypeError(f"reference_sweep fixes {sorted(fixed)} (its protocol); call ltdl.sweep to choose them")
    if "K" not in options:
        raise TypeError("reference_sweep needs K (the number of layers)")
    zero = ("w",) if "w" in field.shapes(d) else ()
    u0 = init_controls(field, d, options["K"], kind="normal", scale=0.01, seed=seed, zero=zero, dtype=x.dtype)
    return sweep(field, x, y, u0=u0, newton_steps=2, tol_grad=1e-15, **options)


def certified_distance(sw: Sweep, certificates: list[Certificate]) -> float:
    """Bound on the distance of every solve of ``sw`` to an exact strict local minimiser.

    For problem s with a Newton certificate in the unit-time form (``ltdl.diagnostics.certify_sweep``:
    g_s = the max-abs entry of ∂J/∂v, μ_s = smallest Hessian eigenvalue > 0), the Newton step
    from v_s has Euclidean length ≤ ‖∇J‖₂/μ_s ≤ √n g_s/μ_s (n = :attr:`Sweep.n_controls`);
    up to the Hessian's variation over that step, this is the distance to the minimiser.

    Returns:
        max_s √n g_s/μ_s; ``inf`` when some μ_s ≤ 0 (no strict minimum is certified).
    """
    if len(certificates) != len(sw):
        raise ValueError(f"certificates must have one entry per problem ({len(sw)}), got {len(certificates)}")
    if any(c.min_eig is None for c in certificates):
        raise ValueError("certificates must be Newton certificates (min_eig set): use ltdl.diagnostics.certify_sweep")
    mins = [float(cast(float, c.min_eig)) for c in certificates]
    if min(mins) <= 0:
        return math.inf
    return max(sw.n_controls**0.5 * c.grad_max / m for c, m in zip(certificates, mins, strict=True))


def _fit(prob: Problem, compiled: bool) -> Problem:
    """The problem L-BFGS minimises: ``prob`` itself, or its fused version (:mod:`ltdl.compiled`)."""
    if not compiled:
        return prob
    from .compiled import maybe_compile

    return maybe_compile(prob)


def _grad_max(prob: Problem, u: Controls) -> float:
    """max |∂J/∂u| (t-form); ∂J/∂v = (∂J/∂u)/T."""
    return max(float(t.abs().max()) for t in gradient(prob, u).values())


def doubling(start: float, stop: float) -> list[float]:
    """start, 2·start, 4·start, … up to ``stop`` (inclusive): the usual T grid of a sweep."""
    _checks.positive("start", start)
    _checks.positive("stop", stop)
    if stop < start:
        raise ValueError(f"stop must be >= start={start}, got {stop}")
    out = [float(start)]
    while out[-1] * 2 <= stop * (1 + 1e-12):
        out.append(out[-1] * 2)
    return out


__all__ = ["Sweep", "certified_distance", "doubling", "reference_sweep", "sweep", "warm_start"]
