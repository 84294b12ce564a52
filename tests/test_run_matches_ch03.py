"""`ltdl run erm-sweep` at chapter 03's settings reproduces the chapter's glued numbers.

Chapter 03 sweeps T = 1, 2, 4, ..., 1024 on the four-point rotation (outer tanh field, λ = 1)
at K = 10 and K = 20 with :func:`ltdl.reference_sweep`; the command line runs the same protocol.
Each number the chapter's prose shows (its glue value) is recomputed from the command's
``results.json`` and rounded as the chapter rounds it (``ltdl.sig`` to the same digits), then
compared as the prose prints it. The full setting is cheap (two sweeps of 11 horizons, a few
seconds each), so no subset is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _scripts import printed_glue

import ltdl
from ltdl import cli

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "chapters" / "03-training-error.ipynb"
T_GRID = ltdl.doubling(1, 1024)  # the chapter's T_grid
LAM = 1.0  # the chapter's lam


@pytest.fixture(scope="module")
def shown():
    return printed_glue(CHAPTER)


def _run(tmp_path: Path, K: int) -> dict:
    """The command's results at the chapter's settings with K layers."""
    out = tmp_path / f"K{K}"
    argv = ["run", "erm-sweep", "--T", ",".join(f"{T:g}" for T in T_GRID), "--lam", f"{LAM:g}", "--K", str(K)]
    assert cli.main([*argv, "--no-progress", "--out", str(out)]) == 0
    return json.loads((out / "results.json").read_text())["results"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, dict]:
    """Both sweeps of the chapter, run once for the tests of this file."""
    tmp = tmp_path_factory.mktemp("erm")
    return {K: _run(tmp, K) for K in (10, 20)}


def _numbers(res: dict) -> dict[str, float]:
    """The chapter's measurements of one sweep, from the command's results."""
    rows = res["rows"]
    T, J = np.array([r["T"] for r in rows]), np.array([r["J"] for r in rows])
    TE = np.array([r["T_E_T"] for r in rows])
    assert res["tail_points"] == 5  # the chapter fits E_T on the last five horizons, T = 64..1024
    lo, hi = res["tail_ci"]
    return {
        "slope": res["tail_slope"],
        "slope_lo": lo,
        "slope_hi": hi,
        "TE_max": TE.max(),
        "TE_last": TE[-1],
        "TJ_max": (T * J / LAM).max(),
        "vT_sq_last": rows[-1]["v_norm_sq"],
    }


def test_erm_sweep_reproduces_chapter_03(runs, shown):
    k10, k20 = _numbers(runs[10]), _numbers(runs[20])
    # glue key -> (measured value, significant digits the chapter rounds it to)
    expected = {
        "r2_slope": (k10["slope"], 3),
        "r2_slope_lo": (k10["slope_lo"], 3),
        "r2_slope_hi": (k10["slope_hi"], 3),
        "r2_slope_K20": (k20["slope"], 3),
        "r2_TE_max": (k10["TE_max"], 3),
        "r2_TE_max_K20": (k20["TE_max"], 3),
        "r2_TE_last": (k10["TE_last"], 3),
        "r2_TJ_max": (k10["TJ_max"], 4),
        "r2_TJ_max_K20": (k20["TJ_max"], 4),
        "r2_vT_sq_last": (k10["vT_sq_last"], 4),
    }
    got = {key: str(ltdl.sig(value, digits)) for key, (value, digits) in expected.items()}
    assert got == {key: shown[key] for key in expected}


def test_erm_sweep_certificate_meets_the_chapters_tolerance(runs, shown):
    """The command certifies its solves as the chapter does: strict minima, and a distance to the
    exact minimisers within the chapter's asserted tolerance (its glue ``r2_tol_cert_dist``)."""
    tol = float(shown["r2_tol_cert_dist"])
    for res in runs.values():
        assert all(r["min_eig"] > 0 for r in res["rows"])
        assert res["distance_bound"] <= tol, res["distance_bound"]
