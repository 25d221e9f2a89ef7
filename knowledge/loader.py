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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.settings import CONTACT_KEYS
from config.validation import (
    EntryReader,
    KnowledgeError,
    Problems,
    Source,
    check_unique_ids,
    entry_list,
    load_yaml,
)
from knowledge.form import Form, load_form
from knowledge.search import SearchEntry, SearchIndex
from knowledge.semantic import SemanticIndex
from knowledge.threshold import ThresholdGuide, load_threshold
from knowledge.urgent import UrgentDetector, read_urgent

__all__ = ["Action", "Group", "Knowledge", "KnowledgeError", "Report", "Topic", "load_knowledge"]

# A topic's first reply is what a practitioner reads on a phone between two visits: what
# applies now and what to do, in a few sentences. Writers aim at about 600 characters; `check`
# refuses more than 700. The rest goes in `more`, shown behind a "More" button.
FIRST_REPLY_MAX = 700
MORE_MAX = 1200  # Telegram's limit is 4096; one screen on a phone is the real limit
SUMMARY_MAX = 300
COMPARE_MAX = 400  # one or two sentences, shown under the two topics' short forms
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
class Layers:
    """Where each knowledge file is read from: the national folder, then the pack's, if any."""

    national: Path
    pack: Path | None = None

    def folders(self) -> list[tuple[Path, str]]:
        """(folder, how its files are named in problems), national first."""
        found = [(self.national, "")]
        if self.pack is not None:
            found.append((self.pack, f"partnerships/{self.pack.name}/"))
        return found

    def files(self, name: str) -> list[tuple[Path, str]]:
        """(path, its name in problems) of `name` in each layer that has it; the national one
        is always listed, so a missing national file is reported."""
        return [
            (folder / name, f"{label}{name}")
            for folder, label in self.folders()
            if not label or (folder / name).exists()
        ]

    def one(self, name: str) -> Path:
        """The folder whose `name` is used, for a file a pack replaces whole."""
        if self.pack is not None and (self.pack / name).exists():
            return self.pack
        return self.national


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    answer: str
    questions: tuple[str, ...]
    aliases: tuple[str, ...]
    related: tuple[str, ...]
    sources: tuple[Source, ...]
    more: str = ""  # the rest, behind a "More" button; "" when the first reply says it all
    # Keys of the settings' `contacts:` whose details follow the answer (handlers/safety.py).
    contacts: tuple[str, ...] = ()
    # How this topic differs from others: other topic's id -> a line on the difference. One
    # note serves both directions ("SCR vs rapid review" and "rapid review vs SCR").
    compare: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Group:
    id: str
    title: str


@dataclass(frozen=True)
class Report:
    id: str
    title: str
    kind: str
    group: str
    area: str
    year: int | None
    aliases: tuple[str, ...]
    summary: str
    related: tuple[str, ...]
    url: str | None  # None: no public address known; the reply says to contact the board
    link: str | None = None  # what `url` is: one of LINK_KINDS; None when there is no url


@dataclass(frozen=True)
class Action:
    """A conversation that free text can start ("I need to report a significant incident")."""

    id: str
    command: str
    phrases: tuple[str, ...]
    # What the conversation does, for a question about it ("how does the threshold check
    # work?"), which is answered with this and a button to start it rather than started.
    about: str = ""
    start: str = ""  # the label of that button


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

    def comparison(self, first: str, second: str) -> str | None:
        """The note on how two topics differ, written under either of them, or None."""
        for one, other in ((first, second), (second, first)):
            topic = self.topics.get(one)
            if topic is not None:
                for other_id, note in topic.compare:
                    if other_id == other:
                        return note
        return None


def _layered(
    layers: Layers, name: str, key: str, problems: Problems
) -> list[tuple[str, int, dict[str, Any]]]:
    """(file, position, raw entry) of every entry under `key` in `name`, national first; an
    entry of a later layer with an earlier one's id replaces it in its place (a pack's group
    keeps the national heading's position). Duplicate ids within one file are reported by the
    caller."""
    entries: list[tuple[str, int, dict[str, Any]]] = []
    for path, file in layers.files(name):
        data = load_yaml(path, problems)
        if file != name and isinstance(data, dict) and key not in data:
            continue  # a pack's file may leave out a list it adds nothing to
        own = [(file, i, raw) for i, raw in enumerate(entry_list(data, key, file, problems), 1)]
        if file == name:
            entries += own
            continue
        first: dict[Any, tuple[str, int, dict[str, Any]]] = {}
        for entry in own:
            first.setdefault(entry[2].get("id"), entry)
        replacing = [first.get(e[2].get("id"), e) for e in entries]
        placed = {id(e) for e in replacing}
        entries = replacing + [e for e in own if id(e) not in placed]
    return entries


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
    }
    topics: list[Topic] = []
    for file, i, raw in _layered(layers, "topics.yaml", "topics", problems):
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
    for file, i, raw in _layered(layers, "reports.yaml", "groups", problems):
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
    for file, i, raw in _layered(layers, "reports.yaml", "reports", problems):
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


