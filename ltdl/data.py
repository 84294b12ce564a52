"""Seeded toy data sets (no downloads). Every generator takes an explicit ``seed``.

Each returns a :class:`Dataset` with inputs ``x`` of shape ``(N, d)`` and labels ``y``:
``(N, 1)`` with values ±1 for two classes, ``(N,)`` integer ids for three classes, or
``(N, d)`` targets for the regression-type control problems.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from . import _checks, perturb


@dataclass(frozen=True)
class Dataset:
    """Inputs ``x`` ``(N, d)`` and labels ``y``; ``classes`` holds integer ids when relevant."""

    x: Tensor
    y: Tensor
    classes: Tensor | None = None

    def __post_init__(self) -> None:
        _checks.tensor("x", self.x, ndim=2)
        if not isinstance(self.y, Tensor):
            raise _checks.ArgumentTypeError(f"y must be a torch.Tensor, got {type(self.y).__name__}")
        if self.y.shape[:1] != self.x.shape[:1]:
            raise ValueError(
                f"y must have one label per point (N={self.x.shape[0]} rows), got shape {tuple(self.y.shape)}"
            )
        if self.classes is not None and tuple(self.classes.shape) != (self.x.shape[0],):
            raise ValueError(f"classes must have shape ({self.x.shape[0]},), got {tuple(self.classes.shape)}")

    def __len__(self) -> int:
        return self.x.shape[0]

    def split(self, n_train: int) -> tuple[Dataset, Dataset]:
        """First ``n_train`` points and the rest (the generators already shuffle)."""
        _checks.integer("n_train", n_train)
        if n_train >= len(self):
            raise ValueError(f"n_train must be < N={len(self)}, got {n_train}")
        c = self.classes
        return (
            Dataset(self.x[:n_train], self.y[:n_train], None if c is None else c[:n_train]),
            Dataset(self.x[n_train:], self.y[n_train:], None if c is None else c[n_train:]),
        )


def _radial(n: int, d: int, r_min: float, r_max: float, gen: torch.Generator, dtype: torch.dtype) -> Tensor:
    # The authors' sampler: radius (r_max - r_min) U^{1/d} + r_min times a uniform direction.
    g = torch.randn(n, d, generator=gen, dtype=dtype)
    r = (r_max - r_min) * torch.rand(n, 1, generator=gen, dtype=dtype) ** (1.0 / d) + r_min
    out: Tensor = r * g / g.norm(dim=1, keepdim=True)
    return out


def _shuffled(x: Tensor, classes: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    perm = torch.randperm(x.shape[0], generator=gen)
    return x[perm], classes[perm]


def _pm_one(classes: Tensor, dtype: torch.dtype) -> Tensor:
    return (2 * classes - 1).to(dtype).unsqueeze(1)


def concentric_spheres(
    n_inner: int = 100, n_outer: int = 200, *, d: int = 2, seed: int, dtype: torch.dtype = torch.float64
) -> Dataset:
    """Ball r ≤ 0.5 (class 0, label −1) inside the shell 1 ≤ r ≤ 1.5 (class 1, label +1)."""
    _checks.integer("n_inner", n_inner)
    _checks.integer("n_outer", n_outer)
    _checks.integer("d", d)
    _checks.seed("seed", seed)
    _checks.float_dtype("dtype", dtype)
    gen = torch.Generator().manual_seed(seed)
    x = torch.cat([_radial(n_inner, d, 0.0, 0.5, gen, dtype), _radial(n_outer, d, 1.0, 1.5, gen, dtype)])
    classes = torch.cat([torch.zeros(n_inner, dtype=torch.long), torch.ones(n_outer, dtype=torch.long)])
    x, classes = _shuffled(x, classes, gen)
    return Dataset(perturb.tensor(x), _pm_one(classes, dtype), classes)


def xor(n: int = 300, *, seed: int, dtype: torch.dtype = torch.float64) -> Dataset:
    """Chess/XOR: uniform in four squares at distance 0.1 from the axes; class = sign(x1 x2) < 0."""
    _checks.integer("n", n, minimum=4)
    _checks.seed("seed", seed)
    _checks.float_dtype("dtype", dtype)
    gen = torch.Generator().manual_seed(seed)
    x = 1.3 * torch.rand(n, 2, generator=gen, dtype=dtype) + 0.1
    signs = torch.randint(0, 2, (n, 2), generator=gen) * 2 - 1
    x = x * signs.to(dtype)
    classes = (signs[:, 0] != signs[:, 1]).long()
    return Dataset(perturb.tensor(x), _pm_one(classes, dtype), classes)


def tricolor(
    n_inner: int = 50, n_middle: int = 200, n_outer: int = 100, *, seed: int, dtype: torch.dtype = torch.float64
) -> Dataset:
    """Three rings: r ≤ 0.5 (class 0), 0.75 ≤ r ≤ 1.25 (class 1), 1.5 ≤ r ≤ 2 (class 2)."""
    for name, v in (("n_inner", n_inner), ("n_middle", n_middle), ("n_outer", n_outer)):
        _checks.integer(name, v)
    _checks.seed("seed", seed)
    _checks.float_dtype("dtype", dtype)
    gen = torch.Generator().manual_seed(seed)
    parts = [
        _radial(n_inner, 2, 0.0, 0.5, gen, dtype),
        _radial(n_middle, 2, 0.75, 1.25, gen, dtype),
        _radial(n_outer, 2, 1.5, 2.0, gen, dtype),
    ]
    classes = torch.cat([torch.full((n,), c, dtype=torch.long) for c, n in enumerate((n_inner, n_middle, n_outer))])
    x, classes = _shuffled(torch.cat(parts), classes, gen)
    return Dataset(perturb.tensor(x), classes, classes)


def four_point_rotation(*, angle: float = 90.0, dtype: torch.dtype = torch.float64) -> Dataset:
    """The four unit vectors ±e1, ±e2 and targets y_i = R_angle x_i."""
    _checks.float_dtype("dtype", dtype)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], dtype=dtype)
    return Dataset(perturb.tensor(x), x @ rotation(angle, dtype=dtype).T)


def rotation(angle: float, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """The 2×2 counter-clockwise rotation by ``angle`` degrees."""
    _checks._number("angle", angle)
    if not math.isfinite(angle):
        raise ValueError(f"angle must be a finite number of degrees, got {angle!r}")
    _checks.float_dtype("dtype", dtype)
    a = math.radians(angle)
    return torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=dtype)
