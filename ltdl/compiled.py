"""An opt-in fast objective: the same J(u) as :class:`ltdl.Problem`, with its gradient by hand.

On the book's problems (N ~ 10³ points in d = 2) one training step is a few hundred tiny tensor
operations, and their dispatch costs far more than their arithmetic. :func:`compile_problem`
returns a problem whose ``objective`` is one autograd node: a single function computes the
trajectory, every cost, and the gradient by the discrete adjoint of the whole objective (the
transposed Runge–Kutta steps applied backwards, each state receiving the derivative of its own
running and final costs). With ``backend="inductor"`` (the default) that function is compiled by
``torch.compile``, which on the CPU emits C++ loops over the points (it needs a C++ compiler); it
is written in a ``(d, N)`` layout with the d × d products expanded into d elementwise terms, so
that each Runge–Kutta stage becomes one fused loop. ``backend="eager"`` runs the same function
operation by operation (no compiler, no compile time).

Everything else is the library's: :func:`ltdl.train` (Adam or L-BFGS) runs unchanged on the
returned problem, and its trajectory and terms at the returned controls are computed by the
default path. Gradients agree with the default path's up to rounding (tested: relative
differences ≤ 1e-6 in float32, ≤ 1e-12 in float64), not bit for bit, so the chapters keep the
default path; a long L-BFGS run on this path can take a different route to the same minimiser.
First derivatives only (double backward raises). Compiling costs tens of seconds the first time
and a few seconds once inductor's on-disk cache holds the graph. A single problem runs on one
thread (its loops over ~10³ points are too short for a second thread to pay); a batch with at
least :data:`PARALLEL_MIN_ENTRIES` state entries uses torch's thread count.

Supported: the ``outer`` field f = w σ(x) + b (not frozen), every activation, the losses in
:data:`LOSSES`, every method, the integral risk, tracking and both penalties, batched T and λ; a
fixed output map P. Where the problem is not supported, :func:`compile_problem` raises and
:func:`maybe_compile` returns the problem unchanged; where no compiler is found,
:func:`maybe_compile` picks the eager backend. The default path needs neither.

Usage::

    from ltdl import compiled
    fast = compiled.compile_problem(problem)
    result = ltdl.train(fast, u0, optimizer="adam", max_iter=1000)
"""

from __future__ import annotations

import os
import shutil
import warnings

import torch
from torch import Tensor

from . import _checks
from .fields import Controls, Outer
from .flows import TABLEAUX
from .problem import Problem

__all__ = [
    "BACKENDS",
    "LOSSES",
    "CompiledProblem",
    "available",
    "compile_problem",
    "maybe_compile",
    "unsupported_reason",
]


def available() -> bool:
    """True when ``torch.compile`` with the inductor backend can build CPU kernels here.

    Inductor compiles C++ on the CPU: a compiler (``$CXX``, ``g++``, ``c++`` or ``clang++``) must be
    on the PATH. ``LTDL_NO_COMPILE=1`` switches the compiled path off.
    """
    if os.environ.get("LTDL_NO_COMPILE", "") not in ("", "0"):
        return False
    if not hasattr(torch, "compile"):
        return False
    names = [os.environ.get("CXX", ""), "g++", "c++", "clang++"]
    return any(n and shutil.which(n) for n in names)


def unsupported_reason(problem: Problem) -> str | None:
    """Why ``problem`` cannot take the compiled path (None when it can)."""
    if not isinstance(problem, Problem):
        return f"problem must be an ltdl.Problem, got {type(problem).__name__}"
    if type(problem.field) is not Outer:
        return f"only the plain 'outer' field is compiled, got {problem.field!r}"
    if problem.P.trainable:
        return "a trainable output map P is not compiled (P must be fixed)"
    if problem.method not in TABLEAUX:
        return f"unknown method {problem.method!r}"
    if problem.loss.name not in LOSSES:
        return f"loss {problem.loss.name!r} has no hand-written derivative (supported: {', '.join(LOSSES)})"
    if problem.field.activation not in _ACT_GRAD:
        return f"activation {problem.field.activation!r} has no hand-written derivative"
    return None


