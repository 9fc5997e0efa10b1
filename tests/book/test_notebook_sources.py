"""The chapter notebooks as stored in git: no outputs, markup that JupyterLab renders as the book does.

Fast: reads the files only (the last two tests run a notebook under nbval). What a learner then sees in
JupyterLab is tests/book/test_jupyterlab_learner_view.py; CONTRIBUTING.md has the conventions.

- No outputs in git. The checked cells' (`# NBVAL_CHECK_OUTPUT`) expected outputs live in
  notebooks/expected/NN_topic.json (`make record`); `make test` merges them into copies of the notebooks
  (`tools/nb.py merge`) and runs nbval on those; a changed output still fails.
- Prose numbers are {eval}`name`, each with the value JupyterLab shows before anything runs, stored in
  the markdown cell's `user_expressions` by `make record` (prose metadata, not an output: it stays).
- Citations are links whose text is what the book prints; each chapter's keys carry its prefix.
- The cells the book hides start collapsed in Jupyter; a collapsed solution's first line gives nothing away.
- The migration to this markup (tools/myst_migrate.py) has nothing left to do.
"""
import json
import re
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT
from myst_migrate import bib_entries, cite_text, main as migrate_main  # tools/ (pytest's pythonpath has it)
from nb import EVAL, SOLUTION_FIRST_LINE, expected_collapse, expected_path, is_checked, merge, read_expected, \
    shown_in_book, shown_in_jupyterlab, to_ipynb, to_py

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
CITE_LINK = re.compile(r"\[([^\]]*)\]\(#cite:([a-z]+):([^)]+)\)")


def read(notebook):
    return nbformat.read(notebook, as_version=4)


def prose(notebook) -> str:
    return "\n".join(c.source for c in read(notebook).cells if c.cell_type == "markdown")


chapters = pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)


# ---- no outputs in git; the checked cells' expected outputs in notebooks/expected/ ---------------------------------
@chapters
def test_no_empty_markdown_cell(notebook):
    """jupyterlab-myst renders an empty markdown cell as nothing, and the learner view reads that as MyST not
    rendering (chapters 3 and 7 each had one left by an edit)."""
    empty = [i for i, c in enumerate(read(notebook).cells) if c.cell_type == "markdown" and not c.source.strip()]
    assert not empty, f"{notebook.name}: empty markdown cells at {empty}"


@chapters
def test_notebooks_in_git_carry_no_outputs(notebook):
    stored = [c.source[:80] for c in read(notebook).cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, f"{notebook.name}: outputs stored (run `python tools/nb.py clean {notebook.relative_to(ROOT)}`): {stored}"


@chapters
def test_every_checked_cell_has_its_expected_output_recorded(notebook):
    checked = [c.source for c in read(notebook).cells if is_checked(c)]
    assert checked, f"{notebook.name}: mark deterministic cells with # NBVAL_CHECK_OUTPUT"
    recorded = {entry["source"]: entry for entry in read_expected(notebook)}
    redo = f"run `make record NB={notebook.relative_to(ROOT)}`"
    missing = [source[:200] for source in checked if source not in recorded]
    assert not missing, f"{notebook.name}: checked cells without a recorded output ({redo}):\n{missing}"
    stale = [source[:200] for source in recorded if source not in checked]
    assert not stale, f"{expected_path(notebook).name}: outputs of cells that are no longer checked ({redo}):\n{stale}"
    for source in checked:
        outputs = recorded[source]["outputs"]
        assert outputs and recorded[source]["execution_count"], source[:200]
        assert not any(o["output_type"] == "error" for o in outputs), source[:200]
        assert all(o.get("name") != "stderr" for o in outputs), f"a warning was recorded:\n{source[:200]}"


def test_no_expected_outputs_without_their_notebook():
    orphans = {p.stem for p in (ROOT / "notebooks" / "expected").glob("*.json")} - {p.stem for p in CHAPTERS}
    assert not orphans, orphans


def run_nbval(folder) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
                           "-p", "no:cacheprovider", str(folder)], capture_output=True, text=True, cwd=folder)


