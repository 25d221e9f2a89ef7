"""The assistant's HTTP side, one ASGI app (Starlette, served by uvicorn): `python main.py serve`.

    POST <telegram.webhook_path>   Telegram updates (webhook mode), checked against the secret
    GET  /healthz                  the process is alive and its event loop answers
    GET  /readyz                   database writable, knowledge loaded (503 if not); outbox
                                   backlog and last email delivery, for information
    GET  /metrics                  Prometheus metrics (bot/ops/metrics.py)

In polling mode the same app runs (health and metrics for the container or service manager)
and our poller (bot/channels/telegram_polling.py) fetches updates in the background. Either way
an update is stored before Telegram is told it arrived (bot/channels/intake.py). Other channels
(email webhooks, Teams) will mount their routes here.

Start-up, in order: count mail deliveries and note outbox claims, start the outbox and the
retention job, start the Telegram Application (menu registration retried in the background),
handle what an earlier run left unhandled, then set the webhook or start polling. Shutdown
(SIGTERM or Ctrl+C): uvicorn stops accepting requests and finishes those in progress; then
polling stops, the updates being handled get a moment to finish (the others stay stored for the
next start), and the outbox lets a send in progress finish briefly before releasing what it
still claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.assistant import Assistant
from bot.channels.telegram import (
    ALLOWED_UPDATES,
    TelegramChannel,
    arrival,
    build_application,
)
from bot.channels.telegram_polling import Poller, intake_of, start_updates, stop_updates
from bot.mail.claims import ClaimLedger, stop_outbox, track_claims
from bot.ops.metrics import MeteredTransport, Metrics
from config.settings import SettingsError

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# On shutdown, a send in progress gets this long to finish before its claim is released.
OUTBOX_GRACE_SECONDS = 10.0


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


class Service:
    """What `serve` runs: the assistant, its Telegram Application and the ASGI app around them."""

    def __init__(self, assistant: Assistant, webhook: bool, metrics: Metrics | None = None) -> None:
        settings = assistant.settings
        if not settings.telegram_token:
            raise SettingsError("serve needs TELEGRAM_BOT_TOKEN (for the console: main.py chat)")
        if webhook and not settings.webhook_secret:
            raise SettingsError(
                "webhook mode needs TELEGRAM_WEBHOOK_SECRET: Telegram sends it with every "
                "update, and requests without it are refused"
            )
        self.assistant = assistant
        self.webhook = webhook
        self.metrics = metrics or Metrics()
        self.application: Application = build_application(assistant, metrics=self.metrics)
        self.poller: Poller | None = None
        self.channel: TelegramChannel = self.application.bot_data["channel"]
        self.probe = DatabaseProbe(assistant, settings.telegram.ready_timeout_seconds)
        self.ledger: ClaimLedger | None = None
        routes = [
            Route("/healthz", self.healthz),
            Route("/readyz", self.readyz),
            Route("/metrics", self.metrics_page),
        ]
        if webhook:
            routes.append(Route(settings.telegram.webhook_path, self.update, methods=["POST"]))
        self.app = Starlette(routes=routes, lifespan=self.lifespan)

    # --- start and stop ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        outbox = self.assistant.outbox
        outbox.transport = MeteredTransport(outbox.transport, self.metrics)
        self.ledger = track_claims(outbox)
        outbox.start()  # delivers queued email, including any left from the last run
        self.assistant.retention.start()
        application = self.application
        await application.initialize()
        await self.channel.post_init(application)
        await application.start()
        telegram = self.assistant.settings.telegram
        # What an earlier run left unhandled is handled first, then whatever arrives.
        self.poller = start_updates(application, self.assistant, polling=not self.webhook)
        if self.webhook and telegram.webhook_url:
            await application.bot.set_webhook(
                url=telegram.webhook_url,
                secret_token=self.assistant.settings.webhook_secret.reveal(),
                allowed_updates=ALLOWED_UPDATES,
                max_connections=telegram.webhook_max_connections,
            )
            log.info("Telegram webhook set; serving updates at %s", telegram.webhook_path)
        elif self.webhook:
            log.info("webhook mode, telegram.webhook_url empty: setWebhook left as it is")

    async def stop(self) -> None:
        application = self.application
        await self.channel.stop()
        # Stops polling; updates being handled get a moment to finish, the rest stay stored.
        await stop_updates(application, self.poller)
        if application.running:
            await application.stop()
        await application.shutdown()
        if self.ledger is not None:
            await stop_outbox(self.assistant.outbox, self.ledger, OUTBOX_GRACE_SECONDS)
        await self.assistant.retention.stop()
        await self.probe.close()
        log.info("stopped: in-flight updates handled, outbox claims released")

    # --- routes -----------------------------------------------------------------------------

    async def update(self, request: Request) -> Response:
        """One update from Telegram: stored, then 200, then handled; 403 without the secret,
        503 when it cannot be stored (Telegram sends it again later)."""
        expected = self.assistant.settings.webhook_secret.reveal().encode()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            log.warning("webhook request refused: missing or wrong secret token")
            return PlainTextResponse("Forbidden", status_code=403)
        try:
            payload = await request.json()
            update = Update.de_json(payload, self.application.bot)
        except Exception as exc:  # not JSON, or not an update: Telegram never sends that
            log.warning("webhook request refused: not an update (%s)", type(exc).__name__)
            return PlainTextResponse("Bad Request", status_code=400)
        intake = intake_of(self.application)
        try:
            new = await intake.receive([arrival(update, payload)])
        except Exception as exc:  # not stored: not acknowledged, so Telegram sends it again
            log.error("webhook update not stored: %s", type(exc).__name__)
            return PlainTextResponse("Service Unavailable", status_code=503)
        # Acknowledged once stored, handled after: Telegram would send a slow update again.
        intake.dispatch(new)
        return Response(status_code=200)

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
        # A mail backlog is reported, not a reason to take the instance out of service: it
        # cannot fix the mail server, and chat still works. Alert on the metrics instead.
        ready = database == "ok" and bool(knowledge.topics)
        report["ready"] = ready
        return ready, report

    async def readyz(self, request: Request) -> Response:
        ready, report = await self.readiness()
        return JSONResponse(report, status_code=200 if ready else 503)

    async def metrics_page(self, request: Request) -> Response:
        await self.readiness()  # refreshes the outbox gauges
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def server_for(service: Service, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        service.app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,  # our logging (bot/ops/logs.py) masks secrets; uvicorn's own would not
        access_log=False,  # request lines carry nothing useful and would flood the log
        proxy_headers=False,
        server_header=False,
    )
    return uvicorn.Server(config)


async def run_server(assistant: Assistant, webhook: bool) -> None:
    """Serve until SIGTERM or Ctrl+C, then shut down gracefully (see the module's docstring)."""
    service = Service(assistant, webhook)
    telegram = assistant.settings.telegram
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
