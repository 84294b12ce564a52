"""Provenance of an executed chapter: the code that produced it, versions, time and memory.

A chapter ends with one code cell (tagged ``remove-input`` and ``nbval-ignore-output``, with the
metadata ``"nbval_ignore_reason"``)::

    ltdl.provenance()

whose output renders as a small Markdown box in the book (``_repr_markdown_``) and as a plain
dict elsewhere. It ties the stored outputs to the code that made them by two content hashes
(not a git commit, which says nothing about uncommitted edits):

* ``ltdl_sources``: SHA-256 of every file of the ``ltdl`` package (path and bytes, sorted by
  path; ``__pycache__`` and hidden files skipped), computed when ``ltdl`` is imported, i.e. of the code the
  chapter ran. :func:`source_hash` recomputes it from the files on disk.
* ``notebook_code``: SHA-256 of the code cells the kernel executed before this one, read from
  IPython's input history. :func:`notebook_hash` computes the same value from a notebook file
  (the code cells above the provenance cell), with the same normalisation
  (:func:`normalise_cells`), so a test can tell whether a chapter's code changed after its
  outputs were stored. ``None`` outside IPython.

It also records ``peak_memory_mib``, the peak resident memory of the process (``ru_maxrss``),
which the time-budget report shows per chapter. The elapsed time counts from ``import ltdl``,
i.e. from the chapter's setup cell.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import resource
import sys
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

_T0 = time.perf_counter()  # set when ``ltdl`` is imported, restarted by ``setup_chapter``


def restart_clock() -> None:
    """Restart the clock whose reading :func:`provenance` reports as ``elapsed_s``."""
    global _T0
    _T0 = time.perf_counter()


PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGES = ("ltdl", "torch", "numpy", "matplotlib", "torchdiffeq", "myst-nb", "jupyter-book")
HASH_CHARS = 16  # hex digits kept: 64 bits, ample to tell code versions apart


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def source_hash(package_dir: str | Path = PACKAGE_DIR) -> str:
    """Content hash of a package folder: every file except ``__pycache__``, by relative path."""
    root = Path(package_dir)
    if not root.is_dir():
        raise ValueError(f"package_dir must be an existing folder, got {str(package_dir)!r}")
    h = hashlib.sha256()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix != ".pyc"
        and not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(root).parts)
    )
    for p in files:
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()[:HASH_CHARS]


_SOURCES_AT_IMPORT = source_hash()


def normalise_cells(sources: Iterable[str | list[str]]) -> list[str]:
    """The executed code: each cell's source with surrounding whitespace stripped, empty cells
    dropped (Jupyter does not execute them). Applied identically on both sides of the check."""
    out = []
    for s in sources:
        s = "".join(s) if isinstance(s, list) else str(s)
        s = s.strip()
        if s:
            out.append(s)
    return out


def cells_hash(sources: Iterable[str | list[str]]) -> str:
    """SHA-256 of the normalised cell sources (each cell's length and text, in order)."""
    h = hashlib.sha256()
    for s in normalise_cells(sources):
        b = s.encode()
        h.update(f"{len(b)}:".encode() + b)
    return h.hexdigest()[:HASH_CHARS]


def is_provenance_cell(source: str) -> bool:
    """True for the chapter's closing ``ltdl.provenance()`` cell."""
    return "provenance(" in source and "import" not in source


def notebook_hash(path: str | Path) -> str:
    """:func:`cells_hash` of a notebook file's code cells above its last provenance cell
    (all code cells when it has none)."""
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    code = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb["cells"]
        if c["cell_type"] == "code"
    ]
    marks = [i for i, s in enumerate(code) if is_provenance_cell(s)]
    return cells_hash(code[: marks[-1]] if marks else code)


def _executed_cells() -> list[str] | None:
    """Raw sources of the cells this IPython kernel executed before the current one."""
    ip = sys.modules.get("IPython")
    ip = ip.get_ipython() if ip is not None and hasattr(ip, "get_ipython") else None
    hm = getattr(ip, "history_manager", None)
    if hm is None:
        return None
    hist = list(hm.input_hist_raw[1:])  # entry 0 is a placeholder
    if hist and is_provenance_cell(hist[-1]):
        hist = hist[:-1]  # the cell being executed now
    return hist


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``: KiB on Linux,
    bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (2**20 if sys.platform == "darwin" else 2**10), 1)


LABELS = {
    "ltdl_sources": "ltdl sources (SHA-256)",
    "notebook_code": "this page's code (SHA-256)",
    "executed": "executed",
    "elapsed_s": "elapsed (s)",
    "peak_memory_mib": "peak memory (MiB)",
    "python": "Python",
    "platform": "platform",
}


class Provenance(dict[str, Any]):
    """A dict of provenance facts that displays as a Markdown table in notebooks."""

    def _repr_markdown_(self) -> str:
        rows = [f"| {LABELS.get(k, k)} | `{v}` |" for k, v in self.items() if k != "packages" and v is not None]
        rows += [f"| {name} | `{ver}` |" for name, ver in self["packages"].items()]
        return (
            ":::{admonition} Provenance of this page\n:class: note\n\n| | |\n|---|---|\n" + "\n".join(rows) + "\n:::\n"
        )

    def markdown(self) -> str:
        """The Markdown shown in the book."""
        return self._repr_markdown_()


def provenance(packages: tuple[str, ...] = PACKAGES) -> Provenance:
    """Facts about this execution: ``ltdl_sources`` (hash of the package as imported),
    ``notebook_code`` (hash of the executed cells, None outside IPython), ``executed`` (UTC),
    ``elapsed_s`` (seconds since ``import ltdl`` or the last ``ltdl.provenance.restart_clock()``),
    ``peak_memory_mib``, ``python``, ``platform`` and ``packages`` (name → version)."""
    if isinstance(packages, str) or not all(isinstance(p, str) for p in packages):
        raise TypeError(f"packages must be a tuple of distribution names, got {packages!r}")
    cells = _executed_cells()
    return Provenance(
        ltdl_sources=_SOURCES_AT_IMPORT,
        notebook_code=None if cells is None else cells_hash(cells),
        executed=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        elapsed_s=round(time.perf_counter() - _T0, 1),
        peak_memory_mib=peak_memory_mib(),
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        packages={p: _version(p) for p in packages},
    )


def stored_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance dict stored in a notebook's outputs (its last provenance cell), or None."""
    import ast

    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    for cell in reversed(nb["cells"]):
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code" or not is_provenance_cell(src):
            continue
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/plain")
            if text is not None:
                text = "".join(text) if isinstance(text, list) else text
                try:
                    rec = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    return None
                return rec if isinstance(rec, dict) else None
        return None
    return None


def stale_chapters(notebooks: Iterable[str | Path], package_dir: str | Path = PACKAGE_DIR) -> dict[str, str]:
    """Notebooks whose stored outputs do not come from the current code: name → reason."""
    current = source_hash(package_dir)
    out = {}
    for path in notebooks:
        path = Path(path)
        rec = stored_provenance(path)
        if rec is None:
            out[path.name] = "no stored provenance output (execute the chapter)"
        elif "ltdl_sources" not in rec:
            out[path.name] = "its provenance records no code hash (executed by an older ltdl)"
        elif rec["ltdl_sources"] != current:
            out[path.name] = f"ltdl/ changed since execution ({rec.get('ltdl_sources')} -> {current})"
        elif rec.get("notebook_code") != notebook_hash(path):
            out[path.name] = "the chapter's code cells changed since execution"
    return out
