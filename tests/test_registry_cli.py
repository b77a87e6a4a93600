"""End-to-end runs of the registry commands (real subprocesses) on the sample REDCap project.

db init → import redcap → outcomes → export sdtm --xpt → audit verify/log → users; on SQLite and on
PostgreSQL (same row counts); a malformed export changes nothing; a tampered row is detected.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from immunoreset.registry.outcomes import compute_outcomes
from immunoreset.registry.redcap import read_redcap_export, sample_mapping_path, sample_project_path
from immunoreset.registry.store import Registry

SAMPLE = sample_project_path()
EXPORT, DICTIONARY, EVENTS = SAMPLE / "export.csv", SAMPLE / "data_dictionary.csv", SAMPLE / "events.csv"
MAPPING = sample_mapping_path()


def _sample_rows() -> list[dict[str, str]]:
    with EXPORT.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _site_of() -> dict[str, str]:
    return {r["record_id"]: r["site"] for r in _sample_rows() if r["site"]}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"IMMUNORESET_DATABASE_URL", "IMMUNORESET_USER"}}
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env
    )


def import_sample(db: str, export: Path = EXPORT, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "import",
        "redcap",
        str(export),
        "--dictionary",
        str(DICTIONARY),
        "--mapping",
        str(MAPPING),
        "--events",
        str(EVENTS),
        "--db",
        db,
        *extra,
    )


def test_sample_project_imports_identically_into_sqlite_and_postgresql(registry_url: str, tmp_path: Path) -> None:
    user: list[str] = []  # SQLite: the local admin; PostgreSQL: the URL's login, which created the registry
    assert run("db", "init", "--db", registry_url).returncode == 0
    first = import_sample(registry_url, EXPORT, *user)
    assert first.returncode == 0, first.stderr
    assert "importing 15 patient(s)" in first.stderr
    expected = read_redcap_export(EXPORT, DICTIONARY, MAPPING)
    counts = Registry.open(registry_url).counts()
    assert counts["patient"] == len(expected.patients) == 15 and counts["site"] == 2
    assert counts["medication"] == sum(len(p.medications) for p in expected.patients)
    assert counts["adverse_event"] == sum(len(p.adverse_events) for p in expected.patients)
    assert counts["visit"] == sum(len(p.visits) for p in expected.patients)
    assert counts["observation"] == sum(len(v.observations) for p in expected.patients for v in p.visits)
    again = import_sample(registry_url, EXPORT, *user)
    assert again.returncode == 0 and "no changes" in again.stdout
    out = tmp_path / "outcomes.parquet"
    result = run("outcomes", "--db", registry_url, *user, "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(out)
    library = compute_outcomes(expected)
    columns = ["patient", "visit", "instrument", "result", "value", "evaluable"]
    pd.testing.assert_frame_equal(table[columns].astype(str), library[columns].astype(str))
    verify = run("audit", "verify", "--db", registry_url, *user)
    assert verify.returncode == 0 and "audit trail intact" in verify.stdout


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    db = folder / "registry.db"
    assert run("db", "init", "--db", str(db)).returncode == 0
    result = import_sample(str(db))
    assert result.returncode == 0, result.stderr
    return db


def _copy(db: Path, target: Path) -> Path:
    target.write_bytes(db.read_bytes())
    return target


def test_malformed_export_exits_non_zero_lists_every_problem_and_changes_nothing(
    sample_db: Path, tmp_path: Path
) -> None:
    db = _copy(sample_db, tmp_path / "r.db")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    rows = list(csv.reader(EXPORT.open(encoding="utf-8")))
    header = rows[0]
    col = {name: i for i, name in enumerate(header)}
    labs = next(i for i, r in enumerate(rows) if r[col["redcap_event_name"]] == "day_minus_7_arm_1" and r[col["crp"]])
    rows[labs][col["crp_unit"]] = "7"  # wrong unit code
    other = next(i for i, r in enumerate(rows) if 1 < i != labs and r[col["c3"]])
    rows[other][col["c3"]] = "45"  # out of range (g/L)
    rows[1][col["redcap_event_name"]] = "month_99_arm_1"  # unknown event
    rows.append(list(rows[labs + 1]))  # duplicate row
    bad = tmp_path / "export.csv"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    bad.write_text(buffer.getvalue(), encoding="utf-8")
    result = import_sample(str(db), bad)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for expected in ("crp_unit", "c3", "month_99_arm_1", "one row per record, event"):
        assert expected in result.stderr, expected
    assert f"row {len(rows)}" in result.stderr  # problems carry the row number
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_audit_verify_detects_a_row_changed_behind_the_registry_back(sample_db: Path, tmp_path: Path) -> None:
    db = _copy(sample_db, tmp_path / "r.db")
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE observation SET value = '0.1' WHERE code = 'c3' AND id = (SELECT MIN(id) FROM observation"
            " WHERE code = 'c3')"
        )
    result = run("audit", "verify", "--db", str(db))
    assert result.returncode == 1
    assert "TAMPERED: observation row" in result.stderr and "value" in result.stderr


def test_audit_log_shows_a_patients_history(sample_db: Path) -> None:
    result = run("audit", "log", "--patient", "SLE-03", "--db", str(sample_db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(" SLE-03 " in line for line in lines)
    assert any("insert" in line and "observation#" in line for line in lines)


def test_site_investigator_sees_only_own_site(sample_db: Path, tmp_path: Path) -> None:
    db = _copy(sample_db, tmp_path / "r.db")
    added = run("users", "add", "hamburg", "--role", "investigator", "--site", "2", "--db", str(db))
    assert added.returncode == 0, added.stderr
    out = tmp_path / "o.csv"
    result = run("outcomes", "--db", str(db), "--user", "hamburg", "--out", str(out))
    assert result.returncode == 0, result.stderr
    site_of = _site_of()
    assert set(pd.read_csv(out, dtype=str)["patient"]) == {p for p, site in site_of.items() if site == "2"}
    other = next(p for p, site in site_of.items() if site == "1")
    denied = run("audit", "log", "--patient", other, "--db", str(db), "--user", "hamburg")
    assert denied.returncode == 1 and f"no patient {other}" in denied.stderr
    nobody = run("outcomes", "--db", str(db), "--user", "mallory")
    assert nobody.returncode == 1 and "unknown registry user" in nobody.stderr


def test_sdtm_export_xpt_reads_back_to_the_csv_values(sample_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "sdtm"
    result = run("export", "sdtm", "--out", str(out), "--xpt", "--db", str(sample_db))
    assert result.returncode == 0, result.stderr
    xpts = sorted(out.glob("*.xpt"))
    assert {p.stem for p in xpts} >= {"dm", "ex", "ae", "lb", "cm", "qs", "pc"}
    for path in xpts:
        frame, _meta = pyreadstat.read_xport(str(path))
        csv_frame = pd.read_csv(path.with_suffix(".csv"), dtype=str, keep_default_na=False)
        assert list(frame.columns) == list(csv_frame.columns)
        assert all(len(c) <= 8 for c in frame.columns)
        assert len(frame) == len(csv_frame)
        if path.stem in ("ts", "te", "ta", "tv", "ti"):  # trial design: one set per study, no subjects
            assert (frame["STUDYID"] == "CART-AI-SAMPLE").all()
            continue
        dm_usubjid = frame["USUBJID"].astype(str)
        assert dm_usubjid.str.startswith("CART-AI-SAMPLE-").all()
    dm, _ = pyreadstat.read_xport(str(out / "dm.xpt"))
    assert len(dm) == 15


def test_kinetics_commands_read_the_registry(sample_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "nca.csv"
    result = run("kinetics", "nca", "--db", str(sample_db), "--analyte", "cart_flow", "--out", str(out))
    assert result.returncode == 0, result.stderr
    nca = pd.read_csv(out)
    assert len(nca) == 15 and nca["tmax"].between(7, 15).all()  # peaks at the day-7 or day-14 visit
    bcells = tmp_path / "b.csv"
    assert run("kinetics", "bcells", "--db", str(sample_db), "--out", str(bcells)).returncode == 0
    table = pd.read_csv(bcells)
    assert table["aplasia_reached"].all()
    naive = table["naive_fraction_at_reconstitution"].dropna()
    assert len(naive) > 0 and (naive > 0.9).all()  # reconstitution with naive B cells
    both = run("kinetics", "nca", "some.csv", "--db", str(sample_db))
    assert both.returncode == 2 and "either a tidy CSV/Parquet file or --db" in both.stderr


def test_postgresql_user_is_the_login_not_a_name() -> None:
    # --user naming someone else than the URL's login grants nothing: one line, exit 2, before connecting
    result = run("outcomes", "--db", "postgresql://postgres@127.0.0.1:5432/test", "--user", "admin")
    assert result.returncode == 2 and "the user the database URL names (postgres)" in result.stderr
    assert "Traceback" not in result.stderr
