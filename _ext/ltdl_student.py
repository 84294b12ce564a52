"""The student site: the book without any solution (``bash scripts/build-book.sh --student``).

sphinx-exercise's own ``hide_solutions`` cannot do it for gated solutions
(``{solution-start}`` ... ``{solution-end}``, which hold the code solutions and their outputs):
it drops the start marker but leaves the content and the end marker. Here the gated solutions are
first merged into solution nodes as usual, then every solution node is removed once the page is
read, so neither the text, nor the code, nor its outputs reach the HTML.
"""

from __future__ import annotations

from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node


def _drop_solutions(app, doctree) -> None:
    if not app.config.ltdl_student_site:
        return
    for kind in (solution_node, solution_start_node, solution_end_node):
        for node in list(doctree.findall(kind)):
            node.parent.remove(node)


def setup(app):
    app.add_config_value("ltdl_student_site", False, "env")
    app.connect("doctree-read", _drop_solutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
