"""Tests of ltdl.sparsity: the protocols of the chapter "After the paper"."""

import dataclasses
import io
import math

import pytest
import torch

import ltdl
from ltdl import sparsity as sp


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    yield
    torch.set_num_threads(old)


RELU = ltdl.make_field("outer", activation="relu")


def _controls(norms_per_layer):
    """Outer-field controls (d = 2) whose layer k is zero iff norms_per_layer[k] == 0."""
    K = len(norms_per_layer)
    w = torch.zeros(K, 2, 2, dtype=torch.float64)
    b = torch.zeros(K, 2, dtype=torch.float64)
    for k, v in enumerate(norms_per_layer):
        w[k, 0, 1] = v
        b[k, 1] = -v / 2
    return {"w": w, "b": b}


def test_stopping_layer_reads_the_zero_pattern():
    assert sp.stopping_layer(_controls([1, 2, 0, 0]), RELU, 2) == (2, True)
    assert sp.stopping_layer(_controls([1, 0, 3, 0]), RELU, 2) == (3, False)  # a hole: not ordered
    assert sp.stopping_layer(_controls([0, 0, 0]), RELU, 2) == (0, True)
    assert sp.layer_l1(_controls([1, 0]), RELU, 2).tolist() == [1.5, 0.0]


def test_truncation_after_the_last_nonzero_layer_gives_identical_outputs(tmp_path):
    data = ltdl.four_point_rotation()
    u = _controls([0.7, -1.3, 0, 0, 0])
    full = ltdl.Problem(RELU, data.x, data.y, T=2.5, K=5, lam=0.0).trajectory(u)[-1]
    cut = sp.truncate(u, RELU, 2, 2)
    assert cut["w"].shape == (2, 2, 2) and cut["b"].shape == (2, 2)
    short = ltdl.Problem(RELU, data.x, data.y, T=1.0, K=2, lam=0.0).trajectory(cut)[-1]
    assert torch.equal(full, short)  # zero layers are exact identities: bit for bit
    # cutting a non-zero layer changes the output (the test can fail)
    shorter = ltdl.Problem(RELU, data.x, data.y, T=0.5, K=1, lam=0.0).trajectory(sp.truncate(u, RELU, 2, 1))[-1]
    assert not torch.equal(full, shorter)
    n = sp.save_controls(cut, tmp_path / "sub" / "cut.pt")
    back = torch.load(tmp_path / "sub" / "cut.pt")
    assert n == 12 and all(torch.equal(back[k], cut[k]) for k in cut)
    with pytest.raises(ValueError, match="k must be <= K=5"):
        sp.truncate(u, RELU, 2, 6)


def test_bias_oracle_matches_fista_and_keeps_the_small_component_zero():
    data = ltdl.four_point_rotation()
    y = data.x + torch.tensor([0.5, 0.002], dtype=torch.float64)
    T, K, lam = 8.0, 8, 0.05
    exact = sp.l1_bias_oracle(data.x, y, T=T, K=K, lam=lam)
    assert exact["W"] == T - T / K / 2
    # |m_2| = 0.002 < lambda/(2W) = 0.05/15: exactly zero; m_1 is shrunk by lambda/(2W)
    assert float(exact["c"][1]) == 0.0
    assert float(exact["c"][0]) == pytest.approx(0.5 - lam / (2 * exact["W"]), abs=1e-15)
    prob = sp.l1_problem(ltdl.Bias(), data.x, y, T=T, dt=1.0)
    res = ltdl.fista(prob, l1=lam, tol=1e-13)
    res.certificate.check(1e-13)
    # b error ~ certificate / (curvature ~ 1): 1e-10 leaves three orders of margin
    assert float((res.controls["b"] - exact["b"]).abs().max()) <= 1e-10
    curve = prob.risk_curve(res.trajectory).numpy()
    assert abs(curve - exact["risk"]).max() <= 1e-12  # the oracle's risk curve, k = 0..K


