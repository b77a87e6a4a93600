"""Published results of CAR-T case series, for "simulated vs published" comparisons.

The data files live in ``immunoreset/data/published/``; each result states its source and how firmly
it is sourced (``primary``: the paper's abstract or tables; ``secondary``: summaries of it).
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict

from immunoreset.errors import InvalidInput

__all__ = ["PublishedResult", "PublishedSeries", "load_published"]


class PublishedResult(BaseModel):
    """One published headline result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    label: str
    disease: str
    kind: Literal["proportion", "mean_sd", "median_range"]
    count: int | None = None
    of: int | None = None
    mean: float | None = None
    sd: float | None = None
    median: float | None = None
    low: float | None = None
    high: float | None = None
    source: str
    confidence: Literal["primary", "secondary", "unconfirmed"]

    def shown(self) -> str:
        """The value as a paper would print it."""
        if self.kind == "proportion":
            return f"{self.count}/{self.of}"
        if self.kind == "mean_sd":
            return f"{self.mean:g} ± {self.sd:g}"
        return f"{self.median:g} ({self.low:g}–{self.high:g})"


class PublishedSeries(BaseModel):
    """A published case series: citation, design summary and headline results."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    study: str
    design: dict[str, Any]
    results: list[PublishedResult]

    def table(self) -> pd.DataFrame:
        """One row per result: key, label, disease, published value, source, confidence."""
        return pd.DataFrame(
            [
                {
                    "key": r.key,
                    "result": r.label,
                    "disease": r.disease,
                    "published": r.shown(),
                    "source": r.source,
                    "confidence": r.confidence,
                }
                for r in self.results
            ]
        )


def load_published(name: str = "muller2024") -> PublishedSeries:
    """Load a bundled published series (``muller2024``)."""
    folder = resources.files("immunoreset").joinpath("data/published")
    available = sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))
    if name not in available:
        raise InvalidInput("published series", name, f"one of: {', '.join(available)}")
    data = yaml.safe_load(folder.joinpath(f"{name}.yaml").read_text(encoding="utf-8"))
    return PublishedSeries.model_validate(data)
