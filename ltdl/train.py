"""Full-batch training: L-BFGS (strong Wolfe) or Adam, returning a :class:`Result`.

For a batch of S problems the scalar minimised is Σ_s J_s: the problems are independent, so
the gradient of each block is that block's own gradient.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field as dc_field

import torch
from torch import Tensor

from . import _checks
from .controls import detach, num_layers
from .fields import Controls
from .problem import Problem


@dataclass
class Result:
    """Outcome of :func:`train`.

    Attributes:
        controls: optimised controls (detached), tensors ``(*batch, K, ...)``.
        trajectory: ``(K+1, *batch, N, d)`` for those controls.
        terms: each term of J at the optimum (detached tensors of shape ``(*batch,)``).
        history: Σ J at each function evaluation (L-BFGS) or step (Adam).
        n_iter: iterations (L-BFGS) or steps (Adam) performed.
        wall_time: seconds spent in :func:`train`.
    """

    controls: Controls
    trajectory: Tensor
    terms: dict[str, Tensor]
    history: list[float] = dc_field(default_factory=list)
    n_iter: int = 0
    wall_time: float = 0.0

    @property
    def value(self) -> Tensor:
        return self.terms["J"]


def _progress(total: int | None, enabled: bool, desc: str | None):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, leave=False)


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
    progress: bool = False,
    desc: str | None = None,
) -> Result:
    """Minimise J over the controls (and over P when ``problem.P.trainable``).

    Args:
        problem: the objective.
        u0: initial controls (zeros when None); copied, never modified.
        optimizer: ``"lbfgs"`` (one call, strong Wolfe line search) or ``"adam"``.
        max_iter: L-BFGS iterations or Adam steps.
        lr: step size (default 1.0 for L-BFGS, 1e-2 for Adam).
        tol_grad, tol_change: L-BFGS stopping tolerances.
        history_size: L-BFGS memory.
        progress: show a tqdm bar.
    """
    _checks.choice("optimizer", optimizer, ("lbfgs", "adam"))
    _checks.integer("max_iter", max_iter)
    lr = (1.0 if optimizer == "lbfgs" else 1e-2) if lr is None else lr
    _checks.positive("lr", lr)
    u0 = problem.init_controls() if u0 is None else u0
    num_layers(u0, problem.field, problem.d)  # shape check before any work
    if any(t.dtype != problem.x.dtype for t in u0.values()):
        raise ValueError(f"u0 must have the dtype of the data ({problem.x.dtype})")
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
        opt = torch.optim.LBFGS(params, lr=lr, max_iter=max_iter, history_size=history_size,
                                tolerance_grad=tol_grad, tolerance_change=tol_change,
                                line_search_fn="strong_wolfe")

        def closure() -> Tensor:
            opt.zero_grad()
            J = problem.objective(u).sum()
            J.backward()
            history.append(float(J.detach()))
            bar.update(1)
            return J

        opt.step(closure)
        n_iter = opt.state[opt._params[0]]["n_iter"]
    else:
        opt = torch.optim.Adam(params, lr=lr)
        for n_iter in range(1, max_iter + 1):
            opt.zero_grad()
            J = problem.objective(u).sum()
            J.backward()
            opt.step()
            history.append(float(J.detach()))
            bar.update(1)
    bar.close()
    if problem.P.trainable:
        problem.P.A.requires_grad_(False)
        problem.P.c.requires_grad_(False)
        problem.P.A, problem.P.c = problem.P.A.detach(), problem.P.c.detach()
    u_opt = detach(u)
    with torch.no_grad():
        traj = problem.trajectory(u_opt)
        terms = {k: v.detach() for k, v in problem.terms(u_opt, traj).items()}
    return Result(u_opt, traj, terms, history, int(n_iter), time.perf_counter() - start)
