"""Stein 2019 multiphasic CAR-T cellular-kinetic model (tisagenlecleucel), as a declarative spec.

Stein AM, Grupp SA, Levine JE, et al. Tisagenlecleucel model-based cellular kinetic analysis of chimeric
antigen receptor-T cells. CPT Pharmacometrics Syst Pharmacol 2019;8(5):285-295. doi:10.1002/psp4.12388.
Parameters: Table 1 (final model = base model, no covariates), as transcribed by nlmixr2lib
``Stein_2019_Tisagenlecleucel.R``.

Two pools (Stein 2019 Fig. 2), observed C = E + M (transgene copies/µg genomic DNA)::

    t < Tmax :  dE/dt = rho*E,                  dM/dt = 0
    t >= Tmax:  dE/dt = -alpha*E,               dM/dt = k*E - beta*M
    E(0) = R0 = Cmax/foldx,  M(0) = 0,  rho = ln(foldx)/Tmax,  k = FB*(alpha - beta)

The phase change is the switch ``expanding`` (on while t < Tmax, exact operator ``<``; at t = Tmax the
contraction phase has begun), located as an event by the engine. The analytical solution used for
fitting lives in :mod:`immunoreset.kinetics.stein2019`; the tests check that the engine reproduces it.

IIV: log-normal on all six parameters. The spec's ``omega`` is an SD, so ``omega = sqrt(omega^2)`` of
Table 1, whose numbers are read as variances (decision and the SD variant in ``docs/kinetics.md``).
Residual error (not part of a spec): constant on the log scale, SD 0.56. The co-medication factors
Ftoci = 1.2 and Fster = 1.0 are not included (Stein found no effect on expansion).
"""

from __future__ import annotations

import math

from immunoreset.models.spec import DerivedSpec, ModelSpec, OutputSpec, ParameterSpec, StateSpec, SwitchSpec

__all__ = ["OMEGA2", "RESIDUAL_SD_LOG", "STEIN2019_SPEC"]

CIT = "Stein et al., CPT Pharmacometrics Syst Pharmacol 2019;8:285"
T1 = f"{CIT}, Table 1 (via nlmixr2lib Stein_2019_Tisagenlecleucel)"
F2 = f"{CIT}, Figure 2"

OMEGA2: dict[str, float] = {"foldx": 2.4, "tmax": 0.38, "cmax": 0.65, "alpha": 0.91, "fb": 0.80, "beta": 0.86}
"""Table 1 random-effect values, read as variances of eta (log scale)."""

RESIDUAL_SD_LOG = 0.56
"""Table 1 residual error a: constant SD on the log scale."""


def _p(name: str, value: float, unit: str, desc: str) -> ParameterSpec:
    return ParameterSpec(
        name=name,
        value=value,
        unit=unit,
        description=desc,
        source=T1,
        status="estimated",
        omega=math.sqrt(OMEGA2[name]),
    )


STEIN2019_SPEC = ModelSpec(
    name="stein2019",
    title="Stein 2019 multiphasic CAR-T cellular kinetics (expansion, contraction, persistence)",
    citation=(
        "Stein AM, Grupp SA, Levine JE, et al. Tisagenlecleucel model-based cellular kinetic analysis of "
        "chimeric antigen receptor-T cells. CPT Pharmacometrics Syst Pharmacol 2019;8(5):285-295. "
        "doi:10.1002/psp4.12388"
    ),
    time_unit="d",
    notes=[
        "omega = sqrt(Table 1 value): Table 1 IIV read as variances (nlmixr2lib, Phoenix transcription).",
        f"Residual error: additive on the log scale, SD {RESIDUAL_SD_LOG} (not part of the spec).",
        "Co-medication factors Ftoci = 1.2, Fster = 1.0 not implemented (no effect on expansion per Stein).",
        "Parameterised by the peak: the infused dose enters only through R0 = Cmax/foldx.",
    ],
    states=[
        StateSpec(
            name="E",
            unit="{copies}/ug",
            description="effector CAR-T pool (transgene copies per µg genomic DNA)",
            initial="r0",
            rhs="expanding * rho * E - (1 - expanding) * alpha * E",
        ),
        StateSpec(
            name="M",
            unit="{copies}/ug",
            description="memory (persistence) CAR-T pool",
            initial="0",
            rhs="(1 - expanding) * (k * E - beta * M)",
        ),
    ],
    parameters=[
        _p("foldx", 3900.0, "1", "fold expansion from R0 to Cmax"),
        _p("tmax", 9.3, "d", "time of the peak"),
        _p("cmax", 24000.0, "{copies}/ug", "peak transgene level"),
        _p("alpha", 0.16, "/d", "contraction rate of the effector pool"),
        _p("fb", 0.0079, "1", "fraction of the peak entering the persistence phase"),
        _p("beta", 0.0032, "/d", "persistence (terminal) rate"),
    ],
    derived=[
        DerivedSpec(name="rho", expression="log(foldx) / tmax", unit="/d", description="expansion rate (Fig. 2)"),
        DerivedSpec(name="r0", expression="cmax / foldx", unit="{copies}/ug", description="level at infusion"),
        DerivedSpec(
            name="k", expression="fb * (alpha - beta)", unit="/d", description="effector-to-memory rate (Fig. 2)"
        ),
    ],
    switches=[
        SwitchSpec(
            name="expanding",
            lhs="t",
            op="<",
            rhs="tmax",
            description="expansion phase: on while t < Tmax; contraction and persistence from Tmax on",
            source=F2,
        )
    ],
    outputs=[
        OutputSpec(
            name="transgene",
            expression="E + M",
            unit="{copies}/ug",
            description="observed transgene level C = E + M (qPCR, copies/µg genomic DNA)",
        )
    ],
)
"""The Stein 2019 model spec (typical values and IIV of Table 1)."""
