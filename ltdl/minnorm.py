"""Minimal-norm interpolating controls on [0, 1], computed directly (R3), and the bias-only field.

The problem (paper-notes R3), on the unit-time Euler grid with K steps:

    minimise  ‖v‖²_{L²(0,1)} = (1/K) Σ_k ‖v_k‖²   subject to   c(v) := P x_v(1) − y = 0,

i.e. zero training error for the ``mse`` (or any ℓᵖ-distance) loss. It is solved by the
augmented Lagrangian method

    L_ρ(v, μ) = ‖v‖² + Σ_i μ_i · c_i(v) + (ρ/2) Σ_i |c_i(v)|²,
    v ← argmin L_ρ(·, μ) (L-BFGS, warm-started),   μ ← μ + ρ c(v),

increasing ρ only when the constraint violation stalls. The constraint is imposed as the
vector c = 0 (N·m equations) rather than as the single equation E = 0: E = (1/N) Σ|c_i|² has a
zero gradient on the whole zero-error set, so no Lagrange multiplier exists for it and the
multiplier update would never converge. The two constraints describe the same set.

This solver never uses ε = λ/T, warm starts in T, or the ERM objective: it is an independent
route to the limit of the rescaled ERM controls v_T (R3).

:class:`BiasOnly` is the field f(x, u) = b of the closed-form oracle (paper-notes §3.5).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field as dc_field

import torch
from torch import Tensor

from . import _checks
from .controls import detach, init_controls, num_layers, squared_norms
from .costs import OutputMap
from .fields import Controls, Field
from .flows import check_states, flow


class BiasOnly(Field):
    """f(x, u) = b: every point moves with the same velocity b(t) (the §3.5 oracle).

    Linear, hence 1-homogeneous, in u = b; the activation is unused.
    """

    name = "bias"

    def __init__(self) -> None:
        super().__init__(activation="identity")

    def shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        return {"b": (d,)}

    @property
    def homogeneity_degree(self) -> int:
        return 1

    def __call__(self, x: Tensor, u: Controls) -> Tensor:
        return torch.zeros_like(x) + u["b"].unsqueeze(-2)

    def __repr__(self) -> str:
        return "BiasOnly()"


@dataclass
class MinNorm:
    """Outcome of :func:`min_norm_interpolant`.

    Attributes:
        v: the control on the unit-time grid, tensors ``(K, ...)``.
        norm_sq: ‖v‖²_{L²(0,1)}.
        residual: max_i |P x_i(1) − y_i| (∞-norm of the constraint).
        multiplier: Lagrange multiplier μ of the constraint c(v) = 0, shape ``(N, m)``.
        stationarity: ‖∇_v(‖v‖² + μ·c)‖ at the returned point (Euclidean, over all entries).
        rho: the final penalty parameter; ``outer_iter``: multiplier updates performed.
        converged: residual ≤ tol was reached.
        history: (‖v‖², residual, ρ) after each outer iteration.
        wall_time: seconds.
    """

    v: Controls
    norm_sq: float
    residual: float
    multiplier: Tensor
    stationarity: float
    rho: float
    outer_iter: int
    converged: bool
    history: list[tuple[float, float, float]] = dc_field(default_factory=list)
    wall_time: float = 0.0

    @property
    def error_constant(self) -> float:
        """N |μ|² / 4: the predicted limit of E/ε² as ε = λ/T → 0 for the ``mse`` loss.

        First-order optimality of the ERM problem (E = (1/N) Σ|c_i|², weight ε on ‖v‖²) reads
        ∇‖v‖² + (2/(εN)) Dcᵀ c = 0; comparing with the KKT condition ∇‖v‖² + Dcᵀ μ = 0 gives
        c ≈ (εN/2) μ, hence E ≈ ε² N |μ|²/4, i.e. T² E_T → λ² N |μ|²/4 (needs Dc of full rank).
        """
        N = self.multiplier.shape[0]
        return float(N * (self.multiplier**2).sum() / 4)


def _norm_sq(v: Controls, field: Field, d: int) -> Tensor:
    return squared_norms(v, field, d).mean(-1)


def min_norm_interpolant(
    field: Field,
    x: Tensor,
    y: Tensor,
    *,
    K: int,
    P: OutputMap | None = None,
    v0: Controls | None = None,
    rho: float = 10.0,
    rho_growth: float = 10.0,
    rho_max: float = 1e8,
    tol: float = 1e-10,
    max_outer: int = 60,
    max_iter: int = 500,
    tol_grad: float = 1e-13,
    progress: bool = False,
) -> MinNorm:
    """Minimal-L²(0,1)-norm control v with P x_v(1) = y, by the augmented Lagrangian method.

    Args:
        field: the vector field (1-homogeneous for the link with R3, not required here).
        x: inputs ``(N, d)``; y: targets ``(N, m)``.
        K: Euler steps on [0, 1].
        P: fixed output map (identity when None).
        v0: starting control on the unit-time grid, tensors ``(K, ...)`` (zeros when None).
        rho: initial penalty parameter; ``rho_growth``: its factor when the violation does not
            drop below a quarter of its previous value; ``rho_max``: its cap.
        tol: stop when max |P x_i(1) − y_i| ≤ tol.
        max_outer: multiplier updates at most; ``max_iter``, ``tol_grad``: each inner L-BFGS.
        progress: a tqdm bar over the outer iterations.

    Returns:
        A :class:`MinNorm` (the method is local: it finds a KKT point near v0).
    """
    d = check_states("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, d), got {tuple(x.shape)}")
    _checks.tensor("y", y, ndim=2)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y must have N={x.shape[0]} rows, got shape {tuple(y.shape)}")
    _checks.integer("K", K)
    for name, val in (("rho", rho), ("rho_max", rho_max), ("tol", tol), ("tol_grad", tol_grad)):
        _checks.positive(name, val)
    if not (isinstance(rho_growth, (int, float)) and rho_growth > 1):
        raise ValueError(f"rho_growth must be a number > 1, got {rho_growth!r}")
    _checks.integer("max_outer", max_outer)
    _checks.integer("max_iter", max_iter)
    P = OutputMap.identity(d, dtype=x.dtype) if P is None else P
    if P.A.shape[1] != d or P.m != y.shape[1]:
        raise ValueError(f"P must map R^{d} to R^{y.shape[1]}, got A of shape {tuple(P.A.shape)}")
    if v0 is None:
        v0 = init_controls(field, d, K, dtype=x.dtype)
    elif num_layers(v0, field, d) != K:
        raise ValueError(f"v0 must have K={K} layers")
    A, c0 = P.A.detach(), P.c.detach()

    def constraint(v: Controls) -> Tensor:
        return flow(field, x, v, 1.0)[-1] @ A.T + c0 - y

    v = {n: t.detach().clone().requires_grad_(True) for n, t in v0.items()}
    mu = torch.zeros_like(y)
    start = time.perf_counter()
    history: list[tuple[float, float, float]] = []
    prev_viol = float("inf")
    converged = False
    from tqdm.auto import tqdm

    bar = tqdm(total=max_outer, disable=not progress, leave=False, desc="augmented Lagrangian")
    outer = 0
    for outer in range(1, max_outer + 1):
        opt = torch.optim.LBFGS(list(v.values()), lr=1.0, max_iter=max_iter, history_size=50,
                                tolerance_grad=tol_grad, tolerance_change=1e-16,
                                line_search_fn="strong_wolfe")

        def closure() -> Tensor:
            opt.zero_grad()
            c = constraint(v)
            L = _norm_sq(v, field, d) + (mu * c).sum() + 0.5 * rho * (c**2).sum()
            L.backward()
            return L

        opt.step(closure)
        with torch.no_grad():
            c = constraint(v)
            viol = float(c.abs().max())
            mu = mu + rho * c
            history.append((float(_norm_sq(v, field, d)), viol, rho))
        bar.update(1)
        if viol <= tol:
            converged = True
            break
        if viol > 0.25 * prev_viol:
            rho = min(rho * rho_growth, rho_max)
        prev_viol = viol
    bar.close()
    # Stationarity of the Lagrangian ‖v‖² + μ·c at the final point, with the final multiplier.
    for t in v.values():
        t.grad = None
    (_norm_sq(v, field, d) + (mu * constraint(v)).sum()).backward()
    stat = float(torch.sqrt(sum((t.grad**2).sum() for t in v.values())))
    v_out = detach(v)
    with torch.no_grad():
        res = float(constraint(v_out).abs().max())
        nsq = float(_norm_sq(v_out, field, d))
    return MinNorm(v_out, nsq, res, mu.detach(), stat, rho, outer, converged, history,
                   time.perf_counter() - start)


__all__ = ["BiasOnly", "MinNorm", "min_norm_interpolant"]
