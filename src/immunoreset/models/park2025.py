"""Park 2025 QSP model of anti-CD19 CAR T-cell therapy in SLE, as a declarative spec.

Park H, Mugundu GM, Singh AP. Mechanistic evaluation of anti-CD19 CAR-T cell therapy repurposed in
systemic lupus erythematosus using a quantitative systems pharmacology model. Clin Transl Sci
2025;18(2):e70146. doi:10.1111/cts.70146 (open access, PMC11815715).

Implemented from the Appendix S2 Monolix **control stream** (as transcribed in nlmixr2lib
``Park_2025_cd19_cart_sle_qsp``), which is authoritative where Appendix S1 / Table 1 disagree:
Ksyn_PTU = 1000 mg/day (Table 1 prints 100); proteinuria driven by (C3_0/C3)^gamma and
exp(T8/T8_0)*exp(NT/Circ0); no killing of reconstituted naive B cells; the reconstitution gate compares
total blood CAR-T in cells/uL with CARTrev_min = 2.38 cells/uL; IFN-alpha release derived from the
baseline; marrow CAR-T and complexes start at 1e-12. 37 states, time in days.

Switches (exact operators): B-cell reconstitution runs while TotCART < CARTrev_min (closed at equality);
anti-dsDNA release (and its degradation) is on while B > 1e6 cells/L (off at equality). Neither latches.

One extension, off by default so that the spec *is* the published model: ``Emax_LDC_Bnaive`` (default 0)
inhibits the naive B-cell output ``k_rev`` by the lymphodepletion concentration,
``k_rev = K0_rev * gate * (1 - Emax_LDC_Bnaive * C_LDC / (EC50_LDC_Bnaive + C_LDC))``. In the published
model the gate also opens for one to five days right after infusion, while the infused CAR-T cells
distribute to the marrow and blood CAR-T dip below CARTrev_min before expanding; the naive pool seeded in
that window (about 1-11 cells/uL with the published IIV) is never killed and persists through the months
of aplasia, whereas the Erlangen patients had no detectable B cells until reconstitution (Mackensen 2022,
Müller 2024). With ``Emax_LDC_Bnaive = 1`` (an assumption without a published source, calibrated to that
observation; rationale: fludarabine/cyclophosphamide suppress marrow lymphopoiesis as they suppress host
lymphocytes; the CD8 EC50) the early window seeds about 60-fold fewer naive cells (typical patient
0.05 cells/uL) and reconstitution starts when the CAR-T decline re-opens the gate. The effect relies on
Park's dosing of lymphodepletion at t = 0 (not days -5 to -3). Trial designs set it per cohort
(``model_parameters``); docs/models.md.
"""

from __future__ import annotations

from immunoreset.models.spec import (
    DerivedSpec,
    InputSpec,
    ModelSpec,
    OutputSpec,
    ParameterSpec,
    StateSpec,
    SwitchSpec,
)

__all__ = ["PARK2025"]

CIT = "Park, Mugundu & Singh, Clin Transl Sci 2025;18:e70146"
T1 = f"{CIT}, Table 1"
CS = f"{CIT}, Appendix S2 control stream"
S1 = f"{CIT}, Methods 2.1 / Appendix S1"
EPS = "1e-12"
EXTENSION = (
    "immunoreset extension, not Park 2025 (assumption without a published source, calibrated to 'no "
    "detectable B cells until reappearance', Mackensen 2022 / Müller 2024); 0 reproduces the published "
    "model (docs/models.md)"
)


def _p(
    name: str,
    value: float,
    unit: str,
    desc: str,
    source: str,
    status: str = "fixed",
    omega: float | None = None,
    omega_fixed: bool = False,
) -> ParameterSpec:
    return ParameterSpec(
        name=name,
        value=value,
        unit=unit,
        description=desc,
        source=source,
        status="estimated" if status == "estimated" else "fixed",
        omega=omega,
        omega_fixed=omega_fixed,
    )


