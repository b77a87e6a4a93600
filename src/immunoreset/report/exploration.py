"""The exploration report: key outcomes per level of a varied design field, as a table and a plot.

Written by ``immunoreset trial run DESIGN --vary FIELD=...`` beside one full case-series report per level
(``levels/<n>/report.html``); the tables are :func:`immunoreset.analysis.exploration.level_summary` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from immunoreset import __version__
from immunoreset.report.document import Document
from immunoreset.report.figures import PALETTE

__all__ = ["exploration_figure", "exploration_report"]

_PANELS = (
    ("cart_cmax_median", "CAR-T Cmax, median (cells/µL)", ("cart_cmax_q25", "cart_cmax_q75")),
    ("aplasia_median_days", "B-cell aplasia, KM median (days)", None),
    ("response_rate", "Response (primary endpoint)", ("response_ci_lower", "response_ci_upper")),
    ("relapse_rate", "Relapse among responders", ("relapse_ci_lower", "relapse_ci_upper")),
    ("crs_any_rate", "CRS, any grade", ("crs_any_ci_lower", "crs_any_ci_upper")),
)


def exploration_figure(summary: pd.DataFrame) -> go.Figure:
    """One panel per outcome, levels on the x axis in run order, a line per disease (bands: IQR or 95 % CI)."""
    levels = list(dict.fromkeys(summary["level"]))
    fig = make_subplots(rows=1, cols=len(_PANELS), subplot_titles=[title for _, title, _ in _PANELS])
    for d, (disease, part) in enumerate(summary.groupby("disease", sort=False)):
        part = part.set_index("level").reindex(levels)
        color = PALETTE[d % len(PALETTE)]
        for c, (column, _, band) in enumerate(_PANELS, start=1):
            error = None
            if band is not None:
                low, high = part[band[0]], part[band[1]]
                error = {
                    "type": "data",
                    "symmetric": False,
                    "array": (high - part[column]).tolist(),
                    "arrayminus": (part[column] - low).tolist(),
                }
            fig.add_trace(
                go.Scatter(
                    x=levels,
                    y=part[column],
                    error_y=error,
                    mode="lines+markers",
                    name=str(disease),
                    legendgroup=str(disease),
                    showlegend=c == 1,
                    line={"color": color, "width": 2 if disease == "all" else 1.4},
                ),
                row=1,
                col=c,
            )
    for c, (column, _, _) in enumerate(_PANELS, start=1):
        if column.endswith("_rate"):
            fig.update_yaxes(range=[0, 1.02], row=1, col=c)
    fig.update_layout(template="plotly_white", height=420, margin={"t": 60})
    return fig


def exploration_report(
    summary: pd.DataFrame,
    *,
    design: str,
    varied: Sequence[str],
    level_reports: dict[str, Path],
    seed: int,
    out: Path,
) -> Path:
    """Write the exploration report to ``out`` (HTML) and return its path."""
    doc = Document(
        title=f"Design exploration: {design}",
        subtitle=f"Varied: {', '.join(varied)}; {summary['level'].nunique()} levels, seed {seed} for every level",
        footer=f"immunoreset {__version__}.",
    )
    intro = doc.section("Outcomes by level")
    intro.text(
        "Each level is the design with the varied field(s) set, simulated with the same seed (the same virtual "
        "patients: common random numbers), written to its own registry, scored by the instruments and analysed "
        "like the main case series. CAR-T Cmax from the NCA of the flow samples (median and 25th–75th "
        "percentile); B-cell aplasia as Kaplan–Meier median and restricted mean ± SD; response, relapse and "
        "CRS with exact (Clopper–Pearson) 95 % CIs."
    )
    intro.figure(exploration_figure(summary))
    shown = summary[summary["disease"] == "all"][
        [
            "level",
            "patients",
            "cart_cmax_median",
            "cart_tmax_median",
            "aplasia_median_days",
            "aplasia_mean_days",
            "aplasia_sd_days",
            "aplasia_censored",
            "response_rate",
            "non_response_rate",
            "relapse_rate",
            "crs_any_rate",
            "crs_grade3_rate",
        ]
    ]
    intro.table(shown, caption="All patients (per-disease rows: tables/exploration.csv)")
    by_disease = doc.section("By disease")
    by_disease.table(
        summary[summary["disease"] != "all"][
            [
                *("level", "disease", "patients", "cart_cmax_median", "aplasia_median_days", "endpoint"),
                *("responders", "response_rate", "response_ci_lower", "response_ci_upper", "non_responders"),
                *("relapsed", "relapse_rate", "relapse_ci_lower", "relapse_ci_upper", "crs_any_rate"),
                *("crs_any_ci_lower", "crs_any_ci_upper", "crs_grade3_rate"),
            ]
        ]
    )
    links = doc.section("Reports per level")
    for level, report in level_reports.items():
        links.text(f"{level}: {report.relative_to(out.parent)}")
    return doc.write(out)
