"""Running the book elsewhere: the Colab first cell, Binder's requirements, the launch buttons."""
import importlib.util
import re
import subprocess
import sys
import types
from urllib.parse import quote

import nbformat
import pytest
import yaml

from conftest import ROOT, chapter_pages

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"].rstrip("/")
FIND_SPEC = importlib.util.find_spec
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def colab_cell(notebook):
    return nbformat.read(notebook, as_version=4).cells[0]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_first_cell_installs_knobs_from_the_configured_repository(notebook):
    cell = colab_cell(notebook)
    assert cell.cell_type == "code" and "remove-cell" in cell.metadata.get("tags", []), \
        "the first cell is the Colab set-up cell, removed from the book"
    assert f"git+{REPOSITORY}" in cell.source, f"the Colab cell must install from repository.url ({REPOSITORY})"


def run_colab_cell(source, monkeypatch, in_colab: bool, knobs_installed: bool):
    """Execute the cell as a kernel would, with Colab and the pip call simulated; returns the pip commands."""
    commands = []
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (FIND_SPEC(name, *a) if knobs_installed or name != "knobs" else None))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: commands.append(cmd) or
                        subprocess.CompletedProcess(cmd, 0))
    exec(compile(source, "<colab cell>", "exec"), {})
    return commands


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_colab_cell_installs_only_in_colab_and_only_when_missing(monkeypatch, notebook):
    source = colab_cell(notebook).source
    assert run_colab_cell(source, monkeypatch, in_colab=False, knobs_installed=False) == []  # local Jupyter, Binder
    assert run_colab_cell(source, monkeypatch, in_colab=True, knobs_installed=True) == []  # already installed
    (command,) = run_colab_cell(source, monkeypatch, in_colab=True, knobs_installed=False)
    assert command[:4] == [sys.executable, "-m", "pip", "install"] and f"git+{REPOSITORY}" in command
    # the fresh install is importable in the same kernel (import caches were invalidated)
    assert "importlib.invalidate_caches()" in source, "copy chapter 1's first cell"


def pins(path):
    """{name: version} of the `name==version` lines of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#;]+)", line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_binder_pins_agree_with_the_book_and_use_cpu_torch():
    binder, book = pins(ROOT / "binder" / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert binder and all(book.get(name) == version for name, version in binder.items()), \
        {n: (v, book.get(n)) for n, v in binder.items() if book.get(n) != v}
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text and "-c ../constraints.txt" in text
    assert re.search(r"^-e \.", text, re.M), "Binder installs the knobs library itself"
    # the packages the chapters import are all there
    for package in ("torch", "numpy", "matplotlib", "ipywidgets", "pillow", "tqdm", "jupyterlab", "jupyterquiz",
                    "jupyterlab-myst"):  # the chapters' MyST rendered in JupyterLab (issue 16)
        assert package in binder
    python = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert python == f"python-{sys.version_info.major}.{sys.version_info.minor}", "Binder runs the tested Python"


def test_launch_buttons_are_driven_by_the_repository_url():
    buttons = CONFIG["launch_buttons"]
    assert buttons["binderhub_url"] and buttons["colab_url"] and "jupyterhub_url" in buttons
    assert buttons["notebook_interface"] == "jupyterlab"
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", REPOSITORY), "Colab and Binder links need a GitHub URL"


@pytest.mark.html
@pytest.mark.parametrize("page", [p.name for p in chapter_pages(ROOT / "_build" / "html")] or ["(book not built)"])
def test_built_launch_links_point_at_the_repository(built_html, page):
    html = (built_html / "notebooks" / page).read_text()
    org_repo = REPOSITORY.removeprefix("https://github.com/")
    branch, notebook = CONFIG["repository"].get("branch", "main"), f"notebooks/{page.replace('.html', '.ipynb')}"
    expected = {"binderhub_url": f"/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{notebook}",
                "colab_url": f"/github/{org_repo}/blob/{branch}/{notebook}",
                "jupyterhub_url": f"/hub/user-redirect/git-pull?repo={quote(REPOSITORY, safe='/')}"}
    for key, tail in expected.items():
        base = (CONFIG["launch_buttons"].get(key) or "").rstrip("/")
        if base:  # an unset hub shows no button (a dead link would be worse)
            assert f'href="{base}{tail}' in html.replace("&amp;", "&"), f"{key} button missing or wrong"


def test_sphinx_extension_keeps_each_script_once_and_in_order():
    from sphinx.builders.html._assets import _JavaScript

    from bookext.selfcontained import unique_scripts

    body = "const THEBE_JS_URL = 'x'"
    scripts = [_JavaScript("a.js"), _JavaScript(None, body=body), _JavaScript("b.js"), _JavaScript("", body=body)]
    assert unique_scripts(scripts) == scripts[:3]


def test_how_to_use_gives_working_commands_for_each_system():
    """book/how-to-use.md: macOS/Linux and Windows (no make, no .venv/bin/), from the configured repository, with
    the learner's requirements; and what VS Code's notebook editor shows (issue 16)."""
    text = (ROOT / "book" / "how-to-use.md").read_text()
    blocks = re.findall(r"^\*\*([^*\n]+)\*\*[^\n]*\n\n```\w*\n(.*?)```", text, re.S | re.M)
    systems = {title.strip(): block for title, block in blocks if "git clone" in block}
    unix, windows = systems["macOS and Linux"], systems["Windows"]
    for block in (unix, windows):
        assert f"git clone {REPOSITORY}" in block, "clone the repository the launch buttons point at"
        assert "-m venv .venv" in block and "-m pip install -r binder" in block and "jupyter lab notebooks" in block
        assert "make" not in block.split()
    assert ".venv/bin/" in unix and ".venv/bin/" not in windows and ".venv\\Scripts\\" in windows
    assert "binder\\requirements.txt" in windows
    vscode = text.split("### In VS Code", 1)[1].split("\n## ", 1)[0]
    for said in ("{eval}", "{term}", ":::{admonition}", "# Solution", "Select Kernel", "HTML book"):
        assert said in vscode, said
