#!/usr/bin/env python
"""Write the course page, chapters/course.md, from the chapters (nothing on it is typed twice).

    python scripts/course_page.py [--out chapters/course.md] [--check]

For every chapter of _toc.yml:

* the learning goals are the bullets of its objectives box (``:::{admonition} In this chapter``,
  after "After this chapter you can" / "you will be able to"), and its prerequisites the
  "Prerequisites:" sentence of the same box;
* the notebook metadata ``ltdl.course`` gives the rest (docs/authoring.md, *Exercises for a class*):

      {"ltdl": {"course": {"session": 2, "prerequisites": ["ch-01", "ch-02"],
                           "exercises": {"ex-r2-hump": {"minutes": 15, "difficulty": "easy"}, ...}}}}

  ``session`` (1-6) places the chapter in the plan of six sessions; ``prerequisites`` are the
  labels of the chapters it needs (each must be cited in the box's "Prerequisites:" sentence);
  ``exercises`` gives every ``{exercise}`` of the chapter an estimated time in minutes and a
  difficulty (easy, medium, hard).

The page is generated when the book is built (scripts/build-book.sh), like the claims ledger, and
is not committed: a committed copy could drift from the chapters. A chapter without the metadata,
an exercise without time or difficulty, or a prerequisite the box does not cite stops the script
with a message naming it. ``--check`` only validates.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import student_edition as se  # noqa: E402

ROOT = se.ROOT
HIDDEN = ROOT / "classroom" / "hidden"  # the hidden tests and manual points (docs/grading.md)
SESSIONS = 6
DIFFICULTIES = ("easy", "medium", "hard")
GOALS_START = re.compile(r"After this chapter you (can|will be able to)\s*:?\s*$", re.I)
CHAPTER_REF = re.compile(r"\{numref\}`(ch-\d\d)`")


# Measured with scripts/grade.py (docs/grading.md, "How fast"); update both places together.
GRADING_TIME = (
    "Grading is sandboxed and parallel (`scripts/grade.py`): 60 students handing in chapter 2 were "
    "graded in 935 s, two at a time on 2 cores, on a machine heavily shared with other work "
    "(so an upper bound; docs/grading.md gives the per-chapter times)."
)


class CourseError(ValueError):
    """A chapter lacks the metadata or the objectives box the course page needs."""


def objectives_box(nb, name: str) -> list[str]:
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for _, _, directive, arg, body in se._blocks(cell.source):
            if directive == "admonition" and arg.strip() == "In this chapter":
                return se._options(body)[1]
    raise CourseError(f"{name}: no ':::{{admonition}} In this chapter' box")


def goals_and_prerequisites(box: list[str], name: str) -> tuple[list[str], str]:
    start = next((k for k, ln in enumerate(box) if GOALS_START.search(ln.strip())), None)
    if start is None:
        raise CourseError(f"{name}: the objectives box has no 'After this chapter you can' line")
    goals: list[str] = []
    k = start + 1
    while k < len(box):
        ln = box[k]
        if re.match(r"^\s*[-*]\s+", ln):
            goals.append(re.sub(r"^\s*[-*]\s+", "", ln).strip())
        elif ln.strip() and goals and ln.startswith((" ", "\t")):
            goals[-1] += " " + ln.strip()
        elif ln.strip() and goals:
            break
        k += 1
    if not goals:
        raise CourseError(f"{name}: the objectives box lists no goals")
    text = "\n".join(box)
    m = re.search(r"Prerequisites:(.*?)(?:\n\s*\n|$)", text, re.S)
    prereq = " ".join(m.group(1).split()) if m else ""
    return goals, prereq


def chapter_record(path: Path, book: se.Book, hidden_dir: Path | None = HIDDEN) -> dict:
    nb = nbformat.read(path, as_version=4)
    name = path.stem
    meta = nb.metadata.get("ltdl", {}).get("course")
    if not isinstance(meta, dict):
        raise CourseError(f"{name}: no notebook metadata ltdl.course (see docs/authoring.md)")
    session = meta.get("session")
    if not isinstance(session, int) or not 1 <= session <= SESSIONS:
        raise CourseError(f"{name}: ltdl.course.session must be an integer from 1 to {SESSIONS}, got {session!r}")
    goals, prereq_text = goals_and_prerequisites(objectives_box(nb, name), name)
    prereqs = meta.get("prerequisites", [])
    cited = set(CHAPTER_REF.findall(prereq_text))
    for label in prereqs:
        if label not in book.chapters:
            raise CourseError(f"{name}: prerequisite {label!r} is not a chapter label")
        if label not in cited:
            raise CourseError(f"{name}: prerequisite {label!r} is not cited in the box's 'Prerequisites:' sentence")
    exs = se.exercises(nb)
    info = meta.get("exercises", {})
    extra = sorted(set(info) - set(exs))
    if extra:
        raise CourseError(f"{name}: ltdl.course.exercises names no exercise of the chapter: {extra}")
    tests: dict[str, float] = {}
    solutions = set()
    current = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for _, _, directive, arg, body in se._blocks(cell.source):
                if directive in ("exercise", "solution"):
                    current = arg if directive == "solution" else se._options(body)[0].get("label", current)
        elif "solution" in se._tags(cell):
            solutions.add(current)
        a = se.autograde_info(cell)
        if a:
            tests[a["exercise"]] = tests.get(a["exercise"], 0) + a["points"]
    manual: dict[str, float] = {}
    hidden = hidden_dir / f"{path.stem}.yml" if hidden_dir is not None else None
    if hidden is not None and hidden.is_file():  # the hidden-test file replaces the old test cells
        import yaml

        tests = {}
        for label, entry in (yaml.safe_load(hidden.read_text()).get("exercises") or {}).items():
            if isinstance(entry, dict) and entry.get("tests"):
                tests[label] = sum(t.get("points", 0) for t in entry["tests"])
            elif isinstance(entry, dict) and entry.get("manual"):
                manual[label] = entry["manual"]
    rows = []
    for label, ex in exs.items():
        e = info.get(label)
        if not isinstance(e, dict):
            raise CourseError(f"{name}: exercise {label!r} has no time and difficulty in ltdl.course.exercises")
        if not isinstance(e.get("minutes"), int) or e["minutes"] <= 0:
            raise CourseError(
                f"{name}: exercise {label!r}: minutes must be a positive integer, got {e.get('minutes')!r}"
            )
        if e.get("difficulty") not in DIFFICULTIES:
            raise CourseError(
                f"{name}: exercise {label!r}: difficulty must be one of {DIFFICULTIES}, got {e.get('difficulty')!r}"
            )
        rows.append(
            {
                "label": label,
                "title": ex["title"],
                "minutes": e["minutes"],
                "difficulty": e["difficulty"],
                "kind": "code" if label in solutions else "pen and paper",
                "points": tests.get(label),
                "manual": manual.get(label),
            }
        )
    number = book.chapter_number(
        path.relative_to(ROOT).with_suffix("").as_posix() if path.is_relative_to(ROOT) else name
    )
    return {
        "name": name,
        "label": f"ch-{name[:2]}",
        "number": number,
        "session": session,
        "goals": goals,
        "prereq_text": prereq_text,
        "prerequisites": prereqs,
        "exercises": rows,
    }


def render(records: list[dict], timing: str = GRADING_TIME) -> str:
    out = [
        "(course)=",
        "# Using this book in a course",
        "",
        "This page is generated from the chapters by `scripts/course_page.py`: the goals and "
        "prerequisites are those of each chapter's objectives box, the session plan and the "
        "exercise estimates come from the chapters' metadata. Student notebooks, assignments and "
        "grading are described in the repository's `docs/grading.md`.",
        "",
    ]
    out += ["## Prerequisites between chapters", "", "| chapter | builds on |", "|---|---|"]
    for r in records:
        needs = ", ".join(f"{{numref}}`{p}`" for p in r["prerequisites"]) or "no earlier chapter"
        out.append(f"| {{numref}}`{r['label']}` | {needs} |")
    out += [
        "",
        "## A plan of six sessions",
        "",
        "Each session covers the chapters below; the time is the sum of the exercise estimates "
        "(the reading and running of a chapter come on top).",
        "",
        "| session | chapters | exercises | exercise time |",
        "|---|---|---|---|",
    ]
    for s in range(1, SESSIONS + 1):
        rs = [r for r in records if r["session"] == s]
        if not rs:
            continue
        chapters = ", ".join(f"{{numref}}`{r['label']}`" for r in rs)
        n = sum(len(r["exercises"]) for r in rs)
        minutes = sum(e["minutes"] for r in rs for e in r["exercises"])
        out.append(f"| {s} | {chapters} | {n} | {minutes} min |")
    out += ["", "## Learning goals", ""]
    for r in records:
        out += [f"**{{numref}}`{r['label']}`** (session {r['session']}). After it, a student can", ""]
        out += [f"- {g}" for g in r["goals"]]
        if r["prereq_text"]:
            out += ["", f"Prerequisites: {r['prereq_text']}"]
        out.append("")
    out += [
        "## Exercises",
        "",
        "*Kind*: code (the student edition has a cell to fill) or pen and paper. *Points*: what "
        "the exercise is worth in the grade book; *autograded*: whether `scripts/grade.py` scores it "
        "with hidden tests (partial credit per test), or the lecturer grades the written answer by hand.",
        "",
        "| chapter | exercise | kind | time | difficulty | points | autograded |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in records:
        for e in r["exercises"]:
            if e["points"]:
                points, auto = f"{e['points']:g}", "yes"
            elif e.get("manual"):
                points, auto = f"{e['manual']:g}", "no (by hand)"
            else:
                points, auto = "–", "no"
            out.append(
                f"| {{numref}}`{r['label']}` | {{ref}}`{e['label']}` | {e['kind']} | {e['minutes']} min | "
                f"{e['difficulty']} | {points} | {auto} |"
            )
    if timing:
        out += ["", timing]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", type=Path, help="chapter notebooks (default: those in _toc.yml)")
    p.add_argument("--out", type=Path, default=ROOT / "chapters" / "course.md")
    p.add_argument("--check", action="store_true", help="validate the metadata only, write nothing")
    args = p.parse_args(argv)
    paths = [q.resolve() for q in args.notebooks] or [q for q in se._toc_chapters() if re.match(r"\d\d-", q.name)]
    book = se.Book.load(ROOT)
    try:
        records = [chapter_record(q, book) for q in paths]
    except CourseError as exc:
        print(f"course_page: {exc}", file=sys.stderr)
        return 1
    if not args.check:
        # whole, then renamed: the book and the student site are built at the same time (claims_ledger.py)
        tmp = args.out.with_name(f".{args.out.name}.{os.getpid()}")
        tmp.write_text(render(records))
        os.replace(tmp, args.out)
        print(
            f"course page: {len(records)} chapters, {sum(len(r['exercises']) for r in records)} exercises -> {args.out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
