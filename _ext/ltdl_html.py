"""The book's own Sphinx extension: small fixes to the HTML, found by the browser checks (tests/browser).

1. Duplicate inline scripts. Under Jupyter Book 1.0.4 / Sphinx 7.4 the inline configuration
   scripts of sphinx-thebe and sphinx-togglebutton are written twice on every page; the second
   ``const THEBE_JS_URL = ...`` is a SyntaxError in the browser console. Duplicates (same file,
   same body, same attributes) are dropped from each page.
2. MathJax on every page, since chapter titles with math appear in the navigation of every page.
3. Plain-text titles. The tab title (<title>) and the print header are plain text: the TeX of a
   title (``Training error $O(1/T)$``) would show raw there (``\\(O(1/T)\\)``). It is turned into
   Unicode (``Training error O(1/T)``, ``λ↘0``); the h1 and the navigation keep typeset math.
4. Provenance badges. Each ``prf:theorem`` title ends with exactly one provenance tag in square
   brackets (see PROVENANCE); the tag becomes a small badge ``<span class="ltdl-prov
   ltdl-prov-<key>">``, placed after the title. A theorem without a tag, or a prf title ending in an
   unknown bracketed tag, fails the build with a message naming the file, the line and the tag.
5. The book's CSS (_ext/ltdl.css: badges, claims-ledger cards), copied to _static.
6. ARIA roles of the reference lists. Docutils writes a citation list as ``role="list"`` whose
   entries carry the deprecated role ``doc-biblioentry``; a list must hold list items (axe-core:
   aria-required-children, critical), so the entries become ``role="listitem"``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.transforms import Transform
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
CSS = "ltdl.css"

# tag as written in the title -> (css key, badge text, tooltip)
PROVENANCE = {
    "source": ("source", "source", "Read in a public source: the paper's abstracts or the authors' extended abstract"),
    "follow-up abstract": (
        "followup",
        "follow-up abstract",
        "Read in the abstract of follow-up work by one or more of the paper's authors,"
        " not of the paper this book reconstructs",
    ),
    "authors' code": ("code", "authors' code", "Read in the authors' published code"),
    "derived": ("derived", "derived", "Our own derivation, proved in this book"),
    "reconstructed": (
        "reconstructed",
        "reconstructed",
        "Our reconstruction of a statement whose exact form we could not check",
    ),
}
# prf types whose title must carry a tag; other prf types may carry one (then it must be known)
TAG_REQUIRED = {"theorem"}
TAG_AT_END = re.compile(r"^(?P<head>.*?)\s*\[(?P<tag>[^\[\]]+)\]\s*(?P<tail>\)?)\s*$", re.S)


def normalise_tag(tag: str) -> str:
    return re.sub(r"\s+", " ", tag.replace("\u2019", "'").replace("\u2018", "'")).strip().lower()


# 1. duplicate scripts ---------------------------------------------------------------------------
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


# 3. titles as plain text ------------------------------------------------------------------------
_SYMBOLS = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    "ell": "ℓ",
    "infty": "∞",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "leftrightarrow": "↔",
    "Rightarrow": "⇒",
    "searrow": "↘",
    "nearrow": "↗",
    "searrowto": "↘",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "ne": "≠",
    "neq": "≠",
    "approx": "≈",
    "sim": "∼",
    "times": "×",
    "cdot": "·",
    "pm": "±",
    "in": "∈",
    "partial": "∂",
    "nabla": "∇",
    "sum": "∑",
    "int": "∫",
    "|": "‖",
    "quad": " ",
    "qquad": " ",
    ",": " ",
    ";": " ",
    "!": "",
    " ": " ",
    "{": "{",
    "}": "}",
    "lvert": "|",
    "rvert": "|",
    "Vert": "‖",
    "log": "log",
    "exp": "exp",
    "min": "min",
    "max": "max",
    "sup": "sup",
    "inf": "inf",
    "dots": "…",
    "ldots": "…",
    "cdots": "⋯",
    "mapsto": "↦",
    "circ": "∘",
    "star": "⋆",
}
_SUP = dict(zip("0123456789+-=()abcdefghijklmnoprstuvwxyzT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀ", strict=True))
_SUB = dict(zip("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True))
_BB = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ"}
_FONT = r"mathbf|mathrm|mathit|mathcal|mathsf|operatorname|text|textrm|textit|boldsymbol|bm"


def _script(body: str, table: dict, mark: str) -> str:
    body = body.replace(" ", "")
    if body and all(c in table for c in body):
        return "".join(table[c] for c in body)
    return mark + (body if len(body) <= 1 else f"({body})")


def _either(m) -> str:
    return m.group(1) if m.group(1) is not None else m.group(2)


def tex_to_text(tex: str) -> str:
    """Readable Unicode for a short TeX fragment of a title (``O(1/T)``, ``\\lambda\\searrow0``)."""
    s = re.sub(r"\\mathbb\s*\{(\w)\}|\\mathbb\s+(\w)", lambda m: _BB.get(_either(m), _either(m)), tex)
    for _ in range(3):  # font commands, braced or on one token, possibly nested
        s = re.sub(r"\\(?:" + _FONT + r")\s*\{([^{}]*)\}", r"\1", s)
        s = re.sub(r"\\(?:" + _FONT + r")\s+(\w)", r"\1", s)
    s = re.sub(
        r"\\(?:bar|overline)\s*\{([^{}]*)\}|\\(?:bar|overline)\s+(\w)",
        lambda m: (m.group(1) or m.group(2)) + "\u0304",
        s,
    )
    s = re.sub(r"\\(left|right|big|Big|bigg|Bigg)(?![A-Za-z])", "", s)
    s = re.sub(r"\\([A-Za-z]+|.)", lambda m: _SYMBOLS.get(m.group(1), m.group(1)), s)
    s = re.sub(r"\^\{([^{}]*)\}|\^(\S)", lambda m: _script(_either(m), _SUP, "^"), s)
    s = re.sub(r"_\{([^{}]*)\}|_(\S)", lambda m: _script(_either(m), _SUB, "_"), s)
    s = s.replace("{", "").replace("}", "").replace("$", "").replace("-", "\u2212")
    return re.sub(r"\s+", " ", s).strip()


_INLINE_MATH = re.compile(r"\\\((.+?)\\\)|\$(.+?)\$", re.S)
_TAG = re.compile(r"<[^>]+>")


def plain_title(title: str) -> str:
    """An HTML title (possibly with math spans) as plain text with the math as Unicode."""
    text = _TAG.sub("", title)
    return _INLINE_MATH.sub(lambda m: tex_to_text(m.group(1) or m.group(2)), text)


def _plain_titles(app, pagename, templatename, context, doctree) -> None:
    title = context.get("title")
    if isinstance(title, str) and ("\\" in title or "$" in title):
        # the template escapes the title once more; keep entities such as &amp; as characters
        import html

        context["title"] = plain_title(html.unescape(title))


# 6. ARIA roles --------------------------------------------------------------------------------------
def _aria_roles(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body")
    if isinstance(body, str) and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


# 4. provenance badges ---------------------------------------------------------------------------
class ProvenanceBadges(Transform):
    """Turn the trailing ``[tag]`` of a prf title into a badge; refuse a missing or unknown tag."""

    default_priority = 700  # after the prf nodes exist, before smart quotes (750)

    def apply(self) -> None:
        env = self.document.settings.env
        for node in list(self.document.findall(nodes.Element)):
            realtype = node.get("realtype")
            if not realtype or "proof" not in node.get("classes", []) or realtype == "proof":
                continue
            title = next((c for c in node.children if isinstance(c, nodes.title)), None)
            if title is None:
                continue
            last = title.children[-1] if title.children else None
            m = TAG_AT_END.match(str(last)) if isinstance(last, nodes.Text) else None
            where = f"{env.docname}, {realtype} {node.get('label', '')!r}"
            if m is None:
                if realtype in TAG_REQUIRED:
                    _refuse(
                        env,
                        node,
                        f"{where}: the title {title.astext()!r} does not end with a provenance tag "
                        f"(one of {', '.join('[' + t + ']' for t in PROVENANCE)})",
                    )
                continue
            tag = normalise_tag(m.group("tag"))
            if tag not in PROVENANCE:
                _refuse(
                    env,
                    node,
                    f"{where}: unknown provenance tag [{m.group('tag')}] in the title "
                    f"{title.astext()!r}; use exactly one of "
                    f"{', '.join('[' + t + ']' for t in PROVENANCE)} (the weakest that applies)",
                )
                continue
            key, text, _tip = PROVENANCE[tag]
            badge = nodes.inline(text, text, classes=["ltdl-prov", f"ltdl-prov-{key}"])
            title.replace(last, nodes.Text(m.group("head") + m.group("tail")))
            title += [nodes.Text(" "), badge]
            node["ltdl_provenance"] = tag


def _refuse(env, node, msg: str) -> None:
    # kept in the environment, so that an incremental build that does not re-read the page still fails
    if not hasattr(env, "ltdl_refused"):
        env.ltdl_refused = {}
    env.ltdl_refused.setdefault(env.docname, []).append(msg)
    logger.warning(msg, location=node, type="ltdl", subtype="provenance")


def _purge(app, env, docname) -> None:
    getattr(env, "ltdl_refused", {}).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    if not hasattr(env, "ltdl_refused"):
        env.ltdl_refused = {}
    env.ltdl_refused.update(getattr(other, "ltdl_refused", {}))


def _finish(app, exc) -> None:
    if exc is not None:
        return
    if app.builder.format == "html":
        css = Path(app.outdir) / "_static" / CSS
        css.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / CSS, css)
    refused = [m for msgs in getattr(app.env, "ltdl_refused", {}).values() for m in msgs]
    if refused:
        raise ExtensionError("provenance tags in theorem titles: " + " | ".join(refused))


def _focusable_tables_in_files(app, exception) -> None:
    """The theme adds the table wrappers after the page context: rewrite the written pages."""
    if exception is not None or app.builder.format != "html":
        return
    from pathlib import Path as _P

    old = '<div class="pst-scrollable-table-container">'
    new = (
        '<div class="pst-scrollable-table-container" tabindex="0" role="region" aria-label="table (scrolls sideways)">'
    )
    for page in _P(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if old in text:
            page.write_text(text.replace(old, new), encoding="utf-8")


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    app.connect("html-page-context", _plain_titles, priority=901)
    app.connect("html-page-context", _aria_roles, priority=902)
    # Chapter titles contain math, and they appear in the navigation of every page (search,
    # index, generated pages): load MathJax everywhere, not only on pages with equations.
    app.set_html_assets_policy("always")
    app.add_transform(ProvenanceBadges)
    app.add_css_file(CSS)
    # A wide table scrolls inside its own box; a keyboard user must be able to focus that box to
    # scroll it (axe-core "scrollable-region-focusable"): each such box becomes a named, focusable
    # region in the written pages (_focusable_tables_in_files).
    app.connect("build-finished", _focusable_tables_in_files)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("build-finished", _finish)
    return {"version": "0.2", "parallel_read_safe": True, "parallel_write_safe": True}
