"""The CAR-T / B-cell core shared by the SSc and IIM disease modules, taken from the Park 2025 spec.

Park 2025 (:mod:`immunoreset.models.park2025`) is an SLE model, but its CAR-T, B-cell, lymphodepletion and
host-cell parts do not read any SLE biomarker: CAR-T expansion is driven by CAR-CD19 complexes, B-cell
killing by the same complexes, reconstitution of naive B cells by the total blood CAR-T count, the host
T cells and the neutrophil chain by the lymphodepletion signal. The SLE layer (interferon-alpha,
anti-dsDNA, C3, proteinuria) only reads that core. So the core is a closed subsystem and is reused here
*unchanged* (same equations, parameters, IIV and sources, including the off-by-default
``Emax_LDC_Bnaive`` option of :mod:`immunoreset.models.park2025`): :func:`car_t_core` returns the Park 2025
states, parameters, inputs, derived quantities, switches and outputs without the SLE layer.

What the core adds (each a documented assumption, not part of Park 2025):

* ``naive0`` — the naive fraction of the patient's pre-existing blood B cells (Park's "reactive" pool).
  The reconstituted pool of Park 2025 (``cd19b_rev_pb``) is new B cells from the marrow and is counted
  as naive. The naive fraction of blood B cells is ``(naive0 × reactive + reconstituted) / total``.
* ``igg`` — total serum IgG, produced by B-cell-derived plasmablasts in proportion to the blood B-cell
  count relative to baseline (capped at baseline) plus a constant long-lived plasma-cell share
  ``f_igg_llpc`` that CD19 CAR-T does not touch, and catabolised with the IgG1 half-life.
* ``autoreactive`` and ``drive`` — the disease drive. Disease activity is taken to be sustained by the
  pre-existing (autoreactive) B-cell pool relative to its baseline, ``r = cd19b_pb / B0``, through a
  saturating Hill function normalised to 1 at baseline: ``drive = r^n (1 + EC50^n) / (r^n + EC50^n)``.
  Reconstituted naive B cells do not drive disease (the "immune reset" hypothesis; Müller 2024).
"""

from __future__ import annotations

import fnmatch

from immunoreset.models.park2025 import PARK2025
from immunoreset.models.regimen import with_regimen
from immunoreset.models.spec import DerivedSpec, InputSpec, OutputSpec, ParameterSpec, StateSpec, SwitchSpec

__all__ = ["CoreParts", "baseline_input", "car_t_core", "parameter"]

SLE_STATES = {"ifna", "aab", "c3", "ptu"}
SLE_PARAMETERS = {
    "Ksyn_AAb",
    "Kdeg_IFN",
    "N_pDC",
    "gam_C3",
    "Ksyn_C3",
    "gam_PTU",
    "Ksyn_PTU",
    "gam_IFN4",
    "gam_IFN8",
    "sledai_c3_a",
    "sledai_c3_b",
    "sledai_ifn_a",
    "sledai_ifn_b",
    "sledai_aab_a",
    "sledai_aab_b",
}
SLE_INPUTS = {"AAb0", "IFNa0", "C30", "PTU0"}
SLE_DERIVED = {"Vu", "IFN0", "k_IFN_rel", "Ksyn_C3_day", "Kdeg_C3", "Kdeg_PTU", "k_gen", "Kdeg_AAb"}
SLE_SWITCHES = {"aab_release"}
KEPT_OUTPUTS = ("totalCart", "bCell", "neut", "cd4T", "cd8T")

ASSUMPTION = "assumption"
IGG_T_HALF = (
    "IgG1/2/4 half-life about 21 d (IgG3 about 7 d): Morell A, Terry WD, Waldmann TA. "
    "J Clin Invest 1970;49(4):673-80. doi:10.1172/JCI106279"
)


CoreParts = tuple[
    list[StateSpec], list[ParameterSpec], list[InputSpec], list[DerivedSpec], list[SwitchSpec], list[OutputSpec]
]


