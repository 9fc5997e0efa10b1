"""What a learner installs: pyproject.toml declares every third-party import of the package, and nothing of the
book's tooling comes with it (issue 16). The Colab path itself (the wheel in a clean virtualenv, every chapter
run outside the repository) is tests/book/test_install.py.
"""
import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import knobs

PACKAGE = Path(knobs.__file__).parent
ROOT = PACKAGE.parents[1]
# Imports the package may make without declaring them: each is guarded by `except ImportError` and only
# does something in the book build (chapter.glue hands values to myst-nb when it is there).
OPTIONAL = {"myst_nb"}
# import name -> distribution, where importlib.metadata cannot tell (none today; PIL -> pillow it can)
IMPORT_TO_DISTRIBUTION: dict[str, str] = {}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(extras: bool = True) -> set[str]:
    """The distributions pyproject.toml declares: its dependencies, and (extras=True) its optional ones."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    if extras:  # an extra (pip install "knobs[hub]") covers an import only its own code path makes
        requirements += [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return {normalize(re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0]) for d in requirements}


def third_party_imports(path: Path) -> dict[str, bool]:
    """{top-level module: optional?} of every absolute import in a file, at the top or inside a function.

    Optional means inside a `try` whose handlers catch ImportError (or ModuleNotFoundError).
    """
    tree = ast.parse(path.read_text())
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
        for name in names:
            top = name.split(".")[0]
            if top != "knobs" and top not in sys.stdlib_module_names:
                found[top] = found.get(top, True) and id(node) in guarded
    return found


def distribution(module: str) -> str:
    if module in IMPORT_TO_DISTRIBUTION:
        return IMPORT_TO_DISTRIBUTION[module]
    candidates = importlib.metadata.packages_distributions().get(module)
    # not installed here (an extra's package): most distributions are named as their import
    return normalize(candidates[0] if candidates else module)


def test_pyproject_declares_every_third_party_import_of_the_package():
    imports: dict[str, bool] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for module, optional in third_party_imports(path).items():
            imports[module] = imports.get(module, True) and optional
    required = {m for m, optional in imports.items() if not optional or m not in OPTIONAL}
    assert {"torch", "PIL", "jupyterquiz"} <= required  # the walk sees nested imports (quiz.show imports JupyterQuiz)
    needed = {distribution(m) for m in required}
    missing = needed - declared()
    assert not missing, f"imported by knobs but not in pyproject.toml's dependencies: {sorted(missing)}"
    unused = declared() - needed
    assert not unused, f"declared in pyproject.toml but never imported by knobs: {sorted(unused)}"
    # what every chapter imports is a plain dependency: the Colab cell installs no extra
    assert {"numpy", "torch", "matplotlib", "ipywidgets", "pillow", "tqdm", "jupyterquiz", "ipython"} <= declared(extras=False)


def test_the_import_walk_tells_optional_from_required_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy as np\nfrom PIL import Image\nimport json\nfrom . import x\n"
                     "def f():\n    import jupyterquiz\n"
                     "try:\n    from myst_nb import glue\nexcept ImportError:\n    glue = None\n")
    assert third_party_imports(probe) == {"numpy": False, "PIL": False, "jupyterquiz": False, "myst_nb": True}
    assert distribution("PIL") == "pillow" and distribution("IPython") == "ipython"


def test_importing_every_module_of_the_package_loads_no_book_tooling():
    """`import knobs`, every chapter, every exercise module: no Sphinx, docutils, pybtex, nbclient or myst-nb
    (what the book build needs stays in tools/bookext; a learner in Colab has none of it)."""
    code = ("import sys, importlib, pkgutil, knobs\n"
            "for m in pkgutil.walk_packages(knobs.__path__, 'knobs.'): importlib.import_module(m.name)\n"
            "print(sorted({n.split('.')[0] for n in sys.modules} & {'sphinx', 'docutils', 'pybtex', 'nbclient', "
            "'myst_nb', 'myst_parser', 'sphinxcontrib', 'bookext', 'jupyter_book'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_wheel_carries_the_package_data_the_chapters_read():
    """Corpora, quizzes and the twin's player are read from the installed package, never from the repository."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["knobs"]
    for needed in ("corpora/farm.txt", "exercises/quizzes/ch01.json", "lab/twin.js"):
        assert (PACKAGE / needed).exists() and any(Path(needed).match(p) for p in patterns), needed
