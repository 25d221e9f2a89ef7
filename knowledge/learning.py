"""What case reviews found: a learning record per review, themes and sectors (learning.yaml).

Each record says what happened, the key learning and the main recommendations, in our own words,
every point with where it comes from (a section of the report, or the official summary's
address). A review whose source could not be read has `findings: false` and no points: the
assistant says it does not hold them, and never fills the gap. A briefing or summary whose
learning is another record's says so with `same_as`. Themes and sectors are one controlled list
each; a record names the ones it speaks to. Validated like every knowledge file; `check` warns
about records not yet checked against the report itself.

Pure: loading, and the look-ups the replies need (records by theme, by sector, by name).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.validation import EntryReader, Problems, check_unique_ids, entry_list, load_yaml
from knowledge.layers import Layers, layered
from knowledge.search import stem, words

FILE = "learning.yaml"
KINDS = (
    "scr",
    "lcspr",
    "national-review",
    "thematic-review",
    "inquiry",
    "annual-report",
    "practice-briefing",
    "learning-review",
)
# Which kinds are national (the Panel's, inquiries) rather than one area's review.
NATIONAL_KINDS = frozenset(("national-review", "annual-report", "inquiry"))
POINT_MAX = 240
HAPPENED_MAX = 320
SECONDARY = "(secondary)"  # in a point's `where`: another body's summary of the report


@dataclass(frozen=True)
class Point:
    """One learning point or recommendation, and where it comes from."""

    text: str
    where: str
    url: str

    @property
    def secondary(self) -> bool:
        return SECONDARY in self.where


@dataclass(frozen=True)
class Theme:
    id: str
    title: str
    words: tuple[str, ...]  # folded phrases that name it in a question
    reflect: tuple[str, ...] = ()  # questions for reflection, for a briefing on the theme


@dataclass(frozen=True)
class Sector:
    id: str
    title: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Review:
    id: str
    title: str
    kind: str
    year: int | None
    area: str
    url: str | None
    happened: str
    learning: tuple[Point, ...]
    recommendations: tuple[Point, ...]
    themes: tuple[str, ...]
    sectors: tuple[str, ...]
    checked: str  # the date the record was last checked against its sources
    findings: bool  # False: no readable source; the reply says we do not hold its findings
    same_as: tuple[str, ...] = ()  # a briefing or summary whose learning is in these records
    catalogue: bool = False  # a report of the catalogue (reports.yaml) has the same id

    @property
    def national(self) -> bool:
        return self.kind in NATIONAL_KINDS or self.id.startswith("panel-")

    @property
    def secondary(self) -> bool:
        """Whether any point rests on another body's summary rather than the report itself."""
        return any(p.secondary for p in (*self.learning, *self.recommendations))


# Capitalised words of titles that name no one review: kinds of document and bodies.
_NOT_NAMES = frozenset(
    (
        "serious case review reviews scr lcspr csprp panel national report reports briefing "
        "briefings summary executive full overview practitioner thematic learning lessons "
        "child children safeguarding board partnership borough council local annual "
        "practice inquiry presentation england the and of in on into for a an independent "
        "sexual exploitation abuse neglect murders murder death deaths young people person "
        "disabled lord operation out second first third multi agency north south east west "
        "department education nspcc baby gps covid sudi"
    ).split()
)


# Themes or sectors with their phrases as `_named` looks for them: (entry, ((" phrase ",
# length, " its stems " or ""), ...)).
Spaced = tuple[tuple[Any, tuple[tuple[str, int, str], ...]], ...]


