"""Liaison Officer sign-in: a one-time code by email, the gate in front of /notify, /signout.

Only an address in the registry (the pack's liaison_officers.yaml) receives a code, but every
address gets the same answer, so no one can learn from the chat which addresses are registered. A
code is 6 digits, valid CODE_MINUTES, works once, and is stored only as a salted hash. MAX_FAILURES
wrong codes lock the chat out of sign-in for LOCKOUT_MINUTES; the count lives in the database, so
cancelling and starting again does not reset it. Logs name chats only: never an address or code.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.controls import Control, Said
from bot.core.conversation import Command, Context
from bot.core.flow import Turn, button_data
from bot.core.lifetimes import CODE_MINUTES, SIGNIN_FLOW
from bot.core.numbers import CODE_DIGITS, counted, typed_code
from bot.core.replies import Button, Reply
from bot.mail.message import OutgoingEmail, make_message_id, message_id_domain
from bot.storage import SigninCode, Storage
from bot.storage.records import RegistryInUse
from config.registry import Officer, Registry, RegistryChanged, is_email, normal_email
from config.settings import Settings
from handlers.notification.flow import FLOW_NAME as NOTIFY_FLOW
from handlers.safety import safety_line

log = logging.getLogger(__name__)

NAME = SIGNIN_FLOW
COMMAND = "/signin"
EMAIL, CODE = "email", "code"  # the steps: asking for the address, then for the code
MAX_FAILURES = 5
LOCKOUT_MINUTES = 15
# Codes one chat may ask for in an hour, whether the address is registered or not (the same
# limit for both, so it reveals nothing): stops the chat being used to flood someone's inbox.
MAX_CODE_REQUESTS_PER_HOUR = 5
CODE_REQUEST_EVENTS = ("code_sent", "code_refused_unregistered")

# Beside the control words every flow reads (bot/core/controls.py), sign-in takes these.
QUIT = frozenset(("quit",))
QUESTION_MARK = "?"  # help
# "/signin <action>", claimed by the flow while it runs. Earlier releases sent "/back" and
# "/cancel", which still work: the flow claims them too, and they can be typed.
CANCEL_BUTTON = Button("Cancel", button_data(COMMAND, "cancel"))
BUTTON_ACTIONS = frozenset(("back", "cancel", "help"))
STEP_BUTTONS = (Button("Back", button_data(COMMAND, "back")), CANCEL_BUTTON)

SIGNIN_INTRO = (
    "Sign in with the work email address the partnership has registered for you, and I'll "
    "email you a one-time code."
)
ASK_EMAIL = "What is your work email address?"
ASK_CODE = "Please type the code from the email, or back to ask for a new one."
EMAIL_HELP = (
    "Type the work email address the partnership has registered for you as your agency's Liaison "
    "Officer, like name@agency.org. I'll email a one-time code to it. Type cancel to stop."
)
CODE_HELP = (
    f"Type the {CODE_DIGITS}-digit code from the email I sent. It works once, for "
    f"{CODE_MINUTES} minutes. Type back to use another address or get a new code, or cancel to "
    "stop."
)

# Starts the notification form with the signed-in SLO's details for confirmation.
NotifyStart = Callable[[Context, dict[str, str]], Awaitable[list[Reply]]]


def hash_code(salt: str, code: str) -> str:
    """The stored form of a code: HMAC-SHA256 keyed with the code's own random salt."""
    return hmac.new(bytes.fromhex(salt), code.encode(), hashlib.sha256).hexdigest()


def prefill_of(officer: Officer) -> dict[str, str]:
    """The form answers the registry already knows, keyed by the form's field ids."""
    values = {"agency": officer.agency, "slo_name": officer.name, "slo_email": officer.email}
    if officer.phone:
        values["slo_phone"] = officer.phone
    return values


