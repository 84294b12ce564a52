#!/usr/bin/env python
"""Check the hidden tests of chapters against their reference and "no work" answers.

    python classroom/check_hidden.py [chapters/NN-x.ipynb ...] [--out _build/classroom-check] [--jobs 2]

For each chapter (default: every chapter with a file in classroom/hidden/), makes its
assignment (scripts/make_assignments.py) and grades, in the sandbox (scripts/grade.py), three
students: ``reference`` (every code exercise answered with the book's solution and the lines of
``reference_adds``), ``no-work`` (every code exercise answered with its ``no_work`` code: the
names the tests read, defined without doing the exercise) and ``stub`` (the assignment as
handed out). Passes when the reference scores full marks with status ``graded`` on every code
exercise, and ``no-work`` and ``stub`` score 0 on every one; prints the scores and the time.
Exit status 0 when every chapter passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import grade as gr  # noqa: E402
import make_assignments as ma  # noqa: E402


def _answers(source: Path) -> dict[str, str]:
    """label -> the reference answer (the text between the solution markers of its answer cell)."""
    nb = json.loads(source.read_text())
    out = {}
    for c in nb["cells"]:
        label = c.get("metadata", {}).get("ltdl", {}).get("exercise")
        text = "".join(c["source"])
        m = re.search(re.escape(ma.se.SOLUTION_BEGIN) + r"\n(.*?)" + re.escape(ma.se.SOLUTION_END), text, re.S)
        if label and m:
            out[label] = m.group(1)
    return out


def _hand_in(release: Path, dest: Path, answers: dict[str, str]) -> None:
    nb = json.loads(release.read_text())
    for c in nb["cells"]:
        label = c.get("metadata", {}).get("ltdl", {}).get("exercise")
        if label in answers:
            c["source"] = answers[label]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb))


def check(chapters: list[Path], out: Path, jobs: int, limits: dict | None = None) -> bool:
    records = ma.make(chapters, out / "course")
    subs = out / "submissions"
    shutil.rmtree(subs, ignore_errors=True)
    for r in records:
        spec = r["spec"]
        name = spec["name"]
        release = r["release"]
        ref = _answers(r["source"])
        _hand_in(release, subs / "reference" / f"{name}.ipynb", ref)
        nowork = {lab: spec["hidden"]["exercises"][lab].get("no_work", "pass\n") for lab in spec["code"]}
        _hand_in(release, subs / "no-work" / f"{name}.ipynb", nowork)
        _hand_in(release, subs / "stub" / f"{name}.ipynb", {})
    t0 = time.perf_counter()
    rows = gr.grade(subs, out / "course", limits=limits, jobs=jobs)
    took = time.perf_counter() - t0
    gr.write_csv(rows, out / "grades.csv")
    ok = True
    for r in rows:
        if r["status"] in ("manual", "missing"):
            continue
        good = (
            (r["score"] == r["max_score"] and r["status"] == "graded")
            if r["student"] == "reference"
            else r["score"] == 0
        )
        ok &= good
        print(
            f"{'ok ' if good else 'BAD'} {r['chapter']:<24} {r['exercise']:<22} {r['student']:<9} "
            f"{r['score']:g}/{r['max_score']:g} {r['status']} {r['reason']}"
        )
    print(f"{len(records)} chapter(s), 3 students each, graded in {took:.0f} s ({jobs} at a time)")
    return ok


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "_build" / "classroom-check")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    paths = [q.resolve() for q in args.notebooks] or ma.default_chapters()
    return 0 if check(paths, args.out, args.jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
