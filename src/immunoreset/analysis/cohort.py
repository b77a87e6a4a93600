"""Cohort analysis of a CAR-T case series — identical for real registries and virtual trials.

:func:`analyse_cohort` takes a study's registry records and its outcome table
(:func:`immunoreset.registry.outcomes.compute_outcomes`) and returns every table of the case-series
report. Nothing here scores an instrument or reads a database: scores come from the outcome table, raw
series (CAR-T, B cells, autoantibodies) from the records through :mod:`immunoreset.kinetics`.

Endpoints and conventions
-------------------------
* **Disease response** at a visit (the primary endpoint of each disease in Müller et al., N Engl J Med
  2024;390:687-700): SLE — DORIS 2021 remission; IIM — ACR/EULAR 2016 major clinical response
  (TIS ≥ 60 in adults, the instrument's ``level == "major"``); SSc — revised EUSTAR activity index lower
  than at baseline (baseline = last scheduled visit on or before day 0 with an evaluable index).
  Also reported: LLDAS (SLE), TIS moderate-or-better (IIM), CRISS improvement (SSc).
* **Drug-free response** = disease response and the ``drug_free`` outcome (no disease-directed
  immunosuppressant or glucocorticoid) at the same visit.
* Rates per disease and visit use exact Clopper-Pearson 95% intervals; not-evaluable visits are counted
  apart, never as non-response (:func:`immunoreset.analysis.rates.response_rates`). Visits at which an
  endpoint was evaluable in no patient (e.g. inpatient days, daily CRS assessments) are left out of its rates.
* **Time to first response**: study day of the first visit with a response (event) or the last visit
  (censored). **Sustained drug-free response**: Kaplan-Meier of the onset of the drug-free response that
  holds at every later evaluable visit (:mod:`immunoreset.analysis.survival`; lifelines, Greenwood CI,
  log(-log) transform).
* Only visits after day 0 count as responses (baseline and screening visits are reported but not counted).
* **Infections** are adverse events whose term names an infection (CTCAE v5.0 "Infections and
  infestations" terms end in "infection" or name the organism/site: pneumonia, sepsis, herpes zoster,
  COVID-19, …; see :data:`INFECTION_WORDS`); **hospitalisations** are serious adverse events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from immunoreset.analysis.rates import clopper_pearson, response_rates
from immunoreset.analysis.survival import KaplanMeier, kaplan_meier, time_to_sustained_remission
from immunoreset.errors import InvalidInput
from immunoreset.instruments.infections import infection_density
from immunoreset.kinetics.autoantibodies import antibody_table
from immunoreset.kinetics.bcells import BCellOptions, bcell_table
from immunoreset.kinetics.data import tidy_frame
from immunoreset.kinetics.nca import nca_table
from immunoreset.registry.records import StudyRecord, natural_key
from immunoreset.registry.tables import kinetics_samples
from immunoreset.registry.vocabulary import ASSESSMENTS

__all__ = [
    "INFECTION_WORDS",
    "CohortAnalysis",
    "analyse_cohort",
    "assessment_summary",
    "infection_density_table",
    "relapse_times",
    "response_course_table",
    "visit_table",
]

COURSE = "(course)"
INFECTION_WORDS: tuple[str, ...] = (
    "infection",
    "pneumonia",
    "sepsis",
    "zoster",
    "herpes",
    "covid",
    "influenza",
    "cytomegalovirus",
    "cmv",
    "bronchitis",
    "cystitis",
    "cellulitis",
    "sinusitis",
    "candida",
    "pharyngitis",
    "urinary tract",
)
RESPONSE_LABEL = {
    "SLE": "DORIS 2021 remission",
    "IIM": "ACR/EULAR major clinical response (TIS ≥ 60)",
    "SSc": "EUSTAR-AI below baseline",
}
ANTIBODY_OF = {"SLE": "anti_dsdna", "SSc": "anti_scl70"}


def _flag(value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower()
    if text in {"true", "1", "1.0"}:
        return True
    if text in {"false", "0", "0.0"}:
        return False
    raise InvalidInput("outcome value", value, "true or false")


def visit_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per patient and assessment visit with the endpoint columns used by the report.

    Columns: patient, site, disease, visit, study_day, response, drug_free, drug_free_response, and per
    disease doris_remission, lldas, sledai2k, clinical_sledai; tis_total, tis_level, tis_moderate_or_better;
    eustar_ai, criss_improved, mrss; plus prednisolone_mg_per_day. Booleans are True/False/None (None = not
    evaluable).
    """
    needed = {"patient", "disease", "visit", "study_day", "instrument", "result", "value", "evaluable"}
    missing = sorted(needed - set(outcomes.columns))
    if missing:
        raise InvalidInput("outcome table columns", missing, "the columns of compute_outcomes")
    rows = outcomes[outcomes["visit"] != COURSE].copy()
    rows["key"] = rows["instrument"] + "/" + rows["result"]
    rows["cell"] = rows["value"].where(rows["evaluable"].astype(bool), None)
    index = ["patient", "site", "disease", "visit", "study_day"]
    # Every visit with any outcome row is kept, even when none of its results is evaluable.
    wide = rows[index].drop_duplicates()
    known = rows[rows["cell"].notna()]
    if not known.empty:
        values = known.pivot_table(index=index, columns="key", values="cell", aggfunc="first").reset_index()
        wide = wide.merge(values, on=index, how="left")

    def col(key: str) -> pd.Series:
        return wide[key] if key in wide.columns else pd.Series([None] * len(wide), index=wide.index, dtype=object)

    def number(key: str) -> pd.Series:
        return pd.to_numeric(col(key), errors="coerce")

    out = wide[["patient", "site", "disease", "visit", "study_day"]].copy()
    out["study_day"] = out["study_day"].astype(int)
    out["doris_remission"] = col("doris/remission").map(_flag)
    out["lldas"] = col("lldas/lldas").map(_flag)
    out["sledai2k"] = number("sledai2k/total")
    out["clinical_sledai"] = number("sledai2k/clinical_sledai")
    out["tis_total"] = number("myositis_tis/total")
    out["tis_level"] = col("myositis_tis/level")
    out["tis_major"] = out["tis_level"].map(lambda v: None if v is None or v != v else v == "major")
    out["tis_moderate_or_better"] = out["tis_level"].map(
        lambda v: None if v is None or v != v else v in {"moderate", "major"}
    )
    out["eustar_ai"] = number("eustar_ai/total")
    out["criss_improved"] = col("criss/improved").map(_flag)
    out["mrss"] = number("mrss/total")
    out["mmt8"] = number("mmt8/total")
    out["drug_free"] = col("drug_free/drug_free").map(_flag)
    out["prednisolone_mg_per_day"] = number("prednisolone_equivalent/mg_per_day")
    # EUSTAR-AI change from baseline (last visit on/before day 0 with an evaluable index)
    out["eustar_ai_below_baseline"] = None
    for _patient, group in out[out["disease"] == "SSc"].groupby("patient"):
        before = group[(group["study_day"] <= 0) & group["eustar_ai"].notna()].sort_values("study_day")
        if before.empty:
            continue
        base = float(before["eustar_ai"].iloc[-1])
        after = group.index[group["study_day"] > 0]
        out.loc[after, "eustar_ai_below_baseline"] = [
            None if np.isnan(v) else bool(v < base) for v in group.loc[after, "eustar_ai"]
        ]
    response = {"SLE": "doris_remission", "IIM": "tis_major", "SSc": "eustar_ai_below_baseline"}
    out["response"] = [
        (row[response[row["disease"]]] if row["disease"] in response and row["study_day"] > 0 else None)
        for _, row in out.iterrows()
    ]
    out["drug_free_response"] = [
        None if r is None or d is None else bool(r and d)
        for r, d in zip(out["response"], out["drug_free"], strict=True)
    ]
    out = out.astype({c: object for c in out.columns if out[c].dtype == bool})
    return out.sort_values(["disease", "patient", "study_day"], kind="stable", key=_natural_column).reset_index(
        drop=True
    )


