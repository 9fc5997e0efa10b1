"""Write chapter notebooks as percent-format scripts and convert them, both ways.

    python tools/nb.py to-ipynb draft.py notebooks/NN_topic.ipynb   # script -> notebook (no outputs)
    python tools/nb.py to-py notebooks/NN_topic.ipynb draft.py      # notebook -> script, to edit
    python tools/nb.py record notebooks/NN_topic.ipynb [...]        # store the checked cells' outputs

The .ipynb in notebooks/ is the source of truth; scripts are a way to edit it.
`record` runs a notebook (live mode, as nbval does) and keeps the outputs of the
cells marked `# NBVAL_CHECK_OUTPUT` only: those are what nbval compares a fresh run
against, so a checked cell without a stored output would check nothing. Every other
output is dropped (the book executes the notebooks itself). Re-record after editing
a checked cell, and read the diff: a changed number is a changed result.
Cells start with `# %%` (code; `tags=["hide-input", "solution"]` after it) or
`# %% [markdown]`.
"""
import sys

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
    nbformat.validate(nb)
    nbformat.write(nb, out)


def to_py(src: str, out: str) -> None:
    jupytext.write(nbformat.read(src, as_version=4), out, fmt="py:percent")


CHECKED = "# NBVAL_CHECK_OUTPUT"


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECKED)


def record(path: str) -> None:
    from pathlib import Path

    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    executed = nbformat.read(path, as_version=4)
    NotebookClient(executed, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    for cell, ran in zip(nb.cells, executed.cells):
        if cell.cell_type == "code":
            checked = is_checked(cell)
            # nbval refuses a stored output without an execution count ("unrun reference cell")
            cell.execution_count = ran.execution_count if checked else None
            cell.outputs = ran.outputs if checked else []
    nbformat.write(nb, path)
    print(f"{path}: {sum(map(is_checked, nb.cells))} checked cells recorded")
    for i, ran in enumerate(executed.cells):  # a learner would see these in Jupyter (the book hides stderr)
        for output in ran.get("outputs", []):
            if output.get("name") == "stderr":
                print(f"  warning: cell {i} writes to stderr: {output.text.strip()[:300]}")


if __name__ == "__main__":
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 2 else (None, [])
    if command == "record":
        for notebook in args:
            record(notebook)
    elif command in ("to-ipynb", "to-py") and len(args) == 2:
        {"to-ipynb": to_ipynb, "to-py": to_py}[command](*args)
    else:
        sys.exit(__doc__)
