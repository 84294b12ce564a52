"""The authors' four example animations (4.1, 4.2, 4.3, A.1): their settings, as a registry.

The settings are reconstructed from the authors' public code; the example numbers are inferred
from the names of their video files. The hyper-parameters of 4.2, 4.3 and A.1 are not pinned
down by that code, so ours are choices, recorded in each :class:`ExampleSpec` next to what the
authors' code shows (``ExampleSpec.authors``).

What we keep from the authors: the data sets and their class ratios, the ``outer`` field
f(x, u) = w tanh(x) + b in the plane (no augmentation), T = 15 with K = 15 layers, a *fixed*
output map, the tanh-MSE loss of Ex. 4.1 and its state-tracking term. What we change (each with
its reason in ``ExampleSpec.notes``): Δt-scaled running costs on the Euler grid (the authors sum
the running cost without Δt on a grid of spacing T/(K−1)), tracking targets exactly in the
zero-error set {x : tanh(P x) = ±c} (the authors' class −1 target is not in it),
explicit seeds, full-batch L-BFGS instead of mini-batch Adam, and fewer points in the reduced size.

The examples live in three modules, by what they hold, each importing only the ones before it:

* this module: the settings (:class:`ExampleSpec`, :data:`EXAMPLES`, :func:`get_example`, the
  authors' constants ``AUTHORS_*``) and the problem they define (:func:`example_data`,
  :func:`example_problem`, :func:`classify`);
* :mod:`ltdl.example_runs`: training a spec and measuring the run (:func:`~ltdl.run_example`,
  :class:`~ltdl.ExampleRun`, :func:`~ltdl.example_runs.measures`);
* :mod:`ltdl.example_plots`: drawing a run (:func:`~ltdl.example_plots.draw_snapshots`,
  :func:`~ltdl.example_plots.draw_plot_types`).

Usage::

    spec = get_example("ex41")                   # or "4.1"
    train_set, test_set = example_data(spec, size="reduced", seed=0)
    problem = example_problem(spec, train_set)   # an ltdl.Problem

``size="full"`` uses the authors' data sizes (not run in CI).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dc_field

import torch
from torch import Tensor

from . import _checks
from .costs import Loss, OutputMap
from .data import Dataset, concentric_spheres, tricolor, xor
from .fields import make_field
from .problem import Problem

SIZES = ("reduced", "full")
NEWTON_TOL = 1e-10
"""Gradient certificate of the Newton polish (``ExampleSpec.newton``)."""
_SIZE_ALIASES = {"small": "reduced"}
DATASETS = ("spheres", "tricolor", "xor")

# The authors' fixed projector in their code for the example videos: P x = a·x + 3.9044.
AUTHORS_A = (0.8156, -0.4525)
AUTHORS_BIAS = 3.9044
# Second coordinates of the authors' tracking targets, 0.5/(2·0.4525) and −2/(2·0.4525).
AUTHORS_TARGET_X2 = (0.5 / (2 * 0.4525), -2.0 / (2 * 0.4525))
# The authors' tracking targets x_d^+ (label +1) and x_d^- (label −1), rows (x1, x2); the first
# coordinates make a·x_d = 6 − 0.25 and −6 + 1 (a = AUTHORS_A), before the bias.
AUTHORS_TARGETS = ((6 / AUTHORS_A[0], AUTHORS_TARGET_X2[0]), (-6 / AUTHORS_A[0], AUTHORS_TARGET_X2[1]))


@dataclass(frozen=True)
class ExampleSpec:
    """Settings of one example (all numbers explicit; nothing is read from a file).

    Attributes:
        name: registry key (``"ex41"``, ...); also the prefix of the chapter's glue keys.
        label: the paper's name, e.g. ``"Example 4.1"`` (inferred from the authors' video file names).
        title: one line saying what the example shows.
        dataset: ``"spheres"``, ``"tricolor"`` or ``"xor"``.
        counts: per size, the generator's point counts (spheres: inner, outer; tricolor: the three
            rings; xor: total).
        train_fraction: the first fraction of the (shuffled) points is the training set.
        field, activation: the vector field f(x, u).
        T, K: final time and number of Euler steps (layers).
        loss: ``"tanh_mse"`` (labels ±c, two classes) or ``"cross_entropy"`` (class ids).
        P_matrix, P_bias: the fixed output map P x = A x + c0 (rows of A).
        label_scale: c in the labels ±c of ``tanh_mse`` (0 < c < 1, so that the minimum is attained).
        target_x2: second coordinates of the tracking targets of class 1 (label +c) and class 0
            (label −c); the first coordinates are solved so that tanh(P x̄) = ±c exactly.
            None: no tracking term.
        lam: λ, weight of λ ∫ ‖u‖² dt.
        tracking_weight: weight of ∫ (1/N) Σ ‖x_i − x̄_i‖² dt.
        beta: weight of the integral risk β ∫ E dt.
        optimizer: ``"lbfgs"`` or ``"adam"``; iters: per size, the total over all L-BFGS calls;
            lr: step (None = default).
        grad_tol: L-BFGS is restarted from its last controls (fresh curvature history) while the
            certificate (max-abs entry of ∂J/∂u) exceeds ``grad_tol`` and iterations are left: one L-BFGS call
            can stop early on a tiny change of J far from a stationary point.
        init_scale: controls start i.i.d. N(0, init_scale²) (seeded).
        newton: after L-BFGS, damped Newton with the exact Hessian (:func:`ltdl.train_newton`)
            until max|∂J/∂u| ≤ ``NEWTON_TOL`` (1e-10): a certified stationary point whose smallest
            Hessian eigenvalue is returned (``ExampleRun.min_eig``). Off by default.
        authors: the authors' settings as far as their code shows them.
        notes: each of our differences with its reason.
    """

    name: str
    label: str
    title: str
    dataset: str
    counts: dict[str, tuple[int, ...]]
    T: float
    K: int
    loss: str
    P_matrix: tuple[tuple[float, ...], ...]
    P_bias: tuple[float, ...]
    lam: float
    iters: dict[str, int]
    train_fraction: float = 0.8
    field: str = "outer"
    activation: str = "tanh"
    label_scale: float | None = None
    target_x2: tuple[float, float] | None = None
    tracking_weight: float = 0.0
    beta: float = 0.0
    optimizer: str = "lbfgs"
    lr: float | None = None
    grad_tol: float = 1e-6
    init_scale: float = 0.1
    newton: bool = False
    authors: dict[str, str] = dc_field(default_factory=dict)
    notes: dict[str, str] = dc_field(default_factory=dict)

    def __post_init__(self) -> None:
        _checks.choice("dataset", self.dataset, DATASETS)
        _checks.choice("loss", self.loss, ("tanh_mse", "cross_entropy"))
        _checks.positive("T", self.T)
        _checks.integer("K", self.K)
        _checks.nonnegative("lam", self.lam)
        _checks.nonnegative("tracking_weight", self.tracking_weight)
        _checks.nonnegative("beta", self.beta)
        _checks.positive("init_scale", self.init_scale)
        _checks.positive("grad_tol", self.grad_tol)
        if not 0 < self.train_fraction < 1:
            raise ValueError(f"train_fraction must lie in (0, 1), got {self.train_fraction!r}")
        for size in SIZES:
            if size not in self.counts or size not in self.iters:
                raise ValueError(f"counts and iters must have an entry for size {size!r}")
        if self.loss == "tanh_mse":
            if self.label_scale is None or not 0 < self.label_scale < 1:
                raise ValueError(f"label_scale must lie in (0, 1) for tanh_mse, got {self.label_scale!r}")
            if len(self.P_matrix) != 1:
                raise ValueError("P_matrix must have one row for tanh_mse (two classes, m = 1)")
        if (self.target_x2 is None) != (self.tracking_weight == 0):
            raise ValueError("target_x2 and tracking_weight must be given together")
        if self.target_x2 is not None and self.loss != "tanh_mse":
            raise ValueError("target_x2 needs loss='tanh_mse' (targets in {tanh(P x) = ±c})")

    @property
    def summary(self) -> str:
        """The paper's label and what the example shows, in one line."""
        return f"{self.label}: {self.title}"

    @property
    def dt(self) -> float:
        """The step Δt = T/K."""
        return self.T / self.K

    @property
    def n_classes(self) -> int:
        """The number of classes, 3 for ``tricolor`` and 2 otherwise."""
        return 3 if self.dataset == "tricolor" else 2

    def output_map(self, *, dtype: torch.dtype = torch.float64) -> OutputMap:
        """The fixed output map P (not trained)."""
        return OutputMap(torch.tensor(self.P_matrix, dtype=dtype), torch.tensor(self.P_bias, dtype=dtype))

    def targets(self, *, dtype: torch.dtype = torch.float64) -> Tensor | None:
        """Tracking targets ``(2, 2)``: row 0 for class 0 (label −c), row 1 for class 1 (+c).

        Each lies exactly on the line {x : P x = ±artanh c}, i.e. tanh(P x̄) = ±c, so that the
        running target is a zero of the final loss (unlike the authors' class −1 target).
        """
        if self.target_x2 is None:
            return None
        (a1, a2), (b0,) = self.P_matrix[0], self.P_bias
        if self.label_scale is None:  # refused by __post_init__ for tanh_mse, the only loss with targets
            raise ValueError("label_scale must be set for running targets")
        z = math.atanh(self.label_scale)
        x2_pos, x2_neg = self.target_x2
        rows = [((-z - b0 - a2 * x2_neg) / a1, x2_neg), ((z - b0 - a2 * x2_pos) / a1, x2_pos)]
        return torch.tensor(rows, dtype=dtype)

    def settings(self, size: str = "reduced") -> dict[str, str]:
        """Our settings as short strings (for a table or the command line)."""
        _checks.choice("size", size, SIZES)
        counts = self.counts[size]
        n = sum(counts)
        n_train = int(round(self.train_fraction * n))
        terms = []
        for row, c0 in zip(self.P_matrix, self.P_bias, strict=False):
            t = " ".join(
                f"{'−' if a < 0 else '+'} {'' if abs(a) == 1 else f'{abs(a):.4g} '}x{j + 1}"
                for j, a in enumerate(row)
                if a != 0
            )
            t = t[2:] if t.startswith("+ ") else "−" + t[2:]
            terms.append(t + (f" {'−' if c0 < 0 else '+'} {abs(c0):.4g}" if c0 else ""))
        P = "; ".join(terms)
        loss = self.loss + (f", labels ±{self.label_scale:g}" if self.label_scale is not None else "")
        out = {
            "data": f"{self.dataset}, {' + '.join(map(str, counts))} points: {n_train} train / {n - n_train} test",
            "field": f"{self.field}, σ = {self.activation}, d = 2",
            "T, K": f"{self.T:g}, {self.K} (Δt = {self.dt:g})",
            "loss": loss,
            "P (fixed)": P,
            "λ": f"{self.lam:g}",
            "tracking": "none"
            if self.target_x2 is None
            else f"weight {self.tracking_weight:g}, x̄ in tanh(Px) = ±{self.label_scale:g}",
            "β (integral risk)": f"{self.beta:g}",
            "optimiser": f"{self.optimizer}, full batch, at most {self.iters[size]} iterations "
            f"(restarted while max|∇J| > {self.grad_tol:g})"
            + (f", then Newton to max|∇J| ≤ {NEWTON_TOL:g}" if self.newton else ""),
        }
        return out


