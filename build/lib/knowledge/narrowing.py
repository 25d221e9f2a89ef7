"""Narrowing a choice among more documents than fit on the buttons: which area, which year,
which kind of document.

"baby t review" fits every case whose child was called T: in a national catalogue, dozens of
documents that score alike, where four buttons hold four of them chosen by nothing but their
order. Instead the person is asked what tells them apart, one facet at a time (the first of
FACETS whose documents differ), until the documents left fit on the buttons. Pure: the
conversation keeps the documents between questions (handlers/reports.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.search import MAX_CHOICES, SearchEntry

FACETS = ("area", "year", "kind")
QUESTIONS = {
    "area": "Several documents match: which area?",
    "year": "Several documents match: which year?",
    "kind": "Several documents match: which kind of document?",
}
MAX_VALUES = 8  # buttons one question offers; the rest under "Other"
OTHER = "Other"


def facet_of(entry: SearchEntry, facet: str) -> str:
    """The entry's value of `facet` ("" when it has none)."""
    if facet == "kind":
        return entry.kind
    return next((value for name, value in entry.facets if name == facet), "")


@dataclass(frozen=True)
class Question:
    """Which facet to ask, and its values, commonest first (at most MAX_VALUES, then
    OTHER for the rest)."""

    facet: str
    values: tuple[str, ...]

    @property
    def text(self) -> str:
        return QUESTIONS[self.facet]


def answered(facet: str, choice: str) -> str:
    """What `asked` records of an answer: the facet, or, for OTHER, that its rarer values are
    still to be offered (`next_question` comes back to them once the other facets are asked)."""
    return f"{facet}{MORE}" if choice == OTHER else facet


MORE = "+"


def next_question(entries: Sequence[SearchEntry], asked: Sequence[str] = ()) -> Question | None:
    """The first facet not yet `asked` on which `entries` differ; then, if more are left than
    the buttons hold, a facet answered with OTHER again, over its values left. None when they
    fit on the buttons or nothing tells them apart."""
    if len(entries) <= MAX_CHOICES:
        return None
    first = [f for f in FACETS if f not in asked and f"{f}{MORE}" not in asked]
    again = [f for f in FACETS if f not in asked and f"{f}{MORE}" in asked]
    for facet in (*first, *again):
        counts: dict[str, int] = {}
        for entry in entries:
            value = facet_of(entry, facet)
            counts[value] = counts.get(value, 0) + 1
        if len(counts) < 2:
            continue
        # Commonest first; ties in order of the values (years newest first).
        ordered = sorted(
            counts, key=lambda v: (-counts[v], _descending(v) if facet == "year" else v)
        )
        if len(ordered) > MAX_VALUES:
            ordered = [*ordered[: MAX_VALUES - 1], OTHER]
        return Question(facet, tuple(v or "Not known" for v in ordered))
    return None


def _descending(year: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in year)


def keep(entries: Sequence[SearchEntry], question: Question, choice: str) -> list[SearchEntry]:
    """The entries with `choice` as their value of the question's facet (OTHER: those with a
    value not on the buttons)."""
    shown = set(question.values)
    if choice == OTHER:
        return [e for e in entries if (facet_of(e, question.facet) or "Not known") not in shown]
    return [e for e in entries if (facet_of(e, question.facet) or "Not known") == choice]


def narrow_to(
    entries: Sequence[SearchEntry], wanted: SearchEntry, asked: Sequence[str] = ()
) -> tuple[list[SearchEntry], int]:
    """What a person looking for `wanted` ends with, answering each question with its value,
    and how many questions it took (for the benchmark and the tests)."""
    left = list(entries)
    done = list(asked)
    questions = 0
    while (question := next_question(left, done)) is not None:
        value = facet_of(wanted, question.facet) or "Not known"
        choice = value if value in question.values else OTHER
        left = keep(left, question, choice)
        done.append(answered(question.facet, choice))
        questions += 1
    return left, questions
