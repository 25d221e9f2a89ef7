"""`main.py eval`: the assistant's own test of its knowledge, like `rasa test`.

A file of questions, each with the ids that would be a right answer (or `fallback` where the
assistant should not answer from the knowledge base), grouped in sections:

    topics:
      - {q: "what is an SCR", expect: [serious-case-review]}
    reports:
      - {q: "the pelka report", expect: [daniel-pelka]}
    out_of_scope:
      - {q: "bus timetable", expect: fallback}

Every question goes through the whole conversation, as if typed in a new chat, so what is
measured is what a user would get. Outcomes: the entry answered (its id), "choices" (a menu:
not an answer, so a miss), "fallback", "urgent" (the safety route, which counts as right
where `immediate-risk` is expected or where its "More" topic, the reply's `id`, is among the
expected ids: the user gets the safety route and that topic one tap away), or the kind of
whatever else replied (a flow's first step, help).

`read_urgent_lines` and `urgent_summary` score the urgent detector on a file in the format of
the shared `urgent.txt`: "# Part 1" live concerns (recall), "# Part 2" knowledge questions
(wrongly flagged ones lower the precision).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.core.conversation import Conversation
from bot.core.replies import CASEWORK, Incoming, Reply
from config.validation import SAFE_LOADER

URGENT_TOPIC = "immediate-risk"  # what the urgent route stands in for


class EvalFileError(Exception):
    """The questions file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Question:
    section: str
    text: str
    expect: tuple[str, ...]  # () means the fallback is expected


@dataclass(frozen=True)
class Outcome:
    question: Question
    given: str  # an entry id, or "choices", "fallback", "urgent", another reply kind
    offered: tuple[str, ...]  # the entries of a comparison or a menu; an urgent reply's topic
    correct: bool
    answerable: bool  # every expected id exists (or the fallback is expected)


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def accuracy(self, section: str | None = None, answerable_only: bool = False) -> float:
        chosen = [
            o
            for o in self.outcomes
            if (section is None or o.question.section == section)
            and (o.answerable or not answerable_only)
        ]
        return sum(o.correct for o in chosen) / len(chosen) if chosen else 1.0

    def count(self, section: str | None = None, answerable_only: bool = False) -> int:
        return sum(
            1
            for o in self.outcomes
            if (section is None or o.question.section == section)
            and (o.answerable or not answerable_only)
        )

    @property
    def sections(self) -> list[str]:
        return list(dict.fromkeys(o.question.section for o in self.outcomes))

    def confusions(self) -> list[tuple[str, str, int]]:
        """(expected, given, how often) for the misses, commonest first."""
        pairs = Counter(
            (o.question.expect[0] if o.question.expect else "fallback", o.given)
            for o in self.outcomes
            if not o.correct
        )
        return [(a, b, n) for (a, b), n in pairs.most_common()]

    def as_json(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy(), 4),
            "accuracy_answerable": round(self.accuracy(answerable_only=True), 4),
            "sections": {
                s: {
                    "questions": self.count(s),
                    "accuracy": round(self.accuracy(s), 4),
                    "answerable": self.count(s, answerable_only=True),
                    "accuracy_answerable": round(self.accuracy(s, answerable_only=True), 4),
                }
                for s in self.sections
            },
            "misses": [
                {
                    "section": o.question.section,
                    "q": o.question.text,
                    "expect": list(o.question.expect) or "fallback",
                    "given": o.given,
                    "offered": list(o.offered),
                    "answerable": o.answerable,
                }
                for o in self.outcomes
                if not o.correct
            ],
            "confusions": [
                {"expected": a, "given": b, "count": n} for a, b, n in self.confusions()
            ],
        }

    def as_text(self) -> str:
        lines = ["Accuracy by section (answerable: every expected id exists today):"]
        for s in self.sections:
            lines.append(
                f"  {s:<14} {self.accuracy(s):6.1%} of {self.count(s):>3}"
                f"   answerable {self.accuracy(s, True):6.1%} of {self.count(s, True):>3}"
            )
        lines.append(
            f"  {'all':<14} {self.accuracy():6.1%} of {self.count():>3}"
            f"   answerable {self.accuracy(answerable_only=True):6.1%}"
            f" of {self.count(answerable_only=True):>3}"
        )
        urgent = sum(o.given == "urgent" for o in self.outcomes)
        if urgent:
            lines.append(f"  answered by the urgent route: {urgent}")
        misses = [o for o in self.outcomes if not o.correct]
        if misses:
            lines.append("")
            lines.append(f"Misses ({len(misses)}):")
            for o in misses:
                expected = ", ".join(o.question.expect) or "fallback"
                given = o.given + (f" ({', '.join(o.offered)})" if o.offered else "")
                note = "" if o.answerable else "  [expected id not in the knowledge base]"
                lines.append(f"  [{o.question.section}] {o.question.text!r}")
                lines.append(f"      expected {expected}; got {given}{note}")
            lines.append("")
            lines.append("Confusions (expected -> given):")
            for a, b, n in self.confusions():
                lines.append(f"  {n} x {a} -> {b}")
        return "\n".join(lines)


def read_questions(path: Path) -> list[Question]:
    """The questions of a file, or EvalFileError naming the first problem."""
    try:
        # libyaml's parser, as for the knowledge: the same data, a tenth of the time (0.9 s ->
        # 0.09 s for tests/eval's 42 files)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except OSError as exc:
        raise EvalFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise EvalFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise EvalFileError(f"{path}: expected sections (topics:, reports:...) of questions")
    questions: list[Question] = []
    for section, items in data.items():
        if not isinstance(items, list):
            raise EvalFileError(f"{path}: {section}: expected a list of {{q, expect}}")
        for number, item in enumerate(items, 1):
            where = f"{path}: {section} #{number}"
            if not isinstance(item, dict) or not isinstance(item.get("q"), str):
                raise EvalFileError(f"{where}: expected {{q: question, expect: [ids] | fallback}}")
            expect = item.get("expect")
            if expect == "fallback":
                ids: tuple[str, ...] = ()
            elif isinstance(expect, list) and expect and all(isinstance(e, str) for e in expect):
                ids = tuple(expect)
            else:
                raise EvalFileError(f"{where}: expect must be a list of ids or 'fallback'")
            questions.append(Question(str(section), item["q"], ids))
    return questions


