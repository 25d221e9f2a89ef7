"""The assistant's HTTP side, one ASGI app (Starlette, served by uvicorn): `python main.py serve`.

    POST <telegram.webhook_path>   Telegram updates (webhook mode), checked against the secret;
                                   one path per partnership served (docs/partnerships.md)
    /widget.js, /chat, /chat/...   the default partnership's web chat (bot/channels/web/http.py),
                                   and / its demo page
    /site/<key>/widget.js, ...     another partnership's web chat, by its endpoints.web_site_key
    POST <teams.path>              Microsoft Teams activities (/api/messages), checked against the
                                   Bot Connector's token; the app id it is for names the
                                   partnership (bot/channels/teams/, docs/teams.md)
    GET  /healthz                  the process is alive and its event loop answers
    GET  /readyz                   database writable, knowledge loaded (503 if not); outbox
                                   backlog and last email delivery, for information
    GET  /metrics                  Prometheus metrics (bot/ops/metrics.py)
    /staff, /staff/...             the staff page of the first partnership (bot/channels/staff/);
                                   /staff-<id>/... another's

Channels: Telegram for each partnership with a token (polling, or the webhook), and the web
chat of each partnership whose `web.enabled` is true: the first's (the default's) at the top,
another's only if it has a site key; without any token the web chat runs alone. Teams for each
partnership with a Teams app (endpoints.teams_app_id and TEAMS_APP_PASSWORD). The email
channels are the installation's (bot/installation.py). In polling mode our poller
(bot/channels/telegram_polling.py) fetches each bot's updates in the background of the same
app. Either way an update is stored before Telegram is told it arrived
(bot/channels/intake.py).

Start-up, for each partnership served, in order: count mail deliveries and note outbox claims,
start the outbox and the retention job, handle web messages received before a crash, start the
Telegram Application (menu registration retried in the background), handle what an earlier run
left unhandled, then set the webhook or start polling. Shutdown (SIGTERM or Ctrl+C): uvicorn
stops accepting requests, closes the web chat's sockets and finishes the requests in progress;
then the web messages already received are handled, polling stops, the updates being handled
get a moment to finish (the others stay stored for the next start), and the outbox lets a send
in progress finish briefly before releasing what it still claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from telegram import Update
from telegram.ext import Application

from bot.assistant import Assistant
from bot.channels.staff.guard import root_of as staff_root
from bot.channels.staff.pages import StaffRoutes
from bot.channels.telegram import ALLOWED_UPDATES, TelegramChannel, arrival, build_application
from bot.channels.telegram_polling import Poller, intake_of, start_updates, stop_updates
from bot.channels.web.channel import WebChannel
from bot.channels.web.http import MAX_BODY_BYTES, WebRoutes
from bot.core.replies import Reply
from bot.mail.claims import ClaimLedger, stop_outbox, track_claims
from bot.ops.metrics import MeteredTransport, Metrics
from config.settings import Settings, SettingsError

if TYPE_CHECKING:  # the Teams SDK takes a second to import: only when a Teams app is set
    from bot.channels.teams.channel import TeamsChannel

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# On shutdown, a send in progress gets this long to finish before its claim is released.
OUTBOX_GRACE_SECONDS = 10.0
# On shutdown, Teams messages being handled get this long to finish; the rest stay stored.
TEAMS_GRACE_SECONDS = 10.0
# A Teams activity is a few kilobytes of JSON; a larger request is refused unread.
TEAMS_MAX_BYTES = 256 * 1024


class DatabaseProbe:
    """Checks the database for /readyz without ever leaving it half-used.

    The check runs as its own task and is only waited for up to the timeout: cancelling a
    statement midway could leave the shared connection inside a transaction. While one check
    is still waiting on the database (it is locked), later calls wait for that same check.
    """

    def __init__(self, assistant: Assistant, timeout: float) -> None:
        self.assistant = assistant
        self.timeout = timeout
        self._task: asyncio.Task[tuple[int, float | None]] | None = None

    async def _probe(self) -> tuple[int, float | None]:
        storage = self.assistant.storage
        await storage.check_writable()
        return await storage.outbox.outbox_backlog()

    async def check(self) -> tuple[str, tuple[int, float | None] | None]:
        """("ok", (outbox backlog, oldest creation time)) or (what is wrong, None)."""
        if self._task is not None and self._task.done():
            if not self._task.cancelled():
                self._task.exception()  # an earlier check's outcome, reported by then or stale
            self._task = None
        if self._task is None:
            self._task = asyncio.create_task(self._probe(), name="readiness-probe")
        try:
            backlog = await asyncio.wait_for(asyncio.shield(self._task), self.timeout)
        except TimeoutError:
            return f"no answer within {self.timeout:g} s", None
        except sqlite3.Error as exc:  # SQLite's messages name the condition, never data
            return f"{type(exc).__name__}: {exc}", None
        except Exception as exc:
            return type(exc).__name__, None
        return "ok", backlog

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            with contextlib.suppress(Exception):
                await task  # finishes within the database's busy timeout


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp else None


class NoSniff:
    """Every response says X-Content-Type-Options: nosniff (a browser takes each file for
    what its Content-Type says, never guesses): pure ASGI, so sockets and streams pass as
    they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


