"""The matcher: free text -> the knowledge entries it most likely means, or nothing.

Pure and synchronous, shared by topics, reports and actions. Each entry has several names
(title, aliases, example questions). Text is folded (case, accents, punctuation), filler words
are dropped and abbreviations expanded, the same way for names and queries. Query words are
matched to the vocabulary exactly or, for words of four letters or more, with rapidfuzz's
`ratio` (typos). An entry's score (0-100) combines:

- query coverage: how much of the query (weighted by rarity, IDF) the name accounts for, so an
  unrelated word ("pothole", "tax") lowers the score instead of being ignored;
- name coverage: how much of the name the query accounts for, so "what is an SCR" prefers the
  topic named exactly that over every report whose title contains "serious case review".

Kind words ("report", "briefing", "summary"...) count as matched when they name the entry's
kind, which steers between documents of one case ("briefing for patrick").

Candidates come from an inverted index over name tokens, rarest query words first, so a query
scores a few hundred names rather than the whole catalogue (see bench/ and docs/benchmarks.md).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

FILLER = frozenset(
    (
        "a an the of for to on in about and or with by from at is are was were be been it its "
        "this that these those there what whats which who whom how do does did can could "
        "would should will shall may might must i im me my we our us you your please pls plz "
        "tell explain show give send find get need want looking look like know mean means "
        "meaning define definition some any just quick thanks thank hi hello hey s t re ll ve "
        "d m copy link document doc dont"
    ).split()
)

# Words that name a kind of document. They steer between documents of one case, so they count
# as matched when the entry's kind contains them, and weigh less when they do not match.
KIND_WORDS = frozenset(
    (
        "report reports review reviews briefing briefings summary summaries executive full "
        "presentation powerpoint slides form lessons learning inquiry paper campaign "
        "materials"
    ).split()
)

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
    "dsl": "designated safeguarding lead",
    "lac": "looked after child",
}

_SPECIAL = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "đ": "d", "ı": "i"})
_WORD = re.compile(r"[a-z]+|[0-9]+")

ANSWER_CUTOFF = 70.0  # a single clear entry at or above this is answered
SUGGEST_CUTOFF = 58.0  # below the answer cutoff but at or above this: offered as choices
CLOSE_MARGIN = 6.0  # entries this close to the best are offered together
MAX_CHOICES = 4
_CANDIDATE_CAP = 4000  # postings longer than this are checked per candidate, not walked


def fold(text: str) -> str:
    """Lowercase, strip accents and turn everything but letters and digits into spaces."""
    text = unicodedata.normalize("NFKD", text.lower().translate(_SPECIAL))
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """All folded words of `text`, letters and digits split apart ("wt2023" -> "wt", "2023")."""
    return _WORD.findall(fold(text))


def tokens(text: str) -> list[str]:
    """Words that carry meaning: filler dropped, abbreviations expanded, order kept, no repeats."""
    result: list[str] = []
    for word in words(text):
        for token in ABBREVIATIONS.get(word, word).split():
            if token not in FILLER and token not in result:
                result.append(token)
    return result


def _typo_cutoff(token: str) -> float | None:
    """How similar a vocabulary word must be to count as a typo of `token` (None: exact only)."""
    if len(token) < 4 or token.isdigit():
        return None
    return 75.0 if len(token) <= 5 else 80.0


@dataclass(frozen=True)
class SearchEntry:
    id: str
    kind: str  # "topic", "action", or a report kind such as "practitioner briefing"
    names: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    id: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    """`decision` is "answer" (one clear entry), "choices" (several close ones) or None."""

    decision: str | None
    matches: tuple[Match, ...]

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


class SearchIndex:
    def __init__(self, entries: Iterable[SearchEntry]) -> None:
        self.entries = list(entries)
        self._name_entry: list[int] = []
        self._name_tokens: list[frozenset[str]] = []
        self._name_weight: list[float] = []
        self._kind_words: list[frozenset[str]] = []
        postings: dict[str, list[int]] = defaultdict(list)
        entry_df: dict[str, int] = defaultdict(int)
        per_entry: list[list[list[str]]] = []
        for entry in self.entries:
            kind_words = set(words(entry.kind))
            # plural and singular forms of kind words steer alike
            kind_words |= {w + "s" for w in kind_words} | {w.rstrip("s") for w in kind_words}
            self._kind_words.append(frozenset(kind_words))
            name_tokens = [tokens(name) for name in entry.names]
            per_entry.append(name_tokens)
            for token in {t for toks in name_tokens for t in toks}:
                entry_df[token] += 1
        total = max(len(self.entries), 1)
        self._idf = {t: math.log(1.0 + total / df) for t, df in entry_df.items()}
        # A word the catalogue has never seen weighs like a rare one: it is probably the point.
        self._unknown_weight = math.log(1.0 + total) * 0.8
        for entry_no, name_tokens in enumerate(per_entry):
            seen: set[frozenset[str]] = set()
            for toks in name_tokens:
                key = frozenset(toks)
                if not toks or key in seen:
                    continue
                seen.add(key)
                name_no = len(self._name_entry)
                self._name_entry.append(entry_no)
                self._name_tokens.append(key)
                self._name_weight.append(sum(self._idf[t] for t in key))
                for t in key:
                    postings[t].append(name_no)
        self._postings = dict(postings)
        by_length: dict[int, list[str]] = defaultdict(list)
        for token in self._postings:
            by_length[len(token)].append(token)
        self._by_length = dict(by_length)

    def _vocabulary_matches(self, token: str) -> dict[str, float]:
        """Vocabulary words that `token` may mean, with similarity 0-1."""
        if token in self._postings:
            return {token: 1.0}
        cutoff = _typo_cutoff(token)
        if cutoff is None:
            return {}
        found: dict[str, float] = {}
        for length in range(len(token) - 2, len(token) + 3):
            choices = self._by_length.get(length)
            if not choices:
                continue
            for word, score, _ in process.extract(
                token, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=3
            ):
                found[word] = score / 100.0
        return found

    def search(self, text: str) -> SearchResult:
        query = tokens(text)
        if not query or not self.entries:
            return SearchResult(None, ())
        matches = {q: self._vocabulary_matches(q) for q in query}
        weights: dict[str, float] = {}
        for q in query:
            known = matches[q]
            w = max((self._idf[v] for v in known), default=self._unknown_weight)
            weights[q] = w * 0.5 if q in KIND_WORDS else w
        total_weight = sum(weights.values())

        def postings_size(q: str) -> int:
            return sum(len(self._postings[v]) for v in matches[q])

        searchable = sorted((q for q in query if matches[q]), key=postings_size)
        if not searchable:
            return SearchResult(None, ())
        walked = [q for q in searchable if postings_size(q) <= _CANDIDATE_CAP] or searchable[:1]
        query_hits: dict[int, float] = defaultdict(float)  # name -> sum of w * similarity
        name_hits: dict[int, float] = defaultdict(float)  # name -> sum of idf of matched tokens
        for q in walked:
            best: dict[int, tuple[float, str]] = {}
            for word, sim in matches[q].items():
                for name_no in self._postings[word]:
                    if sim > best.get(name_no, (0.0, ""))[0]:
                        best[name_no] = (sim, word)
            for name_no, (sim, word) in best.items():
                query_hits[name_no] += weights[q] * sim
                name_hits[name_no] += self._idf[word] * sim
        candidates = list(query_hits)
        for q in query:
            if q in walked:
                continue
            for name_no in candidates:
                name_tokens = self._name_tokens[name_no]
                sim, word = max(
                    ((s, w) for w, s in matches[q].items() if w in name_tokens), default=(0.0, "")
                )
                if sim:
                    query_hits[name_no] += weights[q] * sim
                    name_hits[name_no] += self._idf[word] * sim
                elif q in KIND_WORDS and q in self._kind_words[self._name_entry[name_no]]:
                    query_hits[name_no] += weights[q]
        # Kind words that were walked but missed a name still count when they name its kind.
        for q in walked:
            if q not in KIND_WORDS:
                continue
            for name_no in candidates:
                kinds = self._kind_words[self._name_entry[name_no]]
                if q in kinds and not (set(matches[q]) & self._name_tokens[name_no]):
                    query_hits[name_no] += weights[q]
        scores: dict[int, float] = {}
        for name_no in candidates:
            score = 100.0 * (
                0.6 * min(query_hits[name_no] / total_weight, 1.0)
                + 0.4 * min(name_hits[name_no] / self._name_weight[name_no], 1.0)
            )
            entry_no = self._name_entry[name_no]
            if score > scores.get(entry_no, 0.0):
                scores[entry_no] = score
        ranked = sorted(scores.items(), key=lambda item: -item[1])[:20]
        found = tuple(Match(self.entries[e].id, round(s, 1)) for e, s in ranked)
        return SearchResult(_decide(found), found)


def _decide(found: tuple[Match, ...]) -> str | None:
    if not found or found[0].score < SUGGEST_CUTOFF:
        return None
    close = [m for m in found[1:] if m.score >= found[0].score - CLOSE_MARGIN]
    if found[0].score >= ANSWER_CUTOFF and not close:
        return "answer"
    return "choices"


def choices_of(result: SearchResult) -> tuple[Match, ...]:
    """The entries to offer when the decision is "choices"."""
    if not result.matches:
        return ()
    best = result.matches[0].score
    margin = CLOSE_MARGIN if best >= ANSWER_CUTOFF else 2 * CLOSE_MARGIN
    keep = [m for m in result.matches if m.score >= max(best - margin, SUGGEST_CUTOFF)]
    return tuple(keep[:MAX_CHOICES])
