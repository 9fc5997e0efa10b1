"""Each chapter's own code, one module per chapter (ch01.py, ch02.py, ...): its labs, cached
experiments, static figures and the numbers and verdicts its prose states.

The algorithms a chapter teaches live in the technique modules (knobs.prune, knobs.quantize, ...);
nothing outside knobs.chapters and knobs.exercises imports a chapter. Each module lists its lab
factories in `LABS`; `all_labs()` finds them all (the benchmark and the tests use it).
"""
from __future__ import annotations

import importlib
import pkgutil


def all_labs() -> dict:
    """{lab name: factory} for every lab declared in knobs.chapters.*."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for factory in getattr(module, "LABS", []):
            found[factory().name] = factory
    return found
