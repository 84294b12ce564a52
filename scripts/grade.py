#!/usr/bin/env python
"""Grade a folder of submitted notebooks into a per-student, per-exercise CSV (nbgrader, local).

    python scripts/grade.py SUBMISSIONS [--course _build/classroom] [--csv grades.csv]

SUBMISSIONS holds one folder per student, named by the student's id, with the notebooks they
hand in under their assignment's file name (``alice/05-tracking-turnpike.ipynb``; subfolders
are searched too). The course folder is the one written by scripts/make_assignments.py.
``nbgrader autograde`` runs every submission top to bottom on this machine (no server, no
Docker), after putting back the hidden tests of the chapter, so a student cannot edit or delete
them. A test cell that raises scores 0, one that runs scores its points; an exercise's score is
the sum over its tests. The CSV has one row per student, chapter and exercise:

    student,chapter,exercise,score,max_score

A chapter a student did not hand in is listed with the status ``missing`` and score 0.
Submissions run as the user who grades: read them before grading code you do not trust.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_assignments as ma  # noqa: E402

ROOT = ma.ROOT
FIELDS = ["student", "chapter", "exercise", "score", "max_score", "status"]


def assignments(course: Path) -> list[str]:
    return sorted(p.name for p in (course / "source").iterdir() if p.is_dir()) if (course / "source").is_dir() else []


def collect(submissions: Path, course: Path, names: list[str]) -> dict[str, dict[str, Path]]:
    """student -> assignment -> submitted notebook."""
    found: dict[str, dict[str, Path]] = {}
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for name in names:
            hits = sorted(student_dir.rglob(f"{name}.ipynb"))
            hits = [h for h in hits if ".ipynb_checkpoints" not in h.parts]
            if hits:
                found.setdefault(student_dir.name, {})[name] = hits[0]
        found.setdefault(student_dir.name, {})
    return found


def grade(submissions: Path, course: Path) -> list[dict]:
    course = course.resolve()
    names = assignments(course)
    if not names:
        raise RuntimeError(f"{course} has no assignments: run scripts/make_assignments.py first")
    found = collect(submissions, course, names)
    if not found:
        raise RuntimeError(f"{submissions} has no student folders")
    for sub in ("submitted", "autograded", "feedback"):
        shutil.rmtree(course / sub, ignore_errors=True)
    for student, nbs in found.items():
        for name, path in nbs.items():
            dest = course / "submitted" / student / name / f"{name}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    for name in names:
        if any(name in nbs for nbs in found.values()):
            ma.nbgrader(["autograde", name, "--force"], course)

    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in names:
            notebook = gb.find_notebook(name, name)
            tests = [g for g in notebook.grade_cells]
            exercises: dict[str, float] = {}
            for g in tests:
                ex = g.name.split("--")[0]
                exercises[ex] = exercises.get(ex, 0.0) + float(g.max_score)
            for student, nbs in found.items():
                scores = dict.fromkeys(exercises, 0.0)
                status = "missing"
                if name in nbs:
                    status = "graded"
                    try:
                        sub = gb.find_submission_notebook(name, name, student)
                    except MissingEntry:
                        status = "not graded"
                    else:
                        for g in sub.grades:
                            scores[g.name.split("--")[0]] += float(g.score or 0.0)
                for ex, max_score in exercises.items():
                    rows.append(
                        {
                            "student": student,
                            "chapter": name,
                            "exercise": ex,
                            "score": round(scores[ex], 6),
                            "max_score": max_score,
                            "status": status,
                        }
                    )
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("submissions", type=Path, help="folder with one sub-folder per student")
    p.add_argument(
        "--course",
        type=Path,
        default=ROOT / "_build" / "classroom",
        help="folder written by scripts/make_assignments.py",
    )
    p.add_argument("--csv", type=Path, default=None, help="output CSV (default: <course>/grades.csv)")
    args = p.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"grade: no such folder: {args.submissions}", file=sys.stderr)
        return 2
    try:
        rows = grade(args.submissions, args.course)
    except RuntimeError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 1
    out = args.csv or args.course / "grades.csv"
    write_csv(rows, out)
    totals: dict[str, list[float]] = {}
    for r in rows:
        t = totals.setdefault(r["student"], [0.0, 0.0])
        t[0] += r["score"]
        t[1] += r["max_score"]
    for student, (s, m) in totals.items():
        print(f"{student}: {s:g} / {m:g}")
    print(f"per-exercise scores: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
