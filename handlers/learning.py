"""Learning from case reviews: what a review found, the reviews on a theme, what recurs across
them, and a 7-minute briefing (knowledge/learning.py, knowledge/briefing.py).

Every point shown is a recorded one, with its review named; a review whose findings are not held
says so and guesses nothing. Commands, and the data of the buttons:

    /learning review ID [recommendations]    one review's findings (or recommendations)
    /learning reviews THEME [national|local] [SECTOR]   the reviews on a theme, most on it first
    /learning recurring THEME|- [SECTOR]      what recurs across them
    /briefing WHAT                            a 7-minute briefing on a review or a theme, as .docx
"""

from __future__ import annotations

import dataclasses
import re

from bot.core.conversation import Context
from bot.core.replies import Button, File, Link, Reply
from knowledge.briefing import CONTENT_TYPE, cited, compose, short_title, to_docx
from knowledge.learning import Learning, Point, Review, on_focus
from knowledge.learning_ask import (
    BRIEFING,
    FINDINGS,
    RECOMMENDATIONS,
    RECURRING,
    REVIEWS,
    LearningAsk,
    read_learning_ask,
)
from knowledge.query import read_query

FIRST_MAX = 700  # a first reply's body, as a topic's
LIST_MAX = 8  # reviews listed in one reply
RECURRING_MAX = 5
NOT_HELD = (
    "I don't hold the findings of that review: I could not read a source for them, and I won't "
    "guess."
)


async def reply(ctx: Context, ask: LearningAsk) -> list[Reply]:
    """The replies for a question about the learning from reviews."""
    learning = ctx.knowledge.learning
    if ask.guessed and ask.review is None:
        review = learning.reviews[ask.guessed[0]]
        action = "recommendations" if ask.want == RECOMMENDATIONS else ""
        yes = f"/learning review {review.id} {action}".strip()
        if ask.document and review.id in ctx.knowledge.reports:
            yes = f"/report {review.id}"  # the document asked for, as when named
        return [
            Reply(
                f"Do you mean {_described(review)}?",
                kind="confirm",
                ids=(review.id,),
                buttons=(Button("Yes", yes), Button("No", "/others")),
            )
        ]
    if ask.want == BRIEFING:
        return [briefing_reply(ctx, ask)]
    if ask.several:
        reviews = [learning.reviews[i] for i in ask.several]
        return [several_reply(reviews, ask.focus, ask.want == RECOMMENDATIONS)]
    if ask.review is not None:
        review = learning.reviews[ask.review]
        # Found by its story, not its name: which review this is comes first, so that a wrong
        # one is seen at once, and "Not this one" is a tap away.
        lead = f"This sounds like {_described(review)}.\n\n" if ask.described else ""
        if ask.want == RECOMMENDATIONS:
            found = recommendations_reply(review, lead)
        else:
            found = findings_reply(review, ask.focus, lead)
        if ask.described:
            found = dataclasses.replace(
                found, buttons=(*found.buttons, Button("Not this one", "/others"))
            )
        return [found]
    if ask.want == REVIEWS and ask.theme:
        return [reviews_reply(learning, ask.theme, ask.scope, ask.sector)]
    return [recurring_reply(learning, ask.theme, ask.sector, ask.scope)]


def _described(review: Review) -> str:
    """The review's short title, and its area when the title lacks it: a review found by its
    story is shown with where it happened, so a wrong one is seen at once."""
    area = review.area.split(" (")[0].split(" - ")[0].strip()
    if (
        review.national
        or area.lower() in ("not recorded", "")
        or area.lower() in review.title.lower()
    ):
        return short_title(review)
    year = f", {review.year}" if review.year else ""
    return f"{review.title} ({area}{year})"


def _links(*reviews: Review) -> tuple[Link, ...]:
    return tuple(Link(short_title(r), r.url) for r in reviews if r.url)


