"""Simulation engine for :mod:`immunoreset.models` specs: compilation, reference solving with switch events,
virtual populations, SBML export."""

from __future__ import annotations

from immunoreset.simulate.compile import CompiledModel, compile_model
from immunoreset.simulate.population import (
    REFERENCE,
    SCIPY_BDF,
    Population,
    SolverSettings,
    input_vector,
    sample_population,
    simulate_population,
    simulate_typical,
)
from immunoreset.simulate.reference import SolveFailure, SwitchEvent, Trajectory, solve_reference

__all__ = [
    "REFERENCE",
    "SCIPY_BDF",
    "CompiledModel",
    "Population",
    "SolveFailure",
    "SolverSettings",
    "SwitchEvent",
    "Trajectory",
    "compile_model",
    "input_vector",
    "sample_population",
    "simulate_population",
    "simulate_typical",
    "solve_reference",
]
