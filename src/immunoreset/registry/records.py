"""The registry's exchange records: one study's data as typed, validated Python objects.

Every way into the registry produces a :class:`StudyRecord` (REDCap import, the tidy CSV import, a
virtual trial), and every way out reads one (SDTM export, outcomes, analysis, reports). The database
store (:mod:`immunoreset.registry.store`) writes a ``StudyRecord`` in one transaction and reads it back;
nothing else touches the tables. So a virtual patient and an imported patient are the same kind of
object, and exporters and outcome calculations are testable without a database.

Conventions
-----------
* **Study day** is the clock: day 0 = day of the CAR-T infusion, negative before it, no day skipped
  (the SDTM ``--DY`` convention without day 0 is applied only in the SDTM export). Calendar dates are
  optional; when a date is present and the infusion date is known, the study day must agree with it
  (:meth:`PatientRecord.check_days` fills the day from the date when the day is missing).
* Numbers are :class:`~decimal.Decimal` (exact), stored in the unit reported; units are UCUM codes.
* Observation codes come from :mod:`immunoreset.registry.vocabulary`; values are checked there.
* Records are identified by natural keys so that re-importing the same data is a no-op and corrected
  data update only what changed: patient ``code``; visit ``label``; observation ``(visit label, code)``;
  medication and adverse event ``key`` (the source system's stable identifier, e.g. the REDCap
  instrument, event and repeat instance ``"medications:baseline_arm_1:3"``).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from immunoreset.errors import InvalidInput
from immunoreset.inputs import check_number
from immunoreset.registry.vocabulary import normalise_value

__all__ = [
    "ACTIONS_TAKEN",
    "DISPOSITIONS",
    "ETHNICITIES",
    "RACES",
    "RELATIONSHIPS",
    "SERIOUSNESS_CRITERIA",
    "TRIAL_PHASES",
    "AdverseEventRecord",
    "EligibilityCriterionRecord",
    "InfusionRecord",
    "LymphodepletionRecord",
    "MedicationRecord",
    "ObservationRecord",
    "PatientRecord",
    "PlannedVisitRecord",
    "SiteRecord",
    "StudyDesignRecord",
    "StudyRecord",
    "VisitRecord",
    "natural_key",
]


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key for codes and labels in natural order: ``"2"`` before ``"10"``, ``"SLE-2"`` before ``"SLE-10"``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


Disease = Literal["SLE", "SSc", "IIM", "other"]
Sex = Literal["F", "M", "U"]
Grading = Literal["CTCAE v5.0", "ASTCT"]

# CDISC SDTM Controlled Terminology submission values (the registry stores the submission value itself, so
# the export needs no second table). Codelists: RACE C74457, ETHNIC C66790, NCOMPLT C66727, ACN C66767,
# TPHASE C66737; the causality scale (AEREL) is sponsor-defined in SDTMIG 3.4 -- the four-step scale below is
# the one of the registry's AE form (docs/registry_sdtm.md).
Race = Literal[
    "AMERICAN INDIAN OR ALASKA NATIVE",
    "ASIAN",
    "BLACK OR AFRICAN AMERICAN",
    "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER",
    "WHITE",
    "MULTIPLE",
    "OTHER",
    "NOT REPORTED",
    "UNKNOWN",
]
Ethnicity = Literal["HISPANIC OR LATINO", "NOT HISPANIC OR LATINO", "NOT REPORTED", "UNKNOWN"]
Disposition = Literal[
    "COMPLETED",
    "ADVERSE EVENT",
    "DEATH",
    "LACK OF EFFICACY",
    "LOST TO FOLLOW-UP",
    "PHYSICIAN DECISION",
    "PROTOCOL DEVIATION",
    "STUDY TERMINATED BY SPONSOR",
    "WITHDRAWAL BY SUBJECT",
    "OTHER",
]
Relationship = Literal["RELATED", "POSSIBLY RELATED", "UNLIKELY RELATED", "NOT RELATED"]
ActionTaken = Literal[
    "DOSE INCREASED",
    "DOSE NOT CHANGED",
    "DOSE RATE REDUCED",
    "DOSE REDUCED",
    "DRUG INTERRUPTED",
    "DRUG WITHDRAWN",
    "NOT APPLICABLE",
    "UNKNOWN",
]
SeriousnessCriterion = Literal[
    "death", "life-threatening", "hospitalisation", "disability", "congenital anomaly", "medically important"
]
TrialPhase = Literal[
    "PHASE I TRIAL",
    "PHASE I/II TRIAL",
    "PHASE II TRIAL",
    "PHASE II/III TRIAL",
    "PHASE III TRIAL",
    "PHASE IV TRIAL",
    "NOT APPLICABLE",
]

RACES: tuple[str, ...] = Race.__args__  # type: ignore[attr-defined]
ETHNICITIES: tuple[str, ...] = Ethnicity.__args__  # type: ignore[attr-defined]
DISPOSITIONS: tuple[str, ...] = Disposition.__args__  # type: ignore[attr-defined]
RELATIONSHIPS: tuple[str, ...] = Relationship.__args__  # type: ignore[attr-defined]
ACTIONS_TAKEN: tuple[str, ...] = ActionTaken.__args__  # type: ignore[attr-defined]
SERIOUSNESS_CRITERIA: tuple[str, ...] = SeriousnessCriterion.__args__  # type: ignore[attr-defined]
TRIAL_PHASES: tuple[str, ...] = TrialPhase.__args__  # type: ignore[attr-defined]


def _upper_choice(value: object) -> object:
    """Controlled-terminology answers are matched without regard to case or surrounding blanks."""
    return value.strip().upper() if isinstance(value, str) else value


STUDY_DAY_LIMIT = 36525
"""Study days lie within 100 years (36,525 days) of the infusion, before or after."""

_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
"""Control characters (a newline, a tab, NUL ...) and the Unicode direction marks and overrides that make
text display in another order than it is stored ("Trojan source"): refused in every text of a record,
so a patient code is what it looks like in a report, a CSV or an audit entry."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=False)

    @model_validator(mode="after")
    def _safe_values(self) -> _Record:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Decimal):
                check_number(value, name)  # exact decimals of sane size (immunoreset.inputs)
            if isinstance(value, str):
                found = _UNSAFE_CHARACTERS.search(value)
                if found:
                    raise ValueError(
                        f"{name} {value[:40]!r} holds the invisible or control character U+{ord(found.group()):04X}: "
                        "text without control characters or direction overrides"
                    )
        return self


