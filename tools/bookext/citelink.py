"""Citations written as links, so that JupyterLab shows the author and year the book shows.

jupyterlab-myst (2.7) has no bibliography: {cite:p}`ch01-radford2019language` shows the bare key with a
"Citation Not Found" icon. A chapter can instead write the citation as a link whose text is what a
reader should see, and whose target names the citation:

    [Radford et al. (2019)](#cite:t:ch01-radford2019language)        book: {cite:t}  -> Radford et al. (2019)
    [(Radford et al., 2019)](#cite:p:ch01-radford2019language)       book: {cite:p}  -> (Radford et al., 2019)
    (GPT-2, [Radford et al., 2019](#cite:alp:ch01-radford2019language))   book: {cite:alp} inside parentheses

With `bibtex_reference_style: author_year_round` (registered here; the book's author_year prints square
brackets, [Radford et al., 2019]) the link text is exactly what the book prints. JupyterLab renders the
link text (the target is a missing anchor there: clicking does nothing). In the book this transform
replaces each such link, while the page is read, by what the `cite` role of sphinxcontrib-bibtex makes
of `{cite:KIND}`KEY`` (so the chapter's filtered bibliography, with its :keyprefix:, lists it and the
reference links to its entry, exactly as a role would). tests/book/test_notebook_sources.py checks the
link text against the .bib, and tests/book/test_html.py against the built page.
tools/myst_migrate.py writes these links from {cite} roles.

Loaded through _config.yml: `sphinx: local_extensions: {bookext.citelink: tools}`.
"""
from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import sphinxcontrib.bibtex.plugin
from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

logger = logging.getLogger(__name__)
TARGET = re.compile(r"^cite:(p|ps|t|ts|alp|alps|alt|alts|author|authors|year|yearpar|label|labelpar|text):(.+)$")


class CiteLinks(SphinxTransform):
    default_priority = 400  # while reading, before references are resolved

    def apply(self, **kwargs) -> None:
        domain = self.env.get_domain("cite")
        # myst-parser 3 reads [text](#target) as a reference with id_link (a pending_xref later on)
        for node in list(self.document.findall(lambda n: isinstance(n, (nodes.reference, addnodes.pending_xref)))):
            target = node.get("refuri", "").removeprefix("#") if isinstance(node, nodes.reference) and node.get("id_link") \
                else node.get("reftarget", "") if node.get("reftype") == "myst" else ""
            match = TARGET.match(target)
            if not match:
                continue
            kind, key = match.groups()
            inliner = SimpleNamespace(document=self.document, reporter=self.document.reporter)
            line = node.line or 0
            new, messages = domain.role(kind)(f"cite:{kind}", f"{{cite:{kind}}}`{key}`", key, line, inliner, {}, [])
            node.replace_self(new + messages)


def _round(**kwargs):
    return BracketStyle(left="(", right=")", **kwargs)


@dataclasses.dataclass
class AuthorYearRoundStyle(AuthorYearReferenceStyle):
    """author_year with round brackets: (Radford et al., 2019), Radford et al. (2019), (A, 2019; B, 2020)."""

    # (Kaplan et al., 2020; Hoffmann et al., 2022): works in parentheses are separated by semicolons
    bracket_parenthetical: BracketStyle = dataclasses.field(
        default_factory=lambda: _round(sep="; ", sep2="; ", last_sep="; "))
    bracket_textual: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_author: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_label: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_year: BracketStyle = dataclasses.field(default_factory=_round)


def setup(app):
    sphinxcontrib.bibtex.plugin.register_plugin("sphinxcontrib.bibtex.style.referencing", "author_year_round", AuthorYearRoundStyle)
    app.setup_extension("sphinxcontrib.bibtex")
    app.add_transform(CiteLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
