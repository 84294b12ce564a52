"""The book's Sphinx extension (_ext/ltdl_html.py): plain-text titles and provenance badges, on a
tiny scratch book (no browser needed; runs with the browser checks: `pytest tests/browser`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ltdl_html_under_test", ROOT / "_ext" / "ltdl_html.py")
ext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ext)


@pytest.mark.parametrize(
    "title, text",
    [
        (r"Training error <span class='math'>\(O(1/T)\)</span>: deeper", "Training error O(1/T): deeper"),
        (r"Homogeneity and the \(T\leftrightarrow\lambda\) scaling (R1)", "Homogeneity and the T↔λ scaling (R1)"),
        (r"Minimal-norm interpolation and \(\lambda\searrow0\)", "Minimal-norm interpolation and λ↘0"),
        (r"decay with \(\ell^p\) losses, \(e^{-\mu t}\)", "decay with ℓᵖ losses, e^(−μt)"),
        (r"\(\bar{\mathbf x}\in\mathbb{R}^{d}\), $x_2$", "x̄∈ℝᵈ, x₂"),
    ],
)
def test_plain_title(title, text):
    out = ext.plain_title(title)
    assert out == text
    assert "\\" not in out and "$" not in out and "^{" not in out and "_{" not in out


def _build(tmp_path: Path, title: str) -> tuple[int, str, str]:
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\n"
        "extensions = ['myst_parser', 'sphinx_proof', 'ltdl_html']\n"
        "myst_enable_extensions = ['dollarmath', 'colon_fence']\n"
    )
    (src / "index.md").write_text(f"# Page\n\n```{{prf:theorem}} {title}\n:label: thm-x\n\nBody $x$.\n```\n")
    out = tmp_path / "out"
    status, warning = __import__("io").StringIO(), __import__("io").StringIO()
    sys.modules.pop("ltdl_html", None)
    try:
        app = Sphinx(
            str(src),
            str(src),
            str(out),
            str(tmp_path / "doctrees"),
            "html",
            status=status,
            warning=warning,
            freshenv=True,
        )
        app.build()
        code = 0
    except Exception as exc:  # the extension refuses by raising at the end of the build
        warning.write(f"\nEXCEPTION: {exc}")
        code = 1
    page = (out / "index.html").read_text() if (out / "index.html").is_file() else ""
    return code, page, warning.getvalue()


@pytest.mark.parametrize(
    "tag, key",
    [
        ("[derived]", "derived"),
        ("[source]", "source"),
        ("[authors' code]", "code"),
        ("[reconstructed]", "reconstructed"),
    ],
)
def test_badge(tmp_path, tag, key):
    code, page, warnings = _build(tmp_path, f"R9: a result with $x^2$ {tag}")
    assert code == 0, warnings
    assert f'<span class="ltdl-prov ltdl-prov-{key}">' in page
    assert tag not in page.replace("\u2019", "'")  # the bracket is gone from the title
    assert "ltdl.css" in page and (tmp_path / "out" / "_static" / "ltdl.css").is_file()


@pytest.mark.parametrize(
    "title, message",
    [
        ("R9: a result [reconstructed, to verify]", "unknown provenance tag [reconstructed, to verify]"),
        ("R9: a result without a tag", "does not end with a provenance tag"),
    ],
)
def test_unknown_or_missing_tag_fails_the_build(tmp_path, title, message):
    code, page, warnings = _build(tmp_path, title)
    assert code == 1 and message in warnings and "thm-x" in warnings, warnings
