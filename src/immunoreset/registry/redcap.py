"""REDCap import: a project's record export, its data dictionary and a declarative mapping -> StudyRecord.

The importer reads the flat REDCap "CSV raw" record export (``record_id``, ``redcap_event_name``,
``redcap_repeat_instrument``, ``redcap_repeat_instance``, one column per field, checkbox fields
expanded to ``field___code``, ``<form>_complete`` status columns) together with the project's data
dictionary (the standard 18-column layout, as downloaded or as exported by the API) and a YAML
mapping (:class:`RedcapMapping`, reference in ``docs/registry.md``) that says which REDCap field
becomes which registry value. It produces a :class:`~immunoreset.registry.records.StudyRecord`;
writing it to the database is the store's job.

Rules
-----
* Every non-empty cell either lands in the StudyRecord or is named in the mapping's ``ignore`` list;
  the mapping must account for every dictionary field. A blank cell means "not measured" (no
  observation). Data are imported by content: the ``<form>_complete`` status columns are not read.
* Coded answers are translated by the mapping's ``choices`` into the vocabulary's canonical texts;
  the mapping must cover every choice of the dictionary (no silent default).
* Every problem in the files is collected and raised together as one
  :class:`~immunoreset.errors.InvalidInput` whose problems carry ``export.csv row R, column C`` (R is the
  line number in the file) and what was expected.
* Natural keys are stable across re-exports: visits are keyed by the event's label, daily CRS/ICANS
  assessments by study day (``daily_d3``), medications and adverse events by
  ``"<instrument>:<unique event name>:<repeat instance>"`` (REDCap never renumbers an instance).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from immunoreset.errors import InvalidInput, Problem
from immunoreset.inputs import bounded_decimal, check_csv, check_numbers_in, read_text_file
from immunoreset.registry import vocabulary
from immunoreset.registry.records import (
    ACTIONS_TAKEN,
    DISPOSITIONS,
    ETHNICITIES,
    RACES,
    RELATIONSHIPS,
    SERIOUSNESS_CRITERIA,
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
from immunoreset.units import canonical_unit, same_dimension

__all__ = [
    "DictionaryField",
    "RedcapImport",
    "RedcapMapping",
    "import_redcap_export",
    "load_mapping",
    "read_dictionary",
    "read_redcap_api",
    "read_redcap_export",
    "read_redcap_project",
    "sample_mapping_path",
    "sample_project_path",
]

BOOKKEEPING = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")
DAG_COLUMN = "redcap_data_access_group"
"""Present in the exports of projects with Data Access Groups: the record's group (unique group name)."""
CHOICE_TYPES = ("radio", "dropdown", "checkbox", "yesno", "truefalse")
YESNO_CHOICES = {"1": "Yes", "0": "No"}
TRUEFALSE_CHOICES = {"1": "True", "0": "False"}
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_INTEGER = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def sample_project_path() -> Path:
    """The folder of the sample REDCap project shipped with immunoreset (``examples/redcap/``): a virtual
    trial written as REDCap's raw export of the immunoreset template (its README says how it was made)."""
    return Path(__file__).resolve().parents[1] / "data" / "examples" / "redcap"


def sample_mapping_path() -> Path:
    """The mapping of the sample project (``examples/redcap/mapping.yaml``)."""
    return sample_project_path() / "mapping.yaml"


# --------------------------------------------------------------------------------------------------
# Data dictionary


@dataclass(frozen=True)
class DictionaryField:
    """One field of a REDCap data dictionary."""

    name: str
    form: str
    type: str
    label: str = ""
    choices: dict[str, str] = field(default_factory=dict)
    """Choice code -> label, in dictionary order (yes/no fields get ``1 Yes``/``0 No``)."""
    validation: str = ""
    """Text validation type: ``number``, ``integer``, ``date_ymd`` ..., empty for free text."""

    @property
    def numeric(self) -> bool:
        """Whether the field's raw value is a number (numeric text, or a choice list with numeric codes)."""
        if self.type == "text":
            return self.validation.startswith(("number", "integer"))
        if self.type in ("radio", "dropdown", "yesno", "truefalse", "slider", "calc"):
            return self.type in ("slider", "calc") or all(_NUMBER.match(c) for c in self.choices)
        return False

    @property
    def is_date(self) -> bool:
        return self.type == "text" and self.validation.startswith("date_")


DICTIONARY_HEADER: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
"""The 18 columns of a REDCap data dictionary as the Online Designer downloads it."""
API_DICTIONARY_HEADER: tuple[str, ...] = (
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
)
"""The same columns as the API's metadata export names them."""
DICTIONARY_HEADERS: tuple[tuple[str, str], ...] = tuple(
    (download.lower(), api) for download, api in zip(DICTIONARY_HEADER, API_DICTIONARY_HEADER, strict=True)
)
"""(download spelling in lower case, API spelling) of each column, as a reader compares them."""
_READ_COLUMNS = 8
"""The importer reads the first eight columns (name, form, section, type, label, choices, note, validation)."""


def parse_choices(text: str) -> dict[str, str]:
    """``"1, Yes | 0, No"`` -> ``{"1": "Yes", "0": "No"}`` (split on the first comma only)."""
    choices: dict[str, str] = {}
    for part in text.split("|"):
        if not part.strip():
            continue
        code_, _, label = part.partition(",")
        choices[code_.strip()] = label.strip()
    return choices


def read_dictionary(source: str | Path, *, name: str = "data_dictionary.csv") -> dict[str, DictionaryField]:
    """Read a REDCap data dictionary (a path, or the CSV text as returned by the API).

    Both header spellings are accepted: the download (``Variable / Field Name``, ...) and the API
    metadata export (``field_name``, ...); columns are taken by position (standard 18-column layout).
    """
    text = _text(source)
    if isinstance(source, Path):
        name = source.name
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("data dictionary", "", "a REDCap data dictionary with a header row", location=name) from None
    for i, (download, api) in enumerate(DICTIONARY_HEADERS[:_READ_COLUMNS]):
        got = header[i].strip().lower() if i < len(header) else ""
        if got not in (download, api):
            raise InvalidInput(
                f"column {i + 1}", got, f"'{download}' or '{api}' (REDCap data dictionary)", location=f"{name} row 1"
            )
    fields: dict[str, DictionaryField] = {}
    problems: list[Problem] = []
    for row in reader:
        if not row or not row[0].strip():
            continue
        row = row + [""] * (18 - len(row))
        fname, form, _section, ftype, label, choices_text, _note, validation = (c.strip() for c in row[:8])
        if fname in fields:
            problems.append(Problem(fname, fname, "each field once", f"{name} row {reader.line_num}"))
            continue
        if ftype == "yesno":
            choices = dict(YESNO_CHOICES)
        elif ftype == "truefalse":
            choices = dict(TRUEFALSE_CHOICES)
        elif ftype in ("radio", "dropdown", "checkbox"):
            choices = parse_choices(choices_text)
        else:
            choices = {}
        fields[fname] = DictionaryField(fname, form, ftype, label, choices, validation)
    if problems:
        raise InvalidInput(problems=problems)
    return fields


def _text(source: str | Path) -> str:
    """The CSV text of a file (UTF-8, well formed) or of a string returned by the REDCap API."""
    text = read_text_file(source, source.name) if isinstance(source, Path) else source
    check_csv(text, source.name if isinstance(source, Path) else "REDCap API text")
    return text


