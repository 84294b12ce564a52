"""The student edition (scripts/student_edition.py): plain Jupyter notebooks that run anywhere.

On synthetic notebooks and on the real chapters:

* no solution text (code of `solution` cells, `{solution}` blocks, outputs) and no hidden test
  (cells tagged `autograde`) survives; every stub has a matching exercise and solution;
* the markdown, rendered by a CommonMark renderer (markdown-it-py, as Jupyter and Colab would),
  shows no MyST residue: no directive fences, roles, labels, options or unresolved glue;
* every student notebook runs, in a kernel where `myst_nb` cannot be imported, without error up
  to its first stub, which stops with the friendly NotImplementedError.

Each real chapter is executed once by the test command, by nbval (step 3 of scripts/test.sh). The
code a student kernel runs before a chapter's first stub is, cell for cell, the code nbval runs
from the book notebook (checked here on every chapter, with the glue import as the only change,
and the library checked free of `myst_nb`); the synthetic notebook and one real chapter
(`EXECUTED_CHAPTER`) are executed here in a kernel without `myst_nb`, up to their first stub.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("student_edition", ROOT / "scripts" / "student_edition.py")
se = importlib.util.module_from_spec(spec)
sys.modules.setdefault("student_edition", se)
spec.loader.exec_module(se)

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
BOOK = se.Book.load(ROOT)

# What MyST markup looks like once a CommonMark renderer has turned it into HTML.
RESIDUE = [
    (re.compile(r"\{[a-zA-Z][\w:-]*\}<code>"), "a role ({name}`...`)"),
    (re.compile(r"\{[a-zA-Z][\w:-]*\}`"), "a role ({name}`...`)"),
    (re.compile(r'class="language-\{'), "a directive fence (```{name})"),
    (re.compile(r"^:{3,}", re.M), "a colon fence (:::)"),
    (re.compile(r":{3,}\{"), "a colon fence (:::{name})"),
    (re.compile(r"^\s*<p>\([\w:.-]+\)=", re.M), "a label line ((label)=)"),
    (re.compile(r"<p>:(label|class|filter|nonumber|name):"), "a directive option"),
    (re.compile(r"\{glue"), "an unresolved glue"),
    (re.compile(r"\{(numref|prf:ref|ref|doc|eq|cite)\}"), "an unresolved reference"),
]


def render(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


def residue(student_nb) -> list[str]:
    found = []
    for k, c in enumerate(student_nb.cells):
        if c.cell_type != "markdown":
            continue
        html = render(c.source)
        for pattern, what in RESIDUE:
            m = pattern.search(html)
            if m:
                found.append(f"cell {k}: {what}: ...{html[max(0, m.start() - 60) : m.end() + 40]!r}")
    return found


def synthetic():
    md = new_markdown_cell(
        "\n".join(
            [
                "(ch-01)=",
                "# A chapter",
                "",
                "Some text with $x^2$, {numref}`ch-01` and {cite}`esteve2020large`.",
                "",
                ":::{admonition} In this chapter",
                ":class: tip",
                "After this chapter you can square.",
                ":::",
                "",
                "```{prf:theorem} R0: squares are positive [derived]",
                ":label: thm-syn",
                "",
                "For real $x$,",
                "",
                "$$",
                "x^2 \\ge 0.",
                "$$ (eq-syn-pos)",
                "```",
                "",
                "```{prf:proof}",
                "Cases.",
                "```",
                "",
                "By {eq}`eq-syn-pos` and {prf:ref}`thm-syn`, the value is "
                "{glue:text}`syn_value:.2f` ({glue:text}`syn_value`).",
                "",
                ":::{exercise} Prose only",
                ":label: ex-syn-prose",
                "Explain why.",
                ":::",
                "",
                ":::{solution} ex-syn-prose",
                ":class: dropdown",
                "SECRET-PROSE-TWO because.",
                ":::",
                "",
                "Text between the exercises stays.",
                "",
                "````{exercise} Squares",
                ":label: ex-syn-square",
                "Write `square(x)` returning x², see {ref}`ex-syn-prose`.",
                "````",
                "",
                "````{solution} ex-syn-square",
                ":class: dropdown",
                "SECRET-PROSE-ONE: multiply x by itself.",
                "```python",
                "x * x",
                "```",
                "````",
            ]
        )
    )
    setup = new_code_cell(
        "from myst_nb import glue\nvalue = 21 * 2\nprint(value)\nglue('syn_value', value, display=False)"
    )
    setup.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="42\n"),
        nbformat.v4.new_output(
            "display_data", data={"text/plain": "42"}, metadata={"scrapbook": {"name": "syn_value", "mime_prefix": ""}}
        ),
    ]
    fig = new_code_cell("print('a figure')")
    fig.metadata["mystnb"] = {
        "figure": {"caption": "A plot of $x^2$ ({numref}`ch-01`).", "name": "fig-syn"},
        "image": {"alt": "a parabola"},
    }
    sol = new_code_cell("def square(x):\n    return x * x  # SECRET-CODE-ONE\n")
    sol.metadata["tags"] = ["solution"]
    sol.outputs = [nbformat.v4.new_output("stream", name="stdout", text="SECRET-OUTPUT\n")]
    sol2 = new_code_cell("assert square(3) == 9  # SECRET-CODE-TWO\n")
    sol2.metadata["tags"] = ["solution"]
    test = new_code_cell("assert square(2) == 4  # SECRET-HIDDEN-TEST\n")
    test.metadata["tags"] = ["autograde", "remove-cell"]
    test.metadata["ltdl"] = {"autograde": {"exercise": "ex-syn-square", "points": 1}}
    md2 = new_markdown_cell(
        "```{exercise} Cubes\n:label: ex-syn-cube\nWrite `cube(x)`; see {numref}`fig-syn`.\n```\n"
        "```{solution} ex-syn-cube\n:class: dropdown\nSECRET-PROSE-THREE\n```\n\n"
        "```{bibliography}\n:filter: docname in docnames\n```"
    )
    sol3 = new_code_cell("def cube(x):\n    return x ** 3  # SECRET-CODE-THREE\n")
    sol3.metadata["tags"] = ["solution", "hide-input"]
    return new_notebook(cells=[md, setup, fig, sol, sol2, test, md2, sol3, new_code_cell("print('after')")])


def _book():
    book = se.Book(bib=BOOK.bib)
    book.chapters["ch-01"] = 1
    return book


def _env_without_myst_nb(tmp_path: Path) -> dict:
    """The environment of an interpreter in which ``import myst_nb`` fails (a shadowing module)."""
    blocker = tmp_path / "no_myst_nb"
    blocker.mkdir(exist_ok=True)
    (blocker / "myst_nb.py").write_text("raise ModuleNotFoundError(\"No module named 'myst_nb'\", name='myst_nb')\n")
    path = os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return dict(os.environ, PYTHONPATH=path)


def _execute_to_first_stub(nb, cwd: Path, tmp_path: Path):
    """Run the student notebook, with ``myst_nb`` unimportable, up to and including its first stub.

    The cells before the stub must run; the stub must stop with the friendly NotImplementedError.
    Returns the index of the stub (None when the notebook has none and ran to the end)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    check = new_code_cell(
        "try:\n    import myst_nb\nexcept ModuleNotFoundError:\n    pass\n"
        "else:\n    raise AssertionError('myst_nb must not be importable in this kernel')"
    )
    idx = next((i for i, c in enumerate(nb.cells) if se.STUB_TAG in c.get("metadata", {}).get("tags", [])), None)
    run = nb.copy()
    run.cells = [check] + nb.cells[: len(nb.cells) if idx is None else idx + 1]
    env = _env_without_myst_nb(tmp_path)
    client = NotebookClient(run, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    if idx is None:
        client.execute(env=env)
        return None
    with pytest.raises(CellExecutionError) as exc:
        client.execute(env=env)
    failed = [k for k, c in enumerate(run.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed == [len(run.cells) - 1], f"a cell before the first stub failed: {str(exc.value)[:2000]}"
    assert "NotImplementedError" in str(exc.value) and "This exercise is yours" in str(exc.value)
    return idx


def _text(nb) -> str:
    return nbformat.writes(nb)


def _check_no_solution_left(book_nb, student_nb):
    text = _text(student_nb)
    assert "{solution" not in text
    student_lines = {line.strip() for c in student_nb.cells for line in c.source.splitlines()}
    # A solution line that the chapter also uses outside its solutions (a shared loop header,
    # a call with the same arguments) is not solution text: only lines unique to solutions count.
    shared = {
        line.strip()
        for c in book_nb.cells
        if c.cell_type == "code"
        and "solution" not in c.get("metadata", {}).get("tags", [])
        and "autograde" not in c.get("metadata", {}).get("tags", [])
        for line in c.source.splitlines()
    }
    for c in book_nb.cells:
        tags = c.get("metadata", {}).get("tags", [])
        if c.cell_type == "code" and ("solution" in tags or "autograde" in tags):
            for line in c.source.splitlines():
                line = line.strip()
                if len(line) > 12 and not line.startswith(("import ", "from ", "#")) and line not in shared:
                    # whole lines: a formatted solution line ("for K in K_VALUES", inside a
                    # comprehension) may be a substring of a chapter line ("for K in K_VALUES:")
                    assert line not in student_lines, f"solution or hidden test line survived: {line!r}"
        if c.cell_type == "markdown":
            for _, _, name, _, body in se._blocks(c.source):
                if name == "solution":
                    for line in body:
                        line = line.strip()
                        if len(line) > 12 and not line.startswith((":", "```", ":::")):
                            assert line not in text, f"solution prose survived: {line!r}"
    inside = False  # gated solutions ({solution-start} ... {solution-end}) may span cells
    for c in book_nb.cells:
        if c.cell_type == "markdown":
            kept, inside_after, _ = se.cut_gated(c.source, inside)
            kept_lines = set(kept.splitlines())
            for line in c.source.splitlines():
                if line not in kept_lines and len(line.strip()) > 12 and not line.strip().startswith((":", "```")):
                    assert line.strip() not in text, f"gated solution prose survived: {line.strip()!r}"
            inside = inside_after
    for c in student_nb.cells:
        if c.cell_type == "code":
            assert not c.get("outputs"), "outputs must be cleared"
            assert "myst_nb" not in c.source, "the student edition must not need myst_nb"


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
        assert f"{{solution}} {label}" in book_text or f"{{solution-start}} {label}" in book_text, (
            f"exercise {label} has no {{solution}} or {{solution-start}} block in the book"
        )
    for c in stub_cells:
        assert se.STUB_RAISE in c.source and c.metadata["ltdl"]["exercise"] in labels


# --- synthetic -----------------------------------------------------------------------------------


def test_synthetic_transform():
    book = synthetic()
    student, stubs = se.make_student(book, _book(), "chapters/01-syn")
    text = _text(student)
    for secret in (
        "SECRET-PROSE-ONE",
        "SECRET-PROSE-TWO",
        "SECRET-PROSE-THREE",
        "SECRET-CODE-ONE",
        "SECRET-CODE-TWO",
        "SECRET-CODE-THREE",
        "SECRET-OUTPUT",
        "SECRET-HIDDEN-TEST",
    ):
        assert secret not in text
    assert "Text between the exercises stays." in text and "Explain why." in text
    assert [s["label"] for s in stubs] == ["ex-syn-square", "ex-syn-square", "ex-syn-cube"]
    stub_cells = [c for c in student.cells if se.STUB_TAG in c.metadata.get("tags", [])]
    assert len(stub_cells) == 2  # the two cells of ex-syn-square make one stub
    assert "Write `square(x)` returning x², see Exercise 1.1 (“Prose only”)." in stub_cells[0].source
    assert "ex-syn-cube" in stub_cells[1].source and "hide-input" not in stub_cells[1].metadata["tags"]
    assert residue(student) == []
    _check_no_solution_left(book, student)
    _check_stubs_match(book, student, stubs)
    assert se.make_student(book, _book(), "chapters/01-syn")[0] == student  # deterministic
    assert book.cells[3].metadata["tags"] == ["solution"]  # the input is not modified


def test_synthetic_markdown_is_plain_commonmark():
    student, _ = se.make_student(synthetic(), _book(), "chapters/01-syn")
    first = student.cells[0].source
    assert first.startswith("# A chapter")  # the label line is gone
    assert "Some text with $x^2$, Chapter 1 and Esteve et al. (2020)." in first
    assert "> **In this chapter**\n>\n> After this chapter you can square." in first
    assert "> **Theorem (R0: squares are positive)** *[derived]*" in first
    assert "> x^2 \\ge 0.\n> \\tag{1.1} $$" in first  # the equation keeps its number, as a MathJax tag
    assert "> **Proof.**" in first and "∎" in first
    assert "By (1.1) and Theorem “R0: squares are positive”, the value is 42.00 (42)." in first
    assert "> **Exercise 1.1: Prose only** (`ex-syn-prose`)" in first
    assert "> **Exercise 1.2: Squares** (`ex-syn-square`)" in first
    caption = student.cells[3]
    assert caption.cell_type == "markdown" and caption.source == "*Figure 1.1.* A plot of $x^2$ (Chapter 1)."
    last = next(c.source for c in student.cells if c.cell_type == "markdown" and "Cubes" in c.source)
    assert "see Figure 1.1." in last
    assert "- Carlos Esteve, Borjan Geshkovski, Dario Pighin, Enrique Zuazua (2020). *Large-time asymptotics" in last
    html = render(first)
    assert "<blockquote>" in html and "<strong>Theorem (R0: squares are positive)</strong>" in html


def test_unknown_markup_and_missing_glue_fail_clearly():
    nb = new_notebook(cells=[new_markdown_cell("See {glue:text}`nowhere`.")])
    with pytest.raises(se.StudentEditionError, match="nowhere"):
        se.make_student(nb, _book(), "chapters/01-syn")
    nb = new_notebook(cells=[new_markdown_cell("```{tikz}\nx\n```")])
    with pytest.raises(se.StudentEditionError, match="tikz"):
        se.make_student(nb, _book(), "chapters/01-syn")
    nb = new_notebook(cells=[new_markdown_cell("See {numref}`fig-nowhere`.")])
    with pytest.raises(se.StudentEditionError, match="fig-nowhere"):
        se.make_student(nb, _book(), "chapters/01-syn")
    # Code spans are left alone: `{numref}` written as code is not a reference.
    nb = new_notebook(cells=[new_markdown_cell("Write ``{numref}`ch-05` `` in a chapter.")])
    assert "``{numref}`ch-05` ``" in se.make_student(nb, _book(), "chapters/01-syn")[0].cells[0].source


def test_residue_check_can_fail():
    for bad in (
        "See {numref}`ch-01`.",
        ":::{note}\nx\n:::",
        "```{prf:theorem} T\nx\n```",
        "(a-label)=\n# T",
        ":label: x",
    ):
        assert residue(new_notebook(cells=[new_markdown_cell(bad)])), bad


def test_synthetic_executes_up_to_first_stub_without_myst_nb(tmp_path):
    student, _ = se.make_student(synthetic(), _book(), "chapters/01-syn")
    idx = _execute_to_first_stub(student, tmp_path, tmp_path)
    assert se.STUB_TAG in student.cells[idx].metadata["tags"]


def gated():
    """The form the chapters use for code solutions: the whole solution inside its dropdown."""
    md = new_markdown_cell(
        "```{exercise} Squares\n:label: ex-g-square\nDefine `square(x)`.\n```\n\n"
        "```{solution-start} ex-g-square\n:class: dropdown\n```\n"
        "SECRET-GATED-PROSE: multiply x by itself, as the cell below does."
    )
    sol = new_code_cell("def square(x):\n    return x * x  # SECRET-GATED-CODE\n")
    sol.metadata["tags"] = ["solution"]
    sol.outputs = [nbformat.v4.new_output("stream", name="stdout", text="SECRET-GATED-OUTPUT\n")]
    more = new_markdown_cell("SECRET-GATED-MORE prose between two solution cells.")
    sol2 = new_code_cell("print(square(4))  # SECRET-GATED-CODE-TWO\n")
    sol2.metadata["tags"] = ["solution"]
    end = new_markdown_cell("```{solution-end}\n```\n\nText after the solution stays.")
    return new_notebook(cells=[md, sol, more, sol2, end, new_code_cell("print('after')")])


def test_gated_solutions_are_cut_across_cells():
    book = gated()
    student, stubs = se.make_student(book, _book(), "chapters/01-syn")
    text = _text(student)
    assert "SECRET-GATED" not in text and "solution-start" not in text and "solution-end" not in text
    assert "Text after the solution stays." in text
    assert [s["label"] for s in stubs] == ["ex-g-square", "ex-g-square"]
    assert sum(se.STUB_TAG in c.metadata.get("tags", []) for c in student.cells) == 1
    assert residue(student) == []
    _check_no_solution_left(book, student)
    _check_stubs_match(book, student, stubs)
    bad = gated()
    bad.cells[3].metadata["tags"] = []  # an untagged code cell inside a gated solution
    with pytest.raises(se.StudentEditionError, match="inside a gated solution"):
        se.make_student(bad, _book(), "chapters/01-syn")
    with pytest.raises(se.StudentEditionError, match="without its solution-start"):
        se.cut_gated("```{solution-end}\n```", inside=False)


def test_strip_solutions_handles_fences():
    text = (
        "a\n\n```{solution} ex-1\n:class: dropdown\nhidden\n```\nb\n\n:::::{solution} ex-2\n"
        "::::{note}\ninner\n::::\n:::::\nc"
    )
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


def _student(path):
    book_nb = nbformat.read(path, as_version=4)
    student, stubs = se.make_student(book_nb, BOOK, path.relative_to(ROOT).with_suffix("").as_posix())
    return book_nb, student, stubs


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_real_chapter_is_plain_jupyter(path):
    book_nb, student, stubs = _student(path)
    _check_no_solution_left(book_nb, student)
    _check_stubs_match(book_nb, student, stubs)
    assert residue(student) == []


# Tags and markers with which nbval would not execute a cell (then nothing would run that code), or
# would let it raise where the student kernel would stop (nbclient honours the `raises-exception` tag,
# not nbval's comment).
NBVAL_SKIPS = ("skip-execution", "nbval-skip")
NBVAL_SKIP_MARKERS = ("# NBVAL_SKIP", "# NBVAL_RAISES_EXCEPTION")
EXECUTED_CHAPTER = "08-variable-width"  # the quickest chapter to run up to its first stub


def _code_before_first(cells, stop) -> list:
    """The code cells above the first cell for which ``stop(cell)`` holds (all of them if none does)."""
    out = []
    for c in cells:
        if c.cell_type == "code" and stop(c):
            break
        if c.cell_type == "code":
            out.append(c)
    return out


def student_runs_what_nbval_runs(book_nb, student) -> list[str]:
    """Why the student kernel, up to the first stub, would not run the code nbval runs (empty: it does).

    nbval executes every code cell of the book notebook; the student kernel runs the student
    edition's code cells above its first stub. Those must be the book's code cells above its first
    ``solution`` cell, in order, none removed (a hidden ``autograde`` cell there would be), none
    skipped by nbval, each with the same source but for ``from myst_nb import glue``, which becomes
    the stand-in; and every ``glue(...)`` call must fit the stand-in's signature."""
    problems = []
    book = _code_before_first(book_nb.cells, lambda c: se.SOLUTION_TAG in c.get("metadata", {}).get("tags", []))
    mine = _code_before_first(student.cells, lambda c: se.STUB_TAG in c.get("metadata", {}).get("tags", []))
    for c in book:
        tags = c.get("metadata", {}).get("tags", [])
        if se.AUTOGRADE_TAG in tags:
            problems.append(f"hidden test cell {c.get('id')!r} above the first exercise: the student edition drops it")
        if any(t in tags for t in NBVAL_SKIPS) or any(m in c.source for m in NBVAL_SKIP_MARKERS):
            problems.append(f"cell {c.get('id')!r} is skipped by nbval, or allowed to raise by nbval only")
    expected = [
        c.source.replace(se.GLUE_IMPORT, se.GLUE_STANDIN)
        for c in book
        if se.AUTOGRADE_TAG not in c.metadata.get("tags", [])
    ]
    got = [c.source for c in mine]
    if got != expected:
        diff = next(
            (k for k, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), min(len(got), len(expected))
        )
        problems.append(
            f"student code above the first stub differs from the book's at code cell {diff} "
            f"({len(got)} vs {len(expected)} cells): {(got[diff] if diff < len(got) else '<none>')[:200]!r}"
        )
    namespace: dict = {}
    exec(se.GLUE_STANDIN, namespace)  # the stand-in is a plain function definition
    signature = inspect.signature(namespace["glue"])
    for c in book:
        for node in ast.walk(ast.parse(c.source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "glue":
                call = ast.unparse(node)[:80]
                if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                    problems.append(f"{call}: unpacked arguments cannot be checked against the stand-in")
                    continue
                try:
                    signature.bind(*node.args, **{k.arg: k.value for k in node.keywords})
                except TypeError as exc:
                    problems.append(f"{call} does not fit the stand-in glue{signature}: {exc}")
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_real_chapter_runs_what_nbval_runs(path):
    book_nb, student, _ = _student(path)
    assert student_runs_what_nbval_runs(book_nb, student) == []


def test_runs_what_nbval_runs_can_fail():
    book = synthetic()
    student, _ = se.make_student(book, _book(), "chapters/01-syn")
    assert student_runs_what_nbval_runs(book, student) == []
    dropped = copy.deepcopy(student)  # a transformation that loses a cell above the first stub
    del dropped.cells[2]
    assert any("differs" in p for p in student_runs_what_nbval_runs(book, dropped))
    kept = copy.deepcopy(student)  # ... or keeps the myst_nb import
    kept.cells[1].source = book.cells[1].source
    assert any("differs" in p for p in student_runs_what_nbval_runs(book, kept))
    for tags in (["skip-execution"], ["autograde"]):
        bad = copy.deepcopy(book)
        bad.cells[2].metadata["tags"] = tags
        assert student_runs_what_nbval_runs(bad, student), tags
    bad = copy.deepcopy(book)
    bad.cells[2].source = "# NBVAL_RAISES_EXCEPTION\n" + bad.cells[2].source
    assert any("nbval" in p for p in student_runs_what_nbval_runs(bad, se.make_student(bad, _book(), "ch")[0]))
    bad = copy.deepcopy(book)
    bad.cells[1].source += "\nglue('k', 1, display=False, extra=2)"
    assert any("does not fit" in p for p in student_runs_what_nbval_runs(bad, student))


def test_library_imports_without_myst_nb(tmp_path):
    """Every module of ltdl imports where ``myst_nb`` cannot, and none names it (not even lazily)."""
    named = [p.relative_to(ROOT).as_posix() for p in (ROOT / "ltdl").rglob("*.py") if "myst_nb" in p.read_text()]
    assert named == [], f"the library must not need myst_nb (the student edition has none): {named}"
    code = (
        "import importlib, pkgutil, sys, ltdl\n"
        "assert ltdl.__file__.startswith(sys.argv[1]), ltdl.__file__\n"
        "for m in pkgutil.walk_packages(ltdl.__path__, 'ltdl.'):\n"
        "    importlib.import_module(m.name)\n"
        "assert 'myst_nb' not in sys.modules\n"
    )
    env = _env_without_myst_nb(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env["PYTHONPATH"]])
    proc = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "ltdl")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_one_real_chapter_runs_to_first_stub_without_myst_nb(tmp_path):
    path = ROOT / "chapters" / f"{EXECUTED_CHAPTER}.ipynb"
    assert path in CHAPTERS, f"{path.name} is gone: name another quick chapter in EXECUTED_CHAPTER"
    _, student, _ = _student(path)
    assert _execute_to_first_stub(student, path.parent, tmp_path) is not None, "the chapter has no stub"


def test_every_chapter_with_exercises_is_covered():
    for path in CHAPTERS:
        book = nbformat.read(path, as_version=4)
        n_code_solutions = sum("solution" in c.get("metadata", {}).get("tags", []) for c in book.cells)
        _, _, stubs = _student(path)
        assert len(stubs) == n_code_solutions, path.name


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
