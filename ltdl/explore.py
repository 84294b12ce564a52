"""Explorers: sliders over a small grid of settings and the figure of each setting (ipywidgets).

One object, two behaviours:

* **live kernel** (JupyterLab, VS Code, Colab): moving a slider calls :meth:`Explorer.frame` for
  the setting shown, which solves that setting with the chapter's library call (cached per
  setting) and draws it; with ``precompute=False`` nothing is computed before a slider moves.
* **static page** (the built book, no kernel): every frame of the grid is computed when the cell
  runs and stored in the widget state; the sliders are linked to a stack of the frames on the
  client side (``ipywidgets.jsdlink`` from each slider's ``index`` to a ``Stack``'s
  ``selected_index``), so moving a slider shows the stored figure of that setting. The frames are
  PNG images inside the page (``data:`` URLs): nothing is fetched from another host.

The frames of both behaviours come from the same call, so they are the same bytes
(``tests/test_explore.py`` checks it). Chapter explorers (each frame from the library call its
chapter uses, with the chapter's settings): :func:`scaling_identity` (chapter 2),
:func:`training_error` (3), :func:`tracking_turnpike` (5), :func:`integral_turnpike` (6),
:func:`example_flow` (9), :func:`stopping_layer` (10).

Why one module: the chapter explorers are thin: each is the :class:`Explorer` mechanism fed with
one chapter's library call and figure, and the promise above (a live frame and a stored frame
are the same bytes) holds because they all go through the same ``Explorer.frame``. The chapters
call them as ``ltdl.explore.NAME``; moving the explorers into another module would change those
names in six chapters for no gain in what a reader has to hold in mind at once.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _checks

MAX_FRAMES = 24  # every frame is stored in the page: keep the page light
PENDING = '<p class="ltdl-explorer-pending">computing this setting…</p>'


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float | int | np.floating | np.integer):
        return f"{float(v):g}"
    return str(v)


class Explorer:
    """Sliders over a grid of settings and the figure of the setting shown.

    Args:
        name: a short identifier (letters, digits, hyphens), written into the page.
        grid: parameter name → the values of its slider (1 to 3 parameters, 2 to 12 values
            each, at most ``MAX_FRAMES`` settings in all). A parameter with the two values
            ``(False, True)`` is shown as a toggle.
        draw: ``draw(**setting) -> matplotlib.figure.Figure``; it computes what it shows
            (cache the solves in it) and must not use pyplot's global figure.
        labels: parameter name → the label of its slider (default: the name).
        caption: one sentence under every frame (plain text, no TeX).
        alt: the alt text of every frame, with ``{setting}`` replaced by the setting.
        default: the setting shown first (default: the first value of each parameter).
        precompute: compute every frame when the explorer is first shown (the book's static
            page needs them all); False computes a frame only when a slider reaches it.
    """

    def __init__(
        self,
        name: str,
        grid: dict[str, Sequence],
        draw: Callable[..., Any],
        *,
        labels: dict[str, str] | None = None,
        caption: str = "",
        alt: str = "Figure for {setting}",
        default: dict[str, Any] | None = None,
        precompute: bool = True,
    ) -> None:
        if not isinstance(name, str) or not name or not all(c.isalnum() or c == "-" for c in name):
            raise ValueError(f"name must be letters, digits and hyphens, got {name!r}")
        if not isinstance(grid, dict) or not 1 <= len(grid) <= 3:
            raise ValueError(f"grid must be a dict of 1 to 3 parameters, got {grid!r}")
        n = 1
        for key, values in grid.items():
            if not isinstance(values, Sequence) or isinstance(values, str) or not 2 <= len(values) <= 12:
                raise ValueError(f"grid[{key!r}] must be a sequence of 2 to 12 values, got {values!r}")
            if len({_fmt(v) for v in values}) != len(values):
                raise ValueError(f"grid[{key!r}] has values that print the same: {values!r}")
            n *= len(values)
        if n > MAX_FRAMES:
            raise ValueError(f"grid must have at most {MAX_FRAMES} settings (every frame is stored), got {n}")
        if not callable(draw):
            raise TypeError(f"draw must be callable, got {type(draw).__name__}")
        _checks.instance("precompute", precompute, bool, "True or False")
        self.name = name
        self.grid = {k: list(v) for k, v in grid.items()}
        self.draw = draw
        self.labels = {k: (labels or {}).get(k, k) for k in grid}
        self.caption = caption
        self.alt = alt
        self.precompute = precompute
        default = dict(default or {})
        unknown = set(default) - set(grid)
        if unknown:
            raise ValueError(f"default names unknown parameters {sorted(unknown)}; the grid has {list(grid)}")
        self.default_index = tuple(
            self._index_of(k, default[k]) if k in default else 0 for k in self.grid
        )  # fmt: skip
        self._png: dict[tuple[int, ...], bytes] = {}
        self.seconds: dict[tuple[int, ...], float] = {}  # time of each frame: solve (if not cached) + draw
        self.cpu_seconds: dict[tuple[int, ...], float] = {}  # the same in CPU time of this process
        self.precompute_seconds: float | None = None
        self._widget = None

    # settings ----------------------------------------------------------------------------------
    def _index_of(self, key: str, value: Any) -> int:
        for i, v in enumerate(self.grid[key]):
            if _fmt(v) == _fmt(value):
                return i
        raise ValueError(f"{key}={value!r} is not on the grid {self.grid[key]}")

    def indices(self) -> list[tuple[int, ...]]:
        """Every setting as a tuple of value indices, in the order of the stored frames."""
        return list(itertools.product(*(range(len(v)) for v in self.grid.values())))

    def setting(self, index: Sequence[int]) -> dict[str, Any]:
        return {k: self.grid[k][i] for k, i in zip(self.grid, index, strict=True)}

    def describe(self, index: Sequence[int]) -> str:
        """``"T = 4, λ = 1"``: the setting as the page prints it."""
        return ", ".join(f"{self.labels[k]} = {_fmt(v)}" for k, v in self.setting(index).items())

    # frames ------------------------------------------------------------------------------------
    def frame(self, **setting: Any) -> bytes:
        """The PNG of one setting (a value of every parameter, on the grid); computed once."""
        if set(setting) != set(self.grid):
            raise ValueError(f"frame needs exactly the parameters {list(self.grid)}, got {sorted(setting)}")
        return self._frame(tuple(self._index_of(k, setting[k]) for k in self.grid))

    def _frame(self, index: tuple[int, ...]) -> bytes:
        if index not in self._png:
            import matplotlib.style

            from .plots import STYLE

            start, cpu = time.perf_counter(), time.process_time()
            with matplotlib.style.context(STYLE):
                fig = self.draw(**self.setting(index))
                buf = io.BytesIO()
                fig.savefig(buf, format="png")
            self._png[index] = buf.getvalue()
            self.seconds[index] = time.perf_counter() - start
            self.cpu_seconds[index] = time.process_time() - cpu
        return self._png[index]

    def frame_html(self, index: Sequence[int]) -> str:
        """One frame as the page shows it: a figure with the image, its alt text and its caption."""
        index = tuple(index)
        what = self.describe(index)
        data = base64.b64encode(self._frame(index)).decode("ascii")
        key = ";".join(f"{k}={_fmt(v)}" for k, v in self.setting(index).items())
        cap = f"{what}. {self.caption}".strip()
        return (
            f'<figure class="ltdl-explorer-frame" data-explorer="{self.name}" data-setting="{html.escape(key)}">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt.format(setting=what))}" '
            'style="width:100%;max-width:100%;height:auto">'
            f"<figcaption>{html.escape(cap)}</figcaption></figure>"
        )

    def compute_all(self) -> float:
        """Compute every frame (seconds taken; frames already computed cost nothing)."""
        start = time.perf_counter()
        for index in self.indices():
            self._frame(index)
        self.precompute_seconds = time.perf_counter() - start
        return self.precompute_seconds

    # the widget --------------------------------------------------------------------------------
    @property
    def widget(self):
        """The ipywidgets box: a title, one slider per parameter and the (nested) stack of frames."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self):
        import ipywidgets as w

        if self.precompute:
            self.compute_all()
        self.sliders = []
        for k, values in self.grid.items():
            options = [(_fmt(v), i) for i, v in enumerate(values)]
            common = dict(options=options, index=self.default_index[len(self.sliders)], description=self.labels[k])
            if len(values) == 2 and all(isinstance(v, bool) for v in values):
                s = w.ToggleButtons(**common, tooltips=[f"{self.labels[k]} {o}" for o, _ in options])
            else:
                s = w.SelectionSlider(
                    **common, continuous_update=True, layout=w.Layout(width="100%", max_width="30rem")
                )
            s.add_class("ltdl-explorer-control")
            self.sliders.append(s)
        self.leaves: dict[tuple[int, ...], Any] = {}
        self.links = []
        stack = self._stack(())
        for s in self.sliders:
            s.observe(self._on_change, names="index")
        box = w.VBox([*self.sliders, stack], layout=w.Layout(width="100%", max_width="48rem"))
        box.add_class("ltdl-explorer")
        box.add_class(f"ltdl-explorer-{self.name}")
        self._on_change(None)  # the default frame, also without precomputation
        return box

    def _stack(self, prefix: tuple[int, ...]):
        import ipywidgets as w

        level = len(prefix)
        values = list(self.grid.values())[level]
        children = []
        for i in range(len(values)):
            index = (*prefix, i)
            if level + 1 < len(self.grid):
                children.append(self._stack(index))
            else:
                leaf = w.HTML(self.frame_html(index) if index in self._png else PENDING, layout=w.Layout(width="100%"))
                self.leaves[index] = leaf
                children.append(leaf)
        selected = self.default_index[level]
        stack = w.Stack(children, selected_index=selected, layout=w.Layout(width="100%"))
        self.links.append(w.jsdlink((self.sliders[level], "index"), (stack, "selected_index")))
        return stack

    def current(self) -> tuple[int, ...]:
        """The value indices the sliders show."""
        return tuple(int(s.index) for s in self.widget.children[: len(self.grid)])

    def _on_change(self, change) -> None:
        """The live callback: compute the frame of the setting the sliders show (if not yet done)."""
        index = tuple(int(s.index) for s in self.sliders)
        leaf = self.leaves[index]
        if leaf.value == PENDING:
            leaf.value = self.frame_html(index)

    # display -----------------------------------------------------------------------------------
    def summary(self) -> str:
        """One deterministic line (the text that nbval compares): name, grid, number of frames."""
        parts = " × ".join(
            f"{self.labels[k]} ∈ {{{', '.join(_fmt(v) for v in vals)}}}" for k, vals in self.grid.items()
        )
        return f"Explorer {self.name}: {len(self.indices())} settings, {parts}"

    def __repr__(self) -> str:
        return self.summary()

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        if isinstance(bundle, tuple):  # (data, metadata)
            bundle = bundle[0]
        bundle = dict(bundle or {})
        bundle["text/plain"] = self.summary()
        # Renderers without a widget manager (a PDF, nbconvert) show the first frame.
        bundle["image/png"] = base64.b64encode(self._frame(self.default_index)).decode("ascii")
        return bundle


