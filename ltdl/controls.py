"""Piecewise-constant controls on the K intervals of [0, T].

Controls are plain dicts ``name -> tensor`` of shape ``(*batch, K, *shape)``, where
``shape = field.shapes(d)[name]``: u(t) = u_k on [t_k, t_{k+1}), t_k = k T / K.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor

from . import _checks
from .fields import Controls, Field


def init_controls(
    field: Field,
    d: int,
    K: int,
    *,
    kind: str = "zero",
    scale: float = 0.01,
    seed: int | None = None,
    zero: tuple[str, ...] = (),
    batch: tuple[int, ...] = (),
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Controls:
    """Controls for K layers: ``"zero"`` or ``"normal"`` (i.i.d. N(0, scale²), needs ``seed``).

    ``zero`` names controls that start at zero whatever the kind: ``kind="normal", zero=("w",)`` is
    the zero-weight start of the chapters (W = 0, a small random bias). The random numbers are
    drawn for every control first, so the other controls do not depend on ``zero``.

    Returns a dict of tensors of shape ``(*batch, K, *field.shapes(d)[name])`` with
    ``requires_grad`` off (training switches it on).
    """
    _checks.integer("d", d)
    _checks.integer("K", K)
    _checks.choice("kind", kind, ("zero", "normal"))
    shapes = field.shapes(d)
    if isinstance(zero, str) or not isinstance(zero, tuple) or not set(zero) <= set(shapes):
        raise ValueError(f"zero must be a tuple of control names of this field {tuple(shapes)}, got {zero!r}")
    if kind == "normal":
        _checks.seed("seed", seed)  # explicit seeds only: None, bools and floats are refused
        _checks.positive("scale", scale)
        gen = torch.Generator(device="cpu").manual_seed(cast(int, seed))  # _checks.seed refused None
    out: Controls = {}
    for name, shape in shapes.items():
        full = (*batch, K, *shape)
        if kind == "zero":
            out[name] = torch.zeros(full, dtype=dtype, device=device)
        else:
            out[name] = (scale * torch.randn(full, generator=gen, dtype=dtype)).to(device)
    for name in zero:
        out[name].zero_()
    return out


def num_layers(u: Controls, field: Field, d: int) -> int:
    """K, read from the control tensors (checked to agree with each other and with ``field``)."""
    shapes = field.shapes(d)
    if set(u) != set(shapes):
        raise ValueError(f"u must have the keys {sorted(shapes)} for {field!r}, got {sorted(u)}")
    Ks = set()
    for name, shape in shapes.items():
        _checks.tensor(f"u[{name!r}]", u[name], min_ndim=len(shape) + 1)
        _checks.shape_tail(f"u[{name!r}]", u[name], shape)
        Ks.add(u[name].shape[-len(shape) - 1])
    if len(Ks) != 1:
        raise ValueError(f"u must have the same number of layers K in every tensor, got {sorted(Ks)}")
    return Ks.pop()


def layer(u: Controls, field: Field, d: int, k: int) -> Controls:
    """The control of layer k: the k-th slice along the layer axis of each tensor."""
    shapes = field.shapes(d)
    return {name: t.select(t.ndim - len(shapes[name]) - 1, k) for name, t in u.items()}


def squared_norms(u: Controls, field: Field, d: int) -> Tensor:
    """‖u_k‖² = Σ over the tensors of the squared Frobenius norms; shape ``(*batch, K)``."""
    shapes = field.shapes(d)
    total: Tensor | int = 0
    for name, t in u.items():
        n = len(shapes[name])
        total = total + (t**2).sum(dim=tuple(range(-n, 0)))
    return cast(Tensor, total)  # a field has at least one control, so the loop ran


def scale_controls(u: Controls, factor: float | Tensor) -> Controls:
    """α u for a number or a tensor α of shape ``(*batch,)`` (broadcast over layers and entries)."""
    if isinstance(factor, Tensor) and factor.ndim > 0:
        return {n: t * factor.reshape(*factor.shape, *([1] * (t.ndim - factor.ndim))) for n, t in u.items()}
    return {n: t * factor for n, t in u.items()}


def refine_controls(u: Controls, factor: int, *, batch_ndim: int = 0) -> Controls:
    """The same piecewise-constant control on ``factor`` times more layers (each u_k repeated).

    The layer axis comes after ``batch_ndim`` leading batch dimensions. Used to recompute a
    result with K doubled, or to warm-start a finer grid from a coarse solution.
    """
    _checks.integer("factor", factor)
    _checks.integer("batch_ndim", batch_ndim, minimum=0)
    return {n: t.repeat_interleave(factor, dim=batch_ndim) for n, t in u.items()}


def flatten(u: Controls) -> tuple[Tensor, Callable[[Tensor], Controls]]:
    """The controls as one vector z (detached) and the map z ↦ controls (for Newton solvers)."""
    names = list(u)
    shapes = [tuple(u[n].shape) for n in names]
    sizes = [u[n].numel() for n in names]

    def unflat(z: Tensor) -> Controls:
        chunks = zip(torch.split(z, sizes), shapes, strict=True)
        return dict(zip(names, (c.reshape(s) for c, s in chunks), strict=True))

    return torch.cat([u[n].detach().reshape(-1) for n in names]), unflat


def detach(u: Controls) -> Controls:
    """A detached copy of the controls."""
    return {n: t.detach().clone() for n, t in u.items()}