async def send_code(
    storage: Storage,
    settings: Settings,
    chat: str,
    email: str,
    now: float,
    registered: bool,
    where: str = "the chat",
) -> None:
    """Make a code and its email; store the hash and queue the email only if `registered`.
    The same work either way, so the time taken tells nothing (the chat's sign-in and the
    staff page's both come here)."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(16)
    stored = SigninCode(0, email, salt, hash_code(salt, code), now + CODE_MINUTES * 60, "active")
    await storage.signin.request_signin_code(
        chat, email, stored, code_email(settings, email, code, where), registered, now
    )


async def too_many_codes(storage: Storage, chat: str, now: float) -> bool:
    """Whether `chat` has asked for MAX_CODE_REQUESTS_PER_HOUR codes in the last hour."""
    requests = await storage.audit.count_audit(chat, CODE_REQUEST_EVENTS, now - 3600)
    return requests >= MAX_CODE_REQUESTS_PER_HOUR


async def locked_minutes(storage: Storage, chat: str, now: float) -> int:
    """Minutes left of `chat`'s sign-in lockout; 0 when it may sign in."""
    until = await storage.signin.signin_locked_until(chat)
    return math.ceil((until - now) / 60) if until is not None and until > now else 0


@dataclass(frozen=True)
class CodeChecked:
    """What a typed code turned out to be: the address it signs in (`email`), a code of the
    chat that no longer works (`problem`), or a wrong one (`tries_left`; 0: now locked out)."""

    email: str | None = None
    problem: str | None = None
    tries_left: int = 0


async def check_code(storage: Storage, chat: str, code: str, now: float) -> CodeChecked:
    """THE rule for a typed code: it works once, within CODE_MINUTES, only its newest; a wrong
    one counts, and MAX_FAILURES of them lock `chat` out for LOCKOUT_MINUTES."""
    for stored in await storage.signin.signin_codes(chat):
        if hmac.compare_digest(hash_code(stored.salt, code), stored.code_hash):
            if stored.state == "replaced":
                problem = "That code was replaced by a newer one: use the latest email."
            elif now >= stored.expires_at:
                problem = f"That code has expired: codes are valid for {CODE_MINUTES} minutes."
            elif stored.state == "used" or not await storage.signin.use_signin_code(stored.id):
                problem = "That code has already been used: each code works only once."
            else:
                return CodeChecked(email=stored.email)
            return CodeChecked(problem=problem)
    failures = await storage.signin.add_signin_failure(chat)
    await storage.audit.audit("code_failed", chat, at=now)
    if failures < MAX_FAILURES:
        return CodeChecked(tries_left=MAX_FAILURES - failures)
    await storage.signin.lock_signin(chat, now + LOCKOUT_MINUTES * 60)
    await storage.signin.retire_signin_codes(chat)
    await storage.audit.audit("locked_out", chat, at=now)
    log.warning("chat %s locked out of sign-in after %d wrong codes", chat, failures)
    return CodeChecked()