# Chapter explorers ------------------------------------------------------------------------------
def _known(known) -> dict:
    """Solves the chapter already did, keyed by the grid setting as floats (they are not solved again)."""
    if known is None:
        return {}
    if not isinstance(known, dict):
        raise TypeError(f"known must be a dict (setting tuple -> result), got {type(known).__name__}")
    return {tuple(float(v) for v in key): r for key, r in known.items()}


def _figure(w: float = 6.4, h: float = 3.0, ncols: int = 2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), layout="constrained")
    return fig, fig.subplots(1, ncols) if ncols > 1 else fig.subplots()


def scaling_identity(
    T: Sequence[float] = (1.0, 4.0, 16.0), lam: Sequence[float] = (0.25, 1.0, 4.0), *, precompute=True
):
    """Chapter 2: the optimal control of the four-point rotation at (T, λ), shown in unit time.

    Each frame solves ``ltdl.Problem(outer tanh field, four points, T, K=10, λ)`` with
    ``ltdl.train`` (the chapter's protocol: the start v₀ ~ N(0, 0.01²) rescaled by 1/T, L-BFGS with
    up to three restarts), asserts its certificate in the unit-time form (max |∂J/∂v| ≤ 1e-8),
    and draws the trajectories and the rescaled control norms ‖v_k‖ = T‖u_k‖. Settings with the
    same ε = λ/T give the same picture (R1).
    """
    import functools

    import ltdl

    from . import plots

    rot = ltdl.four_point_rotation()
    f_rot = ltdl.make_field("outer", activation="tanh")
    K = 10
    v_init = ltdl.init_controls(f_rot, 2, K, kind="normal", scale=0.01, seed=0)

    @functools.cache
    def solve(T, lam):
        problem = ltdl.Problem(f_rot, rot.x, rot.y, T=T, K=K, lam=lam)
        res = ltdl.train(
            problem, ltdl.scale_controls(v_init, 1.0 / T), max_iter=1000, tol_grad=1e-14, tol_change=1e-20, restarts=3
        )
        # max|dJ/dv| = max|dJ/du| / T; 1e-8 is far below what changes the figure (E shown to 3 digits)
        assert res.certificate.grad_max / T <= 1e-8, (T, lam, res.certificate.grad_max)
        return res, problem

    def draw(T, lam):
        res, problem = solve(T, lam)
        fig, (a, b) = _figure()
        plots.trajectories_2d(a, res.trajectory, torch_classes(rot))
        a.set_title(f"ε = λ/T = {lam / T:g}")
        v = ltdl.squared_norms(ltdl.rescaled_controls(res.controls, T), f_rot, 2).sqrt().numpy()
        s = (np.arange(K) + 0.5) / K
        b.plot(s, v, "o-", ms=3)
        b.set_xlabel("unit time s = t/T")
        b.set_ylabel("‖v_k‖ = T‖u_k‖")
        b.set_title(f"E = {ltdl.sig(float(res.terms['E_T']), 3)}")
        b.set_ylim(0, None)
        return fig

    return Explorer(
        "ch02-identity",
        {"T": list(T), "lam": list(lam)},
        draw,
        labels={"T": "T", "lam": "λ"},
        caption="Left: the four points' trajectories; right: the rescaled control norms. Equal λ/T, equal picture.",
        alt="Trajectories of four points in the plane and the rescaled control norms over unit time, for {setting}",
        precompute=precompute,
    )


