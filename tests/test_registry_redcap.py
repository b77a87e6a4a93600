"""REDCap import: the sample project imports completely; every problem of a malformed export is reported."""

from __future__ import annotations

import csv
import io
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immunoreset.errors import InvalidInput
from immunoreset.registry import redcap as rc
from immunoreset.registry.records import StudyRecord
from immunoreset.registry.vocabulary import code as vocabulary_code
from immunoreset.units import convert

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "redcap"
EXPORT, DICTIONARY, EVENTS = SAMPLE / "export.csv", SAMPLE / "data_dictionary.csv", SAMPLE / "events.csv"
MAPPING = rc.sample_mapping_path()

pytestmark = pytest.mark.skipif(not EXPORT.exists(), reason=f"sample REDCap project not found at {SAMPLE}")

BOOKKEEPING = {"record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"}


@pytest.fixture(scope="module")
def study() -> StudyRecord:
    return rc.read_redcap_export(EXPORT, DICTIONARY, rc.load_mapping(MAPPING, DICTIONARY))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with EXPORT.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _lines() -> list[str]:
    return EXPORT.read_text(encoding="utf-8").splitlines(keepends=True)


def _header() -> list[str]:
    return next(csv.reader(io.StringIO(_lines()[0])))


def _set_cell(line: str, column: str, value: str) -> str:
    cells = next(csv.reader(io.StringIO(line)))
    cells[_header().index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "export.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _line_of(record: str, event: str, instrument: str = "", instance: str = "") -> int:
    """0-based index in _lines() of a row."""
    for i, line in enumerate(_lines()):
        cells = next(csv.reader(io.StringIO(line)))
        if cells[:4] == [record, event, instrument, instance]:
            return i
    raise KeyError((record, event, instrument, instance))


# --------------------------------------------------------------------------------------------------
# The sample project


def test_sample_counts(study: StudyRecord) -> None:
    assert study.code == "CART-AI-SAMPLE"
    assert [(s.code, s.name) for s in study.sites] == [("1", "Erlangen"), ("2", "Hamburg")]
    assert len(study.patients) == 15
    assert Counter(p.disease for p in study.patients) == {"SLE": 8, "IIM": 3, "SSc": 4}
    assert Counter(p.site for p in study.patients) == {"1": 10, "2": 5}
    assert sum(len(p.medications) for p in study.patients) == 74
    assert sum(len(p.adverse_events) for p in study.patients) == 40
    visits = [v for p in study.patients for v in p.visits]
    assert Counter(v.kind for v in visits) == {"scheduled": 171, "daily": 180}
    crs = sum(1 for v in visits for o in v.observations if o.code == "crs_temperature")
    ice = sum(1 for v in visits if v.kind == "daily" and any(o.code == "icans_grade_reported" for o in v.observations))
    assert (crs, ice) == (180, 180)
    # study days agree with the dates; the README's maxima of the reported grades
    p7 = study.patient("7")
    assert max(o.value for v in p7.visits for o in v.observations if o.code == "crs_grade_reported") == 2
    p12 = study.patient("12")
    assert max(o.value for v in p12.visits for o in v.observations if o.code == "icans_grade_reported") == 1
    p1 = study.patient("1")
    assert p1.infusion is not None and p1.infusion.date is not None
    for v in p1.visits:
        if v.date is not None:
            assert v.study_day == (v.date - p1.infusion.date).days
    assert [(ld.agent, ld.dose_mg_per_m2, ld.first_day, ld.last_day) for ld in p1.lymphodepletion] == [
        ("fludarabine", Decimal(25), -5, -3),
        ("cyclophosphamide", Decimal(1000), -3, -3),
    ]
    assert p1.visit("screening").visitnum == 1 and p1.visit("month_24").visitnum == 13
    assert p1.visit("daily_d3").kind == "daily" and p1.visit("daily_d3").study_day == 3


def _count_cells(rows: list[dict[str, str]], mapping: rc.RedcapMapping) -> Counter[str]:
    """Non-empty data cells of the export by destination (bookkeeping and _complete columns excluded)."""
    dictionary = rc.read_dictionary(DICTIONARY)
    forms = {f.form for f in dictionary.values()}
    unit_fields = {o.unit_field for o in mapping.observations.values() if o.unit_field}
    day_fields = {d.day_field for d in mapping.daily.values()}
    record_fields = mapping.record_fields()
    med = mapping.medications
    ae = mapping.adverse_events
    assert med is not None and ae is not None
    count: Counter[str] = Counter()
    for row in rows:
        for column, value in row.items():
            if not value or column in BOOKKEEPING or (column.endswith("_complete") and column[:-9] in forms):
                continue
            name = column.split("___")[0]
            if name in record_fields:
                count[record_fields[name][0].split(".")[0].split("[")[0]] += 1
            elif column == mapping.visits.date_field:
                count["visit_date"] += 1
            elif name in mapping.observations:
                count["observation"] += 1
            elif name in unit_fields:
                count["unit"] += 1
            elif name in day_fields:
                count["daily_day"] += 1
            elif dictionary[name].form == med.instrument:
                if "___" in column:
                    count["medication"] += value == "1"  # an unticked box is the absence of that indication
                else:
                    count["medication"] += 1
            elif dictionary[name].form == ae.instrument:
                count["adverse_event"] += 1
            else:
                count["unaccounted:" + column] += 1
    return count


def _count_carried(study: StudyRecord, mapping: rc.RedcapMapping) -> Counter[str]:
    """Values carried by the StudyRecord, by destination."""
    count: Counter[str] = Counter()
    unit_codes = {o.code for o in mapping.observations.values() if o.unit_field}
    ld_fields = {ld.agent: 2 + (ld.last_day is not None) for ld in mapping.lymphodepletion}
    for p in study.patients:
        count["patient"] += sum(
            getattr(p, a) is not None for a in ("site", "disease", "sex", "birth_year", "weight_kg", "height_cm")
        )
        if p.infusion is not None:
            count["infusion"] += sum(
                getattr(p.infusion, a) is not None for a in ("product", "dose_cells_per_kg", "date")
            )
        for ld in p.lymphodepletion:
            count["lymphodepletion"] += ld_fields[ld.agent] - (ld.dose_mg_per_m2 is None)
        instances: set[str] = set()
        for v in p.visits:
            count["visit_date"] += v.date is not None
            count["observation"] += len(v.observations)
            count["unit"] += sum(o.code in unit_codes for o in v.observations)
            for o in v.observations:
                assert o.source is not None
                if v.kind == "daily":
                    instances.add(o.source.rsplit(":", 1)[0])
        count["daily_day"] += len(instances)
        for m in p.medications:
            attrs = ("drug", "dose", "unit", "route", "frequency", "start_date", "stop_date")
            count["medication"] += sum(getattr(m, a) is not None for a in attrs)
            count["medication"] += len(m.indication.split("; ")) if m.indication else 0
        for a in p.adverse_events:
            attrs = ("term", "grade", "onset_date", "resolution_date", "serious")
            count["adverse_event"] += sum(getattr(a, x) is not None for x in attrs)
    return count


def test_every_non_empty_cell_lands_in_the_study_record(study: StudyRecord, rows: list[dict[str, str]]) -> None:
    mapping = rc.load_mapping(MAPPING)
    cells = _count_cells(rows, mapping)
    carried = _count_carried(study, mapping)
    assert not [k for k in cells if k.startswith("unaccounted")]
    assert cells == carried
    assert sum(cells.values()) == 9555  # 9555 values; unticked checkboxes (0) are not counted


def test_daily_assessments_land_on_their_study_day(study: StudyRecord, rows: list[dict[str, str]]) -> None:
    for row in rows:
        inst = row["redcap_repeat_instrument"]
        if inst not in ("crs_daily", "icans_daily"):
            continue
        day = row["crs_study_day"] or row["icans_study_day"]
        visit = study.patient(row["record_id"]).visit(f"daily_d{day}")
        prefix = f"redcap:{row['redcap_event_name']}:{inst}:{row['redcap_repeat_instance']}:"
        assert any((o.source or "").startswith(prefix) for o in visit.observations)


def test_crp_of_site_2_is_kept_in_mg_per_dl_and_converts_exactly(
    study: StudyRecord, rows: list[dict[str, str]]
) -> None:
    site2 = {p.code for p in study.patients if p.site == "2"}
    assert site2 == {"6", "9", "11", "13", "15"}
    seen = 0
    for p in study.patients:
        for v in p.visits:
            for o in v.observations:
                if o.code == "crp":
                    assert o.unit == ("mg/dL" if p.code in site2 else "mg/L")
                    seen += 1
    assert seen == sum(1 for r in rows if r["crp"])
    row = next(r for r in rows if r["record_id"] == "6" and r["redcap_event_name"] == "baseline_arm_1")
    crp = next(o for o in study.patient("6").visit("baseline").observations if o.code == "crp")
    assert crp.value == Decimal(row["crp"]) and row["crp_unit"] == "2"
    assert crp.value is not None
    assert convert(crp.value, crp.unit, "mg/L") == Decimal(row["crp"]) * 10


def test_coded_checkbox_and_limit_fields(study: StudyRecord) -> None:
    p7 = study.patient("7")
    hypotension = {o.value_text for v in p7.visits for o in v.observations if o.code == "crs_hypotension"}
    assert hypotension == {"none", "not_requiring_vasopressors"}
    consciousness = {
        o.value_text
        for p in study.patients
        for v in p.visits
        for o in v.observations
        if o.code == "icans_consciousness"
    }
    assert consciousness == {"alert", "awakens_spontaneously"}
    p1 = study.patient("1")
    meds = {m.drug: m for m in p1.medications}
    assert meds["Mycophenolate mofetil"].indication == "autoimmune disease"
    assert meds["Aciclovir"].indication == "supportive care or prophylaxis"
    assert meds["Mycophenolate mofetil"].key == "medications:baseline_arm_1:1"
    baseline = {o.code: o for o in p1.visit("baseline").observations}
    assert baseline["c3_lln"].value == Decimal("0.90") and baseline["anti_dsdna_uln"].value == 15
    assert baseline["sledai_arthritis"].value == 1 and baseline["sledai_seizure"].value == 0
    assert baseline["urine_casts"].value_text == "red_cell"
    assert baseline["car_t_cells"].value == 0 and baseline["car_t_cells"].method == "flow cytometry"
    cd19 = {
        (p.code, o.value) for p in study.patients for v in p.visits for o in v.observations if o.code == "cd19_b_cells"
    }
    assert any(value == 0 for _, value in cd19)  # below LOQ kept as 0
    site2 = study.patient("6").visit("baseline").observations
    assert {o.code: o.value for o in site2}["anti_dsdna_uln"] == 100
    crs_ae = [a for p in study.patients for a in p.adverse_events if a.term == "Cytokine release syndrome"]
    assert crs_ae and {a.grading for a in crs_ae} == {"ASTCT"}
    assert {a.grading for p in study.patients for a in p.adverse_events if a.term == "Anemia"} == {"CTCAE v5.0"}


def test_two_ticked_indications_are_joined(tmp_path: Path) -> None:
    lines = _lines()
    i = _line_of("1", "baseline_arm_1", "medications", "4")
    lines[i] = _set_cell(lines[i], "med_indication___3", "1")
    study = rc.read_redcap_export(_write(tmp_path, lines), DICTIONARY, MAPPING)
    med = next(m for m in study.patient("1").medications if m.key == "medications:baseline_arm_1:4")
    assert med.indication == "supportive care or prophylaxis; CAR-T toxicity"


def test_reimport_is_identical_and_keys_are_stable(study: StudyRecord) -> None:
    again = rc.read_redcap_export(EXPORT, DICTIONARY, MAPPING, events_csv=EVENTS)
    assert again == study


# --------------------------------------------------------------------------------------------------
# Problems


def test_malformed_export_lists_every_problem_with_row_and_column(tmp_path: Path) -> None:
    lines = _lines()
    a = _line_of("1", "screening_arm_1")
    b = _line_of("2", "baseline_arm_1")
    c = _line_of("3", "day_7_arm_1")
    d = _line_of("4", "baseline_arm_1", "medications", "1")
    e = _line_of("5", "month_3_arm_1")
    lines[a] = _set_cell(lines[a], "crp_unit", "3")  # wrong unit code
    lines[b] = _set_cell(lines[b], "hemoglobin", "45")  # above the vocabulary's 30 g/dL
    lines[c] = _set_cell(lines[c], "redcap_event_name", "week_1_arm_1")  # unknown event
    lines[e] = _set_cell(lines[e], "visit_date", "2022-13-01")  # impossible date
    lines[e] = _set_cell(lines[e], "wbc", "4,2")  # decimal comma
    lines.append(lines[d])  # duplicate row
    path = _write(tmp_path, lines)
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(path, DICTIONARY, MAPPING)
    found = {(p.location, p.field) for p in info.value.problems}
    assert found == {
        (f"export.csv row {a + 1}, column crp_unit", "crp_unit"),
        (f"export.csv row {b + 1}, column hemoglobin", "hemoglobin"),
        (f"export.csv row {c + 1}, column redcap_event_name", "redcap_event_name"),
        (f"export.csv row {e + 1}, column visit_date", "visit_date"),
        (f"export.csv row {e + 1}, column wbc", "wbc"),
        (f"export.csv row {len(lines)}, column record_id", "record_id"),
    }
    by_field = {p.field: p for p in info.value.problems}
    assert "1 (mg/L), 2 (mg/dL)" in by_field["crp_unit"].expected
    assert "[0, 30] g/dL" in by_field["hemoglobin"].expected
    assert "screening_arm_1" in by_field["redcap_event_name"].expected
    assert f"first at row {d + 1}" in by_field["record_id"].expected
    assert "row" in str(info.value)


def test_record_without_enrollment_and_unknown_column(tmp_path: Path) -> None:
    lines = _lines()
    i = _line_of("8", "screening_arm_1")
    for column in ("site", "disease", "sex", "birth_year", "weight_kg", "height_cm"):
        lines[i] = _set_cell(lines[i], column, "")
    lines[0] = lines[0].replace("temperature,labs_complete", "temperatur,labs_complete")
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(_write(tmp_path, lines), DICTIONARY, MAPPING)
    found = {(p.location, p.field) for p in info.value.problems}
    assert ("export.csv row 1, column temperatur", "temperatur") in found
    assert (f"export.csv row {_line_of('8', 'screening_arm_1') + 1}, column record_id", "record_id") in found


def test_unit_without_value_stop_before_start_and_instance_problems(tmp_path: Path) -> None:
    lines = _lines()
    a = _line_of("1", "baseline_arm_1")
    b = _line_of("1", "baseline_arm_1", "medications", "1")
    c = _line_of("1", "infusion_arm_1", "crs_daily", "2")
    lines[a] = _set_cell(lines[a], "crp", "")
    lines[b] = _set_cell(lines[b], "med_stop_date", "2017-01-01")
    lines[c] = _set_cell(lines[c], "crs_study_day", "0")  # same day as instance 1
    lines[c] = _set_cell(lines[c], "wbc", "5")  # labs field on a crs_daily row
    e = _line_of("1", "infusion_arm_1", "adverse_events", "1")
    lines[e] = _set_cell(lines[e], "ae_resolution_date", "2021-03-16")  # onset 2021-03-17
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(_write(tmp_path, lines), DICTIONARY, MAPPING)
    found = {p.location for p in info.value.problems}
    assert found == {
        f"export.csv row {a + 1}, column crp_unit",
        f"export.csv row {b + 1}, column med_stop_date",
        f"export.csv row {c + 1}, column crs_study_day",
        f"export.csv row {c + 1}, column wbc",
        f"export.csv row {e + 1}, column ae_resolution_date",
    }
    expected = {p.location: p.expected for p in info.value.problems}
    assert expected[f"export.csv row {e + 1}, column ae_resolution_date"].startswith(
        "a resolution date on or after the onset date 2021-03-17"
    )


def test_lymphodepletion_days_out_of_order_are_located(tmp_path: Path) -> None:
    lines = _lines()
    i = _line_of("2", "infusion_arm_1")
    lines[i] = _set_cell(lines[i], "fludarabine_first_day", "-2")  # after its last day (-3)
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(_write(tmp_path, lines), DICTIONARY, MAPPING)
    (problem,) = info.value.problems
    assert problem.location is not None and f"row {i + 1}" in problem.location
    assert "fludarabine_first_day" in problem.location


# --------------------------------------------------------------------------------------------------
# Mapping validation


def _mapping_variant(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_sample_mapping_fits_the_dictionary() -> None:
    mapping = rc.load_mapping(MAPPING, DICTIONARY)
    assert mapping.study.code == "CART-AI-SAMPLE"
    assert mapping.check(rc.read_dictionary(DICTIONARY)) == []


def test_mapping_problems_are_all_reported(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        obs = data["observations"]
        obs["no_such_field"] = {"code": "wbc", "unit": "10*9/L"}  # unknown field
        obs["urine_casts"]["choices"] = {"0": "none", "1": "hyaline_only", "2": "heme_granular", "7": "red_cell"}
        obs["crs_oxygen"]["choices"]["3"] = "ventilator"  # not a vocabulary choice
        obs["crp"]["unit_choices"]["2"] = "U/L"  # not convertible to mg/L
        obs["anc"]["code"] = "neutrophils"  # not a vocabulary code
        obs["ck"].pop("unit")  # no unit
        del obs["ldh"]  # unmapped field
        data["medications"]["start_date"] = {"field": "med_dose"}  # number field as a date
        data["patient"]["sex"]["choices"] = {"1": "F", "2": "X"}

    with pytest.raises(InvalidInput) as info:
        rc.load_mapping(_mapping_variant(tmp_path, edit), DICTIONARY)
    where = [p.field for p in info.value.problems]
    text = str(info.value)
    assert "observations.no_such_field" in where
    assert "observations.urine_casts" in where and "missing" in text  # code 3 untranslated, 7 unknown
    assert "ventilator" in text
    assert "observations.crp.unit_choices" in where
    assert "observations.anc.code" in where
    assert "observations.ck.unit" in where
    assert any(p.field == "fields" and "ldh" in str(p.value) for p in info.value.problems)
    assert "medications.start_date" in where
    assert "patient.sex" in where
    assert all(p.location == "mapping.yaml" for p in info.value.problems)


def test_mapping_structure_errors(tmp_path: Path) -> None:
    path = _mapping_variant(tmp_path, lambda d: d.update(unexpected_key=1, study={"name": "x"}))
    with pytest.raises(InvalidInput) as info:
        rc.load_mapping(path)
    fields = {p.field for p in info.value.problems}
    assert {"unexpected_key", "study.code"} <= fields


# --------------------------------------------------------------------------------------------------
# PyCap


_API_HEADER = (
    "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,"
    "text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,"
    "branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,"
    "field_annotation\n"
)


class FakeProject:
    """Stands in for redcap.Project: returns the sample files as the API would."""

    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def export_records(self, **kwargs: Any) -> str:
        self.calls.append(("export_records", kwargs))
        return EXPORT.read_text(encoding="utf-8")

    def export_metadata(self, **kwargs: Any) -> str:
        self.calls.append(("export_metadata", kwargs))
        body = DICTIONARY.read_text(encoding="utf-8").split("\n", 1)[1]
        return _API_HEADER + body


def test_pycap_path_funnels_into_the_same_parser(monkeypatch: pytest.MonkeyPatch, study: StudyRecord) -> None:
    import redcap.project

    monkeypatch.setattr(redcap.project, "Project", FakeProject)
    FakeProject.calls = []
    got = rc.read_redcap_api("https://redcap.example.org/api/", "0123456789ABCDEF", MAPPING)
    assert got == study
    assert FakeProject.calls == [
        ("export_records", {"format_type": "csv", "raw_or_label": "raw"}),
        ("export_metadata", {"format_type": "csv"}),
    ]


# --------------------------------------------------------------------------------------------------
# Random numeric cells


def _one_record_lines() -> list[str]:
    lines = _lines()
    return [lines[0], *(line for line in lines[1:] if line.startswith("1,"))]


_ONE = _one_record_lines()
_ROW = next(i for i, line in enumerate(_ONE) if line.startswith("1,baseline_arm_1,,"))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.decimals(min_value=-50, max_value=80, places=1, allow_nan=False, allow_infinity=False))
def test_random_hemoglobin_cells(tmp_path: Path, value: Decimal) -> None:
    lines = list(_ONE)
    lines[_ROW] = _set_cell(lines[_ROW], "hemoglobin", str(value))
    path = _write(tmp_path, lines)
    if 0 <= value <= 30:
        got = rc.read_redcap_export(path, DICTIONARY, MAPPING)
        obs = {o.code: o for o in got.patient("1").visit("baseline").observations}
        assert obs["hemoglobin"].value == value and obs["hemoglobin"].unit == "g/dL"
    else:
        with pytest.raises(InvalidInput) as info:
            rc.read_redcap_export(path, DICTIONARY, MAPPING)
        assert [p.location for p in info.value.problems] == [f"export.csv row {_ROW + 1}, column hemoglobin"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="0123456789.,-eE xa", min_size=1, max_size=6))
def test_random_text_in_a_number_field(tmp_path: Path, text: str) -> None:
    text = text.strip()
    lines = list(_ONE)
    lines[_ROW] = _set_cell(lines[_ROW], "alt", text)
    path = _write(tmp_path, lines)
    is_number = bool(text) and rc._NUMBER.match(text) is not None
    alt_high = vocabulary_code("alt").high
    assert alt_high is not None
    if not text or (is_number and 0 <= Decimal(text) <= alt_high):
        rc.read_redcap_export(path, DICTIONARY, MAPPING)
    else:
        with pytest.raises(InvalidInput) as info:
            rc.read_redcap_export(path, DICTIONARY, MAPPING)
        assert [p.location for p in info.value.problems] == [f"export.csv row {_ROW + 1}, column alt"]