PARAMETERS = [
    # 3.1 CAR-T kinetics and B-cell depletion
    _p(
        "Kexp_max8",
        1.8,
        "1/d",
        "maximum CAR-T expansion rate constant, CD8+ (CD4+ = this / r_exp)",
        T1,
        "estimated",
        0.05,
    ),
    _p("r_exp", 1.12, "1", "ratio of CD8+ to CD4+ maximum expansion rate constants", CS),
    _p(
        "EC50exp",
        1.9e-5,
        "complexes/cell",
        "complexes per CAR-T cell for 50% of maximum expansion",
        T1,
        "fixed",
        0.2,
        True,
    ),
    _p("rm1", 0.15, "1/d", "differentiation naive -> central memory", T1, "estimated"),
    _p("rm2", 0.11, "1/d", "differentiation central memory -> effector memory", T1, "estimated"),
    _p("rm3", 0.72, "1/d", "differentiation effector memory -> effector", T1, "estimated"),
    _p("Kel_e", 47.38, "1/d", "elimination of effector CAR-T (blood)", T1, "estimated"),
    _p("Kel_m", 0.69, "1/d", "elimination of naive and memory CAR-T (blood)", T1, "estimated"),
    _p("K12", 1.41, "1/d", "distribution blood -> marrow", T1, "estimated"),
    _p("K21", 0.0017, "1/d", "redistribution marrow -> blood", T1, "estimated"),
    _p("Kkill_max", 2.76, "1/d", "maximum CD19+ B-cell killing rate constant", T1, "estimated", 0.087),
    _p("KC50", 7.71, "complexes/cell", "complexes per B cell for 50% of maximum killing", T1, "estimated"),
    _p(
        "CARTrev_min",
        2.38,
        "cells/uL",
        "total blood CAR-T below which naive B-cell reconstitution runs (unit per CS)",
        T1 + " value; unit per control stream",
        "estimated",
        0.81,
    ),
    _p("K0_rev", 1.58e6, "cells/L/d", "zero-order generation of naive CD19+ B cells", T1, "estimated", 1.04),
    _p("Bmax", 4.49e8, "cells/L", "maximum CD19+ B cells in blood (reconstitution capacity)", T1, "estimated", 0.81),
    # 3.2 system constants
    _p("B_bm0", 1.5e9, "cells/L", "baseline CD19+ B cells, marrow", T1 + " ref 22"),
    _p("Kg", 0.0193, "1/d", "first-order proliferation of CD19+ B cells", T1 + " ref 23"),
    _p("D_CAR", 15000.0, "receptors/cell", "CAR density per CAR-T cell", T1 + " refs 17, 24"),
    _p("D_CD19", 14000.0, "antigens/cell", "CD19 density per B cell", T1 + " ref 18"),
    _p("kon", 2.1e5, "1/(M.s)", "FMC63 CAR-CD19 association rate constant", T1 + " ref 25"),
    _p("koff", 6.81e-5, "1/s", "FMC63 CAR-CD19 dissociation rate constant", T1 + " ref 25"),
    _p("Vb_ref", 5.0, "L", "blood volume at 70 kg", T1 + " ref 22"),
    _p("Vbm_ref", 1.6, "L", "bone-marrow volume at 70 kg", T1 + " ref 22"),
    _p("N_A", 6.023e23, "1/mol", "Avogadro constant as written in the control stream", CS),
    # 3.3 lymphodepletion and host cells
    _p("Kel_LDC", 1.39, "1/d", "elimination of the lymphodepletion K-PD signal", T1, "estimated"),
    _p("Kprol_CD4", 0.0007, "1/d", "differentiation precursor -> CD4+ T cells", T1 + " ref 26"),
    _p("K0_CD4", 210.18, "cells/uL/d", "zero-order production into CD4+ precursors", T1, "estimated", 0.68),
    _p("Kout_CD4", 1.02, "1/d", "loss of host CD4+ T cells", T1, "estimated", 0.15),
    _p("Emax_CD4", 0.85, "1", "maximum LDC effect on CD4+ T cells", T1, "estimated"),
    _p("EC50_CD4", 0.15, "mg/L", "LDC concentration for 50% of Emax_CD4", T1),
    _p("Kprol_CD8", 0.00045, "1/d", "differentiation precursor -> CD8+ T cells", T1 + " ref 26"),
    _p("K0_CD8", 525.59, "cells/uL/d", "zero-order production into CD8+ precursors", T1, "estimated"),
    _p("Kout_CD8", 1.49, "1/d", "loss of host CD8+ T cells", T1, "estimated", 0.5),
    _p("Emax_CD8", 0.96, "1", "maximum LDC effect on CD8+ T cells", T1, "estimated"),
    _p("EC50_CD8", 0.067, "mg/L", "LDC concentration for 50% of Emax_CD8", T1),
    _p("Circ0", 5617.22, "cells/uL", "steady-state circulating neutrophils", T1, "estimated", 0.29),
    _p("MTT", 4.35, "d", "mean transit time of the neutrophil chain", T1 + " ref 27", "fixed", 0.2, True),
    _p("gam_NT", 0.14, "1", "neutrophil feedback exponent", T1, "estimated"),
    _p("Emax_NT", 27.32, "1", "maximum LDC effect on neutrophil proliferation", T1, "estimated", 0.26),
    _p("EC50_NT", 1203.42, "mg/L", "LDC concentration for 50% of Emax_NT", T1),
    # immunoreset extension, off by default (0 = Park 2025 as published); see the module docstring
    ParameterSpec(
        name="Emax_LDC_Bnaive",
        value=0.0,
        unit="1",
        description="maximum lymphodepletion inhibition of naive B-cell output (0 = Park 2025 as published)",
        source=EXTENSION,
        minimum=0.0,
        maximum=1.0,
    ),
    ParameterSpec(
        name="EC50_LDC_Bnaive",
        value=0.067,
        unit="mg/L",
        description="LDC concentration for 50% of Emax_LDC_Bnaive (assumed equal to EC50_CD8)",
        source=EXTENSION,
        minimum=1e-9,
    ),
    # 3.4 biomarkers
    _p("Ksyn_AAb", 15875.77, "[IU]/cell/d", "anti-dsDNA release per reactive B cell", T1, "estimated", 0.4),
    _p("Kdeg_IFN", 23.04, "1/d", "interferon-alpha degradation", T1 + " ref 28", "fixed", 0.2, True),
    _p("N_pDC", 1146788.991, "cells/L", "circulating plasmacytoid dendritic cells", CS),
    _p("gam_C3", 0.1, "1", "exponent of the anti-dsDNA drive on C3 catabolism", T1, "estimated"),
    _p("Ksyn_C3", 1.5, "mg/kg/h", "zero-order C3 synthesis", T1 + " ref 29"),
    _p("gam_PTU", 1.09, "1", "exponent of the C3 drive on proteinuria", T1, "estimated"),
    _p("Ksyn_PTU", 1000.0, "mg/d", "zero-order urinary protein excretion (control stream; Table 1 prints 100)", CS),
    _p("gam_IFN4", 0.09, "1", "exponent of IFN-alpha activation of anti-dsDNA release", T1, "estimated"),
    _p("gam_IFN8", 0.8, "1", "exponent of IFN-alpha activation of proteinuria", T1, "estimated"),
    # 3.7 SLE-DAI translations (literature regressions, Appendix S1 'SLEDAI.Ref')
    _p("sledai_c3_a", 16.99, "1", "SLE-DAI C3 regression intercept", f"{CIT}, Appendix S1 / Figure 4A1"),
    _p("sledai_c3_b", -0.01, "L/mg", "SLE-DAI C3 regression slope", f"{CIT}, Appendix S1 / Figure 4A1"),
    _p("sledai_ifn_a", 4.21, "1", "SLE-DAI IFN-alpha regression intercept", f"{CIT}, Appendix S1 / Figure 4A2"),
    _p("sledai_ifn_b", 0.08, "mL/pg", "SLE-DAI IFN-alpha regression slope", f"{CIT}, Appendix S1 / Figure 4A2"),
    _p("sledai_aab_a", 6.96, "1", "SLE-DAI anti-dsDNA regression intercept", f"{CIT}, Appendix S1 / Figure 4A3 [U]"),
    _p("sledai_aab_b", 0.05, "mL/[IU]", "SLE-DAI anti-dsDNA regression slope", f"{CIT}, Appendix S1 / Figure 4A3 [U]"),
]

