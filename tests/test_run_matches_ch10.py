"""`ltdl run sparsity` at chapter 10's settings reproduces the chapter's stopping-layer table.

Chapter 10 builds the table with :func:`ltdl.sparsity.stopping_table` at the settings
:data:`ltdl.sparsity.FOUR_POINT` (ℓ¹ weight 0.05, T = 4, 8, 16, 32 at Δt = 1, Δt = 1, 1/2, 1/4 at
T = 8, 200 FISTA iterations per call); the command line is given the same settings. Each glued
number of the table (k*, t*, the largest certificate, the dual margins) is recomputed from the
command's ``results.json``, rounded as the chapter rounds it, and compared as the prose prints
it; the largest certificate is a rounding-level number, so both sides show the bound 1e-10 that
it is asserted against. The whole table takes a few seconds, so no subset is needed.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from _scripts import printed_glue

import ltdl
from ltdl import cli
from ltdl import sparsity as sp

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "chapters" / "10-after-the-paper.ipynb"
SETTINGS = {"T": (4, 8, 16, 32), "lam": 0.05, "fista_iter": 200}  # chapter 10's stopping_table() defaults


def test_sparsity_reproduces_chapter_10(tmp_path):
    assert SETTINGS["T"] == sp.FOUR_POINT["T"] and SETTINGS["lam"] == sp.FOUR_POINT["lam"]
    assert inspect.signature(sp.stopping_table).parameters["fista_iter"].default == SETTINGS["fista_iter"]
    out = tmp_path / "sparsity"
    argv = ["run", "sparsity", "--T", ",".join(map(str, SETTINGS["T"])), "--lam", str(SETTINGS["lam"])]
    argv += ["--max-iter", str(SETTINGS["fista_iter"]), "--no-progress", "--out", str(out)]
    assert cli.main(argv) == 0
    rows = json.loads((out / "results.json").read_text())["results"]["rows"]

    got = {}  # glue key -> the value as the chapter glues it
    for r in rows:
        key = f"T{r['T']:g}_dt{r['dt']:g}".replace(".", "p")
        got[f"s10_kstar_{key}"] = r["k_star"]
        got[f"s10_tstar_{key}"] = ltdl.sig(r["t_star"], 3)
    by_T = {r["T"]: r for r in rows if r["dt"] == 1.0}
    # The certificate is at rounding level: the chapter shows the bound it asserts, never the value.
    assert max(r["grad_max"] for r in rows) <= 1e-10
    got["s10_cert_max"] = "≤ 10⁻¹⁰"
    got["s10_margin_min"] = ltdl.sig(min(r["margin"] for r in rows), 2)
    got["s10_margin_T4"] = ltdl.sig(by_T[4.0]["margin"], 2)
    got["s10_margin_T32"] = ltdl.sig(by_T[32.0]["margin"], 2)

    shown = printed_glue(CHAPTER)
    assert len(got) == 16  # six (T, Δt) pairs, two numbers each, and four across the table
    # The chapter's prose shows these keys without a format spec.
    assert {k: str(v) for k, v in got.items()} == {k: shown[k] for k in got}
