"""Reports and briefings: one document's reply, /report and /reports navigation by group, and
the documents that match a few words (Telegram's inline mode)."""

from __future__ import annotations

from urllib.parse import urlparse

from bot.core.conversation import Context
from bot.core.replies import Button, Link, Reply
from config.settings import Settings
from handlers.safety import safety_line
from knowledge.loader import Report
from knowledge.narrowing import Question, answered, keep, next_question
from knowledge.report_lookup import report_facts
from knowledge.search import MAX_CHOICES, SearchEntry, choices_of

# A request with one of these words that matches nothing is a request for a document.
REPORT_WORDS = frozenset(
    (
        "report reports review reviews briefing briefings summary scr scrs inquiry document "
        "documents presentation paper"
    ).split()
)


def host_of(url: str) -> str:
    """'www.bbc.co.uk' for a BBC address: who holds the copy, in a word the user recognises."""
    return urlparse(url).netloc.removeprefix("www.")


def link_text(report: Report, settings: Settings) -> tuple[str, tuple[Link, ...]]:
    """What the link is, said plainly, and the link itself. News coverage is never offered as
    the report: the reply says where the report itself can be had."""
    if not report.url:
        return (
            "No public address is known for this document. Please ask the partnership "
            f"({settings.board.short_name or settings.board.name}) for a copy: "
            f"{settings.partnership_email}.",
            (),
        )
    if report.link == "coverage":
        return (
            f"The link is news coverage of it ({host_of(report.url)}), not the document itself. "
            "The document itself is not linked here: ask the partnership at "
            f"{settings.partnership_email}, "
            "or search the NSPCC national case review repository.",
            (Link(f"News coverage: {report.title}", report.url),),
        )
    if report.link == "archive":
        return (
            f"The link is a copy kept by {host_of(report.url)}, not the publisher's own site: "
            "open it below.",
            (Link(f"Open (copy): {report.title}", report.url),),
        )
    return (
        "This is the publisher's own copy. Open it with the link below.",
        (Link(f"Open: {report.title}", report.url),),
    )


def report_reply(ctx: Context, report: Report) -> Reply:
    """The document: title, facts, summary, what its link is and the link (or who to ask),
    related documents, and the way back to its group."""
    knowledge = ctx.knowledge
    where, links = link_text(report, ctx.settings)
    related = tuple(
        Button(knowledge.reports[r].title, f"/report {r}")
        for r in report.related
        if r in knowledge.reports
    )
    group = knowledge.groups.get(report.group)
    back = (Button(f"« {group.title}", f"/reports {group.id}"),) if group else ()
    return Reply(
        text=f"{report_facts(report)}\n\n{report.summary}\n\n{where}",
        kind="report",
        title=report.title,
        id=report.id,
        buttons=(*related, *back),
        links=links,
    )


def not_in_catalogue(ctx: Context) -> Reply:
    """No such document: say so without guessing, point to the national repository, and end
    with the safety route, as every "I don't have that" does."""
    board, contact = ctx.settings.board, ctx.settings.partnership_email
    return Reply(
        f"I can't find that document in the {board.short_name} catalogue, and I won't guess: "
        "a wrong link to a case review is worse than none. Published case reviews from across "
        "England are in the NSPCC national case review repository. Type /reports to browse "
        f"what the partnership publishes, or ask the partnership at {contact}."
        f"\n\n{safety_line(ctx.settings)}",
        kind="fallback",
        links=(Link("NSPCC national case review repository", board.case_review_repository),),
        buttons=(Button("Browse the partnership's reports", "/reports"), Button("Help", "/help")),
    )


def confirm_report(ctx: Context, report: Report) -> Reply:
    """One document may be the one asked for: ask, rather than link it on a guess (and rather
    than a menu of one)."""
    year = f", {report.year}" if report.year else ""
    return Reply(
        f"Do you mean {report.title} ({report.kind}{year})?",
        kind="confirm",
        ids=(report.id,),
        buttons=(Button("Yes, show it", f"/report {report.id}"), Button("No", "/others")),
    )


