#!/usr/bin/env python
"""Make the student assignments and the autograder from the chapters and classroom/hidden/ (nbgrader).

    python scripts/make_assignments.py [--out _build/classroom] [chapters/NN-x.ipynb ...]

Needs the ``classroom`` extra (``pip install -e ".[classroom]"``: nbgrader). For every chapter
with a hidden-test file ``classroom/hidden/<chapter>.yml`` (docs/grading.md), or for the
chapters named on the command line:

1. writes the nbgrader *source* notebook ``<out>/source/<chapter>/<chapter>.ipynb``: the student
   edition of the chapter (scripts/student_edition.py: plain Markdown, no ``myst_nb``) in which
   each code exercise's cell holds the reference solution between ``### BEGIN SOLUTION`` and
   ``### END SOLUTION`` (with, in its comment, the names the hidden tests read), its hidden
   tests follow it as graded, locked cells between ``### BEGIN HIDDEN TESTS`` and
   ``### END HIDDEN TESTS``, and each written exercise gets a manually graded answer cell;
2. runs ``nbgrader generate_assignment``: the student assignment
   ``<out>/release/<chapter>/<chapter>.ipynb`` (stubs instead of solutions, hidden tests removed)
   and the gradebook (``<out>/gradebook.db``: every test and answer cell with its points);
3. writes ``<out>/assignments.json`` for scripts/grade.py (exercises, points, stubs, the hidden
   tests and the grading set-up) and checks that every code exercise has hidden tests, every
   written one manual points, and that no solution line and no hidden test line is left in a
   student assignment.

A chapter that still carries hidden test cells of the old form (code cells tagged ``autograde``)
and has no file in classroom/hidden/ is graded from those cells, after the code cells that come
before its first exercise; where a file exists, such cells are ignored.

Grade a folder of submissions with ``python scripts/grade.py SUBMISSIONS --course <out>``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import student_edition as se  # noqa: E402

ROOT = se.ROOT
HIDDEN = ROOT / "classroom" / "hidden"
CONFIG = """\
# Written by scripts/make_assignments.py; nbgrader reads it when run in this folder.
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = "sqlite:///" + {db!r}
c.ClearSolutions.code_stub = {{"python": {stub!r}}}
c.ClearSolutions.text_stub = "*Your answer (a written exercise: your lecturer grades it by hand).*"
"""


class HiddenTestsError(ValueError):
    """A hidden-test file does not match its chapter (the message names the file and the problem)."""


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


def hidden_path(chapter: Path, folder: Path | None = None) -> Path:
    return (folder or HIDDEN) / f"{chapter.stem}.yml"


def load_hidden(path: Path, nb, stubs: list[dict]) -> dict:
    """Read and check a hidden-test file against its chapter (docs/grading.md, *Hidden tests*)."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise HiddenTestsError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("exercises"), dict):
        raise HiddenTestsError(f"{path}: needs a mapping 'exercises' (label -> tests or manual points)")
    exs = se.exercises(nb)
    code = {s["label"] for s in stubs}
    ids = {c.get("id") for c in nb.cells if c.cell_type == "code"}
    setup_cells = data.get("setup_cells", []) or []
    if not isinstance(setup_cells, list) or not all(isinstance(i, str) for i in setup_cells):
        raise HiddenTestsError(f"{path}: setup_cells must be a list of cell ids")
    for cid in setup_cells:
        if cid not in ids:
            raise HiddenTestsError(f"{path}: setup cell {cid!r} is no code cell of the chapter")
    if not isinstance(data.get("setup", ""), str):
        raise HiddenTestsError(f"{path}: setup must be a block of code (a string)")
    extra = sorted(set(data["exercises"]) - set(exs))
    if extra:
        raise HiddenTestsError(f"{path}: {extra} is no exercise of the chapter")
    for label in exs:
        entry = data["exercises"].get(label)
        if entry is None:
            raise HiddenTestsError(f"{path}: exercise {label!r} has no entry (tests, or manual points)")
        if label in code:
            tests = entry.get("tests") if isinstance(entry, dict) else None
            if not tests or not isinstance(tests, list):
                raise HiddenTestsError(f"{path}: {label} asks for code: give it a list of tests")
            if not isinstance(entry.get("reads"), str) or not entry["reads"].strip():
                raise HiddenTestsError(f"{path}: {label}: 'reads' must say which names the tests read")
            for k, t in enumerate(tests, start=1):
                if not isinstance(t, dict) or not isinstance(t.get("code"), str):
                    raise HiddenTestsError(f"{path}: {label}, test {k}: needs 'code'")
                if not isinstance(t.get("points"), (int, float)) or t["points"] <= 0:
                    raise HiddenTestsError(f"{path}: {label}, test {k}: points must be a positive number")
                t.setdefault("name", f"test {k}")
        else:
            pts = entry.get("manual") if isinstance(entry, dict) else None
            if not isinstance(pts, (int, float)) or pts <= 0:
                raise HiddenTestsError(f"{path}: {label} is a written exercise: give it 'manual: <points>'")
    data["setup_cells"] = setup_cells
    data.setdefault("setup", "")
    return data


