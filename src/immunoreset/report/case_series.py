"""The case-series report: remission rates, drug-free remission over time, kinetics and safety.

It reads tidy tables that real registries and virtual trials both produce:

* ``visits``: one row per patient and visit with ``patient``, ``disease``, ``study_day`` and binary
  outcome columns (``doris_remission``, ``lldas``, ``drug_free``, ``doris_drug_free_remission``) plus
  ``sledai2k``/``clinical_sledai``, ``anti_dsdna_iu_per_ml``, ``b_cells_per_ul``, ``car_t_per_ul`` where known;
* ``safety``: one row per patient (``icaht_early_grade``, ``car_t_peak_per_ul``, ``car_t_peak_day`` ...);
* the published results to compare with (:func:`immunoreset.analysis.published.load_published`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from immunoreset import __version__
from immunoreset.analysis import kaplan_meier, response_rates, time_to_sustained_remission
from immunoreset.analysis.published import load_published
from immunoreset.report.document import Document
from immunoreset.report.figures import kaplan_meier_plot, swimmer_plot, trajectory_plot

__all__ = ["case_series_report"]

VISIT_LABELS = {-7: "baseline", 28: "month 1", 90: "month 3", 180: "month 6", 365: "month 12", 730: "month 24"}


def _periods(visits: pd.DataFrame, flag: str, state: str) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for patient, group in visits.sort_values("study_day").groupby("patient", sort=False):
        start = None
        last_day = None
        for day, value in zip(group["study_day"], group[flag], strict=True):
            if value is True and start is None:
                start = day
            elif value is not True and start is not None:
                rows.append({"patient": patient, "start": start, "end": day, "state": state})
                start = None
            last_day = day
        if start is not None:
            rows.append({"patient": patient, "start": start, "end": last_day, "state": state})
    return pd.DataFrame(rows, columns=["patient", "start", "end", "state"])


def case_series_report(
    visits: pd.DataFrame,
    safety: pd.DataFrame,
    *,
    title: str,
    provenance: Mapping[str, str],
    daily: pd.DataFrame | None = None,
    published: str | None = "muller2024",
) -> Document:
    """Build the case-series report (call ``.write(path)`` on the result)."""
    doc = Document(
        title=title,
        subtitle=f"{visits['patient'].nunique()} patients; follow-up to day {int(visits['study_day'].max())}",
        footer=f"immunoreset {__version__}.",
    )
    labelled = visits[visits["study_day"].isin(list(VISIT_LABELS))].copy()
    labelled["visit"] = labelled["study_day"].map(VISIT_LABELS)

    summary = doc.section("Study summary")
    counts = visits.groupby("disease")["patient"].nunique().rename("patients").reset_index()
    summary.table(counts, caption="Patients by disease")
    for key, value in provenance.items():
        summary.text(f"{key}: {value}", note=True)

    rates = doc.section("Remission and response by visit")
    for outcome, label in (
        ("doris_remission", "DORIS 2021 remission"),
        ("lldas", "LLDAS"),
        ("doris_drug_free_remission", "Drug-free DORIS remission"),
    ):
        if outcome in labelled.columns:
            table = response_rates(labelled, outcome, by=("disease", "visit"))
            table = table.assign(**{"rate (95% CI)": table.apply(_rate_text, axis=1)})
            rates.table(
                table[["disease", "visit", "evaluable", "responders", "not_evaluable", "rate (95% CI)"]],
                caption=f"{label} — exact Clopper-Pearson 95% confidence intervals; not-evaluable visits excluded",
            )

    flag = "doris_drug_free_remission"
    if flag in visits.columns:
        km_section = doc.section("Sustained drug-free remission")
        durations = time_to_sustained_remission(visits, flag)
        km = kaplan_meier(durations, label="all patients")
        km_section.figure(
            kaplan_meier_plot(
                {"all patients": km},
                title="Time to sustained drug-free DORIS remission",
                y_title="Probability of sustained drug-free remission",
                cumulative=True,
            )
        )
        km_section.text(
            f"Kaplan-Meier estimate; confidence band: {km.ci_method}. Onsets are dated at the first visit "
            "observed in remission; remission must hold at every later evaluable visit.",
            note=True,
        )
        km_section.table(durations, caption="Per-patient onset of sustained drug-free remission (study day)")

    swim = doc.section("Per-patient course")
    follow = pd.DataFrame(visits.groupby(["patient", "disease"], as_index=False)["study_day"].max())
    follow.columns = pd.Index(["patient", "disease", "last_day"])
    periods = _periods(visits, flag, "drug-free remission") if flag in visits.columns else None
    events = None
    if "car_t_peak_day" in safety.columns:
        events = safety[["patient", "car_t_peak_day"]].rename(columns={"car_t_peak_day": "day"})
        events = events.assign(event="CAR-T peak")
    swim.figure(swimmer_plot(follow, periods, events))

    kinetics = doc.section("CAR-T expansion and B cells")
    source = daily if daily is not None else visits
    day_col = "study_day"
    if daily is not None and "totalCart" in daily.columns:
        early = source[source[day_col] <= 90]
        kinetics.figure(
            trajectory_plot(early, value="totalCart", title="CAR-T cells in blood", y_title="cells/µL", log_y=True)
        )
        kinetics.figure(
            trajectory_plot(source, value="bCell", title="CD19+ B cells in blood", y_title="cells/µL", log_y=True)
        )
    elif "car_t_per_ul" in visits.columns:
        kinetics.figure(
            trajectory_plot(visits, value="car_t_per_ul", title="CAR-T cells", y_title="cells/µL", log_y=True)
        )
    if {"car_t_peak_per_ul", "car_t_peak_day"} <= set(safety.columns):
        kinetics.table(
            safety[["patient", "disease", "car_t_peak_per_ul", "car_t_peak_day", "b_cell_nadir_per_ul"]],
            caption="CAR-T peak (Cmax, Tmax) and B-cell nadir per patient",
        )

    activity = doc.section("Disease activity")
    if "sledai2k" in visits.columns:
        sle = visits[visits["disease"] == "SLE"].dropna(subset=["sledai2k"])
        activity.figure(trajectory_plot(sle, value="sledai2k", title="SLEDAI-2K", y_title="SLEDAI-2K (0-105)"))
    if "anti_dsdna_iu_per_ml" in visits.columns:
        activity.figure(
            trajectory_plot(
                visits,
                value="anti_dsdna_iu_per_ml",
                title="Anti-dsDNA",
                y_title="IU/mL",
                log_y=True,
            )
        )

    safe = doc.section("Safety")
    grade_columns = [c for c in safety.columns if c.endswith("_grade")]
    if grade_columns:
        tallies = []
        for column in grade_columns:
            grade_counts = safety[column].value_counts(dropna=False).sort_index()
            for grade, n in grade_counts.items():
                tallies.append({"measure": column.replace("_", " "), "grade": grade, "patients": int(n)})
        safe.table(pd.DataFrame(tallies), caption="Patients by maximum grade")

    if published:
        compare = doc.section("Simulated vs published")
        series = load_published(published)
        table = series.table()
        observed: dict[str, str] = {}
        final = visits[visits["study_day"] == visits.groupby("patient")["study_day"].transform("max")]
        sle_final = final[final["disease"] == "SLE"]
        if "doris_remission" in visits.columns and len(sle_final):
            ever = visits[visits["disease"] == "SLE"].groupby("patient")["doris_remission"].any()
            observed["sle_doris_remission"] = f"{int(ever.sum())}/{len(ever)}"
        if "sledai2k" in visits.columns:
            m6 = visits[(visits["disease"] == "SLE") & (visits["study_day"] == 180)]
            if len(m6):
                observed["sle_sledai_zero_month6"] = f"{int((m6['sledai2k'] == 0).sum())}/{len(m6)}"
        if "drug_free" in visits.columns:
            free = final.groupby("patient")["drug_free"].any()
            observed["immunosuppression_stopped"] = f"{int(free.sum())}/{len(free)}"
        n_safety = len(safety)
        if "crs_max_grade" in safety.columns and n_safety:
            grades = safety["crs_max_grade"].fillna(0)
            observed["crs_any"] = f"{int((grades >= 1).sum())}/{n_safety}"
            observed["crs_grade_2_or_more"] = f"{int((grades >= 2).sum())}/{n_safety}"
            observed["crs_grade_3_or_more"] = f"{int((grades >= 3).sum())}/{n_safety}"
        if "icans_max_grade" in safety.columns and n_safety:
            observed["icans_any"] = f"{int((safety['icans_max_grade'].fillna(0) >= 1).sum())}/{n_safety}"
        table["this series"] = table["key"].map(observed).fillna("not simulated")
        compare.table(table[["result", "disease", "published", "this series", "confidence", "source"]])
        compare.text(series.study, note=True)
    return doc


def _rate_text(row: pd.Series) -> str:
    if row["evaluable"] == 0:
        return "—"
    return f"{row['rate'] * 100:.0f}% ({row['ci_lower'] * 100:.0f}–{row['ci_upper'] * 100:.0f})"


def write_tables(tables: Mapping[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Write each table as CSV (nested input columns are left out) and return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        flat = frame[[c for c in frame.columns if not c.endswith("_input")]]
        path = folder / f"{name}.csv"
        flat.to_csv(path, index=False)
        written.append(path)
    return written
