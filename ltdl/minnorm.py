"""Minimal-norm interpolating controls on [0, 1], computed directly (R3), and the bias-only field.

The problem of the book's result R3, on the unit-time Euler grid with K steps:

    minimise  ‖v‖²_{L²(0,1)} = (1/K) Σ_k ‖v_k‖²   subject to   c(v) := P x_v(1) − y = 0,

i.e. zero training error for the ``mse`` (or any ℓᵖ-distance) loss. It is solved by the
augmented Lagrangian method

    L_ρ(v, μ) = ‖v‖² + Σ_i μ_i · c_i(v) + (ρ/2) Σ_i |c_i(v)|²,
    v ← argmin L_ρ(·, μ) (L-BFGS, warm-started),   μ ← μ + ρ c(v),

increasing ρ only when the constraint violation stalls. The constraint is imposed as the
vector c = 0 (N·m equations) rather than as the single equation E = 0: E = (1/N) Σ|c_i|² has a
zero gradient on the whole zero-error set, so no Lagrange multiplier exists for it and the
multiplier update would never converge. The two constraints describe the same set.

The inner minimisations are :func:`ltdl.optim.lbfgs`, the same L-BFGS call as
:func:`ltdl.train`. Near feasibility the method finishes with Newton steps on the KKT system
[H Dcᵀ; Dc 0] (dv, dμ) = −(∇_v L, c): this is root finding on a saddle-point system (its matrix
is indefinite), the constraint logic proper, not a minimisation, so it is not the damped
Newton of :func:`ltdl.train_newton` (which needs a positive definite Hessian).

This solver never uses ε = λ/T, warm starts in T, or the ERM objective: it is an independent
route to the limit of the rescaled ERM controls v_T (R3).

The closed-form oracle (:mod:`ltdl.oracles`) uses the field :class:`ltdl.Bias` (f = b).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field as dc_field

import torch
from torch import Tensor

from . import _checks
from .controls import detach, flatten, init_controls, num_layers, squared_norms
from .costs import OutputMap
from .fields import Controls, Field
from .flows import check_states, flow, fused_gradients
from .optim import lbfgs


@dataclass
class MinNorm:
    """Outcome of :func:`min_norm_interpolant`.

    Attributes:
        v: the control on the unit-time grid, tensors ``(K, ...)``.
        norm_sq: :math:`‖v‖²_{L²(0,1)}`.
        residual: max_i ‖P x_i(1) − y_i‖_∞ (the ∞-norm of the constraint).
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
        """The predicted limit N ‖μ‖²/4 of E/ε² as ε = λ/T → 0 for the ``mse`` loss.

        First-order optimality of the ERM problem (E = (1/N) Σ|c_i|², weight ε on ‖v‖²) reads
        ∇‖v‖² + (2/(εN)) Dcᵀ c = 0; comparing with the KKT condition ∇‖v‖² + Dcᵀ μ = 0 gives
        c ≈ (εN/2) μ, hence E ≈ ε² N ‖μ‖²/4, i.e. T² E_T → λ² N ‖μ‖²/4 (needs Dc of full rank).
        """
        N = self.multiplier.shape[0]
        return float(N * (self.multiplier**2).sum() / 4)


def _norm_sq(v: Controls, field: Field, d: int) -> Tensor:
    return squared_norms(v, field, d).mean(-1)


