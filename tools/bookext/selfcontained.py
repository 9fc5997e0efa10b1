"""Sphinx extension for the book build: a self-contained HTML book (no request leaves the page).

Enabled in _config.yml (`sphinx: local_extensions: {bookext.selfcontained: tools}`). It
- copies MathJax from node_modules (installed by `npm ci`, pinned in package-lock.json) into
  _static/mathjax, where `mathjax_path` points, so formulas render offline and without a CDN;
- fails the build (a warning, and the book builds with -W) when MathJax is missing or when
  `mathjax_path` points at a remote URL;
- removes duplicated inline scripts (Sphinx 7.4 emits a body-only script added after the
  builder started twice, and sphinx-thebe's `const THEBE_JS_URL` then throws a SyntaxError);
- gives bibliography entries the `listitem` role their `role="list"` parent requires (docutils
  writes the deprecated `doc-biblioentry`, which axe reports as a critical violation), and lets
  a hidden cell's "Show code cell source" name its toggle (myst-nb labels it "Toggle hidden
  content", which hides the visible text from the accessible name: a serious axe violation).
- registers the bibliography style "knobs" (bookext.bibstyle): alpha labels unique across the book,
  where pybtex makes them unique only within one chapter's bibliography;
- ties JupyterQuiz's "Type numeric answer here:" label to its input (JupyterQuiz 2.9 creates the
  <label> without `for`, so the field has no accessible name: a critical axe violation).
Theme templates fixed for the same reasons are in book/_templates.
Nothing here runs in a notebook: the book's tooling lives in tools/bookext, outside the knobs package.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

# What the combined tex-mml-chtml component loads lazily: TeX extensions, CHTML fonts,
# the accessibility menu's explorer and speech rules (English maps only, to stay small).
MATHJAX_PARTS = ["tex-mml-chtml.js", "input/tex/extensions", "input/mml", "output/chtml", "ui", "a11y",
                 "sre/mathmaps/base.json", "sre/mathmaps/en.json",
                 "sre/mathmaps/nemeth.json"]


# Runs on every page; the quiz builds its fields from script, so watch for them as they appear.
TIE_QUIZ_LABELS = """(function () {
  function tie() {
    document.querySelectorAll("label.InpLabel:not([for])").forEach(function (label) {
      var input = label.parentNode && label.parentNode.querySelector("input.Input-text");
      if (input && input.id) label.htmlFor = input.id;
    });
  }
  new MutationObserver(tie).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", tie);
})();"""


def mathjax_source(app) -> Path:
    return Path(app.srcdir) / "node_modules" / "mathjax" / "es5"


def check_mathjax(app, config) -> None:
    path = str(config.mathjax_path or "")
    if "://" in path or path.startswith("//"):
        logger.warning(f"mathjax_path is remote ({path}): the book must not load anything from the network")
    elif not (mathjax_source(app) / "tex-mml-chtml.js").exists():
        logger.warning(f"MathJax is missing in {mathjax_source(app)}: run `npm ci` (make book does it)")


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html" or not mathjax_source(app).exists():
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        source = mathjax_source(app) / part
        if source.is_dir():
            shutil.copytree(source, target / part, dirs_exist_ok=True)
        elif source.exists():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)


def unique_scripts(scripts: list) -> list:
    """Scripts in order, each once (a body-only script can be registered as both None and '')."""
    seen, kept = set(), []
    for script in scripts:
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def fix_page(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"][:] = unique_scripts(context["script_files"])
    if "body" in context:
        context["body"] = (context["body"].replace(' role="doc-biblioentry"', ' role="listitem"')
                           .replace('<summary aria-label="Toggle hidden content">', "<summary>"))


def register_bibstyle(app, config):
    from bookext import bibstyle

    bibstyle.register([Path(app.srcdir) / path for path in config.bibtex_bibfiles])


def setup(app):
    app.connect("config-inited", check_mathjax)
    app.connect("config-inited", register_bibstyle)
    app.add_js_file(None, body=TIE_QUIZ_LABELS)
    app.connect("html-page-context", fix_page)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
