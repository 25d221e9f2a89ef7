"""The staff page's routes on bot/server.py's app (docs/staff.md), server-rendered, no script.

    GET  /staff                          the overview: the charts of use
    GET  /staff/signin, POST /staff/signin, POST /staff/code, POST /staff/signout
    GET  /staff/notifications            reference, agency, date, delivery state
    GET  /staff/notifications/<ref>      one in full (audited); .../<ref>.docx its Word copy
    POST /staff/notifications/<ref>/retry   "Send again": what `main.py outbox retry` does
    GET  /staff/outbox                   every email refused; POST /staff/outbox/<ref>/retry
    GET  /staff/handoffs                 open and answered; POST /staff/handoffs/<ref>/answer
    GET  /staff/unanswered               grouped; POST /staff/unanswered/suggest
    GET  /staff/suggestions.yaml         the suggestions as a patch of topics.yaml (audited)
    GET  /staff/audit                    the audit trail (administrators)

Every page but sign-in needs a session (guard.py); every POST its CSRF token. What staff do
(sign in and out, view, download, send again, answer, suggest, export) is audited: who, when,
what.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.assistant import Assistant
from bot.channels.email.handoffs import HandoffDesk
from bot.channels.staff import entra, guard
from bot.channels.staff.entra import EntraSignIn, Refused
from bot.channels.staff.entra import configured as entra_configured
from bot.channels.staff.guard import HEADERS, Form, StaffGuard, read_form
from bot.channels.staff.improve import group_questions, suggestions_yaml
from bot.channels.staff.use import charts
from bot.core.lifetimes import CODE_MINUTES
from bot.core.numbers import CODE_DIGITS, typed_code
from bot.core.replies import Reply
from bot.mail.handoff import channel_name
from bot.mail.message import CONTROL_CHARACTERS
from bot.mail.outbox import KIND_NAMES
from bot.storage.staff import NotificationInFull, StaffSession
from config.registry import is_email, normal_email

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC = {"staff.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml"}
UNANSWERED_SHOWN = 200
REFUSED_SHOWN = 100
AUDIT_SHOWN = 200
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
STATES = {"failed": "refused", "retrying": "being retried", "queued": "queued", "sent": "sent"}
UNSENDABLE = (
    "That answer has an invisible control character that cannot be sent. Please type it "
    "again, or paste it as plain text."
)
FORGED = (
    "This form did not come from your staff page, or it has expired. Go back, reload the "
    "page and try again."
)


def ours(reference: str) -> bool:
    """Whether a reference from the address could be one of ours: none has a control
    character (and PostgreSQL cannot even compare a NUL), so such a one is not looked up."""
    return reference.isprintable()


def when(timestamp: float | None) -> str:
    return time.strftime("%d %b %Y %H:%M", time.localtime(timestamp)) if timestamp else ""


class Signed:
    """The member of staff a request comes from."""

    def __init__(self, session: StaffSession, token_hash: str, name: str, admin: bool) -> None:
        self.email = session.email
        self.csrf = session.csrf
        self.token_hash = token_hash
        self.name = name or session.email
        self.admin = admin


# A page's handler, given who is signed in; a POST's, given the checked form too.
Viewed = Callable[[Request, Signed], Awaitable[Response]]
Posted = Callable[[Request, Signed, Form], Awaitable[Response]]


class StaffRoutes:
    def __init__(self, assistant: Assistant, root: str = guard.ROOT) -> None:
        self.assistant = assistant
        self.root = root
        self.guard = StaffGuard(assistant.settings.web)
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["when"] = when
        self.templates.filters["channel"] = channel_name
        self.files = {name: (HERE / "static" / name).read_bytes() for name in STATIC}
        settings = assistant.settings
        self.entra = (
            EntraSignIn(settings.staff, settings.oauth_client_secret, root)
            if entra_configured(settings.staff)
            else None
        )

    def routes(self) -> list[BaseRoute]:
        r = self.root
        return [
            self.viewed(r, self.overview),
            Route(f"{r}/static/{{name}}", self.static),
            Route(f"{r}/signin", self.signin_page),
            Route(f"{r}/signin", self.signin, methods=["POST"]),
            Route(f"{r}/code", self.code, methods=["POST"]),
            self.posted(f"{r}/signout", self.signout),
            Route(f"{r}/oidc/start", self.entra_start),
            Route(f"{r}/oidc/callback", self.entra_callback),
            self.viewed(f"{r}/notifications", self.notifications),
            self.viewed(f"{r}/notifications/{{reference}}.docx", self.docx),
            self.viewed(f"{r}/notifications/{{reference}}", self.notification),
            self.posted(f"{r}/notifications/{{reference}}/retry", self.retry),
            self.viewed(f"{r}/outbox", self.outbox),
            self.posted(f"{r}/outbox/{{reference}}/retry", self.retry_email),
            self.viewed(f"{r}/handoffs", self.handoffs),
            self.posted(f"{r}/handoffs/{{reference}}/answer", self.answer),
            self.viewed(f"{r}/unanswered", self.unanswered),
            self.posted(f"{r}/unanswered/suggest", self.suggest),
            self.viewed(f"{r}/suggestions.yaml", self.export),
            self.viewed(f"{r}/audit", self.audit_trail),
        ]

    @property
    def storage(self) -> Any:
        return self.assistant.storage

    def clock(self) -> float:
        return self.assistant.access.clock()

    # --- rendering ------------------------------------------------------------------------

    def page(
        self, template: str, status: int = 200, cookies: tuple[str, ...] = (), **values: Any
    ) -> Response:
        settings = self.assistant.settings
        board = settings.board
        body = self.templates.get_template(template).render(
            board=board.short_name or board.name, partnership=board.name, root=self.root, **values
        )
        response = Response(body, status_code=status, media_type="text/html; charset=utf-8")
        for name, value in HEADERS.items():
            response.headers[name] = value
        for each in cookies:
            response.headers.append("Set-Cookie", each)
        return response

    def go(self, path: str, cookies: tuple[str, ...] = ()) -> Response:
        response = RedirectResponse(f"{self.root}{path}", status_code=303)
        for name, value in HEADERS.items():
            response.headers[name] = value
        for each in cookies:
            response.headers.append("Set-Cookie", each)
        return response

    def refused(self, message: str = FORGED, status: int = 403) -> Response:
        return self.page("refused.html", status=status, message=message)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(
            self.files[name],
            media_type=STATIC[name],
            headers={"Content-Security-Policy": "default-src 'none'", "Cache-Control": "no-cache"},
        )

    # --- who is asking --------------------------------------------------------------------

    async def signed(self, request: Request) -> Signed | None:
        token = request.cookies.get(guard.SESSION_COOKIE, "")
        if not token:
            return None
        key = guard.token_hash(token)
        session = await self.storage.staff.session(key, self.clock())
        if session is None:
            return None
        registry = self.assistant.access.registry
        member = registry.member(session.email)
        if member is None:  # no longer on the staff: the session ends now
            await self.storage.staff.end_session(key)
            return None
        return Signed(session, key, member.name, member.role == "admin")

    async def form(self, request: Request, signed: Signed) -> Form | None:
        """The posted form, if its CSRF token is the session's and it came from our page."""
        form = await read_form(request)
        if (
            form is None
            or not self.guard.same_origin(request)
            or not guard.same(form.get("csrf"), signed.csrf)
        ):
            log.warning("staff page: a POST without its CSRF token was refused")
            return None
        return form

    async def audit(self, event: str, signed: Signed, reference: str | None = None) -> None:
        await self.storage.audit.audit(
            event, "staff-page", who=signed.email, reference=reference, at=self.clock()
        )

    def to_signin(self) -> Response:
        return self.go("/signin")

    # Every page but sign-in needs a session, and every POST its CSRF token too: the route
    # table (`routes`) makes each such route with one of these, so no handler can forget
    # either check.

    def viewed(self, path: str, handler: Viewed) -> Route:
        async def endpoint(request: Request) -> Response:
            signed = await self.signed(request)
            return self.to_signin() if signed is None else await handler(request, signed)

        return Route(path, endpoint)

    def posted(self, path: str, handler: Posted) -> Route:
        async def endpoint(request: Request) -> Response:
            signed = await self.signed(request)
            if signed is None:
                return self.to_signin()
            form = await self.form(request, signed)
            return self.refused() if form is None else await handler(request, signed, form)

        return Route(path, endpoint, methods=["POST"])

    # --- sign-in --------------------------------------------------------------------------

    def signin_form(
        self,
        request: Request,
        template: str = "signin.html",
        status: int = 200,
        **values: Any,
    ) -> Response:
        pre = request.cookies.get(guard.PRE_COOKIE, "")
        cookies: tuple[str, ...] = ()
        if len(pre) != 43:
            pre = guard.new_token()
            cookies = (guard.cookie(guard.PRE_COOKIE, pre, guard.PRE_SECONDS, self.root),)
        return self.page(
            template,
            status=status,
            cookies=cookies,
            csrf=pre,
            minutes=CODE_MINUTES,
            digits=CODE_DIGITS,
            entra=self.entra is not None,
            **values,
        )

    async def signin_page(self, request: Request) -> Response:
        if await self.signed(request) is not None:
            return self.go("")
        message = "You're signed out." if request.query_params.get("out") else None
        return self.signin_form(request, message=message)

    async def pre_form(self, request: Request) -> Form | None:
        form = await read_form(request)
        expected = request.cookies.get(guard.PRE_COOKIE, "")
        if (
            form is None
            or not self.guard.same_origin(request)
            or not guard.same(form.get("csrf"), expected)
        ):
            log.warning("staff page: a sign-in form without its CSRF token was refused")
            return None
        return form

    async def signin(self, request: Request) -> Response:
        form = await self.pre_form(request)
        if form is None:
            return self.refused()
        if not self.guard.may_try(request):
            return self.signin_form(
                request, status=429, problem="Too many tries from your network. Wait a minute."
            )
        email = str(form.get("email") or "").strip()
        if not is_email(email):
            return self.signin_form(
                request,
                status=422,
                email=email,
                problem="That doesn't look like an email address: it needs an @ and a domain, "
                "like name@partnership.org.",
            )
        settings = self.assistant.settings
        stopped = await self.assistant.access.staff_code(
            self.storage, settings, guard.signin_key(email), email
        )
        self.assistant.outbox.wake()
        if stopped is not None:
            return self.signin_form(request, status=429, email=email, problem=stopped)
        return self.signin_form(request, "code.html", email=email)

    async def code(self, request: Request) -> Response:
        form = await self.pre_form(request)
        if form is None:
            return self.refused()
        email = str(form.get("email") or "").strip()
        code = str(form.get("code") or "")
        if not self.guard.may_try(request) or not is_email(email):
            return self.signin_form(request, status=429, problem="Please start again.")
        digits = typed_code(code)
        if digits is None:
            return self.signin_form(
                request,
                "code.html",
                status=422,
                email=email,
                problem=f"A code is {CODE_DIGITS} digits, like 123456.",
            )
        address, problem = await self.assistant.access.staff_signin(
            self.storage, guard.signin_key(email), digits
        )
        if address is None:
            return self.signin_form(request, "code.html", status=422, email=email, problem=problem)
        return self.go("", cookies=await self.session_cookies(address))

    async def session_cookies(self, address: str) -> tuple[str, ...]:
        """Start a session for `address` (signed in): the cookies that carry it."""
        token, now = guard.new_token(), self.clock()
        expires = now + guard.SESSION_HOURS * 3600
        await self.storage.staff.start_session(
            guard.token_hash(token), address, guard.new_token(), now, expires
        )
        log.info("staff page: signed in")
        return (
            guard.cookie(guard.SESSION_COOKIE, token, round(guard.SESSION_HOURS * 3600), self.root),
            guard.cookie(guard.PRE_COOKIE, "", 0, self.root),
        )

    async def entra_start(self, request: Request) -> Response:
        if self.entra is None:
            return PlainTextResponse("Not Found", status_code=404)
        try:
            url, remembered = await self.entra.start()
        except (Refused, aiohttp.ClientError, TimeoutError, KeyError) as exc:
            log.warning("staff page: Entra ID unavailable: %s", type(exc).__name__)
            return self.signin_form(
                request, status=503, problem="Microsoft's sign-in service did not answer."
            )
        response = RedirectResponse(url, status_code=303)
        response.headers["Cache-Control"] = "no-store"
        response.headers.append(
            "Set-Cookie",
            f"{entra.COOKIE}={remembered}; Path={self.root}/oidc; Max-Age={entra.COOKIE_SECONDS};"
            " Secure; HttpOnly; SameSite=Lax",
        )
        return response

    async def entra_callback(self, request: Request) -> Response:
        """Entra sends the browser back here: check its answer, then sign in a staff address."""
        if self.entra is None:
            return PlainTextResponse("Not Found", status_code=404)
        forget = (
            f"{entra.COOKIE}=; Path={self.root}/oidc; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
        )
        try:
            address = await self.entra.finish(
                dict(request.query_params), request.cookies.get(entra.COOKIE, "")
            )
        except (aiohttp.ClientError, TimeoutError, KeyError) as exc:
            log.warning("staff page: Entra ID sign-in failed: %s", type(exc).__name__)
            address, problem = "", "Microsoft's sign-in service did not answer."
        except Refused as exc:
            address, problem = "", str(exc)
        else:
            problem = "That Microsoft account is not on the partnership's staff."
        registry = self.assistant.access.registry
        if not address or not registry.is_staff(address):
            await self.storage.audit.audit("staff_entra_refused", "staff:entra", at=self.clock())
            response = self.signin_form(request, status=403, problem=problem)
            response.headers.append("Set-Cookie", forget)
            return response
        email = normal_email(address)
        await self.storage.audit.audit("staff_signed_in", "staff:entra", who=email, at=self.clock())
        # A page, not a redirect: cookies SameSite=Strict are not sent on the rest of a
        # redirect chain that began at Entra's site, so the browser goes on from here.
        response = self.page("welcome.html", cookies=await self.session_cookies(email))
        response.headers.append("Set-Cookie", forget)
        return response

    async def signout(self, request: Request, signed: Signed, form: Form) -> Response:
        await self.storage.staff.end_session(signed.token_hash)
        await self.audit("staff_signed_out", signed)
        return self.go(
            "/signin?out=1", cookies=(guard.cookie(guard.SESSION_COOKIE, "", 0, self.root),)
        )

    # --- pages ----------------------------------------------------------------------------

    async def overview(self, request: Request, signed: Signed) -> Response:
        # This process's latest counts first (the others add theirs within a minute).
        await self.assistant.conversation.usage.flush(self.storage)
        drawn = await charts(self.storage, self.assistant.knowledge, time.time())
        return self.page("overview.html", signed=signed, here="overview", charts=drawn)

    async def notifications(self, request: Request, signed: Signed) -> Response:
        rows = await self.storage.staff.notifications()
        return self.page(
            "notifications.html", signed=signed, here="notifications", rows=rows, states=STATES
        )

    async def notification(self, request: Request, signed: Signed) -> Response:
        reference = request.path_params["reference"]
        found = await self.notification_of(reference)
        if found is None:
            return self.page("missing.html", status=404, signed=signed, what=reference)
        await self.audit("staff_viewed", signed, reference)
        docx = next((a for a in found.email.attachments if a.content_type == DOCX), None)
        return self.page(
            "notification.html",
            signed=signed,
            here="notifications",
            n=found.row,
            text=found.email.text,
            docx=docx is not None,
            states=STATES,
            done=request.query_params.get("done"),
        )

    async def notification_of(self, reference: str) -> NotificationInFull | None:
        return await self.storage.staff.notification(reference) if ours(reference) else None

    async def docx(self, request: Request, signed: Signed) -> Response:
        reference = request.path_params["reference"]
        found = await self.notification_of(reference)
        docx = found and next((a for a in found.email.attachments if a.content_type == DOCX), None)
        if not docx:
            return self.page("missing.html", status=404, signed=signed, what=f"{reference}.docx")
        await self.audit("staff_downloaded", signed, reference)
        return download(docx.content(), DOCX, quote(docx.filename))

    async def retry(self, request: Request, signed: Signed, form: Form) -> Response:
        """ "Send again": the refused email queued again, as `main.py outbox retry` does."""
        reference = request.path_params["reference"]
        done = "queued" if await self.send_again(reference, signed) else "not-refused"
        return self.go(f"/notifications/{quote(reference)}?done={done}")

    async def send_again(self, reference: str, signed: Signed) -> bool:
        """What `main.py outbox retry` does: a refused email queued again (False: it was not
        refused), audited, and the outbox woken."""
        if not await self.storage.outbox.requeue_failed_email(reference, time.time(), signed.email):
            return False
        await self.audit("staff_retried", signed, reference)
        self.assistant.outbox.wake()
        return True

    async def outbox(self, request: Request, signed: Signed) -> Response:
        """Every email the mail server refused (a hand-off's, an answer by email, a code...),
        as /outbox lists them, each with Send again."""
        return self.page(
            "outbox.html",
            signed=signed,
            here="outbox",
            refused=await self.storage.outbox.failed_emails(REFUSED_SHOWN),
            kinds=KIND_NAMES,
            done=request.query_params.get("done"),
            ref=request.query_params.get("ref", ""),
        )

    async def retry_email(self, request: Request, signed: Signed, form: Form) -> Response:
        reference = request.path_params["reference"]
        done = "queued" if await self.send_again(reference, signed) else "not-refused"
        return self.go(f"/outbox?done={done}&ref={quote(reference)}")

    async def handoffs(self, request: Request, signed: Signed) -> Response:
        return await self.handoffs_page(signed, request.query_params.get("done"))

    async def handoffs_page(
        self, signed: Signed, done: str | None, problem: str | None = None, status: int = 200
    ) -> Response:
        handoffs = self.storage.handoffs
        return self.page(
            "handoffs.html",
            status=status,
            signed=signed,
            here="handoffs",
            open=await handoffs.handoffs("open"),
            answered=list(reversed(await handoffs.handoffs("answered")))[:50],
            closed=list(reversed(await handoffs.handoffs("closed")))[:20],
            done=done,
            problem=problem,
            available=self.assistant.settings.email is not None,
        )

    async def answer(self, request: Request, signed: Signed, form: Form) -> Response:
        reference = request.path_params["reference"]
        text = str(form.get("answer") or "")
        handoffs = self.storage.handoffs
        handoff = await handoffs.handoff_by_reference(reference) if ours(reference) else None
        if handoff is None:
            return self.go("/handoffs?done=unknown")
        if not text.strip():
            return self.go(f"/handoffs?done=empty#{quote(reference)}")
        if CONTROL_CHARACTERS.search(text):  # what the asker's email or chat could not carry
            return await self.handoffs_page(signed, None, UNSENDABLE, status=422)
        desk = HandoffDesk(self.storage, self.assistant.settings, self.clock)
        if not await desk.answer(handoff, text, signed.email):
            return self.go("/handoffs?done=already")
        # Told now, in their own channel, once: the same pass the email channel runs.
        await desk.tell(self.deliver)
        return self.go("/handoffs?done=answered")

    async def deliver(self, chat: str, replies: list[Reply]) -> bool:
        """News for a chat: through the email channel when it runs (it sends an email chat's
        by email and the others' through the chat channels), else a chat channel's push; an
        email chat then waits for the email channel's next pass."""
        if self.assistant.deliver_news is not None:
            return await self.assistant.deliver_news(chat, replies)
        push = self.assistant.conversation.push
        if push is None or chat.startswith("email:"):
            return False
        await push(chat, replies)
        return True

    async def unanswered(self, request: Request, signed: Signed) -> Response:
        asked = await self.storage.questions.unanswered(UNANSWERED_SHOWN)
        topics = sorted(
            ((t.id, t.title) for t in self.assistant.knowledge.topics.values()),
            key=lambda pair: pair[1].lower(),
        )
        suggestions = await self.storage.staff.suggestions()
        return self.page(
            "unanswered.html",
            signed=signed,
            here="unanswered",
            groups=group_questions(asked),
            topics=topics,
            titles=dict(topics),
            suggested={s.question: s.topic for s in suggestions},
            suggestions=suggestions,
            done=request.query_params.get("done"),
        )

    async def suggest(self, request: Request, signed: Signed, form: Form) -> Response:
        topic = str(form.get("topic") or "")
        if topic not in self.assistant.knowledge.topics:
            return self.go("/unanswered?done=no-topic")
        # Only questions that were stored as unanswered (and redacted then) can be suggested.
        stored = {q for q, _ in await self.storage.questions.unanswered(UNANSWERED_SHOWN)}
        chosen = [q for q in form.getlist("question") if q in stored]
        if not chosen:  # deleted (retention) since the page was read: nothing to record
            return self.go("/unanswered?done=gone")
        for question in chosen:
            await self.storage.staff.suggest(question, topic, signed.email, self.clock())
        await self.audit("staff_suggested", signed, topic)
        return self.go("/unanswered?done=suggested")

    async def export(self, request: Request, signed: Signed) -> Response:
        await self.audit("staff_exported", signed)
        text = suggestions_yaml(
            await self.storage.staff.suggestions(),
            self.assistant.settings.partnership,
            time.time(),
        )
        return download(
            text.encode(), "application/yaml; charset=utf-8", "suggested-questions.yaml"
        )

    async def audit_trail(self, request: Request, signed: Signed) -> Response:
        if not signed.admin:
            return self.page(
                "refused.html",
                status=403,
                signed=signed,
                message="Only the partnership's administrators can see the audit trail.",
            )
        events = await self.storage.audit.audit_events(AUDIT_SHOWN)
        return self.page("audit.html", signed=signed, here="audit", events=events)


def download(body: bytes, media_type: str, filename: str) -> Response:
    """A file to save (never shown in the page, never kept by a cache)."""
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename={filename}",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
