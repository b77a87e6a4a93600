"""Stein 2019 closed form, individual ML fits and SAEM population fit (parameter recovery)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp

from immunoreset.errors import InvalidInput
from immunoreset.kinetics.data import tidy_frame
from immunoreset.kinetics.fit import fit_individual
from immunoreset.kinetics.recovery import SCHEDULE, recovery_study
from immunoreset.kinetics.saem import Dataset, SAEMOptions, saem
from immunoreset.kinetics.stein2019 import PARAMETERS, STEIN2019, predict, simulate, structural_model

TYPICAL = STEIN2019.typical


def test_closed_form_matches_reference_values() -> None:
    """Reference §1.4: R0 = 6.15, C(28) = 1,374, C(90) = 147, C(180) = 110, C(365) = 61 copies/µg."""
    c = predict(TYPICAL, np.array([0.0, 9.3, 28.0, 90.0, 180.0, 365.0]))
    assert c[0] == pytest.approx(24000 / 3900)
    assert c[1] == pytest.approx(24000)
    assert [round(x) for x in c[2:]] == [1374, 147, 110, 61]
    # doubling time 0.78 d, contraction half-life 4.3 d, terminal half-life 217 d (Stein 2019 Discussion)
    rho = math.log(3900) / 9.3
    assert round(math.log(2) / rho, 2) == 0.78
    assert round(math.log(2) / 0.16, 1) == 4.3 and round(math.log(2) / 0.0032) == 217


def test_closed_form_equals_the_two_pool_odes() -> None:
    """Integrate Stein's E/M equations independently and compare with the analytical solution."""
    p = TYPICAL
    rho = math.log(p["foldx"]) / p["tmax"]
    k = p["fb"] * (p["alpha"] - p["beta"])

    def rhs(t: float, y: list[float]) -> list[float]:
        e, m = y
        if t < p["tmax"]:
            return [rho * e, 0.0]
        return [-p["alpha"] * e, k * e - p["beta"] * m]

    t_eval = np.array([0.5, 4.0, 9.0, 9.3, 12.0, 28.0, 56.0, 180.0, 365.0])
    first = solve_ivp(rhs, (0, p["tmax"]), [p["cmax"] / p["foldx"], 0.0], rtol=1e-10, atol=1e-12, dense_output=True)
    second = solve_ivp(rhs, (p["tmax"], 365.0), [first.y[0, -1], 0.0], rtol=1e-10, atol=1e-12, dense_output=True)
    ode = np.array([first.sol(t).sum() if t < p["tmax"] else second.sol(t).sum() for t in t_eval])
    assert np.allclose(predict(p, t_eval), ode, rtol=1e-7)


def test_individual_fit_recovers_noise_free_profile() -> None:
    t = np.array(SCHEDULE, dtype=float)
    truth = {"foldx": 1500.0, "tmax": 11.0, "cmax": 9000.0, "alpha": 0.25, "fb": 0.02, "beta": 0.005}
    fit = fit_individual(structural_model(), t, predict(truth, t) * 1.0, TYPICAL, patient="P1")
    assert fit.evaluable and fit.identifiable
    for k in PARAMETERS:
        assert fit.estimates[k] == pytest.approx(truth[k], rel=1e-4)
    assert fit.sigma is not None and fit.sigma < 1e-6


def test_individual_fit_needs_more_points_than_parameters() -> None:
    t = [0.0, 4.0, 9.0, 14.0, 28.0, 90.0]
    fit = fit_individual(structural_model(), t, predict(TYPICAL, np.array(t)), TYPICAL)
    assert not fit.evaluable and fit.reason is not None and "more than 6" in fit.reason
    with pytest.raises(InvalidInput):
        fit_individual(structural_model(), [0.0, 1.0], [1.0, 0.0], TYPICAL)


