"""A virtual trial written as registry records: ``simulate_trial(design) -> VirtualTrial``.

Every virtual patient becomes a :class:`~immunoreset.registry.records.PatientRecord` exactly as a real
patient would: raw observations at scheduled visits (laboratory values with units and the laboratory's
limits, instrument items, global assessments, lung function, cellular kinetics), daily CRS/ICANS
assessment visits with the neutrophil count, medication records (background immunosuppressants with
their stop day, the glucocorticoid taper as prednisolone prescriptions, anti-infective prophylaxis) and
adverse events (CRS and ICANS graded by the ASTCT instruments from the daily assessments; infections
graded by CTCAE). No disease score is stored: DORIS, LLDAS, TIS, EUSTAR-AI, CRISS, ICAHT are computed
downstream from these records by the same code as for real patients.

Per cohort the disease's model spec is simulated daily by the engine (SLE: ``park2025``; IIM:
``iim_cart``; SSc: ``ssc_cart``) with the patients' log-normal IIV, body weight, the design's product and
the lymphodepletion amount ``Σ dose_mg_per_m2 × days × BSA`` (Mosteller). Covariates named like a model
input (e.g. ``ck0``, ``mrss0``, ``naive0``) set that input per patient.

Visits (labels ``day <d>``): laboratory values and cellular kinetics at every scheduled visit; disease
assessments (instrument items, globals, HAQ-DI, lung function) at visits before day 0 and from day 14
on. Before day 0 the patient is at the model's baseline (CAR-T count 0). Daily visits (``day <d>
(daily)``, ``kind="daily"``) on days 0-30 carry the ASTCT CRS/ICANS assessment and the neutrophil count;
scheduled visits in that window carry no second neutrophil count.

Randomness: patient *k* of a cohort uses its own generators seeded by ``(seed, disease, k)``, so the same
seed gives identical records and a patient's draws do not depend on the cohort size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import immunoreset
from immunoreset.errors import InvalidInput
from immunoreset.models import ModelSpec, get_model
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
from immunoreset.registry.redcap_template import visit_window
from immunoreset.registry.redcap_writer import ENROLMENT_INTERVAL_DAYS
from immunoreset.simulate import Population, input_vector, sample_population, simulate_population
from immunoreset.trial import observation_iim, observation_ssc
from immunoreset.trial.design import (
    DISEASE_MODELS,
    Cohort,
    TrialDesign,
    load_design,
    lymphodepletion_intensity,
    lymphodepletion_kpd_amount,
    model_for,
)
from immunoreset.trial.emit import coded, decimal, lab_noise, numeric, yes_no
from immunoreset.trial.infections import InfectionModelParameters, simulate_infections
from immunoreset.trial.observation_sle import SLEObservationParameters, draw_traits, lagged_activity, observe_visit
from immunoreset.trial.safety_model import CRSModelParameters, simulate_crs_icans

__all__ = ["DISEASE_MODELS", "SITE", "VirtualTrial", "simulate_trial"]

SITE = SiteRecord(code="VIRTUAL", name="Virtual site (simulation)")
_DISEASE_INDEX = {"SLE": 1, "IIM": 2, "SSc": 3}
REFERENCE_YEAR = 2024
"""Nominal infusion year used only to turn an age into a birth year (no calendar dates are written)."""
DAILY_WINDOW = 30
"""Daily CRS/ICANS/ANC assessments on study days 0..30 (the early ICAHT window)."""
ASSESSMENT_FROM_DAY = 14
"""Disease assessments at visits before day 0 and from this day on (inpatient phase: labs only)."""
KINETICS_CV = 0.15
"""Measurement error of flow-cytometric CAR-T and B-cell counts (CV; assumption)."""
ANC_CV = 0.05
"""Measurement error of the neutrophil count (CV; assumption)."""
FLOW_LLOQ = 0.01
"""Cell counts below 0.01/µL are recorded as 0 (detection limit of the flow assay; assumption)."""
NAIVE_MIN_B_CELLS = 1.0
"""The naive B-cell percentage is recorded only when there are at least 1 B cell/µL (assumption)."""

_DAILY_COLUMNS: dict[str, dict[str, tuple[str, float]]] = {
    "common": {
        "totalCart": ("car_t_per_ul", 1.0),
        "bCell": ("b_cells_per_ul", 1.0),
        "neut": ("anc_per_ul", 1.0),
        "bNaiveFraction": ("naive_b_fraction", 1.0),
        "IgG": ("igg_g_per_l", 1.0),
        "diseaseDrive": ("disease_drive", 1.0),
        "plasmaCells": ("plasma_cells_relative", 1.0),
    },
    "SLE": {
        "antiDsDNA": ("anti_dsdna_iu_per_ml", 1e-3),
        "complementC3": ("c3_g_per_l", 1e-3),
        "proteinuria": ("upcr_g_per_g", 1e-3),
        "protectiveAntibody": ("protective_antibody_relative", 1.0),
        "plasmablasts": ("plasmablasts_relative", 1.0),
        "llpcAutoreactive": ("llpc_autoreactive_relative", 1.0),
    },
    "IIM": {
        "ck": ("ck_u_per_l", 1.0),
        "aldolase": ("aldolase_u_per_l", 1.0),
        "mmt8": ("mmt8_total", 1.0),
        "haqDi": ("haq_di", 1.0),
        "physicianGlobal": ("physician_global", 1.0),
        "patientGlobal": ("patient_global", 1.0),
        "extramuscularGlobal": ("extramuscular_global", 1.0),
        "antiSynthetase": ("autoantibody_relative", 1.0),
        "muscleInflammation": ("inflammation", 1.0),
    },
    "SSc": {
        "mrss": ("mrss_total", 1.0),
        "crp": ("crp_mg_per_l", 1.0),
        "fvc": ("fvc_pct", 1.0),
        "dlco": ("dlco_pct", 1.0),
        "patientGlobal": ("patient_global", 1.0),
        "physicianGlobal": ("physician_global", 1.0),
        "haqDi": ("haq_di", 1.0),
        "antiScl70": ("autoantibody_relative", 1.0),
        "inflammation": ("inflammation", 1.0),
    },
}
_KNOWN_COVARIATES = {"weight_kg", "height_cm", "age_years", "female"}
_OBSERVATION_COVARIATES = {"SSc": {"anti_scl70_u_per_ml"}, "IIM": set(), "SLE": set()}


@dataclass(frozen=True)
class VirtualTrial:
    """A simulated trial: the registry study, daily model outputs and provenance."""

    study: StudyRecord
    """The study as registry records (source ``simulation``, one site ``VIRTUAL``)."""
    daily: pd.DataFrame
    """Daily model outputs: patient, disease, study_day, car_t_per_ul, b_cells_per_ul, naive_b_fraction,
    anc_per_ul, igg_g_per_l, disease_drive and the disease readouts (NaN where a model has none)."""
    provenance: dict[str, Any]
    """Design name and SHA-256, seed, toolkit version, models with parameter values, individual parameters,
    observation/safety/infection model parameters."""


def body_surface_area(weight_kg: float, height_cm: float) -> float:
    """Mosteller body-surface area, m² (Mosteller RD. N Engl J Med 1987;317:1098)."""
    if weight_kg <= 0 or height_cm <= 0:
        raise InvalidInput("weight_kg/height_cm", (weight_kg, height_cm), "positive numbers")
    return math.sqrt(height_cm * weight_kg / 3600.0)


DEFAULT_HEIGHT_CM = 170.0
"""Height used for the body-surface area of a design without lymphodepletion that draws no height (BSA then
enters nothing); with lymphodepletion the design must draw height_cm."""
_DESIGN_FIELD_OF_INPUT = {
    "Dose": "product.dose_car_cells_per_kg / dose_car_cells (× infusions.0.dose_fraction)",
    "Dose2": "product dose × infusions.1.dose_fraction",
    "Dose3": "product dose × infusions.2.dose_fraction",
    "Dose_LDC": "lymphodepletion (before_infusion 1)",
    "Dose_LDC2": "lymphodepletion (before_infusion 2)",
    "Dose_LDC3": "lymphodepletion (before_infusion 3)",
    "ld_intensity": "lymphodepletion (before_infusion 1)",
    "WT": "cohorts.covariates.weight_kg",
}
"""The design field behind each model input, for errors that only a drawn patient reveals (flat dose ÷ weight)."""


def regimen_inputs(design: TrialDesign, weight_kg: float, height_cm: float) -> dict[str, float]:
    """Model inputs of the design's product and regimen for one patient (predictive specs; models/regimen.py).

    Infusion *k*: ``Dose`` (k = 1, at t = 0), ``Dose2``/``t_dose2``, ``Dose3``/``t_dose3`` in CAR⁺ cells/kg
    (a flat dose divided by the weight, times the infusion's ``dose_fraction``). Lymphodepletion before
    infusion *k*: Park's K-PD amount by drug (:func:`~immunoreset.trial.design.lymphodepletion_kpd_amount`, BSA
    by Mosteller) entered at that infusion (``Dose_LDC``, ``Dose_LDC2``, ``Dose_LDC3``), and the intensity of
    the first course
    (:func:`~immunoreset.trial.design.lymphodepletion_intensity`, ``ld_intensity``). The product sets
    ``costim_cd28``, ``allogeneic``, ``hla_edited`` and (with more than one infusion: the ``_redose`` variant)
    ``immunogenic``.
    """
    product = design.product
    bsa = body_surface_area(weight_kg, height_cm)
    per_kg = product.dose_per_kg(weight_kg)
    inputs: dict[str, float] = {
        "pct4": product.cd4_fraction * 100,
        "pct8": product.cd8_fraction * 100,
        "pctN": product.phenotype["naive"] * 100,
        "pctCM": product.phenotype["central_memory"] * 100,
        "pctEM": product.phenotype["effector_memory"] * 100,
        "pctEF": product.phenotype["effector"] * 100,
        "WT": weight_kg,
        "ld_intensity": lymphodepletion_intensity(design.lymphodepletion_for(1)),
        "costim_cd28": 1.0 if product.costimulatory_domain == "CD28" else 0.0,
        "allogeneic": 1.0 if product.origin == "allogeneic" else 0.0,
        "hla_edited": 1.0 if product.hla_edited else 0.0,
    }
    if len(design.infusions) > 1:  # the _redose variant's inputs
        inputs["immunogenic"] = 1.0 if product.anti_car_immunity else 0.0
    for k, infusion in enumerate(design.infusions, start=1):
        suffix = "" if k == 1 else str(k)
        inputs[f"Dose{suffix}"] = per_kg * infusion.dose_fraction
        inputs[f"Dose_LDC{suffix}"] = lymphodepletion_kpd_amount(design.lymphodepletion_for(k), bsa)
        if k > 1:
            inputs[f"t_dose{k}"] = float(infusion.day)
    return inputs


def _design_and_hash(design: TrialDesign | str | Path) -> tuple[TrialDesign, str]:
    if isinstance(design, TrialDesign):
        return design, hashlib.sha256(design.model_dump_json().encode()).hexdigest()
    loaded = load_design(design)
    path = Path(design)
    if path.is_file():
        return loaded, hashlib.sha256(path.read_bytes()).hexdigest()
    from importlib import resources

    text = resources.files("immunoreset").joinpath(f"data/designs/{design}.yaml").read_bytes()
    return loaded, hashlib.sha256(text).hexdigest()


def simulate_trial(
    design: TrialDesign | str | Path,
    *,
    seed: int | None = None,
    patients: int | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> VirtualTrial:
    """Simulate every cohort of ``design`` and write the virtual patients as registry records.

    ``seed`` overrides the design's seed; ``patients`` rescales the cohorts proportionally (each cohort at
    least one patient; :meth:`TrialDesign.resized`); ``progress`` receives the number of patients
    simulated as each cohort finishes; ``workers`` processes (default: all cores) simulate the cohorts
    side by side (each cohort's model is compiled once, in its own process).
    """
    trial_design, digest = _design_and_hash(design)
    if patients is not None:
        trial_design = trial_design.resized(patients)
    base_seed = trial_design.seed if seed is None else seed
    all_patients: list[PatientRecord] = []
    frames: list[pd.DataFrame] = []
    models: dict[str, Any] = {}
    individual: dict[str, dict[str, float]] = {}
    prepared = [_prepare_cohort(trial_design, cohort, base_seed) for cohort in trial_design.cohorts]
    days = np.arange(0, trial_design.follow_up_days + 1, dtype=float)
    tables = _simulate_all([p.population for p in prepared], days, progress, workers)
    for cohort, ready, table in zip(trial_design.cohorts, prepared, tables, strict=True):
        arm = _cohort_records(trial_design, cohort, ready, table, days)
        all_patients += arm.patients
        frames.append(arm.daily)
        spec = get_model(model_for(cohort.disease, trial_design.product.target, len(trial_design.infusions)))
        models[spec.name] = {
            "title": spec.title,
            "citation": spec.citation,
            "parameters": {p.name: cohort.model_parameters.get(p.name, p.value) for p in spec.parameters},
            "changed_from_spec": dict(cohort.model_parameters),
            "omega": {p.name: p.omega for p in spec.iiv_parameters()},
        }
        individual.update(arm.individual)
    all_patients = _on_the_calendar(all_patients, trial_design.first_infusion_date)
    study = StudyRecord(
        code=trial_design.name[:40],
        name=f"Virtual trial: {trial_design.name}"[:200],
        source="simulation",
        design=study_design_record(trial_design),
        sites=[SITE.model_copy(update={"country": trial_design.country})],
        patients=all_patients,
    )
    daily = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    provenance: dict[str, Any] = {
        "design": trial_design.name,
        "design_sha256": digest,
        "seed": base_seed,
        "patients": {c.disease: c.size for c in trial_design.cohorts},
        "toolkit_version": getattr(immunoreset, "__version__", "unknown"),
        "models": models,
        "individual_parameters": individual,
        "observation_models": {
            "SLE": asdict(SLEObservationParameters()),
            "IIM": asdict(observation_iim.IIMObservationParameters()),
            "SSc": asdict(observation_ssc.SScObservationParameters()),
        },
        "crs_icans_model": asdict(CRSModelParameters()),
        "infection_model": asdict(InfectionModelParameters()),
    }
    return VirtualTrial(study=study, daily=daily, provenance=provenance)


@dataclass(frozen=True)
class _Arm:
    patients: list[PatientRecord]
    daily: pd.DataFrame
    individual: dict[str, dict[str, float]]


def _patient_rngs(seed: int, disease: str, index: int) -> dict[str, np.random.Generator]:
    streams = ("covariates", "observation", "safety", "infection", "medication")
    return {name: np.random.default_rng([seed, _DISEASE_INDEX[disease], index, k]) for k, name in enumerate(streams)}


def _draw_covariates(cohort: Cohort, spec: ModelSpec, rng: np.random.Generator) -> dict[str, float]:
    allowed = _KNOWN_COVARIATES | set(spec.input_names) | _OBSERVATION_COVARIATES[cohort.disease]
    unknown = sorted(set(cohort.covariates) - allowed)
    if unknown:
        raise InvalidInput(f"cohorts.{cohort.disease}.covariates", unknown[0], f"one of {', '.join(sorted(allowed))}")
    return {name: float(dist.sample(rng, 1)[0]) for name, dist in sorted(cohort.covariates.items())}


@dataclass(frozen=True)
class _Prepared:
    population: Population
    covariates: list[dict[str, float]]
    rngs: list[dict[str, np.random.Generator]]
    ssc_traits: list[observation_ssc.SScPatientTraits]
    ssc_params: observation_ssc.SScObservationParameters


def _prepare_cohort(design: TrialDesign, cohort: Cohort, seed: int) -> _Prepared:
    """Covariates (SSc: with the eligibility screen), observation generators and the model population."""
    disease = cohort.disease
    spec = get_model(model_for(disease, design.product.target, len(design.infusions)))
    n = cohort.size
    rngs = [_patient_rngs(seed, disease, i) for i in range(1, n + 1)]
    ssc_params = observation_ssc.SScObservationParameters()
    covariates: list[dict[str, float]] = []
    ssc_traits: list[observation_ssc.SScPatientTraits] = []
    for r in rngs:
        cov = _draw_covariates(cohort, spec, r["covariates"])
        if disease == "SSc":
            # eligibility: active disease at screening (redraw the candidate otherwise)
            for _ in range(500):
                traits = observation_ssc.draw_traits(
                    r["covariates"], anti_scl70_baseline=cov.get("anti_scl70_u_per_ml", 150.0), params=ssc_params
                )
                state = {k: cov.get(k, spec.input(k).value) for k in ("mrss0", "crp0", "dlco0")}
                score = observation_ssc.baseline_eustar_ai(
                    traits, mrss0=state["mrss0"], crp0=state["crp0"], dlco0=state["dlco0"]
                )
                if score >= Decimal(str(ssc_params.minimum_baseline_eustar_ai)):
                    break
                cov = _draw_covariates(cohort, spec, r["covariates"])
            else:  # pragma: no cover - the design's distributions make active disease common
                raise InvalidInput("SSc covariates", cohort.covariates, "distributions that allow active disease")
            ssc_traits.append(traits)
        covariates.append(cov)

    pop = sample_population(
        spec,
        n,
        seed=int(np.random.default_rng([seed, _DISEASE_INDEX[disease]]).integers(2**31)),
        typical=cohort.model_parameters,
    )
    for i, cov in enumerate(covariates):
        overrides = {
            **regimen_inputs(design, cov["weight_kg"], cov.get("height_cm", DEFAULT_HEIGHT_CM)),
            **{k: v for k, v in cov.items() if k in spec.input_names},
        }
        try:
            pop.inputs[i] = input_vector(spec, overrides)
        except InvalidInput as err:
            field = _DESIGN_FIELD_OF_INPUT.get(err.field, f"cohorts.{disease}.covariates.{err.field}")
            raise InvalidInput(
                field,
                err.value,
                f"a design giving {err.field} {err.expected} for every patient ({disease}-{i + 1:02d})",
            ) from None
    return _Prepared(pop, covariates, rngs, ssc_traits, ssc_params)


def _simulate_all(
    populations: list[Population], days: np.ndarray, progress: Callable[[int], None] | None, workers: int | None
) -> list[pd.DataFrame]:
    """Simulate each cohort's population (side by side in processes when ``workers`` > 1)."""
    nworkers = min(workers if workers is not None else (os.cpu_count() or 1), len(populations))
    if nworkers <= 1:
        return [simulate_population(pop, days, workers=1, progress=progress) for pop in populations]
    with ProcessPoolExecutor(max_workers=nworkers) as pool:
        futures = [pool.submit(simulate_population, pop, days, workers=1) for pop in populations]
        tables = []
        for pop, future in zip(populations, futures, strict=True):
            tables.append(future.result())
            if progress:
                progress(pop.n)
    return tables


_DISEASE_TITLES = {
    "SLE": "Systemic lupus erythematosus",
    "SSc": "Systemic sclerosis",
    "IIM": "Idiopathic inflammatory myopathy",
}
_CLASSIFICATION = {
    "SLE": "the 2019 EULAR/ACR classification criteria",
    "SSc": "the 2013 ACR/EULAR classification criteria",
    "IIM": "the 2017 EULAR/ACR classification criteria",
}


def _consent_day(design: TrialDesign) -> int:
    """Virtual patients consent on the first day anything happens to them: a visit or lymphodepletion."""
    return min([*design.visits, *(day for a in design.lymphodepletion_for(1) for day in a.days)])


def _on_the_calendar(patients: list[PatientRecord], first: dt.date | None) -> list[PatientRecord]:
    """Patients with nominal infusion dates (the first on ``first``, then one every
    :data:`~immunoreset.registry.redcap_writer.ENROLMENT_INTERVAL_DAYS` days, in record order); every other
    date follows from the study days. Without ``first`` the patients are returned as they are."""
    if first is None:
        return patients
    dated = []
    for k, p in enumerate(patients):
        assert p.infusion is not None  # every virtual patient is infused
        infusion = p.infusion.model_copy(update={"date": first + dt.timedelta(days=k * ENROLMENT_INTERVAL_DAYS)})
        dated.append(p.model_copy(update={"infusion": infusion}))
    return dated


def study_design_record(design: TrialDesign) -> StudyDesignRecord:
    """The registry's study metadata of a virtual trial (SDTM TS, TV): phase "NOT APPLICABLE", the design's
    visit schedule as planned visits with the REDCap template's windows, and as eligibility the one criterion
    the simulation represents: each cohort's disease by its classification criteria (virtual patients are
    sampled from the disease's population, not screened)."""
    diseases = [c.disease for c in design.cohorts]
    first = design.first_infusion_date
    start = first + dt.timedelta(days=_consent_day(design)) if first is not None else None
    return StudyDesignRecord(
        title=f"Virtual trial {design.name}, simulated with immunoreset"[:200],
        start_date=start,
        phase="NOT APPLICABLE",
        sponsor="Not applicable (virtual trial simulated with immunoreset)",
        indication="; ".join(_DISEASE_TITLES[d] for d in diseases),
        planned_subjects=sum(c.size for c in design.cohorts),
        visits=[
            PlannedVisitRecord(
                label=_label(d), day=d, visitnum=Decimal(k), window_before=visit_window(d), window_after=visit_window(d)
            )
            for k, d in enumerate(design.visits, start=1)
        ],
        criteria=[
            EligibilityCriterionRecord(
                code=f"INCL{k:02d}",
                text=f"{_DISEASE_TITLES[d]} fulfilling {_CLASSIFICATION[d]} (virtual cohort)",
                category="INCLUSION",
            )
            for k, d in enumerate(diseases, start=1)
        ],
    )


def _attributed(event: AdverseEventRecord, design: TrialDesign) -> AdverseEventRecord:
    """A simulated adverse event with causality and action: CRS and ICANS are caused by the CAR-T cells by
    definition (ASTCT); the infection model does not attribute infections (left empty). After a single
    infusion nothing can be done with the product any more (AEACN "NOT APPLICABLE"); with re-dosing the
    action is not simulated (left empty). A simulated event is serious by the grade >= 3 rule and is then
    recorded as "medically important" (ICH E2A), the one criterion the simulation can claim."""
    related = event.grading == "ASTCT"
    return event.model_copy(
        update={
            "relationship": "RELATED" if related else None,
            "action_taken": "NOT APPLICABLE" if len(design.infusions) == 1 else None,
            "serious_criteria": ["medically important"] if event.serious else [],
        }
    )


def _cohort_records(
    design: TrialDesign, cohort: Cohort, ready: _Prepared, table: pd.DataFrame, days: np.ndarray
) -> _Arm:
    """Registry records and the daily table of one simulated cohort."""
    disease = cohort.disease
    pop = ready.population
    spec = pop.spec
    n = pop.n
    codes = [f"{disease}-{i:02d}" for i in range(1, n + 1)]
    rngs, covariates, ssc_traits, ssc_params = ready.rngs, ready.covariates, ready.ssc_traits, ready.ssc_params
    outputs = {name: table[name].to_numpy(dtype=float).reshape(n, days.size) for name in spec.output_names}
    product = design.product

    records: list[PatientRecord] = []
    consent_day = _consent_day(design)
    for i, pcode in enumerate(codes):
        own = {name: values[i] for name, values in outputs.items()}
        r = rngs[i]
        cov = covariates[i]
        if disease == "SLE":
            visits = _sle_visits(design, own, r["observation"])
        elif disease == "IIM":
            visits = _model_visits(design, own, _iim_observer(r["observation"], cov), r["observation"])
        else:
            visits = _model_visits(
                design, own, _ssc_observer(r["observation"], ssc_traits[i], ssc_params), r["observation"]
            )
        daily_visits, safety_events = _safety(design, own, r["safety"], r["observation"])
        infections = simulate_infections(own["neut"], own["bCell"], r["infection"])
        records.append(
            PatientRecord(
                code=pcode,
                site=SITE.code,
                disease=disease,
                sex="F" if cov.get("female", 1.0) >= 0.5 else "M",
                birth_year=REFERENCE_YEAR - int(cov.get("age_years", 40.0)),
                age_years=int(cov.get("age_years", 40.0)),
                race="NOT REPORTED",
                ethnicity="NOT REPORTED",
                consent_day=consent_day,
                disposition="COMPLETED",
                disposition_day=max(v.study_day for v in visits if v.study_day is not None),
                weight_kg=decimal(cov["weight_kg"], 1),
                height_cm=decimal(cov["height_cm"], 1) if "height_cm" in cov else None,
                infusion=InfusionRecord(
                    product=product.name,
                    target_antigen=product.target,
                    dose_cells_per_kg=_dose(product.dose_car_cells_per_kg, design.infusions[0].dose_fraction),
                    dose_cells_total=_dose(product.dose_car_cells, design.infusions[0].dose_fraction),
                ),
                lymphodepletion=[
                    LymphodepletionRecord(
                        agent=a.agent,
                        dose_mg_per_m2=Decimal(repr(a.dose_mg_per_m2)),
                        first_day=min(a.days),
                        last_day=max(a.days),
                    )
                    for a in design.lymphodepletion_for(1)
                ],
                visits=sorted(visits + daily_visits, key=lambda v: (v.study_day or 0, v.kind != "scheduled")),
                medications=_reinfusions(design) + _medications(design, cohort, r["medication"]),
                adverse_events=[_attributed(event, design) for event in safety_events + infections],
            )
        )
    daily = pd.DataFrame(
        {
            "patient": np.repeat(codes, days.size),
            "disease": disease,
            "study_day": np.tile(days.astype(int), n),
        }
    )
    for group in ("common", disease):
        for output, (column, factor) in _DAILY_COLUMNS[group].items():
            if output in outputs:
                daily[column] = outputs[output].reshape(-1) * factor
    iiv = [p.name for p in spec.iiv_parameters()]
    params = pop.params
    individual = {
        pcode: {name: float(params[i, spec.parameter_names.index(name)]) for name in iiv}
        for i, pcode in enumerate(codes)
    }
    for i, pcode in enumerate(codes):
        individual[pcode].update({f"input:{k}": float(v) for k, v in zip(spec.input_names, pop.inputs[i], strict=True)})
    return _Arm(records, daily, individual)


Observer = Callable[[dict[str, float], bool], list[ObservationRecord]]


def _iim_observer(rng: np.random.Generator, covariates: dict[str, float]) -> Observer:
    traits = observation_iim.draw_traits(rng, female=covariates.get("female", 1.0) >= 0.5)

    def observe(state: dict[str, float], assessment: bool) -> list[ObservationRecord]:
        return observation_iim.observe_visit(traits, state, rng, assessment=assessment)

    return observe


def _ssc_observer(
    rng: np.random.Generator, traits: observation_ssc.SScPatientTraits, params: observation_ssc.SScObservationParameters
) -> Observer:
    def observe(state: dict[str, float], assessment: bool) -> list[ObservationRecord]:
        return observation_ssc.observe_visit(traits, state, rng, assessment=assessment, params=params)

    return observe


def _label(day: int, daily: bool = False) -> str:
    return f"day {day} (daily)" if daily else f"day {day}"


def _kinetics(own: dict[str, np.ndarray], day: int, rng: np.random.Generator) -> list[ObservationRecord]:
    """CAR-T and B cells (flow cytometry), naive B-cell %, IgG and, outside the daily window, ANC."""
    at = max(day, 0)
    car_t = 0.0 if day < 0 else lab_noise(float(own["totalCart"][at]), KINETICS_CV, rng)
    b_cells = lab_noise(float(own["bCell"][at]), KINETICS_CV, rng)
    out = [
        numeric("car_t_cells", car_t if car_t >= FLOW_LLOQ else 0.0, 2),
        numeric("cd19_b_cells", b_cells if b_cells >= FLOW_LLOQ else 0.0, 2),
    ]
    if "bNaiveFraction" in own and b_cells >= NAIVE_MIN_B_CELLS:
        out.append(numeric("naive_b_cell_pct", 100.0 * float(own["bNaiveFraction"][at]), 1))
    elif "bReconstituted" in own and day > 0 and b_cells >= NAIVE_MIN_B_CELLS:
        # Park 2025 (SLE) has no B-cell phenotype: after the infusion, the reconstituted pool is the naive
        # share and the surviving pre-existing pool is counted as non-naive (assumption, docs/trial.md).
        total = max(float(own["bCell"][at]), 1e-12)
        out.append(numeric("naive_b_cell_pct", min(100.0, 100.0 * float(own["bReconstituted"][at]) / total), 1))
    if "IgG" in own:
        out.append(numeric("igg", lab_noise(float(own["IgG"][at]), ANC_CV, rng), 2))
    if not 0 <= day <= DAILY_WINDOW:
        out.append(numeric("anc", lab_noise(float(own["neut"][at]), ANC_CV, rng), 0))
    return out


def _assessment_visit(day: int) -> bool:
    return day < 0 or day >= ASSESSMENT_FROM_DAY


def _model_visits(
    design: TrialDesign,
    own: dict[str, np.ndarray],
    observe: Observer,
    rng: np.random.Generator,
) -> list[VisitRecord]:
    visits = []
    for number, day in enumerate(design.visits, start=1):
        at = max(day, 0)
        state = {name: float(values[at]) for name, values in own.items()}
        observations = observe(state, _assessment_visit(day)) + _kinetics(own, day, rng)
        visits.append(
            VisitRecord(label=_label(day), study_day=day, visitnum=Decimal(number), observations=observations)
        )
    return visits


def _sle_visits(design: TrialDesign, own: dict[str, np.ndarray], rng: np.random.Generator) -> list[VisitRecord]:
    """The SLE observation model (:mod:`immunoreset.trial.observation_sle`) as observation records.

    Anti-dsDNA (IU/mL), C3 and C4 (g/L) with their laboratory limits and the spot urine protein/creatinine
    ratio ``upcr`` (g/g; the Park 2025 proteinuria in mg/g creatinine / 1000) at every visit; at assessment
    visits all 24 SLEDAI-2K descriptors as ``sledai_<descriptor>`` yes/no items — the clinical and
    urinary-sediment ones the observation model draws, and the laboratory ones (proteinuria > 0.5, C3 or C4
    below the LLN, anti-dsDNA above the ULN) ticked from the recorded values as the investigator does — and
    the PGA (``sle_pga``).
    """
    params = SLEObservationParameters()
    traits = draw_traits(rng, params)
    days = np.arange(own["antiDsDNA"].size, dtype=float)
    aab = own["antiDsDNA"]
    activity = lagged_activity(days, aab / aab[0], params.activity_lag_days)
    visits = []
    for number, day in enumerate(design.visits, start=1):
        at = max(day, 0)
        obs = observe_visit(
            traits,
            anti_dsdna_iu_per_l=float(aab[at]),
            baseline_anti_dsdna_iu_per_l=float(aab[0]),
            c3_mg_per_l=float(own["complementC3"][at]),
            proteinuria_mg_per_g=float(own["proteinuria"][at]),
            latent_activity=float(activity[at]),
            rng=rng,
            params=params,
        )
        items = obs["sledai2k"]
        observations = [
            ObservationRecord(code="anti_dsdna", value=items["anti_dsdna"], unit="[IU]/mL", source="simulation"),
            ObservationRecord(
                code="anti_dsdna_uln", value=items["anti_dsdna_uln"], unit="[IU]/mL", source="simulation"
            ),
            ObservationRecord(code="c3", value=items["c3"], unit="g/L", source="simulation"),
            ObservationRecord(code="c3_lln", value=items["c3_lln"], unit="g/L", source="simulation"),
            ObservationRecord(code="c4", value=items["c4"], unit="g/L", source="simulation"),
            ObservationRecord(code="c4_lln", value=items["c4_lln"], unit="g/L", source="simulation"),
            ObservationRecord(code="upcr", value=items["upcr_g_per_g"], unit="g/g", source="simulation"),
        ]
        if _assessment_visit(day):
            observations += [
                yes_no(f"sledai_{name}", bool(value)) for name, value in items.items() if isinstance(value, bool)
            ]
            # the investigator ticks the laboratory descriptors from the values and limits (SLEDAI-2K definitions)
            observations += [
                yes_no("sledai_proteinuria", items["upcr_g_per_g"] > Decimal("0.5")),
                yes_no("sledai_low_complement", items["c3"] < items["c3_lln"] or items["c4"] < items["c4_lln"]),
                yes_no("sledai_increased_dna_binding", items["anti_dsdna"] > items["anti_dsdna_uln"]),
            ]
            observations.append(ObservationRecord(code="sle_pga", value=obs["pga"], unit="1", source="simulation"))
            # LLDAS items outside SLEDAI-2K: not part of the virtual cohort's disease (not modelled) -> recorded No
            observations += [yes_no("sle_hemolytic_anemia", False), yes_no("sle_gi_activity", False)]
        observations += _kinetics(own, day, rng)
        visits.append(
            VisitRecord(label=_label(day), study_day=day, visitnum=Decimal(number), observations=observations)
        )
    return visits


def _safety(
    design: TrialDesign, own: dict[str, np.ndarray], rng: np.random.Generator, lab_rng: np.random.Generator
) -> tuple[list[VisitRecord], list[AdverseEventRecord]]:
    """Daily CRS/ICANS assessment visits with ANC (days 0-30) and the CRS/ICANS adverse events."""
    last = min(DAILY_WINDOW, design.follow_up_days)
    early = own["totalCart"][: min(60, design.follow_up_days) + 1]
    peak_day = int(np.argmax(early))
    course = simulate_crs_icans(float(early.max()), peak_day, rng, last_day=last)
    visits = []
    for crs_day, icans_day in zip(course["crs_assessments"], course["icans_assessments"], strict=True):
        day = int(crs_day["day"])
        observations = [
            numeric("crs_temperature", float(crs_day["temperature"]["value"]), 1),
            coded("crs_hypotension", crs_day["hypotension"]),
            coded("crs_oxygen", crs_day["oxygen"]),
            numeric("ice_score", float(icans_day["ice_score"]), 0),
            coded("icans_consciousness", icans_day["consciousness"]),
            coded("icans_seizure", icans_day["seizure"]),
            coded("icans_motor", icans_day["motor"]),
            coded("icans_intracranial_pressure", icans_day["intracranial_pressure"]),
            numeric("anc", lab_noise(float(own["neut"][day]), ANC_CV, lab_rng), 0),
        ]
        visits.append(
            VisitRecord(label=_label(day, daily=True), study_day=day, kind="daily", observations=observations)
        )
    events: list[AdverseEventRecord] = []
    if course["crs_max_grade"]:
        onset = int(course["crs_onset_day"])
        events.append(
            AdverseEventRecord(
                key="crs-1",
                term="Cytokine release syndrome",
                grade=int(course["crs_max_grade"]),
                grading="ASTCT",
                onset_day=onset,
                resolution_day=onset + int(course["crs_duration_days"]) - 1,
                serious=int(course["crs_max_grade"]) >= 3,
            )
        )
    if course["icans_max_grade"]:
        days_icans = [int(a["day"]) for a in course["icans_assessments"] if a["ice_score"] < 10]
        events.append(
            AdverseEventRecord(
                key="icans-1",
                term="Immune effector cell-associated neurotoxicity syndrome",
                grade=int(course["icans_max_grade"]),
                grading="ASTCT",
                onset_day=min(days_icans),
                resolution_day=max(days_icans),
                serious=int(course["icans_max_grade"]) >= 3,
            )
        )
    return visits, events


def _dose(dose: float | None, fraction: float) -> Decimal | None:
    """A product dose times an infusion's fraction, as the registry stores it (None when not dosed this way)."""
    if dose is None:
        return None
    return Decimal(repr(dose)) if fraction == 1.0 else Decimal(repr(float(f"{dose * fraction:.6g}")))


def _reinfusions(design: TrialDesign) -> list[MedicationRecord]:
    """Infusions after the first, and the lymphodepletion before them, as medication records (the registry's
    infusion record holds the first infusion, which defines study day 0)."""
    product = design.product
    per_kg = product.dose_car_cells_per_kg is not None
    records: list[MedicationRecord] = []
    for k, infusion in enumerate(design.infusions[1:], start=2):
        for j, agent in enumerate(design.lymphodepletion_for(k), start=1):
            records.append(
                MedicationRecord(
                    key=f"lymphodepletion-{k}-{j}",
                    drug=agent.agent,
                    dose=Decimal(repr(agent.dose_mg_per_m2)),
                    unit="mg/m2",
                    route="intravenous",
                    frequency="once_daily",
                    start_day=min(agent.days),
                    stop_day=max(agent.days),
                    indication="lymphodepletion",
                )
            )
        records.append(
            MedicationRecord(
                key=f"car-t-infusion-{k}",
                drug=product.name[:120],
                dose=_dose(product.dose_car_cells_per_kg if per_kg else product.dose_car_cells, infusion.dose_fraction),
                unit="cells/kg" if per_kg else "cells",
                route="intravenous",
                frequency="once",
                start_day=infusion.day,
                stop_day=infusion.day,
                indication="CAR-T cell therapy",
            )
        )
    return records


def _medications(design: TrialDesign, cohort: Cohort, rng: np.random.Generator) -> list[MedicationRecord]:
    """Background therapy stopped per protocol, the glucocorticoid taper (prednisolone), prophylaxis."""
    protocol = design.concomitant
    meds: list[MedicationRecord] = []
    taken = [d for d in cohort.background_therapy if rng.uniform() < d.p]
    first_is = next((d for d in cohort.background_therapy if d.kind == "immunosuppressant"), None)
    if first_is is not None and not any(d.kind == "immunosuppressant" for d in taken):
        taken.insert(0, first_is)
    for k, drug in enumerate(taken, start=1):
        stop = (
            protocol.immunosuppressants_stop_day
            if drug.kind == "immunosuppressant"
            else protocol.antimalarials_stop_day
        )
        start = -int(rng.integers(120, 1500))
        meds.append(
            MedicationRecord(
                key=f"background-{k}",
                drug=drug.drug,
                dose=Decimal(repr(drug.dose)),
                unit=drug.unit,
                route=drug.route,
                frequency=drug.frequency,
                start_day=start,
                stop_day=None if stop is None else max(start, stop - 1),
                indication="autoimmune disease",
            )
        )
    steps = protocol.glucocorticoid_taper
    for k, step in enumerate(steps, start=1):
        if step.mg_per_day <= 0:
            continue
        stop = steps[k].day - 1 if k < len(steps) else None
        meds.append(
            MedicationRecord(
                key=f"glucocorticoid-{k}",
                drug="prednisolone",
                dose=Decimal(repr(step.mg_per_day)),
                unit="mg",
                route="oral",
                frequency="once_daily",
                start_day=step.day,
                stop_day=stop,
                indication="glucocorticoid taper (autoimmune disease)",
            )
        )
    for k, prophylaxis in enumerate(protocol.prophylaxis, start=1):
        meds.append(
            MedicationRecord(
                key=f"prophylaxis-{k}",
                drug=prophylaxis.drug,
                dose=Decimal(repr(prophylaxis.dose)),
                unit=prophylaxis.unit,
                route=prophylaxis.route,
                frequency=prophylaxis.frequency,
                start_day=prophylaxis.start_day,
                stop_day=prophylaxis.stop_day,
                indication="prophylaxis",
            )
        )
    return meds
