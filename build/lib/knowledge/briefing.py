"""A 7-minute briefing, composed only from the learning records, and its Word document.

The usual shape of the partnerships' 7-minute briefings: background, why it matters, what
happened, the key learning, what should change, questions for reflection, and where to find
out more; then a record that the team used it. Every learning point and recommendation is a
recorded one, named with its review and where it comes from; the questions for reflection are
the theme's own (learning.yaml); nothing else is written here. The briefing says which reviews
it drew on and when each record was last checked.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from knowledge.learning import Learning, Point, Review, on_focus

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MAX_POINTS = 7  # key learning points (and recommendations) in one briefing
MAX_REVIEWS = 5  # reviews drawn on for a theme's briefing


@dataclass(frozen=True)
class Part:
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Briefing:
    title: str
    parts: tuple[Part, ...]
    reviews: tuple[Review, ...]
    # The key learning points without their citations, for a chat's short summary (the
    # document cites each one).
    points: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        # The title starts "7-minute briefing: ..."; its slug is the whole name.
        slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")[:78]
        return f"{slug}.docx"


def cited(point: Point, review: Review) -> str:
    """A point with the review it comes from and where in it."""
    return f"{point.text} ({short_title(review)}: {point.where})"


def short_title(review: Review) -> str:
    year = f", {review.year}" if review.year else ""
    return f"{review.title}{year}"


def compose(
    learning: Learning,
    review: Review | None = None,
    theme: str | None = None,
    sector: str | None = None,
    focus: frozenset[str] = frozenset(),
) -> Briefing | None:
    """The briefing on one review (its points on `focus` first: learning.on_focus), or on a
    theme (optionally for a sector), or for a sector; None when no record with findings fits."""
    if review is not None:
        reviews = [review] if review.findings else []
        subject = review.title
        themes = list(review.themes)
        key = [(p, review) for p in on_focus(review.learning, focus)[:MAX_POINTS]]
        changes = [cited(p, review) for p in review.recommendations][:MAX_POINTS]
    else:
        ranked = learning.points_on(theme, sector)
        drawn_on = list(dict.fromkeys(r.id for _, r in ranked))[:MAX_REVIEWS]
        reviews = [learning.reviews[i] for i in drawn_on]
        names = [learning.themes[theme].title] if theme else []
        names += [f"for {learning.sectors[sector].title.lower()}"] if sector else []
        subject = " ".join(names) or "learning from case reviews"
        themes = [theme] if theme else _common_themes(reviews)
        key = [(p, r) for p, r in ranked if r.id in drawn_on][:MAX_POINTS]
        changes = [
            cited(p, r)
            for p, r in learning.points_on(theme, sector, "recommendations")
            if r.id in drawn_on
        ][:MAX_POINTS]
    if not reviews:
        return None
    points = [cited(p, r) for p, r in key]
    reflect = [q for t in themes if t in learning.themes for q in learning.themes[t].reflect]
    drawn = [f"{short_title(r)} ({_kind(r)}, {r.area or 'area not recorded'})" for r in reviews]
    covers = sorted({learning.themes[t].title for r in reviews for t in r.themes})
    sectors = sorted({learning.sectors[s].title for r in reviews for s in r.sectors})
    parts = (
        Part("1. Background", (f"This briefing draws on: {'; '.join(drawn)}.",)),
        Part(
            "2. Why it matters",
            (
                f"The review{'s' if len(reviews) > 1 else ''} found learning on: "
                f"{', '.join(covers) or subject}.",
                f"It speaks to: {', '.join(sectors) or 'every agency'}.",
            ),
        ),
        Part("3. What happened", tuple(f"{short_title(r)}: {r.happened}" for r in reviews)),
        Part("4. Key learning", tuple(points) or ("No learning points are recorded.",)),
        Part(
            "5. What should change",
            tuple(changes) or ("No recommendations are recorded for these reviews.",),
        ),
        Part("6. Questions for reflection", tuple(dict.fromkeys(reflect))[:6]),
        Part(
            "7. Find out more",
            tuple(
                f"{short_title(r)}: {r.url or 'no public address is known'} (record checked "
                f"{r.checked})"
                for r in reviews
            ),
        ),
    )
    return Briefing(
        f"7-minute briefing: {subject}", parts, tuple(reviews), tuple(p.text for p, _ in key)
    )


def _kind(review: Review) -> str:
    return review.kind.replace("-", " ")


def _common_themes(reviews: list[Review]) -> list[str]:
    counts: dict[str, int] = {}
    for review in reviews:
        for theme in review.themes:
            counts[theme] = counts.get(theme, 0) + 1
    return sorted(counts, key=lambda t: -counts[t])[:2]


def as_text(briefing: Briefing) -> str:
    lines = [briefing.title]
    for part in briefing.parts:
        lines += ["", part.title, *(f"- {line}" for line in part.lines)]
    return "\n".join(lines)


def to_docx(briefing: Briefing, partnership: str) -> bytes:
    """The briefing as a Word document, ready to print for a team meeting."""
    import docx  # python-docx; imported here: only a briefing's download needs it
    from docx.shared import Pt

    document = docx.Document()
    document.styles["Normal"].font.size = Pt(11)
    document.add_heading(briefing.title, level=1)
    document.add_paragraph(f"{partnership}. Composed from recorded, cited learning.")
    for part in briefing.parts:
        document.add_heading(part.title, level=2)
        for line in part.lines:
            document.add_paragraph(line, style="List Bullet")
    document.add_heading("Record of use", level=2)
    table = document.add_table(rows=2, cols=4)
    table.style = "Table Grid"
    for cell, label in zip(table.rows[0].cells, ("Team", "Date", "Led by", "Actions agreed"),
                           strict=True):  # fmt: skip
        cell.text = label
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
