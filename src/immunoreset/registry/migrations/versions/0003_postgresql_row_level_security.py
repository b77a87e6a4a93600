"""PostgreSQL: registry users are database roles; roles and sites enforced by row-level security

On PostgreSQL the registry's access rules move into the database, so that they hold for every client
(psql included), not only for immunoreset:

* one group role per registry (``registry_group()``; ``ir_<database>_<schema>``) holds the table
  privileges; every registry user is a login role that is a member of it (``registry_create_login``);
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
    group = f"ir_{database}_{schema}"[:63]
    g, s = _quote(group), _quote(schema)
    literal_group = group.replace("'", "''")

    run(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{literal_group}') THEN "
        f"CREATE ROLE {g} NOLOGIN; END IF; END $$"
    )
    run(f"GRANT USAGE ON SCHEMA {s} TO {g}")
    run(f"GRANT SELECT ON alembic_version TO {g}")
    run(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(DATA_TABLES)} TO {g}")
    run(f"GRANT SELECT, INSERT ON audit_log TO {g}")
    run(f"GRANT SELECT, INSERT, UPDATE ON audit_head TO {g}")
    run(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {g}")

    definer = f"STABLE SECURITY DEFINER SET search_path = {s}, pg_temp"
    run(f"CREATE FUNCTION registry_group() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '{literal_group}'::text $$")
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
    # A user that a site-limited admin may change: not all-sites, and every site of theirs is the admin's.
    run(
        f"CREATE FUNCTION registry_user_in_scope(target integer) RETURNS boolean LANGUAGE sql {definer} AS $$ "
        "SELECT registry_all_sites_admin() OR (registry_role() = 'admin' "
        "AND NOT coalesce((SELECT all_sites FROM app_user WHERE id = target), false) "
        "AND NOT EXISTS (SELECT 1 FROM user_site us WHERE us.user_id = target "
        "AND us.site_id NOT IN (SELECT registry_sites()))) $$"
    )
    # The login of a registry user: created on first use, made a member of the registry's group. Only a
    # registry admin may call it, only for a name already in app_user; an existing role that is not already
    # a plain member login of this registry keeps its password (nobody takes over another role this way).
    run(
        f"""
        CREATE FUNCTION registry_create_login(login text, password text) RETURNS text
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {s}, pg_temp AS $$
        DECLARE
            existing pg_roles%ROWTYPE;
            member boolean;
        BEGIN
            IF coalesce(registry_role(), '') <> 'admin' THEN
                RAISE EXCEPTION 'only a registry admin may create logins' USING ERRCODE = '42501';
            END IF;
            IF NOT EXISTS (SELECT 1 FROM app_user WHERE name = login) THEN
                RAISE EXCEPTION 'no registry user named %', login USING ERRCODE = '22023';
            END IF;
            SELECT * INTO existing FROM pg_roles WHERE rolname = login;
            IF NOT FOUND THEN
                EXECUTE format('CREATE ROLE %I LOGIN', login);
                IF password IS NOT NULL THEN
                    EXECUTE format('ALTER ROLE %I PASSWORD %L', login, password);
                END IF;
                EXECUTE format('GRANT %I TO %I', registry_group(), login);
                RETURN 'created';
            END IF;
            member := pg_has_role(login, registry_group(), 'MEMBER');
            IF password IS NOT NULL THEN
                IF NOT member OR existing.rolsuper OR existing.rolcreaterole OR existing.rolcreatedb
                   OR existing.rolreplication OR existing.rolbypassrls THEN
                    RAISE EXCEPTION 'the database role % exists and is not a plain login of this registry: '
                        'its password is set by the database administrator', login USING ERRCODE = '42501';
                END IF;
                EXECUTE format('ALTER ROLE %I PASSWORD %L', login, password);
            END IF;
            IF NOT member THEN
                EXECUTE format('GRANT %I TO %I', registry_group(), login);
                RETURN 'linked';
            END IF;
            RETURN 'unchanged';
        END $$
        """
    )
    run("REVOKE ALL ON FUNCTION registry_create_login(text, text) FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION registry_create_login(text, text) TO {g}")

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
        # users: everyone sees themselves, admins see all; admins change users within their own scope
        "app_user": (
            "name = session_user OR registry_role() = 'admin'",
            "registry_user_in_scope(id)",
        ),
        "user_site": (
            "user_id = registry_user_id() OR registry_role() = 'admin'",
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
    # the audit trail: append-only; entries of patients you can read (all entries for all-sites users)
    run(
        "CREATE POLICY registry_read ON audit_log FOR SELECT USING (registry_all_sites() OR ("
        f"{member} AND patient_code IS NOT NULL AND EXISTS (SELECT 1 FROM patient p "
        "WHERE p.study_id = audit_log.study_id AND p.code = audit_log.patient_code)))"
    )
    run(f"CREATE POLICY registry_insert ON audit_log FOR INSERT WITH CHECK ({member} AND user_name = session_user)")
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
    group = run("SELECT registry_group()")[0][0]
    for table in ALL_TABLES:
        for policy in ("registry_read", "registry_insert", "registry_update", "registry_delete"):
            run(f"DROP POLICY IF EXISTS {policy} ON {table}")
        run(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for function in (
        "registry_create_login(text, text)",
        "registry_user_in_scope(integer)",
        "registry_user_id()",
        "registry_sites()",
        "registry_all_sites_admin()",
        "registry_writer()",
        "registry_all_sites()",
        "registry_role()",
        "registry_group()",
    ):
        run(f"DROP FUNCTION IF EXISTS {function}")
    schema = run("SELECT current_schema()")[0][0]
    g = _quote(group)
    run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {_quote(schema)} FROM {g}")
    run(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {_quote(schema)} FROM {g}")
    run(f"REVOKE USAGE ON SCHEMA {_quote(schema)} FROM {g}")
