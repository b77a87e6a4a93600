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

from immunoreset.models.park2025 import PARK2025
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
