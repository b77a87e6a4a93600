"""Registry hardening (issue "Registry hardening"): identity and site scoping enforced by PostgreSQL's
row-level security, scope rules for site-limited admins, no existence oracle, audit checkpoints.

Every PostgreSQL test connects as the registry's own logins — with plain SQL through psycopg, as any other
client would — and asserts what the *database* lets through, not only what the store API does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from conftest import login_name, url_as
from immunoreset.errors import InvalidInput
from immunoreset.registry.audit import make_checkpoint, read_checkpoint, write_checkpoint
from immunoreset.registry.records import SiteRecord, StudyRecord
from immunoreset.registry.store import AccessDenied, Registry, initialise
from test_registry_store import make_patient, make_study


def _registry_with_study(url: str) -> Registry:
    """A new registry at ``url``, opened as its first admin, holding the test study (sites A and B)."""
    initialise(url)
    registry = Registry.open(url)
    registry.load(make_study())
    return registry


@pytest.fixture
def admin(registry_url: str) -> Registry:
    return _registry_with_study(registry_url)


def _as(registry_url: str, admin: Registry, name: str) -> Registry:
    if registry_url.startswith("sqlite"):
        return Registry(admin.engine, name)
    return Registry.open(url_as(registry_url, name))


def _sql_as(registry_url: str, login: str) -> psycopg.Connection[Any]:
    """A plain psycopg connection as ``login`` (what psql would be), in the test's schema."""
    url = make_url(url_as(registry_url, login))
    options = url.query.get("options")
    return psycopg.connect(
        host=url.host, port=url.port, dbname=url.database, user=login, options=str(options), autocommit=True
    )


@pytest.fixture
def pg_admin(postgresql_url: str) -> Registry:
    """Row-level security is PostgreSQL's; a SQLite file is a single-user store (docs/registry.md)."""
    return _registry_with_study(postgresql_url)


# ---------------------------------------------------------------------------------------------- identity
def test_a_site_investigator_login_reads_only_its_site_through_plain_sql(
    pg_admin: Registry, postgresql_url: str
) -> None:
    admin, registry_url = pg_admin, postgresql_url
    investigator = login_name(registry_url, "inv_a")
    assert admin.add_user(investigator, "investigator", study="CART-AI", sites=["A"]) == "created"
    with _sql_as(registry_url, investigator) as conn:
        codes = {row[0] for row in conn.execute("SELECT code FROM patient")}
        assert codes == {"A-001", "A-002"}
        assert conn.execute("SELECT count(*) FROM patient WHERE code LIKE 'B-%'").fetchone() == (0,)
        # children follow their patient: observations of site-B visits are invisible too
        visible_obs = conn.execute("SELECT count(*) FROM observation").fetchone()[0]  # type: ignore[index]
        assert visible_obs == 2 * 3 * 4
        assert {r[0] for r in conn.execute("SELECT code FROM site")} == {"A"}
        # the audit log holds only entries of patients the login can read
        audited = {r[0] for r in conn.execute("SELECT DISTINCT patient_code FROM audit_log")}
        assert audited == {"A-001", "A-002"}
        # writes outside the login's site do nothing or are refused by the database
        assert conn.execute("UPDATE patient SET birth_year = 1950 WHERE code = 'B-001'").rowcount == 0
        assert conn.execute("DELETE FROM patient WHERE code = 'B-002'").rowcount == 0
        with admin.engine.connect() as owner:
            study_id, site_b = owner.execute(text("SELECT study_id, id FROM site WHERE code = 'B'")).one()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # row-level security: WITH CHECK fails
            conn.execute(
                "INSERT INTO patient (study_id, site_id, code, disease) VALUES (%s, %s, 'X-1', 'SLE')",
                (study_id, site_b),
            )
        # the audit trail is append-only for every login
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_log")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE audit_log SET user_name = 'x'")
        # and it cannot give itself all sites
        assert conn.execute("UPDATE app_user SET all_sites = true WHERE name = session_user").rowcount == 0
    # the investigator's own store view agrees with what SQL showed
    assert {p.code for p in _as(registry_url, admin, investigator).read_study().patients} == {"A-001", "A-002"}
    assert admin.verify_audit().ok


