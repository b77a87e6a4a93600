"""Medication instruments: prednisolone equivalents, drug classes, drug-free status."""

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
from immunoreset.instruments.medications import (
    EQUIVALENCE_TABLES,
    DrugClassTable,
    DrugRecord,
    default_drug_table,
    drug_class,
    drug_free,
    prednisolone_equivalent,
    prednisolone_equivalent_mg_per_day,
    prednisolone_equivalent_on_day,
)

# ---------------------------------------------------------------------------------------------
# Prednisolone equivalents
# ---------------------------------------------------------------------------------------------


def ped(drug: str, dose: Any, freq: str = "once_daily", route: str = "oral", **kw: Any) -> Decimal:
    return prednisolone_equivalent_mg_per_day(drug, dose, "mg", route, freq, **kw)


@pytest.mark.parametrize(
    ("drug", "dose", "expected"),
    [
        ("dexamethasone", 10, Fraction(200, 3)),  # P1: 66.67 mg
        ("methylprednisolone", 1000, Fraction(1250)),  # P2 pulse
        ("hydrocortisone", 100, Fraction(25)),  # P3
        ("betamethasone", 4, Fraction(80, 3)),  # P4 BNF 0.75 mg: 26.67
        ("deflazacort", 30, Fraction(25)),  # P5
        ("prednisolone", "7.5", Fraction(15, 2)),  # P6
        ("prednisone", 5, Fraction(5)),  # 1:1
        ("cortisone", 25, Fraction(5)),
        ("triamcinolone", 4, Fraction(5)),
    ],
)
def test_worked_examples(drug: str, dose: Any, expected: Fraction) -> None:
    value = ped(drug, dose)
    assert abs(Fraction(value) - expected) < Fraction(1, 10**30)


@pytest.mark.parametrize("table", ["bnf", "meikle_tyler_1977"])
def test_every_ratio_gives_prednisolone_5(table: str) -> None:
    for drug, equivalent in EQUIVALENCE_TABLES[table].items():
        assert ped(drug, equivalent, table=table) == Decimal(5)  # type: ignore[arg-type]


def test_us_table_betamethasone_and_no_deflazacort() -> None:
    assert abs(Fraction(ped("betamethasone", 4, table="meikle_tyler_1977")) - Fraction(100, 3)) < Fraction(1, 10**30)
    with pytest.raises(InvalidInput) as err:
        ped("deflazacort", 6, table="meikle_tyler_1977")
    assert err.value.field == "drug"


def test_ebmt_washout_boundary_exact() -> None:
    # P7-P9: EBMT 2024 washout <= 10 mg/day prednisone equivalent
    assert ped("dexamethasone", "1.5") == Decimal(10)
    assert ped("dexamethasone", "1.6") > Decimal(10)
    assert ped("methylprednisolone", 8) == Decimal(10)
    assert ped("dexamethasone", "0.75") == Decimal(5)  # DORIS boundary exactly, no float noise


