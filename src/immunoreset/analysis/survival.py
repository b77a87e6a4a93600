"""Time to remission and its durability, with Kaplan–Meier estimates (lifelines).

Visit-based conventions (stated in every result):

* The clock is the study day (day 0 = CAR-T infusion).
* A state is only known at visits, so an onset is dated at the first visit at which it was observed
  (the true onset lies between that visit and the one before; ``onset_interval`` reports both days).
* **Sustained** remission starts at the earliest visit from which the flag is ``True`` at every later
  evaluable visit up to the last follow-up; a patient whose last evaluable visit is not in remission
  is censored at the last follow-up.
* **Loss** of remission is dated at the first evaluable visit with the flag ``False`` after an onset.
* Visits whose flag is missing (not evaluable) are skipped, never counted as remission or relapse.
* Kaplan–Meier confidence intervals are lifelines' default: Greenwood variance with the exponential
  (log(−log)) transform.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pandas as pd
from lifelines import KaplanMeierFitter

from immunoreset.errors import InvalidInput

__all__ = [
    "AplasiaSummary",
    "KaplanMeier",
    "aplasia_durations",
    "aplasia_summary",
    "kaplan_meier",
    "reconstitution_summary",
    "reconstitution_times",
    "remission_durability",
    "restricted_moments",
    "time_to_sustained_remission",
]

KM_CI_METHOD = "Greenwood variance, exponential (log(-log)) transform (lifelines)"


def _patients(visits: pd.DataFrame, flag: str, patient: str, day: str) -> list[tuple[object, pd.DataFrame]]:
    missing = [c for c in (patient, day, flag) if c not in visits.columns]
    if missing:
        raise InvalidInput("columns", missing, f"columns {patient}, {day}, {flag} in the visit table")
    ordered = visits.sort_values([patient, day])
    return [(key, group) for key, group in ordered.groupby(patient, sort=False)]


def time_to_sustained_remission(
    visits: pd.DataFrame, flag: str, *, patient: str = "patient", day: str = "study_day"
) -> pd.DataFrame:
    """Per patient: study day of onset of the remission that lasted to the last follow-up.

    Columns: ``patient``, ``event`` (True when a sustained remission started), ``time`` (onset day, or the
    last follow-up day when censored), ``onset_interval_start`` (previous visit day), ``last_follow_up``.
    """
    rows: list[dict[str, object]] = []
    for key, group in _patients(visits, flag, patient, day):
        known = group[group[flag].notna()]
        days = [int(d) for d in group[day]]
        last = max(days)
        flags = [bool(v) for v in known[flag]]
        known_days = [int(d) for d in known[day]]
        onset = None
        for i in range(len(flags) - 1, -1, -1):
            if not flags[i]:
                break
            onset = known_days[i]
        previous = [d for d in days if onset is not None and d < onset]
        rows.append(
            {
                "patient": key,
                "event": onset is not None,
                "time": onset if onset is not None else last,
                "onset_interval_start": max(previous) if previous else None,
                "last_follow_up": last,
            }
        )
    return pd.DataFrame(rows)


def remission_durability(
    visits: pd.DataFrame, flag: str, *, patient: str = "patient", day: str = "study_day"
) -> pd.DataFrame:
    """Per patient with a remission: days from the first onset to loss (event) or last follow-up (censored).

    Columns: ``patient``, ``onset``, ``event`` (remission lost), ``time`` (days in remission),
    ``lost_at`` (study day of the first visit out of remission, if any).
    """
    rows: list[dict[str, object]] = []
    for key, group in _patients(visits, flag, patient, day):
        known = group[group[flag].notna()]
        last = int(group[day].max())
        onset = None
        lost = None
        for d, value in zip(known[day], known[flag], strict=True):
            if onset is None and bool(value):
                onset = int(d)
            elif onset is not None and not bool(value):
                lost = int(d)
                break
        if onset is None:
            continue
        end = lost if lost is not None else last
        rows.append({"patient": key, "onset": onset, "event": lost is not None, "time": end - onset, "lost_at": lost})
    return pd.DataFrame(rows, columns=["patient", "onset", "event", "time", "lost_at"])


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan–Meier estimate: the step function with its confidence band, and the median."""

    table: pd.DataFrame
    """Columns ``time``, ``at_risk``, ``events``, ``survival``, ``ci_lower``, ``ci_upper``."""
    median: float
    confidence: float
    ci_method: str = KM_CI_METHOD


