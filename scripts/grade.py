#!/usr/bin/env python
"""Grade a folder of submitted notebooks into a per-student, per-exercise CSV, one sandbox each.

    python scripts/grade.py SUBMISSIONS [--course _build/classroom] [--csv FILE] [--jobs N]
                            [--cell-timeout S] [--wall-timeout S] [--cpu-limit S] [--memory-limit GiB]
                            [--unsafe]

SUBMISSIONS holds one folder per student, named by the student's id, with the notebooks they
hand in under their assignment's file name (``alice/05-tracking-turnpike.ipynb``; sub-folders
are searched too). The course folder is the one written by scripts/make_assignments.py.

For every submitted notebook, this process (the lecturer's) builds the notebook to run: the
chapter's setup cells and grading set-up (classroom/hidden/), the student's answer cells (and
any cells the student added), and after each exercise its hidden tests. It runs that notebook in
a **bubblewrap sandbox** (``bwrap``: read-only system and Python, a private writable scratch
folder that holds nothing but the student's own notebook, no network, no other submission, no
gradebook, no hidden-test file, no repository; CPU-time, memory and wall-time limits), reads the
executed notebook back from the sandbox's stdout, scores it, and alone writes the CSV, the
executed notebooks (``<course>/autograded/<student>/<chapter>.ipynb``) and the gradebook. Without
``bwrap`` it refuses to run unless ``--unsafe`` is given (then the same limits, but no sandbox).

The CSV has one row per student, chapter and exercise of every assignment:

    student,chapter,exercise,score,max_score,status,reason

``status``: ``graded``; ``manual`` (a written answer: the points are given by hand); ``missing``
(no notebook handed in); ``malformed`` (not a readable notebook, or no cells); ``error`` (the
student's answer cell raised, or the kernel died); ``timeout`` (a cell ran over the time limit,
or the CPU-time limit was reached); ``memory`` (the memory limit was reached). A failure stops
only that student's notebook, and only the exercises it had not graded yet. Exit status: 0 when
every submission ran cleanly, 3 when any row is ``error``, ``timeout``, ``memory`` or
``malformed`` (a submission to look at), 1 or 2 when grading could not start.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_assignments as ma  # noqa: E402

ROOT = ma.ROOT
RUNNER = Path(__file__).resolve().parent / "grade_run.py"
FIELDS = ["student", "chapter", "exercise", "score", "max_score", "status", "reason"]
NEEDS_A_LOOK = ("error", "timeout", "memory", "malformed")
MEMORY_WORDS = ("MemoryError", "can't allocate memory", "Unable to allocate", "out of memory", "std::bad_alloc")
DEFAULTS = {"cell_timeout": 120.0, "wall_timeout": 600.0, "cpu_limit": 600, "memory_limit": 6.0}


class GradingError(RuntimeError):
    """Grading cannot start (no course, no sandbox tool, no submissions)."""


# --- the sandbox ----------------------------------------------------------------------------------


def sandbox_tool() -> str | None:
    return shutil.which("bwrap")


def _python_roots() -> list[Path]:
    """Folders the sandboxed Python needs, read-only: the venv, the base install, ``ltdl``'s source."""
    import ltdl

    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent}
    roots.add(Path(ltdl.__file__).resolve().parent)  # an editable install points into the repository
    out: list[Path] = []
    for r in sorted(roots, key=lambda p: len(p.parts)):
        if not any(r.is_relative_to(o) for o in out):
            out.append(r)
    return out


