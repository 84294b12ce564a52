"""Headless Chromium that cannot reach the network: one definition for the PDF and the browser checks.

    from offline_chromium import launch, offline_context
    browser = launch(pw)                     # pw: playwright.sync_api.sync_playwright() started
    ctx = offline_context(browser, blocked, viewport={"width": 1280, "height": 900})

Debian's Chromium (``$LTDL_CHROMIUM``, default ``/usr/bin/chromium``; ``scripts/install_browser.sh``
installs it). In a context from :func:`offline_context` every request whose URL does not start with
a local scheme (``file:``, ``data:``, ``blob:``, ``about:``) is aborted and its URL appended to
``blocked``: the book is checked and printed exactly as it works without a network.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = os.environ.get("LTDL_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def launch(pw):
    """Start headless Chromium with the flags above; a missing browser names the install command."""
    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(f"no Chromium at {CHROMIUM}: run `bash scripts/install_browser.sh`")
    return pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)


def offline_context(browser, blocked: list[str] | None = None, **options):
    """A new browser context (``options``: those of ``browser.new_context``) with the network cut off.

    Service workers are blocked (they could serve requests the route below never sees).
    """
    ctx = browser.new_context(service_workers="block", **options)

    def route(r):
        if r.request.url.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            if blocked is not None:
                blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    return ctx
