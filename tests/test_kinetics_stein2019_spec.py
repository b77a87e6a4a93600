"""The Stein 2019 model spec simulated by the ODE engine agrees with the closed form used for fitting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from immunoreset.kinetics.recovery import SCHEDULE
from immunoreset.kinetics.stein2019 import PARAMETERS, STEIN2019, engine_predict, predict, simulate
from immunoreset.models.stein2019 import OMEGA2, RESIDUAL_SD_LOG, STEIN2019_SPEC
from immunoreset.simulate import compile_model, sample_population, solve_reference

TIMES = np.array([0.0, 1, 4, 7, 9, 9.3, 11, 14, 21, 28, 56, 90, 180, 365])


def test_spec_values_match_the_kinetics_constants() -> None:
    assert STEIN2019_SPEC.parameter_names == list(PARAMETERS)
    for p in STEIN2019_SPEC.parameters:
        assert p.value == STEIN2019.typical[p.name]
        assert p.omega is not None and p.omega**2 == pytest.approx(STEIN2019.omega2[p.name], rel=1e-12)
        assert OMEGA2[p.name] == STEIN2019.omega2[p.name]
    assert STEIN2019.sigma == RESIDUAL_SD_LOG


def test_engine_reproduces_the_closed_form_for_the_typical_patient() -> None:
    model = compile_model(STEIN2019_SPEC)
    p = np.array([x.value for x in STEIN2019_SPEC.parameters])
    traj = solve_reference(model, p, np.zeros(0), TIMES)
    out = model.outputs(TIMES, traj.y, p, np.zeros(0), traj.flags)[0]
    assert np.allclose(out, predict(STEIN2019.typical, TIMES), rtol=1e-8)
    # the phase change is located as an event exactly at Tmax
    assert [(e.switch, e.on) for e in traj.events] == [("expanding", False)]
    assert traj.events[0].time == pytest.approx(9.3, abs=1e-9)
    # the closed form at the published typical parameters (Stein AM et al., CPT Pharmacometrics Syst Pharmacol
    # 2019;8:285-95, doi:10.1002/psp4.12388), evaluated independently of the code
    assert [round(x) for x in out[[9, 11, 12, 13]]] == [1374, 147, 110, 61]


def test_engine_reproduces_the_closed_form_for_sampled_patients() -> None:
    pop = sample_population(STEIN2019_SPEC, 15, seed=11)
    for row in pop.params:
        params = dict(zip(PARAMETERS, row, strict=True))
        assert np.allclose(engine_predict(params, TIMES), predict(params, TIMES), rtol=1e-7)


def test_simulate_with_the_engine_gives_the_same_patients() -> None:
    t = np.array(SCHEDULE, dtype=float)
    phi_cf, y_cf = simulate(5, t, seed=4)
    phi_en, y_en = simulate(5, t, seed=4, engine=True)
    assert np.array_equal(phi_cf, phi_en)
    assert np.allclose(y_en, y_cf, rtol=1e-7)


def test_engine_predict_without_a_day0_sample() -> None:
    t = np.array([7.0, 14.0, 28.0])
    assert np.allclose(engine_predict(STEIN2019.typical, t), predict(STEIN2019.typical, t), rtol=1e-8)
    assert math.isclose(float(predict(STEIN2019.typical, np.array([0.0]))[0]), 24000 / 3900)
