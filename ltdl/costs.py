"""Costs on the Euler grid: output map, losses, risk, control penalties, running costs.

Every running cost uses the trapezoid rule on t_k = k T/K and every penalty carries its Δt,
so refining K changes a cost only by discretisation error (unlike a plain sum over layers).

Conventions: the empirical risk is E(x) = (1/N) Σ_i loss(P x_i, y_i);
``mse`` is |P x_i − y_i|² summed over output components (not divided by m).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor

from . import _checks
from .controls import squared_norms
from .fields import Controls, Field

LOSSES = ("mse", "lp", "smooth_l2", "tanh_mse", "cross_entropy", "logistic")


class OutputMap:
    """The affine output map P x = A x + c, with A of shape ``(m, d)`` and c of shape ``(m,)``.

    P is *given* (not trained) unless ``trainable=True``; then ``gamma`` weights its penalty
    γ (‖A‖_F² + ‖c‖²) in the objective.
    """

    def __init__(self, A: Tensor, c: Tensor | None = None, *, trainable: bool = False, gamma: float = 0.0) -> None:
        _checks.tensor("A", A, ndim=2)
        if c is None:
            c = torch.zeros(A.shape[0], dtype=A.dtype, device=A.device)
        _checks.tensor("c", c, ndim=1)
        _checks.like("c", c, "A", A)
        if c.shape[0] != A.shape[0]:
            raise ValueError(f"c must have shape ({A.shape[0]},) to match A, got {tuple(c.shape)}")
        _checks.nonnegative("gamma", gamma)
        if gamma > 0 and not trainable:
            raise ValueError("gamma must be 0 when trainable=False (a fixed P pays no penalty)")
        self.A, self.c, self.trainable, self.gamma = A, c, trainable, gamma

    @classmethod
    def identity(cls, d: int, *, dtype: torch.dtype = torch.float64) -> OutputMap:
        """P = I on R^d."""
        _checks.integer("d", d)
        return cls(torch.eye(d, dtype=dtype))

    @property
    def m(self) -> int:
        """The output dimension m (rows of A)."""
        return self.A.shape[0]

    def __call__(self, x: Tensor) -> Tensor:
        """P x for states ``(..., N, d)``; returns ``(..., N, m)``."""
        return x @ self.A.transpose(-1, -2) + self.c

    def penalty(self) -> Tensor:
        """γ (‖A‖_F² + ‖c‖²), a scalar tensor (0 when ``gamma`` is 0)."""
        return self.gamma * ((self.A**2).sum() + (self.c**2).sum())


@dataclass(frozen=True)
class Loss:
    """A pointwise loss ℓ(z, y) between a prediction z = P x and a label y.

    * ``mse``:       ‖z − y‖²
    * ``lp``:        ‖z − y‖_p ** power (an ℓᵖ distance, or a power of it)
    * ``smooth_l2``: sqrt(‖z − y‖² + δ²) − δ, a smoothed non-squared distance
    * ``tanh_mse``:  ‖tanh z − y‖² (the authors' choice; minimum not attained for y = ±1)
    * ``cross_entropy``: −log softmax(z)_y, y an integer class (minimum not attained)
    * ``logistic``:  log(1 + exp(−y z)), y = ±1, m = 1 (minimum not attained)
    """

    name: str = "mse"
    p: float = 2.0
    power: float = 1.0
    delta: float = 1e-3

    def __post_init__(self) -> None:
        _checks.choice("loss", self.name, LOSSES)
        _checks._number("p", self.p)  # a number (ℓ^∞ allowed), not a bool or a string
        if not (self.p >= 1):
            raise ValueError(f"p must be a number >= 1, got {self.p!r}")
        _checks.positive("power", self.power)
        _checks.positive("delta", self.delta)

    def __call__(self, z: Tensor, y: Tensor) -> Tensor:
        """Per-point loss: z ``(..., N, m)``, y ``(N, m)`` (or ``(N,)`` class ids); returns ``(..., N)``."""
        if self.name == "cross_entropy":
            logp = torch.log_softmax(z, dim=-1)
            idx = y.long().expand(*z.shape[:-1]).unsqueeze(-1)
            return -logp.gather(-1, idx).squeeze(-1)
        if self.name == "logistic":
            return torch.nn.functional.softplus(-y * z).sum(-1)
        if self.name == "tanh_mse":
            return ((torch.tanh(z) - y) ** 2).sum(-1)
        r = z - y
        if self.name == "mse":
            return (r**2).sum(-1)
        if self.name == "smooth_l2":
            return torch.sqrt((r**2).sum(-1) + self.delta**2) - self.delta
        # Tensor ** float is typed Any in torch's stubs (Tensor.__pow__ is a cast attribute).
        return cast(Tensor, torch.linalg.vector_norm(r, ord=self.p, dim=-1) ** self.power)


def check_labels(y: Tensor, N: int, loss: Loss) -> None:
    """Labels must be ``(N, m)`` floats, or ``(N,)`` integer classes for cross-entropy."""
    if loss.name == "cross_entropy":
        if y.ndim != 1 or y.shape[0] != N or y.is_floating_point():
            raise ValueError(
                f"y must be an integer tensor of shape ({N},) for cross_entropy, got {y.dtype} {tuple(y.shape)}"
            )
        return
    _checks.tensor("y", y, ndim=2)
    if y.shape[0] != N:
        raise ValueError(f"y must have N={N} rows (one label per point), got shape {tuple(y.shape)}")


def risk(x: Tensor, y: Tensor, P: OutputMap, loss: Loss = Loss()) -> Tensor:
    """Empirical risk E(x) = (1/N) Σ_i ℓ(P x_i, y_i) for states ``(..., N, d)``; returns ``(...)``."""
    return loss(P(x), y).mean(-1)


def _dt(T: float | Tensor, K: int, like: Tensor) -> Tensor:
    return torch.as_tensor(T, dtype=like.dtype, device=like.device) / K


def trapezoid(values: Tensor, T: float | Tensor) -> Tensor:
    """∫_0^T g dt ≈ :math:`Δt (g_0/2 + g_1 + … + g_{K−1} + g_K/2)` for values ``(K+1, *batch)``."""
    K = values.shape[0] - 1
    if K < 1:
        raise ValueError(f"values must hold K+1 >= 2 samples along dim 0, got shape {tuple(values.shape)}")
    inner = values.sum(0) - 0.5 * (values[0] + values[-1])
    return _dt(T, K, values) * inner


PENALTIES = ("l2", "h1")


def control_penalty(
    u: Controls, field: Field, d: int, T: float | Tensor, lam: float | Tensor, *, kind: str = "l2"
) -> Tensor:
    """λ ∫_0^T ‖u‖² dt = λ Δt Σ_k ‖u_k‖²  (``l2``), plus :math:`λ Σ_k ‖u_{k+1} − u_k‖²/Δt` (``h1``).

    Returns shape ``(*batch,)``; T and λ may be numbers or ``(*batch,)`` tensors.
    """
    _checks.choice("penalty", kind, PENALTIES)
    _checks.nonnegative("lam", lam)
    norms = squared_norms(u, field, d)  # (*batch, K)
    K = norms.shape[-1]
    dt = _dt(T, K, norms)
    lam = torch.as_tensor(lam, dtype=norms.dtype, device=norms.device)
    value = lam * dt * norms.sum(-1)
    if kind == "h1" and K > 1:
        shapes = field.shapes(d)
        jumps: Tensor | int = 0
        for name, t in u.items():
            n = len(shapes[name])
            diff = t.narrow(t.ndim - n - 1, 1, K - 1) - t.narrow(t.ndim - n - 1, 0, K - 1)
            jumps = jumps + (diff**2).sum(dim=tuple(range(-n - 1, 0)))
        value = value + lam * jumps / dt
    return value


def l1_penalty(u: Controls, field: Field, d: int, T: float | Tensor, lam: float | Tensor) -> Tensor:
    """λ ∫_0^T ‖u‖₁ dt = λ Δt Σ_k ‖u_k‖₁, ‖u_k‖₁ summing the absolute values of layer k's entries.

    Returns shape ``(*batch,)``; T and λ may be numbers or ``(*batch,)`` tensors. Its proximal
    map is entrywise soft-thresholding at λΔt times the step (see :func:`ltdl.fista`).
    """
    _checks.nonnegative("lam", lam)
    shapes = field.shapes(d)
    total: Tensor | int = 0
    for name, t in u.items():
        total = total + t.abs().sum(dim=tuple(range(-len(shapes[name]) - 1, 0)))  # (*batch,)
    total = cast(Tensor, total)  # u has at least one tensor, so the sum ran
    K = next(iter(u.values())).shape[-len(shapes[next(iter(u))]) - 1]
    lam = torch.as_tensor(lam, dtype=total.dtype, device=total.device)
    return lam * _dt(T, K, total) * total


def tracking_cost(traj: Tensor, x_bar: Tensor, T: float | Tensor) -> Tensor:
    """∫_0^T (1/N) Σ_i ‖x_i(t) − x̄_i‖² dt (trapezoid) for a trajectory ``(K+1, *batch, N, d)``."""
    r = traj - x_bar
    # In the plane the two squares are added by hand: the same single rounding as .sum(-1), bit for
    # bit, while torch's reduction over a last dimension of 2 costs ~10x more (measured).
    sq = r[..., 0] ** 2 + r[..., 1] ** 2 if r.shape[-1] == 2 else (r**2).sum(-1)
    return trapezoid(sq.mean(-1), T)
