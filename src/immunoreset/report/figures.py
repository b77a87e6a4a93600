"""Plotly figures of a CAR-T case series: swimmer plot, Kaplan–Meier curve, trajectories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from immunoreset.analysis.survival import KaplanMeier
from immunoreset.errors import InvalidInput

__all__ = ["kaplan_meier_plot", "swimmer_plot", "trajectory_plot"]

PALETTE = ["#12355b", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3", "#2e4057", "#b56576"]
STATE_COLOURS = {
    "drug-free remission": "#66a182",
    "remission": "#00798c",
    "response": "#edae49",
    "B-cell aplasia": "#8d96a3",
}


def _need(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(name, missing, f"columns {', '.join(columns)}")


def swimmer_plot(
    follow_up: pd.DataFrame,
    periods: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    title: str = "Per-patient course after CAR-T infusion",
) -> go.Figure:
    """Swimmer plot: one lane per patient from day 0 to last follow-up.

    ``follow_up``: ``patient``, ``disease``, ``last_day``. ``periods``: ``patient``, ``start``, ``end``,
    ``state`` (coloured segments, e.g. drug-free remission). ``events``: ``patient``, ``day``, ``event``
    (markers, e.g. CRS grade 1, infection, relapse).
    """
    _need(follow_up, ("patient", "disease", "last_day"), "follow_up")
    order = follow_up.sort_values(["disease", "patient"], ascending=[False, False])
    lanes = [f"{p} ({d})" for p, d in zip(order["patient"], order["disease"], strict=True)]
    lane_of = dict(zip(order["patient"], lanes, strict=True))
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=lanes,
            x=order["last_day"],
            orientation="h",
            marker_color="#dfe6ee",
            name="follow-up",
            hovertemplate="%{y}: follow-up to day %{x}<extra></extra>",
        )
    )
    if periods is not None and not periods.empty:
        _need(periods, ("patient", "start", "end", "state"), "periods")
        for i, (state, group) in enumerate(periods.groupby("state", sort=False)):
            fig.add_trace(
                go.Bar(
                    y=[lane_of[p] for p in group["patient"]],
                    x=group["end"] - group["start"],
                    base=group["start"],
                    orientation="h",
                    width=0.45,
                    marker_color=STATE_COLOURS.get(str(state), PALETTE[i % len(PALETTE)]),
                    name=str(state),
                    hovertemplate="%{y}: " + str(state) + " from day %{base} (%{x} days)<extra></extra>",
                )
            )
    if events is not None and not events.empty:
        _need(events, ("patient", "day", "event"), "events")
        symbols = ["diamond", "x", "triangle-up", "star", "circle", "square"]
        for i, (event, group) in enumerate(events.groupby("event", sort=False)):
            fig.add_trace(
                go.Scatter(
                    y=[lane_of[p] for p in group["patient"]],
                    x=group["day"],
                    mode="markers",
                    marker={"symbol": symbols[i % len(symbols)], "size": 10, "color": PALETTE[(i + 1) % len(PALETTE)]},
                    name=str(event),
                    hovertemplate="%{y}: " + str(event) + " on day %{x}<extra></extra>",
                )
            )
    fig.update_layout(
        title=title,
        barmode="overlay",
        xaxis_title="Study day (day 0 = CAR-T infusion)",
        height=max(320, 28 * len(lanes) + 140),
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
    )
    return fig


def kaplan_meier_plot(
    curves: Mapping[str, KaplanMeier],
    *,
    title: str,
    y_title: str,
    cumulative: bool = False,
) -> go.Figure:
    """Step curves with confidence bands; ``cumulative=True`` plots 1 − S(t) (probability of the event)."""
    fig = go.Figure()
    for i, (label, km) in enumerate(curves.items()):
        t = km.table
        y, lo, hi = t["survival"], t["ci_lower"], t["ci_upper"]
        if cumulative:
            y, lo, hi = 1 - y, 1 - hi, 1 - lo
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=t["time"], y=hi, mode="lines", line={"shape": "hv", "width": 0}, showlegend=False, hoverinfo="skip"
            )
        )
        fig.add_trace(
            go.Scatter(
                x=t["time"],
                y=lo,
                mode="lines",
                line={"shape": "hv", "width": 0},
                fill="tonexty",
                fillcolor="rgba(18,53,91,0.12)" if i == 0 else "rgba(209,73,91,0.12)",
                name=f"{label}: {int(km.confidence * 100)}% CI",
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(x=t["time"], y=y, mode="lines", line={"shape": "hv", "color": colour, "width": 2.5}, name=label)
        )
    fig.update_layout(
        title=title,
        xaxis_title="Study day (day 0 = CAR-T infusion)",
        yaxis_title=y_title,
        yaxis_range=[0, 1.02],
        template="plotly_white",
    )
    return fig


def trajectory_plot(
    frame: pd.DataFrame,
    *,
    value: str,
    title: str,
    y_title: str,
    group: str = "patient",
    log_y: bool = False,
    reference_lines: Mapping[str, float] | None = None,
) -> go.Figure:
    """Per-patient trajectories over study day (``study_day`` column), one line per ``group`` value."""
    _need(frame, ("study_day", value, group), "trajectories")
    fig = go.Figure()
    for i, (key, part) in enumerate(frame.sort_values("study_day").groupby(group, sort=False)):
        fig.add_trace(
            go.Scatter(
                x=part["study_day"],
                y=part[value],
                mode="lines+markers",
                name=str(key),
                line={"color": PALETTE[i % len(PALETTE)], "width": 1.6},
                marker={"size": 5},
            )
        )
    for label, level in (reference_lines or {}).items():
        fig.add_hline(y=level, line_dash="dot", line_color="#8d96a3", annotation_text=label)
    fig.update_layout(
        title=title,
        xaxis_title="Study day (day 0 = CAR-T infusion)",
        yaxis_title=y_title,
        yaxis_type="log" if log_y else "linear",
        template="plotly_white",
    )
    return fig