def torch_classes(ds):
    """Colour classes of a data set with vector targets: the index of each point."""
    import torch

    return torch.arange(ds.x.shape[0])


def training_error(
    T: Sequence[float] | None = None, *, lam: float = 1.0, K: int = 10, sweep=None, vstar=None, precompute=True
):
    """Chapter 3: the training error E_T and the rescaled control v_T = T u_T as T grows.

    The frames come from the chapter's call, ``ltdl.reference_sweep`` over T = 1, 2, 4, ... (a
    warm-started chain: the solve at T starts from the one before), certified by
    ``ltdl.diagnostics.certify_sweep`` (asserted: positive smallest Hessian eigenvalue, certified
    distance ≤ 1e-10), and the minimal-norm interpolant v* (``ltdl.min_norm_interpolant``). The
    chain is computed once, at the first frame; a chapter that has run it passes its ``sweep`` (and
    ``vstar``) instead of solving again (its certificates are then the chapter's to assert).
    """
    import functools

    import ltdl

    T = list(T) if T is not None else ltdl.doubling(1, 1024)
    ds = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")

    if sweep is not None and [float(t) for t in sweep.T] != [float(t) for t in T]:
        raise ValueError(f"sweep must cover T = {T}, got T = {list(sweep.T)}")

    @functools.cache
    def chain():
        sw = sweep
        if sw is None:
            sw = ltdl.reference_sweep(field, ds.x, ds.y, T=T, lam=lam, K=K)
            certs = ltdl.diagnostics.certify_sweep(sw, ds.x, ds.y)
            assert all(c.min_eig > 0 for c in certs)
            assert ltdl.certified_distance(sw, certs) <= 1e-10  # the chapter's tolerance
        m = vstar if vstar is not None else ltdl.min_norm_interpolant(field, ds.x, ds.y, K=K)
        return sw, ltdl.squared_norms(m.v, field, 2).sqrt().numpy()

    def draw(T):
        sw, vstar = chain()
        i = int(np.argmin(np.abs(np.asarray(sw.T) - T)))
        fig, (a, b) = _figure()
        a.loglog(sw.T, sw.E, "o-", ms=3, color="0.6", label="E_T")
        a.loglog([sw.T[i]], [sw.E[i]], "o", ms=8, color="C3", label=f"T = {T:g}")
        a.loglog(sw.T, sw.E[0] * np.asarray(sw.T, dtype=float) ** -2.0, "k:", lw=0.8, label="slope −2")
        a.set_xlabel("T")
        a.set_ylabel("training error E_T")
        a.set_title(f"T·E_T = {ltdl.sig(float(sw.T[i] * sw.E[i]), 3)}")
        a.legend(loc="lower left")
        s = (np.arange(sw.K) + 0.5) / sw.K
        b.step(s, sw.v_profile(i).numpy(), where="mid", color="C3", label="‖v_T(s)‖")
        b.step(s, vstar, where="mid", color="k", ls="--", label="‖v*(s)‖")
        b.set_xlabel("unit time s = t/T")
        b.set_ylabel("rescaled control norm")
        b.set_ylim(0, None)
        b.legend(loc="lower right")
        return fig

    return Explorer(
        "ch03-training-error",
        {"T": T},
        draw,
        caption="Left: the training error over T (the marked point is this T); right: the rescaled control and the "
        "minimal-norm interpolant.",
        alt="Log-log plot of the training error against T with {setting} marked, and the rescaled control norm "
        "beside the minimal-norm interpolant's",
        precompute=precompute,
    )


