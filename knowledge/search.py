"""The matcher: free text -> the knowledge entries it most likely means, or nothing.

Pure and synchronous, shared by topics, reports and actions. Each entry has several names
(title, aliases, example questions). Text is folded (case, accents, punctuation), filler words
are dropped and abbreviations expanded, the same way for names and queries. Query words are
matched to the vocabulary exactly or, for words of four letters or more, with rapidfuzz's
`ratio` (typos), among the candidates a deletion index gives (no scan of the vocabulary). An
entry's score (0-100) is its best name's:

- query coverage: how much of the query (weighted by rarity, IDF) the name accounts for, so an
  unrelated word ("pothole", "smith") lowers the score instead of being ignored; a word the
  catalogue has never seen weighs most, as it is probably the name of what is asked for;
- name coverage: how much of the name the query accounts for, so "what is an SCR" prefers the
  topic named exactly that over every report whose title contains "serious case review".

Kind words ("report", "briefing", "lessons"...) count as matched when they name the entry's
kind, which steers between documents of one case ("briefing for patrick").

Since a wrong link is worse than none, one entry is answered only when it is clearly ahead,
the query has its name's rarest word, and no other entry accounts for the query as well
("cse" fits three CSE reviews): otherwise the close entries are offered as choices.

Search walks an inverted index from the rarest query word, in order of name weight, and stops
as soon as no name left can reach the top entries, so a query scores a few dozen names rather
than the catalogue (see bench/ and docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import heapq
import importlib.util
import math
import re
import unicodedata
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, combinations, count
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from knowledge.per_message import once

FILLER = frozenset(
    (
        "a an the of for to on in about and or with by from at is are was were be been it its "
        "this that these those there what whats which who whom how do does did can could "
        "would should will shall may might must i im me my we our us you your please pls plz "
        "tell explain show give send find get need want looking look like know mean means "
        "meaning define definition some any just quick thanks thank hi hello hey re ll ve "
        "copy link document doc dont don doesn didn isn aren wasn won couldn shouldn wouldn pdf "
        "if whether have has had"
    ).split()
)

# Words that name a kind of document. They steer between documents of one case, so they count
# as matched when the entry's kind contains them, and weigh less when they do not match.
KIND_WORDS = frozenset(
    (
        "report reports review reviews briefing briefings summary summaries executive full "
        "presentation powerpoint slides form lessons learning inquiry paper campaign "
        "materials leaflet leaflets poster posters"
    ).split()
)

# Kind words people use for a kind that its own name does not contain: a practitioner briefing
# is where "the lessons" of a case are, a presentation is "the slides".
KIND_SYNONYMS: dict[str, str] = {
    "briefing": "lessons learning",
    "presentation": "powerpoint slides",
    "material": "materials leaflet leaflets poster posters resources",
}

ABBREVIATIONS: dict[str, str] = {
    "scr": "serious case review",
    "scrs": "serious case review",
    "cdop": "child death overview panel",
    "cdr": "child death review",
    "imr": "individual management review",
    "imrs": "individual management review",
    "silp": "significant incident learning process",
    "lcspr": "local child safeguarding practice review",
    "cspr": "child safeguarding practice review",
    "slo": "liaison officer",
    "wt": "working together",
    "lscb": "local safeguarding children board",
    "sin": "significant incident notification",
    "cse": "child sexual exploitation",
    "csa": "child sexual abuse",
    "hsb": "harmful sexual behaviour",
    "fii": "fabricated or induced illness",
    "dsl": "designated safeguarding lead",
    "lac": "looked after child",
    # Said in practice without spelling them out; expanded so both signals see the words.
    "eha": "early help assessment",
    "cce": "child criminal exploitation",
    "nrm": "national referral mechanism",
    "dhr": "domestic homicide review",
    "dhrs": "domestic homicide review",
    "dv": "domestic violence",
    "sar": "safeguarding adults review",
    "sars": "safeguarding adults review",
    "jar": "joint agency response",
    "mash": "multi agency safeguarding hub",
    "lado": "lado local authority designated officer",
}

# Numbers people spell out in names ("young person seven", "young people one to six"). "one"
# is left alone: "which one", "the one about" are far commoner than a case numbered 1.
NUMBER_WORDS: dict[str, str] = {
    word: str(number)
    for number, word in enumerate(
        "two three four five six seven eight nine ten eleven twelve".split(), 2
    )
}

# "2nd", "3rd" as their words: `words` would split "2nd" into "2" and an unknown "nd".
ORDINALS = "first second third fourth fifth sixth seventh eighth ninth".split()
_ORDINAL = re.compile(r"\b([1-9])(?:st|nd|rd|th)\b", re.IGNORECASE)
# Shorthand written with "&", which `words` would split into letters that say nothing.
AMPERSANDED = {"c&f": "child and family", "a&e": "accident and emergency"}
_AMPERSANDED = re.compile(r"\b(?:c\s?&\s?f|a\s?&\s?e)\b", re.IGNORECASE)
_SPECIAL = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "đ": "d", "ı": "i"})
_WORD = re.compile(r"[a-z]+|[0-9]+")
_YEAR = re.compile(r"(?:19|20)[0-9]{2}")
# The endings of "what's", "don't", "I'm", "we'd", "Sophie's": dropped before words are split,
# so that a lone letter stays what it is in "Child S" or "Baby T", a case's name.
_CONTRACTION = re.compile(r"['’](?:s|t|m|d|re|ll|ve)\b", re.IGNORECASE)

ANSWER_CUTOFF = 70.0  # a single clear entry at or above this is answered
SUGGEST_CUTOFF = 58.0  # below the answer cutoff but at or above this: offered as choices
CLOSE_MARGIN = 6.0  # entries this close to the best are offered together
MAX_CHOICES = 4
MAX_FITTING = 500  # the most documents a choice narrows (knowledge/narrowing.py)


def fold(text: str) -> str:
    """Lowercase and strip accents (punctuation stays: `words` splits out letters and digits)."""
    if text.isascii():
        return text.lower()  # what the rest would give: no accents, nothing to decompose
    text = unicodedata.normalize("NFKD", text.lower().translate(_SPECIAL))
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """All folded words of `text`, letters and digits split apart ("wt2023" -> "wt", "2023")."""
    return _WORD.findall(fold(text))


# Names' text as bytes: every byte but a-z, 0-9 and NUL (which ends a name) becomes a space, so
# that bytes.split() finds the runs of letters and digits that `words` finds.
_SPACED = bytes(c if c in b"abcdefghijklmnopqrstuvwxyz0123456789\0" else 32 for c in range(256))
# `_CONTRACTION` for ASCII text, where the apostrophe can only be "'".
_CONTRACTION_ASCII = re.compile(_CONTRACTION.pattern.replace("’", "").encode(), re.IGNORECASE)
# What `fold` may leave that `words` never takes and the steps after folding would change: a
# capital letter ("™" is "TM") and an apostrophe ("＇" is "'").
_FOLDED_APART = str.maketrans(dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZ'", " "))
_MIXER = 0xC2B2AE3D27D4EB4F  # odd: a key's hash is a polynomial in it, mod 2**64


@dataclass(frozen=True)
class _NameKeys:
    """Every name's key in the index (the set of its `tokens`) as numbers: `of_name[n]` is name
    n's key (-1: a name of no token), keys numbered in order of their first name; key k's words
    are `words[starts[k] : starts[k + 1]]`, numbers in `vocabulary`, in the order of the words
    as text; `vocabulary` is in order of first appearance, key by key."""

    of_name: np.ndarray
    starts: np.ndarray
    words: np.ndarray
    vocabulary: list[str]


def _name_keys(names: list[str], mixer: int = _MIXER) -> _NameKeys:
    """The same steps as `tokens`, over all names at once (a catalogue has 200,000): the text
    is split into words in one call, each distinct word is expanded once, and names are
    grouped into keys with numpy, rather than a set and a tuple made for each name."""
    # The few names beyond ASCII are folded one by one (`_ascii_name`); the rest are ASCII
    # text, lowercased and split as bytes, all at once. A NUL ends a name.
    joined = " \0 ".join([name if name.isascii() else _ascii_name(name) for name in names])
    if joined.count("\0") >= len(names):  # a name has a NUL of its own: a space, as in `words`
        return _name_keys([name.replace("\0", " ") for name in names], mixer)
    text = _CONTRACTION_ASCII.sub(b"", joined.encode("ascii")).lower()
    del joined
    runs = text.translate(_SPACED).split()  # runs of letters and digits, a NUL between names
    del text
    first: dict[bytes, int] = {}  # each distinct run, with where it was first
    at = np.fromiter(map(first.setdefault, runs, count()), np.int64, len(runs))
    del runs
    # Each distinct run's tokens: a run of letters and digits ("k7") is split as `words` does.
    found: dict[str, int] = {}  # each token, numbered as first found
    sizes: list[int] = []  # how many tokens each distinct run has, then all of them end to end
    expanded: list[int] = []
    for run in first:
        spelled = run.decode("ascii")
        before = len(expanded)
        for word in (
            (spelled,) if spelled.isalpha() or spelled.isdigit() else _WORD.findall(spelled)
        ):
            word = NUMBER_WORDS.get(word, word)
            for token in ABBREVIATIONS.get(word, word).split():
                if token not in FILLER:
                    expanded.append(found.setdefault(token, len(found)))
        sizes.append(len(expanded) - before)
    # Tokens renumbered in the order of their text, which is the order of a key's words.
    by_text = sorted(found)
    rank = np.zeros(max(len(by_text), 1), np.int64)
    rank[np.fromiter(map(found.__getitem__, by_text), np.int64, len(by_text))] = np.arange(
        len(by_text)
    )
    # Each run's name (the NULs before it), and its token where it has one only (most runs:
    # -1 for none or several), from where the run was first.
    name_no = np.cumsum(at == first.get(b"\0", -1))
    run_sizes = np.array(sizes, np.int64)
    run_starts = np.concatenate(([0], np.cumsum(run_sizes)[:-1])).astype(np.int64)
    run_tokens = rank[np.array([*expanded, 0], np.int64)]  # one more, never read
    firsts = np.fromiter(first.values(), np.int64, len(first))
    only = np.full(len(at), -1, np.int64)
    only[firsts] = np.where(run_sizes == 1, run_tokens[run_starts], -1)
    only = only[at]
    # (name, token) pairs, each once, sorted: each name's tokens in order of their text.
    tokens_ = max(len(by_text), 1)
    pairs = [name_no[only >= 0] * tokens_ + only[only >= 0]]
    del only
    several = np.flatnonzero(run_sizes > 1)
    if len(several):  # runs of several tokens ("scr"): each run, then its tokens
        run_no = np.full(len(at), -1, np.int64)
        run_no[firsts[several]] = several
        run_no = run_no[at]
        where = np.flatnonzero(run_no >= 0)
        per_run = run_sizes[run_no[where]]
        pairs.append(
            np.repeat(name_no[where], per_run) * tokens_
            + run_tokens[_ranges(run_starts[run_no[where]], per_run)]
        )
        del run_no, where, per_run
    del at, name_no, firsts
    pair_name, pair_token = np.divmod(_distinct(np.concatenate(pairs)), tokens_)
    del pairs
    counts = np.bincount(pair_name, minlength=len(names))
    del pair_name
    named = np.flatnonzero(counts)
    # Keys: names with the same tokens are one, numbered in order of their first name.
    keys, key_first = _group_rows(counts[named], pair_token, mixer)
    of_name = np.full(len(names), -1, np.int64)
    of_name[named] = keys
    starts = np.concatenate(([0], np.cumsum(counts[named])))
    key_sizes = counts[named[key_first]]
    key_tokens = pair_token[_ranges(starts[key_first], key_sizes)]
    # The vocabulary in order of first appearance over the keys, in key order.
    seen_first = np.full(len(by_text), len(key_tokens), np.int64)
    np.minimum.at(seen_first, key_tokens, np.arange(len(key_tokens)))
    in_order = np.argsort(seen_first)[: int(np.count_nonzero(seen_first < len(key_tokens)))]
    word_no = np.empty(len(by_text), np.int64)
    word_no[in_order] = np.arange(len(in_order))
    return _NameKeys(
        of_name=of_name,
        starts=np.concatenate(([0], np.cumsum(key_sizes))).astype(np.int64),
        words=word_no[key_tokens],
        vocabulary=[by_text[n] for n in in_order.tolist()],
    )


def _ascii_name(name: str) -> str:
    """A name beyond ASCII as `words` sees it (contractions dropped, lowercased, folded), with
    what is left beyond ASCII a "?", and a capital letter or apostrophe a space: both are
    left out of words anyway, and the steps that follow for ASCII names would change them."""
    text = fold(_CONTRACTION.sub("", name).lower())
    return text.translate(_FOLDED_APART).encode("ascii", "replace").decode("ascii")


def _group_rows(
    sizes: np.ndarray, values: np.ndarray, mixer: int = _MIXER
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `values` end to end (of `sizes`, each at least 1), numbered so that equal rows
    have one number, in order of their first row; and the first row of each number. Rows are
    hashed as polynomials, then each compared with the first row of its hash; if two rows
    differ but share a hash (about never), they are numbered by their tuples instead."""
    if not len(sizes):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    powers = np.empty(int(sizes.max()), np.uint64)
    power = 1
    for i in range(len(powers)):
        powers[i] = power
        power = (power * mixer) & _MASK
    place = np.arange(len(values)) - np.repeat(starts, sizes)  # each value's place in its row
    hashes = np.add.reduceat((values.astype(np.uint64) + np.uint64(1)) * powers[place], starts)
    hashes += sizes.astype(np.uint64) * np.uint64(_SALT)
    del place
    order = np.argsort(hashes, kind="stable")  # the rows of one hash in row order
    ordered = hashes[order]
    new = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    by_hash = np.empty(len(order), np.int64)  # each row's hash, numbered in order of hash
    by_hash[order] = np.cumsum(new) - 1
    first_of = order[new]  # each hash's first row
    like = first_of[by_hash]
    if np.array_equal(sizes[like], sizes) and np.array_equal(
        values[_ranges(starts[like], sizes)], values
    ):
        by_first = np.argsort(first_of)
        renumber = np.empty_like(by_first)
        renumber[by_first] = np.arange(len(by_first))
        return renumber[by_hash], first_of[by_first]
    rows = map(tuple, np.split(values, starts[1:]))
    number: dict[tuple[int, ...], int] = {}
    row_first = np.fromiter(map(number.setdefault, rows, count()), np.int64, len(sizes))
    firsts = np.flatnonzero(row_first == np.arange(len(sizes)))
    return np.searchsorted(firsts, row_first), firsts


