"""SBML Level 3 Version 2 export of any :class:`~immunoreset.models.spec.ModelSpec` (python-libsbml).

Encoding: one compartment of size 1; each state is a non-constant parameter with a rate rule (units stay
those of the spec, no amount/concentration conversion); parameters and inputs are constant parameters;
derived quantities and outputs are assignment rules; initial values are initial assignments. Each switch
is a 0/1 flag parameter flipped by two SBML events (on-crossing and off-crossing), which libRoadRunner and
other CVODE-based tools locate by root-finding - the same semantics as the engine. ``max``/``min`` guards
are written with ``abs`` so they add no root functions.
"""

from __future__ import annotations

from pathlib import Path

import libsbml  # type: ignore[import-untyped]

from immunoreset.errors import ImmunoresetError
from immunoreset.models import expr
from immunoreset.models.spec import ModelSpec

__all__ = ["export_sbml", "to_sbml_string"]

_TIME = {"t": "time"}  # the spec's time symbol is the SBML csymbol time


def _formula(text: str) -> object:
    math = libsbml.parseL3Formula(expr.to_sbml(text, _TIME))
    if math is None:
        raise ImmunoresetError(f"libsbml could not parse {text!r}: {libsbml.getLastParseL3Error()}")
    return math


def _check(code: int, what: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise ImmunoresetError(f"libsbml failed on {what}: {libsbml.OperationReturnValue_toString(code)}")


def to_sbml_string(spec: ModelSpec) -> str:
    """The SBML document for ``spec`` as a string (validated for internal consistency)."""
    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    _check(model.setId(spec.name), "model id")
    model.setName(spec.title)
    model.setTimeUnits("dimensionless")
    notes = f"<body xmlns='http://www.w3.org/1999/xhtml'><p>{spec.citation}</p></body>"
    model.setNotes(notes)
    comp = model.createCompartment()
    comp.setId("default_compartment")
    comp.setConstant(True)
    comp.setSize(1.0)
    comp.setSpatialDimensions(3)

    def param(name: str, value: float, constant: bool) -> None:
        p = model.createParameter()
        _check(p.setId(name), f"parameter {name}")
        p.setValue(value)
        p.setConstant(constant)

    for p in spec.parameters:
        param(p.name, p.value, True)
    for i in spec.inputs:
        param(i.name, i.value, True)
    for sw in spec.switches:
        param(sw.name, 0.0, False)
    for s in spec.states:
        param(s.name, 0.0, False)
    static = spec.static_names()
    for d in spec.derived:
        param(d.name, 0.0, d.name in static and False)
    for o in spec.outputs:
        param(o.name, 0.0, False)

    for s in spec.states:
        ia = model.createInitialAssignment()
        ia.setSymbol(s.name)
        _check(ia.setMath(_formula(s.initial)), f"initial {s.name}")
    for sw in spec.switches:
        ia = model.createInitialAssignment()
        ia.setSymbol(sw.name)
        cond = f"({sw.lhs}) - ({sw.rhs})"
        # flag = 1 if condition holds at t0: use a piecewise via libsbml infix
        rel = "lt" if sw.op == "<" else "gt"
        math = libsbml.parseL3Formula(f"piecewise(1, {rel}({expr.to_sbml(cond, _TIME)}, 0), 0)")
        _check(ia.setMath(math), f"initial flag {sw.name}")
    for d in spec.derived:
        rule = model.createAssignmentRule()
        rule.setVariable(d.name)
        _check(rule.setMath(_formula(d.expression)), f"derived {d.name}")
    for o in spec.outputs:
        rule = model.createAssignmentRule()
        rule.setVariable(o.name)
        _check(rule.setMath(_formula(o.expression)), f"output {o.name}")
    for s in spec.states:
        rule = model.createRateRule()
        rule.setVariable(s.name)
        _check(rule.setMath(_formula(s.rhs)), f"rhs {s.name}")
    for sw in spec.switches:
        g = expr.to_sbml(f"({sw.lhs}) - ({sw.rhs})", _TIME)
        on_rel, off_rel = ("lt", "geq") if sw.op == "<" else ("gt", "leq")
        for suffix, rel, value in (("on", on_rel, 1.0), ("off", off_rel, 0.0)):
            ev = model.createEvent()
            ev.setId(f"{sw.name}_{suffix}")
            ev.setUseValuesFromTriggerTime(True)
            trig = ev.createTrigger()
            trig.setInitialValue(True)
            trig.setPersistent(True)
            _check(trig.setMath(libsbml.parseL3Formula(f"{rel}({g}, 0)")), f"trigger {sw.name}")
            ea = ev.createEventAssignment()
            ea.setVariable(sw.name)
            ea.setMath(libsbml.parseL3Formula(repr(value)))
    doc.checkInternalConsistency()
    errors = [
        doc.getError(i).getMessage()
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    if errors:
        raise ImmunoresetError("SBML export invalid: " + "; ".join(errors[:3]))
    text: str = libsbml.writeSBMLToString(doc)
    return text


def export_sbml(spec: ModelSpec, path: str | Path) -> Path:
    """Write ``spec`` as SBML to ``path``."""
    out = Path(path)
    out.write_text(to_sbml_string(spec), encoding="utf-8")
    return out
