"""Typo lookup through the deletion index: what counts as a typo, on a small fixed vocabulary."""

from __future__ import annotations

import pytest

from knowledge.search import SearchEntry, SearchIndex, _deletion_hashes, _filed_hashes, _hash

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


# A vocabulary with words an everyday word sits one letter from.
EVERYDAY = [
    SearchEntry("rapid-review", "topic", ("Rapid review", "what is a rapid review")),
    SearchEntry("care", "topic", ("Children in care", "what does in care mean")),
    SearchEntry("brooke", "full report", ("Operation Brooke", "bristol")),
    SearchEntry("serious", "topic", ("Serious harm", "what is serious harm")),
]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("what happens if a child is raped", "raped"),  # not "rapid"
        ("a pupil came to school hungry", "came"),  # not "care"
    ],
)
def test_a_common_word_is_not_a_typo_of_another(text: str, kept: str) -> None:
    index = SearchIndex(EVERYDAY)
    assert kept in index.corrected(text).split()
    best = index.search(text).best
    assert best is None or best.score < 50


@pytest.mark.parametrize(
    ("text", "corrected"),
    [
        ("serous harm", "serious"),  # a rare word is still most likely a slip
        ("rapdi review", "rapid"),
    ],
)
def test_typos_of_names_and_rare_slips_are_still_corrected(text: str, corrected: str) -> None:
    assert corrected in SearchIndex(EVERYDAY).corrected(text).split()


def test_a_name_near_a_common_word_is_still_found() -> None:
    """ "brook" is a common word, so the semantic matcher's text keeps it, but the name search
    still takes it for the name it is one letter from."""
    index = SearchIndex(EVERYDAY)
    assert "brook" in index.corrected("operation brook").split()
    best = index.search("operation brook").best
    assert best is not None and best.id == "brooke" and best.score >= 50


def deleted(word: str) -> set[str]:
    """`word` and every string made by deleting one of its letters, as strings."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


@pytest.mark.parametrize(
    "word", ["ab", "pelka", "willliamz", "safeguarding", "aab", "naïve", "x" * 70, "2019a"]
)
def test_the_deletions_hashes_are_the_hashes_of_the_deleted_strings(word: str) -> None:
    # The index files each word under the hashes of its deletions, worked out from its
    # prefixes and suffixes, for all words at once; a query word's are worked out the same way.
    # Both must be the hashes of the strings themselves, or a typo would find nothing.
    once = {_hash(s) for s in deleted(word)}
    twice = {_hash(s) for one in deleted(word) for s in deleted(one)}
    assert set(_deletion_hashes(word)) == once
    assert set(_deletion_hashes(word, twice=True)) == twice
    words = ["ab", word, "liaison"]
    hashes, owners = _filed_hashes(words)
    filed = sorted(zip(owners.tolist(), hashes.tolist(), strict=True))
    assert filed == sorted((n, h) for n, w in enumerate(words) for h in _deletion_hashes(w))
