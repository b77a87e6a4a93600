"""A registry study written as the REDCap "CSV raw" record export of the immunoreset template.

The inverse of :func:`immunoreset.registry.redcap.read_redcap_export` for a
:class:`~immunoreset.registry.redcap_template.RedcapTemplate`: one row per record and event (the
non-repeating forms of that event), one row per repeating instance (kinetics samples, daily CRS/ICANS
assessments, medications, adverse events), checkbox fields as ``field___code`` columns and a
``<form>_complete`` status after each form (``2`` = complete where the row has data of that form) — the
layout REDCap itself exports. Importing the written file with the template's mapping gives back the same
patients, visits, observations (values exact; converted exactly where a site reports another unit),
medications and adverse events.

Calendar dates: a study kept in study days only (a virtual trial) is given nominal infusion dates —
the first patient on ``first_infusion`` and each next one ``enrolment_interval_days`` later — so that
every date in the export is the infusion date plus the record's study day. Every value is placed or the
writer refuses the study (:class:`~immunoreset.errors.InvalidInput` naming what has no field): nothing
is dropped silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from immunoreset.errors import InvalidInput, Problem, writing
from immunoreset.registry import vocabulary
from immunoreset.registry.records import (
    AdverseEventRecord,
    MedicationRecord,
    ObservationRecord,
    PatientRecord,
    StudyRecord,
    VisitRecord,
)
from immunoreset.registry.redcap import BOOKKEEPING, DAG_COLUMN
from immunoreset.registry.redcap_template import RedcapTemplate, TemplateField
from immunoreset.units import convert

__all__ = ["RedcapExport", "redcap_export", "write_redcap_export"]

FIRST_INFUSION = dt.date(2024, 1, 8)
"""Nominal infusion date of the first patient of a study kept in study days (a Monday; arbitrary)."""
ENROLMENT_INTERVAL_DAYS = 11
"""Days between the nominal infusion dates of consecutive patients (arbitrary)."""


@dataclass(frozen=True)
class RedcapExport:
    """The export as a header and rows of cells (all text), in REDCap's order."""

    header: list[str]
    rows: list[list[str]]

    def csv_text(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([self.header, *self.rows])
        return out.getvalue()

    def write(self, path: Path) -> Path:
        with writing(path, "REDCap export"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.csv_text(), encoding="utf-8", newline="")
        return path


def write_redcap_export(
    study: StudyRecord,
    template: RedcapTemplate,
    path: Path,
    *,
    site_units: Mapping[str, Mapping[str, str]] | None = None,
    first_infusion: dt.date = FIRST_INFUSION,
    enrolment_interval_days: int = ENROLMENT_INTERVAL_DAYS,
) -> Path:
    """Write ``study`` as ``path`` (see :func:`redcap_export`)."""
    export = redcap_export(
        study,
        template,
        site_units=site_units,
        first_infusion=first_infusion,
        enrolment_interval_days=enrolment_interval_days,
    )
    return export.write(path)


def redcap_export(
    study: StudyRecord,
    template: RedcapTemplate,
    *,
    site_units: Mapping[str, Mapping[str, str]] | None = None,
    first_infusion: dt.date = FIRST_INFUSION,
    enrolment_interval_days: int = ENROLMENT_INTERVAL_DAYS,
) -> RedcapExport:
    """The study as REDCap export rows of ``template``.

    ``site_units`` (registry site code -> {unit field -> UCUM unit}) makes a site report in its own units,
    e.g. ``{"2": {"crp_unit": "mg/dL"}}``; values are converted exactly. Patients are placed at the site of
    the same registry code, which must be one of the template's sites.
    """
    writer = _Writer(template, site_units or {})
    problems: list[Problem] = []
    template_sites = {code for code, _name in template.sites}
    for k, patient in enumerate(study.patients):
        if patient.site not in template_sites:
            problems.append(Problem(f"patient {patient.code} site", patient.site, "a site of the template"))
            continue
        infusion = patient.infusion.date if patient.infusion and patient.infusion.date else None
        if infusion is None:
            infusion = first_infusion + dt.timedelta(days=k * enrolment_interval_days)
        writer.patient(patient, infusion)
    problems += writer.problems
    if problems:
        raise InvalidInput(problems=problems)
    return RedcapExport(writer.header, writer.rows)


class _Writer:
    def __init__(self, template: RedcapTemplate, site_units: Mapping[str, Mapping[str, str]]) -> None:
        self.t = template
        self.m = template.mapping
        self.site_units = site_units
        self.problems: list[Problem] = []
        self.dag_of = {site.code: site.dag for site in self.m.sites if site.dag is not None}
        self.header: list[str] = [self.m.record_id_field, *BOOKKEEPING, *([DAG_COLUMN] if self.dag_of else [])]
        self.data_from = len(self.header)
        """Index of the first data column (after the record id, bookkeeping and group columns)."""
        self.dag = ""
        self.columns: dict[str, list[str]] = {}
        """Field -> its columns (checkbox: one per choice)."""
        for form, _label in template.forms:
            for f in template.fields:
                if f.form != form or f.name == self.m.record_id_field:
                    continue
                cols = [f"{f.name}___{c}" for c, _l in f.choices] if f.type == "checkbox" else [f.name]
                self.columns[f.name] = cols
                self.header += cols
            self.header.append(f"{form}_complete")
        self.index = {c: i for i, c in enumerate(self.header)}
        self.rows: list[list[str]] = []
        repeating = template.repeating_forms()
        self.by_code: dict[str, dict[str, TemplateField]] = {}
        """Observation code -> {form: field}."""
        for f in template.fields:
            if f.code is not None and f.name in self.m.observations:
                self.by_code.setdefault(f.code, {})[f.form] = f
        self.sample_form = next(iter(self.m.samples))
        self.daily_form = next(iter(self.m.daily))
        self.sample_codes = {f.code for f in template.fields if f.form == self.sample_form and f.code}
        self.event_forms: dict[str, list[str]] = {}
        for event, form in template.form_events:
            if form not in repeating:
                self.event_forms.setdefault(event, []).append(form)

    # -- cells ----------------------------------------------------------------------------------
    def new_row(self, record: str, event: str, instrument: str = "", instance: int | None = None) -> list[str]:
        row = [""] * len(self.header)
        row[0], row[1], row[2] = record, event, instrument
        row[3] = "" if instance is None else str(instance)
        if self.dag_of:
            row[4] = self.dag
        if instrument:
            for f in self.t.fields:
                if f.form == instrument and f.type == "checkbox":
                    for col in self.columns[f.name]:
                        row[self.index[col]] = "0"
        return row

    def put(self, row: list[str], name: str, value: str) -> None:
        row[self.index[name]] = value

    def finish(self, row: list[str], forms: Sequence[str]) -> None:
        """Mark each form with data on the row complete, then keep the row if it has any data."""
        for form in forms:
            fields = [f for f in self.t.fields if f.form == form and f.name != self.m.record_id_field]
            filled = any(
                row[self.index[c]] not in ("", "0") or (f.type != "checkbox" and row[self.index[c]] == "0")
                for f in fields
                for c in self.columns[f.name]
            )
            if filled:
                self.put(row, f"{form}_complete", "2")
        if any(cell for cell in row[self.data_from :]):
            self.rows.append(row)

    @staticmethod
    def number(value: Decimal) -> str:
        return format(value, "f")

    def put_value(self, row: list[str], name: str, value: object, what: str) -> None:
        """A record attribute into its field: a choice code for a coded field, else the value's text."""
        f = self.t.template_field(name)
        if f.value_choices:
            code_ = self.choice_code(f, str(value), what)
            if code_ is not None:
                self.put(row, f.name, code_)
        else:
            self.put(row, f.name, self.number(value) if isinstance(value, Decimal) else str(value))

    def choice_code(self, f: TemplateField, value: str, what: str) -> str | None:
        for code_, mapped in f.value_choices:
            if mapped == value:
                return code_
        self.problems.append(Problem(what, value, f"a value of {f.name}: " + ", ".join(v for _c, v in f.value_choices)))
        return None

    # -- a patient --------------------------------------------------------------------------------
    def patient(self, p: PatientRecord, infusion: dt.date) -> None:
        """The patient's rows in REDCap's order: per event, the event's row, then its repeating instances."""
        t = self.t
        first, infusion_event = t.first_event.unique_name, t.infusion_event.unique_name
        self.dag = self.dag_of.get(p.site, "")
        by_label = {v.label: v for v in p.visits if v.kind != "daily"}
        units = self.site_units.get(p.site, {})
        unscheduled: dict[str, list[VisitRecord]] = {}
        for other in p.visits:
            if other.kind == "daily" or other.label in {e.label for e in t.events}:
                continue
            if (
                other.kind != "unscheduled"
                or other.visitnum is not None
                or other.study_day is None
                or any(o.code not in self.sample_codes for o in other.observations)
            ):
                self.problems.append(
                    Problem(
                        f"patient {p.code} visit {other.label}",
                        other.label,
                        "a visit of the template's schedule, or an unscheduled visit with only kinetics samples "
                        "(no visit number)",
                    )
                )
                continue
            day = other.study_day
            event = max((e for e in t.events if e.day <= day), key=lambda e: e.day, default=t.first_event)
            at_event = by_label.get(event.label)
            if at_event is not None and at_event.study_day == day:  # it would join that visit on import
                self.problems.append(
                    Problem(f"patient {p.code} visit {other.label}", day, f"a day other than visit {event.label}'s")
                )
                continue
            unscheduled.setdefault(event.unique_name, []).append(other)
        for event in t.events:
            visit = by_label.get(event.label)
            row = self.new_row(p.code, event.unique_name)
            if event.unique_name == first:
                self.enrolment(row, p)
                self.consent(row, p, infusion)
            if event.unique_name == infusion_event:
                self.infusion(row, p, infusion)
            if event.unique_name == t.events[-1].unique_name:
                self.end_of_study(row, p, infusion)
            samples: list[ObservationRecord] = []
            if visit is not None:
                day = visit.study_day if visit.study_day is not None else event.day
                self.put(row, "visit_date", (visit.date or infusion + dt.timedelta(days=day)).isoformat())
                samples = [o for o in visit.observations if o.code in self.sample_codes]
                others = [o for o in visit.observations if o.code not in self.sample_codes]
                self.observations(row, others, self.event_forms.get(event.unique_name, []), p, visit, units)
            self.finish(row, self.event_forms.get(event.unique_name, []))
            instance = 0
            if samples and visit is not None:
                instance += 1
                self.sample(p, event.unique_name, instance, visit, samples, units, dated=False)
            for extra in unscheduled.get(event.unique_name, []):
                instance += 1
                self.sample(p, event.unique_name, instance, extra, extra.observations, units, dated=True)
            if event.unique_name == infusion_event:
                daily = sorted((v for v in p.visits if v.kind == "daily"), key=lambda v: v.study_day or 0)
                for k, day_visit in enumerate(daily, start=1):
                    row = self.new_row(p.code, infusion_event, self.daily_form, k)
                    self.put(row, self.m.daily[self.daily_form].day_field, str(day_visit.study_day))
                    self.observations(row, day_visit.observations, [self.daily_form], p, day_visit, units)
                    self.finish(row, [self.daily_form])
            if event.unique_name == first:
                for k, med in enumerate(p.medications, start=1):
                    self.medication(p, first, k, med, infusion)
                for k, ae in enumerate(p.adverse_events, start=1):
                    self.adverse_event(p, first, k, ae, infusion)

    def enrolment(self, row: list[str], p: PatientRecord) -> None:
        pm = self.m.patient
        for attr in (
            "site",
            "disease",
            "sex",
            "birth_year",
            "weight_kg",
            "height_cm",
            "race",
            "ethnicity",
            "age_years",
        ):
            ref = getattr(pm, attr)
            value = getattr(p, attr)
            if ref is not None and value is not None:
                self.put_value(row, ref.field, value, f"patient {p.code} {attr}")

    def consent(self, row: list[str], p: PatientRecord, infusion: dt.date) -> None:
        ref = self.m.patient.consent_date
        if ref is not None and (p.consent_day is not None or p.consent_date is not None):
            self.put(row, ref.field, self._date(p.consent_day, p.consent_date, infusion))

    def end_of_study(self, row: list[str], p: PatientRecord, infusion: dt.date) -> None:
        pm = self.m.patient
        if p.disposition is None:
            return
        if pm.disposition is not None:
            self.put_value(row, pm.disposition.field, p.disposition, f"patient {p.code} disposition")
        if pm.disposition_date is not None and (p.disposition_day is not None or p.disposition_date is not None):
            self.put(row, pm.disposition_date.field, self._date(p.disposition_day, p.disposition_date, infusion))
        if pm.disposition_reason is not None and p.disposition_reason:
            self.put(row, pm.disposition_reason.field, p.disposition_reason)

    def infusion(self, row: list[str], p: PatientRecord, infusion: dt.date) -> None:
        im = self.m.infusion
        if im is None or p.infusion is None:
            return
        i = p.infusion
        for attr, value in (
            ("product", i.product),
            ("target_antigen", i.target_antigen),
            ("dose_cells_per_kg", i.dose_cells_per_kg),
            ("dose_cells_total", i.dose_cells_total),
        ):
            ref = getattr(im, attr)
            if value is not None and ref is not None and not isinstance(ref, str):
                self.put_value(row, ref.field, value, f"patient {p.code} infusion {attr}")
        if im.date is not None:
            self.put(row, im.date.field, infusion.isoformat())
        agents = {ld.agent: ld for ld in self.m.lymphodepletion}
        for ld in p.lymphodepletion:
            target = agents.get(ld.agent)
            if target is None:
                self.problems.append(Problem(f"patient {p.code} lymphodepletion", ld.agent, ", ".join(agents)))
                continue
            if ld.dose_mg_per_m2 is not None and target.dose_mg_per_m2 is not None:
                self.put(row, target.dose_mg_per_m2.field, self.number(ld.dose_mg_per_m2))
            self.put(row, target.first_day.field, str(ld.first_day))
            if target.last_day is not None:
                self.put(row, target.last_day.field, str(ld.last_day))

    def observations(
        self,
        row: list[str],
        observations: Sequence[ObservationRecord],
        forms: Sequence[str],
        p: PatientRecord,
        visit: VisitRecord,
        units: Mapping[str, str],
    ) -> None:
        unit_of_field: dict[str, str] = {}
        for o in observations:
            where = f"patient {p.code} visit {visit.label} {o.code}"
            homes = self.by_code.get(o.code, {})
            f = next((homes[form] for form in forms if form in homes), None)
            if f is None:
                self.problems.append(Problem(where, o.code, f"a field of the forms {', '.join(forms)}"))
                continue
            entry = vocabulary.code(o.code)
            if entry.choices:
                code_ = self.choice_code(f, o.value_text or "", where)
                if code_ is not None:
                    self.put(row, f.name, code_)
                continue
            assert o.value is not None
            value, unit = o.value, o.unit
            if f.unit_field is not None:
                unit_field = self.t.template_field(f.unit_field)
                choices = dict((u, c) for c, u in unit_field.value_choices)
                target = (
                    unit_of_field.get(f.unit_field)
                    or units.get(f.unit_field)
                    or (unit if unit in choices else unit_field.value_choices[0][1])
                )
                unit_of_field[f.unit_field] = target
                if target not in choices:
                    self.problems.append(Problem(f"{where} unit", target, ", ".join(choices)))
                    continue
                self.put(row, f.unit_field, choices[target])
            else:
                target = f.unit or entry.unit
            if unit != target:
                value = convert(value, unit, target, field=o.code)
            self.put(row, f.name, self.number(value))

    def sample(
        self,
        p: PatientRecord,
        event: str,
        instance: int,
        visit: VisitRecord,
        observations: Sequence[ObservationRecord],
        units: Mapping[str, str],
        *,
        dated: bool,
    ) -> None:
        """One sample instance; ``dated``: an unscheduled sample, whose own date is written."""
        row = self.new_row(p.code, event, self.sample_form, instance)
        sample_map = self.m.samples[self.sample_form]
        self.put(row, sample_map.day_field, str(visit.study_day))
        if dated and visit.date is not None and sample_map.date_field is not None:
            self.put(row, sample_map.date_field, visit.date.isoformat())
        self.observations(row, observations, [self.sample_form], p, visit, units)
        self.finish(row, [self.sample_form])

    def _date(self, day: int | None, date: dt.date | None, infusion: dt.date) -> str:
        if date is not None:
            return date.isoformat()
        return "" if day is None else (infusion + dt.timedelta(days=day)).isoformat()

    def medication(self, p: PatientRecord, event: str, k: int, med: MedicationRecord, infusion: dt.date) -> None:
        assert self.m.medications is not None
        mm = self.m.medications
        row = self.new_row(p.code, event, mm.instrument, k)
        where = f"patient {p.code} medication {med.key}"
        self.put(row, mm.drug.field, med.drug)
        for attr in ("dose", "unit", "route", "frequency"):
            ref = getattr(mm, attr)
            value = getattr(med, attr)
            if ref is not None and value is not None:
                self.put_value(row, ref.field, value, f"{where} {attr}")
        if mm.start_date is not None:
            self.put(row, mm.start_date.field, self._date(med.start_day, med.start_date, infusion))
        if mm.stop_date is not None:
            self.put(row, mm.stop_date.field, self._date(med.stop_day, med.stop_date, infusion))
        if med.indication and mm.indication is not None:
            f = self.t.template_field(mm.indication.field)
            for text in med.indication.split("; "):
                code_ = self.choice_code(f, text, f"{where} indication")
                if code_ is not None:
                    self.put(row, f"{f.name}___{code_}", "1")
        self.finish(row, [mm.instrument])

    def adverse_event(self, p: PatientRecord, event: str, k: int, ae: AdverseEventRecord, infusion: dt.date) -> None:
        assert self.m.adverse_events is not None
        am = self.m.adverse_events
        row = self.new_row(p.code, event, am.instrument, k)
        self.put(row, am.term.field, ae.term)
        if am.grade is not None and ae.grade is not None:
            self.put(row, am.grade.field, str(ae.grade))
        if am.onset_date is not None:
            self.put(row, am.onset_date.field, self._date(ae.onset_day, ae.onset_date, infusion))
        if am.resolution_date is not None:
            self.put(row, am.resolution_date.field, self._date(ae.resolution_day, ae.resolution_date, infusion))
        if am.serious is not None and ae.serious is not None:
            self.put(row, am.serious.field, "1" if ae.serious else "0")
        if am.serious_criteria is not None:
            f = self.t.template_field(am.serious_criteria.field)
            for criterion in ae.serious_criteria:
                code_ = self.choice_code(f, criterion, f"patient {p.code} adverse event {ae.key} serious_criteria")
                if code_ is not None:
                    self.put(row, f"{f.name}___{code_}", "1")
        for attr in ("relationship", "action_taken"):
            ref, value = getattr(am, attr), getattr(ae, attr)
            if ref is not None and value is not None:
                self.put_value(row, ref.field, value, f"patient {p.code} adverse event {ae.key} {attr}")
        self.finish(row, [am.instrument])
