"""The browser checks need a built book: they run as their own step after the build
(`pytest tests/browser`), and are left out of a plain `pytest tests` run unless
LTDL_BROWSER_TESTS=1 is set. Inside that step nothing is skipped: a missing book or a missing
browser fails.

LTDL_BROWSER_SHARD=i/n keeps the i-th of n shares of the tests (i = 0 … n-1) and deselects the
rest, so that n processes check the book together (the test command runs two: Chromium on one page
keeps about one core busy). The tests of one page (its ``rel`` parameter) stay together, because
test_html.py opens each page once for all of them; a module's tests without a page stay together
too (test_pdf.py reads the PDF once). These groups are dealt out in turn, in collection order."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# Chromium and the offline route are shared with the PDF (scripts/offline_chromium.py); the test
# modules of this folder import it too, once this line has run.
sys.path.insert(0, str(HERE.parents[1] / "scripts"))
from offline_chromium import launch  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for one test module (every module of this folder uses the same one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
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


def shard() -> tuple[int, int] | None:
    """(i, n) from LTDL_BROWSER_SHARD=i/n, None when unset; anything else is an error."""
    raw = os.environ.get("LTDL_BROWSER_SHARD", "")
    if not raw:
        return None
    i, sep, n = raw.partition("/")
    if not (sep and i.isdigit() and n.isdigit() and 0 <= int(i) < int(n)):
        raise pytest.UsageError(f"LTDL_BROWSER_SHARD must be i/n with 0 <= i < n, got {raw!r}")
    return int(i), int(n)


def pytest_collection_modifyitems(config, items):
    which = shard()
    if which is None:
        return
    i, n = which
    groups: dict[tuple, int] = {}
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        key = (item.path.name, params["rel"]) if "rel" in params else (item.path.name,)
        k = groups.setdefault(key, len(groups))
        (keep if k % n == i else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
