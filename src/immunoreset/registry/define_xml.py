"""Define-XML 2.1: the metadata of an SDTM or ADaM package, written with odmlib and checked against the schema.

A reviewer reads the datasets through their define.xml: every dataset (``ItemGroupDef`` with its class,
structure, keys and the file it is in), every variable (``ItemDef``: type, length, label, origin, codelist),
the controlled terminology the values come from (``CodeList``), the value-level metadata of the parameterised
findings (``ValueListDef`` with ``WhereClauseDef``: one definition of ``LBORRES`` per ``LBTESTCD``, of
``AVAL`` per ``PARAMCD``) and how derived values were derived (``MethodDef``). CDISC, Define-XML Specification
Version 2.1 (2019-05-15), https://www.cdisc.org/standards/data-exchange/define-xml.

:func:`define_document` builds the document from a :class:`DefinePackage` -- the datasets as written, so the
types and lengths are those of the data -- and :func:`write_define` writes it and validates the file against
the Define-XML 2.1 XML schema that odmlib bundles (:func:`define_schema_errors`); a document that does not
validate is never left on disk. The SDTM package is described by :func:`sdtm_define_package`; the ADaM one by
:func:`immunoreset.analysis.adam.adam_define_package`. Decisions are in ``docs/define_xml.md``.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from immunoreset.errors import InvalidInput
from immunoreset.registry.records import StudyRecord

__all__ = [
    "DEFINE_VERSION",
    "CodeListSpec",
    "DatasetMetadata",
    "DefinePackage",
    "Origin",
    "define_document",
    "define_schema_errors",
    "define_xml",
    "sdtm_define_package",
    "write_define",
]

DEFINE_VERSION = "2.1.0"
"""The Define-XML version written (``def:DefineVersion``)."""

OriginType = Literal["Collected", "Derived", "Assigned", "Protocol", "Predecessor", "Not Available"]


@dataclass(frozen=True)
class Origin:
    """Where a variable's values come from (Define-XML 2.1 ``def:Origin``).

    ``Collected`` values name who collected them (``source``: Investigator, Subject, Vendor, Sponsor);
    ``Derived`` values carry the ``method`` (the algorithm, written as a ``MethodDef``); ``Predecessor``
    values name the variable they are copied from (``description``, e.g. ``DM.AGE``).
    """

    type: OriginType
    source: str | None = None
    description: str | None = None
    method: str | None = None


@dataclass(frozen=True)
class CodeListSpec:
    """A codelist: its short code (the OID is ``CL.<code>``, shared by every variable that uses it), its name
    and the allowed values, or an external dictionary (``dictionary``/``version``)."""

    code: str
    name: str
    values: tuple[str, ...] = ()
    decodes: Mapping[str, str] = field(default_factory=dict)
    dictionary: str | None = None
    version: str | None = None
    cdisc: bool = False
    """A CDISC Controlled Terminology codelist (``def:StandardOID`` names the CT package)."""


@dataclass(frozen=True)
class DatasetMetadata:
    """One dataset of a package, as written, with what define.xml says about it."""

    name: str
    label: str
    frame: pd.DataFrame
    variables: Sequence[Any]
    """:class:`immunoreset.registry.sdtm.Variable` objects (name, label, numeric, core), in dataset order."""
    class_name: str
    """The SDTM observation class or ADaM class (Define-XML 2.1 ``ItemGroupClass``), e.g. ``FINDINGS``."""
    structure: str
    keys: tuple[str, ...]
    subclass: str | None = None
    repeating: bool = True
    reference: bool = False
    parameter: tuple[str, ...] = ()
    """The variable(s) that name what a row measures (``LBTESTCD``, ``PARAMCD``): value-level metadata is
    written per value of these for the :attr:`results` variables."""
    results: tuple[str, ...] = ()
    formats: Mapping[str, str] = field(default_factory=dict)
    """SAS display formats of numeric variables (``DATE9.`` of ADaM dates)."""


@dataclass(frozen=True)
class DefinePackage:
    """Everything :func:`define_document` needs: the study, the standard, the datasets and how each variable
    is sourced and coded."""

    study_code: str
    study_name: str
    description: str
    standard: Literal["SDTMIG", "ADaMIG"]
    standard_version: str
    terminology_version: str
    datasets: Sequence[DatasetMetadata]
    origin: Callable[[str, str], Origin]
    """``origin(dataset, variable)`` -> :class:`Origin`."""
    codelists: Mapping[str, CodeListSpec]
    """Variable name -> its codelist (the same codelist for a variable in every dataset)."""
    roles: Callable[[str, str], str | None] = lambda dataset, variable: None
    """``roles(dataset, variable)`` -> the SDTM variable role (``Identifier``, ``Topic`` ...); None for ADaM."""
    value_labels: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(dataset, parameter value) -> the label of that parameter (``LBTEST`` of ``LBTESTCD``, ``PARAM``)."""
    file_suffix: str = ".xpt"
    """The files ``def:leaf`` points to: ``<dataset>.xpt`` in a submission; ``.csv`` for an export written
    without XPT, so that no link is dangling."""


