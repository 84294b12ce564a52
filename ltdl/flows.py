"""Integrators over the K control intervals: the ResNet is the Euler flow.

With Δt = T/K and the control u_k constant on each interval, one step of an explicit
Runge–Kutta method maps x^k to x^{k+1}; a method is data, a :class:`Tableau`:

    k_i = f(x + Δt Σ_{j<i} a_ij k_j, u_k),  i = 1..s,      x⁺ = x + (Δt/den) Σ_i b_i k_i.

* ``euler``:    s = 1, b = (1): x⁺ = x + Δt f(x, u_k)          (a residual layer),
* ``midpoint``: s = 2, a_21 = ½, b = (0, 1),
* ``rk4``:      s = 4, a_21 = a_32 = ½, a_43 = 1, b = (1, 2, 2, 1), den = 6 (classical RK4).

Adding a method is adding one entry to :data:`TABLEAUX`. The step grid *is* the control grid,
so there is no time-to-layer lookup. :func:`odeint_flow` is the continuous reference through
torchdiffeq.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor

from . import _checks
from .controls import layer, num_layers
from .fields import Controls, Field, Outer


@dataclass(frozen=True)
class Tableau:
    """Butcher tableau of an explicit Runge–Kutta method (see the module docstring).

    Attributes:
        a: rows of the strictly lower triangular coupling matrix; row i has i entries a_i0..a_i,i−1.
        b: the s weights, scaled by ``den`` (integers keep the classical rounding: RK4's
            Δt/6 · (k1 + 2k2 + 2k3 + k4)).
        den: common denominator of the weights.
        order: the order of accuracy (checked by the tests).
    """

    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    den: int
    order: int

    def stages(self, f: Callable[[Tensor], Tensor], x: Tensor, dt: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """The stage inputs Y_i and slopes k_i = f(Y_i) from the state x."""
        Ys: list[Tensor] = []
        ks: list[Tensor] = []
        for row in self.a:
            Y = x
            for a, k in zip(row, ks, strict=False):  # row i has i entries: k_0..k_{i-1}
                if a != 0:
                    Y = Y + (a * dt) * k
            Ys.append(Y)
            ks.append(f(Y))
        return Ys, ks

    def combine(self, x: Tensor, ks: list[Tensor], dt: Tensor) -> Tensor:
        """x + (Δt/den) Σ_i b_i k_i, the terms summed left to right."""
        acc: Tensor | None = None
        for b, k in zip(self.b, ks, strict=True):
            if b != 0:
                term = k if b == 1 else b * k
                acc = term if acc is None else acc + term
        h = dt if self.den == 1 else dt / self.den  # Δt/1 is Δt exactly: skip the kernel (hot path)
        return x + h * cast(Tensor, acc)  # a tableau has at least one non-zero weight


TABLEAUX = {
    "euler": Tableau(a=((),), b=(1,), den=1, order=1),
    "midpoint": Tableau(a=((), (0.5,)), b=(0, 1), den=1, order=2),
    "rk4": Tableau(a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), b=(1, 2, 2, 1), den=6, order=4),
}
METHODS = tuple(TABLEAUX)  # the built-in methods (flow accepts any key of TABLEAUX)


def _step(field: Field, method: str, x: Tensor, uk: Controls, dt: Tensor) -> Tensor:
    tab = TABLEAUX[method]
    _, ks = tab.stages(lambda y: field(y, uk), x, dt)
    return tab.combine(x, ks, dt)


def _time_step(T: float | Tensor, K: int, x: Tensor) -> Tensor:
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


def flow(
    field: Field, x0: Tensor, u: Controls, T: float | Tensor, *, method: str = "euler", K: int | None = None
) -> Tensor:
    """Integrate dx/dt = f(x, u(t)) on [0, T] with one step per control interval.

    Args:
        field: the vector field f.
        x0: initial states, shape ``(*batch, N, d)``.
        u: controls, tensors of shape ``(*batch, K, ...)`` (see :func:`init_controls`).
        T: final time > 0, a number or a tensor of shape ``(*batch,)`` (one T per problem).
        method: a key of ``ltdl.flows.TABLEAUX``: ``"euler"`` (ResNet), ``"midpoint"`` or ``"rk4"``.
        K: if given, must equal the number of control intervals (a consistency check).

    Returns:
        The trajectory x^0, ..., x^K, shape ``(K+1, *batch, N, d)``.
    """
    _checks.choice("method", method, tuple(TABLEAUX))
    d = check_states("x0", x0)
    K_u = num_layers(u, field, d)
    if K is not None and K != K_u:
        raise ValueError(f"K must match the control grid: controls have K={K_u} layers, got K={K}")
    for name, t in u.items():
        if t.dtype != x0.dtype:
            raise ValueError(f"u[{name!r}] must have the dtype of x0 ({x0.dtype}), got {t.dtype}")
    dt = _time_step(T, K_u, x0)
    if _use_fused(field, u):
        # Function.apply is unannotated in torch's stubs (returns Any): the forward returns a Tensor.
        return cast(
            Tensor,
            _OuterFlow.apply(  # type: ignore[no-untyped-call]
                x0, u["w"], u["b"], dt, method, field.sigma, field.activation
            ),
        )
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
    T: float,
    *,
    method: str = "dopri5",
    rtol: float = 1e-9,
    atol: float = 1e-10,
    adjoint: bool = False,
) -> Tensor:
    """Continuous reference solution with torchdiffeq, interval by interval.

    Each interval :math:`[t_k, t_{k+1}]` is integrated separately with its constant control, so the
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


