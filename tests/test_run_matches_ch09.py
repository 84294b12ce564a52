"""``ltdl run NAME`` at chapter 09's settings reproduces the numbers the chapter glues, to the
printed digits: the command line and the chapter call the same library functions
(``run_example`` and ``measures``). The two cheapest examples of the chapter are run (Examples
4.3 and A.1, 300 L-BFGS iterations on 600 points each)."""

from __future__ import annotations

import json
import re

import pytest
from _scripts import ROOT, printed_glue

import ltdl
from ltdl import cli

CHAPTER = ROOT / "chapters" / "09-authors-examples.ipynb"

# glue key -> (path in results.json, significant digits of the chapter's ``sig`` for that key)
GLUED = {
    "ex43": {
        "ex43_acc_0": (("measures", "acc_0"), 3),
        "ex43_margin": (("measures", "margin"), 3),
        "ex43_test_acc": (("test_accuracy",), 4),
    },
    "exA1": {
        "exA1_rho": (("measures", "rho"), 3),
        "exA1_test_acc": (("test_accuracy",), 4),
    },
}


def _chapter_settings(name: str) -> tuple[str, int]:
    """(size, seed) of the chapter's own call ``NAME = ltdl.run_example("NAME", size=..., seed=...)``."""
    code = "\n".join("".join(c["source"]) for c in json.loads(CHAPTER.read_text())["cells"] if c["cell_type"] == "code")
    calls = re.findall(rf'^{name} = ltdl\.run_example\("{name}", size="(\w+)", seed=(\d+)\)$', code, re.M)
    assert len(calls) == 1, f"chapter 09 must run {name} once, found {calls}"
    return calls[0][0], int(calls[0][1])


@pytest.mark.parametrize("name", sorted(GLUED))
def test_ltdl_run_reproduces_the_chapters_glued_numbers(name, tmp_path, capsys):
    shown = printed_glue(CHAPTER)
    size, seed = _chapter_settings(name)
    code = cli.main(["run", name, "--size", size, "--seed", str(seed), "--no-progress", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert results["size"] == size and results["seed"] == seed
    for key, (path, digits) in GLUED[name].items():
        value = results
        for part in path:
            value = value[part]
        # The same number rounded as the chapter rounds it: equality, no tolerance.
        assert ltdl.sig(value, digits) == float(shown[key]), (key, value, shown[key])
