"""The REDCap project template and the checker of REDCap's data-dictionary rules (each rule tested on its own)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset.errors import InvalidInput
from immunoreset.registry import redcap as rc
from immunoreset.registry import vocabulary
from immunoreset.registry.redcap import DICTIONARY_HEADER
from immunoreset.registry.redcap_check import check_dictionary, check_project, parse_logic
from immunoreset.registry.redcap_template import build_template, unique_event_name
from immunoreset.trial import load_design


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("template")
    done = run("redcap", "template", "--out", str(out), "--site", "ERL=Erlangen", "--site", "HH=Hamburg")
    assert done.returncode == 0, done.stderr
    return out


# --------------------------------------------------------------------------------------------------
# The template


def test_the_written_template_passes_its_own_checker(written: Path) -> None:
    assert check_project(written) == []
    done = run("redcap", "check", str(written))
    assert done.returncode == 0 and "pass every check" in done.stdout


def test_every_field_is_mapped_and_the_mapping_reads_its_exports(written: Path) -> None:
    dictionary = rc.read_dictionary(written / "data_dictionary.csv")
    mapping = rc.load_mapping(written / "mapping.yaml", dictionary)
    assert mapping.ignore == [] and mapping.check(dictionary) == []
    assert [s.code for s in mapping.sites] == ["ERL", "HH"]
    assert dictionary["site"].choices == {"ERL": "Erlangen", "HH": "Hamburg"}


def test_the_forms_the_issue_lists_are_there(written: Path) -> None:
    dictionary = rc.read_dictionary(written / "data_dictionary.csv")
    forms = {f.form for f in dictionary.values()}
    assert forms == {
        "enrolment", "eligibility_sle", "eligibility_ssc", "eligibility_iim", "lymphodepletion", "infusion", "visit",
        "laboratory", "sle_activity", "ssc_assessment", "iim_assessment", "cell_kinetics", "daily_crs_icans",
        "medications", "adverse_events", "end_of_study", *(a.prefix for a in vocabulary.ASSESSMENTS),
    }  # fmt: skip
    by_form = {form: [f for f in dictionary.values() if f.form == form] for form in forms}
    assert len([f for f in by_form["ssc_assessment"] if f.name.startswith("mrss_")]) == 17
    assert len([f for f in by_form["iim_assessment"] if f.name.startswith("mmt8_")]) == 8
    assert len([f for f in by_form["sle_activity"] if f.name.startswith("sledai_")]) == 24
    # every classification item of the three criteria sets is on its eligibility form
    for prefix, (model, _cat, _testcd) in vocabulary.CLASSIFICATION_CRITERIA.items():
        items = [n for n, f in model.model_fields.items() if f.annotation == (bool | None)]
        form = {"sle2019": "eligibility_sle", "ssc2013": "eligibility_ssc", "iim2017": "eligibility_iim"}[prefix]
        assert len([f for f in by_form[form] if f.type == "yesno"]) == len(items)
    # every item of every instrument recorded item by item is on its own form, carrying its observation code
    mapping = yaml.safe_load((written / "mapping.yaml").read_text(encoding="utf-8"))
    carried = {m["code"] for m in mapping["observations"].values()}
    for a in vocabulary.ASSESSMENTS:
        items = vocabulary.assessment_items(a.prefix)
        assert len(by_form[a.prefix]) == len(items)
        assert {entry.code for _item, entry in items} <= carried
    assert dictionary["med_indication"].type == "checkbox"
    assert dictionary["ae_grade"].choices == {str(g): str(g) for g in range(1, 6)}  # CTCAE grades 1-5
    # units where laboratories differ, and the laboratory's own limits
    assert {"crp_unit", "complement_unit", "igg_unit", "anc_unit", "ck_uln", "c3_lln", "anti_dsdna_uln"} <= set(
        dictionary
    )


def test_notes_cite_the_instruments_and_branching_follows_the_disease(written: Path) -> None:
    rows = list(csv.reader((written / "data_dictionary.csv").open(encoding="utf-8")))
    header, body = rows[0], rows[1:]
    assert tuple(header) == DICTIONARY_HEADER
    by = {r[0]: dict(zip(header, r, strict=True)) for r in body}
    assert "Aringer M" in by["sle19_fever"]["Field Note"] and "2019" in by["sle19_fever"]["Field Note"]
    assert "van den Hoogen F" in by["ssc13_puffy_fingers"]["Field Note"]
    assert "Lundberg IE" in by["iim17_anti_jo1"]["Field Note"]
    assert "Gladman DD" in by["sledai_seizure"]["Section Header"]
    assert "Lee DW" in by["crs_temperature"]["Section Header"]
    first = load_design("erlangen2024").visits[0]
    event = unique_event_name(f"Day minus {-first}")
    assert by["sledai_rash"]["Branching Logic (Show field only if...)"] == f"[{event}][disease] = '1'"
    assert by["iim17_bx_rimmed_vacuoles"]["Branching Logic (Show field only if...)"] == (
        "[disease] = '3' and [iim17_biopsy] = '1'"
    )


def test_events_follow_the_design_schedule(written: Path) -> None:
    events = list(csv.DictReader((written / "events.csv").open(encoding="utf-8")))
    visits = load_design("erlangen2024").visits
    assert [int(e["day_offset"]) for e in events] == visits
    assert events[0]["unique_event_name"] == "day_minus_7_arm_1"
    assert any(e["unique_event_name"] == "day_0_infusion_arm_1" for e in events)
    repeating = list(csv.DictReader((written / "repeating_instruments.csv").open(encoding="utf-8")))
    assert {r["form_name"] for r in repeating} == {"cell_kinetics", "daily_crs_icans", "medications", "adverse_events"}
    assert sum(r["form_name"] == "cell_kinetics" for r in repeating) == len(visits)


def test_a_design_file_sets_the_schedule(tmp_path: Path) -> None:
    design = tmp_path / "design.yaml"
    shown = run("trial", "show", "erlangen2024")
    design.write_text(shown.stdout.replace("visits:\n- -7\n", "visits:\n- -14\n- -7\n"), encoding="utf-8")
    done = run("redcap", "template", "--out", str(tmp_path / "t"), "--design", str(design))
    assert done.returncode == 0, done.stderr
    assert check_project(tmp_path / "t") == []
    events = list(csv.DictReader((tmp_path / "t" / "events.csv").open(encoding="utf-8")))
    assert [e["unique_event_name"] for e in events[:2]] == ["day_minus_14_arm_1", "day_minus_7_arm_1"]


def test_bad_template_options_are_one_line_errors(tmp_path: Path) -> None:
    done = run("redcap", "template", "--out", str(tmp_path / "t"), "--site", "Erlangen")
    assert done.returncode == 2 and "CODE=NAME" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    missing = run("redcap", "check", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "an existing folder" in missing.stderr
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    for out in (a_file, a_file / "below"):
        done = run("redcap", "template", "--out", str(out))
        assert done.returncode == 2 and "a path that can be created and written" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    with pytest.raises(InvalidInput):
        build_template([7, 0])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Day 0 (infusion)", "day_0_infusion_arm_1"),
        ("Day minus 7", "day_minus_7_arm_1"),
        ("Baseline visit", "baseline_visit_arm_1"),
        ("Month 12 follow-up visit", "month_12_followup_arm_1"),  # cut to 18 characters
        ("Screening (-28 to -1)", "screening_28_to_1_arm_1"),
    ],
)
def test_unique_event_names_as_redcap_makes_them(name: str, expected: str) -> None:
    assert unique_event_name(name) == expected
    assert len(expected.removesuffix("_arm_1")) <= 18


# --------------------------------------------------------------------------------------------------
# The checker, rule by rule


HEADER = ",".join(f'"{h}"' for h in DICTIONARY_HEADER)


def dictionary(*rows: str) -> str:
    """A dictionary from rows written as 'name,form,type,label,choices,validation,min,max,branching,required'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DICTIONARY_HEADER)
    for row in ("record_id,f,text,Record ID,,,,,,", *rows):
        cells = next(csv.reader(io.StringIO(row)))
        name, form, ftype, label, choices, validation, low, high, branching, required = (cells + [""] * 10)[:10]
        writer.writerow(
            [
                name,
                form,
                "",
                ftype,
                label,
                choices,
                "",
                validation,
                low,
                high,
                "",
                branching,
                required,
                "",
                "",
                "",
                "",
                "",
            ]
        )
    return out.getvalue()


