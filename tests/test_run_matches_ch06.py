"""`ltdl run integral-turnpike` at chapter 06's settings reproduces the chapter's glued numbers.

The check section of chapter 06 and the command line call the same library functions
(:func:`ltdl.turnpike_run`, :func:`ltdl.turnpike_table`, :func:`ltdl.linearised_rate`); the command's
defaults are the chapter's settings (T = 4, 8, 16; Δt = 1/4; λ = 0.1; β = 1; Newton to 1e-12). This
test runs the command into a temporary folder and compares its numbers, rounded as the chapter
rounds them before glueing (``ltdl.sig`` to the chapter's digits), with the values stored in the
executed chapter, formatted as its prose shows them.
"""

from __future__ import annotations

import json

import pytest
from _scripts import ROOT, printed_glue

import ltdl
from ltdl import cli

CH06 = ROOT / "chapters" / "06-integral-turnpike.ipynb"


@pytest.fixture(scope="module")
def shown():
    """Glue key -> the text the chapter's prose shows for it."""
    return printed_glue(CH06)


def _run(out, *extra):
    assert cli.main(["run", "integral-turnpike", *extra, "--no-progress", "--out", str(out)]) == 0
    return json.loads((out / "results.json").read_text())


def test_ltdl_run_integral_turnpike_reproduces_chapter_06(tmp_path, shown):
    rec = _run(tmp_path / "r6")
    p = rec["parameters"]
    # the defaults are chapter 06's TS, DT = 1/K_per_unit, LAM, BETA and the default seed
    assert (p["T"], p["K_per_unit"], p["lam"], p["beta"], p["seed"]) == ([4, 8, 16], 4, 0.1, 1.0, 0)
    res = rec["results"]
    curves = {c["T"]: c for c in res["curves"]}
    assert all(c["certified"] for c in curves.values())  # the chapter asserts these certificates
    mu_E = {T: c["mu_E"] for T, c in curves.items()}
    depth = {T: {d["eta"]: d["t"] for d in c["depth"]} for T, c in curves.items()}
    mid = {T: c["E"][len(c["E"]) // 2] for T, c in curves.items()}  # E at t = T/2
    ours = {
        **{f"r6_muE_T{T}": ltdl.sig(mu_E[T], 3) for T in curves},
        **{f"r6_muu_T{T}": ltdl.sig(c["mu_u"], 3) for T, c in curves.items()},
        "r6_muE_pred": ltdl.sig(res["predicted_mu_E"], 3),
        "r6_muu_pred": ltdl.sig(res["predicted_mu"], 3),
        "r6_spread": ltdl.sig(100 * res["spread_mu_E"], 2),
        "r6_muE_dev": ltdl.sig(100 * max(abs(mu_E[T] / res["predicted_mu_E"] - 1) for T in (8, 16)), 2),
        "r6_depth4": depth[16][1e-4],
        "r6_depth6": depth[16][1e-6],
        "r6_int_mid_max": ltdl.sig(max(mid[8], mid[16]), 2),
        "r6_grad_tol": f"{res['grad_tol']:g}",
    }
    for key, value in ours.items():
        assert str(value) == shown[key], (key, value, shown[key])


def test_ltdl_run_integral_turnpike_with_beta_0_reproduces_chapter_06s_erm_comparison(tmp_path, shown):
    res = _run(tmp_path / "erm", "--beta", "0")["results"]
    curves = {c["T"]: c for c in res["curves"]}
    assert res["predicted_mu"] is None  # no integral term: no linearised rate
    assert all(c["certified"] for c in curves.values())  # chapter 06 certifies its ERM solves too
    Ts = sorted(curves)
    slope = ltdl.loglog_slope(Ts, [curves[T]["E"][-1] for T in Ts]).slope
    mid_min = min(curves[T]["E"][len(curves[T]["E"]) // 2] for T in Ts)
    assert str(ltdl.sig(slope, 3)) == shown["r6_erm_slope"]
    assert str(ltdl.sig(mid_min, 2)) == shown["r6_erm_mid_min"]