def tokens(text: str) -> list[str]:
    """Words that carry meaning: filler dropped, abbreviations expanded, order kept, no repeats."""
    # A dict keeps order and finds a repeat at once (a topic's whole text has thousands of words).
    result: dict[str, None] = {}
    text = _ORDINAL.sub(lambda m: ORDINALS[int(m[1]) - 1], text)
    text = _AMPERSANDED.sub(lambda m: AMPERSANDED[m[0].replace(" ", "").lower()], text)
    for word in words(_CONTRACTION.sub("", text)):
        word = NUMBER_WORDS.get(word, word)
        for token in ABBREVIATIONS.get(word, word).split():
            if token not in FILLER:
                result[token] = None
    return list(result)


def _typo_cutoff(token: str) -> float | None:
    """How similar a vocabulary word must be to count as a typo of `token` (None: exact only)."""
    if len(token) < 4 or token.isdigit():
        return None
    return 75.0 if len(token) <= 5 else 80.0


# Words at least this frequent in symspellpy's English frequency list (Google Books n-grams):
# about the 42,000 commonest. Rarer words are left to the typo lookup: "serous" (117,457) is
# far more often a slip for "serious" than meant.
COMMON_COUNT = 200_000
SAME_WORD = 5  # two common words that begin alike for this long are forms of one word


