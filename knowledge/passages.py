"""Retrieval over the topics' own text, and the sentence that answers the facet asked.

The names (title, aliases, example questions) say how people ask; the text says what a topic
knows. A question whose words are in a topic's answer but in none of its names ("how often must
the DSL's training be refreshed") is found here: BM25 (bm25s, MIT) over each topic's title,
aliases, questions, answer, more, facet answers and yes/no checks, on stemmed tokens. Its score
is one signal of the decision (knowledge/decision.py), normalised by the best topic's.

`lead` picks what a reply says first: the topic's own answer to the facet asked (its `facets:`),
the answer of its yes/no check nearest the question (also for a question that is a check in
other words, without its yes or no), or else the sentence of its text that fits the question
best; None when the topic's opening already says it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.cache import Cache, library_stamp
from knowledge.entries import Check, Topic
from knowledge.query import Query
from knowledge.search import stem, tokens

# Names are how the topic is asked for: counted twice, so they outweigh a word used in passing.
NAME_WEIGHT = 2
# A check leads the reply when its question is at least this near the question asked (cosine
# of their meanings, or the share of the check's words the question has).
CHECK_NEAR = 0.72
CHECK_WORDS = 0.6
# A check less near than that, but clearly the nearest of its topic's, still leads, with its
# own question in front, so that the reader sees which question the yes or no answers ("Is
# living with grandparents private fostering? No. ...", asked about an aunt).
CHECK_FRAMED = 0.6
CHECK_AHEAD = 0.15
CHECK_COVERED = 0.9  # ... or all of its words are in the question (the share of its words, IDF)
CHECK_COVERED_NEAR = 0.5  # ... and, clearly the nearest of them in meaning, at least this near
# A question with no facet read from it needs this many words of its own to be one of the
# checks in other words (answered by it, without its yes or no) ...
CHECK_QUESTION_WORDS = 5
NAME_SHARE = 0.8  # ... and must not be a topic's name: this much of it in one name
# A sentence of the text leads only when it shares this much (IDF-weighted) of the question.
SENTENCE_SHARE = 0.5
# ... and, for "what is", this much more of it than the topic's opening has.
WHAT_PART = 0.3
# ... and, for "when" asked of a topic that answers it itself, this much more of it (beyond
# the topic's names) than that answer has.
FACET_PART = 0.25
# A check that is itself a comparison ("is channel the same as prevent").
_SAME_OR_NOT = re.compile(r"\b(?:same|different|differ|difference|vs|versus)\b")
_YES_OR_NO = re.compile(r"^(?:yes|no|usually not|usually|not usually|not always)[.,:;]\s*", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")
# What a "when" answer has: a number of days, weeks..., or a deadline word.
_TIME = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|ten|fifteen|twelve)\s+(?:working\s+)?"
    r"(?:days?|weeks?|months?|years?|hours?)\b|\bwithin\b|\bevery\b|\bby\b|\bimmediately\b|"
    r"\bsame day\b|\bnext (?:school |working )?day\b",
    re.IGNORECASE,
)


def stems(text: str) -> list[str]:
    return [stem(t) for t in tokens(text)]


@dataclass(frozen=True)
class Lead:
    """What a reply says first: `text`, taken from the topic's `source` ("facet:when",
    "check", "sentence")."""

    text: str
    source: str


class TopicText:
    """BM25 over each topic's own words.

    The index (each topic's stems, and bm25s's term-by-topic score matrix) is what building it
    costs, a tenth of `ask`'s start: it is kept in `cache` under the topics' words and the code
    that makes it, and read back without importing bm25s (with tqdm and multiprocessing behind
    it). `scores` adds the matrix's rows as bm25s's `get_scores` does, so a read-back index
    scores as the built one (tests/test_topic_text.py compares them with bm25s's own)."""

    def __init__(self, topics: Mapping[str, Topic], cache: Cache | None = None) -> None:
        self.ids = list(topics)
        inputs: list[bytes | str] = [_CODE, library_stamp("bm25s")]
        for topic in topics.values():
            inputs += [topic.id, *_document_texts(topic)]
        built = (cache or Cache(None)).kept("topic-text", inputs, lambda: _build(topics))
        self._words = {i: frozenset(d) for i, d in zip(self.ids, built["words"], strict=True)}
        self._vocabulary: dict[str, int] = built["vocabulary"]
        self._data = np.asarray(built["data"], dtype=np.float32)
        self._indices = np.asarray(built["indices"], dtype=np.int32)
        self._indptr = np.asarray(built["indptr"], dtype=np.int64)
        # Whether each word's row names each topic once (ascending, as bm25s makes it): then
        # adding a row is one indexed addition, where np.add.at took a fifth of `scores`.
        steps = np.diff(self._indices)
        starts = np.zeros(len(self._indices), dtype=bool)
        starts[self._indptr[:-1][self._indptr[:-1] < len(self._indices)]] = True
        self._distinct = bool(np.all((steps > 0) | starts[1:]))
        documents = len(self.ids) or 1
        frequency: dict[str, int] = {}
        for words in self._words.values():
            for token in words:
                frequency[token] = frequency.get(token, 0) + 1
        self._idf = {t: math.log(1 + documents / n) for t, n in frequency.items()}
        self._unseen = math.log(1 + documents)

    def scores(self, query: Query) -> dict[str, float]:
        """Each topic's BM25 score for the query, divided by the best (0-1); empty when no
        topic has any of its words."""
        said = [stem(t) for t in query.tokens]
        if not said or not self.ids:
            return {}
        # bm25s's get_scores: the rows of the question's known words (repeats too), added in
        # float32 in the question's order.
        rows = np.asarray([self._vocabulary[t] for t in said if t in self._vocabulary], np.int32)
        if int(rows.max(initial=0)) >= len(self._indptr) - 1:
            # bm25s refuses its own empty token ("") in a question; a stem is never empty.
            raise ValueError("a question token outside the index")
        raw = np.zeros(len(self.ids), dtype=np.float32)
        for row in rows:
            start, end = self._indptr[row], self._indptr[row + 1]
            if self._distinct:  # the same float32 additions, without add.at's overhead
                raw[self._indices[start:end]] += self._data[start:end]
            else:
                np.add.at(raw, self._indices[start:end], self._data[start:end])
        scored = raw.astype(np.float64)  # divided in float64, as before
        best = float(scored.max()) if scored.size else 0.0
        if best <= 0:
            return {}
        return {self.ids[i]: float(scored[i] / best) for i in np.flatnonzero(scored > 0)}

    def weight(self, token: str) -> float:
        return self._idf.get(token, self._unseen)

    def knows(self, token: str) -> bool:
        """Whether some topic's text has the stem `token`, or its form with an "e" ("flanges"
        is stemmed "flang", "flange" stays whole)."""
        return token in self._vocabulary or f"{token}e" in self._vocabulary

    def share(self, query: Query, text: str) -> float:
        """How much of the question (IDF-weighted) `text` has."""
        return self.share_in(_said(query), text)

    def share_in(self, said: set[str], text: str) -> float:
        """How much of the stems `said` (IDF-weighted) `text` has: a part of a question."""
        return self._part(said, _stem_set(text))

    def covered(self, query: Query, text: str) -> float:
        """How much of `text`'s own words (IDF-weighted) the question has: the other way round
        from `share`. A light verb is left out: "make a referral" is asked as "refer"."""
        return self._part(_stem_set(text) - LIGHT_VERBS, _said(query))

    def share_of(
        self, query: Query, topic_id: str, leaving_out: frozenset[str] = frozenset()
    ) -> float:
        """How much of the question (IDF-weighted) the topic's own words have, the question's
        words in `leaving_out` not counted."""
        return self.shares_of(query, (topic_id,), leaving_out)[topic_id]

    def shares_of(
        self, query: Query, topic_ids: Iterable[str], leaving_out: frozenset[str] = frozenset()
    ) -> dict[str, float]:
        """`share_of(query, i)` for each of `topic_ids` (the question's weight summed once,
        not once per topic: every topic its words reach, every question)."""
        whole = _said(query, leaving_out)
        if not whole:
            return dict.fromkeys(topic_ids, 0.0)
        idf, unseen, empty = self._idf, self._unseen, frozenset[str]()
        total = sum([idf.get(t, unseen) for t in whole])
        return {
            i: sum([idf.get(t, unseen) for t in whole & self._words.get(i, empty)]) / total
            for i in topic_ids
        }

    def _part(self, whole: set[str], has: set[str] | frozenset[str]) -> float:
        """How much of `whole`'s stems (IDF-weighted) are in `has`."""
        if not whole:
            return 0.0
        # `weight`, inlined: this runs for every topic the question's words reach.
        idf, unseen = self._idf, self._unseen
        total = sum([idf.get(t, unseen) for t in whole])
        return sum([idf.get(t, unseen) for t in whole & has]) / total


def _document_texts(topic: Topic) -> tuple[str, str]:
    """A topic's names (how it is asked for) and its text (what it says)."""
    names = " ".join((topic.title, *topic.aliases, *topic.questions))
    text = " ".join(
        (
            topic.answer,
            topic.more,
            *(t for _, t in topic.facets),
            *(f"{c.ask} {c.say}" for c in topic.checks),
        )
    )
    return names, text


def _build(topics: Mapping[str, Topic]) -> dict[str, Any]:
    """Each topic's stems (its names counted NAME_WEIGHT times) and bm25s's index of them, as
    data the cache can keep."""
    if not topics:
        return {"words": [], "vocabulary": {}, "data": [], "indices": [], "indptr": [0]}
    import bm25s  # only when the topics changed: with tqdm and multiprocessing, 30 ms

    corpus = []
    for topic in topics.values():
        names, text = _document_texts(topic)
        corpus.append(stems(names) * NAME_WEIGHT + stems(text))
    index = bm25s.BM25()
    index.index(corpus, show_progress=False)
    return {
        "words": [sorted(set(document)) for document in corpus],
        "vocabulary": dict(index.vocab_dict),
        "data": index.scores["data"].tolist(),
        "indices": index.scores["indices"].tolist(),
        "indptr": index.scores["indptr"].tolist(),
    }


# The code that makes the index: a change to the stemmer or to the documents' makeup builds it
# again rather than reading an index made the old way.
_CODE = b"".join(
    (Path(__file__).parent / name).read_bytes() for name in ("search.py", "passages.py")
)


# Verbs that carry the noun after them ("make a referral", "give consent", "take a decision").
LIGHT_VERBS = frozenset(("make", "made", "get", "got", "give", "gave", "take", "took", "put"))


def _said(query: Query, leaving_out: frozenset[str] = frozenset()) -> set[str]:
    """The question's stems, its words in `leaving_out` not counted (the caller must not
    change the set: it is kept, `_stems_of`)."""
    return _stems_of(query.tokens, leaving_out)


# A topic's sentences and checks are weighed against the question one by one, several times
# a message (the lead, the part asked, the nearest check), each time stemmed again: a tenth
# of a question's time. Their stems are kept, a few thousand texts at most; so are the
# question's. The sets are kept as made, never changed, so what is summed over them (in their
# order) is what it was.
@functools.lru_cache(maxsize=4096)
def _stem_set(text: str) -> set[str]:
    """The stems of `text`, as a set (kept: the caller must not change it)."""
    return set(stems(text))


@functools.lru_cache(maxsize=256)
def _stems_of(said: tuple[str, ...], leaving_out: frozenset[str]) -> set[str]:
    return {stem(t) for t in said if t not in leaving_out}


def lead(
    topic: Topic,
    query: Query,
    text: TopicText,
    near: Callable[[str, Sequence[str]], list[float]] | None = None,
) -> Lead | None:
    """What the reply to `query` should say first, from `topic`; None: its opening answer.

    `near(question, texts)` gives the meaning-similarity of the question to each text (the
    semantic model); without it, checks are matched by their words alone."""
    facet = query.facet
    if (
        facet == ""
        and len(query.tokens) >= CHECK_QUESTION_WORDS
        and topic.checks
        and not _is_a_name_of(query, topic)
    ):
        # A question that is one of the topic's checks in other words ("what age can a child be
        # left home alone" and "is there a legal age to leave a child home alone") is answered
        # by it, without its yes or no. Not the topic's name ("local child safeguarding
        # practice review"), nor "what is X": the topic's opening answers those.
        said = _nearest_check(topic, query, text, near, framed=False)
        if said is not None:
            return Lead(_YES_OR_NO.sub("", said, count=1), "check")
    # "What is X" is what the topic's opening says: no lead.
    if facet in ("when", "who", "how", "next"):
        own = topic.facet(facet)
        if own is not None:
            # The topic's own answer to "when" is about its main subject; a question about the
            # time of one part of it ("when did LSCBs end", "looked after child reviews, what
            # are the timescales") is the sentence with a time that has clearly more of the
            # question. Only "when": tried on "who" and "how", the topic's own answer was the
            # better one far more often (a sentence that names the roles is not who they are).
            part = _part_asked(topic, query, text, own) if facet == "when" else None
            return Lead(part, "sentence") if part else Lead(own, f"facet:{facet}")
    if facet == "yesno" and topic.checks:
        check = _nearest_check(topic, query, text, near)
        if check is not None:
            return Lead(check, "check")
    if facet == "compare":
        # "is channel the same as prevent", both names of one topic: its check on that, every
        # word of which is asked ("how is an LCSPR different from the old reviews" is not "is a
        # silp the same as an lcspr", whose "No" answers another thing).
        compared = [
            c
            for c in topic.checks
            if _SAME_OR_NOT.search(c.ask) and text.covered(query, c.ask) >= CHECK_COVERED
        ]
        if len(compared) == 1:
            return Lead(compared[0].say, "check")
    if facet in ("", "compare"):
        return None
    sentence = _best_sentence(topic, query, text)
    if facet == "what" and sentence is not None:
        # What the topic is, its opening says; a part of it asked about ("what is the NRM" in
        # the topic on exploitation) is the sentence that has clearly more of the question.
        opening = topic.facet("what") or topic.answer
        if text.share(query, sentence) - text.share(query, opening) < WHAT_PART:
            return None
    return Lead(sentence, "sentence") if sentence else None


def _part_asked(topic: Topic, query: Query, text: TopicText, own: str) -> str | None:
    """The sentence of the topic's answer and more (not its facets), with a time in it, about
    the part of it the question asks of: when it has FACET_PART more of what the question says
    beyond the topic's own names than `own` (the topic's answer to "when") has."""
    names = {s for name in (topic.title, *topic.aliases) for s in stems(name)}
    beyond = _said(query) - names
    if not beyond:
        return None
    against = text.share_in(beyond, own)
    best, best_share = None, 0.0
    for sentence in sentences(topic)[len(topic.facets) :]:
        if not _TIME.search(sentence):
            continue
        share = text.share_in(beyond, sentence)
        if share > best_share:
            best, best_share = sentence, share
    if best is not None and best_share >= SENTENCE_SHARE and best_share - against >= FACET_PART:
        return best
    return None


def _is_a_name_of(query: Query, topic: Topic) -> bool:
    """Whether the question is little more than one of the topic's names."""
    said = set(stems(query.text))
    return bool(said) and any(
        len(said & set(stems(name))) >= NAME_SHARE * len(said)
        for name in (topic.title, *topic.aliases)
    )


def _nearest_check(
    topic: Topic,
    query: Query,
    text: TopicText,
    near: Callable[[str, Sequence[str]], list[float]] | None,
    framed: bool = True,
) -> str | None:
    """The answer of the check nearest the question, when it is near enough; with `framed`,
    also one only clearly nearest, with its own question in front (CHECK_FRAMED)."""
    asks = [c.ask for c in topic.checks]
    by_words, by_meaning, covered = _check_scores(topic, query, text, near)
    best = max(
        range(len(asks)), key=lambda i: (by_meaning[i] >= CHECK_NEAR, by_meaning[i], by_words[i])
    )
    if by_words[best] >= CHECK_WORDS:
        return topic.checks[best].say
    if by_meaning[best] >= CHECK_NEAR:
        # Near in meaning, not in words: "does a looked-after child's death have to be
        # notified to Ofsted" is near "do I notify the death myself", whose answer is no. Its
        # own question in front shows which question the yes or no answers.
        return _framed(topic.checks[best]) if framed else topic.checks[best].say
    if not framed:
        return None
    runner_up = max((m for i, m in enumerate(by_meaning) if i != best), default=0.0)
    if by_meaning[best] >= CHECK_FRAMED and by_meaning[best] - runner_up >= CHECK_AHEAD:
        return _framed(topic.checks[best])
    # A check every word of which the question has, in a story around it ("looked after child
    # died of a known condition, no abuse suspected - do we still need to notify?" has all of
    # "do we notify if abuse isn't suspected"), near in meaning to the whole or to its closing
    # question: its own question in front.
    closing = near(query.closing, asks) if near is not None and query.closing else by_meaning
    fits = [i for i in range(len(asks)) if covered[i] >= CHECK_COVERED]
    if len(fits) == 1:
        fit = fits[0]
        others = max((m for i, m in enumerate(by_meaning) if i != fit), default=0.0)
        if max(by_meaning[fit], closing[fit]) >= CHECK_FRAMED or (
            # near, and clearly the nearest: "do I need the parents' consent to refer if I think
            # the child is at risk" has all of "do I need parental consent to make a referral"
            by_meaning[fit] >= CHECK_COVERED_NEAR and by_meaning[fit] - others >= CHECK_AHEAD
        ):
            return _framed(topic.checks[fit])
    return None


def _check_scores(
    topic: Topic,
    query: Query,
    text: TopicText,
    near: Callable[[str, Sequence[str]], list[float]] | None,
) -> tuple[list[float], list[float], list[float]]:
    """How near each of the topic's checks is to the question: by words, by meaning, and how
    much of each check's own words the question has (`TopicText.covered`)."""
    asks = [c.ask for c in topic.checks]
    covered = [text.covered(query, ask) for ask in asks]
    # Both ways: the check must have most of the question and the question most of the check
    # ("does the lado deal with allegations about volunteers" shares only "lado deal" with
    # "does the lado deal with low level concerns", whose answer is no).
    by_words = [min(text.share(query, ask), c) for ask, c in zip(asks, covered, strict=True)]
    by_meaning = near(query.corrected, asks) if near is not None else [0.0] * len(asks)
    return by_words, by_meaning, covered


def check_fit(
    topic: Topic,
    query: Query,
    text: TopicText,
    near: Callable[[str, Sequence[str]], list[float]] | None = None,
) -> float:
    """How well the topic's nearest yes/no check fits the question, by words and meaning
    together (each as a share of what is near enough alone: CHECK_WORDS, CHECK_NEAR); 0
    without checks. Meaning alone hardly tells checks on one subject apart."""
    if not topic.checks:
        return 0.0
    by_words, by_meaning, _ = _check_scores(topic, query, text, near)
    return max(
        (w / CHECK_WORDS + m / CHECK_NEAR) / 2 for w, m in zip(by_words, by_meaning, strict=True)
    )


def _framed(check: Check) -> str:
    """A check's answer with its own question in front (written lower case, as asked: "do i
    need ..." is shown "Do I need ...")."""
    ask = _LOWER_I.sub("I", check.ask.rstrip("?"))
    return f"{ask[0].upper()}{ask[1:]}? {check.say}"


_LOWER_I = re.compile(r"\bi\b")


def overlap(one: str, other: str) -> float:
    """How much of the shorter text's words the longer has (stems): 1.0 says the same."""
    a, b = set(stems(one)), set(stems(other))
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def sentences(topic: Topic) -> tuple[str, ...]:
    """The topic's facet answers, then its answer's and more's sentences."""
    return _sentences(topic.facets, topic.answer, topic.more)


# Split again for each question that leads with a sentence: kept, a topic's worth each.
@functools.lru_cache(maxsize=256)
def _sentences(facets: tuple[tuple[str, str], ...], answer: str, more: str) -> tuple[str, ...]:
    found = [t for _, t in facets]
    for block in (answer, more):
        found += [s.strip() for s in _SENTENCE.split(" ".join(block.split())) if s.strip()]
    return tuple(found)


def _best_sentence(topic: Topic, query: Query, text: TopicText) -> str | None:
    """The sentence of the topic that best fits the question and the facet it asks, if it
    fits well and is not the opening already shown."""
    opening = sentences(topic)[len(topic.facets)] if topic.answer else ""
    best, best_score = None, 0.0
    for sentence in sentences(topic):
        score = text.share(query, sentence)
        if query.facet == "when" and _TIME.search(sentence):
            score += 0.25
        if score > best_score:
            best, best_score = sentence, score
    if best is None or best_score < SENTENCE_SHARE or best == opening:
        return None
    return best
