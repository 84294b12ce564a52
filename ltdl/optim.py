"""Every minimiser of the library behind one result type.

* :func:`train`: first order — L-BFGS with a strong Wolfe line search (one call) or Adam.
* :func:`train_newton`: damped Newton with the exact Hessian, after an optional L-BFGS warm-up.
* :func:`fista`: accelerated proximal gradient for J(u) + l1·Δt·Σ_k ‖u_k‖₁.

Each returns a :class:`Result` whose ``certificate`` (a :class:`Certificate`) says how well the
problem was solved *at the returned controls*: the largest entry of the gradient (or, for
:func:`fista`, of the prox-gradient mapping), and for Newton the smallest Hessian eigenvalue.

One meaning per tolerance: ``tol_grad`` (and ``tol`` of :func:`fista`) is always a bound on
the max-abs entry of the gradient, or of the prox-gradient mapping, over all optimised tensors.
:func:`train` hands it to L-BFGS unchanged (``torch.optim.LBFGS`` stops on the same max-abs
test); Adam ignores it (it runs ``max_iter`` steps).

For a batch of S problems the scalar minimised is Σ_s J_s: the problems are independent, so
the gradient of each block is that block's own gradient, and the certificate's ``grad_max`` is
the largest over the batch members.

Why one module: the three minimisers are one contract, not three tools. They return the same
:class:`Result` and :class:`Certificate`, share the helpers that define it (``_finish``,
``gradient``, ``_max_abs``, ``lbfgs``, ``newton``), and the promise above, one meaning per
tolerance, can be read and checked only where all three are side by side. This is also the hot
path behind every stored number of the book (mypy checks it strictly, ``pyproject.toml``): a split
would move its code without changing a line of it, and buys no clearer seam than the one the
three public functions already draw.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, cast

import torch
from torch import Tensor

from . import _checks, perturb
from .controls import detach, flatten, num_layers
from .fields import Controls
from .problem import Problem


@dataclass(frozen=True)
class Certificate:
    """How well a minimiser solved its problem, measured at the returned controls.

    Attributes:
        kind: ``"gradient"`` (:func:`train`), ``"newton"`` (:func:`train_newton`) or
            ``"prox-gradient"`` (:func:`fista`).
        grad_max: the max-abs entry of ∂J/∂u over every optimised tensor (controls, and P when trained) and
            every batch member; for ``"prox-gradient"`` the max-abs entry of the prox-gradient
            mapping G(u) = (u − prox_s(u − s∇f(u)))/s, which is 0 exactly at a minimiser.
        min_eig: smallest eigenvalue of the Hessian of J (``"newton"`` only; > 0 certifies a
            strict local minimum), else None.
    """

    kind: str
    grad_max: float
    min_eig: float | None = None

    def check(self, grad_tol: float, min_eig_floor: float | None = None) -> None:
        """Raise AssertionError unless grad_max ≤ ``grad_tol`` (and min_eig > ``min_eig_floor``)."""
        _checks.positive("grad_tol", grad_tol)
        if not self.grad_max <= grad_tol:  # also fails on NaN
            raise AssertionError(
                f"{self.kind} certificate fails: max-abs gradient {self.grad_max:.3g} "
                f"> grad_tol {grad_tol:.3g} (the solve did not converge)"
            )
        if min_eig_floor is not None:
            if self.min_eig is None:
                raise AssertionError(
                    f"a {self.kind!r} certificate has no Hessian eigenvalue; min_eig_floor needs train_newton"
                )
            if not self.min_eig > min_eig_floor:
                raise AssertionError(
                    f"{self.kind} certificate fails: smallest Hessian eigenvalue "
                    f"{self.min_eig:.3g} <= min_eig_floor {min_eig_floor:.3g} "
                    "(not a strict local minimum)"
                )


@dataclass
class Result:
    """Outcome of :func:`train`, :func:`train_newton` or :func:`fista`.

    Attributes:
        controls: optimised controls (detached), tensors ``(*batch, K, ...)``.
        trajectory: ``(K+1, *batch, N, d)`` for those controls.
        terms: each term of J at the optimum (detached tensors of shape ``(*batch,)``);
            :func:`fista` adds ``"l1"`` and includes it in ``"J"``.
        history: Σ J at each function evaluation (L-BFGS), step (Adam), Newton step or
            FISTA iteration.
        n_iter: iterations (L-BFGS), steps (Adam), L-BFGS iterations + Newton steps, or FISTA
            iterations.
        wall_time: seconds spent in the minimiser.
        certificate: the :class:`Certificate` at the returned controls.
    """

    controls: Controls
    trajectory: Tensor
    terms: dict[str, Tensor]
    history: list[float] = dc_field(default_factory=list)
    n_iter: int = 0
    wall_time: float = 0.0
    certificate: Certificate = dc_field(kw_only=True)  # required: every minimiser certifies its result

    @property
    def value(self) -> Tensor:
        """J at the returned controls, ``terms["J"]``, shape ``(*batch,)``."""
        return self.terms["J"]


def _progress(total: int | None, enabled: bool, desc: str | None) -> Any:  # a tqdm bar; tqdm ships no stubs
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, leave=False)


def _max_abs(tensors: Iterable[Tensor]) -> float:
    return max(float(t.detach().abs().max()) for t in tensors)


def gradient(problem: Problem, u: Controls) -> Controls:
    """∂(Σ_batch J)/∂u at ``u`` (detached tensors shaped like ``u``; P held fixed)."""
    w = {n: t.detach().clone().requires_grad_(True) for n, t in u.items()}
    names = list(w)
    J = problem.objective(w).sum()
    return dict(zip(names, torch.autograd.grad(J, [w[n] for n in names]), strict=True))


def _finish(
    problem: Problem,
    u_opt: Controls,
    *,
    history: list[float],
    n_iter: int,
    start: float,
    certificate: Certificate,
    extra: dict[str, Tensor] | None = None,
) -> Result:
    """The :class:`Result` of every minimiser: trajectory and terms at ``u_opt``, each ``extra`` term
    added to ``terms`` and to ``J`` (FISTA's ℓ¹ term), wall time since ``start``."""
    with torch.no_grad():
        traj = problem.trajectory(u_opt)
        terms = {k: v.detach() for k, v in problem.terms(u_opt, traj).items()}
    for name, value in (extra or {}).items():
        terms[name] = value.detach()
        terms["J"] = terms["J"] + terms[name]
    return Result(u_opt, traj, terms, history, n_iter, time.perf_counter() - start, certificate=certificate)


def lbfgs(
    fun: Callable[[], Tensor],
    params: list[Tensor],
    *,
    max_iter: int,
    lr: float = 1.0,
    tol_grad: float = 1e-12,
    tol_change: float = 1e-15,
    history_size: int = 50,
    on_eval: Callable[[Tensor], None] | None = None,
) -> int:
    """One ``torch.optim.LBFGS`` call (strong Wolfe line search) on ``fun()``, in place.

    Args:
        fun: a closure returning the scalar to minimise, built from ``params``.
        params: leaf tensors with ``requires_grad``; updated in place.
        max_iter, lr, history_size: L-BFGS options.
        tol_grad: stop when the max-abs gradient entry is ≤ ``tol_grad``.
        tol_change: stop when the value or the step changes by less than this.
        on_eval: called with the value after each evaluation.

    Returns:
        The number of L-BFGS iterations performed.
    """
    opt = torch.optim.LBFGS(
        params,
        lr=lr,
        max_iter=max_iter,
        history_size=history_size,
        tolerance_grad=tol_grad,
        tolerance_change=tol_change,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        opt.zero_grad()
        J = fun()
        J.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
        if on_eval is not None:
            on_eval(J)
        return J

    opt.step(closure)  # type: ignore[no-untyped-call]  # LBFGS.step is unannotated in torch
    return cast(int, opt.state[opt._params[0]]["n_iter"])  # optimizer state is dict[Any, Any]


def newton(
    fun: Callable[[Tensor], Tensor], z: Tensor, *, tol_grad: float = 1e-12, max_steps: int = 40
) -> tuple[Tensor, float, float, list[float]]:
    """Damped Newton with the exact Hessian on a scalar function of one flat vector ``z`` ``(n,)``.

    Each step solves (H + τI) p = −g with the smallest τ ≥ 0 (from a geometric ladder) for
    which the Cholesky factorisation succeeds, then backtracks on ``fun`` (Armijo). τ shrinks
    after full steps, so near a strict minimum the steps are pure Newton (quadratic
    convergence). Stops when max |g| ≤ ``tol_grad`` or after ``max_steps`` steps (with
    ``tol_grad=0`` only a gradient of exactly zero stops it early). The gradient
    and Hessian come from ``torch.func`` (one vectorised reverse-over-reverse pass; O(n²)
    memory: meant for up to about a thousand unknowns).

    Returns:
        (z, max |g| at z, smallest eigenvalue of the Hessian at z, ``fun`` after each step).
    """
    from torch.func import grad, jacrev

    G = grad(fun)
    H = jacrev(G)
    eye = torch.eye(z.numel(), dtype=z.dtype)
    tau, steps, history = 0.0, 0, []
    g = G(z)
    while steps < max_steps and float(g.abs().max()) > tol_grad:
        Hm = H(z)
        scale = float(Hm.diagonal().abs().max())
        while True:
            L, info = torch.linalg.cholesky_ex(Hm + tau * eye)
            if int(info) == 0:
                break
            tau = max(4 * tau, 1e-8 * scale)
        p = torch.cholesky_solve(-g.unsqueeze(1), L).squeeze(1)
        J0, slope, a = float(fun(z)), float(g @ p), 1.0
        while a > 1e-12:
            J1 = float(fun(z + a * p))
            if J1 <= J0 + 1e-4 * a * slope or abs(J1 - J0) <= 1e-15 * max(abs(J0), 1.0):
                break
            a /= 2
        z = z + a * p
        tau = tau / 8 if a == 1.0 else max(4 * tau, 1e-8 * scale)
        if tau < 1e-12 * scale:
            tau = 0.0
        steps += 1
        history.append(float(fun(z)))
        g = G(z)
    min_eig = float(torch.linalg.eigvalsh(H(z))[0])
    return z, float(g.abs().max()), min_eig, history


def train(
    problem: Problem,
    u0: Controls | None = None,
    *,
    optimizer: str = "lbfgs",
    max_iter: int = 500,
    lr: float | None = None,
    tol_grad: float = 1e-12,
    tol_change: float = 1e-15,
    history_size: int = 50,
    restarts: int = 0,
    progress: bool = False,
    desc: str | None = None,
) -> Result:
    """Minimise J over the controls (and over P when ``problem.P.trainable``), first order.

    Args:
        problem: the objective.
        u0: initial controls (zeros when None); copied, never modified.
        optimizer: ``"lbfgs"`` (one call of ``torch.optim.LBFGS``, strong Wolfe line search)
            or ``"adam"``.
        max_iter: L-BFGS iterations or Adam steps.
        lr: step size (default 1.0 for L-BFGS, 1e-2 for Adam).
        tol_grad: L-BFGS stops when the max-abs gradient entry is ≤ ``tol_grad``.
        tol_change: L-BFGS also stops when J or the step changes by less than this.
        history_size: L-BFGS memory.
        restarts: at most this many further calls from the returned point, each kept only while
            it lowers Σ J strictly (a fresh L-BFGS memory escapes the stalls of a stale one).
        progress: show a tqdm bar.

    Returns:
        A :class:`Result`; its certificate (kind ``"gradient"``) is computed by one extra
        gradient evaluation at the returned controls (and P). With restarts, ``history`` and
        ``n_iter`` cover every kept call and ``wall_time`` every call.
    """
    _checks.integer("restarts", restarts, minimum=0)
    once = functools.partial(
        _train_once, problem, optimizer=optimizer, max_iter=max_iter, lr=lr, tol_grad=tol_grad,
        tol_change=tol_change, history_size=history_size, progress=progress, desc=desc,
    )  # fmt: skip
    start = time.perf_counter()
    res = once(u0)
    for _ in range(restarts):
        P_kept = (problem.P.A.detach().clone(), problem.P.c.detach().clone())  # LBFGS updates P in place
        again = once(res.controls)
        if not float(again.value.sum()) < float(res.value.sum()):
            problem.P.A, problem.P.c = P_kept  # the rejected call moved a trainable P: undo it
            break
        again.history[:0] = res.history
        again.n_iter += res.n_iter
        res = again
    res.wall_time = time.perf_counter() - start
    return res


def _train_once(
    problem: Problem,
    u0: Controls | None,
    *,
    optimizer: str,
    max_iter: int,
    lr: float | None,
    tol_grad: float,
    tol_change: float,
    history_size: int,
    progress: bool,
    desc: str | None,
) -> Result:
    """One call of the first-order method (see :func:`train`)."""
    _checks.choice("optimizer", optimizer, ("lbfgs", "adam"))
    _checks.integer("max_iter", max_iter)
    lr = (1.0 if optimizer == "lbfgs" else 1e-2) if lr is None else lr
    _checks.positive("lr", lr)
    u0 = problem.init_controls() if u0 is None else u0
    if hasattr(problem, "check_controls"):  # device/dtype/type of u0 against the data, named "u0"
        problem.check_controls(u0, "u0")
    num_layers(u0, problem.field, problem.d)  # shape check before any work
    if any(t.dtype != problem.x.dtype for t in u0.values()):
        raise ValueError(f"u0 must have the dtype of the data ({problem.x.dtype})")
    u0 = perturb.controls(u0)  # the portability probe (LTDL_PERTURB); the same u0 when it is off
    u = {n: t.detach().clone().requires_grad_(True) for n, t in u0.items()}
    params = list(u.values())
    if problem.P.trainable:
        problem.P.A.requires_grad_(True)
        problem.P.c.requires_grad_(True)
        params += [problem.P.A, problem.P.c]

    start = time.perf_counter()
    history: list[float] = []
    # L-BFGS evaluates J a variable number of times per iteration: the bar counts evaluations.
    bar = _progress(max_iter if optimizer == "adam" else None, progress, desc)
    if optimizer == "lbfgs":

        def on_eval(J: Tensor) -> None:
            history.append(float(J.detach()))
            bar.update(1)

        n_iter = lbfgs(
            lambda: problem.objective(u).sum(),
            params,
            max_iter=max_iter,
            lr=lr,
            tol_grad=tol_grad,
            tol_change=tol_change,
            history_size=history_size,
            on_eval=on_eval,
        )
    else:
        opt = torch.optim.Adam(params, lr=lr)
        n_iter = max_iter
        for _ in range(max_iter):
            opt.zero_grad()
            J = problem.objective(u).sum()
            J.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
            opt.step()
            history.append(float(J.detach()))
            bar.update(1)
    bar.close()
    # Certificate: one gradient evaluation at the returned point, over every optimised tensor.
    for p in params:
        p.grad = None
    problem.objective(u).sum().backward()  # type: ignore[no-untyped-call]  # unannotated in torch
    grad_max = _max_abs(cast(Tensor, p.grad) for p in params)  # backward() set every grad
    for p in params:
        p.grad = None
    if problem.P.trainable:
        problem.P.A.requires_grad_(False)
        problem.P.c.requires_grad_(False)
        problem.P.A, problem.P.c = problem.P.A.detach(), problem.P.c.detach()
    return _finish(
        problem,
        detach(u),
        history=history,
        n_iter=int(n_iter),
        start=start,
        certificate=Certificate("gradient", grad_max),
    )


def train_newton(
    problem: Problem,
    u0: Controls | None = None,
    *,
    lbfgs_iter: int = 30,
    tol_grad: float = 1e-12,
    max_steps: int = 40,
) -> Result:
    """Minimise J: ``lbfgs_iter`` L-BFGS iterations, then damped Newton with the exact Hessian.

    The Newton phase (``ltdl.optim.newton``) works on the controls flattened to one vector: it stops
    when the max-abs entry of ∂J/∂u is ≤ ``tol_grad`` or after ``max_steps`` steps (``tol_grad=0``:
    all ``max_steps`` steps, a polish to rounding level; ``max_steps=0``: no step, only the
    certificate at ``u0``).
    Meant for small problems (up to about a thousand scalar controls).
    Not for batched problems or a trainable P.

    Returns:
        A :class:`Result` (``n_iter`` = L-BFGS iterations + Newton steps; ``history`` holds J
        after each Newton step) whose certificate (kind ``"newton"``) carries the max-abs gradient
        entry and the smallest eigenvalue of the Hessian at the returned controls.
    """
    _checks.integer("lbfgs_iter", lbfgs_iter, minimum=0)
    _checks.nonnegative("tol_grad", tol_grad)
    _checks.integer("max_steps", max_steps, minimum=0)
    if problem.batch != ():
        raise ValueError(f"problem must be a single problem (scalar T and lam), got batch shape {problem.batch}")
    if problem.P.trainable:
        raise ValueError("problem.P must be fixed (trainable=False) for train_newton")
    start = time.perf_counter()
    if u0 is not None and hasattr(problem, "check_controls"):
        problem.check_controls(u0, "u0")
    u = problem.init_controls() if u0 is None else detach(u0)
    if lbfgs_iter > 0 or max_steps > 0:  # a solve: the probe moves its start (ltdl.perturb); a pure
        u = perturb.controls(u)  # evaluation of the certificate (both 0) stays at the given controls
    n_lbfgs = 0
    if lbfgs_iter > 0:
        res = train(problem, u, max_iter=lbfgs_iter)
        u, n_lbfgs = res.controls, res.n_iter
    z, unflat = flatten({n: u[n] for n in problem.field.shapes(problem.d)})
    z, g_max, min_eig, history = newton(
        lambda w: problem.objective(unflat(w)), z, tol_grad=tol_grad, max_steps=max_steps
    )
    return _finish(
        problem,
        detach(unflat(z)),
        history=history,
        n_iter=n_lbfgs + len(history),
        start=start,
        certificate=Certificate("newton", g_max, min_eig),
    )


def fista(
    problem: Problem,
    u0: Controls | None = None,
    *,
    l1: float,
    tol: float = 1e-10,
    max_iter: int = 20000,
    step: float = 1.0,
    restart: bool = True,
    progress: bool = False,
    desc: str | None = None,
) -> Result:
    """Minimise F(u) = J(u) + l1·Δt·Σ_k ‖u_k‖₁ by FISTA with backtracking and adaptive restart.

    J is the smooth objective of ``problem`` (its own λ-term may be 0); the ℓ¹ term is
    :func:`ltdl.l1_penalty` with Δt = T/K, ‖u_k‖₁ summing the absolute entries of every control
    tensor of layer k. With z the controls as one vector (every tensor ``(*batch, K, ...)``
    flattened; a batch is minimised as Σ_s F_s, each member with its own Δt_s), one iteration
    from the extrapolated point y is

        z⁺ = prox_s(y − s ∇J(y)),   prox_s(v)_j = sign(v_j) · max(abs(v_j) − s·l1·Δt_j, 0),

    with the step s halved until J(z⁺) ≤ J(y) + ∇J(y)·(z⁺ − y) + ‖z⁺ − y‖²/(2s) (s never grows:
    the classical backtracking of Beck and Teboulle), then t⁺ = (1 + sqrt(1 + 4t²))/2 and
    y ← z⁺ + ((t − 1)/t⁺)(z⁺ − z). Exact zeros come from the prox only; nothing is thresholded
    afterwards.

    Restart (``restart=True``, the default): when a momentum step would raise F, the momentum
    is dropped (t = 1, y = z) and a plain proximal-gradient step is taken instead, so F never
    increases (a monotone variant). This keeps the method stable on non-convex problems and
    turns FISTA's O(1/k²) into linear convergence on strongly convex ones.

    Stopping and certificate: the prox-gradient mapping G_s(z) = (z − prox_s(z − s∇J(z)))/s
    is 0 exactly at a stationary point of F. The run stops when max-abs G_s ≤ ``tol`` at the
    current iterate (s the current step) or after ``max_iter`` iterations; the certificate
    (kind ``"prox-gradient"``) holds max-abs G_s at the returned controls, over all entries and
    batch members.

    Args:
        problem: the smooth part J (P fixed).
        u0: initial controls (zeros when None); copied.
        l1: weight of the ℓ¹ term, ≥ 0.
        tol: target for the max-abs entry of G_s.
        max_iter: iterations at most (a restarted iteration counts).
        step: initial step s.
        restart: adaptive (function-value) restart, see above.
        progress: a tqdm bar over iterations.

    Returns:
        A :class:`Result` with ``terms["l1"]`` (shape ``(*batch,)``) added to ``terms["J"]``,
        ``history`` = Σ F after each iteration.

    The ordered sparsity of ℓ¹-optimal controls is expected for fields that are positively
    1-homogeneous in u; for other fields a UserWarning says so (the solver still runs).
    """
    from .costs import l1_penalty

    _checks.nonnegative("l1", l1)
    _checks.positive("tol", tol)
    _checks.integer("max_iter", max_iter)
    _checks.positive("step", step)
    if problem.P.trainable:
        raise ValueError("problem.P must be fixed (trainable=False) for fista")
    try:
        homogeneous = problem.field.is_homogeneous
    except NotImplementedError:
        homogeneous = True  # unknown: no claim, no warning
    if not homogeneous:
        import warnings

        warnings.warn(
            f"fista: {problem.field!r} is not positively 1-homogeneous in the control; "
            "the ordered sparsity of l1-optimal controls is not expected",
            stacklevel=2,
        )
    u0 = problem.init_controls() if u0 is None else u0
    if hasattr(problem, "check_controls"):  # device/dtype/type of u0 against the data, named "u0"
        problem.check_controls(u0, "u0")
    num_layers(u0, problem.field, problem.d)
    if any(t.dtype != problem.x.dtype for t in u0.values()):
        raise ValueError(f"u0 must have the dtype of the data ({problem.x.dtype})")
    shapes = problem.field.shapes(problem.d)
    for n in shapes:
        if u0[n].ndim != len(problem.batch) + 1 + len(shapes[n]):
            raise ValueError(
                f"u0[{n!r}] must have shape (*batch, K, ...) with batch {problem.batch}, got {tuple(u0[n].shape)}"
            )
    u0 = perturb.controls({n: u0[n] for n in shapes})  # the portability probe (LTDL_PERTURB)
    z, unflat = flatten(u0)
    # Batch members are independent problems: each has its own Δt, step, momentum and restarts.
    # ``mid`` maps each entry of z to its member; per(v) sums an entrywise vector per member.
    batch = problem.batch
    S = math.prod(batch)
    ids = torch.arange(S, device=z.device).reshape(batch)
    mid = torch.cat(
        [ids.reshape(*batch, *([1] * (1 + len(shapes[n])))).expand(u0[n].shape).reshape(-1) for n in shapes]
    )
    dt = torch.as_tensor(problem.T, dtype=z.dtype, device=z.device).expand(batch).reshape(S) / problem.K
    thr = l1 * dt[mid]  # l1·Δt per entry

    def per(v: Tensor) -> Tensor:
        return torch.zeros(S, dtype=v.dtype, device=v.device).index_add_(0, mid, v)

    def f(w: Tensor) -> Tensor:
        with torch.no_grad():
            return problem.objective(unflat(w)).reshape(S)

    def f_grad(w: Tensor) -> tuple[Tensor, Tensor]:
        w = w.detach().requires_grad_(True)
        J = problem.objective(unflat(w)).reshape(S)
        (g,) = torch.autograd.grad(J.sum(), w)
        return J.detach(), g

    def prox(v: Tensor, s: Tensor) -> Tensor:
        return torch.sign(v) * torch.clamp(v.abs() - s[mid] * thr, min=0.0)

    def G_max(w: Tensor, s: Tensor) -> float:  # max |G_s(w)| over all entries
        _, g = f_grad(w)
        return float(((w - prox(w - s[mid] * g, s)) / s[mid]).abs().max())

    eps = torch.finfo(z.dtype).eps
    start = time.perf_counter()
    bar = _progress(max_iter, progress, desc)
    s = torch.full((S,), float(step), dtype=z.dtype, device=z.device)
    t = torch.ones(S, dtype=z.dtype, device=z.device)
    momentum = torch.zeros(S, dtype=torch.bool, device=z.device)
    F_z = f(z) + per(thr * z.abs())
    y = z
    history: list[float] = []
    n_iter, cert = 0, float("inf")
    while n_iter < max_iter:
        n_iter += 1
        bar.update(1)
        f_y, g_y = f_grad(y)
        while True:  # backtracking, member by member
            z_new = prox(y - s[mid] * g_y, s)
            dz = z_new - y
            f_new = f(z_new)
            bound = f_y + per(g_y * dz) + per(dz * dz) / (2 * s)
            bad = f_new > bound + 16 * eps * torch.maximum(f_y.abs(), f_new.abs())  # rounding slack
            if not bool(bad.any()):
                break
            s = torch.where(bad, s / 2, s)
            if float(s.min()) < 1e-300:
                raise RuntimeError("fista: the backtracking step underflowed (is J smooth and finite?)")
        F_new = f_new + per(thr * z_new.abs())
        # Members whose momentum step raised F restart: they stay at z, drop the momentum.
        acc = ~(momentum & (F_new > F_z)) if restart else torch.ones_like(momentum)
        t_new = torch.where(acc, (1 + torch.sqrt(1 + 4 * t * t)) / 2, torch.ones_like(t))
        coef = torch.where(acc, (t - 1) / t_new, torch.zeros_like(t))
        z_next = torch.where(acc[mid], z_new, z)
        y = z_next + coef[mid] * (z_next - z)
        momentum = acc & (t > 1)
        F_z = torch.where(acc, F_new, F_z)
        z, t = z_next, t_new
        history.append(float(F_z.sum()))
        if bool(acc.all()) and float((dz.abs() / s[mid]).max()) <= tol:  # G_s small at y: test z
            cert = G_max(z, s)
            if cert <= tol:
                break
    bar.close()
    if cert > tol:  # stopped by max_iter: measure the certificate at the returned point
        cert = G_max(z, s)
    u_opt = detach(unflat(z))
    return _finish(
        problem,
        u_opt,
        history=history,
        n_iter=n_iter,
        start=start,
        certificate=Certificate("prox-gradient", cert),
        extra={"l1": l1_penalty(u_opt, problem.field, problem.d, problem.T, l1)},
    )


__all__ = ["Certificate", "Result", "fista", "gradient", "lbfgs", "newton", "train", "train_newton"]
