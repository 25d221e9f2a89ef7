"""A report's facts line, where to find it, and the documents a few words may mean.

Shared by the /report reply (handlers/reports.py) and Telegram's inline mode
(bot/channels/telegram.py), so both show a document the same way.
"""

from __future__ import annotations

from knowledge.loader import Knowledge, Report
from knowledge.search import SUGGEST_CUTOFF

INLINE_LIMIT = 10  # documents listed for one inline query (Telegram accepts up to 50)


def report_facts(report: Report) -> str:
    """'Full report, 2013, Coventry Safeguarding Children Board': what, when and whose."""
    return ", ".join(str(x) for x in (report.kind.capitalize(), report.year, report.area) if x)


def where_to_find(report: Report, contact_email: str) -> str:
    """The document's address (saying so when it is only news about it), or, when none is
    known, who to ask for a copy."""
    if report.url and report.link == "coverage":
        return f"News coverage, not the document itself: {report.url}"
    if report.url:
        return report.url
    return f"No public copy is known: ask the partnership for one at {contact_email}."


def find_reports(knowledge: Knowledge, text: str, limit: int = INLINE_LIMIT) -> list[Report]:
    """The documents `text` may mean, best first: those the matcher would answer or offer.

    Topics and actions never appear, and text that fits no document closely enough gives none:
    a list of near misses would invite a wrong link. Empty text gives none either.
    """
    result = knowledge.index.search(text)
    if result.decision is None:
        return []
    found = [
        knowledge.reports[m.id]
        for m in result.matches
        if m.score >= SUGGEST_CUTOFF and m.id in knowledge.reports
    ]
    return found[:limit]
