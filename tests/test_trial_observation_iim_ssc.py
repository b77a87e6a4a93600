"""IIM/SSc observation models and the infection model: raw items, documented distributions, seeded draws."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from immunoreset.instruments.myositis import mmt8
from immunoreset.instruments.ssc import mrss
from immunoreset.registry.vocabulary import MMT8_GROUPS, MRSS_AREAS
from immunoreset.trial.emit import allocate
from immunoreset.trial.infections import InfectionModelParameters, simulate_infections
from immunoreset.trial.observation_iim import draw_traits as iim_traits
from immunoreset.trial.observation_iim import observe_visit as observe_iim
from immunoreset.trial.observation_ssc import baseline_eustar_ai
from immunoreset.trial.observation_ssc import draw_traits as ssc_traits
from immunoreset.trial.observation_ssc import observe_visit as observe_ssc


def test_allocate_respects_total_caps_and_proportions() -> None:
    weights = [0.5, 0.3, 0.2]
    assert allocate(10, weights, 10) == [5, 3, 2]
    assert allocate(25, weights, 10) == [10, 9, 6]
    assert allocate(0, weights, 3) == [0, 0, 0]
    with pytest.raises(ValueError):
        allocate(31, weights, 10)


IIM_STATE = {
    "ck": 2500.0,
    "aldolase": 14.0,
    "mmt8": 61.3,
    "haqDi": 1.3,
    "physicianGlobal": 6.0,
    "patientGlobal": 5.5,
    "extramuscularGlobal": 3.0,
}


def test_iim_visit_records_raw_items_that_the_instruments_score() -> None:
    rng = np.random.default_rng(1)
    traits = iim_traits(rng, female=True)
    obs = {o.code: o for o in observe_iim(traits, IIM_STATE, rng, assessment=True)}
    assert obs["ck_uln"].value == Decimal(170) and obs["ck"].unit == "U/L"
    grades = {g: int(obs[f"mmt8_{g}"].value or 0) for g in MMT8_GROUPS}
    total = mmt8(grades).total
    assert total is not None and abs(total - 61.3) <= 6
    # proximal/axial groups weaker than distal ones on average over patients
    deficits = np.zeros(len(MMT8_GROUPS))
    for seed in range(200):
        g = np.random.default_rng(seed)
        o = {x.code: x for x in observe_iim(iim_traits(g, female=False), IIM_STATE, g, assessment=True)}
        deficits += [10 - int(o[f"mmt8_{m}"].value or 0) for m in MMT8_GROUPS]
    index = {m: i for i, m in enumerate(MMT8_GROUPS)}
    assert deficits[index["neck_flexors"]] > 2 * deficits[index["wrist_extensors"]]
    haq = obs["myo_haq_di"].value
    assert haq is not None and Decimal(8) * haq % 1 == 0  # HAQ-DI in 0.125 steps
    labs_only = {o.code for o in observe_iim(traits, IIM_STATE, rng, assessment=False)}
    assert labs_only == {"ck", "ck_uln", "aldolase", "aldolase_uln"}


SSC_STATE = {
    "mrss": 24.4,
    "crp": 14.0,
    "fvc": 72.0,
    "dlco": 55.0,
    "patientGlobal": 6.0,
    "physicianGlobal": 5.0,
    "haqDi": 1.1,
    "antiScl70": 1.0,
    "inflammation": 1.0,
}


def test_ssc_visit_records_17_areas_and_items() -> None:
    rng = np.random.default_rng(3)
    traits = ssc_traits(rng, anti_scl70_baseline=120.0)
    obs = {o.code: o for o in observe_ssc(traits, SSC_STATE, rng, assessment=True)}
    areas = {a: int(obs[f"mrss_{a}"].value or 0) for a in MRSS_AREAS}
    total = mrss(areas).total
    assert total is not None and abs(total - 24.4) <= 6 and max(areas.values()) <= 3
    for name in traits.present:
        assert obs[name].value == 1  # active items persist at full inflammation
    quiet = {o.code: o for o in observe_ssc(traits, {**SSC_STATE, "inflammation": 0.0}, rng, assessment=True)}
    assert quiet["digital_ulcers"].value == 0 and quiet["tendon_friction_rubs"].value == 0
    assert obs["anti_scl70_uln"].value == Decimal(10)


def test_ssc_eligibility_screen_uses_the_eustar_instrument() -> None:
    rng = np.random.default_rng(5)
    traits = ssc_traits(rng, anti_scl70_baseline=100.0)
    inactive = baseline_eustar_ai(traits, mrss0=10, crp0=2, dlco0=85)
    active = baseline_eustar_ai(traits, mrss0=25, crp0=20, dlco0=50)
    assert active == inactive + Decimal("4.75")  # mRSS > 18 (1.5) + CRP > 10 mg/L (2.25) + DLCO < 70 (1.0)


def test_infections_follow_neutropenia_and_aplasia_and_are_reproducible() -> None:
    days = 731
    normal = np.full(days, 4000.0)
    b_normal = np.full(days, 150.0)
    p = InfectionModelParameters()
    counts_normal = [len(simulate_infections(normal, b_normal, np.random.default_rng(s))) for s in range(400)]
    expected = p.rate_per_year * days / 365
    assert np.mean(counts_normal) == pytest.approx(expected, rel=0.15)
    aplasia = np.where(np.arange(days) < 120, 0.0, 150.0)
    neutropenic = np.where((np.arange(days) > 3) & (np.arange(days) < 12), 200.0, 4000.0)
    counts_risk = [len(simulate_infections(neutropenic, aplasia, np.random.default_rng(s))) for s in range(400)]
    assert np.mean(counts_risk) > np.mean(counts_normal) * 1.1
    events = [e for s in range(400) for e in simulate_infections(normal, b_normal, np.random.default_rng(s))]
    grade3 = [e for e in events if e.grade == 3]
    assert 0.05 < len(grade3) / len(events) < 0.2 and all(e.serious for e in grade3)
    assert {e.grading for e in events} == {"CTCAE v5.0"}
    first = simulate_infections(neutropenic, aplasia, np.random.default_rng(9))
    assert first == simulate_infections(neutropenic, aplasia, np.random.default_rng(9))