def outcome_of(replies: list[Reply]) -> tuple[str, tuple[str, ...]]:
    """What a turn's replies amount to: (given, offered)."""
    first = replies[0] if replies else Reply("", kind="none")
    if first.kind in ("answer", "report") and first.id:
        return first.id, tuple(i for i in first.ids if i != first.id)
    if first.kind == "choices":
        return "choices", first.ids
    if first.kind == "urgent":  # the route's own topic, and the one the message is about
        return "urgent", tuple(i for i in (first.id, *first.ids) if i)
    return first.kind, first.ids


async def run_eval(conversation: Conversation, questions: list[Question]) -> Summary:
    known = (
        set(conversation.knowledge.topics)
        | set(conversation.knowledge.reports)
        | set(conversation.knowledge.actions)
    )
    summary = Summary()
    for number, question in enumerate(questions):
        # A new chat each time: no question may land in a flow the one before started.
        replies = await conversation.handle(Incoming(f"eval:{number}", question.text))
        given, offered = outcome_of(replies)
        if question.expect:
            correct = given in question.expect or (
                given == "urgent" and any(t in question.expect for t in (URGENT_TOPIC, *offered))
            )
            answerable = any(e in known for e in question.expect)
        else:
            # Declining a message about one case, with who to ask, is the right "no answer" too.
            correct, answerable = given in ("fallback", CASEWORK), True
        summary.outcomes.append(Outcome(question, given, offered, correct, answerable))
    return summary


@dataclass(frozen=True)
class UrgentLine:
    text: str
    live: bool  # part 1 of the file: a live concern


@dataclass
class UrgentSummary:
    # (line, the urgent reply's topic, or None where it was not given the route)
    results: list[tuple[UrgentLine, str | None]] = field(default_factory=list)

    @property
    def live(self) -> list[tuple[UrgentLine, str | None]]:
        return [r for r in self.results if r[0].live]

    @property
    def knowledge(self) -> list[tuple[UrgentLine, str | None]]:
        return [r for r in self.results if not r[0].live]

    def recall(self) -> float:
        live = self.live
        return sum(k is not None for _, k in live) / len(live) if live else 1.0

    def false_alarm_rate(self) -> float:
        """The share of knowledge questions wrongly given the safety route."""
        other = self.knowledge
        return sum(k is not None for _, k in other) / len(other) if other else 0.0

    def precision(self) -> float:
        flagged = [line for line, k in self.results if k is not None]
        return sum(line.live for line in flagged) / len(flagged) if flagged else 1.0

    def as_json(self) -> dict[str, Any]:
        return {
            "live": len(self.live),
            "knowledge": len(self.knowledge),
            "recall": round(self.recall(), 4),
            "precision": round(self.precision(), 4),
            "false_alarms": round(self.false_alarm_rate(), 4),
            "missed": [line.text for line, k in self.live if k is None],
            "flagged": [{"q": line.text, "topic": k} for line, k in self.knowledge if k],
        }

    def as_text(self) -> str:
        caught = sum(k is not None for _, k in self.live)
        flagged = [(line, k) for line, k in self.knowledge if k]
        lines = [
            "Urgent route:",
            f"  live concerns recognised (recall)  {self.recall():6.1%}"
            f"  ({caught} of {len(self.live)})",
            f"  knowledge questions given it       {self.false_alarm_rate():6.1%}"
            f"  ({len(flagged)} of {len(self.knowledge)})",
            f"  precision                          {self.precision():6.1%}",
        ]
        missed = [line.text for line, k in self.live if k is None]
        if missed:
            lines += ["", f"Live concerns missed ({len(missed)}):"]
            lines += [f"  {text!r}" for text in missed]
        if flagged:
            lines += ["", f"Knowledge questions given the safety route ({len(flagged)}):"]
            lines += [f"  {line.text!r} (More: {k})" for line, k in flagged]
        return "\n".join(lines)


def read_urgent_lines(path: Path) -> list[UrgentLine]:
    """The lines of an urgent.txt-style file, or EvalFileError naming the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalFileError(f"{path}: cannot read: {exc.strerror}") from exc
    part: int | None = None
    lines: list[UrgentLine] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.lower().startswith("# part 1"):
            part = 1
        elif line.lower().startswith("# part 2"):
            part = 2
        elif line and not line.startswith("#"):
            if part is None:
                raise EvalFileError(
                    f"{path}: line {number}: a question before '# Part 1' (live concerns)"
                    " or '# Part 2' (knowledge questions)"
                )
            lines.append(UrgentLine(line, part == 1))
    if not lines:
        raise EvalFileError(f"{path}: no questions under '# Part 1' or '# Part 2'")
    return lines


async def run_urgent_eval(conversation: Conversation, lines: list[UrgentLine]) -> UrgentSummary:
    """Each line typed in a new chat; what is recorded is the urgent reply's topic, or None."""
    summary = UrgentSummary()
    for number, line in enumerate(lines):
        replies = await conversation.handle(Incoming(f"eval-urgent:{number}", line.text))
        first = replies[0] if replies else None
        urgent = first is not None and first.kind == "urgent"
        summary.results.append((line, (first.id or "urgent") if urgent and first else None))
    return summary