U = "[U] not tabulated; median of the 5 modelled patients digitised from Figure S1E (nlmixr2lib transcription)"
INPUTS = [
    InputSpec(
        name="WT",
        kind="covariate",
        value=70.0,
        unit="kg",
        description="body weight (allometric reference 70 kg)",
        source=T1 + " ref 22 (reference weight)",
        minimum=20.0,
        maximum=250.0,
        strictly_positive=True,
    ),
    InputSpec(
        name="Dose",
        kind="dose",
        value=1e6,
        unit="cells/kg",
        description="CAR+ T cells per kg (single infusion)",
        source=S1,
        minimum=0.0,
        maximum=1e9,
    ),
    InputSpec(
        name="Dose_LDC",
        kind="dose",
        value=1935.0,
        unit="mg",
        description="lymphodepletion amount in the K-PD compartment",
        source="[U] reconstructed: (3*25 + 1000) mg/m2 * 1.8 m2 (fludarabine + cyclophosphamide)",
        minimum=0.0,
        maximum=1e5,
    ),
    InputSpec(
        name="pct4",
        kind="product",
        value=75.9,
        unit="%",
        description="CD4+ fraction of the product",
        source=S1,
        minimum=0.0,
        maximum=100.0,
    ),
    InputSpec(
        name="pct8",
        kind="product",
        value=23.0,
        unit="%",
        description="CD8+ fraction of the product",
        source=S1,
        minimum=0.0,
        maximum=100.0,
    ),
    InputSpec(
        name="pctN",
        kind="product",
        value=7.29,
        unit="%",
        description="naive fraction",
        source=S1,
        minimum=0.0,
        maximum=100.0,
    ),
    InputSpec(
        name="pctCM",
        kind="product",
        value=22.1,
        unit="%",
        description="central-memory fraction",
        source=S1,
        minimum=0.0,
        maximum=100.0,
    ),
    InputSpec(
        name="pctEM",
        kind="product",
        value=60.9,
        unit="%",
        description="effector-memory fraction",
        source=S1,
        minimum=0.0,
        maximum=100.0,
    ),
    InputSpec(
        name="pctEF",
        kind="product",
        value=9.77,
        unit="%",
        description="effector fraction",
        source=S1,
        minimum=0.0,
        maximum=100.0,
    ),
    InputSpec(
        name="B0",
        kind="baseline",
        value=1.43e8,
        unit="cells/L",
        description="baseline reactive CD19+ B cells, blood",
        source=T1 + " ref 21",
        strictly_positive=True,
    ),
    InputSpec(
        name="AAb0",
        kind="baseline",
        value=470000.0,
        unit="[IU]/L",
        description="baseline anti-dsDNA",
        source=U,
        strictly_positive=True,
    ),
    InputSpec(
        name="IFNa0",
        kind="baseline",
        value=21.0,
        unit="pg/mL",
        description="baseline interferon-alpha",
        source=U,
        strictly_positive=True,
    ),
    InputSpec(
        name="C30",
        kind="baseline",
        value=555.0,
        unit="mg/L",
        description="baseline complement C3",
        source=U,
        strictly_positive=True,
    ),
    InputSpec(
        name="PTU0",
        kind="baseline",
        value=3060.0,
        unit="mg/g{creat}",
        description="baseline urinary protein",
        source=U,
        strictly_positive=True,
    ),
]

