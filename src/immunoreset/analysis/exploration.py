"""Dose and regimen exploration: one row of key outcomes per level of a varied design field.

``immunoreset trial run DESIGN --vary product.dose=1e5,1e6,1e7`` runs the design once per level (the same
seed, so the levels differ only by the design: common random numbers) and summarises each level's
:class:`~immunoreset.analysis.cohort.CohortAnalysis` with :func:`level_summary`:

* CAR-T expansion: median (and 25th-75th percentile) Cmax and median Tmax of the flow-cytometric counts
  (NCA of the registry samples, :mod:`immunoreset.kinetics.nca`);
* B-cell aplasia: Kaplan-Meier median duration and the restricted mean ± SD, censored patients counted
  (:func:`immunoreset.analysis.survival.aplasia_summary`);
* response, non-response and relapse of each disease's primary endpoint with exact (Clopper-Pearson) 95 %
  CIs (:func:`immunoreset.analysis.cohort.response_course_table`);
* CRS (ASTCT, maximum grade per patient): any grade and grade ≥ 3, with exact 95 % CIs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from immunoreset.analysis.cohort import CohortAnalysis
from immunoreset.analysis.rates import clopper_pearson
from immunoreset.analysis.survival import aplasia_summary

__all__ = ["LEVEL_COLUMNS", "level_summary"]

LEVEL_COLUMNS = [
    "level",
    "disease",
    "patients",
    "cart_cmax_median",
    "cart_cmax_q25",
    "cart_cmax_q75",
    "cart_tmax_median",
    "aplasia_median_days",
    "aplasia_mean_days",
    "aplasia_sd_days",
    "aplasia_censored",
    "endpoint",
    "responders",
    "response_rate",
    "response_ci_lower",
    "response_ci_upper",
    "non_responders",
    "non_response_rate",
    "non_response_ci_lower",
    "non_response_ci_upper",
    "relapsed",
    "relapse_rate",
    "relapse_ci_lower",
    "relapse_ci_upper",
    "crs_any",
    "crs_any_rate",
    "crs_any_ci_lower",
    "crs_any_ci_upper",
    "crs_grade3",
    "crs_grade3_rate",
    "crs_grade3_ci_lower",
    "crs_grade3_ci_upper",
]
FLOW_ANALYTE = "cart_flow"
"""The NCA analyte summarised (flow-cytometric CAR-T, cells/µL; qPCR copies are not mixed in)."""


def _rate(events: int, n: int) -> tuple[float, float, float]:
    if n == 0:
        return (float("nan"),) * 3
    p = clopper_pearson(events, n, 0.95)
    return p.estimate, p.lower, p.upper


def level_summary(analysis: CohortAnalysis, level: str) -> pd.DataFrame:
    """Key outcomes of one level: a row per disease and one for all patients (``disease = "all"``)."""
    patients = analysis.patients
    nca = analysis.nca
    if nca.empty or "analyte" not in nca:
        nca = pd.DataFrame(columns=["patient", "cmax", "tmax"])
    else:
        nca = nca[(nca["analyte"] == FLOW_ANALYTE) & nca["evaluable"].astype(bool)]
    bcells = analysis.bcells
    safety = analysis.safety
    course = analysis.response_course
    rows: list[dict[str, Any]] = []
    diseases = sorted(patients["disease"].dropna().unique())
    for disease in [*diseases, "all"]:
        codes = set(
            patients["patient"] if disease == "all" else patients.loc[patients["disease"] == disease, "patient"]
        )
        row: dict[str, Any] = {"level": level, "disease": disease, "patients": len(codes)}
        cmax = pd.to_numeric(nca.loc[nca["patient"].isin(codes), "cmax"], errors="coerce").dropna()
        tmax = pd.to_numeric(nca.loc[nca["patient"].isin(codes), "tmax"], errors="coerce").dropna()
        row["cart_cmax_median"] = float(cmax.median()) if len(cmax) else np.nan
        row["cart_cmax_q25"] = float(cmax.quantile(0.25)) if len(cmax) else np.nan
        row["cart_cmax_q75"] = float(cmax.quantile(0.75)) if len(cmax) else np.nan
        row["cart_tmax_median"] = float(tmax.median()) if len(tmax) else np.nan
        aplasia = aplasia_summary(bcells[bcells["patient"].isin(codes)])
        row["aplasia_median_days"] = np.nan if aplasia is None or aplasia.median is None else float(aplasia.median)
        row["aplasia_mean_days"] = np.nan if aplasia is None else aplasia.restricted_mean
        row["aplasia_sd_days"] = np.nan if aplasia is None else aplasia.restricted_sd
        row["aplasia_censored"] = 0 if aplasia is None else aplasia.censored
        if disease == "all":
            part = course
            row["endpoint"] = "primary endpoint of each disease"
        else:
            part = course[course["disease"] == disease]
            row["endpoint"] = "; ".join(part["endpoint"].astype(str)) if len(part) else ""
        responders = int(part["responders"].sum()) if len(part) else 0
        evaluable = int(part["patients"].sum()) if len(part) else 0
        relapsed = int(part["relapsed"].sum()) if len(part) else 0
        non_responders = int(part["non_responders"].sum()) if len(part) else 0
        row["responders"] = responders
        row["response_rate"], row["response_ci_lower"], row["response_ci_upper"] = _rate(responders, evaluable)
        row["non_responders"] = non_responders
        row["non_response_rate"], row["non_response_ci_lower"], row["non_response_ci_upper"] = _rate(
            non_responders, evaluable
        )
        row["relapsed"] = relapsed
        row["relapse_rate"], row["relapse_ci_lower"], row["relapse_ci_upper"] = _rate(relapsed, responders)
        crs = pd.to_numeric(safety.loc[safety["patient"].isin(codes), "crs_max_grade"], errors="coerce")
        known = crs.dropna()
        row["crs_any"] = int((known >= 1).sum())
        row["crs_grade3"] = int((known >= 3).sum())
        row["crs_any_rate"], row["crs_any_ci_lower"], row["crs_any_ci_upper"] = _rate(row["crs_any"], len(known))
        row["crs_grade3_rate"], row["crs_grade3_ci_lower"], row["crs_grade3_ci_upper"] = _rate(
            row["crs_grade3"], len(known)
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=LEVEL_COLUMNS)