def _spec_counts(reduced: tuple[int, ...], full: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    return {"reduced": reduced, "full": full}


def _authors(data: str, loss: str, P: str, targets: str, penalty: str) -> dict[str, str]:
    """The authors' settings of one example, in the order of the settings table."""
    common = {
        "field": "outer ('inside' in leia), σ = tanh, d = 2",
        "T, K": "T = 15, K = 15 (torchdiffeq Euler, layer k = int(t/dt))",
        "optimiser": "Adam lr 1e-3, mini-batches of 64, 500 epochs",
    }
    return {**common, "data": data, "loss": loss, "P": P, "targets": targets, "penalty": penalty}


# Examples 4.1 and A.1 share the data, the loss and the output map: they differ only in the
# tracking term and λ, which is the comparison the chapter makes.
_SPHERES = {
    "dataset": "spheres",
    "counts": _spec_counts((200, 400), (1000, 2000)),
    "T": 15.0,
    "K": 15,
    "loss": "tanh_mse",
    "label_scale": 0.99,
    "P_matrix": (AUTHORS_A,),
    "P_bias": (0.0,),
}


def _spheres_authors(loss: str, targets: str, penalty: str) -> dict[str, str]:
    """The authors' settings of a spheres example: their data and their map P, with its bias."""
    P = f"fixed: {AUTHORS_A[0]:g} x1 − {-AUTHORS_A[1]:g} x2 + {AUTHORS_BIAS:g}"
    return _authors("spheres 1000 + 2000 points, 80/20 split", loss, P, targets, penalty)


EXAMPLES: dict[str, ExampleSpec] = {
    "ex41": ExampleSpec(
        name="ex41",
        label="Example 4.1",
        title="spheres, two classes, state tracking: the turnpike",
        **_SPHERES,  # type: ignore[arg-type]  # the values of _SPHERES have the fields' types
        target_x2=AUTHORS_TARGET_X2,
        tracking_weight=1.0,
        lam=0.005,
        iters={"reduced": 600, "full": 2000},
        authors=_spheres_authors(
            "MSE(tanh(P x(T)), ±1) + Σ_k [MSE(x_k, x_d) + MSE(x_{k+1}, x_d)]",
            "x_d = (7.36, 0.55) for +1, (−7.36, −2.21) for −1 (tanh(P x_d) = −0.80 for −1)",
            "Adam weight decay 0.01Δt (λ ≈ 0.005)",
        ),
        notes={
            "targets": "x̄ solved on the lines tanh(P x) = ±0.99 (authors' second coordinates kept): "
            "tracking and final cost agree",
            "P": "bias 3.9044 dropped: the authors' targets were computed for the bias-free map",
        },
    ),
    "ex42": ExampleSpec(
        name="ex42",
        label="Example 4.2",
        title="tricolor, three classes, cross-entropy",
        dataset="tricolor",
        counts=_spec_counts((80, 320, 160), (500, 2000, 1000)),
        T=15.0,
        K=15,
        loss="cross_entropy",
        P_matrix=((0.0, 1.0), (-math.sqrt(3) / 2, -0.5), (math.sqrt(3) / 2, -0.5)),
        P_bias=(0.0, 0.0, 0.0),
        lam=0.005,
        beta=1.0,
        iters={"reduced": 900, "full": 2000},
        authors=_authors(
            "tricolor 500 + 2000 + 1000 points",
            "not pinned down; the integral cross-entropy branch of 10356ff is "
            "1.75 Σ_k [CE(P x_k) + CE(P x_{k+1})] (no Δt)",
            "not recorded",
            "none",
            "not recorded",
        ),
        notes={
            "P": "three unit rows at 90°, 210°, 330°: each class is read off along its own direction",
            "β": "β = 1 with Δt-scaled trapezoid; the authors' 1.75 Σ_k [ℓ_k + ℓ_{k+1}] is β = 3.5 "
            "at Δt = 1, a heavier weight on the error at every layer, which pushes the clusters "
            "farther out than in their frames (cross-entropy rewards growing |P x|)",
        },
    ),
    "ex43": ExampleSpec(
        name="ex43",
        label="Example 4.3",
        title="XOR (chess), two classes, cross-entropy",
        dataset="xor",
        counts=_spec_counts((600,), (3000,)),
        T=15.0,
        K=15,
        loss="cross_entropy",
        P_matrix=((1 / math.sqrt(2), 1 / math.sqrt(2)), (-1 / math.sqrt(2), -1 / math.sqrt(2))),
        P_bias=(0.0, 0.0),
        lam=0.005,
        iters={"reduced": 300, "full": 2000},
        authors=_authors(
            "chess/XOR 3000 points", "not pinned down by the code", "not recorded", "none", "not recorded"
        ),
        notes={
            "P": "rows ±(1, 1)/√2: the class is read off along the diagonal, as in the authors' video",
            "β": "plain ERM (β = 0): with β = 1 or 3.5, L-BFGS from seed 0 ends in a local minimum "
            "that misclassifies part of a square",
        },
    ),
    "exA1": ExampleSpec(
        name="exA1",
        label="Example A.1",
        title="spheres without a target point: no turnpike",
        **_SPHERES,  # type: ignore[arg-type]  # as in Example 4.1
        lam=0.05,
        iters={"reduced": 300, "full": 2000},
        authors=_spheres_authors(
            "MSE(tanh(P x(T)), ±1), no tracking term", "none", "Adam weight decay 0.1Δt (λ ≈ 0.05)"
        ),
        notes={"P": "as in Example 4.1, so that the tracking term is the only difference"},
    ),
}
"""The authors' examples by key (``"ex41"``, ``"ex42"``, ``"ex43"``, ``"exA1"``): their :class:`ExampleSpec`.

:func:`get_example` also accepts the paper's numbers (``"4.1"``); :func:`~ltdl.run_example` runs one.
"""

_ALIASES = {"4.1": "ex41", "4.2": "ex42", "4.3": "ex43", "A.1": "exA1"}


def get_example(name: str) -> ExampleSpec:
    """The spec of ``name``: a registry key (``"ex41"``) or the paper's number (``"4.1"``)."""
    key = _ALIASES.get(name, name)
    _checks.choice("name", key, tuple(EXAMPLES) + tuple(_ALIASES))
    return EXAMPLES[key]


def example_data(spec: ExampleSpec, *, size: str = "reduced", seed: int = 0) -> tuple[Dataset, Dataset]:
    """Seeded train and test splits of the example's data set."""
    _checks.choice("size", size, SIZES)
    _checks.integer("seed", seed, minimum=0)
    counts = spec.counts[size]
    if spec.dataset == "spheres":
        ds = concentric_spheres(*counts, seed=seed)
    elif spec.dataset == "tricolor":
        ds = tricolor(*counts, seed=seed)
    else:
        ds = xor(*counts, seed=seed)
    return ds.split(int(round(spec.train_fraction * len(ds))))


def _class_ids(ds: Dataset) -> Tensor:
    if ds.classes is None:  # every data set of the registry carries its class ids
        raise ValueError("the example's data set must carry class ids (Dataset.classes)")
    return ds.classes


def _labels(spec: ExampleSpec, ds: Dataset) -> Tensor:
    if spec.loss == "cross_entropy":
        return _class_ids(ds)
    if spec.label_scale is None:  # refused by ExampleSpec for tanh_mse, the other loss of the registry
        raise ValueError(f"label_scale must be set for the {spec.loss} loss")
    return spec.label_scale * (2 * _class_ids(ds) - 1).to(ds.x.dtype).unsqueeze(1)


def example_problem(spec: ExampleSpec, train_set: Dataset) -> Problem:
    """The discretised control problem of ``spec`` on the training set."""
    targets = spec.targets(dtype=train_set.x.dtype)
    x_bar = None if targets is None else targets[train_set.classes]
    return Problem(
        make_field(spec.field, activation=spec.activation),
        train_set.x,
        _labels(spec, train_set),
        T=spec.T,
        K=spec.K,
        lam=spec.lam,
        P=spec.output_map(dtype=train_set.x.dtype),
        loss=Loss(spec.loss),
        beta=spec.beta,
        x_bar=x_bar,
        tracking_weight=spec.tracking_weight,
    )


def classify(spec: ExampleSpec, states: Tensor) -> Tensor:
    """Class ids read off the output map: sign of P x (two classes, m = 1) or argmax of P x."""
    z = spec.output_map(dtype=states.dtype)(states)
    if z.shape[-1] == 1:
        return (z[..., 0] > 0).long()
    return z.argmax(-1)
