"""YAML under knowledge/ -> frozen, validated objects (`Knowledge`).

Two layers: the national knowledge (knowledge/*.yaml), shared by every partnership, and one
partnership's pack (knowledge/partnerships/<id>/, config/partnership.py). A pack's topics and
reports add to the national ones, and one with a national entry's id replaces it; a pack's own
notification form, threshold guide or Word template replaces the national file whole.

Every problem is collected and reported as `file: entry: field: what is wrong`; `load_knowledge`
raises KnowledgeError if there is any, so the assistant never starts on a half-valid base.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.settings import CONTACT_KEYS
from config.validation import (
    EntryReader,
    KnowledgeError,
    Problems,
    check_unique_ids,
    entry_list,
    load_yaml,
    parsed_from,
)
from knowledge.cache import Cache, InMemory
from knowledge.coverage import Source as CoverageSource
from knowledge.coverage import load_coverage
from knowledge.decline import Decline, load_decline
from knowledge.entries import Action, Check, Group, Report, Topic
from knowledge.form import Form, load_form
from knowledge.layers import Layers, layered
from knowledge.learning import Learning, load_learning, without_topic_words
from knowledge.names import TopicNames
from knowledge.passages import TopicText
from knowledge.search import SearchEntry, SearchIndex, common_english, words
from knowledge.semantic import SemanticIndex, model_future
from knowledge.threshold import ThresholdGuide, load_threshold
from knowledge.urgent import UrgentDetector, read_urgent

__all__ = [
    "Action",
    "Check",
    "Group",
    "Knowledge",
    "KnowledgeError",
    "Report",
    "Topic",
    "load_knowledge",
]

# A topic's first reply is what a practitioner reads on a phone between two visits: what
# applies now and what to do, in a few sentences. Writers aim at about 600 characters; `check`
# refuses more than 700. The rest goes in `more`, shown behind a "More" button.
FIRST_REPLY_MAX = 700
MORE_MAX = 1200  # Telegram's limit is 4096; one screen on a phone is the real limit
SUMMARY_MAX = 300
COMPARE_MAX = 400  # one or two sentences, shown under the two topics' short forms
# A facet answer or a check's answer leads a reply: one or two sentences.
FACET_MAX = 240
# The facets a question may ask for (knowledge/facets.py reads which one a question asks).
FACETS = ("what", "when", "who", "how", "next")
# How a check's answer starts: the yes or the no, then its exception.
CHECK_STARTS = ("Yes", "No", "Not always", "Not usually", "Usually", "Sometimes", "Only")
ABOUT_MAX = 700  # what an action does: as short as a topic's first reply

# What a report's `url` is. "coverage" (news or a press release about the report) is never
# presented as the report itself, and a full report may not rest on coverage alone.
LINK_KINDS = ("official", "archive", "coverage")

REPORT_KINDS = (
    "full report",
    "executive summary",
    "practitioner briefing",
    "briefing paper",
    "inquiry report",
    "panel report",
    "presentation",
    "form",
    "campaign material",
    "repository",
    "guidance",
)


@dataclass(frozen=True)
class Knowledge:
    topics: dict[str, Topic]
    groups: dict[str, Group]
    reports: dict[str, Report]
    actions: dict[str, Action]
    index: SearchIndex
    threshold: ThresholdGuide
    form: Form
    # The live-concern detector (urgent.yaml): the core asks it before any other routing.
    urgent: UrgentDetector
    # Topics' and actions' names by meaning; its vectors are computed in the background.
    semantic: SemanticIndex = field(default_factory=lambda: SemanticIndex(()))
    # The topics' own text (BM25), and what is declined as not ours (decline.yaml).
    text: TopicText = field(default_factory=lambda: TopicText({}))
    decline: Decline = field(default_factory=Decline)
    # What case reviews found (learning.yaml): records, themes, sectors.
    learning: Learning = field(default_factory=Learning)
    # The canonical index and what answers each line (coverage.yaml).
    coverage: tuple[CoverageSource, ...] = ()
    # The words of the partnership's names and area ("bedford", "borough"): a question about
    # the place ("is the bedford borough bus depot open") is not about a topic that names it.
    place_words: frozenset[str] = frozenset()
    # The topics' names, found word for word in a longer question (knowledge/names.py).
    names: TopicNames = field(default_factory=lambda: TopicNames(()))

    async def ready(self) -> None:
        """Wait (without blocking the event loop) until questions can be matched by meaning."""
        await self.semantic.ready()
        await self.decline.meaning.ready()
        if self.urgent.meaning is not None:
            await self.urgent.meaning.ready()

    def wait(self) -> None:
        """Wait until every vector is there (`check`, which writes them to the cache)."""
        self.semantic.wait()
        self.decline.meaning.wait()
        if self.urgent.meaning is not None:
            self.urgent.meaning.wait()

    def comparison(self, first: str, second: str) -> str | None:
        """The note on how two topics differ, written under either of them, or None."""
        for one, other in ((first, second), (second, first)):
            topic = self.topics.get(one)
            if topic is not None:
                for other_id, note in topic.compare:
                    if other_id == other:
                        return note
        return None


def _check_learning_ids(learning: Learning, reports: dict[str, Report], problems: Problems) -> None:
    """A record marked as the catalogue's must have the id of a report in it."""
    for review in learning.reviews.values():
        if review.catalogue and review.id not in reports:
            problems.add("learning.yaml", review.id, "catalogue", "no report with this id")