@dataclass(frozen=True)
class Learning:
    themes: dict[str, Theme] = field(default_factory=dict)
    sectors: dict[str, Sector] = field(default_factory=dict)
    reviews: dict[str, Review] = field(default_factory=dict)
    # Each proper name of a record's title or area ("Pelka", "Bullfinch", "Coventry"), folded,
    # with the records holding their learning: made by load_learning.
    names: dict[str, frozenset[str]] = field(default_factory=dict)

    def named_by(self, said: Iterable[str]) -> set[str]:
        """The records a question names by a proper name of their title: "lessons from the
        Patrick review for adult services" names one even when the whole name does not fit."""
        return {r for word in said for r in self.names.get(word, ())}

    def record(self, review_id: str) -> Review | None:
        """The record holding a review's learning (a briefing's, its review's)."""
        review = self.reviews.get(review_id)
        if review is not None and review.same_as and not review.findings:
            first = self.reviews.get(review.same_as[0])
            return first if first is not None else review
        return review

    def carried_by(self, review_id: str) -> tuple[str, ...]:
        """The records whose learning a briefing, summary or presentation carries (`same_as`),
        when it holds none of its own."""
        review = self.reviews.get(review_id)
        if review is None or review.findings:
            return ()
        return tuple(r for r in review.same_as if r in self.reviews)

    def with_findings(self) -> list[Review]:
        return [r for r in self.reviews.values() if r.findings and not r.same_as]

    def about(self, theme: str | None = None, sector: str | None = None) -> list[Review]:
        """The reviews with findings on a theme and for a sector (either may be None): those
        most on the theme first (its words in what happened and what was learnt, then how
        early the record lists it), then newest first. Newest alone put the Panel's recent
        reviews on the child's voice ahead of the reviews that are about it."""
        found = [
            r
            for r in self.with_findings()
            if (theme is None or theme in r.themes) and (sector is None or sector in r.sectors)
        ]
        phrases = list(self.themes[theme].words) if theme in self.themes else []

        def on_theme(review: Review) -> tuple[int, int]:
            if theme is None:
                return (0, 0)
            said = " ".join([review.happened, *(p.text for p in review.learning)])
            return (-_mentions(said, phrases), review.themes.index(theme))

        return sorted(found, key=lambda r: (*on_theme(r), -(r.year or 0), r.title))

    def points_on(
        self, theme: str | None, sector: str | None, kind: str = "learning"
    ) -> list[tuple[Point, Review]]:
        """The recorded points of the reviews on a theme (and for a sector), the most to the
        point first: those that use the theme's or sector's own words, then the others, one
        review at a time, newest first."""
        phrases = [
            *(self.themes[theme].words if theme in self.themes else ()),
            *(self.sectors[sector].words if sector in self.sectors else ()),
        ]
        ranked = []
        for n, review in enumerate(self.about(theme, sector)):
            for m, point in enumerate(getattr(review, kind)):
                ranked.append((-_mentions(point.text, phrases), m, n, point, review))
        ranked.sort(key=lambda item: item[:3])
        return [(point, review) for *_, point, review in ranked]

    def theme_in(self, text: str) -> Theme | None:
        return _named(self._themes_spaced, text)

    def sector_in(self, text: str) -> Sector | None:
        return _named(self._sectors_spaced, text)

    @functools.cached_property
    def _themes_spaced(self) -> Spaced:
        return _spaced(self.themes.values())

    @functools.cached_property
    def _sectors_spaced(self) -> Spaced:
        return _spaced(self.sectors.values())

    def unchecked(self) -> list[Review]:
        """Records whose points rest in part on others' summaries: to check against the
        report itself."""
        return [r for r in self.with_findings() if r.secondary]


def on_focus(points: Iterable[Point], focus: frozenset[str]) -> list[Point]:
    """`points`, those with most of the `focus` stems first ("what should nursery staff take
    from the review about bruising": its points on bruises and nurseries), else as recorded."""
    listed = list(points)
    if not focus:
        return listed
    hits = [len(focus & {stem(w) for w in words(p.text)}) for p in listed]
    order = sorted(range(len(listed)), key=lambda i: -hits[i])
    return [listed[i] for i in order]


def _mentions(text: str, phrases: list[str]) -> int:
    """How many of `phrases` (folded) `text` uses, a word's other forms counting."""
    said = f" {' '.join(stem(w) for w in words(text))} "
    return sum(f" {' '.join(stem(w) for w in p.split())} " in said for p in phrases)