def _fit(head: str, lines: list[str], limit: int = FIRST_MAX) -> tuple[str, list[str]]:
    """`head` and as many of `lines` as fit in `limit`; the lines left over."""
    text, rest = head, list(lines)
    while rest and len(f"{text}\n- {rest[0]}") <= limit:
        text = f"{text}\n- {rest.pop(0)}"
    return text, rest


def findings_reply(review: Review, focus: frozenset[str] = frozenset(), lead: str = "") -> Reply:
    """What happened, then the key learning (as much as fits with `lead` in front, the points
    on what was asked first), the link, and More."""
    buttons = []
    if not review.findings:
        text = f"{lead}{review.happened}\n\n{NOT_HELD}".strip()
        return Reply(text, kind="learning", title=review.title, id=review.id,
                     links=_links(review))  # fmt: skip
    points = [p.text for p in on_focus(review.learning, focus)]
    # The story's first sentence: the rest of it would push the learning asked for out of a
    # first reply; More gives it whole.
    story = _first_sentence(review.happened)
    text, rest = _fit(f"{lead}{story}\n\nKey learning:", points)
    if rest or review.recommendations or story != review.happened:
        buttons.append(Button("More", f"/learning review {review.id} more"))
    buttons.append(Button("7-minute briefing", f"/briefing {review.id}"))
    return Reply(
        f"{text}\n\n{_checked(review)}",
        kind="learning",
        title=f"What the review found: {review.title}",
        id=review.id,
        buttons=tuple(buttons),
        links=_links(review),
    )


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text, maxsplit=1)[0]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def _checked(review: Review) -> str:
    where = "others' summaries of it" if review.secondary else "the report and its summary"
    return f"From {where}; record checked {review.checked}."


def more_reply(review: Review) -> Reply:
    """Every learning point and recommendation of a review, each with where it comes from."""
    lines = [review.happened, "", "Key learning:"]
    lines += [f"- {p.text} ({p.where})" for p in review.learning]
    if review.recommendations:
        lines += ["", "Main recommendations:"]
        lines += [f"- {p.text} ({p.where})" for p in review.recommendations]
    return Reply("\n".join(lines), kind="learning-more", title=review.title, id=review.id,
                 links=_links(review))  # fmt: skip


def recommendations_reply(review: Review, lead: str = "") -> Reply:
    if not review.findings:
        return findings_reply(review, lead=lead)
    if not review.recommendations:
        text, _ = _fit(
            f"{lead}I hold no recommendations for that review; its key learning:",
            [p.text for p in review.learning],
        )
    else:
        text, _ = _fit(f"{lead}Its main recommendations:", [p.text for p in review.recommendations])
    return Reply(
        f"{text}\n\n{_checked(review)}",
        kind="learning",
        title=f"What the review recommended: {review.title}",
        id=review.id,
        buttons=(Button("7-minute briefing", f"/briefing {review.id}"),),
        links=_links(review),
    )


def reviews_reply(
    learning: Learning, theme: str, scope: str = "", sector: str | None = None
) -> Reply:
    """The reviews on a theme, most on it first, one line each, with buttons to narrow them."""
    found = [r for r in learning.about(theme, sector) if _in_scope(r, scope)]
    title = learning.themes[theme].title
    narrowed = " ".join(x for x in (scope, learning.sectors[sector].title if sector else "") if x)
    if not found:
        return Reply(
            f"I hold no {narrowed + ' ' if narrowed else ''}review findings on {title.lower()}.",
            kind="learning",
            buttons=(Button("All reviews on it", f"/learning reviews {theme}"),),
        )
    # A list is for scanning: each review's name and one short line of what happened; the
    # whole record is one button away.
    lines = [f"{short_title(r)}: {_gist(r.happened)}" for r in found[:LIST_MAX]]
    text, _ = _fit(f"Reviews on {title.lower()}{f' ({narrowed})' if narrowed else ''}, those "
                   "most on it first:", lines, FIRST_MAX + 300)  # fmt: skip
    buttons = [Button(_label(r), f"/learning review {r.id}") for r in found[:4]]
    if not scope:
        buttons += [Button("National only", f"/learning reviews {theme} national"),
                    Button("Local only", f"/learning reviews {theme} local")]  # fmt: skip
    buttons.append(Button("What recurs across them", f"/learning recurring {theme}"))
    return Reply(text, kind="learning-list", title=f"Reviews: {title}",
                 ids=tuple(r.id for r in found), buttons=tuple(buttons))  # fmt: skip