def test_nbval_fails_a_checked_cell_whose_expected_output_changed(tmp_path):
    """The mechanism: an expected output in the sidecar that a fresh run does not reproduce fails nbval."""
    source = tmp_path / "notebooks"
    (source / "expected").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(6 * 7)")])
    nbformat.write(nb, source / "changed.ipynb")
    for printed, passes in (("42\n", True), ("41\n", False)):
        entry = {"source": nb.cells[0].source, "execution_count": 1,
                 "outputs": [{"output_type": "stream", "name": "stdout", "text": printed}]}
        expected_path(source / "changed.ipynb").write_text(json.dumps({"cells": [entry]}))
        merge([str(source / "changed.ipynb")], str(tmp_path / f"nbval-{printed.strip()}"))
        result = run_nbval(tmp_path / f"nbval-{printed.strip()}")
        assert (result.returncode == 0) == passes, result.stdout[-2000:]
    assert "41" in result.stdout and "42" in result.stdout, result.stdout[-2000:]


def test_nbval_fails_a_chapter_whose_recorded_number_changed(tmp_path):
    """The same on a real chapter and its real sidecar: one digit changed in chapter 1's recorded parameter count."""
    notebook = ROOT / "notebooks" / "01_parameters.ipynb"
    (tmp_path / "notebooks" / "expected").mkdir(parents=True)
    copy = tmp_path / "notebooks" / notebook.name
    copy.write_text(notebook.read_text())
    recorded = json.loads(expected_path(notebook).read_text())
    entry = next(e for e in recorded["cells"] if "1,733" in json.dumps(e["outputs"]))
    entry["outputs"] = json.loads(json.dumps(entry["outputs"]).replace("1,733", "1,734"))
    expected_path(copy).write_text(json.dumps(recorded))
    merge([str(copy)], str(tmp_path / "nbval"))
    result = run_nbval(tmp_path / "nbval")
    assert result.returncode == 1 and "1,734" in result.stdout and "1 failed" in result.stdout, result.stdout[-3000:]


def test_a_checked_cell_without_a_recorded_output_stops_the_merge(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)")])
    nbformat.write(nb, tmp_path / "new.ipynb")
    with pytest.raises(SystemExit, match="make record"):
        merge([str(tmp_path / "new.ipynb")], str(tmp_path / "out"))


def test_the_merged_copies_check_each_prose_where_jupyterlab_evaluates_it(tmp_path):
    """nbval runs the copies: a prose {eval} whose name is glued only further down fails there, as it would in
    JupyterLab's Run All (the book, which reads the glue data of the whole notebook, would still build)."""
    glue = nbformat.v4.new_code_cell("from knobs import chapter\nchapter.glue('answer', '42')")
    late = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("It is {eval}`answer`."), glue])
    early = nbformat.v4.new_notebook(cells=[glue, nbformat.v4.new_markdown_cell("It is {eval}`answer`.")])
    for name, nb in (("late", late), ("early", early)):
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        merge([str(tmp_path / f"{name}.ipynb")], str(tmp_path / f"nbval-{name}"))
    assert run_nbval(tmp_path / "nbval-early").returncode == 0
    result = run_nbval(tmp_path / "nbval-late")
    assert result.returncode == 1 and "not glued above this prose" in result.stdout, result.stdout[-2000:]


