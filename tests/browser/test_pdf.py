"""The book as one PDF (``bash scripts/build-pdf.sh`` -> _build/pdf/book.pdf), read back with poppler.

* every chapter of _toc.yml is in it: the words of its title (outside math) appear in the text
  that ``pdftotext`` extracts;
* its math is typeset: the extracted text holds no TeX delimiter ``\\(``, ``\\)``, ``\\[``, ``\\]``
  and no ``\\begin{`` (Sphinx writes math with those delimiters; they remain only where MathJax
  did not run; program text of code cells uses ``$...$`` and is not affected);
* its figures are there: every figure a chapter stores (a code cell with a figure name) is an
  image of the PDF, pixel for pixel (``pdfimages -png``);
* every explorer shows its first frame: the frame a chapter stores for its explorer's first
  setting is an image of the PDF, pixel for pixel;
* the HTML book links to it: _build/html/book.pdf is the same file, and every chapter page has
  the "PDF" link.

The PDF is $LTDL_PDF (default _build/pdf/book.pdf); a missing PDF or a missing poppler tool fails.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PDF = Path(os.environ.get("LTDL_PDF", ROOT / "_build" / "pdf" / "book.pdf")).resolve()
HTML = Path(os.environ.get("LTDL_HTML_DIR", ROOT / "_build" / "html")).resolve()
RAW_TEX = re.compile(r"\\[()\[\]]|\\begin\{")


def _toc_files() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    out = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                out.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc.get("parts") or toc.get("chapters") or [])
    paths = []
    for f in out:
        for ext in (".ipynb", ".md"):
            if (ROOT / (f + ext)).is_file():
                paths.append(ROOT / (f + ext))
                break
    return paths


def _title(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    else:
        text = path.read_text()
    m = re.search(r"^# (.+)$", text, re.M)
    return m.group(1) if m else ""


def _title_words(title: str) -> str:
    """The title's first words before any math or punctuation (what pdftotext must show)."""
    prefix = re.split(r"[$:(,{]", title, maxsplit=1)[0]
    return " ".join(_norm(prefix).split()[:4])


def _norm(text: str) -> str:
    text = text.replace("\u00ad", "").replace("’", "'")
    text = re.sub(r"-\n(?=[a-z])", "", text)  # a word hyphenated at a line end
    return re.sub(r"[^A-Za-z0-9']+", " ", text).strip()


@pytest.fixture(scope="module")
def pdf_text() -> str:
    assert PDF.is_file(), f"no PDF at {PDF}: run `bash scripts/build-pdf.sh`"
    assert shutil.which("pdftotext"), "pdftotext missing: apt-get install poppler-utils"
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(PDF), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def pdf_images(tmp_path_factory) -> dict[tuple[int, int], set[str]]:
    """(height, width) -> digests of the RGB pixels of every image in the PDF."""
    assert PDF.is_file(), f"no PDF at {PDF}: run `bash scripts/build-pdf.sh`"
    assert shutil.which("pdfimages"), "pdfimages missing: apt-get install poppler-utils"
    out_dir = tmp_path_factory.mktemp("pdfimages")
    subprocess.run(["pdfimages", "-png", str(PDF), str(out_dir / "img")], check=True)
    found: dict[tuple[int, int], set[str]] = {}
    for p in out_dir.glob("img-*.png"):
        a = _pixels(p.read_bytes())
        found.setdefault(a.shape[:2], set()).add(hashlib.sha256(a.tobytes()).hexdigest())
    return found


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _stored_images(kind: str) -> list[tuple[str, bytes]]:
    """(where, PNG) of every chapter figure (kind 'figure') or explorer first frame (kind 'explorer')."""
    out = []
    for path in _toc_files():
        if path.suffix != ".ipynb":
            continue
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meta = cell.get("metadata") or {}
            is_fig = bool(((meta.get("mystnb") or {}).get("figure") or {}).get("name"))
            is_explorer = "ltdl_explorer" in meta
            if (kind == "figure" and is_fig and not is_explorer) or (kind == "explorer" and is_explorer):
                for o in cell.get("outputs", []):
                    png = (o.get("data") or {}).get("image/png")
                    if png:
                        out.append((f"{path.name} cell {i}", base64.b64decode(png)))
    return out


def test_every_chapter_is_in_the_pdf(pdf_text):
    text = _norm(pdf_text)
    missing = []
    for path in _toc_files():
        words = _title_words(_title(path))
        if words and words not in text:
            missing.append(f"{path.relative_to(ROOT)} ({words!r})")
    assert not missing, "chapters missing from the PDF text: " + "; ".join(missing)


def test_math_is_typeset(pdf_text):
    hits = [pdf_text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ") for m in RAW_TEX.finditer(pdf_text)]
    assert not hits, f"{len(hits)} raw TeX delimiters in the PDF text, e.g. {hits[:3]}"


@pytest.mark.parametrize("kind", ["figure", "explorer"])
def test_images_are_in_the_pdf(pdf_images, kind):
    stored = _stored_images(kind)
    assert stored, f"no {kind} images stored in the chapters"
    missing = []
    for where, png in stored:
        a = _pixels(png)
        if hashlib.sha256(a.tobytes()).hexdigest() not in pdf_images.get(a.shape[:2], set()):
            missing.append(f"{where} ({a.shape[1]}x{a.shape[0]})")
    assert not missing, f"{len(missing)} of {len(stored)} {kind} images not in the PDF: {missing[:8]}"


def test_html_book_links_the_pdf():
    copy = HTML / "book.pdf"
    assert copy.is_file() and copy.read_bytes() == PDF.read_bytes(), f"{copy} is not the PDF {PDF}"
    pages = [p for p in (HTML / "chapters").glob("*.html")]
    assert pages, f"no chapter pages under {HTML}"
    without = [
        p.name for p in pages if 'class="ltdl-pdf-link"><a href="../book.pdf"' not in p.read_text(errors="replace")
    ]
    assert not without, f"pages without the PDF link: {without}"