def test_frequencies_units_aliases_and_brands() -> None:
    assert ped("prednisolone", 5, "bid") == 10
    assert ped("prednisolone", 5, "TID") == 15
    assert ped("prednisolone", 5, "q6h") == 20
    assert ped("prednisolone", 10, "every_other_day") == 5
    assert ped("prednisolone", 70, "weekly") == 10
    assert prednisolone_equivalent_mg_per_day("Solu-Medrol", "0.5", "g", "IV", "once") == 625
    assert prednisolone_equivalent_mg_per_day("Decortin H", 5000, "ug", "po", "qd") == 5
    assert prednisolone_equivalent_mg_per_day("methylprednisolone sodium succinate", 40, "mg", "iv", "qd") == 50


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("unobtainium", 5, "mg", "oral", "qd"), "drug"),
        (("hydroxychloroquine", 200, "mg", "oral", "qd"), "drug"),
        (("budesonide", 9, "mg", "oral", "qd"), "drug"),
        (("prednisolone", 1, "mg/kg", "oral", "qd"), "dose unit"),
        (("prednisolone", 5, "mg", "inhaled", "qd"), "route"),
        (("prednisolone", 5, "mg", "oral", "hourly"), "frequency"),
        (("prednisolone", 0, "mg", "oral", "qd"), "dose.value"),
    ],
)
def test_errors_name_the_field(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        prednisolone_equivalent_mg_per_day(*args)
    assert err.value.field == field


def test_instrument_single_sum_and_missing() -> None:
    one = prednisolone_equivalent(
        {"drug": "dexamethasone", "dose": {"value": 4, "unit": "mg"}, "route": "iv", "frequency": "bid"}
    )
    assert one.evaluable and one.factors == {"dexamethasone": "20/3"}
    assert abs(Fraction(one.mg_per_day or 0) - Fraction(160, 3)) < Fraction(1, 10**30)
    both = prednisolone_equivalent(
        {
            "prescriptions": [
                {"drug": "prednisolone", "dose": {"value": 5, "unit": "mg"}, "route": "oral", "frequency": "qd"},
                {"drug": "hydrocortisone", "dose": {"value": 10, "unit": "mg"}, "route": "oral", "frequency": "bid"},
            ]
        }
    )
    assert both.mg_per_day == Decimal(10) and both.drugs == ["prednisolone", "hydrocortisone"]
    missing = prednisolone_equivalent({"drug": "prednisolone"})
    assert not missing.evaluable and "dose" in (missing.reason or "")
    us = prednisolone_equivalent(
        {"drug": "betamethasone", "dose": {"value": "0.6", "unit": "mg"}, "route": "oral", "frequency": "qd"},
        options={"table": "meikle_tyler_1977"},
    )
    assert us.mg_per_day == 5 and "Meikle" in us.source
    with pytest.raises(InvalidInput) as err:
        prednisolone_equivalent({"prescriptions": [{"drug": "x", "dose": {"value": 1, "unit": "mg"}}]})
    assert err.value.field.startswith("prescriptions.0.")


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(sorted(EQUIVALENCE_TABLES["bnf"])),
    st.decimals(min_value=Decimal("0.01"), max_value=2000, places=2),
    st.decimals(min_value=Decimal("0.01"), max_value=2000, places=2),
)
def test_linear_and_monotone(drug: str, a: Decimal, b: Decimal) -> None:
    pa, pb = ped(drug, a), ped(drug, b)
    assert (pa < pb) == (a < b)
    # twice daily is exactly twice once daily; g and mg agree
    assert Fraction(ped(drug, a, "bid")) - 2 * Fraction(pa) == 0 or abs(
        Fraction(ped(drug, a, "bid")) - 2 * Fraction(pa)
    ) < Fraction(1, 10**28)
    assert prednisolone_equivalent_mg_per_day(drug, a / 1000, "g", "oral", "qd") == pa


# ---------------------------------------------------------------------------------------------
# Drug classes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("prednisolone", "glucocorticoid"),
        ("Medrol", "glucocorticoid"),
        ("Plaquenil", "antimalarial"),
        ("hydroxychloroquine sulfate", "antimalarial"),
        ("MMF", "conventional_immunosuppressant"),
        ("CellCept", "conventional_immunosuppressant"),
        ("azathioprine", "conventional_immunosuppressant"),
        ("methotrexate", "conventional_immunosuppressant"),
        ("cyclophosphamide", "conventional_immunosuppressant"),
        ("Tacrolimus", "conventional_immunosuppressant"),
        ("cyclosporine", "conventional_immunosuppressant"),
        ("leflunomide", "conventional_immunosuppressant"),
        ("Benlysta", "biologic"),
        ("anifrolumab", "biologic"),
        ("MabThera", "biologic"),
        ("RoActemra", "biologic"),
        ("IVIG", "biologic"),
        ("baricitinib", "targeted_synthetic"),
        ("nintedanib", "antifibrotic"),
        ("acetaminophen", "not_disease_modifying"),
        ("co-trimoxazole", "not_disease_modifying"),
    ],
)
def test_drug_classes(name: str, cls: str) -> None:
    assert drug_class(name) == cls