def test_l1_solve_certifies_ordered_sparsity_on_the_four_points():
    data = ltdl.four_point_rotation()
    run = sp.l1_solve(sp.l1_problem(RELU, data.x, data.y, T=4.0, dt=1.0), 0.05)
    run.result.certificate.check(grad_tol=1e-10)  # the target of l1_solve; measured ~4e-14
    assert run.result.certificate.kind == "prox-gradient"
    assert (run.k_star, run.initial_segment, run.t_star) == (2, True, 2.0)
    assert run.margin > 0.1 and run.kinks == 0  # measured 0.4: every zero strictly inside the dead zone
    assert float(run.result.terms["l1"]) == pytest.approx(0.05 * 1.0 * run.layer_norms.sum(), rel=1e-13)
    run.check(grad_tol=1e-10)  # the same four facts, in one call


def test_check_refuses_each_missing_property():
    data = ltdl.four_point_rotation()
    run = sp.l1_solve(sp.l1_problem(RELU, data.x, data.y, T=4.0, dt=1.0), 0.05)
    run.check()  # a certified, ordered run (see above)
    with pytest.raises(AssertionError, match="grad_tol"):
        run.check(grad_tol=run.grad_max / 2)
    for change, match in (
        (dict(initial_segment=False), "initial segment"),
        (dict(margin=0.0), "dual margin"),
        (dict(margin=math.nan), "dual margin"),
        (dict(kinks=1), "kink"),
    ):
        with pytest.raises(AssertionError, match=match):
            dataclasses.replace(run, **change).check()


def test_dual_margin_by_hand_at_zero_controls():
    data = ltdl.four_point_rotation()
    y = data.x + torch.tensor([0.5, 0.0], dtype=torch.float64)
    prob = sp.l1_problem(ltdl.Bias(), data.x, y, T=2.0, dt=1.0)
    u = prob.init_controls()
    # dJ/db_0 at 0 = sum_{k>=1} w_k * dE/dc = W * (-2 m) with W = 1.5; dJ/db_1 = Δt * w_2 * (-2 m) = -0.5
    lam = 4.0
    assert sp.dual_margin(prob, u, lam) == pytest.approx(1 - 1.5 / 4.0, abs=1e-14)
    assert math.isnan(sp.dual_margin(prob, {"b": torch.ones(2, 2, dtype=torch.float64)}, lam))


def test_kinks_counts_relu_states_at_zero_only():
    data = ltdl.four_point_rotation()
    prob = sp.l1_problem(RELU, data.x, data.y, T=3.0, dt=1.0)
    traj = prob.trajectory(prob.init_controls())  # zero controls: states stay at ±e1, ±e2
    assert sp.kinks(prob, traj) == 2 * 4  # layers 1 and 2, four points with one zero coordinate each
    tanh = sp.l1_problem(ltdl.make_field("outer"), data.x, data.y, T=3.0, dt=1.0)
    assert sp.kinks(tanh, traj) == 0


def test_bad_inputs_name_the_argument():
    data = ltdl.four_point_rotation()
    with pytest.raises(ValueError, match="T/dt must be an integer"):
        sp.l1_problem(RELU, data.x, data.y, T=3.0, dt=0.7)
    prob = sp.l1_problem(RELU, data.x, data.y, T=2.0, dt=1.0)
    with pytest.raises(ValueError, match="l1"):
        sp.l1_solve(prob, -1.0)
    with pytest.raises((TypeError, ValueError), match="rounds must be an integer >= 1"):
        sp.l1_solve(prob, 0.1, rounds=0)
    batch = ltdl.Problem(RELU, data.x, data.y, T=torch.tensor([1.0, 2.0]), K=2, lam=0.0, beta=1.0, final_weight=0.0)
    with pytest.raises(ValueError, match="single problem"):
        sp.l1_solve(batch, 0.1)


