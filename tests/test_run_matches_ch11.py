"""`ltdl run attention` reproduces chapter 11's metastability table.

Chapter 11 builds the table with :func:`ltdl.metastability.metastability_table` at the settings
:data:`ltdl.metastability.META` (n = 32 tokens on the circle, beta = 4, 9, 16, 25, seeds 0..4,
threshold angle 0.05). The command line runs the same protocol from ``--seed 0``; every glued
number of the table (per-beta median and range of ln t_last, the fitted slope, the two-cluster
reading, the largest oracle deviation) is recomputed from the command's ``results.json``, rounded
as the chapter rounds it, and compared with what the chapter's prose shows. The twenty long runs
take a few seconds.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from _scripts import printed_glue

import ltdl
from ltdl import cli
from ltdl import metastability as ms

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "chapters" / "11-attention-clusters.ipynb"


def test_attention_reproduces_chapter_11(tmp_path):
    params = inspect.signature(ms.metastability_table).parameters
    for name in ("n", "d", "betas", "seeds", "angle"):  # the chapter calls metastability_table() with defaults
        assert params[name].default == ms.META[name], name
    out = tmp_path / "attention"
    assert cli.main(["run", "attention", "--seed", "0", "--no-progress", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())["results"]
    rows, summary = res["rows"], res["summary"]
    assert len(rows) == len(ms.META["betas"]) * len(ms.META["seeds"])

    got = {}  # glue key -> the value as the chapter glues it
    for beta, p in summary["per_beta"].items():
        b = f"{float(beta):g}"
        got[f"ch11_logt_b{b}"] = ltdl.sig(p["log_t_median"], 3)
        got[f"ch11_logt_b{b}_min"] = ltdl.sig(p["log_t_min"], 3)
        got[f"ch11_logt_b{b}_max"] = ltdl.sig(p["log_t_max"], 3)
    got["ch11_slope"] = ltdl.sig(summary["slope"], 3)
    got["ch11_reading"] = ltdl.sig(summary["reading"], 3)
    got["ch11_oracle_err"] = ltdl.sig(max(r["log_err"] for r in rows), 1)

    shown = printed_glue(CHAPTER)
    assert len(got) == 15  # four betas, three numbers each, and three across the table
    assert {k: str(v) for k, v in got.items()} == {k: shown[k] for k in got}
