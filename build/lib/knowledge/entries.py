"""The knowledge base's entries, as the rest of the program reads them: topics (with their facet
answers and yes/no checks), the groups and reports of the catalogue, and the conversations free
text can start. Built by knowledge/loader.py, which validates them; nothing here reads files."""

from __future__ import annotations

from dataclasses import dataclass

from config.validation import Source


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    answer: str
    questions: tuple[str, ...]
    aliases: tuple[str, ...]
    related: tuple[str, ...]
    sources: tuple[Source, ...]
    more: str = ""  # the rest, behind a "More" button; "" when the first reply says it all
    # Keys of the settings' `contacts:` whose details follow the answer (handlers/safety.py).
    contacts: tuple[str, ...] = ()
    # How this topic differs from others: other topic's id -> a line on the difference. One
    # note serves both directions ("SCR vs rapid review" and "rapid review vs SCR").
    compare: tuple[tuple[str, str], ...] = ()
    # Short answers to what a question may ask of the topic (FACETS): the first sentence of
    # the reply when the question asks for that facet.
    facets: tuple[tuple[str, str], ...] = ()
    # Yes/no questions people ask about the topic, each with its answer (Yes/No, then when).
    checks: tuple[Check, ...] = ()

    def facet(self, name: str) -> str | None:
        return next((text for facet, text in self.facets if facet == name), None)


@dataclass(frozen=True)
class Check:
    """A yes/no question about a topic (`ask`) and its answer, which starts with the yes or the
    no (`say`: "No. A rapid review follows any notified incident...")."""

    ask: str
    say: str


@dataclass(frozen=True)
class Group:
    id: str
    title: str


@dataclass(frozen=True)
class Report:
    id: str
    title: str
    kind: str
    group: str
    area: str
    year: int | None
    aliases: tuple[str, ...]
    summary: str
    related: tuple[str, ...]
    url: str | None  # None: no public address known; the reply says to contact the board
    link: str | None = None  # what `url` is: one of LINK_KINDS; None when there is no url


@dataclass(frozen=True)
class Action:
    """A conversation that free text can start ("I need to report a significant incident")."""

    id: str
    command: str
    phrases: tuple[str, ...]
    # What the conversation does, for a question about it ("how does the threshold check
    # work?"), which is answered with this and a button to start it rather than started.
    about: str = ""
    start: str = ""  # the label of that button