# --------------------------------------------------------------------------------------------------
# Mapping (the YAML file)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldRef(_Model):
    """A REDCap field, optionally with a translation of its choice codes."""

    field: str = Field(description="REDCap field name (for a checkbox: the field name without ___code).")
    choices: dict[str, str] | None = Field(
        default=None, description="REDCap choice code -> registry value; must cover every choice of the field."
    )


class StudyMap(_Model):
    code: str = Field(min_length=1, max_length=40)
    name: str = ""
    design: StudyDesignRecord | None = Field(
        default=None, description="Protocol metadata: title, phase, sponsor, indication, visit schedule, criteria."
    )


class SiteMap(_Model):
    code: str = Field(min_length=1, max_length=40, description="Registry site code.")
    name: str = ""
    dag: str | None = Field(
        default=None,
        description="The site's REDCap Data Access Group (unique group name): an export's "
        "redcap_data_access_group must then agree with the record's site.",
    )
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-3 country code, e.g. DEU.")


class PatientMap(_Model):
    code: str = Field(default="{record_id}", description="Patient code template; {record_id} is the REDCap record.")
    site: FieldRef
    disease: FieldRef
    sex: FieldRef | None = None
    birth_year: FieldRef | None = None
    weight_kg: FieldRef | None = None
    height_cm: FieldRef | None = None
    race: FieldRef | None = None
    ethnicity: FieldRef | None = None
    age_years: FieldRef | None = None
    consent_date: FieldRef | None = None
    disposition: FieldRef | None = None
    disposition_date: FieldRef | None = None
    disposition_reason: FieldRef | None = None


_PATIENT_FIELD_KINDS = {
    "sex": "choice",
    "birth_year": "number",
    "weight_kg": "number",
    "height_cm": "number",
    "race": "choice",
    "ethnicity": "choice",
    "age_years": "number",
    "consent_date": "date",
    "disposition": "choice",
    "disposition_date": "date",
    "disposition_reason": "text",
}
"""Optional patient attributes of the mapping and the kind of REDCap field each needs."""


class InfusionMap(_Model):
    product: FieldRef | str
    target_antigen: FieldRef | str = Field(default="CD19", description="Constant text, or a coded field.")
    dose_cells_per_kg: FieldRef | None = None
    dose_cells_total: FieldRef | None = Field(default=None, description="Flat dose: CAR+ cells in total.")
    date: FieldRef | None = None


class LymphodepletionMap(_Model):
    agent: str = Field(min_length=1)
    dose_mg_per_m2: FieldRef | None = None
    first_day: FieldRef
    last_day: FieldRef | None = Field(default=None, description="Omitted: a single day (= first_day).")


class EventMap(_Model):
    label: str | None = Field(default=None, description="Visit label (default: unique event name without _arm_N).")
    visitnum: Decimal | None = Field(default=None, description="VISITNUM (default: position in the event list).")
    day_offset: int | None = None


class VisitsMap(_Model):
    date_field: str = Field(description="The field holding the visit date.")
    events: dict[str, EventMap] = Field(default_factory=dict, description="Unique event name -> visit.")


class ObservationMap(_Model):
    code: str = Field(description="Registry observation code (vocabulary).")
    unit: str | None = Field(default=None, description="Fixed UCUM unit of the field.")
    unit_field: str | None = Field(default=None, description="Companion coded field holding the unit.")
    unit_choices: dict[str, str] | None = Field(default=None, description="unit_field code -> UCUM unit.")
    choices: dict[str, str] | None = Field(default=None, description="Choice code -> vocabulary canonical text.")
    method: str | None = None


class DailyMap(_Model):
    day_field: str = Field(description="Field holding the study day of the assessment.")
    label: str = Field(default="daily_d{day}", description="Visit label template; {day} is the study day.")


class SampleMap(_Model):
    day_field: str = Field(description="Field holding the study day the sample was taken.")
    date_field: str | None = Field(default=None, description="Field holding the sample's date (optional).")
    label: str = Field(
        default="day {day}",
        description="Visit label template; {day} is the study day. A sample joins the visit of that label "
        "(a scheduled visit on that day), otherwise it makes an unscheduled visit.",
    )


class MedicationMap(_Model):
    instrument: str
    drug: FieldRef
    dose: FieldRef | None = None
    unit: FieldRef | None = None
    route: FieldRef | None = None
    frequency: FieldRef | None = None
    start_date: FieldRef | None = None
    stop_date: FieldRef | None = None
    indication: FieldRef | None = Field(
        default=None, description="Checkbox field (ticked choices joined by '; ') or free text."
    )


class AdverseEventMap(_Model):
    instrument: str
    term: FieldRef
    grade: FieldRef | None = None
    onset_date: FieldRef | None = None
    resolution_date: FieldRef | None = None
    serious: FieldRef | None = None
    serious_criteria: FieldRef | None = Field(default=None, description="Checkbox field: the seriousness criteria.")
    relationship: FieldRef | None = None
    action_taken: FieldRef | None = None
    astct_terms: list[str] = Field(default_factory=list, description="Terms graded by ASTCT (CRS, ICANS).")


class RedcapMapping(_Model):
    """The declarative mapping from a REDCap project to registry records (YAML; see docs/registry.md)."""

    study: StudyMap
    sites: list[SiteMap]
    record_id_field: str = "record_id"
    patient: PatientMap
    infusion: InfusionMap | None = None
    lymphodepletion: list[LymphodepletionMap] = Field(default_factory=list)
    visits: VisitsMap
    observations: dict[str, ObservationMap] = Field(default_factory=dict)
    daily: dict[str, DailyMap] = Field(default_factory=dict, description="Repeating instrument -> daily visits.")
    samples: dict[str, SampleMap] = Field(
        default_factory=dict, description="Repeating instrument -> samples joined to the visit of their day."
    )
    medications: MedicationMap | None = None
    adverse_events: AdverseEventMap | None = None
    ignore: list[str] = Field(default_factory=list, description="Dictionary fields deliberately not imported.")

    # -- what the mapping reads -----------------------------------------------------------------
    def record_fields(self) -> dict[str, tuple[str, FieldRef]]:
        """Record-level fields (patient, infusion, lymphodepletion): REDCap field -> (registry path, ref)."""
        out: dict[str, tuple[str, FieldRef]] = {}
        for attr in ("site", "disease", *_PATIENT_FIELD_KINDS):
            ref = getattr(self.patient, attr)
            if ref is not None:
                out.setdefault(ref.field, (f"patient.{attr}", ref))
        if self.infusion is not None:
            for attr in ("product", "target_antigen", "dose_cells_per_kg", "dose_cells_total", "date"):
                ref = getattr(self.infusion, attr)
                if isinstance(ref, FieldRef):
                    out.setdefault(ref.field, (f"infusion.{attr}", ref))
        for i, ld in enumerate(self.lymphodepletion):
            for attr in ("dose_mg_per_m2", "first_day", "last_day"):
                ref = getattr(ld, attr)
                if ref is not None:
                    out.setdefault(ref.field, (f"lymphodepletion[{i}].{attr}", ref))
        return out

    def visit_instruments(self) -> dict[str, DailyMap | SampleMap]:
        """Repeating instruments whose instances are visits (daily assessments) or join visits (samples)."""
        return {**self.daily, **self.samples}

    def repeat_maps(self) -> dict[str, tuple[str, dict[str, FieldRef]]]:
        """Medication/AE instrument -> (kind, {attribute: ref})."""
        out: dict[str, tuple[str, dict[str, FieldRef]]] = {}
        for kind, m in (("medications", self.medications), ("adverse_events", self.adverse_events)):
            if m is None:
                continue
            refs = {k: v for k, v in m if isinstance(v, FieldRef)}
            out[m.instrument] = (kind, refs)
        return out

    def check(self, dictionary: Mapping[str, DictionaryField], *, name: str = "mapping") -> list[Problem]:
        """Every problem of this mapping against a data dictionary (empty list: the mapping fits)."""
        return _MappingChecker(self, dictionary, name).run()


