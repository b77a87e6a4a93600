"""The registry's relational schema (SQLAlchemy 2 declarative models).

One schema for SQLite and PostgreSQL. Numbers that a threshold may decide are stored as their
exact decimal *text* (:class:`DecimalText`), so ``0.5`` stays ``0.5`` on both engines. Calendar
dates are stored once, at the edge; every visit also carries its **study day** (day 0 = CAR-T
infusion). Raw values are stored with their UCUM unit as reported; conversions happen when values
are read for a score or an export, never on the way in. No derived score is stored.

Tables: ``study``, ``site``, ``app_user``, ``user_site``, ``patient``, ``infusion``,
``lymphodepletion``, ``visit``, ``observation`` (labs, instrument items, global assessments,
vital signs, daily CRS/ICANS parameters and cellular-kinetics samples, told apart by
``category``), ``medication``, ``adverse_event``, ``audit_log`` and ``audit_head``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ROLES",
    "AdverseEvent",
    "AppUser",
    "AuditHead",
    "AuditLog",
    "Base",
    "DecimalText",
    "Infusion",
    "Lymphodepletion",
    "Medication",
    "Observation",
    "Patient",
    "Site",
    "Study",
    "UserSite",
    "Visit",
]

ROLES: tuple[str, ...] = ("admin", "investigator", "monitor", "read-only")
DISEASES: tuple[str, ...] = ("SLE", "SSc", "IIM", "other")
SEXES: tuple[str, ...] = ("F", "M", "U")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class DecimalText(TypeDecorator[Decimal]):
    """A :class:`~decimal.Decimal` stored as its exact text (no binary floating point on any engine)."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if not number.is_finite():
            raise ValueError(f"not a finite number: {number}")
        return format(number, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Study(Base):
    __tablename__ = "study"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(40), default="trial")  # "trial" or "simulation"
    design: Mapped[str | None] = mapped_column(Text)  # StudyDesignRecord as canonical JSON (revision 0004)


