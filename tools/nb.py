"""Write chapter notebooks as percent-format scripts and convert them, both ways.

    python tools/nb.py to-ipynb draft.py notebooks/NN_topic.ipynb   # script -> notebook (no outputs)
    python tools/nb.py to-py notebooks/NN_topic.ipynb draft.py      # notebook -> script, to edit

The .ipynb in notebooks/ is the source of truth; scripts are a way to edit it.
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


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("to-ipynb", "to-py"):
        sys.exit(__doc__)
    {"to-ipynb": to_ipynb, "to-py": to_py}[sys.argv[1]](sys.argv[2], sys.argv[3])
