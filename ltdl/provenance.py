"""Provenance of an executed chapter: package versions, commit and execution time.

A chapter ends with one code cell (tagged ``remove-input`` and ``nbval-ignore-output``)::

    ltdl.provenance()

whose output renders as a small Markdown table in the book (``_repr_markdown_``) and as a
plain dict elsewhere. The commit comes from ``git rev-parse`` run next to the package (or
the ``LTDL_COMMIT`` / ``GITHUB_SHA`` environment variables); outside a git checkout it is
``"unknown"``. The elapsed time counts from ``import ltdl``, i.e. from the chapter's setup cell.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

_T0 = time.perf_counter()  # set when ``ltdl`` is imported (the chapter's setup cell)

PACKAGES = ("ltdl", "torch", "numpy", "matplotlib", "torchdiffeq", "myst-nb", "jupyter-book")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def commit() -> str:
    """Short commit of the checkout ``ltdl`` runs from (``+dirty`` with uncommitted changes to
    tracked files), else ``$LTDL_COMMIT`` / ``$GITHUB_SHA``, else ``"unknown"``."""
    sha = _git("rev-parse", "--short=12", "HEAD")
    if sha:
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return sha + ("+dirty" if dirty else "")
    env = os.environ.get("LTDL_COMMIT") or os.environ.get("GITHUB_SHA")
    return env[:12] if env else "unknown"


class Provenance(dict):
    """A dict of provenance facts that displays as a Markdown table in notebooks."""

    def _repr_markdown_(self) -> str:
        rows = [f"| {k} | `{v}` |" for k, v in self.items() if k != "packages"]
        rows += [f"| {name} | `{ver}` |" for name, ver in self["packages"].items()]
        return ":::{admonition} Provenance of this page\n:class: note\n\n| | |\n|---|---|\n" + "\n".join(rows) + "\n:::\n"

    def markdown(self) -> str:
        """The Markdown shown in the book."""
        return self._repr_markdown_()


def provenance(packages: tuple[str, ...] = PACKAGES) -> Provenance:
    """Facts about this execution: ``commit``, ``executed`` (UTC, ISO 8601), ``elapsed_s``
    (seconds since ``import ltdl``), ``python``, ``platform`` and ``packages`` (name → version)."""
    if isinstance(packages, str) or not all(isinstance(p, str) for p in packages):
        raise ValueError(f"packages must be a tuple of distribution names, got {packages!r}")
    return Provenance(
        commit=commit(),
        executed=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        elapsed_s=round(time.perf_counter() - _T0, 1),
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        packages={p: _version(p) for p in packages},
    )
