"""The package's layers: each module imports only from its own layer or the layers below it.

    core (runtime, figures, data, models, train)
      <- techniques (one idea each: autograd, prune, quantize, ...)
      <- lab machinery (knobs.lab)
      <- chapters (knobs.chapters, knobs.chapter)
      <- exercises (knobs.exercises)

The book's tooling (tools/bookext) sits above all of them and is not part of the package.
"""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import knobs

PACKAGE = Path(knobs.__file__).parent
CORE = {"knobs", "knobs.validate", "knobs.runtime", "knobs.figures", "knobs.data", "knobs.models", "knobs.train"}
LAYERS = ("core", "techniques", "lab machinery", "chapters", "exercises")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    if module in CORE:
        return 0
    if module.startswith("knobs.lab"):
        return 2
    if module.startswith("knobs.chapters") or module == "knobs.chapter":
        return 3
    if module.startswith("knobs.exercises"):
        return 4
    return 1


def imported_modules(path: Path) -> set[str]:
    """Every knobs module a file imports, at the top or inside a function (`from knobs import x` names knobs.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "knobs"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "knobs":
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                    (PACKAGE.parent / Path(*candidate.split("."))).is_dir()
                found.add(candidate if is_module else node.module)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_imports_a_higher_layer(path):
    me = module_name(path)
    for other in imported_modules(path):
        assert layer(other) <= layer(me), (f"{me} ({LAYERS[layer(me)]}) imports {other} ({LAYERS[layer(other)]}): "
                                           "a lower layer must not import a higher one")


def test_the_layer_rule_catches_a_technique_importing_a_chapter(tmp_path):
    """The test above can fail: a technique module that imports chapter code is caught."""
    fake = PACKAGE / "_layering_probe.py"
    try:
        fake.write_text("from knobs.chapters import ch05\nfrom knobs import lab\n")
        assert imported_modules(fake) == {"knobs.chapters.ch05", "knobs.lab"}
        assert all(layer(m) > layer(module_name(fake)) for m in imported_modules(fake))
    finally:
        fake.unlink()


def test_running_example_data_and_trained_model_have_one_definition_each():
    sources = {module_name(p): p.read_text() for p in MODULES}
    split = [m for m, s in sources.items() if "split_dataset(X, y" in s and "load_corpus(\"farm\")" in s]
    assert split == ["knobs.data"], split
    recipe = [m for m, s in sources.items() if "TINY_LM_RECIPE" in s or "steps=300, lr=0.03" in s]
    assert recipe == ["knobs.train"], recipe


def test_importing_knobs_and_every_chapter_loads_no_book_tooling():
    code = ("import sys, importlib, pkgutil, knobs, knobs.chapters\n"
            "for m in pkgutil.iter_modules(knobs.chapters.__path__): importlib.import_module('knobs.chapters.' + m.name)\n"
            "print(sorted({n.split('.')[0] for n in sys.modules} & {'sphinx', 'docutils', 'pybtex', 'nbclient', "
            "'myst_nb', 'bookext'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_readme_layout_names_every_module_and_only_modules_that_exist():
    readme = (PACKAGE.parents[1] / "README.md").read_text()
    block = readme.split("## Layout", 1)[1].split("```")[1]
    named = set(re.findall(r"\b(\w+\.(?:py|js))\b", block))
    files = {p.name for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"} | {p.name for p in PACKAGE.rglob("*.js")}
    files = {f for f in files if not re.fullmatch(r"ch\d\d\.py", f)}  # chapters/chNN.py and exercises/chNN.py
    tools = {p.name for p in (PACKAGE.parents[1] / "tools").rglob("*.py") if p.name != "__init__.py"}
    missing = files - named
    assert not missing, f"modules the README's layout does not name: {sorted(missing)}"
    stale = {n for n in named if n not in files | tools and not re.fullmatch(r"ch\w*\.py", n)}
    assert not stale, f"the README's layout names modules that do not exist: {sorted(stale)}"
