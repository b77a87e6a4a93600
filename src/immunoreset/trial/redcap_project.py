"""A virtual trial written as a REDCap project: the template for its visit schedule and the raw export.

:func:`write_redcap_project` writes what ``immunoreset trial run DESIGN --redcap DIR`` writes: the
template of :mod:`immunoreset.registry.redcap_template` for the design's visits, and the simulated study
as REDCap's "CSV raw" export of that template (:mod:`immunoreset.registry.redcap_writer`). Importing it
(``immunoreset import redcap``) gives the registry the same study the virtual trial wrote directly.

:func:`write_sample_project` makes the sample REDCap project that ships with immunoreset
(``examples/redcap/``): the built-in ``erlangen2024`` design at its seed, the patients spread over two
sites (Erlangen, Hamburg; Hamburg reports CRP, complement and IgG in mg/dL and neutrophils in 10^9/L),
and real-world messiness added on purpose (each listed in the sample's README):

* values exactly at clinical thresholds, each kept on the side it was on for the rule named (a neutrophil
  count of 500/µL is still a severe day for ICAHT, and grade 3, not 4, for CTCAE);
* empty saved repeating instances (a medication with only unticked checkboxes, an adverse event with only
  its form status), which the importer skips and counts;
* trailing spaces after coded values, which the importer strips.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from immunoreset.errors import writing
from immunoreset.instruments.safety import FEVER_CELSIUS, ICAHT_SEVERE
from immunoreset.instruments.sle import DORIS_PGA
from immunoreset.registry.records import ObservationRecord, PatientRecord, SiteRecord, StudyRecord, VisitRecord
from immunoreset.registry.redcap import DAG_COLUMN
from immunoreset.registry.redcap_template import RedcapTemplate, build_template
from immunoreset.registry.redcap_writer import RedcapExport, redcap_export
from immunoreset.trial.design import TrialDesign, load_design
from immunoreset.trial.virtual import SITE, simulate_trial

__all__ = [
    "SAMPLE_SITES",
    "SAMPLE_STUDY",
    "SAMPLE_UNITS",
    "BoundaryEdit",
    "sample_study",
    "write_redcap_project",
    "write_sample_project",
]

SAMPLE_STUDY = ("CART-AI-SAMPLE", "CD19 CAR T cells in autoimmune disease (sample project, virtual patients)")
SAMPLE_SITES: tuple[tuple[str, str], ...] = (("1", "Erlangen"), ("2", "Hamburg"))
SAMPLE_COUNTRY = "DEU"
"""Both sample sites are in Germany (ISO 3166-1 alpha-3)."""
SAMPLE_UNITS = {"2": {"crp_unit": "mg/dL", "complement_unit": "mg/dL", "igg_unit": "mg/dL", "anc_unit": "10*9/L"}}
"""Units in which each sample site reports (unit field -> UCUM); others report in the template's first unit."""
UPCR_PROTEINURIA = Decimal("0.5")
"""SLEDAI-2K proteinuria: > 0.5 g/24 h (Gladman 2002); the virtual trial applies it to the spot UPCR (g/g)."""


def write_redcap_project(
    study: StudyRecord,
    design: TrialDesign,
    folder: Path,
    *,
    site_units: dict[str, dict[str, str]] | None = None,
    edit_rows: Callable[[RedcapTemplate, RedcapExport], None] | None = None,
) -> list[Path]:
    """The template for ``design``'s visits and ``study`` as its REDCap export (``export.csv``) in ``folder``."""
    template = build_template(
        design.visits,
        sites=[(s.code, s.name) for s in study.sites],
        study_code=study.code,
        study_name=study.name,
        countries={s.code: s.country for s in study.sites if s.country is not None},
        design=study.design,
    )
    written = template.write(folder)
    export = redcap_export(study, template, site_units=site_units)
    if edit_rows is not None:
        edit_rows(template, export)
    written.append(export.write(folder / "export.csv"))
    return written


