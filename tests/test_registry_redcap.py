"""REDCap import: the shipped sample project imports completely and gives back the study it was made from;
every problem of a malformed export is reported with its row and column; empty saved repeating instances
are skipped and counted."""

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

SAMPLE = rc.sample_project_path()
EXPORT, DICTIONARY, EVENTS = SAMPLE / "export.csv", SAMPLE / "data_dictionary.csv", SAMPLE / "events.csv"
MAPPING = rc.sample_mapping_path()
BOOKKEEPING = {"record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", rc.DAG_COLUMN}
FIRST, INFUSION = "day_minus_7_arm_1", "day_0_infusion_arm_1"


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


def _first_record(disease_code: str) -> str:
    """The first record of a disease (REDCap code 1 SLE, 2 SSc, 3 IIM)."""
    for row in csv.DictReader(io.StringIO("".join(_lines()))):
        if row["disease"].strip() == disease_code:
            return row["record_id"]
    raise KeyError(disease_code)


def _instances(rows: list[dict[str, str]], instrument: str) -> list[dict[str, str]]:
    return [r for r in rows if r["redcap_repeat_instrument"] == instrument]


def _empty(row: dict[str, str]) -> bool:
    return all(v in ("", "0") for k, v in row.items() if k not in BOOKKEEPING)


# --------------------------------------------------------------------------------------------------
# The sample project


def test_sample_counts_follow_the_export(study: StudyRecord, rows: list[dict[str, str]]) -> None:
    assert study.code == "CART-AI-SAMPLE"
    assert [(s.code, s.name) for s in study.sites] == [("1", "Erlangen"), ("2", "Hamburg")]
    records = list(dict.fromkeys(r["record_id"] for r in rows))
    assert [p.code for p in study.patients] == records
    assert Counter(p.disease for p in study.patients) == {"SLE": 8, "IIM": 3, "SSc": 4}  # erlangen2024
    sites = {r["record_id"]: r["site"] for r in rows if r["site"]}
    assert {p.code: p.site for p in study.patients} == sites
    meds = [r for r in _instances(rows, "medications") if not _empty(r)]
    aes = [r for r in _instances(rows, "adverse_events") if not _empty(r)]
    assert sum(len(p.medications) for p in study.patients) == len(meds) > 0
    assert sum(len(p.adverse_events) for p in study.patients) == len(aes) > 0
    visits = [v for p in study.patients for v in p.visits]
    scheduled = [r for r in rows if not r["redcap_repeat_instrument"] and r["visit_date"]]
    assert Counter(v.kind for v in visits) == {
        "scheduled": len(scheduled),
        "daily": len(_instances(rows, "daily_crs_icans")),
    }
    first = study.patients[0]
    assert first.infusion is not None and first.infusion.date is not None
    for v in first.visits:
        if v.date is not None:
            assert v.study_day == (v.date - first.infusion.date).days
    assert [(ld.agent, ld.dose_mg_per_m2, ld.first_day, ld.last_day) for ld in first.lymphodepletion] == [
        ("fludarabine", Decimal(25), -5, -3),  # erlangen2024: 25 mg/m² on days -5..-3, cyclophosphamide day -3
        ("cyclophosphamide", Decimal(1000), -3, -3),
    ]
    events = list(csv.DictReader(EVENTS.open(encoding="utf-8")))
    assert first.visit("day -7").visitnum == 1
    assert first.visit(f"day {events[-1]['day_offset']}").visitnum == len(events)
    assert first.visit("day 3 (daily)").kind == "daily" and first.visit("day 3 (daily)").study_day == 3


