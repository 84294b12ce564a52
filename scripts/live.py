#!/usr/bin/env python
"""Open a chapter live in JupyterLab, on a copy: the committed notebooks are never touched.

    python scripts/live.py 05             # the book's chapter 05, with its outputs
    python scripts/live.py 05 --student   # its student edition (exercises to do, plain Markdown)

Needs the ``live`` extra (``pip install -e ".[live]"``: JupyterLab). The copy goes to
``_build/live/chapters/`` (``--dir`` to change); an existing copy is kept, so your work survives a
restart (``--fresh`` replaces it by a new copy). Then JupyterLab starts on that folder and opens
the chapter; stop it with Ctrl-C. Extra options go to JupyterLab (``--port 8890``,
``--no-browser``, ...).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import student_edition as se  # noqa: E402

ROOT = se.ROOT


def find_chapter(name: str) -> Path:
    """A chapter notebook from its number (``5``, ``05``), its file stem or its path."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.is_file():
        return path.resolve()
    hits = sorted((ROOT / "chapters").glob(f"{int(name):02d}-*.ipynb" if name.isdigit() else f"{name}*.ipynb"))
    if len(hits) != 1:
        known = ", ".join(p.stem for p in sorted((ROOT / "chapters").glob("*.ipynb")))
        raise SystemExit(f"live: no single chapter matches {name!r} (chapters: {known})")
    return hits[0]


def make_copy(chapter: Path, folder: Path, student: bool, fresh: bool) -> Path:
    """Write the working copy of ``chapter`` under ``folder``/chapters; keep an existing one."""
    dest = folder / "chapters" / (chapter.stem + ("-student" if student else "") + ".ipynb")
    if dest.resolve() == chapter.resolve():
        raise SystemExit("live: the copy would overwrite the committed notebook; choose another --dir")
    if dest.exists() and not fresh:
        print(f"live: keeping your copy {dest} (use --fresh for a new one)")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if student:
        import nbformat

        nb = nbformat.read(chapter, as_version=4)
        rel = chapter.relative_to(ROOT).with_suffix("").as_posix()
        nbformat.write(se.make_student(nb, se.Book.load(ROOT), rel)[0], dest)
    else:
        shutil.copyfile(chapter, dest)
    print(f"live: working copy {dest}")
    return dest


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("chapter", help="chapter number (05), file stem or path")
    p.add_argument("--student", action="store_true", help="open the student edition instead of the book's chapter")
    p.add_argument("--dir", type=Path, default=ROOT / "_build" / "live", help="folder for the working copies")
    p.add_argument("--fresh", action="store_true", help="replace an existing working copy")
    args, lab_args = p.parse_known_args(argv)
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        print('live: JupyterLab is not installed; pip install -e ".[live]"', file=sys.stderr)
        return 2
    copy = make_copy(find_chapter(args.chapter), args.dir.resolve(), args.student, args.fresh)
    cmd = [sys.executable, "-m", "jupyterlab", str(copy), f"--ServerApp.root_dir={args.dir.resolve()}", *lab_args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in lab_args:
        cmd.append("--allow-root")  # containers and CI run as root; JupyterLab refuses without it
    sys.stdout.flush()
    os.execv(sys.executable, cmd)  # the server replaces this process: Ctrl-C or SIGTERM stops it
    return 0  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
