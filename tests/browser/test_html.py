"""Every page of the built book, opened in headless Chromium with the network blocked.

Run after the book build:  `python -m pytest tests/browser -p no:cacheprovider`
(the HTML folder is $LTDL_HTML_DIR, default _build/html; screenshots go to
<html>/../screenshots and a summary with the counts to <html>/../reports/browser.json).

Per page: no request leaves the machine (every non-file:// request is aborted and recorded); no
local file fails to load; math is typeset (each Sphinx math node holds an mjx-container, and no
raw `$$`, `\\(` or `\\[` is left in the visible text); every image has loaded (naturalWidth > 0);
every stored widget view renders and has a static figure in its cell or the next one; no console
error or uncaught exception. A missing browser or a missing book is a failure, never a skip.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("LTDL_HTML_DIR", ROOT / "_build" / "html")).resolve()
CHROMIUM = os.environ.get("LTDL_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}


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
SUMMARY: dict[str, dict] = {}


def test_book_is_built():
    assert HTML.is_dir(), f"no built book at {HTML}: run the book build first (or set LTDL_HTML_DIR)"
    assert (HTML / "index.html").is_file(), f"{HTML}/index.html is missing"
    assert PAGES, f"no HTML pages under {HTML}"


def test_browser_is_installed():
    assert Path(CHROMIUM).is_file() or shutil.which(CHROMIUM), (
        f"no Chromium at {CHROMIUM}: run `bash scripts/install_browser.sh` (Debian package `chromium`)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"no Chromium at {CHROMIUM}: run `bash scripts/install_browser.sh`"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()
    _write_summary()


def _write_summary() -> None:
    if not SUMMARY:
        return
    reports = HTML.parent / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    totals = {k: sum(s[k] for s in SUMMARY.values()) for k in
              ("images", "math_nodes", "mjx_containers", "widgets", "blocked_requests")}
    totals["pages"] = len(SUMMARY)
    (reports / "browser.json").write_text(json.dumps({"totals": totals, "pages": SUMMARY}, indent=2) + "\n")
    print(f"\n[browser] {totals}")


# Scripts run inside the page -------------------------------------------------------------------
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
  return imgs.map(img => ({src: img.currentSrc || img.src, w: img.naturalWidth, alt: img.alt}));
}"""

MATH = """() => {
  const nodes = Array.from(document.querySelectorAll('span.math, div.math'));
  const bad = nodes.filter(n => !n.querySelector('mjx-container')).map(n => n.textContent.slice(0, 80));
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('script, style, pre, code, textarea, mjx-container, .highlight').forEach(e => e.remove());
  return {nodes: nodes.length, containers: document.querySelectorAll('mjx-container').length, untypeset: bad,
          text: clone.innerText};
}"""

WIDGETS = """() => {
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  return views.map(s => {
    const cell = s.closest('.cell') || s.parentElement;
    const area = s.parentElement;
    const rendered = Array.from(area.querySelectorAll('.jupyter-widgets, .widget-container, .lm-Widget'))
        .filter(e => e.getBoundingClientRect().height > 0).length;
    let figs = Array.from(cell.querySelectorAll('img')).filter(i => i.naturalWidth > 0).length;
    let next = cell.nextElementSibling;
    while (next && figs === 0 && !next.matches('.cell, section, h1, h2, h3')) { next = next.nextElementSibling; }
    if (figs === 0 && next) { figs = Array.from(next.querySelectorAll('img')).filter(i => i.naturalWidth > 0).length; }
    let prev = cell.previousElementSibling;
    if (figs === 0 && prev) { figs = Array.from(prev.querySelectorAll('img')).filter(i => i.naturalWidth > 0).length; }
    return {rendered, figs};
  });
}"""

RAW_MATH = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{")


REFRESH = re.compile(r'<meta[^>]+http-equiv="refresh"[^>]+content="\d+;\s*url=([^"]+)"', re.I)


@pytest.mark.parametrize("rel", PAGES)
def test_page(browser, rel):
    url = (HTML / rel).as_uri()
    redirect = REFRESH.search((HTML / rel).read_text(errors="replace"))
    if redirect:  # the root index.html only forwards to the first page: check its target exists
        target = (HTML / rel).parent / redirect.group(1).split("#")[0]
        assert target.is_file(), f"{rel} redirects to a missing page {redirect.group(1)}"
        return
    blocked: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")

    def route(r):
        u = r.request.url
        if u.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            blocked.append(u)
            r.abort()

    ctx.route("**/*", route)
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("websocket", lambda ws: blocked.append(ws.url))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})")
            if r.url.startswith("file:") else None)
    try:
        page.goto(url, wait_until="load", timeout=60_000)
        has_mathjax = page.evaluate(WAIT_MATHJAX)
        images = page.evaluate(LOAD_IMAGES)
        math = page.evaluate(MATH)
        page.wait_for_timeout(300)  # let the widget manager finish its views
        widgets = page.evaluate(WIDGETS)
        shots = HTML.parent / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / (rel[:-5].replace("/", "__") + ".png")), full_page=True)
    finally:
        ctx.close()

    SUMMARY[rel] = {"images": len(images), "math_nodes": math["nodes"], "mjx_containers": math["containers"],
                    "widgets": len(widgets), "blocked_requests": len(blocked)}
    problems = []
    problems += [f"request left the machine (blocked): {u}" for u in blocked]
    problems += [f"local file failed to load: {f}" for f in failed]
    problems += errors
    problems += [f"image not loaded: {i['src']}" for i in images if not i["w"] > 0]
    if math["nodes"] and not has_mathjax:
        problems.append(f"{math['nodes']} math nodes but no MathJax on the page")
    problems += [f"math not typeset: {t!r}" for t in math["untypeset"]]
    raw = sorted({m.group(0) for m in RAW_MATH.finditer(math["text"])})
    if raw:
        i = RAW_MATH.search(math["text"]).start()
        problems.append(f"raw TeX delimiters {raw} left in the text, e.g. {math['text'][max(0, i - 40):i + 40]!r}")
    for k, w in enumerate(widgets):
        if not w["rendered"]:
            problems.append(f"widget view {k} did not render")
        if not w["figs"]:
            problems.append(f"widget view {k} has no static figure in its cell or next to it")
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)
