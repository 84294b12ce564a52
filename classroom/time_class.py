#!/usr/bin/env python
"""Time the grading of a class: N students handing in one chapter, graded in the sandbox.

    python classroom/time_class.py chapters/10-after-the-paper.ipynb [--students 60] [--jobs 2]

Makes the chapter's assignment (scripts/make_assignments.py), hands it in for N students (every
fourth one the reference answers, the others a mix of untouched stubs and no-work answers, so
that the class is not N copies of one notebook) and times ``scripts/grade.py`` on the folder.
Prints the wall time and the time per student; the figure of docs/grading.md comes from here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "classroom"))
import check_hidden as ch  # noqa: E402
import grade as gr  # noqa: E402
import make_assignments as ma  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("chapter", type=Path)
    p.add_argument("--students", type=int, default=60)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "_build" / "classroom-timing")
    args = p.parse_args(argv)
    (r,) = ma.make([args.chapter.resolve()], args.out / "course")
    spec, name = r["spec"], r["spec"]["name"]
    ref = ch._answers(r["source"])
    nowork = {lab: spec["hidden"]["exercises"][lab].get("no_work", "pass\n") for lab in spec["code"]}
    subs = args.out / "submissions"
    import shutil

    shutil.rmtree(subs, ignore_errors=True)
    for k in range(args.students):
        answers = ref if k % 4 == 0 else (nowork if k % 4 == 1 else ({} if k % 4 == 2 else ref))
        ch._hand_in(r["release"], subs / f"student{k:03d}" / f"{name}.ipynb", answers)
    t0 = time.perf_counter()
    rows = gr.grade(subs, args.out / "course", jobs=args.jobs)
    took = time.perf_counter() - t0
    gr.write_csv(rows, args.out / "grades.csv")
    bad = sorted({r["student"] for r in rows if r["status"] in gr.NEEDS_A_LOOK})
    print(
        f"{args.students} students x {name}: {took:.0f} s with {args.jobs} at a time "
        f"({took / args.students:.1f} s per student); submissions to look at: {bad or 'none'}"
    )
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