class _KKT:
    """Newton steps on the KKT system of min ‖v‖² s.t. c(v) = 0, in the flat variable z."""

    def __init__(self, field: Field, d: int, unflat, constraint) -> None:
        self.field, self.d, self.unflat, self.constraint = field, d, unflat, constraint

    def _lagrangian(self, mu: Tensor):
        def lag(w: Tensor) -> Tensor:
            return _norm_sq(self.unflat(w), self.field, self.d) + (mu * self.constraint(self.unflat(w))).sum()

        return lag

    def residual(self, z: Tensor, mu: Tensor) -> tuple[Tensor, Tensor]:
        """∇_v(‖v‖² + μ·c) and c, flat."""
        return (
            torch.autograd.functional.jacobian(self._lagrangian(mu), z),
            self.constraint(self.unflat(z)).reshape(-1),
        )

    def step(self, z: Tensor, mu: Tensor) -> tuple[Tensor, Tensor]:
        """One Newton step on [H Dcᵀ; Dc 0] (dz, dμ) = −(∇L, c) (least squares: M may be singular)."""
        H = torch.autograd.functional.hessian(self._lagrangian(mu), z, vectorize=True)
        Dc = torch.autograd.functional.jacobian(
            lambda w: self.constraint(self.unflat(w)).reshape(-1), z, vectorize=True
        )
        gL, c = self.residual(z, mu)
        n, p = z.numel(), c.numel()
        M = torch.zeros(n + p, n + p, dtype=z.dtype)
        M[:n, :n], M[:n, n:], M[n:, :n] = H, Dc.T, Dc
        step = torch.linalg.lstsq(M, -torch.cat([gL, c]).unsqueeze(1)).solution.squeeze(1)
        return z + step[:n], mu + step[n:].reshape(mu.shape)

    def merit(self, z: Tensor, mu: Tensor) -> float:
        gL, c = self.residual(z, mu)
        return float(gL.abs().max()) + float(c.abs().max())

    def polish(self, z: Tensor, mu: Tensor, steps: int) -> tuple[Tensor, Tensor]:
        """Up to ``steps`` KKT Newton steps, each kept only while the merit decreases."""
        best = self.merit(z, mu)
        for _ in range(steps):
            z_new, mu_new = self.step(z, mu)
            m_new = self.merit(z_new, mu_new)
            if not m_new < best:
                break
            z, mu, best = z_new, mu_new, m_new
        return z, mu


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
    max_iter: int = 200,
    tol_grad: float = 1e-12,
    newton_steps: int = 8,
    kkt_switch: float = 1e-3,
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
        tol: stop when max_i ‖P x_i(1) − y_i‖_∞ ≤ tol.
        max_outer: multiplier updates at most; ``max_iter``, ``tol_grad``: each inner L-BFGS.
        newton_steps, kkt_switch: once ‖c‖_∞ ≤ ``kkt_switch``, up to ``newton_steps`` Newton
            steps on the KKT system ∇‖v‖² + Dcᵀμ = 0, c = 0 (exact Hessian and Jacobian; for
            small problems), kept while its residual decreases. Without them the inner L-BFGS
            solves stall near 1e-6 relative accuracy (they stop when the objective no longer
            changes in floating point) and the multiplier converges slowly. 0 disables them.
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
    for name, val in (
        ("rho", rho),
        ("rho_max", rho_max),
        ("tol", tol),
        ("tol_grad", tol_grad),
        ("kkt_switch", kkt_switch),
    ):
        _checks.positive(name, val)
    if not (isinstance(rho_growth, (int, float)) and rho_growth > 1):
        raise ValueError(f"rho_growth must be a number > 1, got {rho_growth!r}")
    _checks.integer("max_outer", max_outer)
    _checks.integer("max_iter", max_iter)
    _checks.integer("newton_steps", newton_steps, minimum=0)
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

    _, unflat = flatten(v0)

    kkt = _KKT(field, d, unflat, constraint)

    v = {n: t.detach().clone().requires_grad_(True) for n, t in v0.items()}
    mu = torch.zeros_like(y)
    start = time.perf_counter()
    history: list[tuple[float, float, float]] = []
    prev_viol = float("inf")
    converged = False
    from tqdm.auto import tqdm

    bar = tqdm(total=max_outer, disable=not progress, leave=False, desc="augmented Lagrangian")
    outer = 0
    for _ in range(max_outer):
        outer += 1

        def augmented(mu: Tensor = mu, rho: float = rho) -> Tensor:
            c = constraint(v)
            return _norm_sq(v, field, d) + (mu * c).sum() + 0.5 * rho * (c**2).sum()

        with fused_gradients():  # first derivatives only inside the L-BFGS run
            lbfgs(augmented, list(v.values()), max_iter=max_iter, tol_grad=tol_grad, tol_change=1e-16)
        with torch.no_grad():
            c = constraint(v)
            viol = float(c.abs().max())
            mu = mu + rho * c
        bar.update(1)
        if newton_steps and viol <= kkt_switch:
            # Close to feasibility: finish with Newton steps on the KKT system (quadratic
            # convergence), kept while the KKT residual decreases.
            z, mu = kkt.polish(flatten(v)[0], mu, newton_steps)
            with torch.no_grad():
                for n, t in unflat(z).items():
                    v[n].copy_(t)
                viol = float(constraint(v).abs().max())
        history.append((float(_norm_sq(detach(v), field, d)), viol, rho))
        if viol <= tol:
            converged = True
            break
        if viol > 0.1 * prev_viol:
            rho = min(rho * rho_growth, rho_max)
        prev_viol = viol
    bar.close()
    z = flatten(v)[0]
    gL, _ = kkt.residual(z, mu)
    v_out = detach(v)
    with torch.no_grad():
        res = float(constraint(v_out).abs().max())
        nsq = float(_norm_sq(v_out, field, d))
    return MinNorm(
        v_out, nsq, res, mu.detach(), float(gL.norm()), rho, outer, converged, history, time.perf_counter() - start
    )


