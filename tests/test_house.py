"""The shape of the library: no import circles, and no module so long that it hides its parts.

a. The import graph of ``ltdl/*.py`` has no cycle. Every ``import`` statement counts, at the top
   of a module and inside a function alike (a function-level import only postpones the circle):
   ``from . import x``, ``from .x import y``, ``import ltdl.x``, ``from ltdl.x import y``, and
   ``__import__("ltdl.x")`` / ``importlib.import_module("ltdl.x")`` with a literal name.
   ``from . import NAME`` and ``from ltdl import NAME`` point at the module ``ltdl/NAME.py`` when
   it exists, else at the package itself (``ltdl/__init__.py``), as does ``import ltdl``.
b. A module of ``ltdl/`` has at most ``MAX_LINES`` lines, or its module docstring has a line that
   starts with the marker ``Why one module:`` followed by the reason it stays whole.
c. Self-tests: the cycle finder finds a planted cycle, and the length check names a long module
   without the marker; so each check above can fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ltdl"
MAX_LINES = 500
MARKER = "Why one module:"


def _target(name: str, modules: set[str]) -> str | None:
    """The module of ``ltdl`` that the dotted ``name`` (``ltdl`` or ``ltdl.x[.y]``) imports, or None."""
    parts = name.split(".")
    if parts[0] != "ltdl":
        return None
    if len(parts) > 1 and f"ltdl.{parts[1]}" in modules:
        return f"ltdl.{parts[1]}"
    return "ltdl"


def imports_of(source: str, modules: set[str]) -> set[str]:
    """The modules of ``ltdl`` (``ltdl`` for the package, ``ltdl.x`` for ``ltdl/x.py``) that
    ``source`` (a module of ``ltdl/``) imports, anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:
                continue  # no subpackages: nothing above ltdl/ is ours
            base = "ltdl" + (f".{node.module}" if node.module else "") if node.level == 1 else (node.module or "")
            if base == "ltdl":  # from . import x / from ltdl import x: a module when ltdl/x.py exists
                names = [f"ltdl.{a.name}" if f"ltdl.{a.name}" in modules else "ltdl" for a in node.names]
            else:
                names = [base]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called in ("__import__", "import_module") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names = [arg.value]
        for name in names:
            target = _target(name, modules)
            if target is not None:
                found.add(target)
    return found


def module_name(path: Path) -> str:
    return "ltdl" if path.stem == "__init__" else f"ltdl.{path.stem}"


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    paths = sorted(package.glob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = {}
    for p in paths:
        me = module_name(p)
        graph[me] = imports_of(p.read_text(encoding="utf-8"), modules) - {me}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a closed path ``[a, b, …, a]``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def long_modules(package: Path = PACKAGE, max_lines: int = MAX_LINES) -> list[str]:
    """Modules over ``max_lines`` lines whose docstring has no line starting with ``MARKER``."""
    out = []
    for p in sorted(package.glob("*.py")):
        text = p.read_text(encoding="utf-8")
        n = len(text.splitlines())
        doc = ast.get_docstring(ast.parse(text)) or ""
        if n > max_lines and not any(line.strip().startswith(MARKER) for line in doc.splitlines()):
            out.append(f"{p.name}: {n} lines > {max_lines}, and no '{MARKER}' line in its docstring")
    return out


# The checks on the library ---------------------------------------------------------------------
def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert "ltdl.cli" in graph and graph["ltdl"], "the graph was not built"  # the finder has work to do
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_long_module_says_why_it_stays_whole():
    problems = long_modules()
    assert not problems, "\n".join(problems)


# Self-tests: each check can fail -----------------------------------------------------------------
def test_the_cycle_finder_finds_a_planted_cycle():
    acyclic = {"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a"}}
    assert find_cycle(acyclic) is None
    planted = {**acyclic, "c": {"d"}}  # c -> d -> a -> b -> c
    assert find_cycle(planted) == ["a", "b", "c", "d", "a"]


def test_function_level_and_dynamic_imports_are_edges():
    modules = {"ltdl", "ltdl.cli", "ltdl.grid", "ltdl.plots"}
    source = (
        "def f():\n    from . import cli\n"
        "def g():\n    import ltdl\n    from .plots import x\n"
        "h = lambda: __import__('ltdl.grid', fromlist=['y'])\n"
        "from . import not_a_module\n"
        "import numpy\n"
    )
    assert imports_of(source, modules) == {"ltdl", "ltdl.cli", "ltdl.grid", "ltdl.plots"}
    graph = {"ltdl.cli": {"ltdl.grid"}, "ltdl.grid": imports_of("def run():\n    from . import cli\n", modules)}
    assert find_cycle(graph) == ["ltdl.cli", "ltdl.grid", "ltdl.cli"]


def test_the_length_check_names_a_long_module_without_the_marker(tmp_path):
    body = "x = 1\n" * 10
    (tmp_path / "short.py").write_text('"""Short."""\n' + body)
    (tmp_path / "long.py").write_text('"""Long."""\n' + body * 3)
    (tmp_path / "whole.py").write_text(f'"""Long.\n\n{MARKER} one story.\n"""\n' + body * 3)
    problems = long_modules(tmp_path, max_lines=20)
    assert len(problems) == 1 and problems[0].startswith("long.py: 31 lines")
