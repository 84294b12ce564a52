"""Helpers for the turnpike chapters (R5 tracking, R6 integral regulariser).

* :func:`train_newton`: a short L-BFGS run, then damped Newton steps with the exact Hessian
  (autograd), down to a gradient at rounding level. The turnpike's middle arc is made of
  values of 1e-6 … 1e-12 whose contribution to J is far below L-BFGS's stopping tests; Newton
  resolves them, and its last Hessian certifies a strict local minimum.
* :func:`linearised_rate`: the decay rate μ predicted by linearising the problem at the
  turnpike (x̄, u = 0) — a linear–quadratic problem whose slowest controllable mode decays like
  e^{−μ t} (continuous) or like ρ^k, ρ = e^{−μ_Δt Δt} (Euler + trapezoid, step Δt).
* :func:`first_time_below`: the first grid time at which a curve is ≤ ε (the depth estimate).
* :func:`bias_integral_discrete`: the exact minimiser of the *discrete* companion oracle
  (Euler, trapezoid, λΔtΣ|b_k|²), by one linear solve; :func:`ltdl.bias_integral` is the
  continuous one (paper-notes §3.5).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from . import _checks
from .controls import detach, flatten
from .fields import Controls, Field
from .flows import check_states
from .problem import Problem
from .train import Result, train


@dataclass(frozen=True)
class Certificate:
    """How well :func:`train_newton` solved its problem.

    Attributes:
        grad_max: max |∂J/∂u| at the returned controls.
        min_eig: smallest eigenvalue of the Hessian of J there (> 0: a strict local minimum).
        lbfgs_iter: L-BFGS iterations of the warm-up.
        newton_steps: Newton steps taken.
    """

    grad_max: float
    min_eig: float
    lbfgs_iter: int
    newton_steps: int


def train_newton(
    problem: Problem,
    u0: Controls | None = None,
    *,
    lbfgs_iter: int = 30,
    tol_grad: float = 1e-12,
    max_steps: int = 40,
) -> tuple[Result, Certificate]:
    """Minimise J: ``lbfgs_iter`` L-BFGS iterations, then damped Newton with the exact Hessian.

    Each Newton step solves (H + τI) p = −g with the smallest τ ≥ 0 (from a geometric ladder)
    for which the Cholesky factorisation succeeds, then backtracks on J (Armijo). τ shrinks after
    full steps, so near a strict minimum the steps are pure Newton (quadratic convergence).
    Stops when max |g| ≤ ``tol_grad`` or after ``max_steps`` steps. Meant for small problems
    (up to about a thousand scalar controls): the Hessian costs one vectorised
    reverse-over-reverse pass and O(n²) memory. Not for batched problems or a trainable P.

    Returns:
        The :class:`ltdl.Result` (``n_iter`` = L-BFGS iterations + Newton steps; ``history``
        holds J after each Newton step) and a :class:`Certificate`.
    """
    _checks.integer("lbfgs_iter", lbfgs_iter, minimum=0)
    _checks.positive("tol_grad", tol_grad)
    _checks.integer("max_steps", max_steps, minimum=0)
    if problem.batch != ():
        raise ValueError(f"problem must be a single problem (scalar T and lam), got batch shape {problem.batch}")
    if problem.P.trainable:
        raise ValueError("problem.P must be fixed (trainable=False) for train_newton")
    from torch.func import grad, jacrev

    start = time.perf_counter()
    u = problem.init_controls() if u0 is None else detach(u0)
    n_lbfgs = 0
    if lbfgs_iter > 0:
        res = train(problem, u, max_iter=lbfgs_iter)
        u, n_lbfgs = res.controls, res.n_iter
    z, unflat = flatten({n: u[n] for n in problem.field.shapes(problem.d)})

    def J(w: Tensor) -> Tensor:
        return problem.objective(unflat(w))

    G = grad(J)
    H = jacrev(G)
    eye = torch.eye(z.numel(), dtype=z.dtype)
    tau, steps, history = 0.0, 0, []
    g = G(z)
    Hm = None
    while steps < max_steps and float(g.abs().max()) > tol_grad:
        Hm = H(z)
        scale = float(Hm.diagonal().abs().max())
        while True:
            L, info = torch.linalg.cholesky_ex(Hm + tau * eye)
            if int(info) == 0:
                break
            tau = max(4 * tau, 1e-8 * scale)
        p = torch.cholesky_solve(-g.unsqueeze(1), L).squeeze(1)
        J0, slope, a = float(J(z)), float(g @ p), 1.0
        while a > 1e-12:
            J1 = float(J(z + a * p))
            if J1 <= J0 + 1e-4 * a * slope or abs(J1 - J0) <= 1e-15 * max(abs(J0), 1.0):
                break
            a /= 2
        z = z + a * p
        tau = tau / 8 if a == 1.0 else max(4 * tau, 1e-8 * scale)
        if tau < 1e-12 * scale:
            tau = 0.0
        steps += 1
        history.append(float(J(z)))
        g = G(z)
    Hm = H(z)
    min_eig = float(torch.linalg.eigvalsh(Hm)[0])
    u_opt = detach(unflat(z))
    with torch.no_grad():
        traj = problem.trajectory(u_opt)
        terms = {k: v.detach() for k, v in problem.terms(u_opt, traj).items()}
    result = Result(u_opt, traj, terms, history, n_lbfgs + steps, time.perf_counter() - start)
    return result, Certificate(float(g.abs().max()), min_eig, n_lbfgs, steps)


def linearised_rate(field: Field, x_bar: Tensor, *, weight: float, lam: float, dt: float | None = None) -> float:
    """Decay rate μ of the slowest controllable mode of the problem linearised at (x̄, u = 0).

    Near the turnpike the problem is  ż = B u  (B = ∂f/∂u at (x̄, 0) stacked over the N points,
    ∂f/∂x = 0 there because f(·, 0) = 0), with running cost  weight·(1/N)|z|² + λ|u|²  (an L²
    penalty). Along a right singular pair of B with singular value s > 0 the Euler–Lagrange
    equation is z̈ = μ_s² z with μ_s = s·sqrt(weight/(N λ)); the slowest mode has the smallest
    s > 0 (directions with s = 0 are not controllable at first order and do not decay in the
    linearisation). With Euler steps and the trapezoid rule the discrete equation is
    z_{k+1} − 2 z_k + z_{k−1} = (μ Δt)² z_k, whose decaying root gives
    μ_Δt = (2/Δt) asinh(μ Δt / 2) (returned when ``dt`` is given).

    Args:
        field: the vector field, with f(x, 0) = 0.
        x_bar: the turnpike states, shape ``(N, d)``.
        weight: coefficient of (1/N)Σ|x_i − x̄_i|² in the running cost (``tracking_weight`` for
            R5; β for R6 with the ``mse`` loss and P = I).
        lam: the L² penalty weight λ > 0.
        dt: Euler step; None for the continuous rate.
    """
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
    s = s[s > 1e-10 * s.max()]
    mu = float(s.min()) * math.sqrt(weight / (N * lam))
    if dt is None:
        return mu
    return 2.0 / dt * math.asinh(mu * dt / 2.0)


def turnpike_rate(t, y, *, T: float, margin: float = 1.0, floor: float = 1e-10) -> float:
    """μ of the two-sided fit y(t) ≈ a e^{−μ t} + b e^{−μ (T − t)} (a, b ≥ 0), in log scale.

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
        raise ValueError(f"margin leaves fewer than 3 points in [margin, T - margin] above floor (T={T}, margin={margin})")
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

    Minimise |e_K|² + β Δt Σ_k w_k |e_k|² + λ Δt Σ_k |b_k|² over b_0..b_{K−1}, where
    e_{k+1} = e_k + Δt b_k (Euler), Δt = T/K and w_k the trapezoid weights (½ at both ends).
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