# ----------------------------------------------------------------------------------------------
# Fused first-order gradients (an opt-in performance path for first-order training).
#
# Autograd records about 25 graph nodes per step of the flow; on the book's problems (N ~ 10³
# points in d = 2) each node costs more in framework overhead than in arithmetic. Inside
# ``with fused_gradients():`` a flow of the ``outer`` field runs as one autograd node with the
# discrete adjoint written by hand: the forward evaluates the operations of ``_step`` in the same
# order (the trajectory is bit-for-bit the plain one for tanh, ReLU, leaky ReLU and the identity,
# within one rounding for sigmoid and softplus) in a (d, N) layout where the small matrix
# products are cheap; the backward applies the transposed steps and forms every layer's weight
# gradient in one batched product. Gradients agree with autograd's up to rounding, not bit for
# bit, so long unconverged L-BFGS runs can end elsewhere: the path is off unless asked for, e.g.
#     with fused_gradients(): result = train(problem, optimizer="adam")
# First derivatives only: double backward raises.
# ----------------------------------------------------------------------------------------------
_aten = torch.ops.aten

# σ'(z) v from the pre-activation z or the output s = σ(z): the kernels autograd itself uses.
_ACT_BACKWARD: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "tanh": lambda v, z, s: _aten.tanh_backward(v, s),
    "sigmoid": lambda v, z, s: _aten.sigmoid_backward(v, s),
    "relu": lambda v, z, s: _aten.threshold_backward(v, s, 0),
    "leaky_relu": lambda v, z, s: _aten.leaky_relu_backward(v, z, 0.1, False),
    "softplus": lambda v, z, s: _aten.softplus_backward(v, z, 1, 20),
    "identity": lambda v, z, s: v,
}

_FUSED: contextvars.ContextVar[bool] = contextvars.ContextVar("ltdl_fused_gradients", default=False)


@contextlib.contextmanager
def fused_gradients(enabled: bool = True) -> Iterator[None]:
    """Within this block, :func:`flow` of an ``outer`` field under autograd is one fused node.

    First derivatives only: do not use it around double backward, Hessians or ``torch.func``.
    """
    token = _FUSED.set(enabled)
    try:
        yield
    finally:
        _FUSED.reset(token)


def _use_fused(field: Field, u: Controls) -> bool:
    return (
        _FUSED.get()
        and torch.is_grad_enabled()
        and type(field) is Outer
        and field.activation in _ACT_BACKWARD
        and any(t.requires_grad for t in u.values())
    )