def problems_of(*rows: str) -> list[tuple[str, str]]:
    return [(p.field, str(p.location)) for p in check_dictionary(dictionary(*rows))]


def test_a_good_dictionary_has_no_problems() -> None:
    assert (
        problems_of(
            "age,f,text,Age,,integer,0,120,,y",
            'sex,f,radio,Sex,"1, Female | 2, Male",,,,,',
            "pregnant,f,yesno,Pregnant,,,,,[sex] = '1' and [age] >= 12,",
            'symptoms,f,checkbox,Symptoms,"1, Fever | 2, Rash",,,,,',
            "rash_days,f,text,Days,,number,0,,[symptoms(2)] = '1',",
            "visit_date,g,text,Date,,date_ymd,2020-01-01,2030-12-31,,",
        )
        == []
    )


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("Age,f,text,Age,,,,,,", "Age"),  # upper case
        ("a_name_that_is_longer_than_26,f,text,X,,,,,,", "a_name_that_is_longer_than_26"),
        ("_age,f,text,Age,,,,,,", "_age"),  # must start with a letter
        ("age_,f,text,Age,,,,,,", "age_"),
        ("a___b,f,text,Age,,,,,,", "a___b"),  # REDCap's checkbox separator
        ("redcap_event_name,f,text,X,,,,,,", "redcap_event_name"),
        ("f_complete,f,text,X,,,,,,", "f_complete"),
        ("age,F-1,text,Age,,,,,,", "age form"),
        ("age,f,number,Age,,,,,,", "age type"),
        ("age,f,radio,Age,,,,,,", "age"),  # coded without choices
        ('age,f,radio,Age,"1, A | 1, B",,,,,', "age"),  # duplicate code
        ('age,f,radio,Age,"1 A | 2, B",,,,,', "age"),  # no comma
        ('age,f,checkbox,Age,"-1, A | 2, B",,,,,', "age"),  # checkbox code with a minus sign
        ('age,f,yesno,Age,"1, Yes | 0, No",,,,,', "age choices"),
        ("age,f,calc,Age,,,,,,", "age choices"),  # calc without an equation
        ("age,f,text,,,,,,,", "age label"),
        ("age,f,text,Age,,numbr,,,,", "age validation"),
        ('age,f,radio,Age,"1, A",integer,,,,', "age validation"),  # validation on a radio
        ("age,f,text,Age,,integer,1.5,,,", "age minimum"),
        ("age,f,text,Age,,integer,10,5,,", "age minimum"),  # min > max
        ("age,f,text,Age,,date_ymd,2020-13-01,,,", "age minimum"),
        ("age,f,text,Age,,,0,,,", "age minimum"),  # a bound without validation
        ("age,f,text,Age,,,,,,yes", "age required"),
        ("age,f,text,Age,,,,,[nothing] = '1',", "age branching logic"),
        ("age,f,text,Age,,,,,[record_id] = ,", "age branching logic"),  # does not parse
        ("age,f,text,Age,,,,,[record_id(1)] = '1',", "age branching logic"),  # option on a text field
        ("age,f,text,Age,,,,,[age] = '1',", "age branching logic"),  # itself
    ],
)
def test_each_rule_is_reported_with_its_row(row: str, field: str) -> None:
    found = problems_of(row)
    assert (field, "data_dictionary.csv row 3") in found, found


