"""Board administrators' commands: /unanswered, /reload and /outbox.

Only a chat signed in with an address in the registry's `administrators` list may use them;
anyone else is told so, and how to sign in. /reload re-reads and validates the knowledge base and
the registry together: if either has a problem, neither is replaced and the problems are shown.
/outbox lists the emails the mail server refused for good, and `/outbox retry REF` queues one
again once the cause is fixed (`python main.py outbox retry REF` does the same from a shell).
Each sees its own partnership's data only. An installation administrator's /reload also re-reads
the partnerships the installation serves (bot/installation.py).
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.core.conversation import Command, Context
from bot.core.loading import load_all
from bot.core.numbers import counted
from bot.core.replies import Button, Reply
from bot.mail.outbox import refused_line
from config.registry import normal_email
from config.settings import SettingsError
from config.validation import KnowledgeError
from handlers.handoff import open_handoffs
from handlers.notification.flow import FLOW_NAME as NOTIFY_FLOW
from handlers.signin import Access

log = logging.getLogger(__name__)

UNANSWERED_LIMIT = 30
REFUSED_SHOWN = 20
RETRY_BUTTONS = 5
PROBLEMS_SHOWN = 40  # enough to fix a bad edit; a long list would be split into many messages


async def unanswered_emails(ctx: Context) -> list[Reply]:
    """The emails the email channel did not answer (their sender was over the hourly limit, or
    the email could not be read): who, when, and the question without personal details."""
    emails = await ctx.storage.inbox.unanswered_emails(UNANSWERED_LIMIT)
    if not emails:
        return []
    lines = [
        f"- {time.strftime('%d %b %Y %H:%M', time.localtime(at))}, from {sender}: "
        f"{kept.get('question') or kept.get('subject') or '(no text)'}"
        for sender, at, kept in emails
    ]
    return [
        Reply(
            "\n".join(lines) + "\n\nThe sender was told when answers resume; reply to them "
            "yourself if it cannot wait.",
            kind="unanswered_emails",
            title=f"{counted(len(emails), 'email')} not answered (over the hourly limit, or "
            "unreadable), newest first",
        )
    ]


class Admin:
    def __init__(self, access: Access) -> None:
        self.access = access

    def only(self, command: Command, name: str) -> Command:
        """`command`, for board administrators only."""

        async def guarded(ctx: Context, arg: str) -> list[Reply]:
            if await self.access.is_admin(ctx):
                return await command(ctx, arg)
            return [
                Reply(
                    f"Only partnership administrators can use /{name}. If you are one, sign in "
                    "first with /signin, using the address the partnership registered for you.",
                    kind="not_allowed",
                )
            ]

        return guarded

    async def unanswered(self, ctx: Context, arg: str) -> list[Reply]:
        """/unanswered: the latest questions the knowledge base could not answer, the questions
        waiting for the partnership, and the emails left unanswered (over the hourly limit)."""
        questions = await ctx.storage.questions.unanswered(UNANSWERED_LIMIT)
        handoffs = [*await open_handoffs(ctx), *await unanswered_emails(ctx)]
        if not questions:
            return [Reply("No unanswered questions so far.", kind="unanswered"), *handoffs]
        lines = [
            f"- {time.strftime('%d %b %Y %H:%M', time.localtime(at))}: {question}"
            for question, at in questions
        ]
        return [
            Reply(
                "\n".join(lines),
                kind="unanswered",
                title=f"The last {counted(len(questions), 'question')} I could not answer, "
                "newest first",
            ),
            *handoffs,
        ]

    async def reload(self, ctx: Context, arg: str) -> list[Reply]:
        """/reload: re-read knowledge and registry; keep the old ones if either is invalid."""
        try:
            # Parsing takes seconds for a large catalogue: off the event loop, so other chats are
            # answered meanwhile (the names' vectors are then computed in the background too).
            loaded = await asyncio.to_thread(load_all, ctx.settings)
        except KnowledgeError as exc:
            problems = exc.problems
            log.warning("reload refused: %s", counted(len(problems), "problem"))
            shown = problems[:PROBLEMS_SHOWN]
            more = len(problems) - len(shown)
            return [
                Reply(
                    "\n".join(shown) + (f"\n...and {more} more (run `check`)." if more else ""),
                    kind="reload_failed",
                    title=f"Nothing reloaded: {counted(len(problems), 'problem')}. The previous "
                    "version stays in use.",
                )
            ]
        knowledge, registry = loaded.knowledge, loaded.registry
        ctx.conversation.replace_knowledge(knowledge)
        signed_out = await self.access.use_registry(
            registry, ctx.storage, f"chat {ctx.chat} (/reload)"
        )
        # This chat's own session is saved after we return: clear its draft here too, or the save
        # would bring it back.
        if ctx.session.flow == NOTIFY_FLOW and await self.access.officer(ctx) is None:
            ctx.session.reset()
        await ctx.storage.audit.audit("reload", ctx.chat, at=self.access.clock())
        log.info("chat %s reloaded knowledge and registry", ctx.chat)
        return [
            Reply(
                f"Reloaded: {len(knowledge.topics)} topics, {len(knowledge.reports)} reports; "
                f"{counted(len(registry.officers), 'liaison officer')}, "
                f"{counted(len(registry.administrators), 'administrator')}. Chats signed out "
                f"because their address is no longer registered: {len(signed_out)}.",
                kind="reloaded",
            ),
            *await self.reload_installation(ctx),
        ]

    async def reload_installation(self, ctx: Context) -> list[Reply]:
        """For an installation administrator (settings `installation_admins`), /reload also
        re-reads the partnerships the installation serves and starts the new ones."""
        hook = ctx.conversation.reload_installation
        email = await self.access.signed_in_as(ctx)
        admins = {normal_email(a) for a in ctx.settings.installation_admins}
        if hook is None or email is None or normal_email(email) not in admins:
            return []
        try:
            lines = await hook()
        except SettingsError as exc:
            problems = str(exc).splitlines()
            log.warning("installation reload refused: %s", counted(len(problems), "problem"))
            return [
                Reply(
                    "\n".join(problems[:PROBLEMS_SHOWN]),
                    kind="reload_failed",
                    title="The partnerships were not re-read; those running carry on.",
                )
            ]
        await ctx.storage.audit.audit("reload_installation", ctx.chat, at=self.access.clock())
        return [
            Reply("\n".join(f"- {line}" for line in lines), kind="reloaded", title="Partnerships")
        ]

    async def outbox(self, ctx: Context, arg: str) -> list[Reply]:
        """/outbox: the emails refused for good; /outbox retry REF: queue one again."""
        word, _, rest = arg.strip().partition(" ")
        if word.lower() == "retry" and rest.strip():
            reference = rest.strip().split()[0]
            who = await self.access.signed_in_as(ctx)
            if await ctx.storage.outbox.requeue_failed_email(reference, self.access.clock(), who):
                ctx.conversation.wake_outbox()
                log.info("chat %s queued email %s again", ctx.chat, reference)
                return [
                    Reply(
                        f"{reference} is queued again and will be sent now. Whoever submitted it "
                        "will be told when the mail server has it; if it is refused again, you "
                        "will be told here.",
                        kind="outbox_retried",
                    )
                ]
            return [
                Reply(
                    f"No refused email has the reference {reference}. Type /outbox to see the "
                    "emails that can be sent again.",
                    kind="invalid",
                )
            ]
        if word:
            return [
                Reply(
                    "Type /outbox to list the emails the mail server refused, or /outbox retry "
                    "followed by a reference (like SIN-2026-0001) to send one again.",
                    kind="help",
                )
            ]
        refused = await ctx.storage.outbox.failed_emails(REFUSED_SHOWN)
        if not refused:
            return [
                Reply(
                    "No refused emails: everything queued has been sent or is still being tried.",
                    kind="outbox",
                )
            ]
        return [
            Reply(
                "\n".join(f"- {refused_line(item)}" for item in refused)
                + "\n\nFix the cause (the mail server's settings, an address), then send one "
                "again with /outbox retry REFERENCE.",
                kind="outbox",
                title=f"{counted(len(refused), 'email')} refused by the mail server, newest first",
                buttons=tuple(
                    Button(f"Retry {item.human_reference}", f"/outbox retry {item.human_reference}")
                    for item in refused[:RETRY_BUTTONS]
                ),
            )
        ]
