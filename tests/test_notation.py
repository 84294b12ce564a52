"""One meaning per symbol, book-wide: the preface's notation table against the pages' definitions.

The preface (``chapters/00-preface.md``, section ``(notation)=``) has a table
``| symbol | meaning | use |``. Every symbol in it is *reserved*: no page may define it with
another meaning. This test reads the table and the markdown of every page (notebook markdown cells,
the preface's prose, the appendix) and looks for the places where a page *defines* a reserved
symbol, in the usual forms of mathematical prose:

* a phrase that names it: "where $s$ is the singular value", "$h$ denotes …", "$g$ the largest
  gradient entry", or a noun right before it: "singular value $s>0$", "the total displacement $m$";
* an equation that sets it: "let $q = \\gamma/N$", "with $W = T - \\Delta t/2$", "($\\alpha = 10$)".

A naming phrase must share a word (compared on its first five letters) with the table's meaning:
"the rate $\\mu$" is the table's $\\mu$, "singular value $s$" is not its $s$ (rescaled time). An
equation is checked by the symbol's *use* in the table: a ``fixed`` symbol may only be set by the
formula shown in the table (or to a number where the table gives its range, "$s$ in $[0,1]$");
a ``setting`` may be given a value built from numbers, other settings, indices and local letters,
but not from data, states or controls ("$m = \\frac1N\\sum_i(y_i - x_i)$" is a new meaning of $m$),
and is never a vector;
an ``object`` (a field, a loss, a target) may be set to anything, and only its naming phrases are
checked; an ``index`` is not checked.

This is a heuristic reading of prose, so it can miss a definition written in an unusual form
(then the rename list in the issue is the record), but every flagged phrase names the page, the
cell and the words, and the self-tests at the end show that it fails on planted bad definitions
and passes their correct forms. No notebook is executed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from test_chapter_text import chapter_files, reader_text  # tests/ is on sys.path under pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
PREFACE = CHAPTERS / "00-preface.md"

# --------------------------------------------------------------------------------------------
# LaTeX atoms: a base symbol with its subscript and superscript
# --------------------------------------------------------------------------------------------

# Commands that are not symbols (operators, spacing, fonts handled separately, delimiters).
_NOT_SYMBOLS = set(
    """frac dfrac tfrac sum prod int oint left right big Big bigg Bigg bigl bigr Bigl Bigr cdot cdots
    dots ldots vdots quad qquad sqrt log ln exp sinh cosh tanh sin cos tan lim liminf limsup inf sup
    max min arg in notin le ge leq geq ll gg lesssim gtrsim approx sim simeq equiv propto to mapsto
    leftarrow rightarrow leftrightarrow Rightarrow infty partial nabla top times pm mp circ setminus
    subset subseteq cup cap neq ne not mid vert Vert lvert rvert lVert rVert langle rangle colon
    searrow nearrow underbrace overbrace label begin end gathered aligned displaystyle textstyle
    square ast star prime dagger forall exists emptyset cdotp because therefore quad hfill limits
    nolimits det dim ker deg sign""".split()
)
_TEXT_ARG = re.compile(r"\\(?:text|mathrm|operatorname|textrm|textit|textbf|mbox|label|rm)\s*\{[^{}]*\}")
_RM_WORD = re.compile(r"\\rm\s+[A-Za-z]+")
_SPACING = re.compile(r"\\[,;:!> ]|~")
_DECOR = {
    "bar": "bar",
    "hat": "hat",
    "tilde": "tilde",
    "mathbf": "bf",
    "boldsymbol": "bf",
    "mathcal": "cal",
    "dot": "dot",
    "ddot": "ddot",
    "overline": "bar",
    "vec": "vec",
    "widehat": "hat",
    "widetilde": "tilde",
}


@dataclass(frozen=True)
class Atom:
    base: str  # "s", "\\alpha", "bar(bf(x))", "Delta t"
    sub: str | None = None
    sup: str | None = None
    start: int = 0  # offset of the atom in the math string
    end: int = 0

    def key(self) -> tuple:
        return (self.base, self.sub, self.sup)

    def show(self) -> str:
        s = self.base
        if self.sub is not None:
            s += "_" + self.sub
        if self.sup is not None:
            s += "^" + self.sup
        return s


def _group(s: str, i: int) -> tuple[str, int]:
    """The argument starting at s[i]: a braced group, a command or one character."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth, j = 0, i
        while j < len(s):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                return s[i + 1 : j], j + 1
            j += 1
        return s[i + 1 :], len(s)
    if s[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", s[i:])
        return m.group(0), i + len(m.group(0))
    return s[i], i + 1


def _norm(s: str) -> str:
    """Normal form of a small LaTeX expression, for comparing formulas."""
    s = _SPACING.sub("", s)
    s = re.sub(r"\\(?:left|right|big|Big|bigl|bigr|Bigl|Bigr)\b", "", s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = s.replace("\\Vert", "|").replace("\\|", "|").replace("\\lvert", "|").replace("\\rvert", "|")
    s = re.sub(r"\\mathbf\s*\{?\s*([A-Za-z])\s*\}?", r"\\mathbf{\1}", s)
    s = re.sub(r"\\prime\b", "'", s)
    s = re.sub(r"\s+", "", s)
    s = s.replace("{", "").replace("}", "")
    return s


def atoms(math: str) -> list[Atom]:
    """The symbols of a math string, in order, each with its subscript and superscript."""
    s = _TEXT_ARG.sub(lambda m: " " * len(m.group(0)), math)
    s = _RM_WORD.sub(lambda m: " " * len(m.group(0)), s)
    out: list[Atom] = []
    i = 0
    while i < len(s):
        c = s[i]
        start = i
        base = None
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+)", s[i:])
            if not m:
                i += 2
                continue
            name = m.group(1)
            i += len(m.group(0))
            if name in _DECOR:
                arg, i = _group(s, i)
                inner = atoms(arg)
                base = f"{_DECOR[name]}({inner[0].show() if inner else _norm(arg)})"
            elif name == "mathbb":
                _, i = _group(s, i)
                continue
            elif name in ("Delta", "delta"):
                m2 = re.match(r"\s*([A-Za-z])(?![A-Za-z])", s[i:])
                if m2 and (name == "Delta" or s[i : i + 1] in (" ", "")):
                    # \Delta t, \Delta x: one symbol; \delta u, \delta e: a variation of u, e
                    base = ("Delta " if name == "Delta" else "var ") + m2.group(1)
                    i += len(m2.group(0))
                else:
                    base = "\\" + name
            elif name == "ell" and re.match(r"\s*\^", s[i:]):
                _, i = _group(s, i + s[i:].index("^") + 1)  # \ell^p, \ell^1: a space
                continue
            elif name in _NOT_SYMBOLS:
                continue
            else:
                base = "\\" + name
        elif c.isalpha():
            if c in "LH" and re.match(r"[LH]\s*\^\s*\{?\s*(?:\d|p|\\infty)", s[i:]):
                i += 1
                _, i = _group(s, s.index("^", i) + 1)  # L^2, H^1, L^p: spaces
                continue
            base = c
            i += 1
        else:
            i += 1
            continue
        sub = sup = None
        while True:
            m = re.match(r"\s*([_^])", s[i:])
            if not m:
                break
            arg, i = _group(s, i + len(m.group(0)))
            if m.group(1) == "_":
                sub = _norm(arg)
            else:
                sup = _norm(arg)
        primes = re.match(r"'+", s[i:])
        if primes:  # t', g'': a prime is a superscript
            sup = (sup or "") + primes.group(0)
            i += len(primes.group(0))
        out.append(Atom(base, sub, sup, start, i))
    return out


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------

KINDS = ("setting", "object", "fixed", "index")
_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.S)
_STOP = set(
    """the a an of and or in on at to for with by its their this that these is are be been being as from
    into per each every all any one two some our we which where when then than same other only also not
    no here there it let write call denote denotes given such used use case first last new whose
    between over under both either more most less least very how what so has have had can may must
    without within about after before until above below while via like just still again even since
    because although unless whether against along across toward towards near through versus
    chapter section book page table""".split()
)