GIST_MAX = 90


def _gist(text: str) -> str:
    """The start of `text`, cut at a word under GIST_MAX characters."""
    first = _first_sentence(text).rstrip(".")
    if len(first) <= GIST_MAX:
        return first
    return first[:GIST_MAX].rsplit(" ", 1)[0] + "..."


def _label(review: Review) -> str:
    label = short_title(review)
    return label if len(label) <= 40 else f"{label[:37]}..."


def _in_scope(review: Review, scope: str) -> bool:
    return not scope or (scope == "national") == review.national


def recurring_reply(
    learning: Learning, theme: str | None, sector: str | None, scope: str = ""
) -> Reply:
    """3-5 points from the reviews on a theme (or for a sector), national or local ones only
    when `scope` says, the most to the point first, from as many reviews as there are, each
    naming its review."""
    found = [r for r in learning.about(theme, sector) if _in_scope(r, scope)]
    subject = learning.themes[theme].title.lower() if theme else ""
    audience = f" for {learning.sectors[sector].title.lower()}" if sector else ""
    if not found:
        return Reply(
            f"I hold no review findings on {subject or 'that'}{audience}.", kind="learning"
        )
    chosen: list[tuple[Point, Review]] = []
    for point, review in learning.points_on(theme, sector):
        if (
            len(chosen) < RECURRING_MAX
            and _in_scope(review, scope)
            and all(r.id != review.id for _, r in chosen)
        ):
            chosen.append((point, review))
    kind = f"{scope} case reviews" if scope else "case reviews"
    head = f"What {kind} found{f' on {subject}' if subject else ''}{audience}"
    text, _ = _fit(f"{head} ({len(found)} reviews with recorded learning):",
                   [cited(p, r) for p, r in chosen], FIRST_MAX + 300)  # fmt: skip
    buttons = [Button(_label(r), f"/learning review {r.id}") for _, r in chosen[:3]]
    buttons.append(Button("7-minute briefing", f"/briefing {theme or '-'} {sector or ''}".strip()))
    return Reply(text, kind="learning-recurring", title=f"Learning: {subject or audience.strip()}",
                 ids=tuple(r.id for _, r in chosen), buttons=tuple(buttons),
                 links=_links(*(r for _, r in chosen)))  # fmt: skip


def several_reply(
    reviews: list[Review], focus: frozenset[str] = frozenset(), recommended: bool = False
) -> Reply:
    """The reviews named together, each with its points on what was asked first, in turn:
    the first point of each, then the second of each, as many as fit. `recommended`: their
    recommendations, not what they found."""
    held = [r for r in reviews if r.findings and (r.recommendations if recommended else r.learning)]
    ranked = [on_focus(r.recommendations if recommended else r.learning, focus) for r in held]
    lines = [
        cited(points[n], review)
        for n in range(max((len(p) for p in ranked), default=0))
        for review, points in zip(held, ranked, strict=True)
        if n < len(points)
    ]
    names = "; ".join(short_title(r) for r in reviews)
    what = "recommendations" if recommended else "findings"
    if not lines:
        return Reply(f"I hold no {what} for {names}.", kind="learning")
    head = "What the reviews recommended" if recommended else "What the reviews found"
    text, _ = _fit(f"{head} ({names}):", lines, FIRST_MAX + 300)
    buttons = tuple(Button(_label(r), f"/learning review {r.id}") for r in held[:4])
    return Reply(text, kind="learning-recurring", title=head,
                 ids=tuple(r.id for r in held), buttons=buttons,
                 links=_links(*held))  # fmt: skip


