"""Lab declarations, one module per chapter (ch01.py, ch02.py, ...).

Each module lists its lab factories in `LABS`; `all_labs()` finds them all,
which is how the benchmark measures every lab without a hand-kept list.
"""
from __future__ import annotations

import importlib
import pkgutil


def all_labs() -> dict:
    """{lab name: factory} for every lab declared in knobs.labs.*."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for factory in getattr(module, "LABS", []):
            found[factory().name] = factory
    return found