def _named(entries: Spaced, text: str) -> Any:
    """The entry one of whose words (phrases) the text has, the longest phrase winning (the
    first of equal length); `entries` as `_spaced` gives them. A phrase of several words counts
    in any of their forms ("a teacher abused" is "teacher abuse"); a single word only as it is
    ("sending" is not "SEND")."""
    folded = words(text)
    said = f" {' '.join(folded)} "
    stemmed = ""
    best, length = None, 0
    for entry, phrases in entries:
        for spaced, size, spaced_stems in phrases:
            if size <= length:
                continue
            if spaced in said:
                best, length = entry, size
            elif spaced_stems:
                stemmed = stemmed or f" {' '.join(stem(w) for w in folded)} "
                if spaced_stems in stemmed:
                    best, length = entry, size
    return best


def _spaced(entries: Iterable[Theme | Sector]) -> Spaced:
    """Each entry with its phrases as `_named` looks for them (a space either side), their
    lengths, and a phrase of several words in stems: made once, rather than for every phrase
    of every question."""
    return tuple((e, tuple((f" {p} ", len(p), _spaced_stems(p)) for p in e.words)) for e in entries)


def _spaced_stems(phrase: str) -> str:
    return f" {' '.join(stem(w) for w in phrase.split())} " if " " in phrase else ""