def test_a_login_that_is_not_a_registry_user_sees_nothing(pg_admin: Registry, postgresql_url: str) -> None:
    registry_url = postgresql_url
    stranger = login_name(registry_url, "stranger")
    with psycopg.connect(make_url(registry_url).set(query={}).render_as_string(hide_password=False)) as su:
        su.execute(f'CREATE ROLE "{stranger}" LOGIN')
        group = su.execute(f"SELECT {make_url(registry_url).query['options'].split('=')[1]}.registry_group()")
        su.execute(f'GRANT "{group.fetchone()[0]}" TO "{stranger}"')  # type: ignore[index]
        su.commit()
    with _sql_as(registry_url, stranger) as conn:
        for table in ("patient", "observation", "audit_log", "site", "study", "app_user"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
    with pytest.raises(AccessDenied, match="unknown registry user"):
        Registry.open(url_as(registry_url, stranger))


def test_users_add_on_postgresql_creates_a_login_with_a_scram_password(pg_admin: Registry, postgresql_url: str) -> None:
    admin, registry_url = pg_admin, postgresql_url
    name = login_name(registry_url, "nurse")
    assert admin.add_user(name, "read-only", study="CART-AI", sites=["B"], password="correct horse") == "created"
    assert admin.add_user(name, "read-only", study="CART-AI", sites=["B"]) == "unchanged"
    with psycopg.connect(make_url(registry_url).set(query={}).render_as_string(hide_password=False)) as su:
        stored = su.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,)).fetchone()
        assert stored is not None and stored[0].startswith("SCRAM-SHA-256$")  # hashed by the server, not kept
        # a role that exists outside the registry keeps its password: no admin can take it over
        outsider = login_name(registry_url, "outsider")
        su.execute(f'CREATE ROLE "{outsider}" LOGIN CREATEDB')
        su.commit()
    with pytest.raises(AccessDenied, match="was not created by this registry"):
        admin.add_user(outsider, "investigator", study="CART-AI", sites=["A"], password="hijack")
    assert outsider not in {u["name"] for u in admin.users()}  # refused as a whole


# --------------------------------------------------------------------------------- site-limited admins
def test_a_site_limited_admin_reads_only_its_sites_in_the_audit_log(admin: Registry, registry_url: str) -> None:
    name = login_name(registry_url, "adm_a")
    admin.add_user(name, "admin", study="CART-AI", sites=["A"])
    admin.delete_patient("CART-AI", "A-002")  # a deleted patient's entries need an all-sites admin
    site_admin = _as(registry_url, admin, name)
    entries = site_admin.audit_log()
    assert entries and {e.patient for e in entries} == {"A-001"}
    everything = admin.audit_log()
    assert {e.patient for e in everything} == {None, "A-001", "A-002", "B-001", "B-002"}
    with pytest.raises(AccessDenied):
        site_admin.audit_log(study="CART-AI", patient="B-001")


