"""What a learner sees of a notebook in JupyterLab: read from the live page, checked, photographed.

Used by tests/book/test_jupyterlab_learner_view.py. Needs a JupyterLabServer (tests/book/test_jupyterlab.py),
which starts JupyterLab with `--LabApp.expose_app_in_browser=True`, and a Playwright page.

learner_view(page) returns one dict per cell, read from JupyterLab's own widgets (not from the file):
its type and tags, whether its input / outputs are collapsed, its visible text (`innerText`: what is on
screen, collapsed parts excluded, with every cell rendered: the server's windowingMode is "none"), the
raw markup still visible in it, its error outputs and its stderr outputs.
"""
from __future__ import annotations

import re
import time

# Markup that means a construct did not render. "{eval" catches an unknown role shown as text; a rendered
# {eval} whose kernel value is missing shows its expression as inline code: caught from the cell's
# `user_expressions` metadata, where jupyterlab-myst keeps each expression's result (EVAL below).
EVAL = re.compile(r"\{eval\}`([^`]+)`")
# A collapsed input shows its first line: a solution's must give nothing away (tools/nb.py SOLUTION_FIRST_LINE).
SOLUTION_LABEL = re.compile(r"^# Solution[^:=]*$")
RAW = re.compile(r":::\{|```\{|\{term\}|\{cite|\{glue|\{eval|\{bibliography\}|\{glossary\}|\{numref\}|\{ref\}|\{doc\}")

CELLS_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets.map((c, i) => {
    const outputs = c.model.type === 'code' ? c.model.outputs.toJSON() : [];
    const myst = c.node.querySelector('.myst');  // jupyterlab-myst's renderer (stock JupyterLab: .jp-RenderedMarkdown)
    const placeholder = c.node.querySelector('.jp-InputPlaceholder .jp-PlaceholderText');
    return {
      index: i, type: c.model.type, tags: c.model.getMetadata('tags') || [],
      jupyter: c.model.getMetadata('jupyter') || {},
      inputHidden: c.inputHidden, outputHidden: c.model.type === 'code' ? c.outputHidden : null,
      trusted: c.model.trusted, rendered: c.model.type === 'markdown' ? c.rendered : null,
      executionCount: c.model.type === 'code' ? c.model.executionCount : null,
      text: c.node.innerText,
      source: c.model.sharedModel.getSource(),
      mystRendered: c.model.type === 'markdown' ? !!myst : null,
      // what a collapsed input still shows: JupyterLab 4 previews the source's first line
      placeholder: c.inputHidden && placeholder ? placeholder.innerText : null,
      // jupyterlab-myst has no bibliography: a {cite} shows its key with a warning icon
      citationsNotFound: Array.from(c.node.querySelectorAll('[title="Citation Not Found"]')).map(e => e.innerText),
      evalErrors: Array.from(c.node.querySelectorAll('.myst [data-mime-type="application/vnd.jupyter.stderr"]'))
                        .map(e => e.innerText),
      errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
      stderr: outputs.filter(o => o.output_type === 'stream' && o.name === 'stderr').map(o => o.text),
      userExpressions: c.model.getMetadata('user_expressions') || null,
    };
  });
}"""


def open_notebook(page, server, name: str, start_timeout_s: float = 90) -> None:
    """Open a notebook of the server's root folder, answer a kernel prompt, wait for an idle kernel."""
    # ?reset: a fresh workspace, not the notebooks an earlier page of the same server had open
    page.goto(f"{server.url}/lab/tree/{name}?reset&token={server.token}")
    page.locator(".jp-Notebook").first.wait_for(timeout=start_timeout_s * 1000)
    # a fresh JupyterLab may ask which kernel to start (the notebook's own is preselected): answer it if it asks
    idle = "window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'"
    page.wait_for_function(f"() => document.querySelector('.jp-Dialog') || {idle}", timeout=start_timeout_s * 1000)
    choose = page.locator(".jp-Dialog", has_text="Select Kernel")
    if choose.count():
        choose.locator("button", has_text="Select").click()
    page.wait_for_function(f"() => {idle}", timeout=start_timeout_s * 1000)
    settle(page)