@dataclass(frozen=True)
class BoundaryEdit:
    """One value of the sample set exactly on a clinical threshold (on the side it already was)."""

    patient: str
    visit: str
    code: str
    before: Decimal
    after: Decimal
    rule: str


def _closest(
    study: StudyRecord,
    code: str,
    accept: Callable[[VisitRecord, Decimal], bool],
    threshold: Callable[[VisitRecord], Decimal | None],
) -> tuple[PatientRecord, VisitRecord, ObservationRecord] | None:
    """The accepted observation of ``code`` nearest to its threshold (first in record order on a tie)."""
    best: tuple[Decimal, PatientRecord, VisitRecord, ObservationRecord] | None = None
    for p in study.patients:
        for v in p.visits:
            limit = threshold(v)
            for o in v.observations:
                if o.code != code or o.value is None or limit is None or not accept(v, o.value):
                    continue
                distance = abs(o.value - limit)
                if best is None or distance < best[0]:
                    best = (distance, p, v, o)
    return None if best is None else best[1:]


def _value(v: VisitRecord, code: str) -> Decimal | None:
    return next((o.value for o in v.observations if o.code == code), None)


def _at_thresholds(study: StudyRecord) -> list[BoundaryEdit]:
    """Move one value per rule onto its threshold, keeping the side it was on (no result changes)."""

    def fixed(value: Decimal) -> Callable[[VisitRecord], Decimal | None]:
        return lambda v: value

    rules: Sequence[
        tuple[str, Callable[[VisitRecord, Decimal], bool], Callable[[VisitRecord], Decimal | None], str]
    ] = (
        ("crs_temperature", lambda v, x: x > FEVER_CELSIUS, fixed(FEVER_CELSIUS),
         "ASTCT fever: temperature >= 38.0 °C, still fever"),
        ("sle_pga", lambda v, x: x > DORIS_PGA, fixed(DORIS_PGA), "DORIS: PGA < 0.5, 0.5 is not remission"),
        ("anc", lambda v, x: v.kind == "daily" and x < ICAHT_SEVERE, fixed(ICAHT_SEVERE),
         "early ICAHT: days with ANC <= 500/µL, still counted; CTCAE v5.0 grade 4 is < 500/µL, so the "
         "neutrophil grade of that day becomes 3"),
        ("upcr", lambda v, x: x < UPCR_PROTEINURIA, fixed(UPCR_PROTEINURIA),
         "SLEDAI-2K proteinuria: > 0.5, 0.5 is not proteinuria"),
        ("c3", lambda v, x: x > (_value(v, "c3_lln") or x), lambda v: _value(v, "c3_lln"),
         "low complement: C3 < LLN, C3 = LLN is not low"),
    )  # fmt: skip
    edits: list[BoundaryEdit] = []
    for code, accept, threshold, rule in rules:
        found = _closest(study, code, accept, threshold)
        if found is None:  # pragma: no cover - the sample design always has such values
            continue
        p, v, o = found
        after = threshold(v)
        assert o.value is not None and after is not None
        edits.append(BoundaryEdit(p.code, v.label, code, o.value, after, rule))
        o.value = after
    return edits


def sample_study(seed: int | None = None) -> tuple[StudyRecord, TrialDesign, list[BoundaryEdit]]:
    """The sample project's study: ``erlangen2024`` simulated, spread over the two sample sites, with
    values set on thresholds (the edits are returned)."""
    design = load_design("erlangen2024")
    trial = simulate_trial(design, seed=seed)
    patients = [
        p.model_copy(update={"site": SAMPLE_SITES[1 if k % 3 == 2 else 0][0]}, deep=True)
        for k, p in enumerate(trial.study.patients)
    ]
    assert all(p.site != SITE.code for p in patients)
    virtual = trial.study.design
    assert virtual is not None  # a virtual trial always carries its design
    study = StudyRecord(
        code=SAMPLE_STUDY[0],
        name=SAMPLE_STUDY[1],
        design=virtual.model_copy(update={"title": SAMPLE_STUDY[1]}),
        sites=[SiteRecord(code=c, name=n, country=SAMPLE_COUNTRY) for c, n in SAMPLE_SITES],
        patients=patients,
    )
    edits = _at_thresholds(study)
    return study, design, edits


