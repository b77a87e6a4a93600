"""SLE instruments against the published definitions (SLEDAI-2K: Gladman DD et al., J Rheumatol 2002;29:288-91;
DORIS: van Vollenhoven RF et al., Lupus Sci Med 2021;8:e000538; LLDAS: Franklyn K et al., Ann Rheum Dis
2016;75:1615-21; SRI-4: Furie RA et al., Arthritis Rheum 2009;61:1143-51; 2019 criteria: Aringer M et al., Ann
Rheum Dis 2019;78:1151-9) with hand-computed vectors (weights and thresholds restated here independently)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.instruments.sle import (
    DESCRIPTORS,
    activity_category,
    doris_remission,
    lldas,
    sle_classification_2019,
    sledai2k,
    sri4,
)

# Gladman 2002 weights, restated from the reference table (not read from the code).
WEIGHTS = {
    "seizure": 8,
    "psychosis": 8,
    "organic_brain_syndrome": 8,
    "visual_disturbance": 8,
    "cranial_nerve_disorder": 8,
    "lupus_headache": 8,
    "cva": 8,
    "vasculitis": 8,
    "arthritis": 4,
    "myositis": 4,
    "urinary_casts": 4,
    "hematuria": 4,
    "proteinuria": 4,
    "pyuria": 4,
    "rash": 2,
    "alopecia": 2,
    "mucosal_ulcers": 2,
    "pleurisy": 2,
    "pericarditis": 2,
    "low_complement": 2,
    "increased_dna_binding": 2,
    "fever": 1,
    "thrombocytopenia": 1,
    "leukopenia": 1,
}
SEROLOGY = {"low_complement", "increased_dna_binding"}


def visit(*present: str, **extra: Any) -> dict[str, Any]:
    """A complete SLEDAI-2K assessment with the named descriptors present."""
    data: dict[str, Any] = {name: name in present for name in WEIGHTS}
    data.update(extra)
    return data


# --------------------------------------------------------------------------- SLEDAI-2K


def test_descriptor_table_is_the_published_one() -> None:
    assert [d.name for d in DESCRIPTORS] == list(WEIGHTS)
    assert sum(WEIGHTS.values()) == 105


@pytest.mark.parametrize("name", list(WEIGHTS))
def test_each_descriptor_scores_its_weight(name: str) -> None:
    result = sledai2k(visit(name))
    assert result.evaluable
    assert result.total == WEIGHTS[name]
    assert result.clinical_sledai == (0 if name in SEROLOGY else WEIGHTS[name])
    assert result.contributing == [name]


def test_all_descriptors_score_105() -> None:
    result = sledai2k(visit(*WEIGHTS))
    assert (result.total, result.clinical_sledai) == (105, 101)
    assert result.activity_category == "high"


def test_missing_descriptor_is_not_evaluable_and_named() -> None:
    data = visit()
    del data["cva"]
    result = sledai2k(data)
    assert not result.evaluable
    assert result.total is None
    assert result.not_recorded == ["cva"]
    assert result.reason is not None and "cva" in result.reason


@pytest.mark.parametrize(
    ("field", "value", "descriptor", "present"),
    [
        ("urine_rbc_per_hpf", 5, "hematuria", False),
        ("urine_rbc_per_hpf", 6, "hematuria", True),
        ("urine_rbc_per_hpf", "5.01", "hematuria", True),
        ("urine_wbc_per_hpf", 5, "pyuria", False),
        ("urine_wbc_per_hpf", 6, "pyuria", True),
        ("proteinuria_g_per_24h", "0.5", "proteinuria", False),
        ("proteinuria_g_per_24h", "0.51", "proteinuria", True),
        ("upcr_g_per_g", "0.50", "proteinuria", False),
        ("upcr_g_per_g", "0.51", "proteinuria", True),
        ("temperature_celsius", "38.0", "fever", False),
        ("temperature_celsius", "38.1", "fever", True),
        ("platelets_10e9_per_l", 100, "thrombocytopenia", False),
        ("platelets_10e9_per_l", 99, "thrombocytopenia", True),
        ("leukocytes_10e9_per_l", "3.0", "leukopenia", False),
        ("leukocytes_10e9_per_l", "2.9", "leukopenia", True),
        ("arthritis_joint_count", 1, "arthritis", False),
        ("arthritis_joint_count", 2, "arthritis", True),
    ],
)
def test_measurement_thresholds_both_sides(field: str, value: Any, descriptor: str, present: bool) -> None:
    data = visit(**{field: value})
    del data[descriptor]
    result = sledai2k(data, options={"unattributed_findings": "attribute_to_sle"})
    assert result.descriptors[descriptor] is present
    assert result.total == (WEIGHTS[descriptor] if present else 0)
    assert descriptor in result.derived_from_measurements


def test_arthritis_original_sledai_variant() -> None:
    data = visit(arthritis_joint_count=2)
    del data["arthritis"]
    assert sledai2k(data, options={"arthritis_joints": "more_than_2"}).total == 0
    data["arthritis_joint_count"] = 3
    assert sledai2k(data, options={"arthritis_joints": "more_than_2"}).total == 4


@pytest.mark.parametrize(
    ("values", "low"),
    [
        ({"c3": "0.9", "c3_lln": "0.9", "c4": "0.1", "c4_lln": "0.1"}, False),
        ({"c3": "0.89", "c3_lln": "0.9", "c4": "0.2", "c4_lln": "0.1"}, True),
        ({"c3": "1.0", "c3_lln": "0.9", "c4": "0.09", "c4_lln": "0.1"}, True),
        ({"c3": "1.0", "c3_lln": "0.9", "c4": "0.2", "c4_lln": "0.1", "ch50": 20, "ch50_lln": 30}, True),
    ],
)
def test_low_complement_from_any_component_below_lln(values: dict[str, Any], low: bool) -> None:
    data = visit(**values)
    del data["low_complement"]
    assert sledai2k(data).descriptors["low_complement"] is low


def test_complement_with_only_c3_normal_is_undecided() -> None:
    data = visit(c3="1.0", c3_lln="0.9")
    del data["low_complement"]
    result = sledai2k(data)
    assert not result.evaluable
    assert result.reason is not None and "c4 not measured" in result.reason


@pytest.mark.parametrize(("value", "raised"), [("100", False), ("100.1", True)])
def test_dna_binding_strictly_above_uln(value: str, raised: bool) -> None:
    data = visit(anti_dsdna=value, anti_dsdna_uln=100)
    del data["increased_dna_binding"]
    assert sledai2k(data).descriptors["increased_dna_binding"] is raised


def test_reference_vector_L1_no_descriptor_at_the_edges() -> None:
    data = visit(
        platelets_10e9_per_l=100,
        leukocytes_10e9_per_l="3.0",
        proteinuria_g_per_24h="0.50",
        temperature_celsius="38.0",
        urine_rbc_per_hpf=5,
        urine_wbc_per_hpf=5,
    )
    for name in ("thrombocytopenia", "leukopenia", "proteinuria", "fever", "hematuria", "pyuria"):
        del data[name]
    result = sledai2k(data)
    assert (result.total, result.clinical_sledai, result.evaluable) == (0, 0, True)


def test_reference_vector_L2_fifteen_points_when_attributed() -> None:
    data = visit(
        "thrombocytopenia",
        "leukopenia",
        "fever",
        "hematuria",
        "pyuria",
        platelets_10e9_per_l=99,
        leukocytes_10e9_per_l="2.9",
        proteinuria_g_per_24h="0.51",
        temperature_celsius="38.1",
        urine_rbc_per_hpf=6,
        urine_wbc_per_hpf=6,
    )
    del data["proteinuria"]
    result = sledai2k(data)
    assert (result.total, result.clinical_sledai) == (15, 15)


def test_unattributed_abnormal_value_needs_a_clinician() -> None:
    data = visit(platelets_10e9_per_l=85)
    del data["thrombocytopenia"]
    result = sledai2k(data)
    assert not result.evaluable
    assert result.reason is not None and "thrombocytopenia" in result.reason
    # Attributed to a drug (e.g. post-CAR-T cytopenia): not scored.
    data["other_cause"] = ["thrombocytopenia"]
    result = sledai2k(data)
    assert result.evaluable and result.total == 0
    assert result.excluded_other_cause == ["thrombocytopenia"]
    # Clinician confirms SLE attribution.
    del data["other_cause"]
    data["thrombocytopenia"] = True
    assert sledai2k(data).total == 1


def test_boolean_conflicting_with_measurement_is_an_error() -> None:
    with pytest.raises(InvalidInput) as err:
        sledai2k(visit("hematuria", urine_rbc_per_hpf=5))
    assert err.value.field == "hematuria"
    with pytest.raises(InvalidInput) as err:
        sledai2k(visit(urine_rbc_per_hpf=8))  # hematuria=false but 8/hpf and no other cause
    assert "other_cause" in str(err.value)
    # false + abnormal is consistent when the finding has another cause (infection).
    result = sledai2k(visit(urine_rbc_per_hpf=8, other_cause=["hematuria"]))
    assert result.total == 0 and result.excluded_other_cause == ["hematuria"]


def test_other_cause_and_present_contradict() -> None:
    with pytest.raises(InvalidInput, match="other_cause"):
        sledai2k(visit("fever", other_cause=["fever"]))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (visit(c3="0.8"), "c3_lln"),
        (visit(anti_dsdna_uln=100), "anti_dsdna"),
        (visit(temperature_celsius=60), "temperature_celsius"),
        (visit(platelets_10e9_per_l=-1), "platelets_10e9_per_l"),
        (visit(rash="sometimes"), "rash"),
        (visit(hematuira=True), "hematuira"),
        (visit(other_cause=["sunburn"]), "other_cause.0"),
    ],
)
def test_bad_input_names_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        sledai2k(data)
    assert err.value.field == field


def test_misspelt_field_suggests_the_right_one() -> None:
    with pytest.raises(InvalidInput, match="did you mean 'hematuria'"):
        sledai2k(visit(hematuira=True))


def test_24h_and_upcr_disagreeing_is_an_error() -> None:
    data = visit(proteinuria_g_per_24h="0.3", upcr_g_per_g="0.8")
    del data["proteinuria"]
    with pytest.raises(InvalidInput) as err:
        sledai2k(data)
    assert err.value.field == "upcr_g_per_g"


def test_upcr_surrogate_is_recorded() -> None:
    data = visit(upcr_g_per_g="0.8")
    del data["proteinuria"]
    result = sledai2k(data)
    assert result.total == 4 and result.proteinuria_measure == "upcr"


@pytest.mark.parametrize(
    ("total", "four", "five"),
    [
        (0, "no activity", "no activity"),
        (1, "low", "mild"),
        (4, "low", "mild"),
        (5, "moderate", "mild"),
        (6, "moderate", "moderate"),
        (10, "moderate", "moderate"),
        (11, "high", "high"),
        (19, "high", "high"),
        (20, "high", "very high"),
        (105, "high", "very high"),
    ],
)
def test_activity_categories_at_band_edges(total: int, four: str, five: str) -> None:
    assert activity_category(total, "four_band") == four
    assert activity_category(total, "five_band") == five


@given(st.sets(st.sampled_from(list(WEIGHTS))), st.sampled_from(list(WEIGHTS)))
def test_adding_a_descriptor_never_lowers_sledai(present: set[str], extra: str) -> None:
    before = sledai2k(visit(*present))
    after = sledai2k(visit(*present, extra))
    assert before.total is not None and after.total is not None
    assert after.total >= before.total
    assert 0 <= after.clinical_sledai <= after.total <= 105  # type: ignore[operator]
    assert after.total == sum(WEIGHTS[n] for n in present | {extra})


# --------------------------------------------------------------------------- DORIS, LLDAS (§9.1)

# (id, present items, PGA, prednisolone, new vs previous, SLEDAI-2K, cSLEDAI, DORIS, LLDAS)
VECTORS_9_1: list[tuple[str, tuple[str, ...], str, str, bool | None, int, int, bool, bool | None]] = [
    ("A1", (), "0.0", "0", False, 0, 0, True, True),
    ("A2", ("low_complement", "increased_dna_binding"), "0.3", "5.0", False, 4, 0, True, True),
    ("A3", ("low_complement", "increased_dna_binding"), "0.3", "5.1", False, 4, 0, False, True),
    ("A4", (), "0.5", "0", False, 0, 0, False, True),
    ("A5", ("arthritis",), "1.0", "7.5", False, 4, 4, False, True),
    ("A6", ("arthritis",), "1.0", "7.5", True, 4, 4, False, False),
    ("A7", ("proteinuria",), "0.4", "0", False, 4, 4, False, False),
    ("A8", ("fever",), "0.4", "0", False, 1, 1, False, False),
    ("A9", ("thrombocytopenia", "leukopenia", "alopecia"), "0.8", "7.5", False, 4, 4, False, True),
    (
        "A10",
        ("proteinuria", "hematuria", "urinary_casts", "low_complement", "increased_dna_binding", "rash", "arthritis"),
        "2.0",
        "20",
        True,
        22,
        18,
        False,
        False,
    ),
    ("A11", ("low_complement",), "0.2", "7.6", False, 2, 0, False, False),
    ("A12", ("thrombocytopenia", "leukopenia", "proteinuria", "fever"), "1.5", "10", True, 7, 7, False, False),
    ("A13", ("low_complement", "increased_dna_binding", "alopecia"), "0.4", "2.5", False, 6, 2, False, False),
    ("A14", (), "0.0", "0", None, 0, 0, True, None),
]


@pytest.mark.parametrize(
    ("vid", "items", "pga", "pred", "new", "total", "clinical", "doris", "lldas_state"), VECTORS_9_1
)
def test_reference_vectors_9_1(
    vid: str,
    items: tuple[str, ...],
    pga: str,
    pred: str,
    new: bool | None,
    total: int,
    clinical: int,
    doris: bool,
    lldas_state: bool | None,
) -> None:
    current = visit(*items)
    score = sledai2k(current)
    assert (score.total, score.clinical_sledai) == (total, clinical), vid
    drugs = {"antimalarial": False, "immunosuppressant": False, "biologic": False}
    d = doris_remission({"sledai2k": current, "pga": pga, "prednisolone_mg_per_day": pred, **drugs})
    assert d.remission is doris, vid
    if new is None:
        previous = None
    elif new:
        previous = visit()  # nothing before: everything now is new
    else:
        previous = visit(*items)
    state = lldas(
        {
            "sledai2k": current,
            "previous_sledai2k": previous,
            "pga": pga,
            "prednisolone_mg_per_day": pred,
            "hemolytic_anemia": False,
            "gastrointestinal_activity": False,
            "maintenance_therapy_acceptable": True,
        }
    )
    assert state.lldas is lldas_state, vid
    if lldas_state is None:
        assert not state.evaluable and state.reason is not None and "previous" in state.reason


def test_a1_is_drug_free_off_therapy_remission() -> None:
    result = doris_remission(
        {
            "sledai2k": visit(),
            "pga": 0,
            "prednisolone_mg_per_day": 0,
            "antimalarial": False,
            "immunosuppressant": False,
            "biologic": False,
        }
    )
    assert result.remission and result.off_therapy and result.remission_off_therapy and result.drug_free
    assert result.serologically_quiescent is True


@pytest.mark.parametrize(
    ("pred", "operator", "met"),
    [("5.0", "le", True), ("5.01", "le", False), ("4.99", "lt", True), ("5.0", "lt", False)],
)
def test_doris_glucocorticoid_boundary(pred: str, operator: str, met: bool) -> None:
    result = doris_remission(
        {
            "clinical_sledai": 0,
            "pga": "0.2",
            "prednisolone_mg_per_day": pred,
            "antimalarial": True,
            "stable_doses": True,
            "immunosuppressant": False,
            "biologic": False,
        },
        options={"glucocorticoid_operator": operator},
    )
    assert result.remission is met


@pytest.mark.parametrize(("pga", "met"), [("0.49", True), ("0.5", False), (0.49, True), (0.5, False)])
def test_doris_pga_boundary(pga: Any, met: bool) -> None:
    result = doris_remission(
        {
            "clinical_sledai": 0,
            "pga": pga,
            "prednisolone_mg_per_day": 0,
            "antimalarial": False,
            "immunosuppressant": False,
            "biologic": False,
        }
    )
    assert result.remission is met
    le = doris_remission(
        {
            "clinical_sledai": 0,
            "pga": "0.5",
            "prednisolone_mg_per_day": 0,
            "antimalarial": False,
            "immunosuppressant": False,
            "biologic": False,
        },
        options={"pga_operator": "le"},
    )
    assert le.remission is True


def test_doris_unstable_drugs_and_missing_pga() -> None:
    base = {"clinical_sledai": 0, "pga": "0.1", "prednisolone_mg_per_day": 0, "antimalarial": False, "biologic": False}
    assert doris_remission({**base, "immunosuppressant": True, "stable_doses": False}).remission is False
    undecided = doris_remission({**base, "immunosuppressant": True})
    assert undecided.remission is None and not undecided.evaluable
    no_pga = doris_remission({**base, "pga": None, "immunosuppressant": False})
    assert no_pga.remission is None and no_pga.reason is not None and "pga" in no_pga.reason


def test_doris_failed_criterion_decides_despite_missing_data() -> None:
    result = doris_remission({"clinical_sledai": 4})
    assert result.evaluable and result.remission is False


def test_doris_partial_sledai_with_known_clinical_activity_is_decided() -> None:
    data = visit("rash")
    del data["seizure"]
    result = doris_remission({"sledai2k": data, "pga": 0, "prednisolone_mg_per_day": 0})
    assert result.criteria["clinical_sledai_zero"] is False and result.remission is False


def test_doris_rejects_two_sledai_sources() -> None:
    with pytest.raises(InvalidInput) as err:
        doris_remission({"sledai2k": visit(), "clinical_sledai": 0})
    assert err.value.field == "clinical_sledai"


@given(
    st.sets(st.sampled_from(list(WEIGHTS))),
    st.decimals(min_value=0, max_value=3, places=2),
    st.decimals(min_value=0, max_value=60, places=1),
)
def test_doris_remission_implies_clinical_sledai_zero(present: set[str], pga: Decimal, pred: Decimal) -> None:
    result = doris_remission(
        {
            "sledai2k": visit(*present),
            "pga": pga,
            "prednisolone_mg_per_day": pred,
            "antimalarial": False,
            "immunosuppressant": False,
            "biologic": False,
        }
    )
    if result.remission:
        assert result.clinical_sledai == 0 and pga < Decimal("0.5") and pred <= 5
    assert result.evaluable


def test_lldas_boundaries_pga_and_prednisolone() -> None:
    def run(pga: str, pred: str) -> bool | None:
        return lldas(
            {
                "sledai2k": visit(),
                "previous_sledai2k": visit(),
                "pga": pga,
                "prednisolone_mg_per_day": pred,
                "hemolytic_anemia": False,
                "gastrointestinal_activity": False,
                "maintenance_therapy_acceptable": True,
            }
        ).lldas

    assert run("1.0", "7.5") is True
    assert run("1.01", "7.5") is False
    assert run("1.0", "7.51") is False


def test_lldas_haemolytic_anaemia_fails_item_1() -> None:
    result = lldas(
        {
            "sledai2k": visit(),
            "previous_sledai2k": visit(),
            "pga": 0,
            "prednisolone_mg_per_day": 0,
            "hemolytic_anemia": True,
            "gastrointestinal_activity": False,
            "maintenance_therapy_acceptable": True,
        }
    )
    assert result.lldas is False
    assert result.criteria["sledai2k_at_most_4_no_major_organ"] is False


def test_lldas_serology_present_before_is_not_new() -> None:
    result = lldas(
        {
            "sledai2k": visit("increased_dna_binding"),
            "previous_sledai2k": visit("increased_dna_binding", "rash"),
            "pga": 0,
            "prednisolone_mg_per_day": 0,
            "hemolytic_anemia": False,
            "gastrointestinal_activity": False,
            "maintenance_therapy_acceptable": True,
        }
    )
    assert result.lldas is True and result.new_activity == []


# --------------------------------------------------------------------------- SRI-4 (§9.5)


@pytest.mark.parametrize(
    ("vid", "base", "now", "new_a", "new_b", "pga0", "pga1", "responder"),
    [
        ("S1", 12, 8, 0, 1, "1.5", "1.7", True),
        ("S2", 12, 8, 0, 0, "0.9", "1.2", False),
        ("S3", 12, 9, 0, 0, "1.0", "0.5", False),
        ("S4", 12, 6, 0, 2, "1.0", "0.5", False),
        ("S5", 16, 4, 1, 0, "2.0", "0.5", False),
        ("S6", 16, 0, 0, 0, "2.0", "0.1", True),
    ],
)
def test_sri4_reference_vectors(
    vid: str, base: int, now: int, new_a: int, new_b: int, pga0: str, pga1: str, responder: bool
) -> None:
    result = sri4(
        {
            "baseline_sledai": base,
            "sledai": now,
            "new_bilag_a": new_a,
            "new_bilag_b": new_b,
            "baseline_pga": pga0,
            "pga": pga1,
        }
    )
    assert result.responder is responder, vid


def test_sri4_pga_worsening_exactly_0_3_fails_even_from_json_floats() -> None:
    # 1.2 - 0.9 is 0.29999999999999993 in binary floating point; the definition says 0.3 fails.
    result = sri4(
        {"baseline_sledai": 10, "sledai": 4, "new_bilag_a": 0, "new_bilag_b": 0, "baseline_pga": 0.9, "pga": 1.2}
    )
    assert result.pga_change == Decimal("0.3")
    assert result.responder is False
    ok = sri4(
        {"baseline_sledai": 10, "sledai": 4, "new_bilag_a": 0, "new_bilag_b": 0, "baseline_pga": 0.9, "pga": 1.19}
    )
    assert ok.responder is True


def test_sri4_reduction_variants_and_missing() -> None:
    data = {"baseline_sledai": 10, "sledai": 6, "new_bilag_a": 0, "new_bilag_b": 0, "baseline_pga": 1, "pga": 1}
    assert sri4(data).responder is True
    assert sri4(data, options={"sledai_reduction": 5}).responder is False
    missing = sri4({**data, "new_bilag_b": None})
    assert missing.responder is None and missing.reason is not None and "new_bilag_b" in missing.reason


# --------------------------------------------------------------------------- 2019 EULAR/ACR (§9.3)

C1 = {
    "anti_dsdna": True,
    "low_c3": True,
    "low_c4": True,
    "joint_involvement": True,
    "acute_cutaneous_lupus": True,
    "oral_ulcers": True,
    "leukopenia": True,
    "thrombocytopenia": True,
}


@pytest.mark.parametrize(
    ("vid", "titre", "criteria", "points", "classified"),
    [
        ("C1", "1:160", C1, 26, True),
        ("C2", "1:40", C1, 26, False),
        ("C3", "1:80", {"anti_dsdna": True, "anti_smith": True, "low_c3": True, "low_c4": True}, 10, False),
        ("C4", "1:320", {"renal_biopsy_class_iii_or_iv": True, "proteinuria": True}, 10, True),
        (
            "C5",
            "1:80",
            {
                "fever": True,
                "non_scarring_alopecia": True,
                "oral_ulcers": True,
                "delirium": True,
                "psychosis": True,
                "antiphospholipid_antibodies": True,
            },
            9,
            False,
        ),
        (
            "C6",
            "1:640",
            {"seizure": True, "psychosis": True, "delirium": True, "antiphospholipid_antibodies": True},
            7,
            False,
        ),
        ("C7", "1:80", {"pleural_or_pericardial_effusion": True, "anti_dsdna": True}, 11, True),
        (
            "C8",
            "negative",
            {"renal_biopsy_class_iii_or_iv": True, "anti_dsdna": True, "low_c3": True, "low_c4": True},
            20,
            False,
        ),
        (
            "C9",
            "1:160",
            {
                "subacute_cutaneous_or_discoid_lupus": True,
                "acute_cutaneous_lupus": True,
                "low_c3": True,
                "low_c4": True,
            },
            10,
            True,
        ),
    ],
)
def test_classification_reference_vectors(
    vid: str, titre: str, criteria: dict[str, bool], points: int, classified: bool
) -> None:
    result = sle_classification_2019({"ana_titre": titre, **criteria})
    assert result.total_points == points, vid
    assert result.classified is classified, vid


def test_classification_reasons_and_domain_points() -> None:
    c3 = sle_classification_2019(
        {"ana_titre": "1:80", "anti_dsdna": True, "anti_smith": True, "low_c3": True, "low_c4": True}
    )
    assert c3.reason == "no clinical criterion present"
    assert c3.points_by_domain["complement_proteins"] == 4
    assert c3.criteria_counted["complement_proteins"] == "low_c3_and_low_c4"
    c2 = sle_classification_2019({"ana_titre": 40, **C1})
    assert c2.entry_criterion_met is False and c2.reason is not None and "entry" in c2.reason
    unknown = sle_classification_2019(C1)
    assert unknown.classified is None and not unknown.evaluable


def test_classification_maximum_is_51() -> None:
    everything = {
        name: True
        for name in (
            "fever",
            "leukopenia",
            "thrombocytopenia",
            "autoimmune_hemolysis",
            "delirium",
            "psychosis",
            "seizure",
            "non_scarring_alopecia",
            "oral_ulcers",
            "subacute_cutaneous_or_discoid_lupus",
            "acute_cutaneous_lupus",
            "pleural_or_pericardial_effusion",
            "acute_pericarditis",
            "joint_involvement",
            "proteinuria",
            "renal_biopsy_class_ii_or_v",
            "renal_biopsy_class_iii_or_iv",
            "antiphospholipid_antibodies",
            "low_c3",
            "low_c4",
            "anti_dsdna",
            "anti_smith",
        )
    }
    assert sle_classification_2019({"ana_equivalent_positive": True, **everything}).total_points == 51


@pytest.mark.parametrize(
    ("field", "value", "criterion", "present"),
    [
        ("max_temperature_celsius", "38.3", "fever", False),
        ("max_temperature_celsius", "38.4", "fever", True),
        ("min_leukocytes_10e9_per_l", "4.0", "leukopenia", False),
        ("min_leukocytes_10e9_per_l", "3.9", "leukopenia", True),
        ("min_platelets_10e9_per_l", 100, "thrombocytopenia", False),
        ("min_platelets_10e9_per_l", 99, "thrombocytopenia", True),
        ("max_proteinuria_g_per_24h", "0.5", "proteinuria", False),
        ("max_proteinuria_g_per_24h", "0.51", "proteinuria", True),
    ],
)
def test_classification_measurement_thresholds(field: str, value: Any, criterion: str, present: bool) -> None:
    result = sle_classification_2019({"ana_titre": "1:80", field: value})
    assert (criterion in result.criteria_counted.values()) is present


def test_classification_titre_parsing_and_errors() -> None:
    assert sle_classification_2019({"ana_titre": "1 : 80"}).entry_criterion_met is True
    with pytest.raises(InvalidInput) as err:
        sle_classification_2019({"ana_titre": "strongly positive"})
    assert err.value.field == "ana_titre"
    with pytest.raises(InvalidInput) as err:
        sle_classification_2019({"ana_titre": "1:80", "fever": False, "max_temperature_celsius": 39})
    assert err.value.field == "fever"


@pytest.mark.parametrize(
    ("titre", "entry"),
    [("160", True), ("1:160", True), ("1/160", True), ("80", True), ("1/80", True), ("40", False), ("1/40", False)],
)
def test_classification_titre_as_csv_text(titre: str, entry: bool) -> None:
    """Review #17.2: a titre given as text (the only form a CSV cell has); entry criterion ANA >= 1:80."""
    assert sle_classification_2019({"ana_titre": titre}).entry_criterion_met is entry


