"""Protocols of the chapter "After the paper": ℓ¹ controls, ordered sparsity, pruning, ReLU turnpike.

The objective of every ℓ¹ run is the integrated risk plus an ℓ¹ penalty,

    F(u) = Σ_k w_k E(x^k) + λ Δt Σ_k ‖u_k‖₁      (w_k: trapezoid weights, Euler steps),

i.e. a :class:`ltdl.Problem` with ``beta=1, final_weight=0, lam=0`` (the smooth part) handed to
:func:`ltdl.fista` with ``l1=λ``.

* :func:`l1_solve`: FISTA identifies the support; Newton's method on that support (signs fixed,
  a coordinate that would change sign is set to 0) removes FISTA's slow tail; a last
  :func:`ltdl.fista` call from the polished point returns the result and its prox-gradient
  certificate. Zeros come from the prox of FISTA or from that sign rule, never from rounding
  a small number to 0; the certificate is measured by FISTA at the returned controls.
* :func:`stopping_layer`, :func:`dual_margin`, :func:`kinks`: what the chapter reads off a run.
* :func:`truncate`, :func:`save_controls`: pruning after the stopping layer.
* :func:`l1_bias_oracle`: the closed-form minimiser of the bias-only problem (exact test).
* :func:`tracking_rate`: the turnpike rate of the tracking problem for a given activation.
* :func:`bracket_ranks`, :func:`split_residual`: the rank of the control directions and their Lie
  brackets at the turnpike, and the part of a residual x(t) − x̄ that the control directions miss.
* :func:`stopping_table`: the table of stopping layers per (T, Δt), shared by the chapter and
  ``ltdl run sparsity``.

Why one module: it is the protocol of one chapter (10), told in the order of the chapter: the
ℓ¹ problem, its solver, what is read off a solution, pruning, the oracle that tests it, and the
table that ``ltdl run sparsity`` and the chapter share. Each part is a few dozen lines and the
later ones call the earlier ones; at about 550 lines it is only just over the house limit, and a
split would scatter one chapter's protocol over modules that no other chapter uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast

import numpy as np
import torch
from torch import Tensor

from . import _checks
from .controls import detach, flatten, num_layers
from .fields import Controls, Field, Outer
from .problem import Problem

if TYPE_CHECKING:
    from .optim import Result


class _FourPoint(TypedDict):
    """The settings of the four-point rotation (types of :data:`FOUR_POINT`)."""

    lam: float
    T: tuple[int, ...]
    dt: float
    halving_T: float
    halving_dt: tuple[float, ...]


FOUR_POINT: _FourPoint = {"lam": 0.05, "T": (4, 8, 16, 32), "dt": 1.0, "halving_T": 8, "halving_dt": (1.0, 0.5, 0.25)}
"""Settings of the chapter's four-point table: ℓ¹ weight, horizons at Δt = 1, Δt-halving at T = 8."""


@dataclass
class SparseRun:
    """One ℓ¹ run: the :class:`ltdl.Result` of the last :func:`ltdl.fista` call and what is read off it.

    Attributes:
        result: controls, trajectory, terms (with ``"l1"``) and the prox-gradient certificate.
        T, dt: horizon and step.
        k_star: stopping layer: 1 + the last layer with a non-zero control (0 if none).
        initial_segment: True when the non-zero layers are exactly 0, …, k* − 1.
        t_star: k* Δt.
        layer_norms: ‖u_k‖₁ per layer (numpy, length K).
        risk: E(x^k) for k = 0..K (numpy).
        margin: dual margin min over zero entries of (λΔt − |∂J/∂u_j|)/(λΔt) (nan if none);
            > 0 means every zero entry is strictly inside the prox's dead zone.
        kinks: number of states x^k_ij (1 ≤ k < K) within 1e-9 of a ReLU kink (outer field).
        fista_iter: FISTA iterations of the first call and of the later calls (summed over the rounds).
        newton_steps: Newton steps on the support.
    """

    result: Result
    T: float
    dt: float
    k_star: int
    initial_segment: bool
    t_star: float
    layer_norms: np.ndarray
    risk: np.ndarray
    margin: float
    kinks: int
    fista_iter: tuple[int, int]
    newton_steps: int

    @property
    def E_T(self) -> float:
        return float(self.risk[-1])

    @property
    def grad_max(self) -> float:
        return self.result.certificate.grad_max

    def check(self, grad_tol: float = 1e-10) -> None:
        """Raise AssertionError unless the run shows certified, ordered sparsity.

        That is: the prox-gradient certificate is ≤ ``grad_tol`` (the run is a stationary point
        of the ℓ¹ problem to that accuracy); the non-zero layers are exactly 0, …, k* − 1; every
        zero entry lies strictly inside the prox's dead zone (dual margin > 0, so the zeros are
        not on the edge of becoming non-zero); and no state lies on a ReLU kink (there J is not
        differentiable, and the certificate would not describe a neighbourhood).
        """
        self.result.certificate.check(grad_tol)
        where = f"T={self.T:g}, dt={self.dt:g}"
        if not self.initial_segment:
            raise AssertionError(f"{where}: the non-zero layers are not the initial segment 0..k*-1")
        if not self.margin > 0:  # also fails on nan (no zero entry)
            raise AssertionError(f"{where}: dual margin {self.margin:.3g} is not > 0")
        if self.kinks:
            raise AssertionError(f"{where}: {self.kinks} states lie on a ReLU kink")