def car_t_core() -> CoreParts:
    """Park 2025 without its SLE layer, plus naive-fraction, IgG and disease-drive quantities (see module doc)."""
    states = [s for s in PARK2025.states if s.name not in SLE_STATES]
    parameters = [p for p in PARK2025.parameters if p.name not in SLE_PARAMETERS]
    inputs = [i for i in PARK2025.inputs if i.name not in SLE_INPUTS]
    derived = [d for d in PARK2025.derived if d.name not in SLE_DERIVED]
    switches = [s for s in PARK2025.switches if s.name not in SLE_SWITCHES]
    outputs = [o for o in PARK2025.outputs if o.name in KEPT_OUTPUTS]
    parameters += [
        ParameterSpec(
            name="EC50_drive",
            value=0.2,
            unit="1",
            description="autoreactive pool (fraction of baseline) giving half of the saturating disease drive",
            source=f"{ASSUMPTION}, calibrated so that the CAR-T depletion depth of Park 2025 ends the drive "
            "(Müller 2024: responses in all IIM and SSc patients)",
        ),
        ParameterSpec(
            name="n_drive",
            value=2.0,
            unit="1",
            description="Hill exponent of the disease drive",
            source=f"{ASSUMPTION} (a pool reduced to 5% of baseline drives ~6% of baseline activity)",
        ),
        ParameterSpec(
            name="kdeg_igg",
            value=0.033,
            unit="1/d",
            description="IgG catabolism (ln 2 / 21 d)",
            source=IGG_T_HALF,
        ),
        ParameterSpec(
            name="f_igg_llpc",
            value=0.7,
            unit="1",
            description="share of serum IgG made by long-lived plasma cells (CD19-negative, spared)",
            source=f"{ASSUMPTION}, calibrated to 'only a moderate reduction in total immunoglobulin levels' "
            "(Müller F et al. N Engl J Med 2024;390(8):687-700. doi:10.1056/NEJMoa2308917)",
        ),
    ]
    inputs += [
        InputSpec(
            name="naive0",
            kind="baseline",
            value=0.6,
            unit="1",
            description="naive fraction of the pre-existing blood B cells",
            source=f"{ASSUMPTION} (typical adult blood B-cell phenotype; reconstituted cells are counted naive)",
            minimum=0.0,
            maximum=1.0,
        ),
        InputSpec(
            name="IgG0",
            kind="baseline",
            value=10.0,
            unit="g/L",
            description="baseline serum IgG",
            source=f"{ASSUMPTION} (mid adult reference range 7-16 g/L)",
            strictly_positive=True,
        ),
    ]
    derived += [
        DerivedSpec(
            name="autoreactive",
            expression="max(cd19b_pb, 0)/B0",
            unit="1",
            description="pre-existing (autoreactive) blood B-cell pool relative to baseline",
        ),
        DerivedSpec(
            name="drive",
            expression="autoreactive**n_drive*(1 + EC50_drive**n_drive)/(autoreactive**n_drive + EC50_drive**n_drive)",
            unit="1",
            description="disease drive, 1 at baseline, saturating at 1 + EC50^n",
        ),
        DerivedSpec(
            name="b_rel",
            expression="min((max(cd19b_pb, 0) + cd19b_rev_pb)/B0, 1)",
            unit="1",
            description="blood B cells relative to baseline, capped at 1 (plasmablast supply)",
        ),
    ]
    states += [
        StateSpec(
            name="igg",
            unit="g/L",
            description="total serum IgG",
            initial="IgG0",
            rhs="kdeg_igg*(IgG0*(f_igg_llpc + (1 - f_igg_llpc)*b_rel) - igg)",
        )
    ]
    outputs += [
        OutputSpec(
            name="bNaiveFraction",
            expression="(naive0*max(cd19b_pb, 0) + cd19b_rev_pb)/max(max(cd19b_pb, 0) + cd19b_rev_pb, 1e-12)",
            unit="1",
            description="naive fraction of blood B cells",
        ),
        OutputSpec(name="IgG", expression="igg", unit="g/L", description="total serum IgG"),
        OutputSpec(name="diseaseDrive", expression="drive", unit="1", description="disease drive (1 = baseline)"),
    ]
    return states, parameters, inputs, derived, switches, outputs


