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

Frozen controls: ``field.freeze(b=0)`` (or ``make_field(..., frozen={"b": 0})``) is the same
field with the control ``b`` fixed to a constant in every layer — e.g. the bias-free
(homogeneous) ``outer`` field f = w σ(x). A frozen control is not a control any more: it leaves
``shapes``, hence the control dicts, so training, penalties, sweeps and the R1 rescaling all act
on the free controls only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _checks
from .activations import ACTIVATIONS, POSITIVELY_HOMOGENEOUS

Controls = dict[str, Tensor]
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

    def freeze(self, **values: float | Tensor) -> FrozenField:
        """This field with the named controls fixed: ``name=value``, a number or a tensor of the
        one-layer shape ``shapes(d)[name]``, the same in every layer (see :class:`FrozenField`)."""
        return FrozenField(self, values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(activation={self.activation!r})"


class FrozenField(Field):
    """A field with some controls fixed to constants: f̃(x, u_free) = f(x, (u_free, u_frozen)).

    Built by :meth:`Field.freeze` or ``make_field(..., frozen=...)``. ``shapes`` lists the free
    controls only. It is 1-homogeneous in the free controls when the base field is and every
    frozen value is zero (f(x, (α u, 0)) = α f(x, (u, 0))); with a non-zero frozen value no
    degree is claimed (``homogeneity_degree`` None).

    Args:
        base: the field; values: ``name -> number or tensor`` of shape ``base.shapes(d)[name]``
            (a number fills the shape); at least one control must stay free.
    """

    base: Field
    frozen: dict[str, float | Tensor]

    def __init__(self, base: Field, values: dict[str, float | Tensor]) -> None:
        _checks.instance("base", base, Field, "a field such as ltdl.make_field('outer')")
        if isinstance(base, FrozenField):  # freezing twice: one wrapper over the original field
            values = {**base.frozen, **values}
            base = base.base
        names = set(base.shapes(1))
        if not values:
            raise ValueError("values must name at least one control to freeze, got none")
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"frozen names must be controls of {base!r} ({sorted(names)}), got {unknown}")
        if set(values) == names:
            raise ValueError(f"frozen must leave at least one control of {base!r} free, got all of {sorted(names)}")
        for n, v in values.items():
            if isinstance(v, Tensor):
                _checks.tensor(f"frozen[{n!r}]", v)
                if not bool(torch.isfinite(v).all()):
                    raise ValueError(f"frozen[{n!r}] must be finite")
            else:
                _checks._number(f"frozen[{n!r}]", v)
                if not math.isfinite(v):
                    raise ValueError(f"frozen[{n!r}] must be finite, got {v!r}")
        self.base, self.frozen = base, dict(values)
        self.activation, self.sigma, self.name = base.activation, base.sigma, base.name

    def shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        return {n: s for n, s in self.base.shapes(d).items() if n not in self.frozen}

    @property
    def homogeneity_degree(self) -> int | None:
        zero = all(float(torch.as_tensor(v).abs().max()) == 0 for v in self.frozen.values())
        return self.base.homogeneity_degree if zero else None

    def __call__(self, x: Tensor, u: Controls) -> Tensor:
        shapes = self.base.shapes(x.shape[-1])
        full = dict(u)
        for n, v in self.frozen.items():
            v = torch.as_tensor(v, dtype=x.dtype, device=x.device)
            if v.ndim and tuple(v.shape) != shapes[n]:
                raise ValueError(f"frozen[{n!r}] must be a number or have shape {shapes[n]}, got {tuple(v.shape)}")
            full[n] = v.expand(shapes[n])
        return self.base(x, full)

    def __repr__(self) -> str:
        vals = ", ".join(f"{n}={v if not isinstance(v, Tensor) else 'tensor'}" for n, v in self.frozen.items())
        return f"{self.base!r}.freeze({vals})"


class Bias(Field):
    """f(x, u) = b: the ``outer`` field with w ≡ 0 (closed-form oracles: :func:`bias_erm`, :func:`bias_integral`)."""

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


FIELDS: dict[str, type[Field]] = {"outer": Outer, "inner": Inner, "bottleneck": Bottleneck, "bias": Bias}


def make_field(
    name: str, *, activation: str = "tanh", hidden: int | None = None, frozen: dict[str, float | Tensor] | None = None
) -> Field:
    """Build a field by name: ``"outer"``, ``"inner"``, ``"bottleneck"`` (needs ``hidden``) or ``"bias"``.

    ``frozen``: controls to fix, ``{"b": 0}`` gives the bias-free field (see :meth:`Field.freeze`).
    """
    _checks.choice("name", name, FIELDS)
    if frozen is not None:
        if not isinstance(frozen, dict):
            raise TypeError(f"frozen must be a dict name -> value, got {type(frozen).__name__}")
        return make_field(name, activation=activation, hidden=hidden).freeze(**frozen)
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