def test_the_import_gives_back_the_study_the_sample_was_made_from(study: StudyRecord, sample_truth: Any) -> None:
    truth, _design, _edits = sample_truth
    for expected in truth.patients:
        got = study.patient(expected.code)
        assert (got.site, got.disease, got.sex, got.birth_year, got.weight_kg, got.height_cm) == (
            expected.site, expected.disease, expected.sex, expected.birth_year, expected.weight_kg, expected.height_cm
        )  # fmt: skip
        assert {v.label: (v.study_day, v.kind, v.visitnum) for v in got.visits} == {
            v.label: (v.study_day, v.kind, v.visitnum) for v in expected.visits
        }
        for visit in expected.visits:
            imported = {o.code: o for o in got.visit(visit.label).observations}
            assert set(imported) == {o.code for o in visit.observations}, (expected.code, visit.label)
            for o in visit.observations:
                i = imported[o.code]
                assert i.value_text == o.value_text and i.method == o.method
                if o.value is not None:  # exact, also where site 2 reports in other units
                    assert i.value is not None and convert(i.value, i.unit, o.unit) == o.value
        meds = lambda p: sorted(  # noqa: E731
            (m.drug, m.dose, m.unit, m.route, m.frequency, m.start_day, m.stop_day, m.indication) for m in p.medications
        )
        assert meds(got) == meds(expected)
        aes = lambda p: sorted(  # noqa: E731
            (a.term, a.grade, a.grading, a.onset_day, a.resolution_day, a.serious) for a in p.adverse_events
        )
        assert aes(got) == aes(expected)


def _count_cells(rows: list[dict[str, str]], mapping: rc.RedcapMapping) -> Counter[str]:
    """Non-empty data cells of the export by destination (bookkeeping and _complete columns excluded)."""
    dictionary = rc.read_dictionary(DICTIONARY)
    forms = {f.form for f in dictionary.values()}
    unit_fields = {o.unit_field for o in mapping.observations.values() if o.unit_field}
    day_fields = {d.day_field for d in mapping.visit_instruments().values()}
    record_fields = mapping.record_fields()
    med = mapping.medications
    ae = mapping.adverse_events
    assert med is not None and ae is not None
    count: Counter[str] = Counter()
    for row in rows:
        if row["redcap_repeat_instrument"] and _empty(row):
            continue  # an empty saved instance: skipped by the importer, nothing in it
        units_used = {
            o.unit_field for name, o in mapping.observations.items() if o.unit_field and row.get(name, "").strip()
        }
        for column, value in row.items():
            value = value.strip()
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
                count["unit"] += name in units_used  # a shared unit field counts once per row
            elif name in day_fields:
                count["instance_day"] += 1
            elif dictionary[name].form == med.instrument:
                count["medication"] += value == "1" if "___" in column else 1  # an unticked box is no indication
            elif dictionary[name].form == ae.instrument:
                count["adverse_event"] += value == "1" if "___" in column else 1  # an unticked box: no criterion
            else:
                count["unaccounted:" + column] += 1
    return count


def _count_carried(study: StudyRecord, mapping: rc.RedcapMapping) -> Counter[str]:
    """Values carried by the StudyRecord, by destination."""
    count: Counter[str] = Counter()
    unit_fields = {name: o.unit_field for name, o in mapping.observations.items() if o.unit_field}
    for p in study.patients:
        count["patient"] += sum(
            getattr(p, a) is not None
            for a in (
                "site", "disease", "sex", "birth_year", "weight_kg", "height_cm", "race", "ethnicity", "age_years",
                "consent_date", "disposition", "disposition_date", "disposition_reason",
            )
        )  # fmt: skip
        if p.infusion is not None:
            attrs = ("product", "target_antigen", "dose_cells_per_kg", "dose_cells_total", "date")
            count["infusion"] += sum(getattr(p.infusion, a) is not None for a in attrs)
        for ld in p.lymphodepletion:
            count["lymphodepletion"] += 3 - (ld.dose_mg_per_m2 is None)
        instances: set[str] = set()
        for v in p.visits:
            count["visit_date"] += v.date is not None
            count["observation"] += len(v.observations)
            units: dict[str, set[str]] = {}
            for o in v.observations:
                assert o.source is not None
                parts = o.source.split(":")
                if len(parts) == 5:  # redcap:event:instrument:instance:field
                    instances.add(":".join(parts[:4]))
                if parts[-1] in unit_fields:
                    units.setdefault(":".join(parts[:-1]), set()).add(unit_fields[parts[-1]] or "")
            count["unit"] += sum(len(u) for u in units.values())
        count["instance_day"] += len(instances)
        for m in p.medications:
            attrs = ("drug", "dose", "unit", "route", "frequency", "start_date", "stop_date")
            count["medication"] += sum(getattr(m, a) is not None for a in attrs)
            count["medication"] += len(m.indication.split("; ")) if m.indication else 0
        for a in p.adverse_events:
            attrs = ("term", "grade", "onset_date", "resolution_date", "serious", "relationship", "action_taken")
            count["adverse_event"] += sum(getattr(a, x) is not None for x in attrs) + len(a.serious_criteria)
    return count


