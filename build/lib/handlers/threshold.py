"""The threshold guide: /threshold walks a practitioner through knowledge/threshold.yaml.

One question at a time, answered Yes / No / Not sure, ending in an outcome: first the child's
safety, then the route that applies, who decides, the timescale and the sources. It informs
the decision; it does not make it. A live case starts with today's questions; the 2015 serious
case review test, for incidents before 29 September 2019, is only shown on request
(/threshold 2015), followed by its own short walk. State: `session.step` is the current
question's id, `session.data["path"]` the questions answered so far (for "back"),
`session.data["answers"]` their answers and `session.data["legacy"]` whether this is the walk
for an older incident.

The flow has one kind of step, the question being asked (`session.step` is its id):

    /threshold ──> first question ──yes / no / not sure──> the next question ... ──> outcome (ends)
                   any question ──back──> the previous question (its answer forgotten)
                   any question ──cancel──> (ends)      ──help──> the same question, explained
    /threshold 2015 ──> the 2015 test, then the first question of its own walk

Each step returns a `Turn` (bot/core/flow.py): its replies and the next question's id, or None when
the check ends; the core applies it, the one place `session.step` changes.

Buttons send "/threshold <action> <question id>" ("/threshold not-sure child-died"), with the
actions yes, no, not-sure, help, back and cancel; the flow claims /threshold while a check is
open, so its buttons reach it. A chat keeps old messages, and pressing Yes on a question
scrolled past must not answer the current one: with the id, the press is recognised as stale
and the current question is asked again. Typed answers ("yes", "Not sure") and the bare
commands /back and /cancel always act on the current question. Earlier releases sent
"/threshold not sure <id>" (two words); that is still accepted.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.core import controls
from bot.core.controls import Said
from bot.core.conversation import Context
from bot.core.flow import Turn, button_data
from bot.core.lifetimes import THRESHOLD_FLOW
from bot.core.replies import Button, Link, Reply
from knowledge.threshold import ANSWERS, LegacyTest, Outcome, Question

log = logging.getLogger(__name__)

NAME = THRESHOLD_FLOW
COMMAND = "/threshold"

# What a typed message means, after folding ("Not sure!" -> "not sure", bot/core/controls.py).
TYPED: dict[str, str] = {
    **dict.fromkeys(controls.YES, "yes"),
    **dict.fromkeys(controls.NO, "no"),
    **dict.fromkeys(
        ("not sure", "unsure", "don t know", "dont know", "i don t know", "i m not sure"),
        "not sure",
    ),
    **dict.fromkeys(controls.BACK, "back"),
    **dict.fromkeys((*controls.CANCEL, "cancel check"), "cancel"),
    **dict.fromkeys(
        (
            *controls.HELP,
            "what does this mean",
            "what does that mean",
            "what does it mean",
            "explain",
        ),
        "help",
    ),
}
# The actions a button carries, before the id of its question: one word each ("not sure" ->
# "not-sure"), so that "/threshold <action> <id>" reads like every flow's buttons.
BUTTON_ACTIONS = {a.replace(" ", "-"): a for a in (*ANSWERS, "back", "help", "cancel")}
LEGACY_ARGS = frozenset(("2015", "legacy", "scr"))

# Every outcome opens with this, whatever the answers: the child's safety comes before any
# notification or review, and no outcome may bury it under process.
SAFETY_FIRST = (
    "First, the child: if this child, a brother or sister, or another child in the household "
    "may be at risk now, refer to children's social care or the police at once (999 in an "
    "emergency); do not wait for any notification or review. Type /urgent for who to call."
)
INTRO = (
    "A short check, one question at a time, based on chapter 5 of Working Together 2023 and "
    "the 2018 regulations. It informs the decision; it does not make it. If a child is in "
    "immediate danger, call 999.\n\nAt any question you can type help, back or cancel."
)
LEGACY_INTRO = (
    "To see how an incident from before 29 September 2019 was judged under that test, answer "
    "these questions. For anything happening now, or only coming to light now, use /threshold: "
    "today's rules apply.\n\nAt any question you can type help, back or cancel."
)
NOT_UNDERSTOOD = "Please answer yes, no or not sure (or type help, back or cancel)."
CAVEAT = (
    "This check informs the decision; it does not make it. Talk to your designated "
    "safeguarding lead about a live case."
)


# --- replies ---------------------------------------------------------------------------------


def question_reply(question: Question, number: int) -> Reply:
    """Ask `question`, numbered by its place on this user's path."""

    def button(label: str, action: str) -> Button:
        return Button(label, button_data(COMMAND, action, question.id))

    buttons = [
        button("Yes", "yes"),
        button("No", "no"),
        button("Not sure", "not-sure"),
        button("What does this mean?", "help"),
    ]
    if number > 1:  # at the first question there is nowhere to go back to; Cancel is the way out
        buttons.append(button("Back", "back"))
    buttons.append(button("Cancel", "cancel"))
    return Reply(
        question.text,
        kind="threshold-question",
        title=f"Question {number}",
        id=question.id,
        buttons=tuple(buttons),
    )


