"""A REDCap project for CD19 CAR-T therapy in autoimmune disease that immunoreset reads as it is.

:func:`build_template` makes everything a data manager uploads to REDCap to start a study — the data
dictionary, the arm and its events (one per visit of the schedule), the instrument–event mapping, the
repeating instruments — and the mapping YAML (:class:`~immunoreset.registry.redcap.RedcapMapping`) that
imports the project's exports with no hand-written mapping. Every field is declared once here, with the
registry observation code it carries; the dictionary rows and the mapping are both derived from that
declaration, so they cannot drift apart. ``immunoreset redcap template --out DIR`` writes the files;
``immunoreset redcap check DIR`` checks them against REDCap's data-dictionary rules
(:mod:`immunoreset.registry.redcap_check`). How to upload: docs/registry.md, "REDCap project template".

Forms and where they are collected
----------------------------------
=====================  ============================================================  ===================
form                   content                                                        events
=====================  ============================================================  ===================
enrolment              site, disease, sex, birth year, weight, height, consent date,   first
                       age at consent, race, ethnicity (CDISC terms)
eligibility_sle        2019 EULAR/ACR SLE criteria (ANA entry criterion, 22 items)    first (SLE)
eligibility_ssc        2013 ACR/EULAR SSc criteria (13 items, 2 exclusions)           first (SSc)
eligibility_iim        2017 EULAR/ACR IIM criteria (age at onset, 16 items)           first (IIM)
lymphodepletion        fludarabine, cyclophosphamide, bendamustine: mg/m²/day, days   infusion (day 0)
infusion               product, target, dose per kg or flat, date                     infusion (day 0)
visit                  visit date, body temperature                                   every
laboratory             haematology, chemistry with the lab's limits, complement,      every
                       autoantibodies, IgG, urine; units where labs differ
sle_activity           SLEDAI-2K descriptors, PGA, LLDAS extra items                   every (SLE)
ssc_assessment         17 mRSS areas, EUSTAR-AI items, globals, HAQ-DI, FVC, DLCO,      every (SSc)
                       CRISS step-1 events
iim_assessment         MMT-8, IMACS globals, HAQ-DI                                     every (IIM)
cell_kinetics          CAR-T (flow, qPCR), CD19 B cells, naive B cells (repeating)    every
daily_crs_icans        ASTCT CRS and ICANS parameters, ICE, ANC (repeating)           infusion (day 0)
medications            drug, dose, unit, route, frequency, dates, indication (rep.)   first
adverse_events         term, CTCAE grade, dates, serious and its criteria,             first
                       relationship, action taken (repeating)
end_of_study           disposition (CDISC NCOMPLT), its date and the reason given     last
=====================  ============================================================  ===================

Visits are labelled ``day <d>`` (the schedule's study days, day 0 = infusion), daily assessments
``day <d> (daily)``, and a kinetics sample joins the visit of its study day (else it is an unscheduled
visit) — the same labels a virtual trial writes, so a virtual trial exported as REDCap and imported back
is the same study (:mod:`immunoreset.registry.redcap_writer`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import yaml

from immunoreset import instruments
from immunoreset.errors import InvalidInput, writing
from immunoreset.instruments.medications import DRUG_FREE_SOURCE
from immunoreset.instruments.myositis import HAQ_SOURCE, IIM_SOURCE, MMT8_SOURCE, TIS_SOURCE
from immunoreset.instruments.safety import CRS_SOURCE, CTCAE_SOURCE, ICAHT_SOURCE
from immunoreset.instruments.sle import CLASSIFICATION_SOURCE, DESCRIPTORS, LLDAS_SOURCE, SLEDAI2K_SOURCE
from immunoreset.instruments.ssc import CRISS_SOURCE, EUSTAR_SOURCE, MRSS_SOURCE, SSC_CLASSIFICATION_SOURCE
from immunoreset.registry import vocabulary
from immunoreset.registry.records import (
    ACTIONS_TAKEN,
    DISPOSITIONS,
    ETHNICITIES,
    RACES,
    RELATIONSHIPS,
    SERIOUSNESS_CRITERIA,
    PlannedVisitRecord,
    StudyDesignRecord,
)
from immunoreset.registry.redcap import (
    DICTIONARY_HEADER,
    AdverseEventMap,
    DailyMap,
    EventMap,
    FieldRef,
    InfusionMap,
    LymphodepletionMap,
    MedicationMap,
    ObservationMap,
    PatientMap,
    RedcapMapping,
    SampleMap,
    SiteMap,
    StudyMap,
    VisitsMap,
)

__all__ = [
    "RedcapTemplate",
    "TemplateEvent",
    "TemplateField",
    "build_template",
    "unique_event_name",
    "unique_group_name",
    "visit_window",
]


DAILY_WINDOW = 30
"""Daily CRS/ICANS assessments are foreseen on study days 0..30; the study-day field accepts -7..90 (soft
REDCap range) for an assessment before the infusion or a late readmission."""


@dataclass(frozen=True)
class TemplateField:
    """One field of the template: its REDCap definition and the registry value it carries."""

    name: str
    form: str
    type: str
    label: str
    choices: tuple[tuple[str, str], ...] = ()
    validation: str = ""
    minimum: str = ""
    maximum: str = ""
    required: bool = False
    branching: str = ""
    note: str = ""
    section: str = ""
    code: str | None = None
    """Registry observation code (vocabulary) the field's value becomes, if it is an observation."""
    unit: str | None = None
    """Fixed UCUM unit of a numeric observation."""
    unit_field: str | None = None
    """Companion coded field holding the unit (its choices' labels are UCUM codes)."""
    value_choices: tuple[tuple[str, str], ...] = ()
    """For coded observations and record fields: REDCap code -> registry value."""

    def dictionary_row(self) -> list[str]:
        choices = " | ".join(f"{c}, {label}" for c, label in self.choices) if self.type not in ("yesno",) else ""
        return [
            self.name,
            self.form,
            self.section,
            self.type,
            self.label,
            choices,
            self.note,
            self.validation,
            self.minimum,
            self.maximum,
            "y"
            if self.validation.startswith("date")
            else "",  # dates identify (HIPAA): tagged for de-identified exports
            self.branching,
            "y" if self.required else "",
            "",
            "",
            "",
            "",
            "",
        ]