# What a pack may say to extend a national topic (knowledge/layers.py).
EXTENSION_KEYS = {"id", "local", "local_more", "questions", "aliases", "sources", "related"}


def _extend_topic(base: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """A national topic with a pack's local part: its `local` after the answer, `local_more`
    after the more, and its names and sources after the national ones."""
    merged = dict(base)
    unknown = set(local) - EXTENSION_KEYS
    if unknown:
        # Reported as the national entry's unknown fields, with the pack's names of them.
        merged.update({f"local.{k}": local[k] for k in unknown})
    if local.get("local"):
        merged["answer"] = f"{str(base.get('answer', '')).rstrip()} {local['local']}"
    if local.get("local_more"):
        merged["more"] = f"{str(base.get('more') or '').rstrip()} {local['local_more']}".strip()
    for key in ("questions", "aliases", "sources", "related"):
        merged[key] = [*(base.get(key) or []), *(local.get(key) or [])]
    return merged


def _load_topics(layers: Layers, problems: Problems) -> dict[str, Topic]:
    allowed = {
        "id",
        "title",
        "answer",
        "more",
        "questions",
        "aliases",
        "related",
        "sources",
        "contacts",
        "compare",
        "facets",
        "checks",
    }
    topics: list[Topic] = []
    extension = ("answer", _extend_topic)
    for file, i, raw in layered(layers, "topics.yaml", "topics", problems, extension):
        r = EntryReader(problems, file, raw, allowed, i)
        topics.append(
            Topic(
                id=r.id,
                title=r.text("title", max_length=120),
                answer=r.text("answer", max_length=FIRST_REPLY_MAX),
                more=r.text("more", required=False, max_length=MORE_MAX),
                questions=r.texts("questions", required=True),
                aliases=r.texts("aliases"),
                related=r.texts("related"),
                sources=r.sources(),
                contacts=_contact_keys(r),
                compare=_compare_notes(r, raw.get("compare")),
                facets=_facets(r, raw.get("facets")),
                checks=_checks(r, raw.get("checks")),
            )
        )
    check_unique_ids([t.id for t in topics], "topics.yaml", problems)
    return {t.id: t for t in topics}


def _contact_keys(r: EntryReader) -> tuple[str, ...]:
    keys = r.texts("contacts")
    for key in keys:
        if key not in CONTACT_KEYS:
            r.add("contacts", f"unknown contact {key!r} (one of: {', '.join(CONTACT_KEYS)})")
    return tuple(k for k in keys if k in CONTACT_KEYS)


def _short(r: EntryReader, where: str, value: Any) -> str | None:
    """One or two sentences of text, at most FACET_MAX characters, or None (recorded)."""
    if not isinstance(value, str) or not value.strip():
        r.add(where, "expected a sentence or two of text")
        return None
    text = " ".join(value.split())
    if len(text) > FACET_MAX:
        r.add(where, f"too long: {len(text)} characters, at most {FACET_MAX}")
        return None
    return text


def _facets(r: EntryReader, value: Any) -> tuple[tuple[str, str], ...]:
    """`facets: {what: ..., when: ..., who: ..., how: ..., next: ...}`."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        r.add("facets", f"expected a mapping of facet -> text ({', '.join(FACETS)})")
        return ()
    facets = []
    for name, text in value.items():
        if name not in FACETS:
            r.add(f"facets.{name}", f"unknown facet (one of: {', '.join(FACETS)})")
            continue
        short = _short(r, f"facets.{name}", text)
        if short is not None:
            facets.append((str(name), short))
    return tuple(facets)


def _checks(r: EntryReader, value: Any) -> tuple[Check, ...]:
    """`checks: [{ask: a yes/no question, say: Yes/No and the exception}]`."""
    if value is None:
        return ()
    if not isinstance(value, list):
        r.add("checks", "expected a list of {ask, say}")
        return ()
    checks = []
    for n, item in enumerate(value, 1):
        where = f"checks.{n}"
        if not isinstance(item, dict) or set(item) != {"ask", "say"}:
            r.add(where, "expected ask (the question) and say (its answer)")
            continue
        ask, say = _short(r, f"{where}.ask", item["ask"]), _short(r, f"{where}.say", item["say"])
        if ask is None or say is None:
            continue
        if not say.startswith(CHECK_STARTS):
            r.add(f"{where}.say", f"start with the answer: {', '.join(CHECK_STARTS)}")
            continue
        checks.append(Check(ask, say))
    return tuple(checks)


def _compare_notes(r: EntryReader, value: Any) -> tuple[tuple[str, str], ...]:
    """`compare: {other-topic-id: how they differ}`; the ids are checked once all are loaded."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not value:
        r.add("compare", "expected a mapping of topic id -> a line on how they differ")
        return ()
    notes = []
    for other, note in value.items():
        if not isinstance(other, str) or not isinstance(note, str) or not note.strip():
            r.add(f"compare.{other}", "expected a topic id and a non-empty line of text")
        elif len(note.strip()) > COMPARE_MAX:
            r.add(
                f"compare.{other}",
                f"too long: {len(note.strip())} characters, at most {COMPARE_MAX}",
            )
        else:
            notes.append((other, " ".join(note.split())))
    return tuple(notes)


def _check_aliases(topics: dict[str, Topic], problems: Problems) -> None:
    """An alias names one topic: the same short name on two would make the matcher choose
    between them on every question that uses it ("scr": serious case review, safer recruitment)."""
    owner: dict[str, str] = {}
    for topic in topics.values():
        for alias in topic.aliases:
            folded = " ".join(words(alias))
            first = owner.setdefault(folded, topic.id)
            if first != topic.id:
                said = f"{alias!r} is also an alias of {first}"
                problems.add("topics.yaml", topic.id, "aliases", said)


def _check_compare(topics: dict[str, Topic], problems: Problems) -> None:
    written: set[frozenset[str]] = set()
    for topic in topics.values():
        for other, _ in topic.compare:
            pair = frozenset((topic.id, other))
            if other == topic.id:
                problems.add(
                    "topics.yaml",
                    topic.id,
                    f"compare.{other}",
                    "a topic cannot be compared with itself",
                )
            elif other not in topics:
                problems.add(
                    "topics.yaml", topic.id, f"compare.{other}", f"no topic with id {other!r}"
                )
            elif pair in written:
                problems.add(
                    "topics.yaml",
                    topic.id,
                    f"compare.{other}",
                    "this pair already has a note: keep one",
                )
            written.add(pair)


def _load_reports(layers: Layers, problems: Problems) -> tuple[dict[str, Group], dict[str, Report]]:
    groups: dict[str, Group] = {}
    seen: set[tuple[str, str]] = set()
    for file, i, raw in layered(layers, "reports.yaml", "groups", problems):
        r = EntryReader(problems, file, raw, {"id", "title"}, i)
        if (file, r.id) in seen:
            r.add("id", "duplicate group id")
        seen.add((file, r.id))
        groups[r.id] = Group(r.id, r.text("title", max_length=60))
    allowed = {
        "id",
        "title",
        "kind",
        "group",
        "area",
        "year",
        "aliases",
        "summary",
        "related",
        "url",
        "link",
    }
    reports: list[Report] = []
    for file, i, raw in layered(layers, "reports.yaml", "reports", problems):
        r = EntryReader(problems, file, raw, allowed, i)
        kind = r.text("kind")
        if kind and kind not in REPORT_KINDS:
            r.add("kind", f"unknown kind {kind!r} (one of: {', '.join(REPORT_KINDS)})")
        group = r.text("group")
        if group and group not in groups:
            r.add("group", f"unknown group {group!r}")
        if "url" not in raw:
            r.add("url", "missing: give the address, or null when no public address is known")
        url = r.url("url", required=False)
        link = _read_link(r, kind, url)
        reports.append(
            Report(
                id=r.id,
                title=r.text("title", max_length=160),
                kind=kind,
                group=group,
                area=r.text("area", required=False, max_length=120),
                year=r.integer("year"),
                aliases=r.texts("aliases"),
                summary=r.text("summary", max_length=SUMMARY_MAX),
                related=r.texts("related"),
                url=url,
                link=link,
            )
        )
    check_unique_ids([r.id for r in reports], "reports.yaml", problems)
    return groups, {r.id: r for r in reports}


def _read_link(r: EntryReader, kind: str, url: str | None) -> str | None:
    """What a report's url is (LINK_KINDS); a full report may not rest on news coverage."""
    link = r.text("link", required=False)
    if url is not None and not link:
        r.add("link", f"missing: say what the url is ({', '.join(LINK_KINDS)})")
    elif link and link not in LINK_KINDS:
        r.add("link", f"unknown link kind {link!r} (one of: {', '.join(LINK_KINDS)})")
    elif link and url is None:
        r.add("link", "given without a url: remove it, or give the url")
    elif kind == "full report" and link == "coverage":
        r.add(
            "link",
            "a full report whose only link is news coverage: link an official or archive "
            "copy, or set url: null so the reply says to ask for a copy",
        )
    return link if url is not None and link in LINK_KINDS else None


def _load_actions(directory: Path, problems: Problems) -> dict[str, Action]:
    file = "actions.yaml"
    actions: dict[str, Action] = {}
    data = load_yaml(directory / file, problems)
    for i, raw in enumerate(entry_list(data, "actions", file, problems), 1):
        allowed = {"id", "command", "phrases", "about", "start"}
        r = EntryReader(problems, file, raw, allowed, i)
        command = r.text("command")
        if command and not command.startswith("/"):
            r.add("command", "must start with /")
        about = r.text("about", required=False, max_length=ABOUT_MAX)
        start = r.text("start", required=bool(about), max_length=40)
        actions[r.id] = Action(r.id, command, r.texts("phrases", required=True), about, start)
    return actions


def _check_related(
    file: str, entries: dict[str, Topic] | dict[str, Report], problems: Problems
) -> None:
    for entry in entries.values():
        for related in entry.related:
            if related not in entries:
                problems.add(file, entry.id, "related", f"no entry with id {related!r}")
            elif related == entry.id:
                problems.add(file, entry.id, "related", "an entry cannot be related to itself")


def topic_names(topic: Topic) -> tuple[str, ...]:
    """How a topic is asked for: its title, aliases and questions."""
    return (topic.title, *topic.aliases, *topic.questions)


def build_index(
    topics: dict[str, Topic], reports: dict[str, Report], actions: dict[str, Action]
) -> SearchIndex:
    entries = [SearchEntry(t.id, "topic", topic_names(t)) for t in topics.values()]
    entries += [
        SearchEntry(r.id, r.kind, (r.title, *r.aliases), _narrowed_by(r)) for r in reports.values()
    ]
    entries += [SearchEntry(a.id, "action", a.phrases) for a in actions.values()]
    return SearchIndex(entries)


def _narrowed_by(report: Report) -> tuple[tuple[str, str], ...]:
    """What tells documents of one name apart besides their kind (knowledge/narrowing.py)."""
    facets = [("area", report.area)] if report.area else []
    return (*facets, *([("year", str(report.year))] if report.year else []))


def build_semantic(topics: dict[str, Topic], actions: dict[str, Action]) -> SemanticIndex:
    """Topics and actions by meaning; reports are matched by name only (see search.py). A
    topic's yes/no checks are not among its names: as names they pulled everyday questions in
    ("annual leave policy" came nearer a care leaver's check than the fallback), and the
    topic's own text (passages.py) already carries their words."""
    entries = [(t.id, topic_names(t)) for t in topics.values()]
    entries += [(a.id, a.phrases) for a in actions.values()]
    return SemanticIndex(entries)


# The test suite builds over a thousand assistants on a handful of directories. It sets this to
# a dict so that a directory whose files are unchanged is parsed and embedded once (a Knowledge is
# frozen, so sharing it is safe). None in production: /reload must read the files again.
shared: dict[str, Knowledge] | None = None
# While `shared` is on, the files of every load are parsed once each (a test that edits one
# file of a copy parses that file alone again).
shared_parsed = InMemory()


def content_key(layers: Layers) -> str:
    """A digest of every knowledge file of `layers`, names and bytes: equal keys, equal
    knowledge. Other packs beside the national files are not part of it."""
    digest = hashlib.sha256()
    for folder, label in layers.folders():
        digest.update(label.encode() + b"\0")  # national alone, or with this pack
        for parts, path in _knowledge_files(str(folder)):
            name = label + "/".join(parts)
            digest.update(name.encode() + b"\0" + _file_digest(path))
    return digest.hexdigest()


def _knowledge_files(folder: str) -> list[tuple[tuple[str, ...], str]]:
    """(relative parts, path) of every file under `folder`, in the order of their parts, but
    for those under a folder named partnerships/ (the national folder's packs are not part of
    it, and a pack itself lives in a folder of that name too, so relative parts are what
    count) or __pycache__/ (compiled code, which programs may write at any time, is not
    knowledge). os.walk, not Path.rglob: the test suite takes this key for each of its 800
    assistants."""
    found = []
    for top, folders, files in os.walk(folder):
        folders[:] = [f for f in folders if f not in ("partnerships", "__pycache__")]
        base = () if top == folder else tuple(os.path.relpath(top, folder).split(os.sep))
        found += [((*base, f), os.path.join(top, f)) for f in files if f != "partnerships"]
    found.sort()
    return found


# A file's digest by its status, for content_key: taken again unless the file's status change
# time (ctime, which no one can set back) was at least two seconds old when it was taken, as
# git does for its index, so a change in the same tick as the last reading is never missed.
_digests: dict[tuple[str, int, int, int, int], bytes] = {}


def _file_digest(path: str) -> bytes:
    status = os.stat(path)
    key = (path, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
    known = _digests.get(key)
    if known is not None:
        return known
    with open(path, "rb") as file:
        digest = hashlib.sha256(file.read()).digest()
    if time.time_ns() - status.st_ctime_ns > 2_000_000_000:
        _digests[key] = digest
    return digest


def load_knowledge(
    directory: Path,
    pack: Path | None = None,
    semantic: bool = True,
    cache: Cache | None = None,
) -> Knowledge:
    """Load and validate the national knowledge in `directory` and the partnership's `pack`
    over it; raise KnowledgeError if invalid.

    With `semantic`, the names' vectors start being computed (or read from `cache`) in the
    background straight away."""
    layers = Layers(directory, pack)
    if semantic:
        # The model's files are read in the background while the files here are parsed and
        # indexed (0.1 s each), not after: `ask` waited for both, one after the other.
        model_future()
    if shared is None:
        common_english(cache.parsed if cache is not None else None)
        with parsed_from(cache.parsed if cache is not None else None):
            return _load_knowledge(layers, semantic, cache)
    key = content_key(layers)
    if key not in shared:
        with parsed_from(shared_parsed.parsed):
            shared[key] = _load_knowledge(layers, semantic=False)
    knowledge = shared[key]
    if semantic:
        _start(knowledge, cache)
    return knowledge


def _start(knowledge: Knowledge, cache: Cache | None) -> None:
    """Embed the names, then the decline examples and the urgent examples, in the background
    now rather than on the first message that needs them."""
    knowledge.semantic.start(cache)
    knowledge.decline.start(cache)
    if knowledge.urgent.meaning is not None:
        knowledge.urgent.meaning.start(cache)


def _load_knowledge(layers: Layers, semantic: bool, cache: Cache | None = None) -> Knowledge:
    problems = Problems()
    directory = layers.national
    topics = _load_topics(layers, problems)
    groups, reports = _load_reports(layers, problems)
    actions = _load_actions(directory, problems)
    _check_related("topics.yaml", topics, problems)
    _check_aliases(topics, problems)
    _check_compare(topics, problems)
    _check_related("reports.yaml", reports, problems)
    for entry_id in set(topics) & set(reports):
        problems.add("reports.yaml", entry_id, "id", "the same id is used by a topic")
    for entry_id in set(actions) & (set(topics) | set(reports)):
        problems.add("actions.yaml", entry_id, "id", "the same id is used by a topic or report")
    threshold = load_threshold(layers.one("threshold.yaml"), problems, layers.names)
    form = load_form(layers.one("notification_form.yaml"), problems, layers.names)
    # The topics' questions are the knowledge side of the urgent second opinion.
    urgent = read_urgent(directory, problems, [q for t in topics.values() for q in t.questions])
    decline = load_decline(directory, problems)
    place_words = frozenset(w for name in layers.names.values() for w in words(name))
    learning = without_topic_words(load_learning(layers, problems), topics, place_words)
    _check_learning_ids(learning, reports, problems)
    coverage = load_coverage(directory, set(topics), set(reports), problems)
    problems.raise_if_any()
    knowledge = Knowledge(
        topics,
        groups,
        reports,
        actions,
        build_index(topics, reports, actions),
        threshold=threshold,
        form=form,
        urgent=urgent,
        semantic=build_semantic(topics, actions),
        text=TopicText(topics, cache),
        decline=decline,
        learning=learning,
        coverage=coverage,
        place_words=place_words,
        names=TopicNames(topics.values()),
    )
    if semantic:
        _start(knowledge, cache)
    return knowledge
