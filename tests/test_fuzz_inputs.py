"""Fuzzing the inputs a user hands the toolkit (issue "Registry hardening", item 5).

Property: whatever bytes arrive — random bytes, other encodings, huge/NaN/Infinity numbers, deep nesting,
control characters, truncated rows — ``immunoreset score`` and ``immunoreset import csv|redcap`` exit 0 or
2 with at most one error line, never a traceback ("internal error") and never a hang (each input under 5 s),
and a failed import leaves the SQLite file byte for byte as it was. Every file of an import is a target
(the REDCap export, data dictionary, events and mapping; each tidy CSV file), and one ``score`` input in five
also carries a fuzzed ``--option``. The deadline is a SIGALRM: it ends a Python loop, not a single
long-running C call (which would stall the run rather than fail it — still a visible failure in CI's timeout).

The command line runs in this process (``immunoreset.cli.main``). Each suite run tries 400 ``score`` inputs
and 120 import files (60 tidy CSV sets, 60 REDCap exports) into SQLite, and 20 tidy CSV sets into PostgreSQL
(unchanged there means: the same row counts and audit head); hypothesis keeps the failing examples it finds.
``IMMUNORESET_FUZZ_SCALE=10`` multiplies every count for a deeper search before a release (the counts were
1,000/150/150/40 until the suite outgrew its 15-minute budget).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immunoreset import instruments
from immunoreset.cli import main
from immunoreset.registry.redcap import read_redcap_export, sample_mapping_path, sample_project_path
from immunoreset.registry.store import initialise
from immunoreset.registry.tidy_csv import write_tidy_csv

SAMPLE = sample_project_path()
SECONDS_PER_INPUT = 5
INSTRUMENTS = sorted(i.name for i in instruments.all_instruments())


def _examples(n: int) -> int:
    """Examples per fuzz test: ``n`` in the suite (kept short for CI); ``IMMUNORESET_FUZZ_SCALE=10`` runs ten
    times as many for a deeper search before a release."""
    return n * int(os.environ.get("IMMUNORESET_FUZZ_SCALE", "1"))


class Hang(Exception):
    """An input took longer than SECONDS_PER_INPUT."""


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def expire(_signum: int, _frame: Any) -> None:
        raise Hang(f"input still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def cli(*args: str) -> tuple[int, str]:
    """Run the command line in this process: (exit status, standard error)."""
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with deadline(SECONDS_PER_INPUT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code
    return (0 if code is None else int(code)), err.getvalue()


def assert_clean_exit(code: int, stderr: str) -> None:
    assert code in (0, 2), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    if code == 2:
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, stderr


# ----------------------------------------------------------------------------------- values and texts
NASTY_NUMBERS = [
    "1E999999999",
    "-1e999999999",
    "1e-999999999",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 5000,
    "1" + "0" * 64,
    "0." + "0" * 80 + "1",
    str(2**31),
    str(2**63),
    "-0",
    "1e20",
    "0x1F",
    "1_000",
    "١٢٣",  # Arabic-Indic digits
]
NASTY_TEXT = ["\x00", "\n", "\r\n", "\u202e", "\u2066", "\ufeff", '"', "'", ",", "\\", "😀", "a" * 70000]

nasty_scalar = st.one_of(
    st.sampled_from(NASTY_NUMBERS),
    st.sampled_from(NASTY_TEXT),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def json_value() -> st.SearchStrategy[Any]:
    return st.recursive(
        nasty_scalar,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
        ),
        max_leaves=12,
    )


def _json_text(value: Any) -> str:
    # NaN/Infinity floats become the bare JSON tokens; strings that look like numbers are sometimes unquoted
    return json.dumps(value, allow_nan=True)


@st.composite
def score_input(draw: st.DrawFn) -> tuple[str, str, bytes, str | None]:
    name, suffix, content = draw(score_file())
    option = None
    if draw(st.integers(0, 4)) == 0:  # one input in five also sets an option, as nastily
        options = list(instruments.get(name).options_model.model_json_schema().get("properties", {})) or ["x"]
        key = draw(st.sampled_from(options))
        value = draw(st.one_of(st.sampled_from(NASTY_NUMBERS + NASTY_TEXT), st.text(max_size=20)))
        option = f"{key}={value}"
    return name, suffix, content, option


@st.composite
def score_file(draw: st.DrawFn) -> tuple[str, str, bytes]:
    name = draw(st.sampled_from(INSTRUMENTS))
    fields = list(instruments.get(name).input_schema().get("properties", {}))
    kind = draw(st.sampled_from(["json", "json_bare_numbers", "csv", "bytes", "encoded", "deep"]))
    if kind in ("json", "json_bare_numbers"):
        keys = st.sampled_from(fields) if fields else st.text(max_size=8)
        payload = draw(st.dictionaries(keys, json_value(), max_size=6))
        text = _json_text(payload)
        if kind == "json_bare_numbers":
            for number in NASTY_NUMBERS:
                text = text.replace(json.dumps(number), number)
        return name, ".json", text.encode("utf-8")
    if kind == "csv":
        header = draw(st.lists(st.sampled_from(fields or ["x"]), min_size=1, max_size=5, unique=True))
        rows = draw(st.lists(st.lists(nasty_scalar.map(str), min_size=0, max_size=7), max_size=4))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        text = buffer.getvalue()
        cut = draw(st.integers(min_value=0, max_value=len(text)))
        if draw(st.booleans()):
            text = text[:cut]  # truncated mid-row, mid-quote
        return name, ".csv", text.encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return name, draw(st.sampled_from([".json", ".csv"])), draw(st.binary(max_size=300))
    if kind == "encoded":
        payload = {field: draw(nasty_scalar) for field in fields[:3]}
        encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"]))
        return name, ".json", _json_text(payload).encode(encoding, "replace")
    depth = draw(st.sampled_from([40, 1000, 20000, 200000]))
    return name, ".json", ('{"a": ' + nested(depth) + "}").encode()


@settings(
    max_examples=_examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(case=score_input())
def test_score_never_crashes_or_hangs(
    case: tuple[str, str, bytes, str | None], tmp_path_factory: pytest.TempPathFactory
) -> None:
    name, suffix, content, option = case
    path = tmp_path_factory.mktemp("score") / f"input{suffix}"
    path.write_bytes(content)
    code, stderr = cli("score", name, str(path), *(["--option", option] if option else []))
    assert_clean_exit(code, stderr)


# ---------------------------------------------------------------------------------------------- imports
@pytest.fixture(scope="module")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two patients of the shipped sample: as a tidy CSV set, as a REDCap export; a registry holding them."""
    study = read_redcap_export(
        SAMPLE / "export.csv", SAMPLE / "data_dictionary.csv", sample_mapping_path(), events_csv=SAMPLE / "events.csv"
    )
    root = tmp_path_factory.mktemp("fuzz")
    tidy = root / "tidy"
    write_tidy_csv(study.model_copy(update={"patients": study.patients[:2]}), tidy)
    rows = list(csv.reader((SAMPLE / "export.csv").open(encoding="utf-8")))
    record_ids = list(dict.fromkeys(row[0] for row in rows[1:]))[:2]  # the export's first two records
    export = root / "export.csv"
    with export.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([rows[0], *[r for r in rows[1:] if r[0] in record_ids]])
    db = root / "base.db"
    initialise(f"sqlite:///{db}").dispose()
    assert cli("import", "csv", *map(str, sorted(tidy.glob("*.csv"))), "--db", str(db))[0] == 0
    gc.collect()
    return {"tidy": tidy, "export": export, "db": db}