def _natural_column(column: pd.Series) -> pd.Series:
    return column.map(natural_key) if column.name == "patient" else column


@dataclass(frozen=True)
class CohortAnalysis:
    """Every table of the case-series analysis (see the module docstring for the conventions)."""

    study: str
    source: str
    patients: pd.DataFrame
    visits: pd.DataFrame
    rates: pd.DataFrame
    first_response: pd.DataFrame
    sustained: pd.DataFrame
    sustained_km: KaplanMeier | None
    nca: pd.DataFrame
    nca_summary: pd.DataFrame
    bcells: pd.DataFrame
    autoantibodies: pd.DataFrame
    discontinuation: pd.DataFrame
    safety: pd.DataFrame
    safety_summary: pd.DataFrame
    kinetics_samples: pd.DataFrame
    assessments: pd.DataFrame = field(default_factory=pd.DataFrame)
    infection_density: pd.DataFrame = field(default_factory=pd.DataFrame)
    response_course: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by file name, for writing."""
        return {
            "patients": self.patients,
            "visits": self.visits,
            "response_rates": self.rates,
            "first_response": self.first_response,
            "sustained_drug_free_response": self.sustained,
            "car_t_nca": self.nca,
            "car_t_nca_summary": self.nca_summary,
            "b_cells": self.bcells,
            "autoantibodies": self.autoantibodies,
            "discontinuation": self.discontinuation,
            "safety": self.safety,
            "safety_summary": self.safety_summary,
            "assessments": self.assessments,
            "infection_density": self.infection_density,
            "non_response_and_relapse": self.response_course,
        }


def _patients(study: StudyRecord) -> pd.DataFrame:
    rows = []
    for p in sorted(study.patients, key=lambda p: natural_key(p.code)):
        days = [v.study_day for v in p.visits if v.study_day is not None]
        rows.append(
            {
                "patient": p.code,
                "site": p.site,
                "disease": p.disease,
                "sex": p.sex,
                "birth_year": p.birth_year,
                "weight_kg": float(p.weight_kg) if p.weight_kg is not None else None,
                "product": p.infusion.product if p.infusion else None,
                "dose_cells_per_kg": float(p.infusion.dose_cells_per_kg)
                if p.infusion and p.infusion.dose_cells_per_kg is not None
                else None,
                "dose_cells_total": float(p.infusion.dose_cells_total)
                if p.infusion and p.infusion.dose_cells_total is not None
                else None,
                "infusion_date": p.infusion.date if p.infusion else None,
                "last_visit_day": max(days) if days else None,
            }
        )
    return pd.DataFrame(rows)


def _rates(visits: pd.DataFrame) -> pd.DataFrame:
    frames = []
    after = visits[visits["study_day"] > 0]
    endpoints = [
        ("SLE", "doris_remission", "DORIS 2021 remission"),
        ("SLE", "lldas", "LLDAS"),
        ("IIM", "tis_major", "TIS major response"),
        ("IIM", "tis_moderate_or_better", "TIS moderate or major response"),
        ("SSc", "eustar_ai_below_baseline", "EUSTAR-AI below baseline"),
        ("SSc", "criss_improved", "ACR-CRISS improved"),
        (None, "drug_free", "Drug-free (no immunosuppressant, no glucocorticoid)"),
        (None, "drug_free_response", "Drug-free disease response"),
    ]
    order = after.groupby("visit")["study_day"].median().sort_values()
    for disease, column, label in endpoints:
        subset = after if disease is None else after[after["disease"] == disease]
        if subset.empty or subset[column].isna().all():
            continue
        table = response_rates(subset, column, by=("disease", "visit"))
        table = table[table["evaluable"] > 0]  # visits at which the endpoint was not assessed at all are left out
        table.insert(0, "endpoint", label)
        frames.append(table)
    if not frames:
        return pd.DataFrame()
    rates = pd.concat(frames, ignore_index=True)
    rates["visit_day"] = rates["visit"].map(order)
    return rates.sort_values(["endpoint", "disease", "visit_day"], kind="stable").reset_index(drop=True)


def _first_response(visits: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (patient, disease), group in visits.groupby(["patient", "disease"], sort=True):
        after = group[group["study_day"] > 0].sort_values("study_day")
        hits = after[after["response"] == True]  # noqa: E712 - object column of True/False/None
        last = int(group["study_day"].max())
        rows.append(
            {
                "patient": patient,
                "disease": disease,
                "endpoint": RESPONSE_LABEL.get(str(disease), "—"),
                "event": not hits.empty,
                "time": int(hits["study_day"].iloc[0]) if not hits.empty else last,
                "last_follow_up": last,
            }
        )
    return pd.DataFrame(rows, columns=["patient", "disease", "endpoint", "event", "time", "last_follow_up"])


RESPONSE_COURSE_COLUMNS = (
    "disease",
    "endpoint",
    "patients",
    "responders",
    "response_rate",
    "response_ci",
    "non_responders",
    "non_response_rate",
    "non_response_ci",
    "relapsed",
    "relapse_rate",
    "relapse_ci",
    "relapse_days",
)


def _relapse_day(days: list[int], flags: list[bool], confirm: int) -> int | None:
    """Study day of the first visit of a run of ≥ ``confirm`` evaluable visits out of response after the first
    onset; a run that reaches the last evaluable visit counts (follow-up ended). None without relapse."""
    if True not in flags:
        return None
    i = flags.index(True)
    while i < len(flags):
        if flags[i]:
            i += 1
            continue
        j = i
        while j < len(flags) and not flags[j]:
            j += 1
        if j - i >= confirm or j == len(flags):
            return days[i]
        i = j
    return None


def relapse_times(visits: pd.DataFrame, *, confirm: int = 2) -> pd.DataFrame:
    """Per responder (a patient with the disease response at a visit after day 0): the study day of relapse by
    the rule of :func:`response_course_table` (``confirm`` consecutive evaluable visits out of response, or a
    loss lasting to the last evaluable visit), else censored at the last evaluable visit. Columns ``patient``,
    ``disease``, ``event``, ``time``."""
    if confirm < 1:
        raise InvalidInput("confirm", confirm, "at least 1 visit")
    rows: list[dict[str, object]] = []
    after = visits[(visits["study_day"] > 0) & visits["response"].notna()].sort_values(["patient", "study_day"])
    for (patient, disease), mine in after.groupby(["patient", "disease"], sort=True):
        flags = [bool(v) for v in mine["response"]]
        if not any(flags):
            continue
        days = [int(d) for d in mine["study_day"]]
        day = _relapse_day(days, flags, confirm)
        rows.append(
            {
                "patient": patient,
                "disease": disease,
                "event": day is not None,
                "time": day if day is not None else days[-1],
            }
        )
    return pd.DataFrame(rows, columns=["patient", "disease", "event", "time"])


def response_course_table(visits: pd.DataFrame, confidence: float = 0.95, *, confirm: int = 2) -> pd.DataFrame:
    """Per disease: who ever reached the disease response, who never did (primary non-response) and who
    lost it (relapse), each with its exact Clopper–Pearson interval.

    Conventions: visits after day 0 with an evaluable ``response``; a patient with none is left out of every
    denominator. Relapse is counted among responders: after the first onset, ``confirm`` (default 2)
    consecutive evaluable visits out of response — or a loss that lasts to the last evaluable visit — so that
    a score dipping below its threshold at one visit is not a relapse; ``confirm=1`` counts every loss.
    ``relapse_days`` gives the median and range of the first visit of each relapse. Both rates depend on the
    follow-up, which the table of patients states."""
    if confirm < 1:
        raise InvalidInput("confirm", confirm, "at least 1 visit")
    rows: list[dict[str, object]] = []
    after = visits[(visits["study_day"] > 0) & visits["response"].notna()].sort_values(["patient", "study_day"])
    for disease, group in after.groupby("disease", sort=True):
        relapse_days: list[int] = []
        patients = responders = 0
        for _, mine in group.groupby("patient", sort=False):
            flags = [bool(v) for v in mine["response"]]
            patients += 1
            responders += any(flags)
            day = _relapse_day([int(d) for d in mine["study_day"]], flags, confirm)
            if day is not None:
                relapse_days.append(day)
        counts = {
            "response": (responders, patients),
            "non_response": (patients - responders, patients),
            "relapse": (len(relapse_days), responders),
        }
        row: dict[str, object] = {
            "disease": disease,
            "endpoint": RESPONSE_LABEL.get(str(disease), "—"),
            "patients": patients,
            "responders": responders,
            "non_responders": patients - responders,
            "relapsed": len(relapse_days),
        }
        for name, (k, n) in counts.items():
            if n == 0:
                row[f"{name}_rate"], row[f"{name}_ci"] = None, None
                continue
            estimate = clopper_pearson(k, n, confidence)
            row[f"{name}_rate"] = estimate.estimate
            row[f"{name}_ci"] = f"{estimate.lower * 100:.1f}–{estimate.upper * 100:.1f} %"
        days = pd.Series(relapse_days, dtype=float)
        row["relapse_days"] = f"{days.median():.0f} ({days.min():.0f}–{days.max():.0f})" if len(days) else None
        rows.append(row)
    return pd.DataFrame(rows, columns=list(RESPONSE_COURSE_COLUMNS))


def _nca(samples: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    car = samples[samples["analyte"].isin(["cart_flow", "cart_qpcr"])]
    if car.empty:
        return pd.DataFrame(), pd.DataFrame()
    table = nca_table(tidy_frame(car.drop(columns="disease"), source="registry"))
    summary = []
    for analyte, group in table.groupby("analyte"):
        for metric in ("cmax", "tmax", "auc_0_end", "clast", "tlast"):
            values = pd.to_numeric(group[metric], errors="coerce").dropna().astype(float)
            if values.empty:
                continue
            summary.append(
                {
                    "analyte": analyte,
                    "metric": metric,
                    "unit": "d"
                    if metric in {"tmax", "tlast"}
                    else group["auc_unit" if metric.startswith("auc") else "unit"].iloc[0],
                    "n": len(values),
                    "median": float(values.median()),
                    "min": float(values.min()),
                    "max": float(values.max()),
                }
            )
    return table, pd.DataFrame(summary)


def _bcells(samples: pd.DataFrame, options: BCellOptions | None) -> pd.DataFrame:
    b = samples[samples["analyte"].isin(["cd19", "cd19_naive"])]
    if b.empty or "cd19" not in set(b["analyte"]):
        return pd.DataFrame()
    return bcell_table(tidy_frame(b.drop(columns="disease"), source="registry"), options=options)


def _antibodies(samples: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for disease, analyte in ANTIBODY_OF.items():
        sub = samples[(samples["analyte"] == analyte) & (samples["disease"] == disease)]
        if sub.empty:
            continue
        table = antibody_table(tidy_frame(sub.drop(columns="disease"), source="registry"), [analyte])
        table.insert(1, "disease", disease)
        frames.append(table)
    frames = [f.dropna(axis=1, how="all") for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _course(outcomes: pd.DataFrame, instrument: str, result: str) -> dict[str, float | None]:
    rows = outcomes[(outcomes["visit"] == COURSE) & (outcomes["instrument"] == instrument)]
    rows = rows[rows["result"] == result]
    out: dict[str, float | None] = {}
    for r in rows.to_dict("records"):
        number = pd.to_numeric(pd.Series([r["value"]]), errors="coerce").iloc[0]
        out[str(r["patient"])] = float(number) if bool(r["evaluable"]) and pd.notna(number) else None
    return out


def _safety(study: StudyRecord, outcomes: pd.DataFrame) -> pd.DataFrame:
    crs = _course(outcomes, "crs", "max_grade")
    icans = _course(outcomes, "icans", "max_grade")
    early = _course(outcomes, "icaht", "early_grade")
    late = _course(outcomes, "icaht", "late_grade")
    rows = []
    for p in study.patients:
        infections = [a for a in p.adverse_events if any(w in a.term.lower() for w in INFECTION_WORDS)]
        rows.append(
            {
                "patient": p.code,
                "disease": p.disease,
                "crs_max_grade": crs.get(p.code),
                "icans_max_grade": icans.get(p.code),
                "icaht_early_grade": early.get(p.code),
                "icaht_late_grade": late.get(p.code),
                "infections": len(infections),
                "infection_max_grade": max((a.grade or 0 for a in infections), default=0),
                "serious_adverse_events": sum(1 for a in p.adverse_events if a.serious),
                "adverse_events": len(p.adverse_events),
            }
        )
    return pd.DataFrame(rows)


def infection_density_table(study: StudyRecord) -> pd.DataFrame:
    """Infections per 100 patient-days by window after the infusion (:func:`immunoreset.instruments.infections.
    infection_density`, windows days 0-28 and 29-90 as in Hill et al., Blood 2018). A patient's follow-up is
    the last study day with a visit or an adverse-event record; infections are the adverse events whose term
    names an infection (``INFECTION_WORDS``) with a known onset day."""
    columns = ["window", "first_day", "last_day", "patients_at_risk", "patient_days", "infections",
               "patients_with_infection", "density_per_100_patient_days"]  # fmt: skip
    followed = []
    for p in study.patients:
        days = [v.study_day for v in p.visits if v.study_day is not None]
        days += [d for a in p.adverse_events for d in (a.onset_day, a.resolution_day) if d is not None]
        last = max(days, default=None)
        if last is None or last < 0:
            continue
        events = [
            {"day": a.onset_day, "grade": a.grade}
            for a in p.adverse_events
            if a.onset_day is not None
            and 0 <= a.onset_day <= last
            and any(w in a.term.lower() for w in INFECTION_WORDS)
        ]
        followed.append({"patient": p.code, "follow_up_days": last, "infections": events})
    if not followed:
        return pd.DataFrame(columns=columns)
    result = infection_density({"patients": followed})
    rows = [{c: getattr(w, c) for c in columns} for w in result.windows]
    return pd.DataFrame(rows, columns=columns)


def _safety_summary(safety: pd.DataFrame) -> pd.DataFrame:
    rows = []
    n = len(safety)
    for column, label in (
        ("crs_max_grade", "CRS (ASTCT)"),
        ("icans_max_grade", "ICANS (ASTCT)"),
        ("icaht_early_grade", "Early ICAHT"),
        ("icaht_late_grade", "Late ICAHT"),
    ):
        values = safety[column]
        known = values.dropna()
        rows.append(
            {
                "measure": label,
                "patients": n,
                "evaluable": len(known),
                "grade 0": int((known == 0).sum()),
                "grade 1": int((known == 1).sum()),
                "grade 2": int((known == 2).sum()),
                "grade ≥3": int((known >= 3).sum()),
            }
        )
    inf = safety["infections"]
    rows.append(
        {
            "measure": "Infections (patients with ≥1)",
            "patients": n,
            "evaluable": n,
            "grade 0": int((inf == 0).sum()),
            "grade 1": int((safety["infection_max_grade"] == 1).sum()),
            "grade 2": int((safety["infection_max_grade"] == 2).sum()),
            "grade ≥3": int((safety["infection_max_grade"] >= 3).sum()),
        }
    )
    rows.append(
        {
            "measure": "Serious adverse events / hospitalisations (patients with ≥1)",
            "patients": n,
            "evaluable": n,
            "grade 0": int((safety["serious_adverse_events"] == 0).sum()),
            "grade 1": None,
            "grade 2": None,
            "grade ≥3": int((safety["serious_adverse_events"] > 0).sum()),
        }
    )
    return pd.DataFrame(rows)


def _discontinuation(visits: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    drug_free = outcomes[outcomes["instrument"] == "drug_free"].sort_values("study_day", kind="stable")
    by_patient: dict[Any, pd.DataFrame] = dict(iter(drug_free.groupby("patient", sort=False)))
    empty = drug_free.iloc[0:0]
    rows = []
    for (patient, disease), group in visits.groupby(["patient", "disease"], sort=True):
        last = group.sort_values("study_day").iloc[-1]
        mine = by_patient.get(patient, empty)
        row: dict[str, Any] = {"patient": patient, "disease": disease, "last_visit_day": int(last["study_day"])}
        for category in ("immunosuppressant_free", "glucocorticoid_free", "drug_free"):
            final = mine[(mine["result"] == category) & mine["evaluable"].astype(bool)]
            row[f"{category}_at_last_visit"] = _flag(final["value"].iloc[-1]) if not final.empty else None
            day = mine[mine["result"] == f"{category}_since"]
            row[f"{category}_since_day"] = int(float(day["value"].iloc[-1])) if not day.empty else None
        rows.append(row)
    return pd.DataFrame(rows)


def assessment_summary(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Instruments recorded item by item (registry ASSESSMENTS): for each instrument, result and disease,
    the patients and visits with an evaluable value and the median (min–max) at baseline (last visit on or
    before day 0) and at each patient's last evaluable visit after day 0; categorical results give the most
    frequent value instead."""
    columns = ["instrument", "result", "disease", "patients", "visits", "baseline", "last_visit"]
    names = {a.instrument for a in ASSESSMENTS}
    rows = outcomes[outcomes["instrument"].isin(names) & outcomes["evaluable"].astype(bool)]
    out: list[dict[str, Any]] = []

    def describe(values: pd.Series, numbers: pd.Series) -> str:
        if values.empty:
            return ""
        if values.isin(["true", "false"]).all():  # yes/no results: how many yes
            return f"yes {int((values == 'true').sum())}/{len(values)}"
        if numbers.notna().all():
            low, mid, high = numbers.min(), numbers.median(), numbers.max()
            return f"{mid:g} ({low:g}–{high:g}), n={len(numbers)}"
        top = values.value_counts()
        return f"{top.index[0]} {top.iloc[0]}/{len(values)}"

    for (instrument, result, disease), group in rows.groupby(["instrument", "result", "disease"], sort=False):
        ordered = group.sort_values("study_day", kind="stable")
        before = ordered[ordered["study_day"] <= 0].groupby("patient").tail(1)
        after = ordered[ordered["study_day"] > 0].groupby("patient").tail(1)
        out.append(
            {
                "instrument": instrument,
                "result": result,
                "disease": disease,
                "patients": group["patient"].nunique(),
                "visits": len(group),
                "baseline": describe(before["value"], before["value_num"]),
                "last_visit": describe(after["value"], after["value_num"]),
            }
        )
    return pd.DataFrame(out, columns=columns)


