"""The student edition (scripts/student_edition.py): on synthetic notebooks and on the real chapters.

* each student notebook executes without error up to its first stub, and the stub raises
  NotImplementedError;
* every stub has a matching exercise and solution in the book;
* no solution text (code of `solution` cells, `{solution}` blocks, outputs) survives.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("student_edition", ROOT / "scripts" / "student_edition.py")
se = importlib.util.module_from_spec(spec)
spec.loader.exec_module(se)

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def synthetic():
    md = new_markdown_cell("\n".join([
        "# A chapter", "", "Some text with $x^2$.", "",
        ":::{exercise} Prose only", ":label: ex-syn-prose", "Explain why.", ":::", "",
        ":::{solution} ex-syn-prose", ":class: dropdown", "SECRET-PROSE-TWO because.", ":::",
        "", "Text between the exercises stays.", "",
        "````{exercise} Squares", ":label: ex-syn-square", "Write `square(x)` returning x².", "````", "",
        "````{solution} ex-syn-square", ":class: dropdown", "SECRET-PROSE-ONE: multiply x by itself.",
        "```python", "x * x", "```", "````",
    ]))
    sol = new_code_cell("def square(x):\n    return x * x  # SECRET-CODE-ONE\n")
    sol.metadata["tags"] = ["solution"]
    sol.outputs = [nbformat.v4.new_output("stream", name="stdout", text="SECRET-OUTPUT\n")]
    sol2 = new_code_cell("assert square(3) == 9  # SECRET-CODE-TWO\n")
    sol2.metadata["tags"] = ["solution"]
    md2 = new_markdown_cell("```{exercise} Cubes\n:label: ex-syn-cube\nWrite `cube(x)`.\n```\n"
                            "```{solution} ex-syn-cube\n:class: dropdown\nSECRET-PROSE-THREE\n```")
    sol3 = new_code_cell("def cube(x):\n    return x ** 3  # SECRET-CODE-THREE\n")
    sol3.metadata["tags"] = ["solution", "hide-input"]
    return new_notebook(cells=[
        md, new_code_cell("value = 21 * 2\nprint(value)"), sol, sol2, md2, sol3,
        new_code_cell("print('after')"),
    ])


def _execute_to_first_stub(nb, cwd: Path):
    """Run the cells before the first stub (must not raise), then the stub (must raise NotImplementedError)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    idx = next((i for i, c in enumerate(nb.cells) if se.STUB_TAG in c.get("metadata", {}).get("tags", [])), None)
    prefix = nb.copy()
    prefix.cells = nb.cells[: len(nb.cells) if idx is None else idx]
    NotebookClient(prefix, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    if idx is None:
        return None
    with_stub = nb.copy()
    with_stub.cells = nb.cells[: idx + 1]
    with pytest.raises(CellExecutionError) as exc:
        NotebookClient(with_stub, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd)}}).execute()
    assert "NotImplementedError" in str(exc.value)
    return idx


def _text(nb) -> str:
    return nbformat.writes(nb)


def _check_no_solution_left(book_nb, student_nb):
    text = _text(student_nb)
    assert "{solution" not in text
    # A solution line that the chapter also uses outside its solutions (a shared loop header,
    # a call with the same arguments) is not solution text: only lines unique to solutions count.
    shared = {line.strip() for c in book_nb.cells
              if c.cell_type == "code" and "solution" not in c.get("metadata", {}).get("tags", [])
              for line in c.source.splitlines()}
    for c in book_nb.cells:
        if c.cell_type == "code" and "solution" in c.get("metadata", {}).get("tags", []):
            for line in c.source.splitlines():
                line = line.strip()
                if len(line) > 12 and not line.startswith(("import ", "from ", "#")) and line not in shared:
                    assert line not in text, f"solution line survived: {line!r}"
        if c.cell_type == "markdown":
            for start, end, name, arg, body in se._blocks(c.source):
                if name == "solution":
                    for line in body:
                        line = line.strip()
                        if len(line) > 12 and not line.startswith((":", "```", ":::")):
                            assert line not in text, f"solution prose survived: {line!r}"
    for c in student_nb.cells:
        if c.cell_type == "code":
            assert not c.get("outputs"), "outputs must be cleared"