def _messy(template: RedcapTemplate, export: RedcapExport) -> list[str]:
    """Add empty saved instances and trailing spaces to the rows; returns what was done, one line each."""
    header, rows = export.header, export.rows
    col = {c: i for i, c in enumerate(header)}
    done: list[str] = []
    first = template.first_event.unique_name
    records = list(dict.fromkeys(r[0] for r in rows))
    for record, form in ((records[1], "medications"), (records[9], "adverse_events")):
        last = max((int(r[3]) for r in rows if r[0] == record and r[2] == form), default=0)
        row = [""] * len(header)
        row[0], row[1], row[2], row[3] = record, first, form, str(last + 1)
        for f in template.fields:
            if f.form == form and f.type == "checkbox":
                for code_, _label in f.choices:
                    row[col[f"{f.name}___{code_}"]] = "0"
        row[col[f"{form}_complete"]] = "0"
        if DAG_COLUMN in col:  # REDCap writes the record's group on every row
            row[col[DAG_COLUMN]] = next(r for r in rows if r[0] == record)[col[DAG_COLUMN]]
        at = max(i for i, r in enumerate(rows) if r[0] == record and r[2] == form) + 1 if last else len(rows)
        rows.insert(at, row)
        done.append(f"record {record}: an empty saved {form} instance #{last + 1} (nothing entered)")
    spaced = 0
    for r in rows:
        for name in ("sex", "crs_hypotension"):
            if r[col[name]] and spaced < 6 and r[0] in records[::4]:
                r[col[name]] += " "
                spaced += 1
    done.append(f"{spaced} coded values with a trailing space (fields sex and crs_hypotension)")
    return done


_SAMPLE_README = """\
# Sample REDCap project (virtual patients)

A REDCap project made with the immunoreset template and filled by a virtual trial, so that the README's tour,
the docs and the tests have a realistic export to work on. No real patient is in it.

Made by `immunoreset redcap sample --out DIR`: the built-in design `erlangen2024` (15 patients: 8 SLE, 3 IIM,
4 SSc; seed {seed}) simulated, every third patient placed at site 2, written as the template's raw export.

- Sites: 1 Erlangen; 2 Hamburg, which reports CRP, C3/C4 and IgG in mg/dL and neutrophils in 10^9/L.
- Calendar dates: infusion of the first patient on 2024-01-08, one every 11 days; every date is the
  infusion date plus the study day.

Real-world messiness, on purpose:

{messy}

Values set exactly on a clinical threshold (each on the side it already was for the rule named):

{edits}

Files: `export.csv` (the records) and the project files of `immunoreset redcap template` (`data_dictionary.csv`,
`arms.csv`, `events.csv`, `instrument_event_mapping.csv`, `repeating_instruments.csv`, `mapping.yaml`).
"""


def write_sample_project(folder: Path, *, seed: int | None = None) -> list[Path]:
    """Write the sample project into ``folder`` (module docstring); returns the files written."""
    study, design, edits = sample_study(seed)
    notes: list[str] = []

    def edit(template: RedcapTemplate, export: RedcapExport) -> None:
        notes.extend(_messy(template, export))

    written = write_redcap_project(study, design, folder, site_units=SAMPLE_UNITS, edit_rows=edit)
    text = _SAMPLE_README.format(
        seed=design.seed if seed is None else seed,
        messy="\n".join(f"- {n}" for n in notes),
        edits="\n".join(f"- {e.patient}, {e.visit}: {e.code} {e.before} -> {e.after} ({e.rule})" for e in edits),
    )
    readme = folder / "README.md"
    with writing(readme, "sample README"):
        readme.write_text(text, encoding="utf-8")
    return written
