"""The Teams channel: activities in from the Bot Connector, through the core, replies out
through the Microsoft 365 Agents SDK's adapter.

A request to the messaging endpoint (bot/server.py) is checked (`accept`: the Bot Connector's
token, auth.py), stored through the channel's `Intake` (bot/channels/intake.py) and only then
acknowledged (202): a message Teams was told arrived is never lost. It is then handled once, in
order per chat: the SDK's adapter (`process_activity`) makes the turn's context with a
connector client for the activity's service URL, and `_turn` reads the message, keeps the
conversation's reference (for news later), shows the typing indicator, asks the core and sends
the replies. Once sent, the message is marked answered; replies kept but unsent when a process
died are sent again by the next pass (`resend`).

Personal chat first. In a group chat or a channel the bot answers only when @mentioned, and
never opens the notification form or sign-in there: it offers a personal chat instead.

News nobody asked for (a hand-off's answer, a notification's receipt) reaches a Teams chat
through `push`: the conversation's stored reference and the adapter's `continue_conversation`.
It raises when it cannot deliver, so the hand-off relay tries again at its next pass and the
outbox logs it, as for any channel.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable

from microsoft_agents.activity import Activity, ConversationReference
from microsoft_agents.hosting.core import ChannelServiceAdapter, ClaimsIdentity, TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.rest_channel_service_client_factory import (
    RestChannelServiceClientFactory,
)

from bot.assistant import Assistant
from bot.channels.intake import Intake
from bot.channels.teams.auth import AppToken, OneConnection, TokenCheck
from bot.channels.teams.render import (
    is_personal,
    personal_chat_link,
    read,
    to_activity,
    typing,
)
from bot.core.controls import split_command
from bot.core.conversation import sent_later
from bot.core.replies import Incoming, Link, Reply
from bot.ops.metrics import Metrics
from bot.storage import Arrival, Received

log = logging.getLogger(__name__)

CHANNEL = "teams"  # the channel's name in the store of incoming messages
CHAT_PREFIX = "teams:"
# The Bot Connector's channel id of Teams (the bot's other channels have their own).
TEAMS_CHANNEL_ID = "msteams"
# Commands for one person only: in a group chat or a channel, the bot offers a personal chat.
PERSONAL_ONLY = frozenset(("/notify", "/signin", "/signout", "/status"))
# The Bot Connector's audience for the bot's own calls.
CONNECTOR = "https://api.botframework.com"


def chat_key(conversation_id: str) -> str:
    return CHAT_PREFIX + conversation_id


class Refused(Exception):
    """A request the endpoint does not take: `status` says why (400, 401)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class TeamsAdapter(ChannelServiceAdapter):
    """The SDK's adapter for the Bot Connector's REST API. No `on_turn_error`: an error reaches
    the intake, which logs its type only and tries again (the SDK's default would send the
    exception's text, which could hold a person's words, to the chat)."""


