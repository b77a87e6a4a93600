"""The registry's observation vocabulary: every observation code, its unit, range and SDTM home.

An observation is ``(visit, code, value, unit)``. This table is the one place that says which codes
exist, what they mean, the UCUM unit they are compared in (values are *stored* in the unit reported,
checked to be convertible to this one), the plausible range (inclusive, in the canonical unit; a
value outside it is refused at import), whether it is a whole number or a coded answer, and where it
goes in a CDISC SDTM export (domain and an 8-character ``--TESTCD``).

Categories:

``lab``       laboratory values (SDTM LB), with the reporting laboratory's limits (``*_lln``/``*_uln``)
``vital``     vital signs and lung function (SDTM VS / RE)
``item``      instrument items and global assessments (SDTM QS)
``crs``       daily ASTCT CRS assessment parameters (SDTM QS, category CRS)
``icans``     daily ICE / ICANS assessment parameters (SDTM QS, category ICANS)
``kinetics``  cellular-kinetics samples: CAR-T cells, transgene copies, B cells (SDTM PC / LB, see export)

Coded answers (``choices``) are stored as their canonical text in ``value_text``; the choice names are
the instruments' own vocabulary (e.g. ASTCT hypotension ``one_vasopressor``), so a stored visit feeds a
score without translation.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.instruments.myositis import MMT8_GROUPS as _MMT8_GROUPS
from immunoreset.instruments.myositis import IIMClassificationInput
from immunoreset.instruments.sle import DescriptorName, SLEClassificationInput
from immunoreset.instruments.ssc import MRSS_AREAS as _MRSS_AREAS
from immunoreset.instruments.ssc import SScClassificationInput
from immunoreset.units import canonical_unit, convert

__all__ = [
    "ASSESSMENTS",
    "CATEGORIES",
    "CDISC_UNITS",
    "CLASSIFICATION_CRITERIA",
    "MMT8_GROUPS",
    "MRSS_AREAS",
    "SLEDAI_DESCRIPTORS",
    "ObservationCode",
    "ScoredAssessment",
    "all_codes",
    "assessment",
    "assessment_items",
    "cdisc_unit",
    "code",
    "normalise_value",
    "short_name",
]

CATEGORIES: tuple[str, ...] = ("lab", "vital", "item", "crs", "icans", "kinetics")

# The item names are the instruments' own (one place: immunoreset.instruments).
SLEDAI_DESCRIPTORS: tuple[str, ...] = typing.get_args(DescriptorName)
MRSS_AREAS: tuple[str, ...] = _MRSS_AREAS
MMT8_GROUPS: tuple[str, ...] = _MMT8_GROUPS


#: Classification criteria recorded at screening: code prefix -> (instrument input model, SDTM QSCAT, testcd
#: prefix). Each yes/no item of the input model is the observation ``<prefix>_<item>`` (1 = ever present).
CLASSIFICATION_CRITERIA: dict[str, tuple[type[typing.Any], str, str]] = {
    "sle2019": (SLEClassificationInput, "EULAR/ACR 2019 SLE CRITERIA", "SLECR"),
    "ssc2013": (SScClassificationInput, "ACR/EULAR 2013 SSC CRITERIA", "SSCCR"),
    "iim2017": (IIMClassificationInput, "EULAR/ACR 2017 IIM CRITERIA", "IIMCR"),
}
_CLASSIFICATION_LABELS = {  # items whose name does not read as a label (SDTM --TEST: at most 40 characters)
    "ana_equivalent_positive": "ANA positive by an equivalent test",
    "non_scarring_alopecia": "Non-scarring alopecia",
    "renal_biopsy_class_ii_or_v": "Renal biopsy: class II or V nephritis",
    "renal_biopsy_class_iii_or_iv": "Renal biopsy: class III or IV nephritis",
    "low_c3": "Low C3",
    "low_c4": "Low C4",
    "anti_dsdna": "Anti-dsDNA antibodies",
    "anti_smith": "Anti-Smith antibodies",
    "skin_thickening_proximal_to_mcp": "Skin thickening proximal to the MCPs",
    "raynaud_phenomenon": "Raynaud's phenomenon",
    "anti_topoisomerase_i": "Anti-topoisomerase I (Scl-70)",
    "anti_rna_polymerase_iii": "Anti-RNA polymerase III",
    "gottron_papules": "Gottron's papules",
    "gottron_sign": "Gottron's sign",
    "anti_jo1": "Anti-Jo-1 antibodies",
    "biopsy_endomysial_infiltrate": "Biopsy: endomysial infiltrate",
    "biopsy_perimysial_or_perivascular_infiltrate": "Biopsy: perimysial/perivascular infiltr.",
    "biopsy_perifascicular_atrophy": "Biopsy: perifascicular atrophy",
    "biopsy_rimmed_vacuoles": "Biopsy: rimmed vacuoles",
}


@dataclass(frozen=True)
class ObservationCode:
    """One observation code of the registry."""

    code: str
    category: str
    label: str
    unit: str = "1"
    """Canonical UCUM unit (``1`` for unitless items and coded answers)."""
    low: Decimal | None = None
    high: Decimal | None = None
    integer: bool = False
    choices: tuple[str, ...] = ()
    """For coded answers: the allowed canonical texts (value_text)."""
    boolean: bool = False
    """Yes/no item stored as 1/0."""
    sdtm_domain: str = "LB"
    sdtm_testcd: str = ""
    loinc: str | None = None
    method: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        testcd = self.sdtm_testcd or self.code.upper()[:8]
        object.__setattr__(self, "sdtm_testcd", testcd)
        if len(testcd) > 8 or not testcd[0].isalpha():
            raise ValueError(f"SDTM test code {testcd!r} of {self.code} must be <= 8 characters starting with a letter")


def _lab(
    code_: str, label: str, unit: str, high: str, *, testcd: str = "", loinc: str | None = None
) -> ObservationCode:
    return ObservationCode(code_, "lab", label, unit, Decimal(0), Decimal(high), sdtm_testcd=testcd, loinc=loinc)


def _item(
    code_: str,
    label: str,
    high: str | int,
    *,
    low: int = 0,
    integer: bool = False,
    testcd: str = "",
    category: str = "item",
) -> ObservationCode:
    return ObservationCode(
        code_, category, label, "1", Decimal(low), Decimal(high), integer=integer, sdtm_domain="QS", sdtm_testcd=testcd
    )


def _yesno(code_: str, label: str, *, testcd: str = "", category: str = "item") -> ObservationCode:
    return ObservationCode(
        code_,
        category,
        label,
        "1",
        Decimal(0),
        Decimal(1),
        integer=True,
        boolean=True,
        sdtm_domain="QS",
        sdtm_testcd=testcd,
    )


def _coded(code_: str, label: str, choices: tuple[str, ...], *, category: str, testcd: str) -> ObservationCode:
    return ObservationCode(code_, category, label, "1", choices=choices, sdtm_domain="QS", sdtm_testcd=testcd)


_MRSS_TESTCD = {
    "face": "FACE",
    "anterior_chest": "CHST",
    "abdomen": "ABDO",
    "fingers_right": "FNGR",
    "fingers_left": "FNGL",
    "dorsum_hand_right": "HNDR",
    "dorsum_hand_left": "HNDL",
    "forearm_right": "FARR",
    "forearm_left": "FARL",
    "upper_arm_right": "UARR",
    "upper_arm_left": "UARL",
    "thigh_right": "THIR",
    "thigh_left": "THIL",
    "lower_leg_right": "LLGR",
    "lower_leg_left": "LLGL",
    "dorsum_foot_right": "FOTR",
    "dorsum_foot_left": "FOTL",
}

_CODES: list[ObservationCode] = [
    # --- haematology and chemistry (ranges are physiological plausibility limits, not reference ranges)
    _lab("wbc", "Leukocytes", "10*9/L", "500", testcd="WBC", loinc="6690-2"),
    _lab("anc", "Neutrophils (absolute count)", "/uL", "200000", testcd="NEUT", loinc="751-8"),
    _lab("lymphocytes", "Lymphocytes (absolute count)", "/uL", "500000", testcd="LYM", loinc="731-0"),
    _lab("platelets", "Platelets", "10*9/L", "5000", testcd="PLAT", loinc="777-3"),
    _lab("hemoglobin", "Haemoglobin", "g/dL", "30", testcd="HGB", loinc="718-7"),
    _lab("crp", "C-reactive protein", "mg/L", "1000", testcd="CRP", loinc="1988-5"),
    _lab("ferritin", "Ferritin", "ug/L", "200000", testcd="FERRITIN", loinc="2276-4"),
    _lab("ck", "Creatine kinase", "U/L", "1000000", testcd="CK", loinc="2157-6"),
    _lab("ck_uln", "Creatine kinase, laboratory upper limit of normal", "U/L", "100000", testcd="CKULN"),
    _lab("aldolase", "Aldolase", "U/L", "10000", testcd="ALDOLASE", loinc="1753-2"),
    _lab("aldolase_uln", "Aldolase, laboratory upper limit of normal", "U/L", "1000", testcd="ALDOULN"),
    _lab("alt", "Alanine aminotransferase", "U/L", "100000", testcd="ALT", loinc="1742-6"),
    _lab("alt_uln", "ALT, laboratory upper limit of normal", "U/L", "1000", testcd="ALTULN"),
    _lab("ast", "Aspartate aminotransferase", "U/L", "100000", testcd="AST", loinc="1920-8"),
    _lab("ast_uln", "AST, laboratory upper limit of normal", "U/L", "1000", testcd="ASTULN"),
    _lab("ldh", "Lactate dehydrogenase", "U/L", "100000", testcd="LDH", loinc="2532-0"),
    _lab("ldh_uln", "LDH, laboratory upper limit of normal", "U/L", "10000", testcd="LDHULN"),
    _lab("c3", "Complement C3", "g/L", "10", testcd="C3", loinc="4485-9"),
    _lab("c3_lln", "C3, laboratory lower limit of normal", "g/L", "10", testcd="C3LLN"),
    _lab("c4", "Complement C4", "g/L", "5", testcd="C4", loinc="4498-2"),
    _lab("c4_lln", "C4, laboratory lower limit of normal", "g/L", "5", testcd="C4LLN"),
    _lab("anti_dsdna", "Anti-double-stranded DNA antibodies", "[IU]/mL", "100000", testcd="DSDNA", loinc="5130-0"),
    _lab("anti_dsdna_uln", "Anti-dsDNA, assay upper limit of normal", "[IU]/mL", "10000", testcd="DSDNAULN"),
    _lab("anti_scl70", "Anti-topoisomerase I (Scl-70) antibodies", "U/mL", "100000", testcd="SCL70"),
    _lab("anti_scl70_uln", "Anti-Scl-70, assay upper limit of normal", "U/mL", "10000", testcd="SCL70ULN"),
    _lab("igg", "Immunoglobulin G", "g/L", "100", testcd="IGG", loinc="2465-3"),
    _lab("proteinuria", "Urine protein excretion", "g/(24.h)", "50", testcd="PROTUR", loinc="2889-4"),
    ObservationCode(
        "upcr", "lab", "Urine protein/creatinine ratio", "g/g", Decimal(0), Decimal(50), sdtm_testcd="UPCR"
    ),
    # creatinine >= 5 umol/L and triglycerides <= 60 mmol/L: a value in mg/dL entered as the SI unit is refused
    ObservationCode(
        "creatinine",
        "lab",
        "Creatinine (serum)",
        "umol/L",
        Decimal(5),
        Decimal(5000),
        sdtm_testcd="CREAT",
        loinc="14682-9",
    ),
    ObservationCode(
        "egfr",
        "lab",
        "Estimated glomerular filtration rate",
        "mL/min/{1.73_m2}",
        Decimal(0),
        Decimal(250),
        sdtm_testcd="EGFR",  # no LOINC: each code names one equation (CKD-EPI, MDRD, ...)
    ),
    _lab("triglycerides", "Triglycerides (fasting)", "mmol/L", "60", testcd="TRIG", loinc="14927-8"),
    _lab("fibrinogen", "Fibrinogen", "g/L", "20", testcd="FIBRINO", loinc="3255-7"),
    _lab("fibrinogen_lln", "Fibrinogen, laboratory lower limit of normal", "g/L", "20", testcd="FIBRILLN"),
    _lab("ferritin_uln", "Ferritin, laboratory upper limit of normal", "ug/L", "10000", testcd="FERRULN"),
    ObservationCode(
        "urine_rbc", "lab", "Urine erythrocytes", "/[HPF]", Decimal(0), Decimal(1000), integer=True, sdtm_testcd="URBC"
    ),
    ObservationCode(
        "urine_wbc", "lab", "Urine leukocytes", "/[HPF]", Decimal(0), Decimal(1000), integer=True, sdtm_testcd="UWBC"
    ),
    ObservationCode(
        "urine_casts",
        "lab",
        "Urinary casts",
        "1",
        choices=("none", "hyaline_only", "heme_granular", "red_cell"),
        sdtm_testcd="UCASTS",
    ),
    # --- vital signs and lung function
    ObservationCode(
        "temperature",
        "vital",
        "Body temperature",
        "Cel",
        Decimal(25),
        Decimal(45),
        sdtm_domain="VS",
        sdtm_testcd="TEMP",
    ),
    ObservationCode(
        "fvc_pct",
        "vital",
        "Forced vital capacity, % predicted",
        "%",
        Decimal(0),
        Decimal(300),
        sdtm_domain="RE",
        sdtm_testcd="FVCPP",
    ),
    ObservationCode(
        "dlco_pct", "vital", "DLCO, % predicted", "%", Decimal(0), Decimal(300), sdtm_domain="RE", sdtm_testcd="DLCOPP"
    ),
    # --- SLE
    *[
        _yesno(
            f"sledai_{d}",
            f"SLEDAI-2K: {d.replace('_', ' ')} (present, attributed to SLE)",
            testcd=("SLE" + d.replace("_", "").upper())[:8],
        )
        for d in SLEDAI_DESCRIPTORS
    ],
    _item("sle_pga", "SLE physician global assessment (0-3)", 3, testcd="SLEPGA"),
    _yesno("sle_hemolytic_anemia", "Haemolytic anaemia due to SLE (LLDAS)", testcd="SLEHEMAN"),
    _yesno("sle_gi_activity", "Gastrointestinal SLE activity (LLDAS)", testcd="SLEGIACT"),
    # --- SSc
    *[
        _item(f"mrss_{a}", f"mRSS: {a.replace('_', ' ')}", 3, integer=True, testcd="MRSS" + _MRSS_TESTCD[a])
        for a in MRSS_AREAS
    ],
    _yesno("digital_ulcers", "Active digital ulcers", testcd="DIGULC"),
    _yesno("tendon_friction_rubs", "Tendon friction rubs", testcd="TFR"),
    _yesno("skin_worsening", "Patient-reported skin worsening in the past month", testcd="SKINWORS"),
    _item("ssc_patient_global", "SSc patient global assessment (0-10)", 10, testcd="SSCPTGA"),
    _item("ssc_physician_global", "SSc physician global assessment (0-10)", 10, testcd="SSCPHGA"),
    _item("ssc_haq_di", "HAQ disability index (SSc)", 3, testcd="SSCHAQDI"),
    _yesno("ssc_new_renal_crisis", "New renal crisis since baseline (CRISS)", testcd="SSCRENAL"),
    _yesno("ssc_ild_progression", "ILD progression since baseline (CRISS)", testcd="SSCILDPR"),
    _yesno("ssc_new_lv_failure", "New LV failure since baseline (CRISS)", testcd="SSCLVF"),
    _yesno("ssc_new_pah", "New PAH since baseline (CRISS)", testcd="SSCPAH"),
    # --- IIM
    *[
        _item(
            f"mmt8_{g}",
            f"MMT-8 (Kendall 0-10): {g.replace('_', ' ')}",
            10,
            integer=True,
            testcd="MMT" + "".join(p[:3] for p in g.split("_")).upper()[:5],
        )
        for g in MMT8_GROUPS
    ],
    _item("myo_physician_global", "Myositis physician global activity (VAS 0-10 cm)", 10, testcd="MYOPHGA"),
    _item("myo_patient_global", "Myositis patient global activity (VAS 0-10 cm)", 10, testcd="MYOPTGA"),
    _item("myo_extramuscular_global", "Myositis extramuscular global activity (VAS 0-10 cm)", 10, testcd="MYOEXGA"),
    _item("myo_haq_di", "HAQ disability index (myositis)", 3, testcd="MYOHAQDI"),
    # --- classification criteria (screening; cumulative history "ever present")
    *[
        _yesno(
            f"{prefix}_{item}",
            _CLASSIFICATION_LABELS.get(item, item[0].upper() + item[1:].replace("_", " ")),
            testcd=f"{testcd}{k:02d}",
        )
        for prefix, (model, _cat, testcd) in CLASSIFICATION_CRITERIA.items()
        for k, item in enumerate((n for n, f in model.model_fields.items() if f.annotation == (bool | None)), start=1)
    ],
    _item("sle2019_ana_titre", "Highest ANA titre on HEp-2 (denominator)", 100000, integer=True, testcd="SLECRANA"),
    _item("iim2017_age_at_onset", "Age at onset of first symptom (years)", 120, testcd="IIMCRAGE"),
    # --- daily CRS (ASTCT 2019) and ICANS/ICE assessments
    ObservationCode(
        "crs_temperature",
        "crs",
        "Daily maximum temperature",
        "Cel",
        Decimal(25),
        Decimal(45),
        sdtm_domain="QS",
        sdtm_testcd="CRSTEMP",
    ),
    _coded(
        "crs_hypotension",
        "Hypotension (ASTCT)",
        ("none", "fluids_only", "not_requiring_vasopressors", "one_vasopressor", "multiple_vasopressors"),
        category="crs",
        testcd="CRSHYPO",
    ),
    _coded(
        "crs_oxygen",
        "Oxygen requirement (ASTCT)",
        ("none", "low_flow_nasal_cannula", "high_flow_nasal_cannula", "facemask", "positive_pressure"),
        category="crs",
        testcd="CRSOXY",
    ),
    _yesno("crs_treated", "Antipyretic/tocilizumab/corticosteroid given for CRS", testcd="CRSTRT", category="crs"),
    _item(
        "crs_grade_reported",
        "ASTCT CRS grade as reported by the investigator",
        5,
        integer=True,
        testcd="CRSGRREP",
        category="crs",
    ),
    _item("ice_score", "ICE score (0-10)", 10, integer=True, testcd="ICE", category="icans"),
    _coded(
        "icans_consciousness",
        "Depressed level of consciousness (ASTCT)",
        ("alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile_stimulus", "unarousable"),
        category="icans",
        testcd="ICANSLOC",
    ),
    _coded(
        "icans_seizure",
        "Seizure (ASTCT)",
        ("none", "rapidly_resolving", "nonconvulsive_resolving_with_intervention", "prolonged_or_repetitive"),
        category="icans",
        testcd="ICANSSZ",
    ),
    _coded(
        "icans_motor", "Motor findings (ASTCT)", ("none", "deep_focal_weakness"), category="icans", testcd="ICANSMOT"
    ),
    _coded(
        "icans_intracranial_pressure",
        "Raised intracranial pressure / cerebral oedema (ASTCT)",
        ("none", "focal_edema", "diffuse_edema"),
        category="icans",
        testcd="ICANSICP",
    ),
    _item(
        "icans_grade_reported",
        "ASTCT ICANS grade as reported by the investigator",
        5,
        integer=True,
        testcd="ICANSREP",
        category="icans",
    ),
    # --- cellular kinetics
    ObservationCode(
        "car_t_cells",
        "kinetics",
        "CAR-T cells (flow cytometry)",
        "/uL",
        Decimal(0),
        Decimal(1000000),
        sdtm_domain="PC",
        sdtm_testcd="CARTFC",
        method="flow cytometry",
    ),
    ObservationCode(
        "transgene_copies",
        "kinetics",
        "CAR transgene copies (qPCR)",
        "{copies}/ug",
        Decimal(0),
        Decimal("1e9"),
        sdtm_domain="PC",
        sdtm_testcd="CARTQPCR",
        method="qPCR",
    ),
    ObservationCode(
        "cd19_b_cells",
        "kinetics",
        "CD19+ B cells",
        "/uL",
        Decimal(0),
        Decimal(100000),
        sdtm_domain="LB",
        sdtm_testcd="CD19",
        method="flow cytometry",
    ),
    ObservationCode(
        "naive_b_cell_pct",
        "kinetics",
        "Naive B cells, % of B cells",
        "%",
        Decimal(0),
        Decimal(100),
        sdtm_domain="LB",
        sdtm_testcd="NAIVEBPC",
        method="flow cytometry",
    ),
]


# ---------------------------------------------------------------------------------------------
# Scored assessments: instruments whose items are recorded one observation each
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredAssessment:
    """An instrument recorded at a visit item by item, each item one observation ``<prefix>_<item>``.

    The items are the scalar fields of the instrument's input model (yes/no, whole numbers and decimals
    with their published ranges, coded answers), so the registry, the REDCap form, the outcome table and
    the SDTM QS domain all follow the instrument's own definition. Input fields that are laboratory values
    (``Quantity``) are not items: ``labs`` names the laboratory observation each is read from at the same
    visit (a laboratory value is passed with the vocabulary's unit); ``reads`` does the same for any input
    that the registry already records under another code (e.g. SELENA-SLEDAI reads the SLEDAI-2K
    descriptors ``sledai_*``), so nothing is entered twice.
    """

    prefix: str
    """Observation code prefix (lower-case, at most 8 characters), e.g. ``bilag``."""
    instrument: str
    """Name of the instrument in :mod:`immunoreset.instruments`."""
    title: str
    """Form title and SDTM QSCAT (upper-case there)."""
    diseases: tuple[str, ...]
    """Diseases whose visits carry the assessment."""
    testcd: str
    """SDTM --TESTCD prefix (at most 4 characters); items are numbered after it."""
    results: tuple[str, ...]
    """Result fields written to the outcome table (scalars of the instrument's result)."""
    reads: tuple[tuple[str, str], ...] = ()
    """``(input field, observation code)`` for inputs recorded under an existing code (laboratory values,
    shared items)."""
    skip: tuple[str, ...] = ()
    """Input fields that are not recorded as items (derived elsewhere, or given as options)."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]{0,7}", self.prefix):
            raise ValueError(f"assessment prefix {self.prefix!r}: lower-case letters/digits, at most 8")
        if not re.fullmatch(r"[A-Z][A-Z0-9]{0,3}", self.testcd):
            raise ValueError(f"assessment {self.prefix}: SDTM test code prefix {self.testcd!r} (at most 4)")

    def code(self, item: str) -> str:
        """The observation code of input field ``item`` (``<prefix>_<item>``, shortened to 40 characters)."""
        return dict(assessment_items(self.prefix))[item].code


def short_name(prefix: str, item: str, limit: int, taken: set[str]) -> str:
    """``<prefix>_<item>`` within ``limit`` characters, cutting the longest words of ``item`` first, unique
    among ``taken`` (a number is appended on a clash); the name is added to ``taken``."""
    words = item.split("_")
    while len(f"{prefix}_{'_'.join(words)}") > limit:
        longest = max(range(len(words)), key=lambda i: (len(words[i]), -i))
        if len(words[longest]) <= 1:
            break
        words[longest] = words[longest][:-1]
    base = f"{prefix}_{'_'.join(words)}"
    name = base[:limit].rstrip("_")
    number = 2
    while name in taken:
        suffix = f"_{number}"
        name = base[: limit - len(suffix)].rstrip("_") + suffix
        number += 1
    taken.add(name)
    return name


def _strip_optional(annotation: typing.Any) -> typing.Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _bounds(metadata: list[typing.Any]) -> tuple[Decimal | None, Decimal | None]:
    low: Decimal | None = None
    high: Decimal | None = None
    for meta in metadata:
        for attr, upper in (("ge", False), ("gt", False), ("le", True), ("lt", True)):
            value = getattr(meta, attr, None)
            if value is None:
                continue
            if upper:
                high = Decimal(str(value))
            else:
                low = Decimal(str(value))
    return low, high


def _item_code(a: ScoredAssessment, number: int, name: str, item: str, info: typing.Any) -> ObservationCode:
    """The observation code ``name`` of one scalar input field, typed from the field's annotation and bounds."""
    # the first sentence of the field's description (a full stop after "e.g"/"i.e" does not end it)
    label = re.split(r"(?<!e\.g)(?<!i\.e)\. ", info.description or item.replace("_", " "))[0].rstrip(".")
    label = f"{a.title}: {label}"
    testcd = f"{a.testcd}{number:0{8 - len(a.testcd)}d}"
    kind = _strip_optional(info.annotation)
    metadata = list(info.metadata)
    while typing.get_origin(kind) is typing.Annotated:  # e.g. Annotated[int, Field(ge=0, le=2), ...]
        kind, *extra = typing.get_args(kind)
        for meta in extra:
            metadata.extend(getattr(meta, "metadata", [meta]))
    if kind is bool:
        return _yesno(name, label, testcd=testcd)
    if typing.get_origin(kind) is typing.Literal:
        choices = tuple(str(c) for c in typing.get_args(kind))
        return _coded(name, label, choices, category="item", testcd=testcd)
    if kind in (int, Decimal):
        low, high = _bounds(metadata)
        if low is None or high is None:
            raise ValueError(f"assessment item {name}: a number needs both bounds (ge/le) in the input model")
        return ObservationCode(
            name, "item", label, "1", low, high, integer=kind is int, sdtm_domain="QS", sdtm_testcd=testcd
        )
    raise ValueError(f"assessment item {name}: {kind!r} cannot be recorded as one observation; list it in reads/skip")


@cache
def assessment_items(prefix: str) -> tuple[tuple[str, ObservationCode], ...]:
    """``(input field, observation code)`` of each item of the assessment ``prefix``, in input order."""
    a = assessment(prefix)
    model = instruments.get(a.instrument).input_model
    labs = dict(a.reads)
    out: list[tuple[str, ObservationCode]] = []
    taken: set[str] = set()
    for item, info in model.model_fields.items():
        if item in labs or item in a.skip:
            continue
        name = short_name(a.prefix, item, 40, taken)  # the registry's code column holds 40 characters
        out.append((item, _item_code(a, len(out) + 1, name, item, info)))
    unknown = sorted((set(labs) | set(a.skip)) - set(model.model_fields))
    if unknown:
        raise ValueError(f"assessment {prefix}: {', '.join(unknown)} not fields of {a.instrument}")
    return tuple(out)


def assessment(prefix: str) -> ScoredAssessment:
    """The scored assessment recorded under ``prefix``."""
    for a in ASSESSMENTS:
        if a.prefix == prefix:
            return a
    raise InvalidInput("assessment", prefix, "one of " + ", ".join(a.prefix for a in ASSESSMENTS))


_ALL_DISEASES = ("SLE", "SSc", "IIM")
_HAEMATOLOGY = (("hemoglobin", "hemoglobin"), ("platelets", "platelets"))

ASSESSMENTS: tuple[ScoredAssessment, ...] = (
    ScoredAssessment(
        "selena",
        "selena_sledai",
        "SELENA-SLEDAI",
        ("SLE",),
        "SELE",
        ("total",),
        # the 24 descriptors are the SLEDAI-2K items already recorded (sledai_*); only SELENA's own
        # qualifiers are entered on the SELENA form
        reads=(
            *((d, f"sledai_{d}") for d in SLEDAI_DESCRIPTORS),
            ("proteinuria_g_per_24h", "proteinuria"),
        ),
        skip=("previous_proteinuria_g_per_24h",),
    ),
    ScoredAssessment(
        "bilag",
        "bilag2004",
        "BILAG-2004",
        ("SLE",),
        "BLG",
        ("score", "highest_grade", "a_count", "b_count"),
        reads=(
            ("renal_protein_24h", "proteinuria"),
            ("renal_creatinine", "creatinine"),
            ("renal_gfr", "egfr"),
            ("haematological_haemoglobin", "hemoglobin"),
            ("haematological_wbc", "wbc"),
            ("haematological_neutrophils", "anc"),
            ("haematological_lymphocytes", "lymphocytes"),
            ("haematological_platelets", "platelets"),
        ),
    ),
    ScoredAssessment("sdi", "sdi", "SLICC/ACR Damage Index", ("SLE",), "SDI", ("total", "damage")),
    ScoredAssessment(
        "clasi",
        "clasi",
        "CLASI",
        ("SLE",),
        "CLAS",
        ("activity", "damage", "activity_severity"),
        skip=("baseline_activity",),
    ),
    ScoredAssessment("myoact", "myoact", "MYOACT", ("IIM",), "MYAC", ("score", "extramuscular_sum")),
    ScoredAssessment(
        "hscore",
        "hscore",
        "HScore",
        _ALL_DISEASES,
        "HSCO",
        ("total", "hlh_likely"),
        reads=(
            ("temperature", "temperature"),
            *_HAEMATOLOGY,
            ("leukocytes", "wbc"),
            ("ferritin", "ferritin"),
            ("triglycerides", "triglycerides"),
            ("fibrinogen", "fibrinogen"),
            ("ast", "ast"),
        ),
    ),
    ScoredAssessment(
        "iechs",
        "iec_hs",
        "IEC-HS",
        _ALL_DISEASES,
        "IECH",
        ("iec_hs", "grade"),
        reads=(
            ("ferritin", "ferritin"),
            ("ferritin_uln", "ferritin_uln"),
            ("fibrinogen", "fibrinogen"),
            ("fibrinogen_lln", "fibrinogen_lln"),
        ),
        skip=("ferritin_at_infusion",),
    ),
    ScoredAssessment("licats", "licats", "LICATS", _ALL_DISEASES, "LICA", ("licats", "grade"), skip=("onset_day",)),
)
"""Instruments recorded item by item at visits (see :class:`ScoredAssessment`)."""


@cache
def _by_code() -> dict[str, ObservationCode]:
    table: dict[str, ObservationCode] = {}
    entries = [*_CODES, *(entry for a in ASSESSMENTS for _item, entry in assessment_items(a.prefix))]
    for a in ASSESSMENTS:  # a prefix owns its codes: SDTM categories and forms are found by prefix
        clash = [c.code for c in _CODES if c.code.startswith(f"{a.prefix}_")]
        if clash or a.prefix in CLASSIFICATION_CRITERIA:
            raise ValueError(f"assessment prefix {a.prefix!r} is already used by {clash or a.prefix}")
    for entry in entries:
        if entry.code in table:
            raise ValueError(f"observation code {entry.code} defined twice")
        table[entry.code] = entry
    testcds: dict[tuple[str, str], str] = {}
    for entry in entries:
        key = (entry.sdtm_domain, entry.sdtm_testcd)
        if key in testcds:
            raise ValueError(f"SDTM test code {key} used by {testcds[key]} and {entry.code}")
        testcds[key] = entry.code
    return table


def all_codes() -> list[ObservationCode]:
    """Every observation code, in table order."""
    return list(_by_code().values())


def code(name: str) -> ObservationCode:
    """The definition of observation code ``name``; an unknown code raises InvalidInput."""
    try:
        return _by_code()[name]
    except KeyError:
        raise InvalidInput("observation code", name, "a registry observation code (see docs/registry.md)") from None


def normalise_value(
    name: str, value: Decimal | int | str | None, unit: str | None, value_text: str | None = None
) -> tuple[Decimal | None, str, str | None]:
    """Check one observation against the vocabulary; returns ``(value, UCUM unit, value_text)`` as stored.

    The value stays in the unit it was reported in (normalised to its UCUM code); the range check is
    done after exact conversion to the canonical unit. Raises :class:`InvalidInput` naming the code.
    """
    entry = code(name)
    if entry.choices:
        if value_text not in entry.choices:
            raise InvalidInput(name, value_text, "one of " + ", ".join(entry.choices))
        return None, "1", value_text
    if value is None:
        raise InvalidInput(name, value, "a number")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidInput(name, value, "a number") from None
    if not number.is_finite():
        raise InvalidInput(name, value, "a finite number")
    stored_unit = canonical_unit(unit or entry.unit, field=f"{name} unit")
    canonical = convert(number, stored_unit, entry.unit, field=name)
    if entry.integer and canonical != canonical.to_integral_value():
        raise InvalidInput(name, value, "a whole number")
    if (entry.low is not None and canonical < entry.low) or (entry.high is not None and canonical > entry.high):
        raise InvalidInput(name, f"{value} {stored_unit}", f"a value in [{entry.low}, {entry.high}] {entry.unit}")
    return number, stored_unit, None


# ------------------------------------------------------------------------------------------------ CDISC units

CDISC_UNITS: dict[str, str] = {
    # haematology and immunophenotyping
    "/uL": "/uL",
    "10*3/uL": "10^3/uL",
    "10*6/L": "10^6/L",
    "10*9/L": "10^9/L",
    "%": "%",
    # chemistry, complement, immunoglobulins, autoantibodies
    "g/L": "g/L",
    "g/dL": "g/dL",
    "mg/L": "mg/L",
    "mg/dL": "mg/dL",
    "ug/L": "ug/L",
    "ng/mL": "ng/mL",
    "umol/L": "umol/L",
    "mmol/L": "mmol/L",
    "U/L": "U/L",
    "U/mL": "U/mL",
    "[IU]/mL": "IU/mL",
    "[IU]/L": "IU/L",
    "mL/min/{1.73_m2}": "mL/min/1.73m2",
    # urine
    "g/(24.h)": "g/day",
    "mg/(24.h)": "mg/day",
    "g/g": "g/g",
    "mg/g": "mg/g",
    "mg/mmol": "mg/mmol",
    "/[HPF]": "/HPF",
    # vital signs, respiratory, body size
    "Cel": "C",
    "kg": "kg",
    "cm": "cm",
    "L/min": "L/min",
    # cellular kinetics (qPCR)
    "{copies}/ug": "copies/ug",
    # doses
    "mg": "mg",
    "g": "g",
    "ug": "ug",
    "mg/kg": "mg/kg",
    "g/kg": "g/kg",
    "mg/m2": "mg/m2",
    "[IU]": "IU",
    "mL": "mL",
}
"""UCUM (the registry's internal unit) -> CDISC SDTM Controlled Terminology UNIT (codelist C71620) submission
value, for every unit the vocabulary, the REDCap template and the medication form use. One table, read by the
SDTM export and its conformance check; docs/registry_sdtm.md lists it."""


def cdisc_unit(ucum: str) -> str:
    """The CDISC UNIT submission value of a UCUM unit (``10*9/L`` -> ``10^9/L``, ``Cel`` -> ``C``); ``1`` and
    an empty unit are unitless (``""``).

    A unit outside :data:`CDISC_UNITS` (any convertible UCUM unit may be reported) is written by the same
    rules -- ``10*n`` as ``10^n``, annotations and brackets dropped (``[degF]`` -> ``F``, ``{cells}/uL`` ->
    ``cells/uL``) -- and :func:`immunoreset.registry.sdtm_conformance.sdtm_conformance` reports it for review
    against the CDISC terminology."""
    if ucum in ("", "1"):
        return ""
    if ucum in CDISC_UNITS:
        return CDISC_UNITS[ucum]
    text = ucum.replace("10*", "10^").replace("[degF]", "F").replace("Cel", "C")
    return re.sub(r"[\[\]{}]", "", text).replace(".", "*")
