"""The API reference page (chapters/api.md) against the library, without building the book.

a. Every name of ``ltdl.__all__`` is documented on the page exactly once, by an autodoc directive
   on its public name (``.. autofunction:: ltdl.NAME``, ``autoclass``, ``autodata``), and the page
   documents no top-level name that ``ltdl`` does not export (autodoc would fail on it).
b. Every public name has its own docstring: a function or class its ``__doc__`` (not the one a
   dataclass writes from the signature), a data name the string literal under its assignment in
   the submodule that defines it (found as the book's extension _ext/ltdl_api.py finds it).
c. Every public method and property of a public class has a docstring (an override may inherit
   its base's).
d. The page is in the book (_toc.yml).
e. The extension's dataclass signatures: a ``default_factory`` default is written as the factory's
   call, so Sphinx can parse the signature (``<factory>`` makes it print the signature raw).

Each check is a function of its inputs; the self-tests at the end plant a violation and show that
the check reports it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
import types
from pathlib import Path

import yaml

import ltdl

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "chapters" / "api.md"
_spec = importlib.util.spec_from_file_location("ltdl_api_under_test", ROOT / "_ext" / "ltdl_api.py")
assert _spec is not None and _spec.loader is not None
ext = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ext)

DIRECTIVE = re.compile(r"^\.\. auto(?:function|class|data):: ltdl\.(\w+)\s*$", re.M)


def documented(page: str) -> list[str]:
    """Top-level names ``ltdl.NAME`` documented by an autodoc directive of the page, in order."""
    return DIRECTIVE.findall(page)


def page_problems(page: str, public: list[str]) -> list[str]:
    names = documented(page)
    out = [f"{n}: not on the page" for n in sorted(set(public) - set(names))]
    out += [f"{n}: on the page but not in ltdl.__all__" for n in sorted(set(names) - set(public))]
    out += [f"{n}: documented {names.count(n)} times" for n in sorted(set(names)) if names.count(n) > 1]
    return out


def own_docstring(name: str, obj: object) -> str | None:
    """The docstring of ``ltdl.<name>`` as the API page shows it, or None."""
    if isinstance(obj, types.FunctionType):
        return obj.__doc__
    if inspect.isclass(obj):
        doc = obj.__doc__
        if dataclasses.is_dataclass(obj) and doc == obj.__name__ + str(inspect.signature(obj)).replace(" -> None", ""):
            return None  # written by @dataclass from the fields, not by an author
        return doc
    return "\n".join(ext.data_docstring(name) or []) or None


def undocumented_members(cls: type) -> list[str]:
    out = []
    for key, value in vars(cls).items():
        if key.startswith("_"):
            continue
        if isinstance(value, (property, staticmethod, classmethod)) or inspect.isfunction(value):
            if not (inspect.getdoc(value) or "").strip():
                out.append(f"{cls.__name__}.{key}")
    return out


# The checks on the real page and library -------------------------------------------------------
def test_every_public_name_is_on_the_page():
    problems = page_problems(PAGE.read_text(encoding="utf-8"), list(ltdl.__all__))
    assert not problems, "chapters/api.md against ltdl.__all__:\n  " + "\n  ".join(problems)


def test_every_public_name_has_a_docstring():
    missing = [n for n in ltdl.__all__ if not (own_docstring(n, getattr(ltdl, n)) or "").strip()]
    assert not missing, f"public names without a docstring: {missing}"


def test_public_members_have_docstrings():
    missing = [m for n in ltdl.__all__ if inspect.isclass(c := getattr(ltdl, n)) for m in undocumented_members(c)]
    assert not missing, f"public methods/properties without a docstring: {missing}"


def test_page_is_in_the_book():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert "chapters/api" in files


def test_factory_defaults_make_the_signature_python():
    sig = str(inspect.signature(ltdl.Result))
    assert "<factory>" in sig  # what autodoc is given for a field with default_factory
    out = ext._signature(None, "class", "ltdl.Result", ltdl.Result, {}, sig, "")
    assert out is not None and "<factory>" not in out[0] and "history: 'list[float]' = list()" in out[0]
    compile(f"def f{out[0]}: pass", "<signature>", "exec")  # parses as Python (annotations are strings)
    assert ext._signature(None, "function", "ltdl.train", ltdl.train, {}, "(x)", "") is None


# Self-tests: each check reports a planted violation ---------------------------------------------
def test_page_check_reports_missing_extra_and_duplicate_names():
    page = ".. autofunction:: ltdl.train\n.. autofunction:: ltdl.train\n.. autoclass:: ltdl.Gone\n"
    problems = page_problems(page, ["train", "fista"])
    assert problems == [
        "fista: not on the page",
        "Gone: on the page but not in ltdl.__all__",
        "train: documented 2 times",
    ]
    assert page_problems(".. autofunction:: ltdl.fista\n", ["fista"]) == []


def test_docstring_checks_report_what_is_missing():
    def bare():
        pass

    @dataclasses.dataclass
    class Plain:
        a: int

        @property
        def twice(self) -> int:
            return 2 * self.a

    assert own_docstring("bare", bare) is None
    assert own_docstring("Plain", Plain) is None
    assert undocumented_members(Plain) == ["Plain.twice"]
    assert own_docstring("train", ltdl.train)
    assert own_docstring("ACTIVATIONS", ltdl.ACTIVATIONS)  # data: found in ltdl/activations.py