def briefing_reply(ctx: Context, ask: LearningAsk) -> Reply:
    """The briefing in short, with its Word document attached."""
    learning = ctx.knowledge.learning
    review = learning.reviews.get(ask.review or "")
    briefing = compose(learning, review, ask.theme, ask.sector, ask.focus)
    if briefing is None:
        if review is not None:
            return findings_reply(review, ask.focus)
        return Reply("I hold no recorded learning to make that briefing from.", kind="learning")
    data = to_docx(briefing, ctx.settings.board.name)
    summary, _ = _fit(f"{briefing.title}. Key learning:", list(briefing.points[:3]), FIRST_MAX)
    return Reply(
        f"{summary}\n\nThe whole briefing (background, why it matters, what happened, key "
        "learning, what should change, questions for reflection, where to find out more, each "
        "point with its source) is attached as a Word document.",
        kind="briefing",
        title=briefing.title,
        ids=tuple(r.id for r in briefing.reviews),
        files=(File(briefing.filename, CONTENT_TYPE, data),),
        links=_links(*briefing.reviews),
    )


async def learning_command(ctx: Context, arg: str) -> list[Reply]:
    """/learning ...: the data of this module's buttons (see the module's docstring)."""
    learning = ctx.knowledge.learning
    action, _, rest = arg.strip().partition(" ")
    words = rest.split()
    if action == "review" and words and words[0] in learning.reviews:
        review = learning.reviews[words[0]]
        option = words[1] if len(words) > 1 else ""
        if option == "more":
            return [more_reply(review)]
        if option == "recommendations":
            return [recommendations_reply(review)]
        return [findings_reply(review)]
    if action in ("reviews", "recurring") and words:
        theme = words[0] if words[0] in learning.themes else None
        scope = next((w for w in words[1:] if w in ("national", "local")), "")
        sector = next((w for w in words[1:] if w in learning.sectors), None)
        if action == "reviews" and theme:
            return [reviews_reply(learning, theme, scope, sector)]
        if theme or sector:
            return [recurring_reply(learning, theme, sector)]
    return [Reply("Ask me what a review found, or about the reviews on a theme.", kind="help")]


async def briefing_command(ctx: Context, arg: str) -> list[Reply]:
    """/briefing WHAT: a 7-minute briefing on a review (its name) or a theme."""
    learning = ctx.knowledge.learning
    words = arg.split()
    if words and (words[0] in learning.reviews or words[0] in learning.themes or words[0] == "-"):
        review = words[0] if words[0] in learning.reviews else None
        theme = words[0] if words[0] in learning.themes else None
        sector = next((w for w in words[1:] if w in learning.sectors), None)
        return [briefing_reply(ctx, LearningAsk(BRIEFING, review, theme, sector))]
    if not arg.strip():
        themes = sorted(learning.themes.values(), key=lambda t: t.title)[:8]
        return [
            Reply(
                'A 7-minute briefing on what? Name a review ("/briefing Daniel Pelka") or a '
                'theme ("/briefing professional curiosity"), or choose:',
                kind="help",
                buttons=tuple(Button(t.title, f"/briefing {t.id}") for t in themes),
            )
        ]
    knowledge = ctx.knowledge
    ask = read_learning_ask(
        learning, knowledge.index, read_query(f"7 minute briefing on {arg}", knowledge.index)
    )
    if ask is None or ask.want != BRIEFING:
        return [
            Reply(
                f"I can't find a review or a theme called {arg.strip()!r}. Try a review's name or "
                "a theme such as neglect or professional curiosity.",
                kind="help",
            )
        ]
    return [briefing_reply(ctx, ask)]


__all__ = ["FINDINGS", "RECURRING", "REVIEWS", "briefing_command", "learning_command", "reply"]
