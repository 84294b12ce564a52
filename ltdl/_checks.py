"""Argument checks shared by every public entry point.

Each helper raises ``ValueError`` whose message names the argument and states what was
expected, so that a wrong call fails at the boundary instead of deep inside torch.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor


def positive(name: str, value) -> None:
    """``value`` (number or tensor) must be finite and > 0."""
    if isinstance(value, Tensor):
        ok = bool(torch.isfinite(value).all()) and bool((value > 0).all())
    else:
        ok = isinstance(value, (int, float)) and math.isfinite(value) and value > 0
    if not ok:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def nonnegative(name: str, value) -> None:
    """``value`` (number or tensor) must be finite and >= 0."""
    if isinstance(value, Tensor):
        ok = bool(torch.isfinite(value).all()) and bool((value >= 0).all())
    else:
        ok = isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
    if not ok:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def integer(name: str, value, *, minimum: int = 1) -> None:
    """``value`` must be a Python int (not bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def choice(name: str, value, options: Iterable[str]) -> None:
    """``value`` must be one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


def tensor(name: str, value, *, ndim: int | None = None, min_ndim: int | None = None) -> None:
    """``value`` must be a floating tensor with finite entries (and the given rank)."""
    if not isinstance(value, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype, got {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(value.shape)}")
    if min_ndim is not None and value.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions, got shape {tuple(value.shape)}"
        )
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")


def shape_tail(name: str, value: Tensor, tail: Sequence[int]) -> None:
    """The trailing dimensions of ``value`` must equal ``tail``."""
    tail = tuple(tail)
    got = tuple(value.shape[value.ndim - len(tail):]) if value.ndim >= len(tail) else tuple(value.shape)
    if got != tail:
        raise ValueError(f"{name} must end with shape {tail}, got shape {tuple(value.shape)}")


def same_dtype(name: str, value: Tensor, dtype: torch.dtype) -> None:
    """``value`` must have ``dtype`` (no silent casts between float32 and float64)."""
    if value.dtype != dtype:
        raise ValueError(f"{name} must have dtype {dtype}, got {value.dtype}")
