"""What a learner sees of the chapters in JupyterLab (with jupyterlab-myst), before and after Run All (issue 16).

One JupyterLab server (tests/book/test_jupyterlab.py's JupyterLabServer) serves copies of the chapters, opened as
a fresh clone would be: no outputs, a notary of its own (so untrusted), the project's environment. Every chapter is
checked as it opens and again after Run ▸ Run All Cells (chapter 5 has 65 computed numbers in its prose, chapter 7
32): 20–30 s a chapter, about 4 minutes in all.
Each time, through jupyterlab_view.problems, read from JupyterLab's own cell widgets:
- no raw markup in any cell's visible text (:::{, ```{, {term}, {cite, {glue, {eval, {bibliography}, ...),
  and every markdown cell rendered by jupyterlab-myst;
- every {eval} shows a value (the one `make record` stored before Run All, the kernel's after);
- solutions and plumbing (Colab, glue) collapsed, a collapsed solution's preview giving nothing away;
- no error output, no stderr output, no failed {eval}.
A notebook in the old markup is the negative control: the same check must catch it.
Screenshots: _build/screenshots/learner-view-chNN-{before,after}-cellNN.png (the top, a solution, the summary).
"""
import shutil

import nbformat
import pytest

from conftest import ROOT
from jupyterlab_view import learner_view, open_notebook, problems, run_all, screenshot_cells, shut_down_kernels
from test_jupyterlab import JupyterLabServer

pytestmark = pytest.mark.browser

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))

OLD_MARKUP = "old_markup.ipynb"


def old_markup_notebook() -> nbformat.NotebookNode:
    """What every chapter looked like before issue 16: open solution and glue cells, glue and cite roles."""
    cells = [nbformat.v4.new_markdown_cell(":::{admonition} In this chapter\n:class: tip\nText.\n:::\n\n"
                                           "It has {glue:text}`total` parameters {cite:p}`ch01-radford2019language`."),
             nbformat.v4.new_code_cell("answer = 41 + 1  # Solution: 42", metadata={"tags": ["hide-input", "solution"]}),
             nbformat.v4.new_code_cell("total = '1,733'", metadata={"tags": ["remove-cell"]})]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learner-view")
    (folder / "root").mkdir()
    for chapter in CHAPTERS:  # copies: autosave must not write outputs into the repository
        shutil.copy(chapter, folder / "root" / chapter.name)
    nbformat.write(old_markup_notebook(), folder / "root" / OLD_MARKUP)
    # its own data folder: a notary that has signed nothing (a fresh clone's notebooks are untrusted)
    server = JupyterLabServer(folder, extra_env={"JUPYTER_DATA_DIR": str(folder / "data")})
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(chromium, lab):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    try:
        shut_down_kernels(page)
    finally:
        context.close()


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_reads_well_in_jupyterlab(page, lab, screenshots, notebook):
    open_notebook(page, lab, notebook.name)
    for stage in ("before", "after"):
        if stage == "after":
            run_all(page)
        cells = learner_view(page)
        assert all(c["mystRendered"] for c in cells if c["type"] == "markdown"), "jupyterlab-myst is not rendering"
        summary = next(c["index"] for c in cells if c["source"].startswith("## Summary"))
        solution = next(c["index"] for c in cells if "solution" in c["tags"])
        screenshot_cells(page, [1, solution, summary],
                         lambda i, stage=stage: screenshots / f"learner-view-ch{notebook.stem[:2]}-{stage}-cell{i:02d}.png")
        found = problems(cells, ran=stage == "after")
        assert not found, f"{notebook.name}, {stage} Run All:\n" + "\n".join(found)
        shown = [c for c in cells if c["type"] == "markdown" and "{eval}" in c["source"]]
        assert all(c["userExpressions"] for c in shown)
        if stage == "after":
            assert "This chapter ran top to bottom in" in cells[-1]["text"], cells[-1]["text"][-300:]
    if notebook.stem == "01_parameters":  # the numbers themselves, in the rendered summary
        assert "1,733" in cells[summary]["text"] and "124,439,808" in cells[summary]["text"], cells[summary]["text"]
    assert page.errors == [], page.errors


def test_the_check_catches_the_old_markup(page, lab):
    open_notebook(page, lab, OLD_MARKUP)
    found = "\n".join(problems(learner_view(page), ran=False))
    for expected in ("a solution is open", "a plumbing cell is open", "a {glue} role", "citation keys shown"):
        assert expected in found, found