def _check_stubs_match(book_nb, student_nb, stubs):
    exs = se.exercises(book_nb)
    stub_cells = [c for c in student_nb.cells if se.STUB_TAG in c.get("metadata", {}).get("tags", [])]
    labels = [s["label"] for s in stubs]
    assert len(stub_cells) == len(dict.fromkeys(labels))
    for s in stubs:
        assert s["label"] in exs, f"stub for {s['label']!r} has no {{exercise}} in the book"
        assert s["solution"].strip(), "a stub must replace a non-empty solution"
    book_text = "\n".join(c.source for c in book_nb.cells if c.cell_type == "markdown")
    for label in labels:
        assert f"{{solution}} {label}" in book_text, f"exercise {label} has no {{solution}} block in the book"
    for c in stub_cells:
        assert "raise NotImplementedError" in c.source


# --- synthetic -----------------------------------------------------------------------------------

def test_synthetic_transform():
    book = synthetic()
    student, stubs = se.make_student(book)
    text = _text(student)
    for secret in ("SECRET-PROSE-ONE", "SECRET-PROSE-TWO", "SECRET-PROSE-THREE", "SECRET-CODE-ONE",
                   "SECRET-CODE-TWO", "SECRET-CODE-THREE", "SECRET-OUTPUT"):
        assert secret not in text
    assert "Text between the exercises stays." in text and "Explain why." in text
    assert [s["label"] for s in stubs] == ["ex-syn-square", "ex-syn-square", "ex-syn-cube"]
    stub_cells = [c for c in student.cells if se.STUB_TAG in c.metadata.get("tags", [])]
    assert len(stub_cells) == 2  # the two cells of ex-syn-square make one stub
    assert "Write `square(x)` returning x²." in stub_cells[0].source
    assert "ex-syn-cube" in stub_cells[1].source and "hide-input" not in stub_cells[1].metadata["tags"]
    _check_no_solution_left(book, student)
    _check_stubs_match(book, student, stubs)
    assert se.make_student(book)[0] == student  # deterministic
    assert book.cells[2].metadata["tags"] == ["solution"]  # the input is not modified


def test_synthetic_executes_up_to_first_stub(tmp_path):
    student, _ = se.make_student(synthetic())
    assert _execute_to_first_stub(student, tmp_path) == 2


def test_strip_solutions_handles_fences():
    text = "a\n\n```{solution} ex-1\n:class: dropdown\nhidden\n```\nb\n\n:::::{solution} ex-2\n" \
           "::::{note}\ninner\n::::\n:::::\nc"
    out, labels = se.strip_solutions(text)
    assert labels == ["ex-1", "ex-2"]
    assert "hidden" not in out and "inner" not in out
    assert out.split() == ["a", "b", "c"]


def test_command_writes_edition_and_readme(tmp_path):
    nb_path = tmp_path / "book" / "01-syn.ipynb"
    nb_path.parent.mkdir()
    nbformat.write(synthetic(), nb_path)
    out = tmp_path / "student"
    assert se.main([str(nb_path), "--out", str(out)]) == 0
    written = list(out.rglob("*.ipynb"))
    assert len(written) == 1
    readme = (out / "README.md").read_text()
    assert "ex-syn-square" in readme and "NotImplementedError" in readme and "SECRET" not in readme
    assert se.main([str(tmp_path / "missing.ipynb"), "--out", str(out)]) == 2


# --- the real chapters ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_real_chapter(path, tmp_path):
    book = nbformat.read(path, as_version=4)
    student, stubs = se.make_student(book)
    _check_no_solution_left(book, student)
    _check_stubs_match(book, student, stubs)
    _execute_to_first_stub(student, path.parent)


def test_every_chapter_with_exercises_is_covered():
    for path in CHAPTERS:
        book = nbformat.read(path, as_version=4)
        n_code_solutions = sum("solution" in c.get("metadata", {}).get("tags", []) for c in book.cells)
        _, stubs = se.make_student(book)
        assert len(stubs) == n_code_solutions, path.name


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
