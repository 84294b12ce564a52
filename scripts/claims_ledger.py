#!/usr/bin/env python
"""Generate chapters/claims.md, "What the code shows", from data, never by hand.

    python scripts/claims_ledger.py [--claims docs/claims.yml] [--reports _build/reports] [--out chapters/claims.md]

Inputs:
- docs/claims.yml: per result (R1-R7, the reproduced examples, ...) the chapter, the label of the
  box that states it, a one-sentence statement, and its checks: the quantity in words, the
  prediction, the tolerance with its reason, and the measured value (a glue key of the chapter, or
  a literal value with the reason why it is not glued); plus the unit tests that exercise it.
- The chapter notebooks: the provenance tag is READ from the title of the labelled box (its trailing
  ``[source]``, ``[authors' code]``, ``[derived]`` or ``[reconstructed]``: one source of truth with
  the badge on the chapter page); measured values are read from the stored glue outputs; the check
  cell of a value is the code cell that glues it, and its link goes to the anchor of the section
  that holds that cell (the section's ``(label)=`` if it has one, else its heading's id) unless the
  check names an anchor with ``at:``.
- The junit XML reports of the last test run (_build/reports/unit.xml, _build/reports/nbval.xml):
  a result whose check cell raised (an assert failed) or whose tests failed is FAIL (red card,
  listed at the top); one whose check cells all ran but printed a number other than the stored one
  (nbval: "Cell outputs differ") is CHANGED (amber card, listed at the top): the claim held on the
  machine of the last run, but the book shows a number that run did not reproduce, a defect of the
  book (``scripts/check_portability.py`` names the path that changes it); with no report for it,
  "not run".

Loud failures (exit code 2, one message per problem): a glue key that the chapter does not glue
(the message lists the keys it does glue, closest first), a missing chapter, a missing label, a
title without a known provenance tag, a malformed claims file.
"""

from __future__ import annotations

import argparse
import difflib
import html
import importlib.util
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLUE_PREFIX = "application/papermill.record/"


def _repo_url() -> str:
    """``repository.url`` of _config.yml (the one source); "" while the repository is not public."""
    import yaml

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "_config.yml").read_text())
    return ((cfg.get("repository") or {}).get("url") or "").rstrip("/")


REPO_URL = _repo_url()
STATUS_CLASS = {"pass": "claim-pass", "FAIL": "claim-fail", "CHANGED": "claim-changed", "not run": "claim-notrun"}
STATUSES = tuple(STATUS_CLASS)
CHANGED_MESSAGE = "Cell outputs differ"  # nbval's message when a cell ran but printed something else


def _ext():
    """The book's Sphinx extension: the list of provenance tags and the title-to-text conversion."""
    spec = importlib.util.spec_from_file_location("ltdl_html", ROOT / "_ext" / "ltdl_html.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


EXT = _ext()


class ClaimsError(ValueError):
    """A problem with docs/claims.yml or with what it refers to (one or several messages)."""

    def __init__(self, problems):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# docs/claims.yml --------------------------------------------------------------------------------
def _str(d: dict, key: str, where: str, problems: list, required: bool = True) -> None:
    v = d.get(key)
    if v is None and not required:
        return
    if not isinstance(v, str) or not v.strip():
        problems.append(f"{where}: '{key}' must be a non-empty string, got {v!r}")


def load_claims(path: Path) -> list[dict]:
    import yaml

    data = yaml.safe_load(Path(path).read_text())
    rows = data.get("results") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ClaimsError(f"{path}: expected a mapping with a non-empty list 'results'")
    problems, seen = [], set()
    for r in rows:
        if not isinstance(r, dict):
            problems.append(f"{path}: every entry of 'results' must be a mapping, got {r!r}")
            continue
        where = f"{path}: result {r.get('id', '?')}"
        for key in ("id", "chapter", "label", "statement"):
            _str(r, key, where, problems)
        _str(r, "title", where, problems, required=False)
        if r.get("id") in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(r.get("id"))
        r.setdefault("tests", [])
        if not isinstance(r["tests"], list) or not all(isinstance(t, str) for t in r["tests"]):
            problems.append(f"{where}: 'tests' must be a list of pytest node ids")
        checks = r.get("checks")
        if not isinstance(checks, list) or not checks:
            problems.append(f"{where}: 'checks' must be a non-empty list")
            continue
        for k, c in enumerate(checks):
            cw = f"{where}, check {k + 1}"
            if not isinstance(c, dict):
                problems.append(f"{cw}: must be a mapping")
                continue
            for key in ("quantity", "predicted", "tolerance"):
                _str(c, key, cw, problems)
            for key in ("unit", "at"):
                _str(c, key, cw, problems, required=False)
            if ("glue" in c) == ("value" in c):
                problems.append(f"{cw}: give exactly one of 'glue' (a key the chapter glues) or 'value' (+ 'reason')")
            elif "glue" in c:
                _str(c, "glue", cw, problems)
            else:
                _str(c, "value", cw, problems)
                _str(c, "reason", cw, problems)
    if problems:
        raise ClaimsError(problems)
    return rows


# the chapter ------------------------------------------------------------------------------------
PRF = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{prf:(?P<type>[\w-]+)\}[ \t]*(?P<title>[^\n]*)\n"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.M | re.S,
)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LABEL = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=\s*$")


