"""Free questions: greetings, knowledge answers, choices when unsure, and the plain fallback."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Sequence

from bot.core.conversation import Context
from bot.core.numbers import is_ascii_digits
from bot.core.redaction import redact
from bot.core.replies import BUTTON_DATA_LIMIT, CASEWORK, DECLINED_ID, Button, Link, Reply
from config.addresses import is_email
from config.settings import Settings
from handlers import learning, safety
from handlers.reports import (
    REPORT_WORDS,
    confirm_report,
    narrow_reply,
    not_in_catalogue,
    report_reply,
)
from handlers.safety import contact_lines, safety_line
from knowledge.casework import about_one_case
from knowledge.decision import Decision, decide
from knowledge.decline import ADULT_REVIEW
from knowledge.entries import Action, Topic
from knowledge.loader import FIRST_REPLY_MAX, Knowledge
from knowledge.passages import Lead, overlap
from knowledge.query import QUESTION_MAX, SAME_AS, Query, read_query
from knowledge.search import words

MORE = "more"  # `/topic ID more`: the data of a topic's "More" button


ALL = "all"  # `/topic ID all`: the whole answer and the rest, when the first reply was cut


def topic_reply(
    knowledge: Knowledge, topic: Topic, settings: Settings | None = None, lead: Lead | None = None
) -> Reply:
    """A topic's first reply: the answer to what was asked first (`lead`: a facet, a yes or a
    no), then what applies now and what to do, within FIRST_REPLY_MAX characters; its
    contacts, its sources as links (listed once), a "More" button when there is more, and the
    related topics."""
    body, cut = first_reply_text(topic, lead)
    more: tuple[Button, ...] = ()
    if cut:
        more = (Button("More", f"/topic {topic.id} {ALL}"),)
    elif topic.more:
        more = (Button("More", f"/topic {topic.id} {MORE}"),)
    # A topic's `contacts:` come from the settings, so a changed number changes every answer.
    contacts = (
        f"\n\n{contact_lines(settings, topic.contacts)}" if settings and topic.contacts else ""
    )
    return Reply(
        text=f"{body}{contacts}",
        kind="answer",
        title=topic.title,
        id=topic.id,
        buttons=(*more, *_related_buttons(knowledge, topic)),
        links=tuple(Link(s.title, s.url) for s in topic.sources),
    )


def first_reply_text(topic: Topic, lead: Lead | None) -> tuple[str, bool]:
    """The body of a topic's first reply, and whether its answer had to be cut to fit.

    With a lead, the lead comes first and the answer follows, sentence by sentence while it fits
    in FIRST_REPLY_MAX (a sentence that repeats the lead is left out); the rest is behind More."""
    if lead is None:
        return topic.answer, False
    kept, cut = [lead.text], False
    used = len(lead.text)
    for sentence in _sentences(topic.answer):
        if overlap(lead.text, sentence) >= REPEATS:
            continue  # the lead has said it
        if used + 2 + len(sentence) > FIRST_REPLY_MAX:
            cut = True
            break
        kept.append(sentence)
        used += 1 + len(sentence)
    body = kept[0] if len(kept) == 1 else f"{kept[0]}\n\n{' '.join(kept[1:])}"
    return body, cut


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")
# A sentence of the answer sharing this much of the lead's words says the same again.
REPEATS = 0.7


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(" ".join(text.split())) if s]


def more_reply(knowledge: Knowledge, topic: Topic, whole: bool = False) -> Reply:
    """The rest of a topic (detail and history), with its related topics; `whole`: its answer
    too, when the first reply had to cut it."""
    rest = topic.more or ("" if whole else "That is all I have on this topic.")
    text = f"{topic.answer}\n\n{rest}".strip() if whole else rest
    return Reply(
        text=text,
        kind="answer-more",
        title=f"{topic.title}: more",
        id=topic.id,
        buttons=_related_buttons(knowledge, topic),
    )


def _related_buttons(knowledge: Knowledge, topic: Topic) -> tuple[Button, ...]:
    return tuple(
        Button(knowledge.topics[r].title, f"/topic {r}")
        for r in topic.related
        if r in knowledge.topics
    )


def worth_recording(text: str) -> bool:
    """Whether an unanswered message is a question worth keeping. A code or an address typed
    after sign-in has ended (locked, or rate-limited) teaches the board nothing: not kept."""
    typed = text.strip()
    return not (is_ascii_digits(typed) or is_email(typed))


def asks_for_document(text: str) -> bool:
    """Whether an unmatched request was for a document ("the Smith review"), so the reply
    points to the national repository. "Report a pothole" uses report as a verb: it is not."""
    said = words(text)
    return any(w in REPORT_WORDS and not (i == 0 and w == "report") for i, w in enumerate(said))


async def entry_replies(ctx: Context, entry_id: str) -> list[Reply]:
    """The reply for one knowledge entry of any kind (topic, report or action)."""
    knowledge = ctx.knowledge
    if entry_id in knowledge.topics:
        return [topic_reply(knowledge, knowledge.topics[entry_id], ctx.settings)]
    if entry_id in knowledge.reports:
        return [report_reply(ctx, knowledge.reports[entry_id])]
    if entry_id in knowledge.actions:
        return await ctx.run_command(knowledge.actions[entry_id].command)
    return [Reply("That entry no longer exists. Type /help.", kind="fallback")]


def choices_reply(ctx: Context, ids: list[str]) -> Reply:
    """Two or more close entries to choose from (never one: that would be a guess dressed as
    a question)."""
    return Reply(
        "I'm not sure which one you mean. Please choose:",
        kind="choices",
        ids=tuple(ids),
        buttons=tuple(_entry_button(ctx, entry_id) for entry_id in ids),
    )


# A live concern that also asks one of these gets, after the route, the answer to it ("child
# always hungry and dirty clothes, is that neglect": who to call, then the topic on neglect).
# A message that only tells ("she said her dad hits her") gets the route alone.
ANSWERED_AFTER_THE_ROUTE = frozenset(("what", "when", "who", "how", "next", "yesno", "compare"))


async def screen(ctx: Context, text: str) -> list[Reply] | None:
    """The safety route if `text` is a live concern, else None (the core asks this first):
    the route, the topic the message is about one tap away, and, when it asks a question
    the knowledge answers, that answer after the route."""
    route = await safety.route(ctx, text)
    if route is None:
        return None
    knowledge = ctx.knowledge
    await knowledge.ready()
    query = read_query(text, knowledge.index)
    decision = decide(knowledge, query)
    if decision.outcome not in ("answer", "compare") or decision.best is None:
        return [route]
    replies = [safety.with_the_topic_button(knowledge, route, decision.best)]
    if (
        decision.outcome == "answer"
        and decision.best in knowledge.topics
        and decision.best != route.id
        and query.facet in ANSWERED_AFTER_THE_ROUTE
    ):
        replies += await answer_replies(ctx, decision)
    return replies


async def respond(ctx: Context, text: str) -> list[Reply]:
    """Answer a free question: read it once, decide (knowledge/decision.py), and say it."""
    knowledge = ctx.knowledge
    # The models load in the background at start-up: the first question waits for them rather
    # than being answered differently from every later one.
    await knowledge.ready()
    query = read_query(text, knowledge.index)
    return await say(ctx, query, decide(knowledge, query))


async def say(ctx: Context, query: Query, decision: Decision) -> list[Reply]:
    """The replies for a decision, one outcome each (what each says: the functions below)."""
    knowledge, outcome = ctx.knowledge, decision.outcome
    if outcome in SMALL_TALK:
        return [SMALL_TALK[outcome]]
    if outcome == "help":
        return await ctx.run_command("/help")
    if outcome == "learning" and decision.learning is not None:
        return await learning.reply(ctx, decision.learning)
    if outcome == "answer" and decision.best is not None:
        replies = await answer_replies(ctx, decision)
        if knowledge.urgent.settled(query.text):
            # It mentions harm, past and in hand: the answer, and one line on who to call.
            replies.append(Reply(safety_line(ctx.settings), kind="safety-line"))
        return replies
    if outcome == "compare":
        return [
            comparison_reply(knowledge, decision.ids, same_as=bool(SAME_AS.search(query.folded)))
        ]
    if outcome == "about":
        replies = [about_reply(knowledge.actions[decision.ids[0]])]
        if knowledge.urgent.settled(query.text):  # as for an answer, above
            replies.append(Reply(safety_line(ctx.settings), kind="safety-line"))
        return replies
    if outcome == "confirm":
        return [confirm_report(ctx, knowledge.reports[decision.ids[0]])]
    if outcome == "choices":
        return [choices_reply(ctx, list(decision.ids))]
    if outcome == "narrow":
        return [narrow_reply(ctx, list(decision.ids))]
    if outcome == "casework":
        # Not stored as unanswered: it is about a real child, so likely to hold personal data.
        return [casework_reply(ctx, decision)]
    if outcome == "decline":
        if decision.kind == "other" and worth_recording(query.text):
            # What people ask that is not ours tells the partnership something too; an
            # adult's matter is not kept (it is about a real person).
            await ctx.storage.questions.record_unanswered(ctx.chat, redact(query.text))
        return [decline_reply(ctx, decision)]
    # Kept for the partnership to see what is missing, without names or other personal data.
    if worth_recording(query.text):
        await ctx.storage.questions.record_unanswered(ctx.chat, redact(query.text))
    if outcome == "missing" or asks_for_document(query.text):
        return [not_in_catalogue(ctx)]
    return [fallback_reply(ctx)]


SMALL_TALK = {
    "thanks": Reply("You're welcome. Ask me anything else, or type /help.", kind="greeting"),
    "greeting": Reply(
        "Hello! Ask me about case reviews and thresholds, ask for a report by name, "
        "or type /help to see everything I can do.",
        kind="greeting",
    ),
}


async def answer_replies(ctx: Context, decision: Decision) -> list[Reply]:
    """One entry's reply; a topic's leads with the answer to what was asked, and an answer
    that may not be the one meant offers the others."""
    assert decision.best is not None
    knowledge = ctx.knowledge
    if decision.best in knowledge.topics:
        topic = knowledge.topics[decision.best]
        replies = [topic_reply(knowledge, topic, ctx.settings, decision.lead)]
    else:
        replies = await entry_replies(ctx, decision.best)
    if decision.best in knowledge.topics and not decision.sure:
        replies[-1] = with_alternatives(ctx, replies[-1], decision.others)
    return replies


def casework_reply(ctx: Context, decision: Decision) -> Reply:
    """A message about one particular child or family, or asking me to act for someone: say
    that I cannot see cases or act, who can, and offer the general topic it touched on."""
    topics = [i for i in decision.ids if i in ctx.knowledge.topics][:2]
    general = tuple(
        Button(f"In general: {ctx.knowledge.topics[i].title}", f"/topic {i}") for i in topics
    )
    return Reply(
        "I can't see anyone's records or case, and I can't arrange, chair or attend anything "
        "for you. About a particular child or family, ask their social worker, your "
        "designated safeguarding lead or children's services. If a child may be at risk now, "
        f"type /urgent.\n\n{contact_lines(ctx.settings, ('front_door',))}",
        kind=CASEWORK,
        buttons=(*general, Button("A child may be at risk", "/urgent")),
    )


DECLINED = {
    "adult": (
        "That sounds like an adult's care or safety, which I don't cover: I help with "
        "safeguarding children. For an adult, contact the council's adult social care, or call "
        "999 if they are in danger now. If a child lives with them or is affected, that is for "
        "children's services: tell me about it, or type /urgent."
    ),
    ADULT_REVIEW: (
        "A safeguarding adults review (SAR) is for an adult: the safeguarding adults board "
        "holds it, under the Care Act 2014 (section 44), so ask the council's safeguarding "
        "adults board. I help with safeguarding children. If the adult was a young person who "
        "had recently left children's services, such as a care leaver, ask me how the children's "
        "and adults' reviews join up."
    ),
    "other": (
        "That's outside what I know: I help with safeguarding children (case reviews, "
        "thresholds, notifications and the partnership's reports)."
    ),
}


def decline_reply(ctx: Context, decision: Decision) -> Reply:
    """Not ours (knowledge/decline.py): say what I cover and where to go instead, with the
    topic it touched on one tap away when there is one (an adults' review)."""
    kind = decision.kind
    topics = [ctx.knowledge.topics[i] for i in decision.ids if i in ctx.knowledge.topics]
    return Reply(
        f"{DECLINED.get(kind, DECLINED['other'])} Type /help to see what I can do, or contact "
        f"{ctx.settings.partnership_email}.\n\n{safety_line(ctx.settings)}",
        kind="fallback",
        # What was declined (counted for the staff page's charts, bot/core/usage.py).
        id=f"{DECLINED_ID}{kind}",
        buttons=(
            *(Button(f"In general: {t.title}", f"/topic {t.id}") for t in topics),
            Button("Help", "/help"),
            Button("A child may be at risk", "/urgent"),
        ),
    )


def fallback_reply(ctx: Context) -> Reply:
    """Nothing close enough: say so, say the question is kept without names, and end with the
    safety route (a concern the detector missed must still find its way)."""
    return Reply(
        "Sorry, I don't have an answer to that. I can explain case reviews, thresholds and "
        "notifications, and find the partnership's reports. I keep questions like this, without "
        "names or other personal details, to improve my answers. Type /help to see what I can "
        f"do, or contact {ctx.settings.partnership_email}.\n\n{safety_line(ctx.settings)}",
        kind="fallback",
        buttons=(Button("Help", "/help"), Button("A child may be at risk", "/urgent")),
    )


NOT_MEANT = "Not what you meant?"


def with_alternatives(ctx: Context, reply: Reply, others: Iterable[str]) -> Reply:
    """An answer that may not be the one meant, with a way to the others: a button for each
    conversation it could start, then "Not what you meant?" (the runners-up, or how to ask
    the partnership). Never a menu of one: a single runner-up gets its own button."""
    knowledge = ctx.knowledge
    flows = [i for i in others if i in knowledge.actions]
    shown = {b.data for b in reply.buttons}
    rest = [
        i
        for i in others
        if i not in knowledge.actions and i != reply.id and _entry_button(ctx, i).data not in shown
    ]
    added = [_entry_button(ctx, i) for i in flows]
    data = "/others"
    fitted: list[str] = []
    for entry_id in rest:
        if len(f"{data} {entry_id}".encode()) > BUTTON_DATA_LIMIT:
            break
        data = f"{data} {entry_id}"
        fitted.append(entry_id)
    if len(fitted) == 1 or (rest and not fitted):
        only = _entry_button(ctx, rest[0])
        added.append(Button(f"{NOT_MEANT} {only.label}", only.data))
    else:
        added.append(Button(NOT_MEANT, data))
    return dataclasses.replace(reply, buttons=(*reply.buttons, *added))


async def show_others(ctx: Context, arg: str) -> list[Reply]:
    """/others ID...: the data of "Not what you meant?": the runners-up, or who to ask."""
    known = (
        ctx.knowledge.topics.keys() | ctx.knowledge.reports.keys() | ctx.knowledge.actions.keys()
    )
    ids = [i for i in arg.split() if i in known]
    if len(ids) == 1:
        return await entry_replies(ctx, ids[0])
    if ids:
        return [choices_reply(ctx, ids)]
    return [
        Reply(
            "Sorry I could not be more help. Try asking in other words, type /help to see "
            "what I can answer, or ask the partnership directly: "
            f"{ctx.settings.partnership_email}.",
            kind="help",
            buttons=(Button("Help", "/help"),),
        )
    ]


def short_form(topic: Topic) -> str:
    """A topic in a sentence or two: its `what` facet, else its answer's first sentence."""
    return topic.facet("what") or _sentences(topic.answer)[0]


MORE_ON_EACH = "Each in full, behind its button:"
# A comparison's facets, beside each other when every topic compared has one.
COMPARED_FACETS = (("who", "Who"), ("when", "When"), ("next", "What follows"))


def comparison_reply(knowledge: Knowledge, compared: Sequence[str], same_as: bool = False) -> Reply:
    """Two or three topics asked about together, written as a comparison: how they differ (the
    knowledge base's note on the pair), or else who, when and what follows for each side by
    side; then what each is, as far as the first reply has room. "Is X the same as Y" is
    answered first: no."""
    topics = [knowledge.topics[i] for i in compared]
    titles = [t.title for t in topics]
    named = f"{', '.join(titles[:-1])} and {titles[-1]}"
    first = [f"No, they are not the same: {named} differ."] if same_as else []
    notes = []
    for one, other in itertools.combinations(compared, 2):
        note = knowledge.comparison(one, other)
        if note:
            if len(compared) == 2:
                notes.append(f"The difference: {note}")
            else:
                a, b = knowledge.topics[one].title, knowledge.topics[other].title
                notes.append(f"{a} and {b}, the difference: {note}")
    if not notes:
        for facet, label in COMPARED_FACETS:
            said = [(t.title, t.facet(facet)) for t in topics]
            if all(text for _, text in said):
                notes.append(f"{label}. " + " ".join(f"{title}: {text}" for title, text in said))
    parts = [*first, *notes]
    untold = []
    for topic in topics:
        what = f"{topic.title}: {short_form(topic)}"
        if len("\n\n".join([*parts, what])) <= FIRST_REPLY_MAX - len(MORE_ON_EACH) - 120:
            parts.append(what)
        else:
            untold.append(topic.title)
    if untold:
        parts.append(f"{MORE_ON_EACH} {', '.join(untold)}.")
    sources = tuple(dict.fromkeys(s for t in topics for s in t.sources))
    return Reply(
        text="\n\n".join(parts),
        kind="answer",
        title=named,
        id=compared[0],
        ids=tuple(compared),
        buttons=tuple(Button(t.title, f"/topic {t.id}") for t in topics),
        links=tuple(Link(s.title, s.url) for s in sources),
    )


def about_reply(action: Action) -> Reply:
    """What a conversation does, with a button to start it: asked about, not started."""
    return Reply(
        action.about,
        kind="answer",
        id=action.id,
        buttons=(Button(action.start, action.command),),
    )


def _entry_button(ctx: Context, entry_id: str) -> Button:
    knowledge = ctx.knowledge
    if entry_id in knowledge.topics:
        return Button(knowledge.topics[entry_id].title, f"/topic {entry_id}")
    if entry_id in knowledge.reports:
        return Button(knowledge.reports[entry_id].title, f"/report {entry_id}")
    action = knowledge.actions[entry_id]
    return Button(action.start or action.phrases[0].capitalize(), action.command)


async def answer_in_flow(ctx: Context, text: str) -> list[Reply] | None:
    """A confident answer to a question asked in the middle of a flow, else None.

    Only topics count here: a form answer that happens to resemble a report title must not be
    taken for a question. A message about one case is declined here too, as outside a flow.
    """
    if len(text) > QUESTION_MAX:
        return None  # an answer to the step, not a question
    if about_one_case(text, ctx.knowledge.index.knows):
        return [casework_reply(ctx, Decision("none"))]
    result = ctx.knowledge.index.search(text)
    best = result.best
    if result.decision == "answer" and best is not None and best.id in ctx.knowledge.topics:
        reply = topic_reply(ctx.knowledge, ctx.knowledge.topics[best.id], ctx.settings)
        # No related-topic buttons: the flow's own question follows, with its buttons.
        return [dataclasses.replace(reply, buttons=())]
    return None


async def show_topic(ctx: Context, arg: str) -> list[Reply]:
    """/topic ID: the answer for one topic (the data of related-topic buttons); /topic ID more:
    the rest of it (the data of the "More" button)."""
    topic_id, _, rest = arg.strip().partition(" ")
    topic = ctx.knowledge.topics.get(topic_id)
    if topic is not None and rest.strip().lower() in (MORE, ALL):
        return [more_reply(ctx.knowledge, topic, whole=rest.strip().lower() == ALL)]
    topic = ctx.knowledge.topics.get(arg.strip())
    if topic is None:
        return await respond(ctx, arg) if arg else [Reply("Which topic? Type /help.", kind="help")]
    return [topic_reply(ctx.knowledge, topic, ctx.settings)]