class Access:
    """Who may do what: the registry in use, and the clock (tests replace it to move time)."""

    def __init__(self, registry: Registry, clock: Callable[[], float] = time.time) -> None:
        self.registry = registry
        self.clock = clock

    async def signed_in_as(self, ctx: Context) -> str | None:
        """The registered address the chat is signed in with, or None."""
        email = await ctx.storage.signin.linked_email(ctx.chat)
        # A link to an address removed from the registry is stale until the next reload: deny.
        return email if email is not None and self.registry.knows(email) else None

    async def officer(self, ctx: Context) -> Officer | None:
        email = await self.signed_in_as(ctx)
        return self.registry.officer(email) if email else None

    async def by_verified_identity(self, ctx: Context) -> Officer | None:
        """Sign in a registered SLO whose channel vouches for their address (Teams' Entra ID
        identity, when teams.entra_signin is on): that stands for the emailed code. Only an
        officer: an administrator still signs in by code. None if it does not apply."""
        address = normal_email(ctx.incoming.verified_email or "")
        officer = self.registry.officer(address) if address else None
        if officer is None:
            return None
        now = self.clock()
        await ctx.storage.signin.link_chat(ctx.chat, address, now)
        await ctx.storage.signin.clear_signin_failures(ctx.chat)
        await ctx.storage.audit.audit("signed_in_by_identity", ctx.chat, who=address, at=now)
        log.info("chat %s signed in by its verified identity", ctx.chat)
        return officer

    async def is_admin(self, ctx: Context) -> bool:
        email = await self.signed_in_as(ctx)
        return email is not None and self.registry.is_admin(email)

    async def admin_chats(self, storage: Storage) -> list[str]:
        """The chats signed in with an administrator's address (told of refused emails)."""
        return [
            chat
            for chat, email in await storage.signin.linked_chats()
            if self.registry.is_admin(email)
        ]

    async def locked_minutes(self, ctx: Context) -> int:
        """Minutes left of the chat's sign-in lockout; 0 when it may sign in."""
        return await locked_minutes(ctx.storage, ctx.chat, self.clock())

    async def staff_code(
        self, storage: Storage, settings: Settings, chat: str, email: str
    ) -> str | None:
        """The staff page's sign-in: email a code to `email` if it is on the partnership's
        staff, by the chat's rules (lockout, codes an hour, the same work for any address).
        Returns what stops it (said the same whatever the address), or None: "if the address
        is on the staff, a code is on its way"."""
        now = self.clock()
        minutes = await locked_minutes(storage, chat, now)
        if minutes:
            return (
                f"Sign-in is locked for another {counted(minutes, 'minute')}, after too many "
                f"wrong codes. If you need help, contact {settings.partnership_email}."
            )
        if await too_many_codes(storage, chat, now):
            return (
                "Several codes have been asked for in the last hour, so no other can be sent "
                "just now. Use the newest code you received, or try again later."
            )
        email = normal_email(email)
        staff = self.registry.is_staff(email)
        await send_code(storage, settings, chat, email, now, staff, where="the staff page")
        log.info("staff page: sign-in code requested")
        return None

    async def staff_signin(
        self, storage: Storage, chat: str, code: str
    ) -> tuple[str | None, str | None]:
        """(the staff address signed in, None) or (None, what to tell the person)."""
        now = self.clock()
        if await locked_minutes(storage, chat, now):
            return None, "Sign-in is locked for now, after too many wrong codes."
        checked = await check_code(storage, chat, "".join(code.split()), now)
        if checked.email is not None and self.registry.is_staff(checked.email):
            await storage.signin.clear_signin_failures(chat)
            await storage.audit.audit("staff_signed_in", chat, who=checked.email, at=now)
            return checked.email, None
        if checked.email is not None:  # removed from the staff since the code was sent
            return None, "This address is no longer on the partnership's staff."
        if checked.problem is not None:
            return None, f"{checked.problem} Ask for a new code."
        if checked.tries_left:
            left = checked.tries_left
            return None, f"That code is not right. {left} tr{'y' if left == 1 else 'ies'} left."
        return None, (
            f"That code is not right, and that was the {MAX_FAILURES}th wrong code: sign-in "
            f"is locked for {LOCKOUT_MINUTES} minutes."
        )

    async def start_with(self, registry: Registry, storage: Storage, path: object) -> None:
        """At start: `registry` (read from `path`) must be the registry in use on this
        database. A database that records none records it; one that records another makes the
        process refuse to start (RegistryChanged), signing nobody out. The registry changes
        only deliberately: /reload, or `python main.py registry apply`."""
        self.registry = registry
        in_use = await storage.signin.registry_in_use()
        if in_use is None:
            await storage.signin.record_registry(self._record(registry, "the first start"))
            return
        if in_use.fingerprint == registry.fingerprint():
            return
        since = time.strftime("%d %b %Y %H:%M", time.localtime(in_use.adopted_at))
        raise RegistryChanged(
            f"The registry of liaison officers in {path} is not the one in use on this "
            f"database: that one ({counted(in_use.officers, 'liaison officer')}, "
            f"{counted(in_use.administrators, 'administrator')}) was put in use on {since} by "
            f"{in_use.adopted_by}; the file lists "
            f"{counted(len(registry.officers), 'liaison officer')} and "
            f"{counted(len(registry.administrators), 'administrator')}. Nobody has been "
            "signed out. To put the file's registry in use (the chats whose address it no "
            "longer lists are signed out), run `python main.py registry apply`, or type /reload "
            "in a running assistant as an administrator; to keep the one in use, put the file "
            "back as it was."
        )

    def _record(self, registry: Registry, who: str) -> RegistryInUse:
        return RegistryInUse(
            registry.fingerprint(),
            len(registry.officers),
            len(registry.administrators),
            self.clock(),
            who,
        )

    async def use_registry(
        self, registry: Registry, storage: Storage, who: str = "the command line"
    ) -> list[str]:
        """Put `registry` in use, deliberately (/reload, `main.py registry apply`): sign out
        the chats whose address it no longer lists, delete the drafts of chats whose address
        is still registered but no longer as an SLO, and record it as the registry in use on
        the database, all in one transaction; the counts are logged. Returns the chats signed
        out."""
        signed_out: list[str] = []
        drafts = 0
        async with storage.db.transaction():
            for chat, email in await storage.signin.linked_chats():
                if not registry.knows(email):
                    await storage.signin.unlink_chat(chat)
                    await storage.audit.audit(
                        "signed_out_removed", chat, who=email, at=self.clock()
                    )
                    log.info("chat %s signed out: address no longer registered", chat)
                    signed_out.append(chat)
                if registry.officer(email) is None and await storage.sessions.clear_flow(
                    chat, NOTIFY_FLOW
                ):
                    log.info("chat %s: notification draft deleted (no longer an SLO)", chat)
                    drafts += 1
            await storage.signin.record_registry(self._record(registry, who))
        self.registry = registry
        log.info(
            "registry put in use by %s: %s, %s; %s signed out, %s deleted",
            who,
            counted(len(registry.officers), "liaison officer"),
            counted(len(registry.administrators), "administrator"),
            counted(len(signed_out), "chat"),
            counted(drafts, "draft"),
        )
        return signed_out