def sandbox_command(scratch: Path, limits: dict, unsafe: bool) -> list[str]:
    """The command that runs scripts/grade_run.py on a job read from stdin, with the limits."""
    mem = int(limits["memory_limit"] * 2**30)
    cpu = int(limits["cpu_limit"])
    # CPU time: SIGXCPU at the soft limit (reported as "timeout"), SIGKILL 5 s later only if that
    # signal is ignored. With soft = hard, Linux may send SIGKILL first, which reads as a crash.
    cpu_soft_hard = f"--cpu={cpu}:{cpu + 5}"
    prlimit = [shutil.which("prlimit") or "prlimit", f"--as={mem}", cpu_soft_hard, f"--fsize={2**30}", "--"]
    if unsafe:
        return [*prlimit, sys.executable, "-I", str(RUNNER)]
    bw = [sandbox_tool(), "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    # A private /tmp first, so that the read-only binds below stay visible where they lie under /tmp
    # (a venv or a course in /tmp); it is made read-only at the end: every writable scratch folder
    # (TMPDIR, Jupyter's and IPython's) is inside /submission.
    bw += ["--tmpfs", "/tmp"]
    for d in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if Path(d).is_symlink():
            bw += ["--symlink", os.readlink(d), d]
        elif Path(d).is_dir():
            bw += ["--ro-bind", d, d]
    for f in (
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/localtime",
        "/etc/fonts",
        "/etc/passwd",
        "/etc/group",
        "/etc/nsswitch.conf",
        "/etc/hosts",
        "/etc/ssl",
        "/etc/alternatives",
        "/etc/matplotlibrc",
    ):
        bw += ["--ro-bind-try", f, f]
    for r in _python_roots():
        bw += ["--ro-bind", str(r), str(r)]
    bw += ["--ro-bind", str(RUNNER), "/grader/grade_run.py"]
    bw += [
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--bind",
        str(scratch),
        "/submission",
        "--chdir",
        "/submission",
    ]
    bw += ["--remount-ro", "/"]  # the sandbox's own root (mount points) is read-only too
    bw += ["--remount-ro", "/tmp"]  # and so is /tmp, with the folders the binds above created in it
    bw += ["--clearenv"]
    env = {
        "HOME": "/submission",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/submission/.config/matplotlib",
        "TMPDIR": "/submission/.tmp",
        "JUPYTER_RUNTIME_DIR": "/submission/.jupyter",
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": "/submission/.ipython",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "LANG": "C.UTF-8",
    }
    for k, v in env.items():
        bw += ["--setenv", k, v]
    return [*prlimit, *bw, sys.executable, "-I", "/grader/grade_run.py"]


def run_sandboxed(nb, limits: dict, unsafe: bool, keep: Path | None = None) -> tuple[dict | None, str]:
    """Execute ``nb`` in a fresh sandbox; the executed notebook (or None) and a reason if none."""
    with tempfile.TemporaryDirectory(prefix="ltdl-grade-") as tmp:
        scratch = Path(tmp) / "work"
        scratch.mkdir()
        (scratch / ".tmp").mkdir()  # TMPDIR inside the sandbox (sandbox_command)
        if keep is not None:  # the student's own notebook, so that relative paths work as at home
            shutil.copyfile(keep, scratch / keep.name)
        cmd = sandbox_command(scratch, limits, unsafe)
        env = None
        if unsafe:
            env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        job = json.dumps({"notebook": nb, "cell_timeout": limits["cell_timeout"]})
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=scratch,
            env=env,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(job.encode(), timeout=limits["wall_timeout"])
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return None, f"the notebook ran over the wall-time limit of {limits['wall_timeout']:g} s"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        try:
            return json.loads(out), ""
        except ValueError:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            return None, f"the grader's runner failed: {tail[0][:200]}"


# --- what runs: the graded notebook ---------------------------------------------------------------


def read_submission(path: Path):
    """The submitted notebook, or a reason why it is not one."""
    if path.is_symlink():  # it could point at another student's notebook
        return None, "a symbolic link, not a notebook"
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 (anything unreadable is malformed)
        return None, f"not a readable notebook ({type(exc).__name__})"
    if not nb.get("cells"):
        return None, "the notebook has no cells"
    return nb, ""


def _answer_label(cell) -> str | None:
    meta = cell.get("metadata", {})
    label = meta.get("ltdl", {}).get("exercise") if isinstance(meta.get("ltdl"), dict) else None
    gid = meta.get("nbgrader", {}).get("grade_id", "") if isinstance(meta.get("nbgrader"), dict) else ""
    if not label and isinstance(gid, str) and gid.endswith("--answer"):
        label = gid[: -len("--answer")]
    return label if isinstance(label, str) else None


def build(assignment: dict, student_nb) -> tuple[object, dict]:
    """The notebook to execute for one submission, and cell index -> role.

    Roles: ("setup",), ("answer", label), ("extra", label), ("test", label, k). The chapter's own
    cells come from the lecturer's copy; from the student only the answer cells and the cells the
    student added after an answer cell (a helper function, say) are taken."""
    source = assignment["source_nb"]
    hidden = assignment["hidden"]
    src_cells = {c.get("id"): c for c in source.cells}
    answers: dict[str, list] = {}
    extras: dict[str, list] = {}
    current = None
    for c in student_nb.cells:
        if c.cell_type != "code":
            continue
        label = _answer_label(c)
        if label in assignment["code"]:
            current = label
            answers.setdefault(label, []).append(c.source)
        elif c.get("id") not in src_cells and current is not None:
            extras.setdefault(current, []).append(c.source)
    cells, roles = [], {}

    def add(src, role):
        roles[len(cells)] = role
        cells.append(nbformat.v4.new_code_cell(src))

    for cid in hidden.get("setup_cells", []):
        add(src_cells[cid].source, ("setup",))
    if hidden.get("setup"):
        add(hidden["setup"], ("setup",))
    for label in assignment["code"]:
        stub = assignment["stubs"][label]
        add("\n\n".join(answers.get(label, [stub])), ("answer", label))
        for extra in extras.get(label, []):
            add(extra, ("extra", label))
        for k, test in enumerate(hidden["exercises"][label]["tests"]):
            add(test["code"], ("test", label, k))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb, roles


def _error(cell) -> dict | None:
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            return o
    return None


def _short(err: dict) -> str:
    value = " ".join(str(err.get("evalue", "")).split())
    return f"{err.get('ename', 'Error')}: {value}"[:160].rstrip(": ")


def _is_memory(err: dict | None) -> bool:
    text = f"{err.get('ename', '')} {err.get('evalue', '')}" if err else ""
    return any(w in text for w in MEMORY_WORDS)


def score(assignment: dict, executed: dict | None, roles: dict, failure: str) -> dict[str, dict]:
    """exercise -> {score, status, reason} for the code exercises of one executed submission."""
    hidden = assignment["hidden"]
    out = {}
    if executed is None:
        status = "timeout" if "time" in failure else "error"
        return {label: {"score": 0.0, "status": status, "reason": failure} for label in assignment["code"]}
    cells = executed["cells"]
    state = executed.get("metadata", {}).get("ltdl_grading", {"status": "ok", "cell": None})
    stop = state.get("cell") if state.get("status") != "ok" else None
    ran = len(cells) if stop is None else stop  # cells before `stop` finished
    stop_err = _error(cells[stop]) if stop is not None and stop < len(cells) else None
    if state.get("status") == "timeout":
        stop_status, stop_reason = "timeout", state.get("reason", "time limit")
    elif state.get("status") == "died":
        reason = state.get("reason", "the kernel died")
        stop_status = "timeout" if "SIGXCPU" in reason else ("memory" if _is_memory(stop_err) else "error")
        if stop_status == "timeout":
            reason += ": the CPU-time limit"
        stop_reason = reason
    else:
        stop_status, stop_reason = "ok", ""
    setup_errors = [_error(cells[i]) for i, r in roles.items() if r[0] == "setup" and i < ran and _error(cells[i])]
    for label in assignment["code"]:
        idx = [i for i, r in roles.items() if r[1:2] == (label,)]
        tests = [i for i in idx if roles[i][0] == "test"]
        if stop is not None and stop <= max(idx):
            err_here = _error(cells[stop]) if stop in idx else None
            status = "memory" if _is_memory(err_here) else stop_status
            where = "in this exercise" if stop in idx else "before this exercise"
            out[label] = {"score": 0.0, "status": status, "reason": f"{stop_reason} ({where})"}
            continue
        pts = [float(hidden["exercises"][label]["tests"][roles[i][2]]["points"]) for i in tests]
        got = sum(p for i, p in zip(tests, pts, strict=True) if _error(cells[i]) is None)
        failed = [
            hidden["exercises"][label]["tests"][roles[i][2]].get("name", f"test {roles[i][2] + 1}")
            for i in tests
            if _error(cells[i]) is not None
        ]
        answer_errs = [_error(cells[i]) for i in idx if roles[i][0] in ("answer", "extra") and _error(cells[i])]
        status, reason = "graded", ""
        if setup_errors:
            status, reason = "error", f"the chapter's set-up failed: {_short(setup_errors[0])}"
        elif answer_errs:
            first = answer_errs[0]
            answer_src = "".join(cells[idx[0]]["source"])
            if first.get("ename") == "NotImplementedError" and ma.se.STUB_RAISE in answer_src:
                reason = "not attempted (the stub is still there)"
            else:
                status = "memory" if _is_memory(first) else "error"
                reason = f"the answer raised {_short(first)}"
        if failed and status == "graded" and not reason:
            reason = (reason + "; " if reason else "") + "failed: " + ", ".join(failed)
        out[label] = {"score": round(got, 6), "status": status, "reason": reason}
    return out


# --- the class ------------------------------------------------------------------------------------


def collect(submissions: Path, names: list[str]) -> dict[str, dict[str, Path]]:
    """student -> assignment -> submitted notebook."""
    found: dict[str, dict[str, Path]] = {}
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found.setdefault(student_dir.name, {})
        for name in names:
            hits = sorted(h for h in student_dir.rglob(f"{name}.ipynb") if ".ipynb_checkpoints" not in h.parts)
            if hits:
                found[student_dir.name][name] = hits[0]
    return found


def grade_one(assignment: dict, student: str, path: Path | None, limits: dict, unsafe: bool, out_dir: Path):
    """Rows of one student and one assignment (never raises for a student's fault)."""
    name = assignment["name"]
    rows = []
    results: dict[str, dict] = {}
    if path is None:
        results = {
            label: {"score": 0.0, "status": "missing", "reason": "no notebook handed in"}
            for label in assignment["code"]
        }
    else:
        nb, why = read_submission(path)
        if nb is None:
            results = {label: {"score": 0.0, "status": "malformed", "reason": why} for label in assignment["code"]}
        else:
            graded, roles = build(assignment, nb)
            executed, failure = run_sandboxed(graded, limits, unsafe, keep=path)
            results = score(assignment, executed, roles, failure)
            if executed is not None:
                dest = out_dir / student / f"{name}.ipynb"
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(json.dumps(executed))
    for label in assignment["labels"]:
        if label in assignment["code"]:
            r = results[label]
            rows.append(
                {
                    "student": student,
                    "chapter": name,
                    "exercise": label,
                    "score": r["score"],
                    "max_score": assignment["points"][label],
                    "status": r["status"],
                    "reason": r["reason"],
                }
            )
        else:
            missing = path is None
            rows.append(
                {
                    "student": student,
                    "chapter": name,
                    "exercise": label,
                    "score": 0.0,
                    "max_score": assignment["points"][label],
                    "status": "missing" if missing else "manual",
                    "reason": "no notebook handed in" if missing else "a written answer: grade it by hand",
                }
            )
    return rows


def grade(
    submissions: Path, course: Path, limits: dict | None = None, jobs: int | None = None, unsafe: bool = False
) -> list[dict]:
    limits = {**DEFAULTS, **(limits or {})}
    course = course.resolve()
    assignments = ma.load_course(course)
    if not assignments:
        raise GradingError(f"{course} has no assignments: run scripts/make_assignments.py first")
    if not unsafe and sandbox_tool() is None:
        raise GradingError(
            "the sandbox tool bubblewrap (bwrap) is not installed: install it (Debian: apt-get install "
            "bubblewrap), or pass --unsafe to run the students' code as you, with your files and network"
        )
    found = collect(submissions.resolve(), [a["name"] for a in assignments])
    if not found:
        raise GradingError(f"{submissions} has no student folders")
    out_dir = course / "autograded"
    shutil.rmtree(out_dir, ignore_errors=True)
    tasks = [(a, s, nbs.get(a["name"])) for a in assignments for s, nbs in found.items()]
    jobs = max(1, jobs or os.cpu_count() or 1)
    with cf.ThreadPoolExecutor(max_workers=jobs) as pool:  # each task is its own sandboxed process
        futures = [pool.submit(grade_one, a, s, p, limits, unsafe, out_dir) for a, s, p in tasks]
        results = [f.result() for f in futures]
    rows = [r for rs in results for r in rs]
    ma.record_grades(course, rows)
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("submissions", type=Path, help="folder with one sub-folder per student")
    p.add_argument("--course", type=Path, default=ROOT / "_build" / "classroom", help="written by make_assignments.py")
    p.add_argument("--csv", type=Path, default=None, help="output CSV (default: <course>/grades.csv)")
    p.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: CPU count)")
    p.add_argument("--cell-timeout", type=float, default=DEFAULTS["cell_timeout"], help="wall seconds per cell")
    p.add_argument("--wall-timeout", type=float, default=DEFAULTS["wall_timeout"], help="wall seconds per notebook")
    p.add_argument("--cpu-limit", type=int, default=DEFAULTS["cpu_limit"], help="CPU seconds per process")
    p.add_argument("--memory-limit", type=float, default=DEFAULTS["memory_limit"], help="GiB of address space")
    p.add_argument("--unsafe", action="store_true", help="grade without the sandbox (students' code runs as you)")
    args = p.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"grade: no such folder: {args.submissions}", file=sys.stderr)
        return 2
    limits = {
        "cell_timeout": args.cell_timeout,
        "wall_timeout": args.wall_timeout,
        "cpu_limit": args.cpu_limit,
        "memory_limit": args.memory_limit,
    }
    for k, v in limits.items():
        if v <= 0:
            print(f"grade: --{k.replace('_', '-')} must be positive, got {v}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    try:
        rows = grade(args.submissions, args.course, limits, args.jobs, args.unsafe)
    except (GradingError, ma.se.StudentEditionError) as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 1
    out = args.csv or args.course / "grades.csv"
    write_csv(rows, out)
    totals: dict[str, list[float]] = {}
    for r in rows:
        t = totals.setdefault(r["student"], [0.0, 0.0])
        t[0] += r["score"]
        t[1] += r["max_score"]
    for student, (s, m) in totals.items():
        print(f"{student}: {s:g} / {m:g}")
    look = sorted({(r["student"], r["chapter"], r["status"]) for r in rows if r["status"] in NEEDS_A_LOOK})
    for student, chapter, status in look:
        print(f"to look at: {student} {chapter}: {status}")
    print(f"per-exercise scores: {out} ({time.perf_counter() - t0:.0f} s)")
    return 3 if look else 0


if __name__ == "__main__":
    sys.exit(main())
