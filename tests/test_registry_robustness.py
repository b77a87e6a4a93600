"""No tracebacks, no hangs, no secrets (issue "Registry hardening", items 6-9): every case the probe
found, run end to end through the command line as a user would, on SQLite and where it matters on
PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from immunoreset.registry.redcap import sample_mapping_path, sample_project_path
from immunoreset.registry.store import Registry
from immunoreset.registry.tidy_csv import write_tidy_csv

SAMPLE = sample_project_path()
SECRET = "S3cretPW"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IMMUNORESET_")}
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean, **(env or {})},
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error is exactly one line starting with 'error:', the last one, and there is no traceback (an import
    announces itself on stderr before it starts writing: that line may precede it)."""
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all(line == errors[0] or line.startswith("importing ") for line in lines), result.stderr
    return errors[0]


def redcap_import_args(db: str, export: Path = SAMPLE / "export.csv") -> list[str]:
    """``immunoreset import redcap`` of the shipped sample project (or another export of it) into ``db``."""
    return [
        "import",
        "redcap",
        str(export),
        "--dictionary",
        str(SAMPLE / "data_dictionary.csv"),
        "--mapping",
        str(sample_mapping_path()),
        "--events",
        str(SAMPLE / "events.csv"),
        "--db",
        db,
    ]


def import_redcap(db: str, export: Path = SAMPLE / "export.csv", **env: str) -> subprocess.CompletedProcess[str]:
    return run(*redcap_import_args(db, export), env=env)


