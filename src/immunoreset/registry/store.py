"""The registry store: the only code that reads and writes the registry's tables.

A :class:`Registry` is opened *as a user*. Every read and write goes through it and is checked against
that user's role and sites — the API itself refuses what the user may not do, not just a front end:

============== ============================== ===============================
role           reads                          writes
============== ============================== ===============================
admin          all sites                      everything, users and sites
investigator   own sites                      patients and data at own sites
monitor        own sites                      nothing
read-only      own sites                      nothing
============== ============================== ===============================

(an admin can also be limited to some sites; ``all_sites`` is set for the local default admin.) Only an
all-sites admin creates studies and sites, makes all-sites users or gives users sites it does not have; a
site-limited admin manages users only within its own sites.

**Who the user is.** On PostgreSQL the registry user is the database login (``session_user``): the server
authenticates it, and row-level security policies (schema revision 0003) give that login only the rows
its role and sites allow — for every client, psql included. ``user=`` only chooses which login to connect
as; it grants nothing the server did not authenticate. On SQLite a registry is a single-user local file:
whoever can open the file can read and change all of it, and the checks below are the application's.

Writing data means loading a :class:`~immunoreset.registry.records.StudyRecord` with :meth:`Registry.load`:

* one database transaction for the whole load — any problem and nothing is written;
* records are matched by their natural keys (patient code; visit label; observation code within a visit;
  lymphodepletion agent; medication and adverse-event keys), so loading the same data again changes
  nothing, and corrected data update only the columns that changed;
* for every patient in the load, the load is authoritative: child rows (visits, observations, medications,
  adverse events, lymphodepletion) that are absent from it are deleted — unless ``prune=False`` (an
  incremental load that only adds and updates). Patients absent from the load are never touched;
* every insert, update and delete writes a hash-chained audit entry (:mod:`immunoreset.registry.audit`).

Reading gives the same records back (:meth:`Registry.read_study`), restricted to the user's sites.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from immunoreset.errors import ImmunoresetError, InvalidInput
from immunoreset.registry.audit import (
    AUDITED_TABLES,
    GENESIS,
    AuditCheckpoint,
    AuditEntry,
    AuditVerification,
    canonical_json,
    entry_hash,
    row_image,
    verify_audit,
)
from immunoreset.registry.engine import (
    current_revision,
    head_revision,
    make_engine,
    masked_url,
    resolve_url,
    write_transaction,
)
from immunoreset.registry.records import (
    AdverseEventRecord,
    InfusionRecord,
    LymphodepletionRecord,
    MedicationRecord,
    ObservationRecord,
    PatientRecord,
    SiteRecord,
    StudyDesignRecord,
    StudyRecord,
    VisitRecord,
)
from immunoreset.registry.schema import (
    ROLES,
    Base,
)
from immunoreset.registry.vocabulary import code as vocabulary_code

__all__ = ["DEFAULT_ADMIN", "USER_NAME_PATTERN", "AccessDenied", "LoadSummary", "Registry", "UserInfo"]

DEFAULT_ADMIN = "admin"
USER_NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""Registry user names: lower-case letters, digits and underscores, at most 63 characters, not starting with a
digit — on PostgreSQL each is a database login, and this is what needs no quoting there."""
SYSTEM_USER = "system"
READ_ROLES = frozenset(ROLES)
WRITE_ROLES = frozenset({"admin", "investigator"})

T: dict[str, Table] = {name: Base.metadata.tables[name] for name in AUDITED_TABLES}
AUDIT_LOG: Table = Base.metadata.tables["audit_log"]
AUDIT_HEAD: Table = Base.metadata.tables["audit_head"]


RecordT = TypeVar("RecordT", bound=BaseModel)
PatientKey = tuple[int, str]
"""(study id, patient code): the patient an audit entry belongs to (codes are unique within a study)."""


class AccessDenied(ImmunoresetError):
    """The user may not read or change this (role or site)."""


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: str
    all_sites: bool
    site_ids: frozenset[int]

    def can_read(self, site_id: int) -> bool:
        return self.all_sites or site_id in self.site_ids

    def can_write(self, site_id: int) -> bool:
        return self.role in WRITE_ROLES and self.can_read(site_id)

    @property
    def all_sites_admin(self) -> bool:
        return self.role == "admin" and self.all_sites


@dataclass
class LoadSummary:
    """What a load changed, per table: inserted, updated, deleted, unchanged row counts."""

    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    patients: int = 0

    def _bump(self, kind: dict[str, int], table: str, n: int = 1) -> None:
        kind[table] = kind.get(table, 0) + n

    @property
    def changed(self) -> bool:
        return bool(sum(self.inserted.values()) + sum(self.updated.values()) + sum(self.deleted.values()))

    def table(self) -> list[dict[str, Any]]:
        names = sorted(set(self.inserted) | set(self.updated) | set(self.deleted) | set(self.unchanged))
        return [
            {
                "table": n,
                "inserted": self.inserted.get(n, 0),
                "updated": self.updated.get(n, 0),
                "deleted": self.deleted.get(n, 0),
                "unchanged": self.unchanged.get(n, 0),
            }
            for n in names
        ]


