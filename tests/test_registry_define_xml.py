"""define.xml (Define-XML 2.1) of the SDTM and ADaM packages: valid against the CDISC schema, every dataset and
variable exported listed with the type and length of its data, keys that identify every row, codelists that
hold every value, value-level metadata per test code and parameter, and derivation methods for ADaM."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from odmlib.oid_generator import create_oid_checker

from immunoreset.analysis.adam import ADAM_VARIABLES, adam_datasets, adam_define_package, write_adam
from immunoreset.errors import InvalidInput
from immunoreset.registry import redcap
from immunoreset.registry.define_xml import (
    define_document,
    define_schema_errors,
    define_xml,
    sdtm_define_package,
    unique_keys,
)
from immunoreset.registry.records import StudyRecord
from immunoreset.registry.sdtm import DOMAIN_VARIABLES, sdtm_domains, write_sdtm

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
XLINK = "{http://www.w3.org/1999/xlink}href"


@pytest.fixture(scope="module")
def sample() -> StudyRecord:
    folder = redcap.sample_project_path()
    return redcap.read_redcap_export(
        folder / "export.csv", folder / "data_dictionary.csv", redcap.sample_mapping_path()
    )


@pytest.fixture(scope="module")
def sdtm(sample: StudyRecord) -> dict[str, pd.DataFrame]:
    return sdtm_domains(sample)


@pytest.fixture(scope="module")
def sdtm_define(sample: StudyRecord, sdtm: dict[str, pd.DataFrame]) -> ET.Element:
    return ET.fromstring(define_xml(sdtm_define_package(sample, sdtm)).encode("utf-8"))


@pytest.fixture(scope="module")
def adam(sample: StudyRecord, sdtm: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return adam_datasets(sample, sdtm=sdtm)


@pytest.fixture(scope="module")
def adam_define(sample: StudyRecord, adam: dict[str, pd.DataFrame]) -> ET.Element:
    return ET.fromstring(define_xml(adam_define_package(sample, adam)).encode("utf-8"))


def _item_defs(root: ET.Element) -> dict[str, ET.Element]:
    return {e.get("OID", ""): e for e in root.iter(f"{{{NS['odm']}}}ItemDef")}


def _groups(root: ET.Element) -> dict[str, ET.Element]:
    return {e.get("Name", ""): e for e in root.iter(f"{{{NS['odm']}}}ItemGroupDef")}


def _variables(root: ET.Element, group: ET.Element) -> list[ET.Element]:
    defs = _item_defs(root)
    return [defs[ref.get("ItemOID", "")] for ref in group.findall("odm:ItemRef", NS)]


@pytest.mark.parametrize("package", ["sdtm", "adam"])
def test_every_dataset_and_variable_exported_is_described_in_order(
    package: str, request: pytest.FixtureRequest
) -> None:
    frames: dict[str, pd.DataFrame] = request.getfixturevalue(package)
    root: ET.Element = request.getfixturevalue(f"{package}_define")
    groups = _groups(root)
    assert list(groups) == list(frames)
    labels = DOMAIN_VARIABLES if package == "sdtm" else ADAM_VARIABLES
    for name, frame in frames.items():
        described = _variables(root, groups[name])
        assert [d.get("Name") for d in described] == list(frame.columns), name
        for item, variable in zip(described, labels[name], strict=True):
            text = item.find("odm:Description/odm:TranslatedText", NS)
            assert text is not None and text.text == variable.label
        leaf = groups[name].find("def:leaf", NS)
        assert leaf is not None and leaf.get(XLINK) == f"{name.lower()}.xpt"


def test_types_and_lengths_are_those_of_the_data(sdtm: dict[str, pd.DataFrame], sdtm_define: ET.Element) -> None:
    defs = _item_defs(sdtm_define)
    lb = sdtm["LB"]
    testcd = defs["IT.LB.LBTESTCD"]
    assert testcd.get("DataType") == "text"
    assert int(testcd.get("Length", "0")) == max(len(v.encode("utf-8")) for v in lb["LBTESTCD"])
    assert defs["IT.LB.LBDTC"].get("DataType") == "date" and defs["IT.LB.LBDTC"].get("Length") is None
    assert defs["IT.LB.LBSEQ"].get("DataType") == "integer"
    # VISITNUM of an unplanned visit has decimals: a float with its significant digits
    sv = sdtm["SV"]["VISITNUM"]
    fractional = (sv != sv.round()).any()
    visitnum = defs["IT.SV.VISITNUM"]
    assert visitnum.get("DataType") == ("float" if fractional else "integer")
    if fractional:
        assert int(visitnum.get("SignificantDigits", "0")) >= 1
    # a variable with no value on any row is declared and flagged HasNoData
    empty = [c for c in sdtm["DM"].columns if (sdtm["DM"][c].astype(str).isin(["", "nan"])).all()]
    assert empty, "the sample has expected DM variables left empty (e.g. DTHDTC)"
    refs = {r.get("ItemOID"): r for r in _groups(sdtm_define)["DM"].findall("odm:ItemRef", NS)}
    assert all(refs[f"IT.DM.{c}"].get("{http://www.cdisc.org/ns/def/v2.1}HasNoData") == "Yes" for c in empty)


@pytest.mark.parametrize("package", ["sdtm", "adam"])
def test_keys_identify_every_row(package: str, request: pytest.FixtureRequest) -> None:
    frames: dict[str, pd.DataFrame] = request.getfixturevalue(package)
    root: ET.Element = request.getfixturevalue(f"{package}_define")
    defs = _item_defs(root)
    for name, group in _groups(root).items():
        keyed = sorted(
            (int(ref.get("KeySequence", "0")), defs[ref.get("ItemOID", "")].get("Name", ""))
            for ref in group.findall("odm:ItemRef", NS)
            if ref.get("KeySequence")
        )
        keys = [k for _, k in keyed]
        assert keys and [s for s, _ in keyed] == list(range(1, len(keys) + 1)), name
        assert not frames[name].duplicated(keys).any(), (name, keys)


def test_a_key_that_does_not_identify_rows_gains_the_sequence_or_is_refused() -> None:
    frame = pd.DataFrame({"USUBJID": ["A", "A"], "LBTESTCD": ["CD19", "CD19"], "LBSEQ": [1.0, 2.0]})
    assert unique_keys(frame, ("USUBJID", "LBTESTCD"), "LBSEQ") == ("USUBJID", "LBTESTCD", "LBSEQ")
    assert unique_keys(frame.iloc[:1], ("USUBJID", "LBTESTCD"), "LBSEQ") == ("USUBJID", "LBTESTCD")
    with pytest.raises(InvalidInput, match="a key that identifies every row"):
        unique_keys(frame, ("USUBJID", "LBTESTCD"), None)


@pytest.mark.parametrize("package", ["sdtm", "adam"])
def test_every_coded_value_is_in_its_codelist(package: str, request: pytest.FixtureRequest) -> None:
    frames: dict[str, pd.DataFrame] = request.getfixturevalue(package)
    root: ET.Element = request.getfixturevalue(f"{package}_define")
    codelists = {}
    for cl in root.iter(f"{{{NS['odm']}}}CodeList"):
        values = {
            i.get("CodedValue") for i in cl.findall("odm:CodeListItem", NS) + cl.findall("odm:EnumeratedItem", NS)
        }
        codelists[cl.get("OID")] = (values, cl.find("odm:ExternalCodeList", NS) is not None)
    checked = 0
    for name, group in _groups(root).items():
        for item in _variables(root, group):
            ref = item.find("odm:CodeListRef", NS)
            if ref is None:
                continue
            values, external = codelists[ref.get("CodeListOID")]
            used = {str(v) for v in frames[name][item.get("Name", "")] if v != ""}
            if not external:
                assert used <= values, (name, item.get("Name"), used - values)
                checked += len(used)
    assert checked > 10
    if package == "sdtm":
        assert {"CL.SEX", "CL.NY", "CL.UNIT", "CL.COUNTRY", "CL.LBTESTCD"} <= set(codelists)
        lbtest = dict(zip(frames["LB"]["LBTESTCD"], frames["LB"]["LBTEST"], strict=True))
        cl = next(c for c in root.iter(f"{{{NS['odm']}}}CodeList") if c.get("OID") == "CL.LBTESTCD")
        for item in cl.findall("odm:CodeListItem", NS):
            decode = item.find("odm:Decode/odm:TranslatedText", NS)
            assert decode is not None and decode.text == lbtest[item.get("CodedValue")]


def test_value_level_metadata_per_test_code_and_parameter(
    sdtm: dict[str, pd.DataFrame], sdtm_define: ET.Element, adam: dict[str, pd.DataFrame], adam_define: ET.Element
) -> None:
    for root, dataset, variable, parameter, frame in (
        (sdtm_define, "LB", "LBSTRESN", "LBTESTCD", sdtm["LB"]),
        (sdtm_define, "QS", "QSORRES", "QSTESTCD", sdtm["QS"]),
        (adam_define, "ADRS", "AVALC", "PARAMCD", adam["ADRS"]),
        (adam_define, "ADTTE", "AVAL", "PARAMCD", adam["ADTTE"]),
    ):
        defs = _item_defs(root)
        assert defs[f"IT.{dataset}.{variable}"].find("def:ValueListRef", NS) is not None
        value_list = next(
            v for v in root.iter(f"{{{NS['def']}}}ValueListDef") if v.get("OID") == f"VL.{dataset}.{variable}"
        )
        clauses = {w.get("OID"): w for w in root.iter(f"{{{NS['def']}}}WhereClauseDef")}
        covered = set()
        for ref in value_list.findall("odm:ItemRef", NS):
            clause = clauses[ref.find("def:WhereClauseRef", NS).get("WhereClauseOID")]  # type: ignore[union-attr]
            checks = clause.findall("odm:RangeCheck", NS)
            code = checks[-1].find("odm:CheckValue", NS).text  # type: ignore[union-attr]
            assert checks[-1].get(f"{{{NS['def']}}}ItemOID") == f"IT.{dataset}.{parameter}"
            covered.add(code)
            rows = frame[frame[parameter] == code][variable]
            item = defs[ref.get("ItemOID", "")]
            present = [v for v in rows if v != "" and not (isinstance(v, float) and pd.isna(v))]
            if item.get("DataType") == "text":
                assert int(item.get("Length", "0")) == max(len(str(v).encode("utf-8")) for v in present)
        assert covered == set(frame[parameter]), (dataset, variable)


def test_adam_derivations_and_predecessors(adam_define: ET.Element) -> None:
    defs = _item_defs(adam_define)
    methods = {m.get("OID"): m for m in adam_define.iter(f"{{{NS['odm']}}}MethodDef")}
    groups = _groups(adam_define)
    assert groups["ADSL"].find("def:Class", NS).get("Name") == "SUBJECT LEVEL ANALYSIS DATASET"  # type: ignore[union-attr]
    adtte_class = groups["ADTTE"].find("def:Class", NS)
    assert adtte_class is not None and adtte_class.find("def:SubClass", NS).get("Name") == "TIME-TO-EVENT"  # type: ignore[union-attr]
    for group in groups.values():
        for ref in group.findall("odm:ItemRef", NS):
            origin = defs[ref.get("ItemOID", "")].find("def:Origin", NS)
            assert origin is not None
            if origin.get("Type") == "Derived":
                method = methods[ref.get("MethodOID")]
                text = method.find("odm:Description/odm:TranslatedText", NS)
                assert text is not None and len(text.text or "") > 10
            else:
                assert origin.get("Type") == "Predecessor"
                source = origin.find("odm:Description/odm:TranslatedText", NS)
                assert source is not None and source.text and source.text.split(".")[0] in ("DM", "ADSL")
    assert defs["IT.ADSL.AGE"].find("def:Origin", NS).get("Type") == "Predecessor"  # type: ignore[union-attr]
    assert defs["IT.ADSL.TRTSDT"].get("{http://www.cdisc.org/ns/def/v2.1}DisplayFormat") == "DATE9."


def test_odmlib_model_checks_pass(sample: StudyRecord, sdtm: dict[str, pd.DataFrame]) -> None:
    """odmlib's own checks beside the schema: element order, OID references and nothing defined unused."""
    document = define_document(sdtm_define_package(sample, sdtm))
    assert document.validate(collect_errors=True, oid_checker=create_oid_checker("define_2_1")) == []
    assert document.unreferenced_oids(create_oid_checker("define_2_1")) == {}


