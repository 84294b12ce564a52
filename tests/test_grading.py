"""Classroom grading (scripts/make_assignments.py, scripts/grade.py; docs/grading.md).

On a small synthetic chapter that follows the book's conventions (``{exercise}`` blocks, code
solutions tagged ``solution``, a hidden-test file like those of classroom/hidden/): the lecturer
command writes a student assignment without solution or hidden test text; the grading command
runs a planted class, each student in a bubblewrap sandbox with short limits: reference answers,
a wrong answer, a "no work" answer, one that raises, one that sleeps, one that spins, one that
allocates too much memory, one that writes outside its folder, one that reads another student's
submission and the hidden tests, one that opens network connections, a malformed and an empty
notebook and a missing one. The CSV lists every student and every exercise; each gets what a fair
grader gives; the reference students are unaffected; nothing outside the sandbox changed.

The real chapters' hidden tests (classroom/hidden/) are checked by classroom/check_hidden.py
(reference full marks, no-work zero, for every exercise); here only their consistency with the
chapters is checked (cheap).
"""

from __future__ import annotations

import csv
import hashlib
import json
import socket
import threading
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from _scripts import load_script  # tests/ is on sys.path under pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("nbgrader", reason="the classroom extra (pip install -e '.[classroom]') is not installed")


se = load_script("student_edition")
ma = load_script("make_assignments")
gr = load_script("grade")

HIDDEN = {
    "setup_cells": ["syn-setup"],
    "setup": "OFFSET = 0  # GRADING-SETUP\n",
    "exercises": {
        "ex-syn-square": {
            "reads": "`square(x)`, a function returning x squared.",
            "tests": [
                {"points": 1, "name": "integers", "code": "assert square(4) == 16  # HIDDEN-TEST-ONE: exact\n"},
                {
                    "points": 2,
                    "name": "fresh negative arguments",
                    "code": "for _v in (-2, -7, -11):\n    assert square(_v) == _v * _v  # HIDDEN-TEST-TWO: exact\n",
                },
            ],
        },
        "ex-syn-cube": {
            "reads": "`cube(x)`, a function returning x cubed.",
            "tests": [{"points": 1, "code": "assert cube(2) + cube(-3) == -19  # HIDDEN-TEST-THREE: exact\n"}],
        },
        "ex-syn-proof": {"manual": 2},
    },
}


def chapter():
    setup = new_code_cell("from myst_nb import glue\nvalue = 21 * 2\nglue('syn_value', value, display=False)")
    setup["id"] = "syn-setup"
    heavy = new_code_cell("import time\ntime.sleep(30)  # an experiment no exercise needs")
    heavy["id"] = "syn-heavy"
    sol1 = new_code_cell("def square(x):\n    return x * x  # REFERENCE-ONE\n")
    sol1.metadata["tags"] = ["solution"]
    sol2 = new_code_cell("def cube(x):\n    return x ** 3  # REFERENCE-TWO\n")
    sol2.metadata["tags"] = ["solution"]
    nb = new_notebook(
        cells=[
            new_markdown_cell("# A synthetic chapter\n\nSome text with $x^2$."),
            setup,
            heavy,
            new_markdown_cell(
                "The value is {glue:text}`syn_value`.\n\n"
                "```{exercise} Squares\n:label: ex-syn-square\nDefine `square(x)`, returning $x^2$.\n```\n\n"
                "```{solution} ex-syn-square\n:class: dropdown\nMultiply x by itself.\n```"
            ),
            sol1,
            new_markdown_cell(
                "```{exercise} Cubes\n:label: ex-syn-cube\nDefine `cube(x)`.\n```\n\n"
                "```{solution} ex-syn-cube\n:class: dropdown\nThree factors.\n```"
            ),
            sol2,
            new_markdown_cell(
                "```{exercise} A proof\n:label: ex-syn-proof\nProve that squares are non-negative.\n```\n\n"
                "```{solution} ex-syn-proof\n:class: dropdown\nA PROOF-SECRET argument.\n```"
            ),
            new_code_cell("print('the end')"),
        ]
    )
    nb.cells[1].outputs = [  # the glue output an executed chapter carries (the student edition reads it)
        nbformat.v4.new_output(
            "display_data", data={"text/plain": "42"}, metadata={"scrapbook": {"name": "syn_value", "mime_prefix": ""}}
        )
    ]
    return nb


