#!/usr/bin/env python
"""Write the student edition of the book to _build/student/.

    python scripts/student_edition.py [--out _build/student] [chapters/NN-x.ipynb ...]

For every chapter notebook (default: the chapters listed in _toc.yml):
* code cells tagged ``solution`` become stubs that raise ``NotImplementedError`` with the
  exercise's prompt (the exercise is the ``{solution}`` block just before the cell, or the
  nearest ``{exercise}`` above it);
* ``{solution}`` blocks (backtick or colon fences, any length) are removed from the markdown;
* every output and execution count is cleared (outputs could show a solution).
A README.md for the class lists the chapters and their exercises.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
STUB_TAG = "exercise-stub"
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
LABEL = re.compile(r"^\s*:label:\s*(\S+)")


def _blocks(text: str):
    """Yield (start, end, name, arg, body_lines) of the fenced directives in ``text`` (end exclusive)."""
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
        yield i, min(j + 1, len(lines)), m.group("name"), m.group("arg").strip(), lines[i + 1:j]
        i = j + 1


def _prompt(body: list[str]) -> str:
    """Directive body without its options (``:label:``, ``:class:``)."""
    keep = [ln for ln in body if not re.match(r"^\s*:[\w-]+:", ln)]
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


def _stub_source(label: str | None, ex: dict | None) -> str:
    title = (ex or {}).get("title") or ""
    prompt = (ex or {}).get("prompt") or "Write your solution here."
    head = f"# Exercise {label}" + (f": {title}" if title else "") if label else "# Exercise"
    comment = "\n".join("# " + ln if ln else "#" for ln in prompt.splitlines())
    msg = f"Exercise {label}: write your solution in this cell." if label else "Write your solution in this cell."
    return f"{head}\n{comment}\n# Replace the next line by your code.\nraise NotImplementedError({msg!r})\n"


def make_student(nb) -> tuple[object, list[dict]]:
    """Student copy of a notebook and the list of its stubs ({label, solution})."""
    nb = copy.deepcopy(nb)
    exs = exercises(nb)
    cells, stubs = [], []
    current = None  # label of the latest {exercise} or {solution} seen above
    for cell in nb.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "markdown":
            for _, _, name, arg, body in _blocks(cell.source):
                if name in ("exercise", "exercise-start"):
                    current = next((LABEL.match(ln).group(1) for ln in body if LABEL.match(ln)), current)
                elif name == "solution":
                    current = arg or current
            src, _ = strip_solutions(cell.source)
            if not src.strip():
                continue
            cell.source = src
            cells.append(cell)
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if "solution" in tags:
                stubs.append({"label": current, "solution": cell.source})
                if cells and STUB_TAG in cells[-1].get("metadata", {}).get("tags", []) and \
                        len(stubs) > 1 and stubs[-2]["label"] == current:
                    continue  # one stub per exercise, even when its solution spans several cells
                new = nbformat.v4.new_code_cell(_stub_source(current, exs.get(current)))
                new.metadata["tags"] = [STUB_TAG]
                if "id" in cell:  # keep the id of the solution cell it replaces: deterministic output
                    new["id"] = cell["id"]
                else:
                    new.pop("id", None)
                cells.append(new)
                continue
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb, stubs


def _toc_chapters() -> list[Path]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    names = [toc.get("root")] if toc.get("root") else []

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                names.append(e["file"])
            walk(e.get("sections"))
            for part in e.get("parts", []) or []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    return [ROOT / (n + ".ipynb") for n in names if (ROOT / (n + ".ipynb")).is_file()]


README = """# {title}: student edition

These notebooks are the chapters of the book with the solutions taken out. Each exercise whose
answer is code has a cell that stops with

    raise NotImplementedError("Exercise <label>: write your solution in this cell.")

Replace that line by your code and run the notebook from the top. Everything before the first
exercise runs as it is; later cells may use what your solutions define.

## Setting up

    python -m venv .venv && . .venv/bin/activate
    pip install "ltdl @ git+https://github.com/ltdl-book/large-time-asymptotics" jupyterlab ipywidgets
    jupyter lab

(On Colab or Binder the first cell of each chapter installs `ltdl` for you.)

## Chapters and exercises

{table}

Generated by `scripts/student_edition.py`; do not edit these files by hand.
"""


def write_edition(paths: list[Path], out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    report = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        student, stubs = make_student(nb)
        exs = exercises(nb)
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student, dest)
        report.append({"chapter": rel.as_posix(), "exercises": exs, "stubs": [s["label"] for s in stubs]})
    rows = []
    for r in report:
        items = "; ".join(f"`{lab}` {ex['title']}" + (" (code stub)" if lab in r["stubs"] else "")
                          for lab, ex in r["exercises"].items()) or "none"
        rows.append(f"- **{r['chapter']}**: {items}")
    import yaml

    title = "The book"
    cfg = ROOT / "_config.yml"
    if cfg.is_file():
        title = yaml.safe_load(cfg.read_text()).get("title", title)
    (out / "README.md").write_text(README.format(title=title, table="\n".join(rows)))
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", type=Path, help="chapter notebooks (default: those in _toc.yml)")
    p.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    args = p.parse_args(argv)
    paths = [q.resolve() for q in args.notebooks] or _toc_chapters()
    missing = [str(q) for q in paths if not q.is_file()]
    if missing:
        print(f"student_edition: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    report = write_edition(paths, args.out)
    n = sum(len(r["stubs"]) for r in report)
    print(f"student edition: {len(report)} notebooks, {n} stubs -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