def tracking_turnpike(
    T: Sequence[float] = (4, 8, 16),
    gamma: Sequence[float] = (0.25, 1.0, 4.0),
    *,
    lam: float = 0.1,
    final_weight: float = 10.0,
    dt: float = 0.5,
    known=None,
    precompute=True,
):
    """Chapter 5: the turnpike arcs of the tracking problem (inconsistent target) as T and γ change.

    Each frame solves ``ltdl.Problem(outer tanh, four points, T, K = T/Δt, λ, x̄ = the points
    rotated by 45°, tracking weight γ, final weight)`` with ``ltdl.turnpike_run`` and asserts its
    certificate (max |∂J/∂u| ≤ 1e-12, positive Hessian), as the chapter does; the dotted line is
    the linearised rate ``ltdl.linearised_rate`` at that γ. ``known``: {(T, γ): TurnpikeRun} the
    chapter already solved (same problem), used instead of solving again.
    """
    import functools

    import ltdl

    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")
    x_bar = data.x @ ltdl.rotation(45.0).T
    T_grid = list(T)

    done = _known(known)

    @functools.cache
    def solve(T, gamma):
        costs = dict(lam=lam, x_bar=x_bar, tracking_weight=gamma, final_weight=final_weight)
        run = done.get((float(T), float(gamma)))
        if run is None:
            run = ltdl.turnpike_run(ltdl.Problem(field, data.x, data.y, T=T, K=round(T / dt), **costs))
        if abs(run.dt - dt) > 1e-12:
            raise ValueError(f"known run at T={T} has dt={run.dt}, expected {dt}")
        run.certificate.check(1e-12, min_eig_floor=0.0)  # the chapter's Newton tolerance
        return run, ltdl.linearised_rate(field, x_bar, weight=gamma, lam=lam, dt=dt)

    def draw(T, gamma):
        run, mu = solve(T, gamma)
        fig, (a, b) = _figure()
        a.semilogy(run.t, np.maximum(run.distance(x_bar), 1e-16), color="C0", label="RMS |x_i − x̄_i|")
        tt = np.array([0.0, min(T, 12.0)])
        a.semilogy(tt, 0.8 * np.exp(-mu * tt), "k:", lw=0.8, label=f"e^(−μt), μ = {ltdl.sig(mu, 3)}")
        a.set_ylim(1e-15, 5)
        a.set_xlim(0, max(T_grid))
        a.set_xlabel("t")
        a.set_ylabel("distance to the target")
        a.legend(loc="upper right")
        b.semilogy(run.tu, np.maximum(run.u, 1e-16), color="C1")
        b.set_xlim(0, max(T_grid))
        b.set_ylim(1e-9, 10)
        b.set_xlabel("t")
        b.set_ylabel("‖u(t)‖")
        return fig

    return Explorer(
        "ch05-turnpike",
        {"T": list(T), "gamma": list(gamma)},
        draw,
        labels={"T": "T", "gamma": "γ"},
        default={"T": 16, "gamma": 1.0},
        caption="Left: distance of the states to the target x̄ (dotted: the linearised rate); right: the control norm.",
        alt="Semi-log plots of the distance to the tracking target and of the control norm over time, for {setting}",
        precompute=precompute,
    )