def parameter(name: str, value: float, unit: str, description: str, source: str) -> ParameterSpec:
    """A fixed disease-layer parameter with its source (or the assumption it is calibrated under)."""
    return ParameterSpec(name=name, value=value, unit=unit, description=description, source=source)


def baseline_input(
    name: str, value: float, unit: str, description: str, low: float, high: float, *, population: str
) -> InputSpec:
    """A per-patient baseline input (typical value and plausible range) that trial designs may draw."""
    return InputSpec(
        name=name,
        kind="baseline",
        value=value,
        unit=unit,
        description=description,
        source=f"assumption ({population}; the trial design draws per-patient values)",
        minimum=low,
        maximum=high,
    )


# --- the predictive extension: humoral compartments and the mechanisms of failure --------------------------

MULLER2024 = "Müller F et al. N Engl J Med 2024;390(8):687-700. doi:10.1056/NEJMoa2308917"
MULLER2024_APLASIA = f"{MULLER2024} (B-cell aplasia 112 ± 47 d, n = 15)"
NORDMANN_GOMES2025 = (
    "Nordmann-Gomes A et al. Semin Arthritis Rheum 2025;152786. doi:10.1016/j.semarthrit.2025.152786 "
    "(pooled CD19 CAR-T in SLE: LLDAS 50/56, DORIS 45/64)"
)
AMANNA2007 = (
    "Amanna IJ, Carlson NE, Slifka MK. N Engl J Med 2007;357(19):1903-15. doi:10.1056/NEJMoa066092 "
    "(antibody half-lives: tetanus 11 y, diphtheria 19 y, measles > 200 y)"
)
PREDICTIVE_IIV: dict[str, tuple[float, str]] = {
    "CARTrev_min": (
        0.45,
        f"Park 2025 Table 1 value; omega 0.45 (Park: 0.81) is an assumption calibrated to {MULLER2024_APLASIA}",
    ),
    "K0_rev": (
        0.45,
        f"Park 2025 Table 1 value; omega 0.45 (Park: 1.04) is an assumption calibrated to {MULLER2024_APLASIA}",
    ),
}
"""IIV (log-scale SD) that the predictive specs use instead of Park's, with the reason."""


