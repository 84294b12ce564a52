"""Every page of the built book, opened in headless Chromium with the network blocked: the page a
reader sees is the page that was checked.

Run after the book build:  `python -m pytest tests/browser -p no:cacheprovider`
(the HTML folder is $LTDL_HTML_DIR, default _build/html; screenshots go to <html>/../screenshots
and a summary with the counts and measurements to <html>/../reports/browser.json, one per share
when LTDL_BROWSER_SHARD splits the checks: browser-<i>of<n>.json).

Each page is opened once at 1280x900 (desktop) and once at 390x844 (phone); the tests below read
what those two visits measured.

``test_page_loads``: no request leaves the machine (every non-file:// request is aborted and
recorded); no local file fails to load; every image has loaded (naturalWidth > 0); math is typeset
(each Sphinx math node holds an mjx-container); no console error or uncaught exception.

``test_rendered_text``: the text a reader sees, outside typeset math (mjx-container) and outside
program text (pre, code, highlighted code, plain-text/stream output cells, scripts), contains no
TeX (a control word ``\\word``, ``$``, ``^{``, ``_{``, ``\\(`` ...), no MyST residue (``{glue``,
``{cite``, ``{prf``, ``{numref``, a ``{role}`` followed by a backtick, ``:::``, a fence
``\\`\\`\\`{``), and no reference to documents the reader does not have (``project notes``,
``paper-notes``). Every prf box (theorem, proof, ...) whose source has math (a math node, or
TeX-looking text) shows typeset math and no raw TeX; the message names the box. The tab title
(<title>) and the h1 (outside typeset math) are free of TeX.

``test_display_math_fits``: at 1280 px and at 390 px (a phone) no display equation is wider than its
column (MathJax would show it cut off, behind a sideways scroll; MathJax 4 breaks long equations
over lines).

``test_figures_legible`` (desktop, 1280 px): for every figure image, the displayed size of the
smallest font of the book style is

    px = min_pt(ltdl/ltdl.mplstyle) * dpi(PNG) / 72 * (displayed width / natural width)

where min_pt is the smallest of font.size, legend/tick/label/title sizes read from the style file
(relative sizes such as "small" resolved against font.size) and dpi is the resolution stored in
the PNG (pHYs; matplotlib writes it), falling back to the style's figure.dpi. It must be at least
MIN_FONT_PX = 10 px: below that, legend and tick text is hard to read on a laptop screen. Chapters
must not set fonts below the style (team rule), so the style's smallest font is the page's.
Every figure of a code cell must also carry a caption and real alt text (not empty, not a hash).

``test_figures_on_phone`` (390 px): the page does not scroll sideways, and a figure is never
wider than two panels side by side. The measurable rule: the natural aspect ratio width/height
of a figure image is at most MAX_ASPECT = 2.6. A readable panel is at most about 1.3 times as
wide as it is tall, so a row of n panels has w/h of about 1.3 n: one or two panels pass, a row
of three or four (w/h 3.5-4 for the book's 7 x 2 in strips) fails and must become a 2x2 grid or
separate figures, which the phone then shows at a usable scale.

``test_widgets``: the only ipywidgets on a page are explorers (``ltdl.explore``: a box of class
``ltdl-explorer`` whose sliders are linked in the page to its stored frames; test_explorers.py
moves them). Any other widget needs a kernel, which the static page does not have: it can be
dragged but changes nothing, which misleads the reader. Every visible slider outside the widgets
(input[type=range]) is moved to several positions and the displayed image must change.

``test_accessibility``: axe-core (tests/browser/axe, run inside the page, nothing fetched) checks
the WCAG 2 A and AA rules on every page at 1280 px: no violation of impact "serious" or
"critical".

``test_ledger_links``: every link of the claims ledger lands on an existing anchor (the file
exists and holds an element with that id), and links into the repository name files that exist.
The ledger fits the content column at 1280 px and at 390 px (no part of it sticks out).

Screenshots: full-page desktop screenshots of every page, and phone screenshots of chapters 03
and 05 and the ledger, in <html>/../screenshots (that is _build/screenshots for the default build).

A missing browser or a missing book is a failure, never a skip.
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml
from offline_chromium import offline_context  # scripts/, on sys.path by conftest.py

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("LTDL_HTML_DIR", ROOT / "_build" / "html")).resolve()
STYLE_FILE = ROOT / "ltdl" / "ltdl.mplstyle"
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}
AXE = Path(__file__).resolve().parent / "axe" / "axe.min.js"  # npm axe-core, see axe/README.md
AXE_FAIL = ("serious", "critical")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
MIN_FONT_PX = 10.0
MAX_ASPECT = 2.6
LEDGER = "chapters/claims.html"
PHONE_SHOTS = ("chapters/03-training-error.html", "chapters/05-tracking-turnpike.html", LEDGER)
REPO_URL = ((yaml.safe_load((ROOT / "_config.yml").read_text()).get("repository") or {}).get("url") or "").rstrip(
    "/"
) or "https://repository.invalid"  # links to repository files exist only once it is public


def _pages() -> list[str]:
    if not HTML.is_dir():
        return []
    out = []
    for p in sorted(HTML.rglob("*.html")):
        rel = p.relative_to(HTML)
        if rel.parts[0] in SKIP_DIRS:
            continue
        out.append(rel.as_posix())
    return out


PAGES = _pages()
REFRESH = re.compile(r'<meta[^>]+http-equiv="refresh"[^>]+content="\d+;\s*url=([^"]+)"', re.I)
CONTENT_PAGES = [p for p in PAGES if not REFRESH.search((HTML / p).read_text(errors="replace"))]
SUMMARY: dict[str, dict] = {}

# Patterns of the rendered-text check ------------------------------------------------------------
TEX = re.compile(r"\\[A-Za-z]+|\\[()\[\]{}]|\$|\^\{|_\{")
MYST = re.compile(r"\{(glue|cite|prf|numref|eq|ref|doc|term|math|download)\b|\{[a-z]+(:[a-z-]+)?\}`|:::|```\{")
NOTES = re.compile(r"project[\s-]+notes|paper[\s-]notes", re.I)


def _hits(pattern: re.Pattern, text: str) -> list[str]:
    return sorted({m.group(0) for m in pattern.finditer(text)})


def _context(pattern: re.Pattern, text: str) -> str:
    m = pattern.search(text)
    return text[max(0, m.start() - 50) : m.end() + 50].replace("\n", " ") if m else ""


# The book style ---------------------------------------------------------------------------------
def style_font_sizes() -> dict[str, float]:
    """Font sizes in points of the book style (ltdl/ltdl.mplstyle), relative sizes resolved."""
    import matplotlib as mpl
    from matplotlib import font_manager

    rc = mpl.rc_params_from_file(str(STYLE_FILE), use_default_template=True)
    base = float(rc["font.size"])
    keys = [
        "font.size",
        "legend.fontsize",
        "legend.title_fontsize",
        "xtick.labelsize",
        "ytick.labelsize",
        "axes.labelsize",
        "axes.titlesize",
        "figure.titlesize",
        "figure.labelsize",
    ]
    out = {}
    for k in keys:
        v = rc.get(k)
        if v is None:  # legend.title_fontsize None means "as the legend"
            continue
        if isinstance(v, str):
            v = v.strip()
            try:
                v = float(v)
            except ValueError:
                v = base * font_manager.font_scalings[v]
        out[k] = float(v)
    return out


def style_dpi() -> float:
    import matplotlib as mpl

    return float(mpl.rc_params_from_file(str(STYLE_FILE), use_default_template=True)["figure.dpi"])


def png_dpi(data: bytes) -> float | None:
    """The resolution stored in a PNG's pHYs chunk (pixels per inch), or None."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    i = 8
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[i : i + 8])
        if kind == b"pHYs":
            ppx, ppy, unit = struct.unpack(">IIB", data[i + 8 : i + 17])
            return ppx * 0.0254 if unit == 1 else None
        if kind == b"IDAT":
            return None
        i += 12 + length
    return None


