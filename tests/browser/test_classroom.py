"""Solutions in the built books, in headless Chromium (run after both builds: `pytest tests/browser`).

The full site ($LTDL_HTML_DIR, default _build/html; `bash scripts/build-book.sh`): every
solution (text, code cell and outputs) sits inside a collapsed dropdown: nothing of it is visible
before a click on its button, and all of it after. Every code cell tagged `solution` in the
chapters is inside a solution box, none stands below one.

The student site ($LTDL_STUDENT_HTML_DIR, default _build/student-site/_build/html;
`bash scripts/build-book.sh --student`): the same exercises, and no solution at all: no solution
box, no solution cell, no solution title, none of the solution code in the page source.

A missing book or browser is a failure, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from offline_chromium import offline_context  # scripts/, on sys.path by conftest.py

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("LTDL_HTML_DIR", ROOT / "_build" / "html")).resolve()
STUDENT = Path(os.environ.get("LTDL_STUDENT_HTML_DIR", ROOT / "_build" / "student-site" / "_build" / "html")).resolve()


def _chapters() -> dict[str, dict]:
    """Chapter page -> {solution code lines, number of exercises} from the notebooks."""
    out = {}
    for path in sorted((ROOT / "chapters").glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [
            line.strip()
            for c in nb.cells
            if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])
            for line in c.source.splitlines()
        ]
        shared = {
            line.strip()
            for c in nb.cells
            if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])
            for line in c.source.splitlines()
        }
        code = [ln for ln in code if len(ln) > 20 and not ln.startswith(("#", "import", "from")) and ln not in shared]
        n_ex = sum(c.source.count("{exercise}") for c in nb.cells if c.cell_type == "markdown")
        out[f"chapters/{path.stem}.html"] = {"code": code, "exercises": n_ex}
    return out


CHAPTERS = _chapters()
WITH_EXERCISES = [p for p, v in CHAPTERS.items() if v["exercises"]]


def _open(browser, path: Path):
    assert path.is_file(), f"{path} is missing: build the site first"
    page = offline_context(browser, viewport={"width": 1280, "height": 900}).new_page()
    page.goto(path.as_uri(), wait_until="load", timeout=60_000)
    page.wait_for_timeout(300)  # sphinx-togglebutton collapses the dropdowns on load
    return page


@pytest.mark.parametrize("rel", WITH_EXERCISES)
def test_full_site_hides_every_solution_until_clicked(browser, rel):
    page = _open(browser, HTML / rel)
    try:
        loose = page.evaluate(
            "() => Array.from(document.querySelectorAll('.cell.tag_solution'))"
            ".filter(c => !c.closest('.solution')).length"
        )
        assert loose == 0, f"{rel}: {loose} solution cell(s) outside a solution dropdown"
        n_cells = page.locator(".cell.tag_solution").count()
        n_code = sum(1 for _ in CHAPTERS[rel]["code"])
        assert n_cells > 0 or n_code == 0, f"{rel}: the solution cells are missing from the page"
        boxes = page.locator(".solution")
        assert boxes.count() >= 1, f"{rel}: no solution box"
        for i in range(boxes.count()):
            box = boxes.nth(i)
            body = box.locator(":scope > :not(.admonition-title)")
            visible = [body.nth(k).is_visible() for k in range(body.count())]
            assert body.count() and not any(visible), f"{rel}: solution {i + 1} is visible before a click"
            box.locator(".admonition-title button").first.click()
            page.wait_for_timeout(200)
            assert all(body.nth(k).is_visible() for k in range(body.count())), (
                f"{rel}: solution {i + 1} does not open on a click"
            )
    finally:
        page.context.close()  # the page and its offline context (_open)


@pytest.mark.parametrize("rel", WITH_EXERCISES)
def test_student_site_has_no_solution(browser, rel):
    page = _open(browser, STUDENT / rel)
    try:
        counts = page.evaluate("""() => ({
            boxes: document.querySelectorAll('.solution, .solution-start, .solution-end').length,
            cells: document.querySelectorAll('.cell.tag_solution').length,
            exercises: document.querySelectorAll('.exercise').length,
            titles: (document.body.innerText.match(/Solution to/g) || []).length})""")
        assert counts["boxes"] == 0 and counts["cells"] == 0 and counts["titles"] == 0, f"{rel}: {counts}"
        assert counts["exercises"] == CHAPTERS[rel]["exercises"], f"{rel}: exercises lost: {counts}"
        text = page.evaluate("() => document.body.textContent")  # hidden elements included
        for line in CHAPTERS[rel]["code"]:
            assert line not in text, f"{rel}: solution code in the student page: {line!r}"
    finally:
        page.context.close()  # the page and its offline context (_open)


def _secrets() -> list[str]:
    """Text that must not reach a student: solution code and prose, hidden tests (new and old form)."""
    import re

    import yaml

    out = {ln for v in CHAPTERS.values() for ln in v["code"]}
    for path in sorted((ROOT / "chapters").glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for c in nb.cells:
            tags = c.metadata.get("tags", [])
            if c.cell_type == "code" and "autograde" in tags:
                out |= {
                    ln.strip()
                    for ln in c.source.splitlines()
                    if len(ln.strip()) > 20 and not ln.strip().startswith("#")
                }
            if c.cell_type == "markdown":
                for block in re.findall(r"```\{solution\}[^\n]*\n(.*?)\n```", c.source, re.S):
                    out |= {
                        ln.strip()
                        for ln in block.splitlines()
                        if len(ln.strip()) > 40 and not ln.strip().startswith(":")
                    }
    for path in sorted((ROOT / "classroom" / "hidden").glob("*.yml")):
        for entry in (yaml.safe_load(path.read_text()).get("exercises") or {}).values():
            for t in entry.get("tests", []) if isinstance(entry, dict) else []:
                out |= {
                    ln.strip()
                    for ln in t["code"].splitlines()
                    if len(ln.strip()) > 20 and not ln.strip().startswith("#")
                }
    return sorted(out)


def test_student_site_offers_nothing_hidden_for_download():
    """Every link of every page of the student site (href and src, any file type) is fetched from
    the built site and searched for solution and hidden-test text; no page source is offered."""
    import html
    from html.parser import HTMLParser
    from urllib.parse import unquote, urldefrag, urlparse

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.links = []

        def handle_starttag(self, tag, attrs):
            self.links += [v for k, v in attrs if k in ("href", "src") and v]

    pages = sorted(STUDENT.rglob("*.html"))
    assert pages, f"{STUDENT} has no pages: build the student site first"
    fetched: dict[Path, str] = {}
    for page in pages:
        parser = Links()
        parser.feed(page.read_text(errors="replace"))
        for link in parser.links:
            url = urlparse(urldefrag(link)[0])
            if url.scheme or url.netloc or not url.path:
                continue  # off-site links are checked by the full site's tests (the build is offline)
            target = (page.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if target.is_file() and target not in fetched:
                raw = target.read_bytes().decode("utf-8", errors="replace")
                fetched[target] = raw + "\n" + html.unescape(raw)  # text as written and as shown
    offered = sorted(str(p.relative_to(STUDENT)) for p in fetched if "_sources" in p.parts or p.suffix == ".ipynb")
    assert not offered, f"the student site offers page sources for download: {offered[:5]}"
    assert not (STUDENT / "_sources").exists(), "the student site copies the page sources"
    secrets = _secrets()
    assert len(secrets) > 20  # the search has something to find
    for path, text in fetched.items():
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{path.relative_to(STUDENT)}: solution or hidden-test text: {leaked[:3]}"
