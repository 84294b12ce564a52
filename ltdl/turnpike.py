"""Helpers for the turnpike chapters (R5 tracking, R6 integral regulariser).

* :func:`ltdl.train_newton` (in :mod:`ltdl.optim`) is the solver of these chapters: the
  turnpike's middle arc is made of values of 1e-6 … 1e-12 whose contribution to J is far below
  L-BFGS's stopping tests; Newton resolves them, and its last Hessian certifies a strict local
  minimum.
* :func:`linearised_rate`: the decay rate μ predicted by linearising the problem at the
  turnpike (x̄, u = 0) — a linear–quadratic problem whose slowest controllable mode decays like
  e^{−μ t} (continuous) or like ρ^k, ρ = e^{−μ_Δt Δt} (Euler + trapezoid, step Δt).
* :func:`first_time_below`: the first grid time at which a curve is ≤ ε (the depth estimate).
* :func:`bias_integral_discrete`: the exact minimiser of the *discrete* companion oracle
  (Euler, trapezoid, λΔtΣ|b_k|²), by one linear solve; :func:`ltdl.bias_integral` is the
  continuous one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from . import _checks
from .fields import Field
from .optim import Certificate, train_newton  # noqa: F401  (re-exported for old imports)


def _controllable_singular_values(field: Field, x_bar: Tensor, weight: float, lam: float, dt: float | None) -> Tensor:
    """Checked arguments → the non-zero singular values of B = ∂f/∂u at (x̄, 0), stacked over points."""
    _checks.tensor("x_bar", x_bar, ndim=2)
    _checks.positive("weight", weight)
    _checks.positive("lam", lam)
    if dt is not None:
        _checks.positive("dt", dt)
    N, d = x_bar.shape
    shapes = field.shapes(d)
    zero = {n: torch.zeros(s, dtype=x_bar.dtype) for n, s in shapes.items()}
    if float(field(x_bar, zero).abs().max()) > 1e-14:
        raise ValueError("field must satisfy f(x, 0) = 0 at x_bar (x_bar is then a steady state)")
    from torch.func import jacrev

    jac = jacrev(lambda u: field(x_bar, u))(zero)  # name -> (N, d, *shape)
    B = torch.cat([jac[n].reshape(N * d, -1) for n in shapes], dim=1)
    s = torch.linalg.svdvals(B)
    return s[s > 1e-10 * s.max()]


def linearised_rate(field: Field, x_bar: Tensor, *, weight: float, lam: float, dt: float | None = None) -> float:
    """Decay rate μ of the slowest controllable mode of the problem linearised at (x̄, u = 0).

    Near the turnpike the problem is  ż = B u  (B = ∂f/∂u at (x̄, 0) stacked over the N points,
    ∂f/∂x = 0 there because f(·, 0) = 0), with running cost  weight·(1/N)|z|² + λ|u|²  (an L²
    penalty). Along a right singular pair of B with singular value s > 0 the Euler–Lagrange
    equation is z̈ = μ_s² z with μ_s = s·sqrt(weight/(N λ)); the slowest mode has the smallest
    s > 0 (directions with s = 0 are not controllable at first order and do not decay in the
    linearisation). With Euler steps and the trapezoid rule the discrete equation is
    :math:`z_{k+1} − 2 z_k + z_{k−1} = (μ Δt)² z_k`, whose decaying root gives
    μ_Δt = (2/Δt) asinh(μ Δt / 2) (returned when ``dt`` is given).

    Args:
        field: the vector field, with f(x, 0) = 0.
        x_bar: the turnpike states, shape ``(N, d)``.
        weight: coefficient of (1/N)Σ|x_i − x̄_i|² in the running cost (``tracking_weight`` for
            R5; β for R6 with the ``mse`` loss and P = I).
        lam: the L² penalty weight λ > 0.
        dt: Euler step; None for the continuous rate.
    """
    s = _controllable_singular_values(field, x_bar, weight, lam, dt)
    mu = float(s.min()) * math.sqrt(weight / (x_bar.shape[0] * lam))
    if dt is None:
        return mu
    return 2.0 / dt * math.asinh(mu * dt / 2.0)


def turnpike_rate(t, y, *, T: float, margin: float = 1.0, floor: float = 1e-10) -> float:
    """μ of the two-sided fit :math:`y(t) ≈ a e^{−μ t} + b e^{−μ (T − t)}` (a, b ≥ 0), in log scale.

    The fit uses the grid points with margin ≤ t ≤ T − margin (the nonlinear transients at both
    ends are left out) and y ≥ ``floor`` (below it the optimiser's accuracy, not the turnpike,
    sets the values). A one-sided curve gives b ≈ 0. Returns μ.
    """
    from scipy.optimize import least_squares  # installed with torchdiffeq

    _checks.positive("T", T)
    _checks.nonnegative("margin", margin)
    _checks.positive("floor", floor)
    t = np.asarray(torch.as_tensor(t).detach().cpu(), dtype=float).ravel()
    y = np.asarray(torch.as_tensor(y).detach().cpu(), dtype=float).ravel()
    if t.size != y.size:
        raise ValueError(f"t and y must have the same length, got {t.size} and {y.size}")
    m = (t >= margin - 1e-12) & (t <= T - margin + 1e-12) & (y >= floor)
    if m.sum() < 3:
        raise ValueError(
            f"margin leaves fewer than 3 points in [margin, T - margin] above floor (T={T}, margin={margin})"
        )
    t, ly = t[m], np.log(y[m])
    mu0 = max(-np.polyfit(t[: max(2, t.size // 2)], ly[: max(2, t.size // 2)], 1)[0], 1e-3)

    def resid(p):
        la, lb, mu = p
        return np.logaddexp(la - mu * t, lb - mu * (T - t)) - ly

    p0 = np.array([ly[0] + mu0 * t[0], ly[-1] - 10.0, mu0])
    return float(least_squares(resid, p0, bounds=([-np.inf, -np.inf, 0.0], [np.inf, np.inf, np.inf])).x[2])


def first_time_below(t, y, eps: float) -> float:
    """The first grid time t_k with y_k ≤ ε (inf if none): the depth needed to reach ε.

    Unlike :func:`ltdl.time_to_reach` it does not ask y to *stay* below ε, so it also applies to
    the three-arc curves that rise again near t = T.
    """
    _checks.positive("eps", eps)
    t = np.asarray(torch.as_tensor(t).detach().cpu(), dtype=float).ravel()
    y = np.asarray(torch.as_tensor(y).detach().cpu(), dtype=float).ravel()
    if t.size != y.size:
        raise ValueError(f"t and y must have the same length, got {t.size} and {y.size}")
    hit = np.nonzero(y <= eps)[0]
    return float(t[hit[0]]) if hit.size else math.inf


def bias_integral_discrete(e0: Tensor, *, T: float, K: int, beta: float, lam: float) -> dict[str, Tensor | float]:
    """Exact minimiser of the discrete companion oracle, by one linear solve.

    Minimise :math:`‖e_K‖² + β Δt Σ_k w_k ‖e_k‖² + λ Δt Σ_k ‖b_k‖²` over :math:`b_0, …, b_{K−1}`, where
    :math:`e_{k+1} = e_k + Δt b_k` (Euler), Δt = T/K and w_k the trapezoid weights (½ at both ends).
    The problem separates by component and is linear in e0, so b_k = c_k e0 with the scalar
    coefficients c solving (Δt² LᵀDL + λΔt I) c = −Δt LᵀD 1, L the (K+1)×K matrix of the
    partial sums and D = diag(βΔt w) + e_K e_Kᵀ.

    Returns e ``(K+1, *e0.shape)``, b ``(K, *e0.shape)`` and the optimal value J.
    """
    _checks.tensor("e0", e0, min_ndim=1)
    _checks.positive("T", T)
    _checks.integer("K", K)
    _checks.positive("beta", beta)
    _checks.positive("lam", lam)
    dt = T / K
    L = torch.tril(torch.ones(K + 1, K, dtype=e0.dtype), diagonal=-1)
    w = torch.ones(K + 1, dtype=e0.dtype)
    w[0] = w[-1] = 0.5
    D = torch.diag(beta * dt * w)
    D[-1, -1] += 1.0
    one = torch.ones(K + 1, dtype=e0.dtype)
    A = dt**2 * L.T @ D @ L + lam * dt * torch.eye(K, dtype=e0.dtype)
    c = torch.linalg.solve(A, -dt * L.T @ D @ one)
    gains = one + dt * L @ c  # e_k = gains_k e0
    J = float(gains @ D @ gains + lam * dt * (c @ c)) * float((e0**2).sum())
    shape = (-1,) + (1,) * e0.ndim
    return {"e": gains.reshape(shape) * e0, "b": c.reshape(shape) * e0, "J": J}


def linearised_rate_h1(
    field: Field, x_bar: Tensor, *, weight: float, lam: float, dt: float | None = None
) -> complex | None:
    """Decay of the slowest controllable mode of the linearised tracking problem with an H¹ penalty.

    The penalty is λ∫(|u|² + |u̇|²) dt (on the grid: λΔtΣ|u_k|² + λΣ|u_{k+1} − u_k|²/Δt). In the
    singular basis of B (see :func:`linearised_rate`) the modes decouple; one mode ż = s u with
    running cost q z² + λ(u² + u̇²) has the Euler–Lagrange equation q z − (λ/s²) z̈ + (λ/s²) z'''' = 0,
    so z = e^{−r t} with r⁴ − r² + m² = 0, m = s·sqrt(q/λ) the L² rate of that mode. For m > ½
    the roots are complex: the mode decays like e^{−Re(r) t} and oscillates with angular
    frequency Im(r). On the Euler grid with the trapezoid rule the fourth-order recurrence has
    the symbol w² − Δt² w + Δt⁴ m² = 0 in w = ρ + 1/ρ − 2, i.e. w = Δt² r², so the discrete root
    is r_Δt = (2/Δt) asinh(r Δt / 2) (ρ = e^{−r_Δt Δt}), the L² formula applied to the complex r.

    Args:
        field, x_bar, weight, lam, dt: as in :func:`linearised_rate`.

    Returns:
        The complex root r (or r_Δt when ``dt`` is given) with the smallest positive real part
        over all controllable modes: ``r.real`` is the decay rate of the distance, ``r.imag``
        the angular frequency of its oscillation (0 for an overdamped mode); None when no mode
        is controllable (B = 0).
    """
    import cmath

    N = x_bar.shape[0]
    s = _controllable_singular_values(field, x_bar, weight, lam, dt)
    best: complex | None = None
    for sv in s.tolist():
        m = sv * math.sqrt(weight / (N * lam))
        disc = cmath.sqrt(1 - 4 * m * m)
        for r2 in ((1 + disc) / 2, (1 - disc) / 2):
            r = cmath.sqrt(r2)  # principal root: Re(r) >= 0
            if dt is not None:
                r = 2.0 / dt * cmath.asinh(r * dt / 2.0)
            r = complex(abs(r.real), abs(r.imag))
            if r.real > 0 and (best is None or r.real < best.real):
                best = r
    return best


def envelope_rate(t, y, *, period: float, t_min: float, t_max: float) -> float:
    """Decay rate of an oscillating exponential: the median of log(y(t)/y(t + period))/period.

    For y(t)² = e^{−2αt}(A + B cos(2ωt + φ)), as for the norm of an underdamped mode, the ratio
    over one period π/ω of the oscillation of y² is exactly e^{α·period}, whatever t; a single
    exponential fit instead mixes the oscillation into the slope. log y is interpolated
    linearly between grid points; the median over the grid times t_min ≤ t ≤ t_max − period
    discards the few ratios spoiled by the dips of y between grid points.

    Args:
        t, y: a curve on a grid (y > 0 on the window).
        period: the period of the oscillation of y² (π/ω for angular frequency ω of the mode).
        t_min, t_max: the window; it must hold at least 3 grid times t ≤ t_max − period.
    """
    _checks.positive("period", period)
    t = np.asarray(torch.as_tensor(t).detach().cpu(), dtype=float).ravel()
    y = np.asarray(torch.as_tensor(y).detach().cpu(), dtype=float).ravel()
    if t.size != y.size:
        raise ValueError(f"t and y must have the same length, got {t.size} and {y.size}")
    if not np.all(y > 0):
        raise ValueError("y must be positive (its logarithm is taken)")
    starts = t[(t >= t_min - 1e-12) & (t <= t_max - period + 1e-12)]
    if starts.size < 3:
        raise ValueError(
            f"the window [t_min, t_max - period] = [{t_min}, {t_max - period}] holds fewer than 3 grid times"
        )
    ly = np.log(y)
    rates = (np.interp(starts, t, ly) - np.interp(starts + period, t, ly)) / period
    return float(np.median(rates))


@dataclass(frozen=True)
class RateLimit:
    """Least-squares fit μ(T) ≈ μ∞ + Σ_p c_p T^{−p} (see :func:`rate_limit`)."""

    mu_inf: float
    coef: tuple[float, ...]
    powers: tuple[int, ...]
    max_resid: float


def rate_limit(T, mu, *, powers=(2,)) -> RateLimit:
    """Extrapolate fitted rates μ(T) to T → ∞ with the model μ∞ + Σ_p c_p T^{−p}.

    Why T^{−2} first: a log-linear least-squares fit over a window of length L that is perturbed
    only near its ends (the nonlinear transients, the faster modes) gets a slope error of order
    (perturbation area)·L / L³ = O(1/L²); with the window [1, T − 1], L = T − 2.

    Args:
        T: horizons (at least len(powers) + 2 of them, so that a residual is left).
        mu: the fitted rates, same length.
        powers: the negative powers of T in the model.
    """
    T = np.asarray(T, dtype=float).ravel()
    mu = np.asarray(mu, dtype=float).ravel()
    powers = tuple(int(p) for p in powers)
    if T.size != mu.size:
        raise ValueError(f"T and mu must have the same length, got {T.size} and {mu.size}")
    if not powers or any(p <= 0 for p in powers):
        raise ValueError(f"powers must be positive integers, got {powers}")
    if T.size < len(powers) + 2:
        raise ValueError(f"T must hold at least {len(powers) + 2} horizons for {len(powers)} powers, got {T.size}")
    if np.any(T <= 0):
        raise ValueError("T must be positive")
    A = np.column_stack([np.ones_like(T)] + [T ** (-p) for p in powers])
    c = np.linalg.lstsq(A, mu, rcond=None)[0]
    return RateLimit(float(c[0]), tuple(float(v) for v in c[1:]), powers, float(np.abs(mu - A @ c).max()))
