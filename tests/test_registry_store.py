"""The registry store on SQLite and PostgreSQL: loads, idempotence, access, audit, transactions, kills."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from conftest import login_name, url_as
from immunoreset.errors import InvalidInput
from immunoreset.registry.engine import current_revision, head_revision
from immunoreset.registry.records import (
    AdverseEventRecord,
    InfusionRecord,
    LymphodepletionRecord,
    MedicationRecord,
    ObservationRecord,
    PatientRecord,
    SiteRecord,
    StudyRecord,
    VisitRecord,
)
from immunoreset.registry.store import AccessDenied, Registry, initialise


def make_patient(code: str, site: str, *, crp: str = "1.2", visits: int = 3) -> PatientRecord:
    return PatientRecord(
        code=code,
        site=site,
        disease="SLE",
        sex="F",
        birth_year=1990,
        weight_kg=Decimal("61.5"),
        height_cm=Decimal("167"),
        infusion=InfusionRecord(product="MB-CART19.1", dose_cells_per_kg=Decimal("1000000"), date="2024-01-10"),
        lymphodepletion=[
            LymphodepletionRecord(agent="fludarabine", dose_mg_per_m2=Decimal(25), first_day=-5, last_day=-3),
            LymphodepletionRecord(agent="cyclophosphamide", dose_mg_per_m2=Decimal(1000), first_day=-3, last_day=-3),
        ],
        visits=[
            VisitRecord(
                label=f"v{i}",
                study_day=i * 30,
                observations=[
                    ObservationRecord(code="crp", value=Decimal(crp), unit="mg/dL"),
                    ObservationRecord(code="anc", value=Decimal("1.5"), unit="/nL"),
                    ObservationRecord(code="sledai_arthritis", value=Decimal(i == 0)),
                    ObservationRecord(code="crs_hypotension", value_text="none"),
                ],
            )
            for i in range(visits)
        ],
        medications=[
            MedicationRecord(
                key="med:1",
                drug="prednisolone",
                dose=Decimal(10),
                unit="mg",
                route="oral",
                frequency="once_daily",
                start_day=-100,
                stop_day=56,
            ),
        ],
        adverse_events=[
            AdverseEventRecord(
                key="ae:1", term="CRS", grade=1, grading="ASTCT", onset_day=2, resolution_day=4, serious=False
            )
        ],
    )


def make_study(n_per_site: int = 2, **kwargs: Any) -> StudyRecord:
    patients = [make_patient(f"{s}-{i:03d}", s, **kwargs) for s in ("A", "B") for i in range(1, n_per_site + 1)]
    return StudyRecord(
        code="CART-AI",
        name="CD19 CAR-T in autoimmunity",
        sites=[SiteRecord(code="A"), SiteRecord(code="B")],
        patients=patients,
    )


@pytest.fixture
def admin(registry_url: str) -> Registry:
    initialise(registry_url)
    registry = Registry.open(registry_url)
    registry.url = registry_url  # type: ignore[attr-defined]
    return registry


def as_user(admin: Registry, name: str) -> Registry:
    """The registry opened as another user: on SQLite the same file, on PostgreSQL a new login connection."""
    url: str = admin.url  # type: ignore[attr-defined]
    if url.startswith("sqlite"):
        return Registry(admin.engine, name)
    return Registry.open(url_as(url, name))


def add_user(admin: Registry, name: str, role: str, **kwargs: Any) -> str:
    """Add a user named ``name`` (suffixed on PostgreSQL, where logins are server-wide); returns the name."""
    login = login_name(admin.url, name)  # type: ignore[attr-defined]
    admin.add_user(login, role, **kwargs)
    return login


def _dump(study: StudyRecord) -> dict[str, Any]:
    return study.model_dump(mode="json")


def test_init_creates_schema_and_default_admin(registry_url: str) -> None:
    engine = initialise(registry_url)
    assert current_revision(engine) == head_revision()
    initialise(registry_url)  # idempotent
    registry = Registry(engine)
    first_admin = "admin" if registry_url.startswith("sqlite") else "postgres"  # PostgreSQL: the login that ran init
    assert registry.user.name == first_admin
    assert registry.users() == [{"name": first_admin, "role": "admin", "sites": "all"}]
    assert registry.verify_audit().ok


def test_round_trip_is_exact(admin: Registry) -> None:
    study = make_study()
    summary = admin.load(study)
    assert summary.inserted["patient"] == 4 and summary.inserted["observation"] == 4 * 3 * 4
    back = admin.read_study("CART-AI")
    assert _dump(back) == _dump(study)
    # decimals keep their exact text on both engines
    assert back.patients[0].visits[0].observations[0].value == Decimal("1.2")
    assert str(back.patients[0].visits[0].observations[1].value) == "1.5"


def test_reload_is_a_no_op_and_corrections_update_only_what_changed(admin: Registry) -> None:
    admin.load(make_study())
    entries = len(admin.audit_log())
    again = admin.load(make_study())
    assert not again.changed
    assert len(admin.audit_log()) == entries

    corrected = make_study()
    corrected.patients[1].visits[2].observations[0].value = Decimal("0.4")
    summary = admin.load(corrected)
    assert summary.updated == {"observation": 1}
    assert not summary.inserted and not summary.deleted
    last = admin.audit_log(patient=corrected.patients[1].code)[-1]
    assert last.action == "update" and last.changes() == {"value": ("1.2", "0.4")}
    assert admin.verify_audit().ok


def test_load_is_authoritative_per_patient_unless_incremental(admin: Registry) -> None:
    admin.load(make_study())
    fewer = make_study()
    fewer.patients[0].visits.pop()  # one visit (with 4 observations) no longer in the source
    kept = admin.load(fewer, prune=False)
    assert not kept.changed
    pruned = admin.load(fewer)
    assert pruned.deleted == {"visit": 1, "observation": 4}
    assert len(admin.read_study(patients=[fewer.patients[0].code]).patients[0].visits) == 2
    # patients absent from a load are never touched
    only_one = StudyRecord(code="CART-AI", sites=[SiteRecord(code="A")], patients=[make_patient("A-001", "A")])
    assert not admin.load(only_one).deleted.get("patient")
    assert len(admin.read_study().patients) == 4


def test_a_failing_load_writes_nothing(admin: Registry, registry_url: str) -> None:
    admin.load(make_study())
    before = admin.counts()
    moved = make_study()
    moved.patients[-1] = make_patient("A-001", "B", crp="3.3")  # same code at another site: refused
    moved = StudyRecord(
        code="CART-AI", sites=moved.sites, patients=[make_patient("A-002", "A", crp="9.9"), make_patient("A-001", "B")]
    )
    with pytest.raises(InvalidInput, match="patients do not move"):
        admin.load(moved)
    assert admin.counts() == before
    assert admin.read_study(patients=["A-002"]).patients[0].visits[0].observations[0].value == Decimal("1.2")
    assert admin.verify_audit().ok


def test_failed_sqlite_import_leaves_the_file_byte_for_byte_unchanged(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    initialise(url).dispose()
    registry = Registry.open(url)
    registry.load(make_study())
    with registry.engine.begin() as conn:  # fold the WAL into the file so that it alone holds the state
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    registry.engine.dispose()

    def digest_of_files() -> str:
        parts = [(tmp_path / name).read_bytes() for name in ("r.db", "r.db-wal") if (tmp_path / name).exists()]
        return hashlib.sha256(b"".join(parts)).hexdigest()

    digest = digest_of_files()
    registry = Registry.open(url)
    bad = StudyRecord(
        code="CART-AI",
        sites=[SiteRecord(code="A"), SiteRecord(code="B")],
        patients=[make_patient("A-001", "A", crp="5"), make_patient("A-002", "B")],
    )
    with pytest.raises(InvalidInput):
        registry.load(bad)
    registry.engine.dispose()
    assert digest_of_files() == digest


def test_site_scoped_access_is_enforced_by_the_store(admin: Registry) -> None:
    admin.load(make_study())
    alice = as_user(admin, add_user(admin, "alice", "investigator", study="CART-AI", sites=["A"]))
    mona_name = add_user(admin, "mona", "monitor", study="CART-AI", sites=["B"])
    rita_name = add_user(admin, "rita", "read-only", study="CART-AI", sites=["A", "B"])
    assert {p.site for p in alice.read_study().patients} == {"A"}
    with pytest.raises(AccessDenied):
        alice.read_study(patients=["B-001"])
    with pytest.raises(AccessDenied):
        alice.audit_log(study="CART-AI", patient="B-001")
    with pytest.raises(AccessDenied):
        alice.delete_patient("CART-AI", "B-001")
    before = admin.counts()
    changed_b = make_study(crp="7")
    with pytest.raises(AccessDenied, match="site"):
        alice.load(changed_b)  # contains site-B patients: nothing is written, not even site A's
    assert admin.counts() == before
    own_only = StudyRecord(code="CART-AI", sites=[SiteRecord(code="A")], patients=[make_patient("A-001", "A", crp="7")])
    assert alice.load(own_only).updated == {"observation": 3}
    with pytest.raises(AccessDenied):
        alice.add_user("eve", "admin")
    mona = as_user(admin, mona_name)
    assert {p.code for p in mona.read_study().patients} == {"B-001", "B-002"}
    with pytest.raises(AccessDenied):
        mona.load(StudyRecord(code="CART-AI", sites=[SiteRecord(code="B")], patients=[make_patient("B-001", "B")]))
    rita = as_user(admin, rita_name)
    assert len(rita.read_study().patients) == 4
    with pytest.raises(AccessDenied):
        rita.verify_audit()
    if admin.engine.dialect.name == "sqlite":
        with pytest.raises(AccessDenied, match="unknown registry user"):
            Registry(admin.engine, "mallory")
    else:  # the login is the identity: naming another user than the connection's grants nothing
        with pytest.raises(AccessDenied, match="registry user is the database login"):
            Registry(admin.engine, rita_name)


def test_audit_verify_detects_changes_behind_the_registry_back(admin: Registry) -> None:
    admin.load(make_study())
    assert admin.verify_audit().ok
    with admin.engine.begin() as conn:
        conn.execute(text("UPDATE observation SET value = '0.1' WHERE id = (SELECT MIN(id) FROM observation)"))
    problems = admin.verify_audit().problems
    assert len(problems) == 1 and "differs from its audited state in: value" in problems[0]


def test_audit_verify_detects_a_rewritten_log(admin: Registry) -> None:
    admin.load(make_study())
    with admin.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET user_name = 'nobody' WHERE seq = 3"))
    assert any("does not match its hash" in p for p in admin.verify_audit().problems)


def test_audit_verify_detects_rows_inserted_or_deleted_behind_the_back(admin: Registry) -> None:
    admin.load(make_study())
    with admin.engine.begin() as conn:
        conn.execute(text("DELETE FROM observation WHERE id = (SELECT MAX(id) FROM observation)"))
        conn.execute(text("UPDATE patient SET birth_year = 1950 WHERE code = 'B-002'"))
    problems = admin.verify_audit().problems
    assert any("deleted behind" in p for p in problems)
    assert any(p.startswith("patient row") and "birth_year" in p for p in problems)


def test_audit_log_records_who_what_old_and_new(admin: Registry) -> None:
    admin.load(make_study(n_per_site=1))
    admin.delete_patient("CART-AI", "B-001")
    history = admin.audit_log(study="CART-AI", patient="A-001")
    assert {e.action for e in history} == {"insert"}
    assert all(e.user == admin.user.name for e in history)
    assert any(e.table == "observation" and e.new and e.new["code"] == "crp" for e in history)
    assert admin.read_study().patients[0].code == "A-001" and len(admin.read_study().patients) == 1
    assert admin.verify_audit().ok


def test_audit_log_of_a_patient_never_shows_another_studys_patient_with_the_same_code(admin: Registry) -> None:
    admin.load(make_study(n_per_site=1))
    other = make_study(n_per_site=1, crp="5")
    other = StudyRecord(code="OTHER", sites=other.sites, patients=other.patients)  # same patient codes
    admin.load(other)
    alice = as_user(admin, add_user(admin, "alice", "investigator", study="CART-AI", sites=["A"]))
    mine = alice.audit_log(study="CART-AI", patient="A-001")
    assert mine and all(e.patient == "A-001" for e in mine)
    crps = {e.new["value"] for e in mine if e.new and e.new.get("code") == "crp"}
    assert crps == {"1.2"}  # the OTHER study's A-001 (CRP 5) is not in it
    with pytest.raises(AccessDenied):
        alice.audit_log(study="OTHER", patient="A-001")
    assert admin.verify_audit().ok


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_registry_store import make_study
    from immunoreset.registry.store import Registry
    study = make_study(n_per_site=60, visits=10)
    registry = Registry.open({url!r})
    def progress(done, total):
        print("patient", done, "of", total, flush=True)
    registry.load(study, progress=progress)
    print("finished", flush=True)
    """
)