_common: frozenset[str] | None = None
_ranked: list[str] = []  # the same words, commonest first (the list is sorted by count)


Keeper = Callable[[str, Callable[[str], Any]], Any]  # config/validation.py's, Cache.parsed


def common_english(keeper: Keeper | None = None) -> frozenset[str]:
    """The commonest English words (symspellpy's list, read once, shipped in its wheel).
    `keeper` (knowledge/cache.py's `Cache.parsed`) keeps the list picked out of it between
    runs: picking them out took a tenth of `ask`'s start."""
    global _common
    if _common is None:
        # Found without importing symspellpy (its modules, never used here, took 20 ms).
        spec = importlib.util.find_spec("symspellpy")
        assert spec is not None and spec.submodule_search_locations is not None
        folder = Path(next(iter(spec.submodule_search_locations)))
        text = (folder / "frequency_dictionary_en_82_765.txt").read_text(encoding="utf-8")
        _ranked[:] = keeper(text, _commonest) if keeper else _commonest(text)
        _common = frozenset(_ranked)
    return _common


def commonest_english(count: int) -> frozenset[str]:
    """The `count` commonest English words of `common_english`."""
    common_english()
    return frozenset(_ranked[:count])


def _commonest(listing: str) -> list[str]:
    # "word count" lines, split all at once; counts (digits, no leading zeros) are compared as
    # text, longer meaning larger, which is twice as fast as int() on 82,765 of them.
    parts = listing.split()
    least = str(COMMON_COUNT)
    return [
        word
        for word, count in zip(parts[0::2], parts[1::2], strict=True)
        if len(count) > len(least) or (len(count) == len(least) and count >= least)
    ]


@dataclass(frozen=True)
class SearchEntry:
    id: str
    kind: str  # "topic", "action", or a report kind such as "practitioner briefing"
    names: tuple[str, ...]
    # What else tells documents of one name apart (knowledge/narrowing.py): ("area", "Bolton"),
    # ("year", "2013"). The kind is one too.
    facets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Match:
    """One entry's score (0-100), from its best name.

    What a decision compares is worked out for the entries it compares, and left at the default
    otherwise. For the best entry: `named` says that every word of its best name is in the query
    (named in full), `specific` that the name's rarest word is ("pelka" in "Daniel Pelka", not
    "child" in "Child A1301"), and `coverage` how much of the query (0-1, IDF-weighted) the
    entry's names account for between them. For the others that can be offered, `coverage`
    too, when the best is not named in full.
    """

    id: str
    score: float
    coverage: float = 0.0
    named: bool = False
    specific: bool = False


@dataclass(frozen=True)
class SearchResult:
    """`decision` is "answer" (one clear entry), "choices" (several close ones) or None."""

    decision: str | None
    matches: tuple[Match, ...]

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


# How the two coverages make a score. A name can reach NAME_PART on name coverage alone, so it
# needs more than _MIN_COVERAGE of the query to be worth offering at all.
QUERY_PART, NAME_PART = 0.6, 0.4
_MIN_COVERAGE = (SUGGEST_CUTOFF / 100.0 - NAME_PART) / QUERY_PART  # 0.3
COVERAGE_TIE = 0.02  # entries that account for the query this equally well are told apart by
# name length only, which is no reason to pick one of them ("cse" fits three CSE reviews)
WALK_LIMIT = 10_000  # names one query may look at (see SearchIndex._scores)
_RANKED = 20  # entries a search returns
_SUBSET_WORDS = 10  # the most query words whose combinations are looked up as whole names


@dataclass(frozen=True)
class _Query:
    """A query's words; for each, its vocabulary words (best first, with similarity 0-1) and
    its weight (IDF, half for kind words); and the sum of the weights."""

    words: list[str]
    alternatives: dict[str, list[tuple[str, float]]]
    weights: dict[str, float]
    total: float

    def known(self) -> list[str]:
        """The words that are in the vocabulary, or close to a word that is."""
        return [q for q in self.words if self.alternatives[q]]


