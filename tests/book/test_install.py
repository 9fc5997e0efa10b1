"""The Colab path: the knobs wheel in a clean virtualenv, every chapter run from a folder outside the repository.

A learner who follows a chapter's Colab button gets knobs from the chapter's first cell (`pip install
git+<repository.url>`), which installs what pyproject.toml declares and nothing else, into an environment
that has only what Colab preinstalls. This test does the same, offline:

1. builds the wheel from a copy of pyproject.toml and lib/ (so the wheel needs nothing else of the repository);
2. makes a fresh virtualenv that sees only Colab's preinstalled packages, pinned as in constraints.txt:
   torch==2.13.0 (the CPU build on this machine's disk), numpy, matplotlib, ipywidgets, ipykernel. Those are
   installed once into a base environment under _build/colab-base/ (keyed by their pins) that each run's
   fresh virtualenv reads through a .pth file, so a run installs only the wheel and what it declares;
3. installs the wheel there (pinned by constraints.txt, from the pip cache after the first run);
4. copies the chapters to a temporary folder outside the repository and runs every one with nbclient in a
   kernel of that virtualenv (live mode, as a learner's Jupyter runs it): zero errors, zero stderr output.

Runs with `make test` (marker `install`; alone: `make test-install`), a few minutes: the base environment is
built once, the packages come from the pip cache. What it cannot test: that the repository URL answers (the
test machines reach no GitHub); tests/book/test_publishing.py checks the Colab cell installs from repository.url.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT

pytestmark = pytest.mark.install

COLAB_PREINSTALLED = ("numpy", "matplotlib", "ipywidgets", "ipykernel")  # and torch, installed first
TORCH = "torch==2.13.0"  # the CPU build from this machine's disk: never an unpinned torch (a multi-GB CUDA build)
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
BOOK_TOOLING = ("sphinx", "docutils", "pybtex", "nbclient", "myst_nb", "jupyter_book")


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def run(*command, **kwargs):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def colab_base() -> Path:
    """A virtualenv with only Colab's preinstalled packages, built once per set of pins (reused across runs)."""
    versions = pins()
    wanted = [TORCH] + [f"{name}=={versions[name]}" for name in COLAB_PREINSTALLED]
    key = hashlib.sha1(" ".join(wanted + [sys.version]).encode()).hexdigest()[:12]
    base = ROOT / "_build" / "colab-base" / key
    if not (base / ".complete").exists():
        shutil.rmtree(base, ignore_errors=True)
        run(sys.executable, "-m", "venv", base)
        python = base / "bin" / "python"
        run(python, "-m", "pip", "install", "-q", TORCH)  # first and alone: the local CPU wheel
        run(python, "-m", "pip", "install", "-q", *wanted[1:], "-c", ROOT / "constraints.txt")
        (base / ".complete").write_text("\n".join(wanted) + "\n")
    return base


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """(python of a fresh virtualenv with the knobs wheel installed, a folder outside the repository)."""
    started = time.perf_counter()
    tmp = tmp_path_factory.mktemp("colab")
    source = tmp / "source"  # the wheel is built from pyproject.toml and lib/ alone
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "lib", source / "lib", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", source)
    (wheel,) = (tmp / "dist").glob("knobs-*.whl")

    base = colab_base()
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", venv)
    # the fresh virtualenv sees the base's packages after its own (a .pth line is appended to sys.path)
    (site_packages(venv) / "colab_preinstalled.pth").write_text(f"{site_packages(base)}\n")
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel, "-c", ROOT / "constraints.txt")
    print(f"\nColab environment ready in {time.perf_counter() - started:.0f} s")

    work = tmp / "learner"  # outside the repository: nothing there to import by accident
    work.mkdir()
    for chapter in CHAPTERS:
        shutil.copy(chapter, work / chapter.name)
    kernels = tmp / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    return python, work, tmp / "kernels"


def test_the_wheel_installs_what_a_chapter_imports_and_no_book_tooling(colab):
    python, work, _ = colab
    code = ("import sys, importlib, pkgutil, knobs\n"
            "for m in pkgutil.walk_packages(knobs.__path__, 'knobs.'): importlib.import_module(m.name)\n"
            "import jupyterquiz, tqdm, PIL\n"
            f"print(knobs.__file__); print(sorted({{n.split('.')[0] for n in sys.modules}} & {set(BOOK_TOOLING)!r}))")
    out = run(python, "-c", code, cwd=work).stdout.splitlines()
    assert Path(out[0]).is_relative_to(python.parents[1]) and not Path(out[0]).is_relative_to(ROOT), out[0]
    assert out[1] == "[]", out[1]
    installed = {p["name"].lower().replace("-", "_") for p in json.loads(run(python, "-m", "pip", "list",
                                                                             "--format=json", cwd=work).stdout)}
    assert "jupyterquiz" in installed and not installed & set(BOOK_TOOLING), sorted(installed)


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_runs_from_the_wheel_outside_the_repository(colab, notebook):
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    python, work, kernel_dirs = colab
    nb = nbformat.read(work / notebook.name, as_version=4)
    # a last cell says which Python and which knobs the chapter ran with
    nb.cells.append(nbformat.v4.new_code_cell("import sys, knobs\nprint(sys.executable)\nprint(knobs.__file__)"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("KNOBS_STATIC", "MPLBACKEND", "PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    km = KernelManager(kernel_name="colab", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dirs)]))
    client = NotebookClient(nb, km=km, timeout=300, resources={"metadata": {"path": str(work)}})
    started = time.perf_counter()
    try:
        client.execute(env=env, cleanup_kc=True)
    except CellExecutionError as error:
        pytest.fail(f"{notebook.name} failed outside the repository:\n{str(error)[-3000:]}")
    finally:
        if km.has_kernel:  # nbclient leaves a kernel manager it was given running
            km.shutdown_kernel(now=True)
    seconds = time.perf_counter() - started
    stderr = [(i, o.text[:300]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{notebook.name} wrote to stderr (a learner sees it in red): {stderr}"
    errors = [(i, o.ename) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors
    executable, knobs_file = nb.cells[-1].outputs[0].text.split()
    assert Path(executable) == python and not Path(knobs_file).is_relative_to(ROOT), (executable, knobs_file)
    print(f"{notebook.name}: {seconds:.1f} s")
