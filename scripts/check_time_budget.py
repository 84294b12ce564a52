#!/usr/bin/env python3
"""Check the book's execution budget: each chapter <= 90 s and <= 1.5 GiB peak memory, the whole
book <= 10 min.

Sources of the per-chapter times (one or both; with both, the larger time of each chapter counts):

* pytest's JUnit XML of the notebook test (``scripts/test.sh`` writes
  ``_build/reports/nbval.xml`` with ``--junitxml``): nbval makes one test case per cell, whose
  ``classname`` is the notebook's path with dots (``chapters.01-x.ipynb``); a chapter's time is
  the sum of its cells' times, kernel start-up included (it is the first cell's setup).
* ``--sphinx-env _build/.doctrees/environment.pickle``: the execution ``runtime`` that myst-nb
  records for every notebook it executed during the book build.
* ``--stored-times --notebooks chapters/*.ipynb``: the ``elapsed_s`` that each chapter's closing
  ``ltdl.provenance()`` output recorded when the chapter was executed and stored
  (``scripts/refresh_chapters.py``: one chapter per core, as a reader runs it). The test command
  judges the budget on these: its own nbval runs every chapter while the unit tests, the mutation
  test and the lint share the two cores, so their times measure the load, not the chapter.

Peak memory per chapter (``--notebooks``): the ``peak_memory_mib`` that each executed notebook's
closing ``ltdl.provenance()`` output records (``ru_maxrss`` of its kernel), read from the stored
outputs (``chapters/*.ipynb``, kept current by ``tests/test_provenance.py``) or from the book
build's executed copies (``_build/jupyter_execute/chapters/*.ipynb``).

Prints a table of every chapter's time and memory, the total and the verdict; exit status 1 when
a limit is exceeded, 2 when no times could be read.

    python scripts/check_time_budget.py _build/reports/nbval.xml --notebooks chapters/*.ipynb
    python scripts/check_time_budget.py --sphinx-env _build/.doctrees/environment.pickle
"""

from __future__ import annotations

import argparse
import ast
import json
import pickle
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict
from pathlib import Path

CHAPTER_LIMIT_S = 90.0
TOTAL_LIMIT_S = 600.0
MEMORY_LIMIT_MIB = 1536.0  # 1.5 GiB


def _chapter_name(classname: str) -> str | None:
    """``chapters.01-x.ipynb`` -> ``01-x``; None for test cases that are not notebook cells."""
    if not classname.endswith(".ipynb"):
        return None
    stem = classname[: -len(".ipynb")]
    # pytest joins the path with dots, so a dot in a file name is ambiguous: under chapters/
    # everything after the folder is the name; elsewhere, the last component.
    if stem.startswith("chapters."):
        return stem[len("chapters.") :]
    return stem.rsplit(".", 1)[-1]


def times_from_junit(path: str | Path) -> OrderedDict[str, float]:
    """Seconds per notebook, summed over its cells, from a pytest JUnit XML file."""
    root = ET.parse(path).getroot()
    out: OrderedDict[str, float] = OrderedDict()
    for case in root.iter("testcase"):
        name = _chapter_name(case.get("classname", ""))
        if name is None:
            continue
        out[name] = out.get(name, 0.0) + float(case.get("time", "0") or 0)
    return out


def times_from_sphinx_env(path: str | Path) -> OrderedDict[str, float]:
    """Seconds per executed notebook from the myst-nb data in a pickled Sphinx environment."""
    with open(path, "rb") as fh:
        env = pickle.load(fh)  # our own build's file
    out: OrderedDict[str, float] = OrderedDict()
    for docname, data in sorted(getattr(env, "nb_metadata", {}).items()):
        exec_data = (data or {}).get("exec_data") or {}
        runtime = exec_data.get("runtime")
        if runtime is not None:
            out[docname.rsplit("/", 1)[-1]] = float(runtime)
    return out


def memory_from_notebooks(paths, key: str = "peak_memory_mib") -> OrderedDict[str, float | None]:
    """Peak memory (MiB) per notebook from its stored provenance output; None when not recorded.

    ``key="elapsed_s"``: the chapter's own run time instead (from its first cell to its provenance
    cell, recorded when the chapter was executed and stored)."""
    out: OrderedDict[str, float | None] = OrderedDict()
    for path in paths:
        path = Path(path)
        nb = json.loads(path.read_text(encoding="utf-8"))
        value = None
        for cell in nb.get("cells", []):
            src = "".join(cell.get("source", []))
            if cell.get("cell_type") != "code" or "provenance(" not in src:
                continue
            for o in cell.get("outputs", []):
                text = (o.get("data") or {}).get("text/plain")
                if text is None:
                    continue
                try:
                    rec = ast.literal_eval("".join(text) if isinstance(text, list) else text)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(rec, dict) and rec.get(key) is not None:
                    value = float(rec[key])
        out[path.stem] = value
    return out


def merge(*sources: dict) -> OrderedDict[str, float]:
    out: OrderedDict[str, float] = OrderedDict()
    for src in sources:
        for name, t in src.items():
            out[name] = max(out.get(name, 0.0), t)
    return OrderedDict(sorted(out.items()))


