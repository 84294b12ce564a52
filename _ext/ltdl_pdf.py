"""The whole book as one PDF (``bash scripts/build-pdf.sh``) and a link to it on every page.

1. The single-page build. Jupyter Book 1's ``pdfhtml`` builder renders the book with Sphinx's
   ``singlehtml`` builder and prints that page with Chromium. Extensions that register their node
   visitors for the ``html`` builder only (sphinx-proof's theorem, proof, ... nodes) then stop the
   build with ``NotImplementedError: Unknown node``. The single-page builder writes the same HTML,
   so every visitor pair registered for ``html`` and missing for ``singlehtml`` is registered for it.
2. Widgets in the single page. myst-nb adds the widget scripts and the stored widget state of a
   notebook to that notebook's own page only; the single page is the root document's page, so it
   would show no explorer. There every document's widget scripts and states are added.
3. The link. Each page of the HTML book gets a line "PDF of the whole book" at the top of its
   article, pointing to ``ltdl_pdf_link`` (default ``book.pdf`` in the site's root, where
   scripts/build-pdf.sh puts it). Not in the single page itself (the PDF would link to itself).
"""

from __future__ import annotations

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _share_visitors(app) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    html, single = handlers.get("html", {}), handlers.setdefault("singlehtml", {})
    for node, pair in html.items():
        single.setdefault(node, pair)


def _all_widget_scripts(app, pagename, templatename, context, doctree) -> None:
    if app.builder.name != "singlehtml":
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    seen: set[str] = set()
    for docname in sorted(app.env.found_docs):
        try:
            js_files = NbMetadataCollector.get_js_files(app.env, docname)
        except KeyError:
            continue
        for path, kwargs in js_files.values():
            if path is None:  # a notebook's widget state (inline body): each one
                app.add_js_file(None, **kwargs)
            elif path not in seen:
                seen.add(path)
                app.add_js_file(path, **kwargs)


def _pdf_link(app, pagename, templatename, context, doctree) -> None:
    target = app.config.ltdl_pdf_link
    if not target or app.builder.name != "html" or doctree is None or "body" not in context:
        return
    href = context["pathto"](target, 1)
    context["body"] = (
        f'<p class="ltdl-pdf-link"><a href="{href}" download>PDF</a> of the whole book (every chapter, '
        "explorers at their first setting)</p>\n" + context["body"]
    )


def setup(app):
    app.add_config_value("ltdl_pdf_link", "book.pdf", "html")
    app.connect("builder-inited", _share_visitors)
    app.connect("html-page-context", _all_widget_scripts)
    app.connect("html-page-context", _pdf_link)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