# words too general to tell two meanings apart ("the number of controls" is not "the number of neurons")
_GENERIC = {"numbe", "value", "quant", "param", "thing", "term"}


def _stems(text: str) -> set[str]:
    words = re.findall(r"[A-Za-z][A-Za-z-]*", _MATH.sub(" ", text))
    return {w.lower()[:5] for w in words if len(w) >= 3 and w.lower() not in _STOP} - _GENERIC


@dataclass
class Row:
    symbols: list[Atom]
    meaning: str
    use: str
    canonical: dict = field(default_factory=dict)  # atom key -> set of normalised right-hand sides

    @property
    def stems(self) -> set[str]:
        return _stems(self.meaning)


def parse_table(preface: str) -> list[Row]:
    """Rows of the ``| symbol | meaning | use |`` table of the preface's notation section."""
    start = preface.index("(notation)=")
    lines = preface[start:].split("\n")
    rows, in_table = [], False
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.strip().startswith("|") else None
        if cells and [c.lower() for c in cells] == ["symbol", "meaning", "use"]:
            in_table = True
            continue
        if not in_table:
            continue
        if cells is None:
            break
        if set("".join(cells)) <= set("-: "):
            continue
        if len(cells) != 3 or cells[2] not in KINDS:
            raise ValueError(f"notation table: row {line!r} must have 3 cells and a use in {KINDS}")
        symbols = [a for m in _MATH.finditer(cells[0]) for a in atoms(m.group(1) or m.group(2))]
        if not symbols:
            raise ValueError(f"notation table: no symbol in row {line!r}")
        row = Row(symbols, cells[1], cells[2])
        for m in _MATH.finditer(cells[1]):  # formulas "$X = RHS$" in the meaning define X
            for piece in _pieces(m.group(1) or m.group(2)):
                d = _equation(piece)
                if d and d[0].base in {a.base for a in symbols}:
                    row.canonical.setdefault(d[0].key(), set()).add(_norm(d[2]))
        rows.append(row)
    if not rows:
        raise ValueError("no '| symbol | meaning | use |' table after (notation)= in the preface")
    return rows