# ------------------------------------------------------------------------------------------------- types

_OID = re.compile(r"[^A-Za-z0-9._-]")


def _oid(*parts: str) -> str:
    return ".".join(_OID.sub("_", p) for p in parts)


def _present(values: pd.Series) -> list[Any]:
    return [v for v in values if not (v is None or v == "" or (isinstance(v, float) and math.isnan(v)))]


def _decimals(value: float) -> int:
    text = format(Decimal(repr(float(value))).normalize(), "f")
    return len(text.split(".")[1]) if "." in text else 0


def _data_type(name: str, values: list[Any], numeric: bool, display_format: str | None) -> dict[str, Any]:
    """DataType, Length and SignificantDigits of a variable from its values (Define-XML 2.1 section 4.3.3:
    Length for text, integer and float; SignificantDigits for float)."""
    if numeric:
        if display_format:  # a SAS date: whole days since 1960-01-01
            return {"DataType": "integer", "Length": 8}
        numbers = [float(v) for v in values]
        if all(n == math.floor(n) for n in numbers):
            digits = max((len(str(abs(int(n)))) for n in numbers), default=1)
            return {"DataType": "integer", "Length": max(digits, 1)}
        places = max(_decimals(n) for n in numbers)
        whole = max(len(str(abs(int(n)))) for n in numbers)
        return {"DataType": "float", "Length": whole + places, "SignificantDigits": places}
    texts = [str(v) for v in values]
    if name.endswith("DTC") and texts:
        if all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for t in texts):
            return {"DataType": "date"}
        if all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+", t) for t in texts):
            return {"DataType": "datetime"}
        return {"DataType": "partialDatetime"} if any("T" in t for t in texts) else {"DataType": "partialDate"}
    length = max((len(t.encode("utf-8")) for t in texts), default=1)
    return {"DataType": "text", "Length": max(length, 1)}


# ---------------------------------------------------------------------------------------------- document

_NAMESPACES = {
    "odm": "http://www.cdisc.org/ns/odm/v1.3",
    "def": "http://www.cdisc.org/ns/def/v2.1",
    "xlink": "http://www.w3.org/1999/xlink",
}