def l1_problem(field: Field, x: Tensor, y: Tensor, *, T: float, dt: float, P=None) -> Problem:
    """The smooth part Σ_k w_k E(x^k) of the ℓ¹ problem, on K = T/Δt layers (an integer)."""
    _checks.positive("T", T)
    _checks.positive("dt", dt)
    K = round(T / dt)
    if K < 1 or abs(K * dt - T) > 1e-9 * T:
        raise ValueError(f"T/dt must be an integer >= 1, got T={T}, dt={dt}")
    return Problem(field, x, y, T=T, K=K, lam=0.0, P=P, beta=1.0, final_weight=0.0)


def stopping_layer(u: Controls, field: Field, d: int) -> tuple[int, bool]:
    """(k*, initial_segment): k* = 1 + last layer with a non-zero entry; whether layers < k* are all non-zero."""
    norms = layer_l1(u, field, d)
    nz = np.nonzero(norms > 0)[0]
    k = int(nz[-1]) + 1 if nz.size else 0
    return k, bool(nz.size == k)


def layer_l1(u: Controls, field: Field, d: int) -> np.ndarray:
    """‖u_k‖₁ per layer (sum of |entries| over the layer's tensors), numpy array of length K."""
    shapes = field.shapes(d)
    total: Tensor | int = 0
    for name, t in u.items():
        total = total + t.detach().abs().sum(dim=tuple(range(-len(shapes[name]), 0)))
    return cast(Tensor, total).cpu().numpy()  # u has at least one tensor, so the sum ran


def _grad(problem: Problem, z: Tensor, unflat) -> Tensor:
    w = z.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(problem.objective(unflat(w)).sum(), w)
    return g


def dual_margin(problem: Problem, u: Controls, l1: float) -> float:
    """min over zero entries of (λΔt − |∂J/∂u_j|)/(λΔt); nan when no entry is zero."""
    z, unflat = flatten({n: u[n] for n in problem.field.shapes(problem.d)})
    thr = l1 * float(problem.T) / problem.K
    g = _grad(problem, z, unflat)
    zero = z == 0
    return float((thr - g[zero].abs()).min() / thr) if bool(zero.any()) else math.nan


def kinks(problem: Problem, traj: Tensor, *, atol: float = 1e-9) -> int:
    """States x^k_ij, 1 ≤ k < K, within ``atol`` of 0 when σ is ReLU (0 for other activations)."""
    if problem.field.activation != "relu":
        return 0
    return int((traj[1:-1].abs() <= atol).sum())


