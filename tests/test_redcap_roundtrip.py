"""Virtual trial → REDCap export → ``import redcap`` → outcomes: the same results as the virtual trial read
directly, value by value; the shipped sample project is exactly what ``immunoreset redcap sample`` makes."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from immunoreset.registry import redcap as rc
from immunoreset.registry.outcomes import compute_outcomes
from immunoreset.registry.records import StudyRecord
from immunoreset.trial.redcap_project import write_redcap_project

KEYS = ["patient", "visit", "study_day", "instrument", "result"]
VALUES = ["value", "evaluable", "reason"]
INSTRUMENTS = {"sledai2k", "doris", "lldas", "myositis_tis", "eustar_ai", "crs", "icans", "drug_free", "icaht"}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args], capture_output=True, text=True, timeout=900, cwd=cwd, check=False
    )


def outcome_values(study: StudyRecord) -> pd.DataFrame:
    table = compute_outcomes(study)
    return table[KEYS + VALUES].astype(str).sort_values(KEYS).reset_index(drop=True)


def _same_cell(shipped: str, made: str) -> bool:
    """Equal, or numbers within one unit of the shipped value's last decimal place (the simulation rounds to
    fixed places; another BLAS or NumPy may move a value across a rounding edge)."""
    if shipped == made:
        return True
    try:
        a, b = Decimal(shipped), Decimal(made)
    except InvalidOperation:
        return False
    exponent = a.as_tuple().exponent
    return isinstance(exponent, int) and b.is_finite() and abs(a - b) <= Decimal(1).scaleb(exponent)


def test_the_shipped_sample_is_what_redcap_sample_makes(tmp_path: Path) -> None:
    done = run("redcap", "sample", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    shipped = rc.sample_project_path()
    names = sorted(p.name for p in shipped.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    hint = "regenerate examples/redcap with `immunoreset redcap sample --out src/immunoreset/data/examples/redcap`"
    for name in names:
        a, b = (shipped / name).read_text(encoding="utf-8"), (tmp_path / name).read_text(encoding="utf-8")
        if a == b:
            continue
        assert name.endswith(".csv"), f"{name} differs; {hint}"
        rows_a, rows_b = list(csv.reader(io.StringIO(a))), list(csv.reader(io.StringIO(b)))
        assert len(rows_a) == len(rows_b) and all(len(x) == len(y) for x, y in zip(rows_a, rows_b, strict=True))
        bad = [
            (i, x, y)
            for i, (ra, rb) in enumerate(zip(rows_a, rows_b, strict=True))
            for x, y in zip(ra, rb, strict=True)
            if not _same_cell(x, y)
        ]
        assert bad == [], f"{name}: {bad[:5]}; {hint}"


def test_sample_round_trip_gives_the_same_outcomes_value_by_value(sample_truth: Any) -> None:
    truth = sample_truth[0]
    folder = rc.sample_project_path()
    imported = rc.read_redcap_export(folder / "export.csv", folder / "data_dictionary.csv", rc.sample_mapping_path())
    direct, back = outcome_values(truth), outcome_values(imported)
    assert set(direct["instrument"]) >= INSTRUMENTS
    pd.testing.assert_frame_equal(back, direct)
    evaluable = direct[direct["evaluable"] == "True"]
    assert set(evaluable["instrument"]) >= INSTRUMENTS  # every compared instrument has values, not only gaps


def test_values_on_thresholds_change_only_what_the_sample_readme_says(sample_truth: Any) -> None:
    """The sample's values set exactly on a threshold keep every result on its side, except the CTCAE grade
    of the day whose neutrophil count became 500/µL (ICAHT counts ANC <= 500, CTCAE grade 4 is < 500)."""
    from immunoreset.trial import simulate_trial

    truth, design, edits = sample_truth
    untouched = simulate_trial(design).study
    untouched = untouched.model_copy(
        update={"patients": [p.model_copy(update={"site": truth.patient(p.code).site}) for p in untouched.patients]}
    )
    merged = outcome_values(truth).merge(outcome_values(untouched), on=KEYS, suffixes=("", "_before"))
    changed = merged[(merged["value"] != merged["value_before"]) | (merged["evaluable"] != merged["evaluable_before"])]
    anc = next(e for e in edits if e.code == "anc")
    assert [tuple(r) for r in changed[["patient", "visit", "instrument", "result", "value"]].values] == [
        (anc.patient, anc.visit, "ctcae", "neutrophil_count_decreased", "3")
    ]
    assert {e.code for e in edits} == {"crs_temperature", "sle_pga", "anc", "upcr", "c3"}
    readme = (rc.sample_project_path() / "README.md").read_text(encoding="utf-8")
    assert all(f"{e.patient}, {e.visit}: {e.code} {e.before} -> {e.after}" in readme for e in edits)


def test_trial_run_redcap_then_import_gives_the_trials_outcomes(tmp_path: Path) -> None:
    """End to end through the command line, on a resized design (4 patients)."""
    trial, project, db = tmp_path / "trial", tmp_path / "redcap", str(tmp_path / "imported.db")
    done = run("trial", "run", "erlangen2024", "--patients", "4", "--out", str(trial), "--redcap", str(project))
    assert done.returncode == 0, done.stderr
    assert "REDCap project" in done.stderr
    check = run("redcap", "check", str(project))
    assert check.returncode == 0, check.stderr
    assert run("db", "init", "--db", db).returncode == 0
    imported = run(
        "import", "redcap", str(project / "export.csv"), "--dictionary", str(project / "data_dictionary.csv"),
        "--mapping", str(project / "mapping.yaml"), "--events", str(project / "events.csv"), "--db", db,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "outcomes.parquet"
    assert run("outcomes", "--db", db, "--out", str(out)).returncode == 0
    columns = KEYS + VALUES
    direct = pd.read_parquet(trial / "outcomes.parquet")[columns].astype(str).sort_values(KEYS).reset_index(drop=True)
    back = pd.read_parquet(out)[columns].astype(str).sort_values(KEYS).reset_index(drop=True)
    assert direct["patient"].nunique() == 4
    pd.testing.assert_frame_equal(back, direct)


def test_a_visit_off_the_schedule_is_refused_by_name(sample_truth: Any, tmp_path: Path) -> None:
    truth, design, _edits = sample_truth
    patient = truth.patients[0]
    odd = patient.visits[0].model_copy(update={"label": "week 3", "study_day": 21})
    study = truth.model_copy(update={"patients": [patient.model_copy(update={"visits": [*patient.visits, odd]})]})
    from immunoreset.errors import InvalidInput

    with pytest.raises(InvalidInput) as info:
        write_redcap_project(study, design, tmp_path)
    assert any("visit week 3" in p.field for p in info.value.problems)