class SearchIndex:
    """The index over every entry's names.

    Names are kept once per distinct set of tokens (a "key"): documents of one case share their
    aliases (the child's name, the place, the author), so a big catalogue has far fewer keys
    than names. Keys are numbered from the lightest (fewest and commonest words) to the
    heaviest, so every postings list runs in order of name weight, which lets a search stop as
    soon as the names left are too heavy to reach the cutoff (see `_scores`).

    At 100,000 documents there are about 200,000 keys, so how they are held decides the index's
    memory: a key is a tuple of its words (each word one shared string), and everything with one
    number per key or per entry (weights, a key's entries, an entry's keys, postings) is a flat
    array rather than Python lists of Python ints and floats (docs/benchmarks.md).
    """

    def __init__(self, entries: Iterable[SearchEntry], walk_limit: int = WALK_LIMIT) -> None:
        # Building makes hundreds of thousands of objects (names' keys, postings) and no
        # cycles: with the cycle collector on, it walked the growing heap again and again
        # (three full passes at 100,000 documents, a sixth of the build).
        with _collector_paused():
            self._build(entries, walk_limit)

    def _build(self, entries: Iterable[SearchEntry], walk_limit: int) -> None:
        self.entries = list(entries)
        self.walk_limit = walk_limit
        common_english()  # read now (0.1 s, once), not in the first question's reply
        kind_numbers: dict[str, int] = {}
        by_words: dict[frozenset[str], int] = {}  # kinds named by the same words are one
        self._kinds: list[frozenset[str]] = []  # each kind's words, by kind number
        # Each entry's kind and names, read in one pass over the entries.
        kinds: tuple[str, ...] = ()
        names_of: tuple[tuple[str, ...], ...] = ()
        if self.entries:
            kinds, names_of = zip(*map(attrgetter("kind", "names"), self.entries), strict=True)
        for kind_name in dict.fromkeys(kinds):
            named_by = kind_words(kind_name)
            kind_numbers[kind_name] = by_words.setdefault(named_by, len(self._kinds))
            if kind_numbers[kind_name] == len(self._kinds):
                self._kinds.append(named_by)
        self._entry_kind = np.fromiter(
            map(kind_numbers.__getitem__, kinds), np.int16, len(self.entries)
        )
        del kinds
        # Each distinct name once (catalogues repeat names: places, authors), and each name's
        # place among them, in one pass.
        counts = np.fromiter(map(len, names_of), np.int64, len(self.entries))
        first: dict[str, int] = {}
        at = np.fromiter(
            map(first.setdefault, chain.from_iterable(names_of), count()),
            np.int64,
            int(counts.sum()),
        )
        del names_of
        name_no = np.zeros(len(at), np.int64)
        name_no[np.fromiter(first.values(), np.int64, len(first))] = np.arange(len(first))
        named_keys = _name_keys(list(first))
        del first
        # (entry, key) pairs, each once, in order of entry then key: what every list of a key's
        # entries and of an entry's keys is drawn from.
        flat = named_keys.of_name[name_no[at]]
        del at, name_no
        key_start = named_keys.starts
        key_sizes = np.diff(key_start)
        key_count = len(key_sizes)
        entry_of = np.repeat(np.arange(len(self.entries), dtype=np.int64), counts)
        named = flat >= 0
        pairs = _distinct(entry_of[named] * max(key_count, 1) + flat[named])
        pair_entry, pair_key = np.divmod(pairs, max(key_count, 1))
        # How many entries have each word (in any of their names), for its weight.
        words_ = named_keys.vocabulary
        vocabulary = {word: n for n, word in enumerate(words_)}
        # Each key's words by number, end to end: everything per word below is drawn from it.
        key_words = named_keys.words
        del named_keys
        word_entry = _distinct(
            np.repeat(pair_entry * max(len(vocabulary), 1), key_sizes[pair_key])
            + key_words[_ranges(key_start[pair_key], key_sizes[pair_key])]
        )
        entry_df = np.bincount(word_entry % max(len(vocabulary), 1), minlength=len(vocabulary))
        total = max(len(self.entries), 1)
        self._idf = {
            word: math.log(1.0 + total / int(df))
            for word, df in zip(vocabulary, entry_df.tolist(), strict=True)
        }
        self._vocabulary = vocabulary
        del word_entry, entry_df
        # A word the catalogue has never seen is rarer than any word it has (as if half an entry
        # held it). It is probably the very name asked for, which the catalogue lacks, so a name
        # that accounts for the rest of the query must not pass for it ("daniel smith").
        self._unknown_weight = math.log(1.0 + 2.0 * total)

        # A name's weight: its words' IDF added up in the name's order, one word a pass, as
        # Python's sum() would (the same floats to the last bit), and its rarest word's.
        idf = np.fromiter(self._idf.values(), np.float64, len(vocabulary))
        word_idf = idf[key_words]
        weights = np.zeros(key_count)
        for place in range(int(key_sizes.max()) if key_count else 0):
            longer = np.flatnonzero(key_sizes > place)
            weights[longer] += word_idf[key_start[longer] + place]
        rarest = np.maximum.reduceat(word_idf, key_start[:-1]) if key_count else weights
        del word_idf
        order = np.argsort(weights, kind="stable")
        renumber = np.empty(key_count, dtype=np.int64)
        renumber[order] = np.arange(key_count)
        # Tuples of sorted words (each word one shared string): the search's inner loop asks
        # whether a name has a word, a scan of two or three strings, found by identity. (As
        # frozen sets they were a third of the index's memory: 216 bytes each, at least.)
        self._keys = _tuples(words_, key_words, key_start[order], key_sizes[order])
        self._key_weight = array("d", weights[order].tobytes())
        self._key_rarest = array("d", rarest[order].tobytes())
        del weights, rarest
        # Whole names by their words (`_spelled_out`): hashes, sorted, and the key of each.
        hashes = np.fromiter(map(hash, self._keys), np.int64, len(self._keys))
        # Keys of one hash are all compared, so their order among themselves does not matter.
        self._hash_order = np.argsort(hashes).astype(np.int32)
        self._hashes = hashes[self._hash_order]
        pair_key = renumber[pair_key]
        # An entry's keys (in key order), and each key's entries (in entry order).
        self._entry_keys = _Rows.of(pair_entry, pair_key, len(self.entries))
        # Sorts on one number made of two (each pair is distinct, so any sort gives the same
        # order): np.lexsort took a third of the build.
        entries_ = max(len(self.entries), 1)
        by_key = np.argsort(pair_key * entries_ + pair_entry)
        # Each key's entries by kind (the kind decides what kind words add to a name's score),
        # kinds in order of their first entry: runs of (kind, how many), one run for most keys.
        key_sorted, entry_sorted = pair_key[by_key], pair_entry[by_key]
        kind_sorted = self._entry_kind[entry_sorted].astype(np.int64)
        group = key_sorted * len(self._kinds) + kind_sorted
        # Each row's (key, kind) group's first entry.
        by_group = np.argsort(group * entries_ + entry_sorted)
        grouped = group[by_group]
        first_row = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
        group_first = np.empty_like(entry_sorted)
        group_first[by_group] = np.repeat(
            entry_sorted[by_group][first_row], np.diff(np.append(first_row, len(grouped)))
        )
        # Stable: rows of one key and first entry stay in entry order.
        by_run = np.argsort(key_sorted * entries_ + group_first, kind="stable")
        key_sorted, entry_sorted = key_sorted[by_run], entry_sorted[by_run]
        group = group[by_run]
        self._key_entries = _Rows.of(key_sorted, entry_sorted, len(self._keys))
        run_start = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
        run_length = np.diff(np.concatenate((run_start, [len(group)])))
        run_kind = group[run_start] % len(self._kinds)
        runs_of = np.bincount(key_sorted[run_start], minlength=len(self._keys))
        first_kind = np.zeros(len(self._keys), dtype=np.int16)
        first_kind[key_sorted[run_start]] = run_kind  # the last run's, where several
        self._key_kind = array("h")  # a name's entries' kind, or -1 when they are of several
        self._key_kind.frombytes(np.where(runs_of == 1, first_kind, -1).astype(np.int16).tobytes())
        several = runs_of[key_sorted[run_start]] > 1
        self._key_runs = _Rows.of(
            key_sorted[run_start][several],
            (run_kind[several] << 20 | run_length[several]),  # kind, then length
            len(self._keys),
        )
        del pairs, pair_entry, pair_key, by_key, key_sorted, entry_sorted, kind_sorted, group
        del by_group, grouped, first_row, group_first, by_run, run_start, run_length, flat
        del entry_of, run_kind, runs_of, first_kind, several
        # Each word's keys, lightest first: the postings a search walks.
        word_key = renumber[np.repeat(np.arange(key_count, dtype=np.int64), key_sizes)]
        by_word = np.argsort(key_words * max(key_count, 1) + word_key)
        word_rows = _Rows.of(key_words[by_word], word_key[by_word], len(self._vocabulary))
        self._postings = {word: word_rows[n] for word, n in self._vocabulary.items()}
        del word_key, by_word, word_rows, key_words, key_sizes, key_start, words_
        self._typos = _DeletionIndex(self._postings)
        stems: dict[str, list[str]] = defaultdict(list)
        for token in [word for word in self._postings if word.endswith(_ENDINGS)]:
            root = _stem(token)
            if root != token:
                stems[root].append(token)
        self._stems = dict(stems)

    def fitting(self, text: str, limit: int = MAX_FITTING) -> tuple[SearchEntry, ...]:
        """When more entries fit `text` than can be offered (more than MAX_CHOICES as close
        as `choices_of` keeps), every entry that fits as well, in catalogue order (at most
        `limit`), so that the choice can be narrowed (knowledge/narrowing.py); else ().

        A search ranks the first _RANKED entries only: here every entry of the names that put
        the close ones there is scored, as those names score the entries of one kind alike."""
        query = self._query(text)
        if query is None:
            return ()
        scores = self._scores(query)
        result = self.search(text)
        if result.decision != "choices" or len(_close_ones(result)) <= MAX_CHOICES:
            return ()
        close = {m.id for m in _close_ones(result)}
        ranked = [(no, sk) for no, sk in scores.items() if self.entries[no].id in close]
        lowest = min(score for _, (score, _) in ranked)
        fit: set[int] = set()
        for key in dict.fromkeys(key for _, (_, key) in ranked):
            entry_nos = self._key_entries[key]
            start = 0
            for length, score in self._run_scores(key, query):
                if score >= lowest - 1e-9:
                    fit.update(entry_nos[start : start + length])
                start += length
        return tuple(self.entries[no] for no in sorted(fit)[:limit])

    def _runs(self, key: int) -> Iterable[tuple[int, int]]:
        """(kind number, how many entries) of each kind run of one name's entries."""
        kind = self._key_kind[key]
        if kind >= 0:  # most names: one kind
            return ((kind, self._key_entries.size(key)),)
        return ((run >> 20, run & 0xFFFFF) for run in self._key_runs[key])

    def _run_scores(self, key: int, query: _Query) -> list[tuple[int, float]]:
        """(how many entries, score) of each kind run of one name's entries: entries of one
        name and kind score alike."""
        hits, name_hit, _ = self._meet(key, query)
        hit = sum(hits)
        name_part = NAME_PART * min(name_hit / self._key_weight[key], 1.0)
        # Kind words the name lacks still count for entries of that kind.
        missing = [q for q, h in zip(query.words, hits, strict=True) if not h and q in KIND_WORDS]
        scores = []
        for kind, length in self._runs(key):
            credit = (
                sum(query.weights[q] for q in missing if q in self._kinds[kind]) if missing else 0.0
            )
            scores.append(
                (length, 100.0 * (QUERY_PART * min((hit + credit) / query.total, 1.0) + name_part))
            )
        return scores

    def name_words(self, entry_id: str) -> frozenset[str]:
        """The folded words of every name of one entry (its title and aliases) and of its kind
        ("lessons" names a practitioner briefing)."""
        for entry in self.entries:
            if entry.id == entry_id:
                named = {w for name in entry.names for w in words(name)}
                return frozenset(named | kind_words(entry.kind))
        return frozenset()

    def knows(self, word: str) -> bool:
        """Whether `word` (folded) is a word of some entry's names."""
        return word in self._idf

    def search(self, text: str) -> SearchResult:
        """The entries whose names fit `text`. Worked out once per message
        (knowledge/per_message.py): the decision and the rule on a named review both ask."""
        return once(self, "search", text, lambda: self._search(text))

    def _search(self, text: str) -> SearchResult:
        query = self._query(text)
        if query is None:
            return SearchResult(None, ())
        scores = self._scores(query)
        ranked = sorted(scores.items(), key=lambda item: (-item[1][0], item[0]))[:_RANKED]
        found: list[Match] = []
        for entry_no, (score, key) in ranked:
            entry_id = self.entries[entry_no].id
            if not found:
                found.append(self._best_match(entry_no, score, key, query))
            elif score >= SUGGEST_CUTOFF and not found[0].named:
                coverage = self._coverage(entry_no, query)
                found.append(Match(entry_id, round(score, 1), coverage=coverage))
            else:
                found.append(Match(entry_id, round(score, 1)))
        return SearchResult(_decide(tuple(found)), tuple(found))

    def _query(self, text: str) -> _Query | None:
        words_ = tokens(text)
        if not words_ or not self.entries:
            return None
        alternatives: dict[str, list[tuple[str, float]]] = {}
        weights: dict[str, float] = {}
        for q in words_:
            known = self._vocabulary_matches(q)
            alternatives[q] = sorted(known.items(), key=lambda item: -item[1])
            weight = max((self._idf[v] for v in known), default=self._unknown_weight)
            if not known and _YEAR.fullmatch(q):
                # A year no name has ("patrick 2016"): when, not which. It neither helps nor
                # counts against a name; a year a name has ("working together 2015") does.
                weight = 0.0
            weights[q] = weight * 0.5 if q in KIND_WORDS else weight
        total = sum(weights.values())
        if total == 0:
            return None
        return _Query(words_, alternatives, weights, total)

    def corrected(self, text: str) -> str:
        """`text`'s words with typos replaced by the vocabulary word they most likely mean
        ("liason officer" -> "liaison officer"), for the semantic matcher, which has no notion
        of a typo. A common English word is left as it is, even where a name has another form
        of it: the model knows it, and "annual leave" is not "annual leaver"."""
        out: list[str] = []
        common = common_english()
        for word in words(_CONTRACTION.sub("", text)):
            if (
                word not in FILLER
                and word not in ABBREVIATIONS
                and word not in self._postings
                and word not in common
            ):
                known = self._vocabulary_matches(word)
                if known:
                    word = max(known.items(), key=lambda item: item[1])[0]
            out.append(word)
        return " ".join(out)

    def _vocabulary_matches(self, token: str) -> dict[str, float]:
        """Vocabulary words that `token` may mean, with similarity 0-1."""
        if token in self._postings:
            return {token: 1.0}
        cutoff = _typo_cutoff(token)
        if cutoff is None:
            return {}
        found = self._typos.lookup(token, cutoff)
        common = common_english()
        if token in common:
            # One common word is not a typo of another: "raped" is not "rapid", "came" is not
            # "care". A form of the same word ("starved", "starvation") or a rarer word, a
            # name most often ("brook", "Brooke"), still is.
            found = {
                word: similarity
                for word, similarity in found.items()
                if word not in common or word[:SAME_WORD] == token[:SAME_WORD]
            }
        # A name written as it sounds: "Pelker" for "Pelka" (an "-a" and an "-er" are one
        # sound in British English), as good as a close typo.
        if len(token) >= SOUNDED_MIN and token.endswith("er"):
            sounded = f"{token[:-2]}a"
            if sounded in self._postings and found.get(sounded, 0.0) < STEM_SIMILARITY:
                found[sounded] = STEM_SIMILARITY
        # Another form of the same word ("starved" for "starvation", "neglected" for
        # "neglect"): nearly as good as the word itself, better than most typos.
        root = stem(token)
        for word in (*self._stems.get(root, ()), root if root in self._postings else None):
            if word is not None and found.get(word, 0.0) < STEM_SIMILARITY:
                found[word] = STEM_SIMILARITY
        return found

    def _scores(self, query: _Query) -> dict[int, tuple[float, int]]:
        """The entries that reach SUGGEST_CUTOFF (at least the top _RANKED of them), each with
        its best name's score and key.

        A name with none of the `walked` words accounts for at most the rest of the query, so
        only names with a walked word are looked at. Walking a word's postings in order of name
        weight, an upper bound on the score of every name still to come falls, and the walk
        stops when it cannot beat the top entries found. Each name on the way is bounded by
        the walked words it has before it is scored in full.

        A walk of more than `walk_limit` names (a query of very common words in a very big
        catalogue, "serious case review" in 100,000 documents) stops there and adds the names
        the query spells out in full, such as the topic of that name.
        """
        words_, alternatives, weights, total = (
            query.words,
            query.alternatives,
            query.weights,
            query.total,
        )
        known = query.known()
        reachable = sum(weights[q] for q in words_ if q in known or q in KIND_WORDS)
        if reachable < _MIN_COVERAGE * total:
            return {}  # mostly words no name has ("the Smith review")
        walked = self._walked(query, reachable)
        # What a name can get besides the walked words it has: the words not walked, and kind
        # words, which an entry can match by its kind.
        rest_query = sum(
            weights[q] for q in words_ if q in KIND_WORDS or (q in known and q not in walked)
        )
        rest_name = sum(self._idf[alternatives[q][0][0]] for q in known if q not in walked)

        def query_share(q: str) -> float:
            return 0.0 if q in KIND_WORDS else weights[q] * alternatives[q][0][1]

        def name_share(q: str) -> float:
            return max(self._idf[word] * sim for word, sim in alternatives[q])

        most = 100.0 * NAME_PART
        per_query = 100.0 * QUERY_PART / total
        scores: dict[int, tuple[float, int]] = {}
        floor = SUGGEST_CUTOFF  # what a name's bound must reach to matter
        seen: set[int] = set()
        # Each walked word's vocabulary words, with what each adds to the two coverages.
        shares = [
            [
                (word, 0.0 if q in KIND_WORDS else weights[q] * sim, self._idf[word] * sim)
                for word, sim in alternatives[q]
            ]
            for q in walked
        ]
        keys, key_weight = self._keys, self._key_weight  # the hot loop reads these
        # Rarest word first: a name met again under a later word was bounded already, so the
        # names new to a word's postings lack every earlier word, and their bound drops those.
        order = sorted(walked, key=lambda q: -name_share(q))
        for i, q in enumerate(order):
            later = order[i:]
            query_most = per_query * min(total, rest_query + sum(query_share(x) for x in later))
            name_most = rest_name + sum(name_share(x) for x in later)
            streams = [self._postings[word] for word, _ in alternatives[q]]
            for key in streams[0] if len(streams) == 1 else heapq.merge(*streams):
                share = most * name_most / key_weight[key]
                if query_most + (share if share < most else most) < floor:
                    break  # every name left in these postings is heavier still
                if key in seen:
                    continue
                seen.add(key)
                if len(seen) > self.walk_limit:
                    for spelled in self._spelled_out(query) - seen:
                        floor = self._add(spelled, query, scores, floor)
                    return scores
                name_tokens = keys[key]
                query_hit, name_hit = rest_query, rest_name
                for alternatives_of_word in shares:
                    for word, to_query, to_name in alternatives_of_word:
                        if word in name_tokens:
                            query_hit += to_query
                            name_hit += to_name
                            break
                share = most * name_hit / key_weight[key]
                bound = per_query * (query_hit if query_hit < total else total) + (
                    share if share < most else most
                )
                if bound >= floor:
                    floor = self._add(key, query, scores, floor)
        return scores

    def _walked(self, query: _Query, reachable: float) -> list[str]:
        """The query words whose names must be looked at: the rarest, until the rest weighs
        under _MIN_COVERAGE of the query. Kind words come last and stay in the rest, as an
        entry can match them by its kind alone."""

        def postings_size(q: str) -> int:
            return sum(len(self._postings[word]) for word, _ in query.alternatives[q])

        known = query.known()
        order = sorted(
            (q for q in known if q not in KIND_WORDS),
            key=lambda q: (-query.weights[q], postings_size(q)),
        )
        order += sorted((q for q in known if q in KIND_WORDS), key=postings_size)
        walked: list[str] = []
        rest = reachable
        for q in order:
            walked.append(q)
            if q not in KIND_WORDS:
                rest -= query.weights[q]
            if rest < _MIN_COVERAGE * query.total:
                break
        return walked

    def _add(
        self, key: int, query: _Query, scores: dict[int, tuple[float, int]], floor: float
    ) -> float:
        """Score one name for each of its entries into `scores`; return the new floor."""
        start = 0
        for length, score in self._run_scores(key, query):
            if score >= floor:
                # Entries of one name and kind score alike: the first _RANKED are enough.
                ranked = self._key_entries.part(key, start, start + min(length, _RANKED))
                for entry_no in ranked:
                    if score > scores.get(entry_no, (-1.0, 0))[0]:
                        scores[entry_no] = (score, key)
            start += length
        if len(scores) > 2 * _RANKED:  # keep the top _RANKED; earlier entries win ties
            top = heapq.nlargest(_RANKED, scores.items(), key=lambda item: (item[1][0], -item[0]))
            scores.clear()
            scores.update(top)
            # From now on a name must beat the last of them.
            floor = max(floor, math.nextafter(top[-1][1][0], math.inf))
        return floor

    def _best_match(self, entry_no: int, score: float, best_key: int, query: _Query) -> Match:
        matched = self._meet(best_key, query)[2]
        rarest = max((self._idf[word] for word in matched), default=0.0)
        return Match(
            self.entries[entry_no].id,
            round(score, 1),
            coverage=self._coverage(entry_no, query),
            named=_same(matched, self._keys[best_key]),
            # Or another of its names is in the query in full: "pelka scr" has the alias
            # "pelka", though the title's rarest word is "daniel".
            specific=rarest >= self._key_rarest[best_key] - 1e-9
            or any(
                _same(self._meet(key, query)[2], self._keys[key])
                for key in self._entry_keys[entry_no]
            ),
        )

    def _coverage(self, entry_no: int, query: _Query) -> float:
        """How much of the query the entry accounts for with all its names together: a title
        with "serious case review" and an alias "bristol cse" cover "cse scr"."""
        kinds = self._kinds[self._entry_kind[entry_no]]
        best = [query.weights[q] if q in KIND_WORDS & kinds else 0.0 for q in query.words]
        for key in self._entry_keys[entry_no]:
            hits = self._meet(key, query)[0]
            best = [max(a, b) for a, b in zip(best, hits, strict=True)]
        return round(min(sum(best) / query.total, 1.0), 3)

    def _meet(self, key: int, query: _Query) -> tuple[list[float], float, set[str]]:
        """How one name meets the query: each query word's weighted hit, the IDF of the name's
        words that were matched (times their similarity), and those words."""
        name_tokens = self._keys[key]
        hits = [0.0] * len(query.words)
        name_hit = 0.0
        matched: set[str] = set()
        for i, q in enumerate(query.words):
            for word, sim in query.alternatives[q]:
                if word in name_tokens:
                    hits[i] = query.weights[q] * sim
                    if word not in matched:
                        name_hit += self._idf[word] * sim
                        matched.add(word)
                    break
        return hits, name_hit, matched

    def _spelled_out(self, query: _Query) -> set[int]:
        """Names made only of query words (each word's closest vocabulary word)."""
        rarest = sorted(query.known(), key=lambda q: -query.weights[q])[:_SUBSET_WORDS]
        closest = [query.alternatives[q][0][0] for q in rarest]
        found: set[int] = set()
        for size in range(1, len(closest) + 1):
            for subset in combinations(closest, size):
                key = tuple(sorted(set(subset)))
                wanted = hash(key)
                at = int(np.searchsorted(self._hashes, wanted))
                while at < len(self._hashes) and self._hashes[at] == wanted:
                    number = int(self._hash_order[at])
                    if self._keys[number] == key:
                        found.add(number)
                    at += 1
        return found


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the block runs (and on again after, unless it was
    off before); objects freed by reference counting are freed as usual."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