def _db_digest(db: Path) -> str:
    gc.collect()  # close the connections of the engines the in-process command left behind
    parts = [p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists()]
    return hashlib.sha256(b"".join(parts)).hexdigest()


@st.composite
def mutated_csv(draw: st.DrawFn, text: str) -> bytes:
    how = draw(st.sampled_from(["cell", "cell", "cell", "flip", "insert", "truncate", "encoding", "bytes", "row"]))
    if how in ("cell", "row"):
        rows = list(csv.reader(io.StringIO(text)))
        r = draw(st.integers(min_value=0, max_value=len(rows) - 1))
        if how == "row":
            rows[r] = rows[r][: draw(st.integers(min_value=0, max_value=len(rows[r])))]  # a short row
        else:
            c = draw(st.integers(min_value=0, max_value=max(0, len(rows[r]) - 1)))
            if rows[r]:
                rows[r][c] = draw(st.one_of(st.sampled_from(NASTY_NUMBERS + NASTY_TEXT), st.text(max_size=30)))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode("utf-8", "surrogatepass")
    data = text.encode("utf-8")
    if how == "flip":
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if how == "insert":
        at = draw(st.integers(min_value=0, max_value=len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:]
    if how == "truncate":
        return data[: draw(st.integers(min_value=0, max_value=len(data)))]
    if how == "encoding":
        return text.encode(draw(st.sampled_from(["utf-16", "utf-32", "latin-1"])), "replace")
    return draw(st.binary(max_size=500))


TIDY_FILES = ["study.csv", "sites.csv", "patients.csv", "observations.csv", "medications.csv", "adverse_events.csv"]


def _check_import(db: Path, base: Path, args: list[str]) -> None:
    shutil.copyfile(base, db)
    before = hashlib.sha256(base.read_bytes()).hexdigest()  # the copy, and no WAL: the base was disposed
    code, stderr = cli(*args, "--db", str(db))
    assert_clean_exit(code, stderr)
    if code != 0:
        assert _db_digest(db) == before, "a failed import changed the registry file"
    else:
        verified = cli("audit", "verify", "--db", str(db))
        assert verified[0] == 0, verified[1]


@settings(max_examples=_examples(60), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_tidy_csv_import_never_crashes_and_a_failure_changes_nothing(
    data: st.DataObject, small_sample: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("tidy")
    for path in small_sample["tidy"].glob("*.csv"):
        shutil.copy(path, folder / path.name)
    target = data.draw(st.sampled_from(TIDY_FILES))
    original = (folder / target).read_text(encoding="utf-8")
    (folder / target).write_bytes(data.draw(mutated_csv(original)))
    _check_import(folder / "r.db", small_sample["db"], ["import", "csv", *map(str, sorted(folder.glob("*.csv")))])


@settings(max_examples=_examples(60), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_redcap_import_never_crashes_and_a_failure_changes_nothing(
    data: st.DataObject, small_sample: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("redcap")
    files = {
        "export.csv": small_sample["export"],
        "data_dictionary.csv": SAMPLE / "data_dictionary.csv",
        "events.csv": SAMPLE / "events.csv",
        "mapping.yaml": sample_mapping_path(),
    }
    for name, source in files.items():
        shutil.copy(source, folder / name)
    target = data.draw(
        st.sampled_from(["export.csv", "export.csv", "data_dictionary.csv", "events.csv", "mapping.yaml"])
    )
    original = (folder / target).read_text(encoding="utf-8")
    (folder / target).write_bytes(data.draw(mutated_csv(original)))  # a YAML file gets the same byte damage
    args = [
        "import",
        "redcap",
        str(folder / "export.csv"),
        "--dictionary",
        str(folder / "data_dictionary.csv"),
        "--mapping",
        str(folder / "mapping.yaml"),
        "--events",
        str(folder / "events.csv"),
    ]
    _check_import(folder / "r.db", small_sample["db"], args)


@settings(max_examples=_examples(20), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_tidy_csv_import_into_postgresql_never_crashes_and_a_failure_changes_nothing(
    data: st.DataObject, small_sample: dict[str, Path], postgresql_base: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same property on PostgreSQL (fewer examples: a server round trip each). "Unchanged" is judged by
    every table's row count and the audit head, which any write would move."""
    from immunoreset.registry.store import Registry

    folder = tmp_path_factory.mktemp("tidy_pg")
    for path in small_sample["tidy"].glob("*.csv"):
        shutil.copy(path, folder / path.name)
    target = data.draw(st.sampled_from(TIDY_FILES))
    (folder / target).write_bytes(data.draw(mutated_csv((folder / target).read_text(encoding="utf-8"))))

    def state() -> tuple[dict[str, int], tuple[int, str]]:
        registry = Registry.open(postgresql_base)
        try:
            return registry.counts(), registry.audit_head()
        finally:
            registry.engine.dispose()

    before = state()
    code, stderr = cli("import", "csv", *map(str, sorted(folder.glob("*.csv"))), "--db", postgresql_base)
    gc.collect()
    assert_clean_exit(code, stderr)
    if code != 0:
        assert state() == before, "a failed import changed the registry"


@pytest.fixture(scope="module")
def postgresql_base(small_sample: dict[str, Path]) -> Any:
    """A PostgreSQL registry (own schema) holding the two sample patients, for the module's examples."""
    from conftest import _postgresql_schema

    for url in _postgresql_schema():  # the conftest's schema (and its roles, dropped afterwards)
        initialise(url).dispose()
        assert cli("import", "csv", *map(str, sorted(small_sample["tidy"].glob("*.csv"))), "--db", url)[0] == 0
        gc.collect()
        yield url
        gc.collect()  # close the connections the in-process commands left, before the schema is dropped