@dataclass(frozen=True)
class TemplateEvent:
    """One event of the project's arm: a visit of the schedule."""

    day: int
    name: str
    """The event name shown in REDCap (``Day -7``, ``Day 0 (infusion)``, ``Day 90``)."""
    unique_name: str
    """REDCap's unique event name, as REDCap derives it from ``name`` (``day_minus_7_arm_1``)."""
    label: str
    """The registry visit label (``day -7``)."""
    window: int
    """Visit window in days either side (REDCap offset_min/offset_max)."""


@dataclass(frozen=True)
class RedcapTemplate:
    """A REDCap project: dictionary fields, events, instrument–event mapping, repeating instruments, mapping."""

    forms: tuple[tuple[str, str], ...]
    """(form name, form label) in order."""
    fields: tuple[TemplateField, ...]
    events: tuple[TemplateEvent, ...]
    form_events: tuple[tuple[str, str], ...]
    """(unique event name, form) pairs: which forms are collected at which event."""
    repeating: tuple[tuple[str, str, str], ...]
    """(unique event name, form, custom instance label) of the repeating instruments."""
    mapping: RedcapMapping
    sites: tuple[tuple[str, str], ...]
    field_index: dict[str, TemplateField] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.field_index.update({f.name: f for f in self.fields})

    def template_field(self, name: str) -> TemplateField:
        return self.field_index[name]

    @property
    def first_event(self) -> TemplateEvent:
        return self.events[0]

    @property
    def infusion_event(self) -> TemplateEvent:
        """The event of the infusion: the visit on day 0, else the first on or after it, else the last."""
        return next((e for e in self.events if e.day >= 0), self.events[-1])

    def events_of(self, form: str) -> list[str]:
        return [event for event, f in self.form_events if f == form]

    def repeating_forms(self) -> set[str]:
        return {form for _event, form, _label in self.repeating}

    # -- files -----------------------------------------------------------------------------------
    def dictionary_csv(self) -> str:
        return _csv([list(DICTIONARY_HEADER), *(f.dictionary_row() for f in self.fields)])

    def arms_csv(self) -> str:
        return _csv([["arm_num", "name"], ["1", "Arm 1"]])

    def events_csv(self) -> str:
        rows = [["event_name", "arm_num", "day_offset", "offset_min", "offset_max", "unique_event_name"]]
        rows += [[e.name, "1", str(e.day), str(e.window), str(e.window), e.unique_name] for e in self.events]
        return _csv(rows)

    def form_events_csv(self) -> str:
        return _csv([["arm_num", "unique_event_name", "form"], *(["1", e, f] for e, f in self.form_events)])

    def repeating_csv(self) -> str:
        return _csv([["event_name", "form_name", "custom_form_label"], *(list(r) for r in self.repeating)])

    def mapping_yaml(self) -> str:
        data = self.mapping.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        data["ignore"] = list(self.mapping.ignore)
        head = (
            "# Mapping of the immunoreset REDCap template to registry records (docs/registry.md, 'REDCap import').\n"
            "# Generated with the data dictionary by `immunoreset redcap template`: every field is mapped.\n"
        )
        return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)

    FILES: ClassVar[dict[str, str]] = {
        "data_dictionary.csv": "dictionary_csv",
        "arms.csv": "arms_csv",
        "events.csv": "events_csv",
        "instrument_event_mapping.csv": "form_events_csv",
        "repeating_instruments.csv": "repeating_csv",
        "mapping.yaml": "mapping_yaml",
    }
    """File name -> method writing it."""

    def write(self, folder: Path) -> list[Path]:
        """Write the project files (and a README on uploading them) into ``folder``."""
        written = []
        with writing(folder, "project folder"):
            folder.mkdir(parents=True, exist_ok=True)
            for name, method in self.FILES.items():
                path = folder / name
                path.write_text(getattr(self, method)(), encoding="utf-8", newline="")
                written.append(path)
            readme = folder / "README.md"
            readme.write_text(_UPLOAD_README, encoding="utf-8")
        return [*written, readme]


