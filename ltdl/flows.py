"""Integrators over the K control intervals: the ResNet is the Euler flow.

With Δt = T/K and the control constant on each interval, one step of

* ``euler``:    x⁺ = x + Δt f(x, u_k)                      (a residual layer),
* ``midpoint``: x⁺ = x + Δt f(x + Δt/2 f(x, u_k), u_k),
* ``rk4``:      the classical fourth-order Runge–Kutta step with u_k in every stage,

maps x^k to x^{k+1}. The step grid *is* the control grid, so there is no time-to-layer
lookup. :func:`odeint_flow` is the continuous reference through torchdiffeq.
"""
from __future__ import annotations

import torch
from torch import Tensor

from . import _checks
from .controls import layer, num_layers
from .fields import Controls, Field

METHODS = ("euler", "midpoint", "rk4")


def _step(field: Field, method: str, x: Tensor, uk: Controls, dt: Tensor) -> Tensor:
    if method == "euler":
        return x + dt * field(x, uk)
    if method == "midpoint":
        return x + dt * field(x + 0.5 * dt * field(x, uk), uk)
    k1 = field(x, uk)
    k2 = field(x + 0.5 * dt * k1, uk)
    k3 = field(x + 0.5 * dt * k2, uk)
    k4 = field(x + dt * k3, uk)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _time_step(T, K: int, x: Tensor) -> Tensor:
    """Δt = T/K as a tensor that broadcasts against states ``(*batch, N, d)``."""
    _checks.positive("T", T)
    T = torch.as_tensor(T, dtype=x.dtype, device=x.device)
    return (T / K).reshape(*T.shape, 1, 1)


def check_states(name: str, x: Tensor, d: int | None = None) -> int:
    """Check a state tensor ``(..., N, d)``; returns d."""
    _checks.tensor(name, x, min_ndim=2)
    if d is not None and x.shape[-1] != d:
        raise ValueError(f"{name} must have last dimension d={d}, got shape {tuple(x.shape)}")
    return x.shape[-1]


def flow(field: Field, x0: Tensor, u: Controls, T, *, method: str = "euler", K: int | None = None) -> Tensor:
    """Integrate dx/dt = f(x, u(t)) on [0, T] with one step per control interval.

    Args:
        field: the vector field f.
        x0: initial states, shape ``(*batch, N, d)``.
        u: controls, tensors of shape ``(*batch, K, ...)`` (see :mod:`ltdl.controls`).
        T: final time > 0, a number or a tensor of shape ``(*batch,)`` (one T per problem).
        method: ``"euler"`` (ResNet), ``"midpoint"`` or ``"rk4"``.
        K: if given, must equal the number of control intervals (a consistency check).

    Returns:
        The trajectory x^0, ..., x^K, shape ``(K+1, *batch, N, d)``.
    """
    _checks.choice("method", method, METHODS)
    d = check_states("x0", x0)
    K_u = num_layers(u, field, d)
    if K is not None and K != K_u:
        raise ValueError(f"K must match the control grid: controls have K={K_u} layers, got K={K}")
    for name, t in u.items():
        if t.dtype != x0.dtype:
            raise ValueError(f"u[{name!r}] must have the dtype of x0 ({x0.dtype}), got {t.dtype}")
    dt = _time_step(T, K_u, x0)
    states = [x0]
    x = x0
    for k in range(K_u):
        x = _step(field, method, x, layer(u, field, d, k), dt)
        states.append(x)
    return torch.stack(states)


class _Frozen(torch.nn.Module):
    # Holds one interval's constant control so that odeint_adjoint sees it as parameters.
    def __init__(self, field: Field, uk: Controls) -> None:
        super().__init__()
        self.field, self.uk = field, uk

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        return self.field(x, self.uk)


def odeint_flow(
    field: Field,
    x0: Tensor,
    u: Controls,
    T,
    *,
    method: str = "dopri5",
    rtol: float = 1e-9,
    atol: float = 1e-10,
    adjoint: bool = False,
) -> Tensor:
    """Continuous reference solution with torchdiffeq, interval by interval.

    Each interval [t_k, t_{k+1}] is integrated separately with its constant control, so the
    solver never straddles a jump of u. Returns the states at t_0, ..., t_K, shape
    ``(K+1, *batch, N, d)``. With ``adjoint=True`` gradients come from ``odeint_adjoint``.
    """
    import torchdiffeq

    d = check_states("x0", x0)
    K = num_layers(u, field, d)
    _checks.positive("T", T)
    _checks.positive("rtol", rtol)
    _checks.positive("atol", atol)
    if not isinstance(T, (int, float)):
        raise ValueError(f"T must be a number for odeint_flow (one problem at a time), got {type(T).__name__}")
    dt = T / K
    states = [x0]
    x = x0
    span = torch.tensor([0.0, dt], dtype=x0.dtype, device=x0.device)
    for k in range(K):
        uk = layer(u, field, d, k)
        func = _Frozen(field, uk)
        if adjoint:
            x = torchdiffeq.odeint_adjoint(
                func, x, span, method=method, rtol=rtol, atol=atol, adjoint_params=tuple(uk.values())
            )[-1]
        else:
            x = torchdiffeq.odeint(func, x, span, method=method, rtol=rtol, atol=atol)[-1]
        states.append(x)
    return torch.stack(states)