class _Rows(Sequence["array[int]"]):
    """Rows of numbers in two flat arrays (where each row starts, and all rows end to end): four
    bytes a number, where a list of tuples of Python ints takes about forty. Held as `array`s:
    a row is a C-speed slice, and iterating it gives Python ints."""

    def __init__(self, starts: np.ndarray, values: np.ndarray) -> None:
        self._starts = array("q")
        self._starts.frombytes(starts.astype(np.int64).tobytes())
        self._values = array("i")
        self._values.frombytes(values.astype(np.int32).tobytes())

    @classmethod
    def of(cls, rows: np.ndarray, values: np.ndarray, count: int) -> _Rows:
        """Rows from (row, value) pairs sorted by row."""
        starts = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=count), out=starts[1:])
        return cls(starts, values)

    def size(self, row: int) -> int:
        return self._starts[row + 1] - self._starts[row]

    def part(self, row: int, start: int, stop: int) -> array[int]:
        """row[start:stop], without reading the rest of a long row."""
        first = self._starts[row]
        return self._values[first + start : min(first + stop, self._starts[row + 1])]

    def __len__(self) -> int:
        return len(self._starts) - 1

    def __getitem__(self, row: int) -> array[int]:  # type: ignore[override]
        return self._values[self._starts[row] : self._starts[row + 1]]

    def __iter__(self) -> Iterator[array[int]]:
        return (self[row] for row in range(len(self)))