class TeamsChannel:
    def __init__(self, assistant: Assistant, metrics: Metrics | None = None) -> None:
        settings = assistant.settings
        self.assistant = assistant
        self.settings = settings
        self.teams = settings.teams
        self.app_id = settings.endpoints.teams_app_id
        self.metrics = metrics or Metrics()
        self.check = TokenCheck(self.app_id, self.teams)
        certificate = self.teams.certificate_file
        self.token = AppToken(
            self.app_id,
            settings.teams_app_password,
            self.teams,
            settings.path(certificate) if certificate else None,
        )
        self.adapter = TeamsAdapter(RestChannelServiceClientFactory(OneConnection(self.token)))
        storage = assistant.storage
        self.intake = Intake(
            CHANNEL,
            storage.incoming,
            settings.incoming,
            self.handle,
            self.resend,
            single_process=storage.db.dialect == "sqlite",
        )

    # --- in ---------------------------------------------------------------------------------

    async def accept(self, claims: ClaimsIdentity, raw: bytes) -> list[Received]:
        """Store one request whose token `check` accepted (committed on return: the caller
        may answer 202); returns the messages not received before. Raises `Refused`."""
        try:
            body = json.loads(raw)
            activity = Activity.model_validate(body)
        except ValueError:
            raise Refused(400) from None
        if not activity.conversation or not activity.conversation.id or not activity.service_url:
            raise Refused(400)
        # A Bot Connector token names the service its request came from: the replies go there,
        # with the bot's own token. A token naming none (an Entra-issued one, which any app of
        # the tenant can get for the bot's app id) binds no address: refused, not trusted.
        claimed = claims.get_claim_value("serviceurl")
        if not claimed or claimed.rstrip("/") != activity.service_url.rstrip("/"):
            log.warning("Teams request refused: its service URL is not its token's")
            raise Refused(401)
        own = activity.id or hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()
        arrival = Arrival(
            f"{activity.conversation.id}|{own}",
            chat_key(activity.conversation.id),
            {"activity": body, "claims": claims.claims},
            original=activity,
        )
        return await self.intake.receive([arrival])

    async def handle(self, received: Received) -> None:
        """A stored activity, through the SDK's adapter to `_turn` (the intake's `handle`)."""
        if received.payload is None:
            return
        activity = received.original
        if not isinstance(activity, Activity):  # from the store: parsed again
            activity = Activity.model_validate(received.payload["activity"])
        claims = ClaimsIdentity(received.payload["claims"], authentication_type="Bearer")
        await self.adapter.process_activity(
            claims, activity, functools.partial(self._turn, received.key)
        )

    async def _turn(self, key: str, context: TurnContext) -> None:
        activity = context.activity
        said = read(activity)
        storage = self.assistant.storage
        if said is None:  # not for the conversation (a reaction, a group message not to us)
            await storage.incoming.settle(CHANNEL, key, time.time())
            return
        chat = chat_key(activity.conversation.id)
        reference = activity.get_conversation_reference().model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        await storage.teams.remember(chat, reference, time.time())
        if not is_personal(activity) and _command(said.text) in PERSONAL_ONLY:
            await context.send_activity(to_activity(self._personal_only()))
            await storage.incoming.settle(CHANNEL, key, time.time())
            return
        await context.send_activity(typing())
        verified = await self._verified_email(context) if _command(said.text) == "/notify" else None
        incoming = Incoming(
            chat,
            said.text,
            pressed=said.pressed,
            message_ref=activity.id,
            user_name=activity.from_property.name if activity.from_property else None,
            receipt=(CHANNEL, key),
            verified_email=verified,
        )
        started = time.perf_counter()
        replies = await self.assistant.conversation.handle(incoming)
        self.metrics.observe_turn(replies, time.perf_counter() - started)
        if replies:  # [] when it was handled before (and answered then, or by the next pass)
            await context.send_activities([to_activity(r) for r in replies])
            await self.intake.answered(key)

    def _personal_only(self) -> Reply:
        return Reply(
            "I take notifications and sign-in only in a personal chat, never in a group or a "
            "channel: open a chat with me and type /notify there.",
            kind="personal_only",
            links=(Link("Chat with me", personal_chat_link(self.app_id)),),
        )

    async def _verified_email(self, context: TurnContext) -> str | None:
        """The person's work address from their Teams (Entra ID) profile, when
        teams.entra_signin is on and this is a personal chat in Teams; else None. The bot's
        other channels (Web Chat, Direct Line) answer a look-up with whoever the sender said
        they were: only Teams' answer comes from Entra ID."""
        activity = context.activity
        if not self.teams.entra_signin or activity.channel_id != TEAMS_CHANNEL_ID:
            return None
        if not is_personal(activity):
            return None
        client = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
        person = activity.from_property
        if client is None or person is None or not person.id:
            return None
        try:
            member = await client.conversations.get_conversation_member(
                activity.conversation.id, person.id
            )
        except Exception as exc:  # no identity: sign-in by code, as for everyone else
            log.warning("Teams member not looked up: %s", type(exc).__name__)
            return None
        profile = member.model_dump(by_alias=True)
        address = profile.get("email") or profile.get("userPrincipalName")
        return address if isinstance(address, str) and "@" in address else None

    # --- out --------------------------------------------------------------------------------

    async def push(self, chat: str, replies: list[Reply]) -> None:
        """News nobody asked for, to a "teams:" chat (others ignored). Raises when it cannot
        be delivered (no reference kept, or the Bot Connector refused)."""
        if not chat.startswith(CHAT_PREFIX) or not replies:
            return
        stored = await self.assistant.storage.teams.reference(chat)
        if stored is None:
            raise LookupError("no conversation reference for this Teams chat")
        reference = ConversationReference.model_validate(stored)
        continuation = reference.get_continuation_activity()
        continuation.id = None  # a new message in the conversation, not a reply to one

        async def send(context: TurnContext) -> None:
            await context.send_activities([to_activity(r) for r in replies])

        await self.proactive(continuation, send)

    async def proactive(
        self, continuation: Activity, send: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        claims = ClaimsIdentity(
            {"aud": self.app_id, "appid": self.app_id}, authentication_type="Bearer"
        )
        await self.adapter.continue_conversation_with_claims(
            claims, continuation, send, audience=CONNECTOR
        )

    async def resend(self, received: Received) -> None:
        """Send the kept replies of a message handled by a process that died before sending
        them (the intake's `resend`)."""
        replies, _ = sent_later(received.replies or {})
        await self.push(received.chat, replies)

    # --- start and stop ---------------------------------------------------------------------

    def start(self) -> None:
        """Handle what an earlier run left, then what arrives."""
        self.intake.start()

    async def stop(self, grace: float) -> None:
        await self.intake.drain(grace)
        await self.intake.stop()


def _command(text: str) -> str:
    """The command `text` is, as the core reads it ("/Notify@Name" is /notify), or ""."""
    text = text.strip()
    return split_command(text)[0] if text.startswith("/") else ""
