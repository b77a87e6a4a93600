"""MYOACT (IMACS Myositis Disease Activity Assessment VAS) against its published scoring rule.

Rule restated here independently of the code (IMACS MDAAT 2009 form, "MYOACT Scoring System"; tool from
Isenberg DA et al. Rheumatology 2004;43:49-54 and Sultan SM et al. Arthritis Rheum 2008;58:3593-9): the
score is the sum of the 10-cm VAS of the six extramuscular systems (constitutional, cutaneous, skeletal,
gastrointestinal, pulmonary, cardiac; sum 0-60) divided by the total possible score; a system marked NA is
left out of the sum and of the maximum possible score (10 cm per assessed system). The muscle VAS and the
extramuscular global VAS are not part of it. The publications give no worked example, so the vectors below
are computed by hand; the score is shown to 4 decimals, rounded half up.
"""

from __future__ import annotations

import json
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
from immunoreset.instruments.myositis_imacs import MYOACT_SYSTEMS, myoact

SYSTEMS = ["constitutional", "cutaneous", "skeletal", "gastrointestinal", "pulmonary", "cardiac"]


def visit(default: Any = 0, **values: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict.fromkeys(SYSTEMS, default)
    data.update(values)
    return data


def test_the_six_extramuscular_systems() -> None:
    assert list(MYOACT_SYSTEMS) == SYSTEMS


def test_registered_with_a_source_and_standard_schema_bounds() -> None:
    item = instruments.get("myoact")
    assert item.function is myoact
    assert "2004" in item.source and "keg427" in item.source and "2008" in item.source
    schema = item.input_schema()
    assert schema["additionalProperties"] is False
    for name in [*SYSTEMS, "muscle", "extramuscular_global"]:
        number = next(s for s in schema["properties"][name]["anyOf"] if s.get("type") == "number")
        assert number["minimum"] == 0 and number["maximum"] == 10
        assert not {"ge", "le"} & set(number)


# --------------------------------------------------------------------------- hand-computed vectors


@pytest.mark.parametrize(
    ("values", "total", "maximum", "score"),
    [
        (visit(0), "0", 60, "0.0000"),  # no activity
        (visit(10), "60", 60, "1.0000"),  # maximum on every line
        # 1.5 + 4 + 0 + 0 + 2 + 3 = 10.5; 10.5 / 60 = 0.175
        (visit(0, constitutional=1.5, cutaneous=4, pulmonary=2, cardiac=3), "10.5", 60, "0.1750"),
        # 0.1 + 0.2 = 0.3 exactly (no binary float drift); 0.3 / 60 = 0.005
        (visit(0, skeletal=0.1, gastrointestinal=0.2), "0.3", 60, "0.0050"),
        # 1 / 60 = 0.016666... -> 0.0167
        (visit(0, cutaneous=1), "1", 60, "0.0167"),
        # 2.5 / 60 = 0.041666... -> 0.0417
        (visit(0, cutaneous="2.5"), "2.5", 60, "0.0417"),
    ],
)
def test_all_six_assessed(values: dict[str, Any], total: str, maximum: int, score: str) -> None:
    result = myoact(values)
    assert result.evaluable and result.reason is None
    assert result.extramuscular_sum == Decimal(total)
    assert result.max_possible == maximum and result.systems_assessed == 6
    assert result.score == Decimal(score) and str(result.score) == score
    assert result.not_assessed == [] and result.missing == []


def test_na_systems_leave_the_sum_and_the_maximum() -> None:
    # cardiac NA: 1.5 + 4 + 0 + 0 + 2 = 7.5 over 5 x 10 = 50 -> 0.15
    values = visit(0, constitutional=1.5, cutaneous=4, pulmonary=2)
    del values["cardiac"]
    result = myoact({**values, "cardiac_not_assessed": True})
    assert result.evaluable
    assert result.extramuscular_sum == Decimal("7.5") and result.max_possible == 50
    assert result.score == Decimal("0.1500") and result.systems_assessed == 5
    assert result.not_assessed == ["cardiac"] and result.systems["cardiac"] is None
    assert "5 of 6" in result.variant
    # two NA (cardiac, gastrointestinal): 6 / 40 = 0.15; the same score from a different sum
    two = myoact(
        {
            "constitutional": 2,
            "cutaneous": 2,
            "skeletal": 1,
            "pulmonary": 1,
            "cardiac_not_assessed": True,
            "gastrointestinal_not_assessed": True,
        }
    )
    assert two.max_possible == 40 and two.extramuscular_sum == 6 and two.score == Decimal("0.1500")


def test_na_with_false_flag_and_a_vas_is_fine() -> None:
    result = myoact({**visit(5), "cardiac_not_assessed": False})
    assert result.score == Decimal("0.5000") and result.not_assessed == []


def test_muscle_and_extramuscular_global_are_recorded_not_scored() -> None:
    base = myoact(visit(0, cutaneous=3))
    with_extra = myoact({**visit(0, cutaneous=3), "muscle": 9, "extramuscular_global": "2.5"})
    assert with_extra.score == base.score == Decimal("0.0500")  # 3 / 60
    assert with_extra.extramuscular_sum == base.extramuscular_sum == 3
    assert with_extra.muscle == 9 and with_extra.extramuscular_global == Decimal("2.5")
    assert base.muscle is None


def test_headline() -> None:
    assert myoact(visit(0, constitutional=1.5, cutaneous=4, pulmonary=2, cardiac=3)).headline() == "0.1750 (10.5/60)"
    assert myoact({"cutaneous": 1}).headline() == "not evaluable"


# --------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize("value", [0, "0", "0.0", 10, "10", "10.0", "9.99", "0.01"])
def test_vas_ends_are_accepted(value: Any) -> None:
    assert myoact(visit(0, skeletal=value)).extramuscular_sum == Decimal(str(value))


@pytest.mark.parametrize("value", ["10.01", 10.0001, 11, "-0.01", -0.0001, -1])
def test_vas_outside_0_to_10_is_rejected(value: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        myoact(visit(0, pulmonary=value))
    assert err.value.field == "pulmonary"


def test_rounding_is_half_up_at_the_fourth_decimal() -> None:
    # 0.003 / 60 = 0.00005 exactly: half up -> 0.0001 (half-even would give 0.0000)
    assert myoact(visit(0, cardiac="0.003")).score == Decimal("0.0001")
    # 0.0029 / 60 = 0.0000483... -> 0.0000
    assert myoact(visit(0, cardiac="0.0029")).score == Decimal("0.0000")
    # 0.0031 / 60 = 0.0000516... -> 0.0001
    assert myoact(visit(0, cardiac="0.0031")).score == Decimal("0.0001")
    # 0.009 / 60 = 0.00015 exactly: half up -> 0.0002 (half-even would also give 0.0002)
    assert myoact(visit(0, cardiac="0.009")).score == Decimal("0.0002")
    # 0.015 / 60 = 0.00025 exactly: half up -> 0.0003 (half-even would give 0.0002)
    assert myoact(visit(0, cardiac="0.015")).score == Decimal("0.0003")


def test_sum_is_exact_with_many_decimals() -> None:
    values = visit("1." + "1" * 29)  # 30 significant digits, more than Decimal's default 28
    result = myoact(values)
    assert result.extramuscular_sum == Decimal("6." + "6" * 29)
    assert result.score == Decimal("0.1111")


# --------------------------------------------------------------------------- missing data


def test_missing_system_is_not_evaluable_and_named() -> None:
    values = visit(2)
    del values["skeletal"], values["cardiac"]
    result = myoact(values)
    assert not result.evaluable and result.score is None and result.extramuscular_sum is None
    assert result.max_possible is None
    assert result.missing == ["skeletal", "cardiac"]
    assert result.reason is not None and "skeletal" in result.reason and "cardiac" in result.reason
    assert result.systems_assessed == 4


def test_not_assessed_false_without_a_vas_is_missing() -> None:
    values = visit(2)
    del values["pulmonary"]
    result = myoact({**values, "pulmonary_not_assessed": False})
    assert not result.evaluable and result.missing == ["pulmonary"]


def test_empty_input_is_not_evaluable() -> None:
    result = myoact({})
    assert not result.evaluable and result.missing == SYSTEMS


def test_all_systems_na_is_not_evaluable() -> None:
    result = myoact({f"{s}_not_assessed": True for s in SYSTEMS})
    assert not result.evaluable and result.score is None and result.max_possible is None
    assert result.not_assessed == SYSTEMS and result.missing == []
    assert result.reason is not None and "NA" in result.reason


# --------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cutaneous": True}, "cutaneous"),
        ({"cutaneous": "x"}, "cutaneous"),
        ({"cutaneous": "NaN"}, "cutaneous"),
        ({"cutaneous": "Infinity"}, "cutaneous"),
        ({"muscle": 10.5}, "muscle"),
        ({"extramuscular_global": -1}, "extramuscular_global"),
        ({"cardiac_not_assessed": "sometimes"}, "cardiac_not_assessed"),
        ({"cardiac_not_assessed": True}, "cardiac_not_assessed"),  # NA while cardiac has a VAS
        ({"cutanous": 3}, "cutanous"),
    ],
)
def test_wrong_data_raise_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        myoact({**visit(1), **change})
    assert err.value.field == field