def test_a_killed_import_leaves_a_consistent_registry(admin: Registry, registry_url: str) -> None:
    admin.load(make_study(n_per_site=1))
    before = admin.counts()
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), url=registry_url)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if line.startswith("patient 20 of"):
            break
        assert time.monotonic() < deadline, "the import never started"
    proc.send_signal(signal.SIGKILL)  # mid-transaction: 20 of 120 patients written, not committed
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    fresh = Registry(admin.engine)
    assert fresh.counts() == before
    assert fresh.verify_audit().ok
    # and the registry still takes writes
    assert fresh.load(make_study(n_per_site=2)).inserted["patient"] == 2


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    crps=st.lists(st.decimals(min_value=0, max_value=100, places=2, allow_nan=False), min_size=1, max_size=4),
    visits=st.integers(min_value=0, max_value=3),
)
def test_any_sequence_of_loads_reads_back_as_the_last_one(tmp_path: Path, crps: list[Decimal], visits: int) -> None:
    url = f"sqlite:///{tmp_path / f'p{len(crps)}_{visits}_{abs(hash(tuple(crps)))}.db'}"
    initialise(url)
    registry = Registry.open(url)
    last = make_study(n_per_site=1)
    for crp in crps:
        last = make_study(n_per_site=1, crp=str(crp), visits=visits)
        registry.load(last)
    assert _dump(registry.read_study()) == _dump(last)
    assert registry.verify_audit().ok
    registry.engine.dispose()