def image_bytes(src: str) -> bytes:
    if src.startswith("data:"):
        head, _, payload = src.partition(",")
        return base64.b64decode(payload) if ";base64" in head else b""
    if src.startswith("file:"):
        p = Path(unquote(urlparse(src).path))
        return p.read_bytes() if p.is_file() else b""
    return b""


# Scripts run inside the page --------------------------------------------------------------------
WAIT_MATHJAX = """async () => {
  const M = window.MathJax;
  if (M && M.startup && M.startup.promise) { await M.startup.promise; }
  if (M && M.typesetPromise) { await M.typesetPromise(); }
  return !!M;
}"""

LOAD_IMAGES = """async () => {
  const imgs = Array.from(document.images);
  for (const img of imgs) { img.loading = 'eager'; }
  await Promise.all(imgs.map(img => img.complete ? null :
      new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  return imgs.map(img => ({src: (img.currentSrc || img.src || '').slice(0, 300), w: img.naturalWidth}));
}"""

# Program text and typeset math are not prose: they are left out of the text check.
COLLECT = r"""() => {
  const EXCL = 'script, style, noscript, template, pre, code, kbd, samp, textarea, svg, .highlight, '
    + 'mjx-container, mjx-assistive-mml, .headerlink, .output.text_plain, .output.stream, .output.stderr, '
    + '.output.traceback, .cell_input';
  const where = (el) => {  // the prf box, else the section (sphinx-proof repeats id="proof-content")
    const s = el.closest('div.proof[id]') || el.closest('section[id]:not(#proof-content)') || el.closest('[id]');
    return s ? '#' + s.id : '(page)';
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walker.nextNode())) {
    const p = n.parentElement;
    if (!p || p.closest(EXCL) || !n.nodeValue.trim()) continue;
    texts.push({t: n.nodeValue, at: where(p)});
  }
  const textOf = (root) => {
    const out = [];
    const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    let m;
    while ((m = w.nextNode())) { if (m.parentElement && !m.parentElement.closest(EXCL)) out.push(m.nodeValue); }
    return out.join('');
  };
  const nodes = Array.from(document.querySelectorAll('span.math, div.math'));
  const untypeset = nodes.filter(x => !x.querySelector('mjx-container')).map(x => x.textContent.slice(0, 80));
  const prf = Array.from(document.querySelectorAll('div.proof')).map(b => {
    const title = b.querySelector('.admonition-title');
    return {id: b.id || where(b), title: title ? title.textContent.trim().slice(0, 120) : '',
            math_nodes: b.querySelectorAll('span.math, div.math').length,
            mjx: b.querySelectorAll('mjx-container').length, text: textOf(b)};
  });
  const wide = (WIDE_JS)();
  const h1 = document.querySelector('article h1, main h1, h1');
  return {texts, untypeset, nodes: nodes.length, containers: document.querySelectorAll('mjx-container').length,
          prf, wide, title: document.title, h1: h1 ? textOf(h1) : null};
}"""