def build_index(
    topics: dict[str, Topic], reports: dict[str, Report], actions: dict[str, Action]
) -> SearchIndex:
    entries = [
        SearchEntry(t.id, "topic", (t.title, *t.aliases, *t.questions)) for t in topics.values()
    ]
    entries += [SearchEntry(r.id, r.kind, (r.title, *r.aliases)) for r in reports.values()]
    entries += [SearchEntry(a.id, "action", a.phrases) for a in actions.values()]
    return SearchIndex(entries)


def build_semantic(topics: dict[str, Topic], actions: dict[str, Action]) -> SemanticIndex:
    """Topics and actions by meaning; reports are matched by name only (see search.py)."""
    entries = [(t.id, (t.title, *t.aliases, *t.questions)) for t in topics.values()]
    entries += [(a.id, a.phrases) for a in actions.values()]
    return SemanticIndex(entries)


# The test suite builds over a thousand assistants on a handful of directories. It sets this to
# a dict so that a directory whose files are unchanged is parsed and embedded once (a Knowledge is
# frozen, so sharing it is safe). None in production: /reload must read the files again.
shared: dict[str, Knowledge] | None = None


def content_key(layers: Layers) -> str:
    """A digest of every knowledge file of `layers`, names and bytes: equal keys, equal
    knowledge. Other packs beside the national files are not part of it."""
    digest = hashlib.sha256()
    for folder, label in layers.folders():
        digest.update(label.encode() + b"\0")  # national alone, or with this pack
        # (Inside the folder: the packs below the national folder are not its files.)
        files = (
            p
            for p in folder.rglob("*")
            if p.is_file() and "partnerships" not in p.relative_to(folder).parts
        )
        for path in sorted(files):
            name = label + str(path.relative_to(folder))
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def load_knowledge(directory: Path, pack: Path | None = None, semantic: bool = True) -> Knowledge:
    """Load and validate the national knowledge in `directory` and the partnership's `pack`
    over it; raise KnowledgeError if invalid.

    With `semantic`, the names' vectors start being computed in the background straight away
    (`check` has no use for them)."""
    layers = Layers(directory, pack)
    if shared is None:
        return _load_knowledge(layers, semantic)
    key = content_key(layers)
    if key not in shared:
        shared[key] = _load_knowledge(layers, semantic=False)
    knowledge = shared[key]
    if semantic:
        knowledge.semantic.start()
        _start_urgent_meaning(knowledge.urgent)
    return knowledge


def _start_urgent_meaning(urgent: UrgentDetector) -> None:
    """Embed the urgent examples in the background now, after the names, rather than on the
    first message that needs a second opinion (which would wait for all of them)."""
    if urgent.meaning is not None:
        urgent.meaning.start()


def _load_knowledge(layers: Layers, semantic: bool) -> Knowledge:
    problems = Problems()
    directory = layers.national
    topics = _load_topics(layers, problems)
    groups, reports = _load_reports(layers, problems)
    actions = _load_actions(directory, problems)
    _check_related("topics.yaml", topics, problems)
    _check_compare(topics, problems)
    _check_related("reports.yaml", reports, problems)
    for entry_id in set(topics) & set(reports):
        problems.add("reports.yaml", entry_id, "id", "the same id is used by a topic")
    for entry_id in set(actions) & (set(topics) | set(reports)):
        problems.add("actions.yaml", entry_id, "id", "the same id is used by a topic or report")
    threshold = load_threshold(layers.one("threshold.yaml"), problems)
    form = load_form(layers.one("notification_form.yaml"), problems)
    # The topics' questions are the knowledge side of the urgent second opinion.
    urgent = read_urgent(directory, problems, [q for t in topics.values() for q in t.questions])
    problems.raise_if_any()
    meaning = build_semantic(topics, actions)
    if semantic:
        meaning.start()
        _start_urgent_meaning(urgent)
    return Knowledge(
        topics,
        groups,
        reports,
        actions,
        build_index(topics, reports, actions),
        threshold=threshold,
        form=form,
        urgent=urgent,
        semantic=meaning,
    )
