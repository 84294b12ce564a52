"""Classroom grading (scripts/make_assignments.py, scripts/grade.py; docs/grading.md).

On a small synthetic chapter that follows the book's conventions (an ``{exercise}``, its
``{solution}``, a code cell tagged ``solution`` and hidden test cells tagged ``autograde``):
the lecturer command writes a student assignment without solution or hidden test text; the
grading command scores the reference solution at full marks, the untouched stubs at zero and a
planted wrong answer partially, per student and per exercise. The real chapters' hidden tests
are checked by the chapters themselves (they run after the reference solution in every build).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest
from _scripts import load_script  # tests/ is on sys.path under pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("nbgrader", reason="the classroom extra (pip install -e '.[classroom]') is not installed")


se = load_script("student_edition")
ma = load_script("make_assignments")
gr = load_script("grade")

SQUARE_TEST_1 = "assert square(3) == 9  # HIDDEN-TEST-ONE: exact in integers"
SQUARE_TEST_2 = "assert square(-2) == 4  # HIDDEN-TEST-TWO: a negative input"
CUBE_TEST = "assert cube(2) == 8  # HIDDEN-TEST-THREE: exact in integers"


def _test_cell(src, exercise, points):
    c = new_code_cell(src)
    c.metadata["tags"] = ["autograde", "remove-cell"]
    c.metadata["ltdl"] = {"autograde": {"exercise": exercise, "points": points}}
    return c


def chapter():
    sol1 = new_code_cell("def square(x):\n    return x * x  # REFERENCE-ONE\n")
    sol1.metadata["tags"] = ["solution"]
    sol2 = new_code_cell("def cube(x):\n    return x ** 3  # REFERENCE-TWO\n")
    sol2.metadata["tags"] = ["solution"]
    nb = new_notebook(
        cells=[
            new_markdown_cell("# A synthetic chapter\n\nSome text with $x^2$."),
            new_code_cell("from myst_nb import glue\nvalue = 21 * 2\nglue('syn_value', value, display=False)"),
            new_markdown_cell(
                "The value is {glue:text}`syn_value`.\n\n"
                "```{exercise} Squares\n:label: ex-syn-square\nDefine `square(x)`, returning $x^2$.\n```\n\n"
                "```{solution} ex-syn-square\n:class: dropdown\nMultiply x by itself.\n```"
            ),
            sol1,
            _test_cell(SQUARE_TEST_1, "ex-syn-square", 1),
            _test_cell(SQUARE_TEST_2, "ex-syn-square", 2),
            new_markdown_cell(
                "```{exercise} Cubes\n:label: ex-syn-cube\nDefine `cube(x)`.\n```\n\n"
                "```{solution} ex-syn-cube\n:class: dropdown\nThree factors.\n```"
            ),
            sol2,
            _test_cell(CUBE_TEST, "ex-syn-cube", 1),
            new_code_cell("print('the end')"),
        ]
    )
    # The glue output a chapter executed by the book carries (the student edition reads it).
    nb.cells[1].outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/plain": "42"}, metadata={"scrapbook": {"name": "syn_value", "mime_prefix": ""}}
        )
    ]
    return nb


def _answer(release: Path, dest: Path, answers: dict[str, str]):
    """Copy a student assignment, replacing the stub of each exercise in ``answers``."""
    nb = json.loads(release.read_text())
    for c in nb["cells"]:
        label = c.get("metadata", {}).get("ltdl", {}).get("exercise")
        if label in answers:
            c["source"] = answers[label]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("classroom")
    path = tmp / "book" / "01-syn.ipynb"
    path.parent.mkdir()
    nbformat.write(chapter(), path)
    out = tmp / "course"
    assert ma.main([str(path), "--out", str(out)]) == 0
    return out


def test_student_assignment_has_no_solution_or_hidden_test(course):
    release = course / "release" / "01-syn" / "01-syn.ipynb"
    text = release.read_text()
    for secret in (
        "REFERENCE-ONE",
        "REFERENCE-TWO",
        "HIDDEN-TEST-ONE",
        "HIDDEN-TEST-TWO",
        "HIDDEN-TEST-THREE",
        "square(3)",
        "BEGIN SOLUTION",
        "BEGIN HIDDEN TESTS",
        "Multiply x by itself",
    ):
        assert secret not in text, secret
    nb = nbformat.read(release, as_version=4)
    stubs = [c for c in nb.cells if se.STUB_TAG in c.metadata.get("tags", [])]
    assert [c.metadata["ltdl"]["exercise"] for c in stubs] == ["ex-syn-square", "ex-syn-cube"]
    assert all(se.STUB_RAISE in c.source and "# Exercise ex-syn" in c.source for c in stubs)
    assert "myst_nb" not in text and "The value is 42." in text
    # The source notebook (the autograder's copy) keeps the tests, with their points.
    source = nbformat.read(course / "source" / "01-syn" / "01-syn.ipynb", as_version=4)
    points = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert points == {"ex-syn-square--test-1": 1, "ex-syn-square--test-2": 2, "ex-syn-cube--test-1": 1}


def test_grade_reference_stub_and_wrong_answer(course, tmp_path):
    release = course / "release" / "01-syn" / "01-syn.ipynb"
    subs = tmp_path / "submissions"
    _answer(
        release,
        subs / "ref" / "01-syn.ipynb",
        {"ex-syn-square": "def square(x):\n    return x * x\n", "ex-syn-cube": "def cube(x):\n    return x ** 3\n"},
    )
    _answer(release, subs / "stub" / "01-syn.ipynb", {})
    _answer(
        release,
        subs / "wrong" / "work" / "01-syn.ipynb",  # a sub-folder, and abs() planted wrongly
        {
            "ex-syn-square": "def square(x):\n    return x * abs(x)\n",
            "ex-syn-cube": "def cube(x):\n    return x ** 3\n",
        },
    )
    # A student who deletes the hidden test cells gains nothing: the grader puts them back.
    nb = json.loads((subs / "wrong" / "work" / "01-syn.ipynb").read_text())
    nb["cells"] = [c for c in nb["cells"] if not c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    (subs / "wrong" / "work" / "01-syn.ipynb").write_text(json.dumps(nb))
    (subs / "absent").mkdir()
    out = tmp_path / "grades.csv"
    assert gr.main([str(subs), "--course", str(course), "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    got = {(r["student"], r["exercise"]): (float(r["score"]), float(r["max_score"]), r["status"]) for r in rows}
    assert got == {
        ("ref", "ex-syn-square"): (3.0, 3.0, "graded"),
        ("ref", "ex-syn-cube"): (1.0, 1.0, "graded"),
        ("stub", "ex-syn-square"): (0.0, 3.0, "graded"),
        ("stub", "ex-syn-cube"): (0.0, 1.0, "graded"),
        ("wrong", "ex-syn-square"): (1.0, 3.0, "graded"),
        ("wrong", "ex-syn-cube"): (1.0, 1.0, "graded"),
        ("absent", "ex-syn-square"): (0.0, 3.0, "missing"),
        ("absent", "ex-syn-cube"): (0.0, 1.0, "missing"),
    }
    assert {r["chapter"] for r in rows} == {"01-syn"}


def test_bad_metadata_and_missing_inputs_fail_clearly(tmp_path):
    nb = chapter()
    del nb.cells[4].metadata["ltdl"]
    with pytest.raises(se.StudentEditionError, match="autograde"):
        se.make_student(nb, for_grader=True)
    nb = chapter()
    nb.cells[4].metadata["ltdl"]["autograde"]["exercise"] = "ex-nowhere"
    with pytest.raises(se.StudentEditionError, match="ex-nowhere"):
        se.make_student(nb, for_grader=True)
    assert gr.main([str(tmp_path / "nothing"), "--course", str(tmp_path)]) == 2
    (tmp_path / "subs").mkdir()
    assert gr.main([str(tmp_path / "subs"), "--course", str(tmp_path)]) == 1  # no course there
    assert ma.main([str(tmp_path / "missing.ipynb"), "--out", str(tmp_path / "c")]) == 2


def test_core_library_does_not_import_grading_tools():
    for path in (ROOT / "ltdl").rglob("*.py"):
        text = path.read_text()
        assert "nbgrader" not in text and "jupyterlab" not in text, path


def test_hidden_tests_without_an_answer_cell_fail(tmp_path):
    nb = chapter()
    del nb.cells[7]  # the code solution of ex-syn-cube: its hidden test would grade nothing
    path = tmp_path / "book" / "01-syn.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    with pytest.raises(RuntimeError, match="ex-syn-cube"):
        ma.make([path], tmp_path / "course")


def test_real_chapters_make_assignments_without_leaks(tmp_path):
    chapters = ma.default_chapters()
    assert chapters, "no chapter has hidden tests (cells tagged 'autograde')"
    # make() raises on any solution or hidden test text left, and on a hidden test without an answer cell
    records = ma.make(chapters, tmp_path / "course")
    for r in records:
        graded = {t["grade_id"].split("--")[0] for t in r["tests"]}
        assert graded and graded <= set(r["stubs"]), f"{r['assignment']}: hidden tests without a code stub"
        assert r["points"] > 0
