"""IIM (idiopathic inflammatory myopathy) under CD19 CAR-T: the Park 2025 CAR-T/B-cell core plus a myositis layer.

The CAR-T, B-cell, lymphodepletion, host T-cell and neutrophil equations are those of Park 2025 with the
documented changes of :func:`immunoreset.models.ssc_iim_core.predictive_core` (marrow CAR-T loss, B-precursor
transit, tissue and re-emerging autoreactive B cells; docs/models.md "Predictive specs"; with the naive-
fraction, IgG and disease-drive additions of ``car_t_core``). The myositis layer is new and every parameter is
an assumption calibrated to a published aggregate (named in its ``source``):

* ``infl`` — muscle inflammation relative to baseline, relaxing toward the disease drive with rate
  ``k_infl``. CK and aldolase are released by inflamed muscle: ``CK = ck_normal + (ck0 - ck_normal) × infl``.
* ``ext`` — extramuscular activity (interstitial lung disease, arthritis, rash of antisynthetase
  syndrome), relaxing more slowly toward the drive (``k_ext``).
* ``weak`` — muscle-strength deficit as a fraction of the MMT-8 maximum (80). It relaxes with rate
  ``k_musc`` toward ``weak0 × (f_dmg + (1 - f_dmg) × infl)``: weakness from active inflammation recovers
  as muscle regenerates, a damage share ``f_dmg`` does not. ``MMT-8 = 80 × (1 - weak)``.
* ``autoab`` — the myositis-specific autoantibody (anti-Jo-1 for antisynthetase syndrome) relative to
  baseline, made by the drive-dependent plasmablasts plus a long-lived plasma-cell share and catabolised
  with the IgG half-life.
* HAQ-DI and the three global assessments are read from the latent states with residual (non-disease)
  shares; the trial's observation model rounds them and adds rater noise.

Baselines (``ck0``, ``mmt0``, ``haq0``, globals) are per-patient inputs; the trial design draws them.
"""

from __future__ import annotations

from immunoreset.models.spec import InputSpec, ModelSpec, OutputSpec, StateSpec
from immunoreset.models.ssc_iim_core import IGG_T_HALF, baseline_input, parameter, predictive_core

__all__ = ["IIM_CART"]

A = "assumption, calibrated to"
MULLER2024 = "Müller F et al. N Engl J Med 2024;390:687 (all 3 IIM: ACR-EULAR major clinical response)"
MULLER2023 = "Müller F et al. Lancet 2023;401:815 (MMT 149/150 at 6 months; lung lesions regressed by 3 months)"
PECHER2023 = "Pecher AC et al. JAMA 2023;329:2154 (CK normalised; anti-Jo-1 fell fourfold at 8 months)"


def _base(name: str, value: float, unit: str, description: str, low: float, high: float) -> InputSpec:
    return baseline_input(name, value, unit, description, low, high, population="refractory IIM")


