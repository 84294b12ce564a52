"""Drawing only: nothing here computes a number that a test needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    import matplotlib.colors

STYLE = Path(__file__).with_name("ltdl.mplstyle")


def use_style() -> None:
    """Apply the book's matplotlib style (sizes for the page, PNG at moderate dpi)."""
    import matplotlib.pyplot as plt

    plt.style.use(STYLE)


def _np(t) -> np.ndarray:
    return np.asarray(torch.as_tensor(t).detach().cpu(), dtype=float)


def trajectories_2d(ax, traj, classes=None, *, max_points: int = 200, cmap: str = "coolwarm"):
    """Planar trajectories, traj ``(K+1, N, 2)``; start points hollow, end points filled."""
    tr = _np(traj)[:, :max_points]
    c = None if classes is None else _np(classes)[:max_points]
    colors = None if c is None else __import__("matplotlib").colormaps[cmap]((c - c.min()) / max(np.ptp(c), 1))
    for i in range(tr.shape[1]):
        ax.plot(tr[:, i, 0], tr[:, i, 1], lw=0.6, alpha=0.5, color=None if colors is None else colors[i])
    ax.scatter(tr[0, :, 0], tr[0, :, 1], s=10, facecolors="none", edgecolors=colors if colors is not None else "k")
    ax.scatter(tr[-1, :, 0], tr[-1, :, 1], s=10, c=colors if colors is not None else "k")
    ax.set_xlabel("$x^1$")
    ax.set_ylabel("$x^2$")
    return ax


def decision_region(
    ax, predict, *, lim: float = 2.0, n: int = 200, levels=None, cmap: str | matplotlib.colors.Colormap = "coolwarm"
):
    """Filled contour of ``predict(points (M, 2)) -> (M,)`` on [−lim, lim]²."""
    g = np.linspace(-lim, lim, n)
    X, Y = np.meshgrid(g, g)
    pts = torch.tensor(np.stack([X.ravel(), Y.ravel()], 1))
    Z = _np(predict(pts)).reshape(X.shape)
    return ax.contourf(X, Y, Z, levels=levels or 20, cmap=cmap, alpha=0.6)


def rate_plot(ax, x, y, *, slope: float | None = None, label: str | None = None, ref_label: str | None = None):
    """Log–log plot of y against x with an optional reference line of the given slope."""
    x, y = _np(x), _np(y)
    ax.loglog(x, y, "o-", ms=3, label=label)
    if slope is not None:
        ax.loglog(x, y[0] * (x / x[0]) ** slope, "k--", lw=0.8, label=ref_label or f"slope {slope:g}")
    return ax


def control_norm_plot(ax, t, norms, *, label: str | None = None):
    """‖u(t)‖ against t on a log scale (t = layer midpoints)."""
    ax.semilogy(_np(t), _np(norms), label=label)
    ax.set_xlabel("$t$ (layers × Δt)")
    ax.set_ylabel(r"$\|u(t)\|$")
    return ax