def test_every_non_empty_cell_lands_in_the_study_record(study: StudyRecord, rows: list[dict[str, str]]) -> None:
    mapping = rc.load_mapping(MAPPING)
    cells = _count_cells(rows, mapping)
    carried = _count_carried(study, mapping)
    assert not [k for k in cells if k.startswith("unaccounted")]
    assert cells == carried
    assert min(cells.values()) > 0


def test_daily_assessments_and_samples_land_on_their_study_day(study: StudyRecord, rows: list[dict[str, str]]) -> None:
    for row in rows:
        inst = row["redcap_repeat_instrument"]
        if inst == "daily_crs_icans":
            visit = study.patient(row["record_id"]).visit(f"day {row['dly_study_day']} (daily)")
        elif inst == "cell_kinetics":
            visit = study.patient(row["record_id"]).visit(f"day {row['kin_study_day']}")
            assert visit.kind == "scheduled"  # every sample of the sample project is taken at a scheduled visit
        else:
            continue
        prefix = f"redcap:{row['redcap_event_name']}:{inst}:{row['redcap_repeat_instance']}:"
        assert any((o.source or "").startswith(prefix) for o in visit.observations)


def test_site_2_reports_in_its_own_units_and_they_convert_exactly(
    study: StudyRecord, rows: list[dict[str, str]], sample_truth: Any
) -> None:
    truth = sample_truth[0]
    site2 = {p.code for p in study.patients if p.site == "2"}
    assert site2 and site2 == {p.code for p in truth.patients if p.site == "2"}
    seen = Counter()
    for p in study.patients:
        for v in p.visits:
            for o in v.observations:
                if o.code in ("crp", "c3", "igg", "anc") and v.kind == "scheduled":
                    expected = ("mg/dL" if o.code != "anc" else "10*9/L") if p.code in site2 else None
                    assert o.unit == (expected or vocabulary_code(o.code).unit)
                    seen[o.code, p.code in site2] += 1
    assert all(seen[c, True] > 0 for c in ("c3", "igg", "anc"))  # the mg/dL and 10^9/L paths are exercised
    row = next(r for r in rows if r["record_id"] in site2 and r["c3"] and r["complement_unit"].strip())
    c3 = next(o for o in study.patient(row["record_id"]).visit(f"day {_event_day(row)}").observations if o.code == "c3")
    assert c3.value == Decimal(row["c3"]) and c3.unit == "mg/dL"
    assert c3.value is not None and convert(c3.value, "mg/dL", "g/L") == Decimal(row["c3"]) / 100


def _event_day(row: dict[str, str]) -> int:
    name = row["redcap_event_name"].removesuffix("_arm_1")
    if name.startswith("day_minus_"):
        return -int(name.removeprefix("day_minus_"))
    return int(name.removeprefix("day_").removesuffix("_infusion"))


def test_coded_values_with_trailing_spaces_and_checkboxes(study: StudyRecord, rows: list[dict[str, str]]) -> None:
    spaced = [r for r in rows if r["sex"].endswith(" ") or r["crs_hypotension"].endswith(" ")]
    assert spaced  # the sample has them on purpose
    for r in spaced:
        if r["sex"].endswith(" "):
            assert study.patient(r["record_id"]).sex == {"1": "F", "2": "M", "3": "U"}[r["sex"].strip()]
    hypotension = {
        o.value_text for p in study.patients for v in p.visits for o in v.observations if o.code == "crs_hypotension"
    }
    assert hypotension <= set(vocabulary_code("crs_hypotension").choices)
    indications = {m.indication for p in study.patients for m in p.medications}
    assert {"autoimmune disease", "prophylaxis", "glucocorticoid taper (autoimmune disease)"} <= indications


def test_two_ticked_indications_are_joined(tmp_path: Path) -> None:
    record = _first_record("1")
    lines = _lines()
    i = _line_of(record, FIRST, "medications", "1")
    lines[i] = _set_cell(lines[i], "med_indication___3", "1")
    study = rc.read_redcap_export(_write(tmp_path, lines), DICTIONARY, MAPPING)
    med = next(m for m in study.patient(record).medications if m.key == f"medications:{FIRST}:1")
    assert med.indication == "autoimmune disease; prophylaxis"