def test_a_site_limited_admin_cannot_widen_any_scope(admin: Registry, registry_url: str) -> None:
    name = login_name(registry_url, "adm_a")
    admin.add_user(name, "admin", study="CART-AI", sites=["A"])
    other = login_name(registry_url, "inv_b")
    admin.add_user(other, "investigator", study="CART-AI", sites=["B"])
    site_admin = _as(registry_url, admin, name)
    with pytest.raises(AccessDenied, match="all-sites admin"):
        site_admin.add_user(name, "admin", all_sites=True)  # itself, all sites
    with pytest.raises(AccessDenied, match="all-sites admin"):
        site_admin.add_user(name, "admin", study="CART-AI", sites=["A", "B"])  # itself, another site
    with pytest.raises(AccessDenied, match="all-sites admin"):
        site_admin.add_user(login_name(registry_url, "new_b"), "investigator", study="CART-AI", sites=["B"])
    with pytest.raises(AccessDenied, match="sites outside its own"):
        site_admin.add_user(other, "investigator", study="CART-AI", sites=["A"])  # moving another site's user
    with pytest.raises(AccessDenied, match="all-sites admin"):
        site_admin.load(StudyRecord(code="NEW", sites=[SiteRecord(code="Z")]))
    # within its own site it manages users
    mine = login_name(registry_url, "inv_a")
    site_admin.add_user(mine, "investigator", study="CART-AI", sites=["A"])
    rows = {u["name"]: u["sites"] for u in admin.users()}
    assert rows[mine] == "CART-AI/A" and rows[name] == "CART-AI/A" and rows[other] == "CART-AI/B"
    assert admin.verify_audit().ok


def test_the_database_refuses_a_site_limited_admin_widening_itself_through_sql(
    pg_admin: Registry, postgresql_url: str
) -> None:
    admin, registry_url = pg_admin, postgresql_url
    name = login_name(registry_url, "adm_a")
    admin.add_user(name, "admin", study="CART-AI", sites=["A"])
    with _sql_as(registry_url, name) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE app_user SET all_sites = true WHERE name = session_user")
        with admin.engine.connect() as owner:
            site_b = owner.execute(text("SELECT id FROM site WHERE code = 'B'")).scalar_one()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO user_site (user_id, site_id) SELECT id, %s FROM app_user WHERE name = session_user",
                (site_b,),
            )
        assert conn.execute("SELECT count(*) FROM patient WHERE code LIKE 'B-%'").fetchone() == (0,)


# ---------------------------------------------------------------------------------------- existence oracle
def test_a_code_taken_at_a_hidden_site_gets_the_same_refusal_on_both_engines(
    admin: Registry, registry_url: str
) -> None:
    name = login_name(registry_url, "inv_a")
    admin.add_user(name, "investigator", study="CART-AI", sites=["A"])
    investigator = _as(registry_url, admin, name)
    before = admin.counts()
    taken = StudyRecord(code="CART-AI", sites=[SiteRecord(code="A")], patients=[make_patient("B-001", "A")])
    with pytest.raises(AccessDenied) as refused:
        investigator.load(taken)
    assert str(refused.value) == (
        f"patient code B-001 is not available to user {name}: patient codes are unique within a study; use another code"
    )
    assert "site" not in str(refused.value).replace("unique within", "")  # nothing about where it is
    assert admin.counts() == before
    fresh = StudyRecord(code="CART-AI", sites=[SiteRecord(code="A")], patients=[make_patient("A-777", "A")])
    assert investigator.load(fresh).inserted["patient"] == 1
    # reading: absent and hidden are the same words
    with pytest.raises(AccessDenied) as hidden:
        investigator.read_study(patients=["B-001"])
    with pytest.raises(AccessDenied) as absent:
        investigator.read_study(patients=["Q-999"])
    assert str(hidden.value).replace("B-001", "X") == str(absent.value).replace("Q-999", "X")


