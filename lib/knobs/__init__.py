"""knobs: the helper library of *Turning the Knobs*.

Import what a chapter needs, e.g. `from knobs import data, models, train`.
Importing knobs has no side effects (no seeding, no plotting, no threads).
"""
from knobs.train import seed

__all__ = ["seed"]
__version__ = "0.1.0"
