"""Products and regimens as model inputs: re-infusions, costimulatory domain, allogeneic rejection, anti-CAR
immunity, lymphodepletion intensity, and BCMA killing of plasma cells.

Every predictive spec (``sle_cart``, ``iim_cart``, ``ssc_cart``) carries the single-infusion axes on which the
trials of 2025-26 differ, as inputs whose default values leave the model exactly as calibrated to the Erlangen series
(the default of each input makes its term an exact floating-point identity: a multiplier of 1.0 or a rate of
0.0, so ``erlangen2024`` gives the same numbers to the last bit). Trial designs set the inputs per patient
(:mod:`immunoreset.trial.design`); docs/trial.md has one section per axis.

* **Costimulatory domain** (``costim_cd28`` 0/1): CD28 multiplies the expansion rate by ``cd28_expansion``
  and the loss of persisting (marrow) CAR-T by ``cd28_persistence``.
* **Lymphodepletion intensity** (``ld_intensity``, 1 = the Erlangen fludarabine/cyclophosphamide regimen):
  host-lymphocyte depletion frees homeostatic cytokines (IL-15, IL-7) that drive CAR-T expansion; the
  expansion rate is multiplied by ``f_ld = 1 - (1 - f_exp_no_ld)(1 - g)``, ``g = L(1 + L50_ld)/(L + L50_ld)``
  (1 at the reference regimen, ``f_exp_no_ld`` without lymphodepletion). The trial layer computes ``L`` from
  the regimen's drugs, doses and days (:func:`immunoreset.trial.design.lymphodepletion_intensity`). Host T
  cells and neutrophils respond through Park's K-PD amount ``Dose_LDC`` as before.
* **Host-versus-graft rejection** (``allogeneic`` 0/1, ``hla_edited`` 0/1): every CAR-T pool is cleared
  at ``k_hvg × (1 - hla_edited × hvg_escape_edited) × host × (1 - exp(-t/tau_hvg))``, where ``host`` is the
  recovery of host T cells after lymphodepletion (capped at 1): rejection needs host T cells and time to
  prime. HLA-edited ("hypoimmune") products escape part of it.
* **Re-infusions and anti-CAR immunity** (:func:`with_redosing`, specs ``<name>_redose``, used by designs
  with more than one infusion): the first infusion is the initial condition at t = 0 as in Park 2025; later
  ones (``Dose2``/``t_dose2``, ``Dose3``/``t_dose3``) enter the blood CAR-T pools, split by the product's
  CD4/CD8 and phenotype composition like the first, as zero-order infusions over ``t_inf`` from their study
  day (two time switches each, located as events by the solver); lymphodepletion before a re-infusion
  (``Dose_LDC2``/``Dose_LDC3``) enters Park's K-PD compartment with it, as Park doses the first course at
  t = 0. Anti-CAR immunity (``immunogenic`` 0/1, a non-human scFv) is primed by the exposure to CAR-T and
  recalled by re-exposure: from the second infusion on, CAR-T pools are cleared at
  ``k_anticar × host × anticar_recalled`` (the priming reached when the second infusion came). Its effect on
  the first course is part of the Erlangen calibration (Park's elimination rates); lymphodepletion before the
  re-infusion suppresses it through ``host``.
* **BCMA** (:func:`with_bcma`, specs ``<name>_bcma``): CAR-T kill BCMA⁺ plasmablasts and long-lived plasma
  cells (Emax in the blood CAR-T count), which a CD19 CAR spares.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from immunoreset.models.park2025 import PHENOTYPE_INPUTS
from immunoreset.models.spec import DerivedSpec, InputSpec, ModelSpec, OutputSpec, ParameterSpec, StateSpec, SwitchSpec

__all__ = ["BCMA_SUFFIX", "NO_INFUSION_DAY", "REDOSE_SUFFIX", "with_bcma", "with_redosing", "with_regimen"]

CoreParts = tuple[
    list[StateSpec], list[ParameterSpec], list[InputSpec], list[DerivedSpec], list[SwitchSpec], list[OutputSpec]
]

NO_INFUSION_DAY = 1e9
"""``t_dose2``/``t_dose3`` of a patient with no such infusion (never reached)."""
BCMA_SUFFIX = "_bcma"
REDOSE_SUFFIX = "_redose"

ASSUMPTION = "assumption"
CAPPELL2021 = (
    "Cappell KM, Kochenderfer JN. Nat Rev Clin Oncol 2021;18(11):715-27. doi:10.1038/s41571-021-00530-z "
    "(CD28 versus 4-1BB CARs: anti-CD19 activity similar; 4-1BB CARs persist longer)"
)
WANG2016 = (
    "Wang X et al. Blood 2016;127(24):2980-90. doi:10.1182/blood-2015-12-686725 (CD28 CD19 CAR-T persisted "
    "28 days or less in most patients)"
)
TURTLE2016 = (
    "Turtle CJ et al. J Clin Invest 2016;126(6):2123-38. doi:10.1172/JCI85309 (adding fludarabine to "
    "cyclophosphamide improved CAR-T expansion and persistence; CD8 T-cell responses against the CAR "
    "transgene product limited persistence, mostly after cyclophosphamide alone)"
)
KOCHENDERFER2017 = (
    "Kochenderfer JN et al. J Clin Oncol 2017;35(16):1803-13. doi:10.1200/JCO.2016.71.3024 (serum IL-15 "
    "rises after lymphodepletion and is associated with CAR-T peak and remission)"
)
WANG2024_CELL = (
    "Wang X et al. Cell 2024;187(18):4890-904. doi:10.1016/j.cell.2024.06.027 (HLA-edited allogeneic CD19 "
    "CAR-T in myositis and SSc persisted > 3 months)"
)
MULLER2025_IIM = (
    "Müller F et al. Nat Med 2025. doi:10.1038/s41591-025-03718-3 (relapse of anti-synthetase syndrome: "
    "CD19 CAR-T re-infusion failed to expand, anti-CAR T cells detected)"
)
GAUTHIER2021 = (
    "Gauthier J et al. Blood 2021;137(3):323-35. doi:10.1182/blood.2020006770 (second CD19 CAR-T infusions: "
    "response 39 %, better after Cy-Flu and a higher second dose)"
)
WANG2021_BLOODADV = (
    "Wang Y et al. Blood Adv 2021;5(23):5290-9. doi:10.1182/bloodadvances.2021004603 (after BCMA CAR-T: normal "
    "plasma cells reappear at a median of day 212, IgG recovers at a median of 386 d)"
)
WANG2024_ARD = (
    "Wang W et al. Ann Rheum Dis 2024;83(10):1304-14. doi:10.1136/ard-2024-225785 (BCMA-CD19 compound CAR-T "
    "in SLE: all autoantibodies, including those of long-lived plasma cells, negative by 3 months)"
)
WALTI2021 = (
    "Walti CS et al. JCI Insight 2021;6(11):e146743. doi:10.1172/jci.insight.146743 (seroprotection after BCMA "
    "vs CD19 CAR-T: prevalence ratio 0.47)"
)

_CART_STATE = "cd[48]_*_[bp][bm]"
_BLOOD_CART = re.compile(r"^cd([48])_(tn|cm|em|ef)_pb$")


def _param(name: str, value: float, unit: str, description: str, source: str, **kw: float) -> ParameterSpec:
    return ParameterSpec(name=name, value=value, unit=unit, description=description, source=source, **kw)


def _input(name: str, kind: str, value: float, unit: str, description: str, low: float, high: float) -> InputSpec:
    return InputSpec(
        name=name,
        kind=kind,
        value=value,
        unit=unit,
        description=description,
        source="trial design (immunoreset.trial.design); the default leaves the Erlangen calibration unchanged",
        minimum=low,
        maximum=high,
    )


PARAMETERS = [
    _param(
        "cd28_expansion",
        1.0,
        "1",
        "expansion rate of a CD28 construct relative to 4-1BB",
        f"{ASSUMPTION} without a published aggregate to calibrate to (no published peak ratio between constructs; "
        f"similar anti-CD19 activity, {CAPPELL2021})",
        minimum=0.0,
    ),
    _param(
        "cd28_persistence",
        10.0,
        "1",
        "loss of persisting (marrow) CAR-T of a CD28 construct relative to 4-1BB",
        f"{ASSUMPTION}, calibrated to CD28 CAR-T below flow detection within about a month, {WANG2016}; {CAPPELL2021}",
        minimum=0.0,
    ),
    _param(
        "f_exp_no_ld",
        0.8,
        "1",
        "CAR-T expansion rate without lymphodepletion relative to the reference regimen",
        f"{ASSUMPTION} without a published ratio of peaks to calibrate to; set so that no lymphodepletion lowers the "
        f"peak several-fold, the qualitative finding of {TURTLE2016}; {KOCHENDERFER2017}",
        minimum=0.0,
        maximum=1.0,
    ),
    _param(
        "L50_ld",
        0.25,
        "1",
        "lymphodepletion intensity (reference = 1) giving half the expansion benefit",
        f"{ASSUMPTION} without a published aggregate to calibrate to: the benefit saturates near standard doses "
        "(reduced-intensity regimens keep most of it)",
        minimum=0.0,
    ),
    _param(
        "k_hvg",
        0.25,
        "1/d",
        "maximal host-versus-graft clearance of allogeneic CAR-T",
        f"{ASSUMPTION}, calibrated to non-edited allogeneic CD19 CAR-T in blood for weeks, not months (Benjamin R "
        "et al. Lancet 2020;396(10266):1885-94, doi:10.1016/S0140-6736(20)32334-5, UCART19: TCR/CD52-edited, "
        "not HLA-edited; figure of about 4-6 weeks not checked against the primary text); below flow detection "
        "within about two months",
    ),
    _param(
        "tau_hvg",
        14.0,
        "d",
        "time constant of priming of the host-versus-graft response",
        f"{ASSUMPTION} without a published aggregate to calibrate to (T-cell priming takes one to three weeks)",
    ),
    _param(
        "hvg_escape_edited",
        0.9,
        "1",
        "share of the host-versus-graft response escaped by an HLA-edited (hypoimmune) product",
        f"{ASSUMPTION}, calibrated to persistence beyond 3 months, {WANG2024_CELL}",
        minimum=0.0,
        maximum=1.0,
    ),
]

INPUTS = [
    _input("costim_cd28", "product", 0.0, "1", "1 = CD28 costimulatory domain, 0 = 4-1BB", 0.0, 1.0),
    _input("allogeneic", "product", 0.0, "1", "1 = allogeneic (donor) cells, 0 = autologous", 0.0, 1.0),
    _input("hla_edited", "product", 0.0, "1", "1 = allogeneic cells edited to escape rejection (HLA)", 0.0, 1.0),
    _input("ld_intensity", "dose", 1.0, "1", "lymphodepletion intensity relative to the Erlangen regimen", 0.0, 1e3),
]

DERIVED = [
    DerivedSpec(
        name="host_t",
        expression="min((cd4t + cd8t)/(K0_CD4/Kout_CD4 + K0_CD8/Kout_CD8), 1)",
        unit="1",
        description="host T cells relative to baseline, capped at 1 (recovery after lymphodepletion)",
    ),
    DerivedSpec(
        name="k_immune",
        expression="allogeneic*k_hvg*(1 - hla_edited*hvg_escape_edited)*host_t*(1 - exp(-t/tau_hvg))",
        unit="1/d",
        description="clearance of CAR-T by host-versus-graft rejection",
    ),
    DerivedSpec(
        name="g_ld",
        expression="ld_intensity*(1 + L50_ld)/(ld_intensity + L50_ld)",
        unit="1",
        description="saturating lymphodepletion effect, 1 at the reference regimen",
    ),
    DerivedSpec(
        name="f_ld",
        expression="1 - (1 - f_exp_no_ld)*(1 - g_ld)",
        unit="1",
        description="CAR-T expansion rate relative to the reference regimen",
    ),
    DerivedSpec(
        name="Kexp_max8_eff",
        expression="Kexp_max8*(1 + costim_cd28*(cd28_expansion - 1))*f_ld",
        unit="1/d",
        description="maximal CD8+ expansion rate for the construct and lymphodepletion",
    ),
    DerivedSpec(
        name="persistence_factor",
        expression="1 + costim_cd28*(cd28_persistence - 1)",
        unit="1",
        description="loss of naive/memory CAR-T relative to 4-1BB",
    ),
]


def _sub(expression: str, name: str, replacement: str) -> str:
    return re.sub(rf"\b{name}\b", replacement, expression)


def with_regimen(parts: CoreParts) -> CoreParts:
    """Add the product and regimen inputs of the module doc to the predictive core (defaults: no change)."""
    states, parameters, inputs, derived, switches, outputs = parts
    new_states = []
    for s in states:
        rhs = s.rhs
        if fnmatch.fnmatchcase(s.name, _CART_STATE):
            rhs = _sub(rhs, "Kel_bm", "Kel_bm*persistence_factor")
            rhs += f" - k_immune*{s.name}"
        new_states.append(s.model_copy(update={"rhs": rhs}))
    new_derived = [
        d.model_copy(update={"expression": _sub(d.expression, "Kexp_max8", "Kexp_max8_eff")}) for d in derived
    ]
    return (
        new_states,
        parameters + PARAMETERS,
        inputs + INPUTS,
        DERIVED + new_derived,
        switches,
        outputs,
    )


REDOSE_PARAMETERS = [
    _param(
        "t_inf",
        0.0208,
        "d",
        "duration of a re-infusion (zero-order input)",
        f"{ASSUMPTION}: a CAR-T bag is infused over about 30 min; results do not depend on it at this scale",
    ),
    _param(
        "k_anticar",
        0.5,
        "1/d",
        "maximal clearance of CAR-T by recalled anti-CAR immunity after a re-infusion",
        f"{ASSUMPTION}, calibrated to a re-infusion without lymphodepletion that does not re-expand "
        f"({MULLER2025_IIM}) and re-infusions after Cy-Flu that partly do ({GAUTHIER2021}; {TURTLE2016})",
    ),
    _param(
        "k_prime",
        0.1,
        "1/d",
        "priming of anti-CAR immunity per day of exposure to CAR-T above EC50_prime",
        f"{ASSUMPTION} without a published aggregate to calibrate to: a typical Erlangen course is half primed "
        f"after about two weeks and fully by month 3 (anti-CAR responses are detected weeks after infusion, "
        f"{TURTLE2016}); infusions days apart are one exposure",
    ),
    _param(
        "EC50_prime",
        10.0,
        "cells/uL",
        "blood CAR-T count giving half-maximal priming of anti-CAR immunity",
        f"{ASSUMPTION} without a published aggregate to calibrate to (a course that expands less primes less)",
    ),
]

REDOSE_INPUTS = [
    _input("Dose2", "dose", 0.0, "cells/kg", "CAR+ cells per kg of the second infusion", 0.0, 1e9),
    _input("t_dose2", "dose", NO_INFUSION_DAY, "d", "study day of the second infusion", 0.0, NO_INFUSION_DAY),
    _input("Dose3", "dose", 0.0, "cells/kg", "CAR+ cells per kg of the third infusion", 0.0, 1e9),
    _input("t_dose3", "dose", NO_INFUSION_DAY, "d", "study day of the third infusion", 0.0, NO_INFUSION_DAY),
    _input("Dose_LDC2", "dose", 0.0, "mg", "lymphodepletion K-PD amount given with the second infusion", 0.0, 1e5),
    _input("Dose_LDC3", "dose", 0.0, "mg", "lymphodepletion K-PD amount given with the third infusion", 0.0, 1e5),
    _input("immunogenic", "product", 1.0, "1", "1 = the CAR can prime anti-CAR immunity (non-human scFv)", 0.0, 1.0),
]

SWITCHES = [
    SwitchSpec(
        name=f"infusion{k}_{edge}",
        lhs="t",
        op=">",
        rhs=f"t_dose{k}" + (" + t_inf" if edge == "end" else ""),
        description=f"{'start' if edge == 'start' else 'end'} of infusion {k}",
        source="trial design",
    )
    for k in (2, 3)
    for edge in ("start", "end")
]

REDOSE_DERIVED = [
    DerivedSpec(
        name="infusing",
        expression="(Dose2*(infusion2_start - infusion2_end) + Dose3*(infusion3_start - infusion3_end))/t_inf",
        unit="cells/kg/d",
        description="CAR+ cells per kg per day being re-infused",
    ),
    DerivedSpec(
        name="ldc_infusing",
        expression="(Dose_LDC2*(infusion2_start - infusion2_end) + Dose_LDC3*(infusion3_start - infusion3_end))/t_inf",
        unit="mg/d",
        description="lymphodepletion K-PD amount entering with a re-infusion",
    ),
    DerivedSpec(
        name="k_recall",
        expression="immunogenic*infusion2_start*k_anticar*host_t*anticar_recalled",
        unit="1/d",
        description="clearance of CAR-T by anti-CAR immunity recalled by re-exposure",
    ),
]


def with_redosing(spec: ModelSpec) -> ModelSpec:
    """The spec with up to two further infusions and anti-CAR immunity (spec ``<name>_redose``).

    Infusions 2 and 3 enter the blood CAR-T pools (by the product's CD4/CD8 and phenotype composition, like the
    first) as zero-order inputs over ``t_inf`` from their study day; lymphodepletion before them enters the K-PD
    compartment with them. Anti-CAR immunity is primed by the exposure to CAR-T (state ``anticar``, 0 to 1,
    growing at ``k_prime × TotCART/(TotCART + EC50_prime)``), so a course that expands more primes more and
    infusions days apart are one exposure; from the second infusion on the response primed by then
    (``anticar_recalled``, the priming held at the second infusion) is recalled and clears every CAR-T pool at
    ``k_anticar × host × anticar_recalled`` (``host``: host T-cell recovery; lymphodepletion before the
    re-infusion blunts it). Its effect on the first course is part of the Erlangen calibration.
    """
    states = []
    for s in spec.states:
        rhs = s.rhs
        if fnmatch.fnmatchcase(s.name, _CART_STATE):
            rhs += f" - k_recall*{s.name}"
            blood = _BLOOD_CART.match(s.name)
            if blood:
                sub, ph = blood.groups()
                rhs += f" + infusing*WT*pct{sub}*{PHENOTYPE_INPUTS[ph]}/(Vb*1e4)"
        elif s.name == "ldc":
            rhs += " + ldc_infusing"
        states.append(s.model_copy(update={"rhs": rhs}))
    states.append(
        StateSpec(
            name="anticar",
            unit="1",
            description="priming of anti-CAR immunity (0 = none, 1 = fully primed)",
            initial="0",
            rhs="immunogenic*k_prime*TotCART/(TotCART + EC50_prime)*(1 - anticar)",
        )
    )
    states.append(
        StateSpec(
            name="anticar_recalled",
            unit="1",
            description="priming reached when the second infusion came (sample-and-hold over the infusion: "
            "relaxes to anticar at 10/t_inf while infusion 2 runs, then holds)",
            initial="0",
            rhs="10/t_inf*(infusion2_start - infusion2_end)*(anticar - anticar_recalled)",
        )
    )
    outputs = [
        *spec.outputs,
        OutputSpec(name="antiCarPriming", expression="anticar", unit="1", description="anti-CAR immunity primed (0-1)"),
    ]
    fields = {name: getattr(spec, name) for name in type(spec).model_fields}
    fields.update(
        name=spec.name + REDOSE_SUFFIX,
        title=spec.title + ", with re-infusions and anti-CAR immunity",
        notes=[*spec.notes, "Re-infusions and anti-CAR immunity (models/regimen.py, with_redosing)."],
        states=states,
        parameters=[*spec.parameters, *REDOSE_PARAMETERS],
        inputs=[*spec.inputs, *REDOSE_INPUTS],
        derived=[*spec.derived, *REDOSE_DERIVED],
        switches=[*spec.switches, *SWITCHES],
        outputs=outputs,
    )
    return ModelSpec(**fields)


BCMA_PARAMETERS = [
    _param(
        "r_c3_floor",
        0.03,
        "1",
        "anti-dsDNA (relative to baseline) below which C3 consumption falls no further",
        f"{ASSUMPTION}, a structural guard, not calibrated: Park's C3 equation has no autoantibody-independent "
        "catabolism, so C3 would rise without bound as a BCMA CAR removes anti-dsDNA; the floor is set at the median "
        "anti-dsDNA fraction at month 6 with CD19 CAR-T in sle_cart (about 0.03), keeping C3 within its CD19 range",
    ),
    _param(
        "k_bcma",
        0.5,
        "1/d",
        "maximal killing of BCMA+ plasmablasts and plasma cells by a BCMA CAR",
        f"{ASSUMPTION}, calibrated to autoantibodies of long-lived plasma cells negative by 3 months, {WANG2024_ARD}",
    ),
    _param(
        "EC50_bcma",
        1.0,
        "cells/uL",
        "blood CAR-T count giving half-maximal plasma-cell killing",
        f"{ASSUMPTION} without a published aggregate to calibrate to: killing lasts while CAR-T are present at "
        "more than about 1 cell/µL (weeks to months)",
    ),
    _param(
        "k_pc_refill",
        0.004,
        "1/d",
        "refilling of the long-lived plasma-cell niche from returning B cells (total IgG)",
        f"{ASSUMPTION}, calibrated to IgG recovery at a median of about a year after BCMA CAR-T, {WANG2021_BLOODADV}",
    ),
]


def with_bcma(spec: ModelSpec) -> ModelSpec:
    """The spec with a BCMA (or CD19/BCMA) product: plasma cells are killed too (spec ``<name>_bcma``).

    Plasmablasts (``pb_auto``) and long-lived plasma cells of autoantibody (``llpc_auto``) and of protective
    antibody (``llpc_protective``) lose ``k_bcma × E`` per day, ``E = TotCART/(TotCART + EC50_bcma)``. Vaccine
    plasma cells are not made again without the antigen (protective titres stay low; Walti CS et al. JCI
    Insight 2021;6(11):e146743, doi:10.1172/jci.insight.146743); the
    total-IgG plasma-cell niche refills from returning B cells (``llpc_igg``, ``k_pc_refill``).
    """
    kill = "k_bcma*TotCART/(TotCART + EC50_bcma)"
    patches: dict[str, Callable[[str], str]] = {
        # plasmablasts and long-lived plasma cells of autoantibody and protective antibody (sle_cart)
        "pb_auto": lambda rhs: f"{rhs} - {kill}*pb_auto",
        "llpc_auto": lambda rhs: f"{rhs} - {kill}*llpc_auto",
        "llpc_protective": lambda rhs: f"{rhs} - {kill}*llpc_protective",
        # the long-lived share of total IgG and of the IIM/SSc autoantibodies follows the plasma-cell state
        "igg": lambda rhs: _sub(rhs, "f_igg_llpc", "f_igg_llpc*llpc_igg"),
        "autoab": lambda rhs: _sub(rhs, "f_aab_llpc", "f_aab_llpc*llpc_igg"),
        # Park's C3 consumption has no autoantibody-independent part: floor the anti-dsDNA ratio it reads
        "c3": lambda rhs: rhs.replace("(max(aab, 1e-12)/AAb0)", "max(aab/AAb0, r_c3_floor)"),
    }
    states = []
    for s in spec.states:
        if s.name in patches:
            rhs = patches[s.name](s.rhs)
            if rhs == s.rhs:  # the equation this variant patches has changed: fail loudly, never silently
                raise AssertionError(f"with_bcma: no BCMA term could be added to {spec.name}.{s.name}")
            s = s.model_copy(update={"rhs": rhs})
        states.append(s)
    states.append(
        StateSpec(
            name="llpc_igg",
            unit="1",
            description="long-lived plasma cells making total IgG, relative to baseline",
            initial="1",
            rhs=f"k_pc_refill*b_rel*(1 - llpc_igg) - {kill}*llpc_igg",
        )
    )
    outputs = [
        *spec.outputs,
        OutputSpec(
            name="plasmaCells", expression="llpc_igg", unit="1", description="long-lived plasma cells / baseline"
        ),
    ]
    fields = {name: getattr(spec, name) for name in type(spec).model_fields}
    fields.update(
        name=spec.name + BCMA_SUFFIX,
        title=spec.title + ", with a BCMA-directed CAR (CD19/BCMA)",
        notes=[*spec.notes, f"BCMA: plasmablasts and long-lived plasma cells are killed ({WALTI2021})."],
        states=states,
        parameters=[*spec.parameters, *BCMA_PARAMETERS],
        outputs=outputs,
    )
    return ModelSpec(**fields)