def heading_id(text: str) -> str:
    """The HTML id Sphinx gives a section with this MyST heading (docutils make_id of its text)."""
    from docutils.nodes import make_id

    t = re.sub(r"\{[a-z:]+\}`([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", text)  # {role}`text <target>` -> text
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", t)  # [text](url) -> text
    t = t.replace("$", "").replace("`", "").replace("**", "").replace("*", "").replace("_", " ")
    return make_id(t)


def read_chapter(nb_path: Path) -> dict:
    """Glued values (key -> value, code cell), prf boxes (label -> type, title) and, per code cell,
    the anchor of the section that holds it."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    glue, prf, cell_anchor, cell_heading = {}, {}, {}, {}
    anchor, head, code_index = "", "", -1
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for m in PRF.finditer(cell.source):
                lab = re.search(r"^:label:\s*(\S+)", m.group("body"), re.M)
                if lab:
                    prf[lab.group(1)] = {"type": m.group("type"), "title": m.group("title").strip()}
            pending = None
            for line in cell.source.splitlines():
                lm, hm = LABEL.match(line.strip()), HEADING.match(line)
                if lm:
                    pending = lm.group(1)
                elif hm:
                    head = hm.group(2)
                    anchor = pending or heading_id(head)
                    pending = None
                elif line.strip():
                    pending = None
            continue
        if cell.cell_type != "code":
            continue
        code_index += 1
        cell_anchor[code_index], cell_heading[code_index] = anchor, head
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            data = o.get("data", {})
            text = data.get(GLUE_PREFIX + "text/plain", data.get("text/plain"))
            if isinstance(text, list):
                text = "".join(text)
            if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1]
            glue[meta["name"]] = {"value": text, "cell": code_index}
    return {"glue": glue, "prf": prf, "anchor": cell_anchor, "heading": cell_heading}


def glue_values(nb_path: Path) -> dict[str, dict]:
    """key -> {value (text/plain of the glued object), cell (index among code cells)}."""
    return read_chapter(nb_path)["glue"]


def provenance(title: str, where: str) -> tuple[str, str]:
    """(tag, title without the tag) of a box title; ClaimsError when the tag is missing or unknown."""
    m = EXT.TAG_AT_END.match(title)
    known = ", ".join(f"[{t}]" for t in EXT.PROVENANCE)
    if not m:
        raise ClaimsError(f"{where}: the title {title!r} ends with no provenance tag (one of {known})")
    tag = EXT.normalise_tag(m.group("tag"))
    if tag not in EXT.PROVENANCE:
        raise ClaimsError(f"{where}: unknown provenance tag [{m.group('tag')}] in {title!r}; use one of {known}")
    return tag, m.group("head").strip()


# test reports -----------------------------------------------------------------------------------
def read_junit(path: Path) -> list[dict]:
    """Test cases of a junit XML file: classname, name, file, outcome (passed/failed/changed/skipped).

    ``changed``: an nbval cell that ran without error but whose output differs from the stored one.
    """
    if not path.is_file():
        return []
    cases = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        bad = tc.find("failure") if tc.find("failure") is not None else tc.find("error")
        if bad is not None:
            text = (bad.get("message") or "") + "\n" + (bad.text or "")
            outcome = "changed" if CHANGED_MESSAGE in text and "uncaught exception" not in text else "failed"
        elif tc.find("skipped") is not None:
            outcome = "skipped"
        cases.append(
            {
                "classname": tc.get("classname", ""),
                "name": tc.get("name", ""),
                "file": tc.get("file", ""),
                "outcome": outcome,
            }
        )
    return cases


def _match_test(spec: str, case: dict) -> bool:
    """``tests/test_x.py`` or ``tests/test_x.py::test_name`` against a junit case."""
    file_part, _, name = spec.partition("::")
    module = file_part[:-3].replace("/", ".") if file_part.endswith(".py") else file_part
    if case["classname"] != module and not case["classname"].startswith(module + "."):
        return False
    return not name or case["name"] == name or case["name"].startswith(name + "[")


def _match_cell(chapter: str, cell: int, case: dict) -> bool:
    stem = Path(chapter).name
    where = case["classname"] + " " + case["file"]
    return case["name"] == f"Cell {cell}" and stem in where


def _outcomes(cases: list[dict]) -> str:
    if not cases:
        return "not in the last test report"
    counts = {o: sum(c["outcome"] == o for c in cases) for o in ("passed", "failed", "changed", "skipped")}
    return ", ".join(f"{n} {o}" for o, n in counts.items() if n)


# rows -------------------------------------------------------------------------------------------
def build_rows(claims: list[dict], reports: Path, root: Path = ROOT) -> list[dict]:
    unit = read_junit(Path(reports) / "unit.xml")
    nbval = read_junit(Path(reports) / "nbval.xml")
    rows, problems, chapters = [], [], {}
    for c in claims:
        where = f"docs/claims.yml, {c['id']}"
        nb = root / (c["chapter"] + ".ipynb")
        if not nb.is_file():
            problems.append(f"{where}: no chapter notebook {c['chapter']}.ipynb under {root}")
            continue
        ch = chapters.setdefault(c["chapter"], None) or read_chapter(nb)
        chapters[c["chapter"]] = ch
        box = ch["prf"].get(c["label"])
        if box is None:
            problems.append(
                f"{where}: {nb.name} has no prf box labelled {c['label']!r} "
                f"(labels there: {', '.join(sorted(ch['prf'])) or 'none'})"
            )
            continue
        try:
            tag, box_title = provenance(box["title"], f"{where}, {nb.name} {box['type']} {c['label']}")
        except ClaimsError as exc:
            problems += exc.problems
            continue
        checks, cell_cases = [], []
        for k in c["checks"]:
            row = dict(k)
            if "glue" in k:
                key = k["glue"]
                if key not in ch["glue"]:
                    near = difflib.get_close_matches(key, ch["glue"], n=5, cutoff=0.5)
                    others = near + sorted(set(ch["glue"]) - set(near))
                    problems.append(
                        f"{where}: glue key {key!r} is not glued in the stored outputs of {nb.name} "
                        f"(run the chapter, or re-map the key; closest keys there: "
                        f"{', '.join(others[:12]) or 'none - the chapter has no stored glue outputs'})"
                    )
                    continue
                g = ch["glue"][key]
                row["measured"] = g["value"]
                row["cell"] = g["cell"]
                row["anchor"] = k.get("at") or ch["anchor"].get(g["cell"]) or c["label"]
                row["section"] = ch["heading"].get(g["cell"], "")
                row["cases"] = [t for t in nbval if _match_cell(c["chapter"], g["cell"], t)]
                cell_cases += row["cases"]
            else:
                row["measured"] = k["value"]
                row["cell"] = None
                row["anchor"] = k.get("at") or c["label"]
                row["section"] = ""
                row["cases"] = []
            checks.append(row)
        tests = [{"spec": s, "cases": [t for t in unit if _match_test(s, t)]} for s in c["tests"]]
        for s in c["tests"]:
            if not (root / s.split("::")[0]).is_file():
                problems.append(f"{where}: test file {s.split('::')[0]} does not exist")
        test_cases = [t for x in tests for t in x["cases"]]
        outcomes = [t["outcome"] for t in cell_cases + test_cases]
        glued = [x for x in checks if x["cell"] is not None]
        if "failed" in outcomes:
            status = "FAIL"
        elif "changed" in outcomes:
            status = "CHANGED"
        elif "passed" in outcomes and all(x["cases"] for x in glued) and all(x["cases"] for x in tests):
            status = "pass"
        else:
            status = "not run"
        rows.append(
            {
                **c,
                "title": c.get("title") or box_title,
                "tag": tag,
                "box_type": box["type"],
                "checks": checks,
                "test_results": tests,
                "status": status,
                "failed": [
                    f"{t['classname']}::{t['name']}"
                    for t in cell_cases + test_cases
                    if t["outcome"] in ("failed", "changed")
                ],
            }
        )
    if problems:
        raise ClaimsError(problems)
    return rows


# the page ---------------------------------------------------------------------------------------
_MATH = re.compile(r"\$([^$]+)\$")


def inline(text: str) -> str:
    """Plain words with optional $TeX$ and `code` as HTML (math typeset by MathJax on the page)."""
    out, pos = [], 0
    for m in re.finditer(r"\$([^$]+)\$|`([^`]+)`", text):
        out.append(html.escape(text[pos : m.start()]))
        if m.group(1) is not None:
            out.append(f'<span class="math notranslate nohighlight">\\({html.escape(m.group(1))}\\)</span>')
        else:
            out.append(f"<code>{html.escape(m.group(2))}</code>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def chapter_name(chapter: str) -> str:
    m = re.match(r"(\d+)-", Path(chapter).name)
    return f"Chapter {int(m.group(1))}" if m else Path(chapter).name


def render(rows: list[dict], out: Path, root: Path = ROOT) -> str:
    """MyST page (raw HTML cards); links are relative to ``out``'s folder, chapters under ``root``."""
    base = Path(out).resolve().parent

    def href(chapter: str, anchor: str) -> str:
        rel = os.path.relpath(Path(root).resolve() / (chapter + ".html"), base)
        return html.escape(f"{Path(rel).as_posix()}#{anchor}")

    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    lines = [
        "# What the code shows",
        "",
        "One card per result of the paper that this book checks, and per reproduced example. Each card",
        "gives the statement, where it comes from (the provenance badge of the theorem box, explained in",
        "the preface), what is measured, what the statement predicts, the tolerance of the check and",
        "its reason, the value measured when the book was built, and links to the check cell on the",
        "chapter page and to the tests. **Status** is that of the last test run: *pass* means the",
        "check cells that compute these values and the listed tests ran and passed and printed the",
        "stored numbers; *FAIL*, that an assert or a test failed; *CHANGED*, that every assert held but",
        "a check cell printed a number other than the one this page shows (the number depends on the",
        "machine: a defect of the book, not of the result); *not run*, that the last report does not",
        "include them.",
        "",
        f"This page is generated by `scripts/claims_ledger.py` from `docs/claims.yml`, the executed "
        f"chapters and the last test reports. Now: {counts['pass']} pass, {counts['FAIL']} FAIL, "
        f"{counts['CHANGED']} CHANGED, {counts['not run']} not run.",
        "",
    ]
    failing = [r for r in rows if r["status"] == "FAIL"]
    if failing:
        lines += [":::{error} Failing checks", ""]
        lines += [f"- **{r['id']}**: " + ", ".join(f"`{f}`" for f in r["failed"]) for r in failing]
        lines += [":::", ""]
    changed = [r for r in rows if r["status"] == "CHANGED"]
    if changed:
        lines += [":::{warning} Shown numbers that the last run did not reproduce", ""]
        lines += [f"- **{r['id']}**: " + ", ".join(f"`{f}`" for f in r["failed"]) for r in changed]
        lines += [":::", ""]
    cards = ['<div class="claims-ledger">']
    for r in rows:
        key, text, tip = EXT.PROVENANCE[r["tag"]]
        cards.append(f'<div class="claim-card {STATUS_CLASS[r["status"]]}" id="claim-{html.escape(r["id"].lower())}">')
        cards.append(
            f'<p class="claim-head"><span class="claim-id">{html.escape(r["id"])}</span> '
            f'<a href="{href(r["chapter"], r["label"])}">{inline(r["title"])}</a> '
            f'<span class="ltdl-prov ltdl-prov-{key}" title="{html.escape(tip)}">{html.escape(text)}</span> '
            f'<span class="claim-status">{r["status"]}</span></p>'
        )
        cards.append(
            f'<p class="claim-statement">{inline(r["statement"])} '
            f'<span class="claim-where">({chapter_name(r["chapter"])})</span></p>'
        )
        for k in r["checks"]:
            unit = f" {inline(k['unit'])}" if k.get("unit") else ""
            measured = f"<b>{html.escape(str(k['measured']))}</b>{unit}"
            if k["cell"] is None:
                measured += f" (not glued: {inline(k['reason'])})"
            where = chapter_name(r["chapter"])
            if k["cell"] is not None:
                sec = f": “{inline(k['section'])}”" if k["section"] else ""
                link = f'<a href="{href(r["chapter"], k["anchor"])}">{where}, code cell {k["cell"]}{sec}</a>'
                link += f" (last run: {_outcomes(k['cases'])})"
            else:
                link = f'<a href="{href(r["chapter"], k["anchor"])}">{where}</a>'
            cards.append(
                '<div class="claim-check"><dl class="claim-fields">'
                f"<dt>Quantity</dt><dd>{inline(k['quantity'])}</dd>"
                f"<dt>Predicted</dt><dd>{inline(k['predicted'])}</dd>"
                f"<dt>Tolerance</dt><dd>{inline(k['tolerance'])}</dd>"
                f"<dt>Measured</dt><dd>{measured}</dd>"
                f"<dt>Checked in</dt><dd>{link}</dd></dl></div>"
            )
        if r["test_results"]:
            # Tests link to the repository once it is public; until then they are named only.
            tests = "<br/>".join(
                (
                    f'<a href="{REPO_URL}/blob/main/{html.escape(t["spec"].split("::")[0])}">'
                    f"<code>{html.escape(t['spec'])}</code></a>"
                    if REPO_URL
                    else f"<code>{html.escape(t['spec'])}</code>"
                )
                + f": {_outcomes(t['cases'])}"
                for t in r["test_results"]
            )
            cards.append(f'<dl class="claim-fields"><dt>Tests</dt><dd>{tests}</dd></dl>')
        cards.append("</div>")
    cards.append("</div>")
    lines += cards + [""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--claims", type=Path, default=ROOT / "docs" / "claims.yml")
    p.add_argument("--reports", type=Path, default=ROOT / "_build" / "reports")
    p.add_argument("--out", type=Path, default=ROOT / "chapters" / "claims.md")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    p.add_argument("--root", type=Path, default=ROOT, help="the book's folder (chapter paths are relative to it)")
    args = p.parse_args(argv)
    try:
        rows = build_rows(load_claims(args.claims), args.reports, root=args.root)
    except ClaimsError as exc:
        print("claims_ledger: the ledger cannot be built:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"claims_ledger: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: the test command builds the book and the student site at the same
    # time, each build regenerates this page first, and a build must never read it half written.
    tmp = args.out.with_name(f".{args.out.name}.{os.getpid()}")
    tmp.write_text(render(rows, args.out.resolve(), root=args.root))
    os.replace(tmp, args.out)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str) + "\n")
    summary = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    print(f"claims ledger: {summary} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