def _csv(rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _redcap_name(text: str) -> str:
    text = re.sub(r"[^a-z0-9_ ]", "", text.lower()).strip()
    return re.sub(r"_+", "_", re.sub(r"\s+", "_", text))[:18].rstrip("_")


def unique_group_name(group_name: str) -> str:
    """The unique name REDCap gives a Data Access Group, made as for events (below) without the arm."""
    return _redcap_name(group_name)


def unique_event_name(event_name: str, arm: int = 1) -> str:
    """REDCap's unique event name: the event name lower-cased, characters other than letters, digits,
    spaces and underscores dropped, spaces as underscores, cut to 18 characters, ``_arm_<n>`` appended.

    (REDCap adds a letter when two events of an arm would get the same name; the template's names are
    chosen so that never happens, and :func:`build_template` checks it.)
    """
    return f"{_redcap_name(event_name)}_arm_{arm}"


# --------------------------------------------------------------------------------------------------
# Choices shared by several fields


YES_NO: tuple[tuple[str, str], ...] = (("1", "Yes"), ("0", "No"))
DISEASES = (
    ("1", "Systemic lupus erythematosus (SLE)", "SLE"),
    ("2", "Systemic sclerosis (SSc)", "SSc"),
    ("3", "Idiopathic inflammatory myopathy (IIM)", "IIM"),
    ("4", "Other autoimmune disease", "other"),
)
SEXES = (("1", "Female", "F"), ("2", "Male", "M"), ("3", "Unknown", "U"))
TARGETS = (("1", "CD19", "CD19"), ("2", "BCMA", "BCMA"), ("3", "CD19 and BCMA", "CD19/BCMA"))
MED_UNITS = ("mg", "g", "ug", "mg/kg", "g/kg", "mg/m2", "[IU]", "mL", "cells/kg", "cells")
MED_ROUTES = ("oral", "intravenous", "subcutaneous", "intramuscular", "topical", "inhaled", "rectal", "other")
MED_FREQUENCIES = (
    ("once_daily", "Once daily"),
    ("twice_daily", "Twice daily"),
    ("three_times_daily", "Three times daily"),
    ("every_other_day", "Every other day"),
    ("three_times_weekly", "Three times weekly"),
    ("once_weekly", "Once weekly"),
    ("every_2_weeks", "Every 2 weeks"),
    ("every_4_weeks", "Every 4 weeks"),
    ("every_6_months", "Every 6 months"),
    ("once", "Once"),
    ("as_needed", "As needed"),
    ("other", "Other"),
)
MED_INDICATIONS = (
    ("autoimmune disease", "Autoimmune disease (before or after CAR-T)"),
    ("glucocorticoid taper (autoimmune disease)", "Glucocorticoid taper of the autoimmune disease"),
    ("prophylaxis", "Anti-infective prophylaxis or supportive care"),
    ("CAR-T toxicity (CRS, ICANS)", "Treatment of CAR-T toxicity (CRS, ICANS)"),
    ("immunoglobulin replacement", "Immunoglobulin replacement"),
    ("other", "Other"),
    # appended (codes of existing projects keep their meaning)
    ("lymphodepletion", "Lymphodepletion (before a further CAR-T infusion)"),
    ("CAR-T cell therapy", "CAR-T cell infusion after the first (split dose or re-dosing)"),
)
"""Medication indications: the registry text each choice becomes (read by the drug-free rules), label."""
ANA_TITRES = (0, 40, 80, 160, 320, 640, 1280, 2560)


def _numbered(values: Sequence[str], labels: Sequence[str] | None = None) -> tuple[tuple[str, str], ...]:
    return tuple((str(i), (labels or values)[i - 1]) for i in range(1, len(values) + 1))


# --------------------------------------------------------------------------------------------------
# The forms


class _Form:
    """Collects the fields of one form."""

    def __init__(self, name: str, *, branching: str = "") -> None:
        self.name = name
        self.branching = branching
        self.fields: list[TemplateField] = []
        self.section = ""

    def header(self, text: str) -> None:
        self.section = text

    def add(self, name: str, type_: str, label: str, **kw: Any) -> TemplateField:
        if self.branching and "branching" not in kw:
            kw["branching"] = self.branching
        f = TemplateField(name=name, form=self.name, type=type_, label=label, section=self.section, **kw)
        self.section = ""
        self.fields.append(f)
        return f

    def observation(self, name: str, code: str, *, note: str = "", label: str | None = None, **kw: Any) -> None:
        """A field carrying observation ``code`` of the vocabulary, typed from the vocabulary entry."""
        entry = vocabulary.code(code)
        text = label or entry.label
        if entry.choices:
            choices = tuple((str(i), c.replace("_", " ")) for i, c in enumerate(entry.choices))
            values = tuple((str(i), c) for i, c in enumerate(entry.choices))
            self.add(name, "radio", text, choices=choices, value_choices=values, code=code, note=note, **kw)
        elif entry.boolean:
            self.add(name, "yesno", text, code=code, note=note, **kw)
        else:
            unit = kw.pop("unit", None)
            unit_field = kw.pop("unit_field", None)
            shown = unit or (None if unit_field else entry.unit)
            if shown and shown != "1" and not unit_field:
                text = f"{text} ({_unit_label(shown)})"
            self.add(
                name,
                "text",
                text,
                validation="integer" if entry.integer else "number",
                minimum=_plain(entry.low),
                maximum=_plain(entry.high) if not unit_field else "",
                code=code,
                unit=None if unit_field else (unit or entry.unit),
                unit_field=unit_field,
                note=note,
                **kw,
            )


def _plain(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


_UNIT_LABELS = {"10*9/L": "x10^9/L", "/uL": "/µL", "Cel": "°C", "[IU]/mL": "IU/mL", "g/(24.h)": "g/24 h",
                "/[HPF]": "/HPF", "{copies}/ug": "copies/µg DNA", "ug/L": "µg/L", "ug": "µg", "[IU]": "IU"}  # fmt: skip


def _unit_label(unit: str) -> str:
    return _UNIT_LABELS.get(unit, unit)


def _unit_choice(form: _Form, name: str, label: str, units: Sequence[str], **kw: Any) -> None:
    """A coded unit field: codes 1.., labels the units as shown, values the UCUM codes."""
    form.add(
        name,
        "radio",
        label,
        choices=tuple((str(i), _unit_label(u)) for i, u in enumerate(units, start=1)),
        value_choices=tuple((str(i), u) for i, u in enumerate(units, start=1)),
        **kw,
    )


_SLE_SHORT = {
    "ana_equivalent_positive": "ana_equiv_positive", "autoimmune_hemolysis": "hemolysis",
    "non_scarring_alopecia": "alopecia", "subacute_cutaneous_or_discoid_lupus": "scle_or_dle",
    "acute_cutaneous_lupus": "acute_cle", "pleural_or_pericardial_effusion": "effusion",
    "acute_pericarditis": "pericarditis", "joint_involvement": "joints",
    "renal_biopsy_class_ii_or_v": "biopsy_ii_or_v", "renal_biopsy_class_iii_or_iv": "biopsy_iii_or_iv",
    "antiphospholipid_antibodies": "apl_antibodies",
}  # fmt: skip
_SSC_SHORT = {
    "skin_thickening_proximal_to_mcp": "skin_prox_mcp", "fingertip_pitting_scars": "pitting_scars",
    "abnormal_nailfold_capillaries": "nailfold_capillaries", "pulmonary_arterial_hypertension": "pah",
    "interstitial_lung_disease": "ild", "anti_rna_polymerase_iii": "anti_rnap3",
    "skin_thickening_sparing_fingers": "excl_spares_fingers", "better_explained_by_other_disorder": "excl_other",
}  # fmt: skip
_IIM_SHORT = {
    "proximal_upper_limb_weakness": "weak_prox_arms", "proximal_lower_limb_weakness": "weak_prox_legs",
    "neck_flexors_weaker_than_extensors": "neck_flexors_weak", "legs_proximal_weaker_than_distal": "legs_prox_weak",
    "dysphagia_or_oesophageal_dysmotility": "dysphagia", "raised_muscle_enzymes": "raised_enzymes",
    "muscle_biopsy": "biopsy", "biopsy_endomysial_infiltrate": "bx_endomysial",
    "biopsy_perimysial_or_perivascular_infiltrate": "bx_perimysial",
    "biopsy_perifascicular_atrophy": "bx_perifascicular",
    "biopsy_rimmed_vacuoles": "bx_rimmed_vacuoles", "better_explanation": "excl_other",
}  # fmt: skip
_SLEDAI_SHORT = {
    "organic_brain_syndrome": "organic_brain", "cranial_nerve_disorder": "cranial_nerve",
    "increased_dna_binding": "dna_binding", "visual_disturbance": "visual",
}  # fmt: skip
_CRITERIA_SHORT = {"sle2019": ("sle19", _SLE_SHORT), "ssc2013": ("ssc13", _SSC_SHORT), "iim2017": ("iim17", _IIM_SHORT)}
_CRITERIA_SOURCE = {"sle2019": CLASSIFICATION_SOURCE, "ssc2013": SSC_CLASSIFICATION_SOURCE, "iim2017": IIM_SOURCE}
_CRITERIA_TEXT = {
    "sle2019": "2019 EULAR/ACR SLE criterion: ever present and attributed to SLE (weight in brackets)",
    "ssc2013": "2013 ACR/EULAR SSc criterion: ever present (points in brackets)",
    "iim2017": "2017 EULAR/ACR IIM criterion",
}


def criterion_field(prefix: str, item: str) -> str:
    """The template's field name of a classification item (``sle2019``, ``pleurisy`` -> ``sle19_...``)."""
    short, table = _CRITERIA_SHORT[prefix]
    return f"{short}_{table.get(item, item)}"


def _eligibility(prefix: str, form: _Form) -> None:
    model = vocabulary.CLASSIFICATION_CRITERIA[prefix][0]
    note = f"{_CRITERIA_TEXT[prefix]}. {_CRITERIA_SOURCE[prefix]}"
    if prefix == "sle2019":
        form.header("Entry criterion")
        form.add(
            criterion_field(prefix, "ana_titre"),
            "dropdown",
            "Highest ANA titre ever on HEp-2 cells",
            choices=tuple((str(t), "negative" if t == 0 else f"1:{t}") for t in ANA_TITRES),
            code="sle2019_ana_titre",
            note="Entry criterion: ANA >= 1:80 on HEp-2 cells or an equivalent positive test. " + CLASSIFICATION_SOURCE,
        )
        form.header("Additive criteria")
    if prefix == "iim2017":
        form.add(
            criterion_field(prefix, "age_at_onset"),
            "text",
            "Age at onset of the first symptom assumed related to the disease (years)",
            validation="number",
            minimum="0",
            maximum="120",
            code="iim2017_age_at_onset",
            note=note,
        )
    for item, info in model.model_fields.items():
        if info.annotation != (bool | None):
            continue
        branching = form.branching
        if prefix == "iim2017" and item.startswith("biopsy_"):
            branching = f"{branching} and [{criterion_field(prefix, 'muscle_biopsy')}] = '1'"
        form.observation(
            criterion_field(prefix, item),
            f"{prefix}_{item}",
            label=(info.description or item).replace(" Ever present, attributed to SLE.", ""),
            note=note,
            branching=branching,
        )


def _lab_fields(form: _Form) -> None:
    form.header("Haematology")
    form.observation("wbc", "wbc")
    form.observation("anc", "anc", unit_field="anc_unit")
    _unit_choice(form, "anc_unit", "Neutrophil unit", ("/uL", "10*9/L"))
    form.observation("lymphocytes", "lymphocytes", unit_field="lymphocytes_unit")
    _unit_choice(form, "lymphocytes_unit", "Lymphocyte unit", ("/uL", "10*9/L"))
    form.observation("platelets", "platelets")
    form.observation("hemoglobin", "hemoglobin", unit_field="hemoglobin_unit")
    _unit_choice(form, "hemoglobin_unit", "Haemoglobin unit", ("g/dL", "g/L"))
    form.header("Chemistry (with the reporting laboratory's upper limit of normal)")
    form.observation("crp", "crp", unit_field="crp_unit")
    _unit_choice(form, "crp_unit", "CRP unit", ("mg/L", "mg/dL"))
    form.observation("ferritin", "ferritin")
    form.observation("ferritin_uln", "ferritin_uln")
    form.observation("triglycerides", "triglycerides", note="Fasting; read by the HScore.")
    form.observation("fibrinogen", "fibrinogen", note="Read by the HScore and IEC-HS.")
    form.observation("fibrinogen_lln", "fibrinogen_lln")
    form.observation("creatinine", "creatinine")
    form.observation("egfr", "egfr", note="Estimated GFR (state the equation in the study protocol, e.g. CKD-EPI).")
    for analyte in ("ck", "aldolase", "alt", "ast", "ldh"):
        form.observation(analyte, analyte)
        form.observation(f"{analyte}_uln", f"{analyte}_uln")
    form.header("Complement and autoantibodies (with the laboratory's limits)")
    for analyte in ("c3", "c4"):
        form.observation(analyte, analyte, unit_field="complement_unit")
        form.observation(f"{analyte}_lln", f"{analyte}_lln", unit_field="complement_unit")
    _unit_choice(form, "complement_unit", "Complement unit (C3, C4 and their limits)", ("g/L", "mg/dL"))
    form.observation("anti_dsdna", "anti_dsdna")
    form.observation("anti_dsdna_uln", "anti_dsdna_uln")
    form.observation("anti_scl70", "anti_scl70")
    form.observation("anti_scl70_uln", "anti_scl70_uln")
    form.observation("igg", "igg", unit_field="igg_unit")
    _unit_choice(form, "igg_unit", "IgG unit", ("g/L", "mg/dL"))
    form.header("Urine")
    form.observation("proteinuria_24h", "proteinuria")
    form.observation("upcr", "upcr", unit_field="upcr_unit")
    _unit_choice(form, "upcr_unit", "Protein/creatinine ratio unit", ("g/g", "mg/g"))
    form.observation("urine_rbc", "urine_rbc")
    form.observation("urine_wbc", "urine_wbc")
    form.observation("urine_casts", "urine_casts")


def _sle_activity(form: _Form) -> None:
    form.header(f"SLEDAI-2K ({SLEDAI2K_SOURCE}): present at the visit or in the previous 10 days")
    for d in DESCRIPTORS:
        form.observation(
            f"sledai_{_SLEDAI_SHORT.get(d.name, d.name)}",
            f"sledai_{d.name}",
            label=f"{d.label} (SLEDAI-2K weight {d.weight})",
            note="Yes = present and attributed to SLE (SLEDAI-2K glossary).",
        )
    form.observation("sle_pga", "sle_pga", note="Physician global assessment 0-3 (used by DORIS and LLDAS).")
    form.header(f"LLDAS items outside SLEDAI-2K ({LLDAS_SOURCE})")
    form.observation("sle_hemolytic_anemia", "sle_hemolytic_anemia")
    form.observation("sle_gi_activity", "sle_gi_activity")


def _ssc_assessment(form: _Form) -> None:
    form.header(f"Modified Rodnan skin score ({MRSS_SOURCE}): 0 normal, 1 mild, 2 moderate, 3 severe")
    for area in vocabulary.MRSS_AREAS:
        form.add(
            f"mrss_{area}",
            "radio",
            f"mRSS: {area.replace('_', ' ')}",
            choices=tuple((str(k), str(k)) for k in range(4)),
            code=f"mrss_{area}",
        )
    form.header(f"EUSTAR activity index items ({EUSTAR_SOURCE})")
    form.observation("digital_ulcers", "digital_ulcers")
    form.observation("tendon_friction_rubs", "tendon_friction_rubs")
    form.observation("skin_worsening", "skin_worsening")
    form.header(f"Global assessments, HAQ-DI ({HAQ_SOURCE}) and lung function")
    form.observation("ssc_patient_global", "ssc_patient_global")
    form.observation("ssc_physician_global", "ssc_physician_global")
    form.observation("ssc_haq_di", "ssc_haq_di")
    form.observation("fvc_pct", "fvc_pct")
    form.observation("dlco_pct", "dlco_pct")
    form.header(f"CRISS step 1: new or worsened since baseline ({CRISS_SOURCE})")
    for code in ("ssc_new_renal_crisis", "ssc_ild_progression", "ssc_new_lv_failure", "ssc_new_pah"):
        form.observation(code, code)


def _iim_assessment(form: _Form) -> None:
    form.header(f"MMT-8, Kendall 0-10 ({MMT8_SOURCE})")
    for group in vocabulary.MMT8_GROUPS:
        form.observation(f"mmt8_{group}", f"mmt8_{group}")
    form.header(f"IMACS core set ({TIS_SOURCE})")
    form.observation("myo_physician_global", "myo_physician_global")
    form.observation("myo_patient_global", "myo_patient_global")
    form.observation("myo_extramuscular_global", "myo_extramuscular_global")
    form.observation("myo_haq_di", "myo_haq_di", note=HAQ_SOURCE)


def _cell_kinetics(form: _Form) -> None:
    form.add(
        "kin_study_day",
        "text",
        "Study day of the sample (day 0 = CAR-T infusion)",
        validation="integer",
        minimum="-60",
        maximum="3650",
        required=True,
        note="A sample taken on the day of this event's visit joins that visit; another day makes an "
        "unscheduled visit.",
    )
    form.add("kin_date", "text", "Date of the sample", validation="date_ymd", note="Needed for an unscheduled sample.")
    form.observation("car_t_cells", "car_t_cells", note="Flow cytometry; 0 = below the assay's limit.")
    form.observation("transgene_copies", "transgene_copies", note="qPCR of the CAR transgene in blood DNA.")
    form.observation("cd19_b_cells", "cd19_b_cells", note="Flow cytometry; 0 = below the assay's limit.")
    form.observation("naive_b_cell_pct", "naive_b_cell_pct", note="CD27- IgD+ of CD19+ B cells.")


def _daily(form: _Form) -> None:
    form.add(
        "dly_study_day",
        "text",
        "Study day of the assessment (day 0 = CAR-T infusion)",
        validation="integer",
        minimum="-7",
        maximum=str(3 * DAILY_WINDOW),
        required=True,
    )
    form.header(f"Cytokine release syndrome ({CRS_SOURCE})")
    form.observation("crs_temperature", "crs_temperature", note="Highest temperature of the day; fever >= 38.0 °C.")
    form.observation("crs_hypotension", "crs_hypotension")
    form.observation("crs_oxygen", "crs_oxygen", note="Low-flow nasal cannula <= 6 L/min; high-flow > 6 L/min.")
    form.observation("crs_treated", "crs_treated")
    form.observation("crs_grade_reported", "crs_grade_reported", note="As graded by the investigator (0 = none).")
    form.header("Immune effector cell-associated neurotoxicity syndrome (ASTCT, ICE score)")
    form.observation("ice_score", "ice_score")
    form.observation("icans_consciousness", "icans_consciousness")
    form.observation("icans_seizure", "icans_seizure")
    form.observation("icans_motor", "icans_motor")
    form.observation("icans_icp", "icans_intracranial_pressure")
    form.observation("icans_grade_reported", "icans_grade_reported", note="As graded by the investigator (0 = none).")
    form.header("Blood count")
    form.observation(
        "dly_anc", "anc", label="Neutrophils (absolute count)", note=f"For early ICAHT ({ICAHT_SOURCE}).",
        unit_field="dly_anc_unit",
    )  # fmt: skip
    _unit_choice(form, "dly_anc_unit", "Neutrophil unit", ("/uL", "10*9/L"))


def _assessment(a: vocabulary.ScoredAssessment, form: _Form) -> None:
    instrument = instruments.get(a.instrument)
    form.header(f"{instrument.title} ({instrument.source})")
    taken: set[str] = set()
    for item, entry in vocabulary.assessment_items(a.prefix):
        info = instrument.input_model.model_fields[item]
        form.observation(
            vocabulary.short_name(a.prefix, item, 26, taken),  # REDCap warns above 26 characters
            entry.code,
            label=entry.label.split(": ", 1)[1],
            note=(info.description or "")[:500],
        )


def build_template(
    visit_days: Sequence[int],
    *,
    sites: Sequence[tuple[str, str]] = (("1", "Site 1"),),
    study_code: str = "CART-AI",
    study_name: str = "CD19 CAR T-cell therapy in autoimmune disease",
    countries: Mapping[str, str] | None = None,
    design: StudyDesignRecord | None = None,
) -> RedcapTemplate:
    """The project for a visit schedule (study days, day 0 = infusion) and the study's sites.

    ``sites`` are ``(registry code, name)``; the REDCap code of a site is its registry code when that is
    letters, digits and underscores, else its position. ``countries`` maps site codes to ISO 3166-1
    alpha-3 codes and ``design`` is the protocol metadata; both go into ``mapping.yaml`` (SDTM DM.COUNTRY and
    the trial-design datasets). A design without a visit schedule gets the template's events as its visits.
    """
    days = sorted(set(visit_days))
    if not days or list(visit_days) != days:
        raise InvalidInput("visit_days", list(visit_days), "distinct study days in increasing order")
    if not sites:
        raise InvalidInput("sites", [], "at least one site")
    events = tuple(_event(d) for d in days)
    names = [e.unique_name for e in events]
    if len(set(names)) != len(names):
        raise InvalidInput("visit_days", days, "days whose REDCap event names differ")
    first = events[0].unique_name
    site_choices = tuple(
        (code if re.fullmatch(r"[A-Za-z0-9_]+", code) else str(i), code, name)
        for i, (code, name) in enumerate(sites, start=1)
    )
    disease_is = {d: f"[{first}][disease] = '{code}'" for code, _label, d in DISEASES}

    forms: list[_Form] = []

    def form(name: str, **kw: Any) -> _Form:
        f = _Form(name, **kw)
        forms.append(f)
        return f

    enrol = form("enrolment")
    enrol.add("record_id", "text", "Record ID (pseudonymous study code)")
    enrol.add(
        "site", "dropdown", "Site", choices=tuple((c, n) for c, _code, n in site_choices), required=True,
        value_choices=tuple((c, code) for c, code, _n in site_choices),
    )  # fmt: skip
    enrol.add(
        "disease", "radio", "Autoimmune disease treated", choices=tuple((c, t) for c, t, _d in DISEASES),
        required=True, value_choices=tuple((c, d) for c, _t, d in DISEASES),
    )  # fmt: skip
    enrol.add(
        "sex", "radio", "Sex", choices=tuple((c, t) for c, t, _s in SEXES),
        value_choices=tuple((c, s) for c, _t, s in SEXES),
    )  # fmt: skip
    enrol.add("birth_year", "text", "Year of birth", validation="integer", minimum="1900", maximum="2100",
              note="Year only: the registry keeps no full birth dates.")  # fmt: skip
    enrol.add("weight_kg", "text", "Body weight at enrolment (kg)", validation="number", minimum="20", maximum="400")
    enrol.add("height_cm", "text", "Height (cm)", validation="number", minimum="100", maximum="260")
    enrol.add("consent_date", "text", "Date of informed consent", validation="date_ymd")
    enrol.add("age_years", "text", "Age at informed consent (years)", validation="integer", minimum="0", maximum="120")
    enrol.add("race", "dropdown", "Race (as reported by the patient)", choices=_numbered([_sentence(r) for r in RACES]),
              value_choices=_numbered(RACES),
              note="CDISC SDTM RACE; 'Multiple' when more than one is reported.")  # fmt: skip
    enrol.add("ethnicity", "dropdown", "Ethnicity", choices=_numbered([_sentence(e) for e in ETHNICITIES]),
              value_choices=_numbered(ETHNICITIES), note="CDISC SDTM ETHNIC.")  # fmt: skip
    for prefix, disease, form_name in (
        ("sle2019", "SLE", "eligibility_sle"),
        ("ssc2013", "SSc", "eligibility_ssc"),
        ("iim2017", "IIM", "eligibility_iim"),
    ):
        _eligibility(prefix, form(form_name, branching=f"[disease] = '{_code_of(disease)}'"))

    ld = form("lymphodepletion")
    agents = (("fludarabine", "flu", "30"), ("cyclophosphamide", "cy", "1000"), ("bendamustine", "benda", "90"))
    for agent, short, usual in agents:
        ld.header(agent.capitalize())
        ld.add(f"ld_{short}_dose", "text", f"{agent.capitalize()} dose per day (mg/m²)", validation="number",
               minimum="0", maximum="5000", note=f"e.g. {usual} mg/m² per day; leave empty if not given.")  # fmt: skip
        ld.add(f"ld_{short}_first_day", "text", f"{agent.capitalize()}: first study day given", validation="integer",
               minimum="-30", maximum="0", note="Day 0 = CAR-T infusion; e.g. -5.")  # fmt: skip
        ld.add(f"ld_{short}_last_day", "text", f"{agent.capitalize()}: last study day given", validation="integer",
               minimum="-30", maximum="0")  # fmt: skip

    inf = form("infusion")
    inf.add("cart_product", "text", "CAR-T product", required=True, note="Name, construct and manufacture.")
    inf.add(
        "cart_target", "dropdown", "Target antigen", choices=tuple((c, t) for c, t, _v in TARGETS),
        value_choices=tuple((c, v) for c, _t, v in TARGETS), required=True,
    )  # fmt: skip
    inf.add("cart_dose_per_kg", "text", "Dose: CAR+ cells per kg body weight", validation="number",
            minimum="0", maximum="1000000000", note="Dose per kg, e.g. 1000000; empty for a flat dose.")  # fmt: skip
    inf.add("cart_dose_total", "text", "Flat dose: CAR+ cells in total", validation="number", minimum="0",
            maximum="100000000000", note="For a flat dose, e.g. 100000000; empty for a dose per kg.")  # fmt: skip
    inf.add("infusion_date", "text", "Date of the CAR-T infusion (study day 0)", validation="date_ymd", required=True)

    visit = form("visit")
    visit.add("visit_date", "text", "Visit date", validation="date_ymd", required=True)
    visit.observation("temperature", "temperature")

    _lab_fields(form("laboratory"))
    _sle_activity(form("sle_activity", branching=disease_is["SLE"]))
    _ssc_assessment(form("ssc_assessment", branching=disease_is["SSc"]))
    _iim_assessment(form("iim_assessment", branching=disease_is["IIM"]))
    for a in vocabulary.ASSESSMENTS:
        branching = " or ".join(disease_is[d] for d in a.diseases)
        _assessment(a, form(a.prefix, branching=branching if len(a.diseases) < len(DISEASES) else ""))
    _cell_kinetics(form("cell_kinetics"))
    _daily(form("daily_crs_icans"))

    med = form("medications")
    med.add("med_name", "text", "Drug (generic name)", required=True)
    med.add("med_dose", "text", "Dose per administration", validation="number", minimum="0")
    med.add("med_unit", "dropdown", "Dose unit", choices=_numbered([_unit_label(u) for u in MED_UNITS]),
            value_choices=_numbered(MED_UNITS))  # fmt: skip
    med.add("med_route", "dropdown", "Route", choices=_numbered(MED_ROUTES), value_choices=_numbered(MED_ROUTES))
    med.add("med_frequency", "dropdown", "Frequency", choices=_numbered([label for _v, label in MED_FREQUENCIES]),
            value_choices=_numbered([v for v, _label in MED_FREQUENCIES]))  # fmt: skip
    med.add("med_start_date", "text", "Start date", validation="date_ymd")
    med.add("med_stop_date", "text", "Last day taken (empty: ongoing)", validation="date_ymd")
    med.add("med_indication", "checkbox", "Indication", choices=_numbered([label for _v, label in MED_INDICATIONS]),
            value_choices=_numbered([v for v, _label in MED_INDICATIONS]),
            note=f"Read by the drug-free rules ({DRUG_FREE_SOURCE}).")  # fmt: skip

    ae = form("adverse_events")
    ae.add("ae_term", "text", "Adverse event (CTCAE v5.0 term; CRS and ICANS by their ASTCT names)", required=True)
    ae.add("ae_grade", "radio", "Grade (CTCAE v5.0; ASTCT for CRS and ICANS)",
           choices=tuple((str(g), str(g)) for g in range(1, 6)), note=CTCAE_SOURCE)  # fmt: skip
    ae.add("ae_onset_date", "text", "Onset date", validation="date_ymd", required=True)
    ae.add("ae_resolution_date", "text", "Resolution date (empty: ongoing)", validation="date_ymd")
    ae.add("ae_serious", "yesno", "Serious adverse event")
    ae.add("ae_serious_criteria", "checkbox", "Seriousness criteria (ICH E2A)",
           choices=_numbered([_sentence(c) for c in SERIOUSNESS_CRITERIA]),
           value_choices=_numbered(SERIOUSNESS_CRITERIA), branching="[ae_serious] = '1'")  # fmt: skip
    ae.add("ae_relationship", "radio", "Relationship to the CAR-T product (investigator)",
           choices=_numbered([_sentence(r) for r in RELATIONSHIPS]),
           value_choices=_numbered(RELATIONSHIPS))  # fmt: skip
    ae.add("ae_action_taken", "dropdown", "Action taken with the study treatment",
           choices=_numbered([_sentence(a) for a in ACTIONS_TAKEN]), value_choices=_numbered(ACTIONS_TAKEN),
           note="After a single CAR-T infusion given before the event: 'Not applicable'.")  # fmt: skip

    eos = form("end_of_study")
    eos.add("disposition", "dropdown", "Status at the end of participation",
            choices=_numbered([_sentence(d) for d in DISPOSITIONS]), value_choices=_numbered(DISPOSITIONS),
            note="CDISC NCOMPLT. Leave empty while the patient is in follow-up.")  # fmt: skip
    eos.add("disposition_date", "text", "Date of completion or discontinuation", validation="date_ymd")
    eos.add("disposition_reason", "text", "Reason as given (e.g. the patient's words)")

    fields = tuple(f for fm in forms for f in fm.fields)
    repeated = sorted({f.name for f in fields if sum(g.name == f.name for g in fields) > 1})
    if repeated:  # a field name used twice would silently overwrite the other in REDCap
        raise ValueError(f"REDCap field names used twice: {', '.join(repeated)}")
    form_labels = tuple((fm.name, fm.name.replace("_", " ").capitalize()) for fm in forms)
    infusion_event = next((e for e in events if e.day >= 0), events[-1]).unique_name
    every = [e.unique_name for e in events]
    where = {
        "enrolment": [first], "eligibility_sle": [first], "eligibility_ssc": [first], "eligibility_iim": [first],
        "lymphodepletion": [infusion_event], "infusion": [infusion_event], "visit": every, "laboratory": every,
        "sle_activity": every, "ssc_assessment": every, "iim_assessment": every, "cell_kinetics": every,
        "daily_crs_icans": [infusion_event], "medications": [first], "adverse_events": [first],
        "end_of_study": [every[-1]],
        **{a.prefix: every for a in vocabulary.ASSESSMENTS},
    }  # fmt: skip
    form_events = tuple((event, fm.name) for event in every for fm in forms if event in where[fm.name])
    repeat_labels = {
        "cell_kinetics": "Day [kin_study_day]",
        "daily_crs_icans": "Day [dly_study_day]",
        "medications": "[med_name]",
        "adverse_events": "[ae_term] (grade [ae_grade])",
    }
    repeating = tuple(
        (event, form_name, repeat_labels[form_name]) for event, form_name in form_events if form_name in repeat_labels
    )
    if design is not None and not design.visits:
        planned = [
            PlannedVisitRecord(
                label=e.label, day=e.day, visitnum=Decimal(i), window_before=e.window, window_after=e.window
            )
            for i, e in enumerate(events, start=1)
        ]
        design = design.model_copy(update={"visits": planned})
    mapping = _mapping(fields, events, sites, study_code, study_name, countries or {}, design)
    return RedcapTemplate(
        forms=form_labels,
        fields=fields,
        events=events,
        form_events=form_events,
        repeating=repeating,
        mapping=mapping,
        sites=tuple((code, name) for code, name in sites),
    )


def _sentence(term: str) -> str:
    """A CDISC submission value as a form label: ``"NOT HISPANIC OR LATINO"`` -> ``"Not hispanic or latino"``."""
    return term[:1].upper() + term[1:].lower()


def _code_of(disease: str) -> str:
    return next(code for code, _label, d in DISEASES if d == disease)


def visit_window(day: int) -> int:
    """Days a visit on study ``day`` may be done early or late: none within two weeks of the infusion, then
    2 days to day 60, 7 days to day 180 and 14 days after (the template's REDCap offsets; a protocol
    convention, not a published rule)."""
    return 0 if abs(day) <= 14 else 2 if day <= 60 else 7 if day <= 180 else 14


def _event(day: int) -> TemplateEvent:
    name = f"Day minus {-day}" if day < 0 else ("Day 0 (infusion)" if day == 0 else f"Day {day}")
    return TemplateEvent(day, name, unique_event_name(name), f"day {day}", visit_window(day))


def _ref(f: TemplateField) -> FieldRef:
    return FieldRef(field=f.name, choices=dict(f.value_choices) if f.value_choices else None)


def _mapping(
    fields: Sequence[TemplateField],
    events: Sequence[TemplateEvent],
    sites: Sequence[tuple[str, str]],
    study_code: str,
    study_name: str,
    countries: Mapping[str, str],
    design: StudyDesignRecord | None,
) -> RedcapMapping:
    by = {f.name: f for f in fields}
    observations: dict[str, ObservationMap] = {}
    for f in fields:
        if f.code is None:
            continue
        entry = vocabulary.code(f.code)
        if entry.choices:
            observations[f.name] = ObservationMap(code=f.code, choices=dict(f.value_choices))
        elif f.unit_field is not None:
            observations[f.name] = ObservationMap(
                code=f.code, unit_field=f.unit_field, unit_choices=dict(by[f.unit_field].value_choices)
            )
        elif entry.boolean or (entry.unit == "1" and f.unit is None):
            observations[f.name] = ObservationMap(code=f.code, method=entry.method)
        else:
            observations[f.name] = ObservationMap(code=f.code, unit=f.unit or entry.unit, method=entry.method)
    lymphodepletion = [
        LymphodepletionMap(
            agent=agent,
            dose_mg_per_m2=FieldRef(field=f"ld_{short}_dose"),
            first_day=FieldRef(field=f"ld_{short}_first_day"),
            last_day=FieldRef(field=f"ld_{short}_last_day"),
        )
        for agent, short in (("fludarabine", "flu"), ("cyclophosphamide", "cy"), ("bendamustine", "benda"))
    ]
    return RedcapMapping(
        study=StudyMap(code=study_code, name=study_name, design=design),
        sites=[
            SiteMap(code=code, name=name, dag=unique_group_name(name or code), country=countries.get(code))
            for code, name in sites
        ],
        record_id_field="record_id",
        patient=PatientMap(
            site=_ref(by["site"]),
            disease=_ref(by["disease"]),
            sex=_ref(by["sex"]),
            birth_year=_ref(by["birth_year"]),
            weight_kg=_ref(by["weight_kg"]),
            height_cm=_ref(by["height_cm"]),
            race=_ref(by["race"]),
            ethnicity=_ref(by["ethnicity"]),
            age_years=_ref(by["age_years"]),
            consent_date=_ref(by["consent_date"]),
            disposition=_ref(by["disposition"]),
            disposition_date=_ref(by["disposition_date"]),
            disposition_reason=_ref(by["disposition_reason"]),
        ),
        infusion=InfusionMap(
            product=_ref(by["cart_product"]),
            target_antigen=_ref(by["cart_target"]),
            dose_cells_per_kg=_ref(by["cart_dose_per_kg"]),
            dose_cells_total=_ref(by["cart_dose_total"]),
            date=_ref(by["infusion_date"]),
        ),
        lymphodepletion=lymphodepletion,
        visits=VisitsMap(
            date_field="visit_date",
            events={e.unique_name: EventMap(label=e.label, day_offset=e.day) for e in events},
        ),
        observations=observations,
        daily={"daily_crs_icans": DailyMap(day_field="dly_study_day", label="day {day} (daily)")},
        samples={"cell_kinetics": SampleMap(day_field="kin_study_day", date_field="kin_date", label="day {day}")},
        medications=MedicationMap(
            instrument="medications",
            drug=_ref(by["med_name"]),
            dose=_ref(by["med_dose"]),
            unit=_ref(by["med_unit"]),
            route=_ref(by["med_route"]),
            frequency=_ref(by["med_frequency"]),
            start_date=_ref(by["med_start_date"]),
            stop_date=_ref(by["med_stop_date"]),
            indication=_ref(by["med_indication"]),
        ),
        adverse_events=AdverseEventMap(
            instrument="adverse_events",
            term=_ref(by["ae_term"]),
            grade=_ref(by["ae_grade"]),
            onset_date=_ref(by["ae_onset_date"]),
            resolution_date=_ref(by["ae_resolution_date"]),
            serious=_ref(by["ae_serious"]),
            serious_criteria=_ref(by["ae_serious_criteria"]),
            relationship=_ref(by["ae_relationship"]),
            action_taken=_ref(by["ae_action_taken"]),
            astct_terms=["Cytokine release syndrome", "Immune effector cell-associated neurotoxicity syndrome"],
        ),
        ignore=[],
    )


_UPLOAD_README = """\
# immunoreset REDCap project template

Written by `immunoreset redcap template`; checked by `immunoreset redcap check <this folder>`.

- `data_dictionary.csv`: every form and field (types, choices, validation, branching logic, notes citing
  the instruments). REDCap: Project Setup → Data Dictionary → Upload.
- `arms.csv`, `events.csv`: the arm and one event per visit of the schedule (day offsets, windows).
  REDCap: Define My Events → Upload (or the API `arm` and `event` imports).
- `instrument_event_mapping.csv`: which forms are collected at which event.
  REDCap: Designate Instruments for My Events → Upload (or the API `formEventMapping` import).
- `repeating_instruments.csv`: kinetics samples, daily CRS/ICANS, medications and adverse events repeat.
  REDCap: Repeating instruments and events (or the API `repeatingFormsEvents` import).
- `mapping.yaml`: how immunoreset reads the project's exports (keep it with the study).

Order: (1) create a longitudinal project, (2) upload the data dictionary, (3) the arms and events, (4) the
instrument–event mapping, (5) the repeating instruments, (6) one Data Access Group per site, named as the
site (its unique group name must be the `dag` of that site in `mapping.yaml`), so that each site sees only
its own records; the import then checks that every record's group agrees with its site.

Export "CSV / Microsoft Excel (raw data)" of all records and fields, then:

    immunoreset import redcap export.csv --dictionary data_dictionary.csv --mapping mapping.yaml \\
        --events events.csv --db registry.db
"""