class Table:
    def __init__(self, rows: list[Row]):
        self.rows = rows
        self.by_key: dict[tuple, Row] = {}
        for row in rows:
            for a in row.symbols:
                if a.key() in self.by_key:
                    raise ValueError(f"notation table: {a.show()} appears in two rows")
                self.by_key[a.key()] = row

    def lookup(self, a: Atom) -> tuple[Row | None, Atom]:
        """The row of an atom: exact, else without its superscript (a power, a star), else
        without its subscript (an index), else its base."""
        for key in ((a.base, a.sub, a.sup), (a.base, a.sub, None), (a.base, None, a.sup), (a.base, None, None)):
            if key in self.by_key:
                return self.by_key[key], Atom(*key)
        return None, a


# --------------------------------------------------------------------------------------------
# Definitions in a page
# --------------------------------------------------------------------------------------------

_SEP = re.compile(r"(?<!\\),|(?<!\\);|\\qquad|\\quad|\\\\|&|\\text\s*\{[^{}]*\}|\\mathrm\s*\{[^{}]*\}")


def _pieces(math: str) -> list[str]:
    """A display split at its separators: "a = 1,\\qquad b = 2" gives two definitions."""
    depth, out, cur, i = 0, [], "", 0
    while i < len(math):
        ch = math[i]
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        m = _SEP.match(math, i) if depth <= 0 else None
        if m:
            out.append(cur)
            cur = ""
            i = m.end()
            continue
        cur += ch
        i += 1
    out.append(cur)
    return [p for p in out if p.strip()]


def _equation(piece: str) -> tuple[Atom, str, str] | None:
    """(symbol, left side, right side) when ``piece`` reads "X = RHS" or "X(args) = RHS" with a
    single symbol X on the left."""
    m = re.match(r"\s*(.+?)\s*(?::=|(?<![<>!\\])=(?!:)|\\equiv)\s*(.+)$", piece, re.S)
    if not m:
        return None
    lhs, rhs = m.group(1), m.group(2)
    lhs_bare = re.sub(r"\((?:[^()]|\([^()]*\))*\)\s*$", "", lhs).strip()  # X(s) = ...
    lhs_bare = re.sub(r"\^\s*\{?\s*\d\s*\}?\s*$", "", lhs_bare).strip()  # X^2 = ...: X
    a = atoms(lhs_bare)
    if len(a) != 1 or _norm(lhs_bare[a[0].end :]) or _norm(lhs_bare[: a[0].start]):
        return None
    rhs = re.split(r"(?<![<>!\\:])=(?!:)", rhs)[0]  # X = A = B: the first right side
    return a[0], _norm(lhs), rhs


