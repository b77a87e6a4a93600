"""SLICC/ACR Damage Index and CLASI against their published definitions, with hand-derived vectors.

SDI (Gladman D et al., Arthritis Rheum 1996;39:363-9, Table of items): 41 items in 12 organ systems,
items score 1 except six recurrent items 0-2 (cerebrovascular accident, myocardial infarction,
significant tissue loss, GI infarction/resection, avascular necrosis, malignancy) and end-stage renal
disease 3, which replaces GFR < 50% and proteinuria >= 3.5 g/24 h (renal maximum 3). Maximum 47.

CLASI (Albrecht J et al., J Invest Dermatol 2005;125:889-94): activity = erythema 0-3 + scale 0-2 in
13 areas + mucous membrane 0-1 + recent hair loss 0-1 + non-scarring alopecia 0-3 (max 70); damage =
dyspigmentation 0-1 in 13 areas (sum x2 when it lasts >= 12 months) + scarring/atrophy/panniculitis
0-2 in 12 areas (not the scalp) + scalp scarring 0/3/4/5/6 (max 56). Klein R et al., Arch Dermatol
2011;147:203-8: mild 0-9, moderate 10-20, severe 21-70; improvement as a 4-point or 20% decrease.

The publications carry no worked patient vectors; every expected number below is computed by hand
from the weights restated here, independently of the module's tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.instruments.sle_damage import CLASI_AREAS, SDI_ITEMS, SDI_SYSTEMS, clasi, sdi

# --------------------------------------------------------------------------- SDI, restated

RECURRENT = {
    "cerebrovascular_accident",
    "myocardial_infarction",
    "significant_tissue_loss",
    "gi_infarction_or_resection",
    "avascular_necrosis",
    "malignancy",
}
ESRD = "end_stage_renal_disease"
RENAL_OTHERS = ("gfr_below_50_percent", "proteinuria_3_5_g_per_24h")
SYSTEM_SIZES = {
    "ocular": 2,
    "neuropsychiatric": 5,
    "renal": 3,
    "pulmonary": 5,
    "cardiovascular": 5,
    "peripheral_vascular": 4,
    "gastrointestinal": 5,
    "musculoskeletal": 6,
    "skin": 3,
    "premature_gonadal_failure": 1,
    "diabetes": 1,
    "malignancy": 1,
}


def no_damage(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {name: (0 if name in RECURRENT else False) for name in SDI_ITEMS}
    data.update(changes)
    return data


def expected_sdi(data: dict[str, Any]) -> int:
    """The SDI recomputed from the definition above."""

    def pts(name: str) -> int:
        value = data[name]
        if name in RECURRENT:
            return int(value)
        return (3 if name == ESRD else 1) if value else 0

    renal = 3 if data[ESRD] else sum(pts(n) for n in RENAL_OTHERS)
    rest = sum(pts(n) for n in SDI_ITEMS if n not in (ESRD, *RENAL_OTHERS))
    return renal + rest


def test_sdi_has_41_items_in_12_systems_with_the_published_maxima() -> None:
    assert len(SDI_ITEMS) == 41
    assert len(SDI_SYSTEMS) == 12
    sizes: dict[str, int] = {}
    for system, _ in SDI_ITEMS.values():
        sizes[system] = sizes.get(system, 0) + 1
    assert sizes == SYSTEM_SIZES
    assert {name for name, (_, top) in SDI_ITEMS.items() if top == 2} == RECURRENT
    assert {name for name, (_, top) in SDI_ITEMS.items() if top == 3} == {ESRD}
    assert all(len(name) <= 40 for name in SDI_ITEMS)


def test_sdi_no_damage_is_0() -> None:
    result = sdi(no_damage())
    assert result.evaluable and result.total == 0 and result.damage is False
    assert result.systems == dict.fromkeys(SYSTEM_SIZES, 0)
    assert result.headline() == "0 (no damage)"


def test_sdi_maximum_is_47() -> None:
    everything = {name: (2 if name in RECURRENT else True) for name in SDI_ITEMS}
    result = sdi(everything)
    # 34 single items x 1 + 6 recurrent x 2 + ESRD 3 = 49, less the 2 renal items ESRD replaces = 47
    assert result.total == 47 == expected_sdi(everything)
    assert result.systems["renal"] == 3
    assert result.systems["neuropsychiatric"] == 6 and result.systems["musculoskeletal"] == 7


def test_sdi_hand_vector_with_subtotals() -> None:
    case = no_damage(
        cataract=True,
        cerebrovascular_accident=1,
        gfr_below_50_percent=True,
        osteoporosis_with_fracture=True,
        avascular_necrosis=2,
        diabetes=True,
        malignancy=1,
    )
    result = sdi(case)
    # ocular 1, neuropsychiatric 1, renal 1, musculoskeletal 1 + 2, diabetes 1, malignancy 1 = 8
    assert result.total == 8 and result.damage is True
    assert result.systems["ocular"] == 1
    assert result.systems["neuropsychiatric"] == 1
    assert result.systems["renal"] == 1
    assert result.systems["musculoskeletal"] == 3
    assert result.systems["diabetes"] == 1 and result.systems["malignancy"] == 1
    assert result.systems["cardiovascular"] == 0
    assert result.items["avascular_necrosis"] == 2 and result.items["cataract"] == 1
    assert result.headline() == "8 (damage)"


@pytest.mark.parametrize(
    ("esrd", "gfr", "proteinuria", "renal"),
    [
        (False, False, False, 0),
        (False, True, False, 1),
        (False, False, True, 1),
        (False, True, True, 2),
        (True, False, False, 3),
        (True, True, True, 3),  # ESRD replaces the other two: never 5
    ],
)
def test_sdi_esrd_scores_3_in_place_of_the_other_renal_items(
    esrd: bool, gfr: bool, proteinuria: bool, renal: int
) -> None:
    result = sdi(
        no_damage(end_stage_renal_disease=esrd, gfr_below_50_percent=gfr, proteinuria_3_5_g_per_24h=proteinuria)
    )
    assert result.systems["renal"] == renal and result.total == renal


@pytest.mark.parametrize("item", sorted(RECURRENT))
@pytest.mark.parametrize("grade", [0, 1, 2])
def test_sdi_recurrent_items_score_0_1_2(item: str, grade: int) -> None:
    assert sdi(no_damage(**{item: grade})).total == grade


@pytest.mark.parametrize("item", ["cataract", "diabetes", "tendon_rupture", "pancreatic_insufficiency"])
def test_sdi_single_items_score_1(item: str) -> None:
    assert sdi(no_damage(**{item: True})).total == 1


def test_sdi_damage_threshold_is_at_least_1() -> None:
    assert sdi(no_damage()).damage is False  # SDI 0
    assert sdi(no_damage(shrinking_lung=True)).damage is True  # SDI 1
    assert sdi(no_damage(malignancy=2)).damage is True  # SDI 2


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("cerebrovascular_accident", 3),
        ("cerebrovascular_accident", -1),
        ("malignancy", True),  # a recurrent item needs its count, not true/false
        ("malignancy", 1.5),
        ("avascular_necrosis", "two"),
        ("cataract", "maybe"),
        ("diabetes", 2),
    ],
)
def test_sdi_invalid_values_name_the_field(field: str, bad: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        sdi(no_damage(**{field: bad}))
    assert err.value.field == field


def test_sdi_unknown_field_is_rejected() -> None:
    with pytest.raises(InvalidInput) as err:
        sdi({**no_damage(), "catarract": True})
    assert "catarract" in str(err.value) and "cataract" in str(err.value)


def test_sdi_missing_item_is_not_evaluable_and_named() -> None:
    case = no_damage()
    del case["osteomyelitis"]
    result = sdi(case)
    assert not result.evaluable and result.total is None and result.damage is None
    assert result.systems["musculoskeletal"] is None and result.systems["skin"] == 0
    assert "osteomyelitis" in (result.reason or "") and result.headline() == "not evaluable"
    assert result.max_possible == 1 and result.known_points == 0


def test_sdi_damage_decided_when_known_items_score() -> None:
    result = sdi({"pulmonary_fibrosis": True, "malignancy": 2})
    assert result.total is None and not result.evaluable
    assert result.damage is True and result.known_points == 3
    assert result.headline() == "damage (SDI >= 3 known)"


def test_sdi_esrd_makes_the_other_renal_items_unnecessary() -> None:
    case = no_damage(end_stage_renal_disease=True)
    for name in RENAL_OTHERS:
        del case[name]
    result = sdi(case)
    assert result.evaluable and result.total == 3 and result.systems["renal"] == 3


def test_sdi_unknown_esrd_leaves_renal_open() -> None:
    case = no_damage(gfr_below_50_percent=True)
    del case[ESRD]
    result = sdi(case)
    assert result.systems["renal"] is None and result.total is None and result.damage is True
    assert result.known_points == 1 and result.max_possible == 3
    assert "end_stage_renal_disease" in (result.reason or "")


SDI_VALUES = st.fixed_dictionaries(
    {name: (st.integers(0, 2) if name in RECURRENT else st.booleans()) for name in SDI_ITEMS}
)


@given(SDI_VALUES)
def test_sdi_total_is_the_defined_sum_and_bounded(data: dict[str, Any]) -> None:
    result = sdi(data)
    assert result.total == expected_sdi(data)
    assert 0 <= expected_sdi(data) <= 47
    assert result.total == sum(v for v in result.systems.values() if v is not None)
    assert result.damage is (expected_sdi(data) >= 1)


@given(SDI_VALUES, st.sampled_from(sorted(SDI_ITEMS)))
def test_sdi_is_monotone_in_each_item(data: dict[str, Any], item: str) -> None:
    higher = {**data, item: 2 if item in RECURRENT else True}
    lower = {**data, item: 0 if item in RECURRENT else False}
    low_total, high_total = sdi(lower).total, sdi(higher).total
    assert low_total is not None and high_total is not None and low_total <= high_total


# --------------------------------------------------------------------------- CLASI, restated

AREAS = [
    "scalp",
    "ears",
    "nose_malar",
    "rest_of_face",
    "v_area_neck",
    "posterior_neck_shoulders",
    "chest",
    "abdomen",
    "back_buttocks",
    "arms",
    "hands",
    "legs",
    "feet",
]
NOT_SCALP = AREAS[1:]


def clear_skin(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for area in AREAS:
        data[f"erythema_{area}"] = 0
        data[f"scale_{area}"] = 0
        data[f"dyspigmentation_{area}"] = 0
    for area in NOT_SCALP:
        data[f"scarring_{area}"] = 0
    data |= {
        "mucous_membrane_lesions": 0,
        "recent_hair_loss": 0,
        "nonscarring_alopecia": 0,
        "scalp_scarring": 0,
        "dyspigmentation_lasts_12_months": False,
    }
    data.update(changes)
    return data


def with_activity(points: int, **changes: Any) -> dict[str, Any]:
    """A CLASI with activity exactly ``points`` (filled with erythema 3 then scale 2, area by area)."""
    data = clear_skin(**changes)
    left = points
    for area in AREAS:
        for kind, top in (("erythema", 3), ("scale", 2)):
            step = min(top, left)
            data[f"{kind}_{area}"] = step
            left -= step
    for name, top in (("mucous_membrane_lesions", 1), ("recent_hair_loss", 1), ("nonscarring_alopecia", 3)):
        step = min(top, left)
        data[name] = step
        left -= step
    assert left == 0
    return data


def test_clasi_areas() -> None:
    assert list(CLASI_AREAS) == AREAS and len(AREAS) == 13
    schema = instruments.get("clasi").input_schema()["properties"]
    assert "scarring_scalp" not in schema and "scalp_scarring" in schema
    assert all(len(name) <= 40 for name in schema)


def test_clasi_clear_skin() -> None:
    result = clasi(clear_skin())
    assert result.evaluable and result.activity == 0 and result.damage == 0
    assert result.activity_severity == "mild"
    assert result.headline() == "A 0 (mild), D 0"


def test_clasi_maxima_70_and_56() -> None:
    worst = clear_skin(
        mucous_membrane_lesions=1,
        recent_hair_loss=1,
        nonscarring_alopecia=3,
        scalp_scarring=6,
        dyspigmentation_lasts_12_months=True,
    )
    for area in AREAS:
        worst |= {f"erythema_{area}": 3, f"scale_{area}": 2, f"dyspigmentation_{area}": 1}
    for area in NOT_SCALP:
        worst[f"scarring_{area}"] = 2
    result = clasi(worst)
    assert result.activity == 13 * (3 + 2) + 1 + 1 + 3 == 70
    assert result.damage == 13 * 1 * 2 + 12 * 2 + 6 == 56
    assert result.activity_severity == "severe"
    not_lasting = clasi({**worst, "dyspigmentation_lasts_12_months": False})
    assert not_lasting.damage == 13 + 24 + 6 == 43


def test_clasi_hand_vector() -> None:
    case = clear_skin(
        erythema_scalp=3,
        scale_scalp=2,
        erythema_ears=1,
        scale_ears=1,
        erythema_nose_malar=2,
        scale_nose_malar=1,
        mucous_membrane_lesions=1,
        recent_hair_loss=1,
        nonscarring_alopecia=2,
        dyspigmentation_ears=1,
        dyspigmentation_nose_malar=1,
        dyspigmentation_chest=1,
        dyspigmentation_lasts_12_months=True,
        scarring_ears=1,
        scarring_nose_malar=2,
        scalp_scarring=4,
    )
    result = clasi(case)
    # activity: erythema 3+1+2 = 6, scale 2+1+1 = 4, mucosa 1, hair loss 1, alopecia 2 -> 14 (moderate)
    assert result.activity == 14 and result.activity_severity == "moderate"
    assert result.activity_components == {
        "erythema": 6,
        "scale_hypertrophy": 4,
        "mucous_membrane_lesions": 1,
        "recent_hair_loss": 1,
        "nonscarring_alopecia": 2,
    }
    # damage: dyspigmentation 3 x 2 = 6, scarring 1 + 2 = 3, scalp scarring 4 -> 13
    assert result.damage == 13 and result.dyspigmentation_doubled is True
    assert result.damage_components["dyspigmentation"] == 3
    assert result.damage_components["dyspigmentation_points"] == 6
    assert result.headline() == "A 14 (moderate), D 13"


@pytest.mark.parametrize(
    ("points", "severity"),
    [(0, "mild"), (9, "mild"), (10, "moderate"), (11, "moderate"), (20, "moderate"), (21, "severe"), (70, "severe")],
)
def test_clasi_severity_bands_at_their_edges(points: int, severity: str) -> None:
    result = clasi(with_activity(points))
    assert result.activity == points and result.activity_severity == severity


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("erythema_chest", 4),
        ("erythema_chest", -1),
        ("scale_feet", 3),
        ("dyspigmentation_arms", 2),
        ("scarring_hands", 3),
        ("mucous_membrane_lesions", 2),
        ("recent_hair_loss", True),
        ("nonscarring_alopecia", 4),
        ("scalp_scarring", 1),
        ("scalp_scarring", 2),
        ("scalp_scarring", 7),
        ("erythema_ears", 1.5),
        ("baseline_activity", 71),
        ("dyspigmentation_lasts_12_months", "sometimes"),
    ],
)
def test_clasi_invalid_values_name_the_field(field: str, bad: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        clasi(clear_skin(**{field: bad}))
    assert err.value.field == field


def test_clasi_scalp_has_no_area_scarring_field() -> None:
    with pytest.raises(InvalidInput) as err:
        clasi(clear_skin(scarring_scalp=1))
    assert err.value.field == "scarring_scalp"


@pytest.mark.parametrize(("grade", "points"), [(0, 0), (3, 3), (4, 4), (5, 5), (6, 6)])
def test_clasi_scalp_scarring_grades(grade: int, points: int) -> None:
    assert clasi(clear_skin(scalp_scarring=grade)).damage == points


def test_clasi_dyspigmentation_duration_needed_only_when_present() -> None:
    no_dysp = clear_skin()
    del no_dysp["dyspigmentation_lasts_12_months"]
    result = clasi(no_dysp)
    assert result.evaluable and result.damage == 0 and result.dyspigmentation_doubled is False
    present = clear_skin(dyspigmentation_legs=1, dyspigmentation_scalp=1)
    del present["dyspigmentation_lasts_12_months"]
    unknown = clasi(present)
    assert not unknown.evaluable and unknown.damage is None and unknown.activity == 0
    assert "dyspigmentation_lasts_12_months" in (unknown.reason or "")
    assert clasi({**present, "dyspigmentation_lasts_12_months": False}).damage == 2
    assert clasi({**present, "dyspigmentation_lasts_12_months": True}).damage == 4


def test_clasi_missing_item_and_scores_option() -> None:
    case = clear_skin(erythema_hands=2)
    del case["scarring_legs"]
    both = clasi(case)
    assert not both.evaluable and both.damage is None and both.activity == 2
    assert "scarring_legs" in (both.reason or "")
    activity_only = clasi(case, options={"scores": "activity"})
    assert activity_only.evaluable and activity_only.activity == 2 and activity_only.damage is None
    del case["erythema_feet"]
    damage_only = clasi(case, options={"scores": "damage"})
    assert not damage_only.evaluable  # scarring_legs still missing
    complete_damage = clasi({**case, "scarring_legs": 1}, options={"scores": "damage"})
    assert complete_damage.evaluable and complete_damage.damage == 1 and complete_damage.activity is None
    assert complete_damage.headline() == "A mild (>= 2 known), D 1"  # erythema_feet open: 2-5, still mild
    with pytest.raises(InvalidInput) as err:
        clasi(case, options={"scores": "all"})
    assert err.value.field == "scores"


def test_clasi_severity_decided_from_known_items_when_certain() -> None:
    severe = with_activity(21)
    del severe["erythema_feet"]  # 0 known there; adds at most 3
    result = clasi(severe)
    assert result.activity is None and result.activity_severity == "severe"
    mild = with_activity(6)
    del mild["nonscarring_alopecia"]  # 6 known, at most 9
    assert clasi(mild).activity_severity == "mild"
    open_case = with_activity(8)
    del open_case["nonscarring_alopecia"]  # 8 known, at most 11: mild or moderate
    assert clasi(open_case).activity_severity is None
    assert clasi({}).activity_severity is None and clasi({}).headline() == "not evaluable"


@pytest.mark.parametrize(
    ("baseline", "activity", "change", "dec4", "dec20", "a50"),
    [
        (20, 16, -4, True, True, False),  # 4 points = exactly 20%
        (20, 17, -3, False, False, False),  # 3 points, 15%
        (20, 10, -10, True, True, True),  # exactly 50%
        (20, 11, -9, True, True, False),  # 45%
        (10, 8, -2, False, True, False),  # exactly 20% with 2 points
        (11, 9, -2, False, False, False),  # 18.2%
        (9, 7, -2, False, True, False),  # 22.2%
        (15, 8, -7, True, True, False),  # 46.7%
        (15, 7, -8, True, True, True),  # 53.3%
        (5, 9, 4, False, False, False),  # worse
    ],
)
def test_clasi_change_from_baseline_edges(
    baseline: int, activity: int, change: int, dec4: bool, dec20: bool, a50: bool
) -> None:
    result = clasi(with_activity(activity, baseline_activity=baseline))
    assert result.activity_change == change
    assert result.decrease_4_points is dec4
    assert result.decrease_20_percent is dec20
    assert result.clasi_a_50 is a50


def test_clasi_percent_reduction_and_zero_baseline() -> None:
    assert clasi(with_activity(7, baseline_activity=15)).percent_reduction == Decimal("53.3")
    zero = clasi(with_activity(0, baseline_activity=0))
    assert zero.percent_reduction is None and zero.clasi_a_50 is None and zero.decrease_20_percent is None
    assert zero.decrease_4_points is False and "baseline activity 0" in (zero.reason or "")
    no_baseline = clasi(with_activity(12))
    assert no_baseline.clasi_a_50 is None and no_baseline.evaluable


CLASI_VALUES = st.fixed_dictionaries(
    {
        **{f"erythema_{a}": st.integers(0, 3) for a in AREAS},
        **{f"scale_{a}": st.integers(0, 2) for a in AREAS},
        **{f"dyspigmentation_{a}": st.integers(0, 1) for a in AREAS},
        **{f"scarring_{a}": st.integers(0, 2) for a in NOT_SCALP},
        "mucous_membrane_lesions": st.integers(0, 1),
        "recent_hair_loss": st.integers(0, 1),
        "nonscarring_alopecia": st.integers(0, 3),
        "scalp_scarring": st.sampled_from([0, 3, 4, 5, 6]),
        "dyspigmentation_lasts_12_months": st.booleans(),
    }
)


@given(CLASI_VALUES)
def test_clasi_scores_are_the_defined_sums(data: dict[str, Any]) -> None:
    result = clasi(data)
    activity = sum(data[f"erythema_{a}"] + data[f"scale_{a}"] for a in AREAS)
    activity += data["mucous_membrane_lesions"] + data["recent_hair_loss"] + data["nonscarring_alopecia"]
    dysp = sum(data[f"dyspigmentation_{a}"] for a in AREAS) * (2 if data["dyspigmentation_lasts_12_months"] else 1)
    damage = dysp + sum(data[f"scarring_{a}"] for a in NOT_SCALP) + data["scalp_scarring"]
    assert result.activity == activity and 0 <= activity <= 70
    assert result.damage == damage and 0 <= damage <= 56
    band = "mild" if activity <= 9 else "moderate" if activity <= 20 else "severe"
    assert result.activity_severity == band


@given(CLASI_VALUES, st.integers(0, 70))
def test_clasi_response_flags_match_their_definitions(data: dict[str, Any], baseline: int) -> None:
    result = clasi({**data, "baseline_activity": baseline})
    assert result.activity is not None
    decrease = baseline - result.activity
    assert result.decrease_4_points is (decrease >= 4)
    if baseline:
        assert result.clasi_a_50 is (Decimal(decrease) / baseline >= Decimal("0.5"))
        assert result.decrease_20_percent is (Decimal(decrease) / baseline >= Decimal("0.2"))


# --------------------------------------------------------------------------- registry and CLI


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_registry_entries() -> None:
    assert instruments.get("SDI").name == "sdi" and "Gladman" in instruments.get("sdi").source
    assert instruments.get("clasi").name == "clasi" and "Albrecht" in instruments.get("clasi").source


def test_cli_sdi_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "sdi.json"
    visits = [no_damage(), no_damage(end_stage_renal_disease=True, gfr_below_50_percent=True, malignancy=2)]
    path.write_text(json.dumps(visits))
    out = run("sdi", str(path))
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["total"] for r in results] == [0, 5]  # renal 3 (not 4) + malignancy 2
    assert [r["damage"] for r in results] == [False, True]
    assert results[1]["systems"]["renal"] == 3
    bad = run("sdi", "-", stdin=json.dumps(no_damage(malignancy=3)))
    assert bad.returncode == 2 and "malignancy" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_clasi_end_to_end() -> None:
    visit = with_activity(21, baseline_activity=42, dyspigmentation_chest=1, dyspigmentation_lasts_12_months=True)
    out = run("clasi", "-", stdin=json.dumps(visit))
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)
    assert result["activity"] == 21 and result["activity_severity"] == "severe"
    assert result["damage"] == 2 and result["clasi_a_50"] is True and result["percent_reduction"] == 50
    table = run("clasi", "-", "--format", "table", stdin=json.dumps(visit))
    assert table.returncode == 0 and "severe" in table.stdout