def test_origins_of_a_virtual_trial_are_derived_and_of_a_real_one_collected(
    sample: StudyRecord, sdtm: dict[str, pd.DataFrame]
) -> None:
    real = sdtm_define_package(sample, sdtm)
    virtual = sdtm_define_package(sample.model_copy(update={"source": "simulation"}), sdtm)
    assert real.origin("LB", "LBORRES").type == "Collected" and real.origin("LB", "LBORRES").source == "Investigator"
    assert virtual.origin("LB", "LBORRES").type == "Derived" and "Simulated" in (
        virtual.origin("LB", "LBORRES").method or ""
    )
    assert real.origin("LB", "LBDY").type == "Derived" and real.origin("TS", "TSVAL").type == "Protocol"
    assert real.origin("DM", "USUBJID").type == "Assigned"
    assert real.roles("LB", "LBTESTCD") == "Topic" and real.roles("LB", "LBORRES") == "Result Qualifier"
    assert real.roles("AE", "AESTDTC") == "Timing" and real.roles("LB", "LBSTRESU") == "Variable Qualifier"


def test_the_schema_check_finds_what_is_wrong(sample: StudyRecord, sdtm: dict[str, pd.DataFrame]) -> None:
    text = define_xml(sdtm_define_package(sample, sdtm))
    assert define_schema_errors(io.StringIO(text)) == []
    broken = text.replace('def:Context="Submission"', 'def:Context="Draft"', 1)
    errors = define_schema_errors(io.StringIO(broken))
    assert errors and "Context" in errors[0]
    package = sdtm_define_package(sample, sdtm)
    wrong_class = replace(package, datasets=[replace(package.datasets[0], class_name="NOT A CLASS")])
    with pytest.raises(InvalidInput, match=r"valid against the Define-XML 2\.1 schema"):
        define_xml(wrong_class)


