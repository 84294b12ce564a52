#!/usr/bin/env python
"""Make the student assignments and the autograder from the chapters (nbgrader, no server).

    python scripts/make_assignments.py [--out _build/classroom] [chapters/NN-x.ipynb ...]

Needs the ``classroom`` extra (``pip install -e ".[classroom]"``: nbgrader). For every chapter
with at least one hidden test cell (a code cell tagged ``autograde``, see docs/grading.md), or for
the chapters named on the command line:

1. writes the nbgrader *source* notebook ``<out>/source/<chapter>/<chapter>.ipynb``: the student
   edition of the chapter (scripts/student_edition.py: plain Markdown, no ``myst_nb``) in which
   each exercise cell holds the reference solution between ``### BEGIN SOLUTION`` and
   ``### END SOLUTION`` and each hidden test is a graded, locked cell between
   ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``;
2. runs ``nbgrader generate_assignment``: the student assignment
   ``<out>/release/<chapter>/<chapter>.ipynb`` (stubs instead of solutions, hidden tests removed)
   and the autograder (``<out>/gradebook.db`` with the tests and their points, plus ``source/``);
3. checks that every hidden test grades an exercise with an answer cell (a code solution made
   into a stub), and that no solution line and no hidden test line is left in a student assignment.

Grade a folder of submissions with ``python scripts/grade.py SUBMISSIONS --course <out>``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import student_edition as se  # noqa: E402

ROOT = se.ROOT
CONFIG = """\
# Written by scripts/make_assignments.py; nbgrader reads it when run in this folder.
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = "sqlite:///" + {db!r}
c.ClearSolutions.code_stub = {{"python": {stub!r}}}
# A chapter runs its experiments before its exercises: allow a slow cell.
c.Execute.timeout = 600
c.Execute.interrupt_on_timeout = True
# A student who deletes a hidden test cell gains nothing: the grader puts it back (as code).
c.OverwriteCells.add_missing_cells = True
c.OverwriteCells.missing_cell_notification = (
    "# The grader put back this cell ({{cell_id}}), missing from the submission.\\n")
"""


def nbgrader(args: list[str], course: Path) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` on the course folder with this interpreter (its alembic on PATH)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def has_tests(nb) -> bool:
    return any(se.autograde_info(c) for c in nb.cells)


def hidden_lines(source_nb) -> list[str]:
    """Lines of the solutions and hidden tests of an nbgrader source notebook (to check for leaks)."""
    out = []
    for c in source_nb.cells:
        for begin, end in ((se.SOLUTION_BEGIN, se.SOLUTION_END), (se.TESTS_BEGIN, se.TESTS_END)):
            for block in re.findall(re.escape(begin) + r"\n(.*?)" + re.escape(end), c.source, re.S):
                out += [ln.strip() for ln in block.splitlines()]
    return [ln for ln in out if len(ln) > 12 and not ln.startswith(("#", "import ", "from "))]


def make(paths: list[Path], out: Path, book: se.Book | None = None) -> list[dict]:
    """Write source notebooks, run nbgrader, check the release; return one record per assignment."""
    book = book if book is not None else se.Book.load(ROOT)
    out = out.resolve()
    if out.exists():
        for sub in ("source", "release", "submitted", "autograded", "feedback"):
            shutil.rmtree(out / sub, ignore_errors=True)
        (out / "gradebook.db").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(
        CONFIG.format(root=str(out), db=str(out / "gradebook.db"), stub=se.STUB_RAISE)
    )
    records = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)
        name = path.stem
        source, stubs = se.make_student(nb, book, rel.with_suffix("").as_posix(), for_grader=True)
        dest = out / "source" / name / f"{name}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source, dest)
        tests = [c.metadata["nbgrader"] for c in source.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
        orphans = sorted({t["grade_id"].split("--")[0] for t in tests} - {s["label"] for s in stubs})
        if orphans:  # the student would have no cell in which to answer what these tests grade
            raise RuntimeError(f"{rel}: hidden tests of exercise(s) {orphans}, which have no code solution to replace")
        records.append(
            {
                "assignment": name,
                "source": dest,
                "stubs": [s["label"] for s in stubs],
                "tests": tests,
                "points": sum(t["points"] for t in tests),
            }
        )
    for r in records:
        nbgrader(["generate_assignment", r["assignment"], "--force"], out)
        release = out / "release" / r["assignment"] / f"{r['assignment']}.ipynb"
        text = release.read_text()
        leaked = [ln for ln in hidden_lines(nbformat.read(r["source"], as_version=4)) if ln in text]
        for marker in (se.SOLUTION_BEGIN, se.TESTS_BEGIN):
            if marker in text:
                leaked.append(marker)
        if leaked:
            raise RuntimeError(f"{release}: solution or hidden test text left in the student assignment: {leaked[:3]}")
        r["release"] = release
    return records


def default_chapters() -> list[Path]:
    return [p for p in se._toc_chapters() if has_tests(nbformat.read(p, as_version=4))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="chapter notebooks (default: the chapters of _toc.yml that have hidden tests)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "_build" / "classroom")
    args = p.parse_args(argv)
    paths = se.notebook_paths(args.notebooks, default_chapters, "make_assignments")
    if paths is None:
        return 2
    if not paths:
        print("make_assignments: no chapter has hidden tests (cells tagged 'autograde')", file=sys.stderr)
        return 2
    try:
        records = make(paths, args.out)
    except (se.StudentEditionError, RuntimeError) as exc:
        print(f"make_assignments: {exc}", file=sys.stderr)
        return 1
    for r in records:
        print(
            f"{r['assignment']}: {len(r['stubs'])} exercise cells, {len(r['tests'])} hidden tests, "
            f"{r['points']:g} points -> {r['release'].relative_to(args.out.resolve())}"
        )
    print(f"student assignments: {args.out}/release/   autograder: {args.out}/gradebook.db + source/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