def test_reimport_is_identical_and_keys_are_stable(study: StudyRecord) -> None:
    again = rc.read_redcap_export(EXPORT, DICTIONARY, MAPPING, events_csv=EVENTS)
    assert again == study


# --------------------------------------------------------------------------------------------------
# Empty saved repeating instances


def test_the_sample_has_two_empty_saved_instances_skipped_and_counted() -> None:
    result = rc.import_redcap_export(EXPORT, DICTIONARY, MAPPING)
    assert len(result.empty_instances) == 2
    assert {inst for _row, inst, _n in result.empty_instances} == {"medications", "adverse_events"}
    assert result.notes()[0].startswith("2 empty repeating instances skipped: row ")
    lines = _lines()
    for row, _inst, _n in result.empty_instances:
        cells = next(csv.reader(io.StringIO(lines[row - 1])))
        assert all(c in ("", "0") for c in cells[5:])  # after the record id, bookkeeping and group


def test_an_empty_instance_is_skipped_but_a_partly_filled_one_is_an_error(tmp_path: Path) -> None:
    record = _first_record("2")
    lines = _lines()
    i = _line_of(record, FIRST, "medications", "1")
    empty = _set_cell(lines[i], "redcap_repeat_instance", "99")
    for column in _header():
        if column.startswith("med_") and not column.startswith("med_indication___"):
            empty = _set_cell(empty, column, "")
        elif column.startswith("med_indication___"):
            empty = _set_cell(empty, column, "0")
    empty = _set_cell(empty, "medications_complete", "0")
    before = rc.import_redcap_export(EXPORT, DICTIONARY, MAPPING)
    after = rc.import_redcap_export(_write(tmp_path, [*lines, empty]), DICTIONARY, MAPPING)
    assert after.study == before.study
    assert len(after.empty_instances) == len(before.empty_instances) + 1
    partly = _set_cell(empty, "med_dose", "5")
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(_write(tmp_path, [*lines, partly]), DICTIONARY, MAPPING)
    (problem,) = info.value.problems
    assert problem.field == "med_name" and problem.location == f"export.csv row {len(lines) + 1}, column med_name"


