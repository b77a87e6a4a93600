"""The SLE arm of a virtual trial: Park 2025 biology + the SLE observation model + the real instruments.

For each virtual patient of the design's SLE cohort:

1. covariates are drawn from the design (weight, height, age, sex); body-surface area by Mosteller;
2. the Park 2025 model is solved daily from infusion to the end of follow-up with the patient's
   log-normal inter-individual variability, the design's dose and product composition, and the
   lymphodepletion amount ``Σ dose_mg_per_m2 × days × BSA`` (the reconstruction Park 2025 used at 1.8 m²);
3. at each visit the observation model records SLEDAI-2K inputs and a PGA; the concomitant-drug protocol
   gives the glucocorticoid dose and whether immunosuppressants/antimalarials are still taken;
4. SLEDAI-2K, DORIS 2021, LLDAS and, from the daily neutrophil count, ICAHT are computed by the same
   instrument functions as for real patients; CRS and ICANS courses come from the CAR-T peak
   (:mod:`immunoreset.trial.safety_model`) and are graded by the ASTCT instruments.

Everything random comes from one ``numpy`` generator seeded by the design (or the ``seed`` argument), so
the same seed gives identical tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from immunoreset.errors import InvalidInput
from immunoreset.instruments.safety import icaht
from immunoreset.instruments.sle import doris_remission, lldas, sledai2k
from immunoreset.models import get_model
from immunoreset.simulate import sample_population, simulate_population
from immunoreset.trial.design import TrialDesign
from immunoreset.trial.observation_sle import (
    SLEObservationParameters,
    draw_traits,
    lagged_activity,
    observe_visit,
)
from immunoreset.trial.safety_model import simulate_crs_icans

__all__ = ["VirtualArm", "body_surface_area", "run_sle_arm"]


@dataclass(frozen=True)
class VirtualArm:
    """A simulated arm: patients, visit-level records and scores, daily model outputs, safety."""

    patients: pd.DataFrame
    """One row per patient: patient, disease, weight_kg, height_cm, age_years, female, bsa_m2, dose_ldc_mg."""
    visits: pd.DataFrame
    """One row per patient and visit with instrument inputs (``*_input`` columns) and scores."""
    daily: pd.DataFrame
    """Daily model outputs (patient, study_day, outputs)."""
    safety: pd.DataFrame
    """One row per patient: ICAHT early/late grade, CAR-T peak and its day, B-cell nadir."""


def body_surface_area(weight_kg: float, height_cm: float) -> float:
    """Mosteller body-surface area, m²: sqrt(height_cm × weight_kg / 3600).

    Source: Mosteller RD. N Engl J Med 1987;317(17):1098.
    """
    if weight_kg <= 0 or height_cm <= 0:
        raise InvalidInput("weight_kg/height_cm", (weight_kg, height_cm), "positive numbers")
    return math.sqrt(height_cm * weight_kg / 3600.0)


def _drugs_on(design: TrialDesign, day: int) -> dict[str, bool]:
    protocol = design.concomitant
    on_is = day < protocol.immunosuppressants_stop_day
    stop_am = protocol.antimalarials_stop_day
    on_am = stop_am is None or day < stop_am
    return {"antimalarial": on_am, "immunosuppressant": on_is, "biologic": False}


def run_sle_arm(
    design: TrialDesign,
    *,
    seed: int | None = None,
    params: SLEObservationParameters | None = None,
    progress: Callable[[int], None] | None = None,
) -> VirtualArm:
    """Simulate the design's SLE cohort (see the module docstring)."""
    cohort = next((c for c in design.cohorts if c.disease == "SLE"), None)
    if cohort is None:
        raise InvalidInput("cohorts", [c.disease for c in design.cohorts], "an SLE cohort")
    base_seed = design.seed if seed is None else seed
    rng = np.random.default_rng([base_seed, 1])
    n = cohort.size
    covariates = {name: dist.sample(rng, n) for name, dist in sorted(cohort.covariates.items())}
    weight = covariates["weight_kg"]
    height = covariates.get("height_cm", np.full(n, 170.0))
    bsa = np.array([body_surface_area(w, h) for w, h in zip(weight, height, strict=True)])
    ldc_per_m2 = sum(a.dose_mg_per_m2 * len(a.days) for a in design.lymphodepletion)
    product = design.product
    spec = get_model("park2025")
    pop = sample_population(spec, n, seed=int(rng.integers(0, 2**31 - 1)), typical=cohort.model_parameters)
    names = spec.input_names
    overrides = {
        "Dose": product.dose_car_cells_per_kg,
        "pct4": product.cd4_fraction * 100,
        "pct8": product.cd8_fraction * 100,
        "pctN": product.phenotype["naive"] * 100,
        "pctCM": product.phenotype["central_memory"] * 100,
        "pctEM": product.phenotype["effector_memory"] * 100,
        "pctEF": product.phenotype["effector"] * 100,
    }
    for key, value in overrides.items():
        pop.inputs[:, names.index(key)] = value
    pop.inputs[:, names.index("WT")] = weight
    pop.inputs[:, names.index("Dose_LDC")] = ldc_per_m2 * bsa
    days = np.arange(0, design.follow_up_days + 1, dtype=float)
    daily = simulate_population(pop, days, workers=1, progress=progress).rename(columns={"time": "study_day"})
    daily["study_day"] = daily["study_day"].astype(int)

    patient_ids = [f"SLE-{i:02d}" for i in range(1, n + 1)]
    patients = pd.DataFrame(
        {
            "patient": patient_ids,
            "disease": "SLE",
            **{name: values for name, values in covariates.items()},
            "bsa_m2": bsa,
            "dose_ldc_mg": ldc_per_m2 * bsa,
        }
    )
    visit_rows: list[dict[str, Any]] = []
    safety_rows: list[dict[str, Any]] = []
    for index, pid in enumerate(patient_ids, start=1):
        own_frame = daily[daily["patient"] == index].sort_values("study_day")
        own = {name: own_frame[name].to_numpy(dtype=float) for name in spec.output_names}  # row = study day
        traits = draw_traits(rng, params)
        aab = own["antiDsDNA"]
        lag = (params or SLEObservationParameters()).activity_lag_days
        activity = lagged_activity(days, aab / aab[0], lag)
        previous: dict[str, Any] | None = None
        for day in design.visits:
            at = max(day, 0)  # before infusion the patient is at the model's baseline
            obs = observe_visit(
                traits,
                anti_dsdna_iu_per_l=float(own["antiDsDNA"][at]),
                baseline_anti_dsdna_iu_per_l=float(aab[0]),
                c3_mg_per_l=float(own["complementC3"][at]),
                proteinuria_mg_per_g=float(own["proteinuria"][at]),
                latent_activity=float(activity[at]),
                rng=rng,
                params=params,
            )
            drugs = _drugs_on(design, day)
            prednisolone = design.concomitant.glucocorticoid_on(day)
            stable = True if any(drugs.values()) else None
            score = sledai2k(obs["sledai2k"])
            remission = doris_remission(
                {
                    "sledai2k": obs["sledai2k"],
                    "pga": obs["pga"],
                    "prednisolone_mg_per_day": prednisolone,
                    **drugs,
                    "stable_doses": stable,
                }
            )
            low = lldas(
                {
                    "sledai2k": obs["sledai2k"],
                    "previous_sledai2k": previous,
                    "pga": obs["pga"],
                    "prednisolone_mg_per_day": prednisolone,
                    "hemolytic_anemia": False,
                    "gastrointestinal_activity": False,
                    "maintenance_therapy_acceptable": True,
                }
            )
            previous = obs["sledai2k"]
            visit_rows.append(
                {
                    "patient": pid,
                    "disease": "SLE",
                    "study_day": day,
                    "sledai2k_input": obs["sledai2k"],
                    "pga": float(obs["pga"]),
                    "prednisolone_mg_per_day": prednisolone,
                    **drugs,
                    "sledai2k": score.total,
                    "clinical_sledai": score.clinical_sledai,
                    "doris_remission": remission.remission,
                    "drug_free": remission.drug_free,
                    "doris_drug_free_remission": bool(remission.remission and remission.drug_free),
                    "lldas": low.lldas,
                    "latent_activity": float(activity[at]),
                    "anti_dsdna_iu_per_ml": float(own["antiDsDNA"][at]) / 1000.0,
                    "c3_g_per_l": float(own["complementC3"][at]) / 1000.0,
                    "upcr_g_per_g": float(own["proteinuria"][at]) / 1000.0,
                    "b_cells_per_ul": float(own["bCell"][at]),
                    "car_t_per_ul": float(own["totalCart"][at]),
                }
            )
        anc = [{"day": d, "value": float(own["neut"][d])} for d in range(min(100, design.follow_up_days) + 1)]
        neutro = icaht({"anc": anc, "unit": "/uL"})
        early = own["totalCart"][: min(60, design.follow_up_days) + 1]
        peak_day = int(np.argmax(early))
        neuro = simulate_crs_icans(float(early.max()), peak_day, rng)
        safety_rows.append(
            {
                "patient": pid,
                "disease": "SLE",
                "crs_max_grade": neuro["crs_max_grade"],
                "crs_onset_day": neuro["crs_onset_day"],
                "crs_duration_days": neuro["crs_duration_days"],
                "icans_max_grade": neuro["icans_max_grade"],
                "icaht_early_grade": neutro.early_grade,
                "icaht_late_grade": neutro.late_grade,
                "anc_nadir_per_ul": float(own["neut"].min()),
                "car_t_peak_per_ul": float(early.max()),
                "car_t_peak_day": peak_day,
                "b_cell_nadir_per_ul": float(own["bCell"].min()),
            }
        )
    return VirtualArm(
        patients=patients,
        visits=pd.DataFrame(visit_rows),
        daily=daily.assign(patient=daily["patient"].map(dict(enumerate(patient_ids, start=1)))),
        safety=pd.DataFrame(safety_rows),
    )
