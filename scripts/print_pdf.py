#!/usr/bin/env python
"""Print the single-page HTML of the book to one PDF with Chromium, once its math and widgets are drawn.

    python scripts/print_pdf.py _build/pdf-build/_build/singlehtml/index.html _build/pdf/book.pdf

Jupyter Book 1's own ``pdfhtml`` step prints the page as soon as the network is idle, before
MathJax has typeset it (the PDF then shows raw TeX) and before the widget manager has drawn the
explorers. Here the page is opened in headless Chromium with every request to another host
refused, and printed only after MathJax's startup and typesetting have finished and every
explorer shows its first frame with its image loaded. Exits non-zero (naming what is missing)
when that does not happen within the time limit.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from offline_chromium import launch, offline_context  # noqa: E402  (a sibling script)

READY = r"""async () => {
  const M = window.MathJax;
  if (!M || !M.startup || !M.startup.promise) { return 'MathJax did not load'; }
  await M.startup.promise;
  await M.typesetPromise();
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
  const explorers = Array.from(document.querySelectorAll('.ltdl-explorer'));
  if (explorers.length < views) { return `${explorers.length} of ${views} widgets drawn`; }
  for (const e of explorers) {
    const img = Array.from(e.querySelectorAll('figure.ltdl-explorer-frame img'))
        .find(i => i.getBoundingClientRect().height > 0);
    if (!img || !img.complete || !img.naturalWidth) { return 'an explorer shows no frame yet'; }
  }
  const raw = document.querySelectorAll('span.math:not(:has(mjx-container)), div.math:not(:has(mjx-container))');
  if (raw.length) { return `${raw.length} math nodes not typeset`; }
  return '';
}"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("html", type=Path)
    p.add_argument("pdf", type=Path)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for math and widgets")
    args = p.parse_args(argv)
    if not args.html.is_file():
        raise SystemExit(f"html: no file {args.html}")
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', args.html.read_text(errors="replace"), re.I)
    if redirect:  # Jupyter Book's index.html only forwards to the root page
        target = args.html.parent / redirect.group(1)
        # The single page links its assets relative to the output's root folder, wherever the root
        # document lives (chapters/00-preface.html): print a copy placed in that root folder.
        args.html = args.html.parent / "_single_page.html"
        shutil.copyfile(target, args.html)
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    with sync_playwright() as pw:
        browser = launch(pw)
        ctx = offline_context(browser, blocked, viewport={"width": 1000, "height": 1400})
        page = ctx.new_page()
        page.goto(args.html.resolve().as_uri(), wait_until="load", timeout=int(args.timeout * 1000))
        page.add_style_tag(
            content=".cell_input, .cell_output, figure, .ltdl-explorer { break-inside: avoid; }"
            " .ltdl-pdf-link { display: none; }"
        )
        waited, problem = 0.0, "not checked"
        while waited < args.timeout:
            problem = page.evaluate(READY)
            if not problem:
                break
            page.wait_for_timeout(500)
            waited += 0.5
        if problem:
            browser.close()
            raise SystemExit(f"{args.html}: not ready to print after {args.timeout:g} s: {problem}")
        args.pdf.parent.mkdir(parents=True, exist_ok=True)
        page.emulate_media(media="print")
        page.pdf(
            path=str(args.pdf),
            format="A4",
            margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
            print_background=True,
        )
        browser.close()
    if blocked:
        raise SystemExit(f"requests to other hosts were refused: {sorted(set(blocked))[:5]}")
    print(f"{args.pdf} ({args.pdf.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
