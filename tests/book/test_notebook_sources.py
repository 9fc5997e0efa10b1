"""The chapter notebooks as stored: nbval's checked cells carry the outputs they are compared against.

nbval (`make test`, `--nbval-lax`) compares a fresh run of each `# NBVAL_CHECK_OUTPUT` cell with the
output stored in the notebook. A checked cell stored without output would pass whatever it printed,
so these tests make sure every one has its recorded output (`python tools/nb.py record ...`), and that
nothing else is stored (the book executes the notebooks itself; stored figures would only bloat git).
"""
import re
import sys

import nbformat
import pytest

from conftest import ROOT
from nb import is_checked  # tools/nb.py (pytest's pythonpath has tools/)

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def code_cells(notebook):
    return [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_checked_cell_stores_the_output_nbval_compares(notebook):
    checked = [c for c in code_cells(notebook) if is_checked(c)]
    assert checked, f"{notebook.name}: mark deterministic cells with # NBVAL_CHECK_OUTPUT"
    for cell in checked:
        assert cell.outputs and cell.execution_count, \
            f"{notebook.name}: run `python tools/nb.py record {notebook.relative_to(ROOT)}`\n{cell.source[:200]}"
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source[:200]
        assert all(o.get("name") != "stderr" for o in cell.outputs), f"a warning was recorded:\n{cell.source[:200]}"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_only_checked_cells_store_outputs(notebook):
    stray = [c.source[:80] for c in code_cells(notebook) if c.outputs and not is_checked(c)]
    assert not stray, f"{notebook.name}: outputs stored in unchecked cells (tools/nb.py record drops them): {stray}"


def test_nbval_fails_a_checked_cell_whose_output_changed(tmp_path):
    """The mechanism itself: a recorded output that no longer matches makes nbval fail."""
    import subprocess

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(6 * 7)")]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="41\n")]
    nb.cells[0].execution_count = 1
    nbformat.write(nb, tmp_path / "changed.ipynb")
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
                             "-p", "no:cacheprovider", str(tmp_path / "changed.ipynb")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and "41" in result.stdout and "42" in result.stdout, result.stdout[-2000:]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_citations_carry_the_chapters_key_prefix(notebook):
    """Each chapter's bibliography uses :keyprefix: chNN-, so two chapters may cite the same work (CONTRIBUTING)."""
    import re

    prefix = f"ch{notebook.stem[:2]}-"
    text = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown")
    assert f":keyprefix: {prefix}" in text, f"{notebook.name}: its bibliography needs :keyprefix: {prefix}"
    keys = [k.strip() for group in re.findall(r"\{cite:\w+\}`([^`]+)`", text) for k in group.split(",")]
    assert keys and all(k.startswith(prefix) for k in keys), [k for k in keys if not k.startswith(prefix)]


def test_browser_tests_share_one_playwright_session():
    """A second sync_playwright() inside the suite's session fails ("Sync API inside the asyncio loop"):
    every browser test takes the `chromium` fixture of tests/conftest.py instead of starting its own."""
    starting = [p.name for p in (ROOT / "tests").glob("test_*.py") if re.search(r"with .*sync_playwright\(\)", p.read_text())]
    assert not starting, f"use the chromium fixture instead of sync_playwright() in {starting}"