def test_cli_lists_the_sparsity_experiment():
    from ltdl import cli

    buf = io.StringIO()
    cli._list(buf)
    assert "sparsity" in buf.getvalue()
    assert cli.EXPERIMENTS["sparsity"].defaults["T"] == list(sp.FOUR_POINT["T"])
    assert cli.EXPERIMENTS["sparsity"].defaults["lam"] == sp.FOUR_POINT["lam"]


def test_bracket_ranks_by_hand_in_one_dimension():
    # N = 3 points on the line, f = w σ(x) + b: g_w = σ(x), g_b = 1, and [g_b, g_w] = σ'(x).
    x = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    relu = sp.bracket_ranks(ltdl.make_field("outer", activation="relu"), x, depth=2)
    # ReLU on one linear piece: the fields x and 1 span the affine algebra of the line (2-dim).
    assert [lv["rank"] for lv in relu] == [2, 2, 2] and all(lv["sigma_min"] == 0.0 for lv in relu)
    tanh = sp.bracket_ranks(ltdl.make_field("outer", activation="tanh"), x, depth=1)
    assert [lv["rank"] for lv in tanh] == [2, 3] and [lv["columns"] for lv in tanh] == [2, 3]
    # The level-1 column is σ'(x) = 1 - tanh² x (up to sign): the smallest singular value by hand.
    t = torch.tanh(x[:, 0])
    by_hand = torch.linalg.svdvals(torch.stack([t, torch.ones(3, dtype=torch.float64), 1 - t**2], dim=1))[-1]
    assert abs(tanh[1]["sigma_min"] - float(by_hand)) <= 1e-12  # the same 3x3 SVD up to rounding


def test_bracket_ranks_at_the_four_point_turnpike():
    x_bar = ltdl.four_point_rotation().x @ ltdl.rotation(45.0).T
    ranks = {
        act: [lv["rank"] for lv in sp.bracket_ranks(ltdl.make_field("outer", activation=act), x_bar)]
        for act in ("relu", "tanh")
    }
    # 6 control directions for 8 coordinates; ReLU spans R^8 with first brackets, tanh needs second.
    assert ranks == {"relu": [6, 8, 8], "tanh": [6, 6, 8]}
    with pytest.raises(ValueError, match="linear in the control"):
        sp.bracket_ranks(ltdl.make_field("inner", activation="tanh"), x_bar)
    with pytest.raises(ValueError, match="depth must be"):
        sp.bracket_ranks(RELU, x_bar, depth=3)


def test_split_residual_separates_control_directions_from_missing_ones():
    x_bar = ltdl.four_point_rotation().x @ ltdl.rotation(45.0).T
    zero = {"w": torch.zeros(2, 2, dtype=torch.float64), "b": torch.zeros(2, dtype=torch.float64)}
    along = RELU(x_bar, {**zero, "b": torch.tensor([0.3, -0.1], dtype=torch.float64)})  # B u: in range
    missing = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    # B u moves point i by c + M relu(x̄_i), and relu(x̄_1) - relu(x̄_2) + relu(x̄_3) - relu(x̄_4) = 0,
    # so every move d in range(B) has d_1 - d_2 + d_3 - d_4 = 0: (v, -v, v, -v) is orthogonal to it.
    in_r, miss = sp.split_residual(RELU, x_bar, torch.stack([x_bar + along, x_bar + 0.2 * missing]))
    assert in_r[0] == pytest.approx(float(along.norm()), rel=1e-12) and miss[0] <= 1e-12
    assert in_r[1] <= 1e-12 and miss[1] == pytest.approx(0.2 * float(missing.norm()), rel=1e-12)
    with pytest.raises(ValueError, match="traj must have 3 dimensions"):
        sp.split_residual(RELU, x_bar, x_bar)
    with pytest.raises(ValueError, match=r"traj must have shape \(K\+1, 4, 2\)"):
        sp.split_residual(RELU, x_bar, torch.zeros(3, 2, 2, dtype=torch.float64))