_PHEN = ("tn", "cm", "em", "ef")
PHENOTYPE_INPUTS = {"tn": "pctN", "cm": "pctCM", "em": "pctEM", "ef": "pctEF"}
"""The product-composition input (percent) of each CAR-T phenotype state (naive, CM, EM, effector)."""
_NAMES = {"tn": "naive", "cm": "central-memory", "em": "effector-memory", "ef": "effector"}
_UP = {"tn": None, "cm": ("rm1", "tn"), "em": ("rm2", "cm"), "ef": ("rm3", "em")}
_OUT = {"tn": "rm1", "cm": "rm2", "em": "rm3", "ef": None}


def _cart_states() -> list[StateSpec]:
    states: list[StateSpec] = []
    for where in ("pb", "bm"):
        for sub in ("8", "4"):
            for ph in _PHEN:
                x = f"cd{sub}_{ph}_{where}"
                other = f"cd{sub}_{ph}_{'bm' if where == 'pb' else 'pb'}"
                if where == "pb":
                    terms = f"(-K12*Vb*{x} + K21*Vbm*{other})/Vb"
                    terms += f" - Kel_e*{x}" if ph == "ef" else f" - Kel_m*{x} + Kexp{sub}*{x}"
                    init = f"Dose*WT*pct{sub}*{PHENOTYPE_INPUTS[ph]}/(Vb*1e4)"
                else:
                    terms = f"(K12*Vb*{other} - K21*Vbm*{x})/Vbm"
                    if ph != "ef":
                        terms += f" + Kexp{sub}_bm*{x}"
                    init = EPS
                up, out = _UP[ph], _OUT[ph]
                if up:
                    terms += f" + {up[0]}*cd{sub}_{up[1]}_{where}"
                if out:
                    terms += f" - {out}*{x}"
                place = "blood" if where == "pb" else "marrow"
                states.append(
                    StateSpec(
                        name=x,
                        unit="cells/L",
                        description=f"{_NAMES[ph]} CD{sub}+ CAR-T, {place}",
                        initial=init,
                        rhs=terms,
                    )
                )
    return states