_NUMBER = re.compile(
    r"^[-+(\s]*(?:\d[\d.]*|\\frac\{?\d+\}?\{?\d+\}?|\d+\s*/\s*\d+|\d*\s*\\cdot\s*\d+|\\pi|\\infty)"
    r"(?:\s*[-+*/^]\s*\{?[-+]?\d+[\d.]*\}?|\s*\\times\s*\d+)*[\s)]*$"
)


def _is_number(rhs: str) -> bool:
    r = _SPACING.sub("", rhs).strip().rstrip(".")
    if "," in r:  # a list of values: "1, 10, 100", "8,\\dots,20"
        return all(_is_number(x) or x.strip() in ("\\dots", "\\ldots", "") for x in r.split(","))
    r = re.sub(r"\^\{?\\circ\}?", "", r)
    return bool(_NUMBER.match(r)) or bool(re.fullmatch(r"[-+]?\d+(?:\.\d+)?\s*\\times\s*10\^\{?-?\d+\}?", r))


@dataclass
class Finding:
    page: str
    cell: str
    symbol: str
    phrase: str
    why: str

    def __str__(self) -> str:
        return f"{self.page} {self.cell}: {self.symbol} in {self.phrase!r}: {self.why}"


_WORD = r"[A-Za-z][A-Za-z'-]*"
# "where $s$ is the singular value", "$h$ denotes …", "($g$ the largest gradient entry, $n$ the …)"
_AFTER_VERB = re.compile(
    r"^[ \t]*(?:is|are|denotes|denote|stands[ \t\n]+for|being)[ \t\n]+(?:the|an|a)[ \t\n]+((?:"
    + _WORD
    + r"[ \t\n]+){0,3}"
    + _WORD
    + ")"
)
_AFTER_THE = re.compile(r"^[ \t]*(?:the|an|a)[ \t\n]+((?:" + _WORD + r"[ \t\n]+){0,3}" + _WORD + ")")
_AFTER_BARE = re.compile(r"^[ \t\n]+((?:" + _WORD + r"[ \t\n]+){0,2}" + _WORD + r")[ \t]*(?:[,.;:)(]|$)")
# "… with singular value $s>0$", "the total displacement $m$", "a variation $h$ with": a determiner
# and at most three words right before the symbol
_BEFORE = re.compile(
    r"(?:^|(?:^|[^A-Za-z'])(\S*)[ \t\n]+)(the|a|an|its|their|with)[ \t\n]+((?:"
    + _WORD
    + r"[ \t\n]+){0,2}"
    + _WORD
    + r")[ \t\n]*$",
    re.I,
)
# a noun phrase governed by one of these is not an apposition ("at a minimiser $J$ is", "of the residual $\delta$")
_PREPOSITIONS = set(
    "at of to from by on against along over under into onto than near through toward towards across between".split()
)
# what may follow a symbol that is being named: "the root $v$ of", "a variation $h$ with", "… $s$,"
_CONTINUATION = re.compile(r"^(?:[ \t\n]+(?:of|with|in|for|from|is|are|denotes|be|at|on)\b|[ \t]*[,.;:)])")
_SETTERS = {"let", "with", "where", "set", "write", "define", "and", "put", "so", "if", "when", "take"}
# words that describe or act on a symbol without naming it ("fixed $T$", "halving $\Delta t$")
_NOT_NAMES = set(
    """fixed small large smaller larger every each another same given plain whole lipschitz positive
    negative nonnegative finite infinite vanishing constant general whole full finer coarser short long
    longer shorter other new old initial final continuous discrete current previous next last first
    second third exact optimal smooth nonsmooth certain different own single equal moderate once lowest
    highest largest smallest biggest least most formula expansion equation identity solution condition
    factor order substitution substitute variables free itself sweep grid""".split()
)
# nouns that name what they precede even without an article: "of degree $q = 2$", "a penalty $\gamma\,(...)$"
_MEASURES = set("""degree power rate weight width dimension penalty step horizon accuracy""".split())