def test_misspelt_field_gets_a_suggestion() -> None:
    with pytest.raises(InvalidInput) as err:
        myoact({**visit(1), "cardiac_not_asessed": True})
    assert "cardiac_not_assessed" in str(err.value)


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        myoact(visit(1), options={"scale": "0-100"})


# --------------------------------------------------------------------------- properties

vas = st.decimals(min_value=0, max_value=10, places=2, allow_nan=False, allow_infinity=False)
maybe_vas = st.one_of(st.none(), vas)


@settings(max_examples=200, deadline=None)
@given(st.lists(maybe_vas, min_size=6, max_size=6))
def test_score_is_the_rounded_sum_over_the_maximum(values: list[Decimal | None]) -> None:
    data: dict[str, Any] = {}
    for system, value in zip(SYSTEMS, values, strict=True):
        if value is None:
            data[f"{system}_not_assessed"] = True
        else:
            data[system] = value
    result = myoact(data)
    given_values = [v for v in values if v is not None]
    if not given_values:
        assert not result.evaluable
        return
    total = sum(given_values, Decimal(0))
    exact = Fraction(total) / (10 * len(given_values))
    assert result.extramuscular_sum == total and result.max_possible == 10 * len(given_values)
    assert result.score is not None and Decimal(0) <= result.score <= Decimal(1)
    assert abs(Fraction(result.score) - exact) <= Fraction(1, 20_000)  # within half a unit of the 4th decimal


