"""immunoreset — CAR T-cell therapy in autoimmune disease, computable.

Layers (data flow one way): ``instruments`` → ``registry`` → ``analysis`` → ``report``/``web``;
``models``/``simulate``/``kinetics`` beside them; ``cli`` is a thin front over all.
"""

from immunoreset.errors import ImmunoresetError, InvalidInput

__version__ = "0.1.0"

__all__ = ["ImmunoresetError", "InvalidInput", "__version__"]
