"""Checks of the chapters' text, without executing anything.

a. No typed measured numbers: the markdown of every chapter and page may contain decimals, powers
   of ten, percentages and approximate values ("≈ 3.7", "about 0.2") only inside glue roles, code,
   or as an exact phrase of the allow-list ``tests/typed_numbers_allow.yml`` (settings, each with
   its reason). Measured numbers are glued from the executed notebook.
b. nbval coverage: a cell excluded from the output comparison (``nbval-ignore-output``,
   ``raises-exception``, ``skip-execution`` or the equivalent ``# NBVAL_...`` markers) must say why
   in its metadata (``nbval_ignore_reason``) and may only print timings, widgets or provenance.
c. The book stands alone: no reference to the team's private notes in the book, the library, the
   docs or the scripts.
d. Chapter structure: label ``(ch-NN)=`` above the title, an ``In this chapter`` objectives box,
   and no admonition whose title sits on the directive line (it would be fused into the text).
e. Short cells: no code cell longer than ``MAX_CELL_LINES`` lines. A longer cell is a protocol
   that belongs in ``ltdl`` (named, documented, unit-tested, callable from the CLI), not in a page.

Every check is a function of a directory, so that the self-tests at the end can plant a violation
in a temporary copy and show that the check fails on it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ALLOW_FILE = ROOT / "tests" / "typed_numbers_allow.yml"
# Pages written by scripts from measured data, not by hand: their numbers are generated.
GENERATED_PAGES = {"claims.md", "performance.md"}


# --------------------------------------------------------------------------------------------
# Reading the text a reader sees
# --------------------------------------------------------------------------------------------


def chapter_files(chapters: Path) -> list[Path]:
    """Hand-written pages of the book: every notebook and every markdown page but generated ones."""
    files = sorted(chapters.glob("*.ipynb")) + sorted(p for p in chapters.glob("*.md") if p.name not in GENERATED_PAGES)
    return files


def markdown_units(path: Path) -> list[tuple[str, str]]:
    """(location, markdown text) pairs: one per markdown cell of a notebook, one per .md page."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return [
            (f"cell {i}", "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for i, c in enumerate(nb["cells"])
            if c["cell_type"] == "markdown"
        ]
    return [("page", path.read_text(encoding="utf-8"))]


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")


def _drop_code_blocks(text: str, blank_fences: bool = True) -> str:
    """Blank fenced code blocks (offsets kept); keep MyST directives (``{name}``): their title
    line and content are prose."""
    out, stack = [], []  # stack of (fence, is_code)
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if m:
            fence, info = m.group(1), m.group(2).strip()
            if stack and not info and fence[0] == stack[-1][0][0] and len(fence) >= len(stack[-1][0]):
                stack.pop()
                out.append("\0" * len(line))
                continue
            if not (stack and stack[-1][1]):  # a fence inside a code block is just code
                is_code = not info.startswith("{") or info.split("}")[0] in (
                    "{code",
                    "{code-block",
                    "{code-cell",
                    "{sourcecode",
                )
                stack.append((fence, is_code))
                # A directive's line carries its title, which the reader sees: keep the title,
                # blank the fence (its backticks would pair with others as inline code).
                fence_end = m.start(2)
                blank = fence_end if blank_fences else 0
                out.append("\0" * len(line) if is_code else "\0" * blank + line[blank:])
                continue
        out.append("\0" * len(line) if any(code for _, code in stack) else line)
    return "\n".join(out)


_ROLE = re.compile(r"\{[A-Za-z0-9_:+-]+\}`[^`]*`")  # {glue:text}`key:.3g`, {cite}`...`, ...
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)  # `code`, ``code``
_URL = re.compile(r"https?://\S+|\]\([^)]*\)")  # addresses and link targets
_OPTION = re.compile(r"^\s*:[a-z][a-z-]*:.*$", re.M)  # directive options (:label:, :class:)
_LABEL = re.compile(r"^\s*\([^)\s]+\)=\s*$", re.M)  # (ch-05)=
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# A reference to one of the authors' examples ("Example 4.1", "Examples 4.2 and 4.3") is a name.
_EXAMPLE_NAME = re.compile(r"\b[Ee]xamples?\s+(?:\d\.\d|A\.\d)(?:\s*(?:,|–|-|and|or|to)\s*(?:\d\.\d|A\.\d))*")


