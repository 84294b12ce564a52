"""Measurements on trained controls and trajectories: rescaling, norms, fitted rates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import Tensor

from . import _checks
from .controls import scale_controls, squared_norms
from .fields import Controls, Field


def sig(x, digits: int = 4) -> float:
    """``x`` rounded to ``digits`` significant digits: the precision of every printed or glued
    number, so that stored notebook outputs compare equal across runs (nbval)."""
    _checks.integer("digits", digits)
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def relative_spread(values) -> float:
    """(max − min) / mean of positive values, e.g. fitted rates μ across horizons T."""
    a = _as_positive_array("values", list(values))
    return float((a.max() - a.min()) / a.mean())


def rescaled_controls(u: Controls, T) -> Controls:
    """v_T(s) = T u_T(T s) on the unit-time grid s_k = (k + ½)/K: the tensors times T."""
    _checks.positive("T", T)
    return scale_controls(u, T)


def l2_norm_sq(u: Controls, field: Field, d: int, T) -> Tensor:
    """∫_0^T ‖u(t)‖² dt = (T/K) Σ_k ‖u_k‖²; shape ``(*batch,)``."""
    _checks.positive("T", T)
    norms = squared_norms(u, field, d)
    return torch.as_tensor(T, dtype=norms.dtype) / norms.shape[-1] * norms.sum(-1)


def l2_distance(u1: Controls, u2: Controls, field: Field, d: int, T) -> Tensor:
    """:math:`‖u_1 − u_2‖_{L²(0,T)}` for controls u1, u2 on the same grid."""
    diff = {n: u1[n] - u2[n] for n in u1}
    return l2_norm_sq(diff, field, d, T).sqrt()


@dataclass(frozen=True)
class Fit:
    """Least-squares line y = slope·x + intercept with a 95 % confidence interval on the slope."""

    slope: float
    intercept: float
    stderr: float
    ci: tuple[float, float]
    n: int


def _line_fit(x: np.ndarray, y: np.ndarray) -> Fit:
    from scipy import stats  # installed with torchdiffeq

    n = x.size
    if n < 2:
        raise ValueError(f"x must hold at least 2 points for a fit, got {n}")
    A = np.stack([x, np.ones_like(x)], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(A, y, rcond=None)
    if n > 2:
        resid = y - (slope * x + intercept)
        s2 = float(resid @ resid) / (n - 2)
        stderr = math.sqrt(s2 / float(((x - x.mean()) ** 2).sum()))
        q = float(stats.t.ppf(0.975, n - 2))
    else:
        stderr, q = float("nan"), float("nan")
    return Fit(float(slope), float(intercept), stderr, (slope - q * stderr, slope + q * stderr), n)


def _as_positive_array(name: str, values) -> np.ndarray:
    a = np.asarray(torch.as_tensor(values).detach().cpu(), dtype=float).ravel()
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} must be finite and > 0 (logarithms and ratios are taken)")
    return a


def _same_length(x: np.ndarray, y: np.ndarray) -> None:
    if x.size != y.size:
        raise ValueError(f"y must have as many values as x ({x.size}), got {y.size}")


def loglog_slope(x, y) -> Fit:
    """Fit log y = slope · log x + c (e.g. the order of E_T in T)."""
    x, y = _as_positive_array("x", x), _as_positive_array("y", y)
    _same_length(x, y)
    return _line_fit(np.log(x), np.log(y))


def exp_rate(t, y) -> Fit:
    """Fit log y = −μ t + c; the returned ``slope`` is −μ (use :func:`decay_rate` for μ)."""
    t = np.asarray(torch.as_tensor(t).detach().cpu(), dtype=float).ravel()
    y = _as_positive_array("y", y)
    _same_length(t, y)
    return _line_fit(t, np.log(y))


def decay_rate(t, y) -> float:
    """μ of the fit :math:`y ≈ C e^{−μ t}`."""
    return -exp_rate(t, y).slope


def time_to_reach(t, y, eps: float) -> float:
    """First t_k after which y stays ≤ eps (inf if it never does)."""
    _checks.positive("eps", eps)
    t = np.asarray(torch.as_tensor(t).detach().cpu(), dtype=float).ravel()
    y = np.asarray(torch.as_tensor(y).detach().cpu(), dtype=float).ravel()
    above = np.nonzero(y > eps)[0]
    if above.size == 0:
        return float(t[0])
    k = above[-1] + 1
    return float(t[k]) if k < t.size else math.inf


def decade_above(x) -> float:
    """The smallest power of ten ≥ |x| (0 for 0): a printed bound for rounding-level numbers,
    whose last digits depend on the CPU's vector instructions, so that stored notebook outputs
    compare equal across machines (nbval) while the exact value is still asserted."""
    x = abs(float(x))
    if not math.isfinite(x):
        raise ValueError(f"x must be finite, got {x}")
    return 0.0 if x == 0 else 10.0 ** math.ceil(math.log10(x) - 1e-12)


def certify_sweep(sw, x: Tensor, y: Tensor, *, P=None, loss=None) -> list:
    """Second-order certificates of every solve of a sweep, in the unit-time form J_{1,ε}(v).

    For each problem s, the gradient and the exact Hessian of J at the returned controls (no
    step is taken) give ``grad_max`` = max |∂J/∂v| and ``min_eig`` = smallest eigenvalue of
    ∂²J/∂v² (v = T u, so these are the t-form values times 1/T and 1/T²). When min_eig > 0
    the controls lie within about grad_max / min_eig (in each entry of v, up to the Hessian's
    variation) of a strict local minimiser.

    Args:
        sw: a :class:`ltdl.Sweep`; x, y, P, loss: the data and cost it was solved with.

    Returns:
        A list of :class:`ltdl.Certificate` (kind ``"newton"``), one per problem.
    """
    from .costs import Loss
    from .optim import Certificate, train_newton
    from .problem import Problem

    out = []
    for s in range(len(sw)):
        T, lam = float(sw.T[s]), float(sw.lam[s])
        prob = Problem(sw.field, x, y, T=T, K=sw.K, lam=lam, P=P, loss=loss or Loss())
        c = train_newton(prob, sw.controls[s], lbfgs_iter=0, max_steps=0).certificate
        out.append(Certificate("newton", c.grad_max / T, cast(float, c.min_eig) / T**2))  # newton: both set
    return out