def test_table_is_consistent_and_extensible(tmp_path: Path) -> None:
    table = default_drug_table()
    assert len(table) > 80
    for glucocorticoid in EQUIVALENCE_TABLES["bnf"]:
        assert table.classify(glucocorticoid).drug_class == "glucocorticoid"
    with pytest.raises(InvalidInput):
        drug_class("unobtainium")
    bigger = table.extended([DrugRecord("obexelimab", "biologic", ("XmAb5871",))])
    assert bigger.classify("XmAb5871").drug_class == "biologic" and table.lookup("obexelimab") is None
    with pytest.raises(InvalidInput):
        DrugClassTable([DrugRecord("x", "vitamin")])
    with pytest.raises(InvalidInput):
        DrugClassTable([DrugRecord("a", "biologic", ("same",)), DrugRecord("b", "biologic", ("same",))])
    path = tmp_path / "extra.csv"
    path.write_text("name,class,aliases,note\nzetomipzomib,targeted_synthetic,KZR-616,\n")
    assert DrugClassTable.from_csv(path).classify("KZR 616").drug_class == "targeted_synthetic"


# ---------------------------------------------------------------------------------------------
# Drug-free status
# ---------------------------------------------------------------------------------------------


def history(*entries: dict[str, Any], as_of: int = 365, window: int | None = 180, start: int = -365) -> Any:
    return {"as_of_day": as_of, "window_start_day": window, "history_start_day": start, "medications": list(entries)}


def test_overlapping_prescriptions_merge() -> None:
    result = drug_free(
        history(
            {"drug": "mycophenolate mofetil", "start_day": -300, "stop_day": -10},
            {"drug": "CellCept", "start_day": -20, "stop_day": -5},  # overlaps and extends
            {"drug": "belimumab", "start_day": -200, "stop_day": -30},
        )
    )
    status = result.immunosuppressant_free
    assert status is not None and status.free and status.free_since_day == -4
    assert status.last_exposure_day == -5 and status.free_days == 370 and status.free_throughout_window


def test_open_ended_prescription_is_ongoing() -> None:
    result = drug_free(history({"drug": "hydroxychloroquine", "start_day": -365}))
    assert result.drug_free is not None and not result.drug_free.free
    assert result.drug_free.free_since_day is None and result.drug_free.drugs_in_window == ["hydroxychloroquine"]
    assert result.glucocorticoid_free is not None and result.glucocorticoid_free.never_exposed
    assert result.glucocorticoid_free.free_since_day == -365
    # antimalarials do not break immunosuppressant-free status
    assert result.immunosuppressant_free is not None and result.immunosuppressant_free.free


def test_unknown_start_and_future_entries() -> None:
    result = drug_free(
        history(
            {"drug": "prednisolone", "stop_day": 60, "route": "oral"},
            {"drug": "rituximab", "start_day": 400, "stop_day": 400},  # after as_of: ignored
        )
    )
    gc = result.glucocorticoid_free
    assert gc is not None and gc.free_since_day == 61 and gc.free_throughout_window
    assert result.immunosuppressant_free is not None and result.immunosuppressant_free.never_exposed


def test_window_boundaries() -> None:
    on_edge = drug_free(history({"drug": "prednisolone", "start_day": 0, "stop_day": 180}))
    after = drug_free(history({"drug": "prednisolone", "start_day": 0, "stop_day": 179}))
    assert on_edge.glucocorticoid_free is not None and after.glucocorticoid_free is not None
    assert on_edge.glucocorticoid_free.free_throughout_window is False
    assert after.glucocorticoid_free.free_throughout_window is True and after.glucocorticoid_free.free_since_day == 180
    stop_today = drug_free(history({"drug": "prednisolone", "start_day": 0, "stop_day": 365}))
    assert stop_today.glucocorticoid_free is not None and not stop_today.glucocorticoid_free.free


def test_purposes_and_local_routes() -> None:
    entries = (
        {"drug": "tocilizumab", "start_day": 3, "stop_day": 3, "purpose": "car_t_toxicity"},
        {"drug": "IVIG", "start_day": 200, "stop_day": 200, "purpose": "replacement"},
        {"drug": "cyclophosphamide", "start_day": -5, "stop_day": -3, "purpose": "lymphodepletion"},
        {"drug": "betamethasone", "start_day": 200, "route": "topical"},
        {"drug": "paracetamol", "start_day": 0},
    )
    result = drug_free(history(*entries))
    for status in (result.glucocorticoid_free, result.immunosuppressant_free, result.drug_free):
        assert status is not None and status.free and status.never_exposed
    strict = drug_free(history(*entries), options={"count_all_purposes": True, "count_local_glucocorticoids": True})
    assert strict.glucocorticoid_free is not None and not strict.glucocorticoid_free.free
    assert strict.immunosuppressant_free is not None and strict.immunosuppressant_free.free_since_day == 201


