"""One optimal-control problem: data + field + output map + cost = an objective J(u).

    J(u) = α E(x(T)) + β ∫_0^T E(x(t)) dt + γ_tr ∫_0^T (1/N) Σ|x_i − x̄_i|² dt + λ ‖u‖²

with E the empirical risk through P, α = ``final_weight``, the running terms by the
trapezoid rule and the penalty ``"l2"`` or ``"h1"`` (see :mod:`ltdl.costs`). ERM is β = 0
and no x̄. T and λ may be ``(S,)`` tensors: S independent problems
solved as one (a sweep); then every term has shape ``(S,)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import _checks
from .controls import init_controls
from .costs import Loss, OutputMap, check_labels, control_penalty, risk, tracking_cost, trapezoid
from .fields import Controls, Field
from .flows import METHODS, check_states, flow

_MSE = Loss()  # the default loss (a frozen dataclass, safe to share)


class Problem:
    """The discretised problem on K steps of size T/K (keyword-only options).

    Args:
        field: vector field f(x, u).
        x: inputs, shape ``(N, d)``.
        y: labels, ``(N, m)`` (or ``(N,)`` classes for cross-entropy).
        T: final time > 0 (number, or ``(S,)`` tensor for a batch of problems).
        K: number of steps = layers.
        lam: λ >= 0, weight of the control penalty (number or ``(S,)`` tensor).
        P: output map (identity on R^d when None).
        loss: pointwise loss ℓ.
        penalty: ``"l2"`` or ``"h1"``.
        beta: weight β >= 0 of the integral risk ∫ E dt.
        x_bar: running target x̄, shape ``(N, d)`` (needs ``tracking_weight`` > 0).
        tracking_weight: weight of the tracking term.
        final_weight: weight α >= 0 of the final risk E(x(T)).
        method: integrator (``"euler"`` is the ResNet).
    """

    def __init__(
        self,
        field: Field,
        x: Tensor,
        y: Tensor,
        *,
        T: float | Tensor,
        K: int,
        lam: float | Tensor,
        P: OutputMap | None = None,
        loss: Loss = _MSE,
        penalty: str = "l2",
        beta: float = 0.0,
        x_bar: Tensor | None = None,
        tracking_weight: float = 0.0,
        final_weight: float = 1.0,
        method: str = "euler",
    ) -> None:
        # Objects first, with a hint to the right constructor (a string is a common slip).
        _checks.instance("field", field, Field, "ltdl.make_field('outer') or ltdl.Outer()")
        _checks.instance("loss", loss, Loss, "ltdl.Loss('mse')")
        if P is not None:
            _checks.instance("P", P, OutputMap, "ltdl.OutputMap(A) for a matrix A of shape (m, d)")
        d = check_states("x", x)
        if x.ndim != 2:
            raise ValueError(f"x must have shape (N, d), got {tuple(x.shape)}")
        if x.shape[0] == 0:
            raise ValueError(f"x must hold at least one point (N >= 1), got shape {tuple(x.shape)}")
        if not isinstance(y, Tensor):
            raise _checks.ArgumentTypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        _checks.like("y", y, "x", x, dtype=False)
        check_labels(y, x.shape[0], loss)
        _checks.positive("T", T)
        _checks.integer("K", K)
        _checks.nonnegative("lam", lam)
        _checks.nonnegative("beta", beta)
        _checks.nonnegative("tracking_weight", tracking_weight)
        _checks.nonnegative("final_weight", final_weight)
        _checks.choice("penalty", penalty, ("l2", "h1"))
        _checks.choice("method", method, METHODS)
        # Identity on R^d, on the data's device (OutputMap.identity builds it on the CPU).
        P = OutputMap(torch.eye(d, dtype=x.dtype, device=x.device)) if P is None else P
        _checks.like("P.A", P.A, "x", x)
        _checks.like("P.c", P.c, "x", x)
        if P.A.shape[1] != d:
            raise ValueError(f"P must map R^{d} (A of shape (m, {d})), got A of shape {tuple(P.A.shape)}")
        if loss.name not in ("cross_entropy",) and y.shape[-1] != P.m:
            raise ValueError(f"y must have m={P.m} columns to match P, got shape {tuple(y.shape)}")
        if loss.name == "cross_entropy" and y.device.type != "meta":
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= P.m:
                raise ValueError(
                    f"y must hold class ids in 0..{P.m - 1} for cross_entropy with P of "
                    f"{P.m} outputs, got ids from {lo} to {hi}"
                )
        if (x_bar is None) != (tracking_weight == 0):
            raise ValueError(
                "x_bar and tracking_weight must be given together (x_bar of shape (N, d), tracking_weight > 0)"
            )
        if x_bar is not None:
            _checks.tensor("x_bar", x_bar, ndim=2)
            _checks.like("x_bar", x_bar, "x", x)
            if x_bar.shape != x.shape:
                raise ValueError(f"x_bar must have the shape of x {tuple(x.shape)}, got {tuple(x_bar.shape)}")
        self.field, self.x, self.y, self.P, self.loss = field, x, y, P, loss
        self.T, self.K, self.lam, self.penalty = T, K, lam, penalty
        self.beta, self.x_bar, self.tracking_weight = beta, x_bar, tracking_weight
        self.final_weight, self.method = final_weight, method

    @property
    def d(self) -> int:
        """The state dimension d (last axis of ``x``)."""
        return self.x.shape[-1]

    @property
    def batch(self) -> tuple[int, ...]:
        """The leading batch shape of a sweep, ``(S,)`` when T or λ is a tensor, else ``()``."""
        shapes = [tuple(v.shape) for v in (self.T, self.lam) if isinstance(v, Tensor)]
        return tuple(torch.broadcast_shapes(*shapes)) if shapes else ()  # type: ignore[no-untyped-call]

    def check_controls(self, u: Controls, name: str = "u") -> None:
        """Cheap entry check of controls: a dict of tensors with the dtype and device of x."""
        if not isinstance(u, dict):
            raise _checks.ArgumentTypeError(
                f"{name} must be a dict of control tensors (build one with problem.init_controls()), "
                f"got {type(u).__name__}"
            )
        for key, t in u.items():
            if not isinstance(t, Tensor):
                raise _checks.ArgumentTypeError(f"{name}[{key!r}] must be a torch.Tensor, got {type(t).__name__}")
            _checks.like(f"{name}[{key!r}]", t, "x", self.x)

    def init_controls(
        self, *, kind: str = "zero", scale: float = 0.01, seed: int | None = None, zero: tuple[str, ...] = ()
    ) -> Controls:
        """Controls of the right shapes, dtype and device (see :func:`ltdl.init_controls`)."""
        return init_controls(
            self.field,
            self.d,
            self.K,
            kind=kind,
            scale=scale,
            seed=seed,
            zero=zero,
            batch=self.batch,
            dtype=self.x.dtype,
            device=self.x.device,
        )

    def trajectory(self, u: Controls) -> Tensor:
        """x^0..x^K, shape ``(K+1, *batch, N, d)``."""
        self.check_controls(u)
        x0 = self.x.expand(*self.batch, *self.x.shape)
        return flow(self.field, x0, u, self.T, method=self.method, K=self.K)

    def risk_curve(self, traj: Tensor) -> Tensor:
        """E(x(t_k)) for k = 0..K, shape ``(K+1, *batch)``."""
        return risk(traj, self.y, self.P, self.loss)

    def terms(self, u: Controls, traj: Tensor | None = None) -> dict[str, Tensor]:
        """Each term of J (weights included) and their sum ``"J"``; also ``"E_T"`` unweighted."""
        traj = self.trajectory(u) if traj is None else traj
        # Without the integral term only E(x(T)) enters J: evaluate the loss at the last layer alone.
        curve = self.risk_curve(traj if self.beta > 0 else traj[-1:])
        out = {"E_T": curve[-1], "final": self.final_weight * curve[-1]}
        if self.beta > 0:
            out["integral"] = self.beta * trapezoid(curve, self.T)
        if self.x_bar is not None:
            out["tracking"] = self.tracking_weight * tracking_cost(traj, self.x_bar, self.T)
        out["penalty"] = control_penalty(u, self.field, self.d, self.T, self.lam, kind=self.penalty)
        if self.P.trainable and self.P.gamma > 0:
            out["P_penalty"] = self.P.penalty()
        total = out["final"]  # then the other terms, left to right (as sum() would)
        for k, v in out.items():
            if k not in ("E_T", "final"):
                total = total + v
        out["J"] = total
        return out

    def objective(self, u: Controls) -> Tensor:
        """J(u), shape ``(*batch,)``."""
        return self.terms(u)["J"]
