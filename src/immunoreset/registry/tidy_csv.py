"""Tidy CSV import: a documented long format for sites without REDCap -> StudyRecord.

A study is a small set of UTF-8 CSV files (comma-separated, header row, one fact per row; the full
column reference is in ``docs/registry.md``, section "Tidy CSV format"):

================== ==========================================================================
file               one row per
================== ==========================================================================
study.csv          the study (exactly one row): ``study, name`` and the protocol metadata
                   (``title, phase, sponsor, indication`` ...; see :data:`COLUMNS`)
planned_visits.csv visit of the protocol's schedule (``label, day, visitnum, window_before/after``)
criteria.csv       inclusion/exclusion criterion (``code, text, category``)
sites.csv          site: ``site, name, country`` (ISO 3166-1 alpha-3)
patients.csv       patient, with the CAR-T infusion
lymphodepletion.csv lymphodepleting agent of a patient
observations.csv   observation (patient, visit, code, value, unit); a row with an empty ``code``
                   declares a visit without observations
medications.csv    medication entry (stable ``key`` per patient)
adverse_events.csv adverse event (stable ``key`` per patient)
================== ==========================================================================

``study.csv``, ``sites.csv`` and ``patients.csv`` are required; the others are optional. A file may
carry a prefix (``erlangen_observations.csv``); several files of one kind are read one after another.
Every problem (unknown column, unknown patient or code, unparseable number or date, value out of the
vocabulary's range, a study day contradicting its date, duplicate keys) is collected and raised as one
:class:`~immunoreset.errors.InvalidInput` with ``file row R, column C``.

:func:`write_tidy_csv` writes a StudyRecord in this format (``read_tidy_csv(write_tidy_csv(s, d)) == s``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from immunoreset.errors import InvalidInput, Problem
from immunoreset.inputs import bounded_decimal, check_csv, read_text_file
from immunoreset.registry import vocabulary
from immunoreset.registry.records import (
    AdverseEventRecord,
    EligibilityCriterionRecord,
    InfusionRecord,
    LymphodepletionRecord,
    MedicationRecord,
    ObservationRecord,
    PatientRecord,
    PlannedVisitRecord,
    SiteRecord,
    StudyDesignRecord,
    StudyRecord,
    VisitRecord,
)

__all__ = ["COLUMNS", "REQUIRED", "read_tidy_csv", "write_tidy_csv"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "study": (
        "study",
        "name",
        "title",
        "phase",
        "sponsor",
        "indication",
        "registration_id",
        "planned_subjects",
        "start_date",
        "end_date",
        "age_min_years",
        "age_max_years",
        "sexes",
        "primary_objective",
        "primary_outcome",
    ),
    "planned_visits": ("label", "day", "visitnum", "window_before", "window_after"),
    "criteria": ("code", "text", "category"),
    "sites": ("site", "name", "country"),
    "patients": (
        "patient",
        "site",
        "disease",
        "sex",
        "birth_year",
        "weight_kg",
        "height_cm",
        "product",
        "target_antigen",
        "dose_cells_per_kg",
        "dose_cells_total",
        "infusion_date",
        "race",
        "ethnicity",
        "age_years",
        "consent_day",
        "consent_date",
        "disposition",
        "disposition_day",
        "disposition_date",
        "disposition_reason",
    ),
    "lymphodepletion": ("patient", "agent", "dose_mg_per_m2", "first_day", "last_day"),
    "observations": (
        "patient",
        "visit",
        "kind",
        "visitnum",
        "study_day",
        "date",
        "code",
        "value",
        "unit",
        "method",
        "source",
    ),
    "medications": (
        "patient",
        "key",
        "drug",
        "dose",
        "unit",
        "route",
        "frequency",
        "start_day",
        "stop_day",
        "start_date",
        "stop_date",
        "indication",
    ),
    "adverse_events": (
        "patient",
        "key",
        "term",
        "grade",
        "grading",
        "onset_day",
        "resolution_day",
        "onset_date",
        "resolution_date",
        "serious",
        "serious_criteria",
        "relationship",
        "action_taken",
    ),
}
"""Columns of each file, in the order written."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "study": ("study",),
    "planned_visits": ("label", "day"),
    "criteria": ("code", "text", "category"),
    "sites": ("site",),
    "patients": ("patient", "site", "disease"),
    "lymphodepletion": ("patient", "agent", "first_day"),
    "observations": ("patient", "visit"),
    "medications": ("patient", "key", "drug"),
    "adverse_events": ("patient", "key", "term"),
}
"""Columns that must be present in the header and filled in every row."""