def test_the_cli_says_how_many_empty_instances_it_skipped(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = str(tmp_path / "r.db")
    assert subprocess.run([sys.executable, "-m", "immunoreset", "db", "init", "--db", db], check=False).returncode == 0
    result = subprocess.run(
        [sys.executable, "-m", "immunoreset", "import", "redcap", str(EXPORT), "--dictionary", str(DICTIONARY),
         "--mapping", str(MAPPING), "--db", db],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 empty repeating instances skipped" in result.stdout


# --------------------------------------------------------------------------------------------------
# Problems


def test_malformed_export_lists_every_problem_with_row_and_column(tmp_path: Path) -> None:
    sle, ssc = _first_record("1"), _first_record("2")
    lines = _lines()
    a = _line_of(ssc, FIRST)
    b = _line_of(sle, FIRST)
    c = _line_of(sle, "day_7_arm_1")
    d = _line_of(sle, FIRST, "medications", "1")
    e = _line_of(sle, "day_90_arm_1")
    lines[a] = _set_cell(lines[a], "crp_unit", "3")  # wrong unit code
    lines[b] = _set_cell(lines[b], "c3", "45")  # above the vocabulary's 10 g/L
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
        (f"export.csv row {b + 1}, column c3", "c3"),
        (f"export.csv row {c + 1}, column redcap_event_name", "redcap_event_name"),
        (f"export.csv row {e + 1}, column visit_date", "visit_date"),
        (f"export.csv row {e + 1}, column wbc", "wbc"),
        (f"export.csv row {len(lines)}, column record_id", "record_id"),
    }
    by_field = {p.field: p for p in info.value.problems}
    assert "1 (mg/L), 2 (mg/dL)" in by_field["crp_unit"].expected
    assert "[0, 10] g/L" in by_field["c3"].expected
    assert FIRST in by_field["redcap_event_name"].expected
    assert f"first at row {d + 1}" in by_field["record_id"].expected
    assert "row" in str(info.value)


def test_record_without_enrolment_and_unknown_column(tmp_path: Path) -> None:
    record = _first_record("3")
    lines = _lines()
    i = _line_of(record, FIRST)
    for column in ("site", "disease", "sex", "birth_year", "weight_kg", "height_cm"):
        lines[i] = _set_cell(lines[i], column, "")
    header = _header()
    header[header.index("temperature")] = "temperatur"
    lines[0] = ",".join(header) + "\n"
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(_write(tmp_path, lines), DICTIONARY, MAPPING)
    found = {(p.location, p.field) for p in info.value.problems}
    assert ("export.csv row 1, column temperatur", "temperatur") in found
    assert (f"export.csv row {i + 1}, column record_id", "record_id") in found


def test_unit_without_value_stop_before_start_and_instance_problems(tmp_path: Path) -> None:
    ssc = _first_record("2")
    lines = _lines()
    a = _line_of(ssc, FIRST)
    b = _line_of(ssc, FIRST, "medications", "1")
    c = _line_of(ssc, INFUSION, "daily_crs_icans", "2")
    e = _line_of(ssc, FIRST, "adverse_events", "1")
    lines[a] = _set_cell(lines[a], "crp", "")  # its unit stays
    lines[b] = _set_cell(lines[b], "med_stop_date", "2017-01-01")  # before its start
    lines[c] = _set_cell(lines[c], "dly_study_day", "0")  # same day as instance 1
    lines[c] = _set_cell(lines[c], "wbc", "5")  # a laboratory field on a daily row
    onset = next(csv.DictReader(io.StringIO(lines[0] + lines[e])))["ae_onset_date"]
    lines[e] = _set_cell(lines[e], "ae_resolution_date", "2000-01-01")
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(_write(tmp_path, lines), DICTIONARY, MAPPING)
    found = {p.location for p in info.value.problems}
    assert found == {
        f"export.csv row {a + 1}, column crp_unit",
        f"export.csv row {b + 1}, column med_stop_date",
        f"export.csv row {c + 1}, column dly_study_day",
        f"export.csv row {c + 1}, column wbc",
        f"export.csv row {e + 1}, column ae_resolution_date",
    }
    expected = {p.location: p.expected for p in info.value.problems}
    assert expected[f"export.csv row {e + 1}, column ae_resolution_date"].startswith(
        f"a resolution date on or after the onset date {onset}"
    )


def test_lymphodepletion_days_out_of_order_are_located(tmp_path: Path) -> None:
    record = _first_record("1")
    lines = _lines()
    i = _line_of(record, INFUSION)
    lines[i] = _set_cell(lines[i], "ld_flu_first_day", "-2")  # after its last day (-3)
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(_write(tmp_path, lines), DICTIONARY, MAPPING)
    (problem,) = info.value.problems
    assert problem.location is not None and f"row {i + 1}" in problem.location
    assert "ld_flu_first_day" in problem.location


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(tmp_path / "nope.csv", DICTIONARY, MAPPING)
    assert "an existing CSV file" in str(info.value) and "nope.csv" in str(info.value)


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
        obs["crs_oxygen"]["choices"]["4"] = "ventilator"  # not a vocabulary choice
        obs["crp"]["unit_choices"]["2"] = "U/L"  # not convertible to mg/L
        obs["anc"]["code"] = "neutrophils"  # not a vocabulary code
        obs["ck"].pop("unit")  # no unit
        del obs["ldh"]  # unmapped field
        data["medications"]["start_date"] = {"field": "med_dose"}  # number field as a date
        data["patient"]["sex"]["choices"] = {"1": "F", "2": "X", "3": "U"}

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
# PyCap (no REDCap server can run here: a stand-in returns the sample files as the API would)


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
# Random numeric cells (one record of the sample)


@pytest.fixture(scope="module")
def one_record() -> tuple[list[str], int, str]:
    record = _first_record("1")
    lines = _lines()
    mine = [lines[0], *(line for line in lines[1:] if line.startswith(f"{record},"))]
    row = next(i for i, line in enumerate(mine) if line.startswith(f"{record},{FIRST},,"))
    return mine, row, record


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.decimals(min_value=-5, max_value=15, places=2, allow_nan=False, allow_infinity=False))
def test_random_c3_cells(tmp_path: Path, one_record: tuple[list[str], int, str], value: Decimal) -> None:
    mine, row, record = one_record
    lines = list(mine)
    lines[row] = _set_cell(lines[row], "c3", str(value))
    path = _write(tmp_path, lines)
    if 0 <= value <= 10:
        got = rc.read_redcap_export(path, DICTIONARY, MAPPING)
        obs = {o.code: o for o in got.patient(record).visit("day -7").observations}
        assert obs["c3"].value == value and obs["c3"].unit == "g/L"
    else:
        with pytest.raises(InvalidInput) as info:
            rc.read_redcap_export(path, DICTIONARY, MAPPING)
        assert [p.location for p in info.value.problems] == [f"export.csv row {row + 1}, column c3"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="0123456789.,-eE xa", min_size=1, max_size=6))
