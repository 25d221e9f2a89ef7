"""Unanswered questions, grouped so a question asked ten ways is read once, and the staff's
suggestions ("this should have been topic X") as a YAML patch for the knowledge editors.

The patch has the shape of a partnership pack's topics.yaml (knowledge/partnerships/<id>/):
each entry names a topic and adds `questions`, which extend the national topic's, so it can be
reviewed and pasted in, then checked with `python main.py check`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml
from rapidfuzz import fuzz

from bot.storage.staff import Suggestion

# Two questions this alike (rapidfuzz's token set ratio, 0-100) are shown as one group.
SIMILAR = 70


@dataclass
class Group:
    questions: list[str] = field(default_factory=list)
    last_asked: float = 0.0

    @property
    def first(self) -> str:
        return self.questions[0]


def normal(text: str) -> str:
    return " ".join(text.lower().split())


def group_questions(asked: Sequence[tuple[str, float]]) -> list[Group]:
    """`asked` (question, when), newest first, in groups of similar questions; the groups with
    most questions first. Each distinct wording is listed once."""
    groups: list[Group] = []
    keys: list[str] = []
    for question, at in asked:
        key = normal(question)
        if not key:
            continue
        for i, group in enumerate(groups):
            if fuzz.token_set_ratio(key, keys[i]) >= SIMILAR:
                if all(normal(q) != key for q in group.questions):
                    group.questions.append(question)
                group.last_asked = max(group.last_asked, at)
                break
        else:
            groups.append(Group([question], at))
            keys.append(key)
    return sorted(groups, key=lambda g: (-len(g.questions), -g.last_asked))


def suggestions_yaml(suggestions: Sequence[Suggestion], partnership: str, now: float) -> str:
    """The suggestions as topics.yaml entries: one per topic, its questions once each."""
    by_topic: dict[str, list[str]] = {}
    for suggestion in suggestions:
        questions = by_topic.setdefault(suggestion.topic, [])
        if normal(suggestion.question) not in {normal(q) for q in questions}:
            questions.append(suggestion.question)
    when = time.strftime("%d %b %Y %H:%M", time.gmtime(now))
    header = (
        f"# Suggested on the staff page, exported {when} UTC.\n"
        "# Questions people asked that the assistant could not answer, with the topic staff\n"
        "# said should have answered them. Review each line (it was redacted as stored; check\n"
        "# it names no one), then add what you keep to the topic's `questions:` in\n"
        f"# knowledge/partnerships/{partnership}/topics.yaml, and run `python main.py check`.\n"
    )
    body = {"topics": [{"id": topic, "questions": qs} for topic, qs in sorted(by_topic.items())]}
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
