"""SELENA-SLEDAI and the SELENA flare index against their published definitions (Petri M et al., N Engl J
Med 2005;353:2550-8; Petri M, Buyon J, Kim M, Lupus 1999;8:685-91), with hand-derived vectors. The SLEDAI
weights and every flare threshold are restated here independently of the code; the publications give no
worked examples."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.instruments.sle import sledai2k
from immunoreset.instruments.sle_flare import selena_flare_index, selena_sledai

WEIGHTS = {
    **dict.fromkeys(
        [
            "seizure",
            "psychosis",
            "organic_brain_syndrome",
            "visual_disturbance",
            "cranial_nerve_disorder",
            "lupus_headache",
            "cva",
            "vasculitis",
        ],
        8,
    ),
    **dict.fromkeys(["arthritis", "myositis", "urinary_casts", "hematuria", "proteinuria", "pyuria"], 4),
    **dict.fromkeys(
        ["rash", "alopecia", "mucosal_ulcers", "pleurisy", "pericarditis", "low_complement", "increased_dna_binding"],
        2,
    ),
    **dict.fromkeys(["fever", "thrombocytopenia", "leukopenia"], 1),
}


def quiet(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict.fromkeys(WEIGHTS, False)
    data["proteinuria_new_or_increased"] = False
    data.update(changes)
    return data


def cli(name: str, payload: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", name, "-", *args],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
    )


# --------------------------------------------------------------------------- SELENA-SLEDAI


def test_weights_are_those_of_sledai2k() -> None:
    assert len(WEIGHTS) == 24 and sum(WEIGHTS.values()) == 105
    for name, weight in WEIGHTS.items():
        assert selena_sledai(quiet(**{name: True}, proteinuria_new_or_increased=name == "proteinuria")).total == weight


def test_all_and_nothing() -> None:
    assert selena_sledai(quiet()).total == 0
    everything = dict.fromkeys(WEIGHTS, True) | {"proteinuria_new_or_increased": True}
    result = selena_sledai(everything)
    assert result.total == 105 and len(result.contributing) == 24


def test_hand_vector_mixed() -> None:
    # arthritis 4 + rash 2 + alopecia 2 + low complement 2 + dsDNA 2 + leukopenia 1 = 13
    result = selena_sledai(
        quiet(
            arthritis=True, rash=True, alopecia=True, low_complement=True, increased_dna_binding=True, leukopenia=True
        )
    )
    assert result.total == 13
    assert result.contributing == [
        "arthritis",
        "rash",
        "alopecia",
        "low_complement",
        "increased_dna_binding",
        "leukopenia",
    ]


def test_persistent_proteinuria_is_not_scored_but_sledai2k_scores_it() -> None:
    data = quiet(proteinuria=True, proteinuria_new_or_increased=False)
    result = selena_sledai(data)
    assert result.total == 0 and result.persistent_proteinuria_not_scored
    assert selena_sledai(data, options={"proteinuria_rule": "persistent"}).total == 4
    twok = {k: v for k, v in data.items() if k != "proteinuria_new_or_increased"}
    assert sledai2k(twok).total == 4


def test_new_proteinuria_is_scored() -> None:
    result = selena_sledai(quiet(proteinuria=True, proteinuria_new_or_increased=True))
    assert result.total == 4 and not result.persistent_proteinuria_not_scored


@pytest.mark.parametrize(
    ("previous", "now", "scored"),
    [
        ("0.5", "0.51", True),  # new onset: before <= 0.5, now > 0.5
        ("0.4", "0.5", False),  # now not > 0.5
        ("0.49", "0.6", True),
        ("0.51", "0.9", False),  # persistent, increase 0.39
        ("1.0", "1.5", False),  # increase exactly 0.5 is not > 0.5
        ("1.0", "1.51", True),  # increase 0.51 > 0.5
        ("2.0", "1.0", False),  # falling
    ],
)
def test_proteinuria_new_or_increase_boundaries(previous: str, now: str, scored: bool) -> None:
    data = quiet(proteinuria_g_per_24h=now, previous_proteinuria_g_per_24h=previous)
    del data["proteinuria"], data["proteinuria_new_or_increased"]
    result = selena_sledai(data)
    assert result.descriptors["proteinuria"] is scored
    assert result.total == (4 if scored else 0)
    assert "proteinuria" in result.derived_from_measurements


def test_proteinuria_current_only_decides_when_not_above_threshold() -> None:
    data = quiet(proteinuria_g_per_24h="0.5")
    del data["proteinuria"], data["proteinuria_new_or_increased"]
    assert selena_sledai(data).total == 0
    data["proteinuria_g_per_24h"] = "0.51"
    result = selena_sledai(data)
    assert result.total is None and "proteinuria_new_or_increased" in (result.reason or "")
    assert (result.known_points, result.max_possible) == (0, 4)


@pytest.mark.parametrize(("joints", "present"), [(0, False), (2, False), (3, True), (10, True)])
def test_arthritis_needs_more_than_two_joints(joints: int, present: bool) -> None:
    data = quiet(arthritis_joint_count=joints)
    del data["arthritis"]
    assert selena_sledai(data).total == (4 if present else 0)


def test_two_joints_differ_from_sledai2k() -> None:
    twok = {k: v for k, v in quiet().items() if k != "proteinuria_new_or_increased"}
    del twok["arthritis"]
    assert sledai2k({**twok, "arthritis_joint_count": 2}).total == 4
    data = quiet(arthritis_joint_count=2)
    del data["arthritis"]
    assert selena_sledai(data).total == 0


def test_missing_descriptor_is_not_evaluable_with_bounds() -> None:
    data = quiet(rash=True)
    del data["seizure"], data["fever"]
    result = selena_sledai(data)
    assert not result.evaluable and result.total is None
    assert "seizure" in (result.reason or "") and "fever" in (result.reason or "")
    assert (result.known_points, result.max_possible) == (2, 11)
    assert result.headline() == "not evaluable (2-11)"


def test_missing_proteinuria_qualifier_names_it() -> None:
    result = selena_sledai(quiet(proteinuria=True, proteinuria_new_or_increased=None))
    assert result.total is None and result.reason == "not recorded: proteinuria_new_or_increased"
    decided = selena_sledai(quiet(proteinuria=False, proteinuria_new_or_increased=None))
    assert decided.total == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"arthritis": True, "arthritis_joint_count": 2}, "arthritis"),
        ({"proteinuria": False, "proteinuria_new_or_increased": True}, "proteinuria_new_or_increased"),
        ({"proteinuria": False, "proteinuria_g_per_24h": "0.8"}, "proteinuria"),
        (
            {
                "proteinuria_new_or_increased": True,
                "proteinuria_g_per_24h": "0.8",
                "previous_proteinuria_g_per_24h": "0.7",
            },
            "proteinuria_new_or_increased",
        ),
        ({"previous_proteinuria_g_per_24h": "0.7", "proteinuria": None}, "proteinuria_g_per_24h"),
        ({"rash": "maybe"}, "rash"),
        ({"arthritis_joint_count": -1}, "arthritis_joint_count"),
        ({"arthritis_joint_count": True}, "arthritis_joint_count"),
        ({"proteinuria_g_per_24h": 101}, "proteinuria_g_per_24h"),
        ({"hematuira": True}, "hematuira"),
    ],
)
def test_selena_sledai_invalid(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        selena_sledai(quiet(**changes))
    assert any(p.field == field for p in err.value.problems)


@given(st.fixed_dictionaries({name: st.booleans() for name in WEIGHTS}), st.booleans())
@settings(max_examples=200, deadline=None)
def test_total_is_sum_of_weights(items: dict[str, bool], qualifier: bool) -> None:
    data = {**items, "proteinuria_new_or_increased": qualifier and items["proteinuria"]}
    expected = sum(w for n, w in WEIGHTS.items() if items[n] and (n != "proteinuria" or qualifier))
    result = selena_sledai(data)
    assert result.total == expected and 0 <= expected <= 105
    assert result.total <= selena_sledai(data, options={"proteinuria_rule": "persistent"}).total  # type: ignore[operator]


def test_selena_sledai_cli() -> None:
    out = cli("selena_sledai", quiet(arthritis=True, proteinuria=True, proteinuria_new_or_increased=True, fever=True))
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)
    assert result["total"] == 9 and result["instrument"] == "selena_sledai" and "NEJMoa051135" in result["source"]


# --------------------------------------------------------------------------- SELENA flare index

MANIFESTATIONS = [
    "new_or_worse_rash",
    "new_or_worse_nasopharyngeal_ulcers",
    "new_or_worse_pleuritis",
    "new_or_worse_pericarditis",
    "new_or_worse_arthritis",
    "new_or_worse_fever",
    "new_or_worse_cns_sle",
    "new_or_worse_vasculitis",
    "new_or_worse_nephritis",
    "new_or_worse_myositis",
    "new_or_worse_thrombocytopenia",
    "new_or_worse_hemolytic_anemia",
]
TREATMENTS = [
    "new_nsaid",
    "new_hydroxychloroquine",
    "new_cyclophosphamide",
    "new_azathioprine",
    "new_methotrexate",
    "new_mycophenolate",
    "hospitalized_for_sle",
]


def stable(**changes: Any) -> dict[str, Any]:
    """A visit with no change: SLEDAI 4 -> 4, PGA 0.5 -> 0.5, prednisone 5 -> 5 mg/day, 60 kg."""
    data: dict[str, Any] = {
        "previous_selena_sledai": 4,
        "selena_sledai": 4,
        "previous_pga": "0.5",
        "pga": "0.5",
        "previous_prednisone_mg_per_day": 5,
        "prednisone_mg_per_day": 5,
        "weight_kg": 60,
        **dict.fromkeys(MANIFESTATIONS + TREATMENTS, False),
    }
    data.update(changes)
    return data


def category(data: dict[str, Any], **options: Any) -> str | None:
    return selena_flare_index(data, options=options).category


def test_no_change_is_no_flare() -> None:
    result = selena_flare_index(stable())
    assert result.category == "none" and result.flare is False and result.triggered_by == []
    assert result.headline() == "no flare"


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        (4, 6, "none"),  # +2
        (4, 7, "mild_moderate"),  # +3 to 7
        (9, 12, "mild_moderate"),  # +3 to 12 (not > 12)
        (10, 13, "severe"),  # +3 to 13
        (11, 13, "severe"),  # +2 to 13: any increase to > 12 (default)
        (12, 13, "severe"),  # +1 to 13
        (13, 13, "none"),  # no increase
        (20, 16, "none"),  # decrease
        (0, 12, "mild_moderate"),
        (0, 13, "severe"),
    ],
)
def test_sledai_boundaries(before: int, now: int, expected: str) -> None:
    assert category(stable(previous_selena_sledai=before, selena_sledai=now)) == expected


@pytest.mark.parametrize(("before", "now", "expected"), [(11, 13, "none"), (12, 13, "none"), (10, 13, "severe")])
def test_sledai_qualifying_increase_rule(before: int, now: int, expected: str) -> None:
    data = stable(previous_selena_sledai=before, selena_sledai=now)
    assert category(data, severe_score_rule="qualifying_increase") == expected


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        ("0.5", "1.4", "none"),  # +0.9
        ("0.5", "1.5", "mild_moderate"),  # +1.0 exactly
        ("0.4", "1.5", "mild_moderate"),  # +1.1
        ("1.5", "2.5", "mild_moderate"),  # +1.0 to 2.5 (not > 2.5)
        ("1.5", "2.51", "severe"),  # +1.01 to 2.51
        ("2.4", "2.6", "severe"),  # +0.2 to 2.6: any increase to > 2.5 (default)
        ("2.6", "2.6", "none"),
        ("1.2", "0.9", "none"),
    ],
)
def test_pga_boundaries(before: str, now: str, expected: str) -> None:
    assert category(stable(previous_pga=before, pga=now)) == expected


def test_pga_exact_decimal_not_float() -> None:
    # 1.1 - 0.1 is exactly 1.0 in decimal (in binary floats it is 1.0000000000000002)
    assert category(stable(previous_pga=0.1, pga=1.1)) == "mild_moderate"
    assert category(stable(previous_pga="2.4", pga="2.6"), severe_score_rule="qualifying_increase") == "none"


@pytest.mark.parametrize(
    ("before", "now", "weight", "expected"),
    [
        (5, 5, 60, "none"),
        (10, 5, 60, "none"),  # taper
        (5, "7.5", 60, "mild_moderate"),
        (5, 30, 60, "mild_moderate"),  # 30 mg = 0.5 mg/kg exactly: not > 0.5
        (5, "30.01", 60, "severe"),
        (5, 35, 70, "mild_moderate"),  # 0.5 x 70 = 35
        (5, "35.5", 70, "severe"),
        (40, 45, 60, "severe"),  # increase to 0.75 mg/kg
    ],
)
def test_prednisone_boundaries(before: Any, now: Any, weight: int, expected: str) -> None:
    data = stable(previous_prednisone_mg_per_day=before, prednisone_mg_per_day=now, weight_kg=weight)
    assert category(data) == expected


def test_stable_high_dose_is_not_a_flare() -> None:
    assert category(stable(previous_prednisone_mg_per_day=40, prednisone_mg_per_day=40)) == "none"


@pytest.mark.parametrize("name", [*MANIFESTATIONS[:6], "new_nsaid", "new_hydroxychloroquine"])
def test_each_mild_item(name: str) -> None:
    result = selena_flare_index(stable(**{name: True}))
    assert result.category == "mild_moderate" and result.triggered_by == [name]


@pytest.mark.parametrize(
    "name", ["new_cyclophosphamide", "new_azathioprine", "new_methotrexate", "hospitalized_for_sle"]
)
def test_each_severe_treatment(name: str) -> None:
    result = selena_flare_index(stable(**{name: True}))
    assert result.category == "severe" and name in result.triggered_by


def test_mycophenolate_only_by_option() -> None:
    assert category(stable(new_mycophenolate=True)) == "none"
    assert category(stable(new_mycophenolate=True), count_mycophenolate=True) == "severe"
    data = stable()
    del data["new_mycophenolate"]
    assert category(data) == "none"  # not needed when not counted
    assert category(data, count_mycophenolate=True) is None


@pytest.mark.parametrize("name", MANIFESTATIONS[6:])
def test_severe_manifestation_needs_escalation(name: str) -> None:
    assert category(stable(**{name: True})) == "none"  # prednisone unchanged, not hospitalised
    # doubling 5 -> 10 mg (0.17 mg/kg): severe through the manifestation, mild through the dose itself
    doubled = selena_flare_index(stable(**{name: True}, prednisone_mg_per_day=10))
    assert doubled.category == "severe" and doubled.triggered_by[0] == name
    assert doubled.criteria["prednisone_increase"] == "mild_moderate"
    assert category(stable(**{name: True}, prednisone_mg_per_day="9.9")) == "mild_moderate"  # not doubled
    assert category(stable(**{name: True}, hospitalized_for_sle=True)) == "severe"
    # already above 0.5 mg/kg/day (40 mg, 60 kg) without increase: the manifestation requires it
    high = stable(**{name: True}, previous_prednisone_mg_per_day=40, prednisone_mg_per_day=40)
    assert category(high) == "severe"


def test_doubling_from_zero() -> None:
    data = stable(new_or_worse_nephritis=True, previous_prednisone_mg_per_day=0, prednisone_mg_per_day=5)
    assert selena_flare_index(data).prednisone_doubled is True and category(data) == "severe"


def test_severe_wins_over_mild() -> None:
    data = stable(new_or_worse_rash=True, new_nsaid=True, new_azathioprine=True, selena_sledai=8)
    result = selena_flare_index(data)
    assert result.category == "severe" and result.triggered_by[0] == "new_azathioprine"
    assert set(result.triggered_by) == {"new_azathioprine", "new_or_worse_rash", "new_nsaid", "sledai_increase"}


def test_missing_items_not_evaluable_but_severe_is_certain() -> None:
    result = selena_flare_index({"new_cyclophosphamide": True})
    assert result.category == "severe" and result.evaluable and result.severe is True
    partial = selena_flare_index({"previous_selena_sledai": 2, "selena_sledai": 6})
    assert partial.category is None and partial.flare is True and partial.severe is None
    assert not partial.evaluable and "severity is not" in (partial.reason or "")
    assert partial.headline() == "flare (severity undecided)"
    assert selena_flare_index({}).headline() == "not evaluable"


def test_missing_weight_only_matters_when_dose_rose() -> None:
    data = stable()
    del data["weight_kg"]
    assert category(data) == "none"
    rising = stable(prednisone_mg_per_day=20)
    del rising["weight_kg"]
    result = selena_flare_index(rising)
    assert result.category is None and result.flare is True
    assert result.criteria["prednisone_increase"] == "at_least_mild_moderate"
    assert result.reason is not None and "weight_kg" in result.reason


def test_missing_item_leaves_no_flare_undecided() -> None:
    data = stable()
    del data["pga"]
    result = selena_flare_index(data)
    assert result.category is None and result.flare is None and result.reason == "not recorded: pga"


@pytest.mark.parametrize(
    ("changes", "options", "field"),
    [
        ({"pga": "3.1"}, {}, "pga"),
        ({"previous_pga": -1}, {}, "previous_pga"),
        ({"selena_sledai": 106}, {}, "selena_sledai"),
        ({"selena_sledai": True}, {}, "selena_sledai"),
        ({"weight_kg": 0}, {}, "weight_kg"),
        ({"new_nsaid": "often"}, {}, "new_nsaid"),
        ({"new_nsiad": True}, {}, "new_nsiad"),
        ({}, {"version": "sfi_revised"}, "version"),
        ({}, {"severe_score_rule": "sometimes"}, "severe_score_rule"),
    ],
)
def test_sfi_invalid(changes: dict[str, Any], options: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        selena_flare_index(stable(**changes), options=options)
    assert any(p.field == field for p in err.value.problems)


def test_revised_index_refusal_explains_why() -> None:
    with pytest.raises(InvalidInput) as err:
        selena_flare_index(stable(), options={"version": "sfi_revised"})
    assert "not implemented" in str(err.value)


@given(
    st.integers(0, 105),
    st.integers(0, 105),
    st.decimals(0, 3, places=2),
    st.decimals(0, 3, places=2),
    st.sets(st.sampled_from(MANIFESTATIONS + TREATMENTS)),
)
@settings(max_examples=150, deadline=None)
def test_monotone_adding_an_item_never_lowers_the_category(
    s0: int, s1: int, p0: Decimal, p1: Decimal, items: set[str]
) -> None:
    order = {"none": 0, "mild_moderate": 1, "severe": 2}
    base = stable(previous_selena_sledai=s0, selena_sledai=s1, previous_pga=p0, pga=p1, **dict.fromkeys(items, True))
    level = order[category(base) or "none"]
    for extra in MANIFESTATIONS + TREATMENTS:
        more = {**base, extra: True}
        assert order[category(more) or "none"] >= level
    # the SLEDAI criterion alone follows the restated rule
    increase = s1 - s0
    expected = 2 if increase > 0 and s1 > 12 else (1 if increase >= 3 else 0)
    assert order[selena_flare_index(stable(previous_selena_sledai=s0, selena_sledai=s1)).category or "none"] == expected


def test_registry_entries() -> None:
    for name in ("selena_sledai", "selena_flare_index"):
        item = instruments.get(name)
        assert item.source and "Petri" in item.source
        schema = item.input_schema()
        assert schema["additionalProperties"] is False


def test_sfi_cli() -> None:
    payload = stable(previous_selena_sledai=6, selena_sledai=14, previous_pga="1.0", pga="1.8")
    out = cli("selena_flare_index", payload)
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)
    assert result["category"] == "severe" and result["sledai_change"] == 8
    assert result["pga_change"] == pytest.approx(0.8) and result["triggered_by"] == ["sledai_increase"]
    refused = cli("selena_flare_index", stable(), "--option", "version=sfi_revised")
    assert refused.returncode == 2 and "version" in refused.stderr and "Traceback" not in refused.stderr