def check(
    times: dict,
    chapter_limit: float = CHAPTER_LIMIT_S,
    total_limit: float = TOTAL_LIMIT_S,
    memory: dict | None = None,
    memory_limit: float = MEMORY_LIMIT_MIB,
):
    """Returns (report lines, list of violations). ``memory``: chapter -> peak MiB (or None)."""
    memory = memory or {}
    names = list(times) + [n for n in memory if n not in times]
    total = sum(times.values())
    width = max([len("chapter")] + [len(n) for n in names])
    lines = [
        f"{'chapter':<{width}}  {'seconds':>8}  {'peak MiB':>8}  status",
        f"{'-' * width}  {'-' * 8}  {'-' * 8}  ------",
    ]
    problems = []
    for name in names:
        t, mem = times.get(name), memory.get(name)
        notes = []
        if t is not None and t > chapter_limit:
            notes.append(f"OVER {chapter_limit:g} s")
            problems.append(f"{name} took {t:.1f} s > {chapter_limit:g} s")
        if mem is not None and mem > memory_limit:
            notes.append(f"OVER {memory_limit:g} MiB")
            problems.append(f"{name} peaked at {mem:.0f} MiB > {memory_limit:g} MiB")
        t_txt = f"{t:8.1f}" if t is not None else f"{'n/a':>8}"
        m_txt = f"{mem:8.0f}" if mem is not None else f"{'n/a' if memory else '':>8}"
        lines.append(f"{name:<{width}}  {t_txt}  {m_txt}  {', '.join(notes) or 'ok'}")
    ok = total <= total_limit
    lines.append(f"{'-' * width}  {'-' * 8}  {'-' * 8}  ------")
    peak = max((m for m in memory.values() if m is not None), default=None)
    peak_txt = f"{peak:8.0f}" if peak is not None else " " * 8
    lines.append(f"{'total':<{width}}  {total:8.1f}  {peak_txt}  {'ok' if ok else f'OVER {total_limit:g} s'}")
    if not ok:
        problems.append(f"the book took {total:.1f} s > {total_limit:g} s")
    return lines, problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Fail when a chapter runs > 90 s or peaks above 1.5 GiB, or the book runs > 10 min."
    )
    ap.add_argument("junit", nargs="*", help="pytest JUnit XML files of the notebook test")
    ap.add_argument("--sphinx-env", help="pickled Sphinx environment of a jupyter-book build")
    ap.add_argument("--chapter-limit", type=float, default=CHAPTER_LIMIT_S)
    ap.add_argument("--total-limit", type=float, default=TOTAL_LIMIT_S)
    ap.add_argument(
        "--notebooks", nargs="+", default=[], help="executed notebooks whose provenance output records the peak memory"
    )
    ap.add_argument("--memory-limit", type=float, default=MEMORY_LIMIT_MIB, help="MiB per chapter")
    ap.add_argument(
        "--stored-times",
        action="store_true",
        help="the run times the --notebooks' provenance outputs recorded when they were stored",
    )
    args = ap.parse_args(argv)
    if not args.junit and not args.sphinx_env and not args.stored_times:
        ap.error("give a JUnit XML file, --sphinx-env and/or --stored-times")
    if args.stored_times and not args.notebooks:
        ap.error("--stored-times reads the times from --notebooks: give the notebooks")
    sources = []
    for path in args.junit:
        if not Path(path).is_file():
            print(f"check_time_budget: no such file: {path}", file=sys.stderr)
            return 2
        sources.append(times_from_junit(path))
    if args.sphinx_env:
        if not Path(args.sphinx_env).is_file():
            print(f"check_time_budget: no such file: {args.sphinx_env}", file=sys.stderr)
            return 2
        sources.append(times_from_sphinx_env(args.sphinx_env))
    if args.stored_times:
        stored = memory_from_notebooks([p for p in args.notebooks if Path(p).is_file()], key="elapsed_s")
        sources.append({n: t for n, t in stored.items() if t is not None})
    times = merge(*sources)
    if not times:
        print("check_time_budget: no notebook execution times found", file=sys.stderr)
        return 2
    missing = [p for p in args.notebooks if not Path(p).is_file()]
    if missing:
        print(f"check_time_budget: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    memory = memory_from_notebooks(args.notebooks)
    lines, problems = check(times, args.chapter_limit, args.total_limit, memory, args.memory_limit)
    print("\n".join(lines))
    unrecorded = [n for n, m in memory.items() if m is None]
    if unrecorded:
        print(
            "note: no peak memory recorded in "
            + ", ".join(unrecorded)
            + " (executed before ltdl.provenance() recorded it)"
        )
    if problems:
        print("BUDGET EXCEEDED: " + "; ".join(problems))
        return 1
    mem_txt = f", peak memory <= {args.memory_limit:g} MiB" if memory else ""
    print(f"time budget ok: every chapter <= {args.chapter_limit:g} s{mem_txt}, total <= {args.total_limit:g} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