def define_document(package: DefinePackage, *, created: dt.datetime | None = None) -> Any:
    """The Define-XML 2.1 document (an odmlib ``ODM`` object) of ``package``."""
    import odmlib.define_2_1.model as DEF
    import odmlib.ns_registry as NS

    for prefix, uri in _NAMESPACES.items():  # odmlib writes the prefixes registered here
        NS.NamespaceRegistry(prefix=prefix, uri=uri, is_default=prefix == "odm")  # type: ignore[no-untyped-call]

    def text(content: str) -> Any:
        return DEF.Description(TranslatedText=[DEF.TranslatedText(_content=content, lang="en")])

    ig_standard = _oid("STD", package.standard, package.standard_version)
    ct_standard = _oid("STD", "CT", package.terminology_version)
    publishing_set = "SDTM" if package.standard == "SDTMIG" else "ADaM"
    standards = DEF.Standards(
        Standard=[
            DEF.Standard(
                OID=ig_standard, Name=package.standard, Type="IG", Version=package.standard_version, Status="Final"
            ),
            DEF.Standard(
                OID=ct_standard,
                Name="CDISC/NCI",
                Type="CT",
                PublishingSet=publishing_set,
                Version=package.terminology_version,
                Status="Final",
            ),
        ]
    )
    item_groups: list[Any] = []
    item_defs: dict[str, Any] = {}
    value_lists: list[Any] = []
    where_clauses: dict[str, Any] = {}
    methods: dict[str, Any] = {}
    used_codelists: dict[str, set[str]] = {}
    shared: dict[str, CodeListSpec] = {}
    purpose = "Tabulation" if package.standard == "SDTMIG" else "Analysis"

    def origin_of(dataset: str, name: str) -> tuple[Any, str | None]:
        found = package.origin(dataset, name)
        method_oid = None
        if found.type == "Derived" and found.method:
            method_oid = _oid("MT", dataset, name)
            methods[method_oid] = DEF.MethodDef(
                OID=method_oid,
                Name=f"Algorithm to derive {dataset}.{name}",
                Type="Computation",
                Description=text(found.method),
            )
        kwargs: dict[str, Any] = {"Type": found.type}
        if found.source:
            kwargs["Source"] = found.source
        if found.description:
            kwargs["Description"] = text(found.description)
        return DEF.Origin(**kwargs), method_oid

    for ds in package.datasets:
        frame = ds.frame
        refs = []
        for order, var in enumerate(ds.variables, start=1):
            if var.name not in frame.columns:
                raise InvalidInput(f"{ds.name}.{var.name}", "missing", "every declared variable in the dataset")
            values = _present(frame[var.name])
            item_oid = _oid("IT", ds.name, var.name)
            origin, method_oid = origin_of(ds.name, var.name)
            kwargs: dict[str, Any] = {
                "OID": item_oid,
                "Name": var.name,
                "SASFieldName": var.name,
                **_data_type(var.name, values, var.numeric, ds.formats.get(var.name)),
            }
            if ds.formats.get(var.name):
                kwargs["DisplayFormat"] = ds.formats[var.name]
            # child elements in the schema's order: Description, CodeListRef, def:Origin, def:ValueListRef
            kwargs["Description"] = text(var.label)
            codelist = package.codelists.get(var.name)
            if codelist is not None and not var.numeric:
                kwargs["CodeListRef"] = DEF.CodeListRef(CodeListOID=_oid("CL", codelist.code))
                shared[codelist.code] = codelist
                used_codelists.setdefault(codelist.code, set()).update(str(v) for v in values)
            kwargs["Origin"] = [origin]
            if var.name in ds.results and ds.parameter and values:
                kwargs["ValueListRef"] = DEF.ValueListRef(ValueListOID=_oid("VL", ds.name, var.name))
                value_lists.append(_value_list(DEF, package, ds, var, where_clauses, item_defs, text, origin_of))
            item_defs[item_oid] = DEF.ItemDef(**kwargs)
            ref: dict[str, Any] = {
                "ItemOID": item_oid,
                "OrderNumber": order,
                "Mandatory": "Yes" if var.core == "Req" else "No",
            }
            if var.name in ds.keys:
                ref["KeySequence"] = ds.keys.index(var.name) + 1
            if method_oid:
                ref["MethodOID"] = method_oid
            role = package.roles(ds.name, var.name)
            if role:
                ref["Role"] = role
            if not values:
                ref["HasNoData"] = "Yes"
            refs.append(DEF.ItemRef(**ref))
        leaf_id = _oid("LF", ds.name)
        location = DEF.leaf(
            ID=leaf_id,
            href=f"{ds.name.lower()}{package.file_suffix}",
            title=DEF.title(_content=f"{ds.name.lower()}{package.file_suffix}"),
        )
        group_class = DEF.Class(Name=ds.class_name)
        if ds.subclass:
            group_class.SubClass = [DEF.SubClass(Name=ds.subclass)]
        group: dict[str, Any] = {
            "OID": _oid("IG", ds.name),
            "Name": ds.name,
            "SASDatasetName": ds.name,
            "Repeating": "Yes" if ds.repeating else "No",
            "IsReferenceData": "Yes" if ds.reference else "No",
            "Purpose": purpose,
            "Structure": ds.structure,
            "ArchiveLocationID": leaf_id,
            "StandardOID": ig_standard,
            "Description": text(ds.label),
            "ItemRef": refs,
            "Class": group_class,
            "leaf": location,
        }
        if package.standard == "SDTMIG" and not ds.name.startswith("SUPP"):
            group["Domain"] = ds.name
        elif ds.name.startswith("SUPP"):
            group["Domain"] = ds.name[4:]
        if frame.empty:
            group["HasNoData"] = "Yes"
        item_groups.append(DEF.ItemGroupDef(**group))

    codelists = [_codelist(DEF, shared[code], used, ct_standard) for code, used in sorted(used_codelists.items())]
    mdv = DEF.MetaDataVersion(
        OID=_oid("MDV", package.study_code, package.standard),
        Name=f"{package.study_code} {package.standard} {package.standard_version} metadata",
        Description=package.description,
        DefineVersion=DEFINE_VERSION,
        Standards=standards,
        ValueListDef=value_lists,
        WhereClauseDef=list(where_clauses.values()),
        ItemGroupDef=item_groups,
        ItemDef=list(item_defs.values()),
        CodeList=codelists,
        MethodDef=list(methods.values()),
    )
    study = DEF.Study(
        OID=_oid("STDY", package.study_code),
        GlobalVariables=DEF.GlobalVariables(
            StudyName=DEF.StudyName(_content=package.study_name),
            StudyDescription=DEF.StudyDescription(_content=package.description),
            ProtocolName=DEF.ProtocolName(_content=package.study_code),
        ),
        MetaDataVersion=mdv,
    )
    from immunoreset import __version__

    moment = (created or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return DEF.ODM(
        FileType="Snapshot",
        FileOID=_oid("DEFINE", package.study_code, package.standard),
        CreationDateTime=moment.isoformat(),
        ODMVersion="1.3.2",
        Originator="immunoreset",
        SourceSystem="immunoreset",
        SourceSystemVersion=__version__,
        Context="Submission",
        Study=study,
    )


def _where_clause(DEF: Any, dataset: str, keys: Mapping[str, str]) -> tuple[str, Any]:
    oid = _oid("WC", dataset, *(f"{k}.{v}" for k, v in keys.items()))
    checks = [
        DEF.RangeCheck(
            Comparator="EQ",
            SoftHard="Soft",
            ItemOID=_oid("IT", dataset, name),
            CheckValue=[DEF.CheckValue(_content=value)],
        )
        for name, value in keys.items()
    ]
    return oid, DEF.WhereClauseDef(OID=oid, RangeCheck=checks)


def _value_list(
    DEF: Any,
    package: DefinePackage,
    ds: DatasetMetadata,
    var: Any,
    where_clauses: dict[str, Any],
    item_defs: dict[str, Any],
    text: Callable[[str], Any],
    origin_of: Callable[[str, str], tuple[Any, str | None]],
) -> Any:
    """The value-level metadata of ``var``: one ItemDef per parameter value that has data in ``var``."""
    frame = ds.frame
    refs = []
    groups = frame.groupby(list(ds.parameter), sort=True)
    for order, (key, rows) in enumerate(groups, start=1):
        key_values = key if isinstance(key, tuple) else (key,)
        values = _present(rows[var.name])
        keys = dict(zip(ds.parameter, (str(k) for k in key_values), strict=True))
        clause_oid, clause = _where_clause(DEF, ds.name, keys)
        where_clauses.setdefault(clause_oid, clause)
        item_oid = _oid("IT", ds.name, var.name, *keys.values())
        label = package.value_labels.get((ds.name, "|".join(keys.values())), " ".join(keys.values()))
        origin, method_oid = origin_of(ds.name, var.name)
        item_defs[item_oid] = DEF.ItemDef(
            OID=item_oid,
            Name=var.name,
            SASFieldName=var.name,
            Description=text(f"{var.label}: {label}"[:1000]),
            Origin=[origin],
            **_data_type(var.name, values, var.numeric, None),
        )
        ref = DEF.ItemRef(ItemOID=item_oid, OrderNumber=order, Mandatory="No")
        if method_oid:
            ref.MethodOID = method_oid
        ref.WhereClauseRef = [DEF.WhereClauseRef(WhereClauseOID=clause_oid)]
        if not values:
            ref.HasNoData = "Yes"
        refs.append(ref)
    return DEF.ValueListDef(OID=_oid("VL", ds.name, var.name), ItemRef=refs)


def _codelist(DEF: Any, spec: CodeListSpec, used: set[str], standard: str) -> Any:
    oid = _oid("CL", spec.code)
    if spec.dictionary:
        return DEF.CodeList(
            OID=oid,
            Name=spec.name,
            DataType="text",
            ExternalCodeList=DEF.ExternalCodeList(Dictionary=spec.dictionary, Version=spec.version or ""),
        )
    standard_of = {"StandardOID": standard} if spec.cdisc else {}
    # the values the data use, in the codelist's order; a value outside it is marked as an extension
    ordered = [v for v in spec.values if v in used] or list(spec.values)
    extra = sorted(used - set(spec.values))
    if spec.decodes:
        items = [
            DEF.CodeListItem(
                CodedValue=value,
                OrderNumber=order,
                Decode=DEF.Decode(
                    TranslatedText=[DEF.TranslatedText(_content=spec.decodes.get(value, value), lang="en")]
                ),
                **({"ExtendedValue": "Yes"} if value in extra else {}),
            )
            for order, value in enumerate([*ordered, *extra], start=1)
        ]
        return DEF.CodeList(OID=oid, Name=spec.name, DataType="text", **standard_of, CodeListItem=items)
    enumerated = [
        DEF.EnumeratedItem(CodedValue=value, OrderNumber=order, **({"ExtendedValue": "Yes"} if value in extra else {}))
        for order, value in enumerate([*ordered, *extra], start=1)
    ]
    return DEF.CodeList(OID=oid, Name=spec.name, DataType="text", **standard_of, EnumeratedItem=enumerated)


# -------------------------------------------------------------------------------------------- validation


def define_schema_errors(source: str | os.PathLike[str] | io.StringIO) -> list[str]:
    """Every Define-XML 2.1 schema error of a define.xml (a path or an open text stream; empty when it
    validates), by the CDISC XML schemas bundled with odmlib (``define2-1-0.xsd`` importing ODM 1.3.2)."""
    import xmlschema
    from odmlib.schema_manager import get_schema_path

    schema = xmlschema.XMLSchema(get_schema_path("define", "2.1"))
    target = source if isinstance(source, io.StringIO) else str(source)
    return [f"{e.path}: {e.reason}" for e in schema.iter_errors(target)]


def _pretty(document: Any) -> str:
    """The document indented two spaces per level, with the odm namespace as default and ``def:``/``xlink:``
    prefixes, so that a reviewer can read it in an editor."""
    import xml.etree.ElementTree as ET

    for prefix, uri in _NAMESPACES.items():
        ET.register_namespace("" if prefix == "odm" else prefix, uri)
    root = document.to_element()
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def define_xml(package: DefinePackage, *, created: dt.datetime | None = None) -> str:
    """The define.xml text of ``package``, validated against the Define-XML 2.1 schema: a document that does
    not validate is refused (the first problems, one per clause)."""
    content = _pretty(define_document(package, created=created))
    errors = define_schema_errors(io.StringIO(content))
    if errors:
        raise InvalidInput(
            "define.xml",
            package.study_code,
            "a document valid against the Define-XML 2.1 schema: " + "; ".join(errors[:5]),
        )
    return content


def write_define(package: DefinePackage, path: str | os.PathLike[str], *, created: dt.datetime | None = None) -> Path:
    """Write :func:`define_xml` of ``package`` to ``path`` (nothing is written when it does not validate)."""
    target = Path(path)
    target.write_text(define_xml(package, created=created), encoding="utf-8")
    return target


# ------------------------------------------------------------------------------------------------- SDTM

SDTM_TERMINOLOGY_VERSION = "2024-09-27"
"""The CDISC SDTM Controlled Terminology package named in define.xml. The submission values the export writes
(SEX, RACE, ETHNIC, AGEU, EPOCH, NY, UNIT ...) are the same in every package of 2023-2025; the C-codes are
not carried (docs/define_xml.md)."""

_SDTM_CLASSES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # dataset: (class, structure, natural key before --SEQ)
    "TS": ("TRIAL DESIGN", "One record per trial summary parameter value", ("STUDYID", "TSPARMCD", "TSSEQ")),
    "TE": ("TRIAL DESIGN", "One record per planned Element", ("STUDYID", "ETCD")),
    "TA": ("TRIAL DESIGN", "One record per planned Element per Arm", ("STUDYID", "ARMCD", "TAETORD")),
    "TV": ("TRIAL DESIGN", "One record per planned Visit per Arm", ("STUDYID", "ARMCD", "VISITNUM")),
    "TI": ("TRIAL DESIGN", "One record per I/E criterion", ("STUDYID", "IETESTCD")),
    "DM": ("SPECIAL PURPOSE", "One record per subject", ("STUDYID", "USUBJID")),
    "SE": ("SPECIAL PURPOSE", "One record per actual Element per subject", ("STUDYID", "USUBJID", "ETCD", "SESTDTC")),
    "SV": ("SPECIAL PURPOSE", "One record per actual visit per subject", ("STUDYID", "USUBJID", "VISITNUM")),
    "DS": (
        "EVENTS",
        "One record per disposition status or protocol milestone per subject",
        ("STUDYID", "USUBJID", "DSDECOD", "DSSTDTC"),
    ),
    "EX": (
        "INTERVENTIONS",
        "One record per constant dosing interval per subject",
        ("STUDYID", "USUBJID", "EXTRT", "EXSTDTC"),
    ),
    "AE": ("EVENTS", "One record per adverse event per subject", ("STUDYID", "USUBJID", "AEDECOD", "AESTDTC")),
    "CM": (
        "INTERVENTIONS",
        "One record per recorded medication occurrence or constant-dosing interval per subject",
        ("STUDYID", "USUBJID", "CMTRT", "CMSTDTC"),
    ),
    "LB": (
        "FINDINGS",
        "One record per lab test per time point per visit per subject",
        ("STUDYID", "USUBJID", "LBTESTCD", "VISITNUM", "LBDTC"),
    ),
    "VS": (
        "FINDINGS",
        "One record per vital sign measurement per time point per visit per subject",
        ("STUDYID", "USUBJID", "VSTESTCD", "VISITNUM", "VSDTC"),
    ),
    "RE": (
        "FINDINGS",
        "One record per finding per time point per visit per subject",
        ("STUDYID", "USUBJID", "RETESTCD", "VISITNUM", "REDTC"),
    ),
    "QS": (
        "FINDINGS",
        "One record per questionnaire per question per time point per visit per subject",
        ("STUDYID", "USUBJID", "QSCAT", "QSTESTCD", "VISITNUM", "QSDTC"),
    ),
    "PC": (
        "FINDINGS",
        "One record per sample characteristic or time-point concentration per reference time point or per "
        "analyte per subject",
        ("STUDYID", "USUBJID", "PCTESTCD", "VISITNUM", "PCDTC"),
    ),
}
_SUPP_CLASS = (
    "RELATIONSHIP",
    "One record per supplemental qualifier per related parent domain record",
    ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"),
)