def test_duplicates_non_contiguous_forms_and_unknown_checkbox_options() -> None:
    found = problems_of(
        "age,f,text,Age,,,,,,",
        "date,g,text,Date,,date_ymd,,,,",
        "weight,f,text,Weight,,number,,,,",  # form f again after g
        "age,f,text,Again,,,,,,",  # duplicate
        "x,f,text,X,,,,,[date(3)] = '1',",  # option on a text field
    )
    assert ("weight form", "data_dictionary.csv row 5") in found
    assert ("age", "data_dictionary.csv row 6") in found
    assert ("x branching logic", "data_dictionary.csv row 7") in found


def test_the_first_field_is_the_record_id_and_the_header_is_redcaps() -> None:
    text = dictionary().replace("record_id,f,,text", "record_id,f,,yesno")
    assert [p.field for p in check_dictionary(text)] == ["record_id"]
    bad_header = "name,form\nrecord_id,f\n"
    assert {p.field for p in check_dictionary(bad_header)} >= {"header", "column 1"}


def test_events_in_branching_logic_must_exist() -> None:
    text = dictionary("age,f,text,Age,,,,,[baseline_arm_1][record_id] <> '',")
    assert check_dictionary(text, events=["baseline_arm_1"]) == []
    found = check_dictionary(text, events=["screening_arm_1"])
    assert [(p.field, p.value) for p in found] == [("age branching logic", "baseline_arm_1")]