def _support_newton(
    problem: Problem, u: Controls, thr: float, *, max_steps: int = 60, tol: float = 1e-13
) -> tuple[Controls, int]:
    """Newton's method on J(z) + thr·Σ sign(z_j) z_j over the non-zero entries of z.

    A trial point whose entry changes sign has that entry set to 0 (it leaves the support); the
    step is halved until the objective decreases. Stops at a gradient ≤ ``tol`` on the support,
    when no step decreases the objective, or after ``max_steps`` steps.
    """
    from torch.func import grad, jacrev

    names = list(problem.field.shapes(problem.d))
    z, unflat = flatten({n: u[n] for n in names})
    steps = 0
    while steps < max_steps:
        S = (z != 0).nonzero().flatten()
        if S.numel() == 0:
            break
        sg = torch.sign(z[S])
        base = z

        def h(zs, S=S, sg=sg, base=base):
            full = torch.zeros_like(base).index_put((S,), zs)
            return problem.objective(unflat(full)).sum() + thr * (sg * zs).sum()

        zs = z[S].clone()
        gs = grad(h)(zs)
        if float(gs.abs().max()) <= tol:
            break
        H = jacrev(grad(h))(zs)
        eye = torch.eye(zs.numel(), dtype=zs.dtype)
        scale, tau = float(H.diagonal().abs().max()) or 1.0, 0.0
        while True:
            L, info = torch.linalg.cholesky_ex(H + tau * eye)
            if int(info) == 0:
                break
            tau = max(4 * tau, 1e-10 * scale)
        p = torch.cholesky_solve(-gs[:, None], L)[:, 0]
        h0, slope, a = float(h(zs)), float(gs @ p), 1.0
        trial: Tensor | None
        while True:
            trial = zs + a * p
            trial = torch.where(torch.sign(trial) == sg, trial, torch.zeros_like(trial))
            if float(h(trial)) <= h0 + 1e-4 * a * min(slope, 0.0) + 1e-15 * abs(h0):
                break
            a /= 2
            if a < 1e-12:
                trial = None
                break
        steps += 1
        if trial is None:  # no decrease along the Newton direction (e.g. a kink): stop
            break
        z = torch.zeros_like(z).index_put((S,), trial)
    return detach(unflat(z)), steps


def l1_solve(
    problem: Problem,
    l1: float,
    u0: Controls | None = None,
    *,
    fista_iter: int = 200,
    tol: float = 1e-10,
    polish: bool = True,
    rounds: int = 8,
) -> SparseRun:
    """Minimise J(u) + l1·Δt·Σ_k‖u_k‖₁: FISTA, Newton on the support, FISTA again (see module doc).

    Args:
        problem: the smooth part J (usually from :func:`l1_problem`); a single problem.
        l1: ℓ¹ weight λ ≥ 0.
        u0: initial controls (zeros when None).
        fista_iter: iterations of each of the two :func:`ltdl.fista` calls at most.
        tol: certificate target (max-abs prox-gradient mapping) of the FISTA calls.
        polish: run Newton on the support between the two calls (skipped when the first call
            already meets ``tol``).
        rounds: Newton + FISTA rounds at most while the certificate misses ``tol`` (a FISTA call
            can end on a support that Newton then keeps; the next round starts from the corrected
            support). Rounds are only run while the certificate is missed; under a 1e-12
            perturbation of the start (``LTDL_PERTURB``) the T = 4 run of the chapter needed four.
    """
    from .flows import fused_gradients
    from .optim import fista

    _checks.nonnegative("l1", l1)
    _checks.integer("fista_iter", fista_iter)
    _checks.integer("rounds", rounds)
    if problem.batch != ():
        raise ValueError(f"problem must be a single problem (scalar T), got batch shape {problem.batch}")
    fused = type(problem.field) is Outer  # the hand-written adjoint: same gradients, faster
    with fused_gradients(fused):
        first = fista(problem, u0, l1=l1, tol=tol, max_iter=fista_iter)
    res, steps, n2 = first, 0, 0
    thr = l1 * float(problem.T) / problem.K
    for _ in range(rounds if polish else 0):  # each round corrects the support the previous one ended on
        if res.certificate.grad_max <= tol:
            break
        u, s = _support_newton(problem, res.controls, thr)
        with fused_gradients(fused):
            res = fista(problem, u, l1=l1, tol=tol, max_iter=fista_iter)
        steps, n2 = steps + s, n2 + res.n_iter
    u = res.controls
    k, seg = stopping_layer(u, problem.field, problem.d)
    dt = float(problem.T) / problem.K
    risk = problem.risk_curve(res.trajectory).detach().cpu().numpy()
    return SparseRun(
        res,
        float(problem.T),
        dt,
        k,
        seg,
        k * dt,
        layer_l1(u, problem.field, problem.d),
        risk,
        dual_margin(problem, u, l1),
        kinks(problem, res.trajectory),
        (first.n_iter, n2),
        steps,
    )