class _Writer:
    """Writes rows and their audit entries inside one transaction."""

    def __init__(self, connection: Connection, user: str, summary: LoadSummary) -> None:
        self.conn = connection
        self.user = user
        self.summary = summary
        self.at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        head_table = AUDIT_HEAD
        if connection.dialect.name == "postgresql":
            head = connection.execute(select(head_table).where(head_table.c.id == 1).with_for_update()).first()
        else:
            head = connection.execute(select(head_table).where(head_table.c.id == 1)).first()
        if head is None:
            connection.execute(insert(head_table).values(id=1, seq=0, hash=GENESIS))
            self.seq, self.hash = 0, GENESIS
        else:
            self.seq, self.hash = head.seq, head.hash
        self.pending: list[dict[str, Any]] = []

    def _audit(
        self, action: str, table: str, row_id: int, patient: PatientKey | None, old: dict[str, Any] | None, new: Any
    ) -> None:
        self.seq += 1
        entry = {
            "seq": self.seq,
            "at": self.at,
            "user_name": self.user,
            "action": action,
            "table_name": table,
            "row_id": row_id,
            "study_id": patient[0] if patient else None,
            "patient_code": patient[1] if patient else None,
            "old": json.loads(canonical_json(old)) if old is not None else None,
            "new": json.loads(canonical_json(new)) if new is not None else None,
        }
        digest = entry_hash(self.hash, entry)
        self.pending.append(
            {
                **entry,
                "old": canonical_json(entry["old"]) if old is not None else None,
                "new": canonical_json(entry["new"]) if new is not None else None,
                "prev_hash": self.hash,
                "hash": digest,
            }
        )
        self.hash = digest
        if len(self.pending) >= 2000:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.conn.execute(insert(AUDIT_LOG), self.pending)
            self.pending = []

    def finish(self) -> None:
        self.flush()
        head = AUDIT_HEAD
        self.conn.execute(update(head).where(head.c.id == 1).values(seq=self.seq, hash=self.hash))

    def insert_many(self, table: str, rows: Sequence[dict[str, Any]], patient: PatientKey | None) -> list[int]:
        if not rows:
            return []
        tab = T[table]
        for values in rows:
            _check_limits(tab, values)
        result = self.conn.execute(insert(tab).returning(tab.c.id, sort_by_parameter_order=True), list(rows))
        ids = [r[0] for r in result]
        for row_id, values in zip(ids, rows, strict=True):
            image = row_image(tab, {c.name: values.get(c.name) for c in tab.columns})
            self._audit("insert", table, row_id, patient, None, image)
        self.summary._bump(self.summary.inserted, table, len(rows))
        return ids

    def update_row(self, table: str, row: Any, values: dict[str, Any], patient: PatientKey | None) -> bool:
        tab = T[table]
        _check_limits(tab, values)
        old = row_image(tab, row)
        merged = {**dict(row._mapping), **values}
        new = row_image(tab, merged)
        if json.loads(canonical_json(old)) == json.loads(canonical_json(new)):
            self.summary._bump(self.summary.unchanged, table)
            return False
        self.conn.execute(update(tab).where(tab.c.id == row.id).values(**values))
        self._audit("update", table, row.id, patient, old, new)
        self.summary._bump(self.summary.updated, table)
        return True

    def delete_rows(self, table: str, rows: Iterable[Any], patient: PatientKey | None) -> None:
        tab = T[table]
        rows = list(rows)
        if not rows:
            return
        for row in rows:
            self._audit("delete", table, row.id, patient, row_image(tab, row), None)
        # entries reach the log while the rows still exist: PostgreSQL's policy lets a login append entries
        # only about patients it can see
        self.flush()
        self.conn.execute(delete(tab).where(tab.c.id.in_([r.id for r in rows])))
        self.summary._bump(self.summary.deleted, table, len(rows))


INT32 = 2**31
"""PostgreSQL's ``integer`` holds -2**31 .. 2**31 - 1; SQLite would take more, so both are held to it."""


def _check_limits(tab: Table, values: dict[str, Any]) -> None:
    """The same limits on every engine, checked before writing: text no longer than its column (SQLite would
    store it, PostgreSQL refuse it), integers within PostgreSQL's 32-bit ``integer``, exact decimals within
    their 64-character text column."""
    for name, value in values.items():
        if value is None or name not in tab.c:
            continue
        column_type = tab.c[name].type
        length = getattr(column_type, "length", None) or getattr(getattr(column_type, "impl", None), "length", None)
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not -INT32 <= value < INT32:
            raise InvalidInput(f"{tab.name}.{name}", value, f"a whole number from {-INT32} to {INT32 - 1}")
        text_form = format(value, "f") if isinstance(value, Decimal) else value if isinstance(value, str) else None
        if length is not None and text_form is not None and len(text_form) > length:
            raise InvalidInput(f"{tab.name}.{name}", text_form, f"at most {length} characters")