# ---- prose numbers -------------------------------------------------------------------------------------------------
@chapters
def test_prose_numbers_are_eval_roles_each_with_its_stored_value(notebook):
    """JupyterLab shows a stored value before the learner runs anything; a new or edited {eval} needs `make record`."""
    problems = []
    for index, cell in enumerate(read(notebook).cells):
        if cell.cell_type != "markdown":
            assert "user_expressions" not in cell.metadata
            continue
        assert "{glue" not in cell.source, f"{notebook.name} cell {index}: write {{eval}}`name` (CONTRIBUTING.md)"
        names = list(dict.fromkeys(EVAL.findall(cell.source)))
        stored = cell.metadata.get("user_expressions", [])
        if [e["expression"] for e in stored] != names:
            problems.append(f"cell {index}: {{eval}}s {names}, stored values for {[e['expression'] for e in stored]}")
        for e in stored:
            plain = e["result"].get("data", {}).get("text/plain", "")
            if e["result"].get("status") != "ok" or not re.fullmatch(r"'.*'|\".*\"", plain, re.S):
                problems.append(f"cell {index}: {{eval}}`{e['expression']}` stored {e['result']} (a glued text expected)")
            elif shown_in_jupyterlab(plain) != shown_in_book(plain):  # an escape: a backslash in JupyterLab
                problems.append(f"cell {index}: {{eval}}`{e['expression']}` shows {shown_in_jupyterlab(plain)!r} in "
                                f"JupyterLab, {shown_in_book(plain)!r} in the book")
    assert not problems, f"{notebook.name} (run `make record NB={notebook.relative_to(ROOT)}`):\n" + "\n".join(problems)


def test_the_chapters_with_many_numbers_carry_them_as_eval_roles():
    assert len(EVAL.findall(prose(ROOT / "notebooks" / "05_pruning.ipynb"))) >= 60
    assert len(EVAL.findall(prose(ROOT / "notebooks" / "07_scale.ipynb"))) >= 30


# ---- citations -----------------------------------------------------------------------------------------------------
@chapters
def test_citations_are_links_that_say_what_the_book_prints(notebook):
    """jupyterlab-myst shows a {cite} role's bare key; a link shows its text, which must be the book's citation."""
    text = prose(notebook)
    assert "{cite" not in text, f"{notebook.name}: write citations as links (CONTRIBUTING.md, tools/myst_migrate.py)"
    entries = bib_entries()
    links = CITE_LINK.findall(text)
    assert links, f"{notebook.name} cites nothing"
    wrong = [(shown, cite_text(kind, keys.split(","), entries)) for shown, kind, keys in links
             if kind not in ("p", "t", "alp") or shown != cite_text(kind, keys.split(","), entries)]
    assert not wrong, f"{notebook.name}: link text (shown, what the book prints): {wrong}"


@chapters
def test_a_citation_inside_parentheses_has_no_brackets_of_its_own(notebook):
    """"(weight tying, Press and Wolf, 2017)", not "(weight tying, (Press and Wolf, 2017))": {cite:alp} there."""
    from myst_migrate import _open_parentheses

    for cell in read(notebook).cells:
        for match in CITE_LINK.finditer(cell.source if cell.cell_type == "markdown" else ""):
            nested = match.group(2) == "p" and _open_parentheses(cell.source[:match.start()]) > 0
            assert not nested, f"{notebook.name}: {cell.source[max(0, match.start() - 80):match.end()]!r}"


@chapters
def test_citations_carry_the_chapters_key_prefix(notebook):
    """Each chapter's bibliography uses :keyprefix: chNN-, so two chapters may cite the same work (CONTRIBUTING)."""
    prefix = f"ch{notebook.stem[:2]}-"
    text = prose(notebook)
    assert f":keyprefix: {prefix}" in text, f"{notebook.name}: its bibliography needs :keyprefix: {prefix}"
    keys = [k.strip() for *_, group in CITE_LINK.findall(text) for k in group.split(",")]
    assert keys and all(k.startswith(prefix) for k in keys), [k for k in keys if not k.startswith(prefix)]


@chapters
def test_the_references_heading_says_something_in_jupyterlab(notebook):
    """jupyterlab-myst renders the {bibliography} directive as nothing: a sentence says where the works are."""
    cell = next(c for c in read(notebook).cells if c.cell_type == "markdown" and "## References" in c.source)
    between = cell.source.split("## References", 1)[1].split("```{bibliography}", 1)[0]
    assert "book/references.bib" in between, between