def _answer(release: Path, dest: Path, answers: dict[str, str], extra: dict[str, str] | None = None):
    """Copy a student assignment, replacing the stub of each exercise in ``answers`` (and adding a cell)."""
    nb = json.loads(release.read_text())
    cells = []
    for c in nb["cells"]:
        label = c.get("metadata", {}).get("ltdl", {}).get("exercise")
        if label in answers:
            c["source"] = answers[label]
        cells.append(c)
        if extra and label in extra:
            cells.append(nbformat.v4.new_code_cell(extra[label]))
    nb["cells"] = cells
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("classroom")
    path = tmp / "book" / "01-syn.ipynb"
    path.parent.mkdir()
    nbformat.write(chapter(), path)
    hidden = tmp / "hidden"
    hidden.mkdir()
    (hidden / "01-syn.yml").write_text(yaml.safe_dump(HIDDEN))
    out = tmp / "course"
    ma.make([path], out, book=se.Book(), hidden_dir=hidden)  # a book of this one chapter
    return out


SECRETS = (
    "REFERENCE-ONE",
    "REFERENCE-TWO",
    "HIDDEN-TEST-ONE",
    "HIDDEN-TEST-TWO",
    "HIDDEN-TEST-THREE",
    "GRADING-SETUP",
    "square(4)",
    "BEGIN SOLUTION",
    "BEGIN HIDDEN TESTS",
    "Multiply x by itself",
    "PROOF-SECRET",
)


def test_student_assignment_has_no_solution_or_hidden_test(course):
    release = course / "release" / "01-syn" / "01-syn.ipynb"
    text = release.read_text()
    for secret in SECRETS:
        assert secret not in text, secret
    nb = nbformat.read(release, as_version=4)
    stubs = [c for c in nb.cells if se.STUB_TAG in c.metadata.get("tags", [])]
    assert [c.metadata["ltdl"]["exercise"] for c in stubs] == ["ex-syn-square", "ex-syn-cube"]
    assert all(se.STUB_RAISE in c.source and "# Exercise ex-syn" in c.source for c in stubs)
    assert "# Graded: `square(x)`, a function returning x squared." in stubs[0].source  # what the tests read
    assert "myst_nb" not in text and "The value is 42." in text
    manual = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex-syn-proof--manual"]
    assert len(manual) == 1 and manual[0].cell_type == "markdown"
    # The autograder's copies keep the tests with their points, and the written exercise's manual points.
    source = nbformat.read(course / "source" / "01-syn" / "01-syn.ipynb", as_version=4)
    points = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert points == {
        "ex-syn-square--test-1": 1,
        "ex-syn-square--test-2": 2,
        "ex-syn-cube--test-1": 1,
        "ex-syn-proof--manual": 2,
    }


REF = {"ex-syn-square": "def square(x):\n    return x * x\n", "ex-syn-cube": "def cube(x):\n    return x ** 3\n"}


