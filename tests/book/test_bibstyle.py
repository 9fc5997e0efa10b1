"""The book's bibliography labels: unique across all chapters, the same for a work on every page."""
from pybtex.database import parse_file

from conftest import ROOT
from bookext import bibstyle

BIB = ROOT / "book" / "references.bib"


def test_labels_are_unique_over_the_whole_bibliography():
    bibstyle.register([BIB])
    labels = bibstyle.book_labels(bibstyle.BookLabels())
    entries = parse_file(str(BIB)).entries
    assert set(labels) == set(entries)
    assert len(set(labels.values())) == len(labels)
    # two works by the same author in the same year, cited in different chapters
    assert {labels["karpathy2020micrograd"], labels["karpathy2020mingpt"]} == {"Kar20a", "Kar20b"}


def test_one_chapters_bibliography_uses_the_book_wide_label():
    bibstyle.register([BIB])
    entries = parse_file(str(BIB)).entries
    alone = list(bibstyle.BookLabels().format_labels([entries["karpathy2020mingpt"]]))
    assert alone == [bibstyle.book_labels(bibstyle.BookLabels())["karpathy2020mingpt"]] != ["Kar20"]
