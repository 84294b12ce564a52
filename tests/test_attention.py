"""Self-attention dynamics on the sphere (ltdl.attention, ltdl.metastability).

The two exact reductions are the oracles: two tokens (SA and USA, several beta) and two clusters
of coincident tokens with unequal masses. The integrators are checked against them (errors and
fitted orders), the energy is checked to be non-decreasing at every step for the chapter's step
sizes, and the dynamics is checked to commute with a common rotation of all tokens.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ltdl
from ltdl import metastability as ms

torch.set_default_dtype(torch.float64)


def pair(theta: float, d: int = 3) -> torch.Tensor:
    x = torch.zeros(2, d)
    x[0, 0] = 1.0
    x[1, 0], x[1, 1] = math.cos(theta), math.sin(theta)
    return x


def angle(x: torch.Tensor, i: int = 0, j: int = 1) -> float:
    return float(2 * torch.asin((x[..., i, :] - x[..., j, :]).norm(dim=-1) / 2))


def test_oracle_beta0_closed_form():
    # At beta = 0 both reductions are theta' = -sin theta: tan(theta/2) = tan(theta0/2) e^{-t}.
    t = np.linspace(0, 6, 13)
    exact = 2 * np.arctan(np.tan(1.2 / 2) * np.exp(-t))
    for kind in ("sa", "usa"):
        got = ltdl.two_token_angle(1.2, 0.0, t, kind=kind).numpy()
        assert np.abs(got - exact).max() <= 1e-11  # DOP853 at rtol 1e-13 over 6 time units


@pytest.mark.parametrize("kind", ["sa", "usa"])
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
def test_two_tokens_match_oracle(kind, beta):
    # RK4 with h = 1/200 over t = 1: local error ~ h^5, measured global error <= 5e-12 (1e-10: ~20x).
    x0 = pair(2.0)
    tr = ltdl.attention_flow(x0, beta, h=1 / 200, steps=200, method="rk4", kind=kind)
    want = float(ltdl.two_token_angle(2.0, beta, [0.0, 1.0], kind=kind)[-1])
    assert abs(angle(tr[-1]) - want) <= 1e-10


@pytest.mark.parametrize("beta", [0.5, 2.0, 4.0])
def test_two_clusters_unequal_masses_match_oracle(beta):
    # 2 tokens at one point, 6 at another (masses 1/4, 3/4): coincident tokens stay coincident.
    th0 = 2.5
    x0 = torch.cat([pair(th0)[:1].repeat(2, 1), pair(th0)[1:].repeat(6, 1)])
    tr = ltdl.attention_flow(x0, beta, h=1 / 200, steps=400, method="rk4")
    want = ltdl.two_cluster_angle(th0, beta, [0.0, 1.0, 2.0], masses=(0.25, 0.75)).numpy()
    for k, w in ((200, want[1]), (400, want[2])):
        assert abs(angle(tr[k], 0, 7) - w) <= 1e-10  # RK4 error at h = 1/200, measured <= 1e-12
        assert float((tr[k, :2] - tr[k, :1]).abs().max()) <= 1e-15  # coincident up to rounding
    # the same two clusters as two weighted tokens (mass argument) give the same angle
    tr2 = ltdl.attention_flow(pair(th0), beta, h=1 / 200, steps=400, method="rk4", mass=torch.tensor([0.25, 0.75]))
    assert abs(angle(tr2[-1]) - want[2]) <= 1e-10


def test_two_cluster_equal_masses_is_two_tokens():
    t = [0.0, 0.5, 3.0]
    a = ltdl.two_cluster_angle(2.0, 3.0, t, masses=(0.5, 0.5))
    b = ltdl.two_token_angle(2.0, 3.0, t, kind="sa")
    assert float((a - b).abs().max()) <= 1e-12  # the same equation, solved twice


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("rk4", 4)])
@pytest.mark.parametrize("kind", ["sa", "usa"])
def test_integrator_orders(method, order, kind):
    beta, Ks = 1.0, np.array([20, 40, 80, 160])
    want = float(ltdl.two_token_angle(2.0, beta, [0.0, 1.0], kind=kind)[-1])
    errs = []
    for K in Ks:
        tr = ltdl.attention_flow(pair(2.0), beta, h=1 / int(K), steps=int(K), method=method, kind=kind)
        errs.append(abs(angle(tr[-1]) - want))
    slope = np.polyfit(np.log(Ks), np.log(errs), 1)[0]
    assert abs(-slope - order) <= 0.1, (errs, slope)  # measured |slope + order| <= 0.02


def test_merge_time_oracle():
    # quadrature of dt/dtheta against the time-stepped reduction
    t_m = ltdl.two_cluster_merge_time(2.0, 3.0, masses=(0.3, 0.7), angle=0.05)
    th = ltdl.two_cluster_angle(2.0, 3.0, [0.0, t_m], masses=(0.3, 0.7))
    assert abs(float(th[-1]) - 0.05) <= 1e-9  # both to ~1e-12; the angle moves at rate ~0.05 there


def test_cluster_history_last_merge_matches_oracle():
    # from the moment two clusters remain, the two-cluster reduction predicts the last merge
    for beta in (4.0, 9.0):
        h = ltdl.cluster_history(ltdl.random_tokens(32, 2, seed=1), beta, t_max=1e300, angle=0.05)
        t2, th2, m1, m2 = h.two_clusters
        pred = t2 + ltdl.two_cluster_merge_time(th2, beta, masses=(m1, m2), angle=0.05)
        # clusters not yet collapsed below the merge threshold when counted: measured <= 3e-4
        assert abs(math.log(h.last_merge) - math.log(pred)) <= 3e-3
        assert h.counts[-1] == 1 and np.all(np.diff(h.counts) <= 0)
        # energy non-decreasing up to rounding of a sum of n^2 terms of size e^beta
        assert np.all(np.diff(h.energy) >= -1e-13 * h.energy[1:])


@pytest.mark.parametrize("kind", ["sa", "usa"])
@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_energy_non_decreasing_chapter_steps(kind, beta):
    # the chapter's projected Euler steps: h = 0.1 for SA, 0.1 e^{-beta} for USA
    h = 0.1 if kind == "sa" else 0.1 * math.exp(-beta)
    x0 = ltdl.random_tokens(32, 3, seed=0, batch=3)
    tr = ltdl.attention_flow(x0, beta, h=h, steps=400, kind=kind)
    E = torch.stack([ltdl.attention_energy(x, beta) for x in tr])
    dE = E[1:] - E[:-1]
    # worst-case rounding of a sum of n^2 = 1024 terms, relative to E
    assert bool((dE >= -(32**2) * torch.finfo(E.dtype).eps * E[1:].abs()).all())
    D = ltdl.token_diameter(tr)[:-1]
    assert bool((dE[D > 1e-4] > 0).all())  # strict increase while the tokens are apart


def test_energy_identity_usa_is_gradient():
    # USA_i = (1/m_i) x P_{x_i} of the Euclidean gradient of E_beta (the gradient-ascent identity)
    x = ltdl.random_tokens(7, 4, seed=3).requires_grad_(True)
    E = ltdl.attention_energy(x, 2.0)
    (g,) = torch.autograd.grad(E, x)
    x = x.detach()
    riem = g - (g * x).sum(-1, keepdim=True) * x
    assert torch.allclose(ltdl.attention_field(x, 2.0, kind="usa"), 7 * riem, atol=1e-13, rtol=0)


@pytest.mark.parametrize("kind", ["sa", "usa"])
def test_rotation_invariance(kind):
    x0 = ltdl.random_tokens(12, 4, seed=5)
    Q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(1)))
    a = ltdl.attention_flow(x0, 2.0, h=0.05, steps=40, method="rk4", kind=kind)
    b = ltdl.attention_flow(x0 @ Q.T, 2.0, h=0.05, steps=40, method="rk4", kind=kind)
    assert float((a @ Q.T - b).abs().max()) <= 1e-12  # rounding only (orthogonal Q)


def test_flows_stay_on_sphere_and_shapes():
    x0 = ltdl.random_tokens(5, 3, seed=0, batch=2)
    for method in ltdl.METHODS:
        tr = ltdl.attention_flow(x0, 1.0, h=0.1, steps=7, method=method)
        assert tr.shape == (8, 2, 5, 3)
        assert float((tr.norm(dim=-1) - 1).abs().max()) <= 1e-15
    assert ltdl.attention_field(x0, 1.0).shape == (2, 5, 3)
    assert ltdl.attention_energy(x0, 1.0).shape == (2,)
    assert ltdl.token_diameter(x0).shape == (2,)


def test_softmax_is_stable_for_large_beta():
    x = ltdl.random_tokens(6, 3, seed=2)
    f = ltdl.attention_field(x, 800.0)  # e^{800} overflows float64; the log-sum-exp form does not
    assert bool(torch.isfinite(f).all())


def test_cluster_labels():
    x = torch.tensor([[1.0, 0.0], [math.cos(0.01), math.sin(0.01)], [0.0, 1.0], [-1.0, 0.0]])
    assert ltdl.cluster_labels(x, angle=0.05).tolist() == [0, 0, 1, 2]
    assert ltdl.count_clusters(x, angle=0.05) == 3
    assert ltdl.count_clusters(x, angle=1.6) == 1  # single linkage chains the quarter turns


def test_metastability_table_small():
    # n = 16 at beta = 4, 9: the clusters are collapsed when two remain (measured log_err <= 4e-4)
    out = ms.metastability_table(n=16, betas=(4.0, 9.0), seeds=(0, 1))
    assert len(out["rows"]) == 4 and all(r["log_err"] <= 3e-3 for r in out["rows"])
    s = ms.summarise(out["rows"])
    assert set(s["per_beta"]) == {4.0, 9.0} and s["slope"] > 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ltdl.attention_field(torch.zeros(3), 1.0), "x must have"),
        (lambda: ltdl.attention_field(ltdl.random_tokens(3, 2, seed=0), -1.0), "beta"),
        (lambda: ltdl.attention_field(ltdl.random_tokens(3, 2, seed=0), 1.0, kind="soft"), "kind"),
        (lambda: ltdl.attention_field(ltdl.random_tokens(3, 2, seed=0), 1.0, V=torch.eye(3)), "V must be"),
        (lambda: ltdl.attention_field(ltdl.random_tokens(3, 2, seed=0), 1.0, mass=torch.ones(2)), "mass"),
        (lambda: ltdl.attention_field(ltdl.random_tokens(3, 2, seed=0), 1.0, mass=-torch.ones(3)), "mass"),
        (lambda: ltdl.attention_flow(ltdl.random_tokens(3, 2, seed=0), 1.0, h=0.0, steps=3), "h"),
        (lambda: ltdl.attention_flow(ltdl.random_tokens(3, 2, seed=0), 1.0, h=0.1, steps=0), "steps"),
        (lambda: ltdl.attention_flow(ltdl.random_tokens(3, 2, seed=0), 1.0, h=0.1, steps=2, method="rk45"), "method"),
        (lambda: ltdl.random_tokens(3, 1, seed=0), "d must be"),
        (lambda: ltdl.random_tokens(3, 2, seed=None), "seed"),
        (lambda: ltdl.count_clusters(ltdl.random_tokens(3, 2, seed=0), angle=4.0), "angle"),
        (lambda: ltdl.two_token_angle(4.0, 1.0, [0.0, 1.0]), "theta0"),
        (lambda: ltdl.two_token_angle(1.0, 1.0, [1.0, 0.0]), "t must be"),
        (lambda: ltdl.two_cluster_angle(1.0, 1.0, [1.0], masses=(0.5, 0.6)), "masses"),
        (
            lambda: ltdl.cluster_history(ltdl.random_tokens(3, 2, seed=0), 1.0, t_max=1.0, angle=0.01, merge_chord=0.5),
            "merge_chord",
        ),
    ],
)
def test_named_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_bool_beta_is_a_type_error():
    with pytest.raises(TypeError, match="beta"):
        ltdl.attention_field(ltdl.random_tokens(3, 2, seed=0), True)