@pytest.mark.parametrize(
    "logic",
    [
        "[a] = '1'",
        "[a] = '1' or ([b] > 3 and [c] <> \"x\")",
        "[event_1_arm_1][a] = '1'",
        "[a(2)] = '1'",
        "[a][2] = '1'",
        "datediff([a], [b], 'd') >= 14",
        "[a] + [b] * 2 < 10",
        "[a] = -1",
        "if([a] = '1', 1, 0) = 1",
    ],
)
def test_redcap_logic_parses(logic: str) -> None:
    assert parse_logic(logic)


@pytest.mark.parametrize("logic", ["", "[a] =", "([a] = '1'", "[a] = '1')", "[A] = 1", "[a] = '1' and", "[a] === 1"])
def test_malformed_logic_is_refused(logic: str) -> None:
    with pytest.raises(ValueError):
        parse_logic(logic)


_FIELD = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(lambda s: not s.endswith("_"))


@st.composite
def _logic(draw: st.DrawFn) -> tuple[str, list[str]]:
    n = draw(st.integers(1, 4))
    fields = [draw(_FIELD) for _ in range(n)]
    parts = []
    for f in fields:
        op = draw(st.sampled_from(["=", "<>", "!=", ">", ">=", "<", "<="]))
        value = draw(st.one_of(st.integers(-99, 99).map(str), st.from_regex(r"'[a-z0-9 ]{0,5}'", fullmatch=True)))
        parts.append(f"[{f}] {op} {value}")
    joined = parts[0]
    for part in parts[1:]:
        joined = f"({joined}) {draw(st.sampled_from(['and', 'or', 'AND', 'OR']))} {part}"
    return joined, fields


@settings(max_examples=60, deadline=None)
@given(_logic())
def test_generated_logic_parses_and_names_its_fields(case: tuple[str, list[str]]) -> None:
    text, fields = case
    assert [r.field for r in parse_logic(text)] == fields


def test_project_checks_events_designations_and_the_mapping(written: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "p"
    shutil.copytree(written, copy)
    events = (copy / "events.csv").read_text(encoding="utf-8").replace("day_7_arm_1", "day_seven_arm_1")
    (copy / "events.csv").write_text(events, encoding="utf-8")
    repeating = (copy / "repeating_instruments.csv").read_text(encoding="utf-8")
    (copy / "repeating_instruments.csv").write_text(repeating + "day_minus_7_arm_1,laboratory,\n", encoding="utf-8")
    found = {(p.field, p.value) for p in check_project(copy)}
    assert ("unique_event_name", "day_seven_arm_1") in found  # not the name REDCap makes from "Day 7"
    assert ("form_name", "day_minus_7_arm_1 / laboratory") not in found  # laboratory is designated there
    assert ("visits.events", "day_7_arm_1") in found  # the mapping names an event the project lacks
    (copy / "mapping.yaml").unlink()
    assert ("mapping.yaml", str(copy / "mapping.yaml")) in {(p.field, p.value) for p in check_project(copy)}


def test_a_cross_event_reference_must_name_a_form_of_that_event(written: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "p"
    shutil.copytree(written, copy)
    mapping = (copy / "instrument_event_mapping.csv").read_text(encoding="utf-8")
    (copy / "instrument_event_mapping.csv").write_text(
        mapping.replace("1,day_minus_7_arm_1,enrolment\n", ""), encoding="utf-8"
    )
    found = [p for p in check_project(copy) if p.value == "[day_minus_7_arm_1][disease]"]
    assert found and "enrolment is not" in found[0].expected