def lockout_reply(ctx: Context, minutes: int) -> Reply:
    return Reply(
        f"Sign-in is locked for this chat for another {counted(minutes, 'minute')}, after too "
        "many wrong "
        "codes. You can still ask me questions meanwhile. If you need help, contact the "
        "partnership at "
        f"{ctx.settings.partnership_email}.",
        kind="signin_locked",
    )


def _asks_help(said: Said) -> bool:
    return said.control == Control.HELP or said.word == QUESTION_MARK


class SignInFlow:
    """Ask for the work email, send a code, check the code.

        /signin or /notify ──> email ──a registered or unregistered address──> code
        code ──the right code──> (ends: signed in; /notify's form starts)
        code ──back──> email           any step ──cancel, or a lockout──> (ends)

    `self.steps` names the handler of each step; each returns a `Turn`, which the core applies
    (a turn that hands the chat to the form leaves it there). `session.data["then"]` is "notify"
    when sign-in was started by /notify, so the form starts as soon as the SLO is signed in.
    """

    name = NAME
    title = "a sign-in"
    command = COMMAND
    commands = frozenset((COMMAND, "/back", "/cancel", "/help"))

    def __init__(self, access: Access) -> None:
        self.access = access
        self.steps = {EMAIL: self.on_email, CODE: self.on_code}

    async def start(self, ctx: Context, then: str | None, intro: str) -> list[Reply]:
        """Enter the flow: explain, and ask for the work email."""
        return ctx.apply(NAME, await self.begin(ctx, then, intro))

    async def begin(self, ctx: Context, then: str | None, intro: str) -> Turn:
        minutes = await self.access.locked_minutes(ctx)
        if minutes:
            return Turn([lockout_reply(ctx, minutes)], None)
        ctx.session.data = {"then": then}
        ask = Reply(f"{intro}\n\n{ASK_EMAIL}", kind="signin_email", buttons=(CANCEL_BUTTON,))
        return Turn([ask], EMAIL)

    async def current(self, ctx: Context) -> list[Reply]:
        """The step asked again (for `Conversation.in_progress`)."""
        return await self.resume(ctx)

    async def resume(self, ctx: Context) -> list[Reply]:
        """After the safety route (a live concern typed mid-sign-in): the step asked again.
        Having it makes the core screen what is typed here (bot/core/conversation.py, Resumable)."""
        ask = ASK_CODE if ctx.session.step == CODE else ASK_EMAIL
        kind = "signin_code" if ctx.session.step == CODE else "signin_email"
        return [Reply(f"Your sign-in is still open. {ask}", kind=kind, buttons=(CANCEL_BUTTON,))]

    async def handle(self, ctx: Context, said: Said) -> Turn:
        # Everything typed here is an address or a code: private (handlers/privacy.py).
        step = ctx.session.step or EMAIL
        if said.pressed == ("", ""):  # /signin typed again: start over, as the command does
            return await self.begin(ctx, None, SIGNIN_INTRO)
        back = said.control == Control.BACK
        if said.control == Control.CANCEL or said.word in QUIT or (back and step != CODE):
            stopped = "Sign-in stopped. Ask me anything, or type /notify or /signin to start again."
            return Turn([Reply(stopped, kind="cancelled")], None)
        minutes = await self.access.locked_minutes(ctx)
        if minutes:
            return Turn([lockout_reply(ctx, minutes)], None)
        if back:
            return Turn([Reply(ASK_EMAIL, kind="signin_email", buttons=(CANCEL_BUTTON,))], EMAIL)
        handler = self.steps.get(step, self.on_email)
        return await handler(ctx, said)

    async def on_email(self, ctx: Context, said: Said) -> Turn:
        """Send a code if the address is registered, and ask for the code either way."""
        if _asks_help(said):
            return Turn([Reply(EMAIL_HELP, kind="help", buttons=(CANCEL_BUTTON,))], EMAIL)
        text = address = said.answer
        if not is_email(address):
            answer = await ctx.answer_question(text)
            if answer is not None:
                again = Reply(f"To carry on signing in: {ASK_EMAIL}", kind="signin_email")
                return Turn([*answer, again], EMAIL)
            reply = Reply(
                "That doesn't look like an email address: it needs an @ and a domain, like "
                f"name@agency.org. {ASK_EMAIL} Or type cancel to stop.",
                kind="invalid",
                buttons=(CANCEL_BUTTON,),
            )
            return Turn([reply], EMAIL)
        email = normal_email(address)
        now = self.access.clock()
        if await too_many_codes(ctx.storage, ctx.chat, now):
            log.info("chat %s: too many sign-in code requests", ctx.chat)
            reply = Reply(
                "You've asked for several codes in the last hour, so I can't send another "
                "one just now. Please use the newest code you received, try again later, or "
                f"contact the board at {ctx.settings.partnership_email}.",
                kind="too_many_codes",
                buttons=STEP_BUTTONS,
            )
            return Turn([reply], EMAIL)
        # The same work for every address (only the registry's answer differs), so the reply
        # takes as long whether or not the address is registered.
        await self.send_code(ctx, email, now, self.access.registry.knows(email))
        log.info("chat %s: sign-in code requested", ctx.chat)
        settings = ctx.settings
        folder = ""
        if not settings.smtp.host:  # a demo or the console: say where emails go, for any address
            folder = (
                "\n\nNo mail server is set up here, so emails are written as files to the folder "
                f"{settings.path(settings.mail.outbox_dir)}."
            )
        reply = Reply(
            f"If {email} is registered with the partnership, a {CODE_DIGITS}-digit code has "
            "been "
            f"sent to it. It is valid for {CODE_MINUTES} minutes. Please type the code here."
            "\n\nNo email after a few minutes? Check your junk folder, type back to correct "
            f"the address, or contact the board at {settings.partnership_email}.{folder}",
            kind="signin_code",
            buttons=STEP_BUTTONS,
        )
        return Turn([reply], CODE)

    async def send_code(self, ctx: Context, email: str, now: float, registered: bool) -> None:
        await send_code(ctx.storage, ctx.settings, ctx.chat, email, now, registered)
        ctx.conversation.wake_outbox()

    async def on_code(self, ctx: Context, said: Said) -> Turn:
        """Check the code: sign in, or count a failure (and lock out after MAX_FAILURES)."""
        if _asks_help(said):
            return Turn([Reply(CODE_HELP, kind="help", buttons=STEP_BUTTONS)], CODE)
        text = said.answer
        code = typed_code(text)
        if code is None:
            answer = await ctx.answer_question(text)
            if answer is not None:
                again = Reply(f"To carry on signing in: {ASK_CODE}", kind="signin_code")
                return Turn([*answer, again], CODE)
            reply = Reply(
                f"A code is {CODE_DIGITS} digits, like 123456. {ASK_CODE}",
                kind="invalid",
                buttons=STEP_BUTTONS,
            )
            return Turn([reply], CODE)
        checked = await check_code(ctx.storage, ctx.chat, code, self.access.clock())
        if checked.email is not None:
            return await self.signed_in(ctx, checked.email, self.access.clock())
        if checked.problem is not None:
            reply = Reply(
                f"{checked.problem} Type back to ask for a new code.",
                kind="invalid",
                buttons=STEP_BUTTONS,
            )
            return Turn([reply], CODE)
        if checked.tries_left:
            left = checked.tries_left
            reply = Reply(
                f"That code is not right. {left} tr{'y' if left == 1 else 'ies'} left. Check "
                "the latest email, or type back to ask for a new code.",
                kind="wrong_code",
                buttons=STEP_BUTTONS,
            )
            return Turn([reply], CODE)
        reply = Reply(
            f"That code is not right, and that was the {MAX_FAILURES}th wrong code. To keep "
            f"notifications safe, sign-in is locked for this chat for {LOCKOUT_MINUTES} "
            "minutes. You can still ask me questions. If you need help, contact the "
            "partnership at "
            f"{ctx.settings.partnership_email}.",
            kind="signin_locked",
        )
        return Turn([reply], None)

    async def signed_in(self, ctx: Context, email: str, now: float) -> Turn:
        """Link the chat to the address, then carry on where sign-in was started from."""
        then = ctx.session.data.get("then")
        ctx.session.reset()
        registry = self.access.registry
        if not registry.knows(email):  # removed from the registry since the code was sent
            reply = Reply(
                "This address is no longer registered, so I can't sign you in. Please "
                f"contact the board at {ctx.settings.partnership_email}.",
                kind="invalid",
            )
            return Turn([reply], None)
        await ctx.storage.signin.link_chat(ctx.chat, email, now)
        await ctx.storage.signin.clear_signin_failures(ctx.chat)
        await ctx.storage.audit.audit("signed_in", ctx.chat, who=email, at=now)
        log.info("chat %s signed in", ctx.chat)
        reply = Reply(f"Thank you, you're signed in {who(registry, email)}.", kind="signed_in")
        if then == "notify":
            return Turn([reply, *await ctx.run_command("/notify")], None)
        reply = Reply(
            f"{reply.text} Type /signout when you have finished.",
            kind="signed_in",
        )
        return Turn([reply], None)