def truncate(u: Controls, field: Field, d: int, k: int) -> Controls:
    """The controls of the first k layers (a network of depth k)."""
    K = num_layers(u, field, d)
    _checks.integer("k", k)
    if k > K:
        raise ValueError(f"k must be <= K={K}, got {k}")
    shapes = field.shapes(d)
    return {n: t.narrow(t.ndim - len(shapes[n]) - 1, 0, k).clone() for n, t in u.items()}


def save_controls(u: Controls, path) -> int:
    """Save the controls with ``torch.save``; returns the number of parameters saved."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({n: t.detach().cpu() for n, t in u.items()}, path)
    return int(sum(t.numel() for t in u.values()))


def l1_bias_oracle(x: Tensor, y: Tensor, *, T: float, K: int, lam: float) -> dict:
    """Exact minimiser of Σ_k w_k E(x^k) + λΔtΣ_k|b_k|₁ for f = b (shared bias) and the mse risk.

    With m = mean_i(y_i − x_i) and W = T − Δt/2, every component jumps once, in the first layer:
    b_0 = c*/Δt with c* = sign(m)·max(|m| − λ/(2W), 0), b_k = 0 for k ≥ 1. Returns b ``(K, d)``,
    c*, and E(x^k) for k = 0..K.
    """
    _checks.positive("T", T)
    _checks.integer("K", K)
    _checks.nonnegative("lam", lam)
    dt = T / K
    m = (y - x).mean(0)
    W = T - dt / 2
    c = torch.sign(m) * torch.clamp(m.abs() - lam / (2 * W), min=0.0)
    b = torch.zeros(K, x.shape[1], dtype=x.dtype)
    b[0] = c / dt
    spread = float(((y - x - m) ** 2).sum(-1).mean())
    E = [spread + float((m**2).sum())] + [spread + float(((m - c) ** 2).sum())] * K
    return {"b": b, "c": c, "risk": np.array(E), "W": W}


def tracking_rate(
    activation: str,
    T: float,
    *,
    dt: float = 0.5,
    lam: float = 0.1,
    gamma: float = 1.0,
    alpha: float = 10.0,
    target_angle: float = 45.0,
) -> dict:
    """The tracking problem of the turnpike chapter with the ``outer`` field and σ = ``activation``.

    Four-point rotation, running target x̄_i = R_angle x_i (a steady state with u = 0), final
    weight α, tracking weight γ, L² penalty λ, Δt = ``dt``. Solved by :func:`ltdl.train_newton`
    from the same start as that chapter (w = 0, b ~ N(0, 0.01²), seed 0). Returns the fitted
    two-sided rate μ (:func:`ltdl.turnpike_rate`), the linearised discrete rate, the RMS distance
    curve, the trajectory, the running target x̄ and the certificate.
    """
    from .data import four_point_rotation, rotation
    from .fields import make_field
    from .optim import train_newton
    from .turnpike import linearised_rate, turnpike_rate

    data = four_point_rotation()
    field = make_field("outer", activation=activation)
    x_bar = data.x @ rotation(target_angle).T
    K = round(T / dt)
    prob = Problem(field, data.x, data.y, T=T, K=K, lam=lam, x_bar=x_bar, tracking_weight=gamma, final_weight=alpha)
    res = train_newton(prob, prob.init_controls(kind="normal", scale=0.01, seed=0, zero=("w",)))
    dist = ((res.trajectory - x_bar) ** 2).sum(-1).mean(-1).sqrt().numpy()
    t = np.arange(K + 1) * dt
    return {
        "T": T,
        "mu": turnpike_rate(t, dist, T=T),
        "t": t,
        "dist": dist,
        "mu_lin": linearised_rate(field, x_bar, weight=gamma, lam=lam, dt=dt),
        "certificate": res.certificate,
        "kinks": kinks(prob, res.trajectory),
        "trajectory": res.trajectory,
        "x_bar": x_bar,
    }


def bracket_ranks(field: Field, x: Tensor, *, depth: int = 2, rtol: float = 1e-10) -> list[dict]:
    """Rank of the control directions and their iterated Lie brackets at the stacked states ``x``.

    For a field linear in the control, f(x, u) = Σ_j u_j g_j(x) (the ``outer`` field), the
    stacked system of the N points is driftless and control-affine on R^{N d}; its control
    directions are the columns g_j(x) of B = ∂f/∂u. The Lie bracket of two vector fields is
    [g, h](x) = Dh(x) g(x) − Dg(x) h(x) (computed with forward-mode derivatives, ``torch.func.jvp``).
    Level 0 is {g_j}; level 1 adds [g_i, g_j] (i < j); level 2 adds [g_i, [g_j, g_k]] (j < k).

    Returns one dict per level 0..``depth``: ``level``, ``columns`` (number of vector fields so
    far), ``rank`` (singular values above ``rtol`` times the largest) and ``sigma_min``: the
    N·d-th singular value of the matrix of all columns so far (0 when they do not span R^{N d}),
    i.e. how far from rank-deficient the span is. For a piecewise smooth σ (ReLU) the
    derivatives are those of the piece containing ``x``, which requires every coordinate of
    ``x`` to be off the kink.
    """
    from torch.func import jvp

    _checks.tensor("x", x, ndim=2)
    _checks.integer("depth", depth)
    if not 0 <= depth <= 2:
        raise ValueError(f"depth must be 0, 1 or 2, got {depth}")
    _checks.positive("rtol", rtol)
    N, d = x.shape
    shapes = field.shapes(d)
    sizes = [math.prod(s) for s in shapes.values()]
    P = sum(sizes)

    def unflat(v: Tensor) -> Controls:
        return {n: c.reshape(s) for (n, s), c in zip(shapes.items(), torch.split(v, sizes), strict=True)}

    eye = torch.eye(P, dtype=x.dtype)
    u1, u2 = unflat(eye[0] + 0.5 * eye[-1]), unflat(eye[-1] - 2.0 * eye[0])
    both = unflat(1.5 * eye[-1] - eye[0])  # = u1 + u2
    if float((field(x, both) - field(x, u1) - field(x, u2)).abs().max()) > 1e-12 * (1 + float(x.abs().max())):
        raise ValueError("field must be linear in the control, f(x, u) = sum_j u_j g_j(x) (e.g. 'outer')")

    def generator(j: int):
        return lambda z: field(z.reshape(N, d), unflat(eye[j])).reshape(-1)

    def bracket(g, h):
        return lambda z: jvp(h, (z,), (g(z),))[1] - jvp(g, (z,), (h(z),))[1]

    gens = [generator(j) for j in range(P)]
    levels = [gens]
    if depth >= 1:
        levels.append([bracket(gens[i], gens[j]) for i in range(P) for j in range(i + 1, P)])
    if depth >= 2:
        inner = [(j, k) for j in range(P) for k in range(j + 1, P)]
        levels.append([bracket(gens[i], levels[1][n]) for i in range(P) for n in range(len(inner))])
    z = x.reshape(-1).detach()
    out, cols = [], []
    for level, fields_ in enumerate(levels):
        cols += [g(z) for g in fields_]
        s = torch.linalg.svdvals(torch.stack(cols, dim=1))
        rank = int((s > rtol * s.max()).sum())
        sigma_min = float(s[N * d - 1]) if len(s) >= N * d and rank == N * d else 0.0
        out.append({"level": level, "columns": len(cols), "rank": rank, "sigma_min": sigma_min})
    return out


def split_residual(field: Field, x_bar: Tensor, traj: Tensor, *, rtol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Split x(t) − x̄ into the control directions at x̄ and the directions missing from them.

    B = ∂f/∂u at (x̄, u = 0), stacked over the N points, spans the directions in which the
    linearisation at the turnpike can move the state; its orthogonal complement holds the
    directions that only Lie brackets reach (see :func:`bracket_ranks`). For each time of
    ``traj`` (shape ``(K+1, N, d)``) returns the Euclidean norms of the two orthogonal
    components of the stacked residual x(t) − x̄ ∈ R^{N d}: ``(in_range, missing)`` (numpy).
    """
    from torch.func import jacrev

    _checks.tensor("x_bar", x_bar, ndim=2)
    _checks.tensor("traj", traj, ndim=3)
    if tuple(traj.shape[1:]) != tuple(x_bar.shape):
        raise ValueError(f"traj must have shape (K+1, {x_bar.shape[0]}, {x_bar.shape[1]}), got {tuple(traj.shape)}")
    N, d = x_bar.shape
    shapes = field.shapes(d)
    zero = {n: torch.zeros(s, dtype=x_bar.dtype) for n, s in shapes.items()}
    jac = jacrev(lambda u: field(x_bar, u))(zero)
    B = torch.cat([jac[n].reshape(N * d, -1) for n in shapes], dim=1)
    U, s, _ = torch.linalg.svd(B)
    r = int((s > rtol * s.max()).sum())
    res = (traj.detach() - x_bar).reshape(traj.shape[0], N * d)
    return (res @ U[:, :r]).norm(dim=1).numpy(), (res @ U[:, r:]).norm(dim=1).numpy()


