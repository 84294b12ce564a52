"""The claims ledger (scripts/claims_ledger.py): cards from docs/claims.yml, the chapters' theorem
titles (provenance), glued values and the junit reports; loud failures on anything missing."""

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
    c.outputs = [
        new_output(
            "display_data",
            data={cl.GLUE_PREFIX + "text/plain": text},
            metadata={"scrapbook": {"name": key, "mime_prefix": cl.GLUE_PREFIX}},
        )
    ]
    return c


def junit(path, cases):
    body = "".join(
        f'<testcase classname="{c}" name="{n}" file="{f}">'
        + ("<failure message='x'/>" if o == "failed" else "")
        + ("<failure message='NbCellError: Cell outputs differ'>- 1.98\n+ 1.97</failure>" if o == "changed" else "")
        + "</testcase>"
        for c, n, f, o in cases
    )
    path.write_text(f'<?xml version="1.0"?><testsuites><testsuite name="pytest">{body}</testsuite></testsuites>')


THM_A = "```{prf:theorem} RA: a result with $x^2$ [derived]\n:label: thm-ra\n\nStatement.\n```"
THM_B = ":::{prf:theorem} RB: another [authors\u2019 code]\n:label: thm-rb\n\nStatement.\n:::"


def check(key, **kw):
    return {"quantity": "q", "predicted": "p", "tolerance": "t", "glue": key, **kw}


