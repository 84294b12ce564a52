"""The authors' examples: the registry (ltdl/examples.py: settings, targets), the runner and measures
(ltdl/example_runs.py), the drawings (ltdl/example_plots.py), errors."""

import dataclasses
import json
import math

import pytest
import torch

import ltdl
from ltdl import example_plots as exp
from ltdl import example_runs as exr
from ltdl import examples as ex

torch.set_default_dtype(torch.float64)
TINY = {"reduced": 3, "full": 3}  # iterations for smoke runs


def test_registry_keys_aliases_and_summaries():
    assert set(ltdl.EXAMPLES) == {"ex41", "ex42", "ex43", "exA1"}
    for alias, key in (("4.1", "ex41"), ("4.2", "ex42"), ("4.3", "ex43"), ("A.1", "exA1")):
        assert ltdl.get_example(alias) is ltdl.EXAMPLES[key]
    for key, spec in ltdl.EXAMPLES.items():
        assert spec.name == key and spec.summary.startswith(spec.label)
        assert set(spec.settings("full")) == set(spec.settings("reduced"))


def test_full_size_uses_the_authors_counts_and_reduced_size_fits_the_budget():
    full = {k: sum(s.counts["full"]) for k, s in ltdl.EXAMPLES.items()}
    assert full == {"ex41": 3000, "ex42": 3500, "ex43": 3000, "exA1": 3000}
    assert all(sum(s.counts["reduced"]) <= 600 for s in ltdl.EXAMPLES.values())
    assert ltdl.EXAMPLES["ex42"].counts["full"] == (500, 2000, 1000)


def test_tracking_targets_lie_exactly_in_the_zero_set_of_the_final_loss():
    for spec in ltdl.EXAMPLES.values():
        xb = spec.targets()
        if xb is None:
            continue
        out = torch.tanh(spec.output_map()(xb))[:, 0]
        c = spec.label_scale
        assert torch.allclose(out, torch.tensor([-c, c]), atol=1e-14, rtol=0)
        assert torch.allclose(xb[:, 1], torch.tensor(ex.AUTHORS_TARGET_X2[::-1]), atol=0, rtol=0)
    # the consistent targets also move when the authors' bias is kept
    biased = dataclasses.replace(ltdl.EXAMPLES["ex41"], P_bias=(ex.AUTHORS_BIAS,))
    out = torch.tanh(biased.output_map()(biased.targets()))[:, 0]
    assert torch.allclose(out, torch.tensor([-0.99, 0.99]), atol=1e-14, rtol=0)


def _tanh_by_bisection(z: float) -> float:
    """tanh z computed without tanh: the root v of log((1+v)/(1-v))/2 = z on (-1, 1)."""
    lo, hi = -1.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 0.5 * math.log((1 + mid) / (1 - mid)) < z else (lo, mid)
    return (lo + hi) / 2


def test_the_authors_class_minus_one_target_misses_the_zero_set():
    a, b = torch.tensor(ex.AUTHORS_A), ex.AUTHORS_BIAS
    x_plus, x_minus = torch.tensor(ex.AUTHORS_TARGETS)
    assert x_minus.tolist() == [-6 / 0.8156, -2 / (2 * 0.4525)]  # the authors' numbers, typed once here
    assert float(a @ x_plus) == pytest.approx(6 - 0.25, abs=1e-12)  # a·x_plus by hand, up to rounding
    # By hand: a·x_minus = 0.8156·(−6/0.8156) + (−0.4525)·(−2/(2·0.4525)) = −6 + 1 = −5 exactly.
    z = float(a @ x_minus)
    assert abs(z + 5.0) < 1e-12
    # tanh(−5 + 3.9044) from its defining equation, independently of math.tanh / torch.tanh.
    v = _tanh_by_bisection(-5.0 + b)
    assert math.isclose(math.tanh(z + b), v, abs_tol=1e-15)
    assert 1 + v > 0.1  # far from the label −1 (the class +1 target: 1 − tanh(9.654) < 1e-8)
    assert 1 - _tanh_by_bisection(6 - 0.25 + b) < 1e-8
    assert 1 + _tanh_by_bisection(-5.0) < 1e-4  # without the bias the target would be consistent


def test_the_spheres_examples_share_data_and_map_and_differ_in_tracking_and_lam():
    a, b = ltdl.EXAMPLES["ex41"], ltdl.EXAMPLES["exA1"]
    shared = ("dataset", "counts", "T", "K", "loss", "label_scale", "P_matrix", "P_bias")
    assert all(getattr(a, f) == getattr(b, f) for f in shared)
    differ = {f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)}
    assert differ == {"name", "label", "title", "target_x2", "tracking_weight", "lam", "iters", "authors", "notes"}
    # the authors' map, written from the constants, as their code has it
    assert a.authors["P"] == b.authors["P"] == "fixed: 0.8156 x1 − 0.4525 x2 + 3.9044"
    assert (
        list(a.authors) == list(b.authors) == ["field", "T, K", "optimiser", "data", "loss", "P", "targets", "penalty"]
    )


