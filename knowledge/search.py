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

import functools
import heapq
import importlib.resources
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from rapidfuzz import fuzz

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


def fold(text: str) -> str:
    """Lowercase and strip accents (punctuation stays: `words` splits out letters and digits)."""
    if text.isascii():
        return text.lower()  # what the rest would give: no accents, nothing to decompose
    text = unicodedata.normalize("NFKD", text.lower().translate(_SPECIAL))
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """All folded words of `text`, letters and digits split apart ("wt2023" -> "wt", "2023")."""
    return _WORD.findall(fold(text))


def tokens(text: str) -> list[str]:
    """Words that carry meaning: filler dropped, abbreviations expanded, order kept, no repeats."""
    result: list[str] = []
    for word in words(_CONTRACTION.sub("", text)):
        word = NUMBER_WORDS.get(word, word)
        for token in ABBREVIATIONS.get(word, word).split():
            if token not in FILLER and token not in result:
                result.append(token)
    return result


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


@functools.cache
def common_english() -> frozenset[str]:
    """The commonest English words (symspellpy's list, read once, shipped in its wheel)."""
    listing = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    common = set()
    for line in listing.read_text(encoding="utf-8").splitlines():
        word, _, count = line.partition(" ")
        if int(count) >= COMMON_COUNT:
            common.add(word)
    return frozenset(common)