def _phrases(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(dict.fromkeys(" ".join(words(str(v))) for v in values if str(v).strip()))


def _points(r: EntryReader, key: str, record_url: str | None) -> tuple[Point, ...]:
    raw = r.raw.get(key) or []
    if not isinstance(raw, list):
        r.add(key, "expected a list of {point, where, url}")
        return ()
    points = []
    for n, item in enumerate(raw, 1):
        where = f"{key}.{n}"
        if not isinstance(item, dict) or not isinstance(item.get("point"), str):
            r.add(where, "expected point, where and url")
            continue
        text = " ".join(item["point"].split())
        source = " ".join(str(item.get("where") or "").split())
        url = item.get("url") or record_url
        if not source:
            r.add(f"{where}.where", "missing: say where in the source this comes from")
            continue
        if not url:
            r.add(f"{where}.url", "missing: the address where this was read")
            continue
        if len(text) > POINT_MAX:
            r.add(f"{where}.point", f"too long: {len(text)} characters, at most {POINT_MAX}")
            continue
        points.append(Point(text, source, str(url)))
    return tuple(points)


def load_learning(layers: Layers, problems: Problems) -> Learning:
    """learning.yaml, national then the pack's -> Learning; every problem recorded. Themes and
    sectors are the national lists; a pack adds (or replaces) review records. A knowledge
    folder without the file (a small test fixture) has no learning records."""
    if not (layers.national / FILE).exists():
        return Learning()
    data = load_yaml(layers.national / FILE, problems)
    if data is None:
        return Learning()
    themes: dict[str, Theme] = {}
    for i, raw in enumerate(entry_list(data, "themes", FILE, problems), 1):
        r = EntryReader(problems, FILE, raw, {"id", "title", "words", "reflect"}, i)
        themes[r.id] = Theme(r.id, r.text("title"), _phrases(raw.get("words")), r.texts("reflect"))
    sectors: dict[str, Sector] = {}
    for i, raw in enumerate(entry_list(data, "sectors", FILE, problems), 1):
        r = EntryReader(problems, FILE, raw, {"id", "title", "words"}, i)
        sectors[r.id] = Sector(r.id, r.text("title"), _phrases(raw.get("words")))
    reviews: list[Review] = []
    allowed = {
        "id", "catalogue", "title", "kind", "year", "area", "url", "link", "happened",
        "learning", "recommendations", "themes", "sectors", "checked", "findings", "same_as",
    }  # fmt: skip
    for file, i, raw in layered(layers, FILE, "reviews", problems):
        reviews.append(_review(EntryReader(problems, file, raw, allowed, i), themes, sectors))
    check_unique_ids([r.id for r in reviews], FILE, problems)
    by_id = {r.id: r for r in reviews}
    for review in reviews:
        for other in review.same_as:
            if other not in by_id:
                problems.add(FILE, review.id, "same_as", f"no record with id {other!r}")
    return Learning(themes, sectors, by_id, _proper_names(by_id))


def without_topic_words(
    learning: Learning, topics: Mapping[str, Any], place: Iterable[str] = ()
) -> Learning:
    """`learning` whose proper names leave out every word of a topic's names, and the words of
    the partnership's own names and area (`place`): "Sprocket" in "Sprocket failure review"
    names the review only if no topic is called by that word, and "Bedford" names none. A
    topic's example questions do not count: "what did the national review into Arthur and Star
    find" is asked of a topic on the Panel's reviews, and still names that review."""
    used = {w for t in topics.values() for name in (t.title, *t.aliases) for w in words(name)}
    used |= set(place)
    names = {w: ids for w, ids in learning.names.items() if w not in used}
    return dataclasses.replace(learning, names=names)


def _proper_names(reviews: dict[str, Review]) -> dict[str, frozenset[str]]:
    """Each capitalised word of a title (a name: "Serious case review - Daniel Pelka") or of
    its area ("Coventry"), not a kind of document, with the records whose learning it leads
    to."""
    in_titles: dict[str, set[str]] = {}
    in_areas: dict[str, set[str]] = {}
    for review in reviews.values():
        holder = review.same_as[0] if review.same_as and not review.findings else review.id
        for found, text in ((in_titles, review.title), (in_areas, review.area)):
            for part in re.findall(r"[^\W\d_]{3,}", text):
                folded = " ".join(words(part))
                if part[0].isupper() and folded and folded not in _NOT_NAMES:
                    found.setdefault(folded, set()).add(holder)
    # A title's name shared by two records names both ("Rochdale": the question is which);
    # an area shared names neither ("Bedford", the home of several).
    names = {word: ids for word, ids in in_areas.items() if len(ids) == 1}
    for word, ids in in_titles.items():
        if len(ids) <= 2:
            names[word] = ids | names.get(word, set())
    return {word: frozenset(ids) for word, ids in names.items()}


def _review(r: EntryReader, themes: dict[str, Theme], sectors: dict[str, Sector]) -> Review:
    raw = r.raw
    kind = r.text("kind")
    if kind and kind not in KINDS:
        r.add("kind", f"unknown kind {kind!r} (one of: {', '.join(KINDS)})")
    same = raw.get("same_as")
    same_as = tuple([same] if isinstance(same, str) else (same or []))
    url = r.url("url", required=False)
    findings = raw.get("findings") is True
    learning = _points(r, "learning", url)
    recommendations = _points(r, "recommendations", url)
    if findings and not (learning or recommendations):
        r.add("learning", "findings: true needs learning points (or say findings: false)")
    if not findings and (learning or recommendations):
        r.add("findings", "points are given: say findings: true, or remove them")
    for key, known in (("themes", themes), ("sectors", sectors)):
        for value in r.texts(key):
            if value not in known:
                r.add(key, f"unknown {key[:-1]} {value!r} (add it to the list first)")
    checked = raw.get("checked")
    if isinstance(checked, datetime.date):
        checked = checked.isoformat()
    if findings and not checked:
        r.add("checked", "missing: the date the record was checked against its sources")
    happened = " ".join(str(raw.get("happened") or "").split())
    if len(happened) > HAPPENED_MAX:
        r.add("happened", f"too long: {len(happened)} characters, at most {HAPPENED_MAX}")
    return Review(
        id=r.id,
        title=r.text("title", max_length=200),
        kind=kind,
        year=r.integer("year"),
        area=str(raw.get("area") or ""),
        url=url,
        happened=happened,
        learning=learning,
        recommendations=recommendations,
        themes=tuple(t for t in r.texts("themes") if t in themes),
        sectors=tuple(s for s in r.texts("sectors") if s in sectors),
        checked=str(checked or ""),
        findings=findings,
        same_as=same_as,
        catalogue=raw.get("catalogue") is True,
    )