def integral_turnpike(
    T: Sequence[float] = (4, 8, 16),
    beta: Sequence[float] = (0.0, 0.5, 1.0, 2.0),
    *,
    lam: float = 0.1,
    dt: float = 0.25,
    known=None,
    precompute=True,
):
    """Chapter 6: the training error along the layers with the integral regulariser β∫E, as T and β change.

    Each frame solves ``ltdl.Problem(outer tanh, four points, T, K = T/Δt, λ, β)`` with
    ``ltdl.turnpike_run(newton=True, max_steps=200, max_iter=300)`` and asserts the certificate
    (max |∂J/∂u| ≤ 1e-12, positive Hessian), as the chapter does; β = 0 is plain ERM. ``known``:
    {(T, β): TurnpikeRun} the chapter already solved (same problem), used instead of solving again.
    """
    import functools

    import ltdl

    data = ltdl.four_point_rotation()
    field = ltdl.make_field("outer", activation="tanh")

    done = _known(known)

    @functools.cache
    def solve(T, beta):
        run = done.get((float(T), float(beta)))
        if run is None:
            prob = ltdl.Problem(field, data.x, data.y, T=T, K=round(T / dt), lam=lam, beta=beta)
            run = ltdl.turnpike_run(prob, newton=True, max_steps=200, max_iter=300)
        if abs(run.dt - dt) > 1e-12:
            raise ValueError(f"known run at T={T} has dt={run.dt}, expected {dt}")
        run.certificate.check(1e-12, min_eig_floor=0.0)
        return run

    def draw(T, beta):
        run = solve(T, beta)
        fig, (a, b) = _figure()
        a.semilogy(run.t, np.maximum(run.E, 1e-30), color="C0")
        a.set_ylim(1e-28, 10)
        a.set_xlim(0, 16)
        a.set_xlabel("t")
        a.set_ylabel("E(x(t))")
        a.set_title("ERM (β = 0)" if beta == 0 else f"integral term, β = {beta:g}")
        b.semilogy(run.tu, np.maximum(run.u, 1e-16), color="C1")
        b.set_xlim(0, 16)
        b.set_ylim(1e-9, 10)
        b.set_xlabel("t")
        b.set_ylabel("‖u(t)‖")
        return fig

    return Explorer(
        "ch06-integral",
        {"T": list(T), "beta": list(beta)},
        draw,
        labels={"T": "T", "beta": "β"},
        default={"T": 8, "beta": 1.0},
        caption="Left: the training error along the layers; right: the control norm.",
        alt="Semi-log plots of the training error and of the control norm over time, for {setting}",
        precompute=precompute,
    )


