"""The authors' four example animations (4.1, 4.2, 4.3, A.1), as a registry of settings and one runner.

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

Usage::

    run = run_example("ex41", size="reduced", seed=0)
    run.test_accuracy, run.trajectory.shape      # float, (K+1, N_train, 2)
    measures(run)                                # the chapter's check quantities (t_reach, ...)

``size="full"`` uses the authors' data sizes (not run in CI) and shows
a progress bar when ``progress=True``. The drawing helpers at the end of the module
(:func:`draw_snapshots`, :func:`draw_plot_types`, :func:`animate`) draw a run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import cast

import torch
from torch import Tensor

from . import _checks
from .controls import squared_norms
from .costs import Loss, OutputMap, risk
from .data import Dataset, concentric_spheres, tricolor, xor
from .diagnostics import time_to_reach
from .fields import Controls, Field, make_field
from .flows import flow
from .optim import train, train_newton
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

:func:`get_example` also accepts the paper's numbers (``"4.1"``); :func:`run_example` runs one.
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


def decision_function(run: ExampleRun) -> Callable[[Tensor], Tensor]:
    """points ``(M, 2)`` -> ``(M,)``: P x(T) for one output, the predicted class id otherwise."""
    spec = run.spec
    field, u = make_field(spec.field, activation=spec.activation), run.controls

    def predict(points: Tensor) -> Tensor:
        with torch.no_grad():
            xT = flow(field, points, u, spec.T)[-1]
            z = spec.output_map(dtype=xT.dtype)(xT)
            return z[:, 0] if z.shape[-1] == 1 else z.argmax(-1).to(xT.dtype)

    return predict


def states_at(traj: Tensor, T: float, times) -> Tensor:
    """States of the Euler polygon at the given times, shape ``(len(times), N, d)``.

    Between two layers the Euler scheme moves each point on a straight segment
    (x(t) = x_k + (t − t_k) f(x_k, u_k)), so linear interpolation between the stored states is
    the scheme's own continuous-time trajectory, not an approximation of it.
    """
    _checks.positive("T", T)
    K = traj.shape[0] - 1
    t = torch.as_tensor(times, dtype=traj.dtype).reshape(-1)
    if bool(((t < 0) | (t > T * (1 + 1e-12))).any()):
        raise ValueError(f"times must lie in [0, T] = [0, {T:g}], got {t.tolist()}")
    s = (t / T * K).clamp(0, K)
    k = s.floor().long().clamp(max=K - 1)
    w = (s - k.to(s.dtype)).reshape(-1, 1, 1)
    return (1 - w) * traj[k] + w * traj[k + 1]


def _curve(values: Tensor) -> list[float]:
    return [float(v) for v in values]


@dataclass(frozen=True, eq=False)  # eq=False: tensors have no single truth value
class ExampleRun:
    """One trained example, as returned by :func:`~ltdl.run_example` (N = ``n_train``, N' = ``n_test``,
    t_k = kΔt for k = 0..K; curves are plain lists over the K+1 layers unless said otherwise).

    Attributes:
        name, label, size, seed: the registry key, the paper's name, ``"reduced"``/``"full"``, the seed.
        T, K: final time and number of layers.
        n_train, n_test: N and N'.
        train_accuracy, test_accuracy: accuracy of P at x(T) on each split.
        final_risk, test_risk: E(x(T)) on the training and the test set.
        objective: J at the returned controls; terms: each term of J (``"E_T"``, ``"final"``,
            ``"tracking"``, ``"integral"``, ``"penalty"``, ``"J"`` as they apply).
        n_iter, n_calls: L-BFGS iterations over all calls (plus the Newton steps of the polish), and
            the number of L-BFGS calls (restarts + 1).
        wall_time: seconds spent in training.
        grad_max: the solver's certificate, the max-abs entry of ∂J/∂u at the returned controls.
        times: t_k. risk_curve: E(x(t_k)). accuracy_curve: training accuracy of P at x(t_k).
        state_norms, output_norms: (1/N) Σ ‖x_i(t_k)‖² and (1/N) Σ ‖P x_i(t_k)‖².
        target_distance: (1/N) Σ ‖x_i(t_k) − x̄_i‖ (None without tracking).
        displacement: (1/N) Σ ‖x_i(t_k) − x_i(T)‖.
        late_motion: (1/N) Σ ‖x_i(T) − x_i(T/2)‖ on the Euler polygon; late_fraction: late_motion
            over (1/N) Σ ‖x_i(T) − x_i(0)‖.
        class_means: centroid of each class at T, ``n_classes`` lists of 2 numbers.
        control_norms: ‖u_k‖ for k = 0..K−1 (K numbers).
        trajectory: ``(K+1, N, 2)``; test_trajectory: ``(K+1, N', 2)``.
        controls: the trained controls, ``{"w": (K, 2, 2), "b": (K, 2)}``.
        x_bar: tracking target of each training point ``(N, 2)``, or None.
        train_x, test_x: inputs ``(N, 2)``, ``(N', 2)``; train_classes, test_classes: class ids
            ``(N,)``, ``(N',)``.
        spec: the settings the run used (overrides included).
        min_eig: smallest eigenvalue of the Hessian of J at the returned controls when the spec
            asks for the Newton polish (``newton=True``), else None.
    """

    name: str
    label: str
    size: str
    seed: int
    T: float
    K: int
    n_train: int
    n_test: int
    train_accuracy: float
    test_accuracy: float
    final_risk: float
    test_risk: float
    objective: float
    terms: dict[str, float]
    n_iter: int
    n_calls: int
    wall_time: float
    grad_max: float
    times: list[float]
    risk_curve: list[float]
    accuracy_curve: list[float]
    state_norms: list[float]
    output_norms: list[float]
    target_distance: list[float] | None
    displacement: list[float]
    late_motion: float
    late_fraction: float
    class_means: list[list[float]]
    control_norms: list[float]
    trajectory: Tensor
    test_trajectory: Tensor
    controls: Controls
    x_bar: Tensor | None
    train_x: Tensor
    train_classes: Tensor
    test_x: Tensor
    test_classes: Tensor
    spec: ExampleSpec
    min_eig: float | None = None

    def to_dict(self) -> dict:
        """Every field in declaration order, ``spec`` as ``"settings"`` (a plain dict): the record
        the command line writes (tensors become lists there)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "spec"}
        out["settings"] = dataclasses.asdict(self.spec)
        return out


def run_example(
    name: str, *, size: str = "reduced", seed: int = 0, progress: bool = False, compiled: bool = False, **overrides
) -> ExampleRun:
    """Train one example and measure it.

    Args:
        name: ``"ex41"``, ``"ex42"``, ``"ex43"``, ``"exA1"`` (or ``"4.1"``, ..., ``"A.1"``).
        size: ``"reduced"`` (≤ 600 points, seconds) or ``"full"`` (the authors' data sizes).
        seed: seeds the data and the initial controls.
        progress: show a progress bar (keep False in notebooks: it writes to stderr).
        compiled: train on the fused objective of ``ltdl.compiled`` (compiled by torch.compile
            where a C++ compiler is found, else run eagerly). Its gradients equal the default
            path's up to rounding, so a long L-BFGS run can take a different path to the same
            minimiser; every returned number is evaluated on the default path. Off by default.
        overrides: replace fields of the spec (e.g. ``P_bias=(3.9044,)``) for a variant.

    Returns:
        An :class:`~ltdl.examples.ExampleRun` (numbers, curves over the layers, trajectories, the spec).
    """
    spec = get_example(name)
    if overrides:
        known = {f.name for f in dataclasses.fields(ExampleSpec)} - {"name"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"overrides must be fields of ExampleSpec {sorted(known)}, got {unknown}")
        spec = dataclasses.replace(spec, **overrides)
    size = _SIZE_ALIASES.get(size, size)
    _checks.choice("size", size, SIZES)
    train_set, test_set = example_data(spec, size=size, seed=seed)
    problem = example_problem(spec, train_set)
    u0 = problem.init_controls(kind="normal", scale=spec.init_scale, seed=seed)
    used, n_calls, wall, u = 0, 0, 0.0, u0
    fit = problem
    if compiled:
        from .compiled import maybe_compile

        fit = maybe_compile(problem)
    while True:
        res = train(
            fit,
            u,
            optimizer=spec.optimizer,
            max_iter=spec.iters[size] - used,
            lr=spec.lr,
            progress=progress,
            desc=f"{spec.label} ({size})",
        )
        used, n_calls, wall, u = used + res.n_iter, n_calls + 1, wall + res.wall_time, res.controls
        if (
            spec.optimizer != "lbfgs"
            or res.certificate.grad_max <= spec.grad_tol
            or used >= spec.iters[size]
            or res.n_iter == 0
        ):
            break
    min_eig = None
    if spec.newton:  # polish to a certificate; evaluated on the default (uncompiled) objective
        res = train_newton(problem, res.controls, lbfgs_iter=0, tol_grad=NEWTON_TOL)
        used, wall, min_eig = used + res.n_iter, wall + res.wall_time, res.certificate.min_eig
    traj = res.trajectory
    field: Field = problem.field
    u = res.controls
    P = problem.P
    with torch.no_grad():
        test_traj = flow(field, test_set.x, u, spec.T)
        test_labels = _labels(spec, test_set)
        test_risk = risk(test_traj[-1], test_labels, P, problem.loss)
        train_acc = (classify(spec, traj[-1]) == _class_ids(train_set)).to(traj.dtype).mean()
        test_acc = (classify(spec, test_traj[-1]) == _class_ids(test_set)).to(traj.dtype).mean()
        late = (traj[-1] - states_at(traj, spec.T, [spec.T / 2])[0]).norm(dim=-1).mean()
        dist = None
        if problem.x_bar is not None:
            dist = _curve((traj - problem.x_bar).norm(dim=-1).mean(-1))
        out = ExampleRun(
            name=spec.name,
            label=spec.label,
            size=size,
            seed=seed,
            T=spec.T,
            K=spec.K,
            n_train=len(train_set),
            n_test=len(test_set),
            train_accuracy=float(train_acc),
            test_accuracy=float(test_acc),
            final_risk=float(res.terms["E_T"]),
            test_risk=float(test_risk),
            objective=float(res.value),
            terms={k: float(v) for k, v in res.terms.items()},
            n_iter=used,
            n_calls=n_calls,
            wall_time=wall,
            grad_max=res.certificate.grad_max,
            times=[spec.dt * k for k in range(spec.K + 1)],
            risk_curve=_curve(problem.risk_curve(traj)),
            accuracy_curve=_curve((classify(spec, traj) == _class_ids(train_set)).to(traj.dtype).mean(-1)),
            state_norms=_curve((traj**2).sum(-1).mean(-1)),
            output_norms=_curve((P(traj) ** 2).sum(-1).mean(-1)),
            target_distance=dist,
            displacement=_curve((traj - traj[-1]).norm(dim=-1).mean(-1)),
            late_motion=float(late),
            late_fraction=float(late / (traj[-1] - traj[0]).norm(dim=-1).mean()),
            class_means=[traj[-1][train_set.classes == k].mean(0).tolist() for k in range(spec.n_classes)],
            control_norms=_curve(squared_norms(u, field, problem.d).sqrt()),
            trajectory=traj,
            test_trajectory=test_traj,
            controls=u,
            x_bar=problem.x_bar,
            train_x=train_set.x,
            train_classes=_class_ids(train_set),
            test_x=test_set.x,
            test_classes=_class_ids(test_set),
            spec=spec,
            min_eig=min_eig,
        )
    return out


# ---------------------------------------------------------------------------------------------
# What the chapter measures on a run: the same functions give its glued numbers and the
# ``measures`` entry that ``ltdl run`` writes.

Measures = dict[str, float | bool]


def rms_radius(states: Tensor) -> float:
    """Root-mean-square radius ((1/N) Σ |x_i|²)^½ of states ``(N, d)``."""
    return float((states**2).sum(1).mean().sqrt())


def turnpike_measures(run: ExampleRun) -> Measures:
    """The turnpike of a run with tracking targets x̄ (Example 4.1).

    ``r_star`` = artanh(c)/|a| (P x = a·x + c0, labels ±c): within r* of its target a point is
    classified by P alone, since |P x − P x̄| ≤ |a| |x − x̄| < artanh c = |P x̄ − c0|.
    ``t_reach``: the first layer time from which max_i |x_i(t_k) − x̄_i| ≤ r* at every later
    layer (inf if never). From layer k_reach = t_reach/Δt on: ``E_reach`` and ``E_T`` (training
    error at t_reach and T), ``u_reach`` and ``u_last`` (‖u_k‖ at k_reach and at K−1),
    ``u_decreasing`` (‖u_k‖ strictly decreasing), ``norm_change`` (max_k |s_k/s_K − 1| for
    s_k = (1/N) Σ |x_i(t_k)|²). Always: ``dist_T`` (mean distance to x̄ at T), ``late``
    (:attr:`ExampleRun.late_motion`), ``u_max`` (max_k ‖u_k‖).
    """
    if run.x_bar is None or run.target_distance is None:
        raise ValueError(f"run must have tracking targets (x_bar), got a run of {run.name!r} without")
    spec = run.spec
    r_star = math.atanh(cast(float, spec.label_scale)) / math.hypot(*spec.P_matrix[0])  # tanh_mse: c is set
    dmax = (run.trajectory - run.x_bar).norm(dim=-1).amax(-1).tolist()
    t_reach = time_to_reach(run.times, dmax, r_star)
    out: Measures = {
        "r_star": r_star,
        "t_reach": t_reach,
        "dist_T": run.target_distance[-1],
        "late": run.late_motion,
        "u_max": max(run.control_norms),
    }
    if math.isfinite(t_reach):
        k0 = round(t_reach / spec.dt)
        u_after, sn_after = run.control_norms[k0:], run.state_norms[k0:]
        out.update(
            E_reach=run.risk_curve[k0],
            E_T=run.risk_curve[-1],
            u_reach=u_after[0],
            u_last=u_after[-1],
            u_decreasing=all(b < a for a, b in zip(u_after, u_after[1:], strict=False)),
            norm_change=max(abs(s / sn_after[-1] - 1) for s in sn_after),
        )
    return out


def drift_measures(run: ExampleRun, *, E_tol: float = 0.05) -> Measures:
    """Early separation and outward drift (Example 4.2).

    ``t_small``: the first layer time from which E(x(t_k)) ≤ ``E_tol`` (cross-entropy: the
    geometric mean of the probability of the correct class is then ≥ exp(−E_tol)).
    ``radius_half``, ``radius_T``: :func:`rms_radius` at T/2 (on the Euler polygon) and T;
    ``radius_ratio`` = radius_T / radius_half; ``radius_growing``: the rms radius grows at every
    layer from K//2 on.
    """
    _checks.positive("E_tol", E_tol)
    x_half, x_T = states_at(run.trajectory, run.T, [run.T / 2, run.T])
    R_half, R_T = rms_radius(x_half), rms_radius(x_T)
    radii = [s**0.5 for s in run.state_norms[run.K // 2 :]]
    return {
        "t_small": time_to_reach(run.times, run.risk_curve, E_tol),
        "radius_half": R_half,
        "radius_T": R_T,
        "radius_ratio": R_T / R_half,
        "radius_growing": all(b > a for a, b in zip(radii, radii[1:], strict=False)),
    }


def xor_measures(run: ExampleRun) -> Measures:
    """Linear separability made by the flow (Example 4.3).

    ``acc_0``, ``acc_T``: training accuracy of P at t = 0 and T. ``margin``: along
    d = (1, 1)/√2, min over class 0 of d·x_i(T) minus max over class 1 (> 0 when a line
    orthogonal to d separates the features). ``radius_T``: :func:`rms_radius` at T.
    """
    xT, cls = run.trajectory[-1], run.train_classes
    proj = xT @ (torch.tensor([1.0, 1.0], dtype=xT.dtype) / 2**0.5)
    return {
        "acc_0": run.accuracy_curve[0],
        "acc_T": run.accuracy_curve[-1],
        "margin": float(proj[cls == 0].min() - proj[cls == 1].max()),
        "radius_T": rms_radius(xT),
    }


def measures(run: ExampleRun) -> Measures:
    """The chapter's measures of a run: :func:`turnpike_measures` with tracking targets,
    :func:`drift_measures` on tricolor, :func:`xor_measures` on XOR, and always ``rho``
    (:attr:`ExampleRun.late_fraction`, the late-motion fraction)."""
    out: Measures = {"rho": run.late_fraction}
    if run.x_bar is not None:
        out.update(turnpike_measures(run))
    elif run.spec.dataset == "tricolor":
        out.update(drift_measures(run))
    elif run.spec.dataset == "xor":
        out.update(xor_measures(run))
    return out


# ---------------------------------------------------------------------------------------------
# Drawing the results of run_example (the authors' plot types). Nothing here computes a number
# that a check needs; matplotlib is imported only when a function is called.

CLASS_COLORS = ("tab:blue", "tab:red", "tab:green")
SNAPSHOT_FRACTIONS = (0.0, 0.2, 0.5, 1.0)
_FRACTION_LABELS = ("0", "T/5", "T/2", "T")


def _class_colors(classes: Tensor) -> list[str]:
    return [CLASS_COLORS[int(c)] for c in classes]


def _targets(run: ExampleRun) -> Tensor | None:
    return None if run.x_bar is None else torch.unique(run.x_bar, dim=0)


def draw_snapshots(run: ExampleRun):
    """The training points at t = 0, T/5, T/2, T (a 2×2 grid); tracking targets as black crosses.

    Between layers the points are placed on the Euler polygon (:func:`states_at`).
    """
    import matplotlib.pyplot as plt

    T = run.T
    X = states_at(run.trajectory, T, [f * T for f in SNAPSHOT_FRACTIONS])
    pts = X.reshape(-1, 2)
    lo, hi = pts.min(0).values, pts.max(0).values
    pad = 0.05 * float((hi - lo).max())
    colors = _class_colors(run.train_classes)
    targets = _targets(run)
    fig, axes = plt.subplots(2, 2, figsize=(6.4, 5.2), sharex=True, sharey=True)
    for ax, Xt, lab in zip(axes.flat, X, _FRACTION_LABELS, strict=True):
        ax.scatter(Xt[:, 0], Xt[:, 1], c=colors, s=5, lw=0)
        if targets is not None:
            ax.scatter(targets[:, 0], targets[:, 1], marker="x", c="k", s=40, lw=1.5)
        ax.set_title(f"$t = {lab}$")
        ax.set_xlim(float(lo[0]) - pad, float(hi[0]) + pad)
        ax.set_ylim(float(lo[1]) - pad, float(hi[1]) + pad)
    for ax in axes[1]:
        ax.set_xlabel("$x^1$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$x^2$")
    return fig


def draw_plot_types(run: ExampleRun):
    """The authors' four plot types as a 2×2 grid: training error and state norms over the
    layers, the decision region with the test points, and the features x(T) with P's classes."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from .plots import decision_region

    spec = run.spec
    t = run.times
    n_cls = spec.n_classes
    cmap = ListedColormap(list(CLASS_COLORS[:n_cls]))
    levels = [-0.5 + j for j in range(n_cls + 1)]
    fig, ax = plt.subplots(2, 2, figsize=(6.8, 5.8))
    ax = ax.flat
    ax[0].semilogy(t, [max(e, 1e-16) for e in run.risk_curve], "o-", ms=3)
    ax[0].set_xlabel("$t$ (layers)")
    ax[0].set_ylabel("training error $E(x(t))$")
    ax[1].semilogy(t, run.state_norms, "o-", ms=3, label=r"$\frac{1}{N}\sum|x_i|^2$")
    ax[1].semilogy(t, run.output_norms, "s-", ms=3, label=r"$\frac{1}{N}\sum|Px_i|^2$")
    ax[1].set_xlabel("$t$ (layers)")
    ax[1].set_ylabel("state norms")
    ax[1].legend()
    predict = decision_function(run)
    if n_cls == 2:
        decision_region(
            ax[2], lambda p: torch.tanh(predict(p)), n=120, levels=[-1 + 0.2 * j for j in range(11)], cmap="coolwarm"
        )
    else:
        decision_region(ax[2], predict, n=120, levels=levels, cmap=cmap)
    xt = run.test_x
    ax[2].scatter(xt[:, 0], xt[:, 1], c=_class_colors(run.test_classes), s=6, edgecolors="k", linewidths=0.2)
    ax[2].set_title("decision region, test points")
    xT = run.trajectory[-1]
    lo, hi = xT.min(0).values, xT.max(0).values
    pad = 0.1 * float((hi - lo).max()) + 0.1
    g1 = torch.linspace(float(lo[0]) - pad, float(hi[0]) + pad, 150, dtype=xT.dtype)
    g2 = torch.linspace(float(lo[1]) - pad, float(hi[1]) + pad, 150, dtype=xT.dtype)
    G1, G2 = torch.meshgrid(g1, g2, indexing="xy")
    cls = classify(spec, torch.stack([G1.reshape(-1), G2.reshape(-1)], 1)).to(xT.dtype)
    ax[3].contourf(G1, G2, cls.reshape(G1.shape), levels=levels, cmap=cmap, alpha=0.2)
    ax[3].scatter(xT[:, 0], xT[:, 1], c=_class_colors(run.train_classes), s=5, lw=0)
    ax[3].set_title("features $x(T)$, classes of $P$")
    for a in (ax[2], ax[3]):
        a.set_xlabel("$x^1$")
        a.set_ylabel("$x^2$")
    return fig


def animate(run: ExampleRun, *, frames: int = 11, dpi: int = 100):
    """A matplotlib animation of the training points on the Euler polygon, ``frames`` equally
    spaced times from 0 to T (at most 12, for an offline player); targets as black crosses."""
    import matplotlib.pyplot as plt
    from matplotlib import animation

    _checks.integer("frames", frames, minimum=2)
    if frames > 12:
        raise ValueError(f"frames must be at most 12 (an offline player embeds every frame), got {frames}")
    T = run.T
    times = [T * j / (frames - 1) for j in range(frames)]
    X = states_at(run.trajectory, T, times)
    pts = X.reshape(-1, 2)
    lo, hi = pts.min(0).values.tolist(), pts.max(0).values.tolist()
    fig, ax = plt.subplots(figsize=(5.0, 3.6), dpi=dpi)
    scat = ax.scatter(X[0, :, 0], X[0, :, 1], c=_class_colors(run.train_classes), s=6, lw=0)
    targets = _targets(run)
    if targets is not None:
        ax.scatter(targets[:, 0], targets[:, 1], marker="x", c="k", s=40)
    ax.set_xlim(lo[0] - 0.5, hi[0] + 0.5)
    ax.set_ylim(lo[1] - 0.5, hi[1] + 0.5)
    ax.set_xlabel("$x^1$")
    ax.set_ylabel("$x^2$")
    title = ax.set_title("")

    def update(j):
        scat.set_offsets(X[j].numpy())
        title.set_text(f"{run.label}, t = {times[j]:.1f}")
        return scat, title

    anim = animation.FuncAnimation(fig, update, frames=frames, interval=400, blit=False)
    plt.close(fig)
    return anim


def certificate_line(run: ExampleRun) -> str:
    """The solver's certificate as the bound it meets (never its rounding-level value or an iteration count)."""
    if run.min_eig is not None:
        ok = run.grad_max <= NEWTON_TOL and run.min_eig > 0
        return f"certificate: max|grad J| <= {NEWTON_TOL:g} and smallest Hessian eigenvalue > 0 (Newton): {ok}"
    if run.grad_max <= run.spec.grad_tol:
        return f"certificate: max|grad J| <= {run.spec.grad_tol:g} (L-BFGS goal met)"
    return f"certificate not met: L-BFGS budget spent with max|grad J| > {run.spec.grad_tol:g}"


def summary_lines(run: ExampleRun) -> list[str]:
    """Four lines describing a run: sizes, the solver's certificate, accuracies and errors, class
    centroids at T (every number from ``run``; 4 significant digits at most)."""
    from .diagnostics import sig

    means = ", ".join("(" + ", ".join(f"{sig(v, 3)}" for v in m) + ")" for m in run.class_means)
    return [
        f"{run.label}: {run.n_train} train / {run.n_test} test points",
        "  " + certificate_line(run),
        f"  train accuracy {sig(run.train_accuracy, 4)}, test accuracy {sig(run.test_accuracy, 4)}, "
        f"E(x(T)) train {sig(run.final_risk, 3)}, test {sig(run.test_risk, 3)}",
        f"  class centroids at T: {means}",
    ]
