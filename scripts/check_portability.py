#!/usr/bin/env python
"""Find the numbers of the book that depend on the machine's rounding.

    python scripts/check_portability.py [CHAPTER ...] [--paths default,mkl-compatible,...]
                                        [--jobs 2] [--report FILE]

Executes each chapter (default: every ``chapters/NN-*.ipynb``) once per *arithmetic path* and
compares what a reader sees — every text output that nbval compares (stream text and every
non-image MIME type, glued values included) — with the stored outputs. It prints every cell
whose output differs, with the stored and the new text, and a table of differing cells per
chapter and path; it exits 1 when any cell differs (0 when the book is portable over these
paths). Cells tagged ``nbval-ignore-output`` (timings, the provenance box) are skipped, as nbval
skips them.

The paths are the ways one machine can round differently from another machine:

* ``default``: the environment as it is (run-to-run stability of the stored outputs);
* ``mkl-compatible``: ``MKL_CBWR=COMPATIBLE``, MKL's code path that any x86-64 CPU runs (SSE2);
* ``mkl-avx2``: ``MKL_CBWR=AVX2`` (only where the CPU has AVX2);
* ``aten-default``: ``ATEN_CPU_CAPABILITY=default``, torch's non-vectorised kernels;
* ``perturb``, ``perturb-2``: ``LTDL_PERTURB=1e-12`` with seeds 1 and 2 — every solve's start and
  every generated data set moved by ~1e-12 relative (:mod:`ltdl.perturb`): the perturbation a
  different rounding would cause, without relying on this CPU to provide it.

A number that changes under one of them would change on some reader's computer: show it as the
bound it is asserted against, with fewer digits, or as an ensemble (``docs/authoring.md``,
"Numbers that reproduce on any computer").
"""

from __future__ import annotations

import argparse
import configparser
import copy
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
PATHS: dict[str, dict[str, str]] = {
    "default": {},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
    "mkl-avx2": {"MKL_CBWR": "AVX2"},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "perturb": {"LTDL_PERTURB": "1e-12", "LTDL_PERTURB_SEED": "1"},
    "perturb-2": {"LTDL_PERTURB": "1e-12", "LTDL_PERTURB_SEED": "2"},
}
IGNORED_TAGS = {"nbval-ignore-output", "raises-exception", "nbval-skip", "skip-execution"}
# nbval does not compare images, nor a widget's view (its model id is random in every run: an
# explorer's frames are compared through their text outputs and tested in tests/browser).
SKIPPED_MIME = ("image/", "application/vnd.jupyter.widget-view+json")
TIMEOUT_S = 600  # per cell: a stalled kernel must not hang the tool


def _has_avx2() -> bool:
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _sanitizers() -> list[tuple[re.Pattern[str], str]]:
    cfg = configparser.ConfigParser(interpolation=None)  # the regexes hold "%"
    cfg.read(SANITIZE)
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def shown_outputs(nb: nbformat.NotebookNode) -> dict[int, str]:
    """Code cell index -> the sanitised text nbval compares (cells it ignores are left out)."""
    subs = _sanitizers()
    shown: dict[int, str] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or IGNORED_TAGS & set(cell.metadata.get("tags", [])):
            continue
        parts: list[str] = []
        streams: dict[str, str] = {}  # one text per stream name: chunking depends on timing, not on the result
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                streams[out.name] = streams.get(out.name, "") + out.text
            elif out.output_type in ("display_data", "execute_result"):
                for mime, value in sorted(out.get("data", {}).items()):
                    if not mime.startswith(SKIPPED_MIME):
                        parts.append(f"[{mime}] " + (value if isinstance(value, str) else repr(value)))
            elif out.output_type == "error":
                parts.append(f"[error] {out.ename}: {out.evalue}")
        text = "\n".join([*(f"[{n}] {t}" for n, t in sorted(streams.items())), *parts])
        for pattern, repl in subs:
            text = pattern.sub(repl, text)
        shown[i] = text
    return shown