@pytest.mark.parametrize("titre", ["2:160", "1:abc", "1//160", "160:1"])
def test_classification_titre_text_that_is_no_titre(titre: str) -> None:
    with pytest.raises(InvalidInput) as err:
        sle_classification_2019({"ana_titre": titre})
    assert err.value.field == "ana_titre"


def test_classification_not_attributable_is_not_counted() -> None:
    result = sle_classification_2019(
        {
            "ana_titre": "1:160",
            "anti_dsdna": True,
            "joint_involvement": True,
            "max_temperature_celsius": 39,
            "not_attributable": ["fever"],
        }
    )
    assert result.points_by_domain["constitutional"] == 0 and result.total_points == 12


# --------------------------------------------------------------------------- combined (§9.4) and registry

P1_BASELINE = visit(
    "urinary_casts",
    "arthritis",
    "rash",
    proteinuria_g_per_24h="2.1",
    urine_rbc_per_hpf=12,
    hematuria=True,
    c3="0.5",
    c3_lln="0.9",
    c4="0.05",
    c4_lln="0.1",
    anti_dsdna=300,
    anti_dsdna_uln=100,
    leukocytes_10e9_per_l="2.8",
    leukopenia=True,
)
for _name in ("proteinuria", "low_complement", "increased_dna_binding"):
    del P1_BASELINE[_name]