def _tuples(
    strings: list[str], numbers: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> list[tuple[str, ...]]:
    """For each row, the tuple of strings[n] for n in numbers[start : start + size] (size at
    least 1): the rows of one size made all at once, by zip() over their columns."""
    table = np.array(strings, dtype=object)
    made: list[tuple[str, ...]] = []
    rows_made = []
    for size in _distinct(sizes).tolist():
        rows = np.flatnonzero(sizes == size)
        columns = table[numbers[starts[rows][:, None] + np.arange(size)]].T.tolist()
        made += zip(*columns, strict=True)
        rows_made.append(rows)
    if not made:
        return []
    return list(map(made.__getitem__, np.argsort(np.concatenate(rows_made)).tolist()))


def _same(words: set[str], key: tuple[str, ...]) -> bool:
    """Whether a set of words is exactly a name's (a key's words are distinct)."""
    return len(words) == len(key) and words.issuperset(key)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (np.unique, without its slower hash table in numpy 2, nor
    its import of numpy.ma: 10-15 ms of every start)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indexes start .. start + length - 1 of every (start, length), end to end."""
    ends = np.cumsum(lengths)
    return np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(
        ends - lengths - starts, lengths
    )


class _DeletionIndex:
    """Typo candidates without scanning the vocabulary (symmetric delete, as in SymSpell).

    Every vocabulary word is filed under itself and each string made by deleting one of its
    letters; a query word looks up itself and its own one-letter deletions. Two words meet
    when they differ by one substitution, insertion, deletion or swap of neighbours, or by an
    insertion and a deletion (Levenshtein 2); a long word with no candidate then looks up its
    two-letter deletions too. Two changed letters in one word are not found (rapidfuzz's
    `ratio` would mostly refuse them anyway). Candidates are then scored with rapidfuzz's
    `ratio`, as before, so what counts as a typo is unchanged; what changes is that a lookup
    costs a few dozen dictionary probes, whatever the vocabulary's size (39,000 words in a
    100,000-document catalogue: see docs/benchmarks.md).
    """

    PER_LENGTH = 3  # the best candidates kept for each word length

    def __init__(self, vocabulary: Iterable[str]) -> None:
        # The strings filed under are kept as their hashes (`_hash`), sorted, each beside its
        # word's number: 12 bytes a string rather than a dictionary entry and the string itself
        # (30 MB at 100,000 documents, now 4). They are computed for all words at once, without
        # making the strings (making 380,000 of them was a tenth of the build at 100,000
        # documents). A query word's strings are hashed the same way; a collision could only
        # add a candidate, which `ratio` then scores like any other.
        self._words = [w for w in vocabulary if len(w) >= 2 and not w.isdigit()]
        # A typo target is at most two letters shorter than a query word of four or more.
        self._longest = max(map(len, self._words), default=0)
        hashes, owners = _filed_hashes(self._words)
        order = np.argsort(hashes)  # a string's words are all looked at: any order of ties
        self._hashes = hashes[order]
        self._owners = owners[order]

    def lookup(self, token: str, cutoff: float) -> dict[str, float]:
        if len(token) > self._longest + 2:
            # Two deletions cannot bring it down to any known word's length. Without this, a
            # pasted 100,000-letter "word" would cost minutes of deletions (quadratic).
            return {}
        candidates = self._candidates(_deletion_hashes(token))
        if not candidates and len(token) >= LONG_WORD:
            # A long word may hold two slips; its two-letter deletions reach words that differ
            # by an extra letter and a changed one ("willliamz"), still without a scan.
            candidates = self._candidates(_deletion_hashes(token, twice=True))
        scored: list[tuple[float, str]] = []
        for word in candidates:
            score = fuzz.ratio(token, word, score_cutoff=cutoff)
            if score:
                scored.append((score, word))
        scored.sort(key=lambda item: (-item[0], item[1]))
        kept: dict[str, float] = {}
        per_length: dict[int, int] = defaultdict(int)
        for score, word in scored:
            if per_length[len(word)] < self.PER_LENGTH:
                per_length[len(word)] += 1
                kept[word] = score / 100.0
        return kept

    def _candidates(self, hashes: Iterable[int]) -> set[str]:
        wanted = np.fromiter(hashes, np.uint64)
        starts = np.searchsorted(self._hashes, wanted, side="left")
        ends = np.searchsorted(self._hashes, wanted, side="right")
        found = [self._owners[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        words = self._words
        return {words[n] for n in np.concatenate(found).tolist()} if found else set()


LONG_WORD = 7  # from this length, two slips in one word are looked for too
STEM_SIMILARITY = 0.9  # what another form of the same word counts for
SOUNDED_MIN = 5  # "Pelker" for "Pelka": only words this long ("ever" is not "eva")
# Endings that make another form of a word, longest first. Crude on purpose: it only has to
# bring forms of one word together, and a stem must keep four letters.
_ENDINGS = tuple("ations ation ings ing ions ion ers er ed es als al s".split())
# A consonant doubled before an ending ("referring", "referral", "committed") is one in the word
# itself ("refer", "commit"); not the doubles words end in ("staff", "fall", "miss", "buzz").
_DOUBLED = re.compile(r"([bdgmnprt])\1$")


def _stem(word: str) -> str:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            root = word[: -len(ending)]
            undoubled = _DOUBLED.sub(r"\1", root)
            return undoubled if len(undoubled) >= 4 else root
    return word


# A topic's text says its words many times over. (The index's 40,000 words, each stemmed once,
# call `_stem`: through the cache they only pushed each other out.)
stem = functools.lru_cache(maxsize=4096)(_stem)


# The strings a word is filed under are hashed as numbers mod 2**64 (the text's characters
# as digits in base _BASE, plus its length times _SALT), so that a word's deletions are hashed
# from its prefixes' and suffixes' hashes, for all words at once.
_BASE = 0x100000001B3
_SALT = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1


_POWERS = [pow(_BASE, k, 1 << 64) for k in range(64)]


def _hash(text: str) -> int:
    value = 0
    for character in text:
        value = (value * _BASE + ord(character) + 1) & _MASK
    return (value + len(text) * _SALT) & _MASK


def _deletion_hashes(word: str, twice: bool = False) -> list[int]:
    """The hashes of `word` and of each string made by deleting one of its letters (and, with
    `twice`, two), from the hashes of its prefixes and suffixes rather than of new strings."""
    n = len(word)
    while len(_POWERS) <= n:
        _POWERS.append((_POWERS[-1] * _BASE) & _MASK)
    power = _POWERS
    codes = [ord(character) + 1 for character in word]
    prefix = [0] * (n + 1)  # the polynomial of word[:i]
    for i, code in enumerate(codes):
        prefix[i + 1] = (prefix[i] * _BASE + code) & _MASK
    suffix = [0] * (n + 1)  # of word[i:], its last letter the units
    for i in range(n - 1, -1, -1):
        suffix[i] = (codes[i] * power[n - 1 - i] + suffix[i + 1]) & _MASK
    salt = (n - 1) * _SALT
    found = [(prefix[n] + n * _SALT) & _MASK]
    found += [(prefix[i] * power[n - 1 - i] + suffix[i + 1] + salt) & _MASK for i in range(n)]
    if twice:
        salt = (n - 2) * _SALT
        for i in range(n):
            head = prefix[i] * power[n - 2 - i] if i < n - 1 else 0
            for j in range(i + 1, n):
                middle = prefix[j] - prefix[i + 1] * power[j - i - 1]  # word[i + 1 : j]
                value = head + middle * power[n - 1 - j] + suffix[j + 1] + salt
                found.append(value & _MASK)
    return found


def _filed_hashes(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`_deletion_hashes` of every word (uint64), and each one's word number (int32): words of
    one length at a time, a column of letters a step."""
    sizes = np.fromiter(map(len, words), np.int64, len(words))
    codes = np.frombuffer("".join(words).encode("utf-32-le"), np.uint32).astype(np.uint64) + 1
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    base = np.uint64(_BASE)
    hashes, owners = [np.zeros(0, np.uint64)], [np.zeros(0, np.int32)]
    longest = int(sizes.max()) if len(sizes) else 0
    # Powers of the base and the length's part, mod 2**64 (as Python ints: numpy warns when a
    # number alone overflows, not an array).
    _deletion_hashes("x" * longest)  # _POWERS as far as the longest word
    power = np.array(_POWERS[: longest + 1], np.uint64)
    for n in _distinct(sizes).tolist():
        numbers = np.flatnonzero(sizes == n)
        letters = codes[starts[numbers][:, None] + np.arange(n)]  # one row a word
        prefix = np.zeros((len(numbers), n + 1), np.uint64)
        suffix = np.zeros((len(numbers), n + 1), np.uint64)
        for i in range(n):
            prefix[:, i + 1] = prefix[:, i] * base + letters[:, i]
        for i in range(n - 1, -1, -1):
            suffix[:, i] = letters[:, i] * power[n - 1 - i] + suffix[:, i + 1]
        filed = np.empty((len(numbers), n + 1), np.uint64)
        filed[:, 0] = prefix[:, n] + np.uint64((n * _SALT) & _MASK)
        shorter = np.uint64(((n - 1) * _SALT) & _MASK)
        for i in range(n):
            filed[:, i + 1] = prefix[:, i] * power[n - 1 - i] + suffix[:, i + 1] + shorter
        hashes.append(filed.ravel())
        owners.append(np.repeat(numbers.astype(np.int32), n + 1))
    return np.concatenate(hashes), np.concatenate(owners)