def test_random_text_in_a_number_field(tmp_path: Path, one_record: tuple[list[str], int, str], text: str) -> None:
    mine, row, _record = one_record
    text = text.strip()
    lines = list(mine)
    lines[row] = _set_cell(lines[row], "alt", text)
    path = _write(tmp_path, lines)
    is_number = bool(text) and rc._NUMBER.match(text) is not None
    alt_high = vocabulary_code("alt").high
    assert alt_high is not None
    if not text or (is_number and 0 <= Decimal(text) <= alt_high):
        rc.read_redcap_export(path, DICTIONARY, MAPPING)
    else:
        with pytest.raises(InvalidInput) as info:
            rc.read_redcap_export(path, DICTIONARY, MAPPING)
        assert [p.location for p in info.value.problems] == [f"export.csv row {row + 1}, column alt"]


# --------------------------------------------------------------------------------------------------
# An export written by hand the way REDCap lays it out (independent of immunoreset's writer)


def _redcap_header(dictionary_csv: Path) -> list[str]:
    """REDCap's export columns: record id, event/repeat columns, the group, then every field in dictionary
    order (a checkbox as one column per choice) with ``<form>_complete`` after each form's last field."""
    rows = list(csv.reader(dictionary_csv.open(encoding="utf-8")))[1:]
    header = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", rc.DAG_COLUMN]
    for k, (name, form, _section, ftype, *rest) in enumerate(rows):
        if name != "record_id":
            if ftype == "checkbox":
                header += [f"{name}___{c}" for c in rc.parse_choices(rest[1])]
            else:
                header.append(name)
        if k + 1 == len(rows) or rows[k + 1][1] != form:
            header.append(f"{form}_complete")
    return header


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    from immunoreset.registry.redcap_template import build_template

    build_template([-7, 0, 7, 28], sites=[("ERL", "Erlangen"), ("HH", "Hamburg")], study_code="HAND").write(tmp_path)
    return tmp_path


def _hand_export(folder: Path, rows: list[dict[str, str]]) -> Path:
    header = _redcap_header(folder / "data_dictionary.csv")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    path = folder / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _hand_rows(dag: str = "erlangen") -> list[dict[str, str]]:
    base = {"record_id": "101", rc.DAG_COLUMN: dag}
    screening, infusion, day7 = "day_minus_7_arm_1", "day_0_infusion_arm_1", "day_7_arm_1"
    return [
        {**base, "redcap_event_name": screening, "site": "ERL", "disease": "1", "sex": "1", "birth_year": "1990",
         "weight_kg": "60", "enrolment_complete": "2", "sle19_ana_titre": "160", "sle19_pericarditis": "1",
         "sle19_anti_dsdna": "1", "eligibility_sle_complete": "2", "eligibility_ssc_complete": "0",
         "visit_date": "2024-03-01", "visit_complete": "2", "c3": "65", "c3_lln": "90", "complement_unit": "2",
         "laboratory_complete": "1", "sle_activity_complete": "0", "cell_kinetics_complete": ""},
        {**base, "redcap_event_name": screening, "redcap_repeat_instrument": "medications",
         "redcap_repeat_instance": "1", "med_name": "prednisolone", "med_dose": "10", "med_unit": "1",
         "med_start_date": "2023-01-01", "med_indication___1": "1", "med_indication___2": "0",
         "med_indication___3": "0", "med_indication___4": "0", "med_indication___5": "0", "med_indication___6": "0",
         "medications_complete": "2"},
        {**base, "redcap_event_name": infusion, "cart_product": "flat-dose CD19 CAR-T", "cart_target": "1",
         "cart_dose_total": "50000000", "infusion_date": "2024-03-08", "infusion_complete": "2",
         "ld_flu_dose": "30", "ld_flu_first_day": "-5", "ld_flu_last_day": "-3", "lymphodepletion_complete": "2",
         "visit_date": "2024-03-08", "visit_complete": "2"},
        {**base, "redcap_event_name": infusion, "redcap_repeat_instrument": "daily_crs_icans",
         "redcap_repeat_instance": "1", "dly_study_day": "1", "crs_temperature": "38.0", "crs_hypotension": "0",
         "crs_oxygen": "0", "daily_crs_icans_complete": "2"},
        {**base, "redcap_event_name": day7, "visit_date": "2024-03-16", "visit_complete": "2",
         "laboratory_complete": "0"},  # the visit happened on day 8, in its window
        {**base, "redcap_event_name": day7, "redcap_repeat_instrument": "cell_kinetics",
         "redcap_repeat_instance": "1", "kin_study_day": "8", "car_t_cells": "55.5", "cd19_b_cells": "0",
         "cell_kinetics_complete": "2"},
        {**base, "redcap_event_name": day7, "redcap_repeat_instrument": "cell_kinetics",
         "redcap_repeat_instance": "2", "kin_study_day": "11", "kin_date": "2024-03-19", "car_t_cells": "80",
         "cell_kinetics_complete": "2"},  # an extra sample three days later
    ]  # fmt: skip


