"""The student site: the book without any solution (``bash scripts/build-book.sh --student``).

sphinx-exercise's own ``hide_solutions`` cannot do it for gated solutions
(``{solution-start}`` ... ``{solution-end}``, which hold the code solutions and their outputs):
it drops the start marker but leaves the content and the end marker. Here the gated solutions are
first merged into solution nodes as usual, then every solution node is removed once the page is
read, so neither the text, nor the code, nor its outputs reach the HTML. Nor can a page's source
be downloaded: the site copies no sources and shows no download button (the chapter notebooks
carry the solutions).
"""

from __future__ import annotations

from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node


def _drop_solutions(app, doctree) -> None:
    if not app.config.ltdl_student_site:
        return
    for kind in (solution_node, solution_start_node, solution_end_node):
        for node in list(doctree.findall(kind)):
            node.parent.remove(node)


def _drop_downloads(app, pagename, templatename, context, doctree) -> None:
    """No "download this page" button: the chapters' sources hold the solutions (and the site
    copies no sources at all, ``html_copy_source: false``, set by scripts/student_site.py)."""
    if app.config.ltdl_student_site and isinstance(context.get("header_buttons"), list):
        context["header_buttons"][:] = [b for b in context["header_buttons"] if b.get("label") != "download-buttons"]


def setup(app):
    app.add_config_value("ltdl_student_site", False, "env")
    app.connect("doctree-read", _drop_solutions)
    app.connect("html-page-context", _drop_downloads, priority=900)  # after the theme adds its buttons
    return {"parallel_read_safe": True, "parallel_write_safe": True}
