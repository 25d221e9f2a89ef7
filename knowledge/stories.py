"""A review found by its story rather than its name: "the Solihull 6 year old killed by his
stepmum in 2020", "bedford teen 17 with a rare genetic condition, scr 2016".

Each learning record's story is the words of its title, area, year, what happened and its
themes. A question's words count only when some record has them ("the one where the little girl
went to live with her dad": no record says "little" or "went", so they tell no review from
another), said as the records say them ("dad", "herts"), and each weighs by how few records have
it: "Solihull", "2016" or "genetic" tells one review from the rest, "died" or "abuse" hardly
does. A record must have most of that weight, clearly more than any other, from at least
STORY_WORDS of the words. Unless the question says it tells a review's story ("the review
about ..."), one of them must also be particular to a story: a year, or a word no topic's text
has ("Solihull", "genetic", "stepmother"). Without one, the words are those of a
question about a process ("is a rapid review the same as an LCSPR", "a baby died co-sleeping,
does that need a review"), which a topic answers.

What the caller (knowledge/learning_ask.py) does with it is a matter of how sure it is: `sure`
may be answered with what the review found, naming the review first; otherwise, or when a copy
of the document is asked for, it is asked ("Do you mean ...?"). Pure, built once per Learning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from knowledge.learning import Learning, Review
from knowledge.search import stem, tokens

STORY_WORDS = 3  # a question must share at least this many story words with the records
SHARE = 0.5  # the best record must have this share of the question's story words (by weight)
MARGIN = 0.2  # ... and this much more than the next record
# Answered outright, the review named first, only when it is this clear: most of the story,
# many of its words, far ahead of the next.
SURE_SHARE = 0.75
SURE_WORDS = 4
SURE_MARGIN = 0.35
_YEAR = re.compile(r"(?:19|20)\d\d")
_THOUSANDS = re.compile(r"(\d),(\d{3})\b")


@dataclass(frozen=True)
class Described:
    review: str  # the record's id
    share: float  # the weighted share of the question's story words the record has
    words: int  # how many of the question's story words it has
    sure: bool  # clear enough to answer rather than ask


class Stories:
    """The records' story words, and how much each tells one record from the others."""

    def __init__(self, learning: Learning) -> None:
        self.records: dict[str, frozenset[str]] = {
            review.id: frozenset(stem(t) for t in tokens(_story(learning, review)))
            for review in learning.reviews.values()
            if review.happened and not review.same_as
        }
        counts: dict[str, int] = {}
        for has in self.records.values():
            for word in has:
                counts[word] = counts.get(word, 0) + 1
        total = len(self.records)
        self.weight = {w: math.log((total + 1) / n) for w, n in counts.items()}

    def described(
        self, said_tokens: Iterable[str], ordinary: Callable[[str], bool] | None = None
    ) -> Described | None:
        """The record the words describe, when one clearly does. With `ordinary` (whether a
        stem is a topic's word: knowledge/passages.py TopicText.knows), one of its words must
        be particular to a story."""
        said = {stem(AS_RECORDED.get(t, t)) for t in said_tokens} - NOT_STORY
        said = {w for w in said if self.weight.get(w, 0.0) > 0.0}
        if len(said) < STORY_WORDS:
            return None
        whole = sum(self.weight[w] for w in said)
        scored = sorted(
            (
                (sum(self.weight[w] for w in said & has) / whole, len(said & has), review_id)
                for review_id, has in self.records.items()
            ),
            reverse=True,
        )
        (share, count, review_id), *rest = scored
        runner_up = rest[0][0] if rest else 0.0
        if share < SHARE or share - runner_up < MARGIN or count < STORY_WORDS:
            return None
        has = said & self.records[review_id]
        if ordinary is not None and not any(_YEAR.fullmatch(w) or not ordinary(w) for w in has):
            return None
        sure = share >= SURE_SHARE and count >= SURE_WORDS and share - runner_up >= SURE_MARGIN
        return Described(review_id, share, count, sure)


def _story(learning: Learning, review: Review) -> str:
    themes = " ".join(w for t in review.themes if t in learning.themes
                      for w in learning.themes[t].words)  # fmt: skip
    story = f"{review.title} {review.area} {review.year or ''} {review.happened} {themes}"
    return _THOUSANDS.sub(r"\1\2", story)  # "1,400 children" as people type it: "1400 kids"


_built: dict[int, tuple[Learning, Stories]] = {}


def stories_of(learning: Learning) -> Stories:
    """The Stories of `learning`, built on first use (the Learning is kept, so its id stays
    its own)."""
    held = _built.get(id(learning))
    if held is None or held[0] is not learning:
        if len(_built) >= 8:
            _built.clear()  # knowledge reloaded many times over (tests): keep a few
        held = _built[id(learning)] = (learning, Stories(learning))
    return held[1]


# Everyday words for what the records say in full.
AS_RECORDED = {
    "dad": "father",
    "daddy": "father",
    "mum": "mother",
    "mummy": "mother",
    "mom": "mother",
    "stepmum": "stepmother",
    "stepmom": "stepmother",
    "stepdad": "stepfather",
    "nan": "grandmother",
    "nana": "grandmother",
    "nanna": "grandmother",
    "gran": "grandmother",
    "granny": "grandmother",
    "grandma": "grandmother",
    "grandad": "grandfather",
    "grandpa": "grandfather",
    "herts": "hertfordshire",
    "beds": "bedfordshire",
    "kid": "child",
    "kids": "children",
    "starved": "starvation",
    "teen": "teenager",
    "teens": "teenagers",
    "lad": "boy",
    "toddler": "toddler",
}

# Words every question about reviews has: no sign of which review (learning_ask.py's too).
REVIEW_TALK = frozenset(
    stem(w)
    for w in (
        "review reviews serious case scr report inquiry find found findings lessons learning "
        "key recommend recommendations child children safeguarding one about"
    ).split()
)
# ... and words that tell of no story.
NOT_STORY = REVIEW_TALK | frozenset(
    stem(w)
    for w in (
        "he she her him his hers they them their into where after then when while think year "
        "years old yr yrs aged age learnt learned say said under over before during since until "
        "through being went gone came got also then than very"
    ).split()
)