@settings(max_examples=200, deadline=None)
@given(st.lists(vas, min_size=6, max_size=6), st.sampled_from(SYSTEMS), vas)
def test_more_activity_never_lowers_the_score(values: list[Decimal], system: str, extra: Decimal) -> None:
    data = dict(zip(SYSTEMS, values, strict=True))
    before = myoact(data)
    raised = min(Decimal(10), data[system] + extra)
    after = myoact({**data, system: raised})
    assert before.score is not None and after.score is not None
    assert after.score >= before.score
    assert after.extramuscular_sum is not None and before.extramuscular_sum is not None
    assert after.extramuscular_sum - before.extramuscular_sum == raised - data[system]


# --------------------------------------------------------------------------- command line


def test_cli_scores_myoact_end_to_end() -> None:
    rows = [
        visit(0, constitutional=1.5, cutaneous=4, pulmonary=2, cardiac=3),  # 10.5 / 60
        {**visit(0, constitutional=1.5, cutaneous=4, pulmonary=2), "cardiac": None, "cardiac_not_assessed": True},
        {"cutaneous": 2},  # not evaluable
    ]
    out = subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", "myoact", "-"],
        input=json.dumps(rows),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["score"] for r in results] == [0.175, 0.15, None]
    assert [r["extramuscular_sum"] for r in results] == [10.5, 7.5, None]
    assert [r["max_possible"] for r in results] == [60, 50, None]
    assert results[2]["evaluable"] is False and "constitutional" in results[2]["reason"]
    assert all(r["instrument"] == "myoact" for r in results)


def test_cli_rejects_out_of_range_vas_with_one_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", "myoact", "-"],
        input=json.dumps(visit(0, cardiac=12)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "cardiac" in lines[0] and "Traceback" not in out.stderr
