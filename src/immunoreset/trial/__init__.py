"""Virtual trials: designs as files, virtual patients written into the registry like real ones."""

from immunoreset.trial.design import TrialDesign, builtin_designs, load_design
from immunoreset.trial.virtual import VirtualTrial, simulate_trial

__all__ = ["TrialDesign", "VirtualTrial", "builtin_designs", "load_design", "simulate_trial"]
