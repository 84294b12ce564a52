"""Stored chapter outputs are tied to the code that produced them (no execution here: fast).

Each chapter's closing ``ltdl.provenance()`` output records a content hash of ``ltdl/`` and of
the chapter's executed code cells. ``test_stored_outputs_come_from_the_current_code`` fails when
the library or a chapter's code changed after its outputs were stored, naming the chapters that
``scripts/refresh_chapters.py`` re-executes.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import types
from pathlib import Path

import pytest

prov = importlib.import_module("ltdl.provenance")  # the module (``ltdl.provenance`` is the function)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.ipynb"))


def test_stored_outputs_come_from_the_current_code():
    assert CHAPTERS, "no chapters found"
    stale = prov.stale_chapters(CHAPTERS)
    assert not stale, (
        "stored outputs do not come from the current code; refresh them with\n"
        "    .venv/bin/python scripts/refresh_chapters.py\n"
        + "\n".join(f"  {name}: {why}" for name, why in sorted(stale.items()))
    )


def test_every_chapter_ends_with_an_ignored_provenance_cell():
    for path in CHAPTERS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cell = nb["cells"][-1]
        src = "".join(cell["source"])
        assert cell["cell_type"] == "code" and prov.is_provenance_cell(src), path.name
        assert "nbval-ignore-output" in cell["metadata"].get("tags", []), path.name
        # nbval may skip it only with a stated reason (its hashes, time and memory vary per run).
        assert cell["metadata"].get("nbval_ignore_reason"), f"{path.name}: no nbval_ignore_reason"


# ------------------------------------------------------------------ the mechanism, on a toy notebook
def _notebook(path: Path, cells: list[str], stored: dict | None) -> Path:
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    for i, src in enumerate(cells):
        nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": [f"text {i}"]})
        nb["cells"].append(
            {
                "cell_type": "code",
                "metadata": {},
                "source": src.splitlines(True),
                "outputs": [],
                "execution_count": None,
            }
        )
    outs = (
        []
        if stored is None
        else [
            {
                "output_type": "execute_result",
                "execution_count": 1,
                "metadata": {},
                "data": {"text/plain": [repr(stored)]},
            }
        ]
    )
    nb["cells"].append(
        {
            "cell_type": "code",
            "metadata": {"tags": ["nbval-ignore-output"]},
            "source": ["ltdl.provenance()"],
            "outputs": outs,
            "execution_count": 1,
        }
    )
    path.write_text(json.dumps(nb, indent=1))
    return path


def _kernel_record(monkeypatch, history: list[str]) -> dict:
    """What ``ltdl.provenance()`` records in a kernel whose input history is ``history``."""
    shell = types.SimpleNamespace(history_manager=types.SimpleNamespace(input_hist_raw=history))
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    # As if ltdl had been imported from the files on disk now (robust to edits during the run).
    monkeypatch.setattr(prov, "_SOURCES_AT_IMPORT", prov.source_hash())
    return dict(prov.provenance())


def test_kernel_hash_equals_file_hash_and_detects_changes(tmp_path, monkeypatch):
    cells = ["import ltdl\nx = 1\n", "   ", "%matplotlib inline\nprint(x)  \n"]
    # The kernel's raw history: placeholder entry 0, the executed cells (IPython strips trailing
    # newlines; Jupyter does not send empty cells), then the provenance cell itself.
    rec = _kernel_record(monkeypatch, ["", "import ltdl\nx = 1", "%matplotlib inline\nprint(x)  ", "ltdl.provenance()"])
    assert rec["ltdl_sources"] == prov.source_hash()
    assert rec["peak_memory_mib"] > 10  # a Python process with torch loaded: far above 10 MiB
    nb = _notebook(tmp_path / "01-toy.ipynb", cells, rec)
    assert rec["notebook_code"] == prov.notebook_hash(nb)
    assert prov.stale_chapters([nb]) == {}

    edited = _notebook(tmp_path / "02-toy.ipynb", cells[:2] + ["print(x + 1)"], rec)
    assert "code cells changed" in prov.stale_chapters([edited])["02-toy.ipynb"]
    missing = _notebook(tmp_path / "03-toy.ipynb", cells, None)
    assert "no stored provenance" in prov.stale_chapters([missing])["03-toy.ipynb"]


def test_library_change_makes_every_chapter_stale(tmp_path, monkeypatch):
    pkg = tmp_path / "ltdl"
    shutil.copytree(prov.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    rec = _kernel_record(monkeypatch, ["", "x = 1", "ltdl.provenance()"])
    rec["ltdl_sources"] = prov.source_hash(pkg)  # executed with the copy
    nb = _notebook(tmp_path / "01-toy.ipynb", ["x = 1"], rec)
    assert prov.stale_chapters([nb], package_dir=pkg) == {}
    costs = pkg / "costs.py"
    costs.write_text(costs.read_text() + "\n# an edit\n")
    assert "ltdl/ changed" in prov.stale_chapters([nb], package_dir=pkg)["01-toy.ipynb"]


def test_outside_ipython_and_bad_input(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)
    rec = prov.provenance()
    assert rec["notebook_code"] is None and "notebook_code" not in rec.markdown()
    assert "ltdl sources" in rec.markdown() and "peak memory" in rec.markdown()
    with pytest.raises(TypeError, match="packages"):
        prov.provenance("torch")
    with pytest.raises(ValueError, match="package_dir"):
        prov.source_hash("/no/such/folder")


def test_refresh_script_lists_exactly_the_stale_chapters(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("refresh_chapters", ROOT / "scripts" / "refresh_chapters.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rec = _kernel_record(monkeypatch, ["", "x = 1", "ltdl.provenance()"])
    fresh = _notebook(tmp_path / "01-a.ipynb", ["x = 1"], rec)
    stale = _notebook(tmp_path / "02-b.ipynb", ["x = 2"], rec)
    calls = []
    monkeypatch.setattr(mod, "_execute", lambda path: calls.append(Path(path).name) or 0)
    assert mod.main(["--dry-run", str(fresh), str(stale)]) == 0 and calls == []
    assert mod.main([str(fresh), str(stale)]) == 1  # the fake execution leaves 02-b stale
    assert calls == ["02-b.ipynb"]