def _planted(release: Path, subs: Path, port: int) -> dict[str, Path]:
    """The planted class; returns the files that no student may change."""
    victim = subs / "ref" / "01-syn.ipynb"
    _answer(release, victim, REF)
    _answer(release, subs / "ref2" / "deeper" / "01-syn.ipynb", REF, extra={"ex-syn-square": "HELPER = 1\n"})
    _answer(release, subs / "stub" / "01-syn.ipynb", {})
    _answer(
        release, subs / "wrong" / "01-syn.ipynb", {**REF, "ex-syn-square": "def square(x):\n    return x * abs(x)\n"}
    )
    # No work: defines the names the tests read, with answers that only fit the prompt's example.
    _answer(
        release,
        subs / "nowork" / "01-syn.ipynb",
        {"ex-syn-square": "def square(x):\n    return 9\n", "ex-syn-cube": "def cube(x):\n    return 8\n"},
    )
    _answer(release, subs / "raises" / "01-syn.ipynb", {**REF, "ex-syn-square": "raise ValueError('my bug')\n"})
    _answer(
        release,
        subs / "sleeps" / "01-syn.ipynb",
        {**REF, "ex-syn-square": "import time\ntime.sleep(10**6)\n" + REF["ex-syn-square"]},
    )
    _answer(release, subs / "spins" / "01-syn.ipynb", {**REF, "ex-syn-cube": "while True:\n    pass\n"})
    _answer(
        release,
        subs / "memory" / "01-syn.ipynb",
        # One request far above the address-space limit fails at once, on any load; filling 1 GiB blocks
        # one by one ran past the 8 s cell limit on a loaded machine and read "timeout" (2026-12-06).
        {**REF, "ex-syn-square": "hog = bytearray(16 * 2**30)\n" + REF["ex-syn-square"]},
    )
    course = release.parents[2]
    attack = (
        "import glob, os, socket\n"
        "def attempt(what, f):\n"
        "    try:\n"
        "        f()\n"
        "        print('ATTACK-OK', what)\n"
        "    except Exception as exc:\n"
        "        print('ATTACK-FAILED', what, type(exc).__name__)\n"
    )
    writes = attack + (
        f"attempt('write-victim', lambda: open({str(victim)!r}, 'w').write('{{}}'))\n"
        f"attempt('write-gradebook', lambda: open({str(course / 'gradebook.db')!r}, 'w').write('x'))\n"
        f"attempt('write-repo', lambda: open({str(ROOT / 'PLANTED')!r}, 'w').write('x'))\n"
        "attempt('write-own-folder', lambda: open('mine.txt', 'w').write('x'))\n" + REF["ex-syn-square"]
    )
    reads = attack + (
        f"attempt('read-victim', lambda: open({str(victim)!r}).read())\n"
        f"attempt('read-hidden', lambda: open({str(course / 'assignments.json')!r}).read())\n"
        f"attempt('list-submissions', lambda: os.listdir({str(subs)!r}))\n"
        "attempt('read-secret-file', lambda: open('/etc/shadow').read())\n" + REF["ex-syn-square"]
    )
    network = attack + (
        f"attempt('connect-lecturer', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2))\n"
        "attempt('connect-world', lambda: socket.create_connection(('1.1.1.1', 53), timeout=2))\n"
        + REF["ex-syn-square"]
    )
    _answer(release, subs / "writes" / "01-syn.ipynb", {**REF, "ex-syn-square": writes})
    _answer(release, subs / "reads" / "01-syn.ipynb", {**REF, "ex-syn-square": reads})
    _answer(release, subs / "network" / "01-syn.ipynb", {**REF, "ex-syn-square": network})
    (subs / "garbled").mkdir()
    (subs / "garbled" / "01-syn.ipynb").write_text("this is not a notebook {")
    (subs / "empty").mkdir()
    (subs / "empty" / "01-syn.ipynb").write_text(json.dumps(new_notebook()))
    (subs / "absent").mkdir()
    return {
        "victim": victim,
        "hidden": course / "assignments.json",
        "source": course / "source" / "01-syn" / "01-syn.ipynb",
    }


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_planted_class(course, tmp_path):
    # A missing sandbox is a failure, never a skip: scripts/install_sandbox.sh installs it.
    assert gr.sandbox_tool() is not None, "bubblewrap (bwrap) is missing: run bash scripts/install_sandbox.sh"
    release = course / "release" / "01-syn" / "01-syn.ipynb"
    subs = tmp_path / "submissions"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    contacts = []

    def listen():
        while not stop.is_set():
            try:
                contacts.append(server.accept())
            except OSError:
                pass

    stop = threading.Event()
    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    guarded = _planted(release, subs, port)
    before = {k: _digest(p) for k, p in guarded.items()}
    out = tmp_path / "grades.csv"
    t0 = time.perf_counter()
    rc = gr.main(
        [str(subs), "--course", str(course), "--csv", str(out), "--jobs", "2", "--cell-timeout", "8",
         "--wall-timeout", "60", "--cpu-limit", "30", "--memory-limit", "3"]
    )  # fmt: skip
    # The CPU-time limit (30 s) lies above the cell time limit (8 s) so that the spinning cell is
    # stopped by the cell limit, deterministically: at a 4 s CPU limit the kernel's death read
    # "error" instead of "timeout" in two loaded runs (SIGKILL before SIGXCPU; still to be fixed in grade.py).
    took = time.perf_counter() - t0
    stop.set()
    thread.join()
    server.close()
    assert rc == 3  # some submissions need a look
    rows = list(csv.DictReader(out.open()))
    got = {(r["student"], r["exercise"]): (float(r["score"]), float(r["max_score"]), r["status"]) for r in rows}
    reason = {(r["student"], r["exercise"]): r["reason"] for r in rows}
    students = [p.name for p in subs.iterdir()]
    # Complete: every student, every exercise, written ones included.
    assert set(got) == {(s, e) for s in students for e in ("ex-syn-square", "ex-syn-cube", "ex-syn-proof")}
    full = {"ex-syn-square": (3.0, 3.0, "graded"), "ex-syn-cube": (1.0, 1.0, "graded")}
    for s in ("ref", "ref2", "writes", "reads", "network"):  # the attacks fail; the answers count
        for e, v in full.items():
            assert got[s, e] == v, (s, e, got[s, e], reason[s, e])
        assert got[s, "ex-syn-proof"] == (0.0, 2.0, "manual")
    assert got["stub", "ex-syn-square"] == (0.0, 3.0, "graded") and "not attempted" in reason["stub", "ex-syn-square"]
    assert (
        got["wrong", "ex-syn-square"] == (1.0, 3.0, "graded") and "fresh negative" in reason["wrong", "ex-syn-square"]
    )
    assert got["nowork", "ex-syn-square"][0] == 0.0 and got["nowork", "ex-syn-cube"][0] == 0.0
    assert (
        got["raises", "ex-syn-square"] == (0.0, 3.0, "error")
        and "ValueError: my bug" in reason["raises", "ex-syn-square"]
    )
    assert got["raises", "ex-syn-cube"] == (1.0, 1.0, "graded")  # the next exercise is graded all the same
    assert got["sleeps", "ex-syn-square"][::2] == (0.0, "timeout")
    assert got["sleeps", "ex-syn-cube"][::2] == (0.0, "timeout")  # never ran: the sleeping cell came first
    assert got["spins", "ex-syn-square"] == (3.0, 3.0, "graded")  # graded before the spinning cell
    assert got["spins", "ex-syn-cube"][::2] == (0.0, "timeout")
    assert "CPU-time limit" in reason["spins", "ex-syn-cube"] or "ran over" in reason["spins", "ex-syn-cube"]
    assert got["memory", "ex-syn-square"][::2] == (0.0, "memory")
    assert got["memory", "ex-syn-cube"] == (1.0, 1.0, "graded")
    for s in ("garbled", "empty"):
        assert {got[s, e][2] for e in ("ex-syn-square", "ex-syn-cube", "ex-syn-proof")} == {"malformed", "manual"}
        assert got[s, "ex-syn-square"][0] == 0.0
    assert {got["absent", e][2] for e in ("ex-syn-square", "ex-syn-cube", "ex-syn-proof")} == {"missing"}
    # Nothing outside the sandboxes changed (the gradebook was written by the grader alone, below);
    # no connection reached the lecturer's machine.
    assert {k: _digest(p) for k, p in guarded.items()} == before
    assert not (ROOT / "PLANTED").exists() and not contacts
    printed = {}
    for s in ("writes", "reads", "network"):
        nb = json.loads((course / "autograded" / s / "01-syn.ipynb").read_text())
        printed[s] = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
        assert "ATTACK-OK" not in printed[s].replace("ATTACK-OK write-own-folder", ""), printed[s]
    assert "ATTACK-OK write-own-folder" in printed["writes"]  # its own scratch folder is writable
    assert printed["reads"].count("ATTACK-FAILED") == 4 and printed["network"].count("ATTACK-FAILED") == 2
    # The lecturer's gradebook holds the scores (written by the lecturer's process alone).
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission_notebook("01-syn", "01-syn", "ref").score == 4.0
        assert gb.find_submission_notebook("01-syn", "01-syn", "wrong").score == 2.0
    print(f"planted class of {len(students)} students graded in {took:.1f} s")


