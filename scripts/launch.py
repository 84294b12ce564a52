#!/usr/bin/env python
"""Launch buttons and the chapters' setup cell, from one source: ``repository.url`` in _config.yml.

    python scripts/launch.py --check    # the chapters and _config.yml agree with that URL (tests)
    python scripts/launch.py --write    # rewrite the install block of every chapter's setup cell

* No public URL (``repository.url: ""``): the Binder and Colab buttons and the repository button
  are off, and the setup cell installs nothing (it only imports ``ltdl``; the README says how to
  install it). A reader never lands on a missing repository, and no setup cell installs code
  from a name that someone else could register.
* A public URL: the buttons are on, and the setup cell installs, **on Colab only**, ``ltdl`` from
  that repository at the tag of this version of the book (``v`` + the version in pyproject.toml)
  together with ``myst-nb`` (the chapters' ``glue``); elsewhere it installs nothing. Binder
  builds its environment from binder/requirements.txt, which pins what the chapters import.

The install block is the start of the first code cell, up to its first import
(``import matplotlib.pyplot as plt``); the imports that follow are in isort order.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
BLOCK_END = "import matplotlib.pyplot as plt"
BINDER_PINS = ("torch", "torchdiffeq", "numpy", "matplotlib", "tqdm", "myst-nb", "ipykernel", "ipywidgets")


class LaunchError(ValueError):
    """The chapters, _config.yml or binder/ disagree with the repository URL (named in the message)."""


def settings(root: Path = ROOT) -> dict:
    cfg = yaml.safe_load((root / "_config.yml").read_text())
    url = ((cfg.get("repository") or {}).get("url") or "").strip().rstrip("/")
    version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    return {"url": url, "ref": f"v{version}", "cfg": cfg, "myst_nb": _lock(root).get("myst-nb", "")}


def _lock(root: Path) -> dict[str, str]:
    pins = {}
    path = root / "requirements-lock.txt"
    for line in path.read_text().splitlines() if path.is_file() else []:
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def install_block(url: str, ref: str, myst_nb: str = "") -> str:
    """The start of every chapter's setup cell, for this repository URL ('' = not public)."""
    if not url:
        return "# Setup. Install ltdl first if it is missing (see the README); this cell installs nothing.\n"
    if not re.match(r"^https://[\w.-]+/[\w.-]+/[\w.-]+$", url):
        raise LaunchError(f"repository.url must look like https://host/owner/name, got {url!r}")
    mystnb = f' "myst-nb=={myst_nb}"' if myst_nb else ' "myst-nb"'
    return (
        "# Setup: on Colab, install ltdl at this book's version (elsewhere this installs nothing).\n"
        "import sys\n"
        'if "google.colab" in sys.modules:  # pragma: no cover\n'
        f'    %pip install -q "ltdl @ git+{url}@{ref}"{mystnb}\n'
    )


def _setup_cell(nb):
    cell = next((c for c in nb.cells if c.cell_type == "code"), None)
    if cell is None or BLOCK_END not in cell.source:
        return None, None
    head, _, rest = cell.source.partition(BLOCK_END)
    return cell, head


def check(root: Path = ROOT, chapters: list[Path] | None = None) -> list[str]:
    """Every disagreement between the chapters, _config.yml, binder/ and the repository URL."""
    s = settings(root)
    cfg, problems = s["cfg"], []
    buttons = cfg.get("launch_buttons") or {}
    html = cfg.get("html") or {}
    on = bool(s["url"])
    for key in ("binderhub_url", "colab_url"):
        if bool(buttons.get(key)) != on:
            problems.append(
                f"_config.yml: launch_buttons.{key} must be {'set' if on else 'empty'} "
                f"when repository.url is {'set' if on else 'empty'}"
            )
    if bool(html.get("use_repository_button")) != on:
        problems.append(f"_config.yml: html.use_repository_button must be {str(on).lower()}")
    want = install_block(s["url"], s["ref"], s["myst_nb"])
    for path in chapters if chapters is not None else sorted((root / "chapters").glob("[0-9][0-9]-*.ipynb")):
        cell, head = _setup_cell(nbformat.read(path, as_version=4))
        if cell is None:
            problems.append(f"{path.name}: no setup cell (the first code cell, with '{BLOCK_END}')")
        elif head != want:
            problems.append(
                f"{path.name}: the setup cell's install block differs from scripts/launch.py's "
                "(run python scripts/launch.py --write)"
            )
    binder = root / "binder" / "requirements.txt"
    if not binder.is_file():
        problems.append("binder/requirements.txt is missing")
    else:
        lock = _lock(root)
        lines = [ln.strip() for ln in binder.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        for name in BINDER_PINS:
            pin = f"{name}=={lock.get(name)}"
            if not any(ln.lower().replace("_", "-") == pin for ln in lines):
                problems.append(f"binder/requirements.txt must pin {pin} (as requirements-lock.txt)")
        if "-e ." not in lines:
            problems.append("binder/requirements.txt must install the repository itself (-e .)")
    return problems


def write(root: Path = ROOT, chapters: list[Path] | None = None) -> list[Path]:
    s = settings(root)
    want = install_block(s["url"], s["ref"], s["myst_nb"])
    changed = []
    for path in chapters if chapters is not None else sorted((root / "chapters").glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cell, head = _setup_cell(nb)
        if cell is None:
            raise LaunchError(f"{path.name}: no setup cell (the first code cell, with '{BLOCK_END}')")
        if head != want:
            cell.source = want + cell.source[len(head) :]
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", action="store_true")
    g.add_argument("--write", action="store_true")
    args = p.parse_args(argv)
    try:
        if args.write:
            for path in write():
                print(f"rewrote the setup cell of {path.name} (execute the chapter again)")
        problems = check()
    except LaunchError as exc:
        print(f"launch: {exc}", file=sys.stderr)
        return 1
    for line in problems:
        print(f"launch: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