def test_combined_patient_p1() -> None:
    base = sledai2k(P1_BASELINE)
    assert (base.total, base.clinical_sledai) == (23, 19)
    month6 = visit("increased_dna_binding", proteinuria_g_per_24h="0.3", c3="1.0", c3_lln="0.9", c4="0.2", c4_lln="0.1")
    for name in ("proteinuria", "low_complement"):
        del month6[name]
    score = sledai2k(month6)
    assert (score.total, score.clinical_sledai) == (2, 0)
    d = doris_remission(
        {
            "sledai2k": month6,
            "pga": "0.2",
            "prednisolone_mg_per_day": 0,
            "antimalarial": False,
            "immunosuppressant": False,
            "biologic": False,
        }
    )
    assert d.remission and d.off_therapy and d.serologically_quiescent is False
    state = lldas(
        {
            "sledai2k": month6,
            "previous_sledai2k": visit("increased_dna_binding"),
            "pga": "0.2",
            "prednisolone_mg_per_day": 0,
            "hemolytic_anemia": False,
            "gastrointestinal_activity": False,
            "maintenance_therapy_acceptable": True,
        }
    )
    assert state.lldas is True
    history = {
        "ana_titre": "1:640",
        "anti_dsdna": True,
        "low_c3": True,
        "low_c4": True,
        "renal_biopsy_class_iii_or_iv": True,
        "proteinuria": True,
        "joint_involvement": True,
        "acute_cutaneous_lupus": True,
        "leukopenia": True,
    }
    c = sle_classification_2019(history)
    assert c.total_points == 35 and c.classified


