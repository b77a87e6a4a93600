"""PostgreSQL: registry users are database roles; roles and sites enforced by row-level security

On PostgreSQL the registry's access rules move into the database, so that they hold for every client
(psql included), not only for immunoreset:

* two group roles per registry hold the table privileges (``registry_group(writes)``): readers
  ``ir_<database>_<schema>`` (SELECT only: monitors, read-only users) and writers ``…_w`` (admins,
  investigators); every registry user is a login that is a member of the one its role needs
  (``registry_create_login``, which only admins may call, for users within their own sites);
* triggers keep the audit chain whole: an entry must follow the last one, the head must name the last one;
* a registry user is identified by the database login (``session_user``), looked up in ``app_user``;
* row-level security policies give each login exactly the rows its registry role and sites allow
  (docs/registry.md, "Users, roles and sites"); the audit log is append-only for everyone.

The schema owner (who runs the migrations, and needs CREATEROLE) is the database administrator: as the
owner it is not subject to the policies. On SQLite this revision changes nothing (a SQLite file is a
single-user local store: whoever can open the file can read all of it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 06:10:00
"""

from __future__ import annotations

from typing import Any

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The tables as of this revision (a migration keeps its own snapshot rather than importing the live list in
# immunoreset.registry.audit, which later revisions may extend).
DATA_TABLES = (
    "study",
    "site",
    "app_user",
    "user_site",
    "patient",
    "infusion",
    "lymphodepletion",
    "visit",
    "observation",
    "medication",
    "adverse_event",
)
PATIENT_CHILDREN = ("infusion", "lymphodepletion", "visit", "medication", "adverse_event")
ALL_TABLES = (*DATA_TABLES, "audit_log", "audit_head")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _runner(bind: Any) -> Any:
    """Execute SQL text as is (no parameters: PL/pgSQL's ``format('%I')`` must reach the server untouched)."""
    driver = bind.connection.dbapi_connection

    def run(sql: str) -> Any:
        with driver.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else None

    return run


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    run = _runner(bind)
    database, schema = run("SELECT current_database(), current_schema()")[0]
    reader = f"ir_{database}_{schema}"[:61]
    writer = reader + "_w"
    r, w, s = _quote(reader), _quote(writer), _quote(schema)
    literal = {"reader": reader.replace("'", "''"), "writer": writer.replace("'", "''")}

    for group in (reader, writer):
        name = group.replace("'", "''")
        run(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN "
            f"CREATE ROLE {_quote(group)} NOLOGIN; END IF; END $$"
        )
    run(f"GRANT {r} TO {w}")  # writers read too
    # readers (monitor, read-only): SELECT only — no UPDATE/DELETE, so no LOCK TABLE and no SELECT … FOR UPDATE
    run(f"GRANT USAGE ON SCHEMA {s} TO {r}")
    run(f"GRANT SELECT ON alembic_version, {', '.join(ALL_TABLES)} TO {r}")
    # writers (admin, investigator); app_user names never change, so only role and sites are updatable
    run(f"GRANT INSERT, UPDATE, DELETE ON {', '.join(t for t in DATA_TABLES if t != 'app_user')} TO {w}")
    run(f"GRANT INSERT, UPDATE (role, all_sites) ON app_user TO {w}")
    run(f"GRANT INSERT ON audit_log TO {w}")
    run(f"GRANT UPDATE ON audit_head TO {w}")
    run(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {w}")  # nextval for new rows; no SELECT of last_value
    # the logins this registry created (only their passwords may be set through it); no grants at all
    run("CREATE TABLE registry_login (name text PRIMARY KEY)")

    definer = f"STABLE SECURITY DEFINER SET search_path = {s}, pg_temp"
    run(
        "CREATE FUNCTION registry_group(writes boolean DEFAULT false) RETURNS text LANGUAGE sql IMMUTABLE AS "
        f"$$ SELECT CASE WHEN writes THEN '{literal['writer']}' ELSE '{literal['reader']}' END $$"
    )
    run(
        f"CREATE FUNCTION registry_role() RETURNS text LANGUAGE sql {definer} AS "
        "$$ SELECT role FROM app_user WHERE name = session_user $$"
    )
    run(
        f"CREATE FUNCTION registry_all_sites() RETURNS boolean LANGUAGE sql {definer} AS "
        "$$ SELECT coalesce((SELECT all_sites FROM app_user WHERE name = session_user), false) $$"
    )
    run(
        f"CREATE FUNCTION registry_writer() RETURNS boolean LANGUAGE sql {definer} AS "
        "$$ SELECT coalesce((SELECT role IN ('admin', 'investigator') FROM app_user "
        "WHERE name = session_user), false) $$"
    )
    run(
        f"CREATE FUNCTION registry_all_sites_admin() RETURNS boolean LANGUAGE sql {definer} AS "
        "$$ SELECT coalesce((SELECT role = 'admin' AND all_sites FROM app_user WHERE name = session_user), false) $$"
    )
    run(
        f"CREATE FUNCTION registry_sites() RETURNS SETOF integer LANGUAGE sql {definer} AS $$ "
        "SELECT s.id FROM site s JOIN app_user u ON u.name = session_user "
        "WHERE u.all_sites OR EXISTS (SELECT 1 FROM user_site us WHERE us.user_id = u.id AND us.site_id = s.id) $$"
    )
    run(
        f"CREATE FUNCTION registry_user_id() RETURNS integer LANGUAGE sql {definer} AS "
        "$$ SELECT id FROM app_user WHERE name = session_user $$"
    )
    # A user an admin may see and change: any user for an all-sites admin; for a site-limited admin a user
    # that is not all-sites and has no site outside the admin's own (itself included).
    run(
        f"CREATE FUNCTION registry_user_in_scope(target integer) RETURNS boolean LANGUAGE sql {definer} AS $$ "
        "SELECT registry_all_sites_admin() OR (registry_role() = 'admin' "
        "AND NOT coalesce((SELECT all_sites FROM app_user WHERE id = target), false) "
        "AND NOT EXISTS (SELECT 1 FROM user_site us WHERE us.user_id = target "
        "AND us.site_id NOT IN (SELECT registry_sites()))) $$"
    )
    # The login of a registry user. Only an admin may call it, only for a registry user within its own scope.
    # A login that does not exist is created (and remembered in registry_login); one that exists is linked
    # (made a member of the group its registry role needs) but keeps its password unless this registry created
    # it. The password arrives as a SCRAM-SHA-256 verifier computed by the client: the plain text never
    # reaches the server, its statements or its logs.
    run(
        f"""
        CREATE FUNCTION registry_create_login(login text, verifier text) RETURNS text
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {s}, pg_temp AS $$
        DECLARE
            target app_user%ROWTYPE;
            outcome text := 'unchanged';
            wanted text;
            other text;
        BEGIN
            IF coalesce(registry_role(), '') <> 'admin' THEN
                RAISE EXCEPTION 'only a registry admin may manage logins' USING ERRCODE = '42501';
            END IF;
            SELECT * INTO target FROM app_user WHERE name = login;
            IF NOT FOUND OR NOT registry_user_in_scope(target.id) THEN
                RAISE EXCEPTION 'no registry user % within this admin''s sites', login USING ERRCODE = '42501';
            END IF;
            IF verifier IS NOT NULL AND verifier NOT LIKE 'SCRAM-SHA-256$%' THEN
                RAISE EXCEPTION 'a password must arrive as a SCRAM-SHA-256 verifier' USING ERRCODE = '22023';
            END IF;
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login) THEN
                EXECUTE format('CREATE ROLE %I LOGIN', login);
                INSERT INTO registry_login (name) VALUES (login);
                outcome := 'created';
            ELSIF verifier IS NOT NULL AND NOT EXISTS (SELECT 1 FROM registry_login WHERE name = login) THEN
                RAISE EXCEPTION 'the database role % was not created by this registry and is not a plain login of '
                    'it: its password is set by the database administrator', login USING ERRCODE = '42501';
            END IF;
            IF verifier IS NOT NULL THEN
                EXECUTE format('ALTER ROLE %I PASSWORD %L', login, verifier);
                IF outcome = 'unchanged' THEN
                    outcome := 'password set';
                END IF;
            END IF;
            wanted := registry_group(target.role IN ('admin', 'investigator'));
            other := registry_group(NOT (target.role IN ('admin', 'investigator')));
            IF EXISTS (
                SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                WHERE g.rolname = other AND u.rolname = login) THEN
                EXECUTE format('REVOKE %I FROM %I', other, login);
            END IF;
            IF NOT EXISTS (
                SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                WHERE g.rolname = wanted AND u.rolname = login) THEN
                EXECUTE format('GRANT %I TO %I', wanted, login);
                IF outcome = 'unchanged' THEN
                    outcome := 'linked';
                END IF;
            END IF;
            RETURN outcome;
        END $$
        """
    )
    run("REVOKE ALL ON FUNCTION registry_create_login(text, text) FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION registry_create_login(text, text) TO {w}")

    # The chain is kept whole by the database too: an entry must follow the last one (sequence number and
    # previous hash), and the head must name the last entry. Anyone who appends must chain correctly; nobody
    # can move the head elsewhere.
    run(
        f"""
        CREATE FUNCTION registry_audit_append() RETURNS trigger
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {s}, pg_temp AS $$
        DECLARE
            last_seq integer;
            last_hash text;
        BEGIN
            SELECT seq, hash INTO last_seq, last_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
            IF NEW.seq <> coalesce(last_seq, 0) + 1 OR NEW.prev_hash <> coalesce(last_hash, repeat('0', 64)) THEN
                RAISE EXCEPTION 'an audit entry must follow the last one (entry %)', coalesce(last_seq, 0)
                    USING ERRCODE = '23514';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    run(
        "CREATE TRIGGER registry_audit_append BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION registry_audit_append()"
    )
    run(
        f"""
        CREATE FUNCTION registry_audit_head() RETURNS trigger
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {s}, pg_temp AS $$
        DECLARE
            last_seq integer;
            last_hash text;
        BEGIN
            SELECT seq, hash INTO last_seq, last_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
            IF NEW.seq <> coalesce(last_seq, 0) OR NEW.hash <> coalesce(last_hash, repeat('0', 64)) THEN
                RAISE EXCEPTION 'the audit head must name the last audit entry' USING ERRCODE = '23514';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    run(
        "CREATE TRIGGER registry_audit_head BEFORE INSERT OR UPDATE ON audit_head "
        "FOR EACH ROW EXECUTE FUNCTION registry_audit_head()"
    )

    for table in ALL_TABLES:
        run(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")

    member = "registry_role() IS NOT NULL"
    readable_site = "site_id IN (SELECT registry_sites())"
    policies = {
        # studies and sites: read where a site is yours; created and renamed by all-sites admins only
        "study": (
            f"{member} AND (registry_all_sites() OR id IN (SELECT study_id FROM site))",
            "registry_all_sites_admin()",
        ),
        "site": ("id IN (SELECT registry_sites())", "registry_all_sites_admin()"),
        # users: everyone sees themselves; admins see and change the users within their scope
        "app_user": (
            "name = session_user OR registry_user_in_scope(id)",
            "registry_user_in_scope(id)",
        ),
        "user_site": (
            "user_id = registry_user_id() OR registry_all_sites_admin() "
            "OR (registry_role() = 'admin' AND site_id IN (SELECT registry_sites()))",
            "registry_user_in_scope(user_id) AND site_id IN (SELECT registry_sites())",
        ),
        "patient": (readable_site, f"registry_writer() AND {readable_site}"),
        "observation": (
            "visit_id IN (SELECT id FROM visit)",
            "registry_writer() AND visit_id IN (SELECT id FROM visit)",
        ),
    }
    for child in PATIENT_CHILDREN:
        policies[child] = (
            "patient_id IN (SELECT id FROM patient)",
            "registry_writer() AND patient_id IN (SELECT id FROM patient)",
        )
    for table, (read, write) in policies.items():
        run(f"CREATE POLICY registry_read ON {table} FOR SELECT USING ({read})")
        run(f"CREATE POLICY registry_insert ON {table} FOR INSERT WITH CHECK ({write})")
        run(f"CREATE POLICY registry_update ON {table} FOR UPDATE USING ({write}) WITH CHECK ({write})")
        run(f"CREATE POLICY registry_delete ON {table} FOR DELETE USING ({write})")
    # app_user: a site-limited admin may not create or make an all-sites user
    run("DROP POLICY registry_insert ON app_user")
    run(
        "CREATE POLICY registry_insert ON app_user FOR INSERT WITH CHECK "
        "(registry_role() = 'admin' AND (registry_all_sites_admin() OR NOT all_sites))"
    )
    run("DROP POLICY registry_update ON app_user")
    run(
        "CREATE POLICY registry_update ON app_user FOR UPDATE USING (registry_user_in_scope(id)) "
        "WITH CHECK (registry_all_sites_admin() OR NOT all_sites)"
    )
    # the audit trail: append-only; entries of patients you can read (all entries for all-sites users);
    # appended only by writers, in their own name, about patients they may write (entries without a patient —
    # users, sites, studies — by admins)
    run(
        "CREATE POLICY registry_read ON audit_log FOR SELECT USING (registry_all_sites() OR ("
        f"{member} AND patient_code IS NOT NULL AND EXISTS (SELECT 1 FROM patient p "
        "WHERE p.study_id = audit_log.study_id AND p.code = audit_log.patient_code)))"
    )
    run(
        "CREATE POLICY registry_insert ON audit_log FOR INSERT WITH CHECK (registry_writer() "
        "AND user_name = session_user AND CASE WHEN patient_code IS NULL THEN registry_role() = 'admin' "
        "ELSE EXISTS (SELECT 1 FROM patient p WHERE p.study_id = audit_log.study_id "
        "AND p.code = audit_log.patient_code) END)"
    )
    run(f"CREATE POLICY registry_read ON audit_head FOR SELECT USING ({member})")
    run("CREATE POLICY registry_insert ON audit_head FOR INSERT WITH CHECK (registry_writer())")
    run(
        "CREATE POLICY registry_update ON audit_head FOR UPDATE USING (registry_writer()) "
        "WITH CHECK (registry_writer())"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    run = _runner(bind)
    groups = [run("SELECT registry_group(false)")[0][0], run("SELECT registry_group(true)")[0][0]]
    for table in ALL_TABLES:
        for policy in ("registry_read", "registry_insert", "registry_update", "registry_delete"):
            run(f"DROP POLICY IF EXISTS {policy} ON {table}")
        run(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    run("DROP TRIGGER IF EXISTS registry_audit_append ON audit_log")
    run("DROP TRIGGER IF EXISTS registry_audit_head ON audit_head")
    run("DROP TABLE IF EXISTS registry_login")
    for function in (
        "registry_audit_append()",
        "registry_audit_head()",
        "registry_create_login(text, text)",
        "registry_user_in_scope(integer)",
        "registry_user_id()",
        "registry_sites()",
        "registry_all_sites_admin()",
        "registry_writer()",
        "registry_all_sites()",
        "registry_role()",
        "registry_group(boolean)",
    ):
        run(f"DROP FUNCTION IF EXISTS {function}")
    schema = run("SELECT current_schema()")[0][0]
    for group in groups:
        g = _quote(group)
        run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {_quote(schema)} FROM {g}")
        run(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {_quote(schema)} FROM {g}")
        run(f"REVOKE USAGE ON SCHEMA {_quote(schema)} FROM {g}")
