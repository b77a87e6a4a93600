"""Small helpers that turn simulated numbers into registry observation records."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from immunoreset.registry.records import ObservationRecord
from immunoreset.registry.vocabulary import code as vocabulary_code

__all__ = ["allocate", "coded", "decimal", "lab_noise", "numeric", "yes_no"]

SOURCE = "simulation"


def decimal(value: float, places: int) -> Decimal:
    """``value`` rounded to ``places`` decimals as an exact Decimal (``-0`` becomes ``0``)."""
    if not math.isfinite(value):
        raise ValueError(f"non-finite simulated value {value!r}")
    out = Decimal(f"{value:.{places}f}")
    return out if out != 0 else Decimal(0).quantize(out)


def numeric(name: str, value: float, places: int, unit: str | None = None) -> ObservationRecord:
    """A numeric observation in the vocabulary's canonical unit (or ``unit``), clipped into its range."""
    entry = vocabulary_code(name)
    low = float(entry.low) if entry.low is not None else -math.inf
    high = float(entry.high) if entry.high is not None else math.inf
    clipped = min(max(value, low), high)
    return ObservationRecord(
        code=name, value=decimal(clipped, places), unit=unit or entry.unit, method=entry.method, source=SOURCE
    )


def yes_no(name: str, present: bool) -> ObservationRecord:
    return ObservationRecord(code=name, value=Decimal(1 if present else 0), unit="1", source=SOURCE)


def coded(name: str, text: str) -> ObservationRecord:
    return ObservationRecord(code=name, value_text=text, source=SOURCE)


def lab_noise(value: float, cv: float, rng: np.random.Generator) -> float:
    """Multiplicative log-normal measurement error with coefficient of variation ``cv`` (median unbiased)."""
    if cv <= 0:
        return value
    sigma = math.sqrt(math.log1p(cv * cv))
    return float(value * math.exp(rng.normal(0.0, sigma)))


def allocate(total: int, weights: list[float], cap: int) -> list[int]:
    """Split the integer ``total`` over items with ``weights``, each at most ``cap`` (largest-deficit greedy).

    Each unit goes to the item whose target share ``total × w / Σw`` exceeds its allocation the most, among
    items below ``cap`` (ties: first item). Without caps this is Hamilton's largest-remainder split.
    """
    if total < 0 or total > cap * len(weights):
        raise ValueError(f"cannot allocate {total} over {len(weights)} items of at most {cap}")
    weight_sum = float(sum(weights))
    targets = [total * w / weight_sum for w in weights]
    alloc = [0] * len(weights)
    for _ in range(total):
        best = max((i for i in range(len(weights)) if alloc[i] < cap), key=lambda i: (targets[i] - alloc[i], -i))
        alloc[best] += 1
    return alloc
