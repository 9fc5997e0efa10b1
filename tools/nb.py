"""Chapter notebooks: write them as scripts, run them as a learner does, keep git free of outputs.

    python tools/nb.py to-ipynb draft.py notebooks/NN_topic.ipynb   # script -> notebook (no outputs)
    python tools/nb.py to-py notebooks/NN_topic.ipynb draft.py      # notebook -> script, to edit
    python tools/nb.py record notebooks/NN_topic.ipynb [...]        # run it; store what it must show (make record)
    python tools/nb.py prose notebooks/NN_topic.ipynb [...] [--store]  # run it; check (and store) its {eval}s
    python tools/nb.py collapse notebooks/NN_topic.ipynb [...]      # (re)write collapse metadata from tags
    python tools/nb.py clean notebooks/NN_topic.ipynb [...]         # drop outputs (a notebook saved from Jupyter)
    python tools/nb.py merge --out DIR notebooks/NN_topic.ipynb [...]  # copies with the expected outputs, for nbval

The .ipynb in notebooks/ is the source of truth; scripts are a way to edit it. Cells start with `# %%`
(code; `tags=["hide-cell", "solution"]` after it) or `# %% [markdown]`.

Notebooks in git carry no outputs. `record` runs a notebook the way JupyterLab's Run All does (live
mode, as nbval does; markdown cells' {eval} expressions evaluated in the kernel when Run All reaches
them) and stores, for each chapter:
- in notebooks/expected/NN_topic.json, the outputs of the cells marked `# NBVAL_CHECK_OUTPUT`, keyed by
  the cell's source: what nbval compares a fresh run against (`merge` puts them into copies of the
  notebooks, `make test` runs nbval on those copies);
- in each markdown cell's `user_expressions` metadata, the value of each of its {eval} expressions:
  jupyterlab-myst shows them before anything has run (a fresh clone shows numbers, not placeholders);
  running the cell replaces them with the learner's own. They are prose, not outputs: they stay in git.
Re-record after editing a checked cell or a computed number, and read the diff: a changed number is a
changed result. `record` fails (exit 1) when an {eval} cannot be evaluated where it stands (a name glued
further down, a typo) or would show something else in JupyterLab than the book prints.

The tags that hide a cell in the book also collapse it in JupyterLab, Notebook 7 and VS Code:
collapse_metadata writes `metadata.jupyter.source_hidden` / `outputs_hidden` from them (to-ipynb,
record and collapse do it; tests/book/test_notebook_sources.py checks every notebook agrees).
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import jupytext
import nbformat

KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def to_ipynb(src: str, out: str) -> None:
    nb = jupytext.read(src, fmt="py:percent")
    nb.metadata = {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    collapse_metadata(nb)
    nbformat.validate(nb)
    nbformat.write(nb, out)


def to_py(src: str, out: str) -> None:
    jupytext.write(nbformat.read(src, as_version=4), out, fmt="py:percent")


# ---- collapse: the tags that hide a cell in the book collapse it in Jupyter ---------------------------------
# Jupyter Book's hiding tags -> what JupyterLab 4 (and Notebook 7, VS Code) collapse: (source_hidden,
# outputs_hidden). "hide-*" shows a toggle in the book and "remove-*" drops the part; in Jupyter both become
# a collapsed part, one click away (the notebook is the learner's own: nothing is deleted). myst-nb ignores
# this metadata. A collapsed input shows its first line: a solution's is "# Solution" (SOLUTION_FIRST_LINE).
COLLAPSE_TAGS = {
    "hide-input": (True, False), "remove-input": (True, False),
    "hide-output": (False, True), "remove-output": (False, True),
    "hide-cell": (True, True), "remove-cell": (True, True),
    "solution": (True, False),  # not its output: JupyterLab unfolds a cell's outputs when it runs it anyway
}
SOLUTION_FIRST_LINE = re.compile(r"^# Solution[^:=]*$")  # says nothing about the answer


def expected_collapse(cell) -> dict:
    """The `jupyter` metadata a cell's tags call for: {} when nothing is collapsed."""
    tags = cell.get("metadata", {}).get("tags", [])
    source = any(COLLAPSE_TAGS.get(t, (False, False))[0] for t in tags)
    outputs = any(COLLAPSE_TAGS.get(t, (False, False))[1] for t in tags)
    if cell.get("cell_type") != "code":
        outputs = False  # a markdown cell has no outputs to collapse
    return {k: True for k, on in (("source_hidden", source), ("outputs_hidden", outputs)) if on}


def collapse_metadata(nb) -> int:
    """Write each cell's `jupyter.source_hidden` / `outputs_hidden` from its tags (and drop stale ones).

    Other keys under `jupyter` are kept. Returns how many cells changed.
    """
    changed = 0
    for cell in nb.cells:
        jupyter = {k: v for k, v in cell.metadata.get("jupyter", {}).items()
                   if k not in ("source_hidden", "outputs_hidden")}
        jupyter.update(expected_collapse(cell))
        before = cell.metadata.get("jupyter")
        if jupyter:
            cell.metadata["jupyter"] = jupyter
        else:
            cell.metadata.pop("jupyter", None)
        changed += cell.metadata.get("jupyter") != before
    return changed