class _OuterFlow(torch.autograd.Function):
    """Trajectory of dx/dt = w_k σ(x) + b_k by ``method``; inputs x0 (*B, N, d), w (*B, K, d, d),
    b (*B, K, d), dt broadcastable to (*B, 1, 1). Output (K+1, *B, N, d)."""

    @staticmethod
    def forward(
        ctx: Any,
        x0: Tensor,
        w: Tensor,
        b: Tensor,
        dt: Tensor,
        method: str,  # ctx: attributes set freely
        sigma: Callable[[Tensor], Tensor],
        activation: str,
    ) -> Tensor:
        ws = w.unbind(-3)
        bs = b.unsqueeze(-1).unbind(-3)
        tab = TABLEAUX[method]
        X = x0.mT.contiguous()
        states: list[Tensor] = [X]
        saved: list[tuple[tuple[Tensor, Tensor], ...]] = []
        for k in range(len(ws)):
            W, B = ws[k], bs[k]
            # The same expressions as _step, in the (d, N) layout: W @ σ(Y) + b is σ(y) w^T + b.
            sig: list[Tensor] = []

            def slope(Y: Tensor, W: Tensor = W, B: Tensor = B, sig: list[Tensor] = sig) -> Tensor:
                sig.append(sigma(Y))
                return W @ sig[-1] + B

            Ys, ks = tab.stages(slope, X, dt)
            saved.append(tuple(zip(Ys, sig, strict=True)))
            X = tab.combine(X, ks, dt)
            states.append(X)
        ctx.saved, ctx.ws, ctx.dt, ctx.method, ctx.activation = saved, ws, dt, method, activation
        ctx.shapes = (x0.shape, w.shape, b.shape)
        return torch.stack(states).mT.contiguous()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_traj: Tensor) -> tuple[Tensor | None, ...]:
        act = _ACT_BACKWARD[ctx.activation]
        dt, saved = ctx.dt, ctx.saved
        # Weights Δt b_i/den and couplings Δt a_li (stage l reads stage i) of the tableau.
        tab = TABLEAUX[ctx.method]
        weights = tuple(None if b == 0 else dt * b / tab.den for b in tab.b)
        coupling = {(r, i): a * dt for r, row in enumerate(tab.a) for i, a in enumerate(row) if a != 0}
        G_all = grad_traj.mT.contiguous()  # (K+1, *B, d, N), the layout of the forward
        G = G_all[-1]
        gk_all: list[Tensor] = []
        s_all: list[Tensor] = []
        for k in range(len(saved) - 1, -1, -1):
            WT = ctx.ws[k].mT
            stages = saved[k]
            # Every entry is set (stage i, last to first) before it is read.
            gY = cast(list[Tensor], [None] * len(stages))
            gks = cast(list[Tensor], [None] * len(stages))
            gX = G
            for i in range(len(stages) - 1, -1, -1):
                acc = None if weights[i] is None else cast(Tensor, weights[i]) * G  # mypy cannot narrow [i]
                for r in range(i + 1, len(stages)):
                    a = coupling.get((r, i))
                    if a is not None:
                        acc = a * gY[r] if acc is None else acc + a * gY[r]
                acc = cast(Tensor, acc)  # every stage feeds the output or a later stage
                gks[i] = acc
                Y, s = stages[i]
                gY[i] = act(WT @ acc, Y, s)
                gX = gX + gY[i]
            gk_all.append(torch.stack(gks))
            s_all.append(torch.stack([s for _, s in stages]))
            G = gX + G_all[k]
        ctx.saved = None
        x_shape, w_shape, b_shape = ctx.shapes
        gk = torch.stack(gk_all[::-1])  # (K, stages, *B, d, N)
        s = torch.stack(s_all[::-1])
        gw = (gk @ s.mT).sum(1).movedim(0, -3)  # (*B, K, d, d)
        gb = gk.sum(-1).sum(1).movedim(0, -2)  # (*B, K, d)
        gx0 = G.mT.sum_to_size(x_shape) if ctx.needs_input_grad[0] else None
        return gx0, gw.sum_to_size(w_shape), gb.sum_to_size(b_shape), None, None, None, None
