#!/usr/bin/env python
"""Write the configuration of the student site (the book without solutions) and print its path.

    python scripts/student_site.py [--out _build/student-site]

Used by ``bash scripts/build-book.sh --student``. The configuration is _config.yml with
* the extension _ext/ltdl_student.py switched on (``ltdl_student_site: true``): every solution,
  its text, code and outputs, is removed from the pages;
* execution off: the pages show the outputs stored in the chapters, which the test command has
  just compared with a fresh run (nbval), instead of executing every chapter a second time;
* no page sources (``html_copy_source: false``) and no download button: the chapter notebooks
  hold the solutions, so the site offers none of its sources for download;
* the title marked "(student edition)".
Paths in it are absolute because jupyter-book resolves them next to the configuration file.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


sys.path.insert(0, str(Path(__file__).resolve().parent))
from stored_config import config_command, stored_config  # noqa: E402  (a sibling script)


def student_config(cfg: dict, root: Path = ROOT) -> dict:
    """The stored-output configuration plus the extension that removes every solution."""
    cfg = stored_config(cfg, root)
    sphinx = cfg["sphinx"]
    sphinx["local_extensions"]["ltdl_student"] = str((root / "_ext").resolve()) + "/"
    sphinx.setdefault("config", {})["ltdl_student_site"] = True
    # No page source in the site: the chapter notebooks hold the solutions (and, until the
    # chapters are migrated, hidden tests). _ext/ltdl_student.py also drops the download button.
    sphinx["config"]["html_copy_source"] = False
    sphinx["config"]["html_show_sourcelink"] = False
    # No "PDF" link: the book's PDF holds the solutions, and the student site ships no PDF.
    sphinx["config"]["ltdl_pdf_link"] = ""
    cfg["title"] = f"{cfg.get('title', 'The book')} (student edition)"
    return cfg


def main(argv=None) -> int:
    return config_command(argv, student_config, ROOT / "_build" / "student-site", "scripts/student_site.py")


if __name__ == "__main__":
    sys.exit(main())
