#!/usr/bin/env python
"""Generate chapters/claims.md, "What the code shows", from data, never by hand.

    python scripts/claims_ledger.py [--claims docs/claims.yml] [--reports _build/reports] [--out chapters/claims.md]

Inputs: docs/claims.yml (result -> chapter, theorem label, provenance tag, glue keys, unit tests),
the executed chapter notebooks (glued values are read from their stored outputs), and the junit
XML reports of the last test run (_build/reports/unit.xml, _build/reports/nbval.xml). A result
whose check cells or tests failed gets a red row and an error admonition; a result with nothing
measured or run yet is marked "not run".
"""
from __future__ import annotations

import argparse
import html
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLUE_PREFIX = "application/papermill.record/"
STYLE = {"pass": "background:#e6f4ea", "FAIL": "background:#fddede;color:#8a1111;font-weight:600",
         "not run": "background:#fff6db"}


def load_claims(path: Path) -> list[dict]:
    import yaml

    data = yaml.safe_load(path.read_text())
    rows = data.get("results") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: expected a mapping with a non-empty list 'results'")
    seen = set()
    for r in rows:
        for key in ("id", "title", "chapter", "label", "tag"):
            if not isinstance(r.get(key), str) or not r[key]:
                raise ValueError(f"{path}: result {r.get('id', '?')} needs a string '{key}'")
        if r["id"] in seen:
            raise ValueError(f"{path}: duplicate result id {r['id']}")
        seen.add(r["id"])
        r.setdefault("glue", [])
        r.setdefault("tests", [])
        if not isinstance(r["glue"], list) or not isinstance(r["tests"], list):
            raise ValueError(f"{path}: 'glue' and 'tests' of {r['id']} must be lists")
    return rows


def glue_values(nb_path: Path) -> dict[str, dict]:
    """key -> {value (text/plain of the glued object), cell (index among code cells)}."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    out, code_index = {}, -1
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            data = o.get("data", {})
            text = data.get(GLUE_PREFIX + "text/plain", data.get("text/plain"))
            if isinstance(text, list):
                text = "".join(text)
            out[meta["name"]] = {"value": text, "cell": code_index}
    return out


def read_junit(path: Path) -> list[dict]:
    """Test cases of a junit XML file: classname, name, file, outcome (passed/failed/skipped)."""
    if not path.is_file():
        return []
    cases = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        if tc.find("failure") is not None or tc.find("error") is not None:
            outcome = "failed"
        elif tc.find("skipped") is not None:
            outcome = "skipped"
        cases.append({"classname": tc.get("classname", ""), "name": tc.get("name", ""),
                      "file": tc.get("file", ""), "outcome": outcome})
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


def build_rows(claims: list[dict], reports: Path, root: Path = ROOT) -> list[dict]:
    unit = read_junit(reports / "unit.xml")
    nbval = read_junit(reports / "nbval.xml")
    rows = []
    for c in claims:
        nb = root / (c["chapter"] + ".ipynb")
        glued = glue_values(nb) if nb.is_file() else {}
        values, checks, missing = {}, [], []
        for key in c["glue"]:
            if key in glued:
                values[key] = glued[key]["value"]
                checks.append(glued[key]["cell"])
            else:
                missing.append(key)
        cell_cases = [t for t in nbval if any(_match_cell(c["chapter"], k, t) for k in checks)]
        test_cases = [t for t in unit if any(_match_test(s, t) for s in c["tests"])]
        outcomes = [t["outcome"] for t in cell_cases + test_cases]
        if "failed" in outcomes:
            status = "FAIL"
        elif outcomes and all(o in ("passed", "skipped") for o in outcomes) and "passed" in outcomes \
                and not missing and (not checks or cell_cases):
            status = "pass"
        else:
            status = "not run"
        rows.append({**c, "notebook_exists": nb.is_file(), "values": values, "missing": missing,
                     "check_cells": checks, "n_cell_cases": len(cell_cases),
                     "n_test_cases": len(test_cases),
                     "n_failed": outcomes.count("failed"), "status": status,
                     "failed": [f"{t['classname']}::{t['name']}" for t in cell_cases + test_cases
                                if t["outcome"] == "failed"]})
    return rows


def render(rows: list[dict], out: Path) -> str:
    """MyST page; links are relative to ``out``'s folder."""
    rel_base = out.parent

    def link(row) -> str:
        target = Path(row["chapter"] + ".html")
        try:
            rel = Path(*([".."] * len(rel_base.relative_to(ROOT).parts))) / target if rel_base.is_relative_to(ROOT) else target
        except ValueError:
            rel = target
        return f'<a href="{html.escape(rel.as_posix())}#{html.escape(row["label"])}">{html.escape(row["label"])}</a>'

    head = ["Result", "Statement", "Provenance", "Checked by", "Measured", "Status"]
    lines = [
        "# What the code shows",
        "",
        "This page is generated by `scripts/claims_ledger.py` from `docs/claims.yml`, the executed",
        "chapters (values glued by their check cells) and the reports of the last test run",
        "(`_build/reports/unit.xml`, `_build/reports/nbval.xml`). Do not edit it by hand.",
        "A red row means that a check cell or a test of that result failed in the last run.",
        "",
    ]
    failing = [r for r in rows if r["status"] == "FAIL"]
    if failing:
        lines += [":::{error} Failing checks", ""]
        lines += [f"- **{r['id']}**: " + ", ".join(f"`{f}`" for f in r["failed"]) for r in failing]
        lines += [":::", ""]
    lines += ['<table class="claims-ledger" style="width:100%;border-collapse:collapse">',
              "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for r in rows:
        checked = []
        if r["check_cells"]:
            checked.append(f"check cell{'s' if len(r['check_cells']) > 1 else ''} "
                           + ", ".join(str(k) for k in r["check_cells"]) + f" of {Path(r['chapter']).name}")
        checked += [f"<code>{html.escape(t)}</code>" for t in r["tests"]]
        measured = [f"<code>{html.escape(k)}</code> = {html.escape(str(v))}" for k, v in r["values"].items()]
        measured += [f"<code>{html.escape(k)}</code>: not found" for k in r["missing"]]
        anchor = link(r) if r["notebook_exists"] else f"{html.escape(r['label'])} (chapter not written yet)"
        cls = {"pass": "claim-pass", "FAIL": "claim-fail", "not run": "claim-notrun"}[r["status"]]
        cells = [f"<b>{r['id']}</b>", f"{html.escape(r['title'])}<br/>{anchor}", f"[{html.escape(r['tag'])}]",
                 "<br/>".join(checked) or "none", "<br/>".join(measured) or "none", r["status"]]
        lines.append(f'<tr class="{cls}" style="{STYLE[r["status"]]}">'
                     + "".join(f'<td style="padding:4px;vertical-align:top">{x}</td>' for x in cells) + "</tr>")
    lines += ["</tbody>", "</table>", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--claims", type=Path, default=ROOT / "docs" / "claims.yml")
    p.add_argument("--reports", type=Path, default=ROOT / "_build" / "reports")
    p.add_argument("--out", type=Path, default=ROOT / "chapters" / "claims.md")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = p.parse_args(argv)
    try:
        rows = build_rows(load_claims(args.claims), args.reports)
    except (OSError, ValueError) as exc:
        print(f"claims_ledger: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, args.out.resolve()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str) + "\n")
    summary = {s: sum(r["status"] == s for r in rows) for s in ("pass", "FAIL", "not run")}
    print(f"claims ledger: {summary} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