@dataclass(frozen=True)
class SecondOrder:
    """Second-order check of a KKT point of min ‖v‖² s.t. c(v) = 0 (:func:`minnorm_second_order`).

    Attributes:
        reduced_min_eig: smallest eigenvalue of the Hessian of the Lagrangian ‖v‖² + μ·c(v),
            restricted to the null space of the constraint Jacobian Dc: > 0 is second-order
            sufficiency, so the point is a strict local minimiser of the constrained problem.
        jacobian_min_sv: smallest singular value of Dc (constraints × controls): > 0 is full
            rank (linear independence of the constraint gradients), which makes the multiplier
            unique.
        n_controls: the size of the flat control vector.
        n_constraints: the size of c.

    Both numbers are taken in the inner product of L²(0, 1) on the controls,
    ⟨a, b⟩ = (1/K) Σ_k a_k·b_k (the one of ‖v‖²), so they do not scale with K: for the bias-only
    field and one point they are 2 and 1 for every K (the Hessian of ‖v‖² is 2·identity,
    c = ∫v − δ). In the Euclidean metric of the flat control vector they are 1/K and 1/√K times these.
    """

    reduced_min_eig: float
    jacobian_min_sv: float
    n_controls: int
    n_constraints: int


def minnorm_second_order(
    field: Field, x: Tensor, y: Tensor, result: MinNorm, *, P: OutputMap | None = None
) -> SecondOrder:
    """The reduced Hessian and the constraint rank at a solution of :func:`min_norm_interpolant`.

    The residual of ERM is proportional to ε (hence E_T ∝ T⁻², :attr:`MinNorm.error_constant`)
    when the constraint Jacobian has full rank *and* the reduced Hessian of the Lagrangian is
    positive definite at v*: this function computes both numbers (exact derivatives; for small
    problems: the Hessian is dense). Pass the same ``field``, ``x``, ``y`` and ``P`` as to the solve.

    Raises:
        ValueError: when ``x``/``y`` have the wrong shapes, or ``result`` has more constraints
            than controls (no null space to restrict to).
    """
    d = check_states("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, d), got {tuple(x.shape)}")
    _checks.tensor("y", y, ndim=2)
    if tuple(result.multiplier.shape) != tuple(y.shape):
        raise ValueError(f"result must come from a solve with targets of shape {tuple(y.shape)}")
    P = OutputMap.identity(d, dtype=x.dtype) if P is None else P
    A, c0 = P.A.detach(), P.c.detach()

    def constraint(v: Controls) -> Tensor:
        return flow(field, x, v, 1.0)[-1] @ A.T + c0 - y

    z, unflat = flatten(result.v)
    kkt = _KKT(field, d, unflat, constraint)
    H = torch.autograd.functional.hessian(kkt._lagrangian(result.multiplier), z, vectorize=True)
    Dc = torch.autograd.functional.jacobian(lambda w: constraint(unflat(w)).reshape(-1), z, vectorize=True)
    n, p = z.numel(), Dc.shape[0]
    if p >= n:
        raise ValueError(f"result has {p} constraints for {n} controls: no null space to restrict to")
    _, S, Vh = torch.linalg.svd(Dc, full_matrices=True)
    Z = Vh[p:].T  # orthonormal basis of the null space of Dc (when Dc has full rank p)
    reduced = Z.T @ H @ Z
    reduced = 0.5 * (reduced + reduced.T)
    K = num_layers(result.v, field, d)  # L²(0,1) metric = (1/K) Euclidean: eigenvalues × K, singular values × √K
    return SecondOrder(K * float(torch.linalg.eigvalsh(reduced)[0]), K**0.5 * float(S[-1]), n, p)


__all__ = ["MinNorm", "SecondOrder", "min_norm_interpolant", "minnorm_second_order"]
