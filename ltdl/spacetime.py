"""Continuous space-time networks and their moving-grid discretisation (R7).

The model (our reconstruction from the paper's abstracts) on the neuron-index domain Ω = (0, 1):

    ∂_t x(t, ξ) = ∫_Ω w(t, ξ, ζ) σ(x(t, ζ)) dζ + b(t, ξ),      P x = ∫_Ω p(ξ) x(ξ) dξ,

with data x_i ∈ R^d embedded as functions x_i^0(ξ) = Σ_a x_{ia} ψ_a(ξ).

**Controls independent of the grid.** On each of the K time intervals the kernel and the bias
are expansions in the orthonormal cosine basis φ_0 = 1, φ_a(ξ) = √2 cos(aπξ) of L²(Ω):

    w_k(ξ, ζ) = Σ_{a,b<M} c_{k,ab} φ_a(ξ) φ_b(ζ),      b_k(ξ) = Σ_{a<M} a_{k,a} φ_a(ξ),

so the controls are ``{"w": (*batch, K, M, M), "b": (*batch, K, M)}`` whatever the grid, and
‖w_k‖²_{L²(Ω×Ω)} + ‖b_k‖²_{L²(Ω)} = Σ c² + Σ a² exactly (Parseval). The core's
:func:`ltdl.control_penalty` therefore *is* the continuum penalty λ ∫_0^T (‖w‖² + ‖b‖²) dt: it
does not change at all when the grid is refined.

**Fixed grid = fixed width.** On the midpoint grid ξ_j = (j − ½)/n with weights h = 1/n the
model is the ``outer`` neural ODE of width n with W_{jl} = h w(ξ_j, ξ_l) and b_j = b(ξ_j):
:class:`SpaceTimeField` is an :class:`ltdl.Field` whose state dimension is the grid width, so
:class:`ltdl.Problem`, :func:`ltdl.flow` and :func:`ltdl.train` drive it unchanged.

**Moving grid = variable width** (our reconstruction). With widths n_0, …, n_K one Euler
step maps grid n_k to grid n_{k+1}:

    x^{k+1} = I_k x^k + Δt (W^k σ(x^k) + b^k),   W^k ∈ R^{n_{k+1}×n_k},  b^k ∈ R^{n_{k+1}},

where I_k (:func:`interpolation_matrix`) is the fixed piecewise-linear interpolation between the
two midpoint grids: a ResNet whose width changes with depth and whose skip connection is I_k
(:func:`moving_grid_flow`, :func:`resnet_weights`, :class:`MovingGridProblem`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor

from . import _checks
from .controls import init_controls, num_layers
from .costs import Loss, OutputMap, check_labels, control_penalty, risk, trapezoid
from .fields import Controls, Field

EMBEDDINGS = ("cosine", "legendre", "cells")
SCHEDULES = {
    # Width n_max times these fractions, on equal parts of [0, T]: the number of width changes
    # does not grow with K, so refining K refines the same network in t.
    "constant": (1.0,),
    "funnel": (1.0, 0.5, 0.25),
    "hourglass": (1.0, 0.5, 0.25, 0.5, 1.0),
}


# --------------------------------------------------------------------------- grids and bases
def midpoint_grid(n: int, *, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """The n midpoints ξ_j = (j − ½)/n of the cells of Ω = (0, 1), shape ``(n,)``; weights h = 1/n."""
    _checks.integer("n", n)
    return (torch.arange(n, dtype=dtype, device=device) + 0.5) / n


def cosine_basis(xi: Tensor, M: int) -> Tensor:
    """φ_0 = 1, φ_a(ξ) = √2 cos(aπξ) at the points ``xi`` ``(n,)``; returns ``(n, M)``.

    Orthonormal in L²(0, 1); on a midpoint grid with n ≥ M the columns are also exactly
    orthonormal for the weights h = 1/n (discrete cosine transform II).
    """
    _checks.tensor("xi", xi, ndim=1)
    _checks.integer("M", M)
    a = torch.arange(M, dtype=xi.dtype, device=xi.device)
    phi = math.sqrt(2.0) * torch.cos(math.pi * xi.unsqueeze(-1) * a)
    phi[:, 0] = 1.0
    return phi


def interpolation_matrix(n_from: int, n_to: int, *, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """:math:`I ∈ ℝ^{n_{to} × n_{from}}`: the piecewise-linear interpolant of values on the midpoint grid of
    width ``n_from``, evaluated on the midpoint grid of width ``n_to``.

    Beyond the outermost nodes the end segments are extended linearly (not by a constant), so
    that I is exact on affine profiles and second-order accurate on smooth ones up to the
    boundary. ``n_from == n_to`` gives the identity; ``n_from == 1`` the constant extension.
    """
    _checks.integer("n_from", n_from)
    _checks.integer("n_to", n_to)
    if n_from == n_to:
        return torch.eye(n_to, dtype=dtype, device=device)
    if n_from == 1:
        return torch.ones(n_to, 1, dtype=dtype, device=device)
    s = midpoint_grid(n_to, dtype=dtype, device=device) * n_from - 0.5  # node l sits at s = l
    left = torch.clamp(torch.floor(s), 0, n_from - 2).long()
    theta = s - left.to(dtype)
    I = torch.zeros(n_to, n_from, dtype=dtype, device=device)
    rows = torch.arange(n_to, device=device)
    I[rows, left] = 1.0 - theta
    I[rows, left + 1] = theta
    return I


# --------------------------------------------------------------------------- embedding, readout
def legendre_basis(xi: Tensor, M: int) -> Tensor:
    """Orthonormal shifted Legendre polynomials √(2a+1) P_a(2ξ − 1), a < M, at ``xi`` ``(n,)``;
    returns ``(n, M)``. Smooth on [0, 1] but, unlike the cosines, not even-periodic."""
    _checks.tensor("xi", xi, ndim=1)
    _checks.integer("M", M)
    z = 2 * xi - 1
    P = [torch.ones_like(z), z]
    for a in range(1, M - 1):  # (a+1) P_{a+1} = (2a+1) z P_a − a P_{a−1}
        P.append(((2 * a + 1) * z * P[a] - a * P[a - 1]) / (a + 1))
    return torch.stack([math.sqrt(2 * a + 1) * P[a] for a in range(M)], dim=-1)


def _profiles(kind: str, count: int, xi: Tensor) -> Tensor:
    # ψ_a(ξ_j), shape (n, count): cosine modes, Legendre polynomials, or indicators of cells.
    if kind == "cosine":
        return cosine_basis(xi, count)
    if kind == "legendre":
        return legendre_basis(xi, count)
    cell = torch.clamp(torch.floor(xi * count), max=count - 1).long()
    return torch.nn.functional.one_hot(cell, count).to(xi.dtype)


def embed_data(x: Tensor, n: int, *, kind: str = "cosine") -> Tensor:
    """Data ``(..., N, d)`` as functions sampled on the width-n midpoint grid: ``(..., N, n)``.

    * ``cosine``: :math:`x^0(ξ) = Σ_a x_a φ_{a−1}(ξ)`, smooth (φ the cosine basis);
    * ``legendre``: the same with the Legendre polynomials of :func:`legendre_basis`;
    * ``cells``:  x^0(ξ) = x_a on the cell [(a−1)/d, a/d) (piecewise constant, jumps at a/d).
    """
    _checks.tensor("x", x, min_ndim=2)
    _checks.integer("n", n)
    _checks.choice("kind", kind, EMBEDDINGS)
    psi = _profiles(kind, x.shape[-1], midpoint_grid(n, dtype=x.dtype, device=x.device))
    return x @ psi.transpose(0, 1)


def readout_map(n: int, m: int, *, kind: str = "cosine", dtype: torch.dtype = torch.float64, device=None) -> OutputMap:
    """P x = ∫_Ω p(ξ) x(ξ) dξ by the midpoint rule on the width-n grid: A = h p(ξ_j)ᵀ, ``(m, n)``.

    ``cosine``: :math:`p_c = φ_{c−1}`; ``legendre``: p_c = the Legendre polynomial of degree c−1;
    ``cells``: p_c = m · indicator of cell c (the cell average). With the same ``kind`` and
    m = d, P inverts :func:`embed_data` in the continuum limit (exactly on every grid with n ≥ d
    for ``cosine``).
    """
    _checks.integer("n", n)
    _checks.integer("m", m)
    _checks.choice("kind", kind, EMBEDDINGS)
    xi = midpoint_grid(n, dtype=dtype, device=device)
    p = _profiles(kind, m, xi) * (m if kind == "cells" else 1.0)
    return OutputMap((p / n).transpose(0, 1).contiguous())


# --------------------------------------------------------------------------- the kernel field
class SpaceTimeField(Field):
    """f(x, u)(ξ) = ∫_Ω w(ξ, ζ) σ(x(ζ)) dζ + b(ξ), discretised on the midpoint grid of width
    n = ``x.shape[-1]``; the controls are cosine coefficients (module docstring).

    Control shapes (one layer), the same for every grid: ``w: (M, M)``, ``b: (M,)``. Linear in
    the controls, hence 1-homogeneous for every σ (R1–R4 transfer verbatim).
    """

    name = "spacetime"

    def __init__(self, *, modes: int = 4, activation: str = "tanh") -> None:
        super().__init__(activation=activation)
        _checks.integer("modes", modes)
        self.modes = modes
        self._cache: dict[tuple, Tensor] = {}

    def shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        M = self.modes
        return {"w": (M, M), "b": (M,)}

    @property
    def homogeneity_degree(self) -> int:
        return 1

    def basis(self, n: int, *, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
        """φ_a(ξ_j) on the width-n midpoint grid, ``(n, M)`` (cached)."""
        key = (n, dtype, str(device))
        if key not in self._cache:
            self._cache[key] = cosine_basis(midpoint_grid(n, dtype=dtype, device=device), self.modes)
        return self._cache[key]

    def kernel(self, c: Tensor, xi: Tensor, zeta: Tensor) -> Tensor:
        """w(ξ_j, ζ_l) for coefficients ``c`` ``(..., M, M)`` at points ``xi`` ``(p,)``, ``zeta``
        ``(q,)``; returns ``(..., p, q)``."""
        _checks.shape_tail("c", c, (self.modes, self.modes))
        return cosine_basis(xi, self.modes) @ c @ cosine_basis(zeta, self.modes).transpose(0, 1)

    def bias(self, a: Tensor, xi: Tensor) -> Tensor:
        """b(ξ_j) for coefficients ``a`` ``(..., M)`` at points ``xi`` ``(p,)``; returns ``(..., p)``."""
        _checks.shape_tail("a", a, (self.modes,))
        return a @ cosine_basis(xi, self.modes).transpose(0, 1)

    def weights(self, uk: Controls, n_out: int, n_in: int) -> tuple[Tensor, Tensor]:
        """One layer's network weights between midpoint grids: W = h_in w(ξ^out_j, ξ^in_l)
        ``(..., n_out, n_in)`` and b = b(ξ^out_j) ``(..., n_out)``."""
        c, a = uk["w"], uk["b"]
        _checks.shape_tail("u['w']", c, (self.modes, self.modes))
        _checks.shape_tail("u['b']", a, (self.modes,))
        phi_out = self.basis(n_out, dtype=c.dtype, device=c.device)
        phi_in = self.basis(n_in, dtype=c.dtype, device=c.device)
        W = phi_out @ c @ phi_in.transpose(0, 1) / n_in
        return W, a @ phi_out.transpose(0, 1)

    def __call__(self, x: Tensor, u: Controls) -> Tensor:
        n = x.shape[-1]
        W, b = self.weights(u, n, n)
        return self.sigma(x) @ W.transpose(-1, -2) + b.unsqueeze(-2)

    def __repr__(self) -> str:
        return f"SpaceTimeField(modes={self.modes}, activation={self.activation!r})"


# --------------------------------------------------------------------------- width schedules
def check_widths(widths, K: int | None = None) -> list[int]:
    """``widths`` must be a sequence of K+1 integers >= 1; returns it as a list."""
    if isinstance(widths, Tensor) or hasattr(widths, "tolist"):  # torch or numpy arrays
        widths = widths.tolist()
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) < 2:
        raise ValueError(f"widths must be a sequence of K+1 >= 2 integers (n_0, ..., n_K), got {widths!r}")
    for k, n in enumerate(widths):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"widths must contain integers >= 1, got widths[{k}] = {n!r}")
    if K is not None and len(widths) != K + 1:
        raise ValueError(f"widths must have K+1 = {K + 1} entries (one per state x^0..x^K), got {len(widths)}")
    return [int(n) for n in widths]


def width_schedule(preset: str, K: int, n_max: int) -> list[int]:
    """Widths n_0, …, n_K of a preset: ``constant``, ``funnel`` (n, n/2, n/4) or ``hourglass``
    (n, n/2, n/4, n/2, n), each level on an equal part of [0, T] (state k belongs to part
    ⌊L k / K⌋, the last state to the last part); widths are rounded down and at least 1."""
    _checks.choice("preset", preset, SCHEDULES)
    _checks.integer("K", K)
    _checks.integer("n_max", n_max)
    levels = SCHEDULES[preset]
    L = len(levels)
    return [max(1, int(n_max * levels[min(L * k // K, L - 1)])) for k in range(K + 1)]


# --------------------------------------------------------------------------- moving-grid flow
def _layer_controls(u: Controls, k: int) -> Controls:
    c, a = u["w"], u["b"]
    return {"w": c.select(c.ndim - 3, k), "b": a.select(a.ndim - 2, k)}


def _check_flow_args(field, u: Controls, widths) -> tuple[int, list[int]]:
    if not isinstance(field, SpaceTimeField):
        raise ValueError(f"field must be a SpaceTimeField, got {type(field).__name__}")
    K = num_layers(u, field, 1)
    return K, check_widths(widths, K)


def resnet_weights(field: SpaceTimeField, u: Controls, widths) -> list[dict[str, Tensor]]:
    """The variable-width ResNet of the controls ``u`` (``(*batch, K, ...)``) on the grids
    ``widths`` = (n_0, …, n_K): for each layer k a dict with ``W`` ``(*batch, n_{k+1}, n_k)``,
    ``b`` ``(*batch, n_{k+1})`` and the skip ``I`` ``(n_{k+1}, n_k)``.

    Holds every layer's weights at once (memory :math:`Σ_k n_{k+1} n_k`); :func:`moving_grid_flow`
    builds them one layer at a time instead.
    """
    K, widths = _check_flow_args(field, u, widths)
    layers = []
    for k in range(K):
        W, b = field.weights(_layer_controls(u, k), widths[k + 1], widths[k])
        I = interpolation_matrix(widths[k], widths[k + 1], dtype=W.dtype, device=W.device)
        layers.append({"W": W, "b": b, "I": I})
    return layers


def moving_grid_flow(field: SpaceTimeField, x0: Tensor, u: Controls, T, widths) -> list[Tensor]:
    """Euler steps :math:`x^{k+1} = I_k x^k + Δt (W^k σ(x^k) + b^k)` from grid n_k to grid :math:`n_{k+1}`.

    Args:
        field: the kernel field (its ``modes`` fix the control shapes).
        x0: initial states on the width-n_0 grid, ``(*batch, N, n_0)``.
        u: controls ``{"w": (*batch, K, M, M), "b": (*batch, K, M)}``.
        T: final time > 0 (a number).
        widths: n_0, …, n_K (K+1 integers >= 1).

    Returns:
        The K+1 states x^0, …, x^K, a list of tensors ``(*batch, N, n_k)``. The weights are
        those of :func:`resnet_weights`; where :math:`n_{k+1} = n_k` the skip I_k = identity is applied
        as such, so constant widths reproduce :func:`ltdl.flow` of the same field.
    """
    _checks.positive("T", T)
    _checks.tensor("x0", x0, min_ndim=2)
    K, widths = _check_flow_args(field, u, widths)
    if x0.shape[-1] != widths[0]:
        raise ValueError(
            f"x0 must live on the first grid (last dimension n_0={widths[0]}), got shape {tuple(x0.shape)}"
        )
    for name, t in u.items():
        if t.dtype != x0.dtype:
            raise ValueError(f"u[{name!r}] must have the dtype of x0 ({x0.dtype}), got {t.dtype}")
    dt = T / K
    skips: dict[tuple[int, int], Tensor] = {}
    states = [x0]
    x = x0
    for k in range(K):
        n_in, n_out = widths[k], widths[k + 1]
        W, b = field.weights(_layer_controls(u, k), n_out, n_in)
        if n_in == n_out:
            skip = x
        else:
            if (n_in, n_out) not in skips:
                skips[n_in, n_out] = interpolation_matrix(n_in, n_out, dtype=x.dtype, device=x.device)
            skip = x @ skips[n_in, n_out].transpose(0, 1)
        x = skip + dt * (field.sigma(x) @ W.transpose(-1, -2) + b.unsqueeze(-2))
        states.append(x)
    return states


class MovingGridProblem:
    """The training problem of a variable-width ResNet from a moving grid (keyword options):

        :math:`J(u) = α E(x^K) + β ∫_0^T E(x(t)) dt + λ ∫_0^T (‖w‖²_{L²(Ω×Ω)} + ‖b‖²_{L²(Ω)}) dt`,

    with E(x^k) = (1/N) Σ_i ℓ(P_k x_i^k, y_i), P_k the readout (:func:`readout_map`) on grid k,
    the running term by :func:`ltdl.trapezoid` and the penalty by :func:`ltdl.control_penalty`
    (exact in the cosine coefficients). It offers the interface that :func:`ltdl.train` uses
    (``field``, ``x``, ``d``, ``P``, ``init_controls``, ``objective``, ``trajectory``,
    ``terms``), so ``ltdl.train(problem)`` trains it; ``Result.trajectory`` is then the list of
    states of :func:`moving_grid_flow`.

    Args:
        field: a :class:`SpaceTimeField`.
        x: raw inputs ``(N, d)`` (embedded on grid n_0 with ``embedding``).
        y: labels ``(N, m)``.
        T, K, lam: horizon, layers, penalty weight (numbers).
        widths: n_0, …, n_K.
        embedding: ``"cosine"`` or ``"cells"`` (also the readout profiles).
        loss, beta, final_weight: as in :class:`ltdl.Problem`.
    """

    def __init__(
        self,
        field: SpaceTimeField,
        x: Tensor,
        y: Tensor,
        *,
        T,
        K: int,
        widths,
        lam,
        embedding: str = "cosine",
        loss: Loss = Loss(),
        beta: float = 0.0,
        final_weight: float = 1.0,
    ) -> None:
        if not isinstance(field, SpaceTimeField):
            raise ValueError(f"field must be a SpaceTimeField, got {type(field).__name__}")
        _checks.tensor("x", x, ndim=2)
        check_labels(y, x.shape[0], loss)
        if loss.name == "cross_entropy":
            raise ValueError("loss must compare P x with (N, m) float labels; cross_entropy is not supported here")
        _checks.positive("T", T)
        _checks.integer("K", K)
        if isinstance(T, Tensor) or isinstance(lam, Tensor):
            raise ValueError("T and lam must be numbers for MovingGridProblem (one problem at a time)")
        _checks.nonnegative("lam", lam)
        _checks.nonnegative("beta", beta)
        _checks.nonnegative("final_weight", final_weight)
        _checks.choice("embedding", embedding, EMBEDDINGS)
        self.widths = check_widths(widths, K)
        self.field, self.x, self.y, self.loss = field, x, y, loss
        self.T, self.K, self.lam, self.beta, self.final_weight = T, K, lam, beta, final_weight
        self.embedding = embedding
        m = y.shape[-1]
        self.readouts = {
            n: readout_map(n, m, kind=embedding, dtype=x.dtype, device=x.device) for n in sorted(set(self.widths))
        }
        self.P = self.readouts[self.widths[-1]]
        self.x0 = embed_data(x, self.widths[0], kind=embedding)

    @property
    def d(self) -> int:
        """The input dimension d (last axis of ``x``)."""
        return self.x.shape[-1]

    def init_controls(self, *, kind: str = "zero", scale: float = 0.01, seed: int | None = None) -> Controls:
        """Coefficient controls ``{"w": (K, M, M), "b": (K, M)}`` (see :func:`ltdl.init_controls`)."""
        return init_controls(
            self.field, self.d, self.K, kind=kind, scale=scale, seed=seed, dtype=self.x.dtype, device=self.x.device
        )

    def trajectory(self, u: Controls) -> list[Tensor]:
        """x^0..x^K, a list of ``(N, n_k)`` tensors."""
        return moving_grid_flow(self.field, self.x0, u, self.T, self.widths)

    def risk_curve(self, traj: list[Tensor]) -> Tensor:
        """E(x^k) for k = 0..K, each through the readout of its own grid; shape ``(K+1,)``."""
        return torch.stack([risk(x, self.y, self.readouts[x.shape[-1]], self.loss) for x in traj])

    def terms(self, u: Controls, traj: list[Tensor] | None = None) -> dict[str, Tensor]:
        """Each term of J (weights included) and their sum ``"J"``; also ``"E_T"`` unweighted."""
        traj = self.trajectory(u) if traj is None else traj
        curve = self.risk_curve(traj)
        out = {"E_T": curve[-1], "final": self.final_weight * curve[-1]}
        if self.beta > 0:
            out["integral"] = self.beta * trapezoid(curve, self.T)
        out["penalty"] = control_penalty(u, self.field, self.d, self.T, self.lam)
        out["J"] = cast(Tensor, sum(v for k, v in out.items() if k != "E_T"))  # a sum of tensors (non-empty)
        return out

    def objective(self, u: Controls) -> Tensor:
        """J(u), a scalar tensor."""
        return self.terms(u)["J"]