def stopping_layer(
    T: Sequence[float] = (4, 8, 16),
    lam: Sequence[float] = (0.05, 0.1),
    *,
    dt: float = 1.0,
    known=None,
    precompute=True,
):
    """Chapter 10: the layer norms ‖u_k‖₁ of the ℓ¹-penalised ReLU network and its stopping layer k*.

    Each frame solves ``ltdl.sparsity.l1_solve(l1_problem(outer ReLU field, four points, T, Δt), λ)``
    and asserts its prox-gradient certificate (≤ 1e-10, the chapter's target). ``known``:
    {(T, λ): SparseRun} the chapter already solved (same problem), used instead of solving again.
    """
    import functools

    import ltdl

    from . import sparsity as sp

    four = ltdl.four_point_rotation()
    relu = ltdl.make_field("outer", activation="relu")
    T_grid = list(T)

    done = _known(known)

    @functools.cache
    def solve(T, lam):
        r = done.get((float(T), float(lam)))
        if r is None:
            r = sp.l1_solve(sp.l1_problem(relu, four.x, four.y, T=T, dt=dt), lam)
        if abs(r.dt - dt) > 1e-12:
            raise ValueError(f"known run at T={T} has dt={r.dt}, expected {dt}")
        r.result.certificate.check(1e-10)
        return r

    def draw(T, lam):
        r = solve(T, lam)
        fig, (a, b) = _figure()
        k = np.arange(len(r.layer_norms))
        a.bar(k + 0.5, r.layer_norms, width=0.8, color="C0")
        a.axvline(r.k_star, color="C3", ls="--", lw=1)
        a.set_xlim(0, max(T_grid))
        a.set_xlabel("layer k")
        a.set_ylabel("‖u_k‖₁")
        a.set_title(f"stopping layer k* = {r.k_star}")
        b.semilogy(np.arange(len(r.risk)), np.maximum(r.risk, 1e-16), "o-", ms=3, color="C1")
        b.axvline(r.k_star, color="C3", ls="--", lw=1)
        b.set_xlim(0, max(T_grid))
        b.set_xlabel("layer k")
        b.set_ylabel("E(x^k)")
        b.set_title(f"E(x(T)) = {ltdl.sig(r.E_T, 3)}")
        return fig

    return Explorer(
        "ch10-stopping",
        {"T": list(T), "lam": list(lam)},
        draw,
        labels={"T": "T", "lam": "λ"},
        default={"T": 8, "lam": 0.05},
        caption="Left: the ℓ¹ norm of each layer's control (dashed: the stopping layer); right: the training error "
        "after each layer.",
        alt="Bar chart of the layer norms with the stopping layer marked and the training error per layer, "
        "for {setting}",
        precompute=precompute,
    )


