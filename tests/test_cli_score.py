"""End-to-end runs of the command line (real subprocesses of the installed console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from immunoreset.instruments.sle import DESCRIPTORS

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def quiet_visit(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {d.name: False for d in DESCRIPTORS}
    data.update(changes)
    return data


def test_list_shows_instruments_and_sources() -> None:
    out = run("score", "--list")
    assert out.returncode == 0, out.stderr
    for name in ("sledai2k", "doris", "lldas", "sri4", "sle_classification_2019"):
        assert name in out.stdout
    assert "Gladman" in out.stdout


def test_schema_is_json_schema() -> None:
    out = run("score", "sledai2k", "--schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert "hematuria" in schema["properties"] and schema["additionalProperties"] is False


def test_json_list_in_order_from_file(tmp_path: Path) -> None:
    path = tmp_path / "visits.json"
    path.write_text(json.dumps([quiet_visit(rash=True), quiet_visit(), quiet_visit(seizure=True, fever=True)]))
    out = run("score", "sledai2k", str(path))
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["total"] for r in results] == [2, 0, 9]
    assert all(r["instrument"] == "sledai2k" and r["source"] for r in results)


def test_single_object_from_stdin() -> None:
    out = run(
        "score",
        "sri4",
        "-",
        stdin=json.dumps(
            {"baseline_sledai": 12, "sledai": 8, "new_bilag_a": 0, "new_bilag_b": 0, "baseline_pga": 0.9, "pga": 1.2}
        ),
    )
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)
    assert result["responder"] is False and result["pga_change"] == 0.3


def test_csv_with_nested_columns_and_empty_cells(tmp_path: Path) -> None:
    names = [d.name for d in DESCRIPTORS]
    header = ["pga", "prednisolone_mg_per_day", "antimalarial", "immunosuppressant", "biologic"]
    header += [f"sledai2k.{n}" for n in names]
    rows = [
        ["0.2", "5", "false", "false", "false", *["false"] * len(names)],
        ["0.5", "0", "false", "false", "false", *["false"] * len(names)],
        ["", "0", "false", "false", "false", *["false"] * len(names)],
    ]
    path = tmp_path / "doris.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    out = run("score", "doris", str(path))
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["remission"] for r in results] == [True, False, None]
    assert results[2]["evaluable"] is False and "pga" in results[2]["reason"]


def test_table_format_and_options(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text(
        json.dumps(
            {
                "clinical_sledai": 0,
                "pga": 0.5,
                "prednisolone_mg_per_day": 0,
                "antimalarial": False,
                "immunosuppressant": False,
                "biologic": False,
            }
        )
    )
    out = run("score", "doris", str(path), "--option", "pga_operator=le", "--format", "table")
    assert out.returncode == 0, out.stderr
    assert "remission" in out.stdout and "yes" in out.stdout


def test_examples_csv_scores(tmp_path: Path) -> None:
    out = run("score", "sledai2k", str(ROOT / "examples" / "sledai2k_visits.csv"), "--format", "table")
    assert out.returncode == 0, out.stderr
    assert "SLEDAI-2K" in out.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (("score", "doris", "-"), json.dumps({"pga": 3.5}), "'pga'"),
        (("score", "sledai2k", "-"), json.dumps([quiet_visit(), quiet_visit(hematuira=True)]), "hematuira"),
        (("score", "sledai2k", "-"), "{not json", "valid JSON"),
        (("score", "nosuch", "-"), "{}", "instrument"),
        (("score", "doris", "-", "--option", "glucocorticoid_operator=lte"), "{}", "glucocorticoid_operator"),
        (("score", "doris", "/nonexistent/file.json"), None, "FILE"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_field(
    args: tuple[str, ...], stdin: str | None, needle: str
) -> None:
    out = run(*args, stdin=stdin)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert "Traceback" not in out.stderr


def test_bad_row_reports_its_position() -> None:
    out = run("score", "sledai2k", "-", stdin=json.dumps([quiet_visit(), quiet_visit(rash="maybe")]))
    assert out.returncode == 2
    assert "item 2" in out.stderr and "rash" in out.stderr


def test_demo_examples_prints_the_example_table() -> None:
    out = run("demo", "--examples")
    assert out.returncode == 0, out.stderr
    assert "SLE-01" in out.stdout and "remission" in out.stdout
    data = json.loads(run("demo", "--examples", "--format", "json").stdout)
    month6 = [r for r in data if r["visit"] == "month 6"]
    assert month6 and all(r["doris"]["remission"] for r in month6)


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("immunoreset ")


@pytest.mark.parametrize(
    "args",
    [("score", "--bogus"), ("kinetics", "nca", "x.csv", "--auc-method", "foo"), ("trial", "run"), ("nosuchcommand",)],
)
def test_usage_errors_exit_2_without_traceback(args: tuple[str, ...]) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "Usage" in out.stderr


# --- review #17.9: standard JSON Schema bounds; instrument names case-insensitive


def _non_standard_bounds(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [k for k in ("ge", "le", "gt", "lt") if k in node]
        return found + [k for v in node.values() for k in _non_standard_bounds(v)]
    if isinstance(node, list):
        return [k for v in node for k in _non_standard_bounds(v)]
    return []


def test_every_input_schema_uses_standard_bounds_and_a_validator_enforces_them() -> None:
    import jsonschema

    from immunoreset import instruments

    for item in instruments.all_instruments():
        assert _non_standard_bounds(item.input_schema()) == [], item.name
    mrss_schema = instruments.get("mrss").input_schema()
    jsonschema.validate({"face": 3}, mrss_schema)
    for bad in ({"face": 4}, {"face": -1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, mrss_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"neck_flexors": 11}, instruments.get("mmt8").input_schema())


def test_instrument_names_are_case_insensitive_with_a_suggestion() -> None:
    from immunoreset import instruments
    from immunoreset.errors import InvalidInput

    assert instruments.get("SLEDAI2K").name == "sledai2k" and instruments.get("Eustar_AI").name == "eustar_ai"
    with pytest.raises(InvalidInput) as err:
        instruments.get("mrs")
    assert "did you mean 'mrss'?" in str(err.value)