def unique_keys(frame: pd.DataFrame, candidates: tuple[str, ...], sequence: str | None) -> tuple[str, ...]:
    """The natural key ``candidates`` when it identifies every row of ``frame``; otherwise the key extended by
    the sequence variable (``--SEQ``), which always does. Blank values are part of the key, as in SDTM."""
    present = tuple(c for c in candidates if c in frame.columns)
    if frame.empty or not frame.duplicated(list(present)).any():
        return present
    if sequence and sequence in frame.columns:
        return (*present, sequence)
    raise InvalidInput("dataset keys", ", ".join(present), "a key that identifies every row")


def _sdtm_role(dataset: str, name: str) -> str | None:
    """The SDTMIG 3.4 role of a variable, by its name in its class (section 2.1 and the domain tables)."""
    if dataset.startswith("SUPP"):
        return None
    stem = name[2:] if name[:2] == dataset and len(name) > 2 else name
    if name in ("STUDYID", "DOMAIN", "USUBJID") or stem in ("SEQ", "SPID", "GRPID"):
        return "Identifier"
    topics = {
        "DM": "SUBJID",
        "TS": "TSPARMCD",
        "TE": "ETCD",
        "TA": "ARMCD",
        "TV": "VISITNUM",
        "TI": "IETESTCD",
        "SE": "ETCD",
        "SV": "VISITNUM",
        "DS": "DSTERM",
        "AE": "AETERM",
    }
    if topics.get(dataset) == name or stem in ("TESTCD", "TRT"):
        return "Topic"
    if stem in ("TEST", "DECOD", "MODIFY") or name in ("ELEMENT", "ARM", "ACTARM", "TSPARM", "IETEST"):
        return "Synonym Qualifier"
    if stem in ("CAT", "SCAT") or name == "IECAT":
        return "Grouping Qualifier"
    if stem in ("ORRES", "STRESC", "STRESN") or name == "TSVAL":
        return "Result Qualifier"
    timing = ("DTC", "STDTC", "ENDTC", "DY", "STDY", "ENDY", "ENRTPT", "ENTPT", "TPT", "ELTM", "RFTDTC")
    if name in ("VISITNUM", "VISIT", "VISITDY", "EPOCH", "TAETORD") or stem in timing:
        return "Timing"
    if stem in ("ORRESU", "STRESU", "ORNRLO", "ORNRHI", "STNRLO", "STNRHI", "DOSU", "NRIND") or name == "AGEU":
        return "Variable Qualifier"
    if name in ("TESTRL", "TEENRL", "TEDUR", "TABRANCH", "TATRANS", "TVSTRL", "TVENRL"):
        return "Rule"
    return "Record Qualifier"


