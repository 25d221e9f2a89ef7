"""The threshold guide (knowledge/threshold.yaml) -> a validated, frozen decision tree.

The tree is questions answered Yes / No / Not sure, each answer naming the next question or an
outcome. `load_threshold` records every problem in the shared `Problems` as
`threshold.yaml: <node id>: <field>: <what is wrong>`, including the shape of the tree: answers
that name no node, loops, nodes that cannot be reached from the start, and outcomes that do
not say the decision rests with the safeguarding partners. Once every answer names an existing
node and there is no loop, every path is finite and can only stop at an outcome (a question
always has somewhere to go), so "every path ends in an outcome" needs no separate check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.validation import (
    EntryReader,
    Problems,
    Source,
    check_unique_ids,
    entry_list,
    load_yaml,
)

FILE = "threshold.yaml"
ANSWERS = ("yes", "no", "not sure")
ANSWER_FIELDS = {"yes": "on_yes", "no": "on_no", "not sure": "on_not_sure"}
QUESTION_MAX = 200
HELP_MAX = 900
OUTCOME_TEXT_MAX = 900
MAX_SOURCES = 3
# Requirement of the board: every outcome names who decides today. Checked as data so that an
# edit to the YAML cannot quietly drop it.
DECIDER = "safeguarding partners"


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    help: str
    on_yes: str
    on_no: str
    on_not_sure: str

    def next(self, answer: str) -> str:
        """The id of the node that `answer` ("yes", "no" or "not sure") leads to."""
        return {"yes": self.on_yes, "no": self.on_no, "not sure": self.on_not_sure}[answer]


@dataclass(frozen=True)
class Outcome:
    id: str
    title: str
    text: str
    who_decides: str
    timescale: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class LegacyTest:
    """The 2015 serious case review test, shown only on request (/threshold 2015), followed by
    its own short walk from the question `start` for an incident before 29 September 2019.

    A live case never meets it: the main check starts with the child's safety and today's
    rules, and `check` refuses a tree whose main start lies on the old walk."""

    title: str
    text: str
    sources: tuple[Source, ...]
    start: str


@dataclass(frozen=True)
class ThresholdGuide:
    start: str
    questions: dict[str, Question]
    outcomes: dict[str, Outcome]
    legacy_test: LegacyTest


def _read_questions(data: Any, problems: Problems) -> list[Question]:
    allowed = {"id", "text", "help", *ANSWER_FIELDS.values()}
    questions = []
    for i, raw in enumerate(entry_list(data, "questions", FILE, problems), 1):
        r = EntryReader(problems, FILE, raw, allowed, i)
        questions.append(
            Question(
                id=r.id,
                text=r.text("text", max_length=QUESTION_MAX),
                help=r.text("help", max_length=HELP_MAX),
                on_yes=r.text("on_yes"),
                on_no=r.text("on_no"),
                on_not_sure=r.text("on_not_sure"),
            )
        )
    return questions


def _read_outcomes(data: Any, problems: Problems) -> list[Outcome]:
    allowed = {"id", "title", "text", "who_decides", "timescale", "sources"}
    outcomes = []
    for i, raw in enumerate(entry_list(data, "outcomes", FILE, problems), 1):
        r = EntryReader(problems, FILE, raw, allowed, i)
        who_decides = r.text("who_decides", max_length=500)
        if who_decides and DECIDER not in " ".join(who_decides.lower().split()):
            r.add("who_decides", f"must say that the decision rests with the {DECIDER}")
        sources = r.sources()
        if len(sources) > MAX_SOURCES:
            r.add("sources", f"too many: {len(sources)}, at most {MAX_SOURCES}")
        outcomes.append(
            Outcome(
                id=r.id,
                title=r.text("title", max_length=120),
                text=r.text("text", max_length=OUTCOME_TEXT_MAX),
                who_decides=who_decides,
                timescale=r.text("timescale", max_length=500),
                sources=sources,
            )
        )
    return outcomes


def _read_legacy_test(data: Any, problems: Problems) -> LegacyTest:
    raw = data.get("legacy_test") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        problems.add(FILE, "legacy_test", "-", "expected a mapping with title, text and sources")
        return LegacyTest("", "", (), "")
    # EntryReader names an entry by its id; this one is unique by position, so it gets a fixed one.
    allowed = {"id", "title", "text", "sources", "start"}
    r = EntryReader(problems, FILE, {**raw, "id": "legacy_test"}, allowed, 0)
    return LegacyTest(
        title=r.text("title", max_length=120),
        text=r.text("text", max_length=1500),
        sources=r.sources(),
        start=r.text("start"),
    )


def _check_references(guide: ThresholdGuide, problems: Problems) -> None:
    nodes = guide.questions.keys() | guide.outcomes.keys()
    for question in guide.questions.values():
        for answer in ANSWERS:
            target = question.next(answer)
            if target and target not in nodes:
                problems.add(
                    FILE,
                    question.id,
                    ANSWER_FIELDS[answer],
                    f"no question or outcome with id {target!r}",
                )
    if guide.start and guide.start not in guide.questions:
        problems.add(FILE, "-", "start", f"no question with id {guide.start!r}")
    legacy = guide.legacy_test.start
    if legacy and legacy not in guide.questions:
        problems.add(FILE, "legacy_test", "start", f"no question with id {legacy!r}")


def _check_loops(guide: ThresholdGuide, problems: Problems) -> None:
    """Report each answer that leads back to a question already on its own path."""
    finished: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        question = guide.questions.get(node)
        if question is None or node in finished:
            return
        path.append(node)
        for answer in ANSWERS:
            target = question.next(answer)
            if target in path:
                loop = " -> ".join([*path[path.index(target) :], target])
                problems.add(
                    FILE,
                    node,
                    ANSWER_FIELDS[answer],
                    f"leads back to {target!r}, a loop: {loop}",
                )
            else:
                visit(target, path)
        path.pop()
        finished.add(node)

    for question_id in guide.questions:
        visit(question_id, [])


def _reached_from(guide: ThresholdGuide, start: str) -> set[str]:
    """Every node a walk from `start` can reach, `start` included."""
    reached = {start}
    waiting = [start]
    while waiting:
        question = guide.questions.get(waiting.pop())
        if question is None:
            continue
        for answer in ANSWERS:
            target = question.next(answer)
            if target not in reached:
                reached.add(target)
                waiting.append(target)
    return reached


def _check_reachable(guide: ThresholdGuide, problems: Problems) -> None:
    if guide.start not in guide.questions:
        return  # already reported; everything would look unreachable
    legacy_start = guide.legacy_test.start
    old_walk = _reached_from(guide, legacy_start) if legacy_start in guide.questions else set()
    if guide.start in old_walk:
        problems.add(
            FILE,
            "-",
            "start",
            f"{guide.start!r} is on the walk for incidents before 2019 (legacy_test start "
            f"{legacy_start!r}): a live case must start with today's questions",
        )
    reached = _reached_from(guide, guide.start) | old_walk
    for node in [*guide.questions, *guide.outcomes]:
        if node not in reached and not node.startswith("#"):
            problems.add(
                FILE,
                node,
                "id",
                f"not reachable from start {guide.start!r} or legacy_test start {legacy_start!r}",
            )


def load_threshold(
    directory: Path, problems: Problems, names: Mapping[str, str] | None = None
) -> ThresholdGuide:
    """Read and check knowledge/threshold.yaml; every problem goes to `problems`."""
    data = load_yaml(directory / FILE, problems, names)
    start = data.get("start") if isinstance(data, dict) else None
    if not isinstance(start, str) or not start:
        problems.add(FILE, "-", "start", "missing: give the id of the first question")
        start = ""
    if isinstance(data, dict):
        for key in data:
            if key not in ("start", "questions", "outcomes", "legacy_test"):
                allowed = "start, questions, outcomes, legacy_test"
                problems.add(FILE, "-", str(key), f"unknown key (allowed: {allowed})")
    questions = _read_questions(data, problems)
    outcomes = _read_outcomes(data, problems)
    check_unique_ids([q.id for q in questions] + [o.id for o in outcomes], FILE, problems)
    guide = ThresholdGuide(
        start=start,
        questions={q.id: q for q in questions},
        outcomes={o.id: o for o in outcomes},
        legacy_test=_read_legacy_test(data, problems),
    )
    _check_references(guide, problems)
    _check_loops(guide, problems)
    _check_reachable(guide, problems)
    return guide