class Site(Base):
    __tablename__ = "site"
    __table_args__ = (UniqueConstraint("study_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(3))  # ISO 3166-1 alpha-3 (revision 0004)


class AppUser(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    all_sites: Mapped[bool] = mapped_column(Boolean, default=False)


class UserSite(Base):
    __tablename__ = "user_site"
    __table_args__ = (UniqueConstraint("user_id", "site_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))


class Patient(Base):
    __tablename__ = "patient"
    __table_args__ = (UniqueConstraint("study_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    code: Mapped[str] = mapped_column(String(40))  # pseudonymous study code only
    disease: Mapped[str] = mapped_column(String(10))
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    weight_kg: Mapped[Decimal | None] = mapped_column(DecimalText)
    height_cm: Mapped[Decimal | None] = mapped_column(DecimalText)
    # revision 0004: demographics and disposition for SDTM DM/DS (CDISC submission values)
    race: Mapped[str | None] = mapped_column(String(60))
    ethnicity: Mapped[str | None] = mapped_column(String(40))
    age_years: Mapped[int | None] = mapped_column(Integer)
    consent_day: Mapped[int | None] = mapped_column(Integer)
    consent_date: Mapped[dt.date | None] = mapped_column(Date)
    disposition: Mapped[str | None] = mapped_column(String(40))
    disposition_day: Mapped[int | None] = mapped_column(Integer)
    disposition_date: Mapped[dt.date | None] = mapped_column(Date)
    disposition_reason: Mapped[str | None] = mapped_column(String(200))


class Infusion(Base):
    __tablename__ = "infusion"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), unique=True)
    product: Mapped[str] = mapped_column(String(200))
    target_antigen: Mapped[str] = mapped_column(String(20))
    dose_cells_per_kg: Mapped[Decimal | None] = mapped_column(DecimalText)
    dose_cells_total: Mapped[Decimal | None] = mapped_column(DecimalText)  # flat dose (revision 0002)
    date: Mapped[dt.date | None] = mapped_column(Date)  # None: virtual patients (study days only)


class Lymphodepletion(Base):
    __tablename__ = "lymphodepletion"
    __table_args__ = (UniqueConstraint("patient_id", "agent"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    agent: Mapped[str] = mapped_column(String(80))
    dose_mg_per_m2: Mapped[Decimal | None] = mapped_column(DecimalText)  # per day given
    first_day: Mapped[int | None] = mapped_column(Integer)
    last_day: Mapped[int | None] = mapped_column(Integer)


class Visit(Base):
    __tablename__ = "visit"
    __table_args__ = (UniqueConstraint("patient_id", "label"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    label: Mapped[str] = mapped_column(String(80))
    visitnum: Mapped[Decimal | None] = mapped_column(DecimalText)
    study_day: Mapped[int] = mapped_column(Integer)
    date: Mapped[dt.date | None] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled | daily


class Observation(Base):
    __tablename__ = "observation"
    __table_args__ = (UniqueConstraint("visit_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    code: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(20))  # lab | item | global | vital | daily | kinetics
    value: Mapped[Decimal | None] = mapped_column(DecimalText)
    value_text: Mapped[str | None] = mapped_column(String(200))  # coded answers keep their code's label
    unit: Mapped[str] = mapped_column(String(40))  # UCUM as reported
    method: Mapped[str | None] = mapped_column(String(80))  # assay, e.g. flow cytometry, qPCR
    source: Mapped[str | None] = mapped_column(String(200))  # provenance, e.g. redcap:labs.crp


class Medication(Base):
    __tablename__ = "medication"
    __table_args__ = (UniqueConstraint("patient_id", "source_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    source_key: Mapped[str] = mapped_column(String(120))
    drug: Mapped[str] = mapped_column(String(120))
    dose: Mapped[Decimal | None] = mapped_column(DecimalText)
    unit: Mapped[str | None] = mapped_column(String(40))
    route: Mapped[str | None] = mapped_column(String(40))
    frequency: Mapped[str | None] = mapped_column(String(40))
    start_day: Mapped[int | None] = mapped_column(Integer)
    stop_day: Mapped[int | None] = mapped_column(Integer)  # None: ongoing
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    stop_date: Mapped[dt.date | None] = mapped_column(Date)
    indication: Mapped[str | None] = mapped_column(String(200))


class AdverseEvent(Base):
    __tablename__ = "adverse_event"
    __table_args__ = (UniqueConstraint("patient_id", "source_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    source_key: Mapped[str] = mapped_column(String(120))
    term: Mapped[str] = mapped_column(String(200))
    grade: Mapped[int | None] = mapped_column(Integer)
    grading: Mapped[str] = mapped_column(String(40))  # CTCAE v5.0 | ASTCT
    onset_day: Mapped[int | None] = mapped_column(Integer)
    resolution_day: Mapped[int | None] = mapped_column(Integer)  # None: ongoing
    onset_date: Mapped[dt.date | None] = mapped_column(Date)
    resolution_date: Mapped[dt.date | None] = mapped_column(Date)
    serious: Mapped[bool | None] = mapped_column(Boolean)
    # revision 0004: seriousness criteria (comma-separated), causality and action taken (SDTM AE)
    serious_criteria: Mapped[str | None] = mapped_column(String(200))
    relationship: Mapped[str | None] = mapped_column(String(20))
    action_taken: Mapped[str | None] = mapped_column(String(20))


class AuditLog(Base):
    """Append-only, hash-chained record of every insert, update and delete."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False))
    user_name: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(10))  # insert | update | delete
    table_name: Mapped[str] = mapped_column(String(40))
    row_id: Mapped[int] = mapped_column(Integer)
    study_id: Mapped[int | None] = mapped_column(Integer, index=True)  # with patient_code: whose entry
    patient_code: Mapped[str | None] = mapped_column(String(40), index=True)
    old: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    new: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last sequence number and hash; updating it first serialises writers."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
