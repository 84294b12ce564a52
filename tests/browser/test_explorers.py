"""Every explorer (ltdl.explore) of the built book, in headless Chromium with the network blocked.

An explorer is an ipywidgets box (class ``ltdl-explorer``) whose sliders are linked on the client
side to a stack of frames stored in the page. For every explorer on every page, at 1280 px and at
390 px (a phone):

* each slider is moved with the keyboard, as a reader does (focus its handle, Home / End /
  arrow keys; a toggle is clicked), through at least three positions (first, last, middle, and
  first again for a two-valued slider);
* after each move exactly one frame is visible, its setting (``data-setting``) is the one the
  controls show (slider readouts, the active toggle), its image has loaded, and its bytes equal
  the frame stored in the page's widget state for that setting; moving a slider changes the image;
* nothing is requested from another host; on the phone the explorer, its slider handles and its
  image fit the screen (no sideways scrolling).

A screenshot of each explorer after its sliders were moved is written to
``<html>/../screenshots/<page>__<explorer>-moved.png`` (desktop) and ``...-moved-phone.png``.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest
from offline_chromium import offline_context  # scripts/, on sys.path by conftest.py

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("LTDL_HTML_DIR", ROOT / "_build" / "html")).resolve()
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
STATE = re.compile(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', re.S)
FRAME = re.compile(r'data-explorer="([^"]+)" data-setting="([^"]+)"><img src="data:image/png;base64,([^"]+)"')


def _explorer_pages() -> list[str]:
    if not HTML.is_dir():
        return []
    out = []
    for p in sorted(HTML.rglob("*.html")):
        rel = p.relative_to(HTML).as_posix()
        if rel.split("/")[0] in {"_static", "_sources", "_images", "_downloads"}:
            continue
        if "ltdl-explorer" in p.read_text(errors="replace"):
            out.append(rel)
    return out


PAGES = _explorer_pages()


def stored_frames(rel: str) -> dict[tuple[str, str], bytes]:
    """(explorer name, setting) -> PNG bytes, from the widget state stored in the page."""
    text = (HTML / rel).read_text(errors="replace")
    m = STATE.search(text)
    assert m, f"{rel}: no widget state in the page"
    state = json.loads(m.group(1))["state"]
    out = {}
    for model in state.values():
        value = model.get("state", {}).get("value")
        if model.get("model_name") == "HTMLModel" and isinstance(value, str):
            for name, setting, data in FRAME.findall(value):
                out[(name, setting.replace("&amp;", "&"))] = base64.b64decode(data)
    return out


# Inside the page: the explorers, their controls and the frame shown ----------------------------
SHOWN = r"""(k) => {
  const box = document.querySelectorAll('.ltdl-explorer')[k];
  const name = Array.from(box.classList).find(c => c.startsWith('ltdl-explorer-') && c !== 'ltdl-explorer-control')
      .slice('ltdl-explorer-'.length);
  const controls = Array.from(box.querySelectorAll('.ltdl-explorer-control')).map(c => {
    const label = (c.querySelector('.widget-label') || {}).textContent || '';
    const readout = c.querySelector('.widget-readout');
    const active = c.querySelector('button.mod-active');
    return {label: label.trim(), value: (readout ? readout.textContent : active ? active.textContent : '').trim(),
            toggle: !readout};
  });
  const frames = Array.from(box.querySelectorAll('figure.ltdl-explorer-frame'))
      .filter(f => f.getBoundingClientRect().height > 0);
  const img = frames.length ? frames[0].querySelector('img') : null;
  const r = box.getBoundingClientRect();
  const handles = Array.from(box.querySelectorAll('.noUi-handle')).map(h => {
    const b = h.getBoundingClientRect(); return [b.left, b.right]; });
  return {name, controls, n_visible: frames.length, setting: frames.length ? frames[0].dataset.setting : null,
          src: img ? img.src : '', loaded: img ? img.naturalWidth > 0 : false,
          img_w: img ? img.getBoundingClientRect().width : 0, box: [r.left, r.right], handles,
          scroll_w: document.documentElement.scrollWidth};
}"""


def _open(browser, rel: str, device: str):
    blocked: list[str] = []
    errors: list[str] = []
    ctx = offline_context(
        browser, blocked, viewport=VIEWPORTS[device], is_mobile=device == "phone", has_touch=device == "phone"
    )
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.goto((HTML / rel).as_uri(), wait_until="load", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.ltdl-explorer figure.ltdl-explorer-frame').length > 0")
    return ctx, page, blocked, errors


def _move(page, k: int, c: int):
    """Move control c of explorer k through >= 3 positions; return the keys pressed or buttons clicked."""
    box = page.locator(".ltdl-explorer").nth(k)
    control = box.locator(".ltdl-explorer-control").nth(c)
    buttons = control.locator("button")
    if buttons.count():  # a toggle: click each button, then the first again
        n = buttons.count()
        order = [*range(n), 0] if n >= 2 else [0]
        for i in order:
            buttons.nth(i).click()
            yield f"button {i}"
        return
    handle = control.locator(".noUi-handle")
    handle.focus()
    for key in ("Home", "End", "ArrowLeft", "Home", "ArrowRight"):
        handle.press(key)
        yield key


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("rel", PAGES)
def test_explorer(browser, rel, device):
    stored = stored_frames(rel)
    ctx, page, blocked, errors = _open(browser, rel, device)
    problems: list[str] = []
    shots = HTML.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        n = page.locator(".ltdl-explorer").count()
        assert n, f"{rel}: the page names an explorer but shows none"
        for k in range(n):
            first = page.evaluate(SHOWN, k)
            name = first["name"]
            for c in range(len(first["controls"])):
                seen = []
                for action in _move(page, k, c):
                    page.wait_for_timeout(150)
                    s = page.evaluate(SHOWN, k)
                    where = f"{name}, control {c} ({s['controls'][c]['label']}) after {action}"
                    if s["n_visible"] != 1:
                        problems.append(f"{where}: {s['n_visible']} frames visible (expected exactly one)")
                        continue
                    expected = ";".join(
                        f"{key}={ctl['value']}" for key, ctl in zip(_names(s["setting"]), s["controls"], strict=False)
                    )
                    if s["setting"] != expected:
                        problems.append(f"{where}: the frame shown is {s['setting']!r}, the controls show {expected!r}")
                    png = stored.get((name, s["setting"] or ""))
                    if png is None:
                        problems.append(f"{where}: no stored frame for {s['setting']!r}")
                    elif (
                        not s["src"].startswith("data:image/png;base64,")
                        or base64.b64decode(s["src"].split(",", 1)[1]) != png
                    ):
                        problems.append(f"{where}: the image shown is not the stored frame of {s['setting']!r}")
                    if not s["loaded"]:
                        problems.append(f"{where}: the image has not loaded")
                    seen.append((s["controls"][c]["value"], s["src"]))
                values = {v for v, _ in seen}
                srcs = {src for _, src in seen}
                if len(seen) < 3:
                    problems.append(f"{name}, control {c}: moved to only {len(seen)} positions")
                if len(values) < 2 or len(srcs) < len(values):
                    problems.append(
                        f"{name}, control {c}: {len(values)} values, {len(srcs)} images in {len(seen)} moves"
                    )
            s = page.evaluate(SHOWN, k)
            width = VIEWPORTS[device]["width"]
            if device == "phone":
                if s["scroll_w"] > width + 1:
                    problems.append(f"{name}: the page scrolls sideways at {width} px ({s['scroll_w']} px)")
                if s["box"][1] > width + 1 or s["box"][0] < -1:
                    problems.append(f"{name}: the explorer spans {s['box']} px on a {width} px screen")
                for h in s["handles"]:
                    if h[1] > width + 1 or h[0] < -1:
                        problems.append(f"{name}: a slider handle lies at {h} px, outside the {width} px screen")
                if s["img_w"] > width + 1:
                    problems.append(f"{name}: the image is {s['img_w']:.0f} px wide on a {width} px screen")
            suffix = "-moved" + ("-phone" if device == "phone" else "")
            page.locator(".ltdl-explorer").nth(k).screenshot(
                path=str(shots / f"{rel[:-5].replace('/', '__')}__{name}{suffix}.png")
            )
    finally:
        ctx.close()
    problems += [f"request left the machine (blocked): {u}" for u in blocked]
    problems += errors
    assert not problems, f"{rel} ({device}):\n  " + "\n  ".join(problems)


def _names(setting: str) -> list[str]:
    return [part.split("=", 1)[0] for part in setting.split(";")]


def test_every_explorer_page_was_found():
    """The chapters that call ltdl.explore have a page with an explorer (none was lost in the build)."""
    import nbformat

    expected = set()
    for nb_path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        if any(c.cell_type == "code" and "explore." in c.source for c in nb.cells):
            expected.add(f"chapters/{nb_path.stem}.html")
    if HTML.resolve() != (ROOT / "_build" / "html").resolve():
        pytest.skip("a scratch book (LTDL_HTML_DIR): its pages are not the chapters")
    assert expected <= set(PAGES), f"explorers missing from the built pages: {sorted(expected - set(PAGES))}"
