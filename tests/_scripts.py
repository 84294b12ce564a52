"""Import a script of scripts/ as a module (the scripts are programs, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module, registered in ``sys.modules`` under ``name``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"no scripts/{name}.py"
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, mod)
    spec.loader.exec_module(mod)
    return mod


def printed_glue(notebook: Path) -> dict[str, str]:
    """Glue key -> the text an executed chapter's prose shows for it (the keys without a format
    spec): the reference of the ``ltdl run`` reproduction tests."""
    fmt = load_script("student_edition")._format_glue
    return {k: fmt(v["value"], "") for k, v in load_script("claims_ledger").glue_values(notebook).items()}
