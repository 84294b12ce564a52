"""The course page (scripts/course_page.py): generated from the chapters' boxes and metadata.

Synthetic chapters check the page's content and every error message; the real chapters, once
they carry the metadata (notebook metadata ``ltdl.course``), must all validate.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from _scripts import load_script  # tests/ is on sys.path under pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


se = load_script("student_edition")
cp = load_script("course_page")

BOX = """(ch-0{n})=
# Chapter title {n}

:::{{admonition}} In this chapter
:class: tip
After this chapter you can
- state result {n} and
  prove it;
- run experiment {n}.

Prerequisites: {prereq}.
:::
"""


def chapter(n: int, prereq: str, meta: dict | None):
    sol = new_code_cell("x = 1")
    sol.metadata["tags"] = ["solution"]
    test = new_code_cell("assert x == 1  # exact")
    test.metadata["tags"] = ["autograde", "remove-cell"]
    test.metadata["ltdl"] = {"autograde": {"exercise": f"ex-{n}-code", "points": 2}}
    nb = new_notebook(
        cells=[
            new_markdown_cell(BOX.format(n=n, prereq=prereq)),
            new_markdown_cell(
                f"```{{exercise}} Prove it\n:label: ex-{n}-proof\nProve.\n```\n"
                f"```{{solution}} ex-{n}-proof\n:class: dropdown\nDone.\n```\n\n"
                f"```{{exercise}} Code it\n:label: ex-{n}-code\nCode.\n```\n"
                f"```{{solution}} ex-{n}-code\n:class: dropdown\nBelow.\n```"
            ),
            sol,
            test,
        ]
    )
    if meta is not None:
        nb.metadata["ltdl"] = {"course": meta}
    return nb


def _meta(n, session, prereqs=()):
    return {
        "session": session,
        "prerequisites": list(prereqs),
        "exercises": {
            f"ex-{n}-proof": {"minutes": 10, "difficulty": "easy"},
            f"ex-{n}-code": {"minutes": 25, "difficulty": "medium"},
        },
    }


def _book():
    book = se.Book()
    book.chapters.update({"ch-01": 1, "ch-02": 2})
    return book


def _write(tmp_path, name, nb):
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_page_from_synthetic_chapters(tmp_path):
    p1 = _write(tmp_path, "01-a.ipynb", chapter(1, "calculus", _meta(1, 1)))
    p2 = _write(tmp_path, "02-b.ipynb", chapter(2, "the first chapter ({numref}`ch-01`)", _meta(2, 2, ["ch-01"])))
    records = [cp.chapter_record(p, _book()) for p in (p1, p2)]
    page = cp.render(records)
    assert page.startswith("(course)=\n# Using this book in a course")
    assert "| {numref}`ch-02` | {numref}`ch-01` |" in page and "| {numref}`ch-01` | no earlier chapter |" in page
    assert "| 1 | {numref}`ch-01` | 2 | 35 min |" in page and "| 2 | {numref}`ch-02` | 2 | 35 min |" in page
    assert "- state result 1 and prove it;" in page and "- run experiment 2." in page
    assert "Prerequisites: the first chapter ({numref}`ch-01`)." in page
    assert "| {numref}`ch-01` | {ref}`ex-1-proof` | pen and paper | 10 min | easy | – | no |" in page
    assert "| {numref}`ch-02` | {ref}`ex-2-code` | code | 25 min | medium | 2 | yes |" in page
    assert "60 students" in page  # the measured grading time (docs/grading.md)


def test_points_from_hidden_test_files(tmp_path):
    """A file of classroom/hidden/ gives the points: tests (autograded) and manual points (by hand)."""
    p1 = _write(tmp_path, "01-a.ipynb", chapter(1, "calculus", _meta(1, 1)))
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "01-a.yml").write_text(
        "exercises:\n  ex-1-proof: {manual: 3}\n"
        "  ex-1-code:\n    reads: x\n    tests:\n"
        "    - {points: 1, code: 'assert x'}\n    - {points: 4, code: 'assert x'}\n"
    )
    page = cp.render([cp.chapter_record(p1, _book(), hidden)])
    assert "| {numref}`ch-01` | {ref}`ex-1-proof` | pen and paper | 10 min | easy | 3 | no (by hand) |" in page
    assert "| {numref}`ch-01` | {ref}`ex-1-code` | code | 25 min | medium | 5 | yes |" in page


@pytest.mark.parametrize(
    "meta, prereq, message",
    [
        (None, "x", "no notebook metadata ltdl.course"),
        ({"session": 7}, "x", "session must be an integer from 1 to 6"),
        (
            {**_meta(2, 2), "exercises": {"ex-2-proof": {"minutes": 10, "difficulty": "easy"}}},
            "x",
            "'ex-2-code' has no time and difficulty",
        ),
        (
            {
                **_meta(2, 2),
                "exercises": {**_meta(2, 2)["exercises"], "ex-2-code": {"minutes": 5, "difficulty": "tough"}},
            },
            "x",
            "difficulty must be one of",
        ),
        (
            {**_meta(2, 2), "exercises": {**_meta(2, 2)["exercises"], "ex-9": {"minutes": 5, "difficulty": "easy"}}},
            "x",
            "names no exercise of the chapter",
        ),
        (_meta(2, 2, ["ch-01"]), "calculus only", "'ch-01' is not cited"),
        (_meta(2, 2, ["ch-07"]), "{numref}`ch-07`", "'ch-07' is not a chapter label"),
    ],
)
def test_errors_name_the_problem(tmp_path, meta, prereq, message):
    path = _write(tmp_path, "02-b.ipynb", chapter(2, prereq, meta))
    with pytest.raises(cp.CourseError, match=message):
        cp.chapter_record(path, _book())


def test_command_writes_the_page(tmp_path):
    p1 = _write(tmp_path, "01-a.ipynb", chapter(1, "calculus", _meta(1, 1)))
    out = tmp_path / "course.md"
    assert cp.main([str(p1), "--out", str(out)]) == 0
    assert "| {numref}`ch-01` | {ref}`ex-1-code` | code | 25 min | medium | 2 | yes |" in out.read_text()
    bad = _write(tmp_path, "02-b.ipynb", chapter(2, "x", None))
    assert cp.main([str(bad), "--check"]) == 1


REAL = [
    p
    for p in sorted((ROOT / "chapters").glob("[0-9][0-9]-*.ipynb"))
    if "course" in nbformat.read(p, as_version=4).metadata.get("ltdl", {})
]


@pytest.mark.skipif(not REAL, reason="no chapter carries ltdl.course metadata yet")
def test_real_chapters_validate_and_render():
    book = se.Book.load(ROOT)
    chapters = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.ipynb"))
    records = [cp.chapter_record(p, book) for p in chapters]  # every chapter: none may lack metadata
    page = cp.render(records)
    assert {r["session"] for r in records} == set(range(1, cp.SESSIONS + 1))  # six sessions, none empty
    for r in records:
        assert f"{{numref}}`{r['label']}`" in page
        for e in r["exercises"]:  # every exercise has its points, autograded or by hand
            assert e["points"] or e["manual"], (r["name"], e["label"])