def load_mapping(
    path: str | Path, dictionary: str | Path | Mapping[str, DictionaryField] | None = None
) -> RedcapMapping:
    """Load a mapping YAML file; with ``dictionary`` (path or parsed), also check it against the dictionary.

    Raises :class:`InvalidInput` listing every problem (YAML structure, unknown fields, incompatible
    field types, choices that do not exist or are not mapped, units not convertible to the vocabulary's).
    """
    path = Path(path)
    try:
        data = yaml.safe_load(read_text_file(path, "mapping"))
    except (ValueError, RecursionError):  # e.g. an integer of thousands of digits, or nesting without end
        raise InvalidInput(
            "mapping", str(path), "YAML with numbers and nesting within bounds", location=path.name
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInput("mapping", str(path), f"valid YAML ({exc})", location=path.name) from None
    check_numbers_in(data)
    try:
        mapping = RedcapMapping.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(problems=_validation_problems(exc, path.name)) from None
    if dictionary is not None:
        fields = dictionary if isinstance(dictionary, Mapping) else read_dictionary(Path(dictionary))
        problems = mapping.check(fields, name=path.name)
        if problems:
            raise InvalidInput(problems=problems)
    return mapping


class _MappingChecker:
    def __init__(self, mapping: RedcapMapping, dictionary: Mapping[str, DictionaryField], name: str) -> None:
        self.m = mapping
        self.d = dictionary
        self.name = name
        self.problems: list[Problem] = []
        self.used: dict[str, str] = {}

    def problem(self, where: str, value: Any, expected: str) -> None:
        self.problems.append(Problem(where, value, expected, self.name))

    def ref(
        self,
        where: str,
        ref: FieldRef | None,
        kind: str,
        *,
        targets: Iterable[str] | None = None,
        form: str | None = None,
    ) -> DictionaryField | None:
        """Check one field reference; kind: number, date, text, choice, checkbox."""
        if ref is None:
            return None
        f = self.d.get(ref.field)
        if f is None:
            self.problem(where, ref.field, "a field of the data dictionary")
            return None
        shared_unit = where.endswith(".unit_field") and self.used.get(ref.field, "").endswith(".unit_field")
        if ref.field in self.used and not shared_unit:  # one unit field may serve several values of a form
            self.problem(where, ref.field, f"a field not already mapped (used by {self.used[ref.field]})")
        self.used.setdefault(ref.field, where)
        if form is not None and f.form != form:
            self.problem(where, ref.field, f"a field of instrument {form} (it is on {f.form})")
        if ref.choices is not None:
            if f.type not in CHOICE_TYPES:
                self.problem(where, ref.field, f"a field with choices for 'choices' (it is a {f.type} field)")
                return f
            self._choices(where, f, ref.choices, targets)
            return f
        if kind == "checkbox" or kind == "choice":
            self.problem(where, ref.field, "a 'choices' translation for this coded field")
        elif kind == "number" and not f.numeric:
            self.problem(where, ref.field, f"a numeric field (it is {f.type} {f.validation or 'free text'})")
        elif kind == "date" and not f.is_date:
            self.problem(where, ref.field, f"a date field (it is {f.type} {f.validation or 'free text'})")
        elif kind == "text" and f.type not in ("text", "notes"):
            self.problem(where, ref.field, f"a text field (it is {f.type})")
        return f

    def _choices(
        self, where: str, f: DictionaryField, mapped: Mapping[str, str], targets: Iterable[str] | None
    ) -> None:
        unknown = [c for c in mapped if c not in f.choices]
        if unknown:
            self.problem(where, ", ".join(unknown), f"choice codes of {f.name}: {', '.join(f.choices)}")
        missing = [c for c in f.choices if c not in mapped]
        if missing:
            self.problem(where, ", ".join(missing), f"a translation for every choice of {f.name} (missing)")
        if targets is not None:
            allowed = list(targets)
            bad = [t for t in mapped.values() if t not in allowed]
            if bad:
                self.problem(where, ", ".join(bad), "one of " + ", ".join(allowed))

    def run(self) -> list[Problem]:
        m, d = self.m, self.d
        if m.record_id_field not in d:
            self.problem("record_id_field", m.record_id_field, "a field of the data dictionary")
        self.used[m.record_id_field] = "record_id_field"
        site_codes = [s.code for s in m.sites]
        if len(set(site_codes)) != len(site_codes):
            self.problem("sites", site_codes, "each site code once")
        dags = [s.dag for s in m.sites if s.dag is not None]
        if len(set(dags)) != len(dags):
            self.problem("sites", dags, "each Data Access Group once")
        p = m.patient
        self.ref("patient.site", p.site, "choice", targets=site_codes)
        self.ref("patient.disease", p.disease, "choice", targets=("SLE", "SSc", "IIM", "other"))
        targets: dict[str, tuple[str, ...]] = {
            "sex": ("F", "M", "U"),
            "race": RACES,
            "ethnicity": ETHNICITIES,
            "disposition": DISPOSITIONS,
        }
        for attr, kind in _PATIENT_FIELD_KINDS.items():
            self.ref(f"patient.{attr}", getattr(p, attr), kind, targets=targets.get(attr))
        if "{record_id" not in p.code:
            self.problem("patient.code", p.code, "a template containing {record_id}")
        if m.infusion is not None:
            for attr in ("product", "target_antigen"):
                ref = getattr(m.infusion, attr)
                if isinstance(ref, FieldRef):
                    self.ref(f"infusion.{attr}", ref, "choice" if ref.choices else "text")
            self.ref("infusion.dose_cells_per_kg", m.infusion.dose_cells_per_kg, "number")
            self.ref("infusion.dose_cells_total", m.infusion.dose_cells_total, "number")
            self.ref("infusion.date", m.infusion.date, "date")
        for i, ld in enumerate(m.lymphodepletion):
            self.ref(f"lymphodepletion[{i}].dose_mg_per_m2", ld.dose_mg_per_m2, "number")
            self.ref(f"lymphodepletion[{i}].first_day", ld.first_day, "number")
            self.ref(f"lymphodepletion[{i}].last_day", ld.last_day, "number")
        self.ref("visits.date_field", FieldRef(field=m.visits.date_field), "date")
        repeating = set(m.visit_instruments()) | set(m.repeat_maps())
        for section, maps in (("daily", m.daily), ("samples", m.samples)):
            for inst, visit_map in maps.items():
                if inst in m.repeat_maps() or (section == "samples" and inst in m.daily):
                    self.problem(f"{section}.{inst}", inst, "an instrument named in one section of the mapping only")
                if not any(f.form == inst for f in d.values()):
                    self.problem(f"{section}.{inst}", inst, "an instrument of the data dictionary")
                self.ref(f"{section}.{inst}.day_field", FieldRef(field=visit_map.day_field), "number", form=inst)
                date_field = getattr(visit_map, "date_field", None)
                if date_field is not None:
                    self.ref(f"{section}.{inst}.date_field", FieldRef(field=date_field), "date", form=inst)
                if "{day}" not in visit_map.label:
                    self.problem(f"{section}.{inst}.label", visit_map.label, "a template containing {day}")
        for fname, obs in m.observations.items():
            self._observation(fname, obs, repeating)
        if m.medications is not None:
            md, inst = m.medications, m.medications.instrument
            self.ref("medications.drug", md.drug, "text", form=inst)
            self.ref("medications.dose", md.dose, "number", form=inst)
            self.ref("medications.unit", md.unit, "choice", form=inst)
            self.ref("medications.route", md.route, "choice", form=inst)
            self.ref("medications.frequency", md.frequency, "choice", form=inst)
            self.ref("medications.start_date", md.start_date, "date", form=inst)
            self.ref("medications.stop_date", md.stop_date, "date", form=inst)
            kind = "checkbox" if md.indication and md.indication.choices else "text"
            ind = self.ref("medications.indication", md.indication, kind, form=inst)
            if ind is not None and ind.type not in ("checkbox", "text", "notes"):
                self.problem("medications.indication", ind.name, f"a checkbox or text field (it is {ind.type})")
        if m.adverse_events is not None:
            ae, inst = m.adverse_events, m.adverse_events.instrument
            self.ref("adverse_events.term", ae.term, "text", form=inst)
            self.ref("adverse_events.grade", ae.grade, "number", form=inst)
            self.ref("adverse_events.onset_date", ae.onset_date, "date", form=inst)
            self.ref("adverse_events.resolution_date", ae.resolution_date, "date", form=inst)
            self.ref("adverse_events.serious", ae.serious, "number", form=inst)
            self.ref(
                "adverse_events.serious_criteria",
                ae.serious_criteria,
                "checkbox",
                targets=SERIOUSNESS_CRITERIA,
                form=inst,
            )
            self.ref("adverse_events.relationship", ae.relationship, "choice", targets=RELATIONSHIPS, form=inst)
            self.ref("adverse_events.action_taken", ae.action_taken, "choice", targets=ACTIONS_TAKEN, form=inst)
        for fname in m.ignore:
            if fname not in d:
                self.problem("ignore", fname, "a field of the data dictionary")
            elif fname in self.used:
                self.problem("ignore", fname, f"a field not mapped (used by {self.used[fname]})")
        unaccounted = [
            f.name for f in d.values() if f.type != "descriptive" and f.name not in self.used and f.name not in m.ignore
        ]
        if unaccounted:
            self.problem(
                "fields", ", ".join(unaccounted), "every dictionary field mapped or listed under 'ignore' (not mapped)"
            )
        return self.problems

    def _unit_known(self, where: str, unit: str) -> bool:
        try:
            canonical_unit(unit, field=where)
        except InvalidInput:
            self.problem(where, unit, "a UCUM unit (see immunoreset.units)")
            return False
        return True

    def _observation(self, fname: str, obs: ObservationMap, repeating: set[str]) -> None:
        where = f"observations.{fname}"
        try:
            entry = vocabulary.code(obs.code)
        except InvalidInput:
            self.problem(f"{where}.code", obs.code, "a registry observation code (immunoreset.registry.vocabulary)")
            self.ref(where, FieldRef(field=fname, choices=obs.choices), "number")
            return
        f = self.ref(
            where,
            FieldRef(field=fname, choices=obs.choices),
            "choice" if entry.choices else "number",
            targets=entry.choices if entry.choices else None,
        )
        if f is not None and f.form in self.m.repeat_maps():
            self.problem(where, fname, f"a field of a visit form or a daily form (it is on {f.form})")
        if obs.choices is not None and not entry.choices:
            self.problem(f"{where}.choices", obs.code, "no choices: the vocabulary item is numeric")
        if entry.boolean and f is not None and set(f.choices) != {"0", "1"}:
            self.problem(where, fname, "a yes/no field with codes 1 and 0 (vocabulary item stored as 1/0)")
        if entry.choices:
            if obs.unit or obs.unit_field:
                self.problem(f"{where}.unit", obs.unit or obs.unit_field, "no unit for a coded item")
            return
        if obs.unit is not None and obs.unit_field is not None:
            self.problem(f"{where}.unit", obs.unit, "either 'unit' or 'unit_field', not both")
        if obs.unit_field is not None:
            uf = self.ref(f"{where}.unit_field", FieldRef(field=obs.unit_field, choices=obs.unit_choices), "choice")
            if uf is not None and f is not None and uf.form != f.form:
                self.problem(f"{where}.unit_field", obs.unit_field, f"a field of the same form ({f.form})")
            for unit in (obs.unit_choices or {}).values():
                self._convertible(f"{where}.unit_choices", unit, entry.unit, obs.code)
        elif obs.unit is not None:
            self._convertible(f"{where}.unit", obs.unit, entry.unit, obs.code)
        elif entry.unit != "1":
            self.problem(f"{where}.unit", None, f"a unit ('unit' or 'unit_field'); {obs.code} is in {entry.unit}")

    def _convertible(self, where: str, unit: str, target: str, code_: str) -> None:
        if self._unit_known(where, unit) and not same_dimension(unit, target):
            self.problem(where, unit, f"a unit convertible to {target} ({code_})")


# --------------------------------------------------------------------------------------------------
# Export parsing


class ProjectLike(Protocol):
    """What :func:`read_redcap_project` needs of a PyCap ``redcap.Project``."""

    def export_records(self, *args: Any, **kwargs: Any) -> Any: ...

    def export_metadata(self, *args: Any, **kwargs: Any) -> Any: ...


def read_redcap_api(url: str, token: str, mapping: RedcapMapping | str | Path) -> StudyRecord:
    """Pull records and data dictionary from a REDCap server (PyCap) and import them like an export."""
    from redcap.project import Project  # PyCap

    return read_redcap_project(Project(url, token), mapping, source_name=url)


def read_redcap_project(
    project: ProjectLike, mapping: RedcapMapping | str | Path, *, source_name: str = "api"
) -> StudyRecord:
    """Import from a PyCap ``Project`` (or any object with the same two export methods)."""
    records = project.export_records(format_type="csv", raw_or_label="raw")
    metadata = project.export_metadata(format_type="csv")
    result = _import(str(records), str(metadata), mapping, None, f"{source_name} records", f"{source_name} metadata")
    return result.study


@dataclass(frozen=True)
class RedcapImport:
    """What an import read: the study, and what it deliberately left out."""

    study: StudyRecord
    empty_instances: tuple[tuple[int, str, int | None], ...] = ()
    """Repeating instances saved with nothing entered (unticked checkboxes and a form status only):
    ``(row, instrument, instance)``. They carry no data and are skipped, not refused."""

    def notes(self) -> list[str]:
        """One line per kind of thing skipped, for the load summary."""
        n = len(self.empty_instances)
        if not n:
            return []
        where = ", ".join(f"row {row} ({inst} #{instance})" for row, inst, instance in self.empty_instances[:5])
        more = f" and {n - 5} more" if n > 5 else ""
        return [f"{n} empty repeating instance{'s' if n != 1 else ''} skipped: {where}{more}"]


def read_redcap_export(
    export_csv: str | Path,
    dictionary_csv: str | Path,
    mapping: RedcapMapping | str | Path,
    *,
    events_csv: str | Path | None = None,
) -> StudyRecord:
    """Import a REDCap "CSV raw" export with its data dictionary and a mapping (path or loaded).

    ``events_csv`` (REDCap's event list: ``unique_event_name`` and optionally ``day_offset``) supplies
    events the mapping does not list; their visit label is the unique event name without ``_arm_N``
    and their visit number the position in that file. Raises :class:`InvalidInput` with every problem.
    :func:`import_redcap_export` also says what was skipped.
    """
    return import_redcap_export(export_csv, dictionary_csv, mapping, events_csv=events_csv).study


def import_redcap_export(
    export_csv: str | Path,
    dictionary_csv: str | Path,
    mapping: RedcapMapping | str | Path,
    *,
    events_csv: str | Path | None = None,
) -> RedcapImport:
    """:func:`read_redcap_export`, with the empty repeating instances it skipped."""
    export_path, dict_path = Path(export_csv), Path(dictionary_csv)
    for path, what in ((export_path, "REDCap export"), (dict_path, "data dictionary")):
        if not path.is_file():
            raise InvalidInput(what, str(path), "an existing CSV file")
    events = _read_events(Path(events_csv)) if events_csv is not None else None
    return _import(_text(export_path), _text(dict_path), mapping, events, export_path.name, dict_path.name)


def _read_events(path: Path) -> list[tuple[str, int | None]]:
    reader = csv.DictReader(io.StringIO(_text(path)))
    if reader.fieldnames is None or "unique_event_name" not in reader.fieldnames:
        raise InvalidInput("unique_event_name", reader.fieldnames, "a REDCap event list", location=path.name)
    out: list[tuple[str, int | None]] = []
    problems: list[Problem] = []
    for row in reader:
        name = (row.get("unique_event_name") or "").strip()
        if not name or None in row:
            where = f"{path.name} row {reader.line_num}"
            problems.append(Problem("unique_event_name", name, "a complete row naming its event", where))
            continue
        offset = (row.get("day_offset") or "").strip()
        if offset and not (_INTEGER.match(offset) and len(offset.lstrip("-")) <= 6):
            where = f"{path.name} row {reader.line_num}"
            problems.append(Problem("day_offset", offset, "a whole number of days (at most 6 digits)", where))
            offset = ""
        out.append((name, int(offset) if offset else None))
    if problems:
        raise InvalidInput(problems=problems)
    return out


@dataclass
class _Cell:
    value: str
    row: int
    column: str


@dataclass
class _Row:
    line: int
    record: str
    event: str
    instrument: str
    instance: int | None
    cells: dict[str, _Cell]
    """Field -> cell (checkbox fields: ``field___code`` keys)."""
    invalid: set[str] = field(default_factory=set)
    """Columns whose cell was refused (already reported)."""


@dataclass
class _Event:
    name: str
    label: str
    visitnum: Decimal | None
    day_offset: int | None


def _import(
    export_text: str,
    dictionary_text: str,
    mapping: RedcapMapping | str | Path,
    events: list[tuple[str, int | None]] | None,
    export_name: str,
    dictionary_name: str,
) -> RedcapImport:
    dictionary = read_dictionary(dictionary_text, name=dictionary_name)
    if not isinstance(mapping, RedcapMapping):
        mapping = load_mapping(mapping)
    problems = mapping.check(dictionary, name="mapping")
    if problems:
        raise InvalidInput(problems=problems)
    return _Importer(mapping, dictionary, events, export_name).run(export_text)


class _Importer:
    def __init__(
        self,
        mapping: RedcapMapping,
        dictionary: Mapping[str, DictionaryField],
        events: list[tuple[str, int | None]] | None,
        name: str,
    ) -> None:
        self.m = mapping
        self.d = dictionary
        self.name = name
        self.problems: list[Problem] = []
        self.events = self._events(events)
        self.repeat = mapping.repeat_maps()
        self.repeating = set(mapping.visit_instruments()) | set(self.repeat)
        self.dags: dict[str, _Cell] = {}
        """Record -> its Data Access Group cell (exports of projects with DAGs)."""
        self.site_of_dag = {s.dag: s.code for s in mapping.sites if s.dag is not None}
        self.skipped_empty: list[tuple[int, str, int | None]] = []
        """Empty saved repeating instances (row, instrument, instance) left out of the import."""
        self.record_fields = mapping.record_fields()
        self.ignored = set(mapping.ignore)
        self.checkbox_columns: dict[str, tuple[str, str]] = {}
        for f in dictionary.values():
            if f.type == "checkbox":
                for c in f.choices:
                    self.checkbox_columns[f"{f.name}___{c}".lower()] = (f.name, c)
        self.forms = {f.form for f in dictionary.values()}

    # -- helpers -------------------------------------------------------------------------------
    def where(self, row: int, column: str | None = None) -> str:
        return f"{self.name} row {row}" + (f", column {column}" if column else "")

    def problem(self, cell: _Cell, expected: str, field_: str | None = None) -> None:
        self.problems.append(Problem(field_ or cell.column, cell.value, expected, self.where(cell.row, cell.column)))

    def _events(self, events: list[tuple[str, int | None]] | None) -> dict[str, _Event]:
        order: list[tuple[str, int | None]] = list(events or [])
        names = [n for n, _ in order]
        for name, ev in self.m.visits.events.items():
            if name not in names:
                order.append((name, ev.day_offset))
                names.append(name)
        out: dict[str, _Event] = {}
        for i, (name, offset) in enumerate(order, start=1):
            ev = self.m.visits.events.get(name, EventMap())
            label = ev.label or re.sub(r"_arm_\d+$", "", name)
            visitnum = ev.visitnum if ev.visitnum is not None else Decimal(i)
            out[name] = _Event(name, label, visitnum, ev.day_offset if ev.day_offset is not None else offset)
        return out

    # -- reading -------------------------------------------------------------------------------
    def read_rows(self, text: str) -> list[_Row]:
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader)
        except StopIteration:
            self.problems.append(Problem("header", "", "a REDCap record export", self.where(1)))
            return []
        header = [h.strip() for h in header]
        rid = self.m.record_id_field
        required = [rid, *BOOKKEEPING]
        for col in required:
            if col not in header:
                self.problems.append(Problem(col, "", "a column of the REDCap export", self.where(1, col)))
        if any(col not in header for col in required):
            return []
        columns: dict[int, str] = {}
        for i, col in enumerate(header):
            if col in required or col == DAG_COLUMN:
                continue
            if col.endswith("_complete") and col[: -len("_complete")] in self.forms:
                continue
            if col in self.d or col.lower() in self.checkbox_columns:
                if col in self.d and self.d[col].type == "checkbox":
                    self.problems.append(Problem(col, col, "checkbox columns named field___code", self.where(1, col)))
                    continue
                if header.count(col) > 1:
                    self.problems.append(Problem(col, col, "each column once", self.where(1, col)))
                    continue
                columns[i] = col
            else:
                self.problems.append(
                    Problem(col, col, "a field of the data dictionary (unknown column)", self.where(1, col))
                )
        index = {col: header.index(col) for col in required}
        dag_at = header.index(DAG_COLUMN) if DAG_COLUMN in header else None
        rows: list[_Row] = []
        seen: dict[tuple[str, str, str, int | None], int] = {}
        while True:
            line = reader.line_num + 1
            try:
                raw = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                self.problems.append(Problem("csv", "", f"well-formed CSV ({exc})", self.where(line)))
                break
            if not any(c.strip() for c in raw):
                continue
            if len(raw) != len(header):
                self.problems.append(Problem("row", len(raw), f"{len(header)} cells like the header", self.where(line)))
                continue

            def get(col: str, raw: list[str] = raw) -> str:
                return raw[index[col]].strip()

            record, event, instrument, instance_text = get(rid), *(get(c) for c in BOOKKEEPING)
            ok = True
            if not record:
                self.problems.append(Problem(rid, "", "a record id", self.where(line, rid)))
                ok = False
            if event not in self.events:
                known = ", ".join(self.events)
                self.problems.append(
                    Problem("redcap_event_name", event, f"a known event ({known})", self.where(line, BOOKKEEPING[0]))
                )
                ok = False
            instance: int | None = None
            if instrument:
                if instrument not in self.repeating:
                    self.problems.append(
                        Problem(
                            "redcap_repeat_instrument",
                            instrument,
                            "a repeating instrument of the mapping (" + ", ".join(sorted(self.repeating)) + ")",
                            self.where(line, BOOKKEEPING[1]),
                        )
                    )
                    ok = False
                if _INTEGER.match(instance_text) and len(instance_text) <= 9 and int(instance_text) >= 1:
                    instance = int(instance_text)
                else:
                    self.problems.append(
                        Problem(
                            "redcap_repeat_instance",
                            instance_text,
                            "a positive whole number",
                            self.where(line, BOOKKEEPING[2]),
                        )
                    )
                    ok = False
            elif instance_text:
                self.problems.append(
                    Problem(
                        "redcap_repeat_instance",
                        instance_text,
                        "empty on a row without a repeating instrument",
                        self.where(line, BOOKKEEPING[2]),
                    )
                )
                ok = False
            key = (record, event, instrument, instance)
            if key in seen:
                self.problems.append(
                    Problem(
                        rid,
                        f"{record} / {event} / {instrument or '-'} / {instance or '-'}",
                        f"one row per record, event, repeating instrument and instance (first at row {seen[key]})",
                        self.where(line, rid),
                    )
                )
                ok = False
            else:
                seen[key] = line
            if dag_at is not None and raw[dag_at].strip():
                dag = _Cell(raw[dag_at].strip(), line, DAG_COLUMN)
                first_dag = self.dags.setdefault(record, dag)
                if first_dag.value != dag.value:
                    self.problem(dag, f"the same group on every row of record {record} ({first_dag.value})")
            cells: dict[str, _Cell] = {}
            invalid: set[str] = set()
            ignored_data = False
            for i, col in columns.items():
                value = raw[i].strip()
                if not value:
                    continue
                cell = _Cell(value, line, col)
                fname = self.checkbox_columns[col.lower()][0] if col.lower() in self.checkbox_columns else col
                if fname in self.ignored:
                    ignored_data = ignored_data or not (col.lower() in self.checkbox_columns and value == "0")
                    continue
                form = self.d[fname].form
                if instrument and form != instrument:
                    self.problem(cell, f"empty (field of {form} on a row of repeating instrument {instrument})")
                    continue
                if not instrument and form in self.repeating:
                    self.problem(cell, f"empty (field of repeating instrument {form} on a row without an instance)")
                    continue
                if self._valid(cell, fname):
                    cells[col] = cell
                else:
                    invalid.add(col)
            if ok and instrument and not invalid and not ignored_data and self._empty_instance(cells):
                # an instance opened and saved with nothing entered: unticked boxes and a form status only
                self.skipped_empty.append((line, instrument, instance))
                continue
            if ok:
                rows.append(_Row(line, record, event, instrument, instance, cells, invalid))
        return rows

    def _empty_instance(self, cells: Mapping[str, _Cell]) -> bool:
        """Whether a repeating instance holds nothing but unticked checkboxes."""
        return all(col.lower() in self.checkbox_columns and cell.value == "0" for col, cell in cells.items())

    def _valid(self, cell: _Cell, fname: str) -> bool:
        f = self.d[fname]
        if f.type == "checkbox":
            if cell.value not in ("0", "1"):
                self.problem(cell, "0 or 1 (checkbox)")
                return False
            return True
        if f.choices:
            if cell.value not in f.choices:
                self.problem(
                    cell, "one of the choices " + ", ".join(f"{c} ({label})" for c, label in f.choices.items())
                )
                return False
            return True
        if f.type == "text" and f.validation.startswith("integer") and not _INTEGER.match(cell.value):
            self.problem(cell, "a whole number")
            return False
        if f.type == "text" and f.validation.startswith("number") and not _NUMBER.match(cell.value):
            self.problem(cell, "a number with a decimal point")
            return False
        if f.type == "text" and f.validation.startswith(("integer", "number")):
            try:
                bounded_decimal(cell.value)
            except InvalidInput as err:
                self.problem(cell, err.expected)
                return False
        return not (f.is_date and self._date(cell) is None)

    def _date(self, cell: _Cell) -> dt.date | None:
        if _DATE.match(cell.value):
            try:
                return dt.date.fromisoformat(cell.value)
            except ValueError:
                pass
        self.problem(cell, "a date YYYY-MM-DD")
        return None

    # -- building ------------------------------------------------------------------------------
    def run(self, text: str) -> RedcapImport:
        rows = self.read_rows(text)
        by_record: dict[str, list[_Row]] = {}
        for row in rows:
            by_record.setdefault(row.record, []).append(row)
        patients: list[PatientRecord] = []
        for record, record_rows in by_record.items():
            patient = self.patient(record, record_rows)
            if patient is not None:
                patients.append(patient)
        if self.problems:
            raise InvalidInput(problems=self.problems)
        try:
            study = StudyRecord(
                code=self.m.study.code,
                name=self.m.study.name,
                design=self.m.study.design,
                sites=[SiteRecord(code=s.code, name=s.name, country=s.country) for s in self.m.sites],
                patients=patients,
            )
        except ValidationError as exc:
            raise InvalidInput(problems=_validation_problems(exc, self.name)) from None
        return RedcapImport(study, tuple(self.skipped_empty))

    def value(self, cell: _Cell, ref: FieldRef, kind: str) -> Any:
        """Convert a (dictionary-valid) cell for a registry attribute: number, int, date, text, bool."""
        text = ref.choices[cell.value] if ref.choices is not None else cell.value
        if kind == "text":
            return text
        if kind == "date":
            return self._date(cell)
        if kind == "bool":
            return text == "1"
        try:
            number = bounded_decimal(text)
        except InvalidInput as err:
            self.problem(cell, err.expected)
            return None
        if kind == "int":
            if number != number.to_integral_value():
                self.problem(cell, "a whole number")
                return None
            return int(number)
        return number

    def patient(self, record: str, rows: list[_Row]) -> PatientRecord | None:
        first = rows[0].line
        # record-level values (patient, infusion, lymphodepletion), from any non-repeating row
        rec: dict[str, _Cell] = {}
        for row in rows:
            if row.instrument:
                continue
            for col, cell in row.cells.items():
                if col in self.record_fields:
                    if col in rec and rec[col].value != cell.value:
                        self.problem(cell, f"the same value as row {rec[col].row} ({rec[col].value}): one per record")
                    rec.setdefault(col, cell)
        n_before = len(self.problems)

        def val(ref: FieldRef | None, kind: str) -> Any:
            if ref is None or ref.field not in rec:
                return None
            return self.value(rec[ref.field], ref, kind)

        pm = self.m.patient
        site, disease = val(pm.site, "text"), val(pm.disease, "text")
        if site is None or disease is None:
            missing = [r.field for r, v in ((pm.site, site), (pm.disease, disease)) if v is None]
            self.problems.append(
                Problem(
                    self.m.record_id_field,
                    record,
                    f"enrollment data for the record ({', '.join(missing)} empty on every row)",
                    self.where(first, self.m.record_id_field),
                )
            )
        code_ = pm.code.format(record_id=record)
        infusion: InfusionRecord | None = None
        lymphodepletion: list[LymphodepletionRecord] = []
        im = self.m.infusion
        if im is not None:
            product = im.product if isinstance(im.product, str) else val(im.product, "text")
            target = im.target_antigen if isinstance(im.target_antigen, str) else val(im.target_antigen, "text")
            dose, date = val(im.dose_cells_per_kg, "number"), val(im.date, "date")
            flat = val(im.dose_cells_total, "number")
            if product is not None or dose is not None or flat is not None or date is not None:
                infusion_refs = (im.product, im.target_antigen, im.dose_cells_per_kg, im.dose_cells_total, im.date)
                infusion = self.build(
                    InfusionRecord,
                    [c for r in infusion_refs if isinstance(r, FieldRef) for c in [rec.get(r.field)] if c],
                    product=product,
                    target_antigen=target or "CD19",
                    dose_cells_per_kg=dose,
                    dose_cells_total=flat,
                    date=date,
                )
        for ld in self.m.lymphodepletion:
            dose, first_day = val(ld.dose_mg_per_m2, "number"), val(ld.first_day, "int")
            last_day = val(ld.last_day, "int") if ld.last_day is not None else first_day
            if dose is None and first_day is None and last_day is None:
                continue
            cells = [rec[r.field] for r in (ld.dose_mg_per_m2, ld.first_day, ld.last_day) if r and r.field in rec]
            item = self.build(
                LymphodepletionRecord,
                cells,
                agent=ld.agent,
                dose_mg_per_m2=dose,
                first_day=first_day,
                last_day=last_day,
            )
            if item is not None:
                lymphodepletion.append(item)
        dag = self.dags.get(record)
        if dag is not None and self.site_of_dag and site is not None and self.site_of_dag.get(dag.value) != site:
            expected = next((d for d, c in self.site_of_dag.items() if c == site), None)
            self.problem(dag, f"the Data Access Group of site {site} ({expected or 'none declared'})")
        visits = self.visits(rows, infusion.date if infusion is not None else None)
        medications: list[MedicationRecord] = []
        adverse_events: list[AdverseEventRecord] = []
        for row in rows:
            if row.instrument in self.repeat:
                kind, refs = self.repeat[row.instrument]
                if kind == "medications":
                    med = self.medication(row, refs)
                    if med is not None:
                        medications.append(med)
                else:
                    ae = self.adverse_event(row, refs)
                    if ae is not None:
                        adverse_events.append(ae)
        if len(self.problems) > n_before:
            return None
        try:
            return PatientRecord(
                code=code_,
                site=site,
                disease=disease,
                sex=val(pm.sex, "text"),
                birth_year=val(pm.birth_year, "int"),
                weight_kg=val(pm.weight_kg, "number"),
                height_cm=val(pm.height_cm, "number"),
                race=val(pm.race, "text"),
                ethnicity=val(pm.ethnicity, "text"),
                age_years=val(pm.age_years, "int"),
                consent_date=val(pm.consent_date, "date"),
                disposition=val(pm.disposition, "text"),
                disposition_date=val(pm.disposition_date, "date"),
                disposition_reason=val(pm.disposition_reason, "text"),
                infusion=infusion,
                lymphodepletion=lymphodepletion,
                visits=visits,
                medications=medications,
                adverse_events=adverse_events,
            )
        except ValidationError as exc:
            where = f"{self.name} rows {first}-{rows[-1].line} (record {record})"
            self.problems.extend(_validation_problems(exc, where))
            return None

    def build(self, model: type[Any], cells: Sequence[_Cell], **values: Any) -> Any:
        """Construct a record; a validation error becomes problems located at ``cells``."""
        try:
            return model(**values)
        except ValidationError as exc:
            where = self.where(cells[0].row, ", ".join(c.column for c in cells)) if cells else self.name
            self.problems.extend(_validation_problems(exc, where))
            return None

    def observation(self, row: _Row, col: str, cell: _Cell) -> ObservationRecord | None:
        obs = self.m.observations[col]
        entry = vocabulary.code(obs.code)
        source = f"redcap:{row.event}:" + (f"{row.instrument}:{row.instance}:" if row.instrument else "") + col
        if entry.choices:
            assert obs.choices is not None  # checked with the mapping
            value_text: str | None = obs.choices[cell.value]
            value: Decimal | None = None
            unit = "1"
        else:
            value_text, value = None, Decimal(cell.value)
            if obs.unit_field is not None:
                unit_cell = row.cells.get(obs.unit_field)
                if unit_cell is None:
                    if obs.unit_field in row.invalid:
                        return None  # the unit cell is reported already
                    self.problem(cell, f"a unit in column {obs.unit_field} for this value")
                    return None
                assert obs.unit_choices is not None
                unit = obs.unit_choices[unit_cell.value]
            else:
                unit = obs.unit or entry.unit
        try:
            return ObservationRecord(
                code=obs.code,
                value=value,
                unit=unit,
                value_text=value_text,
                method=obs.method or entry.method,
                source=source,
            )
        except ValidationError as exc:
            for p in _validation_problems(exc, self.where(cell.row, cell.column)):
                self.problems.append(
                    Problem(p.field, cell.value if p.field == obs.code else p.value, p.expected, p.location)
                )
            return None

    def visits(self, rows: list[_Row], infusion_date: dt.date | None) -> list[VisitRecord]:
        """Scheduled visits (one per event with data), daily assessment visits (one per study day) and
        samples: a sample joins the visit of its own event when it was taken on that visit's study day
        (visit date − infusion date, else the event's day offset), otherwise it makes an unscheduled visit
        (label from the template, e.g. ``day 9``); samples of one day at one event are one visit."""
        scheduled: dict[str, tuple[list[_Cell], dict[str, Any]]] = {}
        daily: dict[int, dict[str, Any]] = {}
        samples: dict[tuple[str, int], tuple[list[_Cell], dict[str, Any]]] = {}
        daily_rows: dict[tuple[int, str], int] = {}
        date_field = self.m.visits.date_field
        for row in rows:
            if row.instrument in self.repeat:
                continue
            observations: list[ObservationRecord] = []
            for col, cell in row.cells.items():
                if col in self.m.observations:
                    ob = self.observation(row, col, cell)
                    if ob is not None:
                        observations.append(ob)
                elif any(o.unit_field == col for o in self.m.observations.values()):
                    owners = [f for f, o in self.m.observations.items() if o.unit_field == col]
                    if not any(f in row.cells or f in row.invalid for f in owners):  # a refused value: reported
                        self.problem(cell, f"empty: a unit without a value in {', '.join(owners)}")
            if row.instrument:  # a daily assessment or a sample
                vm = self.m.visit_instruments()[row.instrument]
                day_cell = row.cells.get(vm.day_field)
                if day_cell is None and vm.day_field in row.invalid:
                    continue  # the cell's own problem is reported; no second one for it
                if day_cell is None:
                    what = "assessment" if row.instrument in self.m.daily else "sample"
                    self.problems.append(
                        Problem(vm.day_field, "", f"the study day of the {what}", self.where(row.line, vm.day_field))
                    )
                    continue
                day = int(day_cell.value)
                if row.instrument in self.m.daily:
                    if (day, row.instrument) in daily_rows:
                        first = daily_rows[day, row.instrument]
                        self.problem(day_cell, f"one {row.instrument} instance per study day (also at row {first})")
                        continue
                    daily_rows[day, row.instrument] = row.line
                    entry = daily.setdefault(
                        day, {"label": vm.label.format(day=day), "study_day": day, "kind": "daily", "observations": []}
                    )
                    entry["observations"].extend(observations)
                    continue
                date_cell = row.cells.get(vm.date_field) if isinstance(vm, SampleMap) and vm.date_field else None
                cells, sample = samples.setdefault(
                    (row.event, day), ([], {"study_day": day, "date": None, "observations": [], "instrument": vm})
                )
                cells.append(day_cell)
                if date_cell is not None:
                    date = self._date(date_cell)
                    if sample["date"] is not None and date != sample["date"]:
                        self.problem(date_cell, f"the date of the other samples of study day {day} ({sample['date']})")
                    sample["date"] = sample["date"] or date
                    cells.append(date_cell)
                sample["observations"].extend(observations)
                continue
            date_cell = row.cells.get(date_field)
            if not observations and date_cell is None:
                continue
            event = self.events[row.event]
            if date_cell is None:
                if date_field not in row.invalid:  # an invalid date is reported already
                    self.problems.append(
                        Problem(date_field, "", "the visit date of a visit with data", self.where(row.line, date_field))
                    )
                continue
            values: dict[str, Any] = {
                "label": event.label,
                "date": self._date(date_cell),
                "visitnum": event.visitnum,
                "kind": "scheduled",
                "observations": observations,
            }
            scheduled[row.event] = ([date_cell], values)
        unscheduled: list[VisitRecord] = []
        labels = {values["label"] for _cells, values in scheduled.values()}
        for (event_name, day), (cells, sample) in samples.items():
            joined = scheduled.get(event_name)
            if joined is not None:
                visit_date = joined[1]["date"]
                if visit_date is not None and infusion_date is not None:
                    visit_day: int | None = (visit_date - infusion_date).days
                else:
                    visit_day = self.events[event_name].day_offset
                same_date = sample["date"] is None or sample["date"] == visit_date
                if visit_day == day and same_date:
                    joined[0].extend(cells)
                    joined[1]["observations"] = joined[1]["observations"] + sample["observations"]
                    continue
            label = sample["instrument"].label.format(day=day)
            if label in labels:
                self.problem(
                    cells[0],
                    f"a sample entered at the event of its visit: study day {day} is the day of visit '{label}', "
                    f"not of event {event_name}",
                )
                continue
            labels.add(label)
            values = {"label": label, "study_day": day, "date": sample["date"], "kind": "unscheduled"}
            visit = self.build(VisitRecord, cells, observations=sample["observations"], **values)
            if visit is not None:
                unscheduled.append(visit)
        visits: list[VisitRecord] = []
        for cells, values in scheduled.values():
            visit = self.build(VisitRecord, cells, **values)
            if visit is not None:
                visits.append(visit)
        visits += unscheduled
        for day in sorted(daily):
            visit = self.build(VisitRecord, [], **daily[day])
            if visit is not None:
                visits.append(visit)
        return visits

    def _row_values(self, row: _Row, refs: Mapping[str, FieldRef], kinds: Mapping[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, ref in refs.items():
            kind = kinds[attr]
            if kind == "checkbox":
                ticked = [
                    ref.choices[c]
                    for c in self.d[ref.field].choices
                    if ref.choices is not None
                    and (cell := row.cells.get(f"{ref.field}___{c}")) is not None
                    and cell.value == "1"
                ]
                out[attr] = "; ".join(ticked) if ticked else None
                continue
            cell = row.cells.get(ref.field)
            out[attr] = None if cell is None else self.value(cell, ref, kind)
        return out

    def _row_cells(self, row: _Row, refs: Mapping[str, FieldRef]) -> list[_Cell]:
        fields = {r.field for r in refs.values()}
        return [c for col, c in row.cells.items() if col.split("___")[0] in fields]

    def _dated_entry(
        self,
        row: _Row,
        refs: Mapping[str, FieldRef],
        kinds: Mapping[str, str],
        required: str,
        what: str,
        start: str,
        stop: str,
    ) -> dict[str, Any] | None:
        """The row's values, or None after recording a problem: ``required`` missing, or the
        ``<stop>_date`` before the ``<start>_date``."""
        values = self._row_values(row, refs, kinds)
        if values.get(required) is None:
            if refs[required].field not in row.invalid:  # an invalid cell is reported already
                where = self.where(row.line, refs[required].field)
                self.problems.append(Problem(refs[required].field, "", what, where))
            return None
        first, last = values.get(f"{start}_date"), values.get(f"{stop}_date")
        if first is not None and last is not None and last < first:
            self.problem(row.cells[refs[f"{stop}_date"].field], f"a {stop} date on or after the {start} date {first}")
            return None
        return values

    def medication(self, row: _Row, refs: Mapping[str, FieldRef]) -> MedicationRecord | None:
        checkbox = refs.get("indication") is not None and self.d[refs["indication"].field].type == "checkbox"
        kinds = {
            "drug": "text", "dose": "number", "unit": "text", "route": "text", "frequency": "text",
            "start_date": "date", "stop_date": "date", "indication": "checkbox" if checkbox else "text",
        }  # fmt: skip
        values = self._dated_entry(row, refs, kinds, "drug", "the drug of a medication entry", "start", "stop")
        if values is None:
            return None
        result: MedicationRecord | None = self.build(
            MedicationRecord, self._row_cells(row, refs), key=f"{row.instrument}:{row.event}:{row.instance}", **values
        )
        return result

    def adverse_event(self, row: _Row, refs: Mapping[str, FieldRef]) -> AdverseEventRecord | None:
        kinds = {
            "term": "text", "grade": "int", "onset_date": "date", "resolution_date": "date", "serious": "bool",
            "serious_criteria": "checkbox", "relationship": "text", "action_taken": "text",
        }  # fmt: skip
        values = self._dated_entry(row, refs, kinds, "term", "the term of an adverse event", "onset", "resolution")
        if values is None:
            return None
        if "serious_criteria" in values:
            ticked = values["serious_criteria"]
            values["serious_criteria"] = ticked.split("; ") if ticked else []
        assert self.m.adverse_events is not None
        grading = "ASTCT" if values["term"] in self.m.adverse_events.astct_terms else "CTCAE v5.0"
        result: AdverseEventRecord | None = self.build(
            AdverseEventRecord,
            self._row_cells(row, refs),
            key=f"{row.instrument}:{row.event}:{row.instance}",
            grading=grading,
            **values,
        )
        return result


def _validation_problems(exc: ValidationError, location: str) -> list[Problem]:
    """A pydantic ValidationError as Problems (InvalidInput raised inside a validator keeps its own)."""
    problems: list[Problem] = []
    for err in exc.errors():
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, InvalidInput):
            problems.extend(Problem(p.field, p.value, p.expected, location) for p in inner.problems)
            continue
        loc = ".".join(str(x) for x in err.get("loc", ()))
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        problems.append(Problem(loc or "record", err.get("input"), msg, location))
    return problems