@pytest.fixture(scope="module")
def tidy_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two patients of the shipped sample as tidy CSV files (small, quick to import)."""
    from immunoreset.registry.redcap import read_redcap_export

    study = read_redcap_export(
        SAMPLE / "export.csv", SAMPLE / "data_dictionary.csv", sample_mapping_path(), events_csv=SAMPLE / "events.csv"
    )
    small = study.model_copy(update={"patients": study.patients[:2]})
    folder = tmp_path_factory.mktemp("tidy")
    write_tidy_csv(small, folder)
    return folder


def _digest(db: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(db.parent.glob(db.name + "*")))).hexdigest()


# ------------------------------------------------------------------------------ 6. secrets and errors
def test_a_password_in_a_database_url_is_never_printed() -> None:
    refused = run("outcomes", "--db", f"mysql://root:{SECRET}@db.example.org/registry")
    assert refused.returncode == 2 and SECRET not in refused.stderr + refused.stdout
    assert "mysql://root:***@db.example.org/registry" in one_line(refused)
    unreachable = run("outcomes", "--db", f"postgresql://root:{SECRET}@127.0.0.1:9/registry")
    assert unreachable.returncode == 1 and SECRET not in unreachable.stderr + unreachable.stdout
    assert "cannot open the registry database" in one_line(unreachable)


def test_unreachable_databases_and_unopenable_files_are_one_line(tmp_path: Path) -> None:
    wrong_port = run("users", "list", "--db", "postgresql://postgres@127.0.0.1:1/test")
    assert wrong_port.returncode == 1 and "cannot open the registry database" in one_line(wrong_port)
    no_folder = run("db", "init", "--db", str(tmp_path / "no" / "such" / "folder" / "r.db"))
    assert no_folder.returncode == 1 and "unable to open database file" in one_line(no_folder)
    folder_as_db = run("db", "init", "--db", str(tmp_path))
    assert folder_as_db.returncode == 1
    one_line(folder_as_db)


def test_report_on_a_registry_that_does_not_exist_writes_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "immunoreset", "report", "--db", "nosuch.db", "--out", "r.html"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2 and "an existing registry file" in one_line(result)
    assert list(tmp_path.iterdir()) == []  # no empty database, no empty report


def test_db_init_on_postgresql_names_the_schema_it_wrote_into(postgresql_url: str) -> None:
    result = run("db", "init", "--db", postgresql_url)
    assert result.returncode == 0, result.stderr
    schema = make_url(postgresql_url).query["options"].split("=")[1]  # type: ignore[union-attr]
    assert f"in database schema '{schema}'" in result.stdout


# ------------------------------------------------------------------------------------ 5. audit anchoring
def test_checkpoint_and_verify_against_it_from_the_command_line(tmp_path: Path, tidy_sample: Path) -> None:
    db = tmp_path / "r.db"
    assert run("db", "init", "--db", str(db)).returncode == 0
    assert run("import", "csv", *map(str, sorted(tidy_sample.glob("*.csv"))), "--db", str(db)).returncode == 0
    verify = run("audit", "verify", "--db", str(db))
    head = Registry.open(str(db)).audit_head()
    assert verify.returncode == 0 and f"head: entry {head[0]}, hash {head[1]}" in verify.stdout
    key = tmp_path / "key"
    key.write_text("sponsor's key\n")
    checkpoint = tmp_path / "cp.json"
    made = run("audit", "checkpoint", "--out", str(checkpoint), "--key-file", str(key), "--db", str(db))
    assert made.returncode == 0 and "signed (HMAC-SHA256)" in made.stdout
    assert json.loads(checkpoint.read_text())["seq"] == head[0]
    ok = run("audit", "verify", "--against", str(checkpoint), "--key-file", str(key), "--db", str(db))
    assert ok.returncode == 0 and f"checkpoint at entry {head[0]} matches" in ok.stdout
    with sqlite3.connect(db) as conn:  # truncate: the newest entry, its row, and the head reset
        seq, table, row_id, prev = conn.execute(
            "SELECT seq, table_name, row_id, prev_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
        conn.execute("DELETE FROM audit_log WHERE seq = ?", (seq,))
        conn.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq - 1, prev))
    assert run("audit", "verify", "--db", str(db)).returncode == 0  # the chain alone cannot tell
    caught = run("audit", "verify", "--against", str(checkpoint), "--key-file", str(key), "--db", str(db))
    assert caught.returncode == 1 and "entries removed" in caught.stderr
    unsigned = run("audit", "verify", "--against", str(checkpoint), "--db", str(db))
    assert unsigned.returncode == 2 and "signing key" in one_line(unsigned)


# ---------------------------------------------------------------------------------- 7. hangs and locks
@pytest.mark.parametrize(
    ("instrument", "payload"),
    [
        ("mrss", {"face": "1E999999999"}),
        ("icaht", {"anc": [{"day": "1E999999999", "anc": 100}]}),
        ("myositis_tis", {"ck_uln": "1E999999999"}),
    ],
)
def test_huge_exponents_are_refused_at_once(instrument: str, payload: dict[str, object], tmp_path: Path) -> None:
    # written as a bare JSON number, exactly as the probe sent it
    path = tmp_path / "in.json"
    path.write_text(json.dumps(payload).replace('"1E999999999"', "1E999999999"))
    started = time.monotonic()
    result = run("score", instrument, str(path), timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 2 and "1E999999999" in one_line(result)


def test_two_concurrent_sqlite_imports_both_succeed_one_after_the_other(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    assert run("db", "init", "--db", str(db)).returncode == 0
    command = [sys.executable, "-m", "immunoreset", *redcap_import_args(str(db))]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    summaries = sorted("no changes" in out for out, _err in outputs)
    assert summaries == [False, True]  # one wrote the patients, the other then found nothing to change
    verify = run("audit", "verify", "--db", str(db))
    assert verify.returncode == 0 and "audit trail intact" in verify.stdout


def test_a_writer_that_holds_the_sqlite_lock_makes_the_next_import_say_busy(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    assert run("db", "init", "--db", str(db)).returncode == 0
    before = _digest(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        result = import_redcap(str(db), IMMUNORESET_LOCK_TIMEOUT="1")
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1 and "is busy: another user is writing to it (waited 1 s" in one_line(result)
    assert waited < 60
    assert _digest(db) == before


def test_a_stalled_postgresql_writer_makes_the_next_import_say_busy(postgresql_url: str) -> None:
    assert run("db", "init", "--db", postgresql_url).returncode == 0
    url = make_url(postgresql_url)
    with psycopg.connect(
        host=url.host, port=url.port, dbname=url.database, user=url.username, options=str(url.query["options"])
    ) as stalled:
        stalled.execute("SELECT * FROM audit_head FOR UPDATE")  # a writer that never finishes
        result = import_redcap(postgresql_url, IMMUNORESET_LOCK_TIMEOUT="1")
        stalled.rollback()
    assert result.returncode == 1 and "is busy" in one_line(result)
    assert Registry.open(postgresql_url).counts()["patient"] == 0


# ----------------------------------------------------------------- 8. tracebacks; the same limits everywhere
def _import_tidy(db: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return run("import", "csv", *map(str, sorted(folder.glob("*.csv"))), "--db", db)


def _edited(tidy_sample: Path, tmp_path: Path, file: str, column: str, value: str, row: int = 1) -> Path:
    import csv

    folder = tmp_path / "edited"
    shutil.copytree(tidy_sample, folder)
    if file == "*":  # a patient code: renamed in every file that names the patient
        for path in folder.glob("*.csv"):
            rows = list(csv.reader(path.open(encoding="utf-8")))
            first = rows[row][rows[0].index(column)] if column in rows[0] else None
            renamed = [[value if c == first and i and c else c for c in r] for i, r in enumerate(rows)]
            with path.open("w", encoding="utf-8", newline="") as fh:
                csv.writer(fh).writerows(renamed)
        return folder
    rows = list(csv.reader((folder / file).open(encoding="utf-8")))
    rows[row][rows[0].index(column)] = value
    with (folder / file).open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return folder


@pytest.mark.parametrize(
    ("file", "column", "value", "expected"),
    [
        ("lymphodepletion.csv", "first_day", "-99999", "greater than or equal to -36525"),
        ("observations.csv", "study_day", str(2**31), "a whole number of at most 9 digits"),
        ("observations.csv", "study_day", "1" + "0" * 20, "a whole number of at most 9 digits"),
        ("observations.csv", "value", "1" + "0" * 64, "a finite number of at most 30 digits"),
        ("observations.csv", "value", "9" * 5000, "a finite number of at most 30 digits"),
        ("*", "patient", "SLE-01\nX", "control character U+000A"),
        ("*", "patient", "SLE-\u202e10", "control character U+202E"),
        ("patients.csv", "product", "MB-CART19\u20661", "control character U+2066"),
        ("patients.csv", "product", "x" * 201, "at most 200 characters"),
    ],
)
def test_values_postgresql_would_refuse_are_refused_alike_on_both_engines_before_writing(
    registry_url: str, tidy_sample: Path, tmp_path: Path, file: str, column: str, value: str, expected: str
) -> None:
    assert run("db", "init", "--db", registry_url).returncode == 0
    result = _import_tidy(registry_url, _edited(tidy_sample, tmp_path, file, column, value))
    assert result.returncode == 2 and expected in one_line(result)
    assert Registry.open(registry_url).counts()["patient"] == 0


def test_the_store_holds_both_engines_to_postgresqls_column_limits(registry_url: str) -> None:
    from immunoreset.errors import InvalidInput
    from immunoreset.registry.store import initialise
    from test_registry_store import make_study

    initialise(registry_url)
    registry = Registry.open(registry_url)
    study = make_study(n_per_site=1)
    registry.load(study)
    before = registry.counts()
    unchecked = study.model_copy(deep=True)
    unchecked.patients[0].visits[0].study_day = 2**31  # records built without validation reach the store too
    with pytest.raises(InvalidInput, match=r"visit\.study_day.*from -2147483648 to 2147483647"):
        registry.load(unchecked)
    unchecked = study.model_copy(deep=True)
    unchecked.patients[0].visits[0].label = "v" * 81
    with pytest.raises(InvalidInput, match=r"visit\.label.*at most 80 characters"):
        registry.load(unchecked)
    assert registry.counts() == before and registry.verify_audit().ok


def test_an_81_character_user_name_is_refused_on_both_engines(registry_url: str) -> None:
    assert run("db", "init", "--db", registry_url).returncode == 0
    result = run("users", "add", "u" * 81, "--role", "monitor", "--db", registry_url)
    assert result.returncode == 2 and "1 to 63 lower-case letters" in one_line(result)


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe" + "patient,site\n".encode("utf-16-le"),  # UTF-16
        b"patient,site,disease\nSLE-01,1,SL\xe9\n",  # Latin-1
        bytes(range(256)) * 4,  # binary
    ],
    ids=["utf-16", "latin-1", "binary"],
)
def test_undecodable_import_files_are_one_line(tmp_path: Path, tidy_sample: Path, content: bytes) -> None:
    db = tmp_path / "r.db"
    assert run("db", "init", "--db", str(db)).returncode == 0
    folder = tmp_path / "bad"
    shutil.copytree(tidy_sample, folder)
    (folder / "patients.csv").write_bytes(content)
    before = _digest(db)
    tidy = _import_tidy(str(db), folder)
    assert tidy.returncode == 2 and "patients.csv" in one_line(tidy)
    export = tmp_path / "export.csv"
    export.write_bytes(content)
    redcap = import_redcap(str(db), export)
    assert redcap.returncode == 2 and "export.csv" in one_line(redcap)
    assert _digest(db) == before


# ----------------------------------------------------------------------------------------- 9. messages
def test_a_bad_date_is_one_problem_without_knock_ons(tmp_path: Path, tidy_sample: Path) -> None:
    db = tmp_path / "r.db"
    assert run("db", "init", "--db", str(db)).returncode == 0
    result = _import_tidy(str(db), _edited(tidy_sample, tmp_path, "observations.csv", "date", "2023-02-30"))
    line = one_line(result)
    assert result.returncode == 2 and line.count("field '") == 1 and "'2023-02-30'" in line


def test_a_refused_redcap_value_does_not_also_make_its_unit_an_orphan(tmp_path: Path) -> None:
    import csv

    rows = list(csv.reader((SAMPLE / "export.csv").open(encoding="utf-8")))
    col = {name: i for i, name in enumerate(rows[0])}
    target = next(i for i, r in enumerate(rows) if i and r[col["crp"]] and r[col["crp_unit"]])
    rows[target][col["crp"]] = "1E999"
    bad = tmp_path / "export.csv"
    with bad.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    db = tmp_path / "r.db"
    assert run("db", "init", "--db", str(db)).returncode == 0
    result = import_redcap(str(db), bad)
    line = one_line(result)
    assert result.returncode == 2 and line.count("field '") == 1 and "crp" in line and "unit without" not in line


def test_a_score_csv_with_an_unterminated_quote_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('face,neck\n1,"2\n')
    result = run("score", "mrss", str(path))
    assert result.returncode == 2 and "well-formed CSV" in one_line(result)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"face": 1}'.encode("utf-16"), "this file is UTF-16"),
        (b'{"face": "\xe9"}', "is not UTF-8"),
        (bytes(range(256)), "NUL bytes"),
        (b'{"face": ' + b"9" * 5000 + b"}", "at most 30 digits"),
        (b'{"face": ' + b"[" * 20000 + b"]" * 20000 + b"}", "nested at most 32 levels"),
        (b'{"face": NaN}', "a finite number"),
    ],
    ids=["utf-16", "latin-1", "binary", "5000-digits", "20000-deep", "nan"],
)
def test_score_files_the_probe_crashed_on_are_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(content)
    result = run("score", "mrss", str(path))
    assert result.returncode == 2 and expected in one_line(result)


def test_a_database_error_is_one_line_without_the_rows_it_was_writing(registry_url: str) -> None:
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from immunoreset.registry.engine import describe_database_error, make_engine
    from immunoreset.registry.schema import Patient
    from immunoreset.registry.store import initialise

    initialise(registry_url).dispose()
    engine = make_engine(registry_url)
    row = {"study_id": 999, "site_id": 999, "code": "SECRET-PATIENT-07", "disease": "SLE", "birth_year": 1961}
    with pytest.raises(IntegrityError) as raised, engine.begin() as conn:  # a foreign key no study satisfies
        conn.execute(insert(Patient.__table__), [row])
    assert "SECRET-PATIENT-07" in str(raised.value)  # the driver's message carries the row ...
    message = str(describe_database_error(raised.value, registry_url))
    assert "SECRET-PATIENT-07" not in message and "1961" not in message  # ... the one line does not
    assert "\n" not in message and "refused a write" in message
    engine.dispose()


def test_immunoreset_user_grants_nothing_on_postgresql(postgresql_url: str) -> None:
    assert run("db", "init", "--db", postgresql_url).returncode == 0
    as_admin = run("users", "list", "--db", postgresql_url, env={"IMMUNORESET_USER": "admin"})
    assert as_admin.returncode == 2 and "the user the database URL names (postgres)" in one_line(as_admin)
    without_user = postgresql_url.replace("postgres@", "", 1)
    nobody = run("users", "list", "--db", without_user, env={"IMMUNORESET_USER": "admin"})
    assert nobody.returncode == 1 and 'role "admin" does not exist' in one_line(nobody)  # the server says no


def test_a_password_given_as_a_url_parameter_is_masked_everywhere(postgresql_url: str, tmp_path: Path) -> None:
    url = make_url(postgresql_url)
    with_secret = url.set(query={**url.query, "password": SECRET}).render_as_string(hide_password=False)
    made = run("db", "init", "--db", with_secret)
    assert made.returncode == 0 and SECRET not in made.stdout + made.stderr and "password=***" in made.stdout
    checkpoint = tmp_path / "cp.json"
    assert run("audit", "checkpoint", "--out", str(checkpoint), "--db", with_secret).returncode == 0
    assert SECRET not in checkpoint.read_text()
    refused = run("outcomes", "--db", f"mysql://root@db.example.org/x?password={SECRET}")
    assert refused.returncode == 2 and SECRET not in refused.stderr
    unencoded = run("outcomes", "--db", "postgresql://root:S3c@ret@PW@127.0.0.1/x")
    assert unencoded.returncode == 2 and "ret" not in one_line(unencoded) and "%40" in unencoded.stderr


def test_huge_integers_in_mapping_and_design_yaml_are_one_line(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(sample_mapping_path().read_text() + "\nextra: " + "9" * 5000 + "\n")
    db = tmp_path / "r.db"
    assert run("db", "init", "--db", str(db)).returncode == 0
    args = redcap_import_args(str(db))
    args[args.index("--mapping") + 1] = str(mapping)
    result = run(*args)
    assert result.returncode == 2 and "mapping" in one_line(result)
    design = tmp_path / "design.yaml"
    design.write_text("name: x\npatients: " + "9" * 5000 + "\n")
    shown = run("trial", "run", str(design), "--out", str(tmp_path / "out"))
    assert shown.returncode == 2 and "DESIGN" in one_line(shown)


def test_kinetics_files_with_huge_exponents_are_one_line(tmp_path: Path) -> None:
    samples = tmp_path / "k.csv"
    samples.write_text("patient,time,value,unit,analyte\nP1,1E999999999,5,cells/uL,cart_flow\n")
    result = run("kinetics", "nca", str(samples))
    assert result.returncode == 2 and "row 2: field 'time'" in one_line(result)
    assert run("kinetics", "nca", str(samples), "--auc-end", "1E999999999").returncode == 2
