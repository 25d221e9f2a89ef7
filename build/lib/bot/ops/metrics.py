"""Prometheus metrics of the running assistant, served at /metrics by bot/server.py.

Counted where a channel hands a message to the core and gets the replies back (the boundary),
and around the mail transport. Labels are only reply kinds and error classes, which come from
the code: never a chat id, a message, an address or a reference.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.core.replies import Reply
from bot.mail.message import BuiltMessage
from bot.mail.transport import Transport, is_permanent

# Reply kinds that mean someone typed a wrong sign-in code, or was locked out by one.
SIGNIN_FAILURE_KINDS = frozenset({"wrong_code", "signin_locked"})
# The core's answer time: most messages take a few milliseconds; a slow database shows above.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The assistant's metrics in a registry of their own (one per running app, so tests and the
    benchmark can build several without clashing in the global registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "assistant_messages",
            "Messages handled, by the kind of the first reply (answer, report, choices, ...)",
            ["kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "assistant_handling_seconds",
            "Time from a message reaching the core to its replies (chat lock wait included)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.signin_failures = Counter(
            "assistant_signin_failures",
            "Wrong sign-in codes and lockouts",
            registry=self.registry,
        )
        self.delivery_failures = Counter(
            "assistant_email_delivery_failures",
            "Failed email delivery attempts, transient (retried) or permanent",
            ["permanence"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "assistant_outbox_depth",
            "Emails queued, being sent or waiting to retry (updated when /readyz or /metrics runs)",
            registry=self.registry,
        )
        self.outbox_oldest_age = Gauge(
            "assistant_outbox_oldest_age_seconds",
            "Age of the oldest undelivered email, 0 when none",
            registry=self.registry,
        )
        self.last_delivery = Gauge(
            "assistant_email_last_delivery_timestamp_seconds",
            "When an email was last delivered by this process (Unix time), 0 before the first",
            registry=self.registry,
        )
        self.last_delivery_at: float | None = None

    def observe_turn(self, replies: Sequence[Reply], seconds: float) -> None:
        """Count one handled message by its first reply's kind and time it."""
        kind = replies[0].kind if replies else "none"
        self.messages.labels(kind=kind).inc()
        self.latency.observe(seconds)
        if any(reply.kind in SIGNIN_FAILURE_KINDS for reply in replies):
            self.signin_failures.inc()

    def observe_outbox(self, depth: int, oldest_created_at: float | None, now: float) -> None:
        self.outbox_depth.set(depth)
        self.outbox_oldest_age.set(max(0.0, now - oldest_created_at) if oldest_created_at else 0)

    def delivered(self, at: float) -> None:
        self.last_delivery_at = at
        self.last_delivery.set(at)


class MeteredTransport:
    """Wraps the outbox's transport: counts failures and remembers the last delivery."""

    def __init__(self, transport: Transport, metrics: Metrics) -> None:
        self.transport = transport
        self.metrics = metrics

    def describe(self) -> str:
        return self.transport.describe()

    async def send(self, message: BuiltMessage, name: str) -> None:
        try:
            await self.transport.send(message, name)
        except BaseException as exc:
            if isinstance(exc, Exception):
                permanence = "permanent" if is_permanent(exc) else "transient"
                self.metrics.delivery_failures.labels(permanence=permanence).inc()
            raise
        self.metrics.delivered(time.time())