def _from_row(model: type[RecordT], row: Any, **given: Any) -> RecordT:
    """A stored row as a record: every field of ``model`` read from the column of the same name (or ``given``)."""
    mapping = row._mapping
    return model.model_construct(**{f: given[f] if f in given else mapping[f] for f in model.model_fields})


def _patient_values(p: PatientRecord) -> dict[str, Any]:
    return {
        "code": p.code,
        "disease": p.disease,
        "sex": p.sex,
        "birth_year": p.birth_year,
        "weight_kg": p.weight_kg,
        "height_cm": p.height_cm,
        **{name: getattr(p, name) for name in _PATIENT_SDTM_FIELDS},
    }


_PATIENT_SDTM_FIELDS = (
    "race",
    "ethnicity",
    "age_years",
    "consent_day",
    "consent_date",
    "disposition",
    "disposition_day",
    "disposition_date",
    "disposition_reason",
)


def _design_text(design: StudyDesignRecord | None) -> str | None:
    """The study design as canonical JSON (sorted keys), so an unchanged design compares equal."""
    return None if design is None else json.dumps(design.model_dump(mode="json"), sort_keys=True)


def _design_record(text: str | None) -> StudyDesignRecord | None:
    return None if text is None else StudyDesignRecord.model_validate_json(text)


def _infusion_values(i: InfusionRecord) -> dict[str, Any]:
    return {
        "product": i.product,
        "target_antigen": i.target_antigen,
        "dose_cells_per_kg": i.dose_cells_per_kg,
        "dose_cells_total": i.dose_cells_total,
        "date": i.date,
    }


def _ld_values(ld: LymphodepletionRecord) -> dict[str, Any]:
    return {"agent": ld.agent, "dose_mg_per_m2": ld.dose_mg_per_m2, "first_day": ld.first_day, "last_day": ld.last_day}


def _visit_values(v: VisitRecord) -> dict[str, Any]:
    return {"label": v.label, "visitnum": v.visitnum, "study_day": v.study_day, "date": v.date, "kind": v.kind}


def _obs_values(o: ObservationRecord, category: str) -> dict[str, Any]:
    return {
        "code": o.code,
        "category": category,
        "value": o.value,
        "value_text": o.value_text,
        "unit": o.unit,
        "method": o.method,
        "source": o.source,
    }


def _med_values(m: MedicationRecord) -> dict[str, Any]:
    return {
        "source_key": m.key,
        "drug": m.drug,
        "dose": m.dose,
        "unit": m.unit,
        "route": m.route,
        "frequency": m.frequency,
        "start_day": m.start_day,
        "stop_day": m.stop_day,
        "start_date": m.start_date,
        "stop_date": m.stop_date,
        "indication": m.indication,
    }


def _ae_values(a: AdverseEventRecord) -> dict[str, Any]:
    return {
        "source_key": a.key,
        "term": a.term,
        "grade": a.grade,
        "grading": a.grading,
        "onset_day": a.onset_day,
        "resolution_day": a.resolution_day,
        "onset_date": a.onset_date,
        "resolution_date": a.resolution_date,
        "serious": a.serious,
        "serious_criteria": ",".join(a.serious_criteria) or None,
        "relationship": a.relationship,
        "action_taken": a.action_taken,
    }