def test_states_at_is_the_euler_polygon():
    field = ltdl.make_field("outer", activation="tanh")
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(5, 2, generator=gen)
    u = {"w": torch.randn(4, 2, 2, generator=gen), "b": torch.randn(4, 2, generator=gen)}
    T = 3.0
    traj = ltdl.flow(field, x0, u, T)
    nodes = ltdl.states_at(traj, T, [0.0, 0.75, 3.0])
    assert torch.equal(nodes[0], traj[0]) and torch.allclose(nodes[1], traj[1]) and torch.equal(nodes[2], traj[4])
    dt = T / 4
    mid = ltdl.states_at(traj, T, [1.5 * dt])[0]
    uk = {"w": u["w"][1], "b": u["b"][1]}
    assert torch.allclose(mid, traj[1] + 0.5 * dt * field(traj[1], uk), atol=1e-14)
    with pytest.raises(ValueError, match="times"):
        ltdl.states_at(traj, T, [3.5])
    with pytest.raises(ValueError, match="T"):
        ltdl.states_at(traj, -1.0, [0.0])


@pytest.mark.parametrize("name", ["ex41", "ex42", "ex43", "exA1"])
def test_run_example_smoke_shapes_and_plain_numbers(name):
    spec = ltdl.EXAMPLES[name]
    r = ltdl.run_example(name, seed=1, iters=TINY)
    n = sum(spec.counts["reduced"])
    assert r.n_train + r.n_test == n and r.n_train == round(0.8 * n)
    assert r.trajectory.shape == (spec.K + 1, r.n_train, 2)
    assert r.test_trajectory.shape == (spec.K + 1, r.n_test, 2)
    for key in (
        "train_accuracy",
        "test_accuracy",
        "final_risk",
        "test_risk",
        "objective",
        "late_motion",
        "late_fraction",
    ):
        assert isinstance(getattr(r, key), float) and math.isfinite(getattr(r, key)), key
    for key in ("times", "risk_curve", "accuracy_curve", "state_norms", "output_norms", "displacement"):
        assert len(getattr(r, key)) == spec.K + 1, key
    assert len(r.control_norms) == spec.K
    assert (r.target_distance is None) == (spec.target_x2 is None)
    assert r.accuracy_curve[-1] == r.train_accuracy
    assert math.isclose(r.risk_curve[-1], r.final_risk, rel_tol=1e-12)
    assert r.spec == dataclasses.replace(spec, iters=TINY)

    # the CLI writes results as JSON after tolist()
    def plain(o):
        if isinstance(o, dict):
            return {k: plain(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [plain(v) for v in o]
        return o.tolist() if hasattr(o, "tolist") else o

    json.dumps(plain(r.to_dict()))
    assert list(r.to_dict())[-1] == "settings" and r.to_dict()["settings"] == dataclasses.asdict(r.spec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.grad_max = 0.0  # type: ignore[misc]  # a run is a record: frozen


def test_run_example_is_deterministic_and_decision_function_matches_classes():
    r1 = ltdl.run_example("4.2", seed=0, iters=TINY)
    r2 = ltdl.run_example("ex42", seed=0, iters=TINY)
    assert torch.equal(r1.trajectory, r2.trajectory) and r1.objective == r2.objective
    pred = ltdl.decision_function(r1)(r1.train_x)
    assert torch.equal(pred.long(), ex.classify(r1.spec, r1.trajectory[-1]))
    r3 = ltdl.run_example("ex41", seed=0, iters=TINY)
    score = ltdl.decision_function(r3)(r3.test_x)
    assert torch.equal((score > 0).long(), ex.classify(r3.spec, r3.test_trajectory[-1]))


def test_size_alias_and_full_size_path():
    r = ltdl.run_example("ex43", size="small", iters=TINY)
    assert r.size == "reduced"
    r = ltdl.run_example("ex43", size="full", iters={"reduced": 1, "full": 1})
    assert r.n_train == 2400 and r.n_test == 600


def test_bad_inputs_raise_value_errors_naming_the_argument():
    with pytest.raises(ValueError, match="name"):
        ltdl.run_example("ex99")
    with pytest.raises(ValueError, match="size"):
        ltdl.run_example("ex41", size="huge")
    with pytest.raises(ValueError, match="seed"):
        ltdl.run_example("ex41", seed=-1)
    with pytest.raises(ValueError, match="overrides"):
        ltdl.run_example("ex41", depth=3)
    spec = ltdl.EXAMPLES["ex41"]
    with pytest.raises(ValueError, match="label_scale"):
        dataclasses.replace(spec, label_scale=1.0)
    with pytest.raises(ValueError, match="target_x2"):
        dataclasses.replace(spec, tracking_weight=0.0)
    with pytest.raises(ValueError, match="counts"):
        dataclasses.replace(spec, counts={"reduced": (10, 20)})
    with pytest.raises(ValueError, match="size"):
        spec.settings("medium")


def test_restarts_stop_at_the_certificate_or_the_budget():
    r = ltdl.run_example("ex43", seed=0, iters={"reduced": 40, "full": 40}, grad_tol=1e-300)
    assert r.n_iter <= 40 and r.n_calls >= 1 and r.grad_max > 0
    with pytest.raises(ValueError, match="grad_tol"):
        dataclasses.replace(ltdl.EXAMPLES["ex41"], grad_tol=0.0)


def test_drawing_helpers_respect_the_book_layout_and_the_player_changes_the_image():

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = ltdl.run_example("ex41", seed=0, iters=TINY)
    for fig in (exp.draw_snapshots(r), exp.draw_plot_types(r)):
        w, _ = fig.get_size_inches()
        assert w <= 7.0
        axes = fig.get_axes()
        assert len(axes) == 4
        cols = {round(a.get_position().x0, 3) for a in axes}
        assert len(cols) <= 2  # at most two panels side by side
        # every column has an x-label and every row a y-label (2×2 grids)
        assert all(a.get_xlabel() for a in axes[2:]) and all(axes[i].get_ylabel() for i in (0, 2))
        plt.close(fig)
    lines = exp.summary_lines(r)
    assert len(lines) == 4 and "certificate" in lines[1]


def test_measures_follow_their_definitions_on_a_run():
    r = ltdl.run_example("ex41", seed=0, iters=TINY)
    m = exr.measures(r)
    assert m["rho"] == r.late_fraction and m["dist_T"] == r.target_distance[-1] and m["late"] == r.late_motion
    spec = r.spec
    r_star = math.atanh(0.99) / math.hypot(*ex.AUTHORS_A)
    assert m["r_star"] == pytest.approx(r_star, rel=1e-15)  # the same formula, rounding only
    dmax = (r.trajectory - r.x_bar).norm(dim=-1).amax(-1)
    if math.isfinite(m["t_reach"]):  # every later layer within r*, the layer before (if any) not
        k0 = round(m["t_reach"] / spec.dt)
        assert bool((dmax[k0:] <= r_star).all()) and (k0 == 0 or float(dmax[k0 - 1]) > r_star)
        assert m["E_reach"] == r.risk_curve[k0] and m["u_reach"] == r.control_norms[k0]
    else:  # three iterations need not bring the points home
        assert float(dmax[-1]) > r_star and "E_reach" not in m
    with pytest.raises(ValueError, match="run"):
        exr.turnpike_measures(ltdl.run_example("exA1", seed=0, iters=TINY))
    r43 = ltdl.run_example("ex43", seed=0, iters=TINY)
    m43 = exr.measures(r43)
    d = torch.tensor([1.0, 1.0]) / math.sqrt(2)
    proj = r43.trajectory[-1] @ d
    assert m43["margin"] == float(proj[r43.train_classes == 0].min() - proj[r43.train_classes == 1].max())
    assert m43["acc_0"] == r43.accuracy_curve[0]
    assert m43["radius_T"] == pytest.approx(math.sqrt(r43.state_norms[-1]), rel=1e-13)  # two sums of the same squares
    r42 = ltdl.run_example("ex42", seed=0, iters=TINY)
    m42 = exr.drift_measures(r42, E_tol=1e6)
    assert m42["t_small"] == 0.0  # every layer is below a huge tolerance
    assert m42["radius_T"] == pytest.approx(math.sqrt(r42.state_norms[-1]), rel=1e-13)  # the same mean, rounding only
    with pytest.raises(ValueError, match="E_tol"):
        exr.drift_measures(r42, E_tol=0.0)


def test_newton_polish_certifies_a_strict_local_minimum_and_the_summary_shows_bounds():
    small = {"reduced": (20, 40), "full": (20, 40)}
    r = ltdl.run_example("ex41", seed=0, counts=small, iters={"reduced": 200, "full": 200}, newton=True)
    # The polish stops at its gradient goal; a strict local minimum has a positive definite Hessian.
    assert r.grad_max <= ex.NEWTON_TOL and r.min_eig is not None and r.min_eig > 0
    assert exp.certificate_line(r).endswith("(Newton): True")
    plain = ltdl.run_example("ex41", seed=0, counts=small, iters=TINY)
    assert plain.min_eig is None and plain.grad_max > plain.spec.grad_tol  # 3 iterations: not converged
    # Never the rounding-level value or an iteration count: only the bound the run meets or misses.
    assert exp.certificate_line(plain) == "certificate not met: L-BFGS budget spent with max|grad J| > 1e-06"
    met = dataclasses.replace(r, min_eig=None)
    assert exp.certificate_line(met) == "certificate: max|grad J| <= 1e-06 (L-BFGS goal met)"
    assert "then Newton to max|∇J| ≤ 1e-10" in dataclasses.replace(r.spec, newton=True).settings()["optimiser"]