_SDTM_METHODS: dict[str, str] = {
    "SEQ": "Sequence number of the record within the subject, in the order of the record's date and key.",
    "DY": "Days from DM.RFSTDTC to --DTC: (date - RFSTDTC) + 1 on or after the reference day, "
    "(date - RFSTDTC) before it (there is no study day 0).",
    "STDY": "Days from DM.RFSTDTC to --STDTC, +1 on or after the reference day (no study day 0).",
    "ENDY": "Days from DM.RFSTDTC to --ENDTC, +1 on or after the reference day (no study day 0).",
    "LOBXFL": "Y on the subject's last non-missing result of the test on or before the first study treatment "
    "(DM.RFXSTDTC).",
    "STRESC": "The original result in the standard unit (UCUM conversion in the registry vocabulary), as text.",
    "STRESN": "The numeric value of --STRESC.",
    "STRESU": "The standard unit: the CDISC UNIT value of the registry vocabulary's canonical UCUM unit.",
    "STNRLO": "The reference range lower limit in the standard unit.",
    "STNRHI": "The reference range upper limit in the standard unit.",
    "NRIND": "LOW below --STNRLO, HIGH above --STNRHI, NORMAL within (both limits inclusive).",
}
_SDTM_DERIVED = {
    "EPOCH": "The epoch of the trial element (SE) the date falls in: SCREENING before the first study treatment, "
    "TREATMENT from lymphodepletion to the CAR-T infusion, FOLLOW-UP after it.",
    "VISITNUM": "The visit's number in TV (planned visits) or, for an unplanned visit, the preceding planned "
    "visit's number plus a decimal.",
    "RFSTDTC": "Date of the first study treatment (lymphodepletion or, without it, the CAR-T infusion).",
    "RFENDTC": "Date of the subject's last recorded contact.",
    "RFXSTDTC": "Date of the first study treatment (first EX record).",
    "RFXENDTC": "Date of the last study treatment (the CAR-T infusion).",
    "RFPENDTC": "Date of the end of participation: the disposition date or the last recorded contact.",
    "ARMCD": "The arm of the subject's product and lymphodepletion (TA).",
    "ACTARMCD": "The arm the subject was treated in; blank without a CAR-T infusion (ARMNRS).",
    "ACTARM": "Description of ACTARMCD.",
    "ARM": "Description of ARMCD.",
    "ARMNRS": "NOT TREATED when the subject was not infused.",
    "DTHFL": "Y when the subject died (DTHDTC given).",
    "AGEU": "YEARS.",
    "TAETORD": "The order of the element in the subject's arm (TA).",
    "ELEMENT": "Description of ETCD (TE).",
    "SESTDTC": "The start of the element: consent (screening), the first lymphodepletion dose, the infusion.",
    "SEENDTC": "The start of the next element; the end of participation for the last.",
    "SVSTDTC": "The date of the visit.",
    "SVENDTC": "The date of the visit.",
    "VISITDY": "The planned study day of the visit in TV.",
    "AESER": "Y when any seriousness criterion is recorded.",
}