@dataclass
class Served:
    """One partnership that `serve` runs: its assistant, and its Telegram bot if it has one."""

    assistant: Assistant
    application: Application | None = None
    channel: TelegramChannel | None = None
    web: WebChannel | None = None
    poller: Poller | None = None  # polling mode: fetches the bot's updates
    routes: list[BaseRoute] = field(default_factory=list)  # its web chat's and staff page's
    teams: TeamsChannel | None = None
    ledger: ClaimLedger | None = None
    started: bool = False


class Service:
    """What `serve` runs: the assistants of the partnerships served, their channels (Telegram,
    the web chat) and the ASGI app around them. `assistant` is the first (the default
    partnership's), whose web chat is at the top; the installation adds the others with
    `add_partnership`, at start or at /reload."""

    @staticmethod
    def check(settings: Sequence[Settings], webhook: bool) -> None:
        """Raise SettingsError when these partnerships' settings give `serve` nothing to serve
        (the first is the default partnership)."""
        tokens = [s for s in settings if s.telegram_token]
        web = [
            s for i, s in enumerate(settings) if Service._web_prefix(s, first=i == 0) is not None
        ]
        teams = [s for s in settings if s.teams_enabled]
        if not tokens and not teams and not web:
            raise SettingsError(
                "serve needs TELEGRAM_BOT_TOKEN or the web chat (web.enabled: true), or a Teams "
                "app (endpoints.teams_app_id and TEAMS_APP_PASSWORD); for the console: "
                "main.py chat"
            )
        if webhook and not tokens:
            raise SettingsError("webhook mode needs TELEGRAM_BOT_TOKEN")

    def __init__(self, assistant: Assistant, webhook: bool, metrics: Metrics | None = None) -> None:
        # What there is to serve is checked by the caller, over every partnership (`check`).
        settings = assistant.settings
        self.assistant = assistant
        self.webhook = webhook
        self.metrics = metrics or Metrics()
        self.probe = DatabaseProbe(assistant, settings.telegram.ready_timeout_seconds)
        self.served: dict[str, Served] = {}
        self.by_path: dict[str, Served] = {}  # webhook path -> the partnership it belongs to
        self.by_teams_app: dict[str, Served] = {}  # Teams app id -> its partnership
        self.started = False
        routes: list[BaseRoute] = [
            Route("/healthz", self.healthz),
            Route("/readyz", self.readyz),
            Route("/metrics", self.metrics_page),
        ]
        self.app = Starlette(
            routes=routes, lifespan=self.lifespan, middleware=[Middleware(NoSniff)]
        )
        first = self._prepare(assistant)
        self.web: WebChannel | None = first.web
        self.application: Application | None = first.application
        self.channel: TelegramChannel | None = first.channel

    @staticmethod
    def _push_to_every_channel(served: Served) -> None:
        """News nobody asked for (a hand-off's answer) goes to whichever of the partnership's
        channels has the chat; each channel's push ignores the others' chats."""
        conversation = served.assistant.conversation
        pushes: list[Callable[[str, list[Reply]], Awaitable[None]]] = []
        if served.application is not None and conversation.push is not None:
            pushes.append(conversation.push)  # set by build_application
        if served.web is not None:
            pushes.append(served.web.push)
        if served.teams is not None:
            pushes.append(served.teams.push)
        if len(pushes) == 1:
            conversation.push = pushes[0]
        if len(pushes) < 2:
            return

        async def push(chat: str, replies: list[Reply]) -> None:
            for each in pushes:
                await each(chat, replies)

        conversation.push = push

    @property
    def ledger(self) -> ClaimLedger | None:
        return self.served[self.assistant.settings.partnership].ledger

    def _prepare(self, assistant: Assistant) -> Served:
        """`assistant`'s partnership, with its Telegram Application and webhook route."""
        settings = assistant.settings
        served = Served(assistant)
        if settings.telegram_token:
            if self.webhook and not settings.webhook_secret:
                raise SettingsError(
                    "webhook mode needs TELEGRAM_WEBHOOK_SECRET: Telegram sends it with every "
                    "update, and requests without it are refused"
                )
            served.application = build_application(assistant, metrics=self.metrics)
            served.channel = served.application.bot_data["channel"]
            if self.webhook:
                path = settings.telegram.webhook_path
                self.by_path[path] = served
                self.app.router.routes.append(Route(path, self.update, methods=["POST"]))
        if settings.teams_enabled:
            from bot.channels.teams.channel import TeamsChannel

            served.teams = TeamsChannel(assistant, self.metrics)
            self.by_teams_app[settings.endpoints.teams_app_id] = served
            path = settings.teams.path
            if not any(getattr(r, "path", None) == path for r in self.app.router.routes):
                self.app.router.routes.append(Route(path, self.teams_update, methods=["POST"]))
        prefix = self._web_prefix(settings, first=not self.served)
        if prefix is not None:
            served.web = WebChannel(assistant, self.metrics)
            served.routes += WebRoutes(served.web, settings, prefix).routes()
        elif settings.web.enabled:
            log.info("%s: no endpoints.web_site_key: no web chat", settings.partnership)
        # Its staff page (docs/staff.md): /staff for the first partnership, /staff-<id> after.
        root = staff_root(settings.partnership, first=not self.served)
        served.routes += StaffRoutes(assistant, root).routes()
        self.app.router.routes += served.routes
        self._push_to_every_channel(served)
        self.served[settings.partnership] = served
        return served

    @staticmethod
    def _web_prefix(settings: Settings, first: bool) -> str | None:
        """Where a partnership's web chat is served: the first (default) partnership's at the
        top (/widget.js, /chat), each other's under /site/<its site key>/; None for none (web
        chat off, or another partnership with no site key)."""
        if not settings.web.enabled:
            return None
        if first:
            return ""
        key = settings.endpoints.web_site_key
        return f"/site/{key}" if key else None

    async def add_partnership(self, assistant: Assistant) -> None:
        """Serve another partnership: started now if the service runs, else with the rest."""
        if assistant.settings.partnership in self.served:
            return
        served = self._prepare(assistant)
        if self.started:
            await self._start(served)

    async def remove_partnership(self, partnership: str) -> None:
        """Stop serving a partnership (its assistant is closed by its owner)."""
        served = self.served.pop(partnership, None)
        if served is None:
            return
        path = served.assistant.settings.telegram.webhook_path
        gone = list(served.routes)
        if self.by_path.get(path) is served:
            del self.by_path[path]
            gone += [r for r in self.app.router.routes if getattr(r, "path", None) == path]
        self.app.router.routes[:] = [r for r in self.app.router.routes if r not in gone]
        app_id = served.assistant.settings.endpoints.teams_app_id
        if self.by_teams_app.get(app_id) is served:
            del self.by_teams_app[app_id]
        await self._stop(served)

    # --- start and stop ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        self.started = True
        for served in list(self.served.values()):
            await self._start(served)

    async def _start(self, served: Served) -> None:
        assistant = served.assistant
        outbox = assistant.outbox
        outbox.transport = MeteredTransport(outbox.transport, self.metrics)
        served.ledger = track_claims(outbox)
        outbox.start()  # delivers queued email, including any left from the last run
        assistant.retention.start()
        served.started = True
        if served.web is not None:
            await served.web.start()  # messages received but not handled before a crash
        if served.teams is not None:
            served.teams.start()  # what an earlier run left, then what arrives
            log.info("%s: Teams started", assistant.settings.partnership)
        application, channel = served.application, served.channel
        if application is None or channel is None:
            if served.web is not None:
                log.info("web chat started (no Telegram token: Telegram is off)")
            elif served.teams is None:
                log.info("%s: no Telegram token, Telegram is off", assistant.settings.partnership)
            return
        await application.initialize()
        await channel.post_init(application)
        await application.start()
        telegram = assistant.settings.telegram
        # What an earlier run left unhandled is handled first, then whatever arrives.
        served.poller = start_updates(application, assistant, polling=not self.webhook)
        if self.webhook and telegram.webhook_url:
            await application.bot.set_webhook(
                url=telegram.webhook_url,
                secret_token=assistant.settings.webhook_secret.reveal(),
                allowed_updates=ALLOWED_UPDATES,
                max_connections=telegram.webhook_max_connections,
            )
            log.info("Telegram webhook set; serving updates at %s", telegram.webhook_path)
        elif self.webhook:
            log.info("webhook mode, telegram.webhook_url empty: setWebhook left as it is")

    async def stop(self) -> None:
        for served in reversed(list(self.served.values())):
            await self._stop(served)
        await self.probe.close()
        log.info("stopped: in-flight updates handled, outbox claims released")

    async def _stop(self, served: Served) -> None:
        if not served.started:
            return
        served.started = False
        if served.web is not None:
            await served.web.stop()  # the web messages already received are answered
        if served.teams is not None:
            await served.teams.stop(TEAMS_GRACE_SECONDS)
        application, channel = served.application, served.channel
        if application is not None and channel is not None:
            await channel.stop()
            # Stops polling; updates being handled get a moment to finish, the rest stay stored.
            await stop_updates(application, served.poller)
            served.poller = None
            if application.running:
                await application.stop()
            await application.shutdown()
        if served.ledger is not None:
            await stop_outbox(served.assistant.outbox, served.ledger, OUTBOX_GRACE_SECONDS)
        await served.assistant.retention.stop()

    # --- routes -----------------------------------------------------------------------------

    async def update(self, request: Request) -> Response:
        """One update from Telegram for the partnership whose webhook path it came to: stored,
        then 200, then handled; 403 without that partnership's secret, 503 when it cannot be
        stored (Telegram sends it again later)."""
        served = self.by_path.get(request.url.path)
        if served is None or served.application is None:
            return PlainTextResponse("Not Found", status_code=404)
        application = served.application
        expected = served.assistant.settings.webhook_secret.reveal().encode()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            log.warning("webhook request refused: missing or wrong secret token")
            return PlainTextResponse("Forbidden", status_code=403)
        try:
            payload = await request.json()
            update = Update.de_json(payload, application.bot)
        except Exception as exc:  # not JSON, or not an update: Telegram never sends that
            log.warning("webhook request refused: not an update (%s)", type(exc).__name__)
            return PlainTextResponse("Bad Request", status_code=400)
        intake = intake_of(application)
        try:
            new = await intake.receive([arrival(update, payload)])
        except Exception as exc:  # not stored: not acknowledged, so Telegram sends it again
            log.error("webhook update not stored: %s", type(exc).__name__)
            return PlainTextResponse("Service Unavailable", status_code=503)
        # Acknowledged once stored, handled after: Telegram would send a slow update again.
        intake.dispatch(new)
        return Response(status_code=200)

    async def teams_update(self, request: Request) -> Response:
        """One activity from Teams' Bot Connector: its token checked first (401, unread,
        without a valid one), then stored, then 202, then handled; 503 when it cannot be
        stored (the Bot Connector tries again)."""
        from bot.channels.teams.auth import audience_of
        from bot.channels.teams.channel import Refused

        authorization = request.headers.get("authorization")
        served = self.by_teams_app.get(audience_of(authorization) or "")
        if served is None or served.teams is None:
            log.warning("Teams request refused: no valid token for a Teams app served here")
            return PlainTextResponse("Unauthorized", status_code=401)
        teams = served.teams
        claims = await teams.check.claims(authorization)  # before anything else is read
        if claims is None:
            return PlainTextResponse("Unauthorized", status_code=401)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > TEAMS_MAX_BYTES:  # not read further
                return PlainTextResponse("Payload Too Large", status_code=413)
        try:
            new = await teams.accept(claims, bytes(body))
        except Refused as refused:
            return PlainTextResponse(str(refused.status), status_code=refused.status)
        except Exception as exc:  # not stored: not acknowledged, so it is sent again
            log.error("Teams activity not stored: %s", type(exc).__name__)
            return PlainTextResponse("Service Unavailable", status_code=503)
        teams.intake.dispatch(new)
        return Response(status_code=202)

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        database, backlog = await self.probe.check()
        knowledge = self.assistant.conversation.knowledge
        now = time.time()
        report: dict[str, Any] = {
            "database": database,
            "knowledge": {"topics": len(knowledge.topics), "reports": len(knowledge.reports)},
        }
        if backlog is not None:
            depth, oldest = backlog
            self.metrics.observe_outbox(depth, oldest, now)
            report["outbox"] = {
                "backlog": depth,
                "oldest_age_seconds": round(now - oldest, 1) if oldest else None,
            }
        last = self.metrics.last_delivery_at
        report["email"] = {
            "transport": self.assistant.outbox.transport.describe(),
            "last_delivery": _iso(last),
            "last_delivery_age_seconds": round(now - last, 1) if last else None,
        }
        # Each partnership served (the first's are above, as before there were several).
        report["partnerships"] = {
            pid: {
                "topics": len(s.assistant.conversation.knowledge.topics),
                "reports": len(s.assistant.conversation.knowledge.reports),
            }
            for pid, s in self.served.items()
        }
        # A mail backlog is reported, not a reason to take the instance out of service: it
        # cannot fix the mail server, and chat still works. Alert on the metrics instead.
        ready = database == "ok" and all(p["topics"] for p in report["partnerships"].values())
        report["ready"] = ready
        return ready, report

    async def readyz(self, request: Request) -> Response:
        ready, report = await self.readiness()
        return JSONResponse(report, status_code=200 if ready else 503)

    async def metrics_page(self, request: Request) -> Response:
        await self.readiness()  # refreshes the outbox gauges
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


