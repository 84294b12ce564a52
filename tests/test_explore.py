"""ltdl.explore: the live callback and the stored frames agree; the static widget is wired client-side."""

from __future__ import annotations

import base64
import re

import pytest

import ltdl
from ltdl import explore

ipywidgets = pytest.importorskip("ipywidgets")


@pytest.fixture(autouse=True)
def _chapter_arithmetic():
    ltdl.setup_chapter()  # float64, one thread, seed 0: the chapters' setting


def _png(html: str) -> bytes:
    m = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert m, html[:200]
    return base64.b64decode(m.group(1))


def test_live_callback_equals_the_stored_frame():
    """A kernel that computes a frame only when the slider reaches it shows the same bytes as the
    frame stored at build time (two independent explorers: every solve is done twice)."""
    grid = dict(T=(1.0, 4.0), lam=(1.0, 4.0))
    stored = explore.scaling_identity(**grid)
    stored.widget  # noqa: B018 (building the widget precomputes every frame)
    assert set(stored.seconds) == set(stored.indices())
    live = explore.scaling_identity(**grid, precompute=False)
    box = live.widget
    assert live.leaves[(0, 0)].value != explore.PENDING  # the default setting is shown at once
    assert live.leaves[(1, 1)].value == explore.PENDING  # nothing else computed yet
    t_slider, lam_slider = box.children[:2]
    t_slider.index = 1  # the live callback: (T = 4, λ = 1)
    lam_slider.index = 1  # (T = 4, λ = 4)
    for index in ((1, 0), (1, 1)):
        assert live.leaves[index].value == stored.leaves[index].value
        assert _png(live.leaves[index].value) == stored.frame(**stored.setting(index))
    assert live.leaves[(0, 1)].value == explore.PENDING  # never reached
    assert stored.describe((1, 1)) == "T = 4, λ = 4"


def test_static_widget_links_every_slider_to_its_stacks():
    ex = explore.Explorer(
        "unit",
        {"a": [1, 2, 3], "b": [False, True]},
        _draw,
        labels={"a": "α"},
        caption="A test figure.",
        default={"a": 2},
    )
    box = ex.widget
    sliders = box.children[:2]
    assert isinstance(sliders[0], ipywidgets.SelectionSlider) and isinstance(sliders[1], ipywidgets.ToggleButtons)
    assert [s.index for s in sliders] == [1, 0]
    # one link from the first slider to the outer stack, one from the second to each inner stack
    by_source = {}
    for link in ex.links:
        assert isinstance(link, ipywidgets.widgets.widget_link.DirectionalLink)
        (src, s_attr), (dst, d_attr) = link.source, link.target
        assert (s_attr, d_attr) == ("index", "selected_index") and isinstance(dst, ipywidgets.Stack)
        by_source.setdefault(src.model_id, []).append(dst)
    assert [len(by_source[s.model_id]) for s in sliders] == [1, 3]
    outer = box.children[2]
    assert outer.selected_index == 1
    for i, inner in enumerate(outer.children):
        for j, leaf in enumerate(inner.children):
            assert leaf is ex.leaves[(i, j)]
            assert f'data-setting="a={[1, 2, 3][i]};b={["off", "on"][j]}"' in leaf.value
            assert _png(leaf.value) == ex.frame(a=[1, 2, 3][i], b=[False, True][j])
            assert 'alt="' in leaf.value and "<figcaption>" in leaf.value
    frames = {ex.frame(**ex.setting(k)) for k in ex.indices()}
    assert len(frames) == 6  # every setting draws its own figure


def test_display_bundle_is_deterministic_text_plus_widget_and_first_frame():
    ex = explore.Explorer("unit", {"a": [1, 2]}, _draw)
    bundle = ex._repr_mimebundle_()
    assert bundle["text/plain"] == "Explorer unit: 2 settings, a ∈ {1, 2}"
    assert "model_id" in bundle["application/vnd.jupyter.widget-view+json"]
    assert base64.b64decode(bundle["image/png"]) == ex.frame(a=1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="bad name", grid={"a": [1, 2]}), "name must be"),
        (dict(name="x", grid={}), "grid must be a dict of 1 to 3"),
        (dict(name="x", grid={"a": [1]}), "2 to 12 values"),
        (dict(name="x", grid={"a": [1, 1.0]}), "print the same"),
        (dict(name="x", grid={"a": list(range(12)), "b": list(range(3))}), "at most 24 settings"),
        (dict(name="x", grid={"a": [1, 2]}, default={"c": 1}), "unknown parameters"),
        (dict(name="x", grid={"a": [1, 2]}, default={"a": 5}), "not on the grid"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        explore.Explorer(draw=_draw, **kwargs)


def test_bad_types_are_named():
    with pytest.raises(TypeError, match="draw must be callable"):
        explore.Explorer("x", {"a": [1, 2]}, "not a function")
    with pytest.raises(ValueError, match="frame needs exactly the parameters"):
        explore.Explorer("x", {"a": [1, 2]}, _draw).frame(b=1)
    with pytest.raises(TypeError, match="run"):
        explore.example_flow("ex41")


def _draw(a, b=False):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot([0, 1], [0, a], color="C1" if b else "C0")
    ax.set_title(f"a = {a}, b = {b}")
    return fig