# display math wider than its box: MathJax lets it scroll sideways, the reader sees it cut off
WIDE = r"""() => {
  const where = (el) => {
    const s = el.closest('div.proof[id]') || el.closest('section[id]:not(#proof-content)') || el.closest('[id]');
    return s ? '#' + s.id : '(page)';
  };
  return Array.from(document.querySelectorAll('mjx-container[display="true"]'))
      .filter(c => c.getBoundingClientRect().width > 0 && c.scrollWidth > c.clientWidth + 2)
      .map(c => ({at: where(c), need: c.scrollWidth, have: c.clientWidth}));
}"""
COLLECT = COLLECT.replace("WIDE_JS", WIDE)

AXE_RUN = r"""async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']},
                                     resultTypes: ['violations'], preload: false});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, n: v.nodes.length,
                                 where: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""

FIGURES = r"""() => {
  const art = document.querySelector('article') || document.querySelector('main') || document.body;
  return Array.from(art.querySelectorAll('img')).filter(i => i.naturalWidth > 0).map(i => {
    const r = i.getBoundingClientRect();
    const fig = i.closest('figure');
    const cap = fig ? fig.querySelector('figcaption') : null;
    return {src: i.currentSrc || i.src, natural_w: i.naturalWidth, natural_h: i.naturalHeight,
            shown_w: r.width, shown_h: r.height, visible: r.width > 0 && r.height > 0,
            alt: i.getAttribute('alt') || '', caption: cap ? cap.textContent.trim().slice(0, 200) : '',
            in_output: !!i.closest('.cell_output, .output'),
            anim: !!i.closest('.animation'), at: (i.closest('[id]') || {}).id || ''};
  });
}"""

WIDGETS = r"""() => {
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
  const controls = Array.from(document.querySelectorAll('.jupyter-widgets, .widget-slider, .widget-hslider, '
      + '.widget-vslider, .widget-dropdown, .widget-toggle-buttons, .widget-play'))
      .filter(e => e.getBoundingClientRect().height > 0)
      .filter(e => !e.parentElement.closest('.jupyter-widgets'))
      .filter(e => !e.classList.contains('ltdl-explorer'))
      .map(e => ((e.closest('section[id]') || {}).id || '') + ': '
                + (e.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 60));
  const ranges = Array.from(document.querySelectorAll('input[type=range]'))
      .filter(e => e.getBoundingClientRect().width > 0 && !e.closest('.jupyter-widgets'));
  const explorers = document.querySelectorAll('.ltdl-explorer').length;
  return {views, controls, explorers, n_ranges: ranges.length};
}"""

# Move slider k through several positions; return the displayed image(s) next to it at each one.
MOVE = r"""async (k) => {
  const ranges = Array.from(document.querySelectorAll('input[type=range]'))
      .filter(e => e.getBoundingClientRect().width > 0 && !e.closest('.jupyter-widgets'));
  const s = ranges[k];
  let box = s.parentElement;
  while (box && !box.querySelector('img, canvas')) { box = box.parentElement; }
  const shown = () => box ? Array.from(box.querySelectorAll('img, canvas')).map(
      e => e.tagName === 'IMG' ? (e.currentSrc || e.src) : e.toDataURL()).join('|') : '';
  const lo = Number(s.min || 0), hi = Number(s.max || 100);
  const out = [];
  for (const v of [lo, hi, Math.round((lo + hi) / 2), lo]) {
    s.value = String(v);
    s.dispatchEvent(new Event('input', {bubbles: true}));
    s.dispatchEvent(new Event('change', {bubbles: true}));
    await new Promise(r => setTimeout(r, 100));
    out.push(shown());
  }
  return {id: s.id || ((s.closest('[id]') || {}).id || ''), min: lo, max: hi, has_image: !!box,
          distinct: new Set(out).size, hashes: out.map(x => x.length + ':' + x.slice(-40))};
}"""

OVERFLOW = r"""(sel) => {
  const art = document.querySelector('article.bd-article') || document.querySelector('article') || document.body;
  const a = art.getBoundingClientRect();
  const out = [];
  for (const root of document.querySelectorAll(sel)) {
    for (const e of [root, ...root.querySelectorAll('*')]) {
      const r = e.getBoundingClientRect();
      if (r.width > 0 && (r.right > a.right + 2 || r.left < a.left - 2)) {
        out.push(e.tagName.toLowerCase() + '.' + (e.className || '') + ' spans ' + Math.round(r.left) + '..'
                 + Math.round(r.right) + ' px, the column ' + Math.round(a.left) + '..' + Math.round(a.right));
      }
    }
  }
  return {found: document.querySelectorAll(sel).length, out: out.slice(0, 5)};
}"""

LINKS = r"""() => {
  const art = document.querySelector('article') || document.body;
  return Array.from(art.querySelectorAll('a[href]')).map(a => ({href: a.href, raw: a.getAttribute('href'),
      text: a.textContent.trim().slice(0, 60)}));
}"""


# Fixtures ---------------------------------------------------------------------------------------
def test_book_is_built():
    assert HTML.is_dir(), f"no built book at {HTML}: run the book build first (or set LTDL_HTML_DIR)"
    assert (HTML / "index.html").is_file(), f"{HTML}/index.html is missing"
    assert PAGES, f"no HTML pages under {HTML}"


def test_browser_is_installed(browser):
    # The fixture (conftest.py) fails with the install command when Chromium is missing.
    assert browser.version


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    _write_summary()  # after every visit of this module: totals for _build/reports/browser.json


def _write_summary() -> None:
    if not SUMMARY:
        return
    reports = HTML.parent / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    keys = ("images", "math_nodes", "mjx_containers", "widget_views", "sliders", "blocked_requests")
    totals = {k: sum(s.get(k, 0) for s in SUMMARY.values()) for k in keys}
    totals["pages"] = len(SUMMARY)
    share = os.environ.get("LTDL_BROWSER_SHARD", "")  # one summary per share (conftest.py checks the form)
    name = f"browser-{share.replace('/', 'of')}.json" if share else "browser.json"
    (reports / name).write_text(json.dumps({"totals": totals, "pages": SUMMARY}, indent=2) + "\n")
    print(f"\n[browser] {totals}")


_VISITS: dict[tuple[str, str], dict] = {}


def _shot_name(rel: str, suffix: str = "") -> str:
    return rel[:-5].replace("/", "__") + suffix + ".png"


def visit(browser, rel: str, device: str = "desktop") -> dict:
    """Open one page once per device and measure everything the tests need (cached)."""
    key = (rel, device)
    if key in _VISITS:
        return _VISITS[key]
    blocked: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    viewport = DESKTOP if device == "desktop" else PHONE
    ctx = offline_context(browser, blocked, viewport=viewport, is_mobile=device == "phone", has_touch=device == "phone")
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("websocket", lambda ws: blocked.append(ws.url))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})") if r.url.startswith("file:") else None)
    out: dict = {"blocked": blocked, "failed": failed, "errors": errors}
    try:
        page.goto((HTML / rel).as_uri(), wait_until="load", timeout=60_000)
        out["has_mathjax"] = page.evaluate(WAIT_MATHJAX)
        out["images"] = page.evaluate(LOAD_IMAGES)
        page.wait_for_timeout(300)  # let a widget manager (if any) finish its views
        out["figures"] = page.evaluate(FIGURES)
        out["scroll_w"] = page.evaluate("() => document.documentElement.scrollWidth")
        shots = HTML.parent / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        if device == "desktop":
            out.update(page.evaluate(COLLECT))
            out["widgets"] = page.evaluate(WIDGETS)
            out["ledger_fit"] = page.evaluate(OVERFLOW, ".claims-ledger")
            out["links"] = page.evaluate(LINKS) if rel == LEDGER else []
            page.screenshot(path=str(shots / _shot_name(rel)), full_page=True)
            page.add_script_tag(path=str(AXE))
            out["axe"] = page.evaluate(AXE_RUN)
            out["moves"] = [page.evaluate(MOVE, k) for k in range(out["widgets"]["n_ranges"])]
        else:
            out["wide"] = page.evaluate(WIDE)
            out["ledger_fit"] = page.evaluate(OVERFLOW, ".claims-ledger")
            if rel in PHONE_SHOTS:
                page.screenshot(path=str(shots / _shot_name(rel, "-phone")), full_page=True)
    finally:
        ctx.close()
    _VISITS[key] = out
    s = SUMMARY.setdefault(rel, {})
    if device == "desktop":
        s.update(
            images=len(out["images"]),
            math_nodes=out["nodes"],
            mjx_containers=out["containers"],
            widget_views=out["widgets"]["views"],
            sliders=out["widgets"]["n_ranges"],
            blocked_requests=len(blocked),
        )
    return out


# Tests ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rel", PAGES)
def test_page_loads(browser, rel):
    redirect = REFRESH.search((HTML / rel).read_text(errors="replace"))
    if redirect:  # the root index.html only forwards to the first page: check its target exists
        target = (HTML / rel).parent / redirect.group(1).split("#")[0]
        assert target.is_file(), f"{rel} redirects to a missing page {redirect.group(1)}"
        return
    v = visit(browser, rel)
    problems = [f"request left the machine (blocked): {u}" for u in v["blocked"]]
    problems += [f"local file failed to load: {f}" for f in v["failed"]]
    problems += v["errors"]
    problems += [f"image not loaded: {i['src'][:120]}" for i in v["images"] if not i["w"] > 0]
    if v["nodes"] and not v["has_mathjax"]:
        problems.append(f"{v['nodes']} math nodes but no MathJax on the page")
    problems += [f"math not typeset: {t!r}" for t in v["untypeset"]]
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_rendered_text(browser, rel):
    v = visit(browser, rel)
    problems = []
    for what, pat in (
        ("raw TeX", TEX),
        ("MyST residue", MYST),
        ("a reference to notes the reader does not have", NOTES),
    ):
        found: dict[str, list[str]] = {}
        for t in v["texts"]:
            for h in _hits(pat, t["t"]):
                found.setdefault(t["at"], []).append(f"{h!r} in {_context(pat, t['t'])!r}")
        for at, items in found.items():
            problems.append(
                f"{what} in the text at {at}: "
                + "; ".join(items[:3])
                + (f" (+{len(items) - 3} more)" if len(items) > 3 else "")
            )
    for b in v["prf"]:
        raw = _hits(TEX, b["text"])
        has_math = b["math_nodes"] or raw
        if has_math and not b["mjx"]:
            problems.append(f"prf box #{b['id']} ({b['title']!r}) has math in its source but no typeset math")
        if raw:
            problems.append(f"prf box #{b['id']} ({b['title']!r}) shows raw TeX {raw}: {_context(TEX, b['text'])!r}")
    for name, text in (("tab title", v["title"]), ("h1", v["h1"] or "")):
        if _hits(TEX, text) or _hits(MYST, text):
            problems.append(f"{name} has TeX/MyST: {text!r}")
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_display_math_fits(browser, rel, device):
    v = visit(browser, rel, device)
    width = (DESKTOP if device == "desktop" else PHONE)["width"]
    problems = [
        f"display math at {w['at']} is {w['need']} px wide in a {w['have']} px column at "
        f"{width} px: the reader sees it cut off (it scrolls sideways); break it over lines "
        f"(aligned/split) or shorten it"
        for w in v["wide"]
    ]
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


def _min_font() -> tuple[str, float]:
    sizes = style_font_sizes()
    k = min(sizes, key=sizes.get)
    return k, sizes[k]


def test_style_font_sizes_are_readable():
    """The style itself: at 1:1 (the largest scale the page shows it) the smallest font is >= 10 px."""
    k, pt = _min_font()
    px = pt * style_dpi() / 72
    assert px >= MIN_FONT_PX, f"{STYLE_FILE.name}: {k} = {pt} pt is {px:.1f} px at {style_dpi():g} dpi"


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_figures_legible(browser, rel):
    v = visit(browser, rel)
    key, pt = _min_font()
    problems, measured = [], []
    for f in v["figures"]:
        if not f["visible"] or not (f["in_output"] or f["anim"]):
            continue
        dpi = png_dpi(image_bytes(f["src"])) or style_dpi()
        scale = f["shown_w"] / f["natural_w"]
        px = pt * dpi / 72 * scale
        name = f["at"] or Path(urlparse(f["src"][:200]).path).name[:16]
        measured.append(
            {
                "figure": name,
                "natural_w": f["natural_w"],
                "shown_w": round(f["shown_w"], 1),
                "dpi": round(dpi, 1),
                "smallest_font_px": round(px, 2),
            }
        )
        if px < MIN_FONT_PX:
            problems.append(
                f"figure {name}: shown at {f['shown_w']:.0f} of {f['natural_w']} px "
                f"(x{scale:.2f}) at {dpi:.0f} dpi, so the style's {key} = {pt:g} pt shows at "
                f"{px:.1f} px < {MIN_FONT_PX:g} px; draw it narrower (<= 7 in with the book style)"
            )
        if not f["anim"]:
            alt = f["alt"].strip()
            if not alt or re.fullmatch(r"[0-9a-f]{16,}(\.png)?", alt) or alt.lower() in ("png", "image", "figure"):
                problems.append(f"figure {name}: no real alt text (alt={alt[:40]!r})")
            if not f["caption"]:
                problems.append(f"figure {name}: no caption")
    SUMMARY.setdefault(rel, {})["figures"] = measured
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_figures_on_phone(browser, rel):
    v = visit(browser, rel, "phone")
    problems = []
    if v["scroll_w"] > PHONE["width"] + 1:
        problems.append(f"the page scrolls sideways on a {PHONE['width']} px phone (width {v['scroll_w']} px)")
    for f in v["figures"]:
        if not f["visible"] or not (f["in_output"] or f["anim"]):
            continue
        aspect = f["natural_w"] / max(f["natural_h"], 1)
        name = f["at"] or Path(urlparse(f["src"][:200]).path).name[:16]
        if aspect > MAX_ASPECT:
            problems.append(
                f"figure {name}: {f['natural_w']}x{f['natural_h']} px, aspect {aspect:.2f} > "
                f"{MAX_ASPECT} (more than two panels side by side); on the phone it shows "
                f"{f['shown_w']:.0f} px wide: use a 2x2 grid or separate figures"
            )
        if f["shown_w"] > PHONE["width"] + 1:
            problems.append(f"figure {name} is {f['shown_w']:.0f} px wide on a {PHONE['width']} px screen")
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_widgets(browser, rel):
    v = visit(browser, rel)
    w = v["widgets"]
    problems = []
    if w["controls"] or w["views"] > w["explorers"]:
        problems.append(
            f"{w['views']} ipywidgets view(s) on the page, {w['explorers']} of them explorers "
            f"({'; '.join(w['controls'][:3])}): without a kernel a widget can be moved but changes nothing; "
            "use an explorer (ltdl.explore), whose sliders show frames stored in the page"
        )
    for m in v["moves"]:
        if not m["has_image"]:
            problems.append(f"slider {m['id']} has no image next to it")
        elif m["distinct"] < 2:
            problems.append(f"moving slider {m['id']} from {m['min']} to {m['max']} leaves the image unchanged")
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_accessibility(browser, rel):
    v = visit(browser, rel)
    bad = [a for a in v["axe"] if a["impact"] in AXE_FAIL]
    SUMMARY.setdefault(rel, {})["axe"] = [{k: a[k] for k in ("id", "impact", "n")} for a in v["axe"]]
    assert not bad, f"{rel}: axe-core WCAG 2 A/AA violations:\n  " + "\n  ".join(
        f"{a['impact']} {a['id']} ({a['n']} elements, e.g. {a['where']}): {a['help']}" for a in bad
    )


def _anchor_exists(path: Path, frag: str) -> bool:
    text = path.read_text(errors="replace")
    return re.search(r'\bid="' + re.escape(frag) + '"', text) is not None


def test_ledger_links(browser):
    assert (HTML / LEDGER).is_file(), f"no claims ledger at {HTML / LEDGER}"
    v = visit(browser, LEDGER)
    problems = []
    assert v["links"], "the claims ledger has no links"
    for a in v["links"]:
        u = urlparse(a["href"])
        if u.scheme == "file":
            target = Path(unquote(u.path))
            if not target.is_file():
                problems.append(f"link {a['raw']!r} ({a['text']!r}): no file {target}")
            elif u.fragment and not _anchor_exists(target, unquote(u.fragment)):
                problems.append(f"link {a['raw']!r} ({a['text']!r}): {target.name} has no id {u.fragment!r}")
        elif a["href"].startswith(REPO_URL + "/blob/"):
            rest = a["href"][len(REPO_URL + "/blob/") :].split("#")[0]
            path = rest.split("/", 1)[1] if "/" in rest else ""
            if not (ROOT / path).is_file():
                problems.append(f"link {a['raw']!r}: no file {path} in the repository")
        else:
            problems.append(f"link {a['raw']!r} ({a['text']!r}) leaves the book")
    for device in ("desktop", "phone"):
        fit = visit(browser, LEDGER, device)["ledger_fit"]
        if not fit["found"]:
            problems.append("no element with class claims-ledger on the ledger page")
        problems += [f"{device}: ledger sticks out of the content column: {o}" for o in fit["out"]]
    assert not problems, f"{LEDGER}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("rel", PHONE_SHOTS)
def test_screenshots_written(browser, rel):
    visit(browser, rel)
    visit(browser, rel, "phone")
    shots = HTML.parent / "screenshots"
    for name in (_shot_name(rel), _shot_name(rel, "-phone")):
        assert (shots / name).is_file() and (shots / name).stat().st_size > 10_000, f"screenshot {name} missing"


# The checks themselves can fail: a synthetic page with each defect ---------------------------
_PNG_A = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0g"
    "AAAABJRU5ErkJggg=="
)
_PNG_B = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
    "AAAABJRU5ErkJggg=="
)
DEFECTS = f"""<!DOCTYPE html><html><head><title>Training error \\(O(1/T)\\)</title></head><body><article>
<h1>Title</h1>
<div class="proof theorem admonition" id="thm-bad"><p class="admonition-title">Theorem 1</p>
<section id="proof-content"><p>for all t,
$|\\mathbf x_T(t)-\\bar x| \\le C e^{{-\\mu t}}$ (three arcs)</p></section></div>
<p>See {{numref}}`ch-05` and the project notes.</p>
<pre>print("$x^2$ in code is fine")</pre>
<div class="cell"><div class="cell_output">
<div class="jupyter-widgets widget-slider" style="height:20px">T index</div></div></div>
<div class="animation"><img id="live" src="{_PNG_A}" width="50">
<input type="range" id="live-slider" min="0" max="1" value="0"
 oninput="document.getElementById('live').src = this.value == '1' ? '{_PNG_B}' : '{_PNG_A}'"></div>
