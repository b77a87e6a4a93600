"""Virtual trials: designs as files, virtual patients written into the registry like real ones."""

from immunoreset.trial.design import TrialDesign, builtin_designs, load_design

__all__ = ["TrialDesign", "builtin_designs", "load_design"]
