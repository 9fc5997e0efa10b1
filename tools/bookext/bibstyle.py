"""Bibliography labels that are unique across the whole book (used by bookext.selfcontained; Sphinx-only).

pybtex's "alpha" labels (author initials + year: Kar20) are made unique only within one
bibliography: "a"/"b" are added when two entries of the same list collide. Each chapter has a
bibliography of its own, so two chapters citing Karpathy 2020 (micrograd, minGPT) would both print
[Kar20] for different works, and Sphinx warns about the duplicate label. This style computes the
labels once over every entry of references.bib, so the same work has the same label on every page
and two works never share one.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from pybtex.style.formatting.alpha import Style as AlphaStyle
from pybtex.style.labels.alpha import LabelStyle as AlphaLabelStyle

BIBFILES: list[Path] = []  # set by bookext.selfcontained from the book's bibtex_bibfiles
_labels: dict[str, str] = {}


class BookLabels(AlphaLabelStyle):
    def format_labels(self, sorted_entries):
        book = book_labels(self)
        for entry in sorted_entries:
            yield book.get(entry.key) or self.format_label(entry)


class BookStyle(AlphaStyle):
    default_label_style = "knobs"


def book_labels(style: AlphaLabelStyle) -> dict[str, str]:
    """key -> label over every entry of the book's .bib files; colliding labels get a, b, ... by year, then key."""
    if not _labels and BIBFILES:
        from pybtex.database import parse_file

        entries = {key: entry for path in BIBFILES for key, entry in parse_file(str(path)).entries.items()}
        ordered = sorted(entries, key=lambda key: (entries[key].fields.get("year", ""), key))
        base = {key: style.format_label(entries[key]) for key in ordered}
        count, seen = Counter(base.values()), Counter()
        for key in ordered:
            label = base[key]
            _labels[key] = label if count[label] == 1 else label + "abcdefghijklmnopqrstuvwxyz"[seen[label]]
            seen[label] += 1
    return _labels


def register(bibfiles: list[Path]) -> None:
    from pybtex.plugin import register_plugin

    BIBFILES[:] = bibfiles
    _labels.clear()
    register_plugin("pybtex.style.labels", "knobs", BookLabels)
    register_plugin("pybtex.style.formatting", "knobs", BookStyle)