def kaplan_meier(durations: pd.DataFrame, *, confidence: float = 0.95, label: str = "estimate") -> KaplanMeier:
    """Kaplan–Meier estimate from a table with ``time`` and ``event`` columns (lifelines)."""
    for column in ("time", "event"):
        if column not in durations.columns:
            raise InvalidInput("columns", list(durations.columns), "columns time and event")
    if durations.empty:
        raise InvalidInput("durations", "empty table", "at least one patient")
    fitter = KaplanMeierFitter(alpha=1 - confidence, label=label)
    fitter.fit(durations["time"].astype(float), event_observed=durations["event"].astype(bool))
    survival = fitter.survival_function_[label]
    band = fitter.confidence_interval_survival_function_
    events = fitter.event_table
    table = pd.DataFrame(
        {
            "time": survival.index.to_numpy(dtype=float),
            "at_risk": events["at_risk"].reindex(survival.index).to_numpy(),
            "events": events["observed"].reindex(survival.index).to_numpy(),
            "survival": survival.to_numpy(),
            "ci_lower": band.iloc[:, 0].to_numpy(),
            "ci_upper": band.iloc[:, 1].to_numpy(),
        }
    )
    return KaplanMeier(table=table, median=float(fitter.median_survival_time_), confidence=confidence)


def restricted_moments(km: KaplanMeier, horizon: float) -> tuple[float, float]:
    """Mean and SD of ``min(T, horizon)`` under the Kaplan–Meier estimate: ``E = ∫₀ᵗ S(u) du`` and
    ``E[min(T, τ)²] = ∫₀ᵗ 2u S(u) du``, integrated exactly over the step function. Censored patients count
    with the survival they contribute; nobody is dropped. With no censoring before ``horizon`` these are
    the ordinary mean and (population) SD of the times capped at ``horizon``."""
    if not math.isfinite(horizon) or horizon <= 0:
        raise InvalidInput("horizon", horizon, "a positive number of days")
    times = [0.0] + [float(t) for t in km.table["time"] if 0 < t < horizon] + [float(horizon)]
    steps = km.table.set_index("time")["survival"]
    first, second, level = 0.0, 0.0, 1.0
    for start, end in itertools.pairwise(times):
        if start in steps.index:
            level = float(steps.loc[start])
        first += level * (end - start)
        second += level * (end * end - start * start)
    return first, math.sqrt(max(second - first * first, 0.0))


def _known(value: object) -> bool:
    return value is not None and value == value  # None and NaN are unknown


def _is_true(value: object) -> bool:
    """True only for a known true flag (a NaN from a CSV round trip is not True)."""
    return _known(value) and bool(value)


def aplasia_durations(bcells: pd.DataFrame) -> pd.DataFrame:
    """Time from B-cell aplasia to reconstitution per patient, censored where B cells had not returned.

    Input: the table of :func:`immunoreset.kinetics.bcells.bcell_table`. Patients who never reached aplasia
    are left out (they have no aplasia to end). A reconstituted patient's duration is the middle of its
    sampling interval (``aplasia_duration_min``..``max``); a patient still aplastic at the last sample is
    **right-censored** at the longest duration the samples prove (``aplasia_duration_min``, else
    ``censored_at − aplasia_onset_upper``) — counted, never dropped.
    Columns: ``patient``, ``time``, ``event``."""
    needed = ["patient", "aplasia_reached", "reconstituted", "aplasia_duration_min", "aplasia_duration_max"]
    missing = [c for c in [*needed, "censored_at", "aplasia_onset_upper"] if c not in bcells.columns]
    if missing:
        raise InvalidInput("columns", missing, "the columns of the B-cell aplasia table")
    rows: list[dict[str, object]] = []
    for _, row in bcells.iterrows():
        if not _is_true(row["aplasia_reached"]):
            continue
        if _is_true(row["reconstituted"]):
            time = (float(row["aplasia_duration_min"]) + float(row["aplasia_duration_max"])) / 2
            rows.append({"patient": row["patient"], "time": time, "event": True})
        elif _known(row["aplasia_duration_min"]):
            # still aplastic: censored at the longest duration the samples prove
            rows.append(
                {"patient": row["patient"], "time": max(float(row["aplasia_duration_min"]), 0.0), "event": False}
            )
        elif _known(row["censored_at"]) and _known(row["aplasia_onset_upper"]):
            time = float(row["censored_at"]) - float(row["aplasia_onset_upper"])
            rows.append({"patient": row["patient"], "time": max(time, 0.0), "event": False})
    return pd.DataFrame(rows, columns=["patient", "time", "event"])


