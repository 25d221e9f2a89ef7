"""The safety route: who to call when a child may be at risk, from the settings' `contacts:`.

Used by the core before any other routing (`screen`: a live concern in a message gets the
route at once), by /urgent (the full route), by the fallback and /start (`safety_line`), by
the form's help (`form_note`) and by topics that list contacts (`contact_lines`).

The route always starts with 999 for immediate danger, then the line that fits the message
(an allegation against a worker: the LADO; a missing child: the police...), then the rest,
and ends with the practitioner's own designated safeguarding lead.
"""

from __future__ import annotations

import dataclasses

from bot.core.conversation import Context
from bot.core.replies import URGENT, Button, Link, Reply
from config.settings import CONTACT_KEYS, Contact, Settings
from knowledge.loader import Knowledge
from knowledge.urgent import Kind

KIND = URGENT
TITLE = "If a child may be at risk"
URGENT_COMMAND = "/urgent"
# Marks a number the partnership has not yet confirmed (see `contacts:` in the settings).
UNCONFIRMED = "*"
UNCONFIRMED_NOTE = f"{UNCONFIRMED} Example details, to be confirmed by the partnership."
DSL_LINE = "Tell your designated safeguarding lead (DSL) today; write down what you saw or heard."
# What each contact is for, in the short route; the numbers come from the settings, and the
# full route (/urgent) adds names, hours, email and web pages.
PURPOSE = {
    "emergency": "In immediate danger: call {reach} now.",
    "front_door": "Worried about a child, or to make a referral: children's services, {reach}.",
    "out_of_hours": "Out of hours: Emergency Duty Team, {reach}.",
    "police": "A crime or a missing child, not an emergency: police, {reach}.",
    "lado": "An allegation against someone who works with children: the LADO, {reach}, "
    "within one working day.",
    "partnership": "The partnership: {reach}.",
}
# The contacts of the short route, in order after the lead.
ROUTE = ("emergency", "front_door", "out_of_hours", "police", "lado")


def _reach(contact: Contact) -> str:
    """How to reach a contact in a few words: its phone, else its email, else its web page."""
    reach = contact.phone or contact.email or contact.web
    return f"{reach}{'' if contact.confirmed else UNCONFIRMED}"


def route_line(settings: Settings, key: str) -> str:
    """One short line of the route, for the contact `key`."""
    return PURPOSE[key].format(reach=_reach(settings.contacts.get(key)))


def _needs_note(settings: Settings, keys: list[str]) -> bool:
    return any(not settings.contacts.get(k).confirmed for k in keys)


def safety_line(settings: Settings) -> str:
    """The one-line safety route that ends /start and the fallback."""
    contacts = settings.contacts
    front, edt = contacts.front_door, contacts.out_of_hours
    note = "" if front.confirmed and edt.confirmed else f" ({UNCONFIRMED} to be confirmed)"
    return (
        f"A child at risk? In immediate danger call {contacts.emergency.phone}; otherwise "
        f"children's services on {_reach(front)} (out of hours {_reach(edt)}){note}. "
        f"Type {URGENT_COMMAND} for who to call."
    )


def contact_detail(contact: Contact) -> str:
    """A contact in full: name, phone, hours, email, web page, and whether it is confirmed."""
    parts = [contact.name]
    if contact.phone:
        parts.append(f"phone {contact.phone}")
    if contact.hours:
        parts.append(contact.hours)
    if contact.email:
        parts.append(contact.email)
    if contact.web:
        parts.append(contact.web)
    line = ", ".join(parts)
    return line if contact.confirmed else f"{line} {UNCONFIRMED}"


def contact_brief(contact: Contact) -> str:
    """A contact in one short line: name, phone or email, hours (web pages only in /urgent)."""
    reach = ", ".join(r for r in (contact.phone, contact.email) if r) or contact.web
    hours = f" ({contact.hours})" if contact.hours else ""
    return f"{contact.name}: {reach}{'' if contact.confirmed else UNCONFIRMED}{hours}"


def contact_lines(settings: Settings, keys: tuple[str, ...]) -> str:
    """The contacts a topic lists (`contacts:` in topics.yaml), one short line each."""
    keys = tuple(k for k in keys if k in CONTACT_KEYS)
    lines = [f"- {contact_brief(settings.contacts.get(k))}" for k in keys]
    if _needs_note(settings, list(keys)):
        lines.append(UNCONFIRMED_NOTE)
    return "\n".join(lines)


