"""SSc (systemic sclerosis) under CD19 CAR-T: the Park 2025 CAR-T/B-cell core plus a scleroderma layer.

The CAR-T, B-cell, lymphodepletion, host T-cell and neutrophil equations are those of Park 2025 with the
documented changes of :func:`immunoreset.models.ssc_iim_core.predictive_core` (marrow CAR-T loss, B-precursor
transit, tissue and re-emerging autoreactive B cells; docs/models.md "Predictive specs"). The SSc layer is new
and every parameter is an assumption calibrated to a published aggregate (named in its ``source``):

* ``infl`` — systemic inflammatory activity relative to baseline, relaxing toward the disease drive
  (``k_infl``); CRP = ``crp_normal + (crp0 - crp_normal) × infl``.
* ``skin`` — skin fibrosis on the mRSS scale (0-51). Fibrosis is remodelled slowly: it relaxes with rate
  ``k_skin`` toward ``mrss0 × (f_skin_irr + (1 - f_skin_irr) × infl)`` — an inflammation-maintained
  share that regresses once inflammation stops, and an irreversible (established fibrosis) share.
* ``lung`` — reversible lung inflammation (1 = baseline) relaxing toward the drive (``k_lung``); FVC and
  DLCO (% predicted) gain ``d_fvc`` and ``d_dlco`` as it resolves.
* ``autoab`` — anti-Scl-70 relative to baseline (drive-dependent plasmablasts plus a long-lived plasma-cell
  share, IgG half-life).
* Patient/physician globals and HAQ-DI are read from inflammation and skin with residual shares.
"""

from __future__ import annotations

from immunoreset.models.spec import InputSpec, ModelSpec, OutputSpec, StateSpec
from immunoreset.models.ssc_iim_core import IGG_T_HALF, baseline_input, parameter, predictive_core

__all__ = ["SSC_CART"]

A = "assumption, calibrated to"
MULLER2024 = "Müller F et al. N Engl J Med 2024;390:687 (all 4 SSc: EUSTAR activity index fell)"
AUTH2024 = (
    "Auth J et al. Lancet Rheumatol 2024 (6 dcSSc: mRSS -31% to median 8 within 100 days; FVC +195 mL; "
    "modified CRISS improvement median 100% at month 6)"
)


def _base(name: str, value: float, unit: str, description: str, low: float, high: float) -> InputSpec:
    return baseline_input(name, value, unit, description, low, high, population="refractory diffuse cutaneous SSc")


