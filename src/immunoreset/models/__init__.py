"""Mechanistic models as declarative specs (:class:`ModelSpec`) and the built-in model catalogue."""

from __future__ import annotations

import functools

from immunoreset.errors import InvalidInput
from immunoreset.models.spec import (
    DerivedSpec,
    InputSpec,
    ModelSpec,
    OutputSpec,
    ParameterSpec,
    StateSpec,
    SwitchSpec,
)

__all__ = [
    "MODELS",
    "DerivedSpec",
    "InputSpec",
    "ModelSpec",
    "OutputSpec",
    "ParameterSpec",
    "StateSpec",
    "SwitchSpec",
    "get_model",
]


@functools.cache
def _catalogue() -> dict[str, ModelSpec]:
    from immunoreset.models.iim_cart import IIM_CART
    from immunoreset.models.park2025 import PARK2025
    from immunoreset.models.regimen import with_bcma, with_redosing
    from immunoreset.models.sle_cart import SLE_CART
    from immunoreset.models.ssc_cart import SSC_CART
    from immunoreset.models.stein2019 import STEIN2019_SPEC

    models = {
        PARK2025.name: PARK2025,
        STEIN2019_SPEC.name: STEIN2019_SPEC,
        IIM_CART.name: IIM_CART,
        SSC_CART.name: SSC_CART,
        SLE_CART.name: SLE_CART,
    }
    for spec in (SLE_CART, IIM_CART, SSC_CART):
        for variant in (with_bcma(spec), with_redosing(spec), with_redosing(with_bcma(spec))):
            models[variant.name] = variant
    return models


MODELS: tuple[str, ...] = (
    "park2025",
    "stein2019",
    *(
        f"{disease}_cart{bcma}{redose}"
        for disease in ("iim", "ssc", "sle")
        for bcma in ("", "_bcma")
        for redose in ("", "_redose")
    ),
)


def get_model(name: str) -> ModelSpec:
    """The built-in model spec called ``name``."""
    models = _catalogue()
    if name not in models:
        raise InvalidInput("model", name, f"one of {sorted(models)}")
    return models[name]
