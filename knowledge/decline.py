"""What is not ours, in one classifier with examples: casework, adult matters, everything else.

knowledge/decline.yaml holds the classes, each with example messages; a message is declined as
a class when it is nearer in meaning to that class's examples than to any topic by DECLINE_MARGIN
(and near them at all, DECLINE_NEAR), or when it has one of the class's `signs` and no word of a
child or of our own subject. knowledge/casework.py's rules (a child named, a meeting's outcome, a
request to act) are the casework class's signs. The decision (knowledge/decision.py) asks this
before it answers a topic, so no children's topic is ever the answer to what is not ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config.validation import Problems, load_yaml
from knowledge.cache import Cache
from knowledge.casework import about_one_case
from knowledge.search import words
from knowledge.semantic import SemanticIndex

FILE = "decline.yaml"
CLASSES = ("casework", "adult", "other")
ADULT_REVIEW = "adult-review"  # declined as the adults board's review, not a class of examples
# Near the class's examples at all (cosine), and nearer than to any topic by this much.
DECLINE_NEAR = 0.66
DECLINE_MARGIN = 0.04


@dataclass(frozen=True)
class Declined:
    """Why a message is not ours: its class, and what said so ("sign", "rule: ...", "meaning")."""

    kind: str
    reason: str


def _phrases(values: object) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(" ".join(words(str(v))) for v in values if str(v).strip())


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(p) for p in phrases if p) or "(?!)"
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")


# Words for a child that, said of an adult, are an adult too.
ADULTS_CHILDREN = frozenset(("son", "sons", "daughter", "daughters"))
# A person's age: "a 40 year old", "15 yo", "16 y/o", "aged 67" (adult: 18 and over). Every age said
# counts: "a 15 yo pregnant by her 24 yr old boyfriend" is about a child.
_AGE = re.compile(r"\b(?:(\d{1,3}) ?(?:year|yr)s? old|(\d{1,3}) ?y ?o|aged (\d{1,3}))\b")


@dataclass
class Decline:
    """The classifier over decline.yaml's classes."""

    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)
    signs: dict[str, re.Pattern[str]] = field(default_factory=dict)
    child: re.Pattern[str] = field(default_factory=lambda: _pattern(()))
    ours: re.Pattern[str] = field(default_factory=lambda: _pattern(()))
    # An adults' review asked about for itself ("what is a SAR, when must the SAB hold one"):
    # the adults board's, redirected; with a word of the children's side (`children_side`:
    # turning 18, a care leaver, an LCSPR to compare) it is ours.
    adult_reviews: re.Pattern[str] = field(default_factory=lambda: _pattern(()))
    children_side: re.Pattern[str] = field(default_factory=lambda: _pattern(()))
    meaning: SemanticIndex = field(default_factory=lambda: SemanticIndex(()))

    def start(self, cache: Cache | None = None) -> None:
        self.meaning.start(cache)

    def adult_only(self, text: str) -> bool:
        """Whether `text` is about an adult by a sure sign (an adult's age, "elderly", "adult
        social care"...) and says nothing of a child or of our own subject."""
        folded = " ".join(words(text))
        if self._childish(folded) or self.ours.search(folded):
            return False
        sign = self.signs.get("adult")
        return bool(sign is not None and sign.search(folded)) or _adult_age(folded)

    def _childish(self, folded: str) -> bool:
        """Whether a child is spoken of: a child's word or age. An adult's son or daughter is
        not one ("my 80 yr old neighbour thinks her son is taking her money"), nor children
        said to be absent ("no children in the house")."""
        if _young(folded):
            return True
        folded = _NO_CHILDREN.sub(" ", folded)
        said = {m.group(0) for m in self.child.finditer(folded)}
        if _adult_age(folded) and said <= ADULTS_CHILDREN:
            return False
        return bool(said)

    def classify(
        self, text: str, best_topic: float, known: Callable[[str], bool]
    ) -> Declined | None:
        """The class `text` belongs to, or None when it may be ours. `best_topic` is its best
        topic's score by meaning (0-1); `known` says whether a word is in the knowledge base."""
        case = about_one_case(text, known)
        if case is not None:
            return Declined("casework", f"rule: {case}")
        folded = " ".join(words(text))
        childish = self._childish(folded)
        if (
            not childish
            and self.adult_reviews.search(folded)
            and not self.children_side.search(folded)
        ):
            return Declined(ADULT_REVIEW, "sign")
        if not childish and not self.ours.search(folded):
            for kind, pattern in self.signs.items():
                if pattern.search(folded) or (kind == "adult" and _adult_age(folded)):
                    return Declined(kind, "sign")
        scores = self.meaning.scores(text) if self.examples else {}
        for kind, near in scores.items():
            if childish and kind == "adult":
                continue
            if near >= DECLINE_NEAR and near - best_topic >= DECLINE_MARGIN:
                return Declined(kind, f"meaning {near:.2f} against the topic's {best_topic:.2f}")
        return None


# Children said to be absent: "no children in the house", "she has no kids".
_NO_CHILDREN = re.compile(
    r"\b(?:no|without|not any|has no|have no|doesn t have|does not have|hasn t got) "
    r"(?:children|kids|child|dependants)\b"
)


def _ages(folded: str) -> list[int]:
    return [int(a or b or c) for a, b, c in _AGE.findall(folded)]


def _adult_age(folded: str) -> bool:
    ages = _ages(folded)
    return bool(ages) and all(age >= 18 for age in ages)


def _young(folded: str) -> bool:
    return any(age < 18 for age in _ages(folded))


def load_decline(directory: Path, problems: Problems) -> Decline:
    """decline.yaml -> Decline; every problem recorded. A knowledge folder without the file
    (a small test fixture) declines by the casework rules alone."""
    if not (directory / FILE).exists():
        return Decline()
    data = load_yaml(directory / FILE, problems)
    if data is None:
        return Decline()
    if not isinstance(data, dict) or not isinstance(data.get("classes"), dict):
        problems.add(FILE, "-", "classes", "expected a mapping of class -> examples and signs")
        return Decline()
    examples: dict[str, tuple[str, ...]] = {}
    signs: dict[str, re.Pattern[str]] = {}
    for kind, raw in data["classes"].items():
        if kind not in CLASSES:
            problems.add(FILE, str(kind), "-", f"unknown class (one of: {', '.join(CLASSES)})")
            continue
        if not isinstance(raw, dict) or not _phrases(raw.get("examples")):
            problems.add(FILE, kind, "examples", "expected a list of example messages")
            continue
        examples[kind] = tuple(str(e) for e in raw["examples"])
        if raw.get("signs") is not None:
            signs[kind] = _pattern(_phrases(raw.get("signs")))
    return Decline(
        examples=examples,
        signs=signs,
        child=_pattern(_phrases(data.get("child_words"))),
        ours=_pattern(_phrases(data.get("ours"))),
        adult_reviews=_pattern(_phrases(data.get("adult_reviews"))),
        children_side=_pattern(_phrases(data.get("children_side"))),
        meaning=SemanticIndex(examples.items()),
    )