def legacy_reply(legacy: LegacyTest) -> Reply:
    return Reply(
        legacy.text,
        kind="threshold-legacy-test",
        title=legacy.title,
        links=tuple(Link(s.title, s.url) for s in legacy.sources),
    )


def outcome_replies(outcome: Outcome, with_legacy: bool) -> list[Reply]:
    """The outcome, safety first; the next steps as buttons. After the walk for an older
    incident (`with_legacy`) the 2015 test has been shown already, so it is not offered."""
    text = (
        f"{SAFETY_FIRST}\n\n{outcome.text}\n\nWho decides: {outcome.who_decides}\n\n"
        f"Timescale: {outcome.timescale}\n\n{CAVEAT}"
    )
    buttons = [Button("Start a significant incident notification", "/notify")]
    if not with_legacy:
        buttons.append(Button("Show the 2015 serious case review test", "/threshold 2015"))
    buttons.append(Button("Start again", "/threshold"))
    return [
        Reply(
            text,
            kind="threshold-outcome",
            title=outcome.title,
            id=outcome.id,
            buttons=tuple(buttons),
            links=tuple(Link(s.title, s.url) for s in outcome.sources),
        )
    ]


# --- state ---------------------------------------------------------------------------------


def _path(ctx: Context) -> list[str]:
    path = ctx.session.data.setdefault("path", [])
    assert isinstance(path, list)
    return path


def _answers(ctx: Context) -> dict[str, str]:
    answers = ctx.session.data.setdefault("answers", {})
    assert isinstance(answers, dict)
    return answers


def _current(ctx: Context) -> Question | None:
    """The question being asked, or None (no check, or the guide changed under it)."""
    if ctx.session.flow != NAME:
        return None
    return ctx.knowledge.threshold.questions.get(ctx.session.step or "")


def _ask_current(ctx: Context, question: Question) -> Reply:
    return question_reply(question, len(_path(ctx)) + 1)


def _stay(ctx: Context, question: Question, *before: Reply) -> Turn:
    """Say `before`, then ask `question` again."""
    return Turn([*before, _ask_current(ctx, question)], question.id)


# --- steps -----------------------------------------------------------------------------------


def _start(ctx: Context, intro: str = INTRO) -> Turn:
    """Start the check at the first question."""
    guide = ctx.knowledge.threshold
    ctx.session.reset()
    ctx.session.data = {"path": [], "answers": {}, "legacy": False}
    log.info("threshold check started in chat %s", ctx.chat)
    return Turn(
        [
            Reply(intro, kind="threshold-intro", title="Does this meet the threshold?"),
            question_reply(guide.questions[guide.start], 1),
        ],
        guide.start,
    )


def _start_legacy(ctx: Context) -> Turn:
    """Show the 2015 test, then walk an older incident through it from its own first question."""
    legacy = ctx.knowledge.threshold.legacy_test
    ctx.session.reset()
    ctx.session.data = {"path": [], "answers": {}, "legacy": True}
    log.info("threshold check (before 2019) started in chat %s", ctx.chat)
    return Turn(
        [
            legacy_reply(legacy),
            Reply(LEGACY_INTRO, kind="threshold-intro", title="An incident before September 2019"),
            question_reply(ctx.knowledge.threshold.questions[legacy.start], 1),
        ],
        legacy.start,
    )


def _answer(ctx: Context, question: Question, answer: str) -> Turn:
    """Store the answer to `question` and ask the next question, or give the outcome."""
    guide = ctx.knowledge.threshold
    _path(ctx).append(question.id)
    _answers(ctx)[question.id] = answer
    following = question.next(answer)
    if following in guide.questions:
        return Turn([_ask_current(ctx, guide.questions[following])], following)
    with_legacy = ctx.session.data.get("legacy") is True
    log.info("threshold check finished in chat %s", ctx.chat)
    return Turn(outcome_replies(guide.outcomes[following], with_legacy), None)


def _back(ctx: Context, question: Question) -> Turn:
    """Go back to the previous question, forgetting its answer."""
    path = _path(ctx)
    if not path:
        first = Reply(
            "This is the first question, so there is nothing to go back to. "
            "Answer it, or type cancel to stop the check.",
            kind="threshold-first",
        )
        return _stay(ctx, question, first)
    previous = path.pop()
    _answers(ctx).pop(previous, None)
    earlier = ctx.knowledge.threshold.questions.get(previous)
    if earlier is None:  # the guide was reloaded and that question has gone
        return _start(ctx, "The threshold guide has changed, so the check starts again.")
    return Turn([_ask_current(ctx, earlier)], previous)