def test_glucocorticoid_dose_threshold() -> None:
    low = {
        "drug": "prednisolone",
        "start_day": 0,
        "dose": {"value": 5, "unit": "mg"},
        "route": "oral",
        "frequency": "qd",
    }
    high = {**low, "dose": {"value": "5.5", "unit": "mg"}}
    opts = {"glucocorticoid_max_mg_per_day": 5}
    assert drug_free(history(low), options=opts).glucocorticoid_free.free  # type: ignore[union-attr]
    assert not drug_free(history(high), options=opts).glucocorticoid_free.free  # type: ignore[union-attr]
    depot = {
        "drug": "triamcinolone",
        "start_day": 0,
        "dose": {"value": 40, "unit": "mg"},
        "route": "im",
        "frequency": "once",
    }
    assert not drug_free(history(depot), options=opts).glucocorticoid_free.free  # type: ignore[union-attr]
    no_dose = drug_free(history({"drug": "prednisolone", "start_day": 0}), options=opts)
    assert not no_dose.evaluable and no_dose.glucocorticoid_free is None and "medications.0" in (no_dose.reason or "")


def test_unknown_drug_needs_class() -> None:
    with pytest.raises(InvalidInput) as err:
        drug_free(history({"drug": "obexelimab", "start_day": 0}))
    assert err.value.field == "medications.0.drug"
    ok = drug_free(history({"drug": "obexelimab", "start_day": 0, "drug_class": "biologic"}))
    assert ok.classes == {"obexelimab": "biologic"}
    assert ok.immunosuppressant_free is not None and not ok.immunosuppressant_free.free
    with pytest.raises(InvalidInput):
        drug_free(history({"drug": "prednisolone", "start_day": 10, "stop_day": 5}))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-400, 400), st.integers(0, 200)),
        max_size=6,
    ),
    st.integers(-100, 400),
)
def test_free_since_matches_day_by_day(spans: list[tuple[int, int]], as_of: int) -> None:
    meds = [{"drug": "azathioprine", "start_day": s, "stop_day": s + n} for s, n in spans]
    status = drug_free({"as_of_day": as_of, "history_start_day": -500, "medications": meds}).immunosuppressant_free
    assert status is not None
    exposed = {d for s, n in spans for d in range(s, s + n + 1) if d <= as_of}
    assert status.free == (as_of not in exposed)
    if status.free:
        expected = max(exposed) + 1 if exposed else -500
        assert status.free_since_day == expected
        assert all(d not in exposed for d in range(expected, as_of + 1))


# ---------------------------------------------------------------------------------------------
# Registry and CLI
# ---------------------------------------------------------------------------------------------


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_registered() -> None:
    for name in ("prednisolone_equivalent", "drug_free"):
        assert instruments.get(name).source


def test_cli_prednisolone_equivalent_csv(tmp_path: Path) -> None:
    path = tmp_path / "steroids.csv"
    path.write_text(
        "drug,dose.value,dose.unit,route,frequency\n"
        "dexamethasone,1.5,mg,oral,qd\n"
        "methylprednisolone,1,g,iv,once\n"
        "betamethasone,0.6,mg,oral,qd\n"
    )
    out = run("score", "prednisolone_equivalent", str(path))
    assert out.returncode == 0, out.stderr
    assert [r["mg_per_day"] for r in json.loads(out.stdout)] == [10, 1250, 4]
    us = run("score", "prednisolone_equivalent", str(path), "--option", "table=meikle_tyler_1977")
    assert json.loads(us.stdout)[2]["mg_per_day"] == 5


