"""The book's Sphinx extension for the API page (chapters/api.md): docstrings of re-exported data.

``.. autodata:: ltdl.ACTIVATIONS`` documents the name where the reader uses it, in ``ltdl``. But
autodoc looks for a data docstring (the string literal under the assignment) in the module named
by the directive, ``ltdl/__init__.py``, which only imports the name; it then falls back to the
docstring of the value's type (``dict``'s "dict() -> new empty dictionary ..."). Here the docstring
of every data name of ``ltdl`` is the attribute docstring in the ``ltdl`` submodule that assigns it.
A public data name without one fails the build with a message naming it.

Dataclass signatures. A field with ``default_factory=list`` shows its default as ``<factory>``,
which is not Python: Sphinx then cannot parse the signature and prints it raw (``~torch.Tensor``,
no links). The default is written as the factory's call instead (``list()``).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

from sphinx.errors import ExtensionError
from sphinx.pycode import ModuleAnalyzer

PACKAGE = "ltdl"


def data_docstring(name: str) -> list[str] | None:
    """The attribute docstring of ``ltdl.<name>`` in the submodule that assigns it, or None."""
    package = importlib.import_module(PACKAGE)
    value = getattr(package, name)
    for info in pkgutil.iter_modules(package.__path__, PACKAGE + "."):
        module = importlib.import_module(info.name)
        if getattr(module, name, None) is not value:
            continue
        docs = ModuleAnalyzer.for_module(info.name).find_attr_docs()
        if ("", name) in docs:
            return list(docs[("", name)])
    return None


def _process(app, what, name, obj, options, lines) -> None:
    prefix = PACKAGE + "."
    if what != "data" or not name.startswith(prefix) or "." in name[len(prefix) :]:
        return
    doc = data_docstring(name[len(prefix) :])
    if doc is None:
        raise ExtensionError(f"{name}: no docstring (a string literal under its assignment in its module)")
    lines[:] = doc


def factory_defaults(obj) -> list[str]:
    """How the ``default_factory`` of each field of a dataclass is shown: ``"list()"``, in field order."""
    if not dataclasses.is_dataclass(obj):
        return []
    return [
        f"{getattr(f.default_factory, '__qualname__', 'factory')}()"
        for f in dataclasses.fields(obj)
        if f.default_factory is not dataclasses.MISSING
    ]


def _signature(app, what, name, obj, options, signature, return_annotation):
    if what != "class" or not signature or "<factory>" not in signature:
        return None
    for call in factory_defaults(obj):
        signature = signature.replace("<factory>", call, 1)
    return signature, return_annotation


def setup(app):
    app.connect("autodoc-process-docstring", _process)
    app.connect("autodoc-process-signature", _signature)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
