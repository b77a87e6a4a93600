"""SLE under CD19 CAR-T, predictive: the Park 2025 core and SLE layer with humoral compartments and failure.

``park2025`` stays the published model, reproduced exactly. ``sle_cart`` is the model virtual trials use for
SLE. It keeps Park 2025's CAR-T, B-cell, lymphodepletion, host T-cell and neutrophil core with the changes of
:func:`~immunoreset.models.ssc_iim_core.predictive_core`, Park's C3 and proteinuria equations (``gam_C3``
re-calibrated), and replaces what made the published model's virtual patients implausible:

* **Anti-dsDNA comes from plasma cells, not from B cells directly.** Park 2025 releases anti-dsDNA in
  proportion to blood CD19⁺ B cells and removes it with a rate tied to that release (``Kdeg_AAb``), so it
  falls by 92 % in one day after CD19 CAR-T. Here autoreactive B cells feed short-lived plasmablasts
  (``pb_auto``, CD19⁺-derived, half-life ``t_half_pb``), plasmablasts feed long-lived plasma cells
  (``llpc_auto``, CD19⁻ BCMA⁺, not touched by a CD19 CAR, half-life ``t_half_llpc``), and serum anti-dsDNA is
  IgG made by both and catabolised with the FcRn-protected IgG half-life (``kdeg_igg``). The long-lived share
  of anti-dsDNA ``f_llpc_aab`` differs between patients (logit-normal through ``llpc_odds_aab``). Plasmablast
  output keeps Park's dependence on CD4⁺ T-cell help and interferon-alpha.
* **Protective antibody** (a vaccine titre such as anti-tetanus IgG, relative to baseline) is made mostly by
  long-lived plasma cells (``f_llpc_protective``) and so persists.
* **Failure**: :func:`immunoreset.models.ssc_iim_core.predictive_core` — a tissue pool of autoreactive B cells
  whose killing varies between patients (non-response, or relapse when it regrows), re-emerging autoreactive
  clones after reconstitution (relapse), and reconstitution calibrated to the published spread of B-cell
  aplasia.
* **IFN-alpha** release reads the plasmablast response plus a basal share ``f_ifn_basal`` instead of serum
  anti-dsDNA (which in Park collapses with the B cells; reading a slowly falling anti-dsDNA, IFN-alpha and
  proteinuria would rise above baseline for months with the neutrophil rebound after lymphodepletion).
* Park's anti-dsDNA switch (release and degradation frozen below 1 B cell/µL) has no counterpart: production
  follows the plasma-cell pools continuously.

Every added parameter names its source or the published aggregate it is calibrated to; the calibration
table is in docs/models.md.
"""

from __future__ import annotations

from immunoreset.models.park2025 import PARK2025
from immunoreset.models.spec import DerivedSpec, ModelSpec, OutputSpec, ParameterSpec, StateSpec
from immunoreset.models.ssc_iim_core import (
    AMANNA2007,
    ASSUMPTION,
    IGG_T_HALF,
    SLE_DERIVED,
    SLE_PARAMETERS,
    SLE_STATES,
    predictive_core,
)

__all__ = ["SLE_CART"]

MACKENSEN2022 = (
    "Mackensen A et al. Nat Med 2022;28(10):2124-32. doi:10.1038/s41591-022-02017-5 (anti-dsDNA seroconversion "
    "in 5/5 SLE patients after CD19 CAR-T)"
)
CAMBRIDGE2006 = (
    "Cambridge G et al. Arthritis Rheum 2006;54(11):3612-22. doi:10.1002/art.22211 (after rituximab anti-dsDNA "
    "fell to 38 ± 33 % of baseline at 6-8 months; anti-tetanus unchanged)"
)
PLASMABLAST = (
    "assumption: circulating plasmablasts live days (Ki-67+, non-dividing; no published half-life), 3 d "
    "taken; calibrated together with the IgG half-life to the weeks-to-months anti-dsDNA decline after CD19 "
    f"CAR-T ({MACKENSEN2022})"
)

GAM_C3 = (
    "Park 2025 estimated 0.1 against its anti-dsDNA, which fell 1000-fold in days; with plasma-cell "
    "anti-dsDNA (a few % of baseline persists) 0.25 is an assumption calibrated to complement normalising "
    f"within months of CD19 CAR-T ({MACKENSEN2022})"
)