@dataclass(frozen=True)
class SearchEntry:
    id: str
    kind: str  # "topic", "action", or a report kind such as "practitioner briefing"
    names: tuple[str, ...]


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
    """

    def __init__(self, entries: Iterable[SearchEntry], walk_limit: int = WALK_LIMIT) -> None:
        self.entries = list(entries)
        self.walk_limit = walk_limit
        common_english()  # read now (0.1 s, once), not in the first question's reply
        self._kind_words: list[frozenset[str]] = []  # per entry
        kinds: dict[str, frozenset[str]] = {}
        token_cache: dict[str, frozenset[str]] = {}  # catalogues repeat names (places, authors)
        vocabulary: dict[str, str] = {}  # one string per word, however many names have it
        numbers: dict[frozenset[str], int] = {}
        keys: list[frozenset[str]] = []
        key_entries: list[list[int]] = []
        entry_keys: list[list[int]] = []
        entry_df: dict[str, int] = defaultdict(int)
        for entry_no, entry in enumerate(self.entries):
            if entry.kind not in kinds:
                kinds[entry.kind] = kind_words(entry.kind)
            self._kind_words.append(kinds[entry.kind])
            own: list[int] = []
            for name in entry.names:
                key = token_cache.get(name)
                if key is None:
                    key = frozenset(vocabulary.setdefault(t, t) for t in tokens(name))
                    token_cache[name] = key
                if not key:
                    continue
                number = numbers.setdefault(key, len(keys))
                if number == len(keys):
                    keys.append(key)
                    key_entries.append([])
                if number not in own:
                    own.append(number)
                    key_entries[number].append(entry_no)
            entry_keys.append(own)
            for token in frozenset().union(*(keys[k] for k in own)):
                entry_df[token] += 1
        total = max(len(self.entries), 1)
        self._idf = {t: math.log(1.0 + total / df) for t, df in entry_df.items()}
        # A word the catalogue has never seen is rarer than any word it has (as if half an entry
        # held it). It is probably the very name asked for, which the catalogue lacks, so a name
        # that accounts for the rest of the query must not pass for it ("daniel smith").
        self._unknown_weight = math.log(1.0 + 2.0 * total)

        weights = [sum(self._idf[t] for t in key) for key in keys]
        order = sorted(range(len(keys)), key=weights.__getitem__)  # lightest first
        renumber = [0] * len(keys)
        for new, old in enumerate(order):
            renumber[old] = new
        self._keys = [keys[old] for old in order]
        self._key_weight = [weights[old] for old in order]
        self._key_rarest = [max(self._idf[t] for t in key) for key in self._keys]
        self._key_numbers = {key: number for number, key in enumerate(self._keys)}
        self._entry_keys = [tuple(renumber[k] for k in own) for own in entry_keys]
        # Each key's entries by kind, as the kind decides what kind words add to a name's score.
        self._key_groups: list[tuple[tuple[frozenset[str], tuple[int, ...]], ...]] = []
        for old in order:
            by_kind: dict[frozenset[str], list[int]] = {}
            for entry_no in key_entries[old]:
                by_kind.setdefault(self._kind_words[entry_no], []).append(entry_no)
            self._key_groups.append(tuple((kind, tuple(nos)) for kind, nos in by_kind.items()))
        postings: dict[str, list[int]] = defaultdict(list)
        for number, key in enumerate(self._keys):
            for token in key:
                postings[token].append(number)
        self._postings = dict(postings)
        self._typos = _DeletionIndex(self._postings)
        stems: dict[str, list[str]] = defaultdict(list)
        for token in self._postings:
            root = stem(token)
            if root != token:
                stems[root].append(token)
        self._stems = dict(stems)

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
        hits, name_hit, _ = self._meet(key, query)
        hit = sum(hits)
        name_part = NAME_PART * min(name_hit / self._key_weight[key], 1.0)
        # Kind words the name lacks still count for entries of that kind.
        missing = [q for q, h in zip(query.words, hits, strict=True) if not h and q in KIND_WORDS]
        for kinds, entry_nos in self._key_groups[key]:
            credit = sum(query.weights[q] for q in missing if q in kinds)
            score = 100.0 * (QUERY_PART * min((hit + credit) / query.total, 1.0) + name_part)
            if score < floor:
                continue
            # Entries of one name and kind score alike: the first _RANKED are enough.
            for entry_no in entry_nos[:_RANKED]:
                if score > scores.get(entry_no, (-1.0, 0))[0]:
                    scores[entry_no] = (score, key)
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
            named=matched == self._keys[best_key],
            # Or another of its names is in the query in full: "pelka scr" has the alias
            # "pelka", though the title's rarest word is "daniel".
            specific=rarest >= self._key_rarest[best_key] - 1e-9
            or any(
                self._meet(key, query)[2] == self._keys[key] for key in self._entry_keys[entry_no]
            ),
        )

    def _coverage(self, entry_no: int, query: _Query) -> float:
        """How much of the query the entry accounts for with all its names together: a title
        with "serious case review" and an alias "bristol cse" cover "cse scr"."""
        kinds = self._kind_words[entry_no]
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
                number = self._key_numbers.get(frozenset(subset))
                if number is not None:
                    found.add(number)
        return found


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
        index: dict[str, str | list[str]] = {}
        self._longest = 0
        for word in vocabulary:
            # A typo target is at most two letters shorter than a query word of four or more.
            if len(word) < 2 or word.isdigit():
                continue
            self._longest = max(self._longest, len(word))
            for key in _deletions(word):
                found = index.get(key)
                if found is None:
                    index[key] = word  # most keys have one word: no list for them
                elif isinstance(found, str):
                    index[key] = [found, word]
                else:
                    found.append(word)
        self._index = index

    def lookup(self, token: str, cutoff: float) -> dict[str, float]:
        if len(token) > self._longest + 2:
            # Two deletions cannot bring it down to any known word's length. Without this, a
            # pasted 100,000-letter "word" would cost minutes of deletions (quadratic).
            return {}
        candidates = self._candidates(_deletions(token))
        if not candidates and len(token) >= LONG_WORD:
            # A long word may hold two slips; its two-letter deletions reach words that differ
            # by an extra letter and a changed one ("willliamz"), still without a scan.
            candidates = self._candidates(
                {shorter for once in _deletions(token) for shorter in _deletions(once)}
            )
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

    def _candidates(self, keys: Iterable[str]) -> set[str]:
        candidates: set[str] = set()
        for key in keys:
            found = self._index.get(key)
            if found is None:
                continue
            if isinstance(found, str):
                candidates.add(found)
            else:
                candidates.update(found)
        return candidates


LONG_WORD = 7  # from this length, two slips in one word are looked for too
STEM_SIMILARITY = 0.9  # what another form of the same word counts for
# Endings that make another form of a word, longest first. Crude on purpose: it only has to
# bring forms of one word together, and a stem must keep four letters.
_ENDINGS = ("ations", "ation", "ings", "ing", "ions", "ion", "ers", "er", "ed", "es", "s")


def stem(word: str) -> str:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


def _deletions(word: str) -> set[str]:
    """`word` and every string made by deleting one of its letters."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


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


def choices_of(result: SearchResult) -> tuple[Match, ...]:
    """The entries to offer when the decision is "choices"."""
    if not result.matches:
        return ()
    best = result.matches[0]
    margin = CLOSE_MARGIN if best.score >= ANSWER_CUTOFF else 2 * CLOSE_MARGIN
    keep = [best, *(m for m in result.matches[1:] if _close(best, m, margin))]
    return tuple(keep[:MAX_CHOICES])