def _content(words: str) -> list[str]:
    return [w for w in re.findall(_WORD, words) if w.lower() not in _STOP and len(w) >= 3]


def page_units(path: Path) -> list[tuple[str, str]]:
    """(cell name, markdown) for a notebook (markdown cells, named by index and id) or a page."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return [
            (
                f"cell {i} (id {c.get('id', '?')})",
                "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
            )
            for i, c in enumerate(nb["cells"])
            if c["cell_type"] == "markdown"
        ]
    text = path.read_text(encoding="utf-8")
    if path.name == PREFACE.name:  # the table defines the symbols; the preface's prose is checked
        a = text.find("(notation)=")
        b = text.find("\n## ", a + 1) if a >= 0 else -1
        if a >= 0:
            text = text[:a] + "\n" * text[a : (b if b >= 0 else len(text))].count("\n") + (text[b:] if b >= 0 else "")
    return [("page", text)]


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def definitions(table: Table, text: str) -> list[tuple[str, str, str]]:
    """(symbol, phrase, why) for every definition of a reserved symbol that contradicts the table."""
    prose = reader_text(text).replace("\0", " ")
    found = []
    for m in _MATH.finditer(prose):
        math = m.group(1) if m.group(1) is not None else m.group(2)
        before = prose[max(0, m.start() - 80) : m.start()]
        before = re.split(r"[.:;!?\n]\s|\$", before)[-1]  # same sentence, no other math
        after = prose[m.end() : m.end() + 120]
        where = f"line {_line_of(text, m.start())}"
        # 1. Equations "X = RHS".
        for piece in _pieces(math):
            eq = _equation(piece)
            if not eq:
                continue
            atom, lhs, rhs = eq
            if any(a.key() == atom.key() for a in atoms(rhs)):
                continue  # an identity such as $W^k(T\hat w) = T\,W^k(\hat w)$, not a definition
            row, _ = table.lookup(atom)
            if row is None or row.use in ("object", "index"):
                continue
            canon = set().union(*row.canonical.values())
            vector = re.match(r"\s*\(", rhs) and "," in rhs
            # a fixed symbol takes a number only where the table gives its range ("$s$ in $[0,1]$")
            numbers_ok = row.use != "fixed" or re.search(r"\bin \$[\[(]", row.meaning)
            if _norm(rhs) in canon or (_is_number(rhs) and numbers_ok and not vector):
                continue
            phrase = f"{where}: ${math.strip()}$"
            if row.use == "fixed":
                found.append(
                    (
                        atom.show(),
                        phrase,
                        f"fixed symbol set to {_norm(rhs)!r}; the table allows "
                        f"{sorted(canon) or 'no other definition'}: {row.meaning}",
                    )
                )
                continue
            # a setting: numbers, settings, indices and local letters only, never a vector
            rhs_atoms = atoms(rhs)
            bad = [a for a in rhs_atoms if (table.lookup(a)[0] is not None and table.lookup(a)[0].use in ("object",))]
            if bad or vector:
                found.append(
                    (
                        atom.show(),
                        phrase,
                        f"the setting is given a value built from "
                        f"{', '.join(a.show() for a in bad) or 'a vector'}: a new meaning? table: {row.meaning}",
                    )
                )
        # 2. Naming phrases around a math span that is a single reserved symbol (maybe "X = ...").
        first = atoms(math)
        if not first:
            continue
        head = first[0]
        rest = _norm(math[head.end :])
        mm = re.search(r"(?:^|[^A-Za-z-])(" + _WORD + r")[ \t\n]*$", before)
        if mm and mm.group(1).lower() in _MEASURES and not _norm(math[: head.start]) and rest.startswith("("):
            row, _ = table.lookup(head)
            if row is not None and row.use != "index" and not head.base.startswith("var ") and head.sup is None:
                if not (_stems(mm.group(1)) & row.stems):
                    found.append(
                        (
                            head.show(),
                            f"{where}: {mm.group(1)} ${math.strip()}$",
                            f"named {mm.group(1)!r}, but the table reserves it for: {row.meaning}",
                        )
                    )
                continue
        single = rest == "" or re.match(r"^(?:=|:=|>|<|\\ge|\\le|\\geq|\\leq|\\in|\\neq|\\ne)", rest)
        if not single or _norm(math[: head.start]):
            continue
        row, _ = table.lookup(head)
        if row is None or row.use == "index" or head.base.startswith("var "):
            continue
        if head.sup is not None and not re.fullmatch(r"\*|\\dagger|\\ast|'+|[+-]|\\pm", head.sup):
            continue  # a power ($T^{-2}$, $e^{-\mu t}$): the symbol is used, not named
        if head.sub is not None and re.fullmatch(r"[-+\d.]+", head.sub):
            continue  # an instance ($v_{512}$)
        if rest == "=":
            continue  # a value glued from the computation ("$\mu =$ {glue}"), not a definition
        if rest and not re.match(r"^(?:=|:=|>|\\ge|\\geq)", rest):
            continue
        phrases = []
        lead = re.search(r"(?:\(|,|\bwhere|\bwith|\band|\blet|\bcall|\bwrite)[ \t]*$", before)
        if rest == "":
            ma = _AFTER_VERB.match(after)
            if ma and not (lead or re.match(r"\s*(?:denotes|denote|stands)", after)):
                ma = None
            ma = ma or (_AFTER_THE.match(after) if lead else None)
            if not ma and lead and re.search(r"\bwith[ \t]*$", before):
                ma = _AFTER_BARE.match(after)  # "with $\xi$ standard normal"
                if ma:
                    ws = re.findall(_WORD, ma.group(1))
                    if any(w.lower() in _STOP | _NOT_NAMES for w in ws) or re.search(r"(ing|ed|ly)$", ws[-1].lower()):
                        ma = None
            if ma and _content(ma.group(1)):
                phrases.append(("after", ma.group(1)))
        if mm and mm.group(1).lower() in _MEASURES:
            phrases.append(("before", mm.group(1)))
        mb = _BEFORE.search(before)
        if mb and (rest or _CONTINUATION.match(after)) and not before.rstrip().endswith("-"):
            governor = (mb.group(1) or "").lower().strip("(")
            words = re.findall(_WORD, mb.group(3))
            last = words[-1] if words else ""
            if (
                governor not in _PREPOSITIONS
                and last
                and not last.endswith(("'s", "'"))
                and not any(w.lower() in _STOP | _SETTERS for w in words)
                and last.lower() not in _NOT_NAMES
                and not re.search(r"(ing|ed|ly)$", last.lower())
            ):
                words = [w for w in words if w.lower() not in _NOT_NAMES]
                if _content(" ".join(words)):
                    phrases.append(("before", " ".join(words)))
        for side, ph in phrases:
            if _stems(ph) and not (_stems(ph) & row.stems):  # only general words ("value"): no verdict
                shown = f"{ph} ${math.strip()}$" if side == "before" else f"${math.strip()}$ {ph}"
                found.append(
                    (head.show(), f"{where}: {shown}", f"named {ph!r}, but the table reserves it for: {row.meaning}")
                )
    return found


def check_pages(table: Table, pages: list[Path]) -> list[Finding]:
    out = []
    for path in pages:
        for cell, text in page_units(path):
            for symbol, phrase, why in definitions(table, text):
                out.append(Finding(path.name, cell, symbol, phrase, why))
    return out


def book_table() -> Table:
    return Table(parse_table(PREFACE.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


def test_table_parses_and_is_complete():
    table = book_table()
    # the symbols the book cannot do without are reserved
    for sym in ("T", "s", "\\alpha", "\\gamma", "\\varepsilon", "q", "m", "h", "W", "\\rho", "\\kappa", "\\omega"):
        assert any(a.base == sym for r in table.rows for a in r.symbols), f"{sym} missing from the notation table"


def test_no_reserved_symbol_is_defined_with_another_meaning():
    table = book_table()
    findings = check_pages(table, chapter_files(CHAPTERS))
    assert not findings, (
        "a reserved symbol of the preface's notation table is defined with another meaning "
        "(rename it, or correct the table):\n  " + "\n  ".join(map(str, findings))
    )


# --------------------------------------------------------------------------------------------
# Self-tests: the check fails on planted bad definitions and passes their correct forms
# --------------------------------------------------------------------------------------------

_TOY_TABLE = """
(notation)=
## Notation