class Server(uvicorn.Server):
    """uvicorn's server, which tells the web chat when it starts to stop: its long polls are
    answered then, rather than holding the shutdown for up to their whole wait."""

    def __init__(self, config: uvicorn.Config, service: Service) -> None:
        super().__init__(config)
        self.service = service

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.service.web is not None:
            self.service.web.close_pages()
        await super().shutdown(sockets)


def server_for(service: Service, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        service.app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,  # our logging (bot/ops/logs.py) masks secrets; uvicorn's own would not
        access_log=False,  # request lines carry nothing useful and would flood the log
        proxy_headers=False,  # the web chat believes only web.trusted_proxies (guard.py)
        server_header=False,
        ws="websockets-sansio",
        ws_max_size=MAX_BODY_BYTES,
        # The chat's frames are a few hundred bytes of JSON: compressing each cost more CPU
        # than it saved (bench/webchat.py).
        ws_per_message_deflate=False,
    )
    return Server(config, service)


async def run_server(assistant: Assistant, webhook: bool) -> None:
    """Serve one assistant until SIGTERM or Ctrl+C (see `run_service`)."""
    Service.check([assistant.settings], webhook)
    await run_service(Service(assistant, webhook))


async def run_service(service: Service) -> None:
    """Serve until SIGTERM or Ctrl+C, then shut down gracefully (see the module's docstring)."""
    telegram = service.assistant.settings.telegram
    server = server_for(service, telegram.listen_host, telegram.listen_port)
    # uvicorn sends the signal to itself again once it has shut down, so that the default
    # action runs; we have drained by then and still have to close the database, so SIGTERM
    # is made harmless for that moment.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        await server.serve()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not server.started:
        raise SystemExit("the HTTP server did not start (see the log)")