def _mask(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda m: "\0" * len(m.group(0)), text)


def reader_text(markdown: str) -> str:
    """The markdown with everything that is not prose or math blanked out (offsets kept)."""
    text = _drop_code_blocks(markdown)
    for pattern in (_COMMENT, _ROLE, _INLINE_CODE, _URL, _OPTION, _LABEL):
        text = _mask(text, pattern)
    return text


# --------------------------------------------------------------------------------------------
# a. Typed measured numbers
# --------------------------------------------------------------------------------------------

_SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺"
NUMBER_PATTERNS = {
    "power of ten": re.compile(
        r"(?<![\d.])10\s*\^\s*(?:\{\s*[-−+]?\s*\d+\s*\}|[-−+]?\d+)|(?<![\d.])10[" + _SUP + "]+"
        r"|(?<![\w.])\d+(?:\.\d+)?[eE][-+]?\d+\b"
    ),
    "percentage": re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*(?:\\?%|per\s?cent\b)"),
    # "≈ 3.7", "about 47 s", "\\approx -0.80"; not a coefficient of a formula ("\\approx 2\\varepsilon").
    "approximate value": re.compile(
        r"(?:≈|\\approx|\\simeq|\babout|\bapproximately)\s*\$?\s*[-−+(]{0,2}\s*\$?\s*\d+(?:\.\d+)?"
        r"(?![\d.])(?!\s*\\(?!cdot|times|dots|ldots)[A-Za-z])"
    ),
    "decimal": re.compile(r"(?<![\w.\\])\d+\.\d+"),
}


def load_allow_list(path: Path = ALLOW_FILE) -> list[dict]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(data.get("allowed", []))


def phrase_pattern(phrase: str) -> re.Pattern:
    """An allow-list phrase matches exactly, except that a line break may stand for a space."""
    return re.compile(r"\s+".join(re.escape(word) for word in phrase.split()))


def typed_number_hits(markdown: str, allowed_phrases: list[str]) -> list[tuple[str, str]]:
    """(kind, phrase in context) for each measured-looking number outside glue, code and allow-list."""
    text = reader_text(markdown)
    for phrase in sorted(allowed_phrases, key=len, reverse=True):
        text = _mask(text, phrase_pattern(phrase))
    text = _mask(text, _EXAMPLE_NAME)
    hits, taken = [], set()
    for kind, pattern in NUMBER_PATTERNS.items():
        for m in pattern.finditer(text):
            span = set(range(m.start(), m.end()))
            if span & taken:
                continue  # already reported as a more specific kind (10^{-3}, not also "3")
            taken |= span
            a, b = max(0, m.start() - 30), min(len(text), m.end() + 30)
            context = markdown[a:b].replace("\n", " ").strip()
            hits.append((kind, f"{m.group(0).strip()!r} in '…{context}…'"))
    return hits


def typed_numbers_in_file(path: Path, allowed_phrases: list[str]) -> list[str]:
    return [
        f"{path.name}, {where}: {kind} {phrase}"
        for where, md in markdown_units(path)
        for kind, phrase in typed_number_hits(md, allowed_phrases)
    ]


# --------------------------------------------------------------------------------------------
# b. nbval-ignore policy
# --------------------------------------------------------------------------------------------

EXCLUDING_TAGS = {"nbval-ignore-output", "raises-exception", "skip-execution"}
EXCLUDING_MARKERS = ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP", "# NBVAL_RAISES_EXCEPTION")
_TIMING_LINE = re.compile(r"\d(?:\.\d+)?\s*(?:s|ms|min|seconds?|minutes?)\b|\b(?:wall|elapsed|run ?time|time)\b", re.I)
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _output_texts(cell: dict) -> list[str]:
    texts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            texts.append("".join(out.get("text", "")))
        for mime in ("text/plain", "text/markdown"):
            if mime in out.get("data", {}):
                texts.append("".join(out["data"][mime]))
    return texts