def test_an_export_laid_out_by_redcap_imports(small_project: Path) -> None:
    path = _hand_export(small_project, _hand_rows())
    study = rc.read_redcap_export(path, small_project / "data_dictionary.csv", small_project / "mapping.yaml")
    p = study.patient("101")
    assert p.site == "ERL" and p.disease == "SLE"
    assert p.infusion is not None and p.infusion.dose_cells_total == Decimal(50_000_000)
    assert p.infusion.dose_cells_per_kg is None and p.infusion.target_antigen == "CD19"
    screening = {o.code: o for o in p.visit("day -7").observations}
    assert screening["c3"].value == Decimal(65) and screening["c3"].unit == "mg/dL"
    assert screening["sle2019_ana_titre"].value == 160 and screening["sle2019_acute_pericarditis"].value == 1
    day7 = p.visit("day 7")  # the sample of the visit's own day joins it (visit on day 8, in its window)
    assert day7.study_day == 8 and {o.code for o in day7.observations} == {"car_t_cells", "cd19_b_cells"}
    extra = p.visit("day 11")
    assert extra.kind == "unscheduled" and extra.date is not None and extra.date.isoformat() == "2024-03-19"
    assert {o.code: o.value for o in extra.observations} == {"car_t_cells": Decimal(80)}
    assert p.visit("day 1 (daily)").kind == "daily"
    assert [m.indication for m in p.medications] == ["autoimmune disease"]


def test_a_sample_at_another_visits_day_and_a_wrong_group_are_refused(small_project: Path) -> None:
    rows = _hand_rows(dag="hamburg")  # the record is at site ERL
    rows[-1]["kin_study_day"], rows[-1]["kin_date"] = "0", ""  # day 0 is the infusion visit, not day 7's
    path = _hand_export(small_project, rows)
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(path, small_project / "data_dictionary.csv", small_project / "mapping.yaml")
    found = {p.location: p.expected for p in info.value.problems}
    assert "the Data Access Group of site ERL (erlangen)" in found["export.csv row 2, column redcap_data_access_group"]
    assert "study day 0 is the day of visit 'day 0'" in found["export.csv row 8, column kin_study_day"]


def test_an_instance_with_only_ignored_data_is_not_called_empty(small_project: Path, tmp_path: Path) -> None:
    mapping = yaml.safe_load((small_project / "mapping.yaml").read_text(encoding="utf-8"))
    del mapping["medications"]["route"]
    mapping["ignore"] = ["med_route"]
    (small_project / "mapping.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    rows = _hand_rows()
    rows.append({**rows[1], "redcap_repeat_instance": "2", "med_name": "", "med_dose": "", "med_unit": "",
                 "med_start_date": "", "med_indication___1": "0", "med_route": "1"})  # fmt: skip
    path = _hand_export(small_project, rows)
    with pytest.raises(InvalidInput) as info:
        rc.read_redcap_export(path, small_project / "data_dictionary.csv", small_project / "mapping.yaml")
    assert [p.field for p in info.value.problems] == ["med_name"]
