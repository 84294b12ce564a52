"""Drawing the runs of the authors' examples (ltdl/example_runs.py): the authors' plot types.

:func:`draw_snapshots` (the points at t = 0, T/5, T/2, T), :func:`draw_plot_types` (the
decision regions and the trajectories), and the text lines a chapter prints under a run
(:func:`certificate_line`, :func:`summary_lines`). Nothing here computes a number that a check
needs; matplotlib is imported only when a function is called. The flow over time is shown by the
chapter's explorer (:func:`ltdl.explore.example_flow`), not by an animation: one mechanism.
This module imports the settings (:mod:`ltdl.examples`) and the runs (:mod:`ltdl.example_runs`);
neither imports it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .example_runs import ExampleRun, decision_function, states_at
from .examples import NEWTON_TOL, classify

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
