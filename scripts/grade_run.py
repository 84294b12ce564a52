#!/usr/bin/env python
"""Execute one graded notebook and write the executed notebook to stdout (scripts/grade.py runs it).

    python grade_run.py < job.json > executed.json

This is the only grading code that runs next to a student's code: ``scripts/grade.py`` starts it
inside the sandbox (bubblewrap, docs/grading.md) with the student's scratch folder as working
directory. The job (on stdin, never in a file the student's code could read) is
``{"notebook": <nbformat dict>, "cell_timeout": seconds}``: the cells are sent to one kernel one
after the other, so a hidden test reaches the kernel only when it runs. The executed notebook
goes back on stdout, with ``metadata.ltdl_grading = {"status": "ok" | "timeout" | "died",
"cell": index, "reason": text}``:

* ``timeout``: a cell ran longer than ``cell_timeout`` seconds of wall time: the kernel is
  interrupted and later cells are not run;
* ``died``: the kernel died (``reason`` names the signal: SIGXCPU for the CPU-time limit, SIGKILL
  for a hard limit, ...), later cells are not run.

A cell that raises does not stop the run (the next exercise is graded all the same).

Before the kernel starts, this process makes itself non-dumpable, so that the kernel (the
student's code, same user) cannot open this process's memory or its stdout through /proc; the
kernel's own stdout and stderr go to /dev/null.
"""

from __future__ import annotations

import ctypes
import json
import signal
import subprocess
import sys


def _not_dumpable() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):  # not Linux: the sandbox is off anyway (--unsafe)
        pass


def main() -> int:
    job = json.load(sys.stdin)
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but the result goes to the real stdout
    _not_dumpable()
    # jsonschema (through nbformat) imports this optional format checker if present; it builds a
    # parser at import (seconds of CPU per submission) and nothing here validates IRIs.
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.from_dict(job["notebook"])
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=float(job["cell_timeout"]),
        allow_errors=True,
        interrupt_on_timeout=True,  # nbclient then interrupts the kernel (KeyboardInterrupt in the cell)
        record_timing=False,
        shutdown_kernel="immediate",
    )
    state = {"status": "ok", "cell": None, "reason": ""}
    index = -1
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "stdin": subprocess.DEVNULL}
    try:
        with client.setup_kernel(**quiet):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
                    if any(o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", [])):
                        raise CellTimeoutError("interrupted")  # the cell ran over cell_timeout
    except CellTimeoutError:
        state = {"status": "timeout", "cell": index, "reason": f"a cell ran over {job['cell_timeout']:g} s"}
    except DeadKernelError:
        code = None
        proc = getattr(getattr(client.km, "provisioner", None), "process", None)
        if proc is not None:
            try:
                code = proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                code = None
        name = ""
        if isinstance(code, int) and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
        state = {"status": "died", "cell": index, "reason": f"the kernel died ({name or f'exit code {code}'})"}
    nb.metadata["ltdl_grading"] = state
    out.write(json.dumps(nb))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