def test_registry_lists_the_sle_instruments_with_sources() -> None:
    names = {i.name for i in instruments.all_instruments()}
    assert {"sledai2k", "doris", "lldas", "sri4", "sle_classification_2019"} <= names
    for name in ("sledai2k", "doris", "lldas", "sri4", "sle_classification_2019"):
        item = instruments.get(name)
        assert item.source and item.description
        assert item.function.__doc__ and ("20" in item.function.__doc__)
        schema = item.input_schema()
        assert schema["type"] == "object" and schema["properties"]
        assert schema.get("additionalProperties") is False


def test_combined_patient_p2_ana_negative() -> None:
    current = visit("arthritis", "rash")
    assert (sledai2k(current).total, sledai2k(current).clinical_sledai) == (6, 6)
    d = doris_remission(
        {
            "sledai2k": current,
            "pga": "1.2",
            "prednisolone_mg_per_day": 10,
            "antimalarial": True,
            "stable_doses": True,
            "immunosuppressant": False,
            "biologic": False,
        }
    )
    assert d.remission is False and d.off_therapy is False
    state = lldas(
        {
            "sledai2k": current,
            "previous_sledai2k": current,
            "pga": "1.2",
            "prednisolone_mg_per_day": 10,
            "hemolytic_anemia": False,
            "gastrointestinal_activity": False,
            "maintenance_therapy_acceptable": True,
        }
    )
    assert state.lldas is False
    assert [k for k, v in state.criteria.items() if v is False] == [
        "sledai2k_at_most_4_no_major_organ",
        "pga_at_most_1",
        "prednisolone_at_most_7_5",
    ]
    c = sle_classification_2019(
        {
            "ana_titre": "1:40",
            "anti_dsdna": True,
            "low_c3": True,
            "joint_involvement": True,
            "acute_cutaneous_lupus": True,
        }
    )
    assert c.total_points == 21 and c.classified is False and c.entry_criterion_met is False


