"""The portability probe (ltdl.perturb): off by default, ~rel when on, named errors."""

import pytest
import torch

import ltdl
from ltdl import perturb


def test_off_by_default_returns_the_same_objects(monkeypatch):
    monkeypatch.delenv("LTDL_PERTURB", raising=False)
    t = torch.ones(3, 2, dtype=torch.float64)
    u = {"w": t}
    assert perturb.tensor(t) is t
    assert perturb.controls(u) is u
    assert perturb.level() == 0.0


def test_on_perturbs_at_the_requested_relative_size(monkeypatch):
    monkeypatch.setenv("LTDL_PERTURB", "1e-12")
    x = ltdl.xor(200, seed=0).x
    monkeypatch.delenv("LTDL_PERTURB")
    x0 = ltdl.xor(200, seed=0).x
    dev = float((x - x0).abs().max()) / float(x0.abs().max())
    # 200x2 standard normals times 1e-12 * max|x|: the largest of 400 |z| is below 5.
    assert 0 < dev <= 5e-12


def test_seed_selects_another_perturbation_and_is_reproducible(monkeypatch):
    monkeypatch.setenv("LTDL_PERTURB", "1e-12")
    zero = torch.zeros(4, dtype=torch.float64)
    monkeypatch.setattr(perturb, "_count", 0)
    a = perturb.tensor(zero)
    monkeypatch.setattr(perturb, "_count", 0)
    assert torch.equal(perturb.tensor(zero), a)  # same seed, same count: the same perturbation
    monkeypatch.setattr(perturb, "_count", 0)
    monkeypatch.setenv("LTDL_PERTURB_SEED", "7")
    assert not torch.equal(perturb.tensor(zero), a)


@pytest.mark.parametrize("value", ["tiny", "0.1", "-1e-12"])
def test_bad_level_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("LTDL_PERTURB", value)
    with pytest.raises(ValueError, match="LTDL_PERTURB"):
        perturb.level()


def test_bad_seed_names_the_variable(monkeypatch):
    monkeypatch.setenv("LTDL_PERTURB", "1e-12")
    monkeypatch.setenv("LTDL_PERTURB_SEED", "x")
    with pytest.raises(ValueError, match="LTDL_PERTURB_SEED"):
        perturb.level()


def test_a_well_determined_solve_keeps_its_digits(monkeypatch):
    """A strictly convex problem: the perturbed start lands on the same minimiser (to 1e-8)."""

    def solve():
        data = ltdl.four_point_rotation()
        prob = ltdl.Problem(ltdl.make_field("outer"), data.x, data.y, T=1.0, K=4, lam=1.0)
        return ltdl.train(prob, max_iter=200).value

    monkeypatch.delenv("LTDL_PERTURB", raising=False)
    ref = float(solve())
    monkeypatch.setenv("LTDL_PERTURB", "1e-12")
    # J at the minimiser moves by O(|perturbation of the data|) ~ 1e-12; 1e-8 leaves room for the
    # solver's stopping tolerance (tol_change 1e-15 relative to J ~ 1).
    assert abs(float(solve()) - ref) <= 1e-8 * abs(ref)


def test_a_certificate_evaluation_is_not_perturbed(monkeypatch):
    """train_newton(lbfgs_iter=0, max_steps=0) evaluates the certificate at the given controls."""
    data = ltdl.four_point_rotation()
    prob = ltdl.Problem(ltdl.make_field("outer"), data.x, data.y, T=1.0, K=4, lam=1.0)
    u = ltdl.train(prob, max_iter=200).controls
    monkeypatch.setenv("LTDL_PERTURB", "1e-6")
    res = ltdl.train_newton(prob, u, lbfgs_iter=0, max_steps=0)
    assert all(torch.equal(res.controls[n], u[n]) for n in u)