@pytest.fixture
def book(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("")
    nb = new_notebook(
        cells=[
            new_markdown_cell("(ch-01)=\n# A\n\n" + THM_A),
            new_code_cell("import ltdl"),
            new_markdown_cell("(chk-ra)=\n## The check: $T$ large"),
            glued_cell("ra_slope", "-1.98"),
            new_markdown_cell("## Another `section`\n\n" + THM_B),
            glued_cell("rb_mu", "'3.3'"),
        ]
    )
    nbformat.write(nb, tmp_path / "chapters" / "01-a.ipynb")
    claims = {
        "results": [
            {
                "id": "RA",
                "chapter": "chapters/01-a",
                "label": "thm-ra",
                "statement": "A passes",
                "checks": [check("ra_slope")],
                "tests": ["tests/test_x.py::test_ok"],
            },
            {
                "id": "RB",
                "chapter": "chapters/01-a",
                "label": "thm-rb",
                "statement": "B fails",
                "checks": [
                    check("rb_mu", unit="%"),
                    {"quantity": "q", "predicted": "p", "tolerance": "t", "value": "7", "reason": "computed by hand"},
                ],
            },
        ]
    }
    (tmp_path / "claims.yml").write_text(yaml.safe_dump(claims))
    rep = tmp_path / "reports"
    rep.mkdir()
    junit(
        rep / "unit.xml",
        [
            ("tests.test_x", "test_ok[1]", "tests/test_x.py", "passed"),
            ("tests.test_x", "test_other", "tests/test_x.py", "failed"),
        ],
    )
    junit(
        rep / "nbval.xml",
        [
            ("chapters.01-a.ipynb", "Cell 0", "chapters/01-a.ipynb", "passed"),
            ("chapters.01-a.ipynb", "Cell 1", "chapters/01-a.ipynb", "passed"),
            ("chapters.01-a.ipynb", "Cell 2", "chapters/01-a.ipynb", "failed"),
        ],
    )
    return tmp_path


def rows_of(book, reports=None):
    return cl.build_rows(cl.load_claims(book / "claims.yml"), reports or book / "reports", root=book)


def test_rows_status_values_provenance_and_anchors(book):
    a, b = rows_of(book)
    assert a["tag"] == "derived" and b["tag"] == "authors' code"  # read from the titles, curly quote or not
    assert a["title"] == "RA: a result with $x^2$"
    (ca,) = a["checks"]
    assert ca["measured"] == "-1.98" and ca["cell"] == 1 and ca["anchor"] == "chk-ra" and a["status"] == "pass"
    assert len(a["test_results"][0]["cases"]) == 1  # test_other (failing) is not one of RA's tests
    cb, lit = b["checks"]
    assert cb["measured"] == "3.3" and cb["cell"] == 2 and b["status"] == "FAIL"  # quotes of a glued str dropped
    assert cb["anchor"] == "another-section"  # no label above the heading: docutils' id of its text
    assert lit["measured"] == "7" and lit["cell"] is None and lit["anchor"] == "thm-rb"
    assert b["failed"] == ["chapters.01-a.ipynb::Cell 2"]


def test_a_changed_number_is_not_a_failed_assert(book):
    """nbval's "Cell outputs differ" (the cell ran, every assert held) is CHANGED, not FAIL."""
    junit(book / "reports" / "nbval.xml", [
        ("chapters.01-a.ipynb", "Cell 1", "chapters/01-a.ipynb", "changed"),
        ("chapters.01-a.ipynb", "Cell 2", "chapters/01-a.ipynb", "passed"),
    ])  # fmt: skip
    a, b = rows_of(book)
    assert a["status"] == "CHANGED" and a["failed"] == ["chapters.01-a.ipynb::Cell 1"]
    assert b["status"] == "pass" or b["status"] == "not run"  # RB has a literal check and no tests
    page = cl.render([a, b], book / "chapters" / "claims.md", root=book)
    assert 'class="claim-card claim-changed"' in page
    assert ":::{warning} Shown numbers that the last run did not reproduce" in page
    assert ":::{error}" not in page


def test_render_cards(book):
    page = cl.render(rows_of(book), book / "chapters" / "claims.md", root=book)
    assert page.startswith("# What the code shows")
    assert page.count('<div class="claim-card') == 2
    assert 'class="claim-card claim-fail"' in page and 'class="claim-card claim-pass"' in page
    assert ":::{error} Failing checks" in page and "Cell 2" in page
    assert 'href="01-a.html#chk-ra"' in page and 'href="01-a.html#thm-ra"' in page
    assert '<span class="ltdl-prov ltdl-prov-derived"' in page and "ltdl-prov-code" in page
    assert r'<span class="math notranslate nohighlight">\(x^2\)</span>' in page  # math typeset, never raw
    assert "not glued: computed by hand" in page and "<b>3.3</b> %" in page
    if cl.REPO_URL:  # tests link to the public repository, or are named without a link while there is none
        assert f"{cl.REPO_URL}/blob/main/tests/test_x.py" in page
    else:
        assert "<code>tests/test_x.py::test_ok</code>" in page and "/blob/main/" not in page
    html_block = page[page.index('<div class="claims-ledger">') :]
    assert "\n\n" not in html_block.strip(), "a blank line would end the raw HTML block in MyST"


def test_missing_reports_give_not_run(book, tmp_path):
    rows = rows_of(book, tmp_path / "nothing")
    assert [r["status"] for r in rows] == ["not run"] * 2
    assert rows[0]["checks"][0]["measured"] == "-1.98"  # values still come from the notebook


def _mutate(book, fn):
    data = yaml.safe_load((book / "claims.yml").read_text())
    fn(data)
    (book / "claims.yml").write_text(yaml.safe_dump(data))


def test_missing_glue_key_is_a_loud_failure(book):
    _mutate(book, lambda d: d["results"][0]["checks"].append(check("ra_slopes")))
    with pytest.raises(cl.ClaimsError, match=r"glue key 'ra_slopes' is not glued .*closest keys there: ra_slope"):
        rows_of(book)
    out = book / "out.md"
    assert cl.main(["--claims", str(book / "claims.yml"), "--root", str(book), "--out", str(out)]) == 2
    assert not out.exists()


def test_unknown_or_missing_tag_and_label_fail(book):
    nb = nbformat.read(book / "chapters" / "01-a.ipynb", as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace("[derived]", "[reconstructed, to verify]")
    nb.cells[4].source = nb.cells[4].source.replace(" [authors\u2019 code]", "")
    nbformat.write(nb, book / "chapters" / "01-a.ipynb")
    with pytest.raises(cl.ClaimsError) as exc:
        rows_of(book)
    msg = str(exc.value)
    assert "unknown provenance tag [reconstructed, to verify]" in msg and "ends with no provenance tag" in msg
    _mutate(book, lambda d: d["results"][0].update(label="thm-zz"))
    with pytest.raises(cl.ClaimsError, match="no prf box labelled 'thm-zz'"):
        rows_of(book)


@pytest.mark.parametrize(
    "bad",
    [
        {"results": []},
        {"results": [{"id": "R1", "chapter": "c", "label": "l", "statement": "s"}]},  # no checks
        {"results": [{"id": "R1", "chapter": "c", "label": "l", "statement": "s", "checks": [{"quantity": "q"}]}]},
        {
            "results": [
                {
                    "id": "R1",
                    "chapter": "c",
                    "label": "l",
                    "statement": "s",
                    "checks": [check("k", value="1", reason="r")],
                }
            ]
        },  # both glue and value
        {
            "results": [
                {
                    "id": "R1",
                    "chapter": "c",
                    "label": "l",
                    "statement": "s",
                    "checks": [{"quantity": "q", "predicted": "p", "tolerance": "t", "value": "1"}],
                }
            ]
        },  # no reason
        {"results": [{"id": "R1", "chapter": "c", "label": "l", "statement": "s", "checks": [check("k")]}] * 2},
    ],
)
def test_bad_claims_file_is_refused(tmp_path, bad):
    p = tmp_path / "c.yml"
    p.write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError):
        cl.load_claims(p)


def test_real_claims_file():
    claims = cl.load_claims(ROOT / "docs" / "claims.yml")
    ids = [c["id"] for c in claims]
    assert {f"R{i}" for i in range(1, 8)} <= set(ids), ids  # every result of the paper has a card
    assert any(c["chapter"].endswith("09-authors-examples") for c in claims)
    for c in claims:
        for t in c["tests"]:
            assert (ROOT / t.split("::")[0]).is_file(), t
    # on the real book: every chapter named exists, states the result in a labelled prf box with a
    # known provenance tag, and glues the declared keys in its source (whether its stored outputs
    # are fresh is nbval's business; the ledger command itself fails on a key missing from them)
    for c in claims:
        nb = ROOT / (c["chapter"] + ".ipynb")
        assert nb.is_file(), f"{c['id']}: no chapter {nb.name}"
        book = nbformat.read(nb, as_version=4)
        code = "\n".join(x.source for x in book.cells if x.cell_type == "code")
        prefixes = re.findall(r"""glue\(\s*f["']([A-Za-z0-9_]+)\{""", code)  # keys built by f-strings
        keys = [k["glue"] for k in c["checks"] if "glue" in k]
        # glue("key", ...) with the key on the call's line or, after the formatter split it, on the next one
        literal = set(re.findall(r"""glue\(\s*["']([A-Za-z0-9_]+)["']""", code))
        missing = [k for k in keys if k not in literal and not any(k.startswith(p) for p in prefixes)]
        assert not missing, f"{nb.name} does not glue {missing} (docs/claims.yml, {c['id']})"
        box = cl.read_chapter(nb)["prf"].get(c["label"])
        assert box, f"{nb.name} has no prf box labelled {c['label']}"
        cl.provenance(box["title"], f"{nb.name} {c['label']}")


def test_command_writes_page(book, tmp_path):
    out = tmp_path / "out" / "chapters" / "claims.md"
    code = cl.main(
        [
            "--claims",
            str(book / "claims.yml"),
            "--reports",
            str(book / "reports"),
            "--root",
            str(book),
            "--out",
            str(out),
        ]
    )
    assert code == 0 and out.read_text().startswith("# What the code shows")
    assert cl.main(["--claims", str(tmp_path / "none.yml"), "--out", str(out)]) == 2