def execute(chapter: str, path: str) -> tuple[str, str, dict[int, str], float, str | None]:
    """Run ``chapter`` under ``path`` in a fresh kernel; its shown outputs, seconds and error."""
    nb = nbformat.read(chapter, as_version=4)
    env = dict(os.environ)
    for name in ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "LTDL_PERTURB", "LTDL_PERTURB_SEED"):
        env.pop(name, None)  # each path states its whole arithmetic, nothing leaks in
    env.update(PATHS[path])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("PYTHONHASHSEED", "0")
    client = NotebookClient(
        copy.deepcopy(nb), timeout=TIMEOUT_S, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(Path(chapter).parent)}},
    )  # fmt: skip
    start = time.perf_counter()
    error = None
    try:
        client.execute(env=env)
    except Exception as exc:  # a dead kernel or a timeout is a finding, reported, not a crash
        error = f"{type(exc).__name__}: {exc}"
    return chapter, path, shown_outputs(client.nb), time.perf_counter() - start, error


def first_difference(a: str, b: str) -> tuple[str, str]:
    """The first differing line of two outputs (whole texts when one is empty)."""
    la, lb = a.splitlines(), b.splitlines()
    for x, y in zip(la, lb, strict=False):
        if x != y:
            return x, y
    return "\n".join(la[len(lb) :]) or "(nothing)", "\n".join(lb[len(la) :]) or "(nothing)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="notebooks (default: every chapters/NN-*.ipynb)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, from {', '.join(PATHS)}")
    parser.add_argument("--jobs", type=int, default=2, help="chapters executed at the same time (default 2)")
    parser.add_argument("--report", type=Path, help="also write the report (Markdown) to this file")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be an integer >= 1, got {args.jobs}")
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = [p for p in paths if p not in PATHS]
    if unknown or not paths:
        parser.error(f"--paths must name paths from {', '.join(PATHS)}, got {args.paths!r}")
    if "mkl-avx2" in paths and not _has_avx2():
        print("mkl-avx2: this CPU has no AVX2, path skipped")
        paths.remove("mkl-avx2")
    chapters = args.chapters or sorted(str(p) for p in (ROOT / "chapters").glob("[0-9][0-9]-*.ipynb"))
    for ch in chapters:
        if not Path(ch).is_file() or not ch.endswith(".ipynb"):
            parser.error(f"CHAPTER must be an existing .ipynb file, got {ch!r}")
    stored = {ch: shown_outputs(nbformat.read(ch, as_version=4)) for ch in chapters}

    lines = [f"# Portability report: {len(chapters)} chapter(s) × paths {', '.join(paths)}", ""]
    counts: dict[tuple[str, str], int] = {}
    jobs = [(ch, p) for ch in chapters for p in paths]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for done, (ch, path, shown, seconds, error) in enumerate(pool.map(execute, *zip(*jobs, strict=True)), start=1):
            name = Path(ch).stem
            diffs = [i for i in stored[ch] if shown.get(i) != stored[ch][i]]
            counts[(name, path)] = len(diffs)
            head = f"[{done}/{len(jobs)}] {name} under {path}: {len(diffs)} differing cell(s), {seconds:.0f} s"
            print(head + (f" — {error}" if error else ""), flush=True)
            lines.append(f"## {name} under `{path}`: {len(diffs)} differing cell(s)" + (f" ({error})" if error else ""))
            for i in diffs:
                old, new = first_difference(stored[ch][i], shown.get(i, ""))
                msg = f"- cell {i}: stored `{old.strip()[:160]}` → `{new.strip()[:160]}`"
                print("   " + msg, flush=True)
                lines.append(msg)
            lines.append("")
    names = [Path(ch).stem for ch in chapters]
    lines += ["## Summary (differing cells)", "", "| chapter | " + " | ".join(paths) + " |"]
    lines.append("|---|" + "---|" * len(paths))
    for n in names:
        lines.append(f"| {n} | " + " | ".join(str(counts[(n, p)]) for p in paths) + " |")
    total = sum(counts.values())
    lines += ["", f"Total: {total} differing cell(s)."]
    print("\n".join(lines[lines.index("## Summary (differing cells)") :]))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.report.with_suffix(args.report.suffix + ".part")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(args.report)  # never a report that looks complete but is not
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