# ------------------------------------------------------------------------------------ audit checkpoints
def test_verify_reports_the_head_and_a_checkpoint_detects_truncation(
    admin: Registry, registry_url: str, tmp_path: Path
) -> None:
    first = admin.verify_audit()
    assert first.ok and first.head_seq == first.entries and len(first.head_hash) == 64
    assert admin.audit_head() == (first.head_seq, first.head_hash)
    key = b"kept by the sponsor"
    checkpoint = make_checkpoint(first.head_seq, first.head_hash, registry="test", key=key)
    write_checkpoint(checkpoint, tmp_path / "cp.json")
    assert read_checkpoint(tmp_path / "cp.json", key) == checkpoint
    assert admin.verify_audit(against=checkpoint).ok
    # delete the newest entry together with its data row and reset the head: the chain alone cannot tell
    with admin.engine.begin() as conn:
        last = conn.execute(text("SELECT seq, table_name, row_id, prev_hash FROM audit_log ORDER BY seq DESC")).first()
        assert last is not None
        conn.execute(text(f"DELETE FROM {last.table_name} WHERE id = :id"), {"id": last.row_id})
        conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": last.seq})
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": last.seq - 1, "h": last.prev_hash})
    assert admin.verify_audit().ok  # the documented limit of a chain kept in the same database
    problems = admin.verify_audit(against=checkpoint).problems
    assert problems == [
        f"the log ends at entry {last.seq - 1}, before the checkpoint's entry {last.seq}: entries removed"
    ]


def test_a_checkpoint_detects_a_rewrite_with_every_later_hash_recomputed(admin: Registry, registry_url: str) -> None:
    from sqlalchemy import select

    from immunoreset.registry.audit import entry_hash
    from immunoreset.registry.schema import AuditLog

    head = admin.verify_audit()
    checkpoint = make_checkpoint(head.head_seq, head.head_hash, registry="test")
    # rewrite entry 5's user and recompute the whole chain and the head, as a database administrator could
    with admin.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET user_name = 'nobody' WHERE seq = 5"))
        prev = "0" * 64
        log = AuditLog.__table__
        for row in conn.execute(select(log).order_by(log.c.seq)).all():
            entry = dict(row._mapping)
            entry["old"] = json.loads(entry["old"]) if entry["old"] else None
            entry["new"] = json.loads(entry["new"]) if entry["new"] else None
            digest = entry_hash(prev, entry)
            conn.execute(
                text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": prev, "h": digest, "s": entry["seq"]},
            )
            prev = digest
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    assert admin.verify_audit().ok
    problems = admin.verify_audit(against=checkpoint).problems
    assert len(problems) == 1 and "was rewritten" in problems[0]


def test_an_altered_or_unsigned_checkpoint_is_refused(tmp_path: Path) -> None:
    key = b"secret"
    path = tmp_path / "cp.json"
    write_checkpoint(make_checkpoint(12, "a" * 64, registry="x", key=key), path)
    data = json.loads(path.read_text())
    data["seq"] = 11
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidInput, match="altered"):
        read_checkpoint(path, key)
    with pytest.raises(InvalidInput, match="signing key"):
        read_checkpoint(path, None)
    write_checkpoint(make_checkpoint(12, "a" * 64, registry="x"), path)
    with pytest.raises(InvalidInput, match="a signed checkpoint"):
        read_checkpoint(path, key)
    path.write_text("{")
    with pytest.raises(InvalidInput, match="audit checkpoint"):
        read_checkpoint(path)
    with pytest.raises(InvalidInput, match="readable file"):
        read_checkpoint(tmp_path / "missing.json")