def test_written_with_the_packages_and_refused_before_anything_is_written(
    tmp_path: Path, sample: StudyRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = write_sdtm(sample, tmp_path / "sdtm")
    define = tmp_path / "sdtm" / "define.xml"
    assert define in written and define_schema_errors(define) == []
    root = ET.parse(define).getroot()
    # written without XPT: the links point to the CSV files that exist
    for leaf in root.iter(f"{{{NS['def']}}}leaf"):
        assert (tmp_path / "sdtm" / leaf.get(XLINK, "")).exists()
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5)
    write_adam(sample, tmp_path / "adam", xpt=True, created=stamp)
    adam_root = ET.parse(tmp_path / "adam" / "define.xml").getroot()
    assert adam_root.get("CreationDateTime") == "2026-01-02T03:04:05"
    for leaf in adam_root.iter(f"{{{NS['def']}}}leaf"):
        assert (tmp_path / "adam" / leaf.get(XLINK, "")).exists()

    import immunoreset.registry.define_xml as module

    monkeypatch.setattr(module, "define_schema_errors", lambda source: ["/ODM: broken on purpose"])
    with pytest.raises(InvalidInput, match="broken on purpose"):
        write_sdtm(sample, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_command_line_exports_write_define_xml(tmp_path: Path) -> None:
    folder = redcap.sample_project_path()
    db = f"sqlite:///{tmp_path / 'r.db'}"
    run = [sys.executable, "-m", "immunoreset"]
    subprocess.run([*run, "db", "init", "--db", db], check=True, capture_output=True)
    subprocess.run(
        [*run, "import", "redcap", str(folder / "export.csv"), "--dictionary", str(folder / "data_dictionary.csv"),
         "--mapping", str(folder / "mapping.yaml"), "--events", str(folder / "events.csv"), "--db", db],
        check=True, capture_output=True,
    )  # fmt: skip
    for kind in ("sdtm", "adam"):
        out = tmp_path / kind
        result = subprocess.run(
            [*run, "export", kind, "--db", db, "--out", str(out), "--xpt"], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert str(out / "define.xml") in result.stdout
        assert define_schema_errors(out / "define.xml") == []