def analyse_cohort(
    study: StudyRecord, outcomes: pd.DataFrame, *, b_cells: BCellOptions | None = None
) -> CohortAnalysis:
    """Analyse one study (see the module docstring). ``outcomes`` is ``compute_outcomes(study)``;
    ``b_cells`` sets the aplasia/reconstitution definition (default :class:`BCellOptions`: < 5 and
    ≥ 5 CD19⁺ cells/µL, Looney et al., Arthritis Rheum 2004)."""
    visits = visit_table(outcomes)
    samples = kinetics_samples(study)
    nca, nca_summary = _nca(samples)
    first = _first_response(visits)
    sustained = (
        time_to_sustained_remission(visits[visits["study_day"] > 0], "drug_free_response")
        if not visits.empty
        else pd.DataFrame()
    )
    notes: list[str] = []
    km = None
    if not sustained.empty:
        sustained = sustained.merge(visits[["patient", "disease"]].drop_duplicates(), on="patient", how="left")
        km = kaplan_meier(sustained, label="all patients")
    else:
        notes.append("no assessment visits after day 0: no response analysis")
    safety = _safety(study, outcomes)
    return CohortAnalysis(
        study=study.code,
        source=study.source,
        patients=_patients(study),
        visits=visits,
        rates=_rates(visits),
        first_response=first,
        sustained=sustained,
        sustained_km=km,
        nca=nca,
        nca_summary=nca_summary,
        bcells=_bcells(samples, b_cells),
        autoantibodies=_antibodies(samples),
        discontinuation=_discontinuation(visits, outcomes),
        safety=safety,
        safety_summary=_safety_summary(safety),
        kinetics_samples=samples,
        assessments=assessment_summary(outcomes),
        infection_density=infection_density_table(study),
        response_course=response_course_table(visits) if not visits.empty else pd.DataFrame(),
        notes=notes,
    )