def _build() -> ModelSpec:
    states, parameters, inputs, derived, switches, outputs = predictive_core()
    parameters += [
        parameter(
            "k_infl",
            0.07,
            "1/d",
            "relaxation of systemic inflammation toward the disease drive (~14 d time constant)",
            f"{A} CRP normal and EUSTAR-AI falling within 3 months ({MULLER2024})",
        ),
        parameter("k_skin", 0.0073, "1/d", "skin remodelling rate (95 d half-life)", f"{A} {AUTH2024}"),
        parameter("f_skin_irr", 0.3, "1", "irreversible share of the baseline skin score", f"{A} {AUTH2024}"),
        parameter(
            "k_lung",
            0.017,
            "1/d",
            "resolution of reversible lung inflammation (~60 d time constant)",
            f"{A} {AUTH2024}",
        ),
        parameter(
            "d_fvc",
            6.0,
            "%",
            "FVC gain (% predicted) when lung inflammation resolves",
            f"{A} {AUTH2024} (~6% of 3.3 L)",
        ),
        parameter(
            "d_dlco",
            5.0,
            "%",
            "DLCO gain (% predicted) when lung inflammation resolves",
            f"{A} {AUTH2024} (HRCT involvement -4%)",
        ),
        parameter(
            "f_aab_llpc",
            0.5,
            "1",
            "long-lived plasma-cell share of anti-Scl-70",
            f"{A} 'autoantibodies fell' ({MULLER2024}); no SSc titre time course retrieved",
        ),
        parameter(
            "kdeg_aab",
            0.033,
            "1/d",
            "autoantibody catabolism (IgG half-life 21 d)",
            IGG_T_HALF,
        ),
        parameter(
            "f_haq_res", 0.3, "1", "share of baseline HAQ-DI not reversible with skin", f"{A} {AUTH2024} (CRISS)"
        ),
        parameter(
            "f_ptga_res", 0.2, "1", "share of the patient global not due to SSc activity", f"{A} {AUTH2024} (CRISS)"
        ),
    ]
    inputs += [
        _base("mrss0", 22.0, "1", "baseline modified Rodnan skin score (0-51)", 0.0, 51.0),
        _base("crp0", 12.0, "mg/L", "baseline C-reactive protein", 0.0, 500.0),
        _base("crp_normal", 2.0, "mg/L", "the patient's CRP without SSc inflammation", 0.0, 10.0),
        _base("fvc0", 75.0, "%", "baseline FVC, % predicted", 20.0, 150.0),
        _base("dlco0", 58.0, "%", "baseline DLCO, % predicted", 10.0, 150.0),
        _base("ptga0", 6.0, "1", "baseline patient global (0-10)", 0.0, 10.0),
        _base("phga0", 6.0, "1", "baseline physician global (0-10)", 0.0, 10.0),
        _base("haq0", 1.2, "1", "baseline HAQ-DI (0-3)", 0.0, 3.0),
    ]
    states += [
        StateSpec(
            name="infl",
            unit="1",
            description="systemic inflammation (1 = baseline)",
            initial="1",
            rhs="k_infl*(drive - infl)",
        ),
        StateSpec(
            name="skin",
            unit="1",
            description="skin fibrosis on the mRSS scale",
            initial="mrss0",
            rhs="k_skin*(mrss0*(f_skin_irr + (1 - f_skin_irr)*infl) - skin)",
        ),
        StateSpec(
            name="lung", unit="1", description="reversible lung inflammation", initial="1", rhs="k_lung*(drive - lung)"
        ),
        StateSpec(
            name="autoab",
            unit="1",
            description="anti-Scl-70 relative to baseline",
            initial="1",
            rhs="kdeg_aab*(f_aab_llpc + (1 - f_aab_llpc)*drive - autoab)",
        ),
    ]
    skin_rel = "skin/max(mrss0, 1e-9)"
    outputs += [
        OutputSpec(name="mrss", expression="skin", unit="1", description="skin score (latent, 0-51)"),
        OutputSpec(
            name="crp",
            expression="crp_normal + (crp0 - crp_normal)*infl",
            unit="mg/L",
            description="C-reactive protein",
        ),
        OutputSpec(
            name="fvc",
            expression="min(fvc0 + d_fvc*(1 - min(lung, 1)), 150)",
            unit="%",
            description="FVC, % predicted",
        ),
        OutputSpec(
            name="dlco",
            expression="min(dlco0 + d_dlco*(1 - min(lung, 1)), 150)",
            unit="%",
            description="DLCO, % predicted",
        ),
        OutputSpec(
            name="patientGlobal",
            expression=f"ptga0*(f_ptga_res + (1 - f_ptga_res)*(0.5*infl + 0.5*{skin_rel}))",
            unit="1",
            description="SSc patient global (latent, 0-10)",
        ),
        OutputSpec(
            name="physicianGlobal",
            expression=f"phga0*(0.5*infl + 0.5*{skin_rel})",
            unit="1",
            description="SSc physician global (latent, 0-10)",
        ),
        OutputSpec(
            name="haqDi",
            expression=f"haq0*(f_haq_res + (1 - f_haq_res)*{skin_rel})",
            unit="1",
            description="HAQ-DI (latent, 0-3)",
        ),
        OutputSpec(name="antiScl70", expression="autoab", unit="1", description="anti-Scl-70 relative to baseline"),
        OutputSpec(name="inflammation", expression="infl", unit="1", description="systemic inflammation"),
    ]
    return ModelSpec(
        name="ssc_cart",
        title="SSc under CD19 CAR-T: Park 2025 CAR-T/B-cell core + scleroderma layer (mRSS, CRP, lung, globals)",
        citation="Core: Park H, Mugundu GM, Singh AP. Clin Transl Sci 2025;18:e70146. SSc layer: immunoreset "
        "(assumptions calibrated to Müller 2024 and Auth 2024; see docs/trial.md).",
        time_unit="d",
        notes=[
            "CAR-T/B-cell/lymphodepletion/neutrophil equations are Park 2025's with the predictive-core changes "
            "(SLE layer removed; docs/models.md).",
            "Disease activity is driven by the pre-existing B-cell pool; reconstituted naive B cells do not drive it.",
            "Every SSc-layer parameter is an assumption calibrated to the published aggregate in its source.",
        ],
        states=states,
        parameters=parameters,
        inputs=inputs,
        derived=derived,
        switches=switches,
        outputs=outputs,
    )


SSC_CART = _build()
"""The SSc model spec."""