def who(registry: Registry, email: str) -> str:
    """'as Sam Sample, Liaison Officer for X' / 'as a partnership administrator'."""
    officer = registry.officer(email)
    roles = []
    if officer is not None:
        roles.append(f"as {officer.name}, Liaison Officer for {officer.agency}")
    if registry.is_admin(email):
        roles.append(f"as a partnership administrator ({email})")
    elif registry.is_staff(email):
        roles.append(f"as a member of the partnership's staff ({email})")
    return " and ".join(roles)


def code_email(settings: Settings, email: str, code: str, where: str = "the chat") -> OutgoingEmail:
    board, contact = settings.board, settings.partnership_email
    return OutgoingEmail(
        to=(email,),
        subject=f"Your sign-in code for the {board.short_name} assistant",
        text=(
            f"Your one-time sign-in code is:\n\n    {code}\n\n"
            f"Type it in {where} where you asked for it. It is valid for {CODE_MINUTES} minutes "
            "and works once.\n\n"
            "If you did not ask for a code, you can ignore this email: no one can sign in "
            f"without it. Questions? Contact the partnership at {contact}.\n\n"
            f"{board.name}\n"
        ),
        html=None,
        message_id=make_message_id("signin", message_id_domain(settings.mail)),
    )


class SignIn:
    """The commands around the flow: /signin, /signout, and the gate in front of /notify."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self.flow = SignInFlow(access)

    async def signin(self, ctx: Context, arg: str) -> list[Reply]:
        """/signin: start sign-in (for administrators, or an SLO before /notify)."""
        if arg.strip().lower() in BUTTON_ACTIONS:  # a button of a sign-in that has ended
            return [
                Reply(
                    "That button belongs to a sign-in that is no longer open. Type /signin to "
                    "sign in, or /notify to start a notification.",
                    kind="signin_closed",
                )
            ]
        email = await self.access.signed_in_as(ctx)
        if email is not None:
            return [
                Reply(
                    f"You're already signed in {who(self.access.registry, email)}. Type /signout "
                    "to sign out.",
                    kind="signed_in",
                )
            ]
        return await self.flow.start(ctx, None, SIGNIN_INTRO)

    async def signout(self, ctx: Context, arg: str) -> list[Reply]:
        """/signout: unlink the chat, and drop an unfinished notification draft with it."""
        email = await ctx.storage.signin.unlink_chat(ctx.chat)
        if email is None:
            return [Reply("You're not signed in.", kind="signed_out")]
        await ctx.storage.audit.audit("signed_out", ctx.chat, who=email, at=self.access.clock())
        log.info("chat %s signed out", ctx.chat)
        draft = ""
        if ctx.session.flow == NOTIFY_FLOW:
            ctx.session.reset()
            draft = " Your unfinished notification was deleted."
        return [
            Reply(
                f"You're signed out.{draft} Type /notify or /signin to sign in again.",
                kind="signed_out",
            )
        ]

    def gate(self, start: NotifyStart) -> Command:
        """/notify for signed-in SLOs only; anyone else is told why, and offered sign-in."""

        async def notify(ctx: Context, arg: str) -> list[Reply]:
            officer = await self.access.officer(ctx)
            if officer is None and await self.access.signed_in_as(ctx) is None:
                officer = await self.access.by_verified_identity(ctx)
            if officer is not None:
                return await start(ctx, prefill_of(officer))
            if await self.access.signed_in_as(ctx) is not None:
                return [
                    Reply(
                        "You're signed in as a partnership administrator. Only an agency's "
                        "registered "
                        "Liaison Officer (SLO) can submit a notification. Type /signout first if "
                        "you want to sign in with another address.",
                        kind="not_allowed",
                    )
                ]
            return await self.flow.start(
                ctx,
                "notify",
                "This is the partnership's learning notification for liaison officers: it does "
                "not replace an urgent referral. " + safety_line(ctx.settings) + "\n\n"
                "Only an agency's registered Liaison Officer (SLO) can submit a significant "
                "incident notification. If that's you, please sign in first: I'll email a "
                "one-time code to your work address. (Anyone can ask me questions without "
                "signing in.)",
            )

        return notify
