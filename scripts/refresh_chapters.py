#!/usr/bin/env python3
"""Re-execute exactly the chapters whose stored outputs do not come from the current code.

A chapter is stale when the content hash of ``ltdl/`` or of its own code cells differs from the
one its closing ``ltdl.provenance()`` output recorded (see :mod:`ltdl.provenance`). Each stale
chapter is executed in place, one after another, with ``jupyter execute --inplace``.

    python scripts/refresh_chapters.py            # all chapters under chapters/
    python scripts/refresh_chapters.py --dry-run  # only list them
    python scripts/refresh_chapters.py chapters/03-training-error.ipynb

Exit status 0 when every chapter is fresh afterwards, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
prov = importlib.import_module("ltdl.provenance")


# The arithmetic path that stores the outputs is the default one; the test command's nbval runs
# another (scripts/test.sh), so that a number that depends on the path fails on any one machine.
OTHER_PATHS = ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "LTDL_PERTURB", "LTDL_PERTURB_SEED")


def _execute(path: Path) -> int:
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter) if jupyter.exists() else "jupyter", "execute", "--inplace", str(path)]
    env = {k: v for k, v in os.environ.items() if k not in OTHER_PATHS}
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Re-execute the chapters whose outputs are stale.")
    ap.add_argument("notebooks", nargs="*", help="notebooks to consider (default chapters/NN-*.ipynb)")
    ap.add_argument("--dry-run", action="store_true", help="list the stale chapters, execute nothing")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or sorted((ROOT / "chapters").glob("[0-9][0-9]-*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"refresh_chapters: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    stale = prov.stale_chapters(paths)
    if not stale:
        print("every chapter's stored outputs come from the current code")
        return 0
    for name, why in stale.items():
        print(f"stale: {name}: {why}")
    if args.dry_run:
        return 0
    for path in paths:
        if path.name in stale:
            print(f"executing {path} ...", flush=True)
            if _execute(path) != 0:
                print(f"refresh_chapters: executing {path} failed", file=sys.stderr)
                return 1
    left = prov.stale_chapters(paths)
    for name, why in left.items():
        print(f"still stale: {name}: {why}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    raise SystemExit(main())