# ---- collapsed in Jupyter what the book hides ----------------------------------------------------------------------
@chapters
def test_cells_the_book_hides_start_collapsed(notebook):
    cells = read(notebook).cells
    wrong = [(i, c.metadata.get("tags"), c.metadata.get("jupyter")) for i, c in enumerate(cells)
             if {k: v for k, v in c.metadata.get("jupyter", {}).items() if k in ("source_hidden", "outputs_hidden")}
             != expected_collapse(c)]
    assert not wrong, f"{notebook.name}: run `python tools/nb.py collapse {notebook.relative_to(ROOT)}`: {wrong}"
    solutions = [c for c in cells if "solution" in c.metadata.get("tags", [])]
    plumbing = [c for c in cells if "remove-cell" in c.metadata.get("tags", [])]
    assert solutions and all(c.metadata["jupyter"]["source_hidden"] for c in solutions + plumbing)
    assert "remove-cell" in cells[0].metadata.get("tags", []), "the Colab cell is plumbing"


@chapters
def test_a_collapsed_solution_gives_nothing_away(notebook):
    """JupyterLab previews a collapsed cell by its first line: "# Solution", then the reasoning below it."""
    firsts = [c.source.partition("\n")[0] for c in read(notebook).cells if "solution" in c.metadata.get("tags", [])
              and c.cell_type == "code"]
    assert firsts and all(SOLUTION_FIRST_LINE.match(f) for f in firsts), firsts


def test_the_collapse_rule_follows_the_books_tags():
    def cell(tags, kind="code"):
        return {"cell_type": kind, "metadata": {"tags": tags}}

    assert expected_collapse(cell(["hide-input", "solution"])) == {"source_hidden": True}
    assert expected_collapse(cell(["remove-cell"])) == {"source_hidden": True, "outputs_hidden": True}
    assert expected_collapse(cell(["hide-output"])) == {"outputs_hidden": True}
    assert expected_collapse(cell(["remove-input"])) == {"source_hidden": True}
    assert expected_collapse(cell([])) == {} and expected_collapse(cell(["remove-cell"], "markdown")) == {"source_hidden": True}


def test_the_script_round_trip_keeps_the_collapse(tmp_path):
    """Editing as a script (tools/nb.py to-py, to-ipynb) gives back the same collapse metadata."""
    src = ROOT / "notebooks" / "05_pruning.ipynb"
    to_py(str(src), str(tmp_path / "draft.py"))
    to_ipynb(str(tmp_path / "draft.py"), str(tmp_path / "back.ipynb"))
    before, after = read(src), read(tmp_path / "back.ipynb")
    assert [c.metadata.get("jupyter") for c in after.cells] == [c.metadata.get("jupyter") for c in before.cells]


# ---- the migration -------------------------------------------------------------------------------------------------
def test_the_migration_has_nothing_left_to_do(capsys):
    """tools/myst_migrate.py is idempotent: on the chapters as stored it changes nothing. A chapter (or a merge)
    that brings back {glue:text}, {cite} roles, glue cells after their prose or open solutions fails here."""
    assert migrate_main(["--check", *map(str, CHAPTERS)]) == 0, capsys.readouterr().out


def test_browser_tests_share_one_playwright_session():
    """A second sync_playwright() inside the suite's session fails ("Sync API inside the asyncio loop"):
    every browser test takes the `chromium` fixture of tests/conftest.py instead of starting its own."""
    tests = list((ROOT / "tests").rglob("test_*.py"))
    assert len(tests) > 20
    starting = [p.name for p in tests if re.search(r"with .*sync_playwright\(\)", p.read_text())]
    assert not starting, f"use the chromium fixture instead of sync_playwright() in {starting}"