def legacy_hidden(nb, stubs: list[dict]) -> dict:
    """Hidden tests from cells tagged ``autograde`` (the old form, kept until the chapters move)."""
    exercises: dict[str, dict] = {}
    for c in nb.cells:
        info = se.autograde_info(c)
        if info:
            e = exercises.setdefault(info["exercise"], {"reads": "the names of the exercise's prompt", "tests": []})
            e["tests"].append({"points": info["points"], "code": c.source, "name": f"test {len(e['tests']) + 1}"})
    first = next((k for k, c in enumerate(nb.cells) if "solution" in se._tags(c)), len(nb.cells))
    setup = [c.get("id") for c in nb.cells[:first] if c.cell_type == "code" and not se.autograde_info(c)]
    for label in se.exercises(nb):
        if label not in {s["label"] for s in stubs}:
            exercises.setdefault(label, {"manual": 1})
    return {"setup_cells": setup, "setup": "", "exercises": exercises}


def hidden_lines(source_nb) -> list[str]:
    """Lines of the solutions and hidden tests of an nbgrader source notebook (to check for leaks)."""
    out = []
    for c in source_nb.cells:
        for begin, end in ((se.SOLUTION_BEGIN, se.SOLUTION_END), (se.TESTS_BEGIN, se.TESTS_END)):
            for block in re.findall(re.escape(begin) + r"\n(.*?)" + re.escape(end), c.source, re.S):
                out += [ln.strip() for ln in block.splitlines()]
    return [ln for ln in out if len(ln) > 20 and not ln.startswith(("#", "import ", "from "))]


def _comment(text: str) -> str:
    return "\n".join("# " + ln if ln.strip() else "#" for ln in text.strip().splitlines())


def _source_notebook(nb, book, rel: Path, hidden: dict):
    """The nbgrader source notebook: answers with their contract, hidden tests, manual cells."""
    plain = nbformat.from_dict(nb)
    plain.cells = [c for c in plain.cells if not se.autograde_info(c)]  # tests come from `hidden`
    source, stubs = se.make_student(plain, book, rel.with_suffix("").as_posix(), for_grader=True)
    student, _ = se.make_student(plain, book, rel.with_suffix("").as_posix())
    stub_src = {c.metadata["ltdl"]["exercise"]: c.source for c in student.cells if se.STUB_TAG in se._tags(c)}
    exs = se.exercises(nb)
    cells = []
    for c in source.cells:
        label = c.get("metadata", {}).get("ltdl", {}).get("exercise") if c.cell_type == "code" else None
        if label and se.STUB_TAG in se._tags(c):
            contract = _comment("Graded: " + hidden["exercises"][label]["reads"]) + "\n"
            marker = "# Replace the next line by your code.\n"
            c.source = c.source.replace(marker, "#\n" + contract + marker, 1)
            adds = hidden["exercises"][label].get("reference_adds", "").strip()
            if adds:  # the lines that give the chapter's solution the names the tests read
                body, end = c.source.rsplit(se.SOLUTION_END, 1)
                c.source = f"{body.rstrip()}\n{adds}\n{se.SOLUTION_END}{end}"
            stub_src[label] = stub_src[label].replace(marker, "#\n" + contract + marker, 1)
            cells.append(c)
            for k, t in enumerate(hidden["exercises"][label]["tests"], start=1):
                test = nbformat.v4.new_code_cell(
                    f"# Hidden tests of exercise {label}: the grader runs them.\n"
                    f"{se.TESTS_BEGIN}\n{t['code'].rstrip()}\n{se.TESTS_END}\n"
                )
                test.metadata["nbgrader"] = {
                    "grade": True,
                    "solution": False,
                    "locked": True,
                    "points": t["points"],
                    "schema_version": 3,
                    "grade_id": f"{label}--test-{k}",
                }
                test["id"] = f"{label}--test-{k}"[:64]
                cells.append(test)
            continue
        cells.append(c)
        if c.cell_type == "markdown":  # a written exercise: an answer cell right after its prompt
            for written in [lab for lab in exs if f"(`{lab}`)" in c.source and "manual" in hidden["exercises"][lab]]:
                answer = nbformat.v4.new_markdown_cell(f"*Your answer to exercise `{written}`.*")
                answer.metadata["nbgrader"] = {
                    "grade": True,
                    "solution": True,
                    "locked": False,
                    "points": hidden["exercises"][written]["manual"],
                    "schema_version": 3,
                    "grade_id": f"{written}--manual",
                }
                answer["id"] = f"{written}--manual"[:64]
                cells.append(answer)
    source.cells = cells
    return source, stubs, stub_src


