"""Self-attention dynamics on the sphere: tokens as interacting particles, depth as time.

``n`` tokens ``x_i`` on the unit sphere of R^d (shape ``(*batch, n, d)``), inverse temperature
``beta >= 0``, value matrix ``V`` (``(d, d)``, default the identity), token masses ``m_i > 0``
summing to 1 (default ``1/n`` each; tokens that coincide can be merged into one token of their
summed mass without changing the dynamics). With ``P_x y = y - <x, y> x`` the projection onto
the tangent space at ``x``:

* SA (self-attention):  ``dx_i/dt = P_{x_i}( sum_j m_j e^{beta <x_i, x_j>} V x_j / Z_i )``,
  ``Z_i = sum_j m_j e^{beta <x_i, x_j>}`` (a softmax, computed in log-sum-exp form);
* USA (unnormalised):   ``dx_i/dt = P_{x_i}( sum_j m_j e^{beta <x_i, x_j>} V x_j )``.

The interaction energy ``E_beta = 1/(2 beta) sum_{i,j} m_i m_j (e^{beta <x_i, x_j>} - 1)``
(``1/2 sum m_i m_j <x_i, x_j>`` at ``beta = 0``) never decreases along either flow when ``V = I``.
Time is depth: one step of :func:`attention_flow` with ``method="euler"`` is a Transformer block
without MLP followed by a normalisation onto the sphere.

The module also holds the cluster diagnostics (:func:`cluster_labels`, :func:`count_clusters`,
:func:`token_diameter`); the long-time integrator and the exact two-cluster reductions (oracles)
are in :mod:`ltdl.metastability`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from . import _checks, perturb

KINDS = ("sa", "usa")
"""The two self-attention fields: ``"sa"`` (softmax-normalised) and ``"usa"`` (unnormalised)."""

METHODS = ("euler", "rk4")
"""Fixed-step integrators of :func:`attention_flow`: projected Euler (the Transformer block with
normalisation, order 1) and classical RK4 followed by a normalisation (the reference, order 4)."""


# --------------------------------------------------------------------------------------------
# argument checks


def _tokens(name: str, x: object) -> Tensor:
    _checks.tensor(name, x, min_ndim=2, nonempty=True)
    assert isinstance(x, Tensor)
    if x.shape[-2] < 1 or x.shape[-1] < 2:
        raise ValueError(
            f"{name} must have shape (*batch, n, d) with n >= 1 tokens in dimension d >= 2, got {tuple(x.shape)}"
        )
    return x


def _beta(beta: object) -> float:
    _checks.nonnegative("beta", beta)
    return float(beta)  # type: ignore[arg-type]


def _value(V: Tensor | None, x: Tensor) -> Tensor | None:
    if V is None:
        return None
    _checks.tensor("V", V, ndim=2)
    d = x.shape[-1]
    if tuple(V.shape) != (d, d):
        raise ValueError(
            f"V must be a (d, d) = ({d}, {d}) matrix for tokens of dimension d = {d}, got shape {tuple(V.shape)}"
        )
    _checks.like("V", V, "x", x)
    return V


def _mass(mass: Tensor | None, x: Tensor) -> Tensor:
    n = x.shape[-2]
    if mass is None:
        return torch.full(x.shape[:-1], 1.0 / n, dtype=x.dtype, device=x.device)
    _checks.tensor("mass", mass, min_ndim=1)
    if mass.shape[-1] != n:
        raise ValueError(f"mass must have shape (*batch, n) with n = {n} (one mass per token), got {tuple(mass.shape)}")
    if not bool((mass > 0).all()):
        raise ValueError("mass must be > 0 for every token")
    _checks.like("mass", mass, "x", x)
    return mass


# --------------------------------------------------------------------------------------------
# tokens, fields, energy


def to_sphere(x: Tensor) -> Tensor:
    """Each token divided by its Euclidean norm: the projection onto the sphere (the layer
    normalisation of the Transformer, without gain or bias). Shape ``(*batch, n, d)`` kept."""
    return x / x.norm(dim=-1, keepdim=True)


def random_tokens(n: int, d: int, *, seed: int, batch: int | None = None, dtype: torch.dtype = torch.float64) -> Tensor:
    """``n`` tokens drawn uniformly on the unit sphere of R^d (normalised Gaussian vectors).

    Args:
        n: number of tokens (>= 1); d: dimension (>= 2).
        seed: the seed of a private generator (results are seeded explicitly).
        batch: if given, ``batch`` independent draws stacked along a leading axis.
        dtype: float64 (default) or float32.

    Returns:
        Tensor of shape ``(n, d)``, or ``(batch, n, d)``. Under ``LTDL_PERTURB`` (the portability
        probe) the Gaussian vectors are perturbed before the normalisation.
    """
    _checks.integer("n", n)
    _checks.integer("d", d, minimum=2)
    _checks.seed("seed", seed)
    if batch is not None:
        _checks.integer("batch", batch)
    _checks.float_dtype("dtype", dtype)
    gen = torch.Generator().manual_seed(seed)
    shape = (n, d) if batch is None else (batch, n, d)
    z = torch.randn(shape, generator=gen, dtype=dtype)
    return to_sphere(perturb.tensor(z))


def _weights(x: Tensor, beta: float, mass: Tensor) -> tuple[Tensor, Tensor]:
    """Softmax weights ``(*batch, n, n)`` and ``log Z_i`` ``(*batch, n)`` in log-sum-exp form."""
    logits = beta * (x @ x.transpose(-1, -2)) + mass.log().unsqueeze(-2)
    log_z = torch.logsumexp(logits, dim=-1)
    return torch.exp(logits - log_z.unsqueeze(-1)), log_z


def _project(x: Tensor, y: Tensor) -> Tensor:
    """``P_x y = y - <x, y> x`` row by row (tangent to the sphere at unit ``x``)."""
    return y - (x * y).sum(-1, keepdim=True) * x


def attention_field(
    x: Tensor, beta: float, *, kind: str = "sa", V: Tensor | None = None, mass: Tensor | None = None
) -> Tensor:
    """The self-attention velocity of every token (see the module docstring for the formulas).

    Args:
        x: tokens, shape ``(*batch, n, d)``, float64 for the book's checks; unit rows (the field is
            also evaluated off the sphere by the integrators' intermediate stages, where the same
            formula is a smooth extension that keeps the sphere invariant).
        beta: inverse temperature, >= 0.
        kind: ``"sa"`` (softmax) or ``"usa"`` (unnormalised).
        V: value matrix ``(d, d)``; ``None`` is the identity.
        mass: token masses ``(*batch, n)``, > 0 (default ``1/n`` each).

    Returns:
        Tensor of shape ``(*batch, n, d)``: ``P_{x_i}`` of the attention output of token ``i``.

    Raises:
        ValueError: naming ``x``, ``beta``, ``kind``, ``V`` or ``mass`` when one has a wrong value.
        TypeError: naming the argument when one has a wrong type.
    """
    x = _tokens("x", x)
    b = _beta(beta)
    _checks.choice("kind", kind, KINDS)
    Vm = _value(V, x)
    m = _mass(mass, x)
    w, log_z = _weights(x, b, m)
    vx = x if Vm is None else x @ Vm.transpose(-1, -2)
    out = w @ vx
    if kind == "usa":
        out = out * torch.exp(log_z).unsqueeze(-1)
    return _project(x, out)


def attention_energy(x: Tensor, beta: float, *, mass: Tensor | None = None) -> Tensor:
    """The interaction energy ``E_beta`` of the tokens, shape ``(*batch,)``.

    ``E_beta = 1/(2 beta) sum_{i,j} m_i m_j (e^{beta <x_i, x_j>} - 1)`` for ``beta > 0`` (with
    ``expm1`` for accuracy) and its limit ``1/2 sum_{i,j} m_i m_j <x_i, x_j>`` at ``beta = 0``;
    it differs from ``1/(2 beta n^2) sum e^{beta <x_i, x_j>}`` by the constant ``1/(2 beta)``
    only. Largest (``(e^beta - 1)/(2 beta)``) when all tokens coincide.

    Args:
        x: tokens ``(*batch, n, d)``; beta: >= 0; mass: ``(*batch, n)`` (default ``1/n``).
    """
    x = _tokens("x", x)
    b = _beta(beta)
    m = _mass(mass, x)
    g = x @ x.transpose(-1, -2)
    mm = m.unsqueeze(-1) * m.unsqueeze(-2)
    if b == 0.0:
        return 0.5 * (mm * g).sum((-1, -2))
    return (mm * torch.expm1(b * g)).sum((-1, -2)) / (2 * b)


# --------------------------------------------------------------------------------------------
# fixed-step integrators


def attention_flow(
    x0: Tensor,
    beta: float,
    *,
    h: float,
    steps: int,
    method: str = "euler",
    kind: str = "sa",
    V: Tensor | None = None,
    mass: Tensor | None = None,
) -> Tensor:
    """Integrate the self-attention dynamics with ``steps`` fixed steps of size ``h``.

    ``method="euler"``: ``x <- to_sphere(x + h f(x))``, a Transformer block (attention, residual
    connection) followed by the normalisation onto the sphere; first order.
    ``method="rk4"``: one classical Runge–Kutta step of the field, then the normalisation; fourth
    order (the exact flow of the extended field keeps the sphere invariant, and the normalisation
    moves a point by the size of the local error only).

    Args:
        x0: initial tokens ``(*batch, n, d)`` on the sphere.
        beta, kind, V, mass: as in :func:`attention_field`.
        h: step size (> 0); steps: number of steps (>= 1).

    Returns:
        Tensor of shape ``(steps + 1, *batch, n, d)``: the tokens at ``t = 0, h, ..., steps h``.
    """
    x = _tokens("x0", x0)
    b = _beta(beta)
    _checks.positive("h", h)
    _checks.integer("steps", steps)
    _checks.choice("method", method, METHODS)
    _checks.choice("kind", kind, KINDS)
    Vm = _value(V, x)
    m = _mass(mass, x)
    dt = float(h)

    def f(y: Tensor) -> Tensor:
        y = to_sphere(y)  # the field of the sphere, extended 0-homogeneously to the stages
        w, log_z = _weights(y, b, m)
        out = w @ (y if Vm is None else y @ Vm.transpose(-1, -2))
        if kind == "usa":
            out = out * torch.exp(log_z).unsqueeze(-1)
        return _project(y, out)

    out = [x]
    for _ in range(steps):
        if method == "euler":
            x = to_sphere(x + dt * f(x))
        else:
            k1 = f(x)
            k2 = f(x + 0.5 * dt * k1)
            k3 = f(x + 0.5 * dt * k2)
            k4 = f(x + dt * k3)
            x = to_sphere(x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4))
        out.append(x)
    return torch.stack(out)


# --------------------------------------------------------------------------------------------
# clusters


def token_diameter(x: Tensor) -> Tensor:
    """``max_{i,j} |x_i - x_j|`` (Euclidean, computed from the differences, so accurate down to
    rounding of the coordinates, not of ``1 - <x_i, x_j>``). ``x``: ``(*batch, n, d)`` →
    ``(*batch,)``."""
    x = _tokens("x", x)
    return (x.unsqueeze(-2) - x.unsqueeze(-3)).norm(dim=-1).amax((-1, -2))


def cluster_labels(x: Tensor, *, angle: float) -> Tensor:
    """Cluster label of every token: tokens closer than ``angle`` (radians, geodesic) are in the
    same cluster, and clusters are the connected components of that relation (single linkage).

    Args:
        x: tokens ``(n, d)``; angle: the threshold, in (0, pi).

    Returns:
        LongTensor ``(n,)`` with labels ``0, 1, ...`` in the order of each cluster's first token.
    """
    x = _tokens("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n, d) (one configuration), got {tuple(x.shape)}")
    _checks.positive("angle", angle)
    if not float(angle) < math.pi:
        raise ValueError(f"angle must be in (0, pi) radians, got {angle!r}")
    return _components(x, 2 * math.sin(float(angle) / 2))


def _components(x: Tensor, chord: float) -> Tensor:
    """Connected components of ``|x_i - x_j| <= chord``, labelled in order of first token."""
    xn = x.detach().cpu().numpy()
    near = np.linalg.norm(xn[:, None, :] - xn[None, :, :], axis=-1) <= chord
    lab = np.arange(xn.shape[0])
    while True:  # each token takes the smallest label among its neighbours, until nothing moves
        new = np.where(near, lab[None, :], xn.shape[0]).min(axis=1)
        if np.array_equal(new, lab):
            break
        lab = new
    _, first = np.unique(lab, return_inverse=True)
    return torch.from_numpy(first.astype(np.int64))


def count_clusters(x: Tensor, *, angle: float) -> int:
    """Number of clusters of :func:`cluster_labels` (``x``: ``(n, d)``; ``angle`` in radians)."""
    return int(cluster_labels(x, angle=angle).max()) + 1
