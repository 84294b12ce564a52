"""The straightforward neural-ODE implementation that ltdl is benchmarked against.

Written by us, the way a researcher writes it by hand with torchdiffeq (the design of the
authors' toolbox, paper-notes §5): one ``nn.Linear`` per layer, ``torchdiffeq.odeint`` with a
fixed-step method whose right-hand side looks up the layer of the current time ``t``, the
trajectory integrated a second time for the running cost, and the weight decay written as a
penalty over ``model.parameters()``.

It computes *the same objective* as :class:`ltdl.Problem` with the ``outer`` field,

    J = α E(x(T)) + β Σ_k Δt/2 [E(x_k) + E(x_{k+1})] + λ Δt Σ_k (‖W_k‖² + |b_k|²),

(the running sum is the trapezoid rule on the layer grid), so that after the same training
steps from the same controls both implementations reach the same loss up to rounding. Only
the outer field f(x, u) = W σ(x) + b is implemented: that is the benchmark's problem.
"""

from __future__ import annotations

import torch
import torchdiffeq
from torch import nn


class LayerLookupODE(nn.Module):
    """dx/dt = W_{k(t)} σ(x) + b_{k(t)} with one ``nn.Linear`` per layer and k(t) = ⌊t/Δt⌋."""

    def __init__(self, d: int, K: int, T: float, sigma=torch.tanh) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(d, d) for _ in range(K))
        self.K, self.T, self.dt, self.sigma = K, T, T / K, sigma

    def layer_index(self, t: torch.Tensor) -> int:
        # The per-step lookup. The small offset keeps t = k Δt (up to rounding) in layer k.
        k = int(float(t) / self.dt + 1e-6)
        return min(max(k, 0), self.K - 1)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.layers[self.layer_index(t)](self.sigma(x))

    @torch.no_grad()
    def load_controls(self, w: torch.Tensor, b: torch.Tensor) -> None:
        """Copy ltdl-layout controls ``w (K, d, d)``, ``b (K, d)`` into the layers."""
        for k, layer in enumerate(self.layers):
            layer.weight.copy_(w[k])
            layer.bias.copy_(b[k])


class ReferenceModel(nn.Module):
    """Neural ODE + fixed output map P x = A x + c + loss; ``forward`` returns the objective."""

    def __init__(
        self,
        d: int,
        K: int,
        T: float,
        A: torch.Tensor,
        c: torch.Tensor,
        *,
        beta: float,
        lam: float,
        final_weight: float = 1.0,
        method: str = "midpoint",
        loss: str = "tanh_mse",
        integrate_twice: bool = True,
    ) -> None:
        super().__init__()
        self.ode = LayerLookupODE(d, K, T)
        self.register_buffer("A", A.clone())
        self.register_buffer("c", c.clone())
        self.beta, self.lam, self.final_weight = beta, lam, final_weight
        self.method, self.loss, self.integrate_twice = method, loss, integrate_twice

    def empirical_risk(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = x @ self.A.T + self.c
        if self.loss == "tanh_mse":
            z = torch.tanh(z)
        return ((z - y) ** 2).sum(-1).mean()

    def forward(self, x0: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ode, opts = self.ode, {"step_size": self.ode.dt}
        t_grid = torch.linspace(0.0, ode.T, ode.K + 1, dtype=x0.dtype)
        if self.integrate_twice:
            # Final state from one call; the running cost integrates the trajectory again.
            t_end = torch.tensor([0.0, ode.T], dtype=x0.dtype)
            xT = torchdiffeq.odeint(ode, x0, t_end, method=self.method, options=opts)[-1]
            traj = torchdiffeq.odeint(ode, x0, t_grid, method=self.method, options=opts)
        else:
            traj = torchdiffeq.odeint(ode, x0, t_grid, method=self.method, options=opts)
            xT = traj[-1]
        loss = self.final_weight * self.empirical_risk(xT, y)
        running = 0.0
        for k in range(ode.K):
            running = running + 0.5 * ode.dt * (self.empirical_risk(traj[k], y) + self.empirical_risk(traj[k + 1], y))
        loss = loss + self.beta * running
        # Weight decay written as the penalty λ ∫ ‖u‖² dt = λ Δt Σ_k ‖u_k‖².
        decay = sum((p**2).sum() for p in ode.parameters())
        return loss + self.lam * ode.dt * decay


def train_reference(
    model: ReferenceModel,
    x0: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float,
    step_times: list[float] | None = None,
) -> list[float]:
    """Full-batch Adam on the objective; returns the loss before each step."""
    import time

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = model(x0, y)
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
        if step_times is not None:
            step_times.append(time.perf_counter() - t0)
    return history