def _sdtm_origin(source: str) -> Callable[[str, str], Origin]:
    collected = source == "Collected"

    def origin(dataset: str, name: str) -> Origin:
        stem = name[2:] if name[:2] == dataset and len(name) > 2 else name
        if name in ("STUDYID", "DOMAIN", "USUBJID") or (dataset.startswith("SUPP") and name != "QVAL"):
            return Origin("Assigned")
        if dataset in ("TS", "TE", "TA", "TV", "TI"):
            return Origin("Protocol")
        method = _SDTM_METHODS.get(stem) if name[:2] == dataset else None
        method = method or _SDTM_DERIVED.get(name)
        if method:
            return Origin("Derived", method=method)
        if collected:
            return Origin("Collected", source="Investigator")
        return Origin(
            "Derived",
            method="Simulated by an immunoreset virtual trial (the design, model and seed of "
            "the run are in the registry's study record); not collected from a person.",
        )

    return origin


def sdtm_codelists() -> dict[str, CodeListSpec]:
    """The controlled terminology of SDTM variables: CDISC CT (from the conformance check's tables), NY for
    the flags, UNIT (the vocabulary's CDISC units), ISO 3166 for COUNTRY."""
    from immunoreset.registry.records import RELATIONSHIPS
    from immunoreset.registry.sdtm_conformance import CONTROLLED_TERMINOLOGY
    from immunoreset.registry.vocabulary import CDISC_UNITS

    names = {
        "SEX": "Sex",
        "RACE": "Race",
        "ETHNIC": "Ethnic Group",
        "AGEU": "Age Unit",
        "EPOCH": "Epoch",
        "AEACN": "Action Taken with Study Treatment",
        "DSDECOD": "Completion/Reason for Non-Completion",
        "DSCAT": "Category for Disposition Event",
        "TSVALNF": "Null Flavor",
        "IECAT": "Category for Inclusion/Exclusion",
    }
    lists = {
        name: CodeListSpec(name, names.get(name, name), tuple(sorted(values)), cdisc=True)
        for name, values in CONTROLLED_TERMINOLOGY.items()
    }
    yes_no = CodeListSpec("NY", "No Yes Response", ("N", "Y"), {"N": "No", "Y": "Yes"}, cdisc=True)
    for flag in (
        "AESER",
        "AESCONG",
        "AESDISAB",
        "AESDTH",
        "AESHOSP",
        "AESLIFE",
        "AESMIE",
        "DTHFL",
        "LBLOBXFL",
        "VSLOBXFL",
        "RELOBXFL",
        "QSLOBXFL",
        "PCLOBXFL",
    ):
        lists[flag] = yes_no
    units = CodeListSpec("UNIT", "Unit", tuple(sorted(set(CDISC_UNITS.values()))), cdisc=True)
    for prefix in ("LB", "VS", "RE", "QS", "PC"):
        lists[f"{prefix}ORRESU"] = units
        lists[f"{prefix}STRESU"] = units
    lists["EXDOSU"] = units
    lists["CMDOSU"] = units
    lists["AEREL"] = CodeListSpec("AEREL", "Causality", tuple(RELATIONSHIPS))
    lists["COUNTRY"] = CodeListSpec("COUNTRY", "Country", dictionary="ISO 3166", version="ISO 3166-1 alpha-3")
    return lists