STATES = [
    *_cart_states(),
    StateSpec(
        name="cplx_cd8_pb",
        unit="1/L",
        description="CAR-CD19 complexes on CD8+ CAR-T, blood",
        initial=EPS,
        rhs="konp*R8*G - koffp*cplx_cd8_pb",
    ),
    StateSpec(
        name="cplx_cd4_pb",
        unit="1/L",
        description="CAR-CD19 complexes on CD4+ CAR-T, blood",
        initial=EPS,
        rhs="konp*R4*G - koffp*cplx_cd4_pb",
    ),
    StateSpec(
        name="cplx_cd8_bm",
        unit="1/L",
        description="CAR-CD19 complexes on CD8+ CAR-T, marrow",
        initial=EPS,
        rhs="konp*R8_bm*G_bm - koffp*cplx_cd8_bm",
    ),
    StateSpec(
        name="cplx_cd4_bm",
        unit="1/L",
        description="CAR-CD19 complexes on CD4+ CAR-T, marrow",
        initial=EPS,
        rhs="konp*R4_bm*G_bm - koffp*cplx_cd4_bm",
    ),
    StateSpec(
        name="cd19b_pb",
        unit="cells/L",
        description="reactive CD19+ B cells, blood",
        initial="B0",
        rhs="Kg*cd19b_pb - Kkill*cd19b_pb",
    ),
    StateSpec(
        name="cd19b_rev_pb",
        unit="cells/L",
        description="reconstituted naive CD19+ B cells, blood",
        initial="0",
        rhs="k_rev*(1 - (cd19b_pb + cd19b_rev_pb)/Bmax)",
    ),
    StateSpec(
        name="cd19b_bm",
        unit="cells/L",
        description="CD19+ B cells, marrow",
        initial="B_bm0",
        rhs="Kg*cd19b_bm - Kkill_bm*cd19b_bm",
    ),
    StateSpec(name="ldc", unit="mg", description="lymphodepletion K-PD amount", initial="Dose_LDC", rhs="-Kel_LDC*ldc"),
    StateSpec(
        name="cd4t_pre",
        unit="cells/uL",
        description="host CD4+ T-cell precursors",
        initial="K0_CD4/Kprol_CD4",
        rhs="K0_CD4 - Kprol_CD4*(1 - E_CD4)*cd4t_pre",
    ),
    StateSpec(
        name="cd4t",
        unit="cells/uL",
        description="host CD4+ T cells, blood",
        initial="T4_0",
        rhs="Kprol_CD4*(1 - E_CD4)*cd4t_pre - Kout_CD4*cd4t",
    ),
    StateSpec(
        name="cd8t_pre",
        unit="cells/uL",
        description="host CD8+ T-cell precursors",
        initial="K0_CD8/Kprol_CD8",
        rhs="K0_CD8 - Kprol_CD8*(1 - E_CD8)*cd8t_pre",
    ),
    StateSpec(
        name="cd8t",
        unit="cells/uL",
        description="host CD8+ T cells, blood",
        initial="T8_0",
        rhs="Kprol_CD8*(1 - E_CD8)*cd8t_pre - Kout_CD8*cd8t",
    ),
    StateSpec(
        name="nt_prol",
        unit="cells/uL",
        description="proliferating neutrophil precursors",
        initial="Circ0",
        rhs="ktr*nt_prol*(1 - E_NT)*(Circ0/max(nt, 1e-12))**gam_NT - ktr*nt_prol",
    ),
    StateSpec(
        name="nt_tr1",
        unit="cells/uL",
        description="maturing neutrophils, transit 1",
        initial="Circ0",
        rhs="ktr*nt_prol - ktr*nt_tr1",
    ),
    StateSpec(
        name="nt_tr2",
        unit="cells/uL",
        description="maturing neutrophils, transit 2",
        initial="Circ0",
        rhs="ktr*nt_tr1 - ktr*nt_tr2",
    ),
    StateSpec(
        name="nt_tr3",
        unit="cells/uL",
        description="maturing neutrophils, transit 3",
        initial="Circ0",
        rhs="ktr*nt_tr2 - ktr*nt_tr3",
    ),
    StateSpec(
        name="nt", unit="cells/uL", description="circulating neutrophils", initial="Circ0", rhs="ktr*nt_tr3 - ktr*nt"
    ),
    StateSpec(
        name="ifna",
        unit="pg/L",
        description="interferon-alpha, serum",
        initial="IFN0",
        rhs="N_pDC*k_IFN_rel*(max(aab, 1e-12)/AAb0)*(max(nt, 1e-12)/Circ0) - Kdeg_IFN*ifna",
    ),
    StateSpec(
        name="aab",
        unit="[IU]/L",
        description="anti-dsDNA autoantibodies, serum",
        initial="AAb0",
        rhs="cd19b_pb*k_gen*(cd4t/T4_0)*(max(ifna, 1e-12)/IFN0)**gam_IFN4 - Kdeg_AAb*aab",
    ),
    StateSpec(
        name="c3",
        unit="mg/L",
        description="complement C3, serum",
        initial="C30",
        rhs="(Ksyn_C3_day - Kdeg_C3*c3*Vb*(max(aab, 1e-12)/AAb0)**gam_C3)/Vb",
    ),
    StateSpec(
        name="ptu",
        unit="mg/g{creat}",
        description="urinary protein",
        initial="PTU0",
        rhs="(Ksyn_PTU*(C30/max(c3, 1e-12))**gam_PTU*(max(ifna, 1e-12)/IFN0)**gam_IFN8"
        "*exp(cd8t/T8_0)*exp(max(nt, 1e-12)/Circ0) - Kdeg_PTU*Vu*ptu)/Vu",
    ),
]


