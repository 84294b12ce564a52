#!/usr/bin/env python3
"""Check the book's execution-time budget: each chapter <= 90 s, the whole book <= 10 min.

Sources of the per-chapter times (one or both; with both, the larger time of each chapter counts):

* pytest's JUnit XML of the notebook test (``scripts/test.sh`` writes
  ``_build/reports/nbval.xml`` with ``--junitxml``): nbval makes one test case per cell, whose
  ``classname`` is the notebook's path with dots (``chapters.01-x.ipynb``); a chapter's time is
  the sum of its cells' times, kernel start-up included (it is the first cell's setup).
* ``--sphinx-env _build/.doctrees/environment.pickle``: the execution ``runtime`` that myst-nb
  records for every notebook it executed during the book build.

Prints a table of every chapter's time, the total and the verdict; exit status 1 when a limit is
exceeded, 2 when no times could be read.

    python scripts/check_time_budget.py _build/reports/nbval.xml
    python scripts/check_time_budget.py --sphinx-env _build/.doctrees/environment.pickle
"""
from __future__ import annotations

import argparse
import pickle
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict
from pathlib import Path

CHAPTER_LIMIT_S = 90.0
TOTAL_LIMIT_S = 600.0


def _chapter_name(classname: str) -> str | None:
    """``chapters.01-x.ipynb`` -> ``01-x``; None for test cases that are not notebook cells."""
    if not classname.endswith(".ipynb"):
        return None
    stem = classname[: -len(".ipynb")]
    # pytest joins the path with dots, so a dot in a file name is ambiguous: under chapters/
    # everything after the folder is the name; elsewhere, the last component.
    if stem.startswith("chapters."):
        return stem[len("chapters."):]
    return stem.rsplit(".", 1)[-1]


def times_from_junit(path: str | Path) -> "OrderedDict[str, float]":
    """Seconds per notebook, summed over its cells, from a pytest JUnit XML file."""
    root = ET.parse(path).getroot()
    out: "OrderedDict[str, float]" = OrderedDict()
    for case in root.iter("testcase"):
        name = _chapter_name(case.get("classname", ""))
        if name is None:
            continue
        out[name] = out.get(name, 0.0) + float(case.get("time", "0") or 0)
    return out


def times_from_sphinx_env(path: str | Path) -> "OrderedDict[str, float]":
    """Seconds per executed notebook from the myst-nb data in a pickled Sphinx environment."""
    with open(path, "rb") as fh:
        env = pickle.load(fh)  # our own build's file
    out: "OrderedDict[str, float]" = OrderedDict()
    for docname, data in sorted(getattr(env, "nb_metadata", {}).items()):
        exec_data = (data or {}).get("exec_data") or {}
        runtime = exec_data.get("runtime")
        if runtime is not None:
            out[docname.rsplit("/", 1)[-1]] = float(runtime)
    return out


def merge(*sources: dict) -> "OrderedDict[str, float]":
    out: "OrderedDict[str, float]" = OrderedDict()
    for src in sources:
        for name, t in src.items():
            out[name] = max(out.get(name, 0.0), t)
    return OrderedDict(sorted(out.items()))


def check(times: dict, chapter_limit: float = CHAPTER_LIMIT_S, total_limit: float = TOTAL_LIMIT_S):
    """Returns (report lines, list of violations)."""
    total = sum(times.values())
    width = max([len("chapter")] + [len(n) for n in times])
    lines = [f"{'chapter':<{width}}  {'seconds':>8}  status", f"{'-' * width}  {'-' * 8}  ------"]
    problems = []
    for name, t in times.items():
        ok = t <= chapter_limit
        lines.append(f"{name:<{width}}  {t:8.1f}  {'ok' if ok else f'OVER {chapter_limit:g} s'}")
        if not ok:
            problems.append(f"{name} took {t:.1f} s > {chapter_limit:g} s")
    ok = total <= total_limit
    lines.append(f"{'-' * width}  {'-' * 8}  ------")
    lines.append(f"{'total':<{width}}  {total:8.1f}  {'ok' if ok else f'OVER {total_limit:g} s'}")
    if not ok:
        problems.append(f"the book took {total:.1f} s > {total_limit:g} s")
    return lines, problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Fail when a chapter runs > 90 s or the book > 10 min.")
    ap.add_argument("junit", nargs="*", help="pytest JUnit XML files of the notebook test")
    ap.add_argument("--sphinx-env", help="pickled Sphinx environment of a jupyter-book build")
    ap.add_argument("--chapter-limit", type=float, default=CHAPTER_LIMIT_S)
    ap.add_argument("--total-limit", type=float, default=TOTAL_LIMIT_S)
    args = ap.parse_args(argv)
    if not args.junit and not args.sphinx_env:
        ap.error("give a JUnit XML file and/or --sphinx-env")
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
    times = merge(*sources)
    if not times:
        print("check_time_budget: no notebook execution times found", file=sys.stderr)
        return 2
    lines, problems = check(times, args.chapter_limit, args.total_limit)
    print("\n".join(lines))
    if problems:
        print("TIME BUDGET EXCEEDED: " + "; ".join(problems))
        return 1
    print(f"time budget ok: every chapter <= {args.chapter_limit:g} s, total <= {args.total_limit:g} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