@dataclass(frozen=True)
class AplasiaSummary:
    """A time to B-cell return over a cohort with censoring (Kaplan–Meier): the duration of aplasia, or the
    study day of reconstitution."""

    patients: int
    reconstituted: int
    censored: int
    median: float
    """Kaplan–Meier median (inf when fewer than half reconstituted)."""
    restricted_mean: float
    restricted_sd: float
    """SD of min(duration, horizon) × √(n/(n−1)): the sample SD when nobody is censored."""
    horizon: float
    """The mean and SD are of min(duration, horizon); horizon = the longest follow-up in aplasia."""
    km: KaplanMeier

    def describe(self) -> str:
        """One line for tables: restricted mean ± SD, median, counts."""
        median = "not reached" if not math.isfinite(self.median) else f"{self.median:.0f}"
        return (
            f"{self.restricted_mean:.0f} ± {self.restricted_sd:.0f} (Kaplan–Meier, censored counted; median "
            f"{median}; {self.reconstituted} reconstituted, {self.censored} censored of {self.patients})"
        )


def reconstitution_times(bcells: pd.DataFrame) -> pd.DataFrame:
    """Study day of B-cell return per patient who reached aplasia: the middle of the reconstitution interval,
    or right-censored at the last sample still below the reconstitution threshold. Columns ``patient``,
    ``time``, ``event``."""
    rows: list[dict[str, object]] = []
    for _, row in bcells.iterrows():
        if not _is_true(row["aplasia_reached"]):
            continue
        if _is_true(row["reconstituted"]):
            time = (float(row["reconstitution_lower"]) + float(row["reconstitution_upper"])) / 2
            rows.append({"patient": row["patient"], "time": time, "event": True})
        elif _known(row["aplasia_duration_min"]) and _known(row["aplasia_onset_upper"]):
            time = float(row["aplasia_duration_min"]) + float(row["aplasia_onset_upper"])
            rows.append({"patient": row["patient"], "time": time, "event": False})
        elif _known(row["censored_at"]):
            rows.append({"patient": row["patient"], "time": float(row["censored_at"]), "event": False})
    return pd.DataFrame(rows, columns=["patient", "time", "event"])


def reconstitution_summary(bcells: pd.DataFrame) -> AplasiaSummary | None:
    """Kaplan–Meier summary of :func:`reconstitution_times` (day of B-cell return; censored counted)."""
    return _summary(reconstitution_times(bcells))


def aplasia_summary(bcells: pd.DataFrame) -> AplasiaSummary | None:
    """Kaplan–Meier summary of :func:`aplasia_durations` (None when no patient reached aplasia)."""
    return _summary(aplasia_durations(bcells))


def _summary(durations: pd.DataFrame) -> AplasiaSummary | None:
    if durations.empty:
        return None
    km = kaplan_meier(durations, label="aplasia")
    horizon = float(durations["time"].max())
    mean, sd = restricted_moments(km, horizon) if horizon > 0 else (0.0, 0.0)
    n = len(durations)
    if n > 1:  # Bessel's factor: without censoring this is the sample SD, as case series print it
        sd *= math.sqrt(n / (n - 1))
    events = int(durations["event"].sum())
    return AplasiaSummary(
        patients=len(durations),
        reconstituted=events,
        censored=len(durations) - events,
        median=km.median,
        restricted_mean=mean,
        restricted_sd=sd,
        horizon=horizon,
        km=km,
    )