def _build() -> ModelSpec:
    states, parameters, inputs, derived, switches, outputs = predictive_core()
    parameters += [
        parameter(
            "k_infl",
            0.1,
            "1/d",
            "relaxation of muscle inflammation toward the disease drive",
            f"{A} CK within the ULN by month 2-3 after CAR-T ({PECHER2023}; {MULLER2024})",
        ),
        parameter(
            "k_ext",
            0.022,
            "1/d",
            "relaxation of extramuscular activity toward the drive (~45 d time constant)",
            f"{A} {MULLER2023}",
        ),
        parameter("k_musc", 0.023, "1/d", "recovery of muscle strength (30 d half-life)", f"{A} {MULLER2023}"),
        parameter(
            "f_dmg", 0.05, "1", "share of the baseline weakness that is irreversible damage", f"{A} {MULLER2023}"
        ),
        parameter(
            "f_aab_llpc", 0.25, "1", "long-lived plasma-cell share of the myositis autoantibody", f"{A} {PECHER2023}"
        ),
        parameter(
            "kdeg_aab",
            0.033,
            "1/d",
            "autoantibody catabolism (IgG half-life 21 d)",
            IGG_T_HALF,
        ),
        parameter(
            "f_haq_res",
            0.2,
            "1",
            "share of baseline HAQ-DI not due to myositis (damage, comorbidity)",
            f"{A} {MULLER2023} (walking > 5 km at 6 months)",
        ),
        parameter(
            "w_phga_infl", 0.5, "1", "weight of inflammation (vs weakness) in the physician global", f"{A} {MULLER2024}"
        ),
        parameter(
            "f_ptga_res", 0.15, "1", "share of the patient global not due to myositis activity", f"{A} {MULLER2024}"
        ),
    ]
    inputs += [
        _base("ck0", 3000.0, "U/L", "baseline creatine kinase", 20.0, 200000.0),
        _base("ck_normal", 100.0, "U/L", "the patient's CK without muscle inflammation", 20.0, 400.0),
        _base("aldolase0", 15.0, "U/L", "baseline aldolase", 1.0, 500.0),
        _base("aldolase_normal", 4.0, "U/L", "the patient's aldolase without muscle inflammation", 1.0, 10.0),
        _base("mmt0", 62.0, "1", "baseline MMT-8 total (0-80)", 0.0, 80.0),
        _base("haq0", 1.25, "1", "baseline HAQ-DI (0-3)", 0.0, 3.0),
        _base("phga0", 6.0, "1", "baseline physician global activity (0-10 cm VAS)", 0.0, 10.0),
        _base("ptga0", 6.0, "1", "baseline patient global activity (0-10 cm VAS)", 0.0, 10.0),
        _base("emga0", 3.5, "1", "baseline extramuscular global activity (0-10 cm VAS)", 0.0, 10.0),
    ]
    states += [
        StateSpec(
            name="infl",
            unit="1",
            description="muscle inflammation (1 = baseline)",
            initial="1",
            rhs="k_infl*(drive - infl)",
        ),
        StateSpec(
            name="ext",
            unit="1",
            description="extramuscular activity (1 = baseline)",
            initial="1",
            rhs="k_ext*(drive - ext)",
        ),
        StateSpec(
            name="weak",
            unit="1",
            description="muscle-strength deficit, fraction of the MMT-8 maximum",
            initial="1 - mmt0/80",
            rhs="k_musc*((1 - mmt0/80)*(f_dmg + (1 - f_dmg)*infl) - weak)",
        ),
        StateSpec(
            name="autoab",
            unit="1",
            description="myositis-specific autoantibody relative to baseline",
            initial="1",
            rhs="kdeg_aab*(f_aab_llpc + (1 - f_aab_llpc)*drive - autoab)",
        ),
    ]
    weak_rel = "weak/max(1 - mmt0/80, 1e-9)"
    outputs += [
        OutputSpec(
            name="ck", expression="ck_normal + (ck0 - ck_normal)*infl", unit="U/L", description="creatine kinase"
        ),
        OutputSpec(
            name="aldolase",
            expression="aldolase_normal + (aldolase0 - aldolase_normal)*infl",
            unit="U/L",
            description="aldolase",
        ),
        OutputSpec(name="mmt8", expression="80*(1 - weak)", unit="1", description="MMT-8 total (latent, 0-80)"),
        OutputSpec(
            name="haqDi",
            expression=f"haq0*(f_haq_res + (1 - f_haq_res)*{weak_rel})",
            unit="1",
            description="HAQ-DI (latent, 0-3)",
        ),
        OutputSpec(
            name="physicianGlobal",
            expression=f"phga0*(w_phga_infl*infl + (1 - w_phga_infl)*{weak_rel})",
            unit="1",
            description="physician global activity (latent, 0-10)",
        ),
        OutputSpec(
            name="patientGlobal",
            expression=f"ptga0*(f_ptga_res + (1 - f_ptga_res)*(0.3*infl + 0.7*{weak_rel}))",
            unit="1",
            description="patient global activity (latent, 0-10)",
        ),
        OutputSpec(
            name="extramuscularGlobal",
            expression="emga0*ext",
            unit="1",
            description="extramuscular global activity (latent, 0-10)",
        ),
        OutputSpec(
            name="antiSynthetase", expression="autoab", unit="1", description="autoantibody relative to baseline"
        ),
        OutputSpec(name="muscleInflammation", expression="infl", unit="1", description="muscle inflammation"),
    ]
    return ModelSpec(
        name="iim_cart",
        title="IIM under CD19 CAR-T: Park 2025 CAR-T/B-cell core + myositis layer (CK, MMT-8, globals, HAQ-DI)",
        citation="Core: Park H, Mugundu GM, Singh AP. Clin Transl Sci 2025;18:e70146. Myositis layer: immunoreset "
        "(assumptions calibrated to Müller 2023/2024 and Pecher 2023; see docs/trial.md).",
        time_unit="d",
        notes=[
            "CAR-T/B-cell/lymphodepletion/neutrophil equations are Park 2025's with the predictive-core changes "
            "(SLE layer removed; docs/models.md).",
            "Disease activity is driven by the pre-existing B-cell pool; reconstituted naive B cells do not drive it.",
            "Every myositis-layer parameter is an assumption calibrated to the published aggregate in its source.",
        ],
        states=states,
        parameters=parameters,
        inputs=inputs,
        derived=derived,
        switches=switches,
        outputs=outputs,
    )


IIM_CART = _build()
"""The IIM model spec."""
