"""Clinical instruments: pure, source-cited scoring functions and their single registry.

Every front end — ``immunoreset score``, the registry's derived outcomes, virtual trials,
the web app and the generated documentation — reads the same registry::

    >>> from immunoreset import instruments
    >>> instruments.get("sledai2k").title
    'SLEDAI-2K'

Add an instrument by listing it in its area module's ``INSTRUMENTS`` tuple; add an area by
naming its module in ``AREAS``.
"""

from __future__ import annotations

import difflib
import importlib
from functools import cache
from typing import Any

from immunoreset.errors import InvalidInput
from immunoreset.instruments.base import Instrument

__all__ = ["AREAS", "Instrument", "all_instruments", "get"]

AREAS: tuple[str, ...] = (
    "sle",
    "sle_flare",
    "bilag",
    "sle_damage",
    "lupus_nephritis",
    "safety",
    "hyperinflammation",
    "infections",
    "medications",
    "ssc",
    "myositis",
    "myositis_imacs",
)
"""Modules of :mod:`immunoreset.instruments` that define instruments (each has ``INSTRUMENTS``)."""


@cache
def _registry() -> dict[str, Instrument[Any, Any, Any]]:
    found: dict[str, Instrument[Any, Any, Any]] = {}
    for area in AREAS:
        module = importlib.import_module(f"immunoreset.instruments.{area}")
        for instrument in module.INSTRUMENTS:
            if instrument.name in found:
                raise RuntimeError(f"instrument {instrument.name!r} is registered twice")
            found[instrument.name] = instrument
    return found


def all_instruments() -> list[Instrument[Any, Any, Any]]:
    """Every registered instrument, in registry order."""
    return list(_registry().values())


def get(name: str) -> Instrument[Any, Any, Any]:
    """The instrument called ``name`` (case-insensitive, ``-`` read as ``_``); an unknown name is an
    :class:`InvalidInput` suggesting the closest name."""
    registry = _registry()
    key = name.strip().lower().replace("-", "_")
    folded = {n.lower(): n for n in registry}
    if key in folded:  # names are case-insensitive: SLEDAI2K, Mrss, ...
        return registry[folded[key]]
    close = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.6)
    hint = f"did you mean '{folded[close[0]]}'? " if close else ""
    raise InvalidInput("instrument", name, f"{hint}one of: {', '.join(registry)}")