def predictive_core() -> CoreParts:
    """:func:`car_t_core` plus the mechanisms by which CD19 CAR-T can fail, shared by ``sle_cart``,
    ``iim_cart`` and ``ssc_cart`` (each parameter's source says what it is calibrated to; docs/models.md):

    * **Incomplete depletion in tissue.** A share ``f_tissue`` of the autoreactive B cells lives in lymphoid
      tissue and inflamed organs (``cd19b_tissue``, cells per litre of blood equivalent): killing there is
      ``tissue_access × Kkill`` (the blood killing rate) against logistic regrowth at Park's proliferation
      rate ``Kg``. The typical access exceeds 1; a patient at the low end of its IIV keeps part of the clone
      (non-response) or lets it regrow (relapse).
    * **Re-emerging autoreactive clones.** A fraction ``f_clone`` of the naive B cells that return after
      aplasia are autoreactive (``cd19b_clone``); they expand at ``k_clone`` up to the baseline pool size and
      are killed by CAR-T like other CD19⁺ cells. Most patients' fraction is negligible (the "reset"); a
      few relapse months after reconstitution.
    * **Insufficient expansion, and the spread of aplasia**: the IIV of :data:`PREDICTIVE_IIV`, and a loss of
      marrow CAR-T cells (``Kel_bm``) that Park 2025 lacks, so that blood CAR-T fall through the reconstitution
      threshold instead of lingering at it.

    ``autoreactive`` (the disease drive's input) becomes the blood, tissue and re-emerged pools relative to
    baseline; blood B cells (``bCell``) count the re-emerged clone.
    """
    states, parameters, inputs, derived, switches, outputs = car_t_core()
    parameters = [
        p.model_copy(update={"omega": PREDICTIVE_IIV[p.name][0], "source": PREDICTIVE_IIV[p.name][1]})
        if p.name in PREDICTIVE_IIV
        else p
        for p in parameters
    ]
    # the lymphodepletion option of park2025 (off there, as published) is on in every predictive spec
    parameters = [p.model_copy(update={"value": 1.0}) if p.name == "Emax_LDC_Bnaive" else p for p in parameters]
    parameters += [
        ParameterSpec(
            name="Kel_bm",
            value=0.0204,
            unit="1/d",
            description="loss of CAR-T cells in the marrow (Park 2025 has none: its marrow effector pool never "
            "declines, so blood CAR-T plateau near the reconstitution threshold for a year)",
            source=f"{ASSUMPTION}, calibrated with mtt_bprec to the B-cell aplasia of {MULLER2024_APLASIA}; "
            "value = ln 2 / 34 d, the order of the marrow CAR-T decline reported for CD19 CAR-T in CLL (Porter DL et "
            "al. N Engl J Med 2011;365:725-33. doi:10.1056/NEJMoa1103849; the 34 d figure is from a secondary "
            "summary, not checked against the primary text)",
            omega=0.3,
        ),
        ParameterSpec(
            name="mtt_bprec",
            value=145.0,
            unit="d",
            description="mean time for marrow B-cell precursors to mature into circulating naive B cells once the "
            "reconstitution gate opens (three transit compartments; the gate stands for CAR-T pressure on CD19+ "
            "precursors, which are not modelled as a separate target)",
            source=f"{ASSUMPTION}, calibrated to the mean and SD of B-cell aplasia, {MULLER2024_APLASIA}",
            omega=0.75,
        ),
        ParameterSpec(
            name="f_tissue",
            value=0.3,
            unit="1",
            description="share of the autoreactive B-cell pool in lymphoid tissue and inflamed organs",
            source=f"{ASSUMPTION}, calibrated to LLDAS at month 6, {NORDMANN_GOMES2025}, and DORIS 8/8, "
            f"{MULLER2024} (docs/models.md)",
            minimum=0.0,
            maximum=1.0,
        ),
        ParameterSpec(
            name="tissue_access",
            value=2.0,
            unit="1",
            description="CAR-T killing in tissue relative to blood (log-normal IIV; the typical value exceeds 1 — "
            "marrow and lymph nodes are where CAR-T expand — and patients at the low end of the IIV keep part of the "
            "clone)",
            source=f"{ASSUMPTION}, calibrated to LLDAS at month 6, {NORDMANN_GOMES2025}, and DORIS 8/8, "
            f"{MULLER2024} (docs/models.md)",
            omega=1.2,
        ),
        ParameterSpec(
            name="f_clone",
            value=1e-7,
            unit="1",
            description="autoreactive fraction of the naive B cells that return after aplasia (log-normal IIV)",
            source=f"{ASSUMPTION} without a published rate to calibrate to: set to about 1 relapse in 13-15 SLE "
            "patients within 2 years, bounded by no relapse in 8 SLE patients over a median 15 months "
            f"({MULLER2024}) and single published relapses (docs/models.md)",
            omega=3.0,
        ),
        ParameterSpec(
            name="k_clone",
            value=0.015,
            unit="1/d",
            description="expansion of a re-emerged autoreactive clone (doubling about 46 d)",
            source=f"{ASSUMPTION}: relapses months after B-cell return, as in the published single cases (IIM at 9 "
            "months: Müller F et al. Nat Med 2025. doi:10.1038/s41591-025-03718-3; docs/models.md)",
        ),
    ]
    states = [
        s.model_copy(update={"rhs": f"{s.rhs} - Kel_bm*{s.name}"}) if fnmatch.fnmatchcase(s.name, "cd[48]_*_bm") else s
        for s in states
    ]
    precursor = "ktr_bprec*cd19b_prec3"
    states = [
        s.model_copy(update={"rhs": f"{precursor}*(1 - (cd19b_pb + cd19b_rev_pb)/Bmax)"})
        if s.name == "cd19b_rev_pb"
        else s
        for s in states
    ]
    # the pre-existing pool regrows logistically to its baseline (Park's grows without bound: no untreated patient)
    states = [
        s.model_copy(update={"rhs": "Kg*cd19b_pb*(1 - cd19b_pb/B0) - Kkill*cd19b_pb"}) if s.name == "cd19b_pb" else s
        for s in states
    ]
    states += [
        StateSpec(
            name="cd19b_prec1",
            unit="cells/L",
            description="maturing marrow B-cell precursors, transit 1 (fed by the gated naive B-cell output k_rev)",
            initial="0",
            rhs="k_rev - ktr_bprec*cd19b_prec1",
        ),
        StateSpec(
            name="cd19b_prec2",
            unit="cells/L",
            description="maturing marrow B-cell precursors, transit 2",
            initial="0",
            rhs="ktr_bprec*(cd19b_prec1 - cd19b_prec2)",
        ),
        StateSpec(
            name="cd19b_prec3",
            unit="cells/L",
            description="maturing marrow B-cell precursors, transit 3",
            initial="0",
            rhs="ktr_bprec*(cd19b_prec2 - cd19b_prec3)",
        ),
        StateSpec(
            name="cd19b_tissue",
            unit="cells/L",
            description="autoreactive CD19+ B cells in tissue (per litre of blood equivalent)",
            initial="B0",
            rhs="Kg*cd19b_tissue*(1 - cd19b_tissue/B0) - tissue_access*Kkill*cd19b_tissue",
        ),
        StateSpec(
            name="cd19b_clone",
            unit="cells/L",
            description="re-emerged autoreactive CD19+ B cells, blood",
            initial="0",
            rhs=f"f_clone*{precursor}*(1 - (cd19b_pb + cd19b_rev_pb)/Bmax) + k_clone*cd19b_clone*(1 - cd19b_clone/B0)"
            " - Kkill*cd19b_clone",
        ),
    ]
    derived = [DerivedSpec(name="ktr_bprec", expression="3/mtt_bprec", unit="1/d", description="precursor transit")] + [
        d.model_copy(
            update={
                "expression": "((1 - f_tissue)*max(cd19b_pb, 0) + f_tissue*max(cd19b_tissue, 0) "
                "+ max(cd19b_clone, 0))/B0",
                "description": "autoreactive B cells (blood, tissue, re-emerged) relative to baseline",
            }
        )
        if d.name == "autoreactive"
        else d.model_copy(
            update={
                "expression": "min((max(cd19b_pb, 0) + cd19b_rev_pb + max(cd19b_clone, 0))/B0, 1)",
                "description": "blood B cells (incl. a re-emerged clone) relative to baseline, capped at 1 "
                "(plasmablast supply)",
            }
        )
        if d.name == "b_rel"
        else d
        for d in derived
    ]
    outputs = [
        o.model_copy(
            update={
                "expression": "(cd19b_pb + cd19b_rev_pb + cd19b_clone)*1e-6",
                "description": "total CD19+ B cells, blood (pre-existing + reconstituted naive + re-emerged clone)",
            }
        )
        if o.name == "bCell"
        else o.model_copy(
            update={
                "expression": "(naive0*max(cd19b_pb, 0) + cd19b_rev_pb)"
                "/max(max(cd19b_pb, 0) + cd19b_rev_pb + max(cd19b_clone, 0), 1e-12)",
                "description": "naive fraction of blood B cells (an expanding re-emerged clone counts as non-naive)",
            }
        )
        if o.name == "bNaiveFraction"
        else o
        for o in outputs
    ]
    outputs += [
        OutputSpec(
            name="bTissue", expression="cd19b_tissue/B0", unit="1", description="tissue autoreactive pool / baseline"
        ),
        OutputSpec(
            name="bClone", expression="cd19b_clone*1e-6", unit="cells/uL", description="re-emerged autoreactive B cells"
        ),
    ]
    return with_regimen((states, parameters, inputs, derived, switches, outputs))
