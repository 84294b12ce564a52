"""Closed-form solutions used as exact tests.

Model: dx/dt = b(t) (the ``outer`` field with w ≡ 0), one point x0 with target y,
δ = y − x0, e = x − y.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _checks


def bias_erm(x0: Tensor, y: Tensor, *, T: float, lam: float) -> dict[str, Tensor | float]:
    """Minimiser of ‖x(T) − y‖² + λ ∫_0^T ‖b‖² dt (exact for every K with Euler steps).

    Returns b* ≡ δ/(T+λ), E_T = ‖δ‖² (λ/(T+λ))², J* = λ‖δ‖²/(T+λ), and v_T = T b*.
    """
    _checks.positive("T", T)
    _checks.positive("lam", lam)
    delta = y - x0
    n2 = float((delta**2).sum())
    return {
        "b": delta / (T + lam),
        "E": n2 * (lam / (T + lam)) ** 2,
        "J": lam * n2 / (T + lam),
        "v": T * delta / (T + lam),
    }


def bias_integral(e0: Tensor, t: Tensor, *, T: float, beta: float, lam: float) -> dict[str, Tensor | float]:
    """Minimiser of ‖e(T)‖² + β ∫‖e‖² + λ ∫‖b‖², de/dt = b (continuous problem).

    e(t) = e0 g(T−t)/g(T), g(τ) = cosh μτ + sinh μτ / sqrt(βλ), μ = sqrt(β/λ);
    b(t) = −e0 g'(T−t)/g(T); J* = λ g'(T)/g(T) ‖e0‖². ``t`` has shape ``(n,)``; e and b
    have shape ``(n, *e0.shape)``.
    """
    _checks.positive("T", T)
    _checks.positive("beta", beta)
    _checks.positive("lam", lam)
    mu = math.sqrt(beta / lam)
    s = math.sqrt(beta * lam)

    def g(tau):
        return torch.cosh(mu * tau) + torch.sinh(mu * tau) / s

    def dg(tau):
        return mu * (torch.sinh(mu * tau) + torch.cosh(mu * tau) / s)

    T_ = torch.as_tensor(T, dtype=t.dtype)
    shape = (-1,) + (1,) * e0.ndim
    e = e0 * (g(T - t) / g(T_)).reshape(shape)
    b = -e0 * (dg(T - t) / g(T_)).reshape(shape)
    J = lam * float(dg(T_) / g(T_)) * float((e0**2).sum())
    return {"e": e, "b": b, "J": J, "mu": mu}
