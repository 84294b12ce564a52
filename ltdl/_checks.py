"""Argument checks shared by every public entry point.

Each helper raises an exception whose message names the argument and states what was expected,
so that a wrong call fails at the boundary instead of deep inside torch: ``ValueError`` for a
value out of range, :class:`ArgumentTypeError` (both a ``TypeError`` and a ``ValueError``) for a
value of the wrong kind — a bool where a number is expected, a string where an object is.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. Also a ``ValueError``, so that ``except ValueError``
    (the command line, older callers) still catches every bad argument."""


LOW_PRECISION = (torch.float16, torch.bfloat16)


def _kind(value: object) -> str:
    return f"{type(value).__name__} {value!r}" if isinstance(value, (bool, str)) else type(value).__name__


def _number(name: str, value: object) -> float:
    """A real number, not a bool (``True`` is not the number 1 here) and not a string; returned
    as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be a number, got {_kind(value)}")
    return float(value)


def _real_tensor(name: str, value: Tensor) -> None:
    if value.dtype == torch.bool or value.is_complex():
        raise ArgumentTypeError(f"{name} must be a real number or a real tensor, got a {value.dtype} tensor")


def positive(name: str, value: object) -> None:
    """``value`` (number or tensor) must be finite and > 0."""
    if isinstance(value, Tensor):
        _real_tensor(name, value)
        ok = bool(torch.isfinite(value).all()) and bool((value > 0).all())
    else:
        v = _number(name, value)
        ok = math.isfinite(v) and v > 0
    if not ok:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def nonnegative(name: str, value: object) -> None:
    """``value`` (number or tensor) must be finite and >= 0."""
    if isinstance(value, Tensor):
        _real_tensor(name, value)
        ok = bool(torch.isfinite(value).all()) and bool((value >= 0).all())
    else:
        v = _number(name, value)
        ok = math.isfinite(v) and v >= 0
    if not ok:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def integer(name: str, value: object, *, minimum: int = 1) -> None:
    """``value`` must be a Python int (not bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be an integer >= {minimum}, got {_kind(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def seed(name: str, value: object) -> None:
    """An explicit seed: an integer >= 0 (``None`` is refused: no implicit seeding)."""
    if value is None:
        raise ValueError(f"{name} must be an integer >= 0 (results are seeded explicitly), got None")
    integer(name, value, minimum=0)


def choice(name: str, value: object, options: Iterable[str]) -> None:
    """``value`` must be one of ``options``."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


def instance(name: str, value: object, cls: type, hint: str) -> None:
    """``value`` must be a ``cls``; ``hint`` shows how to build one (e.g. ``ltdl.Loss('mse')``)."""
    if not isinstance(value, cls):
        what = "the class itself" if isinstance(value, type) else _kind(value)
        raise ArgumentTypeError(f"{name} must be an ltdl.{cls.__name__} (build one with {hint}), got {what}")


def float_dtype(name: str, dtype: object) -> None:
    """A float32 or float64 dtype (half precision is too coarse for the book's checks)."""
    if not isinstance(dtype, torch.dtype):
        raise ArgumentTypeError(f"{name} must be a torch.dtype (torch.float64 or torch.float32), got {_kind(dtype)}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{name} must be torch.float64 or torch.float32, got {dtype}")


def tensor(
    name: str, value: object, *, ndim: int | None = None, min_ndim: int | None = None, nonempty: bool = False
) -> None:
    """``value`` must be a float32/float64 tensor with finite entries (and the given rank)."""
    if not isinstance(value, Tensor):
        raise ArgumentTypeError(f"{name} must be a torch.Tensor, got {_kind(value)}")
    if not value.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype (float64 or float32), got {value.dtype}")
    if value.dtype in LOW_PRECISION:
        raise ValueError(
            f"{name} must be float64 or float32, got {value.dtype} (half precision is too "
            f"coarse for these computations: convert with {name.split('[')[0]}.double())"
        )
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(value.shape)}")
    if min_ndim is not None and value.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(value.shape)}")
    if nonempty and value.numel() == 0:
        raise ValueError(f"{name} must not be empty (at least one point), got shape {tuple(value.shape)}")
    # Meta tensors (shape-only) have no values to check.
    if value.device.type != "meta" and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")


def shape_tail(name: str, value: Tensor, tail: Sequence[int]) -> None:
    """The trailing dimensions of ``value`` must equal ``tail``."""
    tail = tuple(tail)
    got = tuple(value.shape[value.ndim - len(tail) :]) if value.ndim >= len(tail) else tuple(value.shape)
    if got != tail:
        raise ValueError(f"{name} must end with shape {tail}, got shape {tuple(value.shape)}")


def same_dtype(name: str, value: Tensor, dtype: torch.dtype) -> None:
    """``value`` must have ``dtype`` (no silent casts between float32 and float64)."""
    if value.dtype != dtype:
        raise ValueError(f"{name} must have dtype {dtype}, got {value.dtype}")


def like(name: str, value: Tensor, ref_name: str, ref: Tensor, *, dtype: bool = True) -> None:
    """``value`` must live on ``ref``'s device (and have its dtype): one message naming both."""
    bad_device = value.device != ref.device
    bad_dtype = dtype and value.dtype != ref.dtype
    if bad_device or bad_dtype:
        what = "dtype and device" if dtype else "device"
        want = f"{ref.dtype} on {ref.device}" if dtype else f"{ref.device}"
        got = f"{value.dtype} on {value.device}" if dtype else f"{value.device}"
        raise ValueError(
            f"{name} must have the {what} of {ref_name} ({want}), got {got}"
            + (" (move it with .to(...))" if bad_device else "")
        )