def _d(name: str, expression: str, unit: str = "", description: str = "") -> DerivedSpec:
    return DerivedSpec(name=name, expression=expression, unit=unit, description=description)


DERIVED = [
    _d("Vb", "Vb_ref*WT/70", "L", "blood volume"),
    _d("Vbm", "Vbm_ref*WT/70", "L", "bone-marrow volume"),
    _d("Vu", "WT*24/100", "dL/d", "daily urine volume (1 mL/kg/h)"),
    _d("konp", "kon*86400/N_A", "L/d", "association rate constant per number/L per day"),
    _d("koffp", "koff*86400", "1/d", "dissociation rate constant per day"),
    _d("Kexp_max4", "Kexp_max8/r_exp", "1/d", "maximum expansion rate constant, CD4+"),
    _d("T4_0", "K0_CD4/Kout_CD4", "cells/uL", "host CD4+ baseline"),
    _d("T8_0", "K0_CD8/Kout_CD8", "cells/uL", "host CD8+ baseline"),
    _d("ktr", "4/MTT", "1/d", "neutrophil transit rate constant (n = 3)"),
    _d("IFN0", "1000*IFNa0", "pg/L", "baseline IFN-alpha"),
    _d("k_IFN_rel", "IFN0*Kdeg_IFN/N_pDC", "pg/cell/d", "IFN-alpha release per pDC (baseline steady state)"),
    _d("Ksyn_C3_day", "Ksyn_C3*24*WT", "mg/d", "C3 synthesis per day"),
    _d("Kdeg_C3", "Ksyn_C3_day/(C30*Vb)", "1/d", "C3 catabolism (baseline steady state)"),
    _d("Kdeg_PTU", "Ksyn_PTU/(Vu*PTU0)", "1/d", "proteinuria loss rate"),
    _d("k_gen", "Ksyn_AAb*aab_release", "[IU]/cell/d", "anti-dsDNA release (0 when the switch is off)"),
    _d("Kdeg_AAb", "B0*k_gen/AAb0", "1/d", "anti-dsDNA degradation (0 when the switch is off)"),
    _d("C_LDC", "ldc/Vb", "mg/L", "lymphodepletion concentration"),
    _d(
        "k_rev",
        "K0_rev*reconstitution_gate*(1 - Emax_LDC_Bnaive*C_LDC/(EC50_LDC_Bnaive + C_LDC))",
        "cells/L/d",
        "naive B-cell generation (gated; inhibited by lymphodepletion when Emax_LDC_Bnaive > 0)",
    ),
    _d("E_CD4", "Emax_CD4*C_LDC/(EC50_CD4 + C_LDC)"),
    _d("E_CD8", "Emax_CD8*C_LDC/(EC50_CD8 + C_LDC)"),
    _d("E_NT", "Emax_NT*C_LDC/(EC50_NT + C_LDC)"),
    _d("CAR8", "cd8_tn_pb + cd8_cm_pb + cd8_em_pb + cd8_ef_pb", "cells/L"),
    _d("CAR4", "cd4_tn_pb + cd4_cm_pb + cd4_em_pb + cd4_ef_pb", "cells/L"),
    _d("CAR8_bm", "cd8_tn_bm + cd8_cm_bm + cd8_em_bm + cd8_ef_bm", "cells/L"),
    _d("CAR4_bm", "cd4_tn_bm + cd4_cm_bm + cd4_em_bm + cd4_ef_bm", "cells/L"),
    _d("R8", "max(CAR8*D_CAR - cplx_cd8_pb, 0)", "1/L", "free CAR, CD8+, blood"),
    _d("R4", "max(CAR4*D_CAR - cplx_cd4_pb, 0)", "1/L", "free CAR, CD4+, blood"),
    _d("R8_bm", "max(CAR8_bm*D_CAR - cplx_cd8_bm, 0)", "1/L", "free CAR, CD8+, marrow"),
    _d("R4_bm", "max(CAR4_bm*D_CAR - cplx_cd4_bm, 0)", "1/L", "free CAR, CD4+, marrow"),
    _d("G", "max(cd19b_pb*D_CD19 - (cplx_cd8_pb + cplx_cd4_pb), 0)", "1/L", "free CD19, blood (reactive pool only)"),
    _d("G_bm", "max(cd19b_bm*D_CD19 - (cplx_cd8_bm + cplx_cd4_bm), 0)", "1/L", "free CD19, marrow"),
    _d("rho8", "max(cplx_cd8_pb, 0)/max(CAR8, 1e-12)"),
    _d("rho4", "max(cplx_cd4_pb, 0)/max(CAR4, 1e-12)"),
    _d("rho8_bm", "max(cplx_cd8_bm, 0)/max(CAR8_bm, 1e-12)"),
    _d("rho4_bm", "max(cplx_cd4_bm, 0)/max(CAR4_bm, 1e-12)"),
    _d("Kexp8", "Kexp_max8*rho8/(EC50exp + rho8)", "1/d"),
    _d("Kexp4", "Kexp_max4*rho4/(EC50exp + rho4)", "1/d"),
    _d("Kexp8_bm", "Kexp_max8*rho8_bm/(EC50exp + rho8_bm)", "1/d"),
    _d("Kexp4_bm", "Kexp_max4*rho4_bm/(EC50exp + rho4_bm)", "1/d"),
    _d("sigma", "max(cplx_cd8_pb + cplx_cd4_pb, 0)/max(cd19b_pb, 1e-12)"),
    _d("sigma_bm", "max(cplx_cd8_bm + cplx_cd4_bm, 0)/max(cd19b_bm, 1e-12)"),
    _d("Kkill", "Kkill_max*sigma/(KC50 + sigma)", "1/d"),
    _d("Kkill_bm", "Kkill_max*sigma_bm/(KC50 + sigma_bm)", "1/d"),
    _d("TotCART", "(CAR8 + CAR4)*1e-6", "cells/uL", "total blood CAR-T"),
]