def _as_written_before_revision_0002(admin: Registry) -> None:
    """Rewrite the audit log as the toolkit before schema revision 0002 wrote it: infusion images without the
    flat-dose column, the hash chain recomputed (what a registry created by that version holds)."""
    import json

    from sqlalchemy import select

    from immunoreset.registry.audit import GENESIS, canonical_json, entry_hash
    from immunoreset.registry.schema import AuditLog

    log = AuditLog.__table__
    with admin.engine.begin() as conn:
        entries = [dict(r._mapping) for r in conn.execute(select(log).order_by(log.c.seq))]
        prev = GENESIS
        for entry in entries:
            images = {}
            for side in ("old", "new"):
                image = json.loads(entry[side]) if entry[side] is not None else None
                if entry["table_name"] == "infusion" and image is not None:
                    image.pop("dose_cells_total")
                images[side] = image
            entry["prev_hash"] = prev
            entry["hash"] = entry_hash(prev, {**entry, **images})
            conn.execute(
                text("UPDATE audit_log SET old = :old, new = :new, prev_hash = :p, hash = :h WHERE seq = :seq"),
                {
                    "old": None if images["old"] is None else canonical_json(images["old"]),
                    "new": None if images["new"] is None else canonical_json(images["new"]),
                    "p": prev,
                    "h": entry["hash"],
                    "seq": entry["seq"],
                },
            )
            prev = entry["hash"]
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


def test_audit_entries_written_before_the_flat_dose_column_still_verify(admin: Registry) -> None:
    admin.load(make_study())
    _as_written_before_revision_0002(admin)
    assert admin.verify_audit().ok  # the column did not exist then; it is NULL now
    with admin.engine.begin() as conn:
        conn.execute(
            text("UPDATE infusion SET dose_cells_total = '100000000' WHERE id = (SELECT MIN(id) FROM infusion)")
        )
    problems = admin.verify_audit().problems
    assert len(problems) == 1 and "differs from its audited state in: dose_cells_total" in problems[0]


def test_a_flat_dose_is_stored_and_read_back(admin: Registry) -> None:
    study = make_study()
    patient = study.patients[0]
    patient.infusion = InfusionRecord(product="flat-dose CD19 CAR-T", dose_cells_total=Decimal("1.25E+7"))
    admin.load(study)
    back = admin.read_study(study.code).patient(patient.code).infusion
    assert back is not None and back.dose_cells_total == Decimal("12500000") and back.dose_cells_per_kg is None