def _only_timing_widget_or_provenance(cell: dict) -> bool:
    source = "".join(cell["source"])
    if "provenance(" in source:
        return True
    outputs = cell.get("outputs", [])
    if any(_WIDGET_MIME in out.get("data", {}) for out in outputs):
        return True
    lines = [ln for t in _output_texts(cell) for ln in t.splitlines() if ln.strip()]
    if any(out.get("output_type") == "error" for out in outputs):
        return False
    return all(_TIMING_LINE.search(ln) for ln in lines)


def code_cells(path: Path) -> list[tuple[int, dict, str]]:
    """(index among all cells, cell, source text) of every code cell of a notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = enumerate(nb["cells"])
    return [(i, c, "".join(c["source"])) for i, c in cells if c["cell_type"] == "code"]


def nbval_exclusions(path: Path) -> list[str]:
    """Cells excluded from the output comparison without a stated reason or with result outputs."""
    bad = []
    for i, cell, source in code_cells(path):
        tags = set(cell.get("metadata", {}).get("tags", [])) & EXCLUDING_TAGS
        markers = {m for m in EXCLUDING_MARKERS if m in source}
        if not (tags or markers):
            continue
        what = ", ".join(sorted(tags | markers))
        reason = cell.get("metadata", {}).get("nbval_ignore_reason")
        if not (isinstance(reason, str) and reason.strip()):
            bad.append(f"{path.name}, cell {i} ({what}): no metadata 'nbval_ignore_reason'")
        if not _only_timing_widget_or_provenance(cell):
            first = next((ln for t in _output_texts(cell) for ln in t.splitlines() if ln.strip()), "")
            bad.append(
                f"{path.name}, cell {i} ({what}): its output is not a timing, widget or "
                f"provenance (first line: {first[:80]!r})"
            )
    return bad


# --------------------------------------------------------------------------------------------
# c. References to documents the reader does not have
# --------------------------------------------------------------------------------------------

PRIVATE_REFERENCES = re.compile(
    r"project[ _-]notes|paper[-_ ]notes|design\.md|beyond[-_]notes|toolchain[-_]notes"
    r"|\b(?:in|of|from|see) the notes\b|\bnotes\s*\(?§",
    re.I,
)
SCANNED_FOR_REFERENCES = ("chapters", "ltdl", "docs", "scripts", "README.md")
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".ipynb",
    ".yml",
    ".yaml",
    ".txt",
    ".sh",
    ".cfg",
    ".toml",
    ".mplstyle",
    ".json",
    ".html",
    ".css",
    ".js",
    "",
}


def private_references(root: Path) -> list[str]:
    hits = []
    for name in SCANNED_FOR_REFERENCES:
        base = root / name
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if path.suffix not in TEXT_SUFFIXES or "__pycache__" in path.parts:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for lineno, line in enumerate(text.splitlines(), 1):
                for m in PRIVATE_REFERENCES.finditer(line):
                    hits.append(f"{path.relative_to(root)}:{lineno}: {m.group(0)!r} in '{line.strip()[:120]}'")
    return hits


# --------------------------------------------------------------------------------------------
# d. Chapter structure
# --------------------------------------------------------------------------------------------

_TITLED_ADMONITION = re.compile(
    r"^\s*(?::{3,}|`{3,})\{(?:note|tip|warning|important|hint|caution|attention|danger|error|"
    r"seealso)\}[ \t]*\S.*$",
    re.M,
)
_OBJECTIVES = re.compile(
    r"^\s*(?::{3,}|`{3,})\{admonition\}\s*In this chapter\s*\n(?:\s*:[a-z-]+:.*\n)*?"
    r"\s*:class:\s*tip\b",
    re.M,
)


def structure_problems(path: Path) -> list[str]:
    units = markdown_units(path)
    problems = []
    for where, md in units:
        for m in _TITLED_ADMONITION.finditer(_drop_code_blocks(md, blank_fences=False)):
            problems.append(
                f"{path.name}, {where}: title on the directive line, use "
                f"':::{{admonition}} Title' + ':class: ...' ({m.group(0).strip()!r})"
            )
    if path.suffix != ".ipynb":
        return problems
    number = re.match(r"(\d\d)-", path.name)
    if not number:
        return problems
    label = f"(ch-{number.group(1)})="
    lines = [ln.strip() for ln in (units[0][1] if units else "").splitlines() if ln.strip()]
    if len(lines) < 2 or lines[0] != label or not lines[1].startswith("# "):
        got = lines[:2] if lines else "no markdown cell"
        problems.append(
            f"{path.name}, first markdown cell: must start with the label line "
            f"{label!r} right above the '# Title' (found {got!r})"
        )
    if not any(_OBJECTIVES.search(md) for _, md in units):
        problems.append(f"{path.name}: no ':::{{admonition}} In this chapter' box with ':class: tip'")
    return problems


# --------------------------------------------------------------------------------------------
# e. Short cells
# --------------------------------------------------------------------------------------------

MAX_CELL_LINES = 40  # a screenful: what a reader can take in without scrolling inside one cell


def long_cells(path: Path) -> list[str]:
    """Code cells of a notebook with more than ``MAX_CELL_LINES`` source lines."""
    out = []
    for i, _, src in code_cells(path):
        n = len(src.splitlines())
        if n > MAX_CELL_LINES:
            first = src.strip().splitlines()[0][:60]
            out.append(f"{path.name}, cell {i} ({first!r}...): {n} lines > {MAX_CELL_LINES}")
    return out


# --------------------------------------------------------------------------------------------
# The checks on the book
# --------------------------------------------------------------------------------------------

BOOK_FILES = chapter_files(ROOT / "chapters")
NOTEBOOKS = [p for p in BOOK_FILES if p.suffix == ".ipynb"]


def test_allow_list_entries_have_reasons_and_are_used():
    entries = load_allow_list()
    assert entries, "the allow-list is empty or unreadable"
    bad = [
        e
        for e in entries
        if not (isinstance(e, dict) and str(e.get("phrase", "")).strip() and str(e.get("reason", "")).strip())
    ]
    assert not bad, f"allow-list entries need a 'phrase' and a 'reason': {bad}"
    texts = [reader_text(md) for p in BOOK_FILES for _, md in markdown_units(p)]
    unused = [e["phrase"] for e in entries if not any(phrase_pattern(e["phrase"]).search(t) for t in texts)]
    assert not unused, f"allow-list entries that no page uses any more (remove them): {unused}"


@pytest.mark.parametrize("path", BOOK_FILES, ids=lambda p: p.name)
def test_no_typed_measured_numbers(path):
    phrases = [e["phrase"] for e in load_allow_list()]
    hits = typed_numbers_in_file(path, phrases)
    assert not hits, (
        "measured-looking numbers typed by hand (glue them from the executed notebook, or add a "
        "setting with its reason to tests/typed_numbers_allow.yml):\n  " + "\n  ".join(hits)
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbval_exclusions_are_justified(path):
    bad = nbval_exclusions(path)
    assert not bad, "cells excluded from the nbval comparison:\n  " + "\n  ".join(bad)


def test_no_references_to_private_notes():
    hits = private_references(ROOT)
    assert not hits, (
        "references to documents the reader does not have (the book must carry "
        "what it needs, e.g. in chapters/appendix-reconstruction.md):\n  " + "\n  ".join(hits)
    )


@pytest.mark.parametrize("path", BOOK_FILES, ids=lambda p: p.name)
def test_chapter_structure(path):
    problems = structure_problems(path)
    assert not problems, "\n  ".join(["chapter structure:"] + problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_are_short(path):
    long = long_cells(path)
    assert not long, "code cells too long (move the protocol into ltdl):\n  " + "\n  ".join(long)


def test_every_numbered_chapter_is_checked():
    numbers = sorted(p.name[:2] for p in NOTEBOOKS if re.match(r"\d\d-", p.name))
    assert numbers and numbers[0] == "01", numbers


# --------------------------------------------------------------------------------------------
# Self-tests: each check fails on a planted violation
# --------------------------------------------------------------------------------------------


def _write_notebook(path: Path, cells: list[dict]) -> Path:
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(source: str, tags=(), reason=None, outputs=()) -> dict:
    meta = {"tags": list(tags)}
    if reason is not None:
        meta["nbval_ignore_reason"] = reason
    return {"cell_type": "code", "metadata": meta, "source": source, "execution_count": 1, "outputs": list(outputs)}


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


GOOD_HEAD = (
    "(ch-03)=\n# A chapter\n\n:::{admonition} In this chapter\n:class: tip\n- one\n:::\n\n"
    ":::{admonition} Running this chapter\n:class: note\nIt runs.\n:::\n"
)


@pytest.mark.parametrize(
    "planted, kind",
    [
        ("The slope is 0.505 here.", "decimal"),
        ("The error drops to $10^{-12}$.", "power of ten"),
        ("It drops to 10⁻¹² and stays.", "power of ten"),
        ("A tolerance of 1e-3 was used.", "power of ten"),
        ("The accuracy is 93 % on the test set.", "percentage"),
        ("The accuracy is $93\\%$.", "percentage"),
        ("The targets are at $\\bar x^+\\approx (-1.2, 0.55)$.", "approximate value"),
        ("It takes about 47 s.", "approximate value"),
        ("The rate is ≈ 3 per unit time.", "approximate value"),
        ("See §2.6 of somewhere.", "decimal"),
    ],
)
def test_typed_numbers_are_detected(planted, kind):
    hits = typed_number_hits(planted, [])
    assert kind in [k for k, _ in hits], hits


@pytest.mark.parametrize(
    "clean",
    [
        "The slope is {glue:text}`r2_slope` and {glue:text}`r2_err:.1e`.",
        "Run `ltdl.train(tol=1e-12)` with ``x = 0.5``.",
        "```python\nres = run(lr=0.001)\n```\nDone.",
        "With $T = 15$, $K = 20$ layers and 4 points.",
        "Examples 4.1 and A.1 differ from Example 4.2.",
        "For small $\\varepsilon$, $E\\approx 2\\varepsilon\\log(1/\\varepsilon)$.",
        "See [the docs](https://example.org/v1.2/page.html).",
        "```{prf:theorem} R2 [derived]\n:label: thm-r2\nThe error is $O(1/T)$.\n```",
    ],
)
def test_glue_code_settings_and_names_pass(clean):
    assert typed_number_hits(clean, []) == []


def test_prose_inside_directives_is_scanned():
    planted = "```{prf:theorem} R2 [derived]\n:label: thm-r2\nThe slope is 1.97.\n```"
    assert [k for k, _ in typed_number_hits(planted, [])] == ["decimal"]
    two = "```{prf:remark} A\nText.\n```\n\nThe rate is 2.5 here.\n\n```{prf:remark} B\nMore.\n```"
    assert [k for k, _ in typed_number_hits(two, [])] == ["decimal"]
    titled = "```{prf:theorem} R6: decay at rate 3.38 [derived]\n:label: thm-r6\nText.\n```"
    assert [k for k, _ in typed_number_hits(titled, [])] == ["decimal"]


def test_allow_list_phrase_is_exact(tmp_path):
    nb = _write_notebook(tmp_path / "03-x.ipynb", [_md("We use $\\lambda = 0.1$ and get 0.12.")])
    hits = typed_numbers_in_file(nb, ["$\\lambda = 0.1$"])
    assert len(hits) == 1 and "'0.12'" in hits[0] and "cell 0" in hits[0], hits
    assert typed_numbers_in_file(nb, ["$\\lambda = 0.1$", "get 0.12"]) == []
    assert typed_number_hits("errors below\n$10^{-9}$ are ignored", ["errors below $10^{-9}$"]) == []
    assert typed_number_hits("errors under $10^{-9}$", ["errors below $10^{-9}$"]) != []


def test_nbval_policy_detects_planted_violations(tmp_path):
    nb = _write_notebook(
        tmp_path / "02-x.ipynb",
        [
            _md(GOOD_HEAD),
            _code("print(table)", tags=["nbval-ignore-output"], outputs=[_stream("E = 0.4672\n")]),
            _code("print(table)", tags=["nbval-ignore-output"], reason="noisy", outputs=[_stream("E = 0.4672\n")]),
            _code("# NBVAL_IGNORE_OUTPUT\nprint(x)", outputs=[_stream("x = 3\n")]),
            _code("ltdl.provenance()", tags=["nbval-ignore-output"], reason="commit and date"),
            _code("print(t)", tags=["nbval-ignore-output"], reason="a timing", outputs=[_stream("wall time 12.3 s\n")]),
            _code("print(1)", outputs=[_stream("1\n")]),
            _code(
                "HTML(player)",
                tags=["nbval-ignore-output"],
                reason="random element id",  # a scripted player is no exception: the book's are widgets
                outputs=[
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {
                            "text/html": "<div id='a81f'></div><script>new Animation('a81f')</script>",
                            "text/plain": "<IPython.core.display.HTML object>",
                        },
                    }
                ],
            ),
            _code(
                "HTML(table)",
                tags=["nbval-ignore-output"],
                reason="html",
                outputs=[
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {
                            "text/html": "<table><tr><td>0.4672</td></tr></table>",
                            "text/plain": "<IPython.core.display.HTML object>",
                        },
                    }
                ],
            ),
        ],
    )
    bad = nbval_exclusions(nb)
    cells = sorted({int(re.search(r"cell (\d+)", b).group(1)) for b in bad})
    assert cells == [1, 2, 3, 7, 8], bad
    assert any("cell 1" in b and "nbval_ignore_reason" in b for b in bad), bad


def test_private_references_are_detected(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "ltdl").mkdir()
    (tmp_path / "chapters" / "x.md").write_text("As derived in the project notes §3.5.\n")
    (tmp_path / "ltdl" / "m.py").write_text('"""Conventions (paper-notes §2.3)."""\n')
    (tmp_path / "README.md").write_text("Clean text.\n")
    hits = private_references(tmp_path)
    assert len(hits) == 2 and any("x.md:1" in h for h in hits), hits
    (tmp_path / "chapters" / "x.md").write_text("Derived in the appendix.\n")
    (tmp_path / "ltdl" / "m.py").write_text('"""Conventions: mean over points."""\n')
    assert private_references(tmp_path) == []


def test_structure_detects_planted_violations(tmp_path):
    good = _write_notebook(tmp_path / "03-good.ipynb", [_md(GOOD_HEAD)])
    assert structure_problems(good) == []
    wrong_label = _write_notebook(tmp_path / "04-wrong.ipynb", [_md(GOOD_HEAD)])  # says ch-03
    assert any("(ch-04)=" in p for p in structure_problems(wrong_label))
    no_box = _write_notebook(tmp_path / "05-nobox.ipynb", [_md("(ch-05)=\n# Title\n\nText.\n")])
    assert any("In this chapter" in p for p in structure_problems(no_box))
    fused = _write_notebook(
        tmp_path / "06-fused.ipynb",
        [_md(GOOD_HEAD.replace("03", "06") + "\n:::{note} Running this chapter\nText.\n:::\n")],
    )
    assert any("title on the directive line" in p for p in structure_problems(fused))
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n```{warning} Careful\nText.\n```\n")
    assert structure_problems(page)


def test_long_cells_are_detected(tmp_path):
    ok = "\n".join(f"x{i} = {i}" for i in range(MAX_CELL_LINES))
    nb = _write_notebook(tmp_path / "07-x.ipynb", [_md(GOOD_HEAD), _code(ok), _code(ok + "\nx = 1")])
    assert [p.split(",")[1].strip() for p in long_cells(nb)] == ["cell 2 ('x0 = 0'...): 41 lines > 40"]