| symbol | meaning | use |
|---|---|---|
| $s$ | rescaled time $s = t/T$ in $[0,1]$ | fixed |
| $t$ | time (depth) in $[0,T]$ | setting |
| $T$ | final time (horizon) | setting |
| $\\alpha$ | a positive factor in the definition of homogeneity, $f(x,\\alpha u) = \\alpha f(x,u)$ | fixed |
| $q$ | power of the distance in an $\\ell^p$ loss | setting |
| $m$ | dimension of the labels | setting |
| $x$, $x_i$ | a state; the input $x_i$ | object |
| $y$, $y_i$ | a label | object |
| $\\mu$ | exponential rate of the distance to the turnpike | object |
| $g$ | the largest gradient entry | object |
| $N$ | number of data points | setting |
| $\\gamma$ | weight of the running tracking cost | setting |
| $i$ | index of a data point | index |

## Next
"""


def _toy(text: str) -> list[tuple[str, str, str]]:
    return definitions(Table(parse_table(_TOY_TABLE)), text)


def test_self_test_flags_bad_definitions():
    bad = {
        "Along a singular pair with singular value $s>0$ the mode decays.": "s",
        "where $s$ is the singular value of $B$.": "s",
        "The final cost ($\\alpha = 10$) pulls the state away.": "\\alpha",
        "Write the running cost with $q = \\gamma/N$.": None,  # a setting from settings: allowed by form ...
        "the mode weight $q = \\gamma/N$ enters": "q",  # ... but named otherwise: flagged
        "With $m = \\frac1N\\sum_i(y_i - x_i)$ the optimum is explicit.": "m",
        "Take the total displacement $m$ of the point.": "m",
        "the substitution $s = \\alpha t$ gives": "s",
        "For a variation $g$ with $g(0) = 0$ we get": "g",
        "the margin along $m = (1,1)$ is positive": "m",
    }
    for text, sym in bad.items():
        hits = _toy(text)
        if sym is None:
            continue
        assert any(h[0] == sym for h in hits), f"not flagged: {text!r} -> {hits}"


def test_self_test_passes_good_definitions():
    good = [
        "the rescaled time $s = t/T$ and the horizon $T = 16$",
        "with $s = t/T$ and at $s = 1$",
        "for every $\\alpha>0$ the field satisfies $f(x,\\alpha u) = \\alpha f(x,u)$",
        "the rate $\\mu$ of the distance, $\\mu = \\sqrt{\\gamma/N}$",
        "the loss power $q = 2$ (squared)",
        "labels of dimension $m = 1$",
        "the largest gradient entry $g$",
        "where $g$ is the largest gradient entry",
        "with $\\gamma = 1$ and $t = T/2$",
        "$\\delta u$ a small variation of the control",
        "for every $T$, at $t = 3$",
    ]
    for text in good:
        assert _toy(text) == [], (text, _toy(text))


def test_self_test_reports_page_and_cell(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "markdown", "id": "abc", "metadata": {}, "source": "Here $s$ denotes a singular value."}
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    page = tmp_path / "99-x.ipynb"
    page.write_text(json.dumps(nb))
    findings = check_pages(Table(parse_table(_TOY_TABLE)), [page])
    assert (
        len(findings) == 1 and "99-x.ipynb cell 0 (id abc)" in str(findings[0]) and "singular value" in str(findings[0])
    )


def test_self_test_table_errors():
    import pytest

    with pytest.raises(ValueError, match="use in"):
        parse_table(_TOY_TABLE.replace("| fixed |\n| $t$", "| sometimes |\n| $t$", 1))
    with pytest.raises(ValueError, match="two rows"):
        Table(parse_table(_TOY_TABLE.replace("| $N$ |", "| $s$ |")))