async def show_report(ctx: Context, arg: str) -> list[Reply]:
    """/report ID (the data of document buttons), or /report NAME: one document, a choice of
    documents, or the not-in-catalogue answer."""
    reports = ctx.knowledge.reports
    if arg in reports:
        return [report_reply(ctx, reports[arg])]
    if not arg:
        return [
            Reply(
                "Which document? Type /report and a name, such as /report pelka, "
                "or browse them all.",
                kind="help",
                buttons=(Button("Browse the partnership's reports", "/reports"),),
            )
        ]
    result = ctx.knowledge.index.search(arg)
    best = result.best
    if result.decision == "answer" and best is not None and best.id in reports:
        return [report_reply(ctx, reports[best.id])]
    offered = [m.id for m in choices_of(result) if m.id in reports] if result.decision else []
    if not offered:
        return [not_in_catalogue(ctx)]
    if len(offered) == 1:
        return [confirm_report(ctx, reports[offered[0]])]
    return [
        Reply(
            "Which of these documents do you mean?",
            kind="choices",
            ids=tuple(offered),
            buttons=tuple(Button(reports[r].title, f"/report {r}") for r in offered),
        )
    ]


# Session data while a choice among many documents is narrowed: the documents left and the
# facets asked. Kept until the next narrowing question, or a question, replaces it.
NARROWING = "narrowing"


def documents_reply(ctx: Context, ids: list[str]) -> Reply:
    """A few documents to choose from, one button each; one document is asked about."""
    reports = ctx.knowledge.reports
    if len(ids) == 1:
        return confirm_report(ctx, reports[ids[0]])
    shown = ids[:MAX_CHOICES]
    return Reply(
        "Which of these documents do you mean?",
        kind="choices",
        ids=tuple(shown),
        buttons=tuple(Button(reports[r].title, f"/report {r}") for r in shown),
    )


def narrow_reply(ctx: Context, ids: list[str], asked: tuple[str, ...] = ()) -> Reply:
    """More documents fit than the buttons hold: ask what tells them apart (area, year, kind
    of document), one question at a time (knowledge/narrowing.py); once few are left, they
    are the choices."""
    entries = _entries(ctx, ids)
    question = next_question(entries, asked)
    if question is None:
        ctx.session.data.pop(NARROWING, None)
        return documents_reply(ctx, [e.id for e in entries])
    ctx.session.data[NARROWING] = {"ids": [e.id for e in entries], "asked": list(asked)}
    return Reply(
        question.text,
        kind="narrow",
        id=question.facet,
        ids=tuple(e.id for e in entries),
        buttons=_narrow_buttons(question),
    )


def _narrow_buttons(question: Question) -> tuple[Button, ...]:
    return tuple(
        Button(value, f"/narrow {question.facet} {n}") for n, value in enumerate(question.values)
    )


def _entries(ctx: Context, ids: list[str]) -> list[SearchEntry]:
    wanted = set(ids)
    return [e for e in ctx.knowledge.index.entries if e.id in wanted]


async def narrow(ctx: Context, arg: str) -> list[Reply]:
    """/narrow FACET N (the data of a narrowing question's buttons): keep the documents with
    the Nth value, then ask the next question or offer what is left."""
    state = ctx.session.data.get(NARROWING)
    facet, _, number = arg.partition(" ")
    if not isinstance(state, dict) or not number.isdigit():
        return [
            Reply(
                "That choice is no longer open. Please ask for the document again.",
                kind="narrow-closed",
            )
        ]
    ids, asked = list(state.get("ids", [])), tuple(state.get("asked", []))
    entries = _entries(ctx, ids)
    question = next_question(entries, asked)
    if question is None or question.facet != facet or int(number) >= len(question.values):
        return [narrow_reply(ctx, [e.id for e in entries], asked)]  # a stale button: ask again
    choice = question.values[int(number)]
    left = keep(entries, question, choice)
    return [narrow_reply(ctx, [e.id for e in left], (*asked, answered(facet, choice)))]


async def list_reports(ctx: Context, arg: str) -> list[Reply]:
    """/reports: the groups as buttons; /reports GROUP: that group's documents as buttons.
    A group with no document (a heading of the national catalogue that this partnership's pack
    does not fill, such as its local reviews) is not offered."""
    knowledge = ctx.knowledge
    group = knowledge.groups.get(arg)
    if group is None:
        used = {r.group for r in knowledge.reports.values()}
        groups = [g for g in knowledge.groups.values() if g.id in used]
        buttons = tuple(Button(g.title, f"/reports {g.id}") for g in groups)
        intro = "Which documents would you like to see?"
        if arg:
            intro = f'There is no group called "{arg}". {intro}'
        return [Reply(intro, kind="groups", ids=tuple(g.id for g in groups), buttons=buttons)]
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
