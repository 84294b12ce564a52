"""The portability probe: perturb every solve's start and every generated data set by ~1e-12.

A number the book shows must not depend on the rounding of the machine that printed it. Other
CPUs and BLAS code paths change results at the level of the unit roundoff; a well-determined
result keeps its shown digits under such a change, a path-dependent one (a non-convex solve that
lands on another minimum, a chaotic or unconverged run, a rounding-level gap) does not. This
module provides a perturbation that no CPU choice provides, switched on from the environment so
that a chapter runs unchanged:

* ``LTDL_PERTURB=<rel>`` (a float in [0, 1e-6]; unset or 0: off) — every starting point of
  :func:`ltdl.train`, :func:`ltdl.train_newton` (not its pure certificate evaluation,
  ``lbfgs_iter=0, max_steps=0``) and :func:`ltdl.fista`, and the inputs ``x`` of
  every data set made by :mod:`ltdl.data`, get ``t + rel · max|t| · z`` with ``z`` standard
  normal entries (``t + rel · z`` for an all-zero ``t``, such as the default zero start);
* ``LTDL_PERTURB_SEED=<int>`` (default 0) — which perturbation: ``z`` comes from a private
  generator seeded by this value and the number of perturbations made so far in the process,
  so the user's random streams are untouched and a run is reproducible.

``scripts/check_portability.py`` runs the chapters with and without it (and under other BLAS and
vectorisation paths) and lists every cell whose shown output changes.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from .fields import Controls

ENV = "LTDL_PERTURB"
SEED_ENV = "LTDL_PERTURB_SEED"
MAX_REL = 1e-6  # larger is not a rounding-level probe any more
_count = 0  # perturbations made so far in this process


def level() -> float:
    """The relative size read from ``LTDL_PERTURB`` (0.0 when unset or empty).

    Raises:
        ValueError: naming ``LTDL_PERTURB`` when it is not a number in [0, 1e-6], or
            ``LTDL_PERTURB_SEED`` when it is not an integer.
    """
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return 0.0
    try:
        rel = float(raw)
    except ValueError:
        raise ValueError(f"{ENV} must be a number in [0, {MAX_REL:g}], got {raw!r}") from None
    if not 0.0 <= rel <= MAX_REL:
        raise ValueError(f"{ENV} must be a number in [0, {MAX_REL:g}], got {raw!r}")
    _seed()  # a bad seed fails at the first perturbation, not silently later
    return rel


def _seed() -> int:
    raw = os.environ.get(SEED_ENV, "0").strip() or "0"
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be an integer, got {raw!r}") from None


def tensor(t: Tensor) -> Tensor:
    """``t`` perturbed as the module docstring says (the same object when the probe is off).

    Shape and dtype of ``t`` are kept; only floating tensors are perturbed.
    """
    global _count
    rel = level()
    if rel == 0.0 or not t.is_floating_point() or t.numel() == 0:
        return t
    gen = torch.Generator().manual_seed(_seed() * 1_000_003 + _count)
    _count += 1
    scale = float(t.detach().abs().max())
    size = rel * (scale if scale > 0 else 1.0)  # relative to the tensor; an all-zero start moves by rel
    z = torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device)
    return t + size * z


def controls(u: Controls) -> Controls:
    """Every tensor of ``u`` perturbed (a new dict; ``u`` itself when the probe is off)."""
    if level() == 0.0:
        return u
    return {name: tensor(t.detach()) for name, t in u.items()}
