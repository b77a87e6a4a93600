"""Autoantibody decline after CD19 CAR-T: per-patient half-life and time to normalisation.

Context: anti-dsDNA seroconversion after CD19 CAR-T (Mackensen A et al., Nat Med 2022;28:2124);
after rituximab anti-dsDNA fell to 38 ± 33 % of baseline at 6–8 months (Cambridge G et al.,
Arthritis Rheum 2006), an apparent half-life of months, far slower than IgG catabolism
(IgG1/2/4 21–24 days). The analysis is descriptive and makes no mechanistic assumption.

* **Half-life**: ordinary least squares of ln(value) on study day over the quantifiable samples
  of the fit window; BLQ samples are excluded (they are censored, not zero). k = −slope,
  t½ = ln 2/k, with a two-sided 95 % confidence interval from the t distribution on the slope
  (needs ≥ 3 points). A non-negative slope means no decline: t½ is not defined and ``declining``
  is False.
* **Fit window** (``window``): ``decline`` (default) fits the **decline phase** only — it starts at
  ``fit_from`` (day 0) and ends at one of the samples from the first one that has covered half of
  the fall from the first value to the nadir (so that noise in the first days cannot pass for a
  decline) up to the nadir (the lowest quantifiable value in ``fit_from``..``fit_to``), chosen, as
  PKNCA chooses its terminal phase, by the largest adjusted r² = 1 − (1 − r²)(n − 1)/(n − 2),
  preferring more points when two differ by less than 1e-4. Values after the nadir (a plateau held
  by long-lived plasma cells, or a rise at relapse) never flatten the slope; a series whose first
  value is its lowest is not declining. ``fixed`` fits every sample in ``fit_from``..``fit_to``
  (defaults: day 0 to the last sample). ``fit_end`` reports the last day used.
* **Normalisation**: a value is normal when value **≤** ULN (the laboratory's upper limit of
  normal is itself within the normal range); a BLQ result is normal when its limit is ≤ ULN.
  Patients whose last value before day 0 is normal are ``abnormal_at_baseline=False`` and have
  no time to normalisation. Otherwise the first normal sample after day 0 gives the interval
  (previous sample; that sample] in which the value fell to the ULN; without one the patient is
  right-censored at the last sample. A later abnormal value is flagged (``reverted``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from immunoreset.errors import InvalidInput
from immunoreset.instruments.base import parse

__all__ = ["AntibodyOptions", "AntibodyResult", "AntibodySample", "antibody_decline", "antibody_table"]

SOURCE = (
    "Log-linear decline; context Mackensen et al., Nat Med 2022 (anti-dsDNA seroconversion) and "
    "Cambridge et al., Arthritis Rheum 2006 (anti-dsDNA after rituximab)"
)


class AntibodyOptions(BaseModel):
    """Fit window and minimum points for the half-life."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Literal["decline", "fixed"] = Field(
        "decline", description="decline: day fit_from to the best-fitting end up to the nadir; fixed: fit_from..fit_to."
    )
    fit_from: Decimal = Field(Decimal(0), description="First study day in the log-linear fit.")
    fit_to: Decimal | None = Field(None, description="Last study day in the fit (None = last sample).")
    min_points: int = Field(3, ge=3, description="Minimum quantifiable samples for a half-life.")
    uln: Decimal | None = Field(None, gt=0, description="ULN when the data carry none (same unit as the values).")


class AntibodySample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    time: Decimal
    value: Decimal | None = None
    blq: bool = False
    lloq: Decimal | None = None
    uln: Decimal | None = None


class AntibodyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str = SOURCE
    evaluable: bool
    reason: str | None = None
    unit: str
    n_fit: int = 0
    fit_end: Decimal | None = Field(None, description="Last study day in the half-life fit.")
    declining: bool | None = None
    k: float | None = Field(None, description="Decline rate constant (1/day).")
    half_life: float | None = Field(None, description="ln 2 / k (days).")
    half_life_ci_low: float | None = None
    half_life_ci_high: float | None = Field(None, description="None (unbounded) when the CI of k includes 0.")
    r_squared: float | None = None
    uln: Decimal | None = None
    abnormal_at_baseline: bool | None = None
    normalised: bool | None = None
    normalisation_lower: Decimal | None = Field(None, description="Value fell to ≤ ULN after this day.")
    normalisation_upper: Decimal | None = Field(None, description="... and on or before this day.")
    censored_at: Decimal | None = None
    reverted: bool | None = Field(None, description="Abnormal again after normalisation.")
    notes: list[str] = Field(default_factory=list)


def _is_normal(s: AntibodySample, uln: Decimal) -> bool | None:
    if s.blq:
        return None if s.lloq is None else (s.lloq <= uln or None)
    if s.value is None:
        return None
    return s.value <= uln


def _decline_phase(fit: list[AntibodySample], min_points: int) -> list[AntibodySample]:
    """The samples from the first up to the end (≤ the nadir) with the best adjusted r² (module doc)."""
    values = [float(s.value) for s in fit if s.value is not None]
    nadir = int(np.argmin(values))
    if nadir + 1 < min_points:  # the fall ends before enough samples: no decline phase to fit
        return fit[: nadir + 1]
    halved = next((i for i, v in enumerate(values) if v <= (values[0] + values[nadir]) / 2), nadir)
    t = np.array([float(s.time) for s in fit])
    y = np.log(np.array(values))
    best_end, best = max(min(min_points, len(fit)), min(halved, nadir) + 1), -math.inf
    for end in range(max(min_points, min(halved, nadir) + 1), nadir + 2):
        tt, yy = t[:end] - t[:end].mean(), y[:end] - y[:end].mean()
        syy = float(yy @ yy)
        if syy == 0:
            continue
        r2 = float(tt @ yy) ** 2 / (float(tt @ tt) * syy)  # r² of the least-squares line (as linregress)
        adjusted = 1 - (1 - r2) * (end - 1) / (end - 2)
        if adjusted > best - 1e-4:
            best_end, best = end, max(adjusted, best)
    return fit[:best_end]