def more_topic(knowledge: Knowledge, kind: Kind) -> str | None:
    """The topic behind "More" for this kind: the first of its `more` ids that exists."""
    return next((t for t in kind.more if t in knowledge.topics), None)


def urgent_reply(settings: Settings, knowledge: Knowledge, kind: Kind) -> Reply:
    """The short safety route for a live concern: 999 first, then the line that fits."""
    order = ["emergency", kind.lead, *ROUTE]
    keys = list(dict.fromkeys(order))  # the lead moves up; nothing is said twice
    lines = [route_line(settings, k) for k in keys]
    if kind.advice:
        # What to do comes with the lead's line: "call 999 and ask for an ambulance" first.
        lines.insert(keys.index(kind.lead) + 1, kind.advice)
    lines.append(DSL_LINE)
    if _needs_note(settings, keys):
        lines.append(UNCONFIRMED_NOTE)
    topic = more_topic(knowledge, kind)
    buttons = [Button("More", f"/topic {topic}")] if topic else []
    buttons.append(Button("All contacts", URGENT_COMMAND))
    lead = settings.contacts.get(kind.lead)
    return Reply(
        "\n".join(lines),
        kind=KIND,
        title=TITLE,
        id=topic,
        buttons=tuple(buttons),
        links=(Link(lead.name, lead.web),) if lead.web else (),
    )


def form_note(settings: Settings) -> Reply:
    """Shown with the form's help: the form is for learning, never for a live concern."""
    return Reply(
        "This form tells the partnership about an incident so that agencies can learn from "
        "it. It is not a referral. " + safety_line(settings),
        kind="help",
    )


async def route(ctx: Context, text: str) -> Reply | None:
    """The safety route if `text` is a live concern, else None. The core asks first, through
    handlers/questions.py `screen`, which adds the topic the message is about."""
    if ctx.knowledge.decline.adult_only(text):
        return None  # an adult's matter with no child in it: declined with adult social care
    kind = await ctx.knowledge.urgent.screen(text)
    if kind is None:
        return None
    return urgent_reply(ctx.settings, ctx.knowledge, kind)


def with_the_topic_button(knowledge: Knowledge, reply: Reply, topic: str) -> Reply:
    """The route, with the topic the message is about one tap away when it is not the route's
    own ("is that neglect", "non mobile bruising": the safety route, and Neglect)."""
    if topic not in knowledge.topics or topic == reply.id:
        return reply
    button = Button(f"About: {knowledge.topics[topic].title}", f"/topic {topic}")
    return dataclasses.replace(
        reply, ids=(topic,), buttons=(*reply.buttons[:1], button, *reply.buttons[1:])
    )


async def urgent(ctx: Context, arg: str) -> list[Reply]:
    """/urgent: the whole safety route, every contact in full."""
    settings, knowledge = ctx.settings, ctx.knowledge
    contacts = settings.contacts
    lines = [
        route_line(settings, "emergency"),
        "",
        "Worried about a child (to make a referral or ask for advice):",
        f"- {contact_detail(contacts.front_door)}",
        f"- Out of hours: {contact_detail(contacts.out_of_hours)}",
        "A crime or a missing child that is not an emergency:",
        f"- {contact_detail(contacts.police)}",
        "An allegation against someone who works with children (tell them within one working "
        "day, and tell your manager or DSL, unless it is about them):",
        f"- {contact_detail(contacts.lado)}",
        "",
        f"{DSL_LINE} If the child told you, use their own words.",
        "",
        f"Questions about the partnership's work: {contact_detail(contacts.partnership)}",
    ]
    if contacts.unconfirmed():
        lines.append(UNCONFIRMED_NOTE)
    topics = ("immediate-risk", "responding-to-disclosure", "lado")
    buttons = tuple(
        Button(knowledge.topics[t].title, f"/topic {t}") for t in topics if t in knowledge.topics
    )
    links = tuple(
        Link(c.name, c.web) for c in (contacts.front_door, contacts.lado, contacts.police) if c.web
    )
    return [Reply("\n".join(lines), kind=KIND, title=TITLE, buttons=buttons, links=links)]
