"""Topic names said in a question, word for word: "early help", "rapid review", "the LADO".

The lexical matcher (search.py) scores a name against the whole question, so a long message
that names its subject once ("what is early help? parents at our preschool keep asking if it's
social services") scores far under its cutoff, and meaning is pulled about by the rest of the
message. A practitioner who writes a subject's own name has still said what they ask about.
`TopicNames.said` finds the names of topics (titles, what their brackets say, and aliases) in a
question, typos corrected and word forms brought together; knowledge/decision.py uses them in
two rules: "what is <name>" is that topic, and a question nothing else answers that names one
topic is answered by it as a guess.

A one-word name counts only when it cannot be an ordinary word: not among the PLAIN_WORDS
commonest English words ("panel", "prevent", "disclosure", "jar"; "nudes", "neglect" and
"escalation" are rarer), unless it is written with a capital letter inside a sentence
("referred to Prevent"), or it is an acronym the topic's title gives in brackets ("(LADO)").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.entries import Topic
from knowledge.per_message import once
from knowledge.search import ABBREVIATIONS, FILLER, NUMBER_WORDS, commonest_english, stem, words

_BRACKETS = re.compile(r"\(([^)]*)\)")
# What is asked right before a name when the name is what the question is about.
# The question's words have their contractions dropped ("what's a" is read "what a").
OPENERS = (
    ("what",),
    ("what", "is"),
    ("whats",),
    ("what", "are"),
    ("what", "is", "meant", "by"),
    ("what", "do", "you", "mean", "by"),
    ("what", "counts", "as"),
    ("define",),
    ("definition", "of"),
    ("meaning", "of"),
    ("explain",),
    ("tell", "me", "about"),
)
ARTICLES = frozenset(("a", "an", "the"))
# How many of the commonest English words a one-word name must not be among (symspellpy's list,
# by count: the 9,200th word is seen about five million times in its corpus).
PLAIN_WORDS = 9_200
# Words that stand between an opener and a name, or after "what does X", without changing
# what is asked ("what exactly is", "what actually counts as", "what does it actually do").
ADVERBS = frozenset(("actually", "exactly", "really", "even", "all"))


@dataclass(frozen=True)
class Named:
    """A topic's name found in a question, and what comes before it."""

    topic: str
    words: tuple[str, ...]  # the name's folded words, as said
    before: str  # the word said before it ("" at the start)
    after: tuple[str, ...]  # the words said after it
    asked_about: bool  # right after "what is", "define", "tell me about"


def _keyed(raw: list[str]) -> list[tuple[str, int]]:
    """Each meaning-bearing word's stem, with the number of the folded word it came from:
    abbreviations spelled out and filler dropped, the same on both sides of a match."""
    out: list[tuple[str, int]] = []
    for at, word in enumerate(raw):
        word = NUMBER_WORDS.get(word, word)
        for token in ABBREVIATIONS.get(word, word).split():
            if token not in FILLER:
                out.append((stem(token), at))
    return out


class TopicNames:
    """The names of every topic, looked up by their words in order."""

    def __init__(self, topics: Iterable[Topic]) -> None:
        topics = list(topics)
        common = commonest_english(PLAIN_WORDS) if topics else frozenset()
        self._names: dict[tuple[str, ...], str] = {}
        self._plain: set[tuple[str, ...]] = set()  # one ordinary word: needs its capital
        self._longest = 1
        inside: dict[str, list[str]] = {
            topic.id: [
                part
                for inner in _BRACKETS.findall(topic.title)
                for part in re.split(r",| and ", inner)
            ]
            for topic in topics
        }
        # A topic's own names first, then what titles' brackets say, which may list other
        # topics' subjects ("Other statutory reviews (adults reviews, domestic homicide
        # reviews)"): a name two share is the first's (check refuses two topics one alias).
        for own in (True, False):
            for topic in topics:
                acronyms = {w for part in inside[topic.id] for w in words(part)}
                names = (
                    (_BRACKETS.sub(" ", topic.title), *topic.aliases) if own else inside[topic.id]
                )
                for name in names:
                    raw = words(name)
                    key = tuple(s for s, _ in _keyed(raw))
                    if not key or key in self._names:
                        continue
                    self._names[key] = topic.id
                    self._longest = max(self._longest, len(key))
                    if len(raw) == 1 and raw[0] in common and raw[0] not in acronyms:
                        self._plain.add(key)

    def said(self, text: str, corrected: str) -> tuple[Named, ...]:
        """The topics named in a question (as typed, and with typos corrected), in the order
        they are said. Where two names overlap, the longer wins, and of two as long the one
        ending later: a name's last word is its head ("the national Child Safeguarding
        Practice Review Panel" is the Panel, not a national review). Worked out once a message
        (the decision asks it for three rules: knowledge/per_message.py)."""
        return once(self, "said", f"{text}\n{corrected}", lambda: self._said(text, corrected))

    def _said(self, text: str, corrected: str) -> tuple[Named, ...]:
        raw = words(corrected)
        keyed = _keyed(raw)
        capitals = {w.lower() for w in re.findall(r"(?<=[a-z,;]\s)[A-Z][a-z]+", text)}
        spans: list[tuple[int, int, str]] = []  # (first, last) keyed word, topic
        for i in range(len(keyed)):
            for size in range(1, min(self._longest, len(keyed) - i) + 1):
                key = tuple(s for s, _ in keyed[i : i + size])
                topic = self._names.get(key)
                if topic is not None and (key not in self._plain or raw[keyed[i][1]] in capitals):
                    spans.append((i, i + size - 1, topic))
        taken: list[tuple[int, int, str]] = []
        for span in sorted(spans, key=lambda s: (s[0] - s[1], -s[1])):
            if all(span[1] < t[0] or span[0] > t[1] for t in taken):
                taken.append(span)
        found = []
        for first, last, topic in sorted(taken):
            start, end = keyed[first][1], keyed[last][1] + 1
            before = raw[start - 1] if start else ""
            found.append(
                Named(
                    topic,
                    tuple(raw[start:end]),
                    before,
                    tuple(raw[end:]),
                    _asked_about(raw[:start], raw[end:]),
                )
            )
        return tuple(found)


def _asked_about(before: list[str], after: list[str]) -> bool:
    """Whether a name is what is asked about: after "what is (a)", "define (the)" and the
    like, or "what does (the) X do / mean" (not "what does KCSIE say about online safety")."""
    before = [w for w in before if w not in ADVERBS]  # "what actually counts as"
    while before and before[-1] in ARTICLES:
        before = before[:-1]
    if before[-2:] in (["what", "does"], ["what", "do"]):
        rest = [w for w in after if w not in ADVERBS]
        return rest[:1] in ([], ["do"], ["stand"], ["involve"]) or rest[:2] == ["mean"]
    return any(tuple(before[-len(opener) :]) == opener for opener in OPENERS)
