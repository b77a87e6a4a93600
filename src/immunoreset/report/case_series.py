"""The case-series report: one self-contained HTML file from a :class:`~immunoreset.analysis.cohort.CohortAnalysis`.

The same function reports a real registry (``immunoreset report --db``) and a virtual trial
(``immunoreset trial run`` / ``immunoreset demo``): both are analysed by
:func:`immunoreset.analysis.cohort.analyse_cohort` from registry records and their outcome table. A
virtual trial may add the model's daily trajectories (``daily``) for smooth CAR-T and B-cell curves.

Sections: study summary; response and remission by visit (exact 95% CIs); time to first response and
Kaplan-Meier of sustained drug-free response; per-patient swimmer plot; CAR-T expansion and B cells (NCA,
aplasia and reconstitution); disease-activity trajectories per disease; autoantibodies; discontinuation of
immunosuppressants and glucocorticoids; safety; simulated (or observed) vs published; provenance.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from immunoreset import __version__
from immunoreset.analysis.cohort import RESPONSE_LABEL, CohortAnalysis
from immunoreset.analysis.published import load_published
from immunoreset.analysis.survival import aplasia_summary, reconstitution_summary
from immunoreset.report.document import Document
from immunoreset.report.figures import kaplan_meier_plot, swimmer_plot, trajectory_plot

__all__ = ["case_series_report", "published_comparison", "write_tables"]


def _periods(visits: pd.DataFrame, flag: str, state: str) -> pd.DataFrame:
    """Contiguous runs of visits with ``flag`` True, as (patient, start, end, state)."""
    rows: list[dict[str, Any]] = []
    for patient, group in visits.sort_values("study_day").groupby("patient", sort=False):
        start = None
        last_day = None
        for day, value in zip(group["study_day"], group[flag], strict=True):
            if value is True and start is None:
                start = day
            elif value is False and start is not None:
                rows.append({"patient": patient, "start": start, "end": day, "state": state})
                start = None
            last_day = day
        if start is not None:
            rows.append({"patient": patient, "start": start, "end": last_day, "state": state})
    return pd.DataFrame(rows, columns=["patient", "start", "end", "state"])


def _rate_text(row: pd.Series) -> str:
    if row["evaluable"] == 0:
        return "—"
    rate, low, high = (f"{row[c] * 100:.0f}" for c in ("rate", "ci_lower", "ci_upper"))
    return f"{row['responders']}/{row['evaluable']} {rate}% ({low}–{high})"


def _fraction(flags: pd.Series) -> str:
    known = flags.dropna()
    return f"{int(sum(bool(v) for v in known))}/{len(known)}" if len(known) else "not evaluable"


def published_comparison(analysis: CohortAnalysis, published: str = "muller2024") -> pd.DataFrame:
    """The published headline results beside the same quantities computed for this series."""
    series = load_published(published)
    table = series.table()
    visits = analysis.visits
    observed: dict[str, str] = {}

    def ever(disease: str, column: str) -> pd.Series:
        sub = visits[(visits["disease"] == disease) & (visits["study_day"] > 0)]
        return sub.groupby("patient")[column].agg(lambda s: None if s.dropna().empty else bool(s.dropna().any()))

    if (visits["disease"] == "SLE").any():
        observed["sle_doris_remission"] = _fraction(ever("SLE", "doris_remission"))
        m6 = visits[(visits["disease"] == "SLE") & visits["visit"].astype(str).str.contains("month_6|m6|180")]
        if not m6.empty:
            observed["sle_sledai_zero_month6"] = _fraction(m6["sledai2k"].map(lambda v: None if v != v else v == 0))
        sle_visits = visits[visits["disease"] == "SLE"]
        course = analysis.response_course
        if not course.empty and "SLE" in set(course["disease"]):
            sle_course = course.set_index("disease").loc["SLE"]
            observed["sle_doris_lost"] = f"{sle_course['relapsed']}/{sle_course['responders']}"
        antibodies = analysis.autoantibodies
        if not antibodies.empty and "anti_dsdna" in set(antibodies["analyte"]):
            dsdna = antibodies[
                (antibodies["analyte"] == "anti_dsdna") & antibodies["patient"].isin(sle_visits["patient"])
            ]
            dsdna = dsdna[dsdna["abnormal_at_baseline"].astype(object).eq(True)]
            # the analysis drops all-empty columns (e.g. censored_at when every patient normalised)
            dsdna = dsdna.reindex(columns=[*dsdna.columns, *({"censored_at", "normalisation_upper"} - set(dsdna))])
            for key, day in (("sle_anti_dsdna_negative_month3", 90), ("sle_anti_dsdna_negative_month6", 180)):
                followed = dsdna["censored_at"].astype(float) >= day
                seen = dsdna[dsdna["normalised"].astype(object).eq(True) | followed]
                normal = seen["normalised"].astype(object).eq(True) & (seen["normalisation_upper"].astype(float) <= day)
                if len(seen):
                    observed[key] = f"{int(normal.sum())}/{len(seen)}"
    if (visits["disease"] == "IIM").any():
        observed["iim_major_response"] = _fraction(ever("IIM", "tis_major"))
    if (visits["disease"] == "SSc").any():
        observed["ssc_eustar_decrease"] = _fraction(ever("SSc", "eustar_ai_below_baseline"))
    if not analysis.discontinuation.empty:
        observed["immunosuppression_stopped"] = _fraction(analysis.discontinuation["drug_free_at_last_visit"])
    safety = analysis.safety
    if not safety.empty:
        crs = safety["crs_max_grade"]
        observed["crs_any"] = _fraction(crs.map(lambda g: None if g != g or g is None else g >= 1))
        observed["crs_grade_2_or_more"] = _fraction(crs.map(lambda g: None if g != g or g is None else g >= 2))
        observed["crs_grade_3_or_more"] = _fraction(crs.map(lambda g: None if g != g or g is None else g >= 3))
        icans = safety["icans_max_grade"]
        observed["icans_any"] = _fraction(icans.map(lambda g: None if g != g or g is None else g >= 1))
    if not safety.empty:
        hospitalised = safety["serious_adverse_events"].map(lambda n: n > 0)
        infected = safety["infection_max_grade"].map(lambda g: g >= 3)
        observed["infection_hospitalisation"] = f"{int((hospitalised & infected).sum())}/{len(safety)}"
    follow = analysis.patients["last_visit_day"].dropna().astype(float) / (365.25 / 12)
    if len(follow):
        observed["follow_up_months"] = f"{follow.median():.0f} ({follow.min():.0f}–{follow.max():.0f})"
    b = analysis.bcells
    if not b.empty:
        # aplasia duration: Kaplan–Meier with patients still aplastic at their last sample censored (counted)
        label = f"of {len(b)} patients; aplasia < {b['aplasia_below'].iloc[0]} /µL"
        summary = aplasia_summary(b)
        if summary is not None:
            observed["b_cell_aplasia_days"] = f"{summary.describe()}; {label}"
        sle_b = b[b["patient"].isin(visits.loc[visits["disease"] == "SLE", "patient"])]
        returned = reconstitution_summary(sle_b)
        if returned is not None:
            observed["sle_b_cell_return_days_mackensen"] = returned.describe()
        if summary is None:
            observed["b_cell_aplasia_days"] = f"no patient reached aplasia ({label})"
    column = "this series (simulated)" if analysis.source == "simulation" else "this series"
    table[column] = table["key"].map(observed).fillna("not computed")
    return table[["result", "disease", "published", column, "confidence", "source"]]


def case_series_report(
    analysis: CohortAnalysis,
    *,
    title: str,
    provenance: Mapping[str, str],
    daily: pd.DataFrame | None = None,
    published: str | None = "muller2024",
) -> Document:
    """Build the case-series report (call ``.write(path)`` on the result).

    ``daily`` (optional, virtual trials): model trajectories with ``patient``, ``study_day``, and
    ``car_t_per_ul`` / ``b_cells_per_ul`` columns.
    """
    visits = analysis.visits
    patients = analysis.patients
    kind = "virtual (simulated) patients" if analysis.source == "simulation" else "patients"
    follow = patients["last_visit_day"].dropna()
    doc = Document(
        title=title,
        subtitle=f"{len(patients)} {kind}; follow-up to day {int(follow.max()) if len(follow) else 0}",
        footer=f"immunoreset {__version__} · study {analysis.study}",
    )

    summary = doc.section("Study summary")
    if not patients.empty:
        counts = patients.groupby(["disease", "site"]).size().rename("patients").reset_index()
        summary.table(counts, caption="Patients by disease and site")
        columns = ["patient", "site", "disease", "sex", "product", "dose_cells_per_kg", "last_visit_day"]
        if patients["dose_cells_total"].notna().any():  # a flat-dose product: show the dose in cells
            columns.insert(columns.index("dose_cells_per_kg") + 1, "dose_cells_total")
        summary.table(
            patients[columns],
            caption="Patients (pseudonymous codes), CAR-T product and dose (per kg or flat), last visit (study day)",
        )
    for note in analysis.notes:
        summary.text(note, note=True)

    if published:
        compare = doc.section("Simulated vs published" if analysis.source == "simulation" else "Observed vs published")
        compare.table(published_comparison(analysis, published))
        compare.text(load_published(published).study, note=True)

    rates = doc.section("Response and remission by visit")
    if not analysis.rates.empty:
        table = analysis.rates.assign(
            **{"responders/evaluable, rate (95% CI)": analysis.rates.apply(_rate_text, axis=1)}
        )
        rates.table(
            table[["endpoint", "disease", "visit", "not_evaluable", "responders/evaluable, rate (95% CI)"]],
            caption="Exact Clopper-Pearson 95% confidence intervals; not-evaluable visits are left out of the "
            "denominator and counted apart. Disease response: "
            + "; ".join(f"{d}: {label}" for d, label in RESPONSE_LABEL.items()),
        )
    else:
        rates.text("No assessment visits after day 0.", note=True)
    if not analysis.response_course.empty:
        rates.table(
            analysis.response_course,
            caption="Non-response and relapse: patients who never reached the disease response after day 0, and "
            "responders who lost it at a later evaluable visit (day of the first visit out of response: median "
            "(range)); exact Clopper-Pearson 95% confidence intervals",
        )

    km_section = doc.section("Time to response and sustained drug-free response")
    if not analysis.first_response.empty:
        km_section.table(analysis.first_response, caption="First visit with the disease response (study day)")
    if analysis.sustained_km is not None:
        km_section.figure(
            kaplan_meier_plot(
                {"all patients": analysis.sustained_km},
                title="Time to sustained drug-free response",
                y_title="Probability of sustained drug-free response",
                cumulative=True,
            )
        )
        km_section.text(
            f"Kaplan-Meier estimate (lifelines); confidence band: {analysis.sustained_km.ci_method}. Onsets are "
            "dated at the first visit observed in drug-free response; the response must hold at every later "
            "evaluable visit.",
            note=True,
        )
        km_section.table(analysis.sustained, caption="Onset of sustained drug-free response (study day)")

    swim = doc.section("Per-patient course")
    follow_up = patients[["patient", "disease", "last_visit_day"]].rename(columns={"last_visit_day": "last_day"})
    periods = _periods(visits, "drug_free_response", "drug-free response") if not visits.empty else None
    events = []
    if not analysis.nca.empty:
        peaks = analysis.nca[analysis.nca["analyte"] == "cart_flow"]
        events += [
            {"patient": r["patient"], "day": float(r["tmax"]), "event": "CAR-T peak"}
            for r in peaks.to_dict("records")
            if pd.notna(r["tmax"])
        ]
    if not analysis.bcells.empty:
        events += [
            {"patient": r["patient"], "day": float(r["reconstitution_upper"]), "event": "B-cell reconstitution"}
            for r in analysis.bcells.to_dict("records")
            if pd.notna(r["reconstitution_upper"])
        ]
    swim.figure(swimmer_plot(follow_up.dropna(), periods, pd.DataFrame(events) if events else None))

    kinetics = doc.section("CAR-T expansion and B cells")
    if daily is not None and {"car_t_per_ul", "b_cells_per_ul"} <= set(daily.columns):
        early = daily[daily["study_day"].between(0, 90)]
        kinetics.figure(
            trajectory_plot(
                early, value="car_t_per_ul", title="CAR-T cells in blood (model)", y_title="cells/µL", log_y=True
            )
        )
        kinetics.figure(
            trajectory_plot(
                daily[daily["study_day"] >= 0],
                value="b_cells_per_ul",
                title="CD19+ B cells in blood (model)",
                y_title="cells/µL",
            )
        )
    samples = analysis.kinetics_samples
    for analyte, label, unit in (
        ("cart_flow", "CAR-T cells (flow cytometry)", "cells/µL"),
        ("cd19", "CD19+ B cells", "cells/µL"),
    ):
        sub = samples[(samples["analyte"] == analyte) & samples["value"].notna()]
        if not sub.empty:
            frame = sub.assign(study_day=sub["time"].astype(float), level=sub["value"].astype(float))
            kinetics.figure(
                trajectory_plot(
                    frame, value="level", title=f"{label} at visits", y_title=unit, log_y=analyte == "cart_flow"
                )
            )
    if not analysis.nca_summary.empty:
        kinetics.table(analysis.nca_summary, caption="CAR-T non-compartmental analysis: median (range)")
        kinetics.table(
            analysis.nca[["patient", "analyte", "unit", "cmax", "tmax", "auc_0_end", "clast", "tlast", "notes"]],
            caption="CAR-T NCA per patient (AUC0-28 in unit·day; PKNCA conventions, docs/kinetics.md)",
        )
    if not analysis.bcells.empty:
        columns = [
            c
            for c in (
                "patient",
                "aplasia_reached",
                "aplasia_onset_upper",
                "reconstitution_lower",
                "reconstitution_upper",
                "aplasia_duration_min",
                "aplasia_duration_max",
                "naive_fraction_at_reconstitution",
            )
            if c in analysis.bcells.columns
        ]
        kinetics.table(
            analysis.bcells[columns],
            caption="B-cell aplasia and reconstitution, each dated by the interval between two samples "
            f"(aplasia: count < {analysis.bcells['aplasia_below'].iloc[0]} /µL; reconstitution: count ≥ "
            f"{analysis.bcells['reconstitution_at_least'].iloc[0]} /µL; docs/kinetics.md)",
        )

    activity = doc.section("Disease activity")
    for disease, column, label, axis in (
        ("SLE", "sledai2k", "SLEDAI-2K (SLE)", "SLEDAI-2K (0-105)"),
        ("IIM", "tis_total", "Total Improvement Score (IIM)", "TIS (0-100)"),
        ("IIM", "mmt8", "MMT-8 (IIM)", "MMT-8 (0-80)"),
        ("SSc", "eustar_ai", "Revised EUSTAR activity index (SSc)", "EUSTAR-AI (0-10)"),
        ("SSc", "mrss", "Modified Rodnan skin score (SSc)", "mRSS (0-51)"),
    ):
        sub = visits[(visits["disease"] == disease)].dropna(subset=[column])
        if not sub.empty:
            activity.figure(trajectory_plot(sub, value=column, title=label, y_title=axis))
    if not analysis.autoantibodies.empty:
        activity.table(
            analysis.autoantibodies,
            caption="Autoantibody decline: log-linear half-life and time to normalisation (below the laboratory ULN)",
        )

    if not analysis.assessments.empty:
        activity.table(
            analysis.assessments,
            caption="Further instruments recorded at visits: median (range) at baseline (last visit on or before "
            "day 0) and at each patient's last evaluable visit; categories: most frequent value (docs/instruments.md)",
        )

    stop = doc.section("Immunosuppressants and glucocorticoids")
    if not analysis.discontinuation.empty:
        stop.table(
            analysis.discontinuation,
            caption="Drug-free status at the last visit and the study day since "
            "which each category has been stopped (disease-directed drugs)",
        )

    safe = doc.section("Safety")
    safe.table(
        analysis.safety_summary,
        caption="Patients by maximum grade (CRS/ICANS: ASTCT 2019; ICAHT: EHA/EBMT 2023; infections: CTCAE v5.0)",
    )
    if not analysis.infection_density.empty:
        safe.table(
            analysis.infection_density,
            caption="Infections per 100 patient-days at risk by window after the infusion (Hill et al., Blood 2018; "
            "docs/instruments.md, infection_density)",
        )
    safe.table(analysis.safety, caption="Per patient")

    prov = doc.section("Provenance")
    prov.table(pd.DataFrame({"item": list(provenance), "value": [str(v) for v in provenance.values()]}))
    return doc


def write_tables(tables: Mapping[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Write each table as CSV and return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        written.append(path)
    return written
