"""Typo lookup through the deletion index: what counts as a typo, on a small fixed vocabulary."""

from __future__ import annotations

import pytest

from knowledge.search import SearchEntry, SearchIndex

ENTRIES = [
    SearchEntry("pelka", "full report", ("Serious case review - Daniel Pelka", "coventry")),
    SearchEntry("connelly", "full report", ("Peter Connelly", "haringey", "baby p")),
    SearchEntry("liaison", "topic", ("Liaison officer", "what does a liaison officer do")),
    SearchEntry("keanu", "full report", ("Keanu Williams", "birmingham")),
    SearchEntry("neglect", "full report", ("Thematic review: adolescent neglect", "starvation")),
]


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("liason officer", "liaison"),  # a letter left out
        ("liaisson officer", "liaison"),  # a letter doubled
        ("daniel pekla", "pelka"),  # neighbours swapped
        ("conelly", "connelly"),
        ("peter connolly", "connelly"),  # one letter for another
        ("keanu willams", "keanu"),
        ("birmingam", "keanu"),
        ("keanu willliamz", "keanu"),  # one added, one changed: two slips in a long word
        ("neglected adolescents", "neglect"),  # other forms of the same words
        ("the boy who starved", "neglect"),
    ],
)
def test_typo_finds_the_entry(text: str, entry: str) -> None:
    result = SearchIndex(ENTRIES).search(text)
    assert result.best is not None and result.best.id == entry


@pytest.mark.parametrize("text", ["plka", "xyzzy", "kenau", "zzzz officer"])
def test_too_far_is_not_a_typo(text: str) -> None:
    """Short words allow one change at most, and a word must share most of its letters."""
    result = SearchIndex(ENTRIES).search(text)
    assert result.decision != "answer"
