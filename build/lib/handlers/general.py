"""Who the assistant is and what it can do: /start, /help, /reviews, and /cancel outside flows."""

from __future__ import annotations

from bot.core.conversation import Context
from bot.core.replies import Button, Reply
from handlers import handoff
from handlers.questions import topic_reply
from handlers.safety import contact_lines, safety_line

# The review types a practitioner meets, in the order /reviews offers them.
REVIEW_IDS = (
    "serious-case-review",
    "rapid-review",
    "safeguarding-practice-review",
    "child-death-review",
    "below-threshold-review",
    "significant-incident-learning-process",
    "individual-management-review",
    "practice-audit",
)


def menu_text(ctx: Context) -> str:
    menu = ctx.conversation.menu
    return "\n".join(f"/{name} - {description}" for name, description in menu)


async def start(ctx: Context, arg: str) -> list[Reply]:
    """/start: who I am and what I can do."""
    board, contact = ctx.settings.board, ctx.settings.partnership_email
    return [
        Reply(
            f"Hello, I'm the {board.name} assistant. I can:\n"
            "- answer questions about case reviews, thresholds and notifications "
            '(try "what is an SCR?" or "what\'s a SILP?");\n'
            '- find the partnership\'s reports and briefings (try "the Pelka report");\n'
            "- guide your agency's Liaison Officer through a significant incident notification.\n\n"
            f"{menu_text(ctx)}\n\nI give information, not decisions: for a live case, talk to your "
            f"designated safeguarding lead. Partnership contact: {contact}\n\n"
            f"{safety_line(ctx.settings)}",
            kind="greeting",
            title=board.name,
            buttons=(
                Button("A child may be at risk", "/urgent"),
                Button("Review types", "/reviews"),
                Button("Reports", "/reports"),
            ),
        )
    ]


async def contact(ctx: Context, arg: str) -> list[Reply]:
    """/contact ("can I speak to a person?"): how to reach the partnership's staff, and the
    hand-off when it is available."""
    settings = ctx.settings
    text = (
        "I'm an automated assistant. To reach the partnership's staff:\n"
        f"{contact_lines(settings, ('partnership',))}"
    )
    buttons = [Button("A child may be at risk", "/urgent")]
    if handoff.available(settings):
        text += (
            f'\n\nOr press "{handoff.BUTTON}": I will send your question to them and bring '
            "their answer back here."
        )
        buttons.insert(0, Button(handoff.BUTTON, handoff.COMMAND))
    text += (
        "\n\nAbout a particular child, talk to your designated safeguarding lead or children's "
        f"services.\n\n{safety_line(settings)}"
    )
    return [Reply(text, kind="help", title="Talking to a person", buttons=tuple(buttons))]


async def help_(ctx: Context, arg: str) -> list[Reply]:
    """/help: the commands, and how to ask."""
    return [
        Reply(
            "Ask a question in your own words, or ask for a document by name (even half a "
            f"name).\n\n{menu_text(ctx)}\n\nIn the middle of a form or check you can also type "
            "back, skip, help or cancel.",
            kind="help",
            title="How to use this assistant",
        )
    ]


async def reviews(ctx: Context, arg: str) -> list[Reply]:
    """/reviews: the review types as buttons."""
    knowledge = ctx.knowledge
    overview = knowledge.topics.get("review-types")
    buttons = tuple(
        Button(knowledge.topics[i].title, f"/topic {i}")
        for i in REVIEW_IDS
        if i in knowledge.topics
    )
    if overview is None:
        return [Reply("Which review type?", kind="choices", buttons=buttons)]
    reply = topic_reply(knowledge, overview, ctx.settings)
    return [
        Reply(
            reply.text,
            kind=reply.kind,
            title=reply.title,
            id=reply.id,
            buttons=buttons,
            links=reply.links,
        )
    ]


async def cancel(ctx: Context, arg: str) -> list[Reply]:
    """/cancel outside any flow: nothing to stop."""
    return [
        Reply(
            "There's nothing in progress to cancel. Type /help to see what I can do.",
            kind="cancelled",
        )
    ]
