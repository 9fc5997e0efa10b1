"""The `{eval}` role of the book, answered from the notebook's glue data: one source for two renderers.

A chapter's prose writes a computed number as {eval}`name`. Two programs read that role:
- JupyterLab with jupyterlab-myst: running the markdown cell asks the kernel for `name` (a user
  expression) and shows its value inline;
- the book (this extension): myst-nb's own `{eval}` needs `execute_notebooks: inline` (no execution
  cache: every build re-runs every chapter). Here the role looks `name` up in the notebook's glue data
  instead, which the cached execution stores like any output, so the book keeps its execution cache.

knobs.chapter.glue(name, value) glues the value *and* binds `name` in the kernel, so both renderers
show the same value. A name that was never glued is a warning (the book builds with -W: a failure).
In a notebook executed inline, a name with no glue data falls back to myst-nb's kernel evaluation.

Loaded through _config.yml: `sphinx: local_extensions: {bookext.evalglue: tools}` (it loads myst_nb
first, whose `eval` role this replaces). `tools/nb.py record` checks that JupyterLab shows what the
book prints, and stores the values for JupyterLab to show before anything runs.
"""
from __future__ import annotations

from docutils import nodes
from myst_nb.core.execute import NotebookClientInline
from myst_nb.core.variables import RetrievalError, create_warning, format_plain_text
from myst_nb.ext.eval import EvalRoleAny
from myst_nb.ext.glue.utils import retrieve_glue_data


class EvalFromGlueRole(EvalRoleAny):
    """{eval}`name`: the glued text/plain value of `name` (quotes stripped, like {glue:text})."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        try:
            result = retrieve_glue_data(self.document, self.text)
        except RetrievalError as exc:
            if "nb_renderer" in self.document and isinstance(
                    self.document["nb_renderer"].renderer.nb_client, NotebookClientInline):
                return super().run()  # a kernel is running: evaluate the expression there
            return [], [create_warning(f"{{eval}}`{self.text}`: {exc} Glue it with knobs.chapter.glue "
                                       f"before the prose that uses it.", self.document, self.line, subtype="eval")]
        if "text/plain" not in result.data:
            return [], [create_warning(f"{{eval}}`{self.text}`: the glued value has no text/plain",
                                       self.document, self.line, subtype="eval")]
        text = format_plain_text(result.data["text/plain"], "")
        node = nodes.inline(text, text, classes=["pasted-text"])
        self.set_source_info(node)
        return [node], []


def setup(app):
    app.setup_extension("myst_nb")  # its eval role first, so that this one replaces it
    app.add_role("eval", EvalFromGlueRole(), override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