def example_flow(run, *, frames: int = 11, precompute=True):
    """Chapter 9: the training points of a trained example (``ltdl.run_example``) at times t ∈ [0, T].

    The frames draw ``run``'s own Euler trajectory at ``frames`` equally spaced times
    (``ltdl.example_runs.states_at``; targets as black crosses), with fixed axes so that the motion shows.
    """
    from .example_plots import _class_colors, _targets
    from .example_runs import ExampleRun, states_at

    _checks.instance("run", run, ExampleRun, "an ExampleRun from ltdl.run_example")
    _checks.integer("frames", frames, minimum=2)
    T = run.T
    times = [round(T * j / (frames - 1), 10) for j in range(frames)]
    X = states_at(run.trajectory, T, times)
    pts = X.reshape(-1, 2)
    lo, hi = pts.min(0).values.tolist(), pts.max(0).values.tolist()
    colors = _class_colors(run.train_classes)
    targets = _targets(run)

    def draw(t):
        j = times.index(t)
        fig, ax = _figure(5.0, 3.6, ncols=1)
        ax.scatter(X[j, :, 0], X[j, :, 1], c=colors, s=6, lw=0)
        if targets is not None:
            ax.scatter(targets[:, 0], targets[:, 1], marker="x", c="k", s=40)
        ax.set_xlim(lo[0] - 0.5, hi[0] + 0.5)
        ax.set_ylim(lo[1] - 0.5, hi[1] + 0.5)
        ax.set_xlabel("x¹")
        ax.set_ylabel("x²")
        ax.set_title(f"{run.label}, t = {t:.1f}")
        return fig

    return Explorer(
        f"ch09-{run.name}",
        {"t": times},
        draw,
        caption="The training points of both classes at this time (black crosses: the tracking targets).",
        alt=f"Scatter plot of the training points of {run.label} at {{setting}}",
        precompute=precompute,
    )
