"""Self-attention dynamics over exponentially long times, and the exact reductions (oracles).

:func:`cluster_history` integrates the SA dynamics (``V = I``) of :mod:`ltdl.attention` with
adaptive steps and merges coincident tokens, so that times of order ``e^{c beta}`` are reachable;
:func:`two_token_angle`, :func:`two_cluster_angle` and :func:`two_cluster_merge_time` solve the
exact reductions to one scalar equation (two tokens; two clusters of coincident tokens) to about
1e-12; :func:`metastability_table` is the protocol of the book's metastability table (also
``ltdl run attention``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.integrate import quad, solve_ivp
from torch import Tensor

from . import _checks
from .attention import KINDS, _beta, _tokens, random_tokens

# --------------------------------------------------------------------------------------------
# the long-time integrator


@dataclass(frozen=True)
class ClusterHistory:
    """Result of :func:`cluster_history`.

    Attributes:
        times: ``(M,)`` numpy array, the times at which the state was recorded (``0`` first).
        counts: ``(M,)`` numpy int array, the number of clusters at each recorded time.
        energy: ``(M,)`` numpy array, ``E_beta`` at each recorded time.
        merge_times: the times at which the cluster count dropped (one entry per drop).
        last_merge: time at which one cluster was left (``inf`` if not within ``t_max``).
        two_clusters: ``(t, theta, m1, m2)`` when exactly two clusters remained (their angle and
            masses), or ``None``.
        steps: accepted steps; rejected: rejected steps.
    """

    times: np.ndarray
    counts: np.ndarray
    energy: np.ndarray
    merge_times: tuple[float, ...]
    last_merge: float
    two_clusters: tuple[float, float, float, float] | None
    steps: int
    rejected: int


# Dormand–Prince 5(4) coefficients (the classical embedded pair).
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_DP_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)


GROW = 5.0


def _sa_numpy(x: np.ndarray, logm: np.ndarray, beta: float) -> np.ndarray:
    """SA field with V = I in numpy (the long-time integrator takes thousands of small steps,
    where numpy's per-call cost is a fraction of torch's).

    Written as ``sum_{j != i} w_ij (x_j - <x_i, x_j> x_i)``: the self term, whose projection is
    0, is left out instead of being cancelled, so a velocity of 1e-12 keeps its relative accuracy
    (the slow phases of the dynamics are that slow)."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)  # 0-homogeneous extension: no radial mode
    g = x @ x.T
    logits = beta * g + logm[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(axis=1, keepdims=True)
    np.fill_diagonal(w, 0.0)
    return w @ x - (w * g).sum(axis=1, keepdims=True) * x


def _np_components(x: np.ndarray, chord: float) -> np.ndarray:
    near = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1) <= chord
    lab = np.arange(x.shape[0])
    while True:
        new = np.where(near, lab[None, :], x.shape[0]).min(axis=1)
        if np.array_equal(new, lab):
            break
        lab = new
    return np.unique(lab, return_inverse=True)[1]