def test_doris_antimalarial_alone_needs_no_stable_doses() -> None:
    """Review #17.7: DORIS 2021 allows antimalarials; stability is asked of immunosuppressives incl. biologics."""
    base = {"clinical_sledai": 0, "pga": "0.2", "prednisolone_mg_per_day": 5, "immunosuppressant": False,
            "biologic": False}  # fmt: skip
    on_hcq = doris_remission({**base, "antimalarial": True})
    assert on_hcq.evaluable and on_hcq.remission is True
    unknown = doris_remission({**base, "antimalarial": True, "immunosuppressant": True})
    assert unknown.remission is None  # an immunosuppressant: its stability must be known
    assert doris_remission({**base, "antimalarial": True, "stable_doses": False}).remission is True


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [
        ("leukocytes_10e9_per_l", "800", "800/µL = 0.8"),  # review #17.8: a count per µL
        ("platelets_10e9_per_l", "150000", "150000/µL = 150"),
        ("upcr_g_per_g", "30", "30 mg/mmol = 0.27"),  # a ratio in mg/mmol
    ],
)
def test_sledai_unit_mistakes_are_refused_with_the_conversion(field: str, value: str, hint: str) -> None:
    with pytest.raises(InvalidInput) as err:
        sledai2k({field: value})
    assert err.value.field == field and hint in str(err.value)


@pytest.mark.parametrize(
    ("field", "limit"), [("leukocytes_10e9_per_l", "200"), ("platelets_10e9_per_l", "2000"), ("upcr_g_per_g", "25")]
)
def test_sledai_plausibility_limits_are_inclusive(field: str, limit: str) -> None:
    sledai2k({field: limit})  # the limit itself is accepted
    with pytest.raises(InvalidInput):
        sledai2k({field: str(Decimal(limit) + Decimal("0.01"))})