def test_saem_is_deterministic_for_a_seed() -> None:
    t = np.array(SCHEDULE, dtype=float)
    _, y = simulate(20, t, seed=11)
    data = Dataset.from_lists([f"P{i}" for i in range(20)], [list(t)] * 20, list(y))
    opts = SAEMOptions(k1=40, k2=20, anneal=20, k_post=20, is_samples=100, seed=5)
    a = saem(structural_model(), data, TYPICAL, options=opts)
    b = saem(structural_model(), data, TYPICAL, options=opts)
    assert a.typical_dict() == b.typical_dict() and a.omega2_dict() == b.omega2_dict()
    assert a.minus2ll == b.minus2ll


def test_saem_rejects_bad_starts_and_tiny_data() -> None:
    t = np.array(SCHEDULE, dtype=float)
    _, y = simulate(3, t, seed=1)
    data = Dataset.from_lists(["a", "b", "c"], [list(t)] * 3, list(y))
    with pytest.raises(InvalidInput) as err:
        saem(structural_model(), data, {**TYPICAL, "beta": -1.0})
    assert err.value.field == "initial.beta"
    with pytest.raises(InvalidInput):
        saem(structural_model(), Dataset.from_lists(["a"], [list(t)], [list(y[0])]), TYPICAL)


def test_parameter_recovery_fast_variant() -> None:
    """Issue 7 recovery criterion on 5 replicates of 100 simulated patients (seeds 1–5), SAEM from
    starting values 1.4–2x off: mean typical-value error within 15 %, mean ω² error within 30 %."""
    report = recovery_study(100, seeds=range(1, 6), options=SAEMOptions(k_post=60, is_samples=200))
    assert report.passed, report.failures()
    assert abs(report.mean_sigma_error) < 0.05
    for rep in report.replicates:
        assert all(v is not None and 0 < v < 100 for v in rep.typical_rse_percent.values())


def test_dataset_from_frame_censors_blq() -> None:
    rows = [
        ("P1", 0, "<5", "copies/ug", "cart_qpcr"),
        ("P1", 7, "5000", "copies/ug", "cart_qpcr"),
        ("P1", 28, "700", "copies/ug", "cart_qpcr"),
        ("P2", -3, "2", "copies/ug", "cart_qpcr"),
        ("P2", 9, "20000", "copies/ug", "cart_qpcr"),
    ]
    frame = tidy_frame(pd.DataFrame(rows, columns=["patient", "time", "value", "unit", "analyte"]))
    data = Dataset.from_frame(frame)
    assert data.ids == ("P1", "P2") and data.n_obs == 3 and data.n_censored == 1
    assert data.unit == "{copies}/ug"
    with pytest.raises(InvalidInput):
        Dataset.from_frame(frame, analyte="cd19")


def test_omega_scale_variants() -> None:
    from immunoreset.kinetics.stein2019 import stein2019_population

    assert stein2019_population().omega2["foldx"] == 2.4
    assert stein2019_population("sd").omega2["foldx"] == pytest.approx(5.76)
    with pytest.raises(InvalidInput) as err:
        stein2019_population("cv")
    assert err.value.field == "omega_scale"


def test_data_driven_start_fits_flow_cytometry_scale() -> None:
    """CAR-T cells/µL are ~1000x below copies/µg: the data-driven start lets SAEM find the level."""
    from immunoreset.kinetics.stein2019 import PopulationParameters, initial_estimates

    flow = PopulationParameters(typical={**TYPICAL, "cmax": 24.0}, omega2=dict(STEIN2019.omega2), sigma=STEIN2019.sigma)
    t = np.array(SCHEDULE, dtype=float)
    phi, y = simulate(60, t, population=flow, seed=21)
    start = initial_estimates([t] * 60, list(y))
    assert 5 < start["cmax"] < 100 and start["tmax"] in {7.0, 9.0, 11.0, 14.0}
    data = Dataset.from_lists([f"F{i}" for i in range(60)], [list(t)] * 60, list(y))
    fit = saem(structural_model(), data, start, options=SAEMOptions(k_post=40, is_samples=200, seed=2))
    sample_cmax = math.exp(phi[:, 2].mean())
    assert fit.typical_dict()["cmax"] == pytest.approx(sample_cmax, rel=0.2)
    with pytest.raises(InvalidInput):
        initial_estimates([], [])


