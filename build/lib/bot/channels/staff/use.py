"""The charts of use, from counts only (bot/core/usage.py's turns, the notifications' and
hand-offs' times): what people asked by day and channel, what answered them, how often the
safety route was shown, notifications by month, and how long staff took to answer."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence

from bot.channels.staff.charts import Chart, bars, stacked_columns
from bot.storage import Storage
from bot.storage.staff import UsageCount
from knowledge.loader import Knowledge

DAYS = 30
MONTHS = 12
OUTCOME_NAMES = {
    "answered": "answered",
    "choices": "offered choices",
    "declined": "declined (not ours)",
    "unanswered": "not answered",
    "urgent": "safety route",
}
# Hand-off response times, in hours: (upper bound, label).
RESPONSE_BUCKETS = (
    (1, "under 1 hour"),
    (4, "1 to 4 hours"),
    (24, "4 to 24 hours"),
    (72, "1 to 3 days"),
    (float("inf"), "over 3 days"),
)


def days_back(now: float, count: int) -> list[str]:
    return [time.strftime("%Y-%m-%d", time.gmtime(now - i * 86400)) for i in range(count)][::-1]


def months_back(now: float, count: int) -> list[str]:
    year, month = time.gmtime(now).tm_year, time.gmtime(now).tm_mon
    months = []
    for _ in range(count):
        months.append(f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def per_day_by(counts: Sequence[UsageCount], days: list[str], key: str) -> dict[str, list[int]]:
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    index = {day: i for i, day in enumerate(days)}
    for c in counts:
        if c.day in index:
            series[getattr(c, key)][index[c.day]] += c.turns
    return dict(sorted(series.items()))


def title_of(knowledge: Knowledge, item: str) -> str:
    topic = knowledge.topics.get(item)
    if topic is not None:
        return str(topic.title)
    report = knowledge.reports.get(item)
    return str(report.title) if report is not None else item


async def charts(storage: Storage, knowledge: Knowledge, now: float) -> list[Chart]:
    days = days_back(now, DAYS)
    counts = await storage.staff.usage(days[0])
    questions = [c for c in counts if c.kind != "urgent"]
    by_channel = per_day_by(questions, days, "channel")
    answered = Counter[str]()
    outcomes = Counter[str]()
    for c in counts:
        outcomes[c.kind] += c.turns
        if c.item:
            answered[c.item] += c.turns
    total = sum(outcomes.values()) or 1
    safety = per_day_by([c for c in counts if c.kind == "urgent"], days, "kind")
    months = months_back(now, MONTHS)
    per_month = Counter(
        time.strftime("%Y-%m", time.gmtime(t)) for t in await storage.staff.notification_times()
    )
    waits = Counter[str]()
    for asked, answered_at in await storage.staff.handoff_times():
        hours = (answered_at - asked) / 3600
        waits[next(label for bound, label in RESPONSE_BUCKETS if hours < bound)] += 1
    return [
        stacked_columns(
            "per-day",
            f"Questions per day by channel, last {DAYS} days",
            days,
            by_channel,
            "questions",
        ),
        bars(
            "top",
            "Top topics and reports given",
            [(title_of(knowledge, item), n) for item, n in answered.most_common(10)],
            "times",
        ),
        bars(
            "outcomes",
            f"What became of the questions, last {DAYS} days",
            [
                (f"{name} ({round(100 * outcomes[key] / total)}%)", outcomes[key])
                for key, name in OUTCOME_NAMES.items()
            ]
            if outcomes
            else [],
            "questions",
        ),
        stacked_columns(
            "safety",
            f"The safety route shown, per day, last {DAYS} days",
            days,
            {"safety route": safety.get("urgent", [0] * len(days))},
            "times",
        ),
        stacked_columns(
            "notifications",
            f"Notifications per month, last {MONTHS} months",
            months,
            {"notifications": [per_month[m] for m in months]},
            "notifications",
        ),
        bars(
            "handoffs",
            "Hand-offs: time to the staff's answer",
            [(label, waits[label]) for _, label in RESPONSE_BUCKETS] if waits else [],
            "questions",
        ),
    ]