# --------------------------------------------------------- what a login can do with plain SQL (review of #21)
def test_registry_create_login_cannot_take_over_another_login(pg_admin: Registry, postgresql_url: str) -> None:
    admin, registry_url = pg_admin, postgresql_url
    site_admin = login_name(registry_url, "adm_a")
    admin.add_user(site_admin, "admin", study="CART-AI", sites=["A"])
    other = login_name(registry_url, "inv_b")
    admin.add_user(other, "investigator", study="CART-AI", sites=["B"])
    outsider = login_name(registry_url, "victim")
    with psycopg.connect(make_url(registry_url).set(query={}).render_as_string(hide_password=False)) as su:
        su.execute(f'CREATE ROLE "{outsider}" LOGIN')
        su.commit()
    verifier = "SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2Vydg=="
    with _sql_as(registry_url, site_admin) as conn:
        for target in (admin.user.name, other):  # the all-sites admin; another site's investigator
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT registry_create_login(%s, %s)", (target, verifier))
        with pytest.raises(psycopg.errors.InvalidParameterValue):  # plain text never reaches ALTER ROLE
            conn.execute("SELECT registry_create_login(%s, %s)", (site_admin, "plain text"))
        # a login created outside the registry: may be linked to a registry user, never given a password
        conn.execute("INSERT INTO app_user (name, role, all_sites) VALUES (%s, 'read-only', false)", (outsider,))
        assert conn.execute("SELECT registry_create_login(%s, NULL)", (outsider,)).fetchone() == ("linked",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT registry_create_login(%s, %s)", (outsider, verifier))
    with psycopg.connect(make_url(registry_url).set(query={}).render_as_string(hide_password=False)) as su:
        passwords = dict(
            su.execute(
                "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)", ([outsider, other],)
            ).fetchall()
        )
    assert passwords == {outsider: None, other: None}


def test_readers_cannot_lock_write_or_count_and_nobody_can_forge_the_audit_trail(
    pg_admin: Registry, postgresql_url: str
) -> None:
    admin, registry_url = pg_admin, postgresql_url
    reader = login_name(registry_url, "ro_a")
    admin.add_user(reader, "read-only", study="CART-AI", sites=["A"])
    investigator = login_name(registry_url, "inv_a")
    admin.add_user(investigator, "investigator", study="CART-AI", sites=["A"])
    head = admin.audit_head()
    with _sql_as(registry_url, reader) as conn:
        for statement in (
            "LOCK TABLE patient IN ACCESS EXCLUSIVE MODE",
            "SELECT * FROM audit_head FOR UPDATE",
            "SELECT last_value FROM patient_id_seq",
            "UPDATE audit_head SET seq = 0",
            f"INSERT INTO audit_log (seq, at, user_name, action, table_name, row_id, patient_code, prev_hash, hash) "
            f"VALUES ({head[0] + 1}, now(), '{reader}', 'insert', 'patient', 1, 'A-001', '{head[1]}', 'x')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM app_user").fetchone() == (1,)  # itself only
    with _sql_as(registry_url, investigator) as conn:
        study_id = conn.execute("SELECT id FROM study").fetchone()[0]  # type: ignore[index]
        entry = (
            "INSERT INTO audit_log (seq, at, user_name, action, table_name, row_id, study_id, patient_code, "
            "prev_hash, hash) VALUES (%s, now(), %s, 'update', 'patient', 1, %s, %s, %s, 'x')"
        )
        # a patient of another site
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(entry, (head[0] + 1, investigator, study_id, "B-001", head[1]))
        # its own patient, but not following the chain
        with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
            conn.execute(entry, (head[0] + 5, investigator, study_id, "A-001", "0" * 64))
        # the head can only name the last entry
        with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
            conn.execute("UPDATE audit_head SET seq = 0, hash = %s", ("0" * 64,))
    assert admin.audit_head() == head and admin.verify_audit().ok


def test_a_site_limited_admin_sees_only_the_users_of_its_sites(pg_admin: Registry, postgresql_url: str) -> None:
    admin, registry_url = pg_admin, postgresql_url
    site_admin = login_name(registry_url, "adm_a")
    admin.add_user(site_admin, "admin", study="CART-AI", sites=["A"])
    mine = login_name(registry_url, "inv_a")
    admin.add_user(mine, "investigator", study="CART-AI", sites=["A"])
    admin.add_user(login_name(registry_url, "inv_b"), "investigator", study="CART-AI", sites=["B"])
    with _sql_as(registry_url, site_admin) as conn:
        assert {r[0] for r in conn.execute("SELECT name FROM app_user")} == {site_admin, mine}
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # names never change
            conn.execute("UPDATE app_user SET name = 'renamed' WHERE name = %s", (mine,))
    listed = {u["name"] for u in Registry.open(url_as(registry_url, site_admin)).users()}
    assert listed == {site_admin, mine}
