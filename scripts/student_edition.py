#!/usr/bin/env python
"""Write the student edition of the book to _build/student/.

    python scripts/student_edition.py [--out _build/student] [chapters/NN-x.ipynb ...]

The student edition is plain Jupyter: it opens and renders in JupyterLab, Jupyter Notebook,
VS Code or Colab, which understand CommonMark and MathJax but not MyST. For every chapter
notebook (default: the chapters listed in _toc.yml):

* MyST markup becomes CommonMark + MathJax: theorems, proofs, exercises and admonitions become
  block quotes with a bold title; labels disappear; ``{numref}``, ``{prf:ref}``, ``{ref}``,
  ``{eq}`` and ``{doc}`` become readable text ("Chapter 5", "Figure 3.2", "(1.2)", titles);
  ``{cite}`` becomes "Author (year)" and ``{bibliography}`` the list of the works cited;
  ``{glue:text}`` becomes the value stored in the executed chapter (the committed notebook);
  labelled equations get a MathJax ``\\tag``; figure cells are followed by their caption;
* the chapter needs no ``myst_nb``: ``from myst_nb import glue`` becomes a small local ``glue``
  that only displays (the book uses it to carry numbers into the text);
* code cells tagged ``solution`` become stubs that stop with a friendly ``NotImplementedError``
  and repeat the exercise's prompt; ``{solution}`` blocks and gated solutions
  (``{solution-start}`` ... ``{solution-end}``, across cells) are removed; cells tagged
  ``autograde`` (hidden grading tests, see docs/grading.md) are removed;
* every output and execution count is cleared (outputs could show a solution).

A README.md for the class lists the chapters and their exercises.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
STUB_TAG = "exercise-stub"
SOLUTION_TAG = "solution"
AUTOGRADE_TAG = "autograde"
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
LABEL = re.compile(r"^\s*:label:\s*(\S+)")
OPTION = re.compile(r"^\s*:[\w-]+:")
TARGET = re.compile(r"^\s*\(([\w:.-]+)\)=\s*$")
ROLE = re.compile(r"\{(?P<role>[a-zA-Z][\w:-]*)\}`(?P<text>[^`]*)`")
EQ_LABEL = re.compile(r"\$\$[ \t]*\((?P<label>[\w:.-]+)\)[ \t]*$", re.M)
PROVENANCE = re.compile(r"\s*\[(source|follow-up abstract|authors' code|derived|reconstructed)\]\s*$")
GLUE_IMPORT = "from myst_nb import glue"
GLUE_STANDIN = (
    "def glue(name, value, display=True):  # the book's glue() carries numbers into its text\n"
    "    if display:\n"
    "        from IPython.display import display as _show\n"
    "        _show(value)"
)
PRF_NAMES = {
    "theorem": "Theorem",
    "proposition": "Proposition",
    "lemma": "Lemma",
    "corollary": "Corollary",
    "definition": "Definition",
    "remark": "Remark",
    "observation": "Observation",
    "example": "Example",
    "conjecture": "Conjecture",
    "criterion": "Criterion",
    "assumption": "Assumption",
    "algorithm": "Algorithm",
    "axiom": "Axiom",
    "property": "Property",
    "proof": "Proof",
}
ADMONITIONS = {"note", "tip", "warning", "important", "caution", "attention", "danger", "error", "hint", "seealso"}


class StudentEditionError(ValueError):
    """The chapter uses markup the student edition cannot translate (named in the message)."""


def _blocks(text: str):
    """Yield (start, end, name, arg, body_lines) of the top-level fenced directives (end exclusive)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        close = re.compile(r"^\s*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        yield i, min(j + 1, len(lines)), m.group("name"), m.group("arg").strip(), lines[i + 1 : j]
        i = j + 1


def _options(body: list[str]) -> tuple[dict, list[str]]:
    """Split a directive body into its leading ``:name: value`` options and the rest."""
    opts, k = {}, 0
    while k < len(body) and OPTION.match(body[k]):
        name, _, value = body[k].strip()[1:].partition(":")
        opts[name] = value.strip()
        k += 1
    return opts, body[k:]


def _prompt(body: list[str]) -> str:
    """Directive body without its options (``:label:``, ``:class:``)."""
    keep = [ln for ln in body if not OPTION.match(ln)]
    return "\n".join(keep).strip()


def exercises(nb) -> dict[str, dict]:
    """label -> {title, prompt} for every ``{exercise}`` in the notebook's markdown."""
    out = {}
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for _, _, name, arg, body in _blocks(cell.source):
            if name in ("exercise", "exercise-start"):
                label = next((LABEL.match(ln).group(1) for ln in body if LABEL.match(ln)), None)
                if label:
                    out[label] = {"title": arg, "prompt": _prompt(body)}
    return out


def strip_solutions(markdown: str) -> tuple[str, list[str]]:
    """Remove ``{solution}`` blocks; return the new text and the labels whose solution was removed."""
    lines = markdown.splitlines()
    drop = set()
    labels = []
    for start, end, name, arg, _ in _blocks(markdown):
        if name == "solution":
            drop.update(range(start, end))
            labels.append(arg)
    kept = "\n".join(ln for k, ln in enumerate(lines) if k not in drop)
    return re.sub(r"\n{3,}", "\n\n", kept).strip() + ("\n" if kept.strip() else ""), labels


# --- the book's cross-reference targets ------------------------------------------------------------


@dataclass
class Book:
    """What a reference in one chapter may point to elsewhere in the book."""

    chapters: dict[str, int] = field(default_factory=dict)  # label ch-NN -> chapter number
    doc_titles: dict[str, str] = field(default_factory=dict)  # docname -> title
    targets: dict[str, str] = field(default_factory=dict)  # label -> readable text
    bib: dict[str, dict] = field(default_factory=dict)  # key -> {cite, entry}

    @classmethod
    def load(cls, root: Path = ROOT) -> Book:
        book = cls()
        docs = _toc_docs(root)
        numbered = _toc_numbered(root)
        for n, doc in enumerate(numbered, start=1):
            m = re.match(r"chapters/(\d\d)-", doc)
            if m:
                book.chapters[f"ch-{m.group(1)}"] = n
        for doc in docs:
            path = root / (doc + ".ipynb")
            if path.is_file():
                nb = nbformat.read(path, as_version=4)
                book.add_notebook(doc, nb)
            elif (root / (doc + ".md")).is_file():
                book.add_markdown(doc, (root / (doc + ".md")).read_text())
        book.bib = _read_bib(root / "references.bib")
        return book

    def chapter_number(self, docname: str) -> int | None:
        m = re.search(r"(\d\d)-[^/]*$", docname)
        return self.chapters.get(f"ch-{m.group(1)}") if m else None

    def add_markdown(self, docname: str, text: str, number: int | None = None):
        """Titles of a page and of its labelled sections."""
        lines = text.splitlines()
        title = next((ln.lstrip("#").strip() for ln in lines if ln.startswith("# ")), docname)
        self.doc_titles[Path(docname).name] = title
        for k, ln in enumerate(lines):
            m = TARGET.match(ln)
            if m:
                head = next((h for h in lines[k + 1 : k + 4] if h.startswith("#")), None)
                if head:
                    text_ = head.lstrip("#").strip()
                    if head.startswith("# ") and number:
                        self.targets[m.group(1)] = f"Chapter {number}"
                    else:
                        where = f" (Chapter {number})" if number else ""
                        self.targets.setdefault(m.group(1), f"“{_plain(text_)}”{where}")

    def add_notebook(self, docname: str, nb):
        number = self.chapter_number(docname)
        text = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        self.add_markdown(docname, text, number)
        prefix = f"{number}." if number else ""
        n_fig = 0
        for c in nb.cells:
            fig = c.get("metadata", {}).get("mystnb", {}).get("figure", {}) if c.cell_type == "code" else {}
            if fig.get("name"):
                n_fig += 1
                self.targets[fig["name"]] = f"Figure {prefix}{n_fig}"
        n_ex = 0
        for _, _, name, arg, body in _all_blocks(text):
            opts, _ = _options(body)
            if name in ("exercise", "exercise-start"):
                n_ex += 1
                if "label" in opts:
                    self.targets[opts["label"]] = f"Exercise {prefix}{n_ex} (“{_plain(arg)}”)"
            elif name.startswith("prf:") and "label" in opts:
                kind = PRF_NAMES.get(name[4:], name[4:].title())
                title = PROVENANCE.sub("", arg)
                self.targets[opts["label"]] = f"{kind} “{_plain(title)}”" if title else kind
        for k, m in enumerate(EQ_LABEL.finditer(text), start=1):
            self.targets[m.group("label")] = f"({prefix}{k})"


def _plain(text: str) -> str:
    """A title for running text: roles dropped to their text, math kept."""
    return ROLE.sub(lambda m: m.group("text"), text).strip()


def _all_blocks(text: str):
    """Every fenced directive, nested ones included, in document order."""
    for start, end, name, arg, body in _blocks(text):
        yield start, end, name, arg, body
        yield from _all_blocks("\n".join(body))


def _toc(root: Path) -> dict:
    import yaml

    return yaml.safe_load((root / "_toc.yml").read_text())


def _toc_docs(root: Path) -> list[str]:
    toc = _toc(root)
    names = [toc["root"]] if toc.get("root") else []

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                names.append(e["file"])
            walk(e.get("sections"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    return names


def _toc_numbered(root: Path) -> list[str]:
    """Docnames of the numbered chapters, in order (parts with ``numbered``)."""
    out = []
    for part in _toc(root).get("parts", []) or []:
        if part.get("numbered"):
            out += [e["file"] for e in part.get("chapters", []) if "file" in e]
    return out


def _toc_chapters() -> list[Path]:
    return [ROOT / (n + ".ipynb") for n in _toc_docs(ROOT) if (ROOT / (n + ".ipynb")).is_file()]


def _read_bib(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    from pybtex.database import parse_file

    out = {}
    for key, entry in parse_file(str(path)).entries.items():
        people = entry.persons.get("author", [])
        last = [_latex_text(" ".join(p.last_names)) for p in people]
        who = (
            last[0]
            if len(last) == 1
            else (f"{last[0]} and {last[1]}" if len(last) == 2 else f"{last[0]} et al." if last else key)
        )
        year = entry.fields.get("year", "n.d.")
        names = ", ".join(_latex_text(" ".join(p.first_names + p.middle_names + p.last_names)) for p in people)
        title = _latex_text(entry.fields.get("title", ""))
        where = next(
            (
                _latex_text(entry.fields[f])
                for f in ("journal", "booktitle", "howpublished", "publisher")
                if f in entry.fields
            ),
            "",
        )
        extra = "arXiv:" + entry.fields["eprint"] if "eprint" in entry.fields else entry.fields.get("url", "")
        full = f"{names} ({year}). *{title}*." + (f" {where}." if where else "") + (f" {extra}." if extra else "")
        out[key] = {"cite": f"{who} ({year})", "entry": full}
    return out


def _latex_text(s: str) -> str:
    s = s.replace('{\\"u}', "ü").replace('\\"u', "ü").replace("{\\'e}", "é").replace("\\'e", "é")
    s = s.replace("--", "–")
    return re.sub(r"[{}]", "", s)


# --- MyST -> CommonMark ----------------------------------------------------------------------------


@dataclass
class Context:
    """What converting one chapter needs: the book's targets, the chapter's glue values, citations."""

    book: Book
    glue: dict[str, str]
    docname: str = ""
    cited: list[str] = field(default_factory=list)
    n_ex: int = 0

    @property
    def number(self) -> int | None:
        return self.book.chapter_number(self.docname)


def glue_values(nb) -> dict[str, str]:
    """key -> text/plain of every ``glue(...)`` output stored in the executed notebook."""
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            meta = output.get("metadata", {}).get("scrapbook")
            if meta:
                prefix = meta.get("mime_prefix", "")
                data = {k[len(prefix) :]: v for k, v in output.get("data", {}).items()}
                if "text/plain" in data:
                    out[meta["name"]] = data["text/plain"]
    return out


def _format_glue(text: str, spec: str) -> str:
    from ast import literal_eval

    try:
        value = literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if not spec:
        return str(value)
    if spec[-1] in "bcdoxX":
        value = int(value)
    elif spec[-1] in "eEfFgGn%":
        value = float(value)
    elif spec[-1] == "s":
        value = str(value)
    return format(value, spec)


def _role(m: re.Match, ctx: Context) -> str:
    role, text = m.group("role"), m.group("text")
    explicit = re.match(r"^(?P<title>.*\S)\s*<(?P<target>[^<>]+)>$", text, re.S)
    target = explicit.group("target") if explicit else text.strip()
    if role in ("glue", "glue:", "glue:text", "glue:md"):
        key, _, spec = text.rpartition(":") if ":" in text else (text, "", "")
        if key not in ctx.glue:
            raise StudentEditionError(
                f"{ctx.docname}: glue key {key!r} has no stored value (execute the chapter first)"
            )
        return _format_glue(ctx.glue[key], spec)
    if role in ("cite", "cite:p", "cite:t", "cite:ps", "cite:ts", "cite:alp"):
        keys = [k.strip() for k in text.split(",") if k.strip()]
        missing = [k for k in keys if k not in ctx.book.bib]
        if missing:
            raise StudentEditionError(f"{ctx.docname}: citation key(s) {missing} not in references.bib")
        ctx.cited += [k for k in keys if k not in ctx.cited]
        return "; ".join(ctx.book.bib[k]["cite"] for k in keys)
    if role == "doc":
        name = Path(target).name
        if explicit:
            return explicit.group("title")
        title = ctx.book.doc_titles.get(name)
        if title is None:
            raise StudentEditionError(f"{ctx.docname}: {{doc}} target {target!r} is not a page of the book")
        return f"“{_plain(title)}” (a page of the book)"
    if role in ("numref", "ref", "prf:ref", "eq", "any"):
        if explicit:
            return explicit.group("title")
        if target in ctx.book.chapters:
            return f"Chapter {ctx.book.chapters[target]}"
        if target not in ctx.book.targets:
            raise StudentEditionError(f"{ctx.docname}: unknown reference target {target!r} in {{{role}}}")
        return ctx.book.targets[target]
    if role in ("math",):
        return f"${text}$"
    if role in ("sub", "sup"):
        return f"<{role}>{text}</{role}>"
    if role in ("abbr", "term", "kbd", "code", "samp", "file", "command", "program"):
        return f"`{text}`" if role in ("kbd", "code", "samp", "file", "command", "program") else text
    raise StudentEditionError(f"{ctx.docname}: no plain-Markdown form for the role {{{role}}}")


INLINE = re.compile(r"\{(?P<role>[a-zA-Z][\w:-]*)\}`(?P<text>[^`]*)`|(?P<tick>`+)(?P<code>.+?)(?P=tick)", re.S)


def inline(text: str, ctx: Context) -> str:
    """Replace every MyST role outside code spans by plain text."""
    return INLINE.sub(lambda m: _role(m, ctx) if m.group("role") else m.group(0), text)


def _quote(title: str, body: str, after: str = "") -> str:
    lines = [f"**{title}**{after}", ""] + body.strip("\n").splitlines()
    return "\n".join("> " + ln if ln.strip() else ">" for ln in lines)


def _bibliography(ctx: Context) -> str:
    if not ctx.cited:
        return ""
    return "\n".join(f"- {ctx.book.bib[k]['entry']}" for k in ctx.cited)


def _directive(name: str, arg: str, body: list[str], ctx: Context, student: bool) -> str:
    opts, rest = _options(body)
    inner = markdown("\n".join(rest), ctx, student)
    title = inline(arg, ctx)
    if name == "solution":
        return "" if student else _quote("Solution", inner)
    if name in ("solution-start", "solution-end"):
        raise StudentEditionError(f"{ctx.docname}: {{{name}}} left after the gated solutions were cut")
    if name in ("exercise", "exercise-start"):
        ctx.n_ex += 1
        num = f"{ctx.number}.{ctx.n_ex}" if ctx.number else str(ctx.n_ex)
        label = f" (`{opts['label']}`)" if "label" in opts else ""
        return _quote(f"Exercise {num}: {title}" if title else f"Exercise {num}", inner, label)
    if name == "prf:proof":
        return _quote("Proof.", inner + "\n\n∎")
    if name.startswith("prf:"):
        kind = PRF_NAMES.get(name[4:], name[4:].title())
        tag = PROVENANCE.search(title)
        head = PROVENANCE.sub("", title)
        head = f"{kind} ({head})" if head else kind
        return _quote(head, inner, f" *[{tag.group(1)}]*" if tag else "")
    if name == "admonition":
        return _quote(title or "Note", inner)
    if name in ADMONITIONS:
        return _quote(title or name.title(), inner)
    if name == "math":
        label = opts.get("label")
        tag = f" \\tag{{{ctx.book.targets[label].strip('()')}}}" if label in ctx.book.targets else ""
        return f"$$\n{chr(10).join(rest).strip()}{tag}\n$$"
    if name == "bibliography":
        return _bibliography(ctx)
    if name in ("figure", "image"):
        alt = opts.get("alt", "")
        return f"![{alt}]({arg})\n\n{inner}"
    if name == "code-block" or name == "code":
        return f"```{arg}\n" + "\n".join(rest) + "\n```"
    raise StudentEditionError(f"{ctx.docname}: no plain-Markdown form for the directive {{{name}}}")


def markdown(text: str, ctx: Context, student: bool = True) -> str:
    """MyST Markdown -> CommonMark + MathJax (``student``: solutions dropped)."""
    lines = text.splitlines()
    out, pos = [], 0
    for start, end, name, arg, body in _blocks(text):
        out.append(_plain_lines(lines[pos:start], ctx))
        out.append(_directive(name, arg, body, ctx, student))
        pos = end
    out.append(_plain_lines(lines[pos:], ctx))
    joined = "\n".join(s for s in out if s is not None)
    return re.sub(r"\n{3,}", "\n\n", joined).strip("\n")


def _plain_lines(lines: list[str], ctx: Context) -> str:
    keep, fence = [], None
    for ln in lines:
        m = re.match(r"^\s*(`{3,}|~{3,})", ln)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and ln.strip().startswith(fence):
            fence = None
        if fence is None and (TARGET.match(ln) or ln.startswith("% ")):
            continue  # a MyST label or comment: nothing to show
        keep.append(ln)
    text = "\n".join(keep)
    if fence is None:
        text = EQ_LABEL.sub(lambda m: _eq_tag(m, ctx), text)
    return inline(text, ctx)


def _eq_tag(m: re.Match, ctx: Context) -> str:
    number = ctx.book.targets.get(m.group("label"), "").strip("()")
    return f"\\tag{{{number}}} $$" if number else "$$"


# --- the student notebook ---------------------------------------------------------------------------

STUB_RAISE = (
    'raise NotImplementedError("This exercise is yours: replace this line by your code '
    '(the exercise is at the top of this cell) and run the cell again.")'
)
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
TESTS_BEGIN, TESTS_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _stub_head(label: str | None, ex: dict | None, ctx: Context) -> str:
    title = inline((ex or {}).get("title") or "", ctx)
    prompt = (ex or {}).get("prompt") or "Write your solution here."
    prompt = markdown(prompt, ctx)
    head = f"# Exercise {label}" + (f": {title}" if title else "") if label else "# Exercise"
    comment = "\n".join("# " + ln if ln else "#" for ln in prompt.splitlines())
    return f"{head}\n{comment}\n# Replace the next line by your code.\n"


def _stub_source(label: str | None, ex: dict | None, ctx: Context) -> str:
    return _stub_head(label, ex, ctx) + STUB_RAISE + "\n"


def autograde_info(cell) -> dict | None:
    """{exercise, points} of a hidden grading cell (tag ``autograde``), else None."""
    if cell.cell_type != "code" or AUTOGRADE_TAG not in _tags(cell):
        return None
    info = cell.get("metadata", {}).get("ltdl", {}).get("autograde")
    if not isinstance(info, dict) or not isinstance(info.get("exercise"), str):
        raise StudentEditionError(
            f"cell {cell.get('id')!r} is tagged {AUTOGRADE_TAG!r} but has no metadata "
            '{"ltdl": {"autograde": {"exercise": "<label>", "points": <number>}}}'
        )
    points = info.get("points", 1)
    if not isinstance(points, (int, float)) or points <= 0:
        raise StudentEditionError(
            f"cell {cell.get('id')!r}: autograde points must be a positive number, got {points!r}"
        )
    return {"exercise": info["exercise"], "points": points}


def _figure_caption(cell, book: Book, ctx: Context) -> str | None:
    fig = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
    if not fig.get("name"):
        return None
    caption = inline(fig.get("caption", ""), ctx)
    return f"*{book.targets.get(fig['name'], 'Figure')}.* {caption}".strip()


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def cut_gated(text: str, inside: bool) -> tuple[str, bool, str | None]:
    """Remove gated solutions (``{solution-start}`` ... ``{solution-end}``, which may span cells).

    ``inside``: whether the cell starts inside a gated solution. Returns the text that stays,
    whether the cell ends inside a gated solution, and the label of the last ``solution-start``."""
    lines = text.splitlines()
    keep = [True] * len(lines)
    label = None
    pos = 0
    for start, end, name, arg, _ in _blocks(text):
        if inside:
            for k in range(pos, start):
                keep[k] = False
        if name == "solution-start":
            if inside:
                raise StudentEditionError(f"a solution-start ({arg}) inside another gated solution")
            inside, label = True, arg.strip()
        elif name == "solution-end":
            if not inside:
                raise StudentEditionError("a solution-end without its solution-start")
            inside = False
        if name in ("solution-start", "solution-end"):
            for k in range(start, end):
                keep[k] = False
        pos = end
    if inside:
        for k in range(pos, len(lines)):
            keep[k] = False
    kept = "\n".join(ln for k, ln in enumerate(lines) if keep[k])
    return kept, inside, label


def make_student(nb, book: Book | None = None, docname: str = "", glue: dict | None = None, for_grader: bool = False):
    """Student copy of a notebook and the list of its stubs ({label, solution, cell_id}).

    ``for_grader``: the nbgrader *source* notebook instead (docs/grading.md): each stub keeps the
    reference solution between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, and each hidden
    test cell stays, between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``, as a graded
    cell; ``nbgrader generate_assignment`` then makes the student assignment from it.
    """
    book = book if book is not None else Book()
    docname = docname or "notebook"
    if Path(docname).name not in book.doc_titles:
        book.add_notebook(docname, nb)
    ctx = Context(book=book, glue=glue_values(nb) if glue is None else glue, docname=docname)
    nb = copy.deepcopy(nb)
    exs = exercises(nb)
    cells, stubs = [], []
    n_tests: dict[str, int] = {}
    current = None  # label of the latest {exercise} or {solution} seen above
    gated = False  # inside a {solution-start} ... {solution-end} region (it may span cells)
    for cell in nb.cells:
        tags = _tags(cell)
        if cell.cell_type == "markdown":
            for _, _, name, arg, body in _blocks(cell.source):
                if name == "solution-start":
                    current = arg.strip() or current
                if name in ("exercise", "exercise-start"):
                    current = next((LABEL.match(ln).group(1) for ln in body if LABEL.match(ln)), current)
                elif name == "solution":
                    current = arg or current
            try:
                src, gated, _ = cut_gated(cell.source, gated)
            except StudentEditionError as exc:
                raise StudentEditionError(f"{docname}: {exc}") from None
            src = markdown(src, ctx, student=True)
            if not src.strip():
                continue
            cell.source = src
            cells.append(cell)
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            info = autograde_info(cell)
            if info is not None:
                if info["exercise"] not in exs:
                    raise StudentEditionError(
                        f"{docname}: hidden test for {info['exercise']!r}, which is no {{exercise}} of this chapter"
                    )
                if for_grader:  # hidden tests never reach the student; the grader re-inserts them
                    k = n_tests[info["exercise"]] = n_tests.get(info["exercise"], 0) + 1
                    test = nbformat.v4.new_code_cell(
                        f"# Hidden tests of exercise {info['exercise']}: the grader runs them.\n"
                        f"{TESTS_BEGIN}\n{cell.source.rstrip()}\n{TESTS_END}\n"
                    )
                    test.metadata["nbgrader"] = {
                        "grade": True,
                        "solution": False,
                        "locked": True,
                        "points": info["points"],
                        "schema_version": 3,
                        "grade_id": f"{info['exercise']}--test-{k}",
                    }
                    cells.append(test)
                continue
            if gated and SOLUTION_TAG not in tags:
                raise StudentEditionError(
                    f"{docname}: code cell {cell.get('id')!r} inside a gated solution "
                    f"({current}) is not tagged {SOLUTION_TAG!r}"
                )
            if SOLUTION_TAG in tags:
                stubs.append({"label": current, "solution": cell.source, "cell_id": cell.get("id")})
                if cells and STUB_TAG in _tags(cells[-1]) and len(stubs) > 1 and stubs[-2]["label"] == current:
                    if for_grader:  # one answer cell per exercise: join the solution cells
                        body = cells[-1].source.rsplit(SOLUTION_END, 1)[0].rstrip()
                        cells[-1].source = f"{body}\n\n{cell.source.rstrip()}\n{SOLUTION_END}\n"
                    continue  # one stub per exercise, even when its solution spans several cells
                if for_grader:
                    src = (
                        _stub_head(current, exs.get(current), ctx)
                        + f"{SOLUTION_BEGIN}\n{cell.source.rstrip()}\n{SOLUTION_END}\n"
                    )
                else:
                    src = _stub_source(current, exs.get(current), ctx)
                new = nbformat.v4.new_code_cell(src)
                new.metadata["tags"] = [STUB_TAG]
                new.metadata["ltdl"] = {"exercise": current}
                if for_grader:
                    new.metadata["nbgrader"] = {
                        "grade": False,
                        "solution": True,
                        "locked": False,
                        "schema_version": 3,
                        "grade_id": f"{current}--answer",
                    }
                if "id" in cell:  # keep the id of the solution cell it replaces: deterministic output
                    new["id"] = cell["id"]
                else:
                    new.pop("id", None)
                cells.append(new)
                continue
            if GLUE_IMPORT in cell.source:
                cell.source = cell.source.replace(GLUE_IMPORT, GLUE_STANDIN)
            cells.append(cell)
            caption = _figure_caption(cell, book, ctx)
            if caption:
                cap = nbformat.v4.new_markdown_cell(caption)
                cap["id"] = (cell.get("id") or "fig")[:50] + "-caption"
                cells.append(cap)
            continue
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return nb, stubs


README = """# {title}: student edition

These notebooks are the chapters of the book with the solutions taken out. They are plain
Jupyter notebooks: they open in JupyterLab, Jupyter Notebook, VS Code or Colab. Each exercise
whose answer is code has a cell that starts with the exercise and stops with

    NotImplementedError: This exercise is yours: replace this line by your code (...)

Replace that line by your code and run the notebook from the top. Everything before the first
exercise runs as it is; later cells may use what your solutions define.

## Setting up

In a copy of the book's repository (ask your lecturer where to get it):

    python -m venv .venv && . .venv/bin/activate
    pip install -e ".[live]"        # ltdl and JupyterLab
    jupyter lab

The notebooks need `ltdl` and its dependencies only; on Colab, upload the `ltdl` folder of the
repository next to the notebook or install the package as your lecturer says.

## Chapters and exercises

{table}

Generated by `scripts/student_edition.py`; do not edit these files by hand.
"""


def write_edition(paths: list[Path], out: Path, book: Book | None = None) -> list[dict]:
    book = book if book is not None else Book.load(ROOT)
    out.mkdir(parents=True, exist_ok=True)
    report = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)
        docname = rel.with_suffix("").as_posix()
        student, stubs = make_student(nb, book, docname)
        exs = exercises(nb)
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student, dest)
        report.append({"chapter": rel.as_posix(), "exercises": exs, "stubs": [s["label"] for s in stubs]})
    rows = []
    ctx = Context(book=book, glue={})
    for r in report:
        items = (
            "; ".join(
                f"`{lab}` {inline(ex['title'], ctx)}" + (" (code stub)" if lab in r["stubs"] else "")
                for lab, ex in r["exercises"].items()
            )
            or "none"
        )
        rows.append(f"- **{r['chapter']}**: {items}")
    import yaml

    title = "The book"
    cfg = ROOT / "_config.yml"
    if cfg.is_file():
        title = yaml.safe_load(cfg.read_text()).get("title", title)
    (out / "README.md").write_text(README.format(title=title, table="\n".join(rows)))
    return report


def notebook_paths(given: list[Path], default, prog: str) -> list[Path] | None:
    """The notebooks named on a command line (resolved), or ``default()`` when none is named;
    None, after one line on stderr, when a named notebook does not exist. Shared with
    scripts/make_assignments.py."""
    paths = [q.resolve() for q in given] or default()
    missing = [str(q) for q in paths if not q.is_file()]
    if missing:
        print(f"{prog}: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return None
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", type=Path, help="chapter notebooks (default: those in _toc.yml)")
    p.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    args = p.parse_args(argv)
    paths = notebook_paths(args.notebooks, _toc_chapters, "student_edition")
    if paths is None:
        return 2
    try:
        report = write_edition(paths, args.out)
    except StudentEditionError as exc:
        print(f"student_edition: {exc}", file=sys.stderr)
        return 1
    n = sum(len(r["stubs"]) for r in report)
    print(f"student edition: {len(report)} notebooks, {n} stubs -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