def test_sandbox_keeps_binds_under_tmp_visible_and_tmp_read_only(tmp_path, monkeypatch):
    """A read-only folder that lies under the machine's /tmp (a venv there) is visible in the
    sandbox; nothing in /tmp or in the binds is writable; TMPDIR, inside /submission, is."""
    import subprocess
    import sys

    assert gr.sandbox_tool() is not None, "bubblewrap (bwrap) is missing: run bash scripts/install_sandbox.sh"
    shared = tmp_path / "venv-in-tmp"  # under /tmp wherever pytest's temporary folder is there
    shared.mkdir()
    (shared / "marker.txt").write_text("visible")
    roots = gr._python_roots()
    monkeypatch.setattr(gr, "_python_roots", lambda: [*roots, shared])
    scratch = tmp_path / "work"
    (scratch / ".tmp").mkdir(parents=True)
    cmd = gr.sandbox_command(scratch, {"memory_limit": 2, "cpu_limit": 20}, unsafe=False)
    assert cmd[-3:] == [sys.executable, "-I", "/grader/grade_run.py"]
    probe = (
        f"cat {shared}/marker.txt; echo; "
        f"(echo x > /tmp/probe) 2>/dev/null && echo TMP-WRITABLE; "
        f"(echo x > {shared}/probe) 2>/dev/null && echo BIND-WRITABLE; "
        f'(echo x > "$TMPDIR/probe") 2>/dev/null && echo TMPDIR-WRITABLE'
    )
    r = subprocess.run([*cmd[:-3], "/bin/sh", "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["visible", "TMPDIR-WRITABLE"], r.stdout + r.stderr
    assert (scratch / ".tmp" / "probe").is_file() and not (shared / "probe").exists()


def test_grading_refuses_without_sandbox(course, tmp_path, monkeypatch, capsys):
    subs = tmp_path / "subs"
    _answer(course / "release" / "01-syn" / "01-syn.ipynb", subs / "ref" / "01-syn.ipynb", REF)
    monkeypatch.setattr(gr, "sandbox_tool", lambda: None)
    assert gr.main([str(subs), "--course", str(course), "--csv", str(tmp_path / "g.csv")]) == 1
    assert "bubblewrap" in capsys.readouterr().err and not (tmp_path / "g.csv").exists()


def test_bad_hidden_files_and_missing_inputs_fail_clearly(tmp_path):
    nb = chapter()
    path = tmp_path / "book" / "01-syn.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    cases = [
        ({**HIDDEN, "setup_cells": ["nowhere"]}, "setup cell 'nowhere'"),
        ({**HIDDEN, "exercises": {**HIDDEN["exercises"], "ex-other": {"manual": 1}}}, "ex-other"),
        ({**HIDDEN, "exercises": {k: v for k, v in HIDDEN["exercises"].items() if k != "ex-syn-cube"}}, "ex-syn-cube"),
        ({**HIDDEN, "exercises": {**HIDDEN["exercises"], "ex-syn-proof": {}}}, "manual"),
        (
            {**HIDDEN, "exercises": {**HIDDEN["exercises"], "ex-syn-cube": {"reads": "x", "tests": [{"code": "1"}]}}},
            "points",
        ),
    ]
    for data, message in cases:
        (hidden / "01-syn.yml").write_text(yaml.safe_dump(data))
        with pytest.raises(ma.HiddenTestsError, match=message):
            ma.make([path], tmp_path / "course", hidden_dir=hidden)
    assert gr.main([str(tmp_path / "nothing"), "--course", str(tmp_path)]) == 2
    (tmp_path / "subs").mkdir()
    assert gr.main([str(tmp_path / "subs"), "--course", str(tmp_path)]) == 1  # no course there
    assert ma.main([str(tmp_path / "missing.ipynb"), "--out", str(tmp_path / "c")]) == 2


def test_core_library_does_not_import_grading_tools():
    for path in (ROOT / "ltdl").rglob("*.py"):
        text = path.read_text()
        assert "nbgrader" not in text and "jupyterlab" not in text, path


def test_real_hidden_tests_cover_every_exercise():
    """Every chapter has a hidden-test file; every code exercise has tests, every written one manual points."""
    book = se.Book.load(ROOT)
    chapters = [p for p in se._toc_chapters() if p.name[:2].isdigit()]
    assert chapters
    for path in chapters:
        nb = nbformat.read(path, as_version=4)
        if not se.exercises(nb):
            continue
        hpath = ma.hidden_path(path)
        assert hpath.is_file(), f"{path.name}: no {hpath.relative_to(ROOT)}"
        _, stubs = se.make_student(nb, book, path.relative_to(ROOT).with_suffix("").as_posix())
        ma.load_hidden(hpath, nb, stubs)  # raises, naming the problem


# The real chapters' assignments (and their leak check) are made by step 7 of the test command
# (scripts/make_assignments.py, which stops on any leak); classroom/check_hidden.py grades them.
