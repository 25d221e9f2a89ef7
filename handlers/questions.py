"""Free questions: greetings, knowledge answers, choices when unsure, and the plain fallback."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Sequence

from bot.core.conversation import Context
from bot.core.numbers import is_ascii_digits
from bot.core.redaction import redact
from bot.core.replies import BUTTON_DATA_LIMIT, CASEWORK, Button, Link, Reply
from config.addresses import is_email
from config.settings import Settings
from handlers.reports import REPORT_WORDS, confirm_report, not_in_catalogue, report_reply
from handlers.safety import contact_lines, safety_line
from knowledge.casework import about_one_case
from knowledge.loader import Action, Knowledge, Topic
from knowledge.matching import Decision, decide
from knowledge.search import tokens, words

GREETINGS = frozenset(
    ("hi hello hey hiya morning afternoon evening good yo greetings there").split()
)
# Thanks and acknowledgements, alone or together: "thanks, that's really helpful", "ok got it".
THANKS = frozenset(
    (
        "thanks thank you ta cheers thx many great lovely brilliant ok okay that s that's is "
        "was really very so much helpful useful perfect super fab excellent amazing cool nice "
        "kind for the your help info information got it noted understood appreciated all good "
        "makes sense"
    ).split()
)
# One of these makes a message of THANKS words an acknowledgement, not a question.
THANKING = frozenset(
    "thanks thank ta cheers thx helpful useful perfect brilliant great noted understood "
    "appreciated".split()
)


MORE = "more"  # `/topic ID more`: the data of a topic's "More" button


def topic_reply(knowledge: Knowledge, topic: Topic, settings: Settings | None = None) -> Reply:
    """A topic's first reply: what applies now and what to do, its contacts, its sources as
    links (listed once), a "More" button when there is more, and the related topics."""
    more = (Button("More", f"/topic {topic.id} {MORE}"),) if topic.more else ()
    # A topic's `contacts:` come from the settings, so a changed number changes every answer.
    contacts = (
        f"\n\n{contact_lines(settings, topic.contacts)}" if settings and topic.contacts else ""
    )
    return Reply(
        text=f"{topic.answer}{contacts}",
        kind="answer",
        title=topic.title,
        id=topic.id,
        buttons=(*more, *_related_buttons(knowledge, topic)),
        links=tuple(Link(s.title, s.url) for s in topic.sources),
    )


def more_reply(knowledge: Knowledge, topic: Topic) -> Reply:
    """The rest of a topic (detail and history), with its related topics."""
    return Reply(
        text=topic.more or "That is all I have on this topic.",
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


# "a copy of / the link to / the pdf of the ... report": a document is wanted.
ASKING_FOR = ("copy", "copies", "link", "pdf", "download")
WANTS_DOCUMENT = re.compile(
    rf"\b(?:{'|'.join(ASKING_FOR)})\b(?:\s+\w+){{0,6}}?\s+(?:{'|'.join(REPORT_WORDS)})\b"
)


def wants_unknown_document(knowledge: Knowledge, text: str) -> bool:
    """Whether `text` asks for a copy of, or a link to, a document named by a word the
    knowledge base does not have ("a copy of the child Q report"): no topic is that document,
    though its other words may touch one (reporting a concern). "A copy of the Working Together
    document" names only known words: its topic, with the current edition, is the answer."""
    if not WANTS_DOCUMENT.search(" ".join(words(text))):
        return False
    return any(t not in ASKING_FOR and not knowledge.index.knows(t) for t in tokens(text))


def asks_for_document(text: str) -> bool:
    """Whether an unmatched request was for a document ("the Smith review"), so the reply
    points to the national repository. "Report a pothole" uses report as a verb: it is not."""
    said = words(text)
    return any(w in REPORT_WORDS and not (i == 0 and w == "report") for i, w in enumerate(said))


def _small_talk(text: str) -> Reply | None:
    said = set(words(text))
    if not said:
        return None
    if said <= THANKS and said & THANKING:
        return Reply("You're welcome. Ask me anything else, or type /help.", kind="greeting")
    if said <= GREETINGS:
        return Reply(
            "Hello! Ask me about case reviews and thresholds, ask for a report by name, "
            "or type /help to see everything I can do.",
            kind="greeting",
        )
    return None


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