def stopping_table(
    *,
    lam: float = FOUR_POINT["lam"],
    Ts=FOUR_POINT["T"],
    dt: float = FOUR_POINT["dt"],
    halving_T: float = FOUR_POINT["halving_T"],
    halving_dt=FOUR_POINT["halving_dt"],
    activation: str = "relu",
    fista_iter: int = 200,
    progress: bool = False,
) -> dict:
    """k*, t* = k*Δt, E(x(T)) and the certificate per (T, Δt) for the four-point rotation.

    Runs T ∈ ``Ts`` at Δt = ``dt`` and Δt ∈ ``halving_dt`` at T = ``halving_T`` (the pair shared
    by both lists is solved once). Returns ``{"rows": [...], "runs": {(T, dt): SparseRun}}``.
    """
    from .data import four_point_rotation
    from .fields import make_field

    data = four_point_rotation()
    field = make_field("outer", activation=activation)
    pairs = [(float(T), float(dt)) for T in Ts] + [(float(halving_T), float(h)) for h in halving_dt]
    pairs = list(dict.fromkeys(pairs))
    runs, rows = {}, []
    from tqdm.auto import tqdm

    for T, h in tqdm(pairs, disable=not progress, desc="sparsity", leave=False):
        run = l1_solve(l1_problem(field, data.x, data.y, T=T, dt=h), lam, fista_iter=fista_iter)
        runs[(T, h)] = run
        rows.append(
            {
                "T": T,
                "dt": h,
                "K": round(T / h),
                "k_star": run.k_star,
                "t_star": run.t_star,
                "initial_segment": run.initial_segment,
                "E_T": run.E_T,
                "grad_max": run.grad_max,
                "margin": run.margin,
                "kinks": run.kinks,
            }
        )
    return {"rows": rows, "runs": runs}


