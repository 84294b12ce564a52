"""scripts/check_portability.py: what it compares, and that it finds a path-dependent print."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tests._scripts import load_script

cp = load_script("check_portability")


def test_shown_outputs_compare_what_nbval_compares():
    cells = [
        new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="a 0x7f3a\n"),
                                             new_output("stream", name="stdout", text="b\n")]),
        new_code_cell("fig", outputs=[new_output("display_data", data={"image/png": "AAA", "text/plain": "<Figure>"})]),
        new_code_cell("t", outputs=[new_output("stream", name="stdout", text="3.2 s\n")]),
        new_code_cell("w", outputs=[new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "4711", "version_major": 2},
            "text/plain": "VBox(...)"})]),
    ]  # fmt: skip
    cells[2].metadata["tags"] = ["nbval-ignore-output"]
    shown = cp.shown_outputs(new_notebook(cells=cells))
    assert shown[0] == "[stdout] a 0xADDRESS\nb\n"  # streams merged, sanitised like nbval
    assert shown[1] == "[text/plain] <Figure>"  # images are not compared (nbval neither)
    assert 2 not in shown  # an ignored cell is skipped
    assert shown[3] == "[text/plain] VBox(...)"  # a widget's random model id is not compared (nbval neither)


def test_first_difference_names_the_lines():
    assert cp.first_difference("x = 1\ny = 2", "x = 1\ny = 3") == ("y = 2", "y = 3")
    assert cp.first_difference("x\ny", "x") == ("y", "(nothing)")


def test_bad_arguments_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cp.main(["--paths", "fast"])
    assert "--paths must name paths" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cp.main([str(tmp_path / "missing.ipynb")])
    assert "CHAPTER must be an existing .ipynb" in capsys.readouterr().err


def test_finds_a_rounding_level_print_and_passes_a_rounded_one(tmp_path, capsys):
    """Under the perturbation path, a full-precision print of generated data changes; the same
    number rounded to 4 digits does not. The tool must report exactly the first cell."""
    code = "import ltdl\nx = float(ltdl.xor(8, seed=0).x.sum())\n"
    nb = new_notebook(cells=[new_code_cell(code + "print(repr(x))"), new_code_cell(code + "print(ltdl.sig(x, 4))")])
    path = tmp_path / "01-probe.ipynb"
    nbformat.write(nb, path)
    *_, shown, _, error = cp.execute(str(path), "default")
    assert error is None
    nb.cells[0].outputs = [new_output("stream", name="stdout", text=shown[0].removeprefix("[stdout] "))]
    nb.cells[1].outputs = [new_output("stream", name="stdout", text=shown[1].removeprefix("[stdout] "))]
    nbformat.write(nb, path)
    assert cp.main([str(path), "--paths", "perturb", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "1 differing cell(s)" in out and "cell 0:" in out and "cell 1:" not in out