def make(paths: list[Path], out: Path, book: se.Book | None = None, hidden_dir: Path | None = None) -> list[dict]:
    """Write source notebooks, run nbgrader, check the release; return one record per assignment."""
    book = book if book is not None else se.Book.load(ROOT)
    out = out.resolve()
    if out.exists():
        for sub in ("source", "release", "submitted", "autograded", "feedback"):
            shutil.rmtree(out / sub, ignore_errors=True)
        for f in ("gradebook.db", "assignments.json", "grades.csv"):
            (out / f).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(
        CONFIG.format(root=str(out), db=str(out / "gradebook.db"), stub=se.STUB_RAISE)
    )
    records = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)
        name = path.stem
        _, stubs = se.make_student(nb, book, rel.with_suffix("").as_posix())
        hpath = hidden_path(path, hidden_dir)
        if hpath.is_file():
            hidden = load_hidden(hpath, nb, stubs)
        elif has_tests(nb):
            hidden = legacy_hidden(nb, stubs)
        else:
            raise HiddenTestsError(f"{rel}: no hidden-test file {hpath.relative_to(hpath.parents[2])}")
        code = [s["label"] for s in stubs]
        code = list(dict.fromkeys(code))
        orphans = sorted(lab for lab, e in hidden["exercises"].items() if "tests" in e and lab not in code)
        if orphans:  # the student would have no cell in which to answer what these tests grade
            raise RuntimeError(f"{rel}: hidden tests of exercise(s) {orphans}, which have no code solution to replace")
        untested = sorted(lab for lab in code if "tests" not in hidden["exercises"].get(lab, {}))
        if untested:
            raise RuntimeError(f"{rel}: code exercise(s) {untested} have no hidden tests")
        source, _, stub_src = _source_notebook(nb, book, rel, hidden)
        dest = out / "source" / name / f"{name}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source, dest)
        labels = list(se.exercises(nb))
        points = {
            lab: float(sum(t["points"] for t in e["tests"])) if "tests" in e else float(e["manual"])
            for lab, e in hidden["exercises"].items()
        }
        tests = [c.metadata["nbgrader"] for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
        records.append(
            {
                "assignment": name,
                "name": name,
                "source": dest,
                "stubs": code,
                "tests": [t for t in tests if "--test-" in t["grade_id"]],
                "points": sum(t["points"] for t in tests if "--test-" in t["grade_id"]),
                "spec": {
                    "name": name,
                    "labels": labels,
                    "code": code,
                    "points": points,
                    "stubs": stub_src,
                    "hidden": hidden,
                },
            }
        )
    for r in records:
        nbgrader(["generate_assignment", r["assignment"], "--force"], out)
        release = out / "release" / r["assignment"] / f"{r['assignment']}.ipynb"
        text = release.read_text()
        leaked = [ln for ln in hidden_lines(nbformat.read(r["source"], as_version=4)) if ln in text]
        for t in (t for e in r["spec"]["hidden"]["exercises"].values() for t in e.get("tests", [])):
            leaked += [ln.strip() for ln in t["code"].splitlines() if len(ln.strip()) > 20 and ln.strip() in text]
        # A line the chapter also has outside its solutions (a loop header, say) gives nothing away.
        source_nb = nbformat.read(r["source"], as_version=4)
        outside = set()
        for c in source_nb.cells:
            text = c.source
            for begin, end in ((se.SOLUTION_BEGIN, se.SOLUTION_END), (se.TESTS_BEGIN, se.TESTS_END)):
                text = re.sub(re.escape(begin) + r".*?" + re.escape(end), "", text, flags=re.S)
            outside |= {ln.strip() for ln in text.splitlines()}
        leaked = [ln for ln in leaked if not ln.startswith(("#", "import ", "from ")) and ln not in outside]
        for marker in (se.SOLUTION_BEGIN, se.TESTS_BEGIN):
            if marker in text:
                leaked.append(marker)
        if leaked:
            raise RuntimeError(f"{release}: solution or hidden test text left in the student assignment: {leaked[:3]}")
        r["release"] = release
    (out / "assignments.json").write_text(json.dumps([r["spec"] for r in records], indent=1))
    return records


def load_course(course: Path) -> list[dict]:
    """The assignments written by :func:`make` (for scripts/grade.py), with their source notebooks."""
    path = course / "assignments.json"
    if not path.is_file():
        return []
    specs = json.loads(path.read_text())
    for s in specs:
        s["source_nb"] = nbformat.read(course / "source" / s["name"] / f"{s['name']}.ipynb", as_version=4)
    return specs


def record_grades(course: Path, rows: list[dict]) -> None:
    """Write the scores into nbgrader's gradebook (``<course>/gradebook.db``), one entry per exercise.

    Called by the lecturer's process only (scripts/grade.py), after the sandboxed runs: the
    gradebook is never visible to a student's code. An exercise's score goes to its first graded
    cell (the others get 0), so nbgrader's totals equal the CSV's."""
    db = course / "gradebook.db"
    if not db.is_file():
        return
    import warnings

    from nbgrader.api import Gradebook

    with warnings.catch_warnings(), Gradebook(f"sqlite:///{db}") as gb:
        warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader 0.9.6's own SQLAlchemy use
        for student in sorted({r["student"] for r in rows}):
            gb.update_or_create_student(student)
        for student, chapter in sorted({(r["student"], r["chapter"]) for r in rows}):
            mine = {r["exercise"]: r for r in rows if r["student"] == student and r["chapter"] == chapter}
            if all(r["status"] == "missing" for r in mine.values()):
                continue
            from nbgrader.api import MissingEntry

            try:
                gb.find_submission(chapter, student)
            except MissingEntry:
                gb.add_submission(chapter, student)
            nb = gb.find_submission_notebook(chapter, chapter, student)
            done = set()
            for g in sorted(nb.grades, key=lambda g: g.name):
                label = g.name.split("--")[0]
                r = mine.get(label)
                if r is None or r["status"] == "manual":
                    continue
                g.auto_score = float(r["score"]) if label not in done else 0.0
                done.add(label)
        gb.db.commit()


def default_chapters() -> list[Path]:
    return [p for p in se._toc_chapters() if hidden_path(p).is_file() or has_tests(nbformat.read(p, as_version=4))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="chapter notebooks (default: the chapters of _toc.yml with a file in classroom/hidden/)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "_build" / "classroom")
    p.add_argument(
        "--hidden", type=Path, default=None, help="folder of the hidden-test files (default: classroom/hidden)"
    )
    args = p.parse_args(argv)
    paths = se.notebook_paths(args.notebooks, default_chapters, "make_assignments")
    if paths is None:
        return 2
    if not paths:
        print("make_assignments: no chapter has hidden tests (classroom/hidden/<chapter>.yml)", file=sys.stderr)
        return 2
    try:
        records = make(paths, args.out, hidden_dir=args.hidden)
    except (se.StudentEditionError, HiddenTestsError, RuntimeError) as exc:
        print(f"make_assignments: {exc}", file=sys.stderr)
        return 1
    for r in records:
        n_manual = len(r["spec"]["labels"]) - len(r["stubs"])
        print(
            f"{r['assignment']}: {len(r['stubs'])} code exercises ({len(r['tests'])} hidden tests, "
            f"{r['points']:g} points), {n_manual} written -> {r['release'].relative_to(args.out.resolve())}"
        )
    print(f"student assignments: {args.out}/release/   autograder: {args.out}/assignments.json + gradebook.db")
    return 0


if __name__ == "__main__":
    sys.exit(main())