def collapse(path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    changed = collapse_metadata(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    print(f"{path}: collapse metadata changed on {changed} cells")


# ---- outputs: none in git; the checked cells' expected outputs in a sidecar file -------------------------------
CHECKED = "# NBVAL_CHECK_OUTPUT"


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECKED)


def expected_path(notebook: str | Path) -> Path:
    """notebooks/NN_topic.ipynb -> notebooks/expected/NN_topic.json (the checked cells' recorded outputs)."""
    notebook = Path(notebook)
    return notebook.parent / "expected" / f"{notebook.stem}.json"


def read_expected(notebook: str | Path) -> list[dict]:
    """The recorded checked cells of a notebook: [{"source", "execution_count", "outputs"}], [] if none."""
    path = expected_path(notebook)
    return json.loads(path.read_text())["cells"] if path.exists() else []


def clear_outputs(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


def clean(path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    clear_outputs(nb)
    nbformat.write(nb, path)
    print(f"{path}: outputs cleared")


# What merge puts before each markdown cell with {eval}s, so that nbval's run also checks what JupyterLab's
# Run All evaluates there: each name bound by chapter.glue above it, and not reassigned since.
PROSE_CHECK = (
    "# tools/nb.py merge: the {{eval}} names of the next markdown cell, as JupyterLab's Run All evaluates them there\n"
    "from knobs import chapter as _chapter\n"
    "_unbound = [_n for _n in {names!r} if _n not in _chapter._BOUND\n"
    "            or get_ipython().user_ns.get(_n) is not _chapter._BOUND[_n]]\n"
    "assert not _unbound, f'{{_unbound}}: not glued above this prose (chapter.glue): JupyterLab would show an error here'")


def merge(paths: list[str], out_dir: str) -> None:
    """Copies of the notebooks in out_dir for nbval: each checked cell with its recorded output, each prose checked.

    A checked cell with no recorded output (a new or edited cell: `make record`) is an error here, so
    nbval never passes a check that compares nothing. Before each markdown cell that has {eval}s goes a
    code cell (PROSE_CHECK) that fails unless chapter.glue has bound each of its names above it.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    missing = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        clear_outputs(nb)
        recorded = {entry["source"]: entry for entry in read_expected(path)}
        for index, cell in enumerate(nb.cells):
            if is_checked(cell):
                entry = recorded.get(cell.source)
                if entry is None:
                    missing.append(f"{path}: cell {index} ({cell.source.strip().splitlines()[-1][:60]})")
                    continue
                # nbval refuses a stored output without an execution count ("unrun reference cell")
                cell.execution_count = entry["execution_count"]
                cell.outputs = [nbformat.from_dict(o) for o in entry["outputs"]]
        cells = []
        for cell in nb.cells:
            names = list(dict.fromkeys(EVAL.findall(cell.source))) if cell.cell_type == "markdown" else []
            if names:
                cells.append(nbformat.v4.new_code_cell(PROSE_CHECK.format(names=names)))
            cells.append(cell)
        nb.cells = cells
        nbformat.write(nb, out / Path(path).name)
    if missing:
        sys.exit("checked cells with no recorded output (run `make record NB=...`):\n  " + "\n  ".join(missing))
    print(f"{len(paths)} notebooks with their expected outputs -> {out}")


# ---- running a notebook as JupyterLab's Run All does ------------------------------------------------------------
EVAL = re.compile(r"\{eval\}`([^`]+)`")


def shown_in_jupyterlab(plain: str) -> str:
    """What jupyterlab-myst 2.7 shows for an {eval} value's text/plain: the repr without its outer quotes."""
    return re.sub(r"^([\"'])(.*)\1$", r"\2", plain, flags=re.S)


def shown_in_book(plain: str) -> str:
    """What the book shows (tools/bookext/evalglue.py, myst-nb's format_plain_text): the repr evaluated back."""
    import ast

    try:
        return str(ast.literal_eval(plain))
    except (SyntaxError, ValueError):
        return plain


def run_all(path: str | Path):
    """Run a notebook top to bottom as Run All does, markdown cells included, in live mode (as nbval).

    At each markdown cell, its {eval} expressions are evaluated in the kernel as user expressions, as
    jupyterlab-myst does when Run All reaches the cell. Returns (executed notebook, {cell index: the
    cell's `user_expressions` metadata as jupyterlab-myst writes it}, problems). A problem is an
    expression that fails there (a name glued further down, a typo; the book, which reads the glue data
    of the whole notebook, would still build) or a value that differs from the glued one the book
    prints (a name reassigned after its glue call), or a cell that raised.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    clear_outputs(nb)
    env = {k: v for k, v in os.environ.items() if k != "KNOBS_STATIC"}  # the learner's path: live labs
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    values, problems, glued = {}, [], {}
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as error:
                    last = re.sub(r"\x1b\[[0-9;]*m", "", str(error).strip().splitlines()[-1])
                    problems.append(f"cell {index}: {last}")
                    break
                for output in cell.get("outputs", []):  # myst-nb's glue: what the book will print
                    name = output.get("metadata", {}).get("scrapbook", {}).get("name")
                    if name:
                        glued[name] = output["data"].get("application/papermill.record/text/plain")
                continue
            expressions = list(dict.fromkeys(EVAL.findall(cell.source)))
            if cell.cell_type != "markdown" or not expressions:
                continue
            msg_id = client.kc.execute("", silent=False, store_history=False,
                                       user_expressions={str(i): e for i, e in enumerate(expressions)})
            reply = client.wait_for_reply(msg_id)["content"]["user_expressions"]
            values[index] = []
            for i, expression in enumerate(expressions):
                result = reply[str(i)]
                if result["status"] != "ok":
                    problems.append(f"cell {index}: {{eval}}`{expression}`: {result['ename']}: {result['evalue']}")
                    result = {k: v for k, v in result.items() if k != "traceback"}
                elif expression not in glued:
                    problems.append(f"cell {index}: {{eval}}`{expression}` is not glued above it (the book answers "
                                    f"{{eval}} from the glue data: chapter.glue({expression!r}, ...))")
                elif result["data"].get("text/plain") != glued[expression]:
                    problems.append(f"cell {index}: {{eval}}`{expression}` shows {result['data'].get('text/plain')} in "
                                    f"JupyterLab but the book prints the glued {glued[expression]}")
                elif shown_in_jupyterlab(glued[expression]) != shown_in_book(glued[expression]):
                    problems.append(f"cell {index}: {{eval}}`{expression}`: JupyterLab shows "
                                    f"{shown_in_jupyterlab(glued[expression])!r}, the book {shown_in_book(glued[expression])!r} "
                                    "(glue a text without escapes: typographic quotes, no backslashes)")
                values[index].append({"expression": expression, "result": result})
    return nb, values, problems


def store_prose_values(nb, values: dict[int, list[dict]]) -> None:
    """Keep each markdown cell's {eval} values as its `user_expressions` (jupyterlab-myst shows them unrun)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.metadata.pop("user_expressions", None)
            if index in values:
                cell.metadata["user_expressions"] = values[index]


def stderr_warnings(executed) -> list[str]:
    """What a learner would see in red in Jupyter (the book hides stderr): warnings, progress bars left behind."""
    return [f"cell {i} writes to stderr: {o.text.strip()[:300]}" for i, cell in enumerate(executed.cells)
            for o in cell.get("outputs", []) if o.get("name") == "stderr"]


def prose(path: str, store: bool) -> bool:
    """Check a notebook's {eval}s resolve in order; with store, keep their values in the markdown cells."""
    _, values, problems = run_all(path)
    for problem in problems:
        print(f"  {path}: {problem}")
    if store:
        nb = nbformat.read(path, as_version=4)
        store_prose_values(nb, values)
        nbformat.write(nb, path)
    print(f"{path}: {sum(map(len, values.values()))} {{eval}} values in {len(values)} cells, {len(problems)} problems")
    return not problems


def record(path: str) -> bool:
    """Run the notebook; write its checked outputs to the sidecar and its {eval} values into its prose."""
    executed, values, problems = run_all(path)
    nb = nbformat.read(path, as_version=4)
    clear_outputs(nb)
    store_prose_values(nb, values)
    collapse_metadata(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    checked = [{"source": ran.source, "execution_count": ran.execution_count, "outputs": ran.outputs}
               for ran in executed.cells if is_checked(ran)]
    sidecar = expected_path(path)
    sidecar.parent.mkdir(exist_ok=True)
    sidecar.write_text(json.dumps({"notebook": Path(path).name, "cells": checked}, indent=1, ensure_ascii=False) + "\n")
    print(f"{path}: {len(checked)} checked cells -> {sidecar}; {sum(map(len, values.values()))} {{eval}} values stored")
    for warning in stderr_warnings(executed):
        print(f"  warning: {warning}")
    for problem in problems:
        print(f"  {path}: {problem}")
    return not problems


if __name__ == "__main__":
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 2 else (None, [])
    if command == "prose":
        ok = [prose(notebook, store="--store" in args) for notebook in args if notebook != "--store"]
        sys.exit(0 if all(ok) else 1)
    elif command == "record":
        ok = [record(notebook) for notebook in args]
        sys.exit(0 if all(ok) else 1)
    elif command in ("collapse", "clean"):
        for notebook in args:
            {"collapse": collapse, "clean": clean}[command](notebook)
    elif command == "merge" and len(args) > 2 and args[0] == "--out":
        merge(args[2:], args[1])
    elif command in ("to-ipynb", "to-py") and len(args) == 2:
        {"to-ipynb": to_ipynb, "to-py": to_py}[command](*args)
    else:
        sys.exit(__doc__)