def test_cli_drug_free_json_and_errors() -> None:
    data = history({"drug": "MMF", "start_day": -100, "stop_day": -3}, {"drug": "prednisone", "start_day": -100})
    out = run("score", "drug_free", "-", stdin=json.dumps(data))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)[0]
    assert result["immunosuppressant_free"]["free_since_day"] == -2 and not result["glucocorticoid_free"]["free"]
    bad = run(
        "score",
        "prednisolone_equivalent",
        "-",
        stdin=json.dumps(
            {"drug": "unobtainium", "dose": {"value": 1, "unit": "mg"}, "route": "oral", "frequency": "qd"}
        ),
    )
    assert bad.returncode == 2 and "'drug'" in bad.stderr and "unobtainium" in bad.stderr
    bad_day = run("score", "drug_free", "-", stdin=json.dumps({"medications": []}))
    assert bad_day.returncode == 2 and "as_of_day" in bad_day.stderr


def test_prednisolone_equivalent_on_day_from_history() -> None:
    taper = [
        {
            "drug": "prednisolone",
            "start_day": -60,
            "stop_day": -1,
            "dose": {"value": 10, "unit": "mg"},
            "route": "oral",
            "frequency": "qd",
        },
        {
            "drug": "prednisolone",
            "start_day": 0,
            "stop_day": 29,
            "dose": {"value": 5, "unit": "mg"},
            "route": "oral",
            "frequency": "qd",
        },
        {
            "drug": "methylprednisolone",
            "start_day": 3,
            "stop_day": 3,
            "dose": {"value": 1, "unit": "g"},
            "route": "iv",
            "frequency": "once",
            "purpose": "car_t_toxicity",
        },
        {
            "drug": "hydrocortisone",
            "start_day": 10,
            "stop_day": 12,
            "dose": {"value": 10, "unit": "mg"},
            "route": "oral",
            "frequency": "bid",
        },
        {"drug": "betamethasone", "start_day": 0, "route": "topical"},
        {"drug": "hydroxychloroquine", "start_day": -100},
    ]
    assert prednisolone_equivalent_on_day(taper, -1) == 10
    assert prednisolone_equivalent_on_day(taper, 3) == 5  # the CRS pulse is not disease treatment
    assert prednisolone_equivalent_on_day(taper, 3, count_all_purposes=True) == 1255
    assert prednisolone_equivalent_on_day(taper, 11) == 10  # 5 + hydrocortisone 20 mg/day = 5
    assert prednisolone_equivalent_on_day(taper, 30) == 0
    unknown = [{"drug": "prednisone", "start_day": 0}]
    assert prednisolone_equivalent_on_day(unknown, 5) is None and prednisolone_equivalent_on_day(unknown, -5) == 0


# --- review #17.3: topical calcineurin inhibitors; dapsone, pimecrolimus, fludrocortisone


@pytest.mark.parametrize(
    ("drug", "route", "free"),
    [
        ("Protopic", "topical", True),  # tacrolimus ointment: local, like a topical glucocorticoid
        ("pimecrolimus", "topical", True),
        ("ciclosporin", "ophthalmic", True),  # eye drops
        ("tacrolimus", "oral", False),
        ("tacrolimus", None, False),  # no route: counted as systemic (conservative)
        ("methotrexate", "topical", False),  # the local rule is for calcineurin inhibitors only
    ],
)
def test_local_calcineurin_inhibitors_follow_the_local_glucocorticoid_rule(
    drug: str, route: str | None, free: bool
) -> None:
    entry = {"drug": drug, "start_day": -30, **({"route": route} if route else {})}
    result = drug_free({"as_of_day": 100, "medications": [entry]})
    assert result.immunosuppressant_free is not None and result.immunosuppressant_free.free is free
    counted = drug_free(
        {"as_of_day": 100, "medications": [entry]}, options={"count_local_calcineurin_inhibitors": True}
    )
    assert counted.immunosuppressant_free is not None and counted.immunosuppressant_free.free is False


def test_dapsone_pimecrolimus_and_fludrocortisone_are_known() -> None:
    history = [{"drug": d, "start_day": 0} for d in ("dapsone", "pimecrolimus", "fludrocortisone")]
    result = drug_free({"as_of_day": 10, "medications": history})
    assert result.classes == {
        "dapsone": "antimalarial",  # immunomodulator: breaks drug-free, not immunosuppressant-free
        "pimecrolimus": "conventional_immunosuppressant",
        "fludrocortisone": "not_disease_modifying",  # a mineralocorticoid, not a glucocorticoid
    }
    assert result.glucocorticoid_free is not None and result.glucocorticoid_free.free
    assert result.drug_free is not None and not result.drug_free.free