def kind_words(kind: str) -> frozenset[str]:
    """The words that name `kind`: its own, their synonyms, singular and plural."""
    found = set(words(kind))
    for word in list(found):
        found.update(KIND_SYNONYMS.get(word, "").split())
    found |= {w + "s" for w in found} | {w.rstrip("s") for w in found}
    return frozenset(found)


def _close(best: Match, other: Match, margin: float) -> bool:
    """Whether `other` is as likely as `best`: near in score, or (when `best` is not named in
    full) accounting for the query just as well, so that only name length sets them apart."""
    if other.score < SUGGEST_CUTOFF:
        return False
    if other.score >= best.score - margin:
        return True
    return not best.named and other.coverage >= best.coverage - COVERAGE_TIE


def _decide(found: tuple[Match, ...]) -> str | None:
    if not found or found[0].score < SUGGEST_CUTOFF:
        return None
    best = found[0]
    # An entry is answered only when the query has its name's rarest word: "child a full report"
    # fits "Child A1301 - full report" word for word, but without "1301" it may be another child.
    if (
        best.score >= ANSWER_CUTOFF
        and best.specific
        and not any(_close(best, m, CLOSE_MARGIN) for m in found[1:])
    ):
        return "answer"
    return "choices"


def _close_ones(result: SearchResult) -> list[Match]:
    """The best entry and every ranked one close to it."""
    if not result.matches:
        return []
    best = result.matches[0]
    margin = CLOSE_MARGIN if best.score >= ANSWER_CUTOFF else 2 * CLOSE_MARGIN
    return [best, *(m for m in result.matches[1:] if _close(best, m, margin))]


def choices_of(result: SearchResult) -> tuple[Match, ...]:
    """The entries to offer when the decision is "choices"."""
    return tuple(_close_ones(result)[:MAX_CHOICES])
