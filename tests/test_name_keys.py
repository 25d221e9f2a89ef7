"""Names' keys in the index, made for all names at once, against `tokens` made for one name.

The index splits, folds and expands every name's words with numpy and bytes operations over the
whole catalogue's text (knowledge/search.py `_name_keys`); a query's words go through `tokens`.
A name is found only when both see the same words, so the two are compared here on names that
take every path: accents and other letters beyond ASCII, contractions, abbreviations, number
words, filler, letters run into digits, a NUL, and a name with no word that counts.
"""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.search import SearchEntry, SearchIndex, _group_rows, _name_keys, tokens

NAMES = [
    "Serious case review - Daniel Pelka",
    "Café Zoë's review",  # accents, and a contraction after them
    "what's an SCR?",  # a contraction, an abbreviation of three words, filler
    "SCR scr Scr",  # one word three times: a key has each word once
    "WT2023 naïve",  # letters run into digits
    "Child K7",
    "child k7",  # the same key as the name above
    "young person seven",  # a number word
    "the of a",  # filler only: no key
    "",
    "x\0y",  # a NUL inside a name
    "Łódź ßtraße",  # letters that do not decompose
    "ＦＵＬＬ width",  # full-width letters fold to ASCII
    "™ mark",  # folds to capitals, which are no word's letters
    "ｄｏｎ＇ｔ ｗｏｒｒｙ",  # a full-width apostrophe folds to an ASCII one
    "it’s Sophie’s",  # a curly apostrophe
    "o'neill's children's",
    "日本語 test",  # letters that fold to nothing ASCII
    "e\u0301te\u0301",  # combining accents
    "\u0130stanbul Kelvin \u212a9",  # capitals whose lower case is (partly) ASCII
    "ﬁle ﬂow",  # ligatures
    "lado LADO",  # an abbreviation that keeps its own word
    "a" * 40,  # a long word
    "b" * 13 + "1" * 14,
]


def key_of(names: list[str], name: int) -> tuple[str, ...]:
    keys = _name_keys(names)
    number = int(keys.of_name[name])
    if number < 0:
        return ()
    numbers = keys.words[keys.starts[number] : keys.starts[number + 1]].tolist()
    return tuple(keys.vocabulary[n] for n in numbers)


@pytest.mark.parametrize("name", range(len(NAMES)))
def test_a_names_key_is_its_tokens_sorted(name: int) -> None:
    expected = tuple(sorted(set(tokens(NAMES[name].replace("\0", " ")))))
    assert key_of(NAMES, name) == expected
    assert key_of([NAMES[name]], 0) == expected  # alone, as among others


def test_names_of_the_same_tokens_share_a_key_numbered_by_its_first_name() -> None:
    keys = _name_keys(NAMES)
    by_tokens: dict[tuple[str, ...], int] = {}
    for name, number in enumerate(keys.of_name.tolist()):
        found = tuple(sorted(set(tokens(NAMES[name].replace("\0", " ")))))
        if not found:
            assert number == -1
            continue
        assert number == by_tokens.setdefault(found, len(by_tokens))
    # The vocabulary in order of first appearance over the keys.
    seen = dict.fromkeys(keys.vocabulary[n] for n in keys.words.tolist())
    assert list(seen) == keys.vocabulary


def test_rows_that_share_a_hash_are_still_told_apart() -> None:
    # A multiplier of 0 hashes a row by its first value and length only, so different rows
    # collide; the rows must be numbered by what they hold all the same.
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 5, 300)
    values = rng.integers(0, 3, int(sizes.sum()))
    numbers, firsts = _group_rows(sizes, values)
    collided, collided_firsts = _group_rows(sizes, values, mixer=0)
    assert numbers.tolist() == collided.tolist()
    assert firsts.tolist() == collided_firsts.tolist()
    starts = np.concatenate(([0], np.cumsum(sizes)))
    rows = [tuple(values[starts[n] : starts[n + 1]].tolist()) for n in range(len(sizes))]
    numbered: dict[tuple[int, ...], int] = {}
    assert numbers.tolist() == [numbered.setdefault(row, len(numbered)) for row in rows]


def test_a_name_beyond_ascii_is_found_as_typed_and_folded() -> None:
    index = SearchIndex(
        [
            SearchEntry("zoe", "full report", ("Café Zoë's review", "ＦＵＬＬ width")),
            SearchEntry("lodz", "full report", ("Łódź review",)),
            SearchEntry("other", "full report", ("Bristol review",)),
        ]
    )
    for text, entry in [
        ("cafe zoe review", "zoe"),
        ("Café Zoë review", "zoe"),
        ("full width", "zoe"),
        ("lodz review", "lodz"),
    ]:
        result = index.search(text)
        assert result.best is not None and result.best.id == entry, text