def test_m3_censored_likelihood_removes_the_m1_bias() -> None:
    """With an LLOQ of 20 copies/µg (≈ 17 % of samples BLQ), dropping BLQ values (M1) biases foldx
    by about −50 % and collapses ω²(β); the M3 likelihood P(y < LLOQ) recovers them."""
    from immunoreset.kinetics.recovery import DEFAULT_START

    t = np.array(SCHEDULE, dtype=float)
    _, y = simulate(100, t, seed=1)
    lloq = 20.0
    ids = [f"P{i}" for i in range(100)]
    times = [list(t[y[i] >= lloq]) for i in range(100)]
    values = [list(y[i][y[i] >= lloq]) for i in range(100)]
    cens = [[(float(d), lloq) for d in t[y[i] < lloq]] for i in range(100)]
    start = {k: TYPICAL[k] * DEFAULT_START[k] for k in PARAMETERS}
    opts = SAEMOptions(seed=1, k_post=40, is_samples=100)
    m1 = saem(structural_model(), Dataset.from_lists(ids, times, values), start, options=opts)
    m3_data = Dataset.from_lists(ids, times, values, censored=cens)
    assert m3_data.n_censored == sum(len(c) for c in cens) > 150
    m3 = saem(structural_model(), m3_data, start, options=opts)
    assert m1.typical_dict()["foldx"] / TYPICAL["foldx"] - 1 < -0.3
    assert abs(m3.typical_dict()["foldx"] / TYPICAL["foldx"] - 1) < 0.15
    assert abs(m3.typical_dict()["beta"] / TYPICAL["beta"] - 1) < 0.15
    assert m3.omega2_dict()["beta"] > 0.2 > m1.omega2_dict()["beta"]
    assert m3.sigma.se is not None and abs(m3.sigma.estimate / STEIN2019.sigma - 1) < 0.1


def test_m3_needs_the_lloq() -> None:
    rows = [("P1", 0, "BLQ", "copies/ug", "q"), ("P1", 9, "2000", "copies/ug", "q"), ("P2", 9, "900", "copies/ug", "q")]
    frame = tidy_frame(pd.DataFrame(rows, columns=["patient", "time", "value", "unit", "analyte"]))
    with pytest.raises(InvalidInput) as err:
        Dataset.from_frame(frame)
    assert err.value.field == "lloq"
    assert Dataset.from_frame(frame, blq="m1").n_censored == 1
    with pytest.raises(InvalidInput):
        Dataset.from_frame(frame, blq="m2")


def test_individual_fit_with_censored_values() -> None:
    t = np.array(SCHEDULE, dtype=float)
    truth = {"foldx": 1500.0, "tmax": 11.0, "cmax": 9000.0, "alpha": 0.25, "fb": 0.02, "beta": 0.008}
    rng = np.random.default_rng(4)
    y = predict(truth, t) * np.exp(0.05 * rng.standard_normal(t.size))
    lloq = 60.0
    q = y >= lloq
    fit = fit_individual(structural_model(), t[q], y[q], TYPICAL, censored=[(float(d), lloq) for d in t[~q]])
    assert fit.evaluable and any("4 BLQ" in n for n in fit.notes)
    for k in ("tmax", "cmax", "alpha", "fb"):
        assert fit.estimates[k] == pytest.approx(truth[k], rel=0.1)
    assert all(v is not None and v > 0 for v in fit.rse_percent.values())
    # the fitted profile lies below the LLOQ at the censored days
    assert np.all(predict(fit.estimates, t[~q]) < lloq)
    with pytest.raises(InvalidInput):
        fit_individual(structural_model(), t[q], y[q], TYPICAL, censored=[(1.0, 0.0)])


