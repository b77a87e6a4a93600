"""Park 2025 SLE QSP spec: structure, published values, and the constructed steady states (spec §9.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from immunoreset.errors import InvalidInput
from immunoreset.models import ModelSpec, ParameterSpec, StateSpec, expr, get_model
from immunoreset.simulate.compile import compile_model, switch_flags
from immunoreset.simulate.population import input_vector

SPEC = get_model("park2025")
MODEL = compile_model(SPEC)
IDX = {n: i for i, n in enumerate(SPEC.state_names)}


def _vectors(**inputs: float) -> tuple[np.ndarray, np.ndarray]:
    p = np.array([x.value for x in SPEC.parameters])
    return p, input_vector(SPEC, inputs)


def test_structure_37_states_14_iiv() -> None:
    assert len(SPEC.states) == 37
    assert len(SPEC.iiv_parameters()) == 14
    omegas = {p.name: p.omega for p in SPEC.iiv_parameters()}
    assert omegas["CARTrev_min"] == 0.81 and omegas["K0_rev"] == 1.04 and omegas["Kexp_max8"] == 0.05


def test_control_stream_values() -> None:
    # Ksyn_PTU = 1000 mg/day (control stream), not Table 1's 100
    assert SPEC.parameter("Ksyn_PTU").value == 1000.0
    assert SPEC.parameter("CARTrev_min").unit == "cells/uL"
    ops = {s.name: s.op for s in SPEC.switches}
    assert ops == {"reconstitution_gate": "<", "aab_release": ">"}


def test_typical_initial_values_match_spec_table() -> None:
    p, u = _vectors()
    y0 = MODEL.init(p, u)
    assert y0[IDX["cd8_tn_pb"]] == pytest.approx(234738, rel=1e-9)
    assert y0[IDX["cd4_ef_pb"]] == pytest.approx(1038160.2, rel=1e-9)
    assert y0[IDX["cd4t_pre"]] == pytest.approx(300257.14, rel=1e-7)
    assert y0[IDX["cd8t"]] == pytest.approx(352.745, rel=1e-5)
    assert y0[IDX["ifna"]] == pytest.approx(21000)
    total = MODEL.outputs(0.0, y0, p, u, np.array([0.0, 1.0]))[SPEC.output_names.index("totalCart")]
    assert total == pytest.approx(13.854, rel=1e-4)


def _baseline_rhs(p: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y0 = MODEL.init(p, u)
    flags = switch_flags(MODEL, MODEL.switch_g(0.0, y0, p, u))
    return y0, MODEL.rhs(0.0, y0, p, u, flags)


def test_baseline_steady_states_without_ldc() -> None:
    p, u = _vectors(Dose_LDC=0.0)
    y0, dy = _baseline_rhs(p, u)
    for name in (
        "cd4t_pre",
        "cd4t",
        "cd8t_pre",
        "cd8t",
        "nt_prol",
        "nt_tr1",
        "nt_tr2",
        "nt_tr3",
        "nt",
        "ifna",
        "aab",
        "c3",
    ):
        assert abs(dy[IDX[name]]) <= 1e-9 * max(abs(y0[IDX[name]]), 1.0), name
    kg = SPEC.parameter("Kg").value
    assert dy[IDX["cd19b_pb"]] == pytest.approx(kg * y0[IDX["cd19b_pb"]], rel=1e-12)
    vu = 70 * 24 / 100
    assert dy[IDX["ptu"]] == pytest.approx(1000 * (math.e**2 - 1) / vu, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    wt=st.floats(40, 150),
    aab0=st.floats(1e3, 1e7),
    ifn0=st.floats(0.3, 105),
    c30=st.floats(200, 1500),
    k0=st.floats(50, 800),
    kout=st.floats(0.3, 3),
)
def test_baselines_are_steady_for_any_patient(
    wt: float, aab0: float, ifn0: float, c30: float, k0: float, kout: float
) -> None:
    p, u = _vectors(Dose_LDC=0.0, WT=wt, AAb0=aab0, IFNa0=ifn0, C30=c30)
    p = p.copy()
    p[SPEC.parameter_names.index("K0_CD4")] = k0
    p[SPEC.parameter_names.index("Kout_CD4")] = kout
    y0, dy = _baseline_rhs(p, u)
    for name in ("cd4t", "cd4t_pre", "ifna", "aab", "c3", "nt"):
        assert abs(dy[IDX[name]]) <= 1e-9 * max(abs(y0[IDX[name]]), 1.0), name


def test_switch_equality_is_off_for_both_operators() -> None:
    assert switch_flags(MODEL, np.array([0.0, 0.0])).tolist() == [0.0, 0.0]
    assert switch_flags(MODEL, np.array([-1e-300, 1e-300])).tolist() == [1.0, 1.0]


def test_spec_rejects_undefined_names() -> None:
    with pytest.raises(ValidationError, match="rhs of x"):
        ModelSpec(
            name="bad",
            title="t",
            citation="c",
            states=[StateSpec(name="x", unit="1", description="", initial="1", rhs="-k*x + undefined")],
            parameters=[ParameterSpec(name="k", value=1.0, unit="1/d", description="", source="")],
        )


def test_expression_language_rejects_calls_and_attributes() -> None:
    with pytest.raises(InvalidInput):
        expr.parse("__import__('os')")
    with pytest.raises(InvalidInput):
        expr.parse("x.y")
    assert expr.names("max(a, 1e-12)*exp(b)") == {"a", "b"}
    # max is written with abs (no root function in CVODE-based tools), and means the same thing
    text = expr.to_sbml("max(a, 0)")
    assert "abs" in text and "max" not in text
    py = expr.to_python("max(a, 0)")
    for a in (-2.5, 0.0, 3.25):
        assert eval(py, {"np": np, "a": a}) == eval(expr.to_python("(a + 0 + abs(a - 0))/2"), {"np": np, "a": a})


def test_inputs_are_range_checked() -> None:
    with pytest.raises(InvalidInput, match="Dose"):
        input_vector(SPEC, {"Dose": -1.0})
    with pytest.raises(InvalidInput, match="WT"):
        input_vector(SPEC, {"WT": 0.0})
    with pytest.raises(InvalidInput, match="input"):
        input_vector(SPEC, {"nonsense": 1.0})
