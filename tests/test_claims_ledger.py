"""The claims ledger (scripts/claims_ledger.py): rows from docs/claims.yml, glued values and junit."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("claims_ledger", ROOT / "scripts" / "claims_ledger.py")
cl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cl)


def glued_cell(key, text):
    c = new_code_cell(f'glue("{key}", x, display=False)')
    c.outputs = [new_output("display_data", data={cl.GLUE_PREFIX + "text/plain": text},
                            metadata={"scrapbook": {"name": key, "mime_prefix": cl.GLUE_PREFIX}})]
    return c


def junit(path, cases):
    body = "".join(
        f'<testcase classname="{c}" name="{n}" file="{f}">' + ("<failure message='x'/>" if o == "failed" else "")
        + "</testcase>" for c, n, f, o in cases)
    path.write_text(f'<?xml version="1.0"?><testsuites><testsuite name="pytest">{body}</testsuite></testsuites>')


@pytest.fixture
def book(tmp_path):
    (tmp_path / "chapters").mkdir()
    nb = new_notebook(cells=[new_markdown_cell("# A"), new_code_cell("import ltdl"), glued_cell("ra_slope", "-1.98"),
                             new_markdown_cell("text"), glued_cell("rb_mu", "3.3")])
    nbformat.write(nb, tmp_path / "chapters" / "01-a.ipynb")
    claims = {"results": [
        {"id": "RA", "title": "A passes", "chapter": "chapters/01-a", "label": "thm-ra", "tag": "derived",
         "glue": ["ra_slope"], "tests": ["tests/test_x.py::test_ok"]},
        {"id": "RB", "title": "B fails", "chapter": "chapters/01-a", "label": "thm-rb", "tag": "source",
         "glue": ["rb_mu"], "tests": []},
        {"id": "RC", "title": "C not written", "chapter": "chapters/09-none", "label": "thm-rc",
         "tag": "reconstructed, to verify", "glue": ["rc_x"], "tests": []},
    ]}
    (tmp_path / "claims.yml").write_text(yaml.safe_dump(claims))
    rep = tmp_path / "reports"
    rep.mkdir()
    junit(rep / "unit.xml", [("tests.test_x", "test_ok[1]", "tests/test_x.py", "passed"),
                             ("tests.test_x", "test_other", "tests/test_x.py", "failed")])
    junit(rep / "nbval.xml", [("chapters.01-a.ipynb", "Cell 0", "chapters/01-a.ipynb", "passed"),
                              ("chapters.01-a.ipynb", "Cell 1", "chapters/01-a.ipynb", "passed"),
                              ("chapters.01-a.ipynb", "Cell 2", "chapters/01-a.ipynb", "failed")])
    return tmp_path


def test_rows_status_and_values(book):
    rows = cl.build_rows(cl.load_claims(book / "claims.yml"), book / "reports", root=book)
    a, b, c = rows
    assert a["values"] == {"ra_slope": "-1.98"} and a["check_cells"] == [1] and a["status"] == "pass"
    assert a["n_test_cases"] == 1  # test_other (failing) is not one of RA's tests
    assert b["values"] == {"rb_mu": "3.3"} and b["check_cells"] == [2] and b["status"] == "FAIL"
    assert b["failed"] == ["chapters.01-a.ipynb::Cell 2"]
    assert c["status"] == "not run" and c["missing"] == ["rc_x"] and not c["notebook_exists"]


def test_render_marks_failures_red(book):
    rows = cl.build_rows(cl.load_claims(book / "claims.yml"), book / "reports", root=book)
    page = cl.render(rows, book / "chapters" / "claims.md")
    assert page.startswith("# What the code shows")
    assert page.count("<tr class=") == 3
    assert '<tr class="claim-fail"' in page and "#fddede" in page
    assert ":::{error} Failing checks" in page and "Cell 2" in page
    assert '<tr class="claim-pass"' in page and "-1.98" in page
    assert "rc_x</code>: not found" in page and "chapter not written yet" in page


def test_missing_reports_give_not_run(book, tmp_path):
    rows = cl.build_rows(cl.load_claims(book / "claims.yml"), tmp_path / "nothing", root=book)
    assert [r["status"] for r in rows] == ["not run"] * 3
    assert rows[0]["values"] == {"ra_slope": "-1.98"}  # values still come from the notebook


@pytest.mark.parametrize("bad", [
    {"results": []},
    {"results": [{"id": "R1", "title": "t", "chapter": "c", "label": "l"}]},  # no tag
    {"results": [{"id": "R1", "title": "t", "chapter": "c", "label": "l", "tag": "x", "glue": "k"}]},
    {"results": [{"id": "R1", "title": "t", "chapter": "c", "label": "l", "tag": "x"}] * 2},
])
def test_bad_claims_file_is_refused(tmp_path, bad):
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError):
        cl.load_claims(p)


def test_real_claims_file_declares_r1_to_r7():
    claims = cl.load_claims(ROOT / "docs" / "claims.yml")
    assert [c["id"] for c in claims] == [f"R{i}" for i in range(1, 8)]
    for c in claims:
        assert c["label"] == f"thm-{c['id'].lower()}"
        assert c["glue"] and all(k.startswith(c["id"].lower() + "_") for k in c["glue"])
        assert c["tag"] in ("derived", "source", "reconstructed, to verify", "authors' code")
        for t in c["tests"]:
            assert (ROOT / t.split("::")[0]).is_file(), t
    # on the real book: a chapter that exists must state the result and glue the declared keys
    # (in its source; whether its stored outputs are fresh is nbval's business)
    for c in claims:
        nb = ROOT / (c["chapter"] + ".ipynb")
        if nb.is_file():
            book = nbformat.read(nb, as_version=4)
            code = "\n".join(x.source for x in book.cells if x.cell_type == "code")
            md = "\n".join(x.source for x in book.cells if x.cell_type == "markdown")
            prefixes = re.findall(r"""glue\(f["']([A-Za-z0-9_]+)\{""", code)  # keys built by f-strings
            missing = [k for k in c["glue"] if f'glue("{k}"' not in code and f"glue('{k}'" not in code
                       and not any(k.startswith(p) for p in prefixes)]
            assert not missing, f"{nb.name} does not glue {missing} (docs/claims.yml)"
            assert f":label: {c['label']}" in md, f"{nb.name} has no theorem labelled {c['label']}"


def test_command_writes_page(book, tmp_path):
    out = tmp_path / "out" / "claims.md"
    code = cl.main(["--claims", str(book / "claims.yml"), "--reports", str(book / "reports"), "--out", str(out)])
    assert code == 0 and out.read_text().startswith("# What the code shows")
    assert cl.main(["--claims", str(tmp_path / "none.yml"), "--out", str(out)]) == 2
