"""The browser checks need a built book: they run as their own step after the build
(`pytest tests/browser`), and are left out of a plain `pytest tests` run unless
LTDL_BROWSER_TESTS=1 is set. Inside that step nothing is skipped: a missing book or a missing
browser fails."""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


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