def shut_down_kernels(page) -> None:
    """Stop every kernel the server runs (a later page's notebook then has the CPU to itself)."""
    page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")


def settle(page, seconds: float = 2.0) -> None:
    """jupyterlab-myst renders markdown asynchronously (React): let it finish."""
    page.wait_for_load_state("networkidle")
    time.sleep(seconds)


def run_all(page, timeout_s: float = 300) -> None:
    """Run ▸ Run All Cells, then wait until the kernel is idle and every code cell has a count."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => { const p = window.jupyterapp.shell.currentWidget;
                   const k = p.sessionContext.session?.kernel;
                   return k && k.status === 'idle' && p.content.widgets.filter(c => c.model.type === 'code')
                            .every(c => typeof c.model.executionCount === 'number'); }""",
        timeout=timeout_s * 1000, polling=500)
    settle(page)


def learner_view(page) -> list[dict]:
    cells = page.evaluate(CELLS_JS)
    for cell in cells:
        cell["raw"] = sorted(set(RAW.findall(cell["text"])))
        results = {e.get("expression"): e.get("result", {}) for e in cell["userExpressions"] or []}
        cell["evalUnresolved"] = [x for x in EVAL.findall(cell["source"]) if cell["type"] == "markdown"
                                  and results.get(x, {}).get("status") != "ok"]
    return cells


def problems(cells: list[dict], *, ran: bool, prefilled: bool = True) -> list[str]:
    """Everything a learner should not see. `ran`: after Run All, when every {eval} has its value.

    Before Run All an {eval} shows a value only where the notebook stores one (`make record`);
    `prefilled=False` accepts the expression shown as code until then.
    """
    found = []
    for c in cells:
        where = f"cell {c['index']} ({c['type']}, tags {c['tags']})"
        if c["raw"]:
            found.append(f"{where}: raw markup visible {c['raw']}: {c['text'][:120]!r}")
        if "solution" in c["tags"] and not c["inputHidden"]:
            found.append(f"{where}: a solution is open")
        if "solution" in c["tags"] and c["placeholder"] and not SOLUTION_LABEL.match(c["placeholder"]):
            found.append(f"{where}: the collapsed solution previews its first line {c['placeholder']!r}")
        if c["type"] == "markdown" and c["mystRendered"] is False:
            found.append(f"{where}: not rendered by jupyterlab-myst (is the extension installed and enabled?)")
        if c["citationsNotFound"]:
            found.append(f"{where}: citation keys shown instead of citations {c['citationsNotFound']}")
        if c["type"] == "markdown" and "{glue" in c["source"]:
            found.append(f"{where}: a {{glue}} role (jupyterlab-myst shows its key as text)")
        if any(t in c["tags"] for t in ("remove-cell", "hide-cell")) and not c["inputHidden"]:
            found.append(f"{where}: a plumbing cell is open")
        if c["errors"]:
            found.append(f"{where}: error output {c['errors']}")
        if c["stderr"]:
            found.append(f"{where}: stderr output (red in JupyterLab) {[t[:200] for t in c['stderr']]}")
        if c["evalErrors"]:
            found.append(f"{where}: an {{eval}} expression failed {c['evalErrors']}")
        if (ran or prefilled) and c["evalUnresolved"]:
            found.append(f"{where}: {{eval}} expressions show no value {'after' if ran else 'before'} Run All: "
                         f"{c['evalUnresolved']}")
    return found


def screenshot_cells(page, indices, path_for) -> list[str]:
    """Scroll each cell to the top of the notebook and take the 1280x900 viewport: what a learner sees there."""
    paths = []
    for i in indices:
        page.evaluate("""i => { const p = window.jupyterapp.shell.currentWidget;
                              p.content.activeCellIndex = i; p.content.widgets[i].node.scrollIntoView({block: 'start'}); }""", i)
        time.sleep(0.4)
        path = str(path_for(i))
        page.screenshot(path=path)
        paths.append(path)
    return paths