# σ'(z) from z = Y and s = σ(Y): closed forms (the same formulas autograd's kernels use).
_ACT_GRAD = {
    "tanh": lambda z, s: 1 - s * s,
    "sigmoid": lambda z, s: s * (1 - s),
    "relu": lambda z, s: (s > 0).to(s.dtype),
    "leaky_relu": lambda z, s: torch.where(z > 0, 1.0, 0.1).to(z.dtype),
    "softplus": lambda z, s: torch.where(z * 1 > 20, 1.0, torch.sigmoid(z)).to(z.dtype),
    "identity": lambda z, s: torch.ones_like(z),
}
LOSSES = ("mse", "tanh_mse", "cross_entropy", "logistic")  # losses with a hand-written derivative


def _matvec(W: Tensor, S: Tensor, elementwise: bool) -> Tensor:
    """W S for W ``(*B, a, b)`` and S ``(*B, b, N)``: d elementwise terms or one matmul."""
    if not elementwise:
        return W @ S
    acc = W[..., :, 0:1] * S[..., 0:1, :]
    for j in range(1, W.shape[-1]):
        acc = acc + W[..., :, j : j + 1] * S[..., j : j + 1, :]
    return acc


def _loss_and_grad(name: str, z: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Pointwise loss ℓ(z, y) ``(..., N)`` and ∂ℓ/∂z ``(..., m, N)`` for z ``(..., m, N)``.

    y is the label tensor in the (m, N) layout, or the one-hot (m, N) matrix for cross-entropy.
    """
    if name == "mse":
        r = z - y
        return (r * r).sum(-2), 2 * r
    if name == "tanh_mse":
        t = torch.tanh(z)
        r = t - y
        return (r * r).sum(-2), 2 * r * (1 - t * t)
    if name == "cross_entropy":
        logp = torch.log_softmax(z, dim=-2)
        return -(logp * y).sum(-2), torch.exp(logp) - y
    # logistic: ℓ = Σ_m softplus(−y z), ∂ℓ/∂z = −y sigmoid(−y z)
    v = -y * z
    return torch.nn.functional.softplus(v).sum(-2), -y * torch.sigmoid(v)


def _value_and_grad(
    w: Tensor,
    b: Tensor,
    X0: Tensor,
    yT: Tensor,
    A: Tensor,
    c: Tensor,
    T: Tensor,
    lam: Tensor,
    xbT: Tensor | None,
    sigma,
    activation: str,
    method: str,
    loss: str,
    beta: float,
    tracking_weight: float,
    final_weight: float,
    penalty: str,
    elementwise: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """J ``(*B,)`` and its gradients w.r.t. w ``(*B, K, d, d)`` and b ``(*B, K, d)``, by hand.

    X0 ``(*B, d, N)`` is the transposed data, yT the labels ``(m, N)`` (one-hot for
    cross-entropy), xbT the transposed tracking targets ``(d, N)`` or None. The same terms, in
    the same order, as :meth:`ltdl.Problem.terms`; the gradient is the discrete adjoint: the
    transposed Runge–Kutta steps applied backwards from x^K, each state receiving the derivative
    of its own running and final costs.
    """
    K = w.shape[-3]
    N = X0.shape[-1]
    tab = TABLEAUX[method]
    act_grad = _ACT_GRAD[activation]
    dt = (T / K).reshape(*T.shape, 1, 1)  # broadcasts against (*B, d, N)
    # ---- forward: the trajectory, keeping each stage's input Y and σ(Y)
    states, saved = [X0], []
    X = X0
    for k in range(K):
        Wk = w[..., k, :, :]
        Bk = b[..., k, :].unsqueeze(-1)
        sig: list[Tensor] = []

        def slope(Y: Tensor, Wk: Tensor = Wk, Bk: Tensor = Bk, sig: list[Tensor] = sig) -> Tensor:
            sig.append(sigma(Y))
            return _matvec(Wk, sig[-1], elementwise) + Bk

        Ys, ks = tab.stages(slope, X, dt)
        saved.append(list(zip(Ys, sig, strict=True)))
        X = tab.combine(X, ks, dt)
        states.append(X)
    traj = torch.stack(states)  # (K+1, *B, d, N)
    # ---- costs of every state and their derivatives
    z = _matvec(A, traj, elementwise) + c.unsqueeze(-1)  # (K+1, *B, m, N)
    ell, dz = _loss_and_grad(loss, z, yT)
    curve = ell.mean(-1)  # (K+1, *B)
    dtK = T / K
    ends = torch.ones(K + 1, dtype=X0.dtype, device=X0.device)
    ends[0] = ends[-1] = 0.5  # trapezoid weights / Δt
    coef = torch.zeros(K + 1, dtype=X0.dtype, device=X0.device)
    coef[-1] = final_weight
    J = final_weight * curve[-1]
    wE = torch.zeros_like(curve) + coef.reshape(K + 1, *([1] * (curve.ndim - 1)))  # weights of E_k
    if beta > 0:
        J = J + beta * (dtK * (curve.sum(0) - 0.5 * (curve[0] + curve[-1])))
        wE = wE + beta * dtK * ends.reshape(K + 1, *([1] * (curve.ndim - 1)))
    # ∂J/∂x_k from the output costs: Σ_m A_mj ∂ℓ/∂z_m / N, weighted
    D = _matvec(A.mT, dz, elementwise) * (wE.reshape(*wE.shape, 1, 1) / N)
    if xbT is not None:
        r = traj - xbT
        tr = (r * r).sum(-2).mean(-1)
        J = J + tracking_weight * (dtK * (tr.sum(0) - 0.5 * (tr[0] + tr[-1])))
        wT = (tracking_weight * dtK) * ends.reshape(K + 1, *([1] * (curve.ndim - 1)))
        D = D + r * (2 * wT.reshape(*wT.shape, 1, 1) / N)
    norms = (w * w).sum(dim=(-2, -1)) + (b * b).sum(dim=-1)  # (*B, K)
    lamdt = (lam * dtK).reshape(*lam.shape, 1)
    pen = lam * dtK * norms.sum(-1)
    gw_pen = 2 * lamdt.unsqueeze(-1).unsqueeze(-1) * w
    gb_pen = 2 * lamdt.unsqueeze(-1) * b
    if penalty == "h1" and K > 1:
        dw = w[..., 1:, :, :] - w[..., :-1, :, :]
        db = b[..., 1:, :] - b[..., :-1, :]
        jumps = (dw * dw).sum(dim=(-3, -2, -1)) + (db * db).sum(dim=(-2, -1))
        pen = pen + lam * jumps / dtK
        h = (2 * lam / dtK).reshape(*lam.shape, 1)
        zw, zb = torch.zeros_like(w[..., :1, :, :]), torch.zeros_like(b[..., :1, :])
        gw_pen = gw_pen + h.unsqueeze(-1).unsqueeze(-1) * (torch.cat([zw, dw], -3) - torch.cat([dw, zw], -3))
        gb_pen = gb_pen + h.unsqueeze(-1) * (torch.cat([zb, db], -2) - torch.cat([db, zb], -2))
    J = J + pen
    # ---- backward: the adjoint of the steps
    weights = [None if bi == 0 else dt * (bi / tab.den) for bi in tab.b]
    coupling = {(r_, i): a * dt for r_, row in enumerate(tab.a) for i, a in enumerate(row) if a != 0}
    G = D[-1]
    gk_all, s_all = [], []
    for k in range(K - 1, -1, -1):
        WT = w[..., k, :, :].mT
        stages = saved[k]
        n_st = len(stages)
        # Filled from the last stage down: stage i reads only gY[r] of later stages r > i.
        gY: list[Tensor] = [G] * n_st
        gk: list[Tensor] = [G] * n_st
        gX = G
        for i in range(n_st - 1, -1, -1):
            w_i = weights[i]
            acc = None if w_i is None else w_i * G
            for r_ in range(i + 1, n_st):
                a = coupling.get((r_, i))
                if a is not None:
                    acc = a * gY[r_] if acc is None else acc + a * gY[r_]
            if acc is None:  # a stage that nothing reads (not in the built-in tableaux)
                acc = torch.zeros_like(G)
            gk[i] = acc
            Y, s = stages[i]
            gY[i] = act_grad(Y, s) * _matvec(WT, acc, elementwise)
            gX = gX + gY[i]
        gk_all.append(torch.stack(gk))
        s_all.append(torch.stack([s for _, s in stages]))
        G = gX + D[k]
    gk_t = torch.stack(gk_all[::-1])  # (K, stages, *B, d, N)
    s_t = torch.stack(s_all[::-1])
    gw = (gk_t @ s_t.mT).sum(1).movedim(0, -3) + gw_pen  # (*B, K, d, d)
    gb = gk_t.sum(-1).sum(1).movedim(0, -2) + gb_pen  # (*B, K, d)
    return J, gw, gb


class _FusedObjective(torch.autograd.Function):
    """J(u) as one autograd node whose gradient was computed with the value (first order only)."""

    @staticmethod
    def forward(ctx, w, b, fn, args):
        J, gw, gb = fn(w.detach(), b.detach(), *args)
        ctx.save_for_backward(gw, gb)
        return J

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gJ):
        gw, gb = ctx.saved_tensors
        return gJ.reshape(*gJ.shape, 1, 1, 1) * gw, gJ.reshape(*gJ.shape, 1, 1) * gb, None, None


_COMPILED: dict[str, object] = {}
# A state with fewer entries (batch × d × N) runs on one thread: its loops are too short for a
# second thread to pay (inductor builds its C++ kernels for the thread count of the first call).
PARALLEL_MIN_ENTRIES = 32768


def _compiled_value_and_grad(mode: str | None):
    key = str(mode)
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(_value_and_grad, backend="inductor", dynamic=False, fullgraph=True, mode=mode)
    return _COMPILED[key]


class CompiledProblem(Problem):
    """A :class:`ltdl.Problem` whose :meth:`objective` is one node with a hand-written gradient.

    Built by :func:`compile_problem`; shares the data, field and settings of the problem it was
    made from. ``trajectory`` and ``terms`` are the default (eager) ones. ``backend``:
    ``"inductor"`` (the value-and-gradient function compiled by ``torch.compile``) or ``"eager"``
    (the same function run operation by operation: no compiler, no compile time).
    """

    def __init__(
        self, problem: Problem, *, backend: str = "inductor", fallback: bool = True, mode: str | None = None
    ) -> None:  # noqa: D107
        self.__dict__.update(problem.__dict__)
        self.source = problem
        self.backend = backend
        self.fallback = fallback
        self.compiled_ok: bool | None = None  # None until the first compiled call
        self._fn = _compiled_value_and_grad(mode) if backend == "inductor" else _value_and_grad
        x = self.x
        self._X0 = x.mT.contiguous().expand(*self.batch, self.d, x.shape[0])
        if self.loss.name == "cross_entropy":
            self._yT = torch.nn.functional.one_hot(self.y.long(), self.P.m).to(x.dtype).mT.contiguous()
        else:
            self._yT = self.y.mT.contiguous()
        self._xbT = None if self.x_bar is None else self.x_bar.mT.contiguous()
        self._T = torch.as_tensor(self.T, dtype=x.dtype, device=x.device)
        self._lam = torch.as_tensor(self.lam, dtype=x.dtype, device=x.device)

    def _args(self, elementwise: bool) -> tuple:
        return (
            self._X0,
            self._yT,
            self.P.A,
            self.P.c,
            self._T,
            self._lam,
            self._xbT,
            self.field.sigma,
            self.field.activation,
            self.method,
            self.loss.name,
            float(self.beta),
            float(self.tracking_weight),
            float(self.final_weight),
            self.penalty,
            elementwise,
        )

    def value_and_grad(self, u: Controls) -> tuple[Tensor, Controls]:
        """J(u) ``(*batch,)`` and ∂(Σ J)/∂u, without autograd."""
        self.check_controls(u)
        J, gw, gb = self._call(u["w"].detach(), u["b"].detach())
        return J, {"w": gw, "b": gb}

    def _call(self, w: Tensor, b: Tensor):
        if self.backend == "eager" or self.compiled_ok is False:
            return _value_and_grad(w, b, *self._args(False))
        prev = torch.get_num_threads()
        threads = prev if self._X0.numel() >= PARALLEL_MIN_ENTRIES else 1
        try:
            if threads != prev:
                torch.set_num_threads(threads)
            out = self._fn(w, b, *self._args(True))
        except Exception as exc:  # a compiler failure (no toolchain, unsupported build): fall back
            if not self.fallback:
                raise
            warnings.warn(
                f"ltdl.compiled: torch.compile failed ({type(exc).__name__}: {exc}); using the eager fused path",
                RuntimeWarning,
                stacklevel=3,
            )
            self.compiled_ok = False
            return _value_and_grad(w, b, *self._args(False))
        finally:
            if threads != prev:
                torch.set_num_threads(prev)
        self.compiled_ok = True
        return out

    def objective(self, u: Controls) -> Tensor:
        """J(u), shape ``(*batch,)``; differentiable once (first order) in u."""
        self.check_controls(u)
        w, b = u["w"], u["b"]
        if not (torch.is_grad_enabled() and (w.requires_grad or b.requires_grad)):
            return self._call(w, b)[0]
        return _FusedObjective.apply(w, b, lambda w_, b_: self._call(w_, b_), ())


BACKENDS = ("inductor", "eager")


def compile_problem(
    problem: Problem, *, backend: str = "inductor", fallback: bool = True, mode: str | None = None
) -> CompiledProblem:
    """The fused (and, with ``backend="inductor"``, compiled) version of ``problem``.

    Args:
        problem: an :class:`ltdl.Problem` with the ``outer`` field, a fixed output map and a loss
            in :data:`LOSSES`.
        backend: ``"inductor"`` (``torch.compile``; needs a C++ compiler) or ``"eager"``.
        fallback: when compiling fails at the first call, warn and run eagerly (``False``: raise).
        mode: ``torch.compile`` mode (None: the default).

    Raises:
        ValueError: the problem is not supported (the reason is in the message).
        RuntimeError: ``backend="inductor"`` and no compiler is available (see :func:`available`).
    """
    _checks.choice("backend", backend, BACKENDS)
    reason = unsupported_reason(problem)
    if reason is not None:
        raise ValueError(f"problem cannot be compiled: {reason}")
    if backend == "inductor" and not available():
        raise RuntimeError(
            "torch.compile needs a C++ compiler on the PATH (g++, c++ or clang++; "
            "or LTDL_NO_COMPILE is set): use backend='eager' or the problem as it is"
        )
    _checks.instance("fallback", fallback, bool, "True or False")
    return CompiledProblem(problem, backend=backend, fallback=fallback, mode=mode)


def maybe_compile(problem: Problem, enabled: bool = True, *, backend: str | None = None) -> Problem:
    """The fused version of ``problem`` when ``enabled`` and supported, else ``problem`` itself.

    ``backend=None`` picks ``"inductor"`` where a compiler is available, else ``"eager"``.
    """
    if not enabled or unsupported_reason(problem) is not None:
        return problem
    if backend is None:
        backend = "inductor" if available() else "eager"
    return CompiledProblem(problem, backend=backend)