#: Park 2025 SLE-layer pieces not used here (anti-dsDNA is made by plasma cells instead).
_DROPPED = {"Ksyn_AAb", "k_gen", "Kdeg_AAb", "aab_release"}


def _build() -> ModelSpec:
    states, parameters, inputs, derived, switches, outputs = predictive_core()
    parameters += [
        p.model_copy(update={"value": 0.25, "source": GAM_C3}) if p.name == "gam_C3" else p
        for p in PARK2025.parameters
        if p.name in SLE_PARAMETERS and p.name not in _DROPPED
    ]
    inputs += [i for i in PARK2025.inputs if i.name in {"AAb0", "IFNa0", "C30", "PTU0"}]
    derived += [d for d in PARK2025.derived if d.name in SLE_DERIVED and d.name not in _DROPPED]
    parameters += [
        ParameterSpec(
            name="t_half_pb",
            value=3.0,
            unit="d",
            description="half-life of autoreactive plasmablasts (CD19-derived, short-lived)",
            source=PLASMABLAST,
            minimum=0.1,
        ),
        ParameterSpec(
            name="t_half_llpc",
            value=11 * 365.0,
            unit="d",
            description="half-life of long-lived plasma cells (their antibody persists for years)",
            source=f"{ASSUMPTION}: the shortest LLPC-maintained antibody half-life of {AMANNA2007}",
            minimum=1.0,
        ),
        ParameterSpec(
            name="llpc_odds_aab",
            value=0.03 / 0.97,
            unit="1",
            description="odds of the long-lived plasma-cell share of anti-dsDNA, f/(1-f) (log-normal IIV, so "
            "the share is logit-normal; typical share 3 %)",
            source=f"{ASSUMPTION}, calibrated to {MACKENSEN2022}; bounded above by {CAMBRIDGE2006}",
            omega=1.0,
        ),
        ParameterSpec(
            name="f_ifn_basal",
            value=0.004,
            unit="1",
            description="share of baseline IFN-alpha release that does not depend on the autoreactive response "
            "(IFN-alpha, 0.08 pg/mL in the typical patient, and through it proteinuria settle at a floor in "
            "remission instead of vanishing)",
            source=f"{ASSUMPTION}, calibrated to urinary protein in remission staying physiological (typical "
            "patient about 0.1 g/g creatinine from month 12, below the 0.15 g/g upper normal limit; KDIGO 2024 "
            "Clinical Practice Guideline for the Evaluation and Management of CKD, Kidney Int 2024;105(4S):S117-S314. "
            "doi:10.1016/j.kint.2023.10.018)",
            minimum=0.0,
            maximum=1.0,
        ),
        ParameterSpec(
            name="f_llpc_protective",
            value=0.95,
            unit="1",
            description="long-lived plasma-cell share of a protective (vaccine) antibody",
            source=f"{ASSUMPTION}, calibrated to stable vaccine titres after B-cell depletion ({CAMBRIDGE2006}; "
            f"{AMANNA2007})",
            minimum=0.0,
            maximum=1.0,
        ),
    ]
    derived += [
        _derived("k_pb", "log(2)/t_half_pb", "1/d", "plasmablast loss rate"),
        _derived("k_llpc", "log(2)/t_half_llpc", "1/d", "long-lived plasma-cell turnover"),
        _derived("f_llpc_aab", "llpc_odds_aab/(1 + llpc_odds_aab)", "1", "long-lived plasma-cell share of anti-dsDNA"),
        _derived(
            "pb_target",
            "autoreactive*(cd4t/T4_0)*(max(ifna, 1e-12)/IFN0)**gam_IFN4",
            "1",
            "plasmablast output relative to baseline: autoreactive B cells with T-cell help and IFN-alpha "
            "(Park 2025's drivers of anti-dsDNA release)",
        ),
    ]
    park_states = {s.name: s for s in PARK2025.states}
    # pDCs are activated by the ongoing autoreactive response (Park: by serum anti-dsDNA, which collapsed),
    # with a disease-independent basal share
    states += [
        park_states["ifna"].model_copy(
            update={
                "rhs": "N_pDC*k_IFN_rel*(f_ifn_basal + (1 - f_ifn_basal)*pb_auto)*(max(nt, 1e-12)/Circ0) "
                "- Kdeg_IFN*ifna"
            }
        )
    ]
    states += [
        StateSpec(
            name="pb_auto",
            unit="1",
            description="autoreactive plasmablasts relative to baseline",
            initial="1",
            rhs="k_pb*(pb_target - pb_auto)",
        ),
        StateSpec(
            name="llpc_auto",
            unit="1",
            description="autoreactive long-lived plasma cells relative to baseline",
            initial="1",
            rhs="k_llpc*(pb_auto - llpc_auto)",
        ),
        StateSpec(
            name="aab",
            unit="[IU]/L",
            description="anti-dsDNA autoantibodies, serum",
            initial="AAb0",
            rhs="kdeg_igg*(AAb0*((1 - f_llpc_aab)*pb_auto + f_llpc_aab*llpc_auto) - aab)",
        ),
        StateSpec(
            name="llpc_protective",
            unit="1",
            description="long-lived plasma cells of a protective antibody relative to baseline",
            initial="1",
            rhs="k_llpc*(b_rel - llpc_protective)",
        ),
        StateSpec(
            name="protective",
            unit="1",
            description="protective (vaccine) antibody relative to baseline",
            initial="1",
            rhs="kdeg_igg*((1 - f_llpc_protective)*b_rel + f_llpc_protective*llpc_protective - protective)",
        ),
        park_states["c3"],
        park_states["ptu"],
    ]
    park_outputs = {o.name: o for o in PARK2025.outputs}
    outputs += [
        park_outputs[name]
        for name in ("ifnaConc", "antiDsDNA", "complementC3", "proteinuria", "sledai_c3", "sledai_ifn", "sledai_aab")
    ]
    outputs += [
        OutputSpec(
            name="plasmablasts", expression="pb_auto", unit="1", description="autoreactive plasmablasts / baseline"
        ),
        OutputSpec(
            name="protectiveAntibody",
            expression="protective",
            unit="1",
            description="protective (vaccine) antibody relative to baseline",
        ),
        OutputSpec(
            name="llpcAutoreactive",
            expression="llpc_auto",
            unit="1",
            description="autoreactive long-lived plasma cells relative to baseline (CD19-negative, BCMA-positive)",
        ),
        OutputSpec(
            name="llpcShareAntiDsDNA",
            expression="f_llpc_aab",
            unit="1",
            description="the patient's long-lived plasma-cell share of anti-dsDNA",
        ),
    ]
    assert not {s.name for s in states} & (SLE_STATES - {"ifna", "aab", "c3", "ptu"})
    return ModelSpec(
        name="sle_cart",
        title="SLE under CD19 CAR-T, predictive: Park 2025 core and SLE layer with plasma-cell compartments, "
        "tissue B cells and re-emerging clones",
        citation="Core and SLE layer: Park H, Mugundu GM, Singh AP. Clin Transl Sci 2025;18:e70146. "
        "doi:10.1111/cts.70146. Humoral compartments and failure mechanisms: immunoreset (assumptions "
        "calibrated to published aggregates; docs/models.md).",
        time_unit="d",
        notes=[
            "Park 2025's core with the predictive changes (marrow CAR-T loss, B-precursor transit, tissue and "
            "re-emerging B cells); Park's C3 and proteinuria equations; anti-dsDNA made by plasmablasts and "
            "long-lived plasma cells; IFN-alpha driven by plasmablasts with a basal share.",
            f"IgG catabolism {IGG_T_HALF}.",
            "Lymphodepletion at t = 0 with the infusion (Park's simplification); Emax_LDC_Bnaive is on (1) by "
            "default here, off in park2025.",
            "Every added parameter is an assumption calibrated to the published aggregate named in its source.",
        ],
        states=states,
        parameters=parameters,
        inputs=inputs,
        derived=derived,
        switches=switches,
        outputs=outputs,
    )


def _derived(name: str, expression: str, unit: str, description: str) -> DerivedSpec:
    return DerivedSpec(name=name, expression=expression, unit=unit, description=description)


SLE_CART = _build()
"""The predictive SLE model spec."""
