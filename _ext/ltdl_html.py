"""Small fixes to the HTML of the book, found by the browser checks (tests/browser).

Under Jupyter Book 1.0.4 / Sphinx 7.4 the inline configuration scripts of sphinx-thebe and
sphinx-togglebutton are written twice on every page (once with filename ``None``, once with
``''``); the second ``const THEBE_JS_URL = ...`` is a SyntaxError in the browser console.
This extension drops such duplicates (same file, same body, same attributes) from each page,
and loads the page assets (MathJax) on every page, since titles with math appear in the sidebar.
"""
from __future__ import annotations


def _key(js) -> tuple:
    filename = getattr(js, "filename", None) or ""
    attrs = getattr(js, "attributes", {}) or {}
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attrs.items())))


def _dedupe(app, pagename, templatename, context, doctree) -> None:
    files = context.get("script_files")
    if not files:
        return
    seen, out = set(), []
    for js in files:
        k = _key(js)
        if k not in seen:
            seen.add(k)
            out.append(js)
    context["script_files"] = out


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    # Chapter titles contain math, and they appear in the navigation of every page (search,
    # index, generated pages): load MathJax everywhere, not only on pages with equations.
    app.set_html_assets_policy("always")
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