def sdtm_define_package(study: StudyRecord, frames: Mapping[str, pd.DataFrame]) -> DefinePackage:
    """The define.xml metadata of the SDTM datasets ``frames`` of ``study`` (:func:`~immunoreset.registry.
    sdtm.sdtm_domains`): classes and structures by SDTMIG 3.4, natural keys (extended by --SEQ where the data
    need it), roles, origins (collected in a trial; derived for a virtual one), codelists and value-level
    metadata of the findings per --TESTCD."""
    from immunoreset.registry.sdtm import DOMAIN_LABELS, DOMAIN_VARIABLES, SDTMIG_VERSION

    datasets = []
    value_labels: dict[tuple[str, str], str] = {}
    codelists = sdtm_codelists()
    for name, frame in frames.items():
        class_name, structure, candidates = _SUPP_CLASS if name.startswith("SUPP") else _SDTM_CLASSES[name]
        sequence = f"{name}SEQ" if f"{name}SEQ" in frame.columns else None
        parameter: tuple[str, ...] = ()
        results: tuple[str, ...] = ()
        if class_name == "FINDINGS":
            testcd, test = f"{name}TESTCD", f"{name}TEST"
            parameter = (testcd,)
            if name == "QS" and frame.groupby(testcd)["QSCAT"].nunique().gt(1).any():
                parameter = ("QSCAT", testcd)
            results = tuple(f"{name}{r}" for r in ("ORRES", "STRESC", "STRESN"))
            for key, label in zip(frame[list(parameter)].astype(str).agg("|".join, axis=1), frame[test], strict=True):
                value_labels[(name, key)] = str(label)
            codelists[testcd] = CodeListSpec(
                testcd, f"{DOMAIN_LABELS[name]} Test Code", (), dict(zip(frame[testcd], frame[test], strict=True))
            )
        datasets.append(
            DatasetMetadata(
                name=name,
                label=DOMAIN_LABELS[name],
                frame=frame,
                variables=DOMAIN_VARIABLES[name],
                class_name=class_name,
                structure=structure,
                keys=unique_keys(frame, candidates, sequence),
                repeating=name != "DM",
                reference=name in ("TS", "TE", "TA", "TV", "TI"),
                parameter=parameter,
                results=results,
            )
        )
    for name in list(codelists):
        spec = codelists[name]
        if spec.decodes and not spec.values:
            codelists[name] = CodeListSpec(spec.code, spec.name, tuple(sorted(spec.decodes)), spec.decodes)
    title = study.design.title if study.design is not None and study.design.title else study.name or study.code
    source = "Collected" if study.source == "trial" else "Derived"
    return DefinePackage(
        study_code=study.code,
        study_name=study.name or study.code,
        description=title,
        standard="SDTMIG",
        standard_version=SDTMIG_VERSION,
        terminology_version=SDTM_TERMINOLOGY_VERSION,
        datasets=datasets,
        origin=_sdtm_origin(source),
        codelists=codelists,
        roles=_sdtm_role,
        value_labels=value_labels,
    )