class SiteRecord(_Record):
    code: str = Field(min_length=1, max_length=40, description="Site code, e.g. '1' or 'ERL'.")
    name: str = Field(default="", max_length=200, description="Site name, e.g. 'Erlangen'.")
    country: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-3 country code of the site, e.g. 'DEU' (SDTM DM.COUNTRY).",
    )

    @field_validator("country", mode="before")
    @classmethod
    def _iso_country(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        import pycountry

        text = str(value).strip().upper()
        if len(text) != 3 or pycountry.countries.get(alpha_3=text) is None:
            raise ValueError(f"got {value!r}: an ISO 3166-1 alpha-3 country code such as DEU, FRA or USA")
        return text


class PlannedVisitRecord(_Record):
    """One visit of the protocol's schedule (SDTM TV)."""

    label: str = Field(min_length=1, max_length=80, description="Visit label as recorded, e.g. 'month_3'.")
    day: int = Field(ge=-STUDY_DAY_LIMIT, le=STUDY_DAY_LIMIT, description="Planned study day (infusion = day 0).")
    visitnum: Decimal | None = Field(default=None, description="Planned visit number (SDTM VISITNUM).")
    window_before: int = Field(default=0, ge=0, description="Days the visit may be done early.")
    window_after: int = Field(default=0, ge=0, description="Days the visit may be done late.")


class EligibilityCriterionRecord(_Record):
    """One inclusion or exclusion criterion of the protocol (SDTM TI)."""

    code: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,7}$", description="Short name, e.g. 'INCL01' (IETESTCD).")
    text: str = Field(min_length=1, max_length=200, description="The criterion as written (IETEST).")
    category: Literal["INCLUSION", "EXCLUSION"]

    @field_validator("category", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return _upper_choice(value)


class StudyDesignRecord(_Record):
    """The study's protocol metadata: what SDTM's trial-design datasets (TS, TV, TI) are written from.

    Arms and elements (TA, TE) follow from the patients' products and lymphodepletion; see
    ``docs/registry_sdtm.md``.
    """

    title: str = Field(min_length=1, max_length=200, description="Full title of the trial (TS TITLE).")
    phase: TrialPhase = Field(description="Trial phase, CDISC TPHASE, e.g. 'PHASE I/II TRIAL'.")
    sponsor: str = Field(min_length=1, max_length=200, description="Sponsor (TS SPONSOR).")
    indication: str = Field(
        min_length=1, max_length=200, description="Indication, e.g. 'Systemic lupus erythematosus'."
    )
    registration_id: str | None = Field(default=None, max_length=40, description="Registry number, e.g. NCT05858684.")
    planned_subjects: int | None = Field(default=None, ge=1, description="Planned number of subjects (TS PLANSUB).")
    start_date: dt.date | None = Field(default=None, description="Study start: first subject's consent (TS SSTDTC).")
    end_date: dt.date | None = Field(default=None, description="Study end date (TS SENDTC); empty while ongoing.")
    age_min_years: int | None = Field(default=None, ge=0, le=120, description="Lowest age eligible (TS AGEMIN).")
    age_max_years: int | None = Field(default=None, ge=0, le=120, description="Highest age eligible (TS AGEMAX).")
    sexes: Literal["BOTH", "F", "M"] | None = Field(default=None, description="Sexes eligible (TS SEXPOP).")
    primary_objective: str | None = Field(default=None, max_length=200, description="Primary objective (TS OBJPRIM).")
    primary_outcome: str | None = Field(default=None, max_length=200, description="Primary outcome (TS OUTMSPRI).")
    visits: list[PlannedVisitRecord] = Field(default_factory=list, description="Visit schedule (TV).")
    criteria: list[EligibilityCriterionRecord] = Field(default_factory=list, description="Eligibility (TI).")

    @field_validator("phase", "sexes", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return _upper_choice(value)

    @model_validator(mode="after")
    def _consistent(self) -> StudyDesignRecord:
        for what, keys in (
            ("planned visit label", [v.label for v in self.visits]),
            ("criterion code", [c.code for c in self.criteria]),
        ):
            duplicates = sorted({k for k in keys if keys.count(k) > 1})
            if duplicates:
                raise ValueError(f"{what} repeated: {', '.join(duplicates)}")
        if (
            self.age_min_years is not None
            and self.age_max_years is not None
            and self.age_max_years < self.age_min_years
        ):
            raise ValueError(f"age_max_years {self.age_max_years} is below age_min_years {self.age_min_years}")
        if self.start_date is not None and self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self


class InfusionRecord(_Record):
    product: str = Field(min_length=1, max_length=200, description="CAR-T product.")
    target_antigen: str = Field(default="CD19", max_length=20)
    dose_cells_per_kg: Decimal | None = Field(default=None, gt=0, description="CAR+ cells per kg body weight.")
    dose_cells_total: Decimal | None = Field(
        default=None, gt=0, description="Flat dose: CAR+ cells infused in total (products dosed per patient)."
    )
    date: dt.date | None = Field(default=None, description="Infusion date (study day 0).")

    @model_validator(mode="after")
    def _one_dose(self) -> InfusionRecord:
        if self.dose_cells_per_kg is not None and self.dose_cells_total is not None:
            raise ValueError("either dose_cells_per_kg or dose_cells_total (a flat dose), not both")
        return self


class LymphodepletionRecord(_Record):
    agent: str = Field(min_length=1, max_length=80, description="e.g. fludarabine, cyclophosphamide.")
    dose_mg_per_m2: Decimal | None = Field(default=None, ge=0, description="Dose per day given, mg/m².")
    first_day: int = Field(
        ge=-STUDY_DAY_LIMIT, le=0, description="First study day given (negative: before the infusion)."
    )
    last_day: int = Field(ge=-STUDY_DAY_LIMIT, le=0, description="Last study day given.")

    @model_validator(mode="after")
    def _days(self) -> LymphodepletionRecord:
        if self.last_day < self.first_day:
            raise ValueError(f"last_day {self.last_day} is before first_day {self.first_day}")
        return self


class ObservationRecord(_Record):
    code: str = Field(description="Registry observation code (vocabulary).")
    value: Decimal | None = Field(default=None, description="Numeric value in `unit` (None for coded answers).")
    unit: str = Field(default="1", description="UCUM unit as reported.")
    value_text: str | None = Field(default=None, description="Canonical answer of a coded item.")
    method: str | None = Field(default=None, max_length=80, description="Assay or method, e.g. 'qPCR'.")
    source: str | None = Field(default=None, max_length=200, description="Provenance, e.g. 'redcap:labs.crp'.")

    @model_validator(mode="after")
    def _vocabulary(self) -> ObservationRecord:
        value, unit, text = normalise_value(self.code, self.value, self.unit, self.value_text)
        self.value, self.unit, self.value_text = value, unit, text
        return self


class VisitRecord(_Record):
    label: str = Field(min_length=1, max_length=80, description="Visit label, unique per patient (e.g. 'month_3').")
    study_day: int | None = Field(
        default=None, ge=-STUDY_DAY_LIMIT, le=STUDY_DAY_LIMIT, description="Day relative to infusion (day 0)."
    )
    date: dt.date | None = None
    visitnum: Decimal | None = Field(default=None, description="Planned visit number (SDTM VISITNUM).")
    kind: Literal["scheduled", "daily", "unscheduled"] = "scheduled"
    observations: list[ObservationRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_codes(self) -> VisitRecord:
        seen: set[str] = set()
        for obs in self.observations:
            if obs.code in seen:
                raise ValueError(f"observation {obs.code} recorded twice at visit {self.label}")
            seen.add(obs.code)
        return self


class MedicationRecord(_Record):
    key: str = Field(min_length=1, max_length=120, description="Stable identifier from the source.")
    drug: str = Field(min_length=1, max_length=120, description="Generic name.")
    dose: Decimal | None = Field(default=None, ge=0)
    unit: str | None = Field(default=None, max_length=40, description="Dose unit: mg, g, mg/kg, mg/m2, [IU] ...")
    route: str | None = Field(default=None, max_length=40, description="oral, intravenous, subcutaneous, ...")
    frequency: str | None = Field(default=None, max_length=40, description="once_daily, once_weekly, once, ...")
    start_day: int | None = Field(default=None, ge=-STUDY_DAY_LIMIT, le=STUDY_DAY_LIMIT)
    stop_day: int | None = Field(
        default=None, ge=-STUDY_DAY_LIMIT, le=STUDY_DAY_LIMIT, description="Last day taken; None = ongoing."
    )
    start_date: dt.date | None = None
    stop_date: dt.date | None = None
    indication: str | None = Field(default=None, max_length=200, description="e.g. autoimmune disease; prophylaxis.")


class AdverseEventRecord(_Record):
    key: str = Field(min_length=1, max_length=120)
    term: str = Field(min_length=1, max_length=200, description="CTCAE v5.0 term, or CRS / ICANS.")
    grade: int | None = Field(default=None, ge=1, le=5)
    grading: Grading = "CTCAE v5.0"
    onset_day: int | None = Field(default=None, ge=-STUDY_DAY_LIMIT, le=STUDY_DAY_LIMIT)
    resolution_day: int | None = Field(
        default=None, ge=-STUDY_DAY_LIMIT, le=STUDY_DAY_LIMIT, description="None = ongoing."
    )
    onset_date: dt.date | None = None
    resolution_date: dt.date | None = None
    serious: bool | None = None
    serious_criteria: list[SeriousnessCriterion] = Field(
        default_factory=list,
        description="Why the event is serious (ICH E2A): death, life-threatening, hospitalisation, disability, "
        "congenital anomaly, medically important. Criteria make `serious` true.",
    )
    relationship: Relationship | None = Field(
        default=None, description="Investigator's causality to the CAR-T product (SDTM AEREL)."
    )
    action_taken: ActionTaken | None = Field(
        default=None, description="Action taken with the study treatment, CDISC ACN (SDTM AEACN)."
    )

    @field_validator("relationship", "action_taken", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return _upper_choice(value)

    @model_validator(mode="after")
    def _seriousness(self) -> AdverseEventRecord:
        if len(set(self.serious_criteria)) != len(self.serious_criteria):
            raise ValueError(f"adverse event {self.key}: a seriousness criterion is repeated")
        if self.serious_criteria:
            if self.serious is False:
                raise ValueError(
                    f"adverse event {self.key}: serious is false but seriousness criteria are given "
                    f"({', '.join(self.serious_criteria)})"
                )
            self.serious = True
        return self


class PatientRecord(_Record):
    code: str = Field(min_length=1, max_length=40, description="Pseudonymous study code (never a name).")
    site: str = Field(description="Site code.")
    disease: Disease
    sex: Sex | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100, description="Year only; no full birth dates.")
    weight_kg: Decimal | None = Field(default=None, gt=0, le=400)
    height_cm: Decimal | None = Field(default=None, gt=0, le=260)
    race: Race | None = Field(default=None, description="CDISC RACE, e.g. 'WHITE' (DM.RACE).")
    ethnicity: Ethnicity | None = Field(default=None, description="CDISC ETHNIC (DM.ETHNIC).")
    age_years: int | None = Field(default=None, ge=0, le=120, description="Age in whole years at informed consent.")
    consent_day: int | None = Field(
        default=None, ge=-STUDY_DAY_LIMIT, le=STUDY_DAY_LIMIT, description="Study day of informed consent."
    )
    consent_date: dt.date | None = None
    disposition: Disposition | None = Field(
        default=None, description="End of participation, CDISC NCOMPLT (e.g. COMPLETED); None while ongoing."
    )
    disposition_day: int | None = Field(default=None, ge=-STUDY_DAY_LIMIT, le=STUDY_DAY_LIMIT)
    disposition_date: dt.date | None = None
    disposition_reason: str | None = Field(
        default=None, max_length=200, description="The reason as recorded (SDTM DSTERM), e.g. 'moved abroad'."
    )
    infusion: InfusionRecord | None = None
    lymphodepletion: list[LymphodepletionRecord] = Field(default_factory=list)
    visits: list[VisitRecord] = Field(default_factory=list)
    medications: list[MedicationRecord] = Field(default_factory=list)
    adverse_events: list[AdverseEventRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys_and_days(self) -> PatientRecord:
        for what, keys in (
            ("visit label", [v.label for v in self.visits]),
            ("medication key", [m.key for m in self.medications]),
            ("adverse event key", [a.key for a in self.adverse_events]),
            ("lymphodepletion agent", [ld.agent for ld in self.lymphodepletion]),
        ):
            duplicates = sorted({k for k in keys if keys.count(k) > 1})
            if duplicates:
                raise ValueError(f"patient {self.code}: {what} repeated: {', '.join(duplicates)}")
        self.check_days()
        return self

    def _day(self, date: dt.date | None, day: int | None, field: str) -> int | None:
        infusion_date = self.infusion.date if self.infusion else None
        if date is None or infusion_date is None:
            return day
        derived = (date - infusion_date).days
        if day is not None and day != derived:
            raise InvalidInput(
                f"patient {self.code} {field}", day, f"study day {derived} (date {date} vs infusion {infusion_date})"
            )
        return derived

    @field_validator("race", "ethnicity", "disposition", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return _upper_choice(value)

    def check_days(self) -> None:
        """Fill study days from dates (infusion = day 0) and refuse days that contradict their dates."""
        self.consent_day = self._day(self.consent_date, self.consent_day, "consent_day")
        self.disposition_day = self._day(self.disposition_date, self.disposition_day, "disposition_day")
        if self.disposition is None and (
            self.disposition_day is not None or self.disposition_date is not None or self.disposition_reason
        ):
            raise InvalidInput(
                f"patient {self.code} disposition", None, "a disposition when its day, date or reason is given"
            )
        for visit in self.visits:
            visit.study_day = self._day(visit.date, visit.study_day, f"visit {visit.label} study_day")
            if visit.study_day is None:
                raise InvalidInput(f"patient {self.code} visit {visit.label}", None, "a study day or a date")
        for med in self.medications:
            med.start_day = self._day(med.start_date, med.start_day, f"medication {med.key} start_day")
            med.stop_day = self._day(med.stop_date, med.stop_day, f"medication {med.key} stop_day")
            if med.start_day is not None and med.stop_day is not None and med.stop_day < med.start_day:
                raise InvalidInput(f"patient {self.code} medication {med.key} stop", med.stop_day, "on or after start")
        for ae in self.adverse_events:
            ae.onset_day = self._day(ae.onset_date, ae.onset_day, f"adverse event {ae.key} onset_day")
            ae.resolution_day = self._day(ae.resolution_date, ae.resolution_day, f"adverse event {ae.key} resolution")
            if ae.onset_day is not None and ae.resolution_day is not None and ae.resolution_day < ae.onset_day:
                raise InvalidInput(
                    f"patient {self.code} adverse event {ae.key} resolution", ae.resolution_day, "on or after onset"
                )

    def visit(self, label: str) -> VisitRecord:
        for v in self.visits:
            if v.label == label:
                return v
        raise KeyError(label)


class StudyRecord(_Record):
    code: str = Field(min_length=1, max_length=40, description="Study code, e.g. 'ERL-CART-AI'.")
    name: str = Field(default="", max_length=200)
    source: Literal["trial", "simulation"] = "trial"
    design: StudyDesignRecord | None = Field(default=None, description="Protocol metadata (SDTM TS, TV, TI).")
    sites: list[SiteRecord] = Field(default_factory=list)
    patients: list[PatientRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _sites_and_codes(self) -> StudyRecord:
        site_codes = [s.code for s in self.sites]
        if len(set(site_codes)) != len(site_codes):
            raise ValueError("site codes repeated")
        codes = [p.code for p in self.patients]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"patient codes repeated: {', '.join(duplicates)}")
        unknown = sorted({p.site for p in self.patients} - set(site_codes))
        if unknown:
            raise ValueError(f"patients at sites not listed in the study: {', '.join(unknown)}")
        return self

    def patient(self, code: str) -> PatientRecord:
        for p in self.patients:
            if p.code == code:
                return p
        raise KeyError(code)