def test_derived_quantities_match_the_reference() -> None:
    """Reference §1.4: AUC0–28 analytic 26,986 (0–Tmax) + 144,788 (Tmax–28) = 171,774; R0 6.15;
    doubling time 0.78 d; half-lives 4.3 d and 217 d."""
    from immunoreset.kinetics.stein2019 import derived

    d = derived(TYPICAL)
    assert round(d["auc_0_end"]) == 171774
    assert round(derived(TYPICAL, auc_end=9.3)["auc_0_end"]) == 26986
    assert round(d["r0"], 2) == 6.15 and round(d["doubling_time"], 2) == 0.78
    assert round(d["half_life_contraction"], 1) == 4.3 and round(d["half_life_persistence"]) == 217
    # agrees with a fine trapezoid of the closed form
    grid = np.linspace(0, 28, 280001)
    assert d["auc_0_end"] == pytest.approx(np.trapezoid(predict(TYPICAL, grid), grid), rel=1e-6)


def test_saem_matches_exact_maximum_likelihood_on_a_linear_gaussian_model() -> None:
    """For ln y = a + b·t/10 with Gaussian IIV the marginal likelihood is exact (y_i ~ N(Xμ, XΩXᵀ + σ²I)).
    SAEM must land on its maximum, the Louis SEs on the inverse Hessian, and −2LL on the exact value."""
    from scipy import optimize

    from immunoreset.kinetics.fit import _hessian
    from immunoreset.kinetics.saem import StructuralModel

    def lp(phi: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.asarray(phi[:, 0:1] + phi[:, 1:2] * t / 10.0, dtype=float)

    model = StructuralModel("linear", ("a", "b"), lp)
    rng = np.random.default_rng(7)
    n, t = 60, np.arange(10.0)
    phi = np.array([1.6, 0.7]) + np.sqrt([0.3, 0.1]) * rng.standard_normal((n, 2))
    logy = lp(phi, np.broadcast_to(t, (n, 10))) + 0.2 * rng.standard_normal((n, 10))
    data = Dataset.from_lists([f"L{i}" for i in range(n)], [list(t)] * n, list(np.exp(logy)))
    x = np.column_stack([np.ones(10), t / 10])

    def exact_m2ll(w: np.ndarray) -> float:  # w = (μa, μb, ω²a, ω²b, σ²)
        v = x @ np.diag(w[2:4]) @ x.T + w[4] * np.eye(10)
        r = logy - x @ w[:2]
        return float(
            n * (10 * math.log(2 * math.pi) + np.linalg.slogdet(v)[1]) + np.einsum("ij,jk,ik->", r, np.linalg.inv(v), r)
        )

    best = optimize.minimize(
        lambda z: exact_m2ll(np.concatenate([z[:2], np.exp(z[2:])])),
        np.zeros(5),
        method="BFGS",
        options={"gtol": 1e-8},
    )
    w = np.concatenate([best.x[:2], np.exp(best.x[2:])])
    se = np.sqrt(np.diag(np.linalg.inv(_hessian(lambda v: 0.5 * exact_m2ll(v), w, h=1e-5))))
    fit = saem(model, data, {"a": 2.0, "b": 1.0}, options=SAEMOptions(seed=3))
    mu = [math.log(p.estimate) for p in fit.typical]
    assert mu == pytest.approx(list(w[:2]), abs=0.25 * se[:2].max())
    assert list(fit.omega2_dict().values()) == pytest.approx(list(w[2:4]), rel=0.1)
    assert fit.sigma.estimate**2 == pytest.approx(w[4], rel=0.02)
    assert [p.rse_percent / 100 for p in fit.typical if p.rse_percent] == pytest.approx(list(se[:2]), rel=0.1)
    assert [p.se for p in fit.omega2] == pytest.approx(list(se[2:4]), rel=0.15)
    assert fit.minus2ll is not None and abs(fit.minus2ll - best.fun) < 0.5