# A question is a sentence or two; past this many characters only the start is matched. The
# matcher's and the case detector's patterns are not linear in the length of one message, and
# a pasted page (100,000 characters in the fuzz tests) took 25 seconds.
QUESTION_MAX = 1000

# Punctuation said aloud to a phone's dictation ("what is the lado question mark"): the marks
# themselves, so that their words neither dilute the question's meaning nor hide a list.
_SPOKEN = {"question mark": "?", "full stop": ".", "exclamation mark": "!", "comma": ","}
_SPOKEN_PUNCTUATION = re.compile(r"\s*\b(" + "|".join(_SPOKEN) + r")\b", re.IGNORECASE)


def spoken_punctuation(text: str) -> str:
    """`text` with punctuation said aloud written as the marks."""
    return _SPOKEN_PUNCTUATION.sub(lambda found: _SPOKEN[found[1].lower()], text)


async def respond(ctx: Context, text: str) -> list[Reply]:
    """Answer a free question: small talk, a message about one case (declined), one entry, a
    choice of entries, or the fallback."""
    text = spoken_punctuation(text[:QUESTION_MAX])
    small_talk = _small_talk(text)
    if small_talk is not None:
        return [small_talk]
    if not tokens(text):
        # Nothing but filler ("what can you do?"): there is no question to answer or store.
        return await ctx.run_command("/help")
    # The model loads in the background at start-up: the first question waits for it rather
    # than being answered differently from every later one.
    await ctx.knowledge.semantic.ready()
    decision = decide(ctx.knowledge, text)
    if about_one_case(text, ctx.knowledge.index.knows):
        # Not stored as unanswered: it is about a real child, so likely to hold personal data.
        return [casework_reply(ctx, decision)]
    if (
        decision.outcome in ("answer", "compare")
        and decision.best not in ctx.knowledge.reports
        and wants_unknown_document(ctx.knowledge, text)
    ):
        decision = Decision("none")  # answered below as a document not in the catalogue
    if decision.outcome == "answer" and decision.best is not None:
        replies = await entry_replies(ctx, decision.best)
        if decision.best in ctx.knowledge.topics and not decision.sure:
            replies[-1] = with_alternatives(ctx, replies[-1], decision.others)
        return replies
    if decision.outcome == "compare":
        return [comparison_reply(ctx.knowledge, decision.ids)]
    if decision.outcome == "about":
        return [about_reply(ctx.knowledge.actions[decision.ids[0]])]
    if decision.outcome == "confirm":
        return [confirm_report(ctx, ctx.knowledge.reports[decision.ids[0]])]
    if decision.outcome == "choices":
        return [choices_reply(ctx, list(decision.ids))]
    # Kept for the partnership to see what is missing, without names or other personal data.
    if worth_recording(text):
        await ctx.storage.questions.record_unanswered(ctx.chat, redact(text))
    if asks_for_document(text):
        return [not_in_catalogue(ctx)]
    return [fallback_reply(ctx)]


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
    """A topic in a sentence or two: its own short form if it has one, else its answer's
    first sentence."""
    own = getattr(topic, "short", None)
    if isinstance(own, str) and own:
        return own
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", topic.answer, maxsplit=1)[0]
    return first


def comparison_reply(knowledge: Knowledge, compared: Sequence[str]) -> Reply:
    """Two or three topics asked about together: each in short, and how each pair differs
    where the knowledge base says so."""
    topics = [knowledge.topics[i] for i in compared]
    parts = [f"{t.title}: {short_form(t)}" for t in topics]
    for first, second in itertools.combinations(compared, 2):
        note = knowledge.comparison(first, second)
        if note:
            if len(compared) == 2:
                parts.append(f"The difference: {note}")
            else:
                a, b = knowledge.topics[first].title, knowledge.topics[second].title
                parts.append(f"{a} and {b}, the difference: {note}")
    sources = tuple(dict.fromkeys(s for t in topics for s in t.sources))
    titles = [t.title for t in topics]
    return Reply(
        text="\n\n".join(parts),
        kind="answer",
        title=f"{', '.join(titles[:-1])} and {titles[-1]}",
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
    if topic is not None and rest.strip().lower() == MORE:
        return [more_reply(ctx.knowledge, topic)]
    topic = ctx.knowledge.topics.get(arg.strip())
    if topic is None:
        return await respond(ctx, arg) if arg else [Reply("Which topic? Type /help.", kind="help")]
    return [topic_reply(ctx.knowledge, topic, ctx.settings)]
