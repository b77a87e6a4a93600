"""SSc instruments against the published definitions (mRSS: Khanna D et al., J Scleroderma Relat Disord
2017;2:11-18; EUSTAR-AI: Valentini G et al., Ann Rheum Dis 2017;76:270-6; CRISS: Khanna D et al., Arthritis
Rheumatol 2016;68:299-311; revised CRISS: Khanna D et al., Ann Rheum Dis 2021;80:641-50; 2013 criteria: van den
Hoogen F et al., Ann Rheum Dis 2013;72:1747-55) with hand-computed vectors (weights and thresholds restated here
independently of the code)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.instruments.ssc import MRSS_AREAS, criss, criss25, eustar_ai, mrss, ssc_classification_2013

AREAS = [
    "face",
    "anterior_chest",
    "abdomen",
    *(
        f"{site}_{side}"
        for site in ("fingers", "dorsum_hand", "forearm", "upper_arm", "thigh", "lower_leg", "dorsum_foot")
        for side in ("right", "left")
    ),
]


def skin(default: int = 0, **grades: int) -> dict[str, int]:
    data = dict.fromkeys(AREAS, default)
    data.update(grades)
    return data


# --------------------------------------------------------------------------- mRSS


def test_the_17_areas() -> None:
    assert sorted(MRSS_AREAS) == sorted(AREAS)
    assert len(AREAS) == 17


def test_m1_m2_extremes() -> None:
    assert mrss(skin(0)).total == 0
    assert mrss(skin(3)).total == 51


def test_m3_worked_example_is_18() -> None:
    grades = skin(
        0,
        face=1,
        fingers_right=3,
        fingers_left=3,
        dorsum_hand_right=2,
        dorsum_hand_left=2,
        forearm_right=2,
        forearm_left=1,
        upper_arm_right=1,
        upper_arm_left=1,
        lower_leg_right=1,
        lower_leg_left=1,
    )
    result = mrss(grades)
    assert result.evaluable and result.total == 18 and not result.partial


@pytest.mark.parametrize("bad", [4, -1, 2.5, "2.5", True, "x"])
def test_m4_grades_are_integers_0_to_3(bad: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        mrss(skin(0, thigh_left=bad))
    assert err.value.field == "thigh_left"


def test_missing_area_is_rejected_by_default_naming_it() -> None:
    grades = skin(1)
    del grades["abdomen"], grades["dorsum_foot_left"]
    with pytest.raises(InvalidInput) as err:
        mrss(grades)
    assert {p.field for p in err.value.problems} == {"abdomen", "dorsum_foot_left"}


def test_missing_area_options() -> None:
    grades = skin(2)
    del grades["face"]
    not_evaluable = mrss(grades, options={"missing_areas": "not_evaluable"})
    assert not not_evaluable.evaluable and not_evaluable.total is None and "face" in (not_evaluable.reason or "")
    partial = mrss(grades, options={"missing_areas": "partial_sum"})
    assert partial.evaluable and partial.partial and partial.total == 32 and partial.areas_recorded == 16


def test_unknown_area_name_is_rejected() -> None:
    with pytest.raises(InvalidInput) as err:
        mrss({**skin(0), "hand_right": 1})
    assert "hand_right" in str(err.value)


@given(st.lists(st.integers(0, 3), min_size=17, max_size=17))
def test_mrss_is_the_sum(grades: list[int]) -> None:
    result = mrss(dict(zip(AREAS, grades, strict=True)))
    assert result.total == sum(grades)
    assert 0 <= sum(grades) <= 51


# --------------------------------------------------------------------------- EUSTAR-AI

EUSTAR = {
    "delta_skin": Decimal("1.5"),
    "mrss_over_18": Decimal("1.5"),
    "digital_ulcers": Decimal("1.5"),
    "tendon_friction_rubs": Decimal("2.25"),
    "crp_over_1_mg_dl": Decimal("2.25"),
    "dlco_under_70": Decimal("1.0"),
}


def ai(
    delta_skin: bool, mrss_value: int, du: bool, tfr: bool, crp: str, dlco: str, unit: str = "mg/dL"
) -> dict[str, Any]:
    return {
        "delta_skin": delta_skin,
        "mrss": mrss_value,
        "digital_ulcers": du,
        "tendon_friction_rubs": tfr,
        "crp": {"value": crp, "unit": unit},
        "dlco_percent_predicted": dlco,
    }


@pytest.mark.parametrize(
    ("case", "expected_total", "active"),
    [
        (ai(True, 19, True, False, "0.8", "65"), Decimal("5.5"), True),  # E1
        (ai(False, 18, False, False, "1.0", "70"), Decimal("0"), False),  # E2: all three edges strict
        (ai(False, 10, False, True, "0.3", "85"), Decimal("2.25"), False),  # E3: just below
        (ai(True, 10, False, False, "0.3", "69.9"), Decimal("2.5"), True),  # E4: exactly at the cut-off
        (ai(True, 51, True, True, "5.0", "40"), Decimal("10"), True),  # E5: maximum
        (ai(False, 12, True, False, "12", "80", unit="mg/L"), Decimal("3.75"), True),  # E6: CRP in mg/L
    ],
)
def test_eustar_reference_vectors(case: dict[str, Any], expected_total: Decimal, active: bool) -> None:
    result = eustar_ai(case)
    assert result.evaluable
    assert result.total == expected_total
    assert result.active is active


@pytest.mark.parametrize(
    ("field", "below", "above"),
    [("mrss", 18, 19), ("dlco_percent_predicted", "70", "69.99")],
)
def test_eustar_strict_edges(field: str, below: Any, above: Any) -> None:
    base = ai(False, 0, False, False, "0", "100")
    assert eustar_ai({**base, field: below}).total == 0
    above_total = eustar_ai({**base, field: above}).total
    assert above_total is not None and above_total > 0


@pytest.mark.parametrize(
    ("crp", "unit", "scores"),
    [
        ("1", "mg/dL", False),
        ("1.01", "mg/dL", True),
        ("10", "mg/L", False),
        ("10.1", "mg/L", True),
        ("0.01", "g/L", False),
        ("0.0101", "g/L", True),
        ("10", "mg/l", False),
        ("11", "mg/l", True),
    ],
)
def test_crp_unit_handling(crp: str, unit: str, scores: bool) -> None:
    result = eustar_ai(ai(False, 0, False, False, crp, "100", unit=unit))
    assert result.items["crp_over_1_mg_dl"] is scores
    assert result.total == (Decimal("2.25") if scores else 0)


def test_crp_conversion_is_reported_in_mg_dl() -> None:
    assert eustar_ai(ai(False, 0, False, False, "12", "100", unit="mg/L")).crp_mg_dl == Decimal("1.2")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"crp": {"value": 5}}, "crp.unit"),
        ({"crp": {"value": 5, "unit": "U/L"}}, "crp.unit"),
        ({"crp": {"value": 5, "unit": "furlongs"}}, "crp.unit"),
        ({"crp": {"value": "-1", "unit": "mg/L"}}, "crp.value"),
        ({"crp": 5}, "crp"),
        ({"crp_unit": "mg/L"}, "crp_unit"),
        ({"mrss": 52}, "mrss"),
        ({"mrss_over_18": True}, "mrss_over_18"),  # contradicts mrss 10
        ({"dlco_under_70": False, "dlco_percent_predicted": "69"}, "dlco_under_70"),
    ],
)
def test_eustar_bad_input(change: dict[str, Any], field: str) -> None:
    case = {**ai(False, 10, False, False, "0.5", "90"), **change}
    case = {k: v for k, v in case.items() if v is not None}
    with pytest.raises(InvalidInput) as err:
        eustar_ai(case)
    assert err.value.field == field


def test_eustar_from_item_booleans_and_from_areas() -> None:
    booleans = dict.fromkeys(EUSTAR, False) | {"tendon_friction_rubs": True, "dlco_under_70": True}
    assert eustar_ai(booleans).total == Decimal("3.25")
    m3 = skin(0, face=1, fingers_right=3, fingers_left=3, dorsum_hand_right=2, dorsum_hand_left=2, forearm_right=2)
    m3 |= {"forearm_left": 1, "upper_arm_right": 1, "upper_arm_left": 1, "lower_leg_right": 1, "lower_leg_left": 1}
    from_areas = eustar_ai(dict.fromkeys(EUSTAR, False) | {"mrss_over_18": None, "mrss_areas": m3})
    assert from_areas.mrss == 18 and from_areas.items["mrss_over_18"] is False
    with pytest.raises(InvalidInput) as err:
        eustar_ai({"mrss": 20, "mrss_areas": m3})
    assert err.value.field == "mrss"
    with pytest.raises(InvalidInput) as err:
        eustar_ai({"mrss_areas": {k: v for k, v in m3.items() if k != "face"}})
    assert err.value.field == "mrss_areas.face"


def test_eustar_missing_items_decide_when_they_can() -> None:
    active = eustar_ai({"tendon_friction_rubs": True, "delta_skin": True})
    assert active.total is None and not active.evaluable and active.active is True
    inactive = eustar_ai(dict.fromkeys(EUSTAR, False) | {"dlco_under_70": None})
    assert inactive.total is None and inactive.active is False  # at most 1.0 possible
    decided_low = eustar_ai(dict.fromkeys(EUSTAR, False) | {"crp_over_1_mg_dl": None})
    assert decided_low.active is False  # 0 known + at most 2.25 < 2.5
    open_case = eustar_ai(dict.fromkeys(EUSTAR, False) | {"crp_over_1_mg_dl": None, "delta_skin": True})
    assert open_case.active is None and "crp_over_1_mg_dl" in (open_case.reason or "")


@given(st.fixed_dictionaries({name: st.booleans() for name in EUSTAR}))
def test_eustar_total_is_weighted_sum(items: dict[str, bool]) -> None:
    result = eustar_ai(items)
    expected = sum((w for name, w in EUSTAR.items() if items[name]), Decimal(0))
    assert result.total == expected
    assert Decimal(0) <= expected <= Decimal(10)
    assert result.active is (expected >= Decimal("2.5"))


# --------------------------------------------------------------------------- CRISS

NO_EVENTS = {"new_renal_crisis": False, "ild_progression": False, "new_lv_failure": False, "new_pah": False}
BASE: dict[str, Any] = {
    "mrss": 25,
    "fvc_percent_predicted": 70,
    "patient_global": 5,
    "physician_global": 5,
    "haq_di": "1.5",
}


def criss_case(d_mrss: Any, d_fvc: Any, d_pt: Any, d_md: Any, d_haq: Any, **events: Any) -> dict[str, Any]:
    follow = {
        "mrss": BASE["mrss"] + d_mrss,
        "fvc_percent_predicted": Decimal(BASE["fvc_percent_predicted"]) + Decimal(str(d_fvc)),
        "patient_global": Decimal(BASE["patient_global"]) + Decimal(str(d_pt)),
        "physician_global": Decimal(BASE["physician_global"]) + Decimal(str(d_md)),
        "haq_di": Decimal(BASE["haq_di"]) + Decimal(str(d_haq)),
    }
    return {"baseline": BASE, "follow_up": follow, **NO_EVENTS, **events}


def expected_probability(d: tuple[Any, ...]) -> float:
    # Khanna 2016 Table 4, restated: lin = -5.54 - 0.81 dMRSS + 0.21 dFVC - 0.40 dPt - 0.44 dMD - 3.41 dHAQ
    lin = -5.54 - 0.81 * d[0] + 0.21 * d[1] - 0.40 * d[2] - 0.44 * d[3] - 3.41 * d[4]
    return math.exp(lin) / (1 + math.exp(lin))


@pytest.mark.parametrize(
    ("delta", "probability", "improved"),
    [
        ((0, 0, 0, 0, 0), "0.00391", False),  # C1
        ((-10, 5, -2, -3, "-0.5"), "0.99941", True),  # C2
        ((-7, 0, 0, 0, 0), "0.53245", False),  # C3
        ((-7, 0, 0, 0, "-0.125"), "0.63558", True),  # C4
        ((3, -3, 1, 1, "0.25"), "0.00003", False),  # C5
        ((-4, 0, -1, -1, "-0.25"), "0.35263", False),  # C6
    ],
)
def test_criss_reference_vectors(delta: tuple[Any, ...], probability: str, improved: bool) -> None:
    result = criss(criss_case(*delta))
    assert result.evaluable and result.improved is improved
    assert result.probability is not None
    assert abs(result.probability - Decimal(probability)) < Decimal("0.000006")
    assert math.isclose(float(result.probability), expected_probability(tuple(float(x) for x in delta)), abs_tol=1e-6)


@pytest.mark.parametrize("event", list(NO_EVENTS))
def test_c7_step1_overrides_step2(event: str) -> None:
    result = criss(criss_case(-15, 10, -5, -5, -1, **{event: True}))
    assert result.step2_probability is not None and result.step2_probability > Decimal("0.99")
    assert result.probability == 0 and result.improved is False and result.evaluable
    assert result.headline() == f"not improved (step 1: {event})"


def test_step1_event_decides_even_with_missing_measures() -> None:
    case = criss_case(-15, 10, -5, -5, -1, new_renal_crisis=True)
    del case["follow_up"]["haq_di"]
    result = criss(case)
    assert result.improved is False and result.probability == 0


def test_threshold_060_is_inclusive_in_lin_space() -> None:
    # P >= 0.60 <=> lin >= ln(1.5) = 0.405465...; dHAQ moves lin in steps of 3.41 per unit.
    lin_needed = math.log(1.5)
    d_haq_edge = (lin_needed - 0.13) / -3.41  # from C3 (lin 0.13)
    just_below = criss(criss_case(-7, 0, 0, 0, round(d_haq_edge + 0.0005, 4)))
    just_above = criss(criss_case(-7, 0, 0, 0, round(d_haq_edge - 0.0005, 4)))
    assert just_below.improved is False and just_above.improved is True


def test_unknown_step1_events() -> None:
    low = criss_case(0, 0, 0, 0, 0)
    for name in NO_EVENTS:
        del low[name]
    result = criss(low)
    assert result.improved is False and result.probability is None and not result.evaluable  # decided by step 2
    high = criss_case(-10, 5, -2, -3, "-0.5", new_pah=None)
    result = criss(high)
    assert result.improved is None and "new_pah" in (result.reason or "")


def test_fvc_fall_needs_a_confirmed_ild_judgement() -> None:
    # 70 -> 59: relative fall 15.71% to < 80%: the numeric part of step 1 is met.
    case = criss_case(-10, -11, -2, -3, "-0.5", ild_progression=None)
    result = criss(case)
    assert result.improved is None and "confirm ILD progression" in (result.reason or "")
    assert result.fvc_relative_decline_percent == Decimal("15.71")
    assert criss({**case, "ild_progression": True}).improved is False
    assert criss({**case, "ild_progression": False}).improved is True  # not confirmed: step 2 decides
    # An event between the visits counts even when the follow-up FVC has recovered.
    assert criss(criss_case(-10, 5, -2, -3, "-0.5", ild_progression=True)).improved is False
    # A fall to exactly 15% relative, but not below 80% predicted, is not the numeric event.
    high = criss_case(-10, 0, -2, -3, "-0.5", ild_progression=None)
    high["baseline"] = {**BASE, "fvc_percent_predicted": 100}
    high["follow_up"] = {**high["follow_up"], "fvc_percent_predicted": 85}
    result = criss(high)
    assert result.fvc_relative_decline_percent == Decimal("15.00") and "FVC % predicted fell" not in (
        result.reason or ""
    )


def test_global_scale_option() -> None:
    tenfold = criss_case(-7, 0, 0, 0, 0)
    for visit in ("baseline", "follow_up"):
        tenfold[visit] = {**tenfold[visit]}
        for name in ("patient_global", "physician_global"):
            tenfold[visit][name] = Decimal(tenfold[visit][name]) * 10
    with pytest.raises(InvalidInput) as err:
        criss(tenfold)
    assert err.value.field == "baseline.patient_global"
    scaled = criss(tenfold, options={"global_scale": "0-100"})
    assert scaled.probability == criss(criss_case(-7, 0, 0, 0, 0)).probability


@settings(max_examples=60)
@given(
    st.integers(-20, 20),
    st.integers(-20, 20),
    st.integers(-4, 4),
    st.integers(-4, 4),
    st.integers(-8, 8),
    st.integers(1, 5),
)
def test_criss_probability_moves_with_improvement(
    d_mrss: int, d_fvc: int, d_pt: int, d_md: int, eighths: int, step: int
) -> None:
    d_haq = Decimal(eighths) / 8
    result = criss(criss_case(d_mrss, d_fvc, d_pt, d_md, d_haq))
    better = criss(criss_case(d_mrss - step, d_fvc + step, d_pt, d_md, d_haq))
    assert result.probability is not None and better.probability is not None
    assert 0 <= result.probability <= 1
    assert better.probability >= result.probability
    assert result.improved is (result.linear_predictor is not None and result.linear_predictor >= Decimal("0.405465"))


# --------------------------------------------------------------------------- 2013 classification

CLEAR = {"skin_thickening_sparing_fingers": False, "better_explained_by_other_disorder": False}
ITEMS = [
    "skin_thickening_proximal_to_mcp",
    "puffy_fingers",
    "sclerodactyly",
    "digital_tip_ulcers",
    "fingertip_pitting_scars",
    "telangiectasia",
    "abnormal_nailfold_capillaries",
    "pulmonary_arterial_hypertension",
    "interstitial_lung_disease",
    "raynaud_phenomenon",
    "anticentromere",
    "anti_topoisomerase_i",
    "anti_rna_polymerase_iii",
]


def criteria(*present: str, **extra: Any) -> dict[str, Any]:
    return {name: name in present for name in ITEMS} | CLEAR | extra


@pytest.mark.parametrize(
    ("present", "points", "classified"),
    [
        (("sclerodactyly", "raynaud_phenomenon", "anti_topoisomerase_i"), 10, True),  # S1
        (("puffy_fingers", "sclerodactyly", "raynaud_phenomenon", "anticentromere"), 10, True),  # S2
        (("puffy_fingers", "raynaud_phenomenon", "anticentromere"), 8, False),  # S3
        (("skin_thickening_proximal_to_mcp",), 9, True),  # S4
        (
            (
                "pulmonary_arterial_hypertension",
                "interstitial_lung_disease",
                "raynaud_phenomenon",
                "anticentromere",
                "anti_topoisomerase_i",
                "anti_rna_polymerase_iii",
            ),
            8,
            False,
        ),  # domain maxima
        (
            ("digital_tip_ulcers", "fingertip_pitting_scars", "telangiectasia", "abnormal_nailfold_capillaries"),
            7,
            False,
        ),
        (
            ("fingertip_pitting_scars", "telangiectasia", "abnormal_nailfold_capillaries", "interstitial_lung_disease"),
            9,
            True,
        ),  # exactly 9 without skin items
    ],
)
def test_ssc_classification_vectors(present: tuple[str, ...], points: int, classified: bool) -> None:
    result = ssc_classification_2013(criteria(*present))
    assert result.total_points == points
    assert result.classified is classified and result.evaluable


def test_all_items_give_28_and_19_without_the_sufficient_item() -> None:
    assert ssc_classification_2013(criteria(*ITEMS)).total_points == 28
    assert ssc_classification_2013(criteria(*ITEMS[1:])).total_points == 19


@pytest.mark.parametrize("exclusion", list(CLEAR))
def test_exclusions(exclusion: str) -> None:
    present = ("raynaud_phenomenon", "anti_topoisomerase_i", "telangiectasia", "abnormal_nailfold_capillaries")
    result = ssc_classification_2013(criteria(*present, **{exclusion: True}))
    assert result.classified is False and exclusion in result.excluded_by


def test_sparing_fingers_contradicts_finger_items() -> None:
    with pytest.raises(InvalidInput) as err:
        ssc_classification_2013(criteria("sclerodactyly", skin_thickening_sparing_fingers=True))
    assert err.value.field == "skin_thickening_sparing_fingers"


def test_unknown_items_decide_only_when_they_cannot_matter() -> None:
    known = {"sclerodactyly": True, "raynaud_phenomenon": True, "anticentromere": True} | CLEAR
    assert ssc_classification_2013(known).classified is True
    few = {"puffy_fingers": True} | CLEAR
    undecided = ssc_classification_2013(few)
    assert undecided.classified is None and undecided.max_possible_points == 28
    hopeless = criteria("raynaud_phenomenon") | {"telangiectasia": None}
    assert ssc_classification_2013(hopeless).classified is False  # 3 + at most 2
    no_exclusions = {"skin_thickening_proximal_to_mcp": True}
    assert ssc_classification_2013(no_exclusions).classified is None


@given(st.sets(st.sampled_from(ITEMS)))
def test_classification_points_property(present: set[str]) -> None:
    result = ssc_classification_2013(criteria(*present))
    assert 0 <= result.total_points <= 28
    assert result.classified is (result.total_points >= 9)
    more = ssc_classification_2013(criteria(*present, "raynaud_phenomenon"))
    assert more.total_points >= result.total_points


def test_registered() -> None:
    names = {i.name for i in instruments.all_instruments()}
    assert {"mrss", "eustar_ai", "criss", "criss25", "ssc_classification_2013"} <= names
    assert instruments.get("criss").input_schema()["additionalProperties"] is False
    assert instruments.get("criss25").input_schema()["additionalProperties"] is False
    assert instruments.get("CRISS25").name == "criss25"


def test_sources_carry_dois() -> None:
    expected = {
        "mrss": "10.5301/jsrd.5000231",
        "eustar_ai": "10.1136/annrheumdis-2016-209768",
        "criss": "10.1002/art.39501",
        "criss25": "10.1136/annrheumdis-2020-219100",
        "ssc_classification_2013": "10.1136/annrheumdis-2013-204424",
    }
    for name, doi in expected.items():
        assert doi in instruments.get(name).source
    assert "10.1002/art.38098" in instruments.get("ssc_classification_2013").source


def score_cli(name: str, data: Any, *options: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", name, "-", *options],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# --------------------------------------------------------------------------- EUSTAR-AI skin item option

# Option skin_item="continuous" (secondary source): 0.084 points per mRSS point while mRSS <= 18, 1.5 above 18.
PER_POINT = Decimal("0.084")


def continuous_skin(m: int) -> Decimal:
    return PER_POINT * m if m <= 18 else Decimal("1.5")


def test_eustar_default_option_is_the_published_dichotomous_item() -> None:
    case = ai(True, 19, True, False, "0.8", "65")  # E1
    default = eustar_ai(case)
    explicit = eustar_ai(case, options={"skin_item": "mrss_over_18"})
    assert default == explicit
    assert default.total == Decimal("5.5") and default.skin_item_points == Decimal("1.5")
    assert "mRSS > 18" in default.variant and "10.1136/annrheumdis-2016-209768" in default.source


@pytest.mark.parametrize(
    ("mrss_value", "default_points", "continuous_points"),
    [
        (0, "0", "0"),
        (1, "0", "0.084"),
        (10, "0", "0.84"),
        (17, "0", "1.428"),
        (18, "0", "1.512"),  # 18 is not > 18: 0 by default; 18 x 0.084 continuous
        (19, "1.5", "1.5"),  # above 18: 1.5 either way
        (51, "1.5", "1.5"),
    ],
)
def test_eustar_skin_item_both_options_at_the_edges(
    mrss_value: int, default_points: str, continuous_points: str
) -> None:
    base = ai(False, mrss_value, False, False, "0", "100")
    default = eustar_ai(base)
    continuous = eustar_ai(base, options={"skin_item": "continuous"})
    assert default.total == Decimal(default_points) and default.skin_item_points == Decimal(default_points)
    assert continuous.total == Decimal(continuous_points) == continuous_skin(mrss_value)
    assert continuous.skin_item_points == Decimal(continuous_points)
    assert continuous.items["mrss_over_18"] is (mrss_value > 18)
    assert "0.084" in continuous.variant and "secondary" in continuous.source


@pytest.mark.parametrize(("mrss_value", "total", "active"), [(11, "2.424", False), (12, "2.508", True)])
def test_eustar_continuous_skin_moves_the_activity_cut_off(mrss_value: int, total: str, active: bool) -> None:
    # delta-skin 1.5 + 0.084 x mRSS: 1.5 + 0.924 = 2.424 < 2.5; 1.5 + 1.008 = 2.508 >= 2.5.
    case = ai(True, mrss_value, False, False, "0", "100")
    result = eustar_ai(case, options={"skin_item": "continuous"})
    assert result.total == Decimal(total) and result.active is active
    assert eustar_ai(case).total == Decimal("1.5") and eustar_ai(case).active is False  # default: mRSS <= 18 scores 0


def test_eustar_continuous_maximum_and_from_areas() -> None:
    top = eustar_ai(ai(True, 18, True, True, "5", "40"), options={"skin_item": "continuous"})
    assert top.total == Decimal("1.5") + Decimal("1.512") + Decimal("1.5") + Decimal("2.25") * 2 + Decimal("1.0")
    m3 = skin(0, face=1, fingers_right=3, fingers_left=3, dorsum_hand_right=2, dorsum_hand_left=2, forearm_right=2)
    m3 |= {"forearm_left": 1, "upper_arm_right": 1, "upper_arm_left": 1, "lower_leg_right": 1, "lower_leg_left": 1}
    from_areas = eustar_ai(
        dict.fromkeys(EUSTAR, False) | {"mrss_over_18": None, "mrss_areas": m3}, options={"skin_item": "continuous"}
    )
    assert from_areas.mrss == 18 and from_areas.total == Decimal("1.512")


def test_eustar_continuous_needs_the_mrss_value_below_19() -> None:
    items = dict.fromkeys(EUSTAR, False)
    low = eustar_ai(items, options={"skin_item": "continuous"})  # mRSS <= 18 but its value unknown
    assert low.total is None and not low.evaluable and low.skin_item_points is None
    assert low.active is False  # at most 0.084 x 18 = 1.512 < 2.5
    assert "mrss" in (low.reason or "")
    assert eustar_ai(items).total == 0  # the default needs only the yes/no answer
    high = eustar_ai(items | {"mrss_over_18": True}, options={"skin_item": "continuous"})
    assert high.total == Decimal("1.5") and high.evaluable
    decided = eustar_ai(items | {"delta_skin": True}, options={"skin_item": "continuous"})
    assert decided.active is None  # 1.5 known, up to 3.012 possible
    active = eustar_ai(items | {"tendon_friction_rubs": True}, options={"skin_item": "continuous"})
    assert active.active is None
    active = eustar_ai(
        items | {"tendon_friction_rubs": True, "dlco_under_70": True}, options={"skin_item": "continuous"}
    )
    assert active.active is True and active.total is None  # 3.25 known


def test_eustar_bad_skin_option() -> None:
    with pytest.raises(InvalidInput) as err:
        eustar_ai(ai(False, 10, False, False, "0", "100"), options={"skin_item": "mrss"})
    assert err.value.field == "skin_item"


@given(st.fixed_dictionaries({name: st.booleans() for name in EUSTAR if name != "mrss_over_18"}), st.integers(0, 51))
def test_eustar_continuous_differs_only_in_the_skin_item(items: dict[str, bool], mrss_value: int) -> None:
    case = items | {"mrss": mrss_value}
    default = eustar_ai(case)
    continuous = eustar_ai(case, options={"skin_item": "continuous"})
    assert default.total is not None and continuous.total is not None
    default_skin = Decimal("1.5") if mrss_value > 18 else Decimal(0)
    assert continuous.total - continuous_skin(mrss_value) == default.total - default_skin
    assert continuous.active is (continuous.total >= Decimal("2.5"))
    assert Decimal(0) <= continuous.total <= Decimal("10.012")


def test_eustar_continuous_cli() -> None:
    case = ai(True, 12, False, False, "0.3", "85")
    [default] = score_cli("eustar_ai", case)
    [continuous] = score_cli("eustar_ai", case, "--option", "skin_item=continuous")
    assert default["total"] == 1.5 and default["active"] is False
    assert continuous["total"] == 2.508 and continuous["active"] is True
    assert continuous["skin_item_points"] == 1.008


# --------------------------------------------------------------------------- revised CRISS (CRISS-25)

# Baseline: mRSS 20, FVC 80% predicted, HAQ-DI 1.0, patient and physician globals 4 (0-10).
# Improvement >= 25% (relative) for mRSS, HAQ-DI and the globals: mRSS <= 15, HAQ <= 0.75, globals <= 3;
# FVC >= 5% (relative): >= 84. Worsening by the same thresholds: mRSS >= 25, HAQ >= 1.25, globals >= 5, FVC <= 76.
R_BASE: dict[str, Any] = {
    "mrss": 20,
    "fvc_percent_predicted": "80",
    "haq_di": "1.0",
    "patient_global": "4",
    "physician_global": "4",
}
CORE = list(R_BASE)


def r_case(**follow: Any) -> dict[str, Any]:
    events = {k: follow.pop(k) for k in list(follow) if k in NO_EVENTS}
    return {"baseline": dict(R_BASE), "follow_up": {**R_BASE, **follow}, **NO_EVENTS, **events}


@pytest.mark.parametrize(
    ("follow", "n_improved", "improved"),
    [
        ({"mrss": 15, "haq_di": "0.75", "patient_global": "3"}, 3, True),  # three at exactly 25%
        ({"mrss": 16, "haq_di": "0.75", "patient_global": "3"}, 2, False),  # mRSS 20% only
        ({"mrss": 15, "haq_di": "0.76", "patient_global": "3"}, 2, False),  # HAQ-DI 24%
        ({"mrss": 15, "haq_di": "0.75", "patient_global": "3.01"}, 2, False),  # patient global 24.75%
        ({"mrss": 15, "haq_di": "0.75", "fvc_percent_predicted": "84"}, 3, True),  # FVC exactly +5%
        ({"mrss": 15, "haq_di": "0.75", "fvc_percent_predicted": "83.99"}, 2, False),  # FVC +4.9875%
        ({"mrss": 15, "physician_global": "3"}, 2, False),  # 2 of 5
        (
            {"mrss": 0, "haq_di": "0", "patient_global": "0", "physician_global": "0", "fvc_percent_predicted": "100"},
            5,
            True,
        ),
        ({}, 0, False),  # no change
    ],
)
def test_criss25_vectors(follow: dict[str, Any], n_improved: int, improved: bool) -> None:
    result = criss25(r_case(**follow))
    assert result.evaluable and result.items_improved == n_improved and result.improved is improved
    assert result.headline() == f"{'improved' if improved else 'not improved'} ({n_improved}/5 items improved)"
    assert "CRISS-25" in result.variant and "10.1136/annrheumdis-2020-219100" in result.source


def test_criss25_reports_each_measure() -> None:
    result = criss25(
        r_case(mrss=15, haq_di="0.75", patient_global="3", physician_global="5", fvc_percent_predicted="76")
    )
    assert result.percent_improvement == {
        "mrss": Decimal("25.00"),
        "fvc_percent_predicted": Decimal("-5.00"),
        "haq_di": Decimal("25.00"),
        "patient_global": Decimal("25.00"),
        "physician_global": Decimal("-25.00"),
    }
    assert result.item_worsened == {
        "mrss": False,
        "fvc_percent_predicted": True,
        "haq_di": False,
        "patient_global": False,
        "physician_global": True,
    }
    assert result.changes["mrss"] == -5 and result.changes["fvc_percent_predicted"] == -4
    assert result.items_worsened == 2 and result.fvc_relative_decline_percent == Decimal("5.00")


@pytest.mark.parametrize(
    ("worse", "n_worsened", "with_limit"),
    [
        ({"physician_global": "5", "fvc_percent_predicted": "76"}, 2, False),  # two at exactly the threshold
        ({"physician_global": "4.99", "fvc_percent_predicted": "76"}, 1, True),  # physician +24.75%: not worse
        ({"physician_global": "5", "fvc_percent_predicted": "76.01"}, 1, True),  # FVC -4.9875%: not worse
        ({"physician_global": "5"}, 1, True),
    ],
)
def test_criss25_worsening_limit_option(worse: dict[str, Any], n_worsened: int, with_limit: bool) -> None:
    case = r_case(mrss=15, haq_di="0.75", patient_global="3", **worse)
    default = criss25(case)
    limited = criss25(case, options={"worsening_limit": "at_most_one"})
    assert default.improved is True and default.items_worsened == n_worsened  # the default ignores worsening
    assert limited.improved is with_limit and "at most 1 item worsened" in limited.variant


def test_criss25_worsened_mrss_and_haq_edges() -> None:
    # mRSS 20 -> 25 and HAQ-DI 1.0 -> 1.25 are exactly 25% worse; 24 (20%) and 1.24 (24%) are not.
    case = r_case(mrss=25, haq_di="1.25", patient_global="3", physician_global="3", fvc_percent_predicted="84")
    at_edge = criss25(case)
    assert at_edge.item_worsened["mrss"] is True and at_edge.item_worsened["haq_di"] is True
    assert at_edge.improved is True  # the default has no worsening clause
    assert criss25(case, options={"worsening_limit": "at_most_one"}).improved is False
    below = criss25(r_case(mrss=24, haq_di="1.24"))
    assert below.items_worsened == 0 and below.improved is False


@pytest.mark.parametrize(
    ("threshold", "mrss_after", "improved"), [(20, 16, True), (20, 17, False), (30, 14, True), (30, 15, False)]
)
def test_criss25_threshold_option(threshold: int, mrss_after: int, improved: bool) -> None:
    # mRSS 20 -> 16 is 20%, -> 17 15%, -> 14 30%, -> 15 25%; HAQ-DI and patient global improve by 50%.
    result = criss25(
        r_case(mrss=mrss_after, haq_di="0.5", patient_global="2"), options={"threshold_percent": threshold}
    )
    assert result.improved is improved and f"CRISS-{threshold}" in result.variant


@pytest.mark.parametrize(
    ("fvc_after", "options", "fvc_improved"),
    [
        ("63", {}, True),  # 60 -> 63: +5% relative
        ("62.99", {}, False),
        ("63", {"fvc_change": "absolute"}, False),  # +3 percentage points only
        ("65", {"fvc_change": "absolute"}, True),  # +5 points
        ("64.99", {"fvc_change": "absolute"}, False),
        ("66", {"fvc_threshold_percent": 10}, True),  # +10% relative
        ("65.99", {"fvc_threshold_percent": 10}, False),
        ("70", {"fvc_threshold_percent": 10, "fvc_change": "absolute"}, True),
    ],
)
def test_criss25_fvc_options(fvc_after: str, options: dict[str, Any], fvc_improved: bool) -> None:
    case = r_case(mrss=15, haq_di="0.75", fvc_percent_predicted=fvc_after)
    case["baseline"]["fvc_percent_predicted"] = "60"
    result = criss25(case, options=options)
    assert result.item_improved["fvc_percent_predicted"] is fvc_improved
    assert result.improved is fvc_improved  # the third improved measure


@pytest.mark.parametrize("event", list(NO_EVENTS))
def test_criss25_step1_overrides_step2(event: str) -> None:
    case = r_case(
        mrss=5, haq_di="0", patient_global="0", physician_global="0", fvc_percent_predicted="100", **{event: True}
    )
    result = criss25(case)
    assert result.items_improved == 5 and result.improved is False and result.evaluable
    assert result.headline() == f"not improved (step 1: {event})"
    del case["follow_up"]["haq_di"], case["baseline"]["mrss"]
    assert criss25(case).improved is False  # decided even with measures missing


def test_criss25_missing_measures_decide_when_they_can() -> None:
    three = r_case(mrss=15, haq_di="0.75", patient_global="3")
    del three["follow_up"]["fvc_percent_predicted"], three["baseline"]["physician_global"]
    result = criss25(three)
    assert result.improved is True and not result.evaluable  # 3 known improved
    assert "fvc_percent_predicted" in (result.reason or "") and "physician_global" in (result.reason or "")
    assert criss25(three, options={"worsening_limit": "at_most_one"}).improved is None  # 2 could worsen
    two = r_case(mrss=15, haq_di="0.75")
    del two["follow_up"]["patient_global"]
    assert criss25(two).improved is None  # 2 known, 1 open
    hopeless = r_case(mrss=15)
    del hopeless["follow_up"]["haq_di"]
    assert criss25(hopeless).improved is False and not criss25(hopeless).evaluable  # at most 2


def test_criss25_unknown_step1_events() -> None:
    good = r_case(mrss=15, haq_di="0.75", patient_global="3", new_pah=None)
    result = criss25(good)
    assert result.improved is None and not result.evaluable and "new_pah" in (result.reason or "")
    bad = r_case(mrss=15)
    for name in NO_EVENTS:
        del bad[name]
    result = criss25(bad)
    assert result.improved is False and not result.evaluable


def test_criss25_fvc_fall_prompts_the_ild_judgement() -> None:
    case = r_case(mrss=15, haq_di="0.75", patient_global="3", fvc_percent_predicted="68", ild_progression=None)
    result = criss25(case)  # 80 -> 68: relative fall 15% to < 80%
    assert result.improved is None and "confirm ILD progression" in (result.reason or "")
    assert result.fvc_relative_decline_percent == Decimal("15.00")
    assert criss25({**case, "ild_progression": True}).improved is False
    assert criss25({**case, "ild_progression": False}).improved is True


def test_criss25_zero_baseline_cannot_improve() -> None:
    case = r_case(mrss=15, haq_di="0", patient_global="3")
    case["baseline"]["haq_di"] = "0"
    result = criss25(case)
    assert result.item_improved["haq_di"] is False and result.percent_improvement["haq_di"] is None
    assert result.improved is False and "haq_di is 0 at baseline" in (result.reason or "")
    case["follow_up"]["haq_di"] = "0.125"
    assert criss25(case).item_worsened["haq_di"] is True


def test_criss25_global_scale() -> None:
    tenfold = r_case(mrss=15, patient_global="30", physician_global="30")
    for visit in ("baseline", "follow_up"):
        tenfold[visit] = {**tenfold[visit]}
    tenfold["baseline"]["patient_global"] = tenfold["baseline"]["physician_global"] = "40"
    with pytest.raises(InvalidInput) as err:
        criss25(tenfold)
    assert err.value.field == "baseline.patient_global"
    scaled = criss25(tenfold, options={"global_scale": "0-100"})
    assert scaled.improved is True and scaled.items_improved == 3
    assert scaled.item_improved == criss25(r_case(mrss=15, patient_global="3", physician_global="3")).item_improved


@pytest.mark.parametrize(
    ("options", "field"),
    [({"threshold_percent": 35}, "threshold_percent"), ({"fvc_change": "percent"}, "fvc_change"), ({"x": 1}, "x")],
)
def test_criss25_bad_options(options: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        criss25(r_case(), options=options)
    assert err.value.field == field


def test_criss25_scores_the_criss_record() -> None:
    case = criss_case(-10, 5, -2, -3, "-0.5")  # C2: CRISS improved
    assert criss(case).improved is True
    result = criss25(case)  # mRSS 25 -> 15 (40%), FVC 70 -> 75 (7.1%), globals 5 -> 3 / 2, HAQ 1.5 -> 1.0 (33%)
    assert result.items_improved == 5 and result.improved is True


def reference_criss25(before: dict[str, Fraction], after: dict[str, Fraction], threshold: int) -> bool:
    improved = 0
    for name in CORE:
        b, a = before[name], after[name]
        if b == 0:
            continue
        change = (a - b) / b * 100 if name == "fvc_percent_predicted" else (b - a) / b * 100
        improved += change >= (5 if name == "fvc_percent_predicted" else threshold)
    return improved >= 3


@settings(max_examples=80)
@given(
    st.fixed_dictionaries({name: st.integers(0, 40) for name in CORE}),
    st.fixed_dictionaries({name: st.integers(0, 40) for name in CORE}),
    st.sampled_from([20, 25, 30, 40, 50, 60]),
)
def test_criss25_matches_a_rational_reference(before: dict[str, int], after: dict[str, int], threshold: int) -> None:
    # Values as multiples of 0.25 (HAQ-DI on 0-3 steps of 0.125 would work alike); globals 0-10, FVC 40-140.
    def visit(v: dict[str, int]) -> dict[str, Fraction]:
        return {
            "mrss": Fraction(v["mrss"]),
            "fvc_percent_predicted": Fraction(40) + Fraction(v["fvc_percent_predicted"] * 5, 2),
            "haq_di": Fraction(v["haq_di"] * 3, 40),
            "patient_global": Fraction(v["patient_global"], 4),
            "physician_global": Fraction(v["physician_global"], 4),
        }

    b, a = visit(before), visit(after)
    as_text = {n: format(float(x), ".4f") for n, x in b.items()}, {n: format(float(x), ".4f") for n, x in a.items()}
    exact_b = {n: Fraction(Decimal(t)) for n, t in as_text[0].items()}
    exact_a = {n: Fraction(Decimal(t)) for n, t in as_text[1].items()}
    result = criss25(
        {"baseline": as_text[0], "follow_up": as_text[1], **NO_EVENTS}, options={"threshold_percent": threshold}
    )
    assert result.evaluable
    assert result.improved is reference_criss25(exact_b, exact_a, threshold)
    assert 0 <= result.items_improved + result.items_worsened <= 5
    better = {**as_text[1], "mrss": "0", "haq_di": "0"}  # improving two measures never loses a response
    if result.improved:
        assert criss25(
            {"baseline": as_text[0], "follow_up": better, **NO_EVENTS}, options={"threshold_percent": threshold}
        ).improved


def test_criss25_cli_csv_and_option(tmp_path: Any) -> None:
    header = [f"{visit}.{name}" for name in CORE for visit in ("baseline", "follow_up")] + list(NO_EVENTS)
    rows = [
        ["20", "15", "80", "84", "1", "0.75", "4", "4", "4", "4", "false", "false", "false", "false"],  # 3 at the edge
        ["20", "16", "80", "84", "1", "0.75", "4", "4", "4", "4", "false", "false", "false", "false"],  # mRSS 20%
        ["20", "15", "80", "84", "1", "0.75", "4", "4", "4", "4", "false", "false", "false", ""],  # new_pah missing
    ]
    path = tmp_path / "criss25.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    run = [sys.executable, "-m", "immunoreset", "score", "criss25", str(path)]
    out = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["improved"] for r in results] == [True, False, None]
    assert [r["items_improved"] for r in results] == [3, 2, 3]
    assert results[0]["percent_improvement"]["fvc_percent_predicted"] == 5
    out = subprocess.run([*run, "--option", "threshold_percent=20"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [r["improved"] for r in json.loads(out.stdout)] == [True, True, None]
    schema = subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", "criss25", "--schema"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert schema.returncode == 0 and "follow_up" in json.loads(schema.stdout)["properties"]