SWITCHES = [
    SwitchSpec(
        name="reconstitution_gate",
        lhs="(cd8_tn_pb + cd8_cm_pb + cd8_em_pb + cd8_ef_pb + cd4_tn_pb + cd4_cm_pb + cd4_em_pb + cd4_ef_pb)*1e-6",
        op="<",
        rhs="CARTrev_min",
        description="naive B-cell reconstitution runs while total blood CAR-T (cells/uL) < CARTrev_min; "
        "closed at equality; not latched",
        source=CS + " (Park 2025 §10 item 5: unit cells/uL)",
    ),
    SwitchSpec(
        name="aab_release",
        lhs="cd19b_pb",
        op=">",
        rhs="1e6",
        description="anti-dsDNA release and degradation on while reactive blood B cells > 1e6 cells/L "
        "(> 1 cell/uL); off at equality; not latched",
        source=CS + " (App S1 eq 45-47)",
    ),
]

OUTPUTS = [
    OutputSpec(name="totalCart", expression="TotCART", unit="cells/uL", description="total blood CAR-T"),
    OutputSpec(name="tnCart", expression="cd8_tn_pb + cd4_tn_pb", unit="cells/L", description="naive CAR-T, blood"),
    OutputSpec(
        name="cmCart", expression="cd8_cm_pb + cd4_cm_pb", unit="cells/L", description="central-memory CAR-T, blood"
    ),
    OutputSpec(
        name="emCart", expression="cd8_em_pb + cd4_em_pb", unit="cells/L", description="effector-memory CAR-T, blood"
    ),
    OutputSpec(name="efCart", expression="cd8_ef_pb + cd4_ef_pb", unit="cells/L", description="effector CAR-T, blood"),
    OutputSpec(
        name="bCell",
        expression="(cd19b_pb + cd19b_rev_pb)*1e-6",
        unit="cells/uL",
        description="total CD19+ B cells, blood (reactive + reconstituted naive)",
    ),
    OutputSpec(
        name="bReconstituted",
        expression="cd19b_rev_pb*1e-6",
        unit="cells/uL",
        description="B cells of the reconstituted pool, blood (returning naive cells; output added for reporting)",
    ),
    OutputSpec(name="ifnaConc", expression="ifna/1000", unit="pg/mL", description="interferon-alpha"),
    OutputSpec(name="cd4T", expression="cd4t", unit="cells/uL", description="host CD4+ T cells"),
    OutputSpec(name="cd8T", expression="cd8t", unit="cells/uL", description="host CD8+ T cells"),
    OutputSpec(name="neut", expression="nt", unit="cells/uL", description="circulating neutrophils"),
    OutputSpec(name="antiDsDNA", expression="aab", unit="[IU]/L", description="anti-dsDNA"),
    OutputSpec(name="complementC3", expression="c3", unit="mg/L", description="complement C3"),
    OutputSpec(name="proteinuria", expression="ptu", unit="mg/g{creat}", description="urinary protein"),
    OutputSpec(
        name="sledai_c3",
        expression="sledai_c3_a + sledai_c3_b*c3",
        unit="1",
        description="SLE-DAI predicted from C3 (the translation the paper endorses)",
    ),
    OutputSpec(
        name="sledai_ifn",
        expression="sledai_ifn_a + sledai_ifn_b*(ifna/1000)",
        unit="1",
        description="SLE-DAI predicted from IFN-alpha",
    ),
    OutputSpec(
        name="sledai_aab",
        expression="sledai_aab_a + sledai_aab_b*(aab/1000)",
        unit="1",
        description="SLE-DAI predicted from anti-dsDNA (predictor units unresolved, see docs)",
    ),
]

PARK2025 = ModelSpec(
    name="park2025",
    title="Park 2025 QSP model of anti-CD19 CAR-T therapy in SLE (control-stream form)",
    citation=f"{CIT}. doi:10.1111/cts.70146",
    time_unit="d",
    notes=[
        "Time 0 is both the CAR-T infusion and the lymphodepletion bolus (control-stream simplification).",
        "Product percentages are used as given, not normalised (sum 98.9% and 100.06%).",
        "SLE only: the disease layer was calibrated on five Erlangen SLE patients.",
        "The reactive B-cell pool has no homeostatic loss: the model does not describe an untreated patient.",
    ],
    states=STATES,
    parameters=PARAMETERS,
    inputs=INPUTS,
    derived=DERIVED,
    switches=SWITCHES,
    outputs=OUTPUTS,
)