_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOOL = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}


@dataclass
class _Row:
    file: str
    line: int
    values: dict[str, str]


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def where(self, row: _Row, column: str | None = None) -> str:
        return f"{row.file} row {row.line}" + (f", column {column}" if column else "")

    def problem(self, row: _Row, column: str, expected: str, value: Any = None) -> None:
        got = row.values.get(column, "") if value is None else value
        self.problems.append(Problem(column, got, expected, self.where(row, column)))

    # -- files ---------------------------------------------------------------------------------
    def read_file(self, path: Path, kind: str) -> list[_Row]:
        name = path.name
        text = read_text_file(path, name)
        check_csv(text, name)
        with io.StringIO(text, newline="") as fh:
            reader = csv.reader(fh)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                self.problems.append(Problem("header", "", "a header row", f"{name} row 1"))
                return []
            ok = True
            for col in header:
                if col not in COLUMNS[kind]:
                    self.problems.append(
                        Problem(
                            col, col, f"one of the columns {', '.join(COLUMNS[kind])}", f"{name} row 1, column {col}"
                        )
                    )
                    ok = False
                elif header.count(col) > 1:
                    self.problems.append(Problem(col, col, "each column once", f"{name} row 1, column {col}"))
                    ok = False
            for col in REQUIRED[kind]:
                if col not in header:
                    self.problems.append(Problem(col, "", "a column of this file (required)", f"{name} row 1"))
                    ok = False
            if not ok:
                return []
            rows: list[_Row] = []
            while True:
                line = reader.line_num + 1
                try:
                    raw = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    self.problems.append(Problem("csv", "", f"well-formed CSV ({exc})", f"{name} row {line}"))
                    break
                if not any(c.strip() for c in raw):
                    continue
                if len(raw) != len(header):
                    self.problems.append(
                        Problem("row", len(raw), f"{len(header)} cells like the header", f"{name} row {line}")
                    )
                    continue
                row = _Row(name, line, {h: c.strip() for h, c in zip(header, raw, strict=True)})
                missing = [c for c in REQUIRED[kind] if not row.values.get(c)]
                for col in missing:
                    self.problem(row, col, "a value (required)")
                if not missing:
                    rows.append(row)
            return rows

    # -- cells ---------------------------------------------------------------------------------
    def text(self, row: _Row, col: str) -> str | None:
        return row.values.get(col) or None

    def number(self, row: _Row, col: str) -> Decimal | None:
        text = row.values.get(col, "")
        if not text:
            return None
        if not _NUMBER.match(text):
            self.problem(row, col, "a number with a decimal point")
            return None
        try:
            return bounded_decimal(text)
        except InvalidInput as err:
            self.problem(row, col, err.expected)
            return None

    def integer(self, row: _Row, col: str) -> int | None:
        text = row.values.get(col, "")
        if not text:
            return None
        if not _INTEGER.match(text) or len(text.lstrip("-")) > 9:
            self.problem(row, col, "a whole number of at most 9 digits")
            return None
        return int(text)

    def date(self, row: _Row, col: str) -> dt.date | None:
        text = row.values.get(col, "")
        if not text:
            return None
        if _DATE.match(text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
        self.problem(row, col, "a date YYYY-MM-DD")
        return None

    def boolean(self, row: _Row, col: str) -> bool | None:
        text = row.values.get(col, "")
        if not text:
            return None
        if text.lower() not in _BOOL:
            self.problem(row, col, "yes or no (also 1/0, true/false)")
            return None
        return _BOOL[text.lower()]

    def build(
        self,
        model: type[BaseModel],
        row: _Row,
        columns: dict[str, str],
        *,
        model_column: Callable[[Problem], str] | None = None,
        **values: Any,
    ) -> Any:
        """Construct a record; errors become problems at the row.

        The column is that of the failing attribute (``columns`` maps attributes to columns); errors of
        the whole record are placed by ``model_column`` (or at the row).
        """
        try:
            return model(**values)
        except ValidationError as exc:
            for err in exc.errors():
                inner = (err.get("ctx") or {}).get("error")
                attr = str(err["loc"][0]) if err.get("loc") else ""
                col = columns.get(attr, attr)
                if isinstance(inner, InvalidInput):
                    for p in inner.problems:
                        at = col or (model_column(p) if model_column else "")
                        self.problems.append(Problem(p.field, p.value, p.expected, self.where(row, at or None)))
                else:
                    msg = str(err.get("msg", "")).removeprefix("Value error, ")
                    self.problems.append(
                        Problem(col or model.__name__, err.get("input"), msg, self.where(row, col or None))
                    )
            return None

    def day_vs_date(
        self, row: _Row, day_col: str, date_col: str, infusion: dt.date | None
    ) -> tuple[int | None, dt.date | None, bool]:
        day, date = self.integer(row, day_col), self.date(row, date_col)
        if day is not None and date is not None and infusion is not None and (date - infusion).days != day:
            self.problem(row, day_col, f"study day {(date - infusion).days} ({date_col} {date} vs infusion {infusion})")
            return day, date, False
        return day, date, True


def _files(path_or_paths: str | Path | Iterable[str | Path]) -> tuple[dict[str, list[Path]], list[Problem]]:
    if isinstance(path_or_paths, str | Path):
        p = Path(path_or_paths)
        paths = sorted(p.glob("*.csv")) if p.is_dir() else [p]
    else:
        paths = [Path(x) for x in path_or_paths]
    out: dict[str, list[Path]] = {}
    problems: list[Problem] = []
    for path in paths:
        stem = path.stem
        kind = next((k for k in COLUMNS if stem == k or stem.endswith("_" + k)), None)
        if kind is None:
            problems.append(
                Problem("file", path.name, "a file named <prefix_>" + "|".join(COLUMNS) + ".csv", str(path))
            )
            continue
        if not path.is_file():
            problems.append(Problem("file", str(path), "an existing file", str(path)))
            continue
        out.setdefault(kind, []).append(path)
    for kind in ("study", "sites", "patients"):
        if kind not in out:
            problems.append(Problem("file", f"{kind}.csv", "a required file of the tidy CSV format (missing)", None))
    return out, problems


def read_tidy_csv(path_or_paths: str | Path | Iterable[str | Path]) -> StudyRecord:
    """Read a study in the tidy CSV format: a directory, or the files themselves.

    Raises :class:`InvalidInput` listing every problem with file, row and column.
    """
    files, file_problems = _files(path_or_paths)
    r = _Reader()
    r.problems.extend(file_problems)
    rows = {kind: [row for path in paths for row in r.read_file(path, kind)] for kind, paths in files.items()}

    study_rows = rows.get("study", [])
    if len(study_rows) != 1 and "study" in files:
        r.problems.append(Problem("study", len(study_rows), "exactly one study row", "study.csv"))
    sites: list[SiteRecord] = []
    seen_sites: dict[str, _Row] = {}
    for row in rows.get("sites", []):
        code_ = row.values["site"]
        if code_ in seen_sites:
            r.problem(row, "site", f"each site once (also at {r.where(seen_sites[code_])})")
            continue
        seen_sites[code_] = row
        site = r.build(
            SiteRecord,
            row,
            {"code": "site", "name": "name", "country": "country"},
            code=code_,
            name=r.text(row, "name") or "",
            country=r.text(row, "country"),
        )
        if site is not None:
            sites.append(site)

    patients: dict[str, dict[str, Any]] = {}
    infusion_dates: dict[str, dt.date | None] = {}
    patient_rows: dict[str, _Row] = {}
    for row in rows.get("patients", []):
        code_ = row.values["patient"]
        if code_ in patient_rows:
            r.problem(row, "patient", f"each patient once (also at {r.where(patient_rows[code_])})")
            continue
        patient_rows[code_] = row
        if "sites" in files and row.values["site"] not in seen_sites:
            r.problem(row, "site", "a site of sites.csv")
        infusion = None
        product = r.text(row, "product")
        dose, date = r.number(row, "dose_cells_per_kg"), r.date(row, "infusion_date")
        flat = r.number(row, "dose_cells_total")
        if product is not None or dose is not None or flat is not None or date is not None:
            infusion = r.build(
                InfusionRecord,
                row,
                {
                    "product": "product",
                    "dose_cells_per_kg": "dose_cells_per_kg",
                    "dose_cells_total": "dose_cells_total",
                    "date": "infusion_date",
                },
                product=product or "",
                target_antigen=r.text(row, "target_antigen") or "CD19",
                dose_cells_per_kg=dose,
                dose_cells_total=flat,
                date=date,
            )
        infusion_dates[code_] = date
        consent_day, consent_date, _ = r.day_vs_date(row, "consent_day", "consent_date", date)
        disposition_day, disposition_date, _ = r.day_vs_date(row, "disposition_day", "disposition_date", date)
        patients[code_] = {
            "row": row,
            "code": code_,
            "site": row.values["site"],
            "disease": row.values["disease"],
            "sex": r.text(row, "sex"),
            "birth_year": r.integer(row, "birth_year"),
            "weight_kg": r.number(row, "weight_kg"),
            "height_cm": r.number(row, "height_cm"),
            "race": r.text(row, "race"),
            "ethnicity": r.text(row, "ethnicity"),
            "age_years": r.integer(row, "age_years"),
            "consent_day": consent_day,
            "consent_date": consent_date,
            "disposition": r.text(row, "disposition"),
            "disposition_day": disposition_day,
            "disposition_date": disposition_date,
            "disposition_reason": r.text(row, "disposition_reason"),
            "infusion": infusion,
            "lymphodepletion": [],
            "visits": {},
            "medications": [],
            "adverse_events": [],
        }

    def owner(row: _Row) -> dict[str, Any] | None:
        p = patients.get(row.values["patient"])
        if p is None and row.values["patient"] not in patient_rows:
            r.problem(row, "patient", "a patient of patients.csv")
        return p

    for row in rows.get("lymphodepletion", []):
        p = owner(row)
        first = r.integer(row, "first_day")
        last = r.integer(row, "last_day")
        item = r.build(
            LymphodepletionRecord,
            row,
            {"agent": "agent", "dose_mg_per_m2": "dose_mg_per_m2", "first_day": "first_day", "last_day": "last_day"},
            agent=row.values["agent"],
            dose_mg_per_m2=r.number(row, "dose_mg_per_m2"),
            first_day=first,
            last_day=last if row.values.get("last_day") else first,
        )
        if p is not None and item is not None:
            if any(ld.agent == item.agent for ld in p["lymphodepletion"]):
                r.problem(row, "agent", "each agent once per patient")
            else:
                p["lymphodepletion"].append(item)

    _observations(r, rows.get("observations", []), owner, infusion_dates)
    _medications(r, rows.get("medications", []), owner, infusion_dates)
    _adverse_events(r, rows.get("adverse_events", []), owner, infusion_dates)

    built: list[PatientRecord] = []
    if not r.problems:
        for p in patients.values():
            visits = [
                r.build(
                    VisitRecord,
                    v["row"],
                    {},
                    **{k: val for k, val in v.items() if k not in ("row", "codes", "refused")},
                )
                for v in p["visits"].values()
            ]
            values = {k: v for k, v in p.items() if k not in ("row", "visits")}
            patient = r.build(PatientRecord, p["row"], {}, visits=[v for v in visits if v is not None], **values)
            if patient is not None:
                built.append(patient)
    if r.problems:
        raise InvalidInput(problems=r.problems)
    study_row = study_rows[0]
    study: StudyRecord | None = r.build(
        StudyRecord,
        study_row,
        {"code": "study", "name": "name"},
        code=study_row.values["study"],
        name=r.text(study_row, "name") or "",
        design=_design(r, study_row, rows.get("planned_visits", []), rows.get("criteria", [])),
        sites=sites,
        patients=built,
    )
    if study is None:
        raise InvalidInput(problems=r.problems)
    return study


_Owner = Callable[[_Row], dict[str, Any] | None]


_VISIT_BOOKKEEPING = frozenset({"row", "codes", "refused"})
"""Keys of a visit being assembled that are the reader's notes, not VisitRecord fields."""


def _observations(r: _Reader, rows: Sequence[_Row], owner: _Owner, infusion: dict[str, dt.date | None]) -> None:
    for row in rows:
        p = owner(row)
        day, date, _ = r.day_vs_date(row, "study_day", "date", infusion.get(row.values["patient"]))
        kind = r.text(row, "kind") or "scheduled"
        if kind not in ("scheduled", "daily", "unscheduled"):
            r.problem(row, "kind", "scheduled, daily or unscheduled (empty: scheduled)")
        visitnum = r.number(row, "visitnum")
        refused = {c for c in ("study_day", "date", "visitnum") if row.values.get(c)} - {
            c for c, v in (("study_day", day), ("date", date), ("visitnum", visitnum)) if v is not None
        }  # cells given but refused (their problem is reported): no knock-on problems from them
        if day is None and date is None and not refused:
            r.problem(row, "study_day", "a study day or a date")
        label = row.values["visit"]
        attrs = {"label": label, "study_day": day, "date": date, "visitnum": visitnum, "kind": kind}
        if p is not None:
            visit = p["visits"].get(label)
            if visit is None:
                visit = p["visits"][label] = {**attrs, "observations": [], "row": row, "codes": {}, "refused": refused}
            else:
                for key in ("study_day", "date", "visitnum", "kind"):
                    if key in refused or key in visit["refused"]:
                        continue
                    if visit[key] != attrs[key]:
                        col = {"label": "visit"}.get(key, key)
                        r.problem(row, col, f"{visit[key]} as at {r.where(visit['row'])} (same visit)")
        code_ = r.text(row, "code")
        if code_ is None:
            for col in ("value", "unit", "method", "source"):
                if row.values.get(col):
                    r.problem(row, col, "empty in a row without a code (a visit without observations)")
            continue
        try:
            entry = vocabulary.code(code_)
        except InvalidInput:
            r.problem(row, "code", "a registry observation code (see docs/registry.md)")
            continue
        value_text = row.values.get("value", "")
        if not value_text:
            r.problem(row, "value", "a value (a row is one observation; leave out what was not measured)")
            continue
        unit = r.text(row, "unit")
        number: Decimal | None = None
        text: str | None = None
        if entry.choices:
            text = value_text
            if unit not in (None, "1"):
                r.problem(row, "unit", "empty for a coded item")
                continue
        else:
            number = r.number(row, "value")
            if number is None:
                continue
            if unit is None and entry.unit != "1":
                r.problem(row, "unit", f"the unit of the value ({code_} is compared in {entry.unit})")
                continue
        obs = r.build(
            ObservationRecord,
            row,
            {"code": "value", "value": "value", "unit": "unit", "value_text": "value", "method": "method"},
            code=code_,
            value=number,
            unit=unit or entry.unit,
            value_text=text,
            method=r.text(row, "method"),
            source=r.text(row, "source"),
            model_column=lambda p: "unit" if p.field.endswith(" unit") else "value",
        )
        if obs is None or p is None:
            continue
        visit = p["visits"][label]
        if code_ in visit["codes"]:
            r.problem(row, "code", f"each code once per visit (also at {r.where(visit['codes'][code_])})")
            continue
        visit["codes"][code_] = row
        visit["observations"].append(obs)


_DESIGN_COLUMNS = COLUMNS["study"][2:]


def _design(
    r: _Reader, study_row: _Row, visit_rows: Sequence[_Row], criterion_rows: Sequence[_Row]
) -> StudyDesignRecord | None:
    """The protocol metadata of study.csv, planned_visits.csv and criteria.csv; None when none is given."""
    given = {c: r.text(study_row, c) for c in _DESIGN_COLUMNS}
    if not any(given.values()) and not visit_rows and not criterion_rows:
        return None
    visits = [
        r.build(
            PlannedVisitRecord,
            row,
            {c: c for c in COLUMNS["planned_visits"]},
            label=row.values["label"],
            day=r.integer(row, "day"),
            visitnum=r.number(row, "visitnum"),
            window_before=r.integer(row, "window_before") or 0,
            window_after=r.integer(row, "window_after") or 0,
        )
        for row in visit_rows
    ]
    criteria = [
        r.build(
            EligibilityCriterionRecord,
            row,
            {c: c for c in COLUMNS["criteria"]},
            code=row.values["code"],
            text=row.values["text"],
            category=row.values["category"],
        )
        for row in criterion_rows
    ]
    for column in ("title", "phase", "sponsor", "indication"):
        if given[column] is None:
            r.problem(study_row, column, "the protocol's " + column + " (study.csv) when the study has a design")
    if r.problems:
        return None
    values: dict[str, Any] = dict(given)
    values.update({c: r.integer(study_row, c) for c in ("planned_subjects", "age_min_years", "age_max_years")})
    values.update({c: r.date(study_row, c) for c in ("start_date", "end_date")})
    design: StudyDesignRecord | None = r.build(
        StudyDesignRecord,
        study_row,
        {c: c for c in _DESIGN_COLUMNS},
        **values,
        visits=[v for v in visits if v is not None],
        criteria=[c for c in criteria if c is not None],
    )
    return design


def _medications(r: _Reader, rows: Sequence[_Row], owner: _Owner, infusion: dict[str, dt.date | None]) -> None:
    for row in rows:
        p = owner(row)
        inf = infusion.get(row.values["patient"])
        start_day, start_date, ok1 = r.day_vs_date(row, "start_day", "start_date", inf)
        stop_day, stop_date, ok2 = r.day_vs_date(row, "stop_day", "stop_date", inf)
        columns = {c: c for c in COLUMNS["medications"]}
        med = r.build(
            MedicationRecord,
            row,
            columns,
            key=row.values["key"],
            drug=row.values["drug"],
            dose=r.number(row, "dose"),
            unit=r.text(row, "unit"),
            route=r.text(row, "route"),
            frequency=r.text(row, "frequency"),
            start_day=start_day,
            stop_day=stop_day,
            start_date=start_date,
            stop_date=stop_date,
            indication=r.text(row, "indication"),
        )
        if med is not None and p is not None and ok1 and ok2:
            _append_dated(r, row, p["medications"], med, "start", "stop")


def _before(later: Any, earlier: Any) -> bool:
    return later is not None and earlier is not None and bool(later < earlier)


def _append_dated(r: _Reader, row: _Row, bucket: list[Any], record: Any, start: str, stop: str) -> None:
    """Append a keyed record with ``<start>_day/_date`` and ``<stop>_day/_date`` to the patient's ``bucket``,
    unless it ends before it starts or its key is already there (each a problem on ``row``)."""
    start_date, stop_date = getattr(record, f"{start}_date"), getattr(record, f"{stop}_date")
    if _before(stop_date, start_date) or _before(getattr(record, f"{stop}_day"), getattr(record, f"{start}_day")):
        r.problem(row, f"{stop}_date" if stop_date else f"{stop}_day", f"on or after the {start}")
        return
    if any(existing.key == record.key for existing in bucket):
        r.problem(row, "key", "each key once per patient")
        return
    bucket.append(record)


def _adverse_events(r: _Reader, rows: Sequence[_Row], owner: _Owner, infusion: dict[str, dt.date | None]) -> None:
    for row in rows:
        p = owner(row)
        inf = infusion.get(row.values["patient"])
        onset_day, onset_date, ok1 = r.day_vs_date(row, "onset_day", "onset_date", inf)
        res_day, res_date, ok2 = r.day_vs_date(row, "resolution_day", "resolution_date", inf)
        grading = r.text(row, "grading")
        if grading is None and row.values.get("grade"):
            r.problem(row, "grading", "CTCAE v5.0 or ASTCT for a graded event")
        ae = r.build(
            AdverseEventRecord,
            row,
            {c: c for c in COLUMNS["adverse_events"]},
            key=row.values["key"],
            term=row.values["term"],
            grade=r.integer(row, "grade"),
            grading=grading or "CTCAE v5.0",
            onset_day=onset_day,
            resolution_day=res_day,
            onset_date=onset_date,
            resolution_date=res_date,
            serious=r.boolean(row, "serious"),
            serious_criteria=[c.strip() for c in (r.text(row, "serious_criteria") or "").split(";") if c.strip()],
            relationship=r.text(row, "relationship"),
            action_taken=r.text(row, "action_taken"),
        )
        if ae is not None and p is not None and ok1 and ok2:
            _append_dated(r, row, p["adverse_events"], ae, "onset", "resolution")


# --------------------------------------------------------------------------------------------------
# Writing


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_tidy_csv(study: StudyRecord, directory: str | Path) -> list[Path]:
    """Write ``study`` in the tidy CSV format into ``directory`` (created); returns the files written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict[str, Any]]] = {k: [] for k in COLUMNS}
    design = study.design
    tables["study"].append(
        {
            "study": study.code,
            "name": study.name,
            **(design.model_dump(exclude={"visits", "criteria"}) if design is not None else {}),
        }
    )
    if design is not None:
        tables["planned_visits"] = [v.model_dump() for v in design.visits]
        tables["criteria"] = [c.model_dump() for c in design.criteria]
    tables["sites"] = [{"site": s.code, "name": s.name, "country": s.country} for s in study.sites]
    for p in study.patients:
        inf = p.infusion
        tables["patients"].append(
            {
                "patient": p.code,
                "site": p.site,
                "disease": p.disease,
                "sex": p.sex,
                "birth_year": p.birth_year,
                "weight_kg": p.weight_kg,
                "height_cm": p.height_cm,
                "product": inf.product if inf else None,
                "target_antigen": inf.target_antigen if inf else None,
                "dose_cells_per_kg": inf.dose_cells_per_kg if inf else None,
                "dose_cells_total": inf.dose_cells_total if inf else None,
                "infusion_date": inf.date if inf else None,
                **{c: getattr(p, c) for c in COLUMNS["patients"][12:]},
            }
        )
        for ld in p.lymphodepletion:
            tables["lymphodepletion"].append({"patient": p.code, **ld.model_dump()})
        for v in p.visits:
            base = {
                "patient": p.code,
                "visit": v.label,
                "kind": v.kind,
                "visitnum": v.visitnum,
                "study_day": v.study_day,
                "date": v.date,
            }
            if not v.observations:
                tables["observations"].append(base)
            for o in v.observations:
                tables["observations"].append(
                    {
                        **base,
                        "code": o.code,
                        "value": o.value_text if o.value_text is not None else o.value,
                        "unit": None if o.value_text is not None else o.unit,
                        "method": o.method,
                        "source": o.source,
                    }
                )
        for m in p.medications:
            tables["medications"].append({"patient": p.code, **m.model_dump()})
        for a in p.adverse_events:
            tables["adverse_events"].append(
                {"patient": p.code, **a.model_dump(), "serious_criteria": "; ".join(a.serious_criteria) or None}
            )
    written: list[Path] = []
    for kind, columns in COLUMNS.items():
        path = out / f"{kind}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            for row in tables[kind]:
                writer.writerow([_cell(row.get(c)) for c in columns])
        written.append(path)
    return written
