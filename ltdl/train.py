"""Import-compatibility module: the minimisers live in :mod:`ltdl.optim`."""

from .optim import Certificate, Result, train, train_newton

__all__ = ["Certificate", "Result", "train", "train_newton"]
