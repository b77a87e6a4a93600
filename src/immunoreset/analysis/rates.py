"""Response and remission rates with exact confidence intervals.

Input is a tidy visit table: one row per (patient, visit) with the columns named in the call
(by default ``disease`` and ``visit``) and one column per binary outcome holding ``True``,
``False`` or missing (not evaluable). Not-evaluable rows are left out of the denominator and
counted separately, so a rate never silently treats missing data as non-response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from scipy.stats import beta

from immunoreset.errors import InvalidInput

__all__ = ["Proportion", "clopper_pearson", "response_rates"]


@dataclass(frozen=True)
class Proportion:
    """A proportion with its exact two-sided confidence interval."""

    successes: int
    total: int
    estimate: float
    lower: float
    upper: float
    confidence: float
    method: str = "Clopper-Pearson exact"


def clopper_pearson(successes: int, total: int, confidence: float = 0.95) -> Proportion:
    """Exact (Clopper–Pearson) two-sided interval for a binomial proportion.

    Source: Clopper CJ, Pearson ES. *The use of confidence or fiducial limits illustrated in the case
    of the binomial.* Biometrika 1934;26(4):404–13. With ``a = 1 - confidence``: lower =
    Beta(a/2; k, n-k+1) (0 when k = 0), upper = Beta(1-a/2; k+1, n-k) (1 when k = n).

    >>> p = clopper_pearson(8, 8)
    >>> round(p.lower, 4), p.upper
    (0.6306, 1.0)
    """
    if total < 0 or successes < 0 or successes > total:
        raise InvalidInput("successes", successes, f"a count from 0 to total ({total})")
    if not 0 < confidence < 1:
        raise InvalidInput("confidence", confidence, "a level strictly between 0 and 1, e.g. 0.95")
    if total == 0:
        return Proportion(0, 0, float("nan"), float("nan"), float("nan"), confidence)
    alpha = 1 - confidence
    lower = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, total - successes + 1))
    upper = 1.0 if successes == total else float(beta.ppf(1 - alpha / 2, successes + 1, total - successes))
    return Proportion(successes, total, successes / total, lower, upper, confidence)


def response_rates(
    visits: pd.DataFrame,
    outcome: str,
    *,
    by: Sequence[str] = ("disease", "visit"),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Rate of ``outcome`` per group with exact confidence intervals.

    Returns one row per group with ``patients`` (rows in the group), ``evaluable``, ``responders``,
    ``not_evaluable``, ``rate``, ``ci_lower``, ``ci_upper``, ``confidence`` and ``ci_method``.
    """
    missing = [c for c in (*by, outcome) if c not in visits.columns]
    if missing:
        raise InvalidInput("columns", missing, f"columns {', '.join((*by, outcome))} in the visit table")
    rows: list[dict[str, object]] = []
    for key, group in visits.groupby(list(by), sort=False, dropna=False):
        values = group[outcome]
        known = values.dropna()
        bad = [v for v in known.unique() if v not in (True, False)]
        if bad:
            raise InvalidInput(outcome, bad[0], "True, False or missing (not evaluable)")
        responders = int(sum(bool(v) for v in known))
        estimate = clopper_pearson(responders, len(known), confidence)
        keys = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(by, keys, strict=True)),
                "patients": len(group),
                "evaluable": len(known),
                "responders": responders,
                "not_evaluable": len(group) - len(known),
                "rate": estimate.estimate,
                "ci_lower": estimate.lower,
                "ci_upper": estimate.upper,
                "confidence": confidence,
                "ci_method": estimate.method,
            }
        )
    return pd.DataFrame(rows)