def cli_run(args, progress: bool) -> dict:
    """``ltdl run sparsity``: the chapter's stopping-layer table (four-point rotation, ReLU outer field).

    The field is always ``outer`` with ReLU (recorded in ``args``); ``--T``, ``--lam`` and
    ``--max-iter`` (iterations of each FISTA call) apply. The command runs it in float64 on one
    thread, as the chapter does.
    """
    args.field, args.activation = "outer", "relu"
    out = stopping_table(lam=args.lam, Ts=tuple(args.T), fista_iter=args.max_iter, progress=progress)
    rows = out["rows"]
    import matplotlib.pyplot as plt

    from . import plots

    plots.use_style()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for T, h in out["runs"]:
        if h == FOUR_POINT["dt"]:
            r = out["runs"][(T, h)]
            k = np.arange(len(r.layer_norms))
            ax.semilogy(k[r.layer_norms > 0], r.layer_norms[r.layer_norms > 0], "o-", ms=3, label=f"T = {T:g}")
    ax.set_xlabel("layer k")
    ax.set_ylabel(r"$\|u_k\|_1$ (non-zero layers)")
    ax.legend()
    path = args.out / "sparsity_layers.png"
    fig.savefig(path)
    plt.close(fig)
    return {"field": "outer", "activation": "relu", "rows": rows, "figures": [path.name]}


__all__ = [
    "FOUR_POINT",
    "SparseRun",
    "bracket_ranks",
    "cli_run",
    "dual_margin",
    "kinks",
    "l1_bias_oracle",
    "l1_problem",
    "l1_solve",
    "layer_l1",
    "save_controls",
    "split_residual",
    "stopping_layer",
    "stopping_table",
    "tracking_rate",
    "truncate",
]
