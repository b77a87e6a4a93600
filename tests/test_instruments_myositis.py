"""Myositis instruments against the published definitions (TIS: Aggarwal R et al., Ann Rheum Dis
2017;76:792-801; MMT-8: Rider LG et al., Arthritis Care Res 2010;62:465-72; 2017 criteria: Lundberg IE et al.,
Ann Rheum Dis 2017;76:1955-64) with hand-computed vectors (band tables, weights and cut-offs restated here
independently)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.instruments.myositis import (
    haq_di,
    iim_classification_2017,
    imacs_doi,
    mmt8,
    myositis_tis,
    tis_points,
)

# Aggarwal 2017 / Rider 2017 Table 3, restated: (band upper edges, points per band incl. the top band).
EDGES = (5, 15, 25, 40)
BANDS = {
    "physician_global": (EDGES, ("0", "7.5", "15", "17.5", "20")),
    "patient_global": (EDGES, ("0", "2.5", "5", "7.5", "10")),
    "mmt": ((2, 10, 20, 30), ("0", "10", "20", "27.5", "32.5")),
    "haq": (EDGES, ("0", "5", "7.5", "7.5", "10")),
    "enzyme": (EDGES, ("0", "2.5", "5", "7.5", "7.5")),
    "extramuscular": (EDGES, ("0", "7.5", "12.5", "15", "20")),
}


def visit_pair(
    ph: tuple[Any, Any],
    pt: tuple[Any, Any],
    mmt: tuple[Any, Any],
    haq: tuple[Any, Any],
    ck: tuple[Any, Any],
    em: tuple[Any, Any],
    *,
    mmt_max: int = 80,
    ck_uln: Any = 200,
) -> dict[str, Any]:
    def at(i: int) -> dict[str, Any]:
        return {
            "physician_global": ph[i],
            "patient_global": pt[i],
            "mmt": mmt[i],
            "haq": haq[i],
            "ck": ck[i],
            "extramuscular": em[i],
        }

    return {"baseline": at(0), "follow_up": at(1), "mmt_max": mmt_max, "ck_uln": ck_uln}


# --------------------------------------------------------------------------- TIS: reference vectors

VECTORS = {
    "T1": (visit_pair((6, 1), (7, 2), (60, 76), ("1.5", "0.5"), (5000, 150), (4, 0)), "80", "major", "major"),
    "T2": (visit_pair((3, 4), (4, 3), (70, 68), (1, 1), (300, 600), (2, 1)), "10", "none", "none"),
    "T3": (visit_pair((8, 3), (5, 5), (60, 70), (1, 1), (500, 500), (2, 2)), "40", "moderate", "minimal"),
    "T4": (visit_pair((5, 5), (5, "4.2"), (60, 68), (1, 1), (500, 500), (3, 2)), "20", "minimal", "none"),
    "T5": (
        visit_pair((5, "4.5"), (5, "4.5"), (70, 71), ("1.5", "1.35"), (1000, 950), (5, "4.5")),
        "0",
        "none",
        "none",
    ),
    "T6": (
        visit_pair((5, "4.4"), (5, "4.4"), (70, 72), ("1.5", "1.3"), (1000, 940), (5, "4.4")),
        "35",
        "minimal",
        "minimal",
    ),
    "T7": (
        visit_pair((4, 3), (4, 4), (120, 135), ("0.75", "0.75"), (1000, 850), (1, 1), mmt_max=150),
        "20",
        "minimal",
        "none",
    ),
    "T8": (visit_pair((10, 0), (10, 0), (0, 80), (3, 0), (10000, 100), (10, 0)), "100", "major", "major"),
}


@pytest.mark.parametrize("name", list(VECTORS))
def test_tis_reference_vectors(name: str) -> None:
    case, total, adult, juvenile = VECTORS[name]
    result = myositis_tis(case)
    assert result.evaluable and result.total_improvement_score == Decimal(total)
    assert result.improvement == adult
    assert myositis_tis(case, options={"population": "juvenile"}).improvement == juvenile


def test_t5_haq_exactly_5_percent_scores_0() -> None:
    result = myositis_tis(VECTORS["T5"][0])
    assert result.improvement_percent["haq"] == Decimal("5.00")
    assert result.points["haq"] == 0


def test_worsening_scores_zero_for_every_measure() -> None:
    worse = visit_pair((2, 9), (2, 9), (78, 20), ("0.2", "2.8"), (300, 9000), (1, 9))
    result = myositis_tis(worse)
    assert result.total_improvement_score == 0 and set(result.points.values()) == {Decimal(0)}
    assert all(p is not None and p < 0 for p in result.improvement_percent.values())


# --------------------------------------------------------------------------- TIS: band edges

EPS = Fraction(1, 10**9)


@pytest.mark.parametrize("measure", list(BANDS))
def test_every_band_edge_both_sides(measure: str) -> None:
    edges, points = BANDS[measure]
    for index, edge in enumerate(edges):
        assert tis_points(measure, edge) == Decimal(points[index]), (measure, edge)
        assert tis_points(measure, Fraction(edge) + EPS) == Decimal(points[index + 1]), (measure, edge)
    assert tis_points(measure, -100) == 0
    assert tis_points(measure, 100) == Decimal(points[-1])


@pytest.mark.parametrize(
    ("before", "after", "points"),
    [
        ("1.5", "1.35", "0"),  # exactly 5% of 3
        ("1.5", "1.3499", "5"),  # 5.0033%
        ("1.5", "1.05", "5"),  # exactly 15%
        ("1.5", "1.0499", "7.5"),
        ("3", "1.8", "7.5"),  # exactly 40%: >25-40 band (also 7.5)
        ("3", "1.79", "10"),
    ],
)
def test_haq_edges_from_values(before: str, after: str, points: str) -> None:
    case = visit_pair((5, 5), (5, 5), (70, 70), (before, after), (500, 500), (5, 5))
    assert myositis_tis(case).points["haq"] == Decimal(points)


@pytest.mark.parametrize(
    ("after", "mmt_max", "points"),
    [(Decimal("61.6"), 80, "0"), (Decimal("61.61"), 80, "10"), (63, 150, "0"), (64, 150, "10"), (68, 80, "10")],
)
def test_mmt_2_percent_edge(after: Decimal, mmt_max: int, points: str) -> None:
    # 60 -> 61.6 of 80 is exactly 2%; 60 -> 63 of 150 is exactly 2%.
    case = visit_pair((5, 5), (5, 5), (60, after), (1, 1), (500, 500), (5, 5), mmt_max=mmt_max)
    assert myositis_tis(case).points["mmt"] == Decimal(points)


def test_vas_float_trap_edges() -> None:
    # 3.3 -> 3.0 is exactly 3% of 10 (binary floats give 2.9999...); 5 -> 4.5 is exactly 5%.
    case = visit_pair(("5", "4.5"), ("3.3", "3.0"), (70, 70), (1, 1), (500, 500), ("5", "4.49"))
    result = myositis_tis(case)
    assert result.improvement_percent["patient_global"] == Decimal("3.00")
    assert result.points["physician_global"] == 0
    assert result.points["extramuscular"] == Decimal("7.5")


# --------------------------------------------------------------------------- TIS: thresholds

THRESHOLDS = {"adult": (20, 40, 60), "juvenile": (30, 45, 70)}


def tis_case_with_total(total: Decimal) -> dict[str, Any]:
    """Build a case whose TIS is ``total`` (a multiple of 2.5 from 0 to 100) from the band tables."""
    remaining = total
    choice: dict[str, int] = {}
    for measure in ("mmt", "physician_global", "extramuscular", "patient_global", "haq", "enzyme"):
        _, points = BANDS[measure]
        band = max(i for i, p in enumerate(points) if Decimal(p) <= remaining)
        choice[measure] = band
        remaining -= Decimal(points[band])
    assert remaining == 0, total
    # an improvement percentage inside each chosen band
    inside_std = (0, 10, 20, 30, 50)
    inside_mmt = (0, 5, 15, 25, 40)
    ph = Decimal(inside_std[choice["physician_global"]]) / 10
    pt = Decimal(inside_std[choice["patient_global"]]) / 10
    em = Decimal(inside_std[choice["extramuscular"]]) / 10
    haq = Decimal(inside_std[choice["haq"]]) * 3 / 100
    mmt = Decimal(inside_mmt[choice["mmt"]]) * 80 / 100
    ck = Decimal(inside_std[choice["enzyme"]]) * 10
    return visit_pair((10, 10 - ph), (10, 10 - pt), (0, mmt), (3, 3 - haq), (1000, 1000 - ck), (10, 10 - em))


@pytest.mark.parametrize("population", list(THRESHOLDS))
def test_each_response_level_at_and_below_its_threshold(population: str) -> None:
    levels = ("minimal", "moderate", "major")
    for level, threshold in zip(levels, THRESHOLDS[population], strict=True):
        at = myositis_tis(tis_case_with_total(Decimal(threshold)), options={"population": population})
        below = myositis_tis(
            tis_case_with_total(Decimal(threshold) - Decimal("2.5")), options={"population": population}
        )
        assert at.total_improvement_score == threshold and at.improvement == level
        assert below.improvement != level
    assert myositis_tis(tis_case_with_total(Decimal(0)), options={"population": population}).improvement == "none"


# --------------------------------------------------------------------------- TIS: enzymes, options, errors


def test_most_abnormal_enzyme_is_chosen_relative_to_uln() -> None:
    case = visit_pair((5, 5), (5, 5), (70, 70), (1, 1), (1000, 500), (5, 5), ck_uln=200)  # CK 5x ULN, -50%
    case["baseline"]["alt"], case["follow_up"]["alt"], case["alt_uln"] = 300, 290, 40  # ALT 7.5x ULN, -3.3%
    result = myositis_tis(case)
    assert result.enzyme_used == "alt" and result.points["enzyme"] == 0
    del case["alt_uln"]
    with pytest.raises(InvalidInput) as err:
        myositis_tis(case)
    assert err.value.field == "alt_uln"


def test_enzymes_use_relative_change_and_bounded_measures_the_range() -> None:
    # PhGA 2 -> 1: 10% of the 0-10 range (7.5 points), 50% of baseline under the alternative convention (20).
    case = visit_pair((2, 1), (5, 5), (70, 70), (1, 1), (1000, 1000), (5, 5))
    assert myositis_tis(case).points["physician_global"] == Decimal("7.5")
    relative = myositis_tis(case, options={"percent_change": "relative_to_baseline"})
    assert relative.points["physician_global"] == 20


def test_global_scale_option_gives_the_same_score() -> None:
    case, total, _, _ = VECTORS["T6"]
    mm = {**case, "baseline": dict(case["baseline"]), "follow_up": dict(case["follow_up"])}
    for visit in ("baseline", "follow_up"):
        for name in ("physician_global", "patient_global", "extramuscular"):
            mm[visit][name] = Decimal(str(mm[visit][name])) * 10
    with pytest.raises(InvalidInput) as err:
        myositis_tis(mm)
    assert err.value.field == "baseline.physician_global"
    assert myositis_tis(mm, options={"global_scale": "0-100"}).total_improvement_score == Decimal(total)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mmt_max": 100}, "mmt_max"),
        ({"follow_up": {"mmt": 81}}, "follow_up.mmt"),
        ({"baseline": {"haq": "3.1"}}, "baseline.haq"),
        ({"baseline": {"ck": 0}}, "baseline.ck"),
        ({"follow_up": {"cpk": 10}}, "follow_up.cpk"),
    ],
)
def test_tis_bad_input(change: dict[str, Any], field: str) -> None:
    case = VECTORS["T1"][0]
    case = {**case, "baseline": dict(case["baseline"]), "follow_up": dict(case["follow_up"])}
    for key, value in change.items():
        if isinstance(value, dict):
            case[key].update(value)
        else:
            case[key] = value
    with pytest.raises(InvalidInput) as err:
        myositis_tis(case)
    assert err.value.field == field


def test_missing_measure_is_not_evaluable() -> None:
    case = VECTORS["T1"][0]
    case = {**case, "follow_up": {k: v for k, v in case["follow_up"].items() if k != "extramuscular"}}
    result = myositis_tis(case)
    assert not result.evaluable and result.total_improvement_score is None
    assert "follow_up.extramuscular" in (result.reason or "")


# --------------------------------------------------------------------------- TIS: properties

measure_values = st.fixed_dictionaries(
    {
        "physician_global": st.integers(0, 100).map(lambda v: Decimal(v) / 10),
        "patient_global": st.integers(0, 100).map(lambda v: Decimal(v) / 10),
        "extramuscular": st.integers(0, 100).map(lambda v: Decimal(v) / 10),
        "mmt": st.integers(0, 80),
        "haq": st.integers(0, 24).map(lambda v: Decimal(v) / 8),
        "ck": st.integers(20, 20000),
    }
)
LOWER_IS_BETTER = {"physician_global": 0, "patient_global": 0, "extramuscular": 0, "haq": 0, "ck": 1}


@settings(max_examples=150)
@given(measure_values, measure_values, st.sampled_from([*sorted(LOWER_IS_BETTER), "mmt"]), st.integers(1, 40))
def test_tis_bounded_and_monotone(baseline: dict[str, Any], follow: dict[str, Any], measure: str, step: int) -> None:
    case = {"baseline": baseline, "follow_up": follow, "mmt_max": 80, "ck_uln": 200}
    result = myositis_tis(case)
    assert result.total_improvement_score is not None
    assert 0 <= result.total_improvement_score <= 100
    better = dict(follow)
    if measure == "mmt":
        better["mmt"] = min(80, follow["mmt"] + step)
    elif measure == "ck":
        better["ck"] = max(1, follow["ck"] - step * 10)
    elif measure == "haq":
        better["haq"] = max(Decimal(0), follow["haq"] - Decimal(step) / 8)
    else:
        better[measure] = max(Decimal(0), follow[measure] - Decimal(step) / 10)
    improved = myositis_tis({**case, "follow_up": better})
    assert improved.total_improvement_score is not None
    assert improved.total_improvement_score >= result.total_improvement_score


# --------------------------------------------------------------------------- IMACS DOI


def doi_case(ph: Any, pt: Any, mmt: Any, haq: Any, ck: Any, em: Any) -> dict[str, Any]:
    return visit_pair((10, ph), (10, pt), (60, mmt), (1, haq), (1000, ck), (5, em))


@pytest.mark.parametrize(
    ("case", "improved", "n_improved", "worsened"),
    [
        # D1: PhGA +25, PtGA +30, HAQ +20, enzymes -30, EMA -26, MMT 0
        (doi_case("7.5", 7, 60, "0.8", 1300, "6.3"), True, 3, ["enzyme", "extramuscular"]),
        # D2: as D1 but MMT -25 and enzymes 0
        (doi_case("7.5", 7, 45, "0.8", 1000, "6.3"), False, 3, ["mmt", "extramuscular"]),
        # D3: PhGA +25, PtGA +30, HAQ +19.9, others 0
        (doi_case("7.5", 7, 60, "0.801", 1000, 5), False, 2, []),
        # three worse by >= 25% (not MMT) with 3 improved: fails
        (doi_case("7.5", 7, 72, "1.25", 1250, "6.25"), False, 3, ["haq", "enzyme", "extramuscular"]),
        # exactly 20% improved counts; 24.9% worse does not count as worse
        (doi_case(8, 8, 72, "1.249", 1200, 5), True, 3, []),
    ],
)
def test_doi_vectors(case: dict[str, Any], improved: bool, n_improved: int, worsened: list[str]) -> None:
    result = imacs_doi(case)
    assert result.evaluable and result.improved is improved
    assert len(result.improved_measures) == n_improved
    assert result.worsened_measures == worsened


def test_doi_decides_with_missing_data_when_it_can() -> None:
    mmt_worse = doi_case(5, 5, 40, "0.5", None, 5)
    mmt_worse["follow_up"] = {k: v for k, v in mmt_worse["follow_up"].items() if v is not None}
    result = imacs_doi(mmt_worse)
    assert not result.evaluable and result.improved is False
    four_better = doi_case(5, 5, 75, "0.5", 900, None)
    four_better["follow_up"] = {k: v for k, v in four_better["follow_up"].items() if v is not None}
    assert imacs_doi(four_better).improved is True  # at most 1 unknown worsened, and MMT known
    mmt_unknown = doi_case(5, 5, None, "0.5", 900, 4)
    mmt_unknown["follow_up"] = {k: v for k, v in mmt_unknown["follow_up"].items() if v is not None}
    assert imacs_doi(mmt_unknown).improved is None


def test_doi_baseline_zero() -> None:
    case = visit_pair((0, 1), (4, 2), (60, 75), ("0", "0.5"), (1000, 500), (4, 4))
    result = imacs_doi(case)
    assert set(result.worsened_measures) == {"physician_global", "haq"}  # worse from 0: unbounded
    assert result.improved is True


# --------------------------------------------------------------------------- MMT-8

GROUPS = [
    "neck_flexors",
    "deltoid",
    "biceps",
    "wrist_extensors",
    "gluteus_maximus",
    "gluteus_medius",
    "quadriceps",
    "ankle_dorsiflexors",
]
PAIRED = GROUPS[1:]


def bilateral(default: int = 10, **grades: int) -> dict[str, int]:
    data = {"neck_flexors": default}
    for group in PAIRED:
        data[f"{group}_right"] = default
        data[f"{group}_left"] = default
    data.update(grades)
    return data


def test_mmt8_totals() -> None:
    assert mmt8(dict.fromkeys(GROUPS, 10)).total == 80
    assert mmt8(dict.fromkeys(GROUPS, 0)).total == 0
    assert mmt8(bilateral(), options={"version": "bilateral"}).total == 150
    assert mmt8(bilateral(quadriceps_left=9), options={"version": "bilateral"}).total == 149  # Müller 2023


def test_mmt8_version_fields_do_not_mix() -> None:
    with pytest.raises(InvalidInput) as err:
        mmt8(bilateral())
    assert err.value.field == "deltoid_right" and "bilateral" in err.value.expected
    with pytest.raises(InvalidInput) as err:
        mmt8(dict.fromkeys(GROUPS, 10), options={"version": "bilateral"})
    assert err.value.field == "deltoid"


@pytest.mark.parametrize("bad", [11, -1, 7.5, True])
def test_mmt8_grades(bad: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        mmt8({**dict.fromkeys(GROUPS, 10), "biceps": bad})
    assert err.value.field == "biceps"


def test_mmt8_missing_group() -> None:
    result = mmt8(dict.fromkeys(GROUPS[:-1], 10))
    assert not result.evaluable and result.total is None and "ankle_dorsiflexors" in (result.reason or "")


@given(st.lists(st.integers(0, 10), min_size=8, max_size=8))
def test_mmt8_is_the_sum(grades: list[int]) -> None:
    assert mmt8(dict(zip(GROUPS, grades, strict=True))).total == sum(grades)


# --------------------------------------------------------------------------- HAQ-DI

HAQ_ITEMS = {
    "dressing": ["dress_yourself", "shampoo_hair"],
    "arising": ["stand_up_from_chair", "get_in_out_of_bed"],
    "eating": ["cut_meat", "lift_cup_to_mouth", "open_milk_carton"],
    "walking": ["walk_outdoors_on_flat_ground", "climb_five_steps"],
    "hygiene": ["wash_and_dry_body", "take_tub_bath", "get_on_off_toilet"],
    "reach": ["reach_5_lb_object_above_head", "bend_to_pick_up_clothing"],
    "grip": ["open_car_doors", "open_jars", "turn_faucets"],
    "activities": ["run_errands_and_shop", "get_in_out_of_car", "do_chores"],
}
ALL_ITEMS = [item for items in HAQ_ITEMS.values() for item in items]


def test_haq_worst_item_per_category_and_mean() -> None:
    answers = dict.fromkeys(ALL_ITEMS, 0) | {"shampoo_hair": 2, "open_jars": 3, "do_chores": 1}
    result = haq_di(answers)
    assert result.category_sum == 6 and result.categories_answered == 8 and result.score == Decimal("0.750")


def test_haq_aids_raise_to_2_not_beyond() -> None:
    answers = dict.fromkeys(ALL_ITEMS, 0) | {"climb_five_steps": 1, "open_jars": 3}
    result = haq_di(answers | {"aids_or_help": ["walking", "grip", "eating"]})
    assert result.category_scores["walking"] == 2 and result.category_scores["grip"] == 3
    assert result.category_scores["eating"] == 2 and result.score == Decimal("0.875")
    ignored = haq_di(answers | {"aids_or_help": ["walking"]}, options={"aids_and_devices": "ignore"})
    assert ignored.category_scores["walking"] == 1


def test_haq_minimum_categories() -> None:
    six = {item: 1 for cat in list(HAQ_ITEMS)[:6] for item in HAQ_ITEMS[cat]}
    assert haq_di(six).score == Decimal("1.000")
    five = {item: 1 for cat in list(HAQ_ITEMS)[:5] for item in HAQ_ITEMS[cat]}
    result = haq_di(five)
    assert not result.evaluable and "5 of 8" in (result.reason or "")
    seven = {item: 1 for cat in list(HAQ_ITEMS)[:7] for item in HAQ_ITEMS[cat]} | {"shampoo_hair": 3}
    assert haq_di(seven).score == Decimal("1.286")  # 9/7


@pytest.mark.parametrize(("field", "value"), [("cut_meat", 4), ("cut_meat", True), ("aids_or_help", ["feet"])])
def test_haq_bad_input(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        haq_di(dict.fromkeys(ALL_ITEMS, 0) | {field: value})
    assert err.value.field.startswith(field)


@given(st.lists(st.integers(0, 3), min_size=20, max_size=20))
def test_haq_range(answers: list[int]) -> None:
    result = haq_di(dict(zip(ALL_ITEMS, answers, strict=True)))
    assert result.score is not None and 0 <= result.score <= 3


# --------------------------------------------------------------------------- 2017 IIM classification

WEIGHTS = {  # Lundberg 2017, (without biopsy, with biopsy)
    "proximal_upper_limb_weakness": ("0.7", "0.7"),
    "proximal_lower_limb_weakness": ("0.8", "0.5"),
    "neck_flexors_weaker_than_extensors": ("1.9", "1.6"),
    "legs_proximal_weaker_than_distal": ("0.9", "1.2"),
    "heliotrope_rash": ("3.1", "3.2"),
    "gottron_papules": ("2.1", "2.7"),
    "gottron_sign": ("3.3", "3.7"),
    "dysphagia_or_oesophageal_dysmotility": ("0.7", "0.6"),
    "anti_jo1": ("3.9", "3.8"),
    "raised_muscle_enzymes": ("1.3", "1.4"),
}
BIOPSY = {
    "biopsy_endomysial_infiltrate": "1.7",
    "biopsy_perimysial_or_perivascular_infiltrate": "1.2",
    "biopsy_perifascicular_atrophy": "1.9",
    "biopsy_rimmed_vacuoles": "3.1",
}


def iim(age: Any, *present: str, biopsy: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {name: name in present for name in WEIGHTS}
    if biopsy:
        data |= {name: name in present for name in BIOPSY} | {"muscle_biopsy": True}
    return data | {"age_at_onset_years": age, "better_explanation": False}


def test_i1_definite_without_biopsy() -> None:
    result = iim_classification_2017(
        iim(
            45,
            "proximal_upper_limb_weakness",
            "proximal_lower_limb_weakness",
            "heliotrope_rash",
            "raised_muscle_enzymes",
        )
    )
    assert result.total_points == Decimal("8.0") and result.category == "definite IIM" and result.classified
    assert result.probability == Decimal("0.935")


def test_i2_not_iim() -> None:
    result = iim_classification_2017(
        iim(45, "proximal_upper_limb_weakness", "proximal_lower_limb_weakness", "raised_muscle_enzymes")
    )
    assert result.total_points == Decimal("4.9") and result.category == "not IIM" and result.classified is False


@pytest.mark.parametrize(
    ("age", "present", "points", "category", "by_probability"),
    [
        (45, ("heliotrope_rash",), "5.2", "not IIM", "not IIM"),
        (30, ("gottron_sign", "proximal_upper_limb_weakness"), "5.3", "possible IIM", "not IIM"),  # P 49.25%
        (45, ("gottron_sign",), "5.4", "possible IIM", "possible IIM"),  # P 51.7%
        (30, ("gottron_sign", "legs_proximal_weaker_than_distal"), "5.5", "probable IIM", "possible IIM"),  # 54.2%
        (
            30,
            ("gottron_sign", "gottron_papules", "proximal_upper_limb_weakness"),
            "7.4",
            "probable IIM",
            "probable IIM",
        ),
        (45, ("gottron_sign", "gottron_papules"), "7.5", "definite IIM", "probable IIM"),  # P 89.75%
    ],
)
def test_cutoffs_without_biopsy(
    age: int, present: tuple[str, ...], points: str, category: str, by_probability: str
) -> None:
    """Review #17.1(b, c): the published score table (Lundberg 2017: 5.3 / 5.5 / 7.5 "corresponding to" 50 /
    55 / 90%) and the reconstructed model probability (c = 5.33) disagree at 5.3, 5.5 and 7.5: the result flags it.
    Classification follows the table by default, the probability with classify_by='probability'."""
    result = iim_classification_2017(iim(age, *present))
    assert result.total_points == Decimal(points) and result.category == category
    assert result.probability_category == by_probability
    assert result.categories_disagree is (category != by_probability)
    assert result.classified is (category in ("probable IIM", "definite IIM"))
    if result.categories_disagree:
        assert f"by probability {by_probability}" in result.headline()
    model = iim_classification_2017(iim(age, *present), options={"classify_by": "probability"})
    assert model.classified is (by_probability in ("probable IIM", "definite IIM"))


@pytest.mark.parametrize(
    ("present", "points", "category"),
    [
        (("heliotrope_rash", "biopsy_perimysial_or_perivascular_infiltrate"), "6.6", "possible IIM"),
        (
            ("heliotrope_rash", "proximal_upper_limb_weakness", "dysphagia_or_oesophageal_dysmotility"),
            "6.7",
            "probable IIM",
        ),
        (("gottron_sign", "gottron_papules"), "8.6", "probable IIM"),
        (("anti_jo1", "gottron_papules"), "8.7", "definite IIM"),
        (("biopsy_rimmed_vacuoles", "proximal_lower_limb_weakness"), "5.8", "not IIM"),
    ],
)
def test_cutoffs_with_biopsy(present: tuple[str, ...], points: str, category: str) -> None:
    result = iim_classification_2017(iim(45, *present, biopsy=True))  # age >= 40: 2.2 with biopsy
    assert result.with_biopsy and result.total_points == Decimal(points) and result.category == category


@pytest.mark.parametrize(("age", "points"), [("17.9", "0"), (18, "1.3"), ("39.9", "1.3"), (40, "2.1")])
def test_age_bands(age: Any, points: str) -> None:
    result = iim_classification_2017(iim(age))
    assert result.total_points == Decimal(points)


def test_points_match_the_weight_table() -> None:
    everything = iim(50, *WEIGHTS)
    assert iim_classification_2017(everything).total_points == sum(Decimal(w[0]) for w in WEIGHTS.values()) + Decimal(
        "2.1"
    )
    with_biopsy = iim(50, *WEIGHTS, *BIOPSY, biopsy=True)
    expected = sum(Decimal(w[1]) for w in WEIGHTS.values()) + sum(Decimal(w) for w in BIOPSY.values()) + Decimal("2.2")
    assert iim_classification_2017(with_biopsy).total_points == expected


def test_skin_feature_or_biopsy_needed_without_biopsy() -> None:
    case = iim(45, "anti_jo1", "proximal_upper_limb_weakness", "proximal_lower_limb_weakness", "raised_muscle_enzymes")
    result = iim_classification_2017(case)  # 2.1 + 3.9 + 0.7 + 0.8 + 1.3 = 8.8, no rash
    assert result.category == "definite IIM" and result.classified is False and "biopsy" in (result.reason or "")
    assert result.headline() == "definite IIM (8.8 points); not classified"
    relaxed = iim_classification_2017(case, options={"skin_feature_or_biopsy_required": False})
    assert relaxed.classified is True


@pytest.mark.parametrize(
    ("classify_from", "table_cut"),
    [("possible", ("5.3", "5.2")), ("probable", ("5.5", "5.4")), ("definite", ("7.5", "7.4"))],
)
def test_classify_from_by_the_published_table(classify_from: str, table_cut: tuple[str, str]) -> None:
    cases = {
        "5.2": iim(45, "heliotrope_rash"),
        "5.3": iim(30, "gottron_sign", "proximal_upper_limb_weakness"),
        "5.4": iim(45, "gottron_sign"),
        "5.5": iim(30, "gottron_sign", "legs_proximal_weaker_than_distal"),
        "7.4": iim(30, "gottron_sign", "gottron_papules", "proximal_upper_limb_weakness"),
        "7.5": iim(45, "gottron_sign", "gottron_papules"),
    }
    yes, no = table_cut
    assert iim_classification_2017(cases[yes], options={"classify_from": classify_from}).classified is True
    assert iim_classification_2017(cases[no], options={"classify_from": classify_from}).classified is False


@pytest.mark.parametrize(
    ("classify_from", "points_classified"),
    [("possible", ("5.4", "5.3")), ("probable", ("7.4", "5.5")), ("definite", ("7.6", "7.5"))],
)
def test_classify_from_by_probability(classify_from: str, points_classified: tuple[str, str]) -> None:
    cases = {
        "5.3": iim(30, "gottron_sign", "proximal_upper_limb_weakness"),
        "5.4": iim(45, "gottron_sign"),
        "5.5": iim(30, "gottron_sign", "legs_proximal_weaker_than_distal"),
        "7.4": iim(30, "gottron_sign", "gottron_papules", "proximal_upper_limb_weakness"),
        "7.5": iim(45, "gottron_sign", "gottron_papules"),
        "7.6": iim(30, "gottron_sign", "gottron_papules", "legs_proximal_weaker_than_distal"),
    }
    assert all(iim_classification_2017(case).total_points == Decimal(points) for points, case in cases.items())
    yes, no = points_classified
    options = {"classify_from": classify_from, "classify_by": "probability"}
    assert iim_classification_2017(cases[yes], options=options).classified is True
    assert iim_classification_2017(cases[no], options=options).classified is False


def test_biopsy_without_features_and_without_skin_signs_is_not_classified() -> None:
    """Review #17.1(a): biopsy taken, its four items absent, no heliotrope rash or Gottron's papules/sign: the
    calculator rule needs biopsy features, as it does when no biopsy was taken (score 7.2, probable by score)."""
    case = {
        "age_at_onset_years": 45, "anti_jo1": True, "proximal_upper_limb_weakness": True,
        "proximal_lower_limb_weakness": True, "heliotrope_rash": False, "gottron_papules": False,
        "gottron_sign": False, "muscle_biopsy": True, "biopsy_endomysial_infiltrate": False,
        "biopsy_perimysial_or_perivascular_infiltrate": False, "biopsy_perifascicular_atrophy": False,
        "biopsy_rimmed_vacuoles": False, "better_explanation": False,
    }  # fmt: skip
    result = iim_classification_2017(case)
    assert result.classified is False and "biopsy features" in (result.reason or "")
    with_feature = iim_classification_2017(case | {"biopsy_rimmed_vacuoles": True})
    assert with_feature.classified is not False


def test_better_explanation_and_biopsy_consistency() -> None:
    case = iim(45, "heliotrope_rash", "gottron_sign") | {"better_explanation": True}
    assert iim_classification_2017(case).classified is False
    with pytest.raises(InvalidInput) as err:
        iim_classification_2017(iim(45) | {"muscle_biopsy": False, "biopsy_rimmed_vacuoles": True})
    assert err.value.field == "biopsy_rimmed_vacuoles"


def test_unknown_items() -> None:
    partial = {"age_at_onset_years": 50, "proximal_upper_limb_weakness": True, "gottron_sign": True}
    result = iim_classification_2017(partial | {"better_explanation": False})
    assert result.classified is True and result.category is None  # 6.1 known: probable or definite
    assert iim_classification_2017(partial).classified is None  # better_explanation not recorded
    little = iim_classification_2017({"age_at_onset_years": 50})
    assert little.classified is None and little.category is None


def test_registered() -> None:
    names = {i.name for i in instruments.all_instruments()}
    assert {"myositis_tis", "imacs_doi", "mmt8", "haq_di", "iim_classification_2017"} <= names


# --------------------------------------------------------------------------- CLI end to end


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_cli_tis_csv_adult_and_juvenile(tmp_path: Path) -> None:
    fields = ["physician_global", "patient_global", "mmt", "haq", "ck", "extramuscular"]
    header = [f"{visit}.{f}" for visit in ("baseline", "follow_up") for f in fields] + ["mmt_max", "ck_uln"]
    rows = []
    for name in ("T1", "T3", "T4", "T7"):
        case = VECTORS[name][0]
        rows.append(
            [str(case[v][f]) for v in ("baseline", "follow_up") for f in fields] + [str(case["mmt_max"]), "200"]
        )
    path = tmp_path / "tis.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    adult = run_cli("myositis_tis", str(path))
    assert adult.returncode == 0, adult.stderr
    results = json.loads(adult.stdout)
    assert [r["total_improvement_score"] for r in results] == [80, 40, 20, 20]
    assert [r["improvement"] for r in results] == ["major", "moderate", "minimal", "minimal"]
    juvenile = run_cli("myositis_tis", str(path), "--option", "population=juvenile", "--format", "table")
    assert juvenile.returncode == 0, juvenile.stderr
    assert "TIS 40 (minimal)" in juvenile.stdout and "TIS 20 (none)" in juvenile.stdout


def test_cli_other_myositis_instruments() -> None:
    out = run_cli("mmt8", "-", stdin=json.dumps([dict.fromkeys(GROUPS, 10), dict.fromkeys(GROUPS, 7)]))
    assert out.returncode == 0, out.stderr
    assert [r["total"] for r in json.loads(out.stdout)] == [80, 56]
    out = run_cli("haq_di", "-", stdin=json.dumps(dict.fromkeys(ALL_ITEMS, 1) | {"aids_or_help": ["grip"]}))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["score"] == 1.125
    out = run_cli("imacs_doi", "-", stdin=json.dumps(doi_case("7.5", 7, 60, "0.8", 1300, "6.3")))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["improved"] is True
    case = iim(45, "proximal_upper_limb_weakness", "proximal_lower_limb_weakness", "heliotrope_rash")
    out = run_cli("iim_classification_2017", "-", stdin=json.dumps(case | {"raised_muscle_enzymes": True}))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["category"] == "definite IIM"


def test_cli_bad_input_exits_2_naming_the_field() -> None:
    t1 = VECTORS["T1"][0]
    cases = [
        ("myositis_tis", {**t1, "mmt_max": 100}, "mmt_max"),
        ("myositis_tis", {k: v for k, v in t1.items() if k != "ck_uln"}, "ck_uln"),
        ("mmt8", {"biceps": 11}, "biceps"),
        ("haq_di", {"cut_meat": 5}, "cut_meat"),
        ("iim_classification_2017", {"age_at_onset_years": -3}, "age_at_onset_years"),
    ]
    for name, data, field in cases:
        out = run_cli(name, "-", stdin=json.dumps(data))
        assert out.returncode == 2, (name, out.stdout)
        message = out.stderr.strip()
        assert len(message.splitlines()) == 1 and f"'{field}'" in message, message


# --------------------------------------------------------------------------- more properties


@settings(max_examples=120)
@given(measure_values, measure_values)
def test_doi_agrees_with_its_definition(baseline: dict[str, Any], follow: dict[str, Any]) -> None:
    case = {"baseline": baseline, "follow_up": follow, "mmt_max": 80, "ck_uln": 200}
    result = imacs_doi(case)
    improved, worse = result.improved_measures, result.worsened_measures
    assert not set(improved) & set(worse)
    assert result.improved is (len(improved) >= 3 and len(worse) <= 2 and "mmt" not in worse)


@given(st.sets(st.sampled_from(sorted(WEIGHTS))), st.sampled_from(sorted(WEIGHTS)), st.integers(0, 90))
def test_iim_points_and_monotonicity(present: set[str], extra: str, age: int) -> None:
    result = iim_classification_2017(iim(age, *present))
    age_points = Decimal("2.1") if age >= 40 else Decimal("1.3") if age >= 18 else Decimal(0)
    assert result.total_points == sum((Decimal(WEIGHTS[n][0]) for n in present), age_points)
    more = iim_classification_2017(iim(age, *present, extra))
    order = ["not IIM", "possible IIM", "probable IIM", "definite IIM"]
    assert result.category is not None and more.category is not None
    assert order.index(more.category) >= order.index(result.category)