<div class="animation"><img id="dead" src="{_PNG_A}" width="50">
<input type="range" id="dead-slider" min="0" max="1" value="0"></div>
</article></body></html>"""


def test_checks_catch_defects(browser, tmp_path):
    page_file = tmp_path / "defects.html"
    page_file.write_text(DEFECTS)
    ctx = browser.new_context(viewport=DESKTOP)
    try:
        page = ctx.new_page()
        page.goto(page_file.as_uri())
        got = page.evaluate(COLLECT)
        widgets = page.evaluate(WIDGETS)
        moves = [page.evaluate(MOVE, k) for k in range(widgets["n_ranges"])]
    finally:
        ctx.close()
    text = " ".join(t["t"] for t in got["texts"])
    assert {"$", "\\mathbf", "\\le", "^{"} <= set(_hits(TEX, text)), text
    assert _hits(MYST, text) == ["{numref"] and _hits(NOTES, text) == ["project notes"]
    assert "x^2" not in text  # program text is left out
    (box,) = got["prf"]
    assert box["id"] == "thm-bad" and not box["mjx"] and "\\mathbf" in _hits(TEX, box["text"])
    assert _hits(TEX, got["title"])
    assert widgets["controls"], "the ipywidgets slider was not seen"
    by_id = {m["id"]: m for m in moves}
    assert by_id["live-slider"]["distinct"] >= 2 and by_id["dead-slider"]["distinct"] == 1, moves