class Registry:
    """The registry database, opened as one user (see the module docstring for roles and loads)."""

    def __init__(self, engine: Engine, user: str | None = None) -> None:
        self.engine = engine
        revision = current_revision(engine)
        if revision is None:
            raise ImmunoresetError(f"{masked_url(engine.url)} has no registry schema: run `immunoreset db init`")
        if revision != head_revision():
            raise ImmunoresetError(
                f"the registry schema is at revision {revision}, this version needs {head_revision()}: "
                "run `immunoreset db upgrade`"
            )
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                login = str(conn.exec_driver_sql("SELECT session_user").scalar_one())
            if user is not None and user != login:
                raise AccessDenied(
                    f"connected to PostgreSQL as {login}, not as {user}: on PostgreSQL the registry user is the "
                    "database login (connect as that user)"
                )
            user = login
        self.user = self._user(user if user is not None else DEFAULT_ADMIN)

    @classmethod
    def open(cls, url: str | None = None, user: str | None = None) -> Registry:
        """Open the registry at ``url`` (see :func:`~immunoreset.registry.engine.resolve_url`) as ``user``.

        SQLite: ``user`` names the registry user (default: the local default admin). PostgreSQL: ``user`` is the
        database login to connect as (default: the URL's user, or libpq's default); the server authenticates it.
        """
        if resolve_url(url).startswith("postgresql"):
            return cls(make_engine(url, login=user))
        return cls(make_engine(url), user)

    # ------------------------------------------------------------------ users
    def _user(self, name: str) -> UserInfo:
        with self.engine.connect() as conn:
            row = conn.execute(select(T["app_user"]).where(T["app_user"].c.name == name)).first()
            if row is None:
                raise AccessDenied(f"unknown registry user {name!r}: an admin adds users with `immunoreset users add`")
            sites = conn.execute(select(T["user_site"].c.site_id).where(T["user_site"].c.user_id == row.id))
            return UserInfo(row.name, row.role, bool(row.all_sites), frozenset(s[0] for s in sites))

    def _require_admin(self, what: str) -> None:
        if self.user.role != "admin":
            raise AccessDenied(f"user {self.user.name} ({self.user.role}) may not {what}: admin role needed")

    def _require_all_sites_admin(self, what: str) -> None:
        if not self.user.all_sites_admin:
            raise AccessDenied(f"user {self.user.name} may not {what}: an all-sites admin is needed")

    def add_user(
        self,
        name: str,
        role: str,
        *,
        study: str | None = None,
        sites: Sequence[str] = (),
        all_sites: bool = False,
        password: str | None = None,
    ) -> str:
        """Add (or change) a user with a role and the sites (codes within ``study``) they may see.

        Only an all-sites admin may make an all-sites user, give sites it does not have itself, or change a
        user who has such sites; a site-limited admin manages users within its own sites only (itself
        included, which it cannot widen). On PostgreSQL the user is also a database login (created if it does
        not exist, with ``password`` if given; an existing login keeps its password unless given one) and a
        member of this registry's group role; returns what happened to the login (``created``, ``linked``,
        ``unchanged``) or ``""`` on SQLite, which has no logins.
        """
        self._require_admin("manage users")
        if role not in ROLES:
            raise InvalidInput("role", role, "one of " + ", ".join(ROLES))
        if not USER_NAME_PATTERN.fullmatch(name):
            raise InvalidInput(
                "user name", name, "1 to 63 lower-case letters, digits or underscores, not starting with a digit"
            )
        postgresql = self.engine.dialect.name == "postgresql"
        if password is not None and not postgresql:
            raise InvalidInput("password", "(hidden)", "no password: a SQLite registry file has no logins")
        if password is not None and not password:
            raise InvalidInput("password", "(empty)", "a non-empty password")
        if all_sites:
            self._require_all_sites_admin("give a user all sites")
        summary = LoadSummary()
        with write_transaction(self.engine) as conn:
            writer = _Writer(conn, self.user.name, summary)
            # A site this admin cannot read is refused like one that does not exist (RLS hides it on PostgreSQL).
            outside = [code for code in sites if not self._site_readable(conn, study, code)]
            if outside:
                self._require_all_sites_admin(f"give site(s) {', '.join(outside)} (not its own)")
            site_ids = [self._site_id(conn, study, code) for code in sites]
            existing = conn.execute(select(T["app_user"]).where(T["app_user"].c.name == name)).first()
            if existing is not None and not self.user.all_sites_admin:
                theirs = {
                    r.site_id
                    for r in conn.execute(select(T["user_site"]).where(T["user_site"].c.user_id == existing.id))
                }
                if existing.all_sites or not theirs <= set(self.user.site_ids):
                    raise AccessDenied(
                        f"user {self.user.name} may not change user {name}: {name} has sites outside its own"
                    )
            values = {"name": name, "role": role, "all_sites": all_sites}
            out_of_scope = AccessDenied(
                f"user {self.user.name} may not change user {name}: {name} has sites outside its own"
            )
            if existing is None:
                try:
                    with conn.begin_nested():
                        user_id = writer.insert_many("app_user", [values], None)[0]
                except IntegrityError:
                    # PostgreSQL: the user exists, outside this admin's scope (row-level security hides it)
                    raise out_of_scope from None
            else:
                writer.update_row("app_user", existing, values, None)
                user_id = existing.id
            have = conn.execute(select(T["user_site"]).where(T["user_site"].c.user_id == user_id)).all()
            have_ids = {r.site_id for r in have}
            writer.insert_many(
                "user_site", [{"user_id": user_id, "site_id": s} for s in site_ids if s not in have_ids], None
            )
            writer.delete_rows("user_site", [r for r in have if r.site_id not in set(site_ids)], None)
            writer.finish()
            login = ""
            if postgresql:
                verifier = None
                if password is not None:  # hashed here (SCRAM-SHA-256, libpq): the server never sees the text
                    pgconn = conn.connection.dbapi_connection.pgconn  # type: ignore[union-attr]
                    verifier = pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
                try:
                    with conn.begin_nested():
                        created = conn.execute(
                            text("SELECT registry_create_login(:name, :verifier)"),
                            {"name": name, "verifier": verifier},
                        )
                        login = str(created.scalar_one())
                except DBAPIError as err:
                    # the database's own refusal (e.g. a role that is not a plain login of this registry)
                    first = str(getattr(err, "orig", err)).strip().splitlines()[0]
                    raise AccessDenied(f"user {name}: {first}") from None
        return login

    def _site_readable(self, conn: Connection, study: str | None, code: str) -> bool:
        query = select(T["site"].c.id).join(T["study"], T["study"].c.id == T["site"].c.study_id)
        query = query.where(T["site"].c.code == code)
        if study is not None:
            query = query.where(T["study"].c.code == study)
        return any(self.user.can_read(int(row[0])) for row in conn.execute(query))

    def _site_id(self, conn: Connection, study: str | None, code: str) -> int:
        query = select(T["site"].c.id, T["study"].c.code).join(T["study"], T["study"].c.id == T["site"].c.study_id)
        query = query.where(T["site"].c.code == code)
        if study is not None:
            query = query.where(T["study"].c.code == study)
        rows = conn.execute(query).all()
        if not rows:
            raise InvalidInput("site", code, "an existing site code" + (f" of study {study}" if study else ""))
        if len(rows) > 1:
            raise InvalidInput("site", code, "a study code too (--study): several studies have this site code")
        return int(rows[0][0])

    def users(self) -> list[dict[str, Any]]:
        """Users with their role and site codes (admin only; a site-limited admin sees itself and the users
        within its own sites, as on PostgreSQL's row-level security)."""
        self._require_admin("list users")
        with self.engine.connect() as conn:
            out = []
            for u in conn.execute(select(T["app_user"]).order_by(T["app_user"].c.name)):
                sites = conn.execute(
                    select(T["study"].c.code, T["site"].c.code, T["site"].c.id)
                    .join(T["site"], T["site"].c.study_id == T["study"].c.id)
                    .join(T["user_site"], T["user_site"].c.site_id == T["site"].c.id)
                    .where(T["user_site"].c.user_id == u.id)
                    .order_by(T["study"].c.code, T["site"].c.code)
                ).all()
                in_scope = not u.all_sites and all(self.user.can_read(sid) for _s, _c, sid in sites)
                if not (self.user.all_sites_admin or u.name == self.user.name or in_scope):
                    continue
                site_text = "all" if u.all_sites else ", ".join(f"{s}/{c}" for s, c, _sid in sites)
                out.append({"name": u.name, "role": u.role, "sites": site_text})
            return out

    # ------------------------------------------------------------------ writes
    def load(
        self,
        study: StudyRecord,
        *,
        prune: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> LoadSummary:
        """Write ``study`` in one transaction (idempotent; see the module docstring)."""
        if self.user.role not in WRITE_ROLES:
            raise AccessDenied(f"user {self.user.name} ({self.user.role}) may not write to the registry")
        summary = LoadSummary(patients=len(study.patients))
        with write_transaction(self.engine) as conn:
            writer = _Writer(conn, self.user.name, summary)
            study_id = self._load_study(conn, writer, study)
            site_ids = self._load_sites(conn, writer, study_id, study.sites)
            denied = sorted({p.site for p in study.patients if not self.user.can_write(site_ids[p.site])})
            if denied:
                raise AccessDenied(
                    f"user {self.user.name} ({self.user.role}) may not write patients of site(s) {', '.join(denied)}"
                )
            for index, patient in enumerate(study.patients, start=1):
                self._load_patient(conn, writer, study_id, site_ids[patient.site], patient, prune)
                if progress is not None:
                    progress(index, len(study.patients))
            writer.finish()
        return summary

    def _load_study(self, conn: Connection, writer: _Writer, study: StudyRecord) -> int:
        row = conn.execute(select(T["study"]).where(T["study"].c.code == study.code)).first()
        values = {"code": study.code, "name": study.name, "source": study.source, "design": _design_text(study.design)}
        if row is None:
            self._require_all_sites_admin(f"create study {study.code}")
            return writer.insert_many("study", [values], None)[0]
        if row.source != study.source:
            raise InvalidInput("study source", study.source, f"{row.source!r} (study {study.code} already holds it)")
        renamed = bool(study.name) and study.name != row.name
        redesigned = study.design is not None and values["design"] != row.design
        if renamed or redesigned:
            self._require_all_sites_admin(f"{'rename' if renamed else 'change the design of'} study {study.code}")
            if not study.name:
                values["name"] = row.name
            if study.design is None:  # a load without a design keeps the stored one
                values["design"] = row.design
            writer.update_row("study", row, values, None)
        return int(row.id)

    def _load_sites(self, conn: Connection, writer: _Writer, study_id: int, sites: list[SiteRecord]) -> dict[str, int]:
        # Sites the user cannot read are treated exactly like sites that do not exist (the same refusal).
        existing = {
            r.code: r
            for r in conn.execute(select(T["site"]).where(T["site"].c.study_id == study_id))
            if self.user.can_read(r.id)
        }
        ids = {code: int(r.id) for code, r in existing.items()}
        for site in sites:
            values = {"study_id": study_id, "code": site.code, "name": site.name, "country": site.country}
            row = existing.get(site.code)
            if row is None:
                self._require_all_sites_admin(f"write site {site.code}")
                ids[site.code] = writer.insert_many("site", [values], None)[0]
            elif (site.name and site.name != row.name) or (site.country is not None and site.country != row.country):
                self._require_all_sites_admin(f"change site {site.code}")
                values["name"] = site.name or row.name
                values["country"] = site.country if site.country is not None else row.country
                writer.update_row("site", row, values, None)
        return ids

    def _sync(
        self,
        conn: Connection,
        writer: _Writer,
        table: str,
        parent: dict[str, int],
        key: str,
        desired: dict[Any, dict[str, Any]],
        patient: PatientKey,
        prune: bool,
        rows: list[Any] | None = None,
    ) -> dict[Any, int]:
        """Make the rows of ``table`` under ``parent`` equal ``desired`` (keyed by column ``key``).

        ``rows`` are the current rows under ``parent`` when the caller has already fetched them.
        """
        tab = T[table]
        if rows is None:
            query = select(tab)
            for column, value in parent.items():
                query = query.where(tab.c[column] == value)
            rows = list(conn.execute(query))
        existing = {row._mapping[key]: row for row in rows}
        ids: dict[Any, int] = {}
        new_rows: list[dict[str, Any]] = []
        new_keys: list[Any] = []
        for k, values in desired.items():
            row = existing.get(k)
            if row is None:
                new_rows.append({**parent, **values})
                new_keys.append(k)
            else:
                writer.update_row(table, row, values, patient)
                ids[k] = int(row.id)
        ids.update(zip(new_keys, writer.insert_many(table, new_rows, patient), strict=True))
        if prune:
            gone = [row for k, row in existing.items() if k not in desired]
            if table == "visit" and gone:
                obs = T["observation"]
                children = conn.execute(select(obs).where(obs.c.visit_id.in_([r.id for r in gone]))).all()
                writer.delete_rows("observation", children, patient)
            writer.delete_rows(table, gone, patient)
        return ids

    def _load_patient(
        self, conn: Connection, writer: _Writer, study_id: int, site_id: int, p: PatientRecord, prune: bool
    ) -> None:
        tab = T["patient"]
        row = conn.execute(select(tab).where(tab.c.study_id == study_id, tab.c.code == p.code)).first()
        key: PatientKey = (study_id, p.code)
        values = _patient_values(p)
        taken = AccessDenied(
            f"patient code {p.code} is not available to user {self.user.name}: patient codes are unique within a "
            "study; use another code"
        )
        if row is None:
            try:
                with conn.begin_nested():
                    new_row = {"study_id": study_id, "site_id": site_id, **values}
                    patient_id = writer.insert_many("patient", [new_row], key)[0]
            except IntegrityError as err:
                # PostgreSQL: the code is taken by a patient that row-level security hides from this login.
                if getattr(err.orig, "sqlstate", None) == "23505" and "patient" in str(err.orig).splitlines()[0]:
                    raise taken from None
                raise
        else:
            if not self.user.can_read(row.site_id):
                # The code is taken at a site this user cannot see (SQLite; on PostgreSQL the row is invisible and
                # the insert above refuses it). Codes are unique within a study, so the refusal necessarily says
                # "taken" — and the same words on both engines, nothing more: not where, not by whom.
                raise taken
            if row.site_id != site_id:
                raise InvalidInput(
                    f"patient {p.code} site", p.site, "the site the patient is registered at (patients do not move)"
                )
            writer.update_row("patient", row, values, key)
            patient_id = int(row.id)
        owner = {"patient_id": patient_id}
        infusion = {patient_id: _infusion_values(p.infusion)} if p.infusion else {}
        self._sync(conn, writer, "infusion", owner, "patient_id", infusion, key, prune)
        self._sync(
            conn,
            writer,
            "lymphodepletion",
            owner,
            "agent",
            {ld.agent: _ld_values(ld) for ld in p.lymphodepletion},
            key,
            prune,
        )
        visit_ids = self._sync(
            conn, writer, "visit", owner, "label", {v.label: _visit_values(v) for v in p.visits}, key, prune
        )
        otab = T["observation"]
        current: dict[int, list[Any]] = {}
        for row in conn.execute(select(otab).where(otab.c.visit_id.in_(list(visit_ids.values())))):
            current.setdefault(row.visit_id, []).append(row)
        for v in p.visits:
            desired = {o.code: _obs_values(o, vocabulary_code(o.code).category) for o in v.observations}
            visit_id = visit_ids[v.label]
            self._sync(
                conn,
                writer,
                "observation",
                {"visit_id": visit_id},
                "code",
                desired,
                key,
                prune,
                current.get(visit_id, []),
            )
        self._sync(
            conn,
            writer,
            "medication",
            owner,
            "source_key",
            {m.key: _med_values(m) for m in p.medications},
            key,
            prune,
        )
        self._sync(
            conn,
            writer,
            "adverse_event",
            owner,
            "source_key",
            {a.key: _ae_values(a) for a in p.adverse_events},
            key,
            prune,
        )

    def delete_patient(self, study: str, code: str) -> None:
        """Delete a patient and all their data (audited)."""
        summary = LoadSummary()
        with write_transaction(self.engine) as conn:
            row = self._patient_row(conn, study, code)
            if not self.user.can_write(row.site_id):
                raise AccessDenied(f"user {self.user.name} may not change patient {code}")
            writer = _Writer(conn, self.user.name, summary)
            owner = {"patient_id": row.id}
            key: PatientKey = (int(row.study_id), code)
            for table in ("infusion", "lymphodepletion", "medication", "adverse_event"):
                self._sync(conn, writer, table, owner, "id", {}, key, True)
            self._sync(conn, writer, "visit", owner, "id", {}, key, True)
            writer.delete_rows("patient", [row], key)
            writer.finish()

    def _patient_row(self, conn: Connection, study: str, code: str) -> Any:
        tab = T["patient"]
        row = conn.execute(
            select(tab)
            .join(T["study"], T["study"].c.id == tab.c.study_id)
            .where(T["study"].c.code == study, tab.c.code == code)
        ).first()
        if row is None or not self.user.can_read(row.site_id):
            # Same message whether absent or forbidden: a user learns nothing about other sites' patients.
            raise AccessDenied(f"no patient {code} in study {study} visible to user {self.user.name}")
        return row

    # ------------------------------------------------------------------ reads
    def studies(self) -> list[str]:
        """Codes of studies with at least one site the user can read."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(T["study"].c.code, T["site"].c.id).join(
                    T["site"], T["site"].c.study_id == T["study"].c.id, isouter=True
                )
            ).all()
        return sorted({code for code, site in rows if site is not None and self.user.can_read(site)})

    def read_study(self, study: str | None = None, *, patients: Sequence[str] | None = None) -> StudyRecord:
        """The study's records visible to this user (all of them for an all-sites user).

        ``study`` may be omitted when the registry holds exactly one study the user can read.
        """
        if study is None:
            visible = self.studies()
            if len(visible) != 1:
                raise InvalidInput("study", None, "a study code, one of: " + (", ".join(visible) or "(none visible)"))
            study = visible[0]
        with self.engine.connect() as conn:
            srow = conn.execute(select(T["study"]).where(T["study"].c.code == study)).first()
            if srow is None:
                raise InvalidInput("study", study, "an existing study code, one of: " + ", ".join(self.studies()))
            sites = [
                r
                for r in conn.execute(
                    select(T["site"]).where(T["site"].c.study_id == srow.id).order_by(T["site"].c.code)
                )
                if self.user.can_read(r.id)
            ]
            if not sites:
                raise AccessDenied(f"user {self.user.name} may not read any site of study {study}")
            site_code = {r.id: r.code for r in sites}
            ptab = T["patient"]
            query = select(ptab).where(ptab.c.study_id == srow.id, ptab.c.site_id.in_(list(site_code)))
            if patients is not None:
                query = query.where(ptab.c.code.in_(list(patients)))
            prow = list(conn.execute(query.order_by(ptab.c.code)))
            if patients is not None:
                missing = sorted(set(patients) - {r.code for r in prow})
                if missing:
                    raise AccessDenied(
                        f"no patient(s) {', '.join(missing)} in study {study} visible to {self.user.name}"
                    )
            ids = [r.id for r in prow]
            children = {
                name: self._children(conn, name, ids)
                for name in ("infusion", "lymphodepletion", "visit", "medication", "adverse_event")
            }
            visit_ids = [v.id for rows in children["visit"].values() for v in rows]
            obs_by_visit: dict[int, list[Any]] = {}
            otab = T["observation"]
            for chunk_start in range(0, len(visit_ids), 500):
                chunk = visit_ids[chunk_start : chunk_start + 500]
                for o in conn.execute(select(otab).where(otab.c.visit_id.in_(chunk)).order_by(otab.c.id)):
                    obs_by_visit.setdefault(o.visit_id, []).append(o)
        records = []
        for r in prow:
            inf = children["infusion"].get(r.id, [])
            records.append(
                PatientRecord.model_construct(
                    code=r.code,
                    site=site_code[r.site_id],
                    disease=r.disease,
                    sex=r.sex,
                    birth_year=r.birth_year,
                    weight_kg=r.weight_kg,
                    height_cm=r.height_cm,
                    **{name: r._mapping[name] for name in _PATIENT_SDTM_FIELDS},
                    infusion=_from_row(InfusionRecord, inf[0]) if inf else None,
                    lymphodepletion=[
                        _from_row(LymphodepletionRecord, x) for x in children["lymphodepletion"].get(r.id, [])
                    ],
                    visits=[
                        _from_row(
                            VisitRecord,
                            v,
                            observations=[_from_row(ObservationRecord, o) for o in obs_by_visit.get(v.id, [])],
                        )
                        for v in sorted(children["visit"].get(r.id, []), key=lambda v: (v.study_day, v.label))
                    ],
                    medications=[
                        _from_row(MedicationRecord, m, key=m.source_key) for m in children["medication"].get(r.id, [])
                    ],
                    adverse_events=[
                        _from_row(
                            AdverseEventRecord,
                            a,
                            key=a.source_key,
                            serious_criteria=a.serious_criteria.split(",") if a.serious_criteria else [],
                        )
                        for a in children["adverse_event"].get(r.id, [])
                    ],
                )
            )
        return StudyRecord.model_construct(
            code=srow.code,
            name=srow.name,
            source=srow.source,
            design=_design_record(srow.design),
            sites=[SiteRecord.model_construct(code=s.code, name=s.name, country=s.country) for s in sites],
            patients=records,
        )

    def _children(self, conn: Connection, table: str, patient_ids: list[int]) -> dict[int, list[Any]]:
        tab = T[table]
        out: dict[int, list[Any]] = {}
        for start in range(0, len(patient_ids), 500):
            chunk = patient_ids[start : start + 500]
            for row in conn.execute(select(tab).where(tab.c.patient_id.in_(chunk)).order_by(tab.c.id)):
                out.setdefault(row.patient_id, []).append(row)
        return out

    def counts(self) -> dict[str, int]:
        """Row counts of every data table (all-sites admin only: counts span all sites)."""
        self._require_all_sites_admin("count rows across sites")
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(tab)).scalar_one()) for name, tab in T.items()
            }

    # ------------------------------------------------------------------ audit
    def verify_audit(self, against: AuditCheckpoint | None = None) -> AuditVerification:
        """Check the audit chain and the live data against it (an all-sites admin or monitor: the chain and
        every row must be read to verify them)."""
        if self.user.role not in {"admin", "monitor"} or not self.user.all_sites:
            raise AccessDenied(
                f"user {self.user.name} ({self.user.role}) may not verify the audit trail: an all-sites admin or "
                "monitor is needed (verifying reads every site's rows)"
            )
        with self.engine.connect() as conn:
            return verify_audit(conn, T, against)

    def audit_log(self, *, study: str | None = None, patient: str | None = None) -> list[AuditEntry]:
        """Audit entries (all, or one patient's), oldest first, scoped like every other read.

        One patient's history: any user who can read the patient. The whole log: admins only — all of it for
        an all-sites admin; for a site-limited admin only the entries of patients it can read now (entries of
        users, sites and studies, and of patients deleted since, need an all-sites admin). On PostgreSQL the
        database's row-level security applies the same rule.
        """
        log = AUDIT_LOG
        with self.engine.connect() as conn:
            query = select(log).order_by(log.c.seq)
            visible: set[tuple[int, str]] | None = None
            if patient is not None:
                if study is None:
                    study = self.read_study().code if len(self.studies()) == 1 else None
                if study is None:
                    raise InvalidInput("study", None, "a study code (several studies hold patients)")
                row = self._patient_row(conn, study, patient)  # access check
                query = query.where(log.c.study_id == row.study_id, log.c.patient_code == patient)
            elif self.user.role != "admin":
                raise AccessDenied(f"user {self.user.name} ({self.user.role}) may only read a patient's audit log")
            elif not self.user.all_sites:
                ptab = T["patient"]
                visible = {
                    (int(r.study_id), str(r.code))
                    for r in conn.execute(select(ptab.c.study_id, ptab.c.code, ptab.c.site_id))
                    if self.user.can_read(r.site_id)
                }
                query = query.where(log.c.patient_code.is_not(None))
            rows = conn.execute(query).all()
        if visible is not None:
            rows = [r for r in rows if (r.study_id, r.patient_code) in visible]
        return [
            AuditEntry(
                seq=r.seq,
                at=r.at,
                user=r.user_name,
                action=r.action,
                table=r.table_name,
                row_id=r.row_id,
                patient=r.patient_code,
                old=json.loads(r.old) if r.old else None,
                new=json.loads(r.new) if r.new else None,
            )
            for r in rows
        ]

    def audit_head(self) -> tuple[int, str]:
        """The audit chain's head: (last sequence number, its hash) — what a checkpoint keeps."""
        with self.engine.connect() as conn:
            head = conn.execute(select(AUDIT_HEAD).where(AUDIT_HEAD.c.id == 1)).first()
        return (int(head.seq), str(head.hash)) if head is not None else (0, GENESIS)


def bootstrap_admin(engine: Engine, name: str = DEFAULT_ADMIN) -> bool:
    """Create the first admin (all sites) if the registry has no users; returns whether it did.

    SQLite: the local default admin ``name``. PostgreSQL: the login that creates the registry (the schema
    owner, the database administrator), whatever ``name`` says.
    """
    with write_transaction(engine) as conn:
        if conn.execute(select(T["app_user"].c.id).limit(1)).first() is not None:
            return False
        if conn.dialect.name == "postgresql":
            name = str(conn.exec_driver_sql("SELECT session_user").scalar_one())
        writer = _Writer(conn, SYSTEM_USER, LoadSummary())
        writer.insert_many("app_user", [{"name": name, "role": "admin", "all_sites": True}], None)
        writer.finish()
        return True


def initialise(url: str | None = None, *, admin: str = DEFAULT_ADMIN) -> Engine:
    """Create or upgrade the registry schema at ``url`` and make sure it has an admin; returns the engine."""
    from immunoreset.registry.engine import init_db

    engine = make_engine(url, create=True)
    init_db(engine)
    bootstrap_admin(engine, admin)
    return engine


__all__ += ["bootstrap_admin", "initialise"]
