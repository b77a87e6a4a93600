"""Cellular kinetics: CAR-T NCA, B-cell aplasia and reconstitution, autoantibody decline, and
the Stein 2019 population cellular-kinetic model with individual and population fitting.

See ``docs/kinetics.md`` for the conventions and options. Plots live in
:mod:`immunoreset.kinetics.plots` (imported on demand; it loads matplotlib).
"""

from immunoreset.kinetics.autoantibodies import AntibodyOptions, AntibodyResult, antibody_decline, antibody_table
from immunoreset.kinetics.bcells import BCellOptions, BCellResult, bcell_kinetics, bcell_table
from immunoreset.kinetics.data import read_tidy, tidy_frame
from immunoreset.kinetics.fit import IndividualFit, fit_individual, fit_individuals, individual_table
from immunoreset.kinetics.nca import NCAOptions, NCAResult, nca, nca_table
from immunoreset.kinetics.recovery import RecoveryReport, recovery_study
from immunoreset.kinetics.saem import Dataset, PopulationFit, SAEMOptions, StructuralModel, saem
from immunoreset.kinetics.stein2019 import STEIN2019, initial_estimates, simulate, structural_model

__all__ = [
    "STEIN2019",
    "AntibodyOptions",
    "AntibodyResult",
    "BCellOptions",
    "BCellResult",
    "Dataset",
    "IndividualFit",
    "NCAOptions",
    "NCAResult",
    "PopulationFit",
    "RecoveryReport",
    "SAEMOptions",
    "StructuralModel",
    "antibody_decline",
    "antibody_table",
    "bcell_kinetics",
    "bcell_table",
    "fit_individual",
    "fit_individuals",
    "individual_table",
    "initial_estimates",
    "nca",
    "nca_table",
    "read_tidy",
    "recovery_study",
    "saem",
    "simulate",
    "structural_model",
    "tidy_frame",
]
