"""Vector fields f(x, u) of the neural ODE  dx/dt = f(x, u(t)).

A field acts on one layer's control ``u`` (a dict of tensors) and a batch of states
``x`` of shape ``(..., N, d)``. Leading batch dimensions of ``x`` and of the control
tensors broadcast, so S independent problems (a sweep) run as one tensor program.

=============  =================================  ===========================================
name           formula                            control shapes (one layer)
=============  =================================  ===========================================
``outer``      f = w σ(x) + b                     w: (d, d), b: (d,)
``inner``      f = σ(w x + b)                     w: (d, d), b: (d,)
``bottleneck`` f = w1 σ(w2 x + b2) + b1           w1: (d, h), w2: (h, d), b1: (d,), b2: (h,)
``bias``       f = b                              b: (d,)
=============  =================================  ===========================================
"""
from __future__ import annotations

from typing import Dict

import torch
from torch import Tensor

from . import _checks
from .activations import ACTIVATIONS, POSITIVELY_HOMOGENEOUS

Controls = Dict[str, Tensor]
"""Controls of all layers: name -> tensor of shape ``(*batch, K, *field.shapes(d)[name])``."""


def _matvec(w: Tensor, z: Tensor) -> Tensor:
    # w: (..., a, b), z: (..., N, b) -> (..., N, a); batch dims broadcast.
    return z @ w.transpose(-1, -2)


class Field:
    """Base class of the vector fields. Subclasses define ``shapes`` and ``__call__``."""

    name: str = "field"

    def __init__(self, *, activation: str = "tanh") -> None:
        _checks.choice("activation", activation, ACTIVATIONS)
        self.activation = activation
        self.sigma = ACTIVATIONS[activation]

    def shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        """Shape of each control tensor of one layer, for state dimension ``d``."""
        raise NotImplementedError

    @property
    def homogeneity_degree(self) -> int | None:
        """q with f(x, αu) = α^q f(x, u) for all α > 0, or None if there is no such q."""
        raise NotImplementedError

    @property
    def is_homogeneous(self) -> bool:
        """True when f is 1-homogeneous in u, the hypothesis of R1–R4."""
        return self.homogeneity_degree == 1

    def __call__(self, x: Tensor, u: Controls) -> Tensor:
        """Evaluate f(x, u) for states ``x`` of shape ``(..., N, d)``; returns ``(..., N, d)``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(activation={self.activation!r})"


class Bias(Field):
    """f(x, u) = b: the ``outer`` field with w ≡ 0 (the closed-form oracles of §3.5)."""

    name = "bias"

    def __init__(self) -> None:
        super().__init__(activation="identity")

    def shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        return {"b": (d,)}

    @property
    def homogeneity_degree(self) -> int:
        return 1

    def __call__(self, x: Tensor, u: Controls) -> Tensor:
        return u["b"].unsqueeze(-2).expand_as(x)

    def __repr__(self) -> str:
        return "Bias()"


class Outer(Field):
    """f(x, u) = w σ(x) + b. Linear in u = (w, b), hence 1-homogeneous for every σ."""

    name = "outer"

    def shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        return {"w": (d, d), "b": (d,)}

    @property
    def homogeneity_degree(self) -> int:
        return 1

    def __call__(self, x: Tensor, u: Controls) -> Tensor:
        return _matvec(u["w"], self.sigma(x)) + u["b"].unsqueeze(-2)


class Inner(Field):
    """f(x, u) = σ(w x + b). 1-homogeneous in u only for positively homogeneous σ (ReLU)."""

    name = "inner"

    def shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        return {"w": (d, d), "b": (d,)}

    @property
    def homogeneity_degree(self) -> int | None:
        return 1 if self.activation in POSITIVELY_HOMOGENEOUS else None

    def __call__(self, x: Tensor, u: Controls) -> Tensor:
        return self.sigma(_matvec(u["w"], x) + u["b"].unsqueeze(-2))


class Bottleneck(Field):
    """f(x, u) = w1 σ(w2 x + b2) + b1 with hidden width ``hidden``.

    Not homogeneous as a whole: scaling every control by α gives α² (first term) + α b1.
    """

    name = "bottleneck"

    def __init__(self, *, activation: str = "relu", hidden: int) -> None:
        super().__init__(activation=activation)
        _checks.integer("hidden", hidden)
        self.hidden = hidden

    def shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        h = self.hidden
        return {"w1": (d, h), "w2": (h, d), "b1": (d,), "b2": (h,)}

    @property
    def homogeneity_degree(self) -> None:
        return None

    def __call__(self, x: Tensor, u: Controls) -> Tensor:
        hidden = self.sigma(_matvec(u["w2"], x) + u["b2"].unsqueeze(-2))
        return _matvec(u["w1"], hidden) + u["b1"].unsqueeze(-2)

    def __repr__(self) -> str:
        return f"Bottleneck(activation={self.activation!r}, hidden={self.hidden})"


FIELDS = {"outer": Outer, "inner": Inner, "bottleneck": Bottleneck, "bias": Bias}


def make_field(name: str, *, activation: str = "tanh", hidden: int | None = None) -> Field:
    """Build a field by name: ``"outer"``, ``"inner"``, ``"bottleneck"`` (needs ``hidden``) or ``"bias"``."""
    _checks.choice("name", name, FIELDS)
    if name == "bias":
        if activation not in ("tanh", "identity") or hidden is not None:
            raise ValueError("activation and hidden must be left unset for the 'bias' field")
        return Bias()
    if name == "bottleneck":
        if hidden is None:
            raise ValueError("hidden must be an integer >= 1 for the bottleneck field, got None")
        return Bottleneck(activation=activation, hidden=hidden)
    if hidden is not None:
        raise ValueError(f"hidden must be None for the {name!r} field, got {hidden!r}")
    return FIELDS[name](activation=activation)
