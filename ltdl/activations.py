"""Scalar activations σ, applied componentwise, and their homogeneity.

``POSITIVELY_HOMOGENEOUS`` lists the σ with σ(αz) = α σ(z) for α > 0; it decides whether the
``inner`` field is homogeneous in its controls.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.1),
    "sigmoid": torch.sigmoid,
    "softplus": torch.nn.functional.softplus,
    "identity": lambda z: z,
}
"""Scalar activations σ by name, applied componentwise (a tensor of any shape to one of the same shape).

``leaky_relu`` has slope 0.1 for z < 0; ``make_field(..., activation=name)`` looks the name up here.
"""

POSITIVELY_HOMOGENEOUS = frozenset({"relu", "leaky_relu", "identity"})