def antibody_decline(
    samples: Sequence[AntibodySample | dict[str, object]], *, unit: str, options: AntibodyOptions | None = None
) -> AntibodyResult:
    """Half-life and time to normalisation of one patient's autoantibody titres."""
    o = options or AntibodyOptions()
    parsed = sorted((parse(AntibodySample, s) for s in samples), key=lambda s: s.time)
    if not parsed:
        return AntibodyResult(evaluable=False, reason="no samples", unit=unit)
    notes: list[str] = []
    end = o.fit_to if o.fit_to is not None else parsed[-1].time
    fit = [s for s in parsed if not s.blq and s.value is not None and s.value > 0 and o.fit_from <= s.time <= end]
    never_below_first = False
    if o.window == "decline" and len(fit) >= o.min_points:
        fit = _decline_phase(fit, o.min_points)
        never_below_first = len(fit) == 1  # the first value is the lowest: nothing declined
    result: dict[str, object] = {"n_fit": len(fit), "fit_end": fit[-1].time if fit else None}
    if never_below_first:
        result["declining"] = False
        notes.append("no decline: no later value is below the first")
    elif len(fit) >= o.min_points:
        t = np.array([float(s.time) for s in fit])
        y = np.log(np.array([float(s.value) for s in fit if s.value is not None]))
        reg = stats.linregress(t, y)
        k = -float(reg.slope)
        se = float(reg.stderr)
        q = float(stats.t.ppf(0.975, len(fit) - 2))
        result.update(k=k, r_squared=float(reg.rvalue) ** 2, declining=k > 0)
        if k > 0:
            k_lo, k_hi = k - q * se, k + q * se
            result.update(
                half_life=math.log(2) / k,
                half_life_ci_low=math.log(2) / k_hi,
                half_life_ci_high=math.log(2) / k_lo if k_lo > 0 else None,
            )
        else:
            notes.append("no decline: the log-linear slope is ≥ 0")
    else:
        notes.append(f"half-life not estimable: {len(fit)} quantifiable sample(s) in the window, {o.min_points} needed")

    ulns = {s.uln for s in parsed if s.uln is not None}
    if len(ulns) > 1:
        raise InvalidInput("uln", sorted(ulns), "one upper limit of normal per patient and analyte")
    uln = next(iter(ulns)) if ulns else o.uln
    if uln is None:
        notes.append("time to normalisation not evaluable: no ULN given")
        return AntibodyResult(evaluable=True, unit=unit, notes=notes, **result)
    result["uln"] = uln
    pre = [s for s in parsed if s.time < 0 and _is_normal(s, uln) is not None]
    post = [s for s in parsed if s.time >= 0 and _is_normal(s, uln) is not None]
    if not pre:
        notes.append("no baseline (pre-infusion) value: normalisation judged from day 0 on")
    baseline_normal = _is_normal(pre[-1], uln) if pre else None
    if baseline_normal:
        result.update(abnormal_at_baseline=False)
        return AntibodyResult(evaluable=True, unit=unit, notes=notes, **result)
    result["abnormal_at_baseline"] = None if baseline_normal is None else True
    first = next((i for i, s in enumerate(post) if _is_normal(s, uln)), None)
    if first is None:
        last = post[-1].time if post else None
        result.update(normalised=False, censored_at=last)
        return AntibodyResult(evaluable=True, unit=unit, notes=notes, **result)
    lower = post[first - 1].time if first > 0 else (pre[-1].time if pre else None)
    if lower is None:
        notes.append("normal at the first sample on or after day 0 with no earlier value: interval unbounded below")
    reverted = any(_is_normal(s, uln) is False for s in post[first + 1 :])
    result.update(normalised=True, normalisation_lower=lower, normalisation_upper=post[first].time, reverted=reverted)
    return AntibodyResult(evaluable=True, unit=unit, notes=notes, **result)


ANTIBODY_COLUMNS = (
    "patient",
    "analyte",
    "unit",
    "n_fit",
    "fit_end",
    "declining",
    "k",
    "half_life",
    "half_life_ci_low",
    "half_life_ci_high",
    "r_squared",
    "uln",
    "abnormal_at_baseline",
    "normalised",
    "normalisation_lower",
    "normalisation_upper",
    "censored_at",
    "reverted",
    "notes",
)


def antibody_table(
    frame: pd.DataFrame, analytes: Sequence[str], options: AntibodyOptions | None = None
) -> pd.DataFrame:
    """:func:`antibody_decline` for every patient and each of ``analytes``; one row each."""
    rows: list[dict[str, object]] = []
    for analyte in analytes:
        sub = frame[frame["analyte"] == analyte]
        for patient, group in sub.groupby("patient", sort=True):
            unit = str(group["unit"].iloc[0])
            samples = [
                AntibodySample(time=r["time"], value=r["value"], blq=bool(r["blq"]), lloq=r["lloq"], uln=r["uln"])
                for r in group.to_dict("records")
            ]
            try:
                res = antibody_decline(samples, unit=unit, options=options)
            except InvalidInput as err:
                raise err.with_location(f"patient {patient}, analyte {analyte}") from None
            row: dict[str, object] = {
                k: getattr(res, k) for k in ANTIBODY_COLUMNS if k not in {"patient", "analyte", "notes"}
            }
            row.update(
                patient=patient, analyte=analyte, notes="; ".join(([res.reason] if res.reason else []) + res.notes)
            )
            rows.append(row)
    return pd.DataFrame(rows, columns=list(ANTIBODY_COLUMNS))
