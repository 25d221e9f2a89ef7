"""Reports and briefings: one document's reply, and /reports navigation by group."""

from __future__ import annotations

from bot.conversation import Context
from bot.replies import Button, Link, Reply
from knowledge.loader import Report

# A request with one of these words that matches nothing is a request for a document.
REPORT_WORDS = frozenset(
    (
        "report reports review reviews briefing briefings summary scr scrs inquiry document "
        "documents presentation paper"
    ).split()
)


def report_reply(ctx: Context, report: Report) -> Reply:
    knowledge = ctx.knowledge
    facts = ", ".join(str(x) for x in (report.kind.capitalize(), report.year, report.area) if x)
    if report.url:
        where = "Open it with the link below."
        links: tuple[Link, ...] = (Link(f"Open: {report.title}", report.url),)
    else:
        where = (
            "No public address is known for this document. Please ask the board for a copy: "
            f"{ctx.settings.board.contact_email}."
        )
        links = ()
    related = tuple(
        Button(knowledge.reports[r].title, f"/report {r}")
        for r in report.related
        if r in knowledge.reports
    )
    return Reply(
        text=f"{facts}\n\n{report.summary}\n\n{where}",
        kind="report",
        title=report.title,
        id=report.id,
        buttons=related,
        links=links,
    )


def not_in_catalogue(ctx: Context) -> Reply:
    board = ctx.settings.board
    return Reply(
        f"I can't find that document in the {board.short_name} catalogue, and I won't guess: "
        "a wrong link to a case review is worse than none. Published case reviews from across "
        "England are in the NSPCC national case review repository. Type /reports to browse "
        f"what the board publishes, or ask the board at {board.contact_email}.",
        kind="fallback",
        links=(Link("NSPCC national case review repository", board.case_review_repository),),
        buttons=(Button("Browse the board's reports", "/reports"),),
    )


async def show_report(ctx: Context, arg: str) -> list[Reply]:
    """/report ID: one document (the data of document buttons)."""
    report = ctx.knowledge.reports.get(arg)
    if report is None:
        return [not_in_catalogue(ctx)]
    return [report_reply(ctx, report)]


async def list_reports(ctx: Context, arg: str) -> list[Reply]:
    """/reports: the groups as buttons; /reports GROUP: that group's documents as buttons."""
    knowledge = ctx.knowledge
    group = knowledge.groups.get(arg)
    if group is None:
        buttons = tuple(Button(g.title, f"/reports {g.id}") for g in knowledge.groups.values())
        intro = "Which documents would you like to see?"
        if arg:
            intro = f'There is no group called "{arg}". {intro}'
        return [Reply(intro, kind="groups", ids=tuple(knowledge.groups), buttons=buttons)]
    reports = [r for r in knowledge.reports.values() if r.group == group.id]
    return [
        Reply(
            "Choose a document:",
            kind="group",
            title=group.title,
            id=group.id,
            ids=tuple(r.id for r in reports),
            buttons=(
                *(Button(r.title, f"/report {r.id}") for r in reports),
                Button("« All groups", "/reports"),
            ),
        )
    ]