def _cancel(ctx: Context) -> Turn:
    log.info("threshold check cancelled in chat %s", ctx.chat)
    stopped = Reply(
        "I've stopped the threshold check. Ask me anything, or start the check again.",
        kind="cancelled",
        buttons=(Button("Start again", COMMAND),),
    )
    return Turn([stopped], None)


def _help(ctx: Context, question: Question) -> Turn:
    explained = Reply(question.help, kind="threshold-help", title="What this question means")
    return _stay(ctx, question, explained)


def _act(ctx: Context, question: Question, action: str) -> Turn:
    if action in ANSWERS:
        return _answer(ctx, question, action)
    if action == "back":
        return _back(ctx, question)
    if action == "cancel":
        return _cancel(ctx)
    return _help(ctx, question)


# --- entry points ----------------------------------------------------------------------------


def _button(arg: str) -> tuple[str, str] | None:
    """'not-sure child-died' -> ('not sure', 'child-died'), and so the data of earlier releases,
    'not sure child-died'; None if `arg` is not a button's."""
    action, _, node = arg.strip().lower().rpartition(" ")
    action = BUTTON_ACTIONS.get(action.replace(" ", "-"), "")
    return (action, node) if action and node else None


STALE = Reply(
    "That threshold check has already finished or was cancelled.",
    kind="threshold-stale",
    buttons=(Button("Start again", COMMAND),),
)


async def threshold(ctx: Context, arg: str) -> list[Reply]:
    """/threshold with no check open (the flow takes it while one is): start the check;
    /threshold 2015: the old test and its walk; a button of a finished check: say so."""
    if _button(arg) is not None:
        return [STALE]
    other = ctx.session.flow not in (None, NAME)
    if arg.strip().lower() in LEGACY_ARGS:
        if other:
            return [legacy_reply(ctx.knowledge.threshold.legacy_test)]
        return ctx.apply(NAME, _start_legacy(ctx))
    if other:
        # Starting over would throw away another flow's draft (a notification, say).
        return await ctx.conversation.in_progress(ctx, "type /threshold again")
    return ctx.apply(NAME, _start(ctx))


class ThresholdFlow:
    """While a check is in progress, typed answers, its buttons (/threshold ...) and /back,
    /cancel come here."""

    name = NAME
    title = "a threshold check"
    command = COMMAND
    commands = frozenset((COMMAND, "/back", "/cancel"))

    async def current(self, ctx: Context) -> list[Reply]:
        """The question the check is at, asked again (for `Conversation.in_progress`)."""
        question = _current(ctx)
        return [] if question is None else [_ask_current(ctx, question)]

    async def resume(self, ctx: Context) -> list[Reply]:
        """After the safety route (a live concern typed mid-check): offer to carry on."""
        question = _current(ctx)
        if question is None:
            return []
        return [
            Reply(
                "Your threshold check is still open: answer the question below to carry on, "
                "or type cancel to stop it.",
                kind="threshold-resume",
            ),
            _ask_current(ctx, question),
        ]

    async def handle(self, ctx: Context, said: Said) -> Turn:
        question = _current(ctx)
        if question is None:  # the guide was reloaded and this question has gone
            return _start(ctx, "The threshold guide has changed, so the check starts again.")
        if said.pressed is not None:
            return self._command(ctx, question, " ".join(said.pressed).strip())
        if said.command is not None:  # /back or /cancel, which the flow also claims
            return _act(ctx, question, said.command[0].removeprefix("/"))
        action = TYPED.get(said.word)
        if action is not None:
            return _act(ctx, question, action)
        # A question mid-check ("what does serious harm mean?") gets its answer, then the
        # question again. The answer's own buttons are dropped so the next press answers this.
        answer = await ctx.answer_question(said.text)
        if answer:
            return _stay(ctx, question, *(dataclasses.replace(r, buttons=()) for r in answer))
        return _stay(ctx, question, Reply(NOT_UNDERSTOOD, kind="threshold-not-understood"))

    def _command(self, ctx: Context, question: Question, arg: str) -> Turn:
        """/threshold mid-check: a button of this check, the 2015 test, or starting again."""
        pressed = _button(arg)
        if pressed is not None:
            action, node = pressed
            if node != question.id:
                stale = Reply(
                    "That button belongs to an earlier question, so I haven't used it. "
                    "Here is the current question:",
                    kind="threshold-stale",
                )
                return _stay(ctx, question, stale)
            return _act(ctx, question, action)
        if arg.lower() in LEGACY_ARGS:
            if ctx.session.data.get("legacy"):
                return _start_legacy(ctx)
            return _stay(ctx, question, legacy_reply(ctx.knowledge.threshold.legacy_test))
        return _start(ctx, f"Starting the check again from the first question.\n\n{INTRO}")
