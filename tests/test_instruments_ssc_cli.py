"""``immunoreset score`` end to end (real subprocesses) for the SSc instruments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from immunoreset.instruments.ssc import MRSS_AREAS


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_list_shows_the_ssc_instruments() -> None:
    out = run("--list")
    assert out.returncode == 0, out.stderr
    for name in ("mrss", "eustar_ai", "criss", "ssc_classification_2013"):
        assert name in out.stdout
    assert "Valentini" in out.stdout and "Khanna" in out.stdout


def test_eustar_json_list_in_order_with_crp_units(tmp_path: Path) -> None:
    visits: list[dict[str, Any]] = [
        {
            "delta_skin": True,
            "mrss": 10,
            "digital_ulcers": False,
            "tendon_friction_rubs": False,
            "crp": {"value": 0.3, "unit": "mg/dL"},
            "dlco_percent_predicted": 69.9,
        },
        {
            "delta_skin": False,
            "mrss": 12,
            "digital_ulcers": True,
            "tendon_friction_rubs": False,
            "crp": {"value": 12, "unit": "mg/L"},
            "dlco_percent_predicted": 80,
        },
        {
            "delta_skin": False,
            "mrss": 10,
            "digital_ulcers": False,
            "tendon_friction_rubs": True,
            "crp": {"value": 0.3, "unit": "mg/dL"},
            "dlco_percent_predicted": 85,
        },
    ]
    path = tmp_path / "eustar.json"
    path.write_text(json.dumps(visits))
    out = run("eustar_ai", str(path))
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["total"] for r in results] == [2.5, 3.75, 2.25]
    assert [r["active"] for r in results] == [True, True, False]
    assert results[1]["crp_mg_dl"] == 1.2


def test_criss_from_csv_with_dotted_columns(tmp_path: Path) -> None:
    header = [
        "baseline.mrss",
        "follow_up.mrss",
        "baseline.fvc_percent_predicted",
        "follow_up.fvc_percent_predicted",
        "baseline.patient_global",
        "follow_up.patient_global",
        "baseline.physician_global",
        "follow_up.physician_global",
        "baseline.haq_di",
        "follow_up.haq_di",
        "new_renal_crisis",
        "ild_progression",
        "new_lv_failure",
        "new_pah",
    ]
    rows = [
        ["25", "18", "70", "70", "5", "5", "5", "5", "1.5", "1.375", "false", "false", "false", "false"],  # C4
        ["25", "18", "70", "70", "5", "5", "5", "5", "1.5", "1.5", "false", "false", "false", "false"],  # C3
        ["25", "10", "70", "80", "5", "0", "5", "0", "1.5", "0.5", "true", "false", "false", "false"],  # C7
        ["25", "18", "70", "70", "5", "5", "5", "5", "1.5", "1.375", "", "", "", ""],  # step 1 not recorded
    ]
    path = tmp_path / "criss.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    out = run("criss", str(path))
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["improved"] for r in results] == [True, False, False, None]
    assert [r["probability"] for r in results[:3]] == [0.635584, 0.532454, 0]
    assert results[3]["evaluable"] is False and "new_renal_crisis" in results[3]["reason"]


def test_mrss_table_and_option(tmp_path: Path) -> None:
    grades = dict.fromkeys(MRSS_AREAS, 1)
    del grades["face"]
    out = run("mrss", "-", "--format", "table", "--option", "missing_areas=partial_sum", stdin=json.dumps(grades))
    assert out.returncode == 0, out.stderr
    assert "16" in out.stdout and "partial" in out.stdout


def test_classification_and_schema() -> None:
    case = {
        "sclerodactyly": True,
        "raynaud_phenomenon": True,
        "anti_topoisomerase_i": True,
        "skin_thickening_sparing_fingers": False,
        "better_explained_by_other_disorder": False,
    }
    out = run("ssc_classification_2013", "-", stdin=json.dumps(case))
    assert out.returncode == 0, out.stderr
    [result] = json.loads(out.stdout)
    assert result["classified"] is True and result["total_points"] == 10
    schema = run("ssc_classification_2013", "--schema")
    assert schema.returncode == 0
    assert "raynaud_phenomenon" in json.loads(schema.stdout)["properties"]


def test_bad_input_exits_2_naming_the_field() -> None:
    cases = [
        ("mrss", {**dict.fromkeys(MRSS_AREAS, 0), "face": 4}, "face"),
        ("mrss", {area: 0 for area in MRSS_AREAS if area != "abdomen"}, "abdomen"),
        ("eustar_ai", {"crp": {"value": 5}}, "crp.unit"),
        ("eustar_ai", {"crp": {"value": 5, "unit": "U/L"}}, "crp.unit"),
        ("criss", {"baseline": {}, "follow_up": {"patient_global": 55}}, "follow_up.patient_global"),
        ("ssc_classification_2013", {"raynauds": True}, "raynauds"),
    ]
    for name, data, field in cases:
        out = run(name, "-", stdin=json.dumps(data))
        assert out.returncode == 2, (name, out.stdout)
        message = out.stderr.strip()
        assert len(message.splitlines()) == 1 and f"'{field}'" in message, message
    bad_option = run("criss", "-", "--option", "global_scale=0-5", stdin=json.dumps({"baseline": {}, "follow_up": {}}))
    assert bad_option.returncode == 2 and "global_scale" in bad_option.stderr


def test_eustar_csv_with_crp_value_and_unit_columns(tmp_path: Path) -> None:
    path = tmp_path / "eustar.csv"
    path.write_text(
        "delta_skin,mrss,digital_ulcers,tendon_friction_rubs,crp.value,crp.unit,dlco_percent_predicted\n"
        "false,12,true,false,12,mg/L,80\n"
        "false,12,true,false,10,mg/L,80\n"
        "false,12,true,false,,,80\n"
    )
    out = run("eustar_ai", str(path))
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["total"] for r in results] == [3.75, 1.5, None]
    assert [r["active"] for r in results] == [True, False, None]
