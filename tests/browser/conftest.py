"""The browser checks need a built book: they run as their own step after the build
(`pytest tests/browser`), and are left out of a plain `pytest tests` run unless
LTDL_BROWSER_TESTS=1 is set. Inside that step nothing is skipped: a missing book or a missing
browser fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("LTDL_CHROMIUM", "/usr/bin/chromium")  # Debian's, see scripts/install_browser.sh
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


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for one test module (every module of this folder uses the same one)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"no Chromium at {CHROMIUM}: run `bash scripts/install_browser.sh`"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _explicit(config) -> bool:
    for arg in config.args:
        p = Path(arg.split("::")[0]).resolve()
        if p == HERE or HERE in p.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".py" and collection_path.parent == HERE and collection_path.name.startswith("test_"):
        if os.environ.get("LTDL_BROWSER_TESTS") == "1" or _explicit(config):
            return None
        return True
    return None