def cluster_history(
    x0: Tensor,
    beta: float,
    *,
    t_max: float,
    angle: float,
    merge_chord: float = 1e-7,
    rtol: float = 1e-8,
    record: int = 8,
    max_steps: int = 100_000,
) -> ClusterHistory:
    """SA dynamics (``V = I``) from ``x0`` up to ``t_max``, over exponentially long times.

    Integrates with the adaptive Dormand–Prince 5(4) pair (local error per step at most ``rtol``
    in the max norm), normalising onto the sphere after every accepted step. Tokens closer than
    ``merge_chord`` are merged into one token of their summed mass at their normalised mean:
    coincident tokens stay coincident under the dynamics (an exact reduction), and merging removes
    the stiff in-cluster modes (rate 1) that would otherwise limit the step to O(1) while the
    clusters move at speeds of order ``e^{-beta (1 - cos theta)}``. The step size is free to grow
    with that slowness, which is what makes times of order ``e^{c beta}`` reachable. Merging moves
    a token by at most ``merge_chord``, and changes the field by ``O(merge_chord^2)``.

    Args:
        x0: initial tokens ``(n, d)`` on the sphere.
        beta: >= 0. t_max: final time (> 0).
        angle: the cluster threshold of :func:`count_clusters` (radians) used for the counts.
        merge_chord: distance below which tokens are merged (> 0, smaller than the chord of
            ``angle``).
        rtol: local error target of the adaptive steps (> 0).
        record: accepted steps between two recorded states (>= 1); a record is also made at every
            change of the count.
        max_steps: bound on accepted + rejected steps (``RuntimeError`` when exceeded).

    Returns:
        :class:`ClusterHistory`.
    """
    xt = _tokens("x0", x0)
    if xt.ndim != 2:
        raise ValueError(f"x0 must have shape (n, d) (one configuration), got {tuple(xt.shape)}")
    b = _beta(beta)
    _checks.positive("t_max", t_max)
    _checks.positive("angle", angle)
    if not float(angle) < math.pi:
        raise ValueError(f"angle must be in (0, pi) radians, got {angle!r}")
    _checks.positive("merge_chord", merge_chord)
    chord = 2 * math.sin(float(angle) / 2)
    if not merge_chord < chord:
        raise ValueError(f"merge_chord must be smaller than the chord of angle ({chord:.3g}), got {merge_chord!r}")
    _checks.positive("rtol", rtol)
    _checks.integer("record", record)
    _checks.integer("max_steps", max_steps)
    x = xt.detach().cpu().numpy().astype(np.float64)
    m = np.full(x.shape[0], 1.0 / x.shape[0])

    def pairwise(x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)

    def merge(x: np.ndarray, m: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not (dist + 4 * np.eye(x.shape[0]) <= merge_chord).any():
            return x, m, dist
        lab = _np_components(x, merge_chord)
        ms = np.bincount(lab, weights=m)
        xs = np.stack([(m[lab == j, None] * x[lab == j]).sum(0) for j in range(len(ms))])
        xs = xs / np.linalg.norm(xs, axis=1, keepdims=True)
        return xs, ms, pairwise(xs)

    def energy(x: np.ndarray, m: np.ndarray) -> float:
        g = np.minimum(x @ x.T, 1.0)
        mm = m[:, None] * m[None, :]
        return float((mm * g).sum() / 2) if b == 0 else float((mm * np.expm1(b * g)).sum() / (2 * b))

    def count(x: np.ndarray) -> int:
        return int(_np_components(x, chord).max()) + 1

    x, m, dist = merge(x, m, pairwise(x))
    near = dist <= chord
    t, h = 0.0, 0.1
    times, counts, energies = [0.0], [count(x)], [energy(x, m)]
    c = counts[0]
    merges: list[float] = []
    two: tuple[float, float, float, float] | None = None
    acc = rej = 0
    logm = np.log(m)
    k1 = _sa_numpy(x, logm, b)
    while t < t_max and counts[-1] > 1:
        if acc + rej >= max_steps:
            raise RuntimeError(f"cluster_history: max_steps = {max_steps} reached at t = {t:.3g}")
        h = min(h, t_max - t)
        ks = [k1]
        y = x
        for s in range(1, 7):
            y = x + h * sum(a * k for a, k in zip(_DP_A[s], ks, strict=False))
            ks.append(_sa_numpy(y, logm, b))
        err = float(np.abs(h * sum(e * k for e, k in zip(_DP_E, ks, strict=True))).max())
        fac = 0.9 * (rtol / err) ** 0.2 if err > 0 else GROW
        if err > rtol:
            rej += 1
            h *= max(0.2, fac)
            continue
        t += h
        acc += 1
        n_before = x.shape[0]
        y = y / np.linalg.norm(y, axis=1, keepdims=True)
        x, m, dist = merge(y, m, pairwise(y))
        if x.shape[0] != n_before:
            logm = np.log(m)
        k1 = _sa_numpy(x, logm, b)  # (re)evaluated at the normalised point
        near_new = dist <= chord
        if near_new.shape != near.shape or not np.array_equal(near_new, near):
            c = count(x)  # the threshold graph changed
        near = near_new
        if c != counts[-1] or acc % record == 0 or t >= t_max:
            if c < counts[-1]:
                merges.extend([t] * (counts[-1] - c))
            if c == 2 and two is None:
                lab = _np_components(x, chord)
                cen = [(m[lab == j, None] * x[lab == j]).sum(0) for j in (0, 1)]
                cen = [v / np.linalg.norm(v) for v in cen]
                theta = 2 * math.asin(min(1.0, float(np.linalg.norm(cen[0] - cen[1])) / 2))
                two = (t, theta, float(m[lab == 0].sum()), float(m[lab == 1].sum()))
            times.append(t)
            counts.append(c)
            energies.append(energy(x, m))
        h *= min(GROW, fac)
    last = times[-1] if counts[-1] == 1 else math.inf
    return ClusterHistory(np.array(times), np.array(counts), np.array(energies), tuple(merges), last, two, acc, rej)


# --------------------------------------------------------------------------------------------
# exact reductions (oracles)


def _angle_rhs(beta: float, kind: str, m1: float, m2: float):
    def rhs(_t: float, th: np.ndarray) -> np.ndarray:
        s, c = np.sin(th), np.cos(th)
        if kind == "usa":
            return -(m1 + m2) * np.exp(beta * (c - 1.0)) * s * math.exp(beta)
        e = np.exp(beta * (c - 1.0))  # e^{beta c} / e^{beta}
        return -s * (m2 * e / (m1 + m2 * e) + m1 * e / (m2 + m1 * e))

    return rhs


def _solve_angle(theta0: float, beta: float, t: object, kind: str, m1: float, m2: float) -> Tensor:
    th0 = float(theta0)
    if not 0.0 <= th0 <= math.pi:
        raise ValueError(f"theta0 must be an angle in [0, pi] radians, got {theta0!r}")
    ts = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if ts.ndim != 1 or not np.all(np.isfinite(ts)) or np.any(ts < 0) or np.any(np.diff(ts) < 0):
        raise ValueError("t must be a finite, non-negative, non-decreasing sequence of times")
    sol = solve_ivp(
        _angle_rhs(beta, kind, m1, m2), (0.0, float(ts[-1])), [th0], method="DOP853", t_eval=ts, rtol=1e-13, atol=1e-15
    )
    if not sol.success:  # pragma: no cover - DOP853 on a smooth scalar ODE
        raise RuntimeError(f"oracle integration failed: {sol.message}")
    return torch.from_numpy(sol.y[0].copy())


def two_token_angle(theta0: float, beta: float, t: object, *, kind: str = "sa") -> Tensor:
    """Oracle: the angle between two tokens at the times ``t``, from the exact reduction

    SA: ``theta' = -2 sin(theta) / (1 + e^{beta (1 - cos theta)})``;
    USA (masses 1/2): ``theta' = -e^{beta cos theta} sin(theta)``;

    solved by DOP853 (order 8) with relative tolerance 1e-13.

    Args:
        theta0: initial angle in [0, pi]; beta: >= 0; t: times, a non-decreasing sequence >= 0.
        kind: ``"sa"`` or ``"usa"``.

    Returns:
        float64 tensor of shape ``(len(t),)``.
    """
    b = _beta(beta)
    _checks.choice("kind", kind, KINDS)
    return _solve_angle(theta0, b, t, kind, 0.5, 0.5)


def two_cluster_angle(theta0: float, beta: float, t: object, *, masses: tuple[float, float]) -> Tensor:
    """Oracle: the angle between two clusters of coincident tokens with masses ``m1, m2``
    (``m1 + m2 = 1``) under SA, from the exact reduction

    ``theta' = -sin(theta) [ m2 e^{beta c}/(m1 e^beta + m2 e^{beta c}) + m1 e^{beta c}/(m2 e^beta + m1 e^{beta c}) ]``,
    ``c = cos theta``; solved by DOP853 with relative tolerance 1e-13.

    Args:
        theta0: initial angle in [0, pi]; beta: >= 0; t: times (non-decreasing, >= 0);
        masses: ``(m1, m2)``, both > 0 with sum 1.

    Returns:
        float64 tensor of shape ``(len(t),)``.
    """
    b = _beta(beta)
    if not isinstance(masses, (tuple, list)) or len(masses) != 2:
        raise ValueError(f"masses must be a pair (m1, m2), got {masses!r}")
    m1, m2 = (float(v) for v in masses)
    if not (m1 > 0 and m2 > 0 and abs(m1 + m2 - 1) <= 1e-12):
        raise ValueError(f"masses must be two numbers > 0 with sum 1, got {masses!r}")
    return _solve_angle(theta0, b, t, "sa", m1, m2)


def two_cluster_merge_time(theta0: float, beta: float, *, masses: tuple[float, float], angle: float) -> float:
    """Oracle: the time at which two clusters (SA, masses ``m1 + m2 = 1``) starting at angle
    ``theta0`` come within ``angle`` of each other (``inf`` if ``theta0`` is ``pi`` with equal
    masses, an equilibrium). The reduction is integrated in the variable ``s = log(t)``-free form
    ``dt/dtheta = 1/theta'`` (a quadrature), so exponentially long times cost nothing."""
    b = _beta(beta)
    m1, m2 = (float(v) for v in masses)
    th0, a = float(theta0), float(angle)
    if not 0 < a < th0 <= math.pi:
        raise ValueError(f"need 0 < angle < theta0 <= pi, got angle = {angle!r}, theta0 = {theta0!r}")
    rhs = _angle_rhs(b, "sa", m1, m2)

    def dt(th: float) -> float:
        return -1.0 / float(rhs(0.0, np.array(th)))

    val, _ = quad(dt, a, th0, epsabs=0.0, epsrel=1e-12, limit=200)
    return float(val)


# --------------------------------------------------------------------------------------------
# the book's protocol

META: dict[str, Any] = {"n": 32, "d": 2, "betas": (4.0, 9.0, 16.0, 25.0), "seeds": (0, 1, 2, 3, 4), "angle": 0.05}
"""Settings of the metastability table: ``n`` tokens on the circle (``d = 2``), the inverse
temperatures, the seeds of the initial tokens and the cluster threshold (radians)."""


def metastability_table(
    *,
    n: int = 32,
    d: int = 2,
    betas: tuple[float, ...] = (4.0, 9.0, 16.0, 25.0),
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
    angle: float = 0.05,
) -> dict:
    """Last merge times of the SA dynamics from random tokens, with the two-cluster oracle's reading.

    For every ``beta`` and seed, ``n`` tokens are drawn by :func:`ltdl.random_tokens` (``seed``)
    and run by :func:`cluster_history` until one cluster is left. When two clusters remain (angle
    ``theta_2``, masses ``m_1, m_2`` at time ``t_2``), :func:`two_cluster_merge_time` predicts the
    rest: ``t_oracle = t_2 + merge time``.

    Returns:
        ``{"rows": [...], "runs": {(beta, seed): ClusterHistory}}``; each row has ``beta``,
        ``seed``, ``t_last``, ``log_t_last``, ``t_two``, ``theta_two``, ``m_min``, ``t_oracle``,
        ``oracle_rel_err`` (``|log t_last - log t_oracle|``) and ``steps``.
    """
    _checks.integer("n", n, minimum=2)
    _checks.integer("d", d, minimum=2)
    rows, runs = [], {}
    for beta in betas:
        for seed in seeds:
            hist = cluster_history(random_tokens(n, d, seed=seed), beta, t_max=1e300, angle=angle)
            runs[(float(beta), seed)] = hist
            t2, th2, m1, m2 = hist.two_clusters if hist.two_clusters is not None else (math.nan,) * 4
            t_or = t2 + two_cluster_merge_time(th2, beta, masses=(m1, m2), angle=angle) if th2 > angle else math.nan
            rows.append(
                {
                    "beta": float(beta),
                    "seed": seed,
                    "t_last": hist.last_merge,
                    "log_t_last": math.log(hist.last_merge),
                    "t_two": t2,
                    "theta_two": th2,
                    "m_min": min(m1, m2),
                    "t_oracle": t_or,
                    "log_err": abs(math.log(hist.last_merge) - math.log(t_or)),
                    "steps": hist.steps + hist.rejected,
                }
            )
    return {"rows": rows, "runs": runs}


def summarise(rows: list[dict]) -> dict:
    """Per ``beta``: median, min and max over seeds of ``log t_last`` and of ``1 - cos theta_2``;
    and the least-squares slope ``b`` of the per-beta medians of ``log t_last`` against ``beta``
    with the median of ``1 - cos theta_2`` (the two-cluster reading of that slope)."""
    betas = sorted({r["beta"] for r in rows})
    per = {}
    for beta in betas:
        lt = np.array([r["log_t_last"] for r in rows if r["beta"] == beta])
        oc = np.array([1 - math.cos(r["theta_two"]) for r in rows if r["beta"] == beta])
        per[beta] = {
            "log_t_median": float(np.median(lt)),
            "log_t_min": float(lt.min()),
            "log_t_max": float(lt.max()),
            "one_minus_cos_median": float(np.median(oc)),
        }
    med = np.array([per[b]["log_t_median"] for b in betas])
    slope, intercept = np.polyfit(np.array(betas), med, 1)
    reading = float(np.median([1 - math.cos(r["theta_two"]) for r in rows]))
    return {"per_beta": per, "slope": float(slope), "intercept": float(intercept), "reading": reading}


def cli_run(args, progress: bool) -> dict:
    """``ltdl run attention``: the metastability table of the attention chapter (``--seed`` is the
    first of five consecutive seeds; the other settings are :data:`META`)."""
    seeds = tuple(range(args.seed, args.seed + len(META["seeds"])))
    out = metastability_table(seeds=seeds)
    return {
        "settings": {**META, "seeds": list(seeds)},
        "rows": out["rows"],
        "summary": summarise(out["rows"]),
        "figures": [],
    }


def collapse_run(
    x0: Tensor,
    beta: float,
    *,
    kind: str = "sa",
    h: float,
    steps: int,
    method: str = "euler",
    window: tuple[float, float] = (1e-10, 1e-4),
    angle: float = 0.05,
) -> dict:
    """The single-cluster protocol: integrate a batch of token sets and measure the collapse.

    Runs :func:`ltdl.attention_flow` (``V = I``) from ``x0`` (``(seeds, n, d)``) and returns, per
    seed, the exponential rate of the diameter fitted between the first and last step where it
    lies inside ``window`` (``nan`` when fewer than two steps do), the cluster count at the end,
    and two energy checks over all seeds and steps: ``dE_ok`` (``E_beta`` never decreases by more
    than the worst-case rounding ``n^2 eps E`` of its ``n^2`` terms) and ``dE_strict`` (it
    increases at every step where the diameter exceeds ``window[1]``). Also returned: the
    diameters ``D`` (``(steps + 1, seeds)`` tensor) and ``pred``, the rate predicted for the
    scheme near consensus, ``-ln(1 - h lam)/h`` with ``lam = 1`` (SA) or ``e^beta`` (USA) for
    Euler, ``lam`` itself for RK4.
    """
    from .attention import attention_energy, attention_flow, count_clusters, token_diameter

    x = _tokens("x0", x0)
    if x.ndim != 3:
        raise ValueError(f"x0 must have shape (seeds, n, d), got {tuple(x.shape)}")
    traj = attention_flow(x, beta, h=h, steps=steps, kind=kind, method=method)
    D = token_diameter(traj)
    E = attention_energy(traj, beta)
    dE = E[1:] - E[:-1]
    rounding = x.shape[-2] ** 2 * torch.finfo(E.dtype).eps
    lam = 1.0 if kind == "sa" else math.exp(float(beta))
    rates = []
    for d in D.T.numpy():
        idx = np.flatnonzero((d > window[0]) & (d < window[1]))
        ok = len(idx) > 1
        rates.append(-(math.log(d[idx[-1]]) - math.log(d[idx[0]])) / ((idx[-1] - idx[0]) * h) if ok else math.nan)
    return {
        "rates": np.array(rates),
        "pred": -math.log(1 - h * lam) / h if method == "euler" else lam,
        "count_end": [count_clusters(traj[-1, s], angle=angle) for s in range(x.shape[0])],
        "t_end": steps * h,
        "dE_ok": bool((dE >= -rounding * E[1:].abs()).all()),
        "dE_strict": bool((dE[D[:-1] > window[1]] > 0).all()),
        "D": D,
        "h": h,
    }
